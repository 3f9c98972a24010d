"""The benchmark's data generator and the benchmark itself, on tiny sizes (no timing checks)."""

from __future__ import annotations

import json
import subprocess
import sys

import pyogrio
import shapely

from layers.codes import normalize_kemendagri_series
from layers.importer import import_into_store
from layers.storage import open_store
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
from make_synthetic import make_national


def test_synthetic_set_is_valid_deterministic_and_imports_cleanly(tmp_path):
    paths = make_national(tmp_path / "a", n_villages=400, n_facilities=600, n_needs=1500)
    again = make_national(tmp_path / "b", n_villages=400, n_facilities=600, n_needs=1500)
    for kind, path in paths.items():  # the same seed gives the same rows
        one, two = pyogrio.read_dataframe(path), pyogrio.read_dataframe(again[kind])
        assert one.drop(columns="geometry").equals(two.drop(columns="geometry"))
        assert (shapely.to_wkb(one.geometry.values) == shapely.to_wkb(two.geometry.values)).all()
    villages = pyogrio.read_dataframe(paths["villages"])
    assert len(villages) == 400
    assert shapely.is_valid(villages.geometry.values).all()
    vertices = shapely.get_num_coordinates(villages.geometry.values)
    assert vertices.min() >= 20
    assert vertices.max() <= 201  # a closed ring repeats its first vertex
    codes, errors = normalize_kemendagri_series(villages["kode"])
    assert errors.isna().all()
    assert codes.is_unique

    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    store.init()
    store.create_workspace("nasional")
    for kind in ("villages", "facilities", "needs"):
        outcome = import_into_store(store, "nasional", paths[kind], kind)
        assert outcome.stored
        assert outcome.report.counts()["rejected"] == 0
    needs = store.read_dataset("nasional", "needs")
    assert len(needs) == 1500
    assert needs["kode"].notna().all()  # every point placed in a village
    facilities = store.read_dataset("nasional", "facilities")
    assert set(facilities["kode"]) <= set(codes)


def test_benchmark_runs_and_ends_with_its_json_line(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "bench_import.py"),
            "--quick",
            "--repeat",
            "1",
            "--data",
            str(tmp_path / "data"),
            "--tmp",
            str(tmp_path / "stores"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    last = json.loads(done.stdout.strip().splitlines()[-1])
    assert last["bench"] == "import"
    assert set(last["metrics"]) == {
        "import_s",
        "floor_s",
        "import_ratio",
        "readback_ratio",
        "peak_mb",
    }
    assert all(value > 0 for value in last["metrics"].values())
