"""In-process caches of the map data, one set per store, keyed by data versions.

Every key names the versions the value was made from (a dataset or run reference and the
time it was written), so new data or a new run simply means new keys: nothing is ever
invalidated by hand, and old entries fall out of the small LRU tables. Each value is made
once even when several web server threads ask for it at the same time (the others wait
for it), so a national villages layer is read, or a tile index built, once per version.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.errors import N_, InputError, NotFoundError
from layers.profiles import ScoringProfile
from layers.score_run import RUNS, SCORE_COLUMNS, SENSITIVITY_COLUMNS, run_score
from layers.scoring import Score
from layers.storage import Store
from layers.storage.base import NAME_PATTERN

T = TypeVar("T")

#: Village attributes the map uses (absent optional columns are added empty).
VILLAGE_COLUMNS = (
    "kode",
    "name",
    "kecamatan_kode",
    "kecamatan",
    "kabupaten_kode",
    "kabupaten",
    "provinsi_kode",
    "provinsi",
)
#: Note saved with a run the map had to compute because the profile had none.
MAP_RUN_NOTE = "computed for the map: the profile had no saved run"


class Memo:
    """A small thread-safe LRU table that makes each value once.

    Parameters
    ----------
    size : int
        Entries kept; the least recently used one goes when a new one comes.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._making: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        """The value of ``key``, made with ``make()`` when absent (once, whatever the threads)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            making = self._making.setdefault(key, threading.Lock())
        with making:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            try:
                value = make()
            finally:
                with self._lock:
                    self._making.pop(key, None)
            with self._lock:
                self._items[key] = value
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return value

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._items.clear()


@dataclass
class StoreCache:
    """The caches of one store."""

    villages: Memo = field(default_factory=lambda: Memo(4))
    runs: Memo = field(default_factory=lambda: Memo(4))
    scores: Memo = field(default_factory=lambda: Memo(4))
    values: Memo = field(default_factory=lambda: Memo(64))
    tiles: Memo = field(default_factory=lambda: Memo(4))
    outlines: Memo = field(default_factory=lambda: Memo(8))
    counts: Memo = field(default_factory=lambda: Memo(8))
    #: One lock per (workspace, profile): a missing run is computed once.
    computing: Memo = field(default_factory=lambda: Memo(256))

    def clear(self) -> None:
        """Forget every cached value."""
        for memo in (self.villages, self.runs, self.scores, self.values, self.tiles):
            memo.clear()
        self.outlines.clear()
        self.counts.clear()


_STORES: weakref.WeakKeyDictionary[Store, StoreCache] = weakref.WeakKeyDictionary()
_STORES_LOCK = threading.Lock()


def caches(store: Store) -> StoreCache:
    """The caches of ``store`` (made on first use, gone with the store).

    Parameters
    ----------
    store : Store
        An open store.

    Returns
    -------
    StoreCache
    """
    with _STORES_LOCK:
        cache = _STORES.get(store)
        if cache is None:
            cache = _STORES[store] = StoreCache()
        return cache


def split_ref(ref: str) -> tuple[str, int]:
    """``(name, version)`` of a dataset reference ``"ws/name@3"``."""
    name, version = ref.split("/", 1)[1].rsplit("@", 1)
    return name, int(version)


def read_columns(
    store: Store, workspace: str, name: str, version: int, columns: list[str], **options: Any
) -> pd.DataFrame:
    """A dataset version with ``columns`` (those it lacks added empty)."""
    try:
        frame = store.read_dataset(workspace, name, version, columns=columns, **options)
    except NotFoundError:  # an optional column the layer was stored without
        frame = store.read_dataset(workspace, name, version, **options)
    for column in columns:
        if column not in frame.columns:
            frame[column] = None
    return frame


def stamp(when: datetime) -> str:
    """A compact UTC time stamp for cache keys (``20250630T101500123456``)."""
    return when.strftime("%Y%m%dT%H%M%S%f")


# --- villages ----------------------------------------------------------------------------


@dataclass(frozen=True)
class VillageFrame:
    """One villages version as the map uses it.

    Attributes
    ----------
    ref : str
        Dataset reference, ``"ws/villages@3"``.
    written : datetime
        When that version was written.
    frame : geopandas.GeoDataFrame
        :data:`VILLAGE_COLUMNS` and the geometry (EPSG:4326), one row per village.
    positions : pandas.Index
        The codes, to find a village's row (``positions.get_loc(kode)``).
    bounds : numpy.ndarray
        ``(n, 4)`` bounds of each village (minx, miny, maxx, maxy).
    folded_names : numpy.ndarray of str
        Names in case-folded form, for search.
    digits : numpy.ndarray of str
        Codes without their dots, for search.
    """

    ref: str
    written: datetime
    frame: gpd.GeoDataFrame
    positions: pd.Index
    bounds: np.ndarray
    folded_names: np.ndarray
    digits: np.ndarray


def _village_frame(store: Store, workspace: str, ref: str, written: datetime) -> VillageFrame:
    name, version = split_ref(ref)
    frame = store.read_dataset(workspace, name, version)
    for column in VILLAGE_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    frame = frame.loc[:, [*VILLAGE_COLUMNS, frame.geometry.name]].reset_index(drop=True)
    kode = frame["kode"].astype(object).to_numpy()
    names = frame["name"].astype(object).where(frame["name"].notna(), "")
    return VillageFrame(
        ref=ref,
        written=written,
        frame=frame,
        positions=pd.Index(kode, dtype=object),
        bounds=shapely.bounds(frame.geometry.to_numpy()),
        folded_names=names.astype(str).str.casefold().to_numpy(dtype=str),
        digits=frame["kode"].astype(str).str.replace(".", "", regex=False).to_numpy(dtype=str),
    )


def village_frame(store: Store, workspace: str, ref: str, written: datetime) -> VillageFrame:
    """The villages version ``ref`` (written at ``written``), read once per version.

    Parameters
    ----------
    store : Store
        The store.
    workspace : str
        Workspace name.
    ref : str
        ``"ws/villages@3"``.
    written : datetime
        When the version was written (tells apart a version of a re-created workspace).

    Returns
    -------
    VillageFrame
    """
    return caches(store).villages.get(
        (ref, stamp(written)), lambda: _village_frame(store, workspace, ref, written)
    )


def latest_villages(store: Store, workspace: str) -> VillageFrame:
    """The workspace's latest ``villages`` layer.

    Raises
    ------
    NotFoundError
        For an unknown workspace, or a workspace without villages.
    """
    store.get_workspace(workspace)
    try:
        info = store.dataset_info(workspace, "villages")
    except NotFoundError:
        raise NotFoundError(
            N_("workspace %(workspace)r has no villages layer; import villages first"),
            params={"workspace": workspace},
        ) from None
    return village_frame(store, workspace, info.ref, info.created_at)


# --- runs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunData:
    """A saved score run as the map uses it.

    Attributes
    ----------
    ref : str
        ``"ws/score_runs/profile@n"``.
    written : datetime
        When the run was saved.
    profile : ScoringProfile
        The profile as used.
    table : pandas.DataFrame
        The run's table (index ``kode``): score columns and every indicator value.
    indicators : tuple of str
        The indicator columns of the table.
    inputs : dict
        The dataset reference of every input of the run, by dataset name.
    settings : dict
        The indicator settings of the run.
    villages_ref : str
        The villages version the run scored.
    villages_written : datetime
        When that villages version was written.
    """

    ref: str
    written: datetime
    profile: ScoringProfile
    table: pd.DataFrame
    indicators: tuple[str, ...]
    inputs: dict[str, str]
    settings: dict[str, Any]
    villages_ref: str
    villages_written: datetime

    @property
    def key(self) -> str:
        """Identifies the run's data for caches: its reference and when it was saved."""
        return f"{self.ref}#{stamp(self.written)}"


