"""The values the village map is coloured by: scores and need classes, or one indicator.

Colours: ColorBrewer sequential palettes, which ColorBrewer marks safe for colour-blind
readers and which print in grey in the right order. Need classes use **YlOrRd** (yellow
= lowest need, dark red = highest), with the 3- to 7-class schemes for profiles of 3 to 7
classes (2 classes use the ends of the 3-class scheme); an indicator uses the 5-class
**YlGnBu** scheme (light = lowest value, dark blue = highest), because a high indicator
value is not always more need (facilities per 1,000 people). Villages without a value are
grey (:data:`NO_DATA_COLOUR`).
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from layers.errors import N_, InputError
from layers.mapdata.cache import RunData, caches, latest_run, stamp, village_frame
from layers.mapdata.labels import indicator_info, render_label, unit_label
from layers.scoring import CLASS_LABELS, class_label_ids, classify
from layers.storage import Store

if TYPE_CHECKING:
    from layers.tiles import TileCache, VillageTiles

__all__ = [
    "INDICATOR_CLASSES",
    "INDICATOR_CLASS_LABELS",
    "INDICATOR_PALETTE",
    "NEED_PALETTE",
    "NO_DATA_COLOUR",
    "PALETTES",
    "MapValues",
    "Tile",
    "map_values",
    "palette",
    "village_tile",
]

#: ColorBrewer sequential schemes by number of classes (lightest first).
PALETTES: dict[str, dict[int, tuple[str, ...]]] = {
    "YlOrRd": {
        2: ("#ffeda0", "#f03b20"),
        3: ("#ffeda0", "#feb24c", "#f03b20"),
        4: ("#ffffb2", "#fecc5c", "#fd8d3c", "#e31a1c"),
        5: ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"),
        6: ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026"),
        7: ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026"),
    },
    "YlGnBu": {5: ("#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494")},
}
#: Palette of need classes.
NEED_PALETTE = "YlOrRd"
#: Palette of indicator classes.
INDICATOR_PALETTE = "YlGnBu"
#: Colour of villages without a value.
NO_DATA_COLOUR = "#bdbdbd"
#: Number of indicator classes (quantiles).
INDICATOR_CLASSES = 5
#: Labels of the indicator classes, lowest first, by id.
INDICATOR_CLASS_LABELS: dict[str, str] = {
    "lowest": N_("Lowest values"),
    "low": N_("Low values"),
    "middle": N_("Middle values"),
    "high": N_("High values"),
    "highest": N_("Highest values"),
}
#: Label of the need score when no indicator is chosen.
SCORE_LABEL = N_("Underserved score (0-100)")
#: Changes when the meaning of the values or classes changes, so cached tiles go stale.
KEY_FORMAT = "m1"


def palette(name: str, k: int) -> tuple[str, ...]:
    """The ``k`` colours of palette ``name``, lightest first.

    Parameters
    ----------
    name : str
        A key of :data:`PALETTES`.
    k : int
        Number of classes.

    Raises
    ------
    ValueError
        When the palette has no scheme of ``k`` classes.
    """
    try:
        return PALETTES[name][k]
    except KeyError:
        raise ValueError(f"palette {name!r} has no {k}-class scheme") from None


@dataclass(frozen=True)
class MapValues:
    """What colours the villages of the map, from one saved score run.

    Attributes
    ----------
    run_ref : str
        The run: ``"ws/score_runs/profile@n"``.
    villages_ref : str
        The villages version the run scored (the tiles draw these).
    values : pandas.DataFrame
        Index ``kode``; ``value`` (float: the score, or the indicator), ``class`` (Int64
        1..k, missing without a value) and ``rank`` (Int64, 1 = highest value; missing
        without a value). Shared by every caller: do not change it.
    legend : list of dict
        Per class, lowest first: ``class``, ``label`` (English template), ``label_id``,
        ``lower`` (exclusive, except for class 1), ``upper`` (inclusive), ``colour`` and
        ``count``; then the villages without a value (``class`` None).
    indicator : str or None
        The indicator id, or None for the score.
    unit : str or None
        The indicator's unit (``m``, ``count``, ...); None for the score.
    key : str
        Identifies the data drawn (villages version, run, indicator): the tile cache key.
    profile : str
        Profile name.
    label : str
        English template naming what is shown; ``label_params`` fill it.
    label_params : dict
        Parameters of ``label``.
    palette : str
        Name of the ColorBrewer palette of the classes.
    villages_written : datetime or None
        When the villages version was written (with ``villages_ref``, finds its copy in
        memory).
    """

    run_ref: str
    villages_ref: str
    values: pd.DataFrame
    legend: list[dict[str, Any]]
    indicator: str | None
    unit: str | None
    key: str
    profile: str
    label: str
    label_params: dict[str, Any]
    palette: str
    villages_written: datetime | None = field(default=None, repr=False)

    @property
    def version(self) -> str:
        """A short digest of :attr:`key`, for tile URLs that change with the data."""
        return hashlib.sha256(self.key.encode("utf-8")).hexdigest()[:16]

    def to_dict(self, gettext: Callable[[str], str] | None = None) -> dict[str, Any]:
        """JSON-ready data, texts in the language of ``gettext`` (English without).

        Parameters
        ----------
        gettext : callable, optional
            Translation function.

        Returns
        -------
        dict
            ``run``, ``villages``, ``profile``, ``indicator``, ``label``, ``unit``,
            ``unit_label``, ``key``, ``version``, ``palette`` and ``legend`` (labels
            translated).
        """
        tr = gettext or (lambda text: text)
        legend = [{**item, "label": tr(item["label"])} for item in self.legend]
        return {
            "run": self.run_ref,
            "villages": self.villages_ref,
            "profile": self.profile,
            "indicator": self.indicator,
            "label": render_label(self.label, self.label_params, gettext),
            "unit": self.unit,
            "unit_label": unit_label(self.unit, gettext),
            "key": self.key,
            "version": self.version,
            "palette": self.palette,
            "legend": legend,
        }


def _number(value: Any) -> float | None:
    number = float(value)
    return number if np.isfinite(number) else None


def _ranks(values: np.ndarray, kodes: np.ndarray) -> pd.arrays.IntegerArray:
    """Rank 1 = highest value, equal values by code (text order); missing without value."""
    valid = ~np.isnan(values)
    order = np.lexsort((kodes.astype(str), -np.where(valid, values, -np.inf)))
    ranks = np.empty(values.size, dtype=np.int64)
    ranks[order] = np.arange(1, values.size + 1)
    return pd.arrays.IntegerArray(np.where(valid, ranks, 0), ~valid)


def _legend(
    lower: float,
    breaks: tuple[float, ...],
    classes: pd.Series,
    labels: list[tuple[str, str]],
    colours: tuple[str, ...],
) -> list[dict[str, Any]]:
    counts = classes.value_counts(dropna=True)
    legend = []
    for c, ((label_id, label), colour) in enumerate(zip(labels, colours, strict=True), start=1):
        low = lower if c == 1 else breaks[c - 2]
        high = breaks[c - 1] if breaks else float("nan")
        legend.append(
            {
                "class": c,
                "label": label,
                "label_id": label_id,
                "lower": _number(low),
                "upper": _number(high),
                "colour": colour,
                "count": int(counts.get(c, 0)),
            }
        )
    legend.append(
        {
            "class": None,
            "label": CLASS_LABELS["no_data"],
            "label_id": "no_data",
            "lower": None,
            "upper": None,
            "colour": NO_DATA_COLOUR,
            "count": int(classes.isna().sum()),
        }
    )
    return legend


def _score_values(run: RunData) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    table = run.table
    score = table["score"].to_numpy(dtype="float64", na_value=np.nan)
    k = run.profile.classes
    _, classification = classify(score, k, run.profile.classification)
    values = pd.DataFrame(
        {
            "value": score,
            "class": table["need_class"].astype("Int64").array,
            "rank": table["rank"].astype("Int64").array,
        },
        index=pd.Index(table.index.astype(object), name="kode", dtype=object),
    )
    labels = [(i, CLASS_LABELS[i]) for i in class_label_ids(k)]
    legend = _legend(
        classification.lower,
        classification.breaks,
        values["class"],
        labels,
        palette(NEED_PALETTE, k),
    )
    return values, legend


def _indicator_values(run: RunData, indicator: str) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    table = run.table
    raw = table[indicator].to_numpy(dtype="float64", na_value=np.nan, copy=True)
    raw[~np.isfinite(raw)] = np.nan
    classes, classification = classify(raw, INDICATOR_CLASSES, "quantiles")
    kodes = np.asarray(table.index, dtype=object)
    values = pd.DataFrame(
        {
            "value": raw,
            "class": pd.arrays.IntegerArray(classes, np.isnan(raw)),
            "rank": _ranks(raw, kodes),
        },
        index=pd.Index(kodes, name="kode", dtype=object),
    )
    legend = _legend(
        classification.lower,
        classification.breaks,
        values["class"],
        list(INDICATOR_CLASS_LABELS.items()),
        palette(INDICATOR_PALETTE, INDICATOR_CLASSES),
    )
    return values, legend


def _map_values(run: RunData, indicator: str | None) -> MapValues:
    what = indicator or "score"
    key = f"{run.villages_ref}|{run.ref}|{what}|{stamp(run.written)}.{KEY_FORMAT}"
    if indicator is None:
        values, legend = _score_values(run)
        label, params, unit = SCORE_LABEL, {}, None
        name = NEED_PALETTE
    else:
        values, legend = _indicator_values(run, indicator)
        label, params, unit = indicator_info(indicator, run.settings)
        name = INDICATOR_PALETTE
    return MapValues(
        run_ref=run.ref,
        villages_ref=run.villages_ref,
        values=values,
        legend=legend,
        indicator=indicator,
        unit=unit,
        key=key,
        profile=run.profile.name,
        label=label,
        label_params=params,
        palette=name,
        villages_written=run.villages_written,
    )


def check_indicator(run: RunData, indicator: object) -> str | None:
    """``indicator`` when it is one of the run's indicators (None stays None), else raise."""
    if indicator is None:
        return None
    if not isinstance(indicator, str) or indicator not in run.indicators:
        raise InputError(
            N_("the run %(run)s has no indicator %(indicator)r; it has: %(known)s"),
            params={"run": run.ref, "indicator": indicator, "known": ", ".join(run.indicators)},
        )
    return indicator


