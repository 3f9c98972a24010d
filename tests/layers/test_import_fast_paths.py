"""The import's fast paths give exactly what the plain library calls give."""

from __future__ import annotations

import datetime as dt
import json
import struct

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from layers import codes as codes_mod
from layers.importer import check_file, import_into_store
from layers.io import read_layer
from layers.io.vector import _read_arrow_frame
from layers.placement import VillageIndex
from layers.storage import codec, open_store
from layers.validate.geometry import PARALLEL_GEOMETRIES, is_valid
from layers.validate.places import _normalized_codes
from layers.wkbpoints import points_from_wkb, xy_from_wkb


def _same_frame(got: gpd.GeoDataFrame, expected: gpd.GeoDataFrame) -> None:
    """Equal values, dtypes, CRS, and geometries to the byte."""
    assert_geodataframe_equal(got, expected)
    assert list(got.dtypes) == list(expected.dtypes)
    assert got.crs == expected.crs
    got_wkb = shapely.to_wkb(got.geometry.to_numpy())
    assert list(got_wkb) == list(shapely.to_wkb(expected.geometry.to_numpy()))


def _wkb_array(geoms) -> pa.Array:
    return pa.array(list(shapely.to_wkb(np.asarray(geoms, dtype=object))), type=pa.binary())


def test_points_from_wkb_are_shapely_s_points():
    rng = np.random.default_rng(11)
    x, y = rng.uniform(95, 141, 3000), rng.uniform(-11, 6, 3000)
    x[:2] = [-0.0, 1e-300]
    geoms = shapely.points(x, y).astype(object)
    geoms[[5, 700, 2999]] = None
    array = _wkb_array(geoms)
    for values in (array, pa.chunked_array([array.slice(0, 1000), array.slice(1000)])):
        got = points_from_wkb(values)
        expected = shapely.from_wkb(np.array(values.to_pylist(), dtype=object))
        assert list(shapely.to_wkb(got)) == list(shapely.to_wkb(expected))
        nx, ny, valid = xy_from_wkb(values)
        assert valid.sum() == 2997
        assert np.isnan(nx[~valid]).all()
        assert np.array_equal(nx[valid], x[valid])
        assert np.array_equal(ny[valid], y[valid])


@pytest.mark.parametrize(
    "odd",
    [shapely.Point(), shapely.Point(1, 2, 3), shapely.LineString([(0, 0), (1, 1)])],
)
def test_points_from_wkb_leaves_anything_else_to_shapely(odd):
    values = _wkb_array([shapely.Point(1, 2), odd])
    assert xy_from_wkb(values) is None
    assert points_from_wkb(values) is None
    big_endian = pa.array([shapely.to_wkb(shapely.Point(1, 2), byte_order=0)], type=pa.binary())
    assert points_from_wkb(big_endian) is None


def _write_points(path, n=500, with_nulls=True):
    rng = np.random.default_rng(3)
    geoms = shapely.points(rng.uniform(100, 101, n), rng.uniform(-2, -1, n)).astype(object)
    if with_nulls:
        geoms[[0, 17]] = None
    frame = gpd.GeoDataFrame(
        {
            "need_id": [f" N{i} " if i % 7 else None for i in range(n)],
            "tingkat": (np.arange(n) % 5 + 1).astype("int32"),
            "tanggal": [dt.date(2024, 1, 1 + i % 28) for i in range(n)],
            "waktu": pd.to_datetime(["2024-03-05T06:00:00"] * n),
            "nilai": np.linspace(0, 1, n),
        },
        geometry=geoms,
        crs="EPSG:4326",
    )
    frame.to_file(path, driver="GPKG")
    return frame


def test_arrow_read_is_pyogrio_s_frame(tmp_path):
    path = tmp_path / "needs.gpkg"
    _write_points(path)
    frame, xy = _read_arrow_frame(str(path), None, None)
    expected = pyogrio.read_dataframe(str(path), use_arrow=True)
    _same_frame(frame, expected)
    assert list(frame.dtypes) == list(expected.dtypes)
    assert frame.crs == expected.crs
    geoms = expected.geometry.to_numpy()
    present = ~shapely.is_missing(geoms)
    assert np.array_equal(xy[0][present], shapely.get_x(geoms[present]))
    assert np.isnan(xy[0][~present]).all()
    raw = read_layer(path)
    assert raw.point_xy is not None
    assert np.array_equal(raw.point_xy[1], xy[1], equal_nan=True)


