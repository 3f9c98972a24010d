"""Benchmark the exports: printed maps of a regency and of the national set, and the
GeoPackage of the national set.

Run ``python scripts/bench_exports.py`` (no arguments needed). Set-up, not timed: the
synthetic national set (``bench-data/``, made by :mod:`make_synthetic` when missing:
84,000 villages, 300,000 facilities, 1,000,000 needs) is imported into a fresh SQLite store
in a temporary folder with ``layers.importer.import_into_store`` (villages first), and a
run of ``health_access`` is saved; the bundled demo regency (Kabupaten Merangin, 215
villages) is loaded into a second store and scored the same way. Then every step runs in
its own fresh Python process (``--repeat`` times, 3 by default; medians reported):

regency_png, regency_pdf
    ``StaticMap(store, "merangin", profile="health_access").render(file, fmt, "A4",
    "portrait", 300)``: an A4 page at 300 dpi, as PNG and as PDF.
national_png, national_pdf
    the same for the national set (workspace ``bench``).
gpkg
    ``layers.exports.data.export_workspace(store, "bench", file, fmt="gpkg")``: every layer
    of the national workspace in one GeoPackage.
report
    ``ProposalReport(store, "bench", "report-100", lang="id").render(file)``: the proposal
    report PDF of a 100-village placement scenario (``top_n=100`` on ``health_access``,
    saved at set-up) of the national set: cover map, summary, the village table, indicators,
    coverage, method and sources.

Times are wall seconds inside the child from opening the store to the file written
(Python's own start and module imports excluded, reported apart as ``start_s``); sizes are
the file's bytes. The last line printed is one JSON object:
``{"bench": "exports", "metrics": {"regency_map_s": .., "national_map_s": ..,
"report_s": .., "gpkg_s": ..}}`` where a map's figure is the slower of its PNG and PDF
medians. Targets: regency map <= 5 s, national map <= 30 s, report <= 15 s.
"""

from __future__ import annotations

import argparse
import json
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

WORKSPACE = "bench"
PROFILE = "health_access"
STEPS = ("regency_png", "regency_pdf", "national_png", "national_pdf", "gpkg", "report")
TARGETS = {"regency_map_s": 5.0, "national_map_s": 30.0, "report_s": 15.0}
#: The saved placement scenario the report step prints.
REPORT_SCENARIO = "report-100"


