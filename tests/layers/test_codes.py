"""Kemendagri code parsing and the BPS bridge, checked against the real code tables."""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest

from layers.codes import (
    CodeBridge,
    kemendagri_level,
    normalize_kemendagri,
    normalize_kemendagri_series,
    parent_codes,
    village_type,
)
from layers.errors import InputError
from tests.conftest import shared_file


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("15.02.01.2001", "15.02.01.2001"),
        ("1502012001", "15.02.01.2001"),
        (" 1502012001 ", "15.02.01.2001"),
        ("1502012001.0", "15.02.01.2001"),  # through a spreadsheet as a number
        (1502012001, "15.02.01.2001"),
        ("15.2.1.2001", "15.02.01.2001"),  # unpadded parts
        ("15 02 01 1002", "15.02.01.1002"),
    ],
)
def test_normalize_accepts_with_and_without_dots(raw, expected):
    assert normalize_kemendagri(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        (None, "empty"),
        ("15.02.01.3001", "must start with 1 (kelurahan) or 2 (desa)"),
        ("150201200", "has 10 digits, this one has 9"),
        ("15020120011", "has 10 digits, this one has 11"),
        ("15.02.00.2001", "kecamatan part cannot be 00"),
        ("15.00.01.2001", "kabupaten/kota part cannot be 00"),
        ("0502012001", "province part 05"),
        ("15.02.01.2A01", "only digits"),
        ("15.02.01.20011", "parts of 2, 2, 2 and 4 digits"),
    ],
)
def test_normalize_rejects_with_reason(raw, reason):
    with pytest.raises(ValueError, match=re.escape(reason)):
        normalize_kemendagri(raw)


def test_levels_and_hierarchy():
    assert kemendagri_level("15") == "provinsi"
    assert kemendagri_level("15.02") == "kabupaten"
    assert kemendagri_level("150201") == "kecamatan"
    assert kemendagri_level("15.02.01.2001") == "desa"
    assert normalize_kemendagri("1502", level="kabupaten") == "15.02"
    assert parent_codes("1502012001") == {
        "provinsi_kode": "15",
        "kabupaten_kode": "15.02",
        "kecamatan_kode": "15.02.01",
    }
    assert village_type("15.02.01.1002") == "kelurahan"
    assert village_type("15.02.01.2001") == "desa"


def test_series_normalisation_reports_each_bad_code():
    codes, errors = normalize_kemendagri_series(
        pd.Series(["1502012001", "15.02.01.1002", None, "x", "1502012001"])
    )
    assert codes.tolist()[:2] == ["15.02.01.2001", "15.02.01.1002"]
    assert codes.isna().tolist() == [False, False, True, True, False]
    assert "empty" in errors[2]
    assert "only digits" in errors[3]


def test_every_real_kemendagri_code_normalises_to_itself():
    table = pd.read_csv(
        shared_file("jambi", "codes", "kode_wilayah_15_kepmendagri2025.csv"), dtype=str
    )
    villages = table[table["level"] == "desa_kelurahan"]
    codes, errors = normalize_kemendagri_series(villages["kode10"])
    assert errors.isna().all()
    assert codes.tolist() == villages["kode"].tolist()


def test_bridge_translates_swapped_regencies_never_by_prefix(jambi_codes_dir, tmp_path):
    shutil.copy(jambi_codes_dir / "bridging_kabkota_2020.csv", tmp_path)
    bridge = CodeBridge.from_directory(tmp_path)
    # In Jambi, BPS 1508 (Tebo) is Kemendagri 15.09 and BPS 1509 (Bungo) is 15.08.
    assert bridge.regency_to_kemendagri("1508") == "15.09"
    assert bridge.regency_to_kemendagri("1509") == "15.08"
    assert bridge.regency_to_kemendagri("1502") == "15.02"
    implied = bridge.kemenkes_regency(pd.Series(["P1508022202", "P1502020201", "junk", None]))
    assert implied.tolist()[:2] == ["15.09", "15.02"]
    assert pd.isna(implied[2])
    assert pd.isna(implied[3])


def test_village_crosswalk_reports_unmatched_with_counts(tmp_path):
    shutil.copy(shared_file("jambi", "codes", "bridging_kabkota_2020.csv"), tmp_path)
    shutil.copy(shared_file("jambi", "podes", "crosswalk_podes_bps_to_kemendagri.csv"), tmp_path)
    bridge = CodeBridge.from_directory(tmp_path)
    result = bridge.villages_to_kemendagri(
        pd.Series(["1501010001", "1501030008", "9999999999", "9999999999"])
    )
    assert result.kode[0] == "15.01.01.2003"
    assert result.method.tolist() == [
        "exact_name_in_kec",
        "unmatched",
        "not_in_crosswalk",
        "not_in_crosswalk",
    ]
    assert result.unmatched == {"1501030008": 1, "9999999999": 2}


def test_bridge_folder_without_regency_table_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match=r"bridging_kabkota_2020\.csv"):
        CodeBridge.from_directory(tmp_path)


def test_bridge_table_missing_columns_names_them():
    with pytest.raises(ValueError, match="lacks column"):
        CodeBridge(pd.DataFrame({"bps": ["1502"]}))


def test_invalid_codes_become_findings_named_by_problem(tmp_path):
    from layers.validate import import_layer

    path = tmp_path / "idm.csv"
    path.write_text("kode_desa,skor\n1502013001,1\n150201,2\n15.02.00.2001,3\n", encoding="utf-8")
    report = import_layer(path, "indicators").report
    found = {(f.code, f.row): f for f in report.rejected}
    assert set(found) == {("code_village_digit", 2), ("code_length", 3), ("code_zero_part", 4)}
    assert found[("code_length", 3)].params == {
        "value": "150201",
        "level": "desa",
        "want": 10,
        "got": 6,
    }
    assert "must start with 1 (kelurahan) or 2 (desa)" in found[("code_village_digit", 2)].message