def map_values(
    store: Store, workspace: str, profile: str, indicator: str | None = None
) -> MapValues:
    """Values, classes and legend of the villages from the latest run of a profile.

    With ``indicator=None`` the value is the run's score and the classes are its need
    classes (labels of :data:`layers.scoring.CLASS_LABELS`); with an indicator, the value
    is that indicator and the classes are its 5 quantile classes (higher value = higher
    class, :func:`layers.scoring.classify` with ``"quantiles"``). A profile without a
    saved run gets one computed and saved (:func:`layers.score_run.run_score`). Values
    are kept in memory per run and indicator.

    Parameters
    ----------
    store : Store
        The store.
    workspace : str
        Workspace name.
    profile : str
        Profile name (saved in the workspace, else built in).
    indicator : str, optional
        An indicator id of the run's table.

    Returns
    -------
    MapValues

    Raises
    ------
    InputError
        For a bad profile name, an indicator the run does not have, or data the profile
        cannot score.
    NotFoundError
        For an unknown workspace or profile.
    """
    run = latest_run(store, workspace, profile)
    indicator = check_indicator(run, indicator or None)
    return caches(store).values.get((run.key, indicator), lambda: _map_values(run, indicator))


# --- tiles -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tile:
    """One vector tile of the villages and how to cache it in a browser.

    Attributes
    ----------
    gzipped : bytes
        The Mapbox Vector Tile, gzip-compressed (:attr:`data` is the tile itself; ``b""``
        for an empty tile).
    key : str
        The data's cache key (:attr:`MapValues.key`).
    version : str
        :attr:`MapValues.version`.
    etag : str
        Identifies this tile of this data.
    """

    gzipped: bytes
    key: str
    version: str
    etag: str

    @property
    def data(self) -> bytes:
        """The Mapbox Vector Tile itself."""
        return gzip.decompress(self.gzipped)


