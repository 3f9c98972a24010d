"""Benchmark targeting: program placement and facility siting at national scale.

Run ``python scripts/bench_targeting.py`` (no arguments needed; ``--quick`` for a small
run). It uses the seeded synthetic data set of :mod:`make_synthetic` (made into
``bench-data/`` when missing: 84,000 villages, 300,000 facilities), turns it once into a
small table of village points (set-up, not timed), then measures, each step in its own
child process and repeated (``--repeat``, 3 by default; medians reported):

placement
    ``ProgramPlacement`` on every village: benefit score x people (seeded synthetic scores,
    0-100), cost Rp 25,000 per person, a budget of 10 % of the total cost, at most 3
    villages per kecamatan and no two chosen villages closer than 2 km; ``time_limit=7``
    (the solver's: building the model, about 1.5 s, comes on top) so that the whole solve
    keeps the 10 s target even when the solver is stopped at its limit.
    Rule costs are not priced (each would be one more solve of the same size).
siting
    ``FacilitySiting(model="mclp", engine="own")``: one demand point per village (its
    representative point, weight = population), 5,000 candidate sites (villages drawn
    with a fixed seed), the existing pustu (``Pustu`` and ``Puskesmas Pembantu``) kept
    open, ``distance_m=5000``, ``k=100``, ``time_limit=55`` (target 60 s).
siting_open
    The same with no existing facility, so all 84,000 demand points are in the model (the
    larger of the two; ``siting_s`` in the JSON line is the larger median of the two).
spopt
    ``spopt.locate.MCLP.from_geodataframe`` on the same inputs (the existing pustu as its
    predefined facilities), solved with HiGHS through PuLP. Its dense demand x facility
    matrix is 84,000 x 14,000 for the full inputs: 9.4 GB of float64 twice over, and one
    PuLP term per pair, which fits neither the memory nor the time here. So it is run on
    the first ``n`` demand points for growing ``n`` (all candidates and existing facilities
    each time), each run stopped after ``--spopt-timeout`` seconds, up to the largest ``n``
    that finishes; the own engine is run on the same subset and their objectives compared.

Memory is the peak resident memory of the step's own process (VmHWM, reset before the
step, as in ``bench_import.py``). The last line printed is one JSON object:
``{"bench": "targeting", "metrics": {"siting_s", "spopt_siting_s", "placement_s",
"peak_mb"}}`` (``spopt_siting_s``: the largest size spopt finished, printed with it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = Path(__file__).resolve().parent
for p in (ROOT, SCRIPTS):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bench_import import _peak_mb, _proc_status_mb, _reset_peak  # noqa: E402

FULL = {"n_villages": 84000, "n_facilities": 300000, "n_needs": 1000000}
QUICK = {"n_villages": 2000, "n_facilities": 5000, "n_needs": 20000}
SEED = 20261127
CANDIDATES = {"full": 5000, "quick": 300}
K = {"full": 100, "quick": 10}
DISTANCE_M = 5000.0
EXISTING_TYPES = ("Pustu", "Puskesmas Pembantu")
PLACEMENT_TARGET_S = 10.0
SITING_TARGET_S = 60.0
PLACEMENT_LIMIT_S = 7.0
SITING_LIMIT_S = 55.0
SPOPT_SIZES = (250, 500, 1000, 2000, 4000, 8000, 16000)


# --- child side ------------------------------------------------------------------------------


def _setup(spec: dict[str, Any]) -> dict[str, Any]:
    """Village points, populations, kecamatan and existing pustu, as one small Parquet."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd

    villages = gpd.read_file(spec["villages"], columns=["kode", "kode_kec", "penduduk"])
    points = villages.geometry.representative_point()
    facilities = gpd.read_file(spec["facilities"], columns=["jenis"])
    pustu = facilities[facilities["jenis"].isin(EXISTING_TYPES)]
    rng = np.random.default_rng(SEED)
    frame = pd.DataFrame(
        {
            "kode": villages["kode"].astype(str),
            "kecamatan_kode": villages["kode_kec"].astype(str),
            "population": villages["penduduk"].astype(float),
            "score": rng.uniform(0, 100, len(villages)).round(1),
            "lon": points.x.to_numpy(),
            "lat": points.y.to_numpy(),
        }
    )
    frame.to_parquet(Path(spec["work"]) / "villages.parquet")
    pd.DataFrame({"lon": pustu.geometry.x, "lat": pustu.geometry.y}).to_parquet(
        Path(spec["work"]) / "existing.parquet"
    )
    return {"villages": len(frame), "existing": len(pustu)}