# --- child side --------------------------------------------------------------------------------


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    from layers.exports.report import ProposalReport
    from layers.exports.static_map import StaticMap
    from layers.storage import open_store

    try:
        from layers.exports.data import export_workspace
    except ImportError:  # the data exports are not there yet
        export_workspace = None
    start_s = time.perf_counter() - started
    out = Path(spec["out"])
    t = time.perf_counter()
    store = open_store(f"sqlite:///{spec['store']}")
    step = spec["step"]
    if step == "gpkg":
        if export_workspace is None:
            return {"step": step, "error": "layers.exports.data.export_workspace not available"}
        export_workspace(store, WORKSPACE, out, fmt="gpkg")
    elif step == "report":
        ProposalReport(store, WORKSPACE, REPORT_SCENARIO, lang="id").render(out)
    else:
        ws = "merangin" if step.startswith("regency") else WORKSPACE
        fmt = step.rsplit("_", 1)[1]
        StaticMap(store, ws, profile=PROFILE).render(out, fmt, "A4", "portrait", 300)
    seconds = time.perf_counter() - t
    store.close()
    return {"step": step, "seconds": seconds, "bytes": out.stat().st_size, "start_s": start_s}


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one step in a fresh Python process; its result (or its error)."""
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"step": spec["step"], "error": (proc.stderr or proc.stdout).strip()[-800:]}
    return json.loads(lines[-1])


# --- set-up ------------------------------------------------------------------------------------


def _setup(tmp: Path, data: Path) -> tuple[Path, Path, dict[str, float]]:
    from layers.demo_load import load_demo
    from layers.importer import import_into_store
    from layers.score_run import run_score
    from layers.storage import open_store
    from layers.targeting.scenarios import run_scenario

    seconds: dict[str, float] = {}
    regency = tmp / "regency.sqlite"
    t = time.perf_counter()
    store = open_store(f"sqlite:///{regency}")
    store.init()
    load_demo(store)
    run_score(store, "merangin", PROFILE)
    store.close()
    seconds["regency_setup_s"] = time.perf_counter() - t
    national = tmp / "national.sqlite"
    t = time.perf_counter()
    store = open_store(f"sqlite:///{national}")
    store.init()
    store.create_workspace(WORKSPACE, "Synthetic national set")
    for kind in ("villages", "facilities", "needs"):
        import_into_store(store, WORKSPACE, data / f"{kind}.gpkg", kind)
    run_score(store, WORKSPACE, PROFILE)
    run_scenario(
        store,
        WORKSPACE,
        REPORT_SCENARIO,
        kind="placement",
        profile=PROFILE,
        settings={"top_n": 100},
        title="100 desa",
    )
    store.close()
    seconds["national_setup_s"] = time.perf_counter() - t
    return regency, national, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each step (3)")
    parser.add_argument("--quick", action="store_true", help="the 2,000-village set")
    parser.add_argument("--data", default=None, help="data folder (bench-data/)")
    parser.add_argument("--tmp", default=None, help="folder for the temporary stores")
    parser.add_argument("--steps", default=",".join(STEPS), help="steps to run, comma-separated")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return 0
    from make_synthetic import DEFAULT_DIR, make_national

    data = Path(args.data) if args.data else (DEFAULT_DIR / "quick" if args.quick else DEFAULT_DIR)
    if not (data / "villages.gpkg").exists():
        sizes = {"n_villages": 2000, "n_facilities": 5000, "n_needs": 20000} if args.quick else {}
        make_national(data, **sizes)
    tmp = Path(tempfile.mkdtemp(prefix="jangkau-bench-exports-", dir=args.tmp))
    failed = False
    try:
        t = time.perf_counter()
        regency, national, setup = _setup(tmp, data)
        print(
            f"set-up (not timed): {time.perf_counter() - t:.1f} s "
            f"(regency {setup['regency_setup_s']:.1f} s, national "
            f"{setup['national_setup_s']:.1f} s); data {data}"
        )
        results: dict[str, list[dict[str, Any]]] = {}
        for step in [s for s in args.steps.split(",") if s]:
            suffix = {"gpkg": "gpkg", "report": "pdf"}.get(step) or step.rsplit("_", 1)[1]
            store = regency if step.startswith("regency") else national
            for rep in range(args.repeat):
                out = tmp / f"{step}-{rep}.{suffix}"
                result = run_child({"step": step, "store": str(store), "out": str(out)})
                results.setdefault(step, []).append(result)
                if "error" in result:
                    failed = True
                    print(f"{step}: FAILED: {result['error']}")
                    break
                out.unlink(missing_ok=True)
        print(f"{'step':<14} {'median s':>9} {'runs s':<24} {'size MB':>8} {'start s':>8}")
        medians: dict[str, float | None] = {}
        for step, items in results.items():
            ok = [r for r in items if "error" not in r]
            if not ok:
                medians[step] = None
                print(f"{step:<14} {'-':>9} not available")
                continue
            secs = [r["seconds"] for r in ok]
            medians[step] = statistics.median(secs)
            runs = ", ".join(f"{s:.2f}" for s in secs)
            size = statistics.median(r["bytes"] for r in ok) / 1e6
            start = statistics.median(r["start_s"] for r in ok)
            print(f"{step:<14} {medians[step]:>9.2f} {runs:<24} {size:>8.2f} {start:>8.2f}")

        def worst(*steps: str) -> float | None:
            got = [medians.get(s) for s in steps]
            return round(max(got), 3) if got and all(g is not None for g in got) else None

        metrics = {
            "regency_map_s": worst("regency_png", "regency_pdf"),
            "national_map_s": worst("national_png", "national_pdf"),
            "report_s": round(medians["report"], 3) if medians.get("report") is not None else None,
            "gpkg_s": round(medians["gpkg"], 3) if medians.get("gpkg") is not None else None,
        }
        for key, target in TARGETS.items():
            value = metrics[key]
            verdict = "-" if value is None else ("met" if value <= target else "NOT met")
            print(f"target {key} <= {target:g} s: {verdict}")
        print(json.dumps({"bench": "exports", "metrics": metrics}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
