"""Data exports: GeoPackage, GeoJSON, CSV, XLSX and Shapefile read back equal to the store."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import sqlite3
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon

from layers.errors import InputError, NotFoundError
from layers.exports import data as exports
from layers.exports.data import (
    SHAPEFILE_FIELDS,
    export_layer,
    export_workspace,
    prepare,
    shapefile_field_names,
    workspace_layers,
)
from layers.exports.html_map import export_html_map, simplify_villages
from layers.report import ValidationReport
from layers.storage import open_store
from tests.conftest import REPO

WS = "uji"
#: A clockwise square with a clockwise hole (RFC 7946 wants the exterior the other way).
CW_WITH_HOLE = Polygon(
    [(102.0, -2.0), (102.0, -2.1), (101.9, -2.1), (101.9, -2.0)],
    holes=[[(101.96, -2.04), (101.94, -2.04), (101.94, -2.06), (101.96, -2.06)]],
)


def _report(kind: str, n: int) -> dict:
    return ValidationReport(kind, f"{kind}.csv", rows_read=n, accepted=n).to_dict()


@pytest.fixture
def store(tmp_path):
    """A store with villages (a hole, a multipolygon), facilities with zero-led codes,
    needs without geometry and an indicator table."""
    (tmp_path / "db").mkdir()
    s = open_store(f"sqlite:///{tmp_path / 'db' / 'store.sqlite'}")
    s.init()
    s.create_workspace(WS, "Uji")
    villages = gpd.GeoDataFrame(
        {
            "kode": pd.array(["15.02.01.2001", "15.02.01.2002", "15.02.02.2001"], dtype="string"),
            "name": pd.array(["Renah <script>", "Tanjung Kasri – Ä", None], dtype="string"),
            "kecamatan_kode": pd.array(["15.02.01", "15.02.01", "15.02.02"], dtype="string"),
            "kecamatan": pd.array(["Jangkat", "Jangkat", "Sungai Manau"], dtype="string"),
            "population": [1200.0, np.nan, 830.5],
        },
        geometry=[
            CW_WITH_HOLE,
            MultiPolygon(
                [
                    Polygon([(102.0, -2.0), (102.1, -2.0), (102.1, -2.1), (102.0, -2.1)]),
                    Polygon([(102.2, -2.0), (102.25, -2.0), (102.25, -2.05)]),
                ]
            ),
            Polygon([(101.8, -2.1), (101.9, -2.1), (101.9, -2.2), (101.8, -2.2)]),
        ],
        crs="EPSG:4326",
    )
    s.put_dataset(
        WS, "villages", villages, source_name="v.geojson", source_sha256="1" * 64,
        report=_report("villages", 3),
    )  # fmt: skip
    facilities = gpd.GeoDataFrame(
        {
            "facility_id": ["0012", "0100", "F3"],
            "name": ["Puskesmas Jangkat", "Posyandu Melati", "Pustu"],
            "type": pd.Categorical(["puskesmas", "posyandu", "pustu"]),
            "source_code": pd.array(["000123", None, "1502"], dtype="string"),
            "capacity": pd.array([10, None, 3], dtype="Int64"),
        },
        geometry=[Point(101.95, -2.05), Point(102.05, -2.05), Point(101.85123456789, -2.15)],
        crs="EPSG:4326",
    )
    s.put_dataset(
        WS, "facilities", facilities, name="faskes-2024", source_name="f.csv",
        source_sha256="2" * 64, report=_report("facilities", 3),
    )  # fmt: skip
    needs = gpd.GeoDataFrame(
        {
            "need_id": ["1", "2"],
            "category": ["health", "water"],
            "severity": pd.array([3, 5], dtype="Int64"),
            "reported_date": pd.to_datetime(["2025-02-15", "2025-03-01"]),
            "kode": pd.array(["15.02.01.2001", "15.02.02.2001"], dtype="string"),
        },
        geometry=[None, None],
        crs="EPSG:4326",
    )
    s.put_dataset(
        WS, "needs", needs, name="musrenbang", source_name="n.csv", source_sha256="3" * 64,
        report=_report("needs", 2),
    )  # fmt: skip
    indicators = pd.DataFrame(
        {"kode": pd.array(["15.02.01.2001", "15.02.02.2001"], dtype="string"), "iks": [0.5, 0.7]}
    )
    s.put_dataset(
        WS, "indicators", indicators, name="idm", source_name="i.csv", source_sha256="4" * 64,
        report=_report("indicators", 2),
    )  # fmt: skip
    yield s
    s.close()


def _same_geometries(a, b, tolerance: float = 0.0) -> None:
    a = np.asarray(a, dtype=object)
    b = np.asarray(b, dtype=object)
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        if x is None or y is None:
            assert x is None
            assert y is None
            continue
        # the same area: nothing but order, winding or multi-promotion may differ
        assert shapely.hausdorff_distance(x, y) <= tolerance + 1e-12
        assert abs(x.area - y.area) <= max(tolerance, 1e-12) * max(1.0, x.length)


def _same_attributes(expected: pd.DataFrame, got: pd.DataFrame) -> None:
    assert list(got.columns) == list(expected.columns)
    for column in expected.columns:
        want = expected[column].tolist()
        have = got[column].tolist()
        for w, h in zip(want, have, strict=True):
            if w is None or (isinstance(w, float) and np.isnan(w)) or w is pd.NaT or w is pd.NA:
                assert h is None or (isinstance(h, float) and np.isnan(h)) or h is pd.NaT, column
            elif isinstance(w, str):
                assert isinstance(h, str), column  # text stays text
                assert h == w, column
            elif isinstance(w, pd.Timestamp):
                assert pd.Timestamp(h) == w, column
            else:
                assert float(h) == pytest.approx(float(w), abs=0), column


def _attributes(frame: pd.DataFrame) -> pd.DataFrame:
    if isinstance(frame, gpd.GeoDataFrame):
        frame = pd.DataFrame(frame.drop(columns=[frame.geometry.name]))
    return frame


# --- the layers -------------------------------------------------------------------------


def test_workspace_layers_names_and_refs(store):
    layers = workspace_layers(store, WS)
    assert [(s.name, s.kind, s.ref) for s in layers] == [
        ("faskes_2024", "facilities", "uji/faskes-2024@1"),
        ("idm", "indicators", "uji/idm@1"),
        ("musrenbang", "needs", "uji/musrenbang@1"),
        ("villages", "villages", "uji/villages@1"),
    ]


def test_unknown_layer_format_and_workspace(store, tmp_path):
    with pytest.raises(InputError, match="no layer 'nope'; layers: faskes_2024, idm"):
        export_layer(store, WS, "nope", tmp_path / "x.csv", "csv")
    with pytest.raises(InputError, match="format must be one of gpkg, geojson, csv"):
        export_layer(store, WS, "villages", tmp_path / "x.kml", "kml")
    with pytest.raises(InputError, match="format must be one of gpkg, not 'csv'"):
        export_workspace(store, WS, tmp_path / "x.csv", "csv")
    with pytest.raises(InputError, match="WKT"):
        export_layer(store, WS, "villages", tmp_path / "x.geojson", "geojson", wkt=True)
    with pytest.raises(NotFoundError):
        export_layer(store, "tebo", "villages", tmp_path / "x.csv", "csv")
    assert [p.name for p in tmp_path.iterdir()] == ["db"]


# --- GeoPackage ---------------------------------------------------------------------------


def test_geopackage_round_trip(store, tmp_path):
    path = tmp_path / "uji.gpkg"
    result = export_workspace(store, WS, path)
    assert result.path == path
    assert result.size == path.stat().st_size > 0
    assert result.layers == ("faskes_2024", "idm", "musrenbang", "villages")
    assert result.rows == {"faskes_2024": 3, "idm": 2, "musrenbang": 2, "villages": 3}
    assert [n.code for n in result.notes] == ["no_geometry"]
    assert dict(pyogrio.list_layers(path)) == {
        "faskes_2024": "Point",
        "idm": None,
        "musrenbang": None,
        "villages": "MultiPolygon",
    }
    for name, dataset in [("villages", "villages"), ("faskes_2024", "faskes-2024"),
                          ("idm", "idm"), ("musrenbang", "musrenbang")]:  # fmt: skip
        stored = prepare(store.read_dataset(WS, dataset))
        back = pyogrio.read_dataframe(path, layer=name)
        _same_attributes(_attributes(stored), _attributes(back))
        if isinstance(stored, gpd.GeoDataFrame):
            assert back.crs.to_epsg() == 4326
            _same_geometries(stored.geometry.to_numpy(), back.geometry.to_numpy())
    with sqlite3.connect(path) as db:
        types = {row[1]: row[2] for row in db.execute("PRAGMA table_info('faskes_2024')")}
        kinds = dict(db.execute("SELECT table_name, data_type FROM gpkg_contents"))
        codes = [r[0] for r in db.execute("SELECT facility_id FROM faskes_2024 ORDER BY fid")]
    assert types["facility_id"] == "TEXT"
    assert types["source_code"] == "TEXT"
    assert types["capacity"].startswith("INT") or types["capacity"] == "MEDIUMINT"
    assert kinds == {"faskes_2024": "features", "villages": "features",
                     "idm": "attributes", "musrenbang": "attributes"}  # fmt: skip
    assert codes == ["0012", "0100", "F3"]


def test_one_layer_geopackage_and_layers_option(store, tmp_path):
    one = export_layer(store, WS, "faskes-2024", tmp_path / "f.gpkg", "gpkg")
    assert one.layers == ("faskes_2024",)
    assert [n for n, _ in pyogrio.list_layers(tmp_path / "f.gpkg")] == ["faskes_2024"]
    some = export_workspace(store, WS, tmp_path / "s.gpkg", layers=["villages", "idm"])
    assert some.layers == ("villages", "idm")
    with pytest.raises(InputError, match="no layer 'podes'"):
        export_workspace(store, WS, tmp_path / "t.gpkg", layers=["podes"])


# --- GeoJSON ------------------------------------------------------------------------------


def _signed_area(ring: list[list[float]]) -> float:
    """Shoelace formula: positive for counter-clockwise rings."""
    return 0.5 * sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in itertools.pairwise(ring))


def test_geojson_is_rfc7946(store, tmp_path):
    path = tmp_path / "desa.geojson"
    export_layer(store, WS, "villages", path, "geojson")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection"
    assert "crs" not in doc
    polygons = []
    for feature in doc["features"]:
        g = feature["geometry"]
        polygons += [g["coordinates"]] if g["type"] == "Polygon" else g["coordinates"]
    assert len(polygons) == 4
    for rings in polygons:
        assert _signed_area(rings[0]) > 0  # exterior counter-clockwise
        for hole in rings[1:]:
            assert _signed_area(hole) < 0  # holes clockwise
    numbers = re.findall(r"-?\d+\.(\d+)", path.read_text(encoding="utf-8").split('"features"')[1])
    assert max(len(d) for d in numbers) <= 7
    first = doc["features"][0]["properties"]
    assert first["kode"] == "15.02.01.2001"
    assert first["name"] == "Renah <script>"
    stored = prepare(store.read_dataset(WS, "villages"))
    back = pyogrio.read_dataframe(path)
    _same_attributes(_attributes(stored), _attributes(back))
    _same_geometries(stored.geometry.to_numpy(), back.geometry.to_numpy(), tolerance=1e-7)


def test_geojson_rounds_points_to_seven_decimals(store, tmp_path):
    path = tmp_path / "f.geojson"
    export_layer(store, WS, "faskes-2024", path, "geojson")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["features"][2]["geometry"]["coordinates"] == [101.8512346, -2.15]
    assert doc["features"][0]["properties"]["facility_id"] == "0012"


# --- CSV and XLSX ---------------------------------------------------------------------------


def test_csv_has_bom_text_codes_and_point_columns(store, tmp_path):
    path = tmp_path / "f.csv"
    export_layer(store, WS, "faskes-2024", path, "csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert list(rows[0]) == ["facility_id", "name", "type", "source_code", "capacity", "lon", "lat"]
    assert [r["facility_id"] for r in rows] == ["0012", "0100", "F3"]
    assert [r["source_code"] for r in rows] == ["000123", "", "1502"]
    assert [(float(r["lon"]), float(r["lat"])) for r in rows] == [
        (101.95, -2.05), (102.05, -2.05), (101.8512346, -2.15)
    ]  # fmt: skip


def test_csv_polygons_without_geometry_or_as_wkt(store, tmp_path):
    plain = tmp_path / "v.csv"
    export_layer(store, WS, "villages", plain, "csv")
    header = plain.read_text(encoding="utf-8-sig").splitlines()[0]
    assert header == "kode,name,kecamatan_kode,kecamatan,population"
    with_wkt = tmp_path / "w.csv"
    export_layer(store, WS, "villages", with_wkt, "csv", wkt=True)
    rows = list(csv.DictReader(io.StringIO(with_wkt.read_text(encoding="utf-8-sig"))))
    stored = store.read_dataset(WS, "villages")
    _same_geometries(
        stored.geometry.to_numpy(), shapely.from_wkt([r["wkt"] for r in rows]), tolerance=1e-7
    )
    needs = tmp_path / "n.csv"
    export_layer(store, WS, "musrenbang", needs, "csv")
    rows = list(csv.DictReader(io.StringIO(needs.read_text(encoding="utf-8-sig"))))
    assert [r["reported_date"] for r in rows] == ["2025-02-15", "2025-03-01"]


def test_xlsx_codes_are_text_cells(store, tmp_path):
    from openpyxl import load_workbook

    path = tmp_path / "f.xlsx"
    export_layer(store, WS, "faskes-2024", path, "xlsx")
    book = load_workbook(path)
    assert book.sheetnames == ["faskes_2024", "about"]
    sheet = book["faskes_2024"]
    header = [c.value for c in sheet[1]]
    assert header == ["facility_id", "name", "type", "source_code", "capacity", "lon", "lat"]
    ids = [sheet.cell(row=r, column=1) for r in range(2, 5)]
    assert [c.value for c in ids] == ["0012", "0100", "F3"]
    assert all(c.data_type == "s" and c.number_format == "@" for c in ids)
    assert sheet.cell(row=2, column=5).value == 10  # numbers stay numbers
    assert sheet.cell(row=3, column=5).value is None
    about = {r[0].value: r[1].value for r in book["about"].iter_rows(min_row=2)}
    assert about["source"] == "uji/faskes-2024@1"
    assert about["layer"] == "faskes_2024"


# --- Shapefile ------------------------------------------------------------------------------


def test_shapefile_zip_round_trip(store, tmp_path):
    path = tmp_path / "desa.zip"
    result = export_layer(store, WS, "villages", path, "shapefile")
    with zipfile.ZipFile(path) as archive:
        names = sorted(archive.namelist())
        cpg = archive.read("villages.cpg").decode()
        prj = archive.read("villages.prj").decode()
        fields = list(csv.reader(io.StringIO(archive.read("fields.csv").decode("utf-8-sig"))))
    assert names == sorted(
        ["fields.csv"] + [f"villages.{e}" for e in ("shp", "shx", "dbf", "prj", "cpg")]
    )
    assert cpg.strip().upper().replace("-", "") == "UTF8"
    assert "WGS" in prj
    assert "84" in prj
    mapping = dict(fields[1:])
    assert fields[0] == ["column", "shapefile_field"]
    assert mapping == {"kode": "kode", "name": "name", "kecamatan_kode": "kec_kode",
                       "kecamatan": "kecamatan", "population": "population"}  # fmt: skip
    assert [n.code for n in result.notes] == ["renamed"]
    back = pyogrio.read_dataframe(f"/vsizip/{path}/villages.shp")
    back = back.rename(columns={v: k for k, v in mapping.items()})
    stored = prepare(store.read_dataset(WS, "villages"))
    _same_attributes(_attributes(stored), _attributes(back))
    _same_geometries(stored.geometry.to_numpy(), back.geometry.to_numpy())


def test_shapefile_of_points_and_of_a_table(store, tmp_path):
    path = tmp_path / "f.zip"
    export_layer(store, WS, "faskes-2024", path, "shapefile")
    back = pyogrio.read_dataframe(f"/vsizip/{path}/faskes_2024.shp")
    assert back["fac_id"].tolist() == ["0012", "0100", "F3"]
    assert back["src_code"].tolist()[::2] == ["000123", "1502"]
    table = tmp_path / "n.zip"
    export_layer(store, WS, "musrenbang", table, "shapefile")
    with zipfile.ZipFile(table) as archive:
        assert sorted(archive.namelist()) == ["fields.csv", "musrenbang.cpg", "musrenbang.dbf"]
    back = pyogrio.read_dataframe(f"/vsizip/{table}/musrenbang.dbf", read_geometry=False)
    assert back["rep_date"].tolist() == ["2025-02-15", "2025-03-01"]
    assert back["kode"].tolist() == ["15.02.01.2001", "15.02.02.2001"]


def test_shapefile_field_names_are_short_unique_and_deterministic():
    columns = [
        "kode", "kecamatan_kode", "reported_date", "dist_m__puskesmas", "dist_m__puskesmas_x",
        "share_beyond__posyandu", "share_beyond__poskesdes", "podes2019__r501ak4",
        "podes2019__r501ak5", "podes2019__r501ak6", "Nama Desa", "KODE",
    ]  # fmt: skip
    first = shapefile_field_names(columns)
    assert first == shapefile_field_names(list(columns))
    assert list(first) == columns
    names = list(first.values())
    assert all(1 <= len(n) <= 10 for n in names)
    assert len({n.lower() for n in names}) == len(names)
    assert first == {
        "kode": "kode",
        "kecamatan_kode": "kec_kode",
        "reported_date": "rep_date",
        "dist_m__puskesmas": "dm_puskesm",
        "dist_m__puskesmas_x": "dm_pusk_01",
        "share_beyond__posyandu": "sb_posyand",
        "share_beyond__poskesdes": "sb_poskesd",
        "podes2019__r501ak4": "po_r501ak4",
        "podes2019__r501ak5": "po_r501ak5",
        "podes2019__r501ak6": "po_r501ak6",
        "Nama Desa": "nama_desa",
        "KODE": "kode_01",
    }


def test_fixed_field_table_is_documented():
    doc = (REPO / "docs" / "exports.md").read_text(encoding="utf-8")
    for column, short in SHAPEFILE_FIELDS.items():
        assert f"| `{column}` | `{short}` |" in doc
        assert len(short) <= 10
    assert len(set(SHAPEFILE_FIELDS.values())) == len(SHAPEFILE_FIELDS)


# --- atomic writes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "writer", "ending"),
    [
        ("gpkg", "_write_gpkg", "gpkg"),
        ("geojson", "_write_vector", "geojson"),
        ("csv", "_write_csv", "csv"),
        ("xlsx", "_write_xlsx", "xlsx"),
        ("shapefile", "_write_vector", "zip"),
    ],
)
def test_a_failing_write_leaves_the_old_file(store, tmp_path, monkeypatch, fmt, writer, ending):
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / f"desa.{ending}"
    target.write_bytes(b"old file")
    original = getattr(exports, writer)

    def half_then_fail(*args, **kwargs):
        original(*args, **kwargs)  # something is written ...
        raise OSError(28, "No space left on device")  # ... then the disk is full

    monkeypatch.setattr(exports, writer, half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        export_layer(store, WS, "villages", target, fmt)
    assert target.read_bytes() == b"old file"
    assert [p.name for p in folder.iterdir()] == ["desa." + ending]
    monkeypatch.setattr(exports, writer, original)
    export_layer(store, WS, "villages", target, fmt)
    assert target.read_bytes() != b"old file"
    assert [p.name for p in folder.iterdir()] == ["desa." + ending]


def test_a_failing_workspace_export_leaves_the_old_file(store, tmp_path, monkeypatch):
    target = tmp_path / "uji.gpkg"
    target.write_bytes(b"old")
    calls = []

    def second_fails(frame, path, layer):
        calls.append(layer)
        if len(calls) == 2:
            raise RuntimeError("killed")
        pyogrio.write_dataframe(frame, path, layer=layer, driver="GPKG")

    monkeypatch.setattr(exports, "_write_gpkg", second_fails)
    with pytest.raises(RuntimeError):
        export_workspace(store, WS, target)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db", "uji.gpkg"]


# --- the demo: score runs and scenarios ------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The bundled demo with a score run and a placement scenario."""
    from layers.demo_load import load_demo
    from layers.score_run import run_score
    from layers.targeting.scenarios import run_scenario

    folder = tmp_path_factory.mktemp("exports_demo")
    s = open_store(f"sqlite:///{folder / 'demo.sqlite'}")
    s.init()
    load_demo(s)
    run_score(s, "merangin", "health_access")
    run_scenario(
        s, "merangin", "prioritas-2025", kind="placement", profile="health_access",
        settings={"top_n": 7},
    )  # fmt: skip
    yield s
    s.close()


