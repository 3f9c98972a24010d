"""The scoring benchmark's raster, its plain-GeoPandas baseline and a --quick smoke run."""

from __future__ import annotations

import json
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin
from rasterstats import zonal_stats
from scipy.spatial import cKDTree

from layers.raster import validate_population_raster
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
from bench_scoring import compare
from make_synthetic import FILES, RASTER_FILE, RASTER_NODATA, make_national
from naive_indicators import naive_indicators

SMALL = {"n_villages": 400, "n_facilities": 300, "n_needs": 500}


def _mtimes(paths):
    return {kind: paths[kind].stat().st_mtime_ns for kind in FILES}


def test_population_raster_is_consistent_with_the_province_and_deterministic(tmp_path):
    paths = make_national(tmp_path / "a", **SMALL, raster_size=150, verbose=False)
    again = make_national(tmp_path / "b", **SMALL, raster_size=150, verbose=False)
    with rasterio.open(paths["population"]) as ds:
        assert (ds.width, ds.height, ds.count) == (150, 150, 1)
        assert ds.dtypes[0] == "float32"
        assert ds.crs.to_epsg() == 4326
        assert ds.nodata == RASTER_NODATA
        assert ds.profile["tiled"]
        assert ds.compression.name.lower() == "deflate"
        assert ds.transform.a == pytest.approx(-ds.transform.e)  # square cells
        values = ds.read(1, masked=True)
        transform = ds.transform
    with rasterio.open(again["population"]) as ds:
        assert np.array_equal(ds.read(1), values.data)  # the same seed gives the same cells

    villages = pyogrio.read_dataframe(paths["villages"])
    province = villages[villages["kode_prov"] == "12"]
    assert len(province) > 10
    cells = values.compressed()
    assert (cells >= 0).all()
    assert (cells == 0).any()  # uninhabited patches
    assert values.mask.any()  # nodata outside the province
    # The raster's people are the province's people (float32 sums).
    assert cells.sum(dtype=np.float64) == pytest.approx(province["penduduk"].sum(), rel=1e-5)
    # Every valid cell's centre lies in a village of the province.
    rows, cols = np.nonzero(~values.mask)
    x, y = transform * (cols + 0.5, rows + 0.5)
    inside = shapely.contains_xy(shapely.union_all(province.geometry.values), x, y)
    assert inside.all()
    # Per village (rasterstats, cell-centre rule): the table population, off by a few
    # percent as a modelled count is.
    sums = zonal_stats(
        province.geometry,
        values.filled(RASTER_NODATA),
        affine=transform,
        nodata=RASTER_NODATA,
        stats=["sum"],
    )
    ratio = np.array([s["sum"] for s in sums], dtype=float) / province["penduduk"].to_numpy()
    assert np.nanmin(ratio) > 0.7
    assert np.nanmax(ratio) < 1.4
    assert np.nanmedian(ratio) == pytest.approx(1.0, abs=0.05)
    # Clustered: the cells nearest a village's representative point hold most people.
    rep = shapely.point_on_surface(province.geometry.values)
    dist, _ = cKDTree(shapely.get_coordinates(rep)).query(np.column_stack([x, y]))
    people = values.data[rows, cols].astype(float)
    nearest_quarter = dist <= np.quantile(dist, 0.25)
    assert people[nearest_quarter].sum() > 0.5 * people.sum()

    result = validate_population_raster(paths["population"], workspace_villages=province)
    assert result.ok
    assert result.info["population_total"] == pytest.approx(cells.sum(dtype=np.float64))


def test_the_raster_has_its_own_manifest_entry_and_leaves_vector_files_alone(tmp_path):
    out = tmp_path / "data"
    paths = make_national(out, **SMALL, verbose=False)
    assert "population" not in paths
    before = _mtimes(paths)
    vector_entries = json.loads((out / "manifest.json").read_text())["files"]

    with_raster = make_national(out, **SMALL, raster_size=60, verbose=False)
    assert with_raster["population"] == out / RASTER_FILE
    assert _mtimes(with_raster) == before
    manifest = json.loads((out / "manifest.json").read_text())
    entry = manifest["files"].pop("population")
    assert manifest["files"] == vector_entries
    assert entry["size"] == 60
    assert entry["province"] == "12"
    assert entry["bytes"] == (out / RASTER_FILE).stat().st_size

    raster_time = (out / RASTER_FILE).stat().st_mtime_ns
    make_national(out, **SMALL, raster_size=60, verbose=False)  # up to date: nothing written
    assert (out / RASTER_FILE).stat().st_mtime_ns == raster_time
    make_national(out, **SMALL, raster_size=80, verbose=False)  # another size: raster only
    assert _mtimes(paths) == before
    with rasterio.open(out / RASTER_FILE) as ds:
        assert ds.width == 80
    make_national(out, **SMALL, verbose=False)  # no raster asked: the entry stays
    assert json.loads((out / "manifest.json").read_text())["files"]["population"]["size"] == 80


