"""Reading every supported input into a RawLayer: generated files, real data, bad inputs.

Fixtures are written in ``tmp_path`` with the real libraries (pyogrio, openpyxl, rasterio,
zipfile); see tests/data/README.md. Tests marked ``shared`` read ../shared/data.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely

import layers.io
from layers.errors import InputError
from layers.io import (
    COORD_ERROR,
    RawLayer,
    list_layers,
    read_layer,
    read_raster_info,
    supported_extensions,
)
from tests.conftest import shared_file

NAMES = ["Puskesmas Peñalosa", "Pustu Désa Café", "Posyandu Ma’ruf"]
CODES = ["1502012001", "1502012002", "0102030004"]
LON = [101.598145, 101.687962, 102.1]
LAT = [-2.444991, -2.448684, -2.0]


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def facilities() -> gpd.GeoDataFrame:
    """Three points in Merangin with non-ASCII names and a code with a leading zero."""
    return gpd.GeoDataFrame(
        {"kode": CODES, "nama": NAMES, "kapasitas": [10, 5, 0]},
        geometry=shapely.points(LON, LAT),
        crs="EPSG:4326",
    )


def write_shapefile(gdf: gpd.GeoDataFrame, folder: Path, name: str, encoding: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shp = folder / f"{name}.shp"
    pyogrio.write_dataframe(gdf, shp, encoding=encoding)
    return shp


def zip_files(target: Path, files: dict[str, Path | bytes]) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, content in files.items():
            if isinstance(content, Path):
                zf.write(content, arcname)
            else:
                zf.writestr(arcname, content)
    return target


def shp_parts(shp: Path, skip: tuple[str, ...] = ()) -> dict[str, Path]:
    parts = {}
    for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
        part = shp.with_suffix(ext)
        if part.exists() and ext not in skip:
            parts[ext] = part
    return parts


def write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def xy(raw: RawLayer) -> list[tuple[float, float] | None]:
    out = []
    for g in raw.frame.geometry:
        out.append(None if g is None else (round(g.x, 6), round(g.y, 6)))
    return out


def coord_errors(raw: RawLayer) -> list[str | None]:
    return [None if pd.isna(v) else v for v in raw.frame[COORD_ERROR]]


def assert_text_column(series: pd.Series) -> None:
    assert not pd.api.types.is_numeric_dtype(series)
    assert all(isinstance(v, str) for v in series.dropna())


# --------------------------------------------------------------------------- API basics


def test_supported_extensions_lists_every_reader() -> None:
    exts = supported_extensions()
    for ext in (".geojson", ".json", ".gpkg", ".zip", ".shp", ".kml", ".kmz", ".csv", ".txt"):
        assert ext in exts
    assert ".xlsx" in exts
    assert ".tif" not in exts  # rasters go through read_raster_info


def test_sha256_is_of_the_file_bytes_and_the_file_is_not_modified(
    tmp_path: Path, facilities: gpd.GeoDataFrame
) -> None:
    gpkg = tmp_path / "faskes.gpkg"
    pyogrio.write_dataframe(facilities, gpkg, layer="faskes")
    csv = write_text(tmp_path / "faskes.csv", "nama,lat,lon\nA,-2.1,101.5\n")
    shp = write_shapefile(facilities, tmp_path / "shp", "faskes", "UTF-8")
    zipped = zip_files(
        tmp_path / "faskes.zip", {f"faskes{e}": p for e, p in shp_parts(shp).items()}
    )
    for path in (gpkg, csv, zipped):
        before = path.read_bytes()
        os.utime(path, (1_600_000_000, 1_600_000_000))
        raw = read_layer(path)
        assert raw.sha256 == hashlib.sha256(before).hexdigest()
        assert path.read_bytes() == before
        assert path.stat().st_mtime == 1_600_000_000
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "faskes.csv",
        "faskes.gpkg",
        "faskes.zip",
        "shp",
    ]


# --------------------------------------------------------------------------- vector files


@pytest.mark.parametrize("suffix", [".geojson", ".json"])
def test_geojson_keeps_columns_crs_and_feature_numbers(
    tmp_path: Path, facilities: gpd.GeoDataFrame, suffix: str
) -> None:
    path = tmp_path / f"faskes{suffix}"
    pyogrio.write_dataframe(facilities, path, driver="GeoJSON")
    raw = read_layer(str(path))
    assert raw.format == "geojson"
    assert raw.source == f"faskes{suffix}"
    assert list(raw.rows) == [1, 2, 3]
    assert raw.crs_from_file is True
    assert raw.frame.crs.to_epsg() == 4326
    assert raw.coordinate_columns == ()
    assert raw.frame["nama"].tolist() == NAMES
    assert raw.frame["kode"].tolist() == CODES  # a text property stays text
    assert raw.frame["kapasitas"].tolist() == [10, 5, 0]
    assert xy(raw) == list(zip(LON, LAT, strict=True))
    assert COORD_ERROR not in raw.frame.columns


def test_kobo_geojson_export_is_recognised(tmp_path: Path) -> None:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [101.6, -2.44, 312.5]},
            "properties": {
                "start": "2024-03-05T08:01:00.000+07:00",
                "grp_desa/nama_desa": "Renah Kemumu",
                "kebutuhan": "air_bersih",
                "_id": 101,
                "_uuid": "7c0d6f0e-1111-4a5b-9c9d-000000000001",
                "_submission_time": "2024-03-05T01:05:00",
            },
        },
        {
            "type": "Feature",
            "geometry": None,
            "properties": {
                "start": "2024-03-06T09:00:00.000+07:00",
                "grp_desa/nama_desa": "Tanjung Kasri",
                "kebutuhan": "jalan",
                "_id": 102,
                "_uuid": "7c0d6f0e-1111-4a5b-9c9d-000000000002",
                "_submission_time": "2024-03-06T02:00:00",
            },
        },
    ]
    path = tmp_path / "survei_kebutuhan.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    raw = read_layer(path)
    assert raw.format == "kobo-geojson"
    assert raw.frame["grp_desa/nama_desa"].tolist() == ["Renah Kemumu", "Tanjung Kasri"]
    assert raw.frame.geometry.iloc[0].x == pytest.approx(101.6)
    assert raw.frame.geometry.iloc[1] is None
    assert "coordinates have a Z (altitude) value" in raw.notes


def test_geopackage_single_layer(tmp_path: Path, facilities: gpd.GeoDataFrame) -> None:
    path = tmp_path / "faskes.gpkg"
    pyogrio.write_dataframe(facilities.to_crs(32748), path, layer="faskes")
    raw = read_layer(path)
    assert raw.format == "gpkg"
    assert raw.frame.crs.to_epsg() == 32748
    assert raw.crs_from_file
    assert raw.frame["nama"].tolist() == NAMES
    assert list(raw.rows) == [1, 2, 3]
    back = raw.frame.to_crs(4326).geometry
    assert back.iloc[2].x == pytest.approx(102.1)
    assert list_layers(path) == ["faskes"]


def test_geopackage_with_several_layers_needs_a_choice(
    tmp_path: Path, facilities: gpd.GeoDataFrame
) -> None:
    path = tmp_path / "survei.gpkg"
    pyogrio.write_dataframe(facilities, path, layer="faskes")
    pyogrio.write_dataframe(facilities.iloc[:1], path, layer="posyandu", append=True)
    with pytest.raises(InputError) as err:
        read_layer(path)
    assert err.value.file == "survei.gpkg"
    assert "faskes" in str(err.value)
    assert "posyandu" in str(err.value)
    assert len(read_layer(path, layer="posyandu").frame) == 1
    assert len(read_layer(path, layer="faskes").frame) == 3
    assert sorted(list_layers(path)) == ["faskes", "posyandu"]
    with pytest.raises(InputError, match=r"no layer named 'jalan'.*faskes"):
        read_layer(path, layer="jalan")


def test_geopackage_attribute_table_has_empty_geometry(tmp_path: Path) -> None:
    path = tmp_path / "indikator.gpkg"
    table = pd.DataFrame({"kode": ["1502012001", "1502012002"], "skor": [0.5, 0.7]})
    pyogrio.write_dataframe(table, path, layer="indikator")
    raw = read_layer(path)
    assert raw.frame.geometry.isna().all()
    assert raw.crs_from_file is False
    assert raw.frame["kode"].tolist() == ["1502012001", "1502012002"]
    assert "no feature has a geometry" in raw.notes


def test_zipped_shapefile_in_a_subfolder(tmp_path: Path, facilities: gpd.GeoDataFrame) -> None:
    shp = write_shapefile(facilities, tmp_path / "src", "faskes", "UTF-8")
    parts = {f"data/faskes_2024/faskes{e}": p for e, p in shp_parts(shp).items()}
    parts["__MACOSX/data/faskes_2024/._faskes.shp"] = b"junk"
    path = zip_files(tmp_path / "Faskes Merangin.zip", parts)
    raw = read_layer(path)
    assert raw.format == "shapefile"
    assert raw.source == "Faskes Merangin.zip"
    assert raw.frame["nama"].tolist() == NAMES
    assert raw.frame["kode"].tolist() == CODES
    assert raw.frame.crs.to_epsg() == 4326
    assert raw.crs_from_file
    assert not any("encoding" in n for n in raw.notes)
    assert list_layers(path) == ["data/faskes_2024/faskes.shp"]


def test_zipped_shapefile_without_cpg_in_cp1252(
    tmp_path: Path, facilities: gpd.GeoDataFrame
) -> None:
    shp = write_shapefile(facilities, tmp_path / "src", "faskes", "cp1252")
    assert "ñ".encode("cp1252") in shp.with_suffix(".dbf").read_bytes()
    parts = {f"faskes{e}": p for e, p in shp_parts(shp, skip=(".cpg",)).items()}
    raw = read_layer(zip_files(tmp_path / "faskes.zip", parts))
    assert raw.frame["nama"].tolist() == NAMES
    assert "encoding cp1252 (no .cpg file)" in raw.notes


def test_zipped_shapefile_without_cpg_in_utf8(tmp_path: Path, facilities: gpd.GeoDataFrame) -> None:
    shp = write_shapefile(facilities, tmp_path / "src", "faskes", "UTF-8")
    assert "ñ".encode() in shp.with_suffix(".dbf").read_bytes()
    parts = {f"faskes{e}": p for e, p in shp_parts(shp, skip=(".cpg",)).items()}
    raw = read_layer(zip_files(tmp_path / "faskes.zip", parts))
    assert raw.frame["nama"].tolist() == NAMES
    assert "encoding utf-8 (no .cpg file)" in raw.notes


def test_zipped_shapefile_without_prj_has_no_crs(
    tmp_path: Path, facilities: gpd.GeoDataFrame
) -> None:
    shp = write_shapefile(facilities.to_crs(32748), tmp_path / "src", "faskes", "UTF-8")
    parts = {f"faskes{e}": p for e, p in shp_parts(shp, skip=(".prj",)).items()}
    raw = read_layer(zip_files(tmp_path / "faskes.zip", parts))
    assert raw.frame.crs is None
    assert raw.crs_from_file is False
    assert "no .prj file: the coordinate reference system is unknown" in raw.notes
    assert raw.frame.geometry.iloc[0].x > 1000  # metres, left as they are


def test_zip_with_several_shapefiles_lists_them(
    tmp_path: Path, facilities: gpd.GeoDataFrame
) -> None:
    a = write_shapefile(facilities, tmp_path / "a", "faskes", "UTF-8")
    b = write_shapefile(facilities.iloc[:2], tmp_path / "b", "posyandu", "UTF-8")
    files = {f"faskes{e}": p for e, p in shp_parts(a).items()}
    files |= {f"lain/posyandu{e}": p for e, p in shp_parts(b).items()}
    path = zip_files(tmp_path / "semua.zip", files)
    with pytest.raises(InputError) as err:
        read_layer(path)
    assert err.value.file == "semua.zip"
    assert "faskes.shp" in str(err.value)
    assert "lain/posyandu.shp" in str(err.value)
    assert len(read_layer(path, layer="posyandu").frame) == 2
    assert len(read_layer(path, layer="faskes.shp").frame) == 3


def test_bare_shp_path(tmp_path: Path, facilities: gpd.GeoDataFrame) -> None:
    shp = write_shapefile(facilities, tmp_path, "faskes", "cp1252")
    shp.with_suffix(".cpg").unlink()
    raw = read_layer(shp)
    assert raw.format == "shapefile"
    assert raw.source == "faskes.shp"
    assert raw.frame["nama"].tolist() == NAMES
    assert "encoding cp1252 (no .cpg file)" in raw.notes


def test_kml_and_kmz(tmp_path: Path, facilities: gpd.GeoDataFrame) -> None:
    kml = tmp_path / "faskes.kml"
    pyogrio.write_dataframe(facilities, kml, driver="KML")
    raw = read_layer(kml)
    assert raw.format == "kml"
    assert raw.frame["nama"].tolist() == NAMES
    assert raw.frame["kode"].tolist() == CODES
    assert raw.frame.crs.to_epsg() == 4326
    assert xy(raw) == list(zip(LON, LAT, strict=True))
    for styling in ("tessellate", "extrude", "visibility", "drawOrder", "icon"):
        assert styling not in raw.frame.columns
    kmz = zip_files(tmp_path / "faskes.kmz", {"doc.kml": kml})
    raw_kmz = read_layer(kmz)
    assert raw_kmz.format == "kml"
    assert raw_kmz.frame["nama"].tolist() == NAMES


KML_FOLDERS = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>Survei Merangin</name>
<Folder><name>Posyandu</name>
 <Placemark><name>Posyandu Melati</name><description>Desa Renah Kemumu</description>
  <ExtendedData><Data name="kode_desa"><value>1502012001</value></Data></ExtendedData>
  <Point><coordinates>101.6,-2.44,0</coordinates></Point></Placemark>
 <Placemark><name>Posyandu Mawar</name><Point><coordinates>101.7,-2.45</coordinates></Point>
 </Placemark>
</Folder>
<Folder><name>Sumur</name>
 <Placemark><name>Sumur Bor 1</name><Point><coordinates>101.65,-2.40</coordinates></Point>
 </Placemark>
</Folder>
<Folder><name>Kosong</name></Folder>
</Document></kml>
"""