def _inputs(work: str, n_candidates: int):
    import geopandas as gpd
    import numpy as np
    import pandas as pd

    frame = pd.read_parquet(Path(work) / "villages.parquet")
    existing = pd.read_parquet(Path(work) / "existing.parquet")
    geometry = gpd.points_from_xy(frame["lon"], frame["lat"])
    demand = gpd.GeoDataFrame(
        {"kode": frame["kode"], "weight": frame["population"].fillna(0.0)},
        geometry=geometry,
        crs=4326,
    )
    rng = np.random.default_rng(SEED + 1)
    pick = np.sort(rng.choice(len(frame), size=min(n_candidates, len(frame)), replace=False))
    candidates = gpd.GeoDataFrame(
        {"site_id": frame["kode"].to_numpy()[pick], "kode": frame["kode"].to_numpy()[pick]},
        geometry=geometry[pick],
        crs=4326,
    )
    pustu = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(existing["lon"], existing["lat"]), crs=4326
    )
    return frame, demand, candidates, pustu


def _placement(spec: dict[str, Any]) -> dict[str, Any]:
    import geopandas as gpd
    import pandas as pd

    from layers.crs import metric_crs
    from layers.targeting import ProgramPlacement, Rules

    frame = pd.read_parquet(Path(spec["work"]) / "villages.parquet")
    pts = gpd.GeoSeries(gpd.points_from_xy(frame["lon"], frame["lat"]), crs=4326)
    pts = pts.to_crs(metric_crs(gpd.GeoDataFrame(geometry=pts)))
    table = frame.set_index("kode")[["kecamatan_kode", "population", "score"]].assign(
        x=pts.x.to_numpy(), y=pts.y.to_numpy()
    )
    budget = 0.10 * 25_000 * float(table["population"].sum())
    _reset_peak()
    t0 = time.perf_counter()
    plan = ProgramPlacement(
        table,
        benefit="score_x_people",
        cost="per_person:25000",
        budget=budget,
        rules=Rules(max_per_kecamatan=3, min_spacing_m=2000.0),
        time_limit=PLACEMENT_LIMIT_S,
        rule_costs=False,
    ).solve()
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "prepare_s": plan.seconds["prepare"],
        "solve_s": plan.seconds["solve"],
        "objective": plan.objective,
        "status": plan.status,
        "gap": plan.gap,
        "selected": len(plan.selected),
        "budget_share": plan.budget_share,
        "peak_mb": _peak_mb(),
    }


def _siting(spec: dict[str, Any]) -> dict[str, Any]:
    from layers.targeting import FacilitySiting

    _, demand, candidates, pustu = _inputs(spec["work"], spec["candidates"])
    n = spec.get("n")
    if n:
        demand = demand.iloc[:n]
    if not spec.get("existing", True):
        pustu = None
    _reset_peak()
    t0 = time.perf_counter()
    siting = FacilitySiting(
        demand,
        candidates,
        model="mclp",
        distance_m=DISTANCE_M,
        k=spec["k"],
        existing=pustu,
        engine="own",
        time_limit=spec["time_limit"],
    ).solve()
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "build_s": siting.seconds["build"],
        "solve_s": siting.seconds["solve"],
        "objective": siting.objective,
        "covered_before": siting.covered_before,
        "total_weight": siting.total_weight,
        "status": siting.status,
        "gap": siting.gap,
        "demand": len(demand),
        "groups": siting.merged.get("groups"),
        "model_size": siting.model_size,
        "peak_mb": _peak_mb(),
    }