def test_arrow_read_of_polygons_and_geojson_is_pyogrio_s_frame(tmp_path):
    polygons = gpd.GeoDataFrame(
        {"kode": ["1502012001", "1502012002"]},
        geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1).buffer(0.1)],
        crs="EPSG:4326",
    )
    polygons.to_file(tmp_path / "desa.gpkg", driver="GPKG")
    features = [
        {
            "type": "Feature",
            "properties": {"kode": "1502012001", "_submission_time": "2024-03-05T06:00:00+07:00"},
            "geometry": {"type": "Point", "coordinates": [102.05, -2.05]},
        }
    ]
    (tmp_path / "kobo.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8"
    )
    for name in ("desa.gpkg", "kobo.geojson"):
        frame, xy = _read_arrow_frame(str(tmp_path / name), None, None)
        expected = pyogrio.read_dataframe(str(tmp_path / name), use_arrow=True)
        _same_frame(frame, expected)
        assert list(frame.dtypes) == list(expected.dtypes)
        assert (xy is None) == (name == "desa.gpkg")


def test_polygon_wkb_is_shapely_s_bytes():
    rng = np.random.default_rng(5)
    centres = shapely.points(rng.uniform(0, 50, 400), rng.uniform(0, 50, 400))
    geoms = list(shapely.buffer(centres, 0.3, quad_segs=rng.integers(2, 9)))
    geoms[3] = shapely.from_wkt("POLYGON ((0 0, 3 0, 3 3, 0 3, 0 0), (1 1, 2 1, 2 2, 1 1))")
    geoms[4] = shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 3)])
    geoms[5] = shapely.Polygon()
    geoms[6] = shapely.from_wkt("POLYGON Z ((0 0 1, 1 0 1, 1 1 1, 0 0 1))")
    geoms[7] = shapely.from_wkt("POLYGON M ((0 0 1, 1 0 1, 1 1 1, 0 0 1))")
    geoms[8] = shapely.from_wkt("POLYGON ((0 0, -0.0 1e-300, 1 1, 0 0))")
    array = np.array(geoms, dtype=object)
    got = codec.polygon_wkb(array, codec._type_codes(array))
    expected = pa.array(codec.to_wkb(array), type=pa.binary())
    assert got is not None
    assert got.equals(expected)
    assert got.nbytes == expected.nbytes
    with_none = np.array([*geoms[:3], None], dtype=object)
    assert codec.polygon_wkb(with_none, codec._type_codes(with_none)) is None


def test_polygons_read_from_wkb_are_shapely_s():
    rng = np.random.default_rng(12)
    centres = shapely.points(rng.uniform(0, 50, 2000), rng.uniform(0, 50, 2000))
    simple = shapely.buffer(centres, 0.2, quad_segs=3).astype(object)
    wkb = codec.polygon_wkb(simple, codec._type_codes(simple))
    for values in (wkb, wkb.slice(3, 900), pa.chunked_array([wkb.slice(0, 500), wkb.slice(500)])):
        expected = shapely.from_wkb(np.array(values.to_pylist(), dtype=object))
        assert list(shapely.to_wkb(codec.from_wkb(values))) == list(shapely.to_wkb(expected))
    with_hole = shapely.from_wkt("POLYGON ((0 0, 3 0, 3 3, 0 3, 0 0), (1 1, 2 1, 2 2, 1 1))")
    for odd in (with_hole, shapely.Polygon(), shapely.MultiPolygon([shapely.box(0, 0, 1, 1)])):
        mixed = pa.array(list(codec.to_wkb(np.array([simple[0], odd], dtype=object))))
        assert codec._wkb_polygons(mixed) is None
        assert list(shapely.to_wkb(codec.from_wkb(mixed))) == list(
            shapely.to_wkb(np.array([simple[0], odd], dtype=object))
        )
    # a ring whose last point is not its first: shapely would close it, so WKB decides
    open_ring = struct.pack("<BIII", 1, 3, 1, 4) + struct.pack("<8d", 0, 0, 1, 0, 1, 1, 0, 1)
    assert codec._wkb_polygons(pa.array([open_ring], type=pa.binary())) is None


