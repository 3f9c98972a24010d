"""Score runs: indicators and the underserved score of a workspace, recorded and repeatable.

A run reads the workspace's latest villages, facilities, needs, indicator tables and
population raster from the store, computes the indicators (:mod:`layers.indicators`),
scores them under a profile (:mod:`layers.scoring`) and saves:

* a derived table ``score-<profile>`` (a new version per run): per village the score, rank,
  need class and every indicator value;
* a record in the ``score_runs`` collection, named after the profile (its version is the
  run number), holding the profile as used, the exact dataset versions read, the settings
  (with the reference date resolved), the software version and a summary.

:func:`rerun` reads those same dataset versions and settings again and reports whether the
numbers came out the same. Profiles a meeting agreed are saved as records too
(:func:`save_profile`), versioned with who saved them, when and why; built-in profiles
(:mod:`layers.profiles`) are used when the workspace has no saved profile of that name.
"""

from __future__ import annotations

import dataclasses
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from importlib import metadata
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from layers.derived import jsonable, table_digest
from layers.errors import N_, InputError
from layers.indicators import IndicatorSettings, VillageIndicators
from layers.profile_store import (
    PROFILES,
    ProfileEntry,
    list_profiles,
    load_profile,
    save_profile,
)
from layers.profiles import ScoringProfile
from layers.scoring import Score
from layers.sensitivity import WeightSensitivity
from layers.storage import DatasetVersion, RecordVersion, Store
from layers.zonal import PopulationGrid
from layers.zonal_store import keep_zonal, kept_zonal, prepare_zonal, zonal_names

if TYPE_CHECKING:
    from layers.hotspots import HotSpots

__all__ = [
    "PROFILES",
    "RUNS",
    "ProfileEntry",
    "ScoreRun",
    "list_profiles",
    "load_profile",
    "load_run",
    "prepare_zonal",
    "rerun",
    "run_hotspots",
    "run_score",
    "save_profile",
    "settings_from_dict",
]

#: Record collection of score runs (one record per profile; its versions are the runs).
RUNS = "score_runs"
#: Columns of a run's table besides the indicator values.
SCORE_COLUMNS = ("score", "rank", "need_class", "class_label", "weight_used", "reason")
#: Sensitivity columns kept in a run's table when the run checked the weights.
SENSITIVITY_COLUMNS = ("rank_min", "rank_p05", "rank_p95", "rank_max", "share_top_n", "fragile")
#: Threads reading a run's input layers.
READ_THREADS = max(1, min(4, os.cpu_count() or 1))
#: Largest difference in score points a re-run may show and still count as the same.
RERUN_TOLERANCE = 1e-9


def _software() -> str:
    try:
        return metadata.version("jangkau")
    except metadata.PackageNotFoundError:  # running from a source tree without install
        return "unknown"


# --- settings --------------------------------------------------------------------------------