def test_demo_workspace_geopackage_has_score_and_scenario_layers(demo, tmp_path):
    from layers.score_run import load_run
    from layers.targeting.scenarios import load_scenario

    path = tmp_path / "merangin.gpkg"
    result = export_workspace(demo, "merangin", path)
    assert result.layers[-2:] == ("score_health_access", "scenario_prioritas_2025")
    assert "raster_left_out" in [n.code for n in result.notes]
    score = pyogrio.read_dataframe(path, layer="score_health_access")
    run = load_run(demo, "merangin", "health_access")
    table = run["table_frame"]
    villages = demo.read_dataset("merangin", "villages")
    assert score["kode"].tolist() == villages["kode"].tolist()
    by_kode = score.set_index("kode")
    for column in ("score", "rank", "need_class", "dist_m__puskesmas"):
        np.testing.assert_allclose(
            by_kode[column].to_numpy(dtype=float),
            table[column].reindex(by_kode.index).to_numpy(dtype=float),
            equal_nan=True,
        )
    assert by_kode["class_label"].tolist() == table["class_label"].reindex(by_kode.index).tolist()
    _same_geometries(villages.geometry.to_numpy(), score.geometry.to_numpy())
    scenario = pyogrio.read_dataframe(path, layer="scenario_prioritas_2025")
    chosen = [
        row["kode"]
        for row in load_scenario(demo, "merangin", "prioritas-2025")["result"]["selected"]
    ]
    assert sorted(scenario["kode"]) == sorted(chosen)
    assert len(chosen) == 7
    own = villages.set_index("kode").geometry.reindex(scenario["kode"]).to_numpy()
    _same_geometries(own, scenario.geometry.to_numpy())