def test_kml_with_folders_needs_a_choice(tmp_path: Path) -> None:
    path = write_text(tmp_path / "survei.kml", KML_FOLDERS)
    assert list_layers(path) == ["Posyandu", "Sumur"]  # the empty folder is not offered
    with pytest.raises(InputError, match=r"survei.kml: the file has 2 layers \(Posyandu, Sumur\)"):
        read_layer(path)
    raw = read_layer(path, layer="Posyandu")
    assert raw.frame["Name"].tolist() == ["Posyandu Melati", "Posyandu Mawar"]
    assert raw.frame["kode_desa"].iloc[0] == "1502012001"
    assert xy(raw) == [(101.6, -2.44), (101.7, -2.45)]


# --------------------------------------------------------------------------- CSV


def test_csv_utf8_with_bom(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "osm.csv",
        "nama_fasilitas,latitude,longitude\r\nRS Dr. Bratanata,-1.6123,103.5987\r\n",
        "utf-8-sig",
    )
    raw = read_layer(path)
    assert list(raw.frame.columns[:3]) == ["nama_fasilitas", "latitude", "longitude"]
    assert "encoding utf-8 (with BOM)" in raw.notes
    assert raw.format == "csv"
    assert raw.frame["nama_fasilitas"].iloc[0] == "RS Dr. Bratanata"
    assert xy(raw) == [(103.5987, -1.6123)]
    assert raw.crs_from_file
    assert raw.frame.crs.to_epsg() == 4326
    assert list(raw.rows) == [2]


