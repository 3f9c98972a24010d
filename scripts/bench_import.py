"""Benchmark importing national-scale layers into the SQLite store, and reading them back.

Run ``python scripts/bench_import.py`` (no arguments needed). It makes the synthetic data
set when it is missing (:mod:`make_synthetic`, into ``bench-data/``), then measures, for
the villages, facilities and needs layers:

floor
    ``pyogrio.read_dataframe(path, use_arrow=True)`` of the GeoPackage: the cost of just
    reading the file, which no import can beat.
import
    ``layers.importer.import_into_store`` into a fresh SQLite store (villages first;
    facilities and needs are imported into a copy of a store that already holds the
    villages, since their points are placed in villages).
readback
    ``store.read_dataset(workspace, name)`` of the stored layer.
parquet
    ``geopandas.read_parquet`` of the same stored layer written once with
    ``GeoDataFrame.to_parquet``: the reference for a fast columnar read.

Every measurement runs in its own child process, so its peak memory (the child's
``ru_maxrss`` high-water mark, read with :func:`resource.getrusage`) is that step's alone;
the child also reports its memory after imports, before the step, as a baseline. Each
step is repeated (``--repeat``, 3 by default, a fresh store each time) and the table shows
medians. The last line printed is one JSON object with the totals.
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

LAYERS = ("villages", "facilities", "needs")
STEPS = ("floor", "import", "readback", "parquet")
WORKSPACE = "bench"
QUICK_SIZES = {"n_villages": 2000, "n_facilities": 5000, "n_needs": 20000}
FULL_SIZES = {"n_villages": 84000, "n_facilities": 300000, "n_needs": 1000000}
IMPORT_TARGET = 3.0  # import <= 3 x floor
READBACK_TARGET = 2.0  # read-back <= 2 x Parquet


# --- child side: one measured step per process ---------------------------------------------


def _proc_status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset this process's peak RSS to its current RSS (Linux 4.0+); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _peak_mb() -> float:
    """Peak resident memory of this process in MB.

    ``VmHWM`` from ``/proc/self/status`` where available: it belongs to this process's own
    address space. ``ru_maxrss`` is the fallback, but on Linux it also carries over the
    parent's peak through fork and exec, so a child of a big parent reports the parent's.
    """
    hwm = _proc_status_mb("VmHWM")
    if hwm is not None:
        return hwm
    import resource

    scale = 1.0 if sys.platform == "darwin" else 1024.0  # bytes on macOS, kB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def _open_store(store_dir: str):
    from layers.storage import open_store

    store = open_store(f"sqlite:///{Path(store_dir) / 'jangkau.sqlite'}")
    store.init()
    return store


def _run_step(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one step as described by ``spec``; returns seconds, memory and a row count."""
    import geopandas as gpd
    import pyogrio

    step, kind, path = spec["step"], spec["layer"], spec["path"]
    profile = None
    if step in ("import", "readback"):
        from layers.importer import import_into_store

        store = _open_store(spec["store"])
        if step == "import" and WORKSPACE not in {w.name for w in store.list_workspaces()}:
            store.create_workspace(WORKSPACE, "Benchmark")
    if spec.get("profile"):
        import cProfile

        profile = cProfile.Profile()
    base = _proc_status_mb("VmRSS") or _peak_mb()
    reset = _reset_peak()
    extra: dict[str, Any] = {"peak_reset": reset}
    t0 = time.perf_counter()
    if profile is not None:
        profile.enable()
    if step == "floor":
        rows = len(pyogrio.read_dataframe(path, use_arrow=True))
    elif step == "import":
        outcome = import_into_store(store, WORKSPACE, path, kind)
        rows = outcome.version.row_count if outcome.version is not None else 0
        extra = {"stored": outcome.stored, "counts": outcome.report.counts()}
    elif step == "readback":
        data = store.read_dataset(WORKSPACE, kind)
        rows = len(data)
    elif step == "parquet":
        rows = len(gpd.read_parquet(path))
    else:
        raise ValueError(f"unknown step {step!r}")
    seconds = time.perf_counter() - t0
    if profile is not None:
        profile.disable()
        profile.dump_stats(spec["profile"])
    peak = _peak_mb()
    if step == "readback" and spec.get("parquet_out") and not Path(spec["parquet_out"]).exists():
        tmp = Path(spec["parquet_out"] + ".partial")
        data.to_parquet(tmp)
        os.replace(tmp, spec["parquet_out"])
    if step in ("import", "readback"):
        store.close()
    return {"seconds": seconds, "peak_mb": peak, "base_mb": base, "rows": rows, **extra}


def _child_main(spec_json: str) -> int:
    spec = json.loads(spec_json)
    result = _run_step(spec)
    print(json.dumps(result))
    return 0


# --- parent side ------------------------------------------------------------------------------


class StepError(RuntimeError):
    """A measured step failed in its child process."""