# --- the plain GeoPandas baseline, on villages small enough to compute by hand -------------

AS_OF = "2026-06-30"
CODES = ["15.01.01.2001", "15.01.01.2002", "15.01.01.2003"]


def _hand_fixture(tmp_path):
    """Three 0.01-degree square villages in a row near Jambi, points, and a raster.

    The raster (cells of 0.0025 degrees) covers the first two villages: 10 people in each
    of the first village's 16 cells, 5 in each of the second's except one nodata cell.
    """
    boxes = [shapely.box(103.60 + 0.01 * i, -1.61, 103.61 + 0.01 * i, -1.60) for i in range(3)]
    villages = gpd.GeoDataFrame(
        {"kode": CODES, "penduduk": [1000.0, 2000.0, 500.0]}, geometry=boxes, crs=4326
    )
    facilities = gpd.GeoDataFrame(
        {"jenis": ["PUSKESMAS", "Posyandu", "Posyandu", "SD", "Sumur Bor", "SMP"]},
        geometry=shapely.points(
            [
                (103.605, -1.605),  # village 1, at its centre
                (103.612, -1.603),  # village 2
                (103.618, -1.607),  # village 2
                (103.625, -1.605),  # village 3
                (103.602, -1.608),  # village 1
                (103.603, -1.603),  # village 1, a type not compared
            ]
        ),
        crs=4326,
    )
    needs = gpd.GeoDataFrame(
        {
            "kategori": ["air bersih", "jamban", "gizi", "air minum", "air", "sekolah"],
            "tingkat": [3, 5, 2, 4, 1, 5],
            "tanggal_lapor": pd.to_datetime(
                [
                    "2026-06-30",
                    "2025-06-30",
                    "2024-06-30",
                    "2025-06-30",
                    "2026-06-30",
                    "2026-07-01",
                ]
            ),
            "status": ["baru", "selesai", "diproses", "terverifikasi", "baru", "baru"],
        },
        geometry=shapely.points(
            [
                (103.601, -1.601),  # village 1
                (103.609, -1.609),  # village 1
                (103.611, -1.609),  # village 2
                (103.619, -1.601),  # village 2
                (103.700, -1.605),  # in no village: not counted
                (103.625, -1.605),  # village 3, reported after the reference date
            ]
        ),
        crs=4326,
    )
    paths = {}
    for name, layer in (("villages", villages), ("facilities", facilities), ("needs", needs)):
        paths[name] = tmp_path / f"{name}.gpkg"
        layer.to_file(paths[name], driver="GPKG")
    grid = np.full((4, 8), 10.0, dtype=np.float32)
    grid[:, 4:] = 5.0
    grid[2, 6] = -1.0  # nodata
    paths["population"] = tmp_path / "population.tif"
    with rasterio.open(
        paths["population"],
        "w",
        driver="GTiff",
        width=8,
        height=4,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=from_origin(103.60, -1.60, 0.0025, 0.0025),
        nodata=-1.0,
    ) as dst:
        dst.write(grid, 1)
    return paths


def test_naive_cells_give_people_weighted_distances_and_shares_beyond(tmp_path):
    from pyproj import Geod

    paths = _hand_fixture(tmp_path)
    table = naive_indicators(paths, types=("puskesmas", "water_point"), as_of=AS_OF)
    geod = Geod(ellps="WGS84")
    # Village 1: 16 cells of 10 people, centres 0.00125 and 0.00375 degrees off its middle.
    offsets = np.array([-0.00375, -0.00125, 0.00125, 0.00375])
    cx, cy = np.meshgrid(103.605 + offsets, -1.605 + offsets)
    cx, cy = cx.ravel(), cy.ravel()
    to_puskesmas = geod.inv(cx, cy, np.full(16, 103.605), np.full(16, -1.605))[2]
    to_water = geod.inv(cx, cy, np.full(16, 103.602), np.full(16, -1.608))[2]
    v1, v3 = table.loc[CODES[0]], table.loc[CODES[2]]
    assert v1["dist_m__puskesmas"] == pytest.approx(to_puskesmas.mean(), rel=0.005)
    assert v1["share_beyond__puskesmas"] == 0.0  # every cell within 5 km
    assert v1["share_beyond__water_point"] == pytest.approx((to_water > 500).mean())
    assert 0 < v1["share_beyond__water_point"] < 1
    # Village 3 is off the raster: its middle point decides, 0 or 1.
    assert v3["share_beyond__puskesmas"] == 0.0
    assert v3["share_beyond__water_point"] == 1.0
    # Without the raster every village is measured from its middle point.
    plain = naive_indicators(
        {k: v for k, v in paths.items() if k != "population"}, types=("puskesmas",), as_of=AS_OF
    )
    assert plain.loc[CODES[0], "dist_m__puskesmas"] == pytest.approx(0.0, abs=0.01)
    assert plain.loc[CODES[0], "share_beyond__puskesmas"] == 0.0