def test_csv_in_cp1252(tmp_path: Path) -> None:
    text = (
        "kode,nama,lat,lon\n"
        "0102030004,Posyandu Peñalosa,-2.1,101.5\n"
        "1502012002,Désa Café,-2.2,101.6\n"
        "1502012003,Pustu “Ma’ruf”,-2.3,101.7\n"
    )
    path = write_text(tmp_path / "posyandu.csv", text, "cp1252")
    raw = read_layer(path)
    assert raw.frame["nama"].tolist() == ["Posyandu Peñalosa", "Désa Café", "Pustu “Ma’ruf”"]
    assert raw.frame["kode"].tolist() == ["0102030004", "1502012002", "1502012003"]
    assert "encoding cp1252" in raw.notes


def test_csv_semicolon_with_decimal_comma(tmp_path: Path) -> None:
    text = "nama;lintang;bujur;jumlah_kk\nDesa A;-2,0812;102,2791;1.234,5\nDesa B;-2,5;101,75;88\n"
    raw = read_layer(write_text(tmp_path / "desa.csv", text))
    assert raw.coordinate_columns == ("lintang", "bujur")
    assert xy(raw) == [(102.2791, -2.0812), (101.75, -2.5)]
    assert "decimal comma" in raw.notes
    assert "delimiter ';'" in raw.notes
    assert raw.frame["jumlah_kk"].tolist() == ["1.234,5", "88"]  # left to validation
    assert raw.frame["lintang"].tolist() == ["-2,0812", "-2,5"]  # source text unchanged