def settings_from_dict(data: dict[str, Any]) -> IndicatorSettings:
    """Indicator settings from :meth:`IndicatorSettings.to_dict` output (a run's record).

    Raises
    ------
    InputError
        When a value is not valid for the settings.
    """
    if not isinstance(data, dict):
        raise InputError(
            N_("indicator settings must be a mapping, not %(found)s"),
            params={"found": type(data).__name__},
        )
    known = set(IndicatorSettings.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise InputError(
            N_("unknown indicator settings: %(names)s"), params={"names": ", ".join(unknown)}
        )
    values = dict(data)
    if values.get("as_of") is not None and not isinstance(values["as_of"], date):
        try:
            values["as_of"] = date.fromisoformat(str(values["as_of"]))
        except ValueError:
            raise InputError(
                N_("as_of must be a date like 2024-05-31, not %(found)r"),
                params={"found": values["as_of"]},
            ) from None
    for key in ("types", "distance_columns"):
        if values.get(key) is not None:
            values[key] = tuple(values[key])
    return IndicatorSettings(**values)


# --- runs ---------------------------------------------------------------------------------


@dataclass
class ScoreRun:
    """One score run: what went in, the indicators, the score, and where it was saved.

    Attributes
    ----------
    workspace : str
        Workspace name.
    profile : ScoringProfile
        The profile as used.
    profile_ref : str
        ``"ws/profiles/name@v"`` or ``"builtin:name"``.
    inputs : dict
        Dataset reference of every input read (``{"villages": "ws/villages@2", ...}``).
    settings : IndicatorSettings
        The indicator settings, with the reference date resolved.
    indicators : VillageIndicators
        The computed indicators (``.values``, ``.catalogue``, ``.method``).
    score : Score
        The score (``.scores``, ``.contributions``, ``.explain(kode)``).
    villages : pandas.DataFrame
        The villages' attributes (codes, names), for listing.
    sensitivity : WeightSensitivity or None
        The weight sensitivity check, when the run made one.
    seconds : dict
        Time of each step.
    record : RecordVersion or None
        The saved run (None when not saved); ``record.version`` is the run number.
    table : DatasetVersion or None
        The saved table of scores and indicators.
    """

    workspace: str
    profile: ScoringProfile
    profile_ref: str
    inputs: dict[str, str]
    settings: IndicatorSettings
    indicators: VillageIndicators
    score: Score
    villages: pd.DataFrame
    seconds: dict[str, float] = field(default_factory=dict)
    sensitivity: WeightSensitivity | None = None
    software: str = field(default_factory=_software)
    record: RecordVersion | None = None
    table: DatasetVersion | None = None

    @property
    def ref(self) -> str | None:
        """``"ws/score_runs/profile@n"`` once saved."""
        return self.record.ref if self.record is not None else None

    def result_table(self) -> pd.DataFrame:
        """Per village: score columns, then every indicator value (index ``kode``)."""
        scores = self.score.scores.loc[:, [c for c in SCORE_COLUMNS if c in self.score.scores]]
        parts = [scores]
        if self.sensitivity is not None and self.sensitivity.results is not None:
            checked = self.sensitivity.results
            parts.append(checked.loc[:, list(SENSITIVITY_COLUMNS)].reindex(scores.index))
        parts.append(self.indicators.values.reindex(scores.index))
        return pd.concat(parts, axis=1)

    def top(self, n: int = 10, *, reasons: int = 3) -> pd.DataFrame:
        """The ``n`` most underserved villages with names and their main reasons.

        Returns
        -------
        pandas.DataFrame
            ``rank``, ``kode``, ``name``, ``kecamatan``, ``score``, ``need_class``,
            ``class_label`` and ``reasons``: a list of ``(indicator, raw value,
            contribution)`` for the largest contributions.
        """
        if n < 1:
            raise ValueError(f"n must be at least 1, not {n}")
        scores = self.score.scores
        best = scores[scores["rank"].notna()].sort_values("rank").head(n)
        contrib = self.score.contributions
        contrib = contrib[contrib["kode"].isin(best.index)]
        contrib = contrib[contrib["contribution"].notna()]
        # An indicator equal in every village adds the same to all: it explains no rank.
        constant = {
            n.params.get("indicator") for n in self.score.notes if n.code == "rule_constant"
        }
        contrib = contrib[~contrib["indicator"].isin(constant)]
        contrib = contrib.sort_values(["kode", "contribution"], ascending=[True, False])
        main = contrib.groupby("kode", sort=False).head(reasons)
        listed = {
            k: list(zip(g["indicator"], g["raw"], g["contribution"], strict=True))
            for k, g in main.groupby("kode", sort=False)
        }
        names = self.villages.set_index("kode")
        out = pd.DataFrame(
            {
                "rank": best["rank"].astype(int).to_numpy(),
                "kode": best.index.to_numpy(dtype=object),
                "name": names["name"].reindex(best.index).to_numpy(dtype=object),
                "kecamatan": names["kecamatan"].reindex(best.index).to_numpy(dtype=object)
                if "kecamatan" in names
                else None,
                "score": best["score"].to_numpy(),
                "need_class": best["need_class"].to_numpy(),
                "class_label": best["class_label"].to_numpy(dtype=object),
            }
        )
        out["reasons"] = [listed.get(k, []) for k in out["kode"]]
        return out

    def to_record(self) -> dict[str, Any]:
        """The JSON body saved in the ``score_runs`` collection."""
        scores = self.score.scores
        scored = scores["score"].notna()
        return {
            "profile": self.profile.to_dict(),
            "profile_ref": self.profile_ref,
            "inputs": dict(self.inputs),
            "settings": jsonable(self.settings.to_dict()),
            "software": self.software,
            "table": self.table.ref if self.table is not None else None,
            "summary": {
                "villages": len(scores),
                "scored": int(scored.sum()),
                "mean_score": _number(scores["score"].mean()),
                "classes": {
                    str(int(k)): int(v)
                    for k, v in scores["need_class"].dropna().value_counts().sort_index().items()
                },
            },
            "sensitivity": jsonable(self.sensitivity.summary) if self.sensitivity else None,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


def _number(value: Any) -> float | None:
    value = float(value)
    return None if not np.isfinite(value) else value


def _datasets(
    store: Store, workspace: str, pinned: dict[str, str] | None, *, reuse_zonal: bool = True
) -> dict[str, Any]:
    """The input datasets: the latest of each, or the versions ``pinned`` names.

    Every facilities layer of the workspace counts, and every needs layer (e.g. needs from
    a musrenbang and from a survey); villages are the ``villages`` dataset; indicator
    tables keep their names; the population raster is the ``population`` dataset.
    """
    if pinned is None:
        latest = {d.name: d for d in store.list_datasets(workspace)}
        layer = ("facilities", "needs", "indicators")
        chosen = {
            name: d
            for name, d in latest.items()
            if (d.kind == "villages" and name == "villages")
            or d.kind in layer
            or (d.kind == "raster" and name == "population")
        }
    else:
        chosen = {}
        for name, ref in pinned.items():
            version = int(ref.rsplit("@", 1)[1])
            chosen[name] = store.dataset_info(workspace, name, version)
    if not any(d.kind == "villages" for d in chosen.values()):
        raise InputError(
            N_("workspace %(workspace)r has no villages layer; import villages first"),
            params={"workspace": workspace},
        )
    out: dict[str, Any] = {"refs": {k: d.ref for k, d in chosen.items()}, "tables": {}}
    parts: dict[str, list] = {"facilities": [], "needs": []}
    refs: dict[str, list[str]] = {"facilities": [], "needs": []}
    versions: dict[str, str] = {}
    villages_d = next(d for d in chosen.values() if d.kind == "villages")
    villages_ref = villages_d.ref

    raster_d = next((d for d in chosen.values() if d.kind == "raster"), None)

    def read(item: tuple[str, DatasetVersion | None]) -> Any:
        _name, d = item
        if d is None:  # the zonal population kept for these villages and this raster
            return kept_zonal(store, workspace, *zonal_names(villages_d, raster_d))
        if d.kind == "raster":
            return PopulationGrid.from_bytes(store.read_raster(workspace, d.name, d.version))
        if d.kind in ("indicators", "villages"):
            return store.read_dataset(workspace, d.name, d.version)
        return _read_points(store, workspace, d, villages_ref)

    # The layers are read side by side: decoding them is mostly Arrow, GEOS and numpy
    # work that releases the GIL.
    items: list[tuple[str, DatasetVersion | None]] = sorted(chosen.items())
    if raster_d is not None and reuse_zonal:
        items.append(("", None))
    with ThreadPoolExecutor(READ_THREADS) as pool:
        frames = list(pool.map(read, items))
    out["zonal_kept"] = frames.pop() if items[-1][1] is None else None
    items = [i for i in items if i[1] is not None]
    for (name, d), frame in zip(items, frames, strict=True):
        if d.kind == "raster":
            out["population"], out["raster_info"] = frame, d
            versions["population"] = d.ref
        elif d.kind == "indicators":
            out["tables"][name] = frame
            versions[name] = d.ref
        elif d.kind == "villages":
            out["villages"], out["villages_info"] = frame, d
            versions["villages"] = d.ref
        else:
            parts[d.kind].append(frame)
            refs[d.kind].append(d.ref)
    out["versions"] = versions
    for kind, frames in parts.items():
        if frames:
            out[kind] = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
            versions[kind] = " + ".join(refs[kind])
    return out


#: Columns the indicators read from each points layer (besides the geometry).
POINT_COLUMNS = {
    "facilities": ("type", "kode"),
    "needs": ("category", "severity", "reported_date", "status", "kode"),
}


def _read_points(
    store: Store, workspace: str, d: DatasetVersion, villages: str | None
) -> pd.DataFrame:
    """A facilities or needs layer with the columns the indicators use.

    Needs are counted by the village code the import placed them in, so their points
    are read only when some rows have no code and the villages changed since that
    import (then the points are placed again). Facilities keep their points: distances
    are measured from them.
    """
    columns = list(POINT_COLUMNS[d.kind])  # canonical layers always have them
    if d.kind == "facilities":
        return store.read_dataset(workspace, d.name, d.version, columns=columns)
    plain = store.read_dataset(workspace, d.name, d.version, columns=columns, geometry=False)
    if "kode" in plain and plain["kode"].notna().all():
        return plain
    options = store.get_report(workspace, d.name, d.version).get("notes", {}).get("options", {})
    if villages is not None and options.get("villages") == villages:
        return plain  # placed against these very villages: nothing more to find
    return store.read_dataset(workspace, d.name, d.version, columns=columns)


def _compute(
    store: Store,
    workspace: str,
    profile: ScoringProfile,
    profile_ref: str,
    settings: IndicatorSettings,
    pinned: dict[str, str] | None,
    *,
    reuse_zonal: bool = True,
    keep: bool = True,
) -> ScoreRun:
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    data = _datasets(store, workspace, pinned, reuse_zonal=reuse_zonal)
    seconds["read"] = time.perf_counter() - t
    zonal = None
    if "population" in data:
        t = time.perf_counter()
        zonal = keep_zonal(
            store,
            workspace,
            data["villages_info"],
            data["villages"],
            data["raster_info"],
            data["population"],
            kept=data["zonal_kept"],
            save=keep,
        )
        seconds["zonal"] = time.perf_counter() - t
    t = time.perf_counter()
    indicators = VillageIndicators(
        data["villages"],
        data.get("facilities"),
        data.get("needs"),
        population=data.get("population"),
        tables=data["tables"] or None,
        settings=settings,
        versions=data.get("versions", {}),
        zonal=zonal,
    ).compute()
    seconds["indicators"] = time.perf_counter() - t
    t = time.perf_counter()
    profile.validate(indicators.values.columns)
    score = Score(indicators.values, profile).run()
    seconds["score"] = time.perf_counter() - t
    villages = data["villages"].drop(columns="geometry")
    return ScoreRun(
        workspace,
        profile,
        profile_ref,
        data["refs"],
        settings,
        indicators,
        score,
        villages,
        seconds,
    )


def run_score(
    store: Store,
    workspace: str,
    profile: str | ScoringProfile,
    *,
    settings: IndicatorSettings | None = None,
    profile_version: int | None = None,
    sensitivity: dict[str, Any] | None = None,
    user: str | None = None,
    note: str = "",
    save: bool = True,
    reuse_zonal: bool = True,
) -> ScoreRun:
    """Compute indicators and the score of every village of a workspace.

    Parameters
    ----------
    store : Store
        The store.
    workspace : str
        Workspace name; it must hold a villages layer.
    profile : str or ScoringProfile
        A profile name (saved in the workspace, else built in) or a profile object.
    settings : IndicatorSettings, optional
        Standards, decay and reference date (defaults otherwise; the reference date is
        fixed to today when not given, and recorded).
    profile_version : int, optional
        Version of a saved profile (default: the latest).
    sensitivity : dict, optional
        Also check how much the ranking depends on the weights: keyword arguments of
        :class:`layers.sensitivity.WeightSensitivity` (``runs``, ``spread``, ``top_n``,
        ``seed``; ``{}`` for its defaults). Its summary is saved with the run and its
        per-village rank intervals and ``fragile`` flags in the run's table.
    user : str, optional
        Who ran it.
    note : str
        Why (kept with the run).
    save : bool
        Save the run's table and record (default). False computes only.
    reuse_zonal : bool
        Use the zonal population kept for these villages and raster (computed at import,
        or by an earlier run). False computes it again (and keeps it only when saving).

    Returns
    -------
    ScoreRun

    Raises
    ------
    InputError
        When the workspace has no villages, or the profile uses an indicator the data
        cannot give (the message lists what is available).
    NotFoundError
        For an unknown workspace or profile.
    """
    store.get_workspace(workspace)
    if isinstance(profile, ScoringProfile):
        profile.check()
        chosen, ref = profile, "custom:" + profile.name
    elif isinstance(profile, str):
        chosen, ref = load_profile(store, workspace, profile, profile_version)
    else:
        raise ValueError(f"profile must be a name or a ScoringProfile, not {type(profile)}")
    settings = IndicatorSettings() if settings is None else settings
    if settings.as_of is None:
        settings = dataclasses.replace(settings, as_of=date.today())
    run = _compute(
        store, workspace, chosen, ref, settings, None, reuse_zonal=reuse_zonal, keep=save
    )
    if sensitivity is not None:
        t = time.perf_counter()
        run.sensitivity = WeightSensitivity(run.indicators.values, chosen, **sensitivity).run()
        run.seconds["sensitivity"] = time.perf_counter() - t
    if save:
        _save(store, run, user=user, note=note)
    return run


def _save(store: Store, run: ScoreRun, *, user: str | None, note: str) -> None:
    table = run.result_table()
    run.table = store.put_dataset(
        run.workspace,
        "derived",
        table,
        name=f"score-{run.profile.name}",
        source_name=f"score run of profile {run.profile.name}",
        source_sha256=table_digest(table),
        report={"kind": "derived", "notes": {"inputs": run.inputs, "profile": run.profile_ref}},
        created_by=user,
        note=note,
    )
    run.record = store.put_record(
        run.workspace, RUNS, run.profile.name, run.to_record(), created_by=user, note=note
    )


def load_run(store: Store, workspace: str, profile: str, run: int | None = None) -> dict:
    """A saved run: its record body plus ``record`` and ``table`` (the stored frame).

    Parameters
    ----------
    store : Store
        The store.
    workspace : str
        Workspace name.
    profile : str
        Profile name the run used.
    run : int, optional
        Run number (default: the latest).
    """
    rec = store.get_record(workspace, RUNS, profile, run)
    body = dict(rec.body)
    ref = body.get("table")
    table = None
    if ref:
        name, version = ref.split("/", 1)[1].rsplit("@", 1)
        table = store.read_dataset(workspace, name, int(version))
    body["record"] = rec
    body["table_frame"] = table
    return body


@dataclass(frozen=True)
class RerunCheck:
    """How a re-run compares with the saved run."""

    run: ScoreRun
    same: bool
    max_score_difference: float
    rank_changes: int


def rerun(store: Store, workspace: str, profile: str, run: int | None = None) -> RerunCheck:
    """Compute a saved run again from the same dataset versions, profile and settings.

    Returns
    -------
    RerunCheck
        The new run (not saved) and whether its scores and ranks equal the saved ones.
    """
    saved = load_run(store, workspace, profile, run)
    chosen = ScoringProfile.from_dict(saved["profile"])
    settings = settings_from_dict(saved["settings"])
    again = _compute(
        store, workspace, chosen, saved["profile_ref"], settings, saved["inputs"], keep=False
    )
    old = saved["table_frame"]
    new = again.result_table()
    if old is None:
        return RerunCheck(again, False, float("nan"), -1)
    old_scores = old["score"].reindex(new.index).to_numpy(dtype=float)
    new_scores = new["score"].to_numpy(dtype=float)
    both = ~(np.isnan(old_scores) & np.isnan(new_scores))
    diff = np.abs(old_scores - new_scores)[both]
    max_diff = float(np.nanmax(diff)) if diff.size else 0.0
    if np.isnan(diff).any():
        max_diff = float("inf")
    ranks_old = old["rank"].reindex(new.index).astype("Float64")
    ranks_new = new["rank"].astype("Float64")
    changed = int((ranks_old.fillna(-1) != ranks_new.fillna(-1)).sum())
    return RerunCheck(again, max_diff <= RERUN_TOLERANCE and changed == 0, max_diff, changed)


def run_hotspots(
    store: Store, workspace: str, profile: str, run: int | None = None, **options: Any
) -> HotSpots:
    """Hot spots of a saved run's scores, on the villages that run used.

    Parameters
    ----------
    store : Store
        The store.
    workspace : str
        Workspace name.
    profile : str
        Profile name of the run.
    run : int, optional
        Run number (default: the latest).
    **options
        Passed to :class:`layers.hotspots.HotSpots` (``permutations``, ``alpha``, ``fdr``,
        ``seed``, ``k``, ``tolerance``).

    Returns
    -------
    HotSpots
        After :meth:`~layers.hotspots.HotSpots.run`.
    """
    from layers.hotspots import HotSpots  # esda and libpysal load only for hot spots

    saved = load_run(store, workspace, profile, run)
    table = saved["table_frame"]
    if table is None:
        raise InputError(N_("run %(ref)s has no saved table"), params={"ref": saved["record"].ref})
    ref = saved["inputs"].get("villages")
    if ref is None:
        raise InputError(
            N_("run %(ref)s does not say which villages it used"),
            params={"ref": saved["record"].ref},
        )
    villages = store.read_dataset(workspace, "villages", int(ref.rsplit("@", 1)[1]))
    villages = villages.loc[:, ["kode", "name", "geometry"]]
    villages["score"] = table["score"].reindex(villages["kode"]).to_numpy(dtype=float)
    return HotSpots(villages, "score", **options).run()
