"""Bad input, one case per row: a clear message naming file/row/column, store unchanged.

Each case writes a small file with real libraries, imports it into a real SQLite store
that already holds two villages, and checks two things: the message says what and where,
and a dump of every table in the store is identical before and after.
"""

from __future__ import annotations

import json
import sqlite3
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from layers.errors import InputError
from layers.importer import import_into_store
from layers.storage import open_store

WS = "uji"
A = shapely.box(102.0, -2.1, 102.1, -2.0)  # 15.02.01.2001
B = shapely.box(102.1, -2.1, 102.2, -2.0)  # 15.02.01.1002 (a kelurahan)
VILLAGES = gpd.GeoDataFrame(
    {"kode": ["15.02.01.2001", "15.02.01.1002"], "nama": ["Desa Satu", "Kelurahan Dua"]},
    geometry=[A, B],
    crs=4326,
)


@pytest.fixture
def store(tmp_path):
    db = tmp_path / "store.sqlite"
    s = open_store(f"sqlite:///{db}")
    s.init()
    s.create_workspace(WS)
    villages = tmp_path / "villages.geojson"
    VILLAGES.to_file(villages)
    outcome = import_into_store(s, WS, villages, "villages")
    assert outcome.stored, list(outcome.report.lines())
    s.db_path = db  # for the dump below
    yield s
    s.close()


def dump(db: Path) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def csv(text: str) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / "input.csv"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def raw_bytes(name: str, data: bytes) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    return write


def frame(name: str, gdf: gpd.GeoDataFrame, **kwargs) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / name
        pyogrio.write_dataframe(gdf, path, **kwargs)
        return path

    return write


def zipped(members: dict[str, bytes]) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / "batas.zip"
        with zipfile.ZipFile(path, "w") as z:
            for name, data in members.items():
                z.writestr(name, data)
        return path

    return write


def shapefile_without_prj(folder: Path) -> Path:
    utm = VILLAGES.to_crs(32748)
    shp_dir = folder / "shp"
    shp_dir.mkdir()
    pyogrio.write_dataframe(utm, shp_dir / "desa.shp")
    (shp_dir / "desa.prj").unlink()
    path = folder / "desa.zip"
    with zipfile.ZipFile(path, "w") as z:
        for f in shp_dir.iterdir():
            z.write(f, f.name)
    return path


def two_layer_gpkg(folder: Path) -> Path:
    path = folder / "dua.gpkg"
    pyogrio.write_dataframe(VILLAGES, path, layer="desa")
    pyogrio.write_dataframe(VILLAGES, path, layer="desa_lama", append=False)
    return path


def write_xlsx(rows: list[dict]) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / "kobo.xlsx"
        pd.DataFrame(rows).to_excel(path, index=False)
        return path

    return write


@dataclass
class Case:
    id: str
    kind: str
    make: Callable[[Path], Path]
    expect: str  # fragment of the message
    row: int | None = None  # row named in the message (None: file-level)
    column: str | None = None
    options: dict | None = None


FAC_HEAD = "id,nama,jenis,lintang,bujur\n"
NEED_HEAD = "kategori,tingkat,tanggal,kode_desa,keterangan\n"
IND_HEAD = "kode_desa,jumlah_kk\n"