def test_csv_decimal_comma_in_other_columns_is_noted(tmp_path: Path) -> None:
    raw = read_layer(write_text(tmp_path / "indikator.csv", "kode;skor\n1502012001;0,75\n"))
    assert "decimal comma" in raw.notes
    assert raw.frame["skor"].tolist() == ["0,75"]


def test_tab_delimited_txt(tmp_path: Path) -> None:
    raw = read_layer(write_text(tmp_path / "ekspor.txt", "nama\tlat\tlng\nA\t-2.1\t101.5\n"))
    assert raw.format == "csv"
    assert "delimiter tab" in raw.notes
    assert xy(raw) == [(101.5, -2.1)]


def test_csv_codes_stay_text_and_every_column_is_text(tmp_path: Path) -> None:
    text = "kode_bps_desa,R101,jumlah,nilai\n1501010001,15,0012,3.50\n0101010002,01,7,1e3\n"
    raw = read_layer(write_text(tmp_path / "podes.csv", text))
    assert raw.frame["kode_bps_desa"].tolist() == ["1501010001", "0101010002"]
    assert raw.frame["R101"].tolist() == ["15", "01"]
    assert raw.frame["jumlah"].tolist() == ["0012", "7"]
    assert raw.frame["nilai"].tolist() == ["3.50", "1e3"]
    for col in ("kode_bps_desa", "R101", "jumlah", "nilai"):
        assert_text_column(raw.frame[col])
    assert raw.frame.geometry.isna().all()
    assert raw.frame.crs is None
    assert raw.crs_from_file is False
    assert raw.coordinate_columns == ()
    assert COORD_ERROR not in raw.frame.columns


@pytest.mark.parametrize(
    ("lat_name", "lon_name"),
    [
        ("lat", "lon"),
        ("Latitude", "Longitude"),
        ("LINTANG", "BUJUR"),
        ("lat_", "long_"),
        ("_latitude", "_longitude"),
        ("Lat", "Lng"),
        ("lintang ", " bujur"),
    ],
)
def test_csv_latitude_longitude_names(tmp_path: Path, lat_name: str, lon_name: str) -> None:
    path = write_text(tmp_path / "titik.csv", f"nama,{lon_name},{lat_name}\nA,101.5,-2.1\n")
    raw = read_layer(path)
    assert [c.strip() for c in raw.coordinate_columns] == [lat_name.strip(), lon_name.strip()]
    assert xy(raw) == [(101.5, -2.1)]
    assert raw.frame.crs.to_epsg() == 4326
    assert raw.crs_from_file


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("koordinat", '"-2.1, 101.5"'),
        ("Koordinat", "-2.1 101.5"),
        ("coordinates", '"[-2.1, 101.5]"'),
        ("lokasi", '"(-2.1; 101.5)"'),
        ("koordinat", '"-2,1, 101,5"'),
        ("gps", "-2.1 101.5 310.0 4.8"),
    ],
)
def test_csv_single_coordinate_column(tmp_path: Path, column: str, value: str) -> None:
    path = write_text(tmp_path / "titik.csv", f"nama,{column}\nA,{value}\nB,\n")
    raw = read_layer(path)
    assert raw.coordinate_columns == (column,)
    assert xy(raw) == [(101.5, -2.1), None]
    assert coord_errors(raw) == [None, None]


def test_lokasi_column_holding_place_names_is_not_taken_for_coordinates(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "kebutuhan.csv", "lokasi,kategori\nDusun Baru,air\nSimpang,jalan\n"
    )
    raw = read_layer(path)
    assert raw.coordinate_columns == ()
    assert raw.frame["lokasi"].tolist() == ["Dusun Baru", "Simpang"]


def test_csv_wkt_column(tmp_path: Path) -> None:
    text = (
        "kode,wkt\n"
        '1502012001,"POLYGON ((101 -2, 101.1 -2, 101.1 -2.1, 101 -2))"\n'
        "1502012002,POINT (101.5 -2.2)\n"
        "1502012003,\n"
        "1502012004,POLYGON ((bad))\n"
    )
    raw = read_layer(write_text(tmp_path / "desa.csv", text))
    assert raw.coordinate_columns == ("wkt",)
    assert raw.frame.geometry.iloc[0].geom_type == "Polygon"
    assert raw.frame.geometry.iloc[0].area == pytest.approx(0.005)
    assert raw.frame.geometry.iloc[1].equals(shapely.Point(101.5, -2.2))
    assert raw.frame.geometry.iloc[2] is None
    assert coord_errors(raw) == [None, None, None, "POLYGON ((bad))"]
    assert raw.frame.crs is None
    assert not raw.crs_from_file


def test_csv_ewkt_geometry_column_gives_crs(tmp_path: Path) -> None:
    text = 'kode,geometry\n1502012001,"SRID=32748;POINT (255000 9720000)"\n'
    raw = read_layer(write_text(tmp_path / "titik.csv", text))
    assert raw.coordinate_columns == ("geometry",)
    assert raw.frame.crs.to_epsg() == 32748
    assert raw.crs_from_file
    assert raw.frame.geometry.iloc[0].x == 255000
    assert list(raw.frame.columns) == ["kode", COORD_ERROR, "geometry"]


def test_csv_x_y_columns_keep_an_unknown_crs(tmp_path: Path) -> None:
    text = "nama,X,Y\nA,255000.5,9720000.25\n"
    raw = read_layer(write_text(tmp_path / "utm.csv", text))
    assert raw.coordinate_columns == ("Y", "X")
    assert xy(raw) == [(255000.5, 9720000.25)]
    assert raw.frame.crs is None
    assert raw.crs_from_file is False
    assert any("does not say their coordinate reference system" in n for n in raw.notes)