def _spopt(spec: dict[str, Any]) -> dict[str, Any]:
    import geopandas as gpd
    import numpy as np
    import pandas as pd

    from layers.crs import metric_crs
    from layers.targeting.solve import highs_status, mip_engine

    _, demand, candidates, pustu = _inputs(spec["work"], spec["candidates"])
    demand = demand.iloc[: spec["n"]]
    crs = metric_crs(demand)
    demand = demand.to_crs(crs)
    facilities = pd.concat(
        [
            candidates.assign(predefined=0)[["predefined", "geometry"]],
            pustu.assign(predefined=1)[["predefined", "geometry"]],
        ],
        ignore_index=True,
    )
    facilities = gpd.GeoDataFrame(facilities, geometry="geometry", crs=4326).to_crs(crs)
    from spopt.locate import MCLP

    base = _proc_status_mb("VmRSS") or 0.0
    _reset_peak()
    t0 = time.perf_counter()
    problem = MCLP.from_geodataframe(
        demand,
        facilities,
        "geometry",
        "geometry",
        "weight",
        service_radius=DISTANCE_M,
        p_facilities=spec["k"] + len(pustu),
        predefined_facility_col="predefined",
    )
    build = time.perf_counter() - t0
    engine = mip_engine("highs", [], None, deadline=time.perf_counter() + 600, mip_gap=1e-4)
    problem.solve(engine, results=False)
    solve = time.perf_counter() - t0 - build
    status, gap = highs_status(engine)
    chosen = np.array([v.varValue or 0.0 for v in problem.fac_vars]) > 0.5
    return {
        "seconds": build + solve,
        "build_s": build,
        "solve_s": solve,
        "objective": float(problem.problem.objective.value()),
        "status": status,
        "gap": gap,
        "new_sites": int(chosen[: len(candidates)].sum()),
        "demand": len(demand),
        "facilities": len(facilities),
        "peak_mb": _peak_mb(),
        "base_mb": base,
    }


STEPS = {"setup": _setup, "placement": _placement, "siting": _siting, "spopt": _spopt}


def _child_main(raw: str) -> int:
    spec = json.loads(raw)
    result = STEPS[spec["step"]](spec)
    print(json.dumps(result, default=float))
    return 0


# --- parent side -----------------------------------------------------------------------------


class StepTimeoutError(RuntimeError):
    """A child process ran past its time and was stopped."""


def _child(spec: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    try:
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:  # subprocess.run kills the child it started
        raise StepTimeoutError(f"{spec['step']} stopped after {timeout:g} s") from exc
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.strip().splitlines()[-12:])
        raise RuntimeError(f"{spec['step']} failed:\n{tail}")
    return json.loads(lines[-1])


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def _gap(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.2%}"


def run(quick: bool, repeat: int, spopt_timeout: float) -> dict[str, Any]:
    """Make the data if needed, measure each step ``repeat`` times; return the figures."""
    from make_synthetic import DEFAULT_DIR, make_national

    size = "quick" if quick else "full"
    data_dir = DEFAULT_DIR / "quick" if quick else DEFAULT_DIR
    paths = make_national(data_dir, **(QUICK if quick else FULL), verbose=False)
    work = tempfile.mkdtemp(prefix="bench-targeting-")
    try:
        return _measure(paths, data_dir, work, size, repeat, spopt_timeout)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _measure(
    paths: dict[str, Path],
    data_dir: Path,
    work: str,
    size: str,
    repeat: int,
    spopt_timeout: float,
) -> dict[str, Any]:
    t0 = time.perf_counter()
    setup = _child(
        {
            "step": "setup",
            "work": work,
            "villages": str(paths["villages"]),
            "facilities": str(paths["facilities"]),
        }
    )
    print(
        f"data: {data_dir} ({setup['villages']:,} villages, {setup['existing']:,} existing "
        f"pustu; set-up {time.perf_counter() - t0:.1f} s, not timed below)"
    )
    common = {"work": work, "candidates": CANDIDATES[size], "k": K[size]}
    out: dict[str, Any] = {
        "placement": [],
        "siting": [],
        "siting_open": [],
        "spopt": None,
        "spopt_tries": [],
    }

    print("\nplacement (budget 10 %, max 3 per kecamatan, 2 km spacing, all villages):")
    for i in range(repeat):
        r = _child({"step": "placement", **common})
        out["placement"].append(r)
        print(
            f"  run {i + 1}: {r['seconds']:6.2f} s (prepare {r['prepare_s']:.2f}, solve "
            f"{r['solve_s']:.2f}), {r['selected']:,} villages, benefit {r['objective']:,.0f}, "
            f"{r['status']}, gap {_gap(r['gap'])}, peak {r['peak_mb']:,.0f} MB"
        )

    for key, with_existing in (("siting", True), ("siting_open", False)):
        fixed = f"{setup['existing']:,} existing pustu" if with_existing else "none existing"
        print(
            f"\n{key} (MCLP, own engine: {setup['villages']:,} demand points, "
            f"{CANDIDATES[size]:,} candidates, {fixed}, k = {K[size]}, {DISTANCE_M:,.0f} m):"
        )
        for i in range(repeat):
            spec = {"step": "siting", "time_limit": SITING_LIMIT_S, "existing": with_existing}
            r = _child({**spec, **common})
            out[key].append(r)
            print(
                f"  run {i + 1}: {r['seconds']:6.2f} s (build {r['build_s']:.2f}, solve "
                f"{r['solve_s']:.2f}), covered {r['objective']:,.0f} of "
                f"{r['total_weight']:,.0f} (before {r['covered_before']:,.0f}), {r['status']}, "
                f"gap {_gap(r['gap'])}, {r['groups']:,} merged demand groups, peak "
                f"{r['peak_mb']:,.0f} MB"
            )

    print(
        f"\nspopt MCLP.from_geodataframe (dense matrix; each size stopped after "
        f"{spopt_timeout:g} s), against the own engine on the same demand points:"
    )
    for n in SPOPT_SIZES:
        if n > setup["villages"]:
            break
        cells = n * (CANDIDATES[size] + setup["existing"])
        try:
            r = _child({"step": "spopt", "n": n, **common}, timeout=spopt_timeout)
        except StepTimeoutError as exc:
            out["spopt_tries"].append({"n": n, "error": str(exc)})
            print(f"  n = {n:,} ({cells:,} pairs): did not finish ({exc})")
            break
        own = _child({"step": "siting", "n": n, "time_limit": SITING_LIMIT_S, **common})
        r["own"] = own
        out["spopt"] = r
        out["spopt_tries"].append(r)
        agree = abs(r["objective"] - own["objective"]) <= 1e-6 * max(abs(own["objective"]), 1)
        print(
            f"  n = {n:,} ({cells:,} pairs): spopt {r['seconds']:.2f} s (build "
            f"{r['build_s']:.2f}, solve {r['solve_s']:.2f}), peak {r['peak_mb']:,.0f} MB, "
            f"objective {r['objective']:,.0f}; own {own['seconds']:.2f} s, objective "
            f"{own['objective']:,.0f} ({'same' if agree else 'DIFFERENT'})"
        )
        if r["seconds"] > spopt_timeout / 2.2:  # the next size (twice as many) would not fit
            break
    full_cells = setup["villages"] * (CANDIDATES[size] + setup["existing"])
    print(
        f"  the full inputs are {full_cells:,} pairs: {full_cells * 8 / 2**20:,.0f} MB per "
        f"dense float64 matrix (spopt keeps two), one PuLP term per pair"
    )
    return out


