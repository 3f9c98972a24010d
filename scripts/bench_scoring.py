"""Benchmark the scoring pipeline against the same indicators computed in plain GeoPandas.

Run ``python scripts/bench_scoring.py`` (no arguments needed). It makes the synthetic data
set with its population raster when they are missing (:mod:`make_synthetic`, into
``bench-data/``: 84,000 villages, 300,000 facilities, 1,000,000 needs, a 2,200 x 2,200
raster over one province), imports it once into a fresh SQLite store (set-up, not timed),
then measures, each in its own child process and repeated (``--repeat``, 3 by default):

naive
    :func:`naive_indicators.naive_indicators`: ``geopandas.read_file`` of the files,
    ``sjoin`` + ``groupby`` for counts and weighted sums, ``sjoin_nearest`` for distances,
    ``rasterstats.zonal_stats`` for the raster population, populated cells as points
    (``sjoin`` to villages, ``sjoin_nearest`` to facilities) for people-weighted distances
    and shares beyond the standard, pandas for the rates; for the four facility types
    puskesmas, posyandu, sd and water_point and every need category.
pipeline
    ``layers.score_run.run_score(store, "bench", profile)``: reads the layers, the raster
    and the zonal population kept at import from the store, computes the indicators and
    the score, and records the run. The profile uses the same indicators as the naive
    version.
cold
    The same with ``reuse_zonal=False``: the zonal population computed in the run.

Memory is measured as in ``bench_import.py``: the peak resident memory of the step's own
process (VmHWM, reset just before the step). After the runs the pipeline's indicator values
are compared with the naive ones: identical facility and needs counts, distances within
0.5 %, the raster population within the tolerance stated in ``docs/benchmarks.md``
(rasterstats counts a cell in the village holding its centre, the pipeline shares boundary
cells by area). The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = Path(__file__).resolve().parent
for p in (ROOT, SCRIPTS):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bench_import import (  # noqa: E402
    StepError,
    _peak_mb,
    _proc_status_mb,
    _reset_peak,
    run_child,
)

STEPS = ("naive", "pipeline", "cold")
WORKSPACE = "bench"
TYPES = ("puskesmas", "posyandu", "sd", "water_point")
QUICK_SIZES = {"n_villages": 2000, "n_facilities": 5000, "n_needs": 20000, "raster_size": 400}
FULL_SIZES = {"n_villages": 84000, "n_facilities": 300000, "n_needs": 1000000, "raster_size": 2200}
#: People-weighted distances: most and 95th-percentile relative difference allowed.
WEIGHTED_TOLERANCE = (0.02, 0.10)
#: Shares of people beyond the standard distance: mean absolute difference allowed.
SHARE_TOLERANCE = 0.01
TOTAL_TARGET_S = 10.0  # the whole pipeline
SPEEDUP_TARGET = 3.0  # naive / pipeline
PEAK_TARGET_MB = 3072.0
DISTANCE_TOLERANCE = 0.005  # relative
WEIGHT_TOLERANCE = 1e-6  # relative, for severity-weighted sums (float addition order)
# Raster population: rasterstats counts a cell in the village holding its centre, the
# pipeline shares each boundary cell by area, so villages differ by part of their boundary
# cells' people. The totals must agree closely; single villages only statistically.
POPULATION_TOTAL_TOLERANCE = 0.005
POPULATION_MEDIAN_TOLERANCE = 0.02
POPULATION_P95_TOLERANCE = 0.10


# --- child side ----------------------------------------------------------------------------


def _open_store(store_dir: str):
    from layers.storage import open_store

    store = open_store(f"sqlite:///{Path(store_dir) / 'jangkau.sqlite'}")
    store.init()
    return store


def _setup(spec: dict[str, Any]) -> dict[str, Any]:
    """Import the data set into a fresh store (not timed in the table)."""
    from layers.importer import import_into_store

    store = _open_store(spec["store"])
    store.create_workspace(WORKSPACE, "Benchmark")
    t0 = time.perf_counter()
    counts = {}
    for kind, path in spec["paths"].items():
        outcome = import_into_store(
            store, WORKSPACE, path, "raster" if kind == "population" else kind
        )
        if not outcome.stored:
            raise RuntimeError(f"import of {kind} stored nothing: {outcome.report.counts()}")
        counts[kind] = outcome.report.counts()
    store.close()
    return {"seconds": time.perf_counter() - t0, "counts": counts}


def _probe() -> dict[str, Any]:
    """Whether the pipeline exists, and the needs settings of its default indicators.

    Returns ``{"pipeline": bool, "reason": text, "settings": {...}}``, the settings as
    ``{"known": bool, "as_of": ISO date, "half_life_days": float or None,
    "include_addressed": bool}``; ``known`` is False when ``layers.indicators`` cannot be
    imported (weighted sums are then not judged).
    """
    try:
        from layers.score_run import run_score  # noqa: F401

        pipeline, reason = True, ""
    except ImportError as exc:
        pipeline, reason = False, f"layers.score_run.run_score: {exc}"
    return {"pipeline": pipeline, "reason": reason, "settings": _indicator_settings()}


def _indicator_settings() -> dict[str, Any]:
    unknown = {"known": False, "as_of": None, "half_life_days": None, "include_addressed": False}
    try:
        from layers.indicators import IndicatorSettings
    except ImportError:
        return unknown
    settings = IndicatorSettings()
    as_of = getattr(settings, "as_of", None) or date.today()
    return {
        "known": True,
        "as_of": as_of.isoformat(),
        "half_life_days": getattr(settings, "half_life_days", None),
        "include_addressed": bool(getattr(settings, "include_addressed", False)),
    }


def _naive(spec: dict[str, Any]) -> dict[str, Any]:
    from naive_indicators import naive_indicators

    settings = spec.get("settings") or {}
    base = _proc_status_mb("VmRSS") or _peak_mb()
    reset = _reset_peak()
    stages: dict[str, float] = {}
    t0 = time.perf_counter()
    table = naive_indicators(
        spec["paths"],
        TYPES,
        as_of=settings.get("as_of"),
        half_life_days=settings.get("half_life_days"),
        include_addressed=bool(settings.get("include_addressed", False)),
        timings=stages,
    )
    seconds = time.perf_counter() - t0
    peak = _peak_mb()
    if spec.get("out") and not Path(spec["out"]).exists():
        table.to_parquet(spec["out"])
    return {
        "seconds": seconds,
        "peak_mb": peak,
        "base_mb": base,
        "peak_reset": reset,
        "rows": len(table),
        "stages": stages,
    }


def _profile(categories: tuple[str, ...]):
    from layers.profiles import IndicatorRule, ScoringProfile

    rules = []
    for t in TYPES:
        rules.append(IndicatorRule(f"dist_m__{t}", 1.0, "need", "rank", optional=True))
        rules.append(
            IndicatorRule(
                f"fac_per_1000__{t}", 1.0, "better", "rank", missing="median", optional=True
            )
        )
    for c in categories:
        rules.append(
            IndicatorRule(
                f"needs_per_1000__{c}", 1.0, "need", "rank", missing="median", optional=True
            )
        )
    return ScoringProfile(
        name="bench",
        title="Scoring benchmark",
        description="Distances, facility and needs rates of the scoring benchmark.",
        rules=tuple(rules),
    )


#: Columns an indicator table must have to be compared (else it is computed again).
REQUIRED = (
    *(f"fac_count__{t}" for t in TYPES),
    *(f"dist_m__{t}" for t in TYPES),
    "needs__water",
    "needs_open",
    "population_raster",
)


def _as_table(value: Any):
    """``value`` as a DataFrame indexed by kode, if it is (or holds) the indicator table."""
    import pandas as pd

    for candidate in (value, getattr(value, "values", None), getattr(value, "table", None)):
        if isinstance(candidate, pd.DataFrame):
            if "kode" in candidate.columns:
                candidate = candidate.set_index("kode")
            if all(c in candidate.columns for c in REQUIRED):
                return candidate
    return None


def _pipeline_values(run: Any, store) -> tuple[Any, str]:
    """The indicator values the pipeline computed, and where they were found."""
    for holder in ("", "score", "result"):
        obj = getattr(run, holder, None) if holder else run
        for name in ("indicators", "indicator_values", "values"):
            table = _as_table(getattr(obj, name, None)) if obj is not None else None
            if table is not None:
                return table, ".".join(filter(None, ("ScoreRun", holder, name)))
    # Not on the run object (or only the profile's columns): compute them again the way
    # the pipeline does, after the timed run.
    from layers.indicators import IndicatorSettings, VillageIndicators
    from layers.zonal import PopulationGrid

    villages = store.read_dataset(WORKSPACE, "villages")
    facilities = store.read_dataset(WORKSPACE, "facilities")
    needs = store.read_dataset(WORKSPACE, "needs")
    grid = PopulationGrid.from_bytes(store.read_raster(WORKSPACE, "population"))
    settings = IndicatorSettings(types=TYPES)
    values = (
        VillageIndicators(villages, facilities, needs, population=grid, settings=settings)
        .compute()
        .values
    )
    return _as_table(values), "VillageIndicators (recomputed after the timed run)"


def _pipeline(spec: dict[str, Any]) -> dict[str, Any]:
    try:
        from layers.score_run import run_score
    except ImportError as exc:
        return {"available": False, "reason": f"layers.score_run.run_score: {exc}"}
    store = _open_store(spec["store"])
    profile = _profile(tuple(spec["categories"]))
    base = _proc_status_mb("VmRSS") or _peak_mb()
    reset = _reset_peak()
    t0 = time.perf_counter()
    from layers.indicators import IndicatorSettings

    settings = IndicatorSettings(types=TYPES)
    reuse = spec.get("reuse_zonal", True)
    run = run_score(
        store,
        WORKSPACE,
        profile,
        settings=settings,
        user="bench",
        note="scoring benchmark",
        reuse_zonal=reuse,
    )
    seconds = time.perf_counter() - t0
    peak = _peak_mb()
    result: dict[str, Any] = {
        "available": True,
        "seconds": seconds,
        "peak_mb": peak,
        "base_mb": base,
        "peak_reset": reset,
    }
    if spec.get("out") and not Path(spec["out"]).exists():
        table, source = _pipeline_values(run, store)
        if table is None:
            result["values_source"] = "no indicator table found"
        else:
            table.index = table.index.astype(str)
            table.to_parquet(spec["out"])
            result["values_source"] = source
            result["rows"] = len(table)
    store.close()
    return result


def _child_main(spec_json: str) -> int:
    spec = json.loads(spec_json)
    step = spec["step"]
    if step == "setup":
        result = _setup(spec)
    elif step == "naive":
        result = _naive(spec)
    elif step == "pipeline":
        result = _pipeline(spec)
    elif step == "probe":
        result = _probe()
    else:
        raise ValueError(f"unknown step {step!r}")
    print(json.dumps(result))
    return 0


# --- comparison ----------------------------------------------------------------------------


def compare(naive, pipeline, types=TYPES, categories=None) -> tuple[list[str], list[str], dict]:
    """Compare the pipeline's indicator table with the naive one.

    Parameters
    ----------
    naive, pipeline : pandas.DataFrame
        Indicator tables indexed by village code.
    types, categories : sequence of str
        Facility types and need categories to compare (categories: every ``needs__``
        column of the naive table by default).

    Returns
    -------
    lines : list of str
        A readable summary.
    failures : list of str
        What does not agree within its tolerance (empty when everything does).
    figures : dict
        The numbers behind the summary.
    """
    import numpy as np
    import pandas as pd

    if not isinstance(naive, pd.DataFrame) or not isinstance(pipeline, pd.DataFrame):
        raise ValueError("compare needs two DataFrames indexed by village code")
    if categories is None:
        categories = [c.split("__", 1)[1] for c in naive.columns if c.startswith("needs__")]
    lines: list[str] = []
    failures: list[str] = []
    figures: dict[str, Any] = {}
    naive_codes = pd.Index(naive.index.astype(str))
    pipe_codes = pd.Index(pipeline.index.astype(str))
    common = naive_codes.intersection(pipe_codes)
    n = naive.set_axis(naive_codes).loc[common]
    p = pipeline.set_axis(pipe_codes).loc[common]
    missing = len(naive_codes.difference(pipe_codes))
    extra = len(pipe_codes.difference(naive_codes))
    lines.append(
        f"villages: {len(common):,} in both, {missing:,} only naive, {extra:,} only pipeline"
    )
    if missing or extra:
        failures.append(f"village sets differ ({missing} only naive, {extra} only pipeline)")

    def absent(column: str) -> bool:
        if column in n.columns and column in p.columns:
            return False
        side = "pipeline" if column in n.columns else "naive"
        lines.append(f"  {column}: not in the {side} table")
        failures.append(f"{column} is missing from the {side} table")
        return True

    counts = [f"fac_count__{t}" for t in types] + [f"needs__{c}" for c in categories]
    counts += ["needs_open", "needs_addressed"]
    differing = {}
    for col in counts:
        if absent(col):
            continue
        a = n[col].fillna(0).to_numpy(dtype=np.float64)
        b = p[col].fillna(0).to_numpy(dtype=np.float64)
        differing[col] = int((a != b).sum())
    figures["count_mismatches"] = differing
    bad = {k: v for k, v in differing.items() if v}
    lines.append(
        f"counts ({len(differing)} columns): "
        + (
            "identical"
            if not bad
            else "DIFFER in " + ", ".join(f"{k} ({v})" for k, v in bad.items())
        )
    )
    if bad:
        failures.append(f"counts differ: {bad}")

    # Distances: both measure from each village's representative point, except where the
    # raster gives the village's people: there both average the distance of its populated
    # cells, weighted by their people (the pipeline shares boundary cells by area, the
    # naive version counts whole cells by their centre, so those differ a little).
    if "population_raster" in p.columns:
        raster_people = p["population_raster"].fillna(0).to_numpy(dtype=np.float64) > 0
    else:
        raster_people = np.zeros(len(p), dtype=bool)
    figures["distance_villages"] = int((~raster_people).sum())
    worst = 0.0
    weighted_medians, weighted_p95 = [], []
    for t in types:
        col = f"dist_m__{t}"
        if absent(col):
            continue
        a, b = n[col].to_numpy(dtype=np.float64), p[col].to_numpy(dtype=np.float64)
        nan_mismatch = int((np.isnan(a) != np.isnan(b)).sum())
        both = ~np.isnan(a) & ~np.isnan(b)
        rel_all = np.abs(b - a) / np.maximum(a, 1.0)  # a 1 m floor for facilities at 0 m
        rel = rel_all[both & ~raster_people]
        top = float(rel.max()) if len(rel) else 0.0
        worst = max(worst, top)
        figures[f"{col}_max_rel"] = top
        line = f"  {col}: max relative difference {top:.4%}"
        line += f", median {np.median(rel):.4%}" if len(rel) else ""
        weighted = rel_all[both & raster_people]
        if len(weighted):
            weighted_medians.append(float(np.median(weighted)))
            weighted_p95.append(float(np.percentile(weighted, 95)))
            line += (
                f"; {len(weighted):,} villages people-weighted over raster cells: median "
                f"{np.median(weighted):.2%}, 95th percentile {np.percentile(weighted, 95):.2%}"
            )
        lines.append(line + (f", {nan_mismatch} missing on one side only" if nan_mismatch else ""))
        if nan_mismatch:
            failures.append(f"{col}: {nan_mismatch} villages have a distance on one side only")
    figures["distance_max_rel"] = worst
    ok = worst <= DISTANCE_TOLERANCE
    lines.append(
        f"distances from the representative point ({figures['distance_villages']:,} villages): "
        f"max relative difference {worst:.4%} "
        f"({'within' if ok else 'NOT within'} {DISTANCE_TOLERANCE:.1%})"
    )
    if not ok:
        failures.append(f"distances differ by up to {worst:.3%}")
    if weighted_medians:
        med, p95 = max(weighted_medians), max(weighted_p95)
        figures["weighted_distance_median_rel"], figures["weighted_distance_p95_rel"] = med, p95
        ok = med <= WEIGHTED_TOLERANCE[0] and p95 <= WEIGHTED_TOLERANCE[1]
        lines.append(
            f"people-weighted distances: worst median {med:.2%}, worst 95th percentile "
            f"{p95:.2%} ({'within' if ok else 'NOT within'} {WEIGHTED_TOLERANCE[0]:.0%} / "
            f"{WEIGHTED_TOLERANCE[1]:.0%}; cell-centre rule against shares of boundary cells)"
        )
        if not ok:
            failures.append(f"people-weighted distances differ: median {med:.2%}, p95 {p95:.2%}")
    shares = [f"share_beyond__{t}" for t in types]
    shares = [c for c in shares if c in n.columns and c in p.columns]
    if shares:
        diffs = np.concatenate(
            [
                np.abs(n[c].to_numpy(dtype=np.float64) - p[c].to_numpy(dtype=np.float64))
                for c in shares
            ]
        )
        diffs = diffs[~np.isnan(diffs)]
        mean, p99 = float(diffs.mean()), float(np.percentile(diffs, 99))
        figures["share_beyond_mean_abs"], figures["share_beyond_p99_abs"] = mean, p99
        ok = mean <= SHARE_TOLERANCE
        lines.append(
            f"shares beyond the standard ({len(shares)} types): mean absolute difference "
            f"{mean:.4f}, 99th percentile {p99:.4f} "
            f"({'within' if ok else 'NOT within'} {SHARE_TOLERANCE:g} on average)"
        )
        if not ok:
            failures.append(f"shares beyond the standard differ by {mean:.4f} on average")

    weighted = [f"needs_weighted__{c}" for c in categories] + ["needs_weighted__all"]
    worst_w = 0.0
    compared = 0
    for col in weighted:
        if col not in n.columns or col not in p.columns:
            continue
        a = n[col].fillna(0).to_numpy(dtype=np.float64)
        b = p[col].fillna(0).to_numpy(dtype=np.float64)
        rel = np.abs(b - a) / np.maximum(np.abs(a), 1e-9)
        rel[(a == 0) & (b == 0)] = 0.0
        worst_w = max(worst_w, float(rel.max()) if len(rel) else 0.0)
        compared += 1
    if compared:
        figures["weighted_max_rel"] = worst_w
        ok = worst_w <= WEIGHT_TOLERANCE
        lines.append(
            f"weighted needs ({compared} columns): max relative difference {worst_w:.2e} "
            f"({'within' if ok else 'NOT within'} {WEIGHT_TOLERANCE:g})"
        )
        if not ok:
            failures.append(f"weighted needs differ by up to {worst_w:.3g}")

    if not absent("population"):
        a = n["population"].to_numpy(dtype=np.float64)
        b = p["population"].to_numpy(dtype=np.float64)
        same = np.isclose(a, b, rtol=1e-9, equal_nan=True)
        lines.append(f"population (table): {'identical' if same.all() else 'DIFFERS'}")
        if not same.all():
            failures.append(f"table population differs in {int((~same).sum())} villages")
    if not absent("population_raster"):
        a = n["population_raster"].to_numpy(dtype=np.float64)
        b = p["population_raster"].to_numpy(dtype=np.float64)
        on = ~np.isnan(a)  # villages holding at least one cell centre
        pipe_only = ~on & ~np.isnan(b) & (b > 0)
        total_a, total_b = float(np.nansum(a[on])), float(np.nansum(b[on]))
        total_rel = abs(total_b - total_a) / total_a if total_a else 0.0
        rel = np.abs(b[on] - a[on]) / np.maximum(a[on], 1.0)
        rel = np.where(np.isnan(rel), np.inf, rel)
        med = float(np.median(rel)) if len(rel) else 0.0
        p95 = float(np.percentile(rel, 95)) if len(rel) else 0.0
        figures.update(
            population_total_rel=total_rel,
            population_median_rel=med,
            population_p95_rel=p95,
            population_max_rel=float(rel.max()) if len(rel) else 0.0,
            population_pipeline_only=int(pipe_only.sum()),
        )
        ok = (
            total_rel <= POPULATION_TOTAL_TOLERANCE
            and med <= POPULATION_MEDIAN_TOLERANCE
            and p95 <= POPULATION_P95_TOLERANCE
        )
        lines.append(
            f"raster population ({int(on.sum()):,} villages): total differs by {total_rel:.3%}, "
            f"per village median {med:.2%}, 95th percentile {p95:.2%}, max {rel.max():.1%} "
            f"({'within' if ok else 'NOT within'} {POPULATION_TOTAL_TOLERANCE:.1%} / "
            f"{POPULATION_MEDIAN_TOLERANCE:.0%} / {POPULATION_P95_TOLERANCE:.0%}; rasterstats "
            "counts whole cells by their centre, the pipeline shares boundary cells by area)"
        )
        if pipe_only.any():
            lines.append(
                f"  {int(pipe_only.sum()):,} villages hold no cell centre but get raster people "
                f"from the pipeline ({float(np.nansum(b[pipe_only])):,.0f} people in all)"
            )
        if not ok:
            failures.append("raster population differs beyond its tolerance")
    return lines, failures, figures


# --- parent side ---------------------------------------------------------------------------


def _measure(spec: dict[str, Any]) -> dict[str, Any]:
    return run_child(Path(__file__).resolve(), spec)


def _median(runs: list[dict[str, Any]], key: str = "seconds") -> float | None:
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else None


def run(
    data_dir: Path,
    *,
    quick: bool = False,
    repeat: int = 3,
    steps: tuple[str, ...] = STEPS,
    work_dir: Path | None = None,
) -> dict[str, Any]:
    """Make the data and the store if needed, measure each step ``repeat`` times."""
    import pandas as pd
    from make_synthetic import make_national

    from layers.schema import NEED_CATEGORIES

    sizes = QUICK_SIZES if quick else FULL_SIZES
    t_start = time.perf_counter()
    paths = {k: str(v) for k, v in make_national(data_dir, **sizes).items()}
    print(f"data: {data_dir} ({', '.join(f'{k} {v:,}' for k, v in sizes.items())})")
    out: dict[str, Any] = {"results": {s: [] for s in steps}, "errors": [], "notes": []}
    if "pipeline" in steps:
        out["results"]["cold"] = []
    if work_dir is not None:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="jangkau-bench-scoring-", dir=work_dir))
    template = tmp / "store-template"
    tables = {step: tmp / f"{step}.parquet" for step in STEPS}
    try:
        probe = _measure({"step": "probe"})
        settings = probe["settings"]
        if not settings["known"]:
            out["notes"].append(
                "layers.indicators not available: naive needs weighted by severity without "
                "recency decay, weighted sums not judged"
            )
        available = "pipeline" in steps and probe["pipeline"]
        if "pipeline" in steps and not available:
            out["notes"].append(f"pipeline not available ({probe['reason']})")
            print(f"  pipeline: not available ({probe['reason']})", flush=True)
        if available:
            template.mkdir()
            setup = _measure({"step": "setup", "store": str(template), "paths": paths})
            print(f"set-up: imported {', '.join(paths)} in {setup['seconds']:.1f} s (not timed)")
        for rep in range(repeat):
            if "naive" in steps:
                spec = {
                    "step": "naive",
                    "paths": paths,
                    "settings": settings,
                    "out": str(tables["naive"]),
                }
                result = _measure(spec)
                out["results"]["naive"].append(result)
                print(
                    f"  rep {rep + 1} naive    {result['seconds']:8.2f} s "
                    f"{result['peak_mb']:7.0f} MB  "
                    + ", ".join(f"{k} {v:.2f}" for k, v in result["stages"].items()),
                    flush=True,
                )
            if available:
                store = tmp / f"store-{rep}"
                shutil.copytree(template, store)
                spec = {
                    "step": "pipeline",
                    "store": str(store),
                    "categories": list(NEED_CATEGORIES),
                    "out": str(tables["pipeline"]),
                }
                result = _measure(spec)
                shutil.rmtree(store, ignore_errors=True)
                if not result.get("available"):
                    available = False
                    out["notes"].append(f"pipeline not available ({result.get('reason')})")
                    print(f"  pipeline: not available ({result.get('reason')})", flush=True)
                    continue
                out["results"]["pipeline"].append(result)
                print(
                    f"  rep {rep + 1} pipeline {result['seconds']:8.2f} s "
                    f"{result['peak_mb']:7.0f} MB",
                    flush=True,
                )
                if rep == 0 and "values_source" in result:
                    out["notes"].append(f"pipeline values from {result['values_source']}")
                # The same run with the zonal population computed in it rather than read
                # from the store (where the raster import put it).
                store = tmp / f"store-{rep}-cold"
                shutil.copytree(template, store)
                spec = {
                    "step": "pipeline",
                    "store": str(store),
                    "categories": list(NEED_CATEGORIES),
                    "reuse_zonal": False,
                }
                result = _measure(spec)
                shutil.rmtree(store, ignore_errors=True)
                out["results"]["cold"].append(result)
                print(
                    f"  rep {rep + 1} cold     {result['seconds']:8.2f} s "
                    f"{result['peak_mb']:7.0f} MB",
                    flush=True,
                )
        if tables["naive"].exists() and tables["pipeline"].exists():
            lines, failures, figures = compare(
                pd.read_parquet(tables["naive"]), pd.read_parquet(tables["pipeline"])
            )
            if not settings["known"]:
                # Unknown decay settings: weighted sums were not aligned, so do not judge them.
                failures = [f for f in failures if not f.startswith("weighted")]
                lines.append("  (weighted sums not judged: the pipeline's decay is unknown)")
            out["comparison"] = {"lines": lines, "failures": failures, "figures": figures}
            out["errors"].extend(f"comparison: {f}" for f in failures)
    except StepError as exc:
        out["errors"].append(str(exc))
        print(f"  {exc}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"bench time: {time.perf_counter() - t_start:.0f} s")
    return out


def _report(out: dict[str, Any], repeat: int) -> dict[str, Any]:
    results = out["results"]
    print()
    print(
        f"seconds: median, min and max of {repeat} run(s), each in a fresh process; peak MB: "
        "the highest resident memory of the step's own process (VmHWM, reset just before the "
        "step); base MB: its memory before the step"
    )
    print(
        f"{'step':<9} {'median s':>8} {'min s':>7} {'max s':>7} {'n':>2} {'peak MB':>8} "
        f"{'base MB':>8}"
    )
    print("-" * 56)
    for step in STEPS:
        runs = results.get(step) or []
        if not runs:
            if step in results:
                print(f"{step:<9} {'not available':>26}")
            continue
        secs = [r["seconds"] for r in runs]
        print(
            f"{step:<9} {statistics.median(secs):8.2f} {min(secs):7.2f} {max(secs):7.2f} "
            f"{len(secs):>2} {max(r['peak_mb'] for r in runs):8.0f} "
            f"{min(r['base_mb'] for r in runs):8.0f}"
        )
    naive_runs = results.get("naive") or []
    if naive_runs:
        print("\nnaive stages (median s): ", end="")
        names = list(naive_runs[0]["stages"])
        print(
            ", ".join(
                f"{k} {statistics.median(r['stages'].get(k, 0.0) for r in naive_runs):.2f}"
                for k in names
            )
        )
    naive_s = _median(naive_runs)
    pipe_runs = results.get("pipeline") or []
    total_s = _median(pipe_runs)
    peak = max((r["peak_mb"] for r in pipe_runs), default=None)
    speedup = naive_s / total_s if naive_s and total_s else None
    cold_runs = results.get("cold") or []
    cold_s = _median(cold_runs)
    cold_speedup = naive_s / cold_s if naive_s and cold_s else None
    peak = max((r["peak_mb"] for r in pipe_runs + cold_runs), default=None)
    metrics = {
        "total_s": round(total_s, 3) if total_s is not None else None,
        "naive_s": round(naive_s, 3) if naive_s is not None else None,
        "speedup": round(speedup, 3) if speedup is not None else None,
        "peak_mb": round(peak, 1) if peak is not None else None,
        "cold_s": round(cold_s, 3) if cold_s is not None else None,
        "cold_speedup": round(cold_speedup, 3) if cold_speedup is not None else None,
    }
    print()
    if total_s is None:
        print("pipeline: not measured, so no ratio and no targets to judge")
    else:

        def met(ok: bool) -> str:
            return "met" if ok else "NOT met"

        print(f"speedup (naive / pipeline): {speedup:.2f}x")
        if cold_speedup is not None:
            print(
                f"speedup (naive / cold: zonal population computed in the run, not read from "
                f"the store): {cold_speedup:.2f}x"
            )
        print(
            f"targets: pipeline <= {TOTAL_TARGET_S:g} s ({met(total_s <= TOTAL_TARGET_S)}), "
            f">= {SPEEDUP_TARGET:g}x faster than naive ({met(speedup >= SPEEDUP_TARGET)}), "
            f"peak <= {PEAK_TARGET_MB:,.0f} MB ({met(peak <= PEAK_TARGET_MB)})"
        )
    if "comparison" in out:
        print("\ncomparison of the indicator values (pipeline against naive):")
        for line in out["comparison"]["lines"]:
            print(f"  {line}")
    for note in out["notes"]:
        print(f"note: {note}")
    if out["errors"]:
        print("\nerrors:")
        for e in out["errors"]:
            print(f"  {e}")
    return metrics


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; see the module docstring."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return _child_main(argv[1])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes (2,000 villages, 5,000 facilities, 20,000 needs, 400 x 400 raster)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per step (3)")
    parser.add_argument(
        "--steps",
        default=",".join(STEPS),
        help="comma-separated steps to run: naive, pipeline (both)",
    )
    parser.add_argument(
        "--data", default=None, help="data folder (bench-data/, or bench-data/quick with --quick)"
    )
    parser.add_argument("--tmp", default=None, help="folder for the temporary stores")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    steps = tuple(s.strip() for s in args.steps.split(",") if s.strip())
    if not steps or set(steps) - set(STEPS):
        parser.error(f"--steps takes {', '.join(STEPS)}, not {args.steps!r}")
    from make_synthetic import DEFAULT_DIR

    data_dir = Path(args.data) if args.data else DEFAULT_DIR / ("quick" if args.quick else "")
    try:
        out = run(
            data_dir,
            quick=args.quick,
            repeat=args.repeat,
            steps=steps,
            work_dir=Path(args.tmp) if args.tmp else None,
        )
    except Exception as exc:  # still end with the JSON line, so callers can parse it
        out = {"results": {}, "errors": [f"{type(exc).__name__}: {exc}"], "notes": []}
    metrics = _report(out, args.repeat)
    print(json.dumps({"bench": "scoring", "metrics": metrics}))
    return 1 if out["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