def run_child(script: Path, spec: dict[str, Any]) -> dict[str, Any]:
    """Run ``script --child SPEC`` in a fresh interpreter; returns its last line as JSON.

    Shared by the benchmarks: every measured step runs in its own process, so its time
    and peak memory are its own.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, str(script), "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        what = " ".join(str(spec[k]) for k in ("step", "layer") if k in spec)
        raise StepError(f"{what} failed:\n{tail}")
    return json.loads(lines[-1])


def _measure(spec: dict[str, Any]) -> dict[str, Any]:
    # Write out what earlier steps left dirty in the page cache (a copied store, a written
    # Parquet file), so its flushing to disk does not land in this step's time.
    os.sync()
    return run_child(Path(__file__).resolve(), spec)


def _fmt_s(values: list[float]) -> str:
    return f"{statistics.median(values):8.2f}" if values else "       -"


def _table(results: dict[tuple[str, str], list[dict[str, Any]]]) -> list[str]:
    lines = [
        f"{'layer':<11} {'step':<9} {'rows':>9} {'median s':>8} {'min s':>7} {'max s':>7} "
        f"{'n':>2} {'peak MB':>8} {'base MB':>8}",
        "-" * 78,
    ]
    for kind in LAYERS:
        for step in STEPS:
            runs = results.get((step, kind), [])
            if not runs:
                continue
            secs = [r["seconds"] for r in runs]
            lines.append(
                f"{kind:<11} {step:<9} {runs[0]['rows']:>9} {_fmt_s(secs)} {min(secs):7.2f} "
                f"{max(secs):7.2f} {len(secs):>2} {max(r['peak_mb'] for r in runs):8.0f} "
                f"{min(r['base_mb'] for r in runs):8.0f}"
            )
    return lines


def _median(results, step: str, kind: str) -> float | None:
    runs = results.get((step, kind), [])
    return statistics.median(r["seconds"] for r in runs) if runs else None


def _ratios(results) -> tuple[list[str], dict[str, Any]]:
    lines = ["", f"{'layer':<11} {'import/floor':>13} {'readback/parquet':>17}"]
    totals = {step: 0.0 for step in STEPS}
    complete = {step: True for step in STEPS}
    for kind in LAYERS:
        m = {step: _median(results, step, kind) for step in STEPS}
        for step in STEPS:
            if m[step] is None:
                complete[step] = False
            else:
                totals[step] += m[step]
        imp = f"{m['import'] / m['floor']:13.2f}" if m["import"] and m["floor"] else " " * 13
        rb = f"{m['readback'] / m['parquet']:17.2f}" if m["readback"] and m["parquet"] else ""
        lines.append(f"{kind:<11} {imp} {rb}")
    metrics: dict[str, Any] = {
        "import_s": round(totals["import"], 3) if complete["import"] else None,
        "floor_s": round(totals["floor"], 3) if complete["floor"] else None,
        "import_ratio": None,
        "readback_ratio": None,
        "peak_mb": round(max(r["peak_mb"] for runs in results.values() for r in runs), 1)
        if results
        else None,
    }
    if complete["import"] and complete["floor"] and totals["floor"] > 0:
        metrics["import_ratio"] = round(totals["import"] / totals["floor"], 3)
    if complete["readback"] and complete["parquet"] and totals["parquet"] > 0:
        metrics["readback_ratio"] = round(totals["readback"] / totals["parquet"], 3)
    ir, rr = metrics["import_ratio"], metrics["readback_ratio"]
    lines.append(
        f"{'total':<11} {ir if ir is not None else '-':>13} {rr if rr is not None else '-':>17}"
    )
    lines.append(
        f"targets: import <= {IMPORT_TARGET:g}x floor "
        f"({'met' if ir is not None and ir <= IMPORT_TARGET else 'NOT met'}), "
        f"read-back <= {READBACK_TARGET:g}x Parquet "
        f"({'met' if rr is not None and rr <= READBACK_TARGET else 'NOT met'})"
    )
    return lines, metrics


def run(
    data_dir: Path,
    *,
    quick: bool = False,
    repeat: int = 3,
    work_dir: Path | None = None,
    profile_dir: Path | None = None,
) -> tuple[dict, list[str]]:
    """Make the data if needed, measure every step ``repeat`` times; returns results."""
    from make_synthetic import make_national

    sizes = QUICK_SIZES if quick else FULL_SIZES
    t_start = time.perf_counter()
    paths = make_national(data_dir, **sizes)
    print(f"data: {data_dir} ({', '.join(f'{k} {v:,}' for k, v in sizes.items())})")
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    errors: list[str] = []
    if work_dir is not None:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="jangkau-bench-", dir=work_dir))
    parquet = {kind: tmp / f"{kind}.parquet" for kind in LAYERS}
    template = tmp / "villages-template"

    def measure(step: str, kind: str, rep: int, **spec: Any) -> dict[str, Any] | None:
        spec = {"step": step, "layer": kind, "path": str(paths[kind]), **spec}
        try:
            result = _measure(spec)
        except StepError as exc:
            errors.append(str(exc))
            print(f"  {exc}", flush=True)
            return None
        results.setdefault((step, kind), []).append(result)
        note = ""
        if step == "import":
            counts = result.get("counts", {})
            note = "  " + ", ".join(f"{k} {v}" for k, v in counts.items())
            if not result.get("stored"):
                errors.append(f"import {kind} stored nothing: {counts}")
                note += "  NOT STORED"
        print(
            f"  rep {rep + 1} {step:<8} {kind:<10} {result['seconds']:8.2f} s "
            f"{result['peak_mb']:7.0f} MB{note}",
            flush=True,
        )
        return result

    try:
        for rep in range(repeat):
            for kind in LAYERS:
                measure("floor", kind, rep)
            stores = {}
            for kind in LAYERS:
                store = tmp / f"store-{rep}-{kind}"
                if kind != "villages":
                    if not template.exists():
                        break
                    shutil.copytree(template, store)
                else:
                    store.mkdir()
                if measure("import", kind, rep, store=str(store)) is None:
                    break
                stores[kind] = store
                if kind == "villages" and not template.exists():
                    shutil.copytree(store, template)
            for kind, store in stores.items():
                measure("readback", kind, rep, store=str(store), parquet_out=str(parquet[kind]))
            for kind in LAYERS:
                if parquet[kind].exists():
                    measure("parquet", kind, rep, path=str(parquet[kind]))
            for store in stores.values():
                shutil.rmtree(store, ignore_errors=True)
            if errors:
                break
        if profile_dir is not None and not errors:
            # Profiled imports run apart: cProfile slows them, so they are not timed.
            for kind in LAYERS:
                store = tmp / f"store-profile-{kind}"
                if kind == "villages":
                    store.mkdir()
                else:
                    shutil.copytree(template, store)
                spec = {"step": "import", "layer": kind, "path": str(paths[kind])}
                spec.update(store=str(store), profile=str(profile_dir / f"import_{kind}.prof"))
                try:
                    result = _measure(spec)
                    print(f"  profiled import {kind:<10} {result['seconds']:8.2f} s (not counted)")
                    spec.update(step="readback", profile=str(profile_dir / f"readback_{kind}.prof"))
                    result = _measure(spec)
                    print(f"  profiled readback {kind:<8} {result['seconds']:8.2f} s (not counted)")
                except StepError as exc:
                    errors.append(f"profiling: {exc}")
                shutil.rmtree(store, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"bench time: {time.perf_counter() - t_start:.0f} s")
    return results, errors


def _profile_summary(profile_dir: Path, top: int = 25) -> None:
    import io
    import pstats

    for prof in sorted(profile_dir.glob("*.prof")):
        out = io.StringIO()
        stats = pstats.Stats(str(prof), stream=out)
        stats.sort_stats("cumulative").print_stats(top)
        print(f"\n--- cProfile of {prof.stem} (cumulative, top {top}) ---")
        print(out.getvalue().split("\n", 6)[-1].rstrip())
        out = io.StringIO()
        stats = pstats.Stats(str(prof), stream=out)
        stats.sort_stats("tottime").print_stats(top)
        print(f"\n--- cProfile of {prof.stem} (own time, top {top}) ---")
        print(out.getvalue().split("\n", 6)[-1].rstrip())


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; see the module docstring."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return _child_main(argv[1])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (2,000/5,000/20,000) for a smoke run"
    )
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per step (3)")
    parser.add_argument(
        "--data", default=None, help="data folder (bench-data/, or bench-data/quick with --quick)"
    )
    parser.add_argument("--tmp", default=None, help="folder for the temporary stores")
    parser.add_argument(
        "--profile",
        default=None,
        metavar="DIR",
        help="also profile one import and one read-back of each layer (cProfile, into DIR; "
        "not counted in the timings) and print the top functions",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    from make_synthetic import DEFAULT_DIR

    data_dir = Path(args.data) if args.data else DEFAULT_DIR / ("quick" if args.quick else "")
    profile_dir = Path(args.profile) if args.profile else None
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
    try:
        results, errors = run(
            data_dir,
            quick=args.quick,
            repeat=args.repeat,
            work_dir=Path(args.tmp) if args.tmp else None,
            profile_dir=profile_dir,
        )
    except Exception as exc:  # still end with the JSON line, so callers can parse it
        results, errors = {}, [f"{type(exc).__name__}: {exc}"]
    print()
    print(
        f"seconds: median, min and max of {args.repeat} run(s); peak MB: the highest resident "
        "memory of the step's own process (VmHWM, reset just before the step); base MB: its "
        "memory before the step (interpreter, libraries, open store)"
    )
    for line in _table(results):
        print(line)
    lines, metrics = _ratios(results)
    for line in lines:
        print(line)
    if profile_dir is not None:
        _profile_summary(profile_dir)
    if errors:
        print("\nerrors:")
        for e in errors:
            print(f"  {e}")
    print(json.dumps({"bench": "import", "metrics": metrics}))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
