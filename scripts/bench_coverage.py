"""Benchmark the coverage table and the reach time series at national scale.

Run ``python scripts/bench_coverage.py`` (no arguments needed). It makes the synthetic
national data set when missing (:mod:`make_synthetic`, into ``bench-data/``: 84,000
villages, 300,000 facilities and a 2,200 x 2,200 population raster), imports the villages,
facilities and raster into a fresh SQLite store, and imports a seeded synthetic program
register (:mod:`make_programs`: 2,000 programs, 50,000 assignments, an activity log over
24 months) from its zipped-CSV file (set-up; the register import is timed once and
reported). Then it measures, each in its own child process and repeated (``--repeat``, 3
by default; medians reported):

coverage_cold
    ``layers.coverage.coverage_table(store, "bench", as_of=..., keep=False)``: reads the
    villages, facilities, raster, the kept zonal population and the register, computes the
    service coverage of every facility type (village, kecamatan, kabupaten) and the
    program reach, keeping nothing.
coverage_first
    The same with ``keep=True`` once: computes the service coverage and keeps it in the
    store (it depends on the dataset versions and settings, not on the date).
coverage
    ``coverage_table`` for other as-of dates, reusing the kept service coverage and
    computing the reach: the cost of each further as-of date.
timeseries
    ``Register.load`` plus ``reach_timeseries(..., freq="M")`` over the 24 months, every
    level (program, sector, kecamatan, all).

``--quick`` uses the small data set (2,000 villages, 200 programs, 5,000 assignments).
Peak memory is the step's own process (VmHWM). The last line printed is one JSON object:
``{"bench": "coverage", "metrics": {"coverage_s": .., "timeseries_s": .., "peak_mb": ..}}``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
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

from bench_import import StepError, _peak_mb, _reset_peak, run_child  # noqa: E402

WORKSPACE = "bench"
STEPS = ("coverage_cold", "coverage_first", "coverage", "timeseries")
AS_OF = "2025-06-30"
START, END = "2024-01-01", "2025-12-31"
QUICK_SIZES = {"n_villages": 2000, "n_facilities": 5000, "n_needs": 20000, "raster_size": 400}
FULL_SIZES = {"n_villages": 84000, "n_facilities": 300000, "n_needs": 1000000, "raster_size": 2200}
QUICK_REGISTER = {"n_programs": 200, "n_assignments": 5000}
FULL_REGISTER = {"n_programs": 2000, "n_assignments": 50000}
COVERAGE_TARGET_S = 5.0
#: As-of dates of the warm coverage runs (the service coverage kept, the reach computed).
WARM_DATES = ("2024-12-31", "2025-03-31", "2025-09-30")


def _open_store(store_dir: str):
    from layers.storage import open_store

    store = open_store(f"sqlite:///{Path(store_dir) / 'jangkau.sqlite'}")
    store.init()
    return store


# --- child side ----------------------------------------------------------------------------


def _setup(spec: dict[str, Any]) -> dict[str, Any]:
    """Import the layers and the register into a fresh store."""
    from make_programs import make_register

    from layers.importer import import_into_store
    from layers.programs import import_register
    from layers.programs.files import write_register_file

    store = _open_store(spec["store"])
    store.create_workspace(WORKSPACE, "Benchmark")
    t0 = time.perf_counter()
    for kind in ("villages", "facilities", "population"):
        path = spec["paths"][kind]
        outcome = import_into_store(
            store, WORKSPACE, path, "raster" if kind == "population" else kind
        )
        if not outcome.stored:
            raise RuntimeError(f"import of {kind} stored nothing: {outcome.report.counts()}")
    layers_s = time.perf_counter() - t0
    codes = store.read_dataset(WORKSPACE, "villages", columns=["kode"], geometry=False)["kode"]
    tables = make_register(codes.astype(str).to_numpy(), **spec["register"])
    file = write_register_file(tables, Path(spec["store"]) / "register.zip")
    t1 = time.perf_counter()
    result = import_register(store, WORKSPACE, file, user="bench", note="benchmark register")
    register_s = time.perf_counter() - t1
    store.close()
    return {
        "layers_s": layers_s,
        "register_import_s": register_s,
        "counts": result.counts,
    }


def _coverage(spec: dict[str, Any]) -> dict[str, Any]:
    from layers.coverage import coverage_table

    store = _open_store(spec["store"])
    reset = _reset_peak()
    t0 = time.perf_counter()
    data = coverage_table(store, WORKSPACE, as_of=spec.get("as_of", AS_OF), keep=spec["keep"])
    seconds = time.perf_counter() - t0
    peak = _peak_mb()
    store.close()
    return {
        "seconds": seconds,
        "peak_mb": peak,
        "peak_reset": reset,
        "rows": {
            level: len(rows) for level, rows in (data["service"] or {}).items() if level != "method"
        },
        "villages_reached": data["reach"]["totals"].get("villages_reached"),
    }


def _timeseries(spec: dict[str, Any]) -> dict[str, Any]:
    from layers.coverage import reach_timeseries
    from layers.programs import Register

    store = _open_store(spec["store"])
    reset = _reset_peak()
    t0 = time.perf_counter()
    reg = Register.load(store, WORKSPACE)
    villages = store.read_dataset(WORKSPACE, "villages", geometry=False)
    read_s = time.perf_counter() - t0
    table = reach_timeseries(reg, villages, freq="M", start=START, end=END)
    seconds = time.perf_counter() - t0
    peak = _peak_mb()
    store.close()
    return {
        "seconds": seconds,
        "read_s": read_s,
        "peak_mb": peak,
        "peak_reset": reset,
        "rows": len(table),
        "snapshots": int(table["date"].nunique()),
    }


def _child_main(spec_json: str) -> int:
    spec = json.loads(spec_json)
    step = spec["step"]
    handlers = {
        "setup": _setup,
        "coverage_cold": _coverage,
        "coverage_first": _coverage,
        "coverage": _coverage,
        "timeseries": _timeseries,
    }
    if step not in handlers:
        raise ValueError(f"unknown step {step!r}")
    print(json.dumps(handlers[step](spec)))
    return 0


# --- parent side ---------------------------------------------------------------------------


def _measure(spec: dict[str, Any]) -> dict[str, Any]:
    return run_child(Path(__file__).resolve(), spec)


def run(
    data_dir: Path, *, quick: bool, repeat: int, work_dir: Path | None = None
) -> dict[str, Any]:
    """Make the data and the store, then measure each step ``repeat`` times."""
    from make_synthetic import make_national

    sizes = QUICK_SIZES if quick else FULL_SIZES
    paths = {k: str(v) for k, v in make_national(data_dir, **sizes, verbose=False).items()}
    tmp = Path(tempfile.mkdtemp(prefix="bench-coverage-", dir=work_dir))
    out: dict[str, Any] = {"results": {}, "errors": [], "setup": None}
    try:
        spec = {
            "step": "setup",
            "store": str(tmp),
            "paths": paths,
            "register": QUICK_REGISTER if quick else FULL_REGISTER,
        }
        out["setup"] = _measure(spec)
        for step in STEPS:
            runs = []
            # The service coverage is kept by the first run with keep=True; the cold runs
            # keep nothing, the warm ones reuse it for other as-of dates.
            times = 1 if step == "coverage_first" else repeat
            for i in range(times):
                spec = {"step": step, "store": str(tmp), "keep": step != "coverage_cold"}
                if step == "coverage":
                    spec["as_of"] = WARM_DATES[i % len(WARM_DATES)]
                try:
                    runs.append(_measure(spec))
                except StepError as exc:
                    out["errors"].append(str(exc))
                    break
            out["results"][step] = runs
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _median(runs: list[dict[str, Any]], key: str = "seconds") -> float | None:
    values = [r[key] for r in runs if key in r]
    return round(statistics.median(values), 3) if values else None


def _report(out: dict[str, Any], repeat: int) -> dict[str, Any]:
    results = out["results"]
    peaks = [r["peak_mb"] for runs in results.values() for r in runs if "peak_mb" in r]
    setup = out.get("setup") or {}
    print(f"set-up: {json.dumps(setup)}")
    print(f"{'step':<15} {'median s':>9} {'min s':>7} {'max s':>7} {'n':>2} {'peak MB':>8}")
    for name in STEPS:
        runs = results.get(name, [])
        secs = [r["seconds"] for r in runs]
        if not secs:
            print(f"{name:<15} {'-':>9}")
            continue
        peak = max(r["peak_mb"] for r in runs)
        print(
            f"{name:<15} {statistics.median(secs):9.2f} {min(secs):7.2f} {max(secs):7.2f} "
            f"{len(secs):>2} {peak:8.0f}"
        )
    ts = results.get("timeseries", [])
    if ts:
        print(f"time series: {ts[0]['rows']} rows over {ts[0]['snapshots']} snapshots")
    cov = results.get("coverage", [])
    if cov:
        print(f"service rows: {cov[0]['rows']}; villages reached: {cov[0]['villages_reached']}")
    coverage_s = _median(cov)
    cold_s = _median(results.get("coverage_cold", []))
    for label, value in (("per as-of date (service kept)", coverage_s), ("cold", cold_s)):
        if value is not None:
            verdict = "met" if value <= COVERAGE_TARGET_S else "NOT met"
            print(f"coverage {label}: {value:.2f} s, target <= {COVERAGE_TARGET_S:.0f} s {verdict}")
    for error in out["errors"]:
        print(f"error: {error}")
    return {
        "coverage_s": coverage_s,
        "coverage_cold_s": cold_s,
        "coverage_first_s": _median(results.get("coverage_first", [])),
        "timeseries_s": _median(ts),
        "peak_mb": round(max(peaks), 1) if peaks else None,
        "register_import_s": round(setup["register_import_s"], 3) if setup else None,
        "repeat": repeat,
    }


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; see the module docstring."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return _child_main(argv[1])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the small data set")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per step (3)")
    parser.add_argument(
        "--data", default=None, help="data folder (bench-data/, or bench-data/quick with --quick)"
    )
    parser.add_argument("--tmp", default=None, help="folder for the temporary store")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    from make_synthetic import DEFAULT_DIR

    data_dir = Path(args.data) if args.data else DEFAULT_DIR / ("quick" if args.quick else "")
    try:
        out = run(
            data_dir,
            quick=args.quick,
            repeat=args.repeat,
            work_dir=Path(args.tmp) if args.tmp else None,
        )
    except Exception as exc:  # still end with the JSON line, so callers can parse it
        out = {"results": {}, "errors": [f"{type(exc).__name__}: {exc}"], "setup": None}
    metrics = _report(out, args.repeat)
    print(json.dumps({"bench": "coverage", "metrics": metrics}))
    return 1 if out["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