def test_demo_score_layer_as_shapefile_shortens_indicator_names(demo, tmp_path):
    path = tmp_path / "skor.zip"
    export_layer(demo, "merangin", "score_health_access", path, "shapefile")
    with zipfile.ZipFile(path) as archive:
        mapping = dict(
            list(csv.reader(io.StringIO(archive.read("fields.csv").decode("utf-8-sig"))))[1:]
        )
    assert mapping["dist_m__puskesmas"] == "dm_puskesm"
    assert mapping["need_class"] == "need_class"
    assert len(set(mapping.values())) == len(mapping)
    back = pyogrio.read_dataframe(f"/vsizip/{path}/score_health_access.shp")
    assert list(back.columns[:-1]) == list(mapping.values())


# --- the standalone HTML map ---------------------------------------------------------------


def _embedded(html_text: str, element: str) -> dict:
    match = re.search(
        rf'<script type="application/json" id="{element}">(.*?)</script>', html_text, re.S
    )
    assert match
    return json.loads(match.group(1))


def test_html_map_is_one_file_with_the_map_classes(demo, tmp_path):
    from layers.mapdata import map_values

    path = tmp_path / "peta.html"
    result = export_html_map(demo, "merangin", path, profile="health_access", tolerance_m=25)
    text = path.read_text(encoding="utf-8")
    assert result.size == path.stat().st_size == len(text.encode("utf-8"))
    assert result.rows == {"villages": 215}
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|@import", text)
    assert "default-src 'none'" in text
    assert "L.map(" in text
    assert ".leaflet-container" in text
    villages = _embedded(text, "villages-data")
    page = _embedded(text, "page-data")
    mv = map_values(demo, "merangin", "health_access")
    assert len(villages["features"]) == 215
    classes = {f["properties"]["k"]: f["properties"].get("c") for f in villages["features"]}
    want = {k: (None if pd.isna(c) else int(c)) for k, c in mv.values["class"].items()}
    assert classes == want
    assert [(i["class"], i["colour"]) for i in page["legend"]] == [
        (i["class"], i["colour"]) for i in mv.legend
    ]
    for item in mv.legend:
        if item["class"] is not None:
            assert f"{item['label']} ({item['count']})" in text