def check_profile_name(profile: object) -> str:
    """``profile`` when it can name a profile, else :class:`InputError`."""
    if not isinstance(profile, str) or not NAME_PATTERN.fullmatch(profile):
        raise InputError(
            N_(
                "%(value)r is not a profile name: use 1 to 64 lowercase letters, digits, '-' or '_'"
            ),
            params={"value": profile},
        )
    return profile


def _load_run(store: Store, workspace: str, record: Any) -> RunData:
    body = record.body
    table_ref = body.get("table")
    if not table_ref:
        raise InputError(N_("run %(ref)s has no saved table"), params={"ref": record.ref})
    name, version = split_ref(table_ref)
    table = store.read_dataset(workspace, name, version)
    skip = set(SCORE_COLUMNS) | set(SENSITIVITY_COLUMNS)
    indicators = tuple(str(c) for c in table.columns if c not in skip)
    inputs = dict(body.get("inputs") or {})
    villages_ref = inputs.get("villages")
    if villages_ref is None:
        raise InputError(
            N_("run %(ref)s does not say which villages it used"), params={"ref": record.ref}
        )
    villages_name, villages_version = split_ref(villages_ref)
    villages = store.dataset_info(workspace, villages_name, villages_version)
    return RunData(
        ref=record.ref,
        written=record.created_at,
        profile=ScoringProfile.from_dict(body["profile"]),
        table=table,
        indicators=indicators,
        inputs=inputs,
        settings=dict(body.get("settings") or {}),
        villages_ref=villages_ref,
        villages_written=villages.created_at,
    )


def latest_run(store: Store, workspace: str, profile: str) -> RunData:
    """The latest saved run of ``profile``, computing and saving one when there is none.

    Parameters
    ----------
    store : Store
        The store.
    workspace : str
        Workspace name.
    profile : str
        Profile name (saved in the workspace or built in).

    Returns
    -------
    RunData

    Raises
    ------
    InputError
        For a name that cannot name a profile, or data the profile cannot score.
    NotFoundError
        For an unknown workspace or profile.
    """
    check_profile_name(profile)
    store.get_workspace(workspace)
    try:
        record = store.get_record(workspace, RUNS, profile)
    except NotFoundError:
        with caches(store).computing.get((workspace, profile), threading.Lock):
            try:  # another thread may have saved it while this one waited
                record = store.get_record(workspace, RUNS, profile)
            except NotFoundError:
                record = run_score(store, workspace, profile, note=MAP_RUN_NOTE).record
    assert record is not None
    return caches(store).runs.get(
        (record.ref, stamp(record.created_at)), lambda: _load_run(store, workspace, record)
    )


def run_villages(store: Store, workspace: str, run: RunData) -> VillageFrame:
    """The villages version a run scored."""
    return village_frame(store, workspace, run.villages_ref, run.villages_written)


def run_score_object(run: RunData, store: Store) -> Score:
    """The run's :class:`~layers.scoring.Score`, computed again from its saved table.

    Scoring is deterministic, so the scores equal the saved ones; the object gives the
    per-indicator explanation (:meth:`~layers.scoring.Score.explain`) the table lacks.
    """

    def make() -> Score:
        return Score(run.table.loc[:, list(run.indicators)], run.profile).run()

    return caches(store).scores.get(run.key, make)