def test_naive_indicators_match_values_computed_by_hand(tmp_path):
    paths = _hand_fixture(tmp_path)
    timings = {}
    table = naive_indicators(paths, as_of=AS_OF, half_life_days=365.0, timings=timings)
    assert list(table.index) == CODES
    assert set(timings) == {"read", "facilities", "needs", "nearest", "zonal", "cells", "rates"}
    row = table.to_dict("index")
    v1, v2, v3 = (row[c] for c in CODES)

    assert [v["population"] for v in (v1, v2, v3)] == [1000.0, 2000.0, 500.0]
    assert v1["population_raster"] == pytest.approx(160.0)
    assert v2["population_raster"] == pytest.approx(75.0)
    assert np.isnan(v3["population_raster"])  # off the raster

    assert [v["fac_count__puskesmas"] for v in (v1, v2, v3)] == [1, 0, 0]
    assert [v["fac_count__posyandu"] for v in (v1, v2, v3)] == [0, 2, 0]
    assert [v["fac_count__sd"] for v in (v1, v2, v3)] == [0, 0, 1]
    assert [v["fac_count__water_point"] for v in (v1, v2, v3)] == [1, 0, 0]
    assert "fac_count__smp" not in table.columns
    # Rates use the raster population where there is one, else the table's.
    assert v1["fac_per_1000__puskesmas"] == pytest.approx(1 / 160 * 1000)
    assert v2["fac_per_1000__posyandu"] == pytest.approx(2 / 75 * 1000)
    assert v3["fac_per_1000__sd"] == pytest.approx(1 / 500 * 1000)

    # Distances from the square's centre where the raster does not give the people (village
    # 3), checked against geodesic distances (UTM within 0.1 % of the ellipsoid near its
    # central meridian); villages 1 and 2 are people-weighted (the next test).
    geod = pyproj.Geod(ellps="WGS84")
    centres = [(103.605, -1.605), (103.615, -1.605), (103.625, -1.605)]
    sites = {
        "puskesmas": [(103.605, -1.605)],
        "posyandu": [(103.612, -1.603), (103.618, -1.607)],
        "sd": [(103.625, -1.605)],
        "water_point": [(103.602, -1.608)],
    }
    for kind, points in sites.items():
        cx, cy = centres[2]
        expected = min(geod.inv(cx, cy, px, py)[2] for px, py in points)
        assert v3[f"dist_m__{kind}"] == pytest.approx(expected, rel=1e-3, abs=0.01), kind
    assert v3["dist_m__puskesmas"] == pytest.approx(2226, rel=0.01)  # 0.02 degree west

    # Needs: severity halved per 365 days before 2026-06-30; the closed need (village 1,
    # sanitation) and the one reported after the reference date (village 3) leave the
    # counts and sums; the one in no village is counted nowhere.
    assert (v1["needs__water"], v1["needs__sanitation"], v1["needs__nutrition"]) == (1, 0, 0)
    assert (v2["needs__water"], v2["needs__nutrition"]) == (1, 1)
    assert (v3["needs__water"], v3["needs__education"]) == (0, 0)
    assert v1["needs_weighted__water"] == pytest.approx(3.0)
    assert v1["needs_weighted__sanitation"] == 0.0
    assert v2["needs_weighted__water"] == pytest.approx(2.0)
    assert v2["needs_weighted__nutrition"] == pytest.approx(0.5)
    assert [v["needs_weighted__all"] for v in (v1, v2, v3)] == pytest.approx([3.0, 2.5, 0.0])
    assert v1["needs_per_1000__water"] == pytest.approx(3.0 / 160 * 1000)
    assert v2["needs_per_1000__all"] == pytest.approx(2.5 / 75 * 1000)
    assert v3["needs_per_1000__all"] == 0.0
    assert [v["needs_open"] for v in (v1, v2, v3)] == [1, 2, 0]
    assert [v["needs_addressed"] for v in (v1, v2, v3)] == [1, 0, 0]

    with_addressed = naive_indicators(
        paths, as_of=AS_OF, half_life_days=365.0, include_addressed=True
    )
    assert with_addressed.loc[CODES[0], "needs__sanitation"] == 1
    assert with_addressed.loc[CODES[0], "needs_weighted__all"] == pytest.approx(5.5)
    assert with_addressed.loc[CODES[0], "needs_open"] == 1

    # Without a reference date every need counts, weighted by its severity alone.
    plain = naive_indicators(paths, types=["posyandu"])
    assert plain.loc[CODES[1], "needs_weighted__nutrition"] == 2.0
    assert plain.loc[CODES[2], "needs__education"] == 1
    assert plain.loc[CODES[2], "needs_open"] == 1
    assert list(plain.filter(like="fac_count").columns) == ["fac_count__posyandu"]