def test_html_map_simplifies_about_the_tolerance(demo):
    from layers.crs import metric_crs

    villages = demo.read_dataset("merangin", "villages")
    crs = metric_crs(tuple(villages.total_bounds))
    before = gpd.GeoSeries(villages.geometry.to_numpy(), crs=4326).to_crs(crs).to_numpy()
    for tolerance in (25, 100):
        simple = simplify_villages(villages, tolerance)
        after = gpd.GeoSeries(simple, crs=4326).to_crs(crs).to_numpy()
        assert shapely.get_num_coordinates(after).sum() < shapely.get_num_coordinates(before).sum()
        moved = shapely.hausdorff_distance(before, after)
        # Douglas-Peucker: most outlines within the tolerance (plus 1.1 m of rounding); GEOS
        # may also drop a ring's start point, which moves a few a little farther
        assert np.percentile(moved, 95) <= tolerance + 2
        assert moved.max() <= 2 * tolerance
    unsimplified = gpd.GeoSeries(simplify_villages(villages, 0), crs=4326).to_crs(crs).to_numpy()
    assert shapely.hausdorff_distance(before, unsimplified).max() < 2  # only the rounding


def test_neighbours_keep_their_shared_edge():
    x = np.linspace(0.0, 0.1, 200)
    edge = list(zip(x, 0.0005 * np.sin(x * 900), strict=True))  # a wiggly border
    north = Polygon([*edge, (0.1, 0.1), (0.0, 0.1)])
    south = Polygon([*edge, (0.1, -0.1), (0.0, -0.1)])
    frame = gpd.GeoDataFrame({"kode": ["a", "b"]}, geometry=[north, south], crs="EPSG:4326")
    a, b = simplify_villages(frame, 200)
    assert shapely.get_num_coordinates(a) < shapely.get_num_coordinates(north) / 4
    assert shapely.intersection(a, b).area < 1e-12  # no overlap ...
    hull = shapely.union(a, b)
    assert hull.area == pytest.approx(a.area + b.area, rel=1e-9)  # ... and no gap
    assert shapely.get_num_interior_rings(hull) == 0