_TILE_CACHES: dict[str, TileCache] = {}
_TILE_CACHES_LOCK = threading.Lock()


def tile_cache(directory: Path | None) -> TileCache:
    """The one :class:`layers.tiles.TileCache` of ``directory`` in this process."""
    from layers.tiles import TileCache

    name = str(Path(directory).resolve()) if directory is not None else ""
    with _TILE_CACHES_LOCK:
        cache = _TILE_CACHES.get(name)
        if cache is None:
            cache = _TILE_CACHES[name] = TileCache(Path(name) if name else None)
        return cache


def village_tiles(store: Store, workspace: str, values: MapValues) -> VillageTiles:
    """The :class:`layers.tiles.VillageTiles` of ``values``: one per data key, kept in memory."""
    from layers.tiles import VillageTiles

    def make() -> VillageTiles:
        assert values.villages_written is not None
        frame = village_frame(store, workspace, values.villages_ref, values.villages_written).frame
        return VillageTiles(frame.loc[:, ["kode", "name", "kecamatan", "geometry"]], values.values)

    return caches(store).tiles.get(values.key, make)


def village_tile(
    store: Store,
    workspace: str,
    profile: str,
    indicator: str | None,
    z: int,
    x: int,
    y: int,
    *,
    cache_dir: Path | None = None,
) -> Tile:
    """One vector tile of the villages coloured by :func:`map_values`.

    Parameters
    ----------
    store : Store
        The store.
    workspace : str
        Workspace name.
    profile : str
        Profile name.
    indicator : str or None
        Indicator id, or None for the score.
    z, x, y : int
        Tile address (XYZ, EPSG:3857).
    cache_dir : Path, optional
        Folder of the tile cache on disk (memory only when None).

    Returns
    -------
    Tile

    Raises
    ------
    InputError
        For a tile outside the zoom levels or the grid, and as :func:`map_values`.
    """
    from layers.tiles import check_tile

    check_tile(z, x, y)
    values = map_values(store, workspace, profile, indicator)
    # Kept gzipped: low-zoom tiles over dense areas run to hundreds of kB, and a slow office
    # link pays for every byte; almost every client takes gzip as it is.
    packed = tile_cache(cache_dir).get(
        values.key,
        z,
        x,
        y,
        lambda: gzip.compress(
            village_tiles(store, workspace, values).tile(z, x, y), compresslevel=1, mtime=0
        ),
    )
    etag = hashlib.sha256(f"{values.key}|{z}/{x}/{y}".encode()).hexdigest()[:24]
    return Tile(gzipped=packed, key=values.key, version=values.version, etag=etag)