def test_naive_indicators_refuse_bad_arguments(tmp_path):
    paths = _hand_fixture(tmp_path)
    with pytest.raises(ValueError, match="unknown or no facility types"):
        naive_indicators(paths, types=["school"])
    with pytest.raises(ValueError, match="as_of"):
        naive_indicators(paths, half_life_days=30)
    with pytest.raises(ValueError, match="needs"):
        naive_indicators({k: v for k, v in paths.items() if k != "needs"})


def test_compare_accepts_agreement_and_names_each_difference(tmp_path):
    naive = naive_indicators(_hand_fixture(tmp_path), as_of=AS_OF, half_life_days=365.0)
    lines, failures, figures = compare(naive, naive.copy())
    assert failures == []
    assert "counts (14 columns): identical" in lines
    assert figures["distance_max_rel"] == 0.0

    pipeline = naive.copy()
    pipeline["dist_m__sd"] *= 1.004  # within 0.5 %
    assert compare(naive, pipeline)[1] == []
    # Where the raster gives a village's people both distances are people-weighted, judged
    # with the looser tolerance of the cell rules (villages 1 and 2); village 3 strictly.
    weighted = naive.copy()
    weighted.loc[CODES[:2], "dist_m__posyandu"] *= 1.015
    _, failures, figures = compare(naive, weighted)
    assert failures == []
    assert figures["distance_villages"] == 1
    assert figures["weighted_distance_median_rel"] == pytest.approx(0.015)
    far_off = naive.copy()
    far_off.loc[CODES[:2], "dist_m__posyandu"] *= 1.5
    assert any("people-weighted" in f for f in compare(naive, far_off)[1])
    shares = naive.copy()
    shares["share_beyond__water_point"] = 1 - shares["share_beyond__water_point"]
    assert any("shares beyond" in f for f in compare(naive, shares)[1])
    weighted.loc[CODES[2], "dist_m__posyandu"] *= 1.006
    assert compare(naive, weighted)[2]["distance_max_rel"] == pytest.approx(0.006)
    pipeline["dist_m__posyandu"] *= 1.01
    pipeline.loc[CODES[0], "needs__water"] += 1
    _, failures, figures = compare(naive, pipeline)
    assert figures["count_mismatches"]["needs__water"] == 1
    assert figures["distance_max_rel"] == pytest.approx(0.01)
    assert any("counts differ" in f for f in failures)
    assert any("distances differ" in f for f in failures)
    _, failures, _ = compare(naive, pipeline.drop(index=CODES[2]))
    assert any("village sets differ" in f for f in failures)


def test_benchmark_quick_naive_run_ends_with_its_json_line(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "bench_scoring.py"),
            "--quick",
            "--repeat",
            "1",
            "--steps",
            "naive",
            "--data",
            str(tmp_path / "data"),
            "--tmp",
            str(tmp_path / "stores"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    last = json.loads(lines[-1])
    assert last["bench"] == "scoring"
    assert {"total_s", "naive_s", "speedup", "peak_mb"} <= set(last["metrics"])
    assert last["metrics"]["naive_s"] > 0
    assert last["metrics"]["total_s"] is None  # the pipeline was not asked for
    assert any(line.startswith("naive ") for line in lines)
    assert (tmp_path / "data" / RASTER_FILE).exists()