def test_html_map_without_a_run_and_with_a_bad_tolerance(store, tmp_path):
    path = tmp_path / "peta.html"
    export_html_map(store, WS, path, lang="en")
    text = path.read_text(encoding="utf-8")
    villages = _embedded(text, "villages-data")
    assert [f["properties"]["k"] for f in villages["features"]] == [
        "15.02.01.2001", "15.02.01.2002", "15.02.02.2001"
    ]  # fmt: skip
    assert all("c" not in f["properties"] for f in villages["features"])
    assert "Renah <script>" not in text  # escaped in the embedded JSON
    assert "Renah \\u003cscript\\u003e" in text
    with pytest.raises(InputError, match="tolerance"):
        export_html_map(store, WS, tmp_path / "x.html", tolerance_m=-1)
    assert not (tmp_path / "x.html").exists()


def test_vendor_files_are_read_at_export_time(store, tmp_path):
    vendor = tmp_path / "vendor"
    (vendor / "leaflet").mkdir(parents=True)
    (vendor / "leaflet" / "leaflet.js").write_text("/* own leaflet </script> */", encoding="utf-8")
    (vendor / "leaflet" / "leaflet.css").write_text("/* own css */", encoding="utf-8")
    path = tmp_path / "peta.html"
    export_html_map(store, WS, path, vendor_dir=vendor)
    text = path.read_text(encoding="utf-8")
    assert "/* own leaflet <\\/script> */" in text
    assert "/* own css */" in text
    with pytest.raises(FileNotFoundError, match="setup"):
        export_html_map(store, WS, path, vendor_dir=tmp_path / "none")


