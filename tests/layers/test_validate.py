"""Validation into canonical layers: repairs, placement, CRS policy, codes (good paths)."""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from layers.codes import CodeBridge
from layers.validate import import_layer
from tests.conftest import shared_file

A = shapely.box(102.0, -2.1, 102.1, -2.0)
B = shapely.box(102.09, -2.1, 102.2, -2.0)  # overlaps A in a 0.01-degree strip
VILLAGES = gpd.GeoDataFrame(
    {
        "kode": ["15.02.01.2001", "15.02.01.1002"],
        "name": ["Desa Satu", "Kelurahan Dua"],
        "village_type": ["desa", "kelurahan"],
    },
    geometry=[A, B],
    crs=4326,
)


def write_csv(tmp_path, text, name="input.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def finding_codes(report, action):
    return sorted({f.code for f in report.findings if f.action == action})


def test_villages_get_hierarchy_and_type_from_the_code(tmp_path):
    src = VILLAGES.drop(columns=["village_type"]).rename(columns={"name": "nama"})
    src["kode"] = ["1502012001", "15.02.01.1002"]  # with and without dots
    path = tmp_path / "desa.gpkg"
    pyogrio.write_dataframe(src, path)
    result = import_layer(path, "villages")
    assert result.ok
    v = result.data
    assert v["kode"].tolist() == ["15.02.01.2001", "15.02.01.1002"]
    assert v["kecamatan_kode"].tolist() == ["15.02.01", "15.02.01"]
    assert v["kabupaten_kode"].tolist() == ["15.02", "15.02"]
    assert v["provinsi_kode"].tolist() == ["15", "15"]
    assert v["village_type"].tolist() == ["desa", "kelurahan"]
    assert v.crs.to_epsg() == 4326
    assert result.report.counts() == {
        "read": 2,
        "accepted": 2,
        "repaired": 0,
        "rejected": 0,
        "warnings": 0,
    }


def test_self_intersecting_polygon_is_repaired_and_reported(tmp_path):
    bowtie = shapely.Polygon([(102.0, -2.0), (102.1, -2.1), (102.1, -2.0), (102.0, -2.1)])
    src = gpd.GeoDataFrame(
        {"kode": ["1502012001", "1502012002"], "nama": ["Simpul", "Biasa"]},
        geometry=[bowtie, B],
        crs=4326,
    )
    path = tmp_path / "desa.geojson"
    src.to_file(path)
    result = import_layer(path, "villages")
    assert result.ok
    repaired = result.report.repaired
    assert [(f.row, f.column) for f in repaired] == [(1, "geometry")]
    assert "Self-intersection" in repaired[0].message
    fixed = result.data.geometry.iloc[0]
    assert fixed.is_valid
    # The bow-tie's two triangles, each 0.1 x 0.05 / 2 ... together half the box area.
    assert fixed.area == pytest.approx(0.1 * 0.1 / 2, rel=1e-9)
    assert result.report.counts()["repaired"] == 1


def test_points_in_overlap_outside_and_swapped(tmp_path):
    path = write_csv(
        tmp_path,
        "id,nama,jenis,lintang,bujur\n"
        "F1,Pustu Satu,pustu,-2.05,102.03\n"  # in A only
        "F2,Posyandu Tepi,posyandu,-2.05,102.0995\n"  # in both; deeper in A (0.0005 vs 0.0095)
        "F3,Puskesmas Jauh,puskesmas,-3.5,103.5\n"  # outside every village
        "F4,SD Tertukar,SD,102.15,-2.05\n",  # lat/lon swapped; inside B once swapped
    )
    kept = import_layer(path, "facilities", workspace_villages=VILLAGES)
    assert kept.ok
    d = kept.data.set_index("facility_id")
    assert d.loc["F1", "kode"] == "15.02.01.2001"
    assert d.loc["F2", "kode"] == "15.02.01.1002"
    assert pd.isna(d.loc["F3", "kode"])
    assert d.loc["F4", "type"] == "sd"
    assert d.loc["F4", "sector"] == "education"
    warnings = {(f.code, f.row) for f in kept.report.warnings}
    assert ("point_in_overlap", 3) in warnings
    assert ("point_outside_villages", 4) in warnings
    assert ("latlon_swapped_suggested", 5) in warnings
    overlap = next(f for f in kept.report.warnings if f.code == "point_in_overlap")
    assert overlap.params["chosen"] == "15.02.01.1002"
    assert "15.02.01.2001" in overlap.params["codes"]

    fixed = import_layer(path, "facilities", workspace_villages=VILLAGES, swap_repair=True)
    f4 = fixed.data.set_index("facility_id").loc["F4"]
    assert (f4.geometry.x, f4.geometry.y) == (102.15, -2.05)
    assert f4["kode"] == "15.02.01.1002"
    assert [(f.code, f.row) for f in fixed.report.repaired] == [("latlon_swapped", 5)]


def test_kemenkes_code_that_disagrees_with_location_is_flagged(tmp_path, jambi_codes_dir):
    path = write_csv(
        tmp_path,
        "kode_faskes,nama_faskes,jenis_faskes,lat_,long_\n"
        "P1502020201,PUSKESMAS BENAR,PUSKESMAS,-2.05,102.05\n"
        "P1508022202,PUSKESMAS SALAH TEMPAT,PUSKESMAS,-2.05,102.15\n",  # BPS 1508 = 15.09
    )
    bridge = CodeBridge.from_directory(jambi_codes_dir)
    result = import_layer(path, "facilities", workspace_villages=VILLAGES, bridge=bridge)
    assert result.ok
    flagged = [f for f in result.report.warnings if f.code == "code_disagrees_with_location"]
    assert [(f.row, f.params["expected"], f.params["found"]) for f in flagged] == [
        (3, "15.09", "15.02")
    ]
    assert result.data["source_code"].tolist() == ["P1502020201", "P1508022202"]
    assert len(result.data) == 2  # flagged, never dropped


def test_crs_is_assumed_for_degrees_and_transformed_from_utm(tmp_path):
    shp = tmp_path / "desa.shp"
    pyogrio.write_dataframe(VILLAGES, shp)
    (tmp_path / "desa.prj").unlink()
    assumed = import_layer(shp, "villages")
    assert "crs_assumed" in finding_codes(assumed.report, "warning")
    assert assumed.data.crs.to_epsg() == 4326

    utm = tmp_path / "utm.gpkg"
    pyogrio.write_dataframe(VILLAGES.to_crs(32748), utm)
    moved = import_layer(utm, "villages")
    assert moved.data.crs.to_epsg() == 4326
    assert np.allclose(moved.data.total_bounds, VILLAGES.total_bounds, atol=1e-7)


def test_needs_keyed_by_code_or_placed_by_point(tmp_path):
    path = write_csv(
        tmp_path,
        "kategori;tingkat;tanggal;kode_desa;sumber;status;keterangan;lintang;bujur\n"
        "Air Bersih;4;2024-03-01;1502012001;Musrenbang;baru;sumur kering;;\n"
        "gizi;5;15/04/2024;;survei;terverifikasi;balita kurang gizi;-2,05;102,15\n"
        "jalan;2;2030-01-01;15.02.01.2001;pengaduan;ditangani;jalan rusak;;\n",
    )
    result = import_layer(path, "needs", workspace_villages=VILLAGES, today=date(2026, 11, 27))
    assert result.ok, list(result.report.lines())
    n = result.data
    assert n["category"].tolist() == ["water", "nutrition", "infrastructure"]
    assert n["severity"].tolist() == [4, 5, 2]
    assert n["kode"].tolist() == ["15.02.01.2001", "15.02.01.1002", "15.02.01.2001"]
    assert n["source"].tolist() == ["musrenbang", "survey", "complaint"]
    assert n["status"].tolist() == ["open", "verified", "addressed"]
    assert n["reported_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-03-01",
        "2024-04-15",
        "2030-01-01",
    ]
    assert n.geometry.isna().tolist() == [True, False, True]
    assert [(f.code, f.row) for f in result.report.warnings] == [("date_future", 4)]


def test_indicator_tables_keep_numbers_and_years(tmp_path):
    path = write_csv(
        tmp_path,
        "kode_desa,tahun,nama_desa,iks,status_idm\n"
        "1502012001,2023,SATU,0.61,Berkembang\n"
        '1502012001,2024,SATU,"0,65",Maju\n'
        "1502011002,2024,DUA,0.70,Maju\n",
    )
    result = import_layer(path, "indicators", workspace_villages=VILLAGES)
    assert result.ok
    d = result.data
    assert d.columns.tolist() == ["kode", "tahun", "iks"]
    assert d["iks"].tolist() == [0.61, 0.65, 0.70]
    assert d["tahun"].tolist() == [2023, 2024, 2024]
    ignored = [f for f in result.report.warnings if f.code == "column_ignored"]
    assert "nama_desa" in ignored[0].message
    assert "status_idm" in ignored[0].message


def test_podes_joins_only_through_the_crosswalk(tmp_path):
    codes_dir = shared_file("jambi", "codes")
    crosswalk = shared_file("jambi", "podes", "crosswalk_podes_bps_to_kemendagri.csv")
    regencies = pd.read_csv(codes_dir / "bridging_kabkota_2020.csv", dtype=str)
    villages = pd.read_csv(crosswalk, dtype=str, keep_default_na=False)
    bridge = CodeBridge(regencies, None, villages)
    podes = pd.read_csv(
        shared_file("jambi", "podes", "podes2019_jambi.csv"),
        dtype=str,
        usecols=["kode_bps_desa", "R401A1", "R401A2", "R401B"],
    )
    path = tmp_path / "podes.csv"
    podes.to_csv(path, index=False)
    result = import_layer(path, "indicators", bridge=bridge, code_system="bps")
    # Every row either joined through the crosswalk or was reported with its code.
    expected_unmatched = villages.loc[villages["kode_dagri_desa"] == "", "kode_bps_desa"]
    expected_unmatched = set(expected_unmatched) & set(podes["kode_bps_desa"])
    assert set(result.report.unmatched_codes) == expected_unmatched
    assert result.report.rejected_count == len(expected_unmatched)
    assert len(result.data) + result.report.rejected_count == len(podes)
    # No joined code was produced by a prefix: each equals the crosswalk's answer.
    answer = dict(zip(villages["kode_bps_desa"], villages["kode_dagri_desa"], strict=True))
    for bps, kode in zip(result.data["kode_bps"], result.data["kode"], strict=True):
        assert kode == answer[bps]
    swapped = result.data[result.data["kode_bps"].str.startswith("1508")]
    assert len(swapped) > 0
    assert swapped["kode"].str.startswith("15.09").all()  # Tebo: BPS 1508 = Kemendagri 15.09


def test_real_facilities_in_the_wrong_regency_are_flagged_never_dropped(jambi_codes_dir):
    kerinci = import_layer(
        shared_file("jambi", "boundaries", "desa_kelurahan_15_01.geojson"), "villages"
    )
    assert kerinci.ok
    assert len(kerinci.data) == 287
    bridge = CodeBridge.from_directory(jambi_codes_dir)
    result = import_layer(
        shared_file("jambi", "facilities", "faskes_jambi_2019.geojson"),
        "facilities",
        workspace_villages=kerinci.data,
        bridge=bridge,
    )
    counts = result.report.counts()
    assert counts["read"] == counts["accepted"] + counts["rejected"] == 170
    flagged = [f for f in result.report.warnings if f.code == "code_disagrees_with_location"]
    # A Sungai Penuh (15.72) puskesmas whose point lies inside a Kerinci (15.01) village.
    assert [(f.params["expected"], f.params["found"]) for f in flagged] == [("15.72", "15.01")]
    row = flagged[0].row
    assert result.data.iloc[row - 1]["source_code"].startswith("P1572")
    assert result.data.iloc[row - 1]["kode"].startswith("15.01.")
    outside = result.report.by_code()[("warning", "point_outside_villages")]
    assert outside == int(result.data["kode"].isna().sum())  # outside Kerinci, kept, counted


def test_national_list_rejects_the_corrupt_longitude_and_counts_every_row(jambi_codes_dir):
    result = import_layer(
        shared_file("jambi", "facilities", "faskes_indonesia_2019_bppsdmk.csv"),
        "facilities",
        bridge=CodeBridge.from_directory(jambi_codes_dir),
    )
    counts = result.report.counts()
    assert counts["read"] == counts["accepted"] + counts["rejected"]
    by_code = result.report.by_code()
    assert by_code[("rejected", "coordinate_out_of_range")] == 1
    assert by_code[("rejected", "value_not_allowed")] == 2  # two DINAS PROVINSI rows
    bad = next(f for f in result.report.rejected if f.code == "coordinate_out_of_range")
    assert bad.column == "lat_,long_"