def test_stable_argsort_is_numpy_s_stable_sort():
    rng = np.random.default_rng(2)
    for trial in range(200):
        n = int(rng.integers(1, 2000))
        key = rng.integers(0, int(rng.integers(1, 40)), n).astype(float) / 4
        if trial % 4 == 0:
            key = rng.random(n)
        if trial % 5 == 0:
            key[rng.integers(0, n, n // 3)] = -0.0
        assert np.array_equal(codec.stable_argsort(key), np.argsort(key, kind="stable"))


def _villages():
    # a 6 x 5 grid of unit squares, two of them overlapping their neighbour
    squares = [shapely.box(i, j, i + 1, j + 1) for j in range(5) for i in range(6)]
    squares[7] = shapely.box(1, 1, 2.4, 2)
    squares[20] = shapely.box(2, 3, 3.3, 4.2)
    codes = np.array([f"15.02.01.{2001 + k}" for k in range(len(squares))], dtype=object)
    return np.array(squares, dtype=object), codes


def test_primed_placement_is_the_direct_placement():
    squares, codes = _villages()
    rng = np.random.default_rng(8)
    n = 300_000  # above the size placed on several threads
    x, y = rng.uniform(-0.5, 6.5, n), rng.uniform(-0.5, 5.5, n)
    x[:4], y[:4] = [1.0, 2.2, 3.0, 9.0], [1.0, 1.5, 3.5, 9.0]  # corner, overlaps, outside
    x[4:6] = np.nan
    points = shapely.points(x, y).astype(object)
    points[4:6] = None
    present = ~shapely.is_missing(points) & (rng.random(n) > 0.1)
    subset = np.where(present, points, None)
    direct = VillageIndex(squares, codes).place(subset)
    primed = VillageIndex(squares, codes)
    primed.prime(x, y)
    got = primed.place(subset, xy=(np.where(present, x, 0.0), np.where(present, y, 0.0)))
    assert np.array_equal(got.village, direct.village)
    assert len(direct.overlaps) > 0
    pd.testing.assert_frame_equal(got.overlaps, direct.overlaps)
    assert direct.village[0] >= 0
    assert direct.village[3] == -1
    # other coordinates than the primed ones are placed afresh
    moved = x.copy()
    moved[10] += 0.25
    again = primed.place(points, xy=(moved, y))
    fresh = VillageIndex(squares, codes).place(shapely.points(moved, y).astype(object))
    assert np.array_equal(again.village[6:], fresh.village[6:])


def test_validity_on_threads_is_shapely_s():
    rng = np.random.default_rng(4)
    n = PARALLEL_GEOMETRIES + 123
    geoms = shapely.buffer(shapely.points(rng.uniform(0, 9, n), rng.uniform(0, 9, n)), 0.1)
    bowtie = shapely.from_wkt("POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))")
    geoms[rng.integers(0, n, 50)] = bowtie
    assert np.array_equal(is_valid(geoms), shapely.is_valid(geoms))


def test_codes_normalised_once_each_are_the_column_s():
    rng = np.random.default_rng(6)
    pool = ["15.02.01.2001", "1502012002", " 15.02.01.2003 ", "15.02.01.3001", "abc", "", None]
    raw = pd.Series(rng.choice(np.array(pool, dtype=object), 5000), dtype="object")
    expected, _ = codes_mod.normalize_kemendagri_series(raw)
    pd.testing.assert_series_equal(_normalized_codes(raw), expected)
    numbers = pd.Series([1502012001, 1502012001.0, "1502012001"] * 2000, dtype="object")
    expected, _ = codes_mod.normalize_kemendagri_series(numbers)
    pd.testing.assert_series_equal(_normalized_codes(numbers), expected)


def test_import_places_as_validation_alone_does(tmp_path):
    squares, codes = _villages()
    villages = gpd.GeoDataFrame({"kode": codes, "nama": codes}, geometry=squares, crs=4326)
    villages.to_file(tmp_path / "desa.gpkg", driver="GPKG")
    rng = np.random.default_rng(9)
    n = 5000
    needs = gpd.GeoDataFrame(
        {
            "kategori": rng.choice(["air bersih", "gizi", "jalan"], n),
            "tingkat": rng.integers(1, 6, n).astype("int32"),
            "tanggal": ["2024-03-01"] * n,
        },
        geometry=shapely.points(rng.uniform(-0.5, 6.5, n), rng.uniform(-0.5, 5.5, n)),
        crs=4326,
    )
    needs.to_file(tmp_path / "needs.gpkg", driver="GPKG")
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    store.init()
    store.create_workspace("uji")
    assert import_into_store(store, "uji", tmp_path / "desa.gpkg", "villages").stored
    outcome = import_into_store(
        store, "uji", tmp_path / "needs.gpkg", "needs", today=dt.date(2025, 1, 1)
    )
    stored_villages = store.read_dataset("uji", "villages")
    alone = check_file(
        tmp_path / "needs.gpkg",
        "needs",
        workspace_villages=stored_villages,
        today=dt.date(2025, 1, 1),
    )
    assert outcome.report.totals["warning:point_in_overlap"] > 0
    assert outcome.report.totals == alone.report.totals
    assert [f.params for f in outcome.report.findings] == [f.params for f in alone.report.findings]
    _same_frame(outcome.result.data, alone.data)
    _same_frame(store.read_dataset("uji", "needs"), alone.data)
    store.close()


def test_validated_text_stays_in_arrow_and_comes_back_from_the_store(tmp_path):
    # Text and vocabulary columns are pandas' Arrow-backed str (no Python string per cell);
    # blanks, "-" and surrounding spaces are cleaned as before, and the store keeps them.
    path = tmp_path / "kebutuhan.csv"
    path.write_text(
        "need_id,kategori,tingkat,tanggal_lapor,sumber,keterangan,lintang,bujur,kode_desa\n"
        "K-1, Air Bersih ,3,2024-03-05,musrenbang,  sumur kering ,-2.1,102.3,15.02.01.2001\n"
        "K-2,gizi,2,05/03/2024,survei,-,-2.2,102.4,15.02.01.2002\n"
        ",sanitasi,5,2024-01-01,pengaduan,,-2.3,102.5,\n",
        encoding="utf-8",
    )
    result = check_file(path, "needs", today=dt.date(2025, 1, 1))
    data = result.data
    for column in ("need_id", "category", "source", "status", "description", "kode"):
        assert str(data[column].dtype) == "str", column
    assert data["category"].tolist() == ["water", "nutrition", "sanitation"]
    assert data["description"].iloc[0] == "sumur kering"
    assert data["description"].iloc[1:].isna().all()  # "-" and "" are blanks
    assert data["need_id"].tolist() == ["K-1", "K-2", "N0000004"]  # generated: file row 4
    assert data["kode"].iloc[:2].tolist() == ["15.02.01.2001", "15.02.01.2002"]
    assert pd.isna(data["kode"].iloc[2])
    # without an id column every id is generated, as text too
    unnamed = tmp_path / "tanpa_id.csv"
    unnamed.write_text(path.read_text(encoding="utf-8").replace("need_id,", "kolom_lain,", 1))
    generated = check_file(unnamed, "needs", today=dt.date(2025, 1, 1)).data["need_id"]
    assert str(generated.dtype) == "str"
    assert generated.tolist() == ["N0000002", "N0000003", "N0000004"]
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    store.init()
    store.create_workspace("uji")
    assert import_into_store(store, "uji", path, "needs", today=dt.date(2025, 1, 1)).stored
    back = store.read_dataset("uji", "needs")
    assert list(back.dtypes) == list(data.dtypes)
    pd.testing.assert_frame_equal(
        pd.DataFrame(back.drop(columns="geometry")), pd.DataFrame(data.drop(columns="geometry"))
    )