def test_csv_blank_and_bad_coordinates(tmp_path: Path) -> None:
    text = (
        "nama,lat,lon\n"
        "ok,-2.1,101.5\n"
        "blank,,\n"
        "spaces,  ,  \n"
        "text,-2.1,dekat pasar\n"
        "dms,2°04'52\"S,101.5\n"
        "half,-2.3,\n"
        "huge,-3.449333,119415581.0\n"
        "minus,\u22122.5,101.5°\n"
        "nullword,null,NULL\n"
    )
    raw = read_layer(write_text(tmp_path / "faskes.csv", text))
    assert xy(raw) == [
        (101.5, -2.1),
        None,
        None,
        None,
        None,
        None,
        (119415581.0, -3.449333),  # a number: range checks belong to validation
        (101.5, -2.5),
        None,
    ]
    assert coord_errors(raw) == [
        None,
        None,
        None,
        "dekat pasar",
        "2°04'52\"S",
        "-2.3, (blank)",
        None,
        None,
        None,
    ]
    assert raw.frame[COORD_ERROR].isna().sum() == 6
    assert list(raw.rows) == list(range(2, 11))


def test_csv_blank_lines_and_quoted_newlines_keep_spreadsheet_line_numbers(tmp_path: Path) -> None:
    text = (
        "nama,alamat,lat,lon\r\n"
        "A,Jl. Satu,-2.1,101.5\r\n"
        "\r\n"
        '"B","Jl. Dua\r\nRT 02",-2.2,101.6\r\n'
        ",,,\r\n"
        "C,Jl. Tiga,-2.3,101.7\r\n"
        "\r\n"
    )
    raw = read_layer(write_text(tmp_path / "faskes.csv", text))
    assert raw.frame["nama"].tolist() == ["A", "B", "C"]
    assert raw.frame["alamat"].iloc[1] == "Jl. Dua\r\nRT 02"
    assert list(raw.rows) == [2, 4, 6]
    assert any("empty rows skipped" in n for n in raw.notes)


def test_csv_header_quirks(tmp_path: Path) -> None:
    text = "nama,nama,,lat,lon,\nA,B,catatan,-2.1,101.5,\n"
    raw = read_layer(write_text(tmp_path / "dup.csv", text))
    assert list(raw.frame.columns) == [
        "nama",
        "nama.1",
        "unnamed_3",
        "lat",
        "lon",
        COORD_ERROR,
        "geometry",
    ]
    assert raw.frame["nama.1"].iloc[0] == "B"
    assert raw.frame["unnamed_3"].iloc[0] == "catatan"


# --------------------------------------------------------------------------- XLSX