def _report(out: dict[str, Any]) -> dict[str, Any]:
    placement_s = _median(out["placement"], "seconds")
    with_existing = _median(out["siting"], "seconds")
    open_s = _median(out.get("siting_open", []), "seconds")
    found = [v for v in (with_existing, open_s) if v is not None]
    siting_s = max(found) if found else None  # the larger of the two models
    spopt = out.get("spopt")
    runs = out["placement"] + out["siting"] + out.get("siting_open", [])
    peak = max((r["peak_mb"] for r in runs), default=None)
    print()
    if placement_s is not None:
        ok = "met" if placement_s <= PLACEMENT_TARGET_S else "NOT met"
        print(f"placement: {placement_s:.2f} s median (target <= {PLACEMENT_TARGET_S:g} s: {ok})")
    for name, value in (("siting", with_existing), ("siting_open", open_s)):
        if value is not None:
            ok = "met" if value <= SITING_TARGET_S else "NOT met"
            print(f"{name}: {value:.2f} s median (target <= {SITING_TARGET_S:g} s: {ok})")
    if spopt:
        print(
            f"spopt: {spopt['seconds']:.2f} s at {spopt['demand']:,} demand points x "
            f"{spopt['facilities']:,} facilities, the largest size it finished"
        )
    return {
        "siting_s": None if siting_s is None else round(siting_s, 3),
        "spopt_siting_s": None if not spopt else round(spopt["seconds"], 3),
        "placement_s": None if placement_s is None else round(placement_s, 3),
        "peak_mb": None if peak is None else round(peak, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; see the module docstring."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return _child_main(argv[1])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 villages, 300 candidates")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per step (3)")
    parser.add_argument(
        "--spopt-timeout", type=float, default=120.0, help="seconds per spopt size (120)"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    errors = []
    try:
        out = run(args.quick, args.repeat, args.spopt_timeout)
    except Exception as exc:  # still end with the JSON line, so callers can parse it
        out = {"placement": [], "siting": [], "siting_open": [], "spopt": None}
        errors.append(f"{type(exc).__name__}: {exc}")
    metrics = _report(out)
    for error in errors:
        print(f"error: {error}")
    print(json.dumps({"bench": "targeting", "metrics": metrics}))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