def test_docs_exist_for_every_format():
    doc = (REPO / "docs" / "exports.md").read_text(encoding="utf-8")
    for fmt in exports.FORMATS:
        assert f"`{fmt}`" in doc
    assert str(exports.COORDINATE_DECIMALS) in doc
    assert Path(REPO / "docs" / "exports.md").exists()


def test_csv_writes_dates_as_iso_text_and_blanks_for_missing(tmp_path):
    import pandas as pd

    from layers.exports.data import _write_csv

    frame = pd.DataFrame(
        {
            "kode": ["01.02.03.2001", None, "01.02.03.2003"],
            "tanggal": pd.to_datetime(["2025-02-15", None, "2025-03-01"]),
            "waktu": pd.to_datetime(["2025-02-15 00:00", "2025-02-15 08:30", None]).tz_localize(
                "Asia/Jakarta"
            ),
            "jumlah": pd.array([3, None, 0], dtype="Int64"),
            "nilai": [0.1, float("nan"), 2.5],
        }
    )
    path = tmp_path / "tabel.csv"
    _write_csv(frame, path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel looks for
    assert raw.decode("utf-8-sig").split("\r\n") == [
        "kode,tanggal,waktu,jumlah,nilai",
        "01.02.03.2001,2025-02-15,2025-02-15,3,0.1",
        ",,2025-02-15T08:30:00+07:00,,",
        "01.02.03.2003,2025-03-01,,0,2.5",
        "",
    ]