@pytest.fixture(params=["calamine", "openpyxl"])
def xlsx_engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with each XLSX reader: both must give the same table."""
    if request.param == "calamine":
        pytest.importorskip("python_calamine")
    monkeypatch.setattr(layers.io, "XLSX_ENGINE", request.param)
    return request.param


def make_workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def test_xlsx_first_sheet_as_text(tmp_path: Path, xlsx_engine: str) -> None:
    import datetime as dt

    path = make_workbook(
        tmp_path / "kebutuhan.xlsx",
        {
            "Kebutuhan": [
                ["kode_desa", "kategori", "tingkat", "tanggal", "lintang", "bujur"],
                ["0102030004", "air bersih", 4, dt.datetime(2024, 3, 5), -2.0812, 102.2791],
                [1502012001, "jalan", 2.5, dt.datetime(2024, 3, 6, 10, 30), "-2,5", "101,75"],
                [None, None, None, None, None, None],
                ["1502012003", "sekolah", 3, "05/03/2024", None, None],
            ],
            "Catatan": [["isi", "lain"], ["x", "y"]],
        },
    )
    raw = read_layer(path)
    assert raw.format == "xlsx"
    f = raw.frame
    assert f["kode_desa"].tolist() == ["0102030004", "1502012001", "1502012003"]
    assert f["tingkat"].tolist() == ["4", "2.5", "3"]
    assert f["tanggal"].tolist() == ["2024-03-05", "2024-03-06 10:30:00", "05/03/2024"]
    for col in ("kode_desa", "tingkat", "tanggal", "lintang"):
        assert_text_column(f[col])
    assert xy(raw) == [(102.2791, -2.0812), (101.75, -2.5), None]
    assert list(raw.rows) == [2, 3, 5]
    assert "decimal comma" in raw.notes
    assert "read the first sheet 'Kebutuhan' of 2" in raw.notes
    assert list_layers(path) == ["Kebutuhan", "Catatan"]


def test_xlsx_sheet_choice_and_title_above_header(tmp_path: Path, xlsx_engine: str) -> None:
    path = make_workbook(
        tmp_path / "data.xlsx",
        {
            "Ringkasan": [["ringkasan", "saja"], ["a", "b"]],
            "Faskes": [
                ["Daftar fasilitas kesehatan Kabupaten Merangin 2024"],
                [],
                ["nama", "lat", "lon"],
                ["Puskesmas Bangko", -2.08, 102.28],
            ],
        },
    )
    raw = read_layer(path, sheet="Faskes")
    assert raw.frame["nama"].tolist() == ["Puskesmas Bangko"]
    assert list(raw.rows) == [4]
    assert "header on line 3" in raw.notes
    assert xy(raw) == [(102.28, -2.08)]
    with pytest.raises(InputError, match=r"no sheet named 'Desa'.*Ringkasan, Faskes") as err:
        read_layer(path, sheet="Desa")
    assert err.value.file == "data.xlsx"


# --------------------------------------------------------------------------- Kobo / ODK


def test_kobo_csv_with_question_latitude_longitude_and_groups(tmp_path: Path) -> None:
    header = [
        "start",
        "grp_lokasi/nama_desa",
        "grp_lokasi/lokasi",
        "grp_lokasi/_lokasi_latitude",
        "grp_lokasi/_lokasi_longitude",
        "grp_lokasi/_lokasi_altitude",
        "grp_lokasi/_lokasi_precision",
        "kebutuhan",
        "_id",
        "_uuid",
        "_submission_time",
        "_index",
    ]
    rows = [
        [
            "2024-03-05T08:01:00",
            "Renah Kemumu",
            "-2.44 101.6 312 4.5",
            "-2.44",
            "101.6",
            "312",
            "4.5",
            "air_bersih",
            "101",
            "aaa-1",
            "2024-03-05T01:05:00",
            "1",
        ],
        [
            "2024-03-06T09:00:00",
            "Tanjung Kasri",
            "",
            "",
            "",
            "",
            "",
            "jalan",
            "102",
            "aaa-2",
            "2024-03-06T02:00:00",
            "2",
        ],
    ]
    text = "\n".join(";".join(f'"{v}"' for v in r) for r in [header, *rows]) + "\n"
    raw = read_layer(write_text(tmp_path / "survei_2024_03_07.csv", text))
    assert raw.format == "kobo-csv"
    assert raw.coordinate_columns == ("grp_lokasi/_lokasi_latitude", "grp_lokasi/_lokasi_longitude")
    assert "grp_lokasi/nama_desa" in raw.frame.columns  # original names kept
    assert xy(raw) == [(101.6, -2.44), None]
    assert coord_errors(raw) == [None, None]
    assert raw.frame["_id"].tolist() == ["101", "102"]


def test_kobo_csv_with_geolocation_only(tmp_path: Path) -> None:
    text = (
        "nama_desa,kebutuhan,_geolocation,_uuid\n"
        'Renah Kemumu,air,"[-2.44, 101.6]",a1\n'
        'Tanjung Kasri,jalan,"[None, None]",a2\n'
        "Muara Madras,listrik,-2.3 101.7,a3\n"
        'Lubuk Pungguk,sekolah,"[-2.5, tidak tahu]",a4\n'
    )
    raw = read_layer(write_text(tmp_path / "kobo.csv", text))
    assert raw.format == "kobo-csv"
    assert raw.coordinate_columns == ("_geolocation",)
    assert xy(raw) == [(101.6, -2.44), None, (101.7, -2.3), None]
    assert coord_errors(raw) == [None, None, None, "[-2.5, tidak tahu]"]


def test_odk_central_csv_with_gps_column(tmp_path: Path) -> None:
    text = (
        "SubmissionDate,meta-instanceID,nama,titik_rumah\n"
        "2024-03-05T01:05:00Z,uuid:1,Rumah A,-2.44 101.6 312.0 4.5\n"
        "2024-03-05T01:06:00Z,uuid:2,Rumah B,\n"
    )
    raw = read_layer(write_text(tmp_path / "odk.csv", text))
    assert raw.format == "kobo-csv"
    assert raw.coordinate_columns == ("titik_rumah",)
    assert xy(raw) == [(101.6, -2.44), None]


def test_odk_central_split_geopoint_columns(tmp_path: Path) -> None:
    text = (
        "SubmissionDate,grp-lokasi-Latitude,grp-lokasi-Longitude,grp-lokasi-Altitude\n"
        "2024-03-05,-2.44,101.6,312\n"
    )
    raw = read_layer(write_text(tmp_path / "odk.csv", text))
    assert raw.coordinate_columns == ("grp-lokasi-Latitude", "grp-lokasi-Longitude")
    assert xy(raw) == [(101.6, -2.44)]


def test_kobo_xlsx(tmp_path: Path, xlsx_engine: str) -> None:
    path = make_workbook(
        tmp_path / "kobo.xlsx",
        {
            "Survei Kebutuhan Desa": [
                [
                    "start",
                    "grp/nama_desa",
                    "grp/_lokasi_latitude",
                    "grp/_lokasi_longitude",
                    "_uuid",
                ],
                ["2024-03-05", "Renah Kemumu", -2.44, 101.6, "a1"],
                ["2024-03-06", "Tanjung Kasri", None, None, "a2"],
            ],
            "grp_anggota": [["nama", "_parent_index"], ["Siti", 1]],
        },
    )
    raw = read_layer(path)
    assert raw.format == "kobo-xlsx"
    assert raw.coordinate_columns == ("grp/_lokasi_latitude", "grp/_lokasi_longitude")
    assert xy(raw) == [(101.6, -2.44), None]
    assert raw.frame["grp/nama_desa"].tolist() == ["Renah Kemumu", "Tanjung Kasri"]


# --------------------------------------------------------------------------- GeoTIFF


def write_geotiff(path: Path, crs: str | None = "EPSG:4326") -> Path:
    import rasterio
    from rasterio.transform import Affine

    data = np.arange(12, dtype="float32").reshape(3, 4)
    data[0, 0] = -9999
    profile = {
        "driver": "GTiff",
        "height": 3,
        "width": 4,
        "count": 1,
        "dtype": "float32",
        "nodata": -9999.0,
        "transform": Affine(0.01, 0.0, 101.5, 0.0, -0.01, -2.0),
    }
    if crs:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data, 1)
    return path


def test_read_raster_info(tmp_path: Path) -> None:
    path = write_geotiff(tmp_path / "penduduk.tif")
    info = read_raster_info(path)
    assert info["crs"] == "EPSG:4326"
    assert info["crs_from_file"]
    assert info["bounds"] == pytest.approx((101.5, -2.03, 101.54, -2.0))
    assert info["shape"] == (3, 4)
    assert info["nodata"] == -9999.0
    assert info["dtype"] == "float32"
    assert info["res"] == pytest.approx((0.01, 0.01))
    assert info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info["source"] == "penduduk.tif"


def test_read_raster_info_rejects_non_geotiffs(tmp_path: Path) -> None:
    fake = write_text(tmp_path / "bukan.tif", "ini bukan gambar")
    with pytest.raises(InputError, match=re.escape("bukan.tif: not a readable GeoTIFF")):
        read_raster_info(fake)
    with pytest.raises(InputError, match=re.escape("raster must be a GeoTIFF")):
        read_raster_info(write_text(tmp_path / "peta.png", "x"))
    with pytest.raises(InputError, match=re.escape("hilang.tif: file not found")):
        read_raster_info(tmp_path / "hilang.tif")
    import rasterio

    plain = tmp_path / "foto.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        ds = rasterio.open(plain, "w", driver="GTiff", height=2, width=2, count=1, dtype="uint8")
        with ds:
            ds.write(np.zeros((1, 2, 2), dtype="uint8"))
    with pytest.raises(InputError, match=re.escape("foto.tif: the TIFF has no georeferencing")):
        read_raster_info(plain)
    with pytest.raises(InputError, match=re.escape("penduduk.tif: a GeoTIFF is a raster")):
        read_layer(write_geotiff(tmp_path / "penduduk.tif"))


# --------------------------------------------------------------------------- bad inputs


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=re.escape("faskes.csv: file not found")) as err:
        read_layer(tmp_path / "faskes.csv")
    assert err.value.file == "faskes.csv"
    (tmp_path / "folder.gpkg").mkdir()
    with pytest.raises(InputError, match=re.escape("folder.gpkg: this is a folder")):
        read_layer(tmp_path / "folder.gpkg")


def test_unknown_extension_lists_supported_ones(tmp_path: Path) -> None:
    path = write_text(tmp_path / "desa.xls", "x")
    with pytest.raises(InputError) as err:
        read_layer(path)
    message = str(err.value)
    assert message.startswith("desa.xls: unsupported file type '.xls'")
    for ext in (".csv", ".geojson", ".gpkg", ".kml", ".xlsx", ".zip"):
        assert ext in message


@pytest.mark.parametrize("name", ["a.csv", "a.geojson", "a.gpkg", "a.zip", "a.xlsx", "a.kml"])
def test_zero_byte_files(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(InputError, match=rf"{name}: the file is empty \(0 bytes\)"):
        read_layer(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("kosong.csv", "nama,lat,lon\n", "no data rows"),
        ("kosong2.csv", "nama,lat,lon\n,,\n\n", "no data rows"),
        ("spasi.csv", "\n\n  \n", "holds no text"),
        ("rusak.gpkg", "bukan sqlite", "cannot read the file as GeoPackage"),
        (
            "rusak.geojson",
            '{"type": "FeatureCollection", "features": [',
            "cannot read the file as GeoJSON",
        ),
        ("kosong.geojson", '{"type": "FeatureCollection", "features": []}', "has no features"),
        ("rusak.kml", "<kml><Document><Placemark>", "cannot read the file as KML"),
        ("rusak.zip", "PK\x03\x04 rusak", "unreadable archive"),
    ],
)
def test_unreadable_or_empty_files(tmp_path: Path, name: str, content: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as err:
        read_layer(write_text(tmp_path / name, content))
    assert err.value.file == name
    assert str(err.value).startswith(f"{name}: ")
    assert str(tmp_path) not in str(err.value)  # no server paths in user messages


@pytest.mark.parametrize("content", [b"PK bukan excel", b"hello", b"PK\x03\x04" + b"\0" * 60])
def test_unreadable_xlsx(tmp_path: Path, xlsx_engine: str, content: bytes) -> None:
    path = tmp_path / "rusak.xlsx"
    path.write_bytes(content)
    with pytest.raises(InputError, match=re.escape("rusak.xlsx: cannot read the file as Excel")):
        read_layer(path)


def test_xlsx_empty_sheet(tmp_path: Path, xlsx_engine: str) -> None:
    path = make_workbook(tmp_path / "kosong.xlsx", {"Data": [], "Lain": [["a", "b"], [1, 2]]})
    with pytest.raises(InputError, match=re.escape("kosong.xlsx: the sheet 'Data' is empty")):
        read_layer(path)
    header_only = make_workbook(tmp_path / "judul.xlsx", {"Data": [["nama", "lat", "lon"]]})
    with pytest.raises(
        InputError, match=re.escape("judul.xlsx: the file has a header but no data rows")
    ):
        read_layer(header_only)


def test_zip_without_shp(tmp_path: Path) -> None:
    path = zip_files(tmp_path / "data.zip", {"README.txt": b"halo", "desa.csv": b"a,b\n1,2\n"})
    with pytest.raises(InputError, match=r"data.zip: the archive holds no .shp file .*desa.csv"):
        read_layer(path)


def test_zip_with_incomplete_shapefile(tmp_path: Path, facilities: gpd.GeoDataFrame) -> None:
    shp = write_shapefile(facilities, tmp_path / "src", "faskes", "UTF-8")
    parts = {f"faskes{e}": p for e, p in shp_parts(shp, skip=(".dbf",)).items()}
    with pytest.raises(
        InputError, match=r"faskes.zip: the shapefile faskes.shp is incomplete: faskes.dbf"
    ):
        read_layer(zip_files(tmp_path / "faskes.zip", parts))


def test_zip_with_corrupt_shapefile(tmp_path: Path) -> None:
    files = {"faskes.shp": b"not a shape", "faskes.shx": b"nope", "faskes.dbf": b"\x03" * 40}
    with pytest.raises(
        InputError, match=re.escape("faskes.zip: cannot read the file as Shapefile")
    ):
        read_layer(zip_files(tmp_path / "faskes.zip", files))


@pytest.mark.parametrize(
    ("text", "row", "found", "expected"),
    [
        ("nama,lat,lon\nA,-2.1,101.5\nB,-2.2,101.6,lebih\nC,-2.3,101.7\n", 3, 4, 3),
        ("nama,lat,lon\nA,-2.1,101.5\n\nC,-2.3\n", 4, 2, 3),
        ("nama;lat;lon\nA;-2,1;101,5\nB;-2,2\n", 3, 2, 3),
        ('nama,alamat,lat,lon\nA,"Jl. Satu\nRT 1",-2.1,101.5\nB,x,-2.2,101.6,9\n', 3, 5, 4),
    ],
)
def test_csv_row_with_wrong_number_of_fields_is_named(
    tmp_path: Path, text: str, row: int, found: int, expected: int
) -> None:
    with pytest.raises(InputError) as err:
        read_layer(write_text(tmp_path / "faskes.csv", text))
    assert err.value.file == "faskes.csv"
    assert err.value.row == row
    assert f"has {found} fields but the header has {expected}" in str(err.value)
    assert str(err.value).startswith(f"faskes.csv, row {row}: ")


def test_options_that_do_not_apply(tmp_path: Path, facilities: gpd.GeoDataFrame) -> None:
    csv = write_text(tmp_path / "a.csv", "nama,lat,lon\nA,-2.1,101.5\n")
    with pytest.raises(
        InputError, match=re.escape("a.csv: a sheet can only be chosen in an .xlsx file")
    ):
        read_layer(csv, sheet="Sheet1")
    with pytest.raises(InputError, match=re.escape("a.csv: a layer can only be chosen")):
        read_layer(csv, layer="a")


# --------------------------------------------------------------------------- performance


@pytest.mark.slow
def test_a_million_row_csv_reads_in_seconds(tmp_path: Path) -> None:
    n = 1_000_000
    rng = np.random.default_rng(7)
    ids = np.char.add("F", np.char.zfill(np.arange(n).astype(str), 7))
    frame = pd.DataFrame(
        {
            "facility_id": ids,
            "kode": np.char.add("15020", np.char.zfill((np.arange(n) % 99_999).astype(str), 5)),
            "lintang": np.round(rng.uniform(-3, -1, n), 6),
            "bujur": np.round(rng.uniform(101, 104, n), 6),
            "jenis": "puskesmas",
        }
    )
    path = tmp_path / "besar.csv"
    frame.to_csv(path, index=False, sep=";", decimal=",")
    start = time.perf_counter()
    raw = read_layer(path)
    elapsed = time.perf_counter() - start
    assert len(raw.frame) == n
    assert raw.rows[-1] == n + 1
    assert raw.frame["kode"].iloc[1] == "1502000001"
    assert raw.frame.geometry.iloc[-1].y == pytest.approx(frame["lintang"].iloc[-1])
    assert raw.frame[COORD_ERROR].isna().all()
    assert elapsed < 10, f"reading {n} rows took {elapsed:.1f} s"


# --------------------------------------------------------------------------- real data


@pytest.mark.shared
def test_real_village_boundaries() -> None:
    raw = read_layer(shared_file("jambi", "boundaries", "desa_kelurahan_15_02.geojson"))
    assert raw.format == "geojson"
    assert len(raw.frame) == 215
    assert list(raw.rows[:2]) == [1, 2]
    assert raw.rows[-1] == 215
    assert raw.frame.crs.to_epsg() == 4326
    first = raw.frame.iloc[0]
    assert (first["kode"], first["kode10"], first["nama"]) == (
        "15.02.01.2001",
        "1502012001",
        "Renah Kemumu",
    )
    assert set(raw.frame.geometry.geom_type) <= {"Polygon", "MultiPolygon"}
    assert raw.frame["kode"].str.startswith("15.02.").all()


@pytest.mark.shared
def test_real_facilities_geojson() -> None:
    raw = read_layer(shared_file("jambi", "facilities", "faskes_jambi_2019.geojson"))
    assert len(raw.frame) == 170
    first = raw.frame.iloc[0]
    assert first["kode_faskes"] == "P1508022202"
    assert first["nama_faskes"] == "LUBUK MADRASAH"
    assert (first.geometry.x, first.geometry.y) == (102.656059, -1.567263)


@pytest.mark.shared
def test_real_national_facility_csv_with_corrupt_longitude() -> None:
    raw = read_layer(shared_file("jambi", "facilities", "faskes_indonesia_2019_bppsdmk.csv"))
    assert raw.format == "csv"
    assert len(raw.frame) == 10267
    assert raw.coordinate_columns == ("lat_", "long_")
    assert raw.frame["kode_prov"].iloc[0] == "11"
    assert raw.frame["nama_faskes"].iloc[0] == "ISAQ"
    assert xy(raw)[0] == (96.85218, 4.489889)
    assert raw.frame[COORD_ERROR].isna().all()
    corrupt = raw.frame.index[raw.frame["long_"] == "119415581.0"]
    assert len(corrupt) == 1
    assert raw.frame.loc[corrupt[0], "nama_faskes"] == "BINUANG"
    assert raw.rows[corrupt[0]] == corrupt[0] + 2  # line in the spreadsheet
    assert raw.frame.geometry.iloc[corrupt[0]].x == 119415581.0  # validation rejects it


@pytest.mark.shared
def test_real_osm_csv_with_bom() -> None:
    raw = read_layer(shared_file("osm-sample", "fasilitas_kesehatan_jabar_dki_osm.csv"))
    assert list(raw.frame.columns[:2]) == ["nama_fasilitas", "jenis_fasilitas"]
    assert "encoding utf-8 (with BOM)" in raw.notes
    assert len(raw.frame) == 1937
    assert raw.frame["nama_fasilitas"].iloc[0] == "RS ZR Tedja"
    first = raw.frame.geometry.iloc[0]
    assert (first.x, first.y) == (107.6201443, -6.9057428)
    assert raw.frame.geometry.notna().all()


@pytest.mark.shared
def test_real_podes_table_keeps_codes_as_text() -> None:
    raw = read_layer(shared_file("jambi", "podes", "podes2019_jambi.csv"))
    assert len(raw.frame) == 1469
    assert raw.frame.shape[1] == 313 + 1  # 313 source columns and geometry
    assert raw.coordinate_columns == ()
    assert raw.frame.geometry.isna().all()
    kode = raw.frame["kode_bps_desa"]
    assert_text_column(kode)
    assert kode.iloc[0] == "1501010001"
    assert (kode.str.len() == 10).all()
    assert raw.frame["R102"].iloc[0] == "01"  # leading zero kept