CASES = [
    # ---- file level: InputError, nothing read into the store ----
    Case("empty-file", "facilities", raw_bytes("kosong.csv", b""), "empty"),
    Case("header-only", "facilities", csv(FAC_HEAD), "no data rows"),
    Case("unknown-extension", "facilities", raw_bytes("laporan.docx", b"PK\x03\x04"), ".csv"),
    Case("corrupt-zip", "villages", raw_bytes("batas.zip", b"PK\x03\x04 not really"), "archive"),
    Case("zip-without-shp", "villages", zipped({"baca.txt": b"hello"}), ".shp"),
    Case(
        "broken-geojson", "villages", raw_bytes("desa.geojson", b'{"type": "Feat'), "desa.geojson"
    ),
    Case("not-a-workbook", "needs", raw_bytes("kobo.xlsx", b"just text"), "kobo.xlsx"),
    Case("no-prj-metres", "villages", shapefile_without_prj, "not degrees"),
    Case("two-layers", "villages", two_layer_gpkg, "desa_lama"),
    Case(
        "missing-required-column",
        "needs",
        csv("tingkat,tanggal,kode_desa\n3,2024-03-01,1502012001\n"),
        "required column 'category'",
    ),
    Case(
        "mapping-to-absent-column",
        "facilities",
        csv(FAC_HEAD + "F1,Pustu A,pustu,-2.05,102.05\n"),
        "'tipe_faskes'",
        options={"mapping": {"type": "tipe_faskes"}},
    ),
    Case(
        "ragged-csv",
        "facilities",
        csv(FAC_HEAD + "F1,Pustu A,pustu,-2.05,102.05\nF2,Pustu B,pustu,-2.05\n"),
        "input.csv",
    ),
    # ---- row level: rejected rows, strict import stores nothing ----
    Case(
        "village-code-invalid",
        "villages",
        frame("desa.geojson", VILLAGES.assign(kode=["15.02.01.3001", "15.02.01.1002"])),
        "15.02.01.3001",
        row=1,
        column="kode",
    ),
    Case(
        "village-code-duplicate",
        "villages",
        frame("desa.geojson", VILLAGES.assign(kode=["15.02.01.2001", "1502012001"])),
        "more than once",
        row=2,
        column="kode",
    ),
    Case(
        "village-point-geometry",
        "villages",
        frame("desa.gpkg", VILLAGES.set_geometry([A.centroid, B.centroid])),
        "expected Polygon",
        row=1,
        column="geometry",
    ),
    Case(
        "village-empty-geometry",
        "villages",
        frame("desa.geojson", VILLAGES.set_geometry([A, shapely.Polygon()])),
        "empty",
        row=2,
        column="geometry",
    ),
    Case(
        "facility-type-unknown",
        "facilities",
        csv(FAC_HEAD + "F1,Pustu A,pustu,-2.05,102.05\nF2,Dinas,DINAS PROVINSI,-2.05,102.15\n"),
        "DINAS PROVINSI",
        row=3,
        column="jenis",
    ),
    Case(
        "facility-id-duplicate",
        "facilities",
        csv(FAC_HEAD + "F1,Pustu A,pustu,-2.05,102.05\nF1,Pustu B,pustu,-2.06,102.15\n"),
        "first at row 2",
        row=3,
        column="id",
    ),
    Case(
        "facility-name-empty",
        "facilities",
        csv(FAC_HEAD + "F1,,pustu,-2.05,102.05\n"),
        "required",
        row=2,
        column="nama",
    ),
    Case(
        "facility-latitude-text",
        "facilities",
        csv(FAC_HEAD + "F1,Pustu A,pustu,dua,102.05\n"),
        "dua",
        row=2,
        column="lintang",
    ),
    Case(
        "facility-corrupt-longitude",
        "facilities",
        csv(FAC_HEAD + "F1,Pustu A,pustu,-2.05,1020.5\n"),
        "1020.5",
        row=2,
        column="lintang,bujur",
    ),
    Case(
        "need-severity-out-of-range",
        "needs",
        csv(NEED_HEAD + "air bersih,7,2024-03-01,1502012001,sumur kering\n"),
        "outside 1 to 5",
        row=2,
        column="tingkat",
    ),
    Case(
        "need-severity-word",
        "needs",
        csv(NEED_HEAD + "air bersih,tinggi,2024-03-01,1502012001,sumur kering\n"),
        "'tinggi' is not a number",
        row=2,
        column="tingkat",
    ),
    Case(
        "need-date-impossible",
        "needs",
        csv(NEED_HEAD + "gizi,3,31/02/2024,1502012001,balita kurang gizi\n"),
        "31/02/2024",
        row=2,
        column="tanggal",
    ),
    Case(
        "need-category-unknown",
        "needs",
        csv(NEED_HEAD + "astronomi,3,2024-03-01,1502012001,teropong\n"),
        "astronomi",
        row=2,
        column="kategori",
    ),
    Case(
        "need-village-unknown",
        "needs",
        csv(NEED_HEAD + "sanitasi,4,2024-03-01,1502012099,jamban\n"),
        "15.02.01.2099",
        row=2,
        column="kode_desa",
    ),
    Case(
        "need-no-place",
        "needs",
        csv(NEED_HEAD + "sanitasi,4,2024-03-01,,jamban\n"),
        "no geometry and no village code",
        row=2,
        column="geometry",
    ),
    Case(
        "kobo-geolocation-garbage",
        "needs",
        write_xlsx(
            [
                {
                    "kategori": "kesehatan",
                    "tingkat_keparahan": 2,
                    "today": "2024-05-02",
                    "_geolocation": "bukan koordinat",
                }
            ]
        ),
        "bukan koordinat",
        row=2,
        column="_geolocation",
    ),
    Case(
        "indicator-code-duplicate",
        "indicators",
        csv(IND_HEAD + "1502012001,10\n15.02.01.2001,12\n"),
        "more than once",
        row=3,
        column="kode_desa",
    ),
    Case(
        "indicator-code-invalid",
        "indicators",
        csv(IND_HEAD + "15020120,10\n"),
        "has 10 digits",
        row=2,
        column="kode_desa",
    ),
    Case(
        "indicator-village-outside-workspace",
        "indicators",
        csv(IND_HEAD + "1501012001,10\n"),
        "not in the workspace",
        row=2,
        column="kode_desa",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_named_and_changes_nothing(case: Case, store, tmp_path):
    path = case.make(tmp_path)
    before = dump(store.db_path)
    try:
        outcome = import_into_store(store, WS, path, case.kind, **(case.options or {}))
    except InputError as exc:
        message = str(exc)
        assert path.name in message or case.id == "ragged-csv", message
        assert case.expect in message, message
        if case.row is not None:
            assert f"row {case.row}" in message or f"line {case.row}" in message, message
    else:
        assert not outcome.stored, "a file with rejected rows must not be stored"
        assert not outcome.ok
        lines = list(outcome.report.lines())
        hits = [
            f
            for f in outcome.report.rejected
            if case.expect in f.message
            and (case.row is None or f.row == case.row)
            and (case.column is None or f.column == case.column)
        ]
        assert hits, json.dumps(lines, ensure_ascii=False, indent=1)
        assert outcome.report.file == path.name
        assert all(
            line.startswith("REJECTED  " + path.name) for line in lines if "REJECTED" in line
        )
    assert dump(store.db_path) == before


def test_there_are_at_least_25_cases():
    assert len(CASES) >= 25
