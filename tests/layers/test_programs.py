"""The program register: import and export with row-level checks, edits and conflicts,
assignments from a scenario, and the needs lifecycle, on every store backend."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from shapely.geometry import box

from layers.errors import InputError, NotFoundError
from layers.programs import (
    Register,
    RegisterImportError,
    assign_from_scenario,
    export_register,
    import_register,
    latest_version,
)
from layers.programs import files as register_files
from layers.programs.needs_status import (
    current_status,
    lifecycle_log,
    record_need_action,
    you_said_we_did,
)
from layers.storage import ConflictError, open_store
from tests.layers import test_storage as contract

postgis_database = contract.postgis_database
store_url = contract.store_url

CODES = ["15.02.01.2001", "15.02.01.2002", "15.02.02.2001", "15.02.02.2002"]
A, B, C, D = CODES


def village_layer() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "kode": CODES,
            "name": ["Alfa", "Bravo", "Charlie", "Delta"],
            "kecamatan": ["Satu", "Satu", "Dua", "Dua"],
            "population": [100.0, 80.0, 160.0, 110.0],
        },
        geometry=[box(102 + i * 0.01, -2, 102.01 + i * 0.01, -1.99) for i in range(4)],
        crs="EPSG:4326",
    )


@pytest.fixture
def store(store_url):
    s = open_store(store_url)
    s.init()
    s.create_workspace("merangin")
    s.put_dataset(
        "merangin", "villages", village_layer(), source_name="v.gpkg", source_sha256=None,
        report={},
    )  # fmt: skip
    yield s
    s.close()


PROGRAMS = (
    "id_program,nama_program,sektor,pelaksana,asal_dana,anggaran,tanggal_mulai,"
    "tanggal_selesai,sasaran,status\n"
    'P-01,Posyandu aktif,kesehatan,Yayasan Sehat,APBD,"1.500.000,50",2024-01-01,'
    "31/12/2024,KK,aktif\n"
    "P-02,Sumur bor,Air bersih,,Donor X,0,01/02/2024,,,\n"
)
ASSIGNMENTS = (
    "id_program,kode_desa,rencana,capaian,satuan,tanggal_mulai,status,skenario\n"
    "P-01,1502012001,100,20,,2024-01-05,aktif,Skenario A\n"
    "P-01,15.02.01.2002,50,,,,,\n"
    "P-02,15.02.02.2001,10,10,orang,2024-03-01,selesai,\n"
)
ACTIVITIES = (
    "id_program,kode_desa,tanggal,angka,satuan,uraian\n"
    "P-01,15.02.01.2001,15/03/2024,120,KK,120 KK dijangkau Maret\n"
    "P-02,,2024-04-01,5,,Pelatihan kader\n"
)


def write_csvs(folder: Path, **overrides: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    texts = {"programs": PROGRAMS, "assignments": ASSIGNMENTS, "activities": ACTIVITIES}
    texts.update(overrides)
    for name, text in texts.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder / "programs.csv"


def test_import_reads_indonesian_columns_and_fills_defaults(store, tmp_path):
    result = import_register(store, "merangin", write_csvs(tmp_path / "reg"), user="ani")
    assert (result.version, result.base_version) == (1, 0)
    assert result.counts == {"programs": 2, "assignments": 3, "activities": 2}
    reg = Register.load(store, "merangin")
    p = reg.programs.set_index("program_id")
    assert p.loc["P-01", "sector"] == "health"
    assert p.loc["P-02", "sector"] == "water_sanitation"
    assert p.loc["P-01", "budget"] == 1_500_000.5  # decimal comma, dots for thousands
    assert p.loc["P-01", "end"] == pd.Timestamp("2024-12-31")  # day first
    assert p.loc["P-02", "start"] == pd.Timestamp("2024-02-01")
    assert p.loc["P-01", "target_group"] == "households"  # "KK"
    assert (p.loc["P-02", "target_group"], p.loc["P-02", "status"]) == ("persons", "planned")
    assert p.loc["P-02", "organisation"] is None
    a = reg.assignments
    assert a["kode"].tolist() == [A, B, C]  # 1502012001 normalised to the workspace's form
    assert a["achieved"].tolist() == [20, 0, 10]
    assert a["unit"].tolist() == ["households", "households", "persons"]
    assert a["status"].tolist() == ["active", "planned", "completed"]
    assert a["scenario"].tolist() == ["Skenario A", None, None]
    act = reg.activities
    assert act["activity_id"].tolist() == ["A000002", "A000003"]  # generated from the row
    assert act["kode"].tolist() == [A, None]
    assert act["unit"].tolist() == ["households", "persons"]
    assert act["date"].tolist() == [pd.Timestamp("2024-03-15"), pd.Timestamp("2024-04-01")]
    info = store.dataset_info("merangin", "programs")
    assert (info.created_by, info.kind) == ("ani", "derived")


def test_dry_run_writes_nothing(store, tmp_path):
    result = import_register(store, "merangin", write_csvs(tmp_path / "reg"), dry_run=True)
    assert result.version is None
    assert result.counts["assignments"] == 3
    assert latest_version(store, "merangin") == 0


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_export_then_import_gives_the_same_register(store, tmp_path, fmt):
    import_register(store, "merangin", write_csvs(tmp_path / "reg"))
    first = Register.load(store, "merangin")
    target = tmp_path / ("out.xlsx" if fmt == "xlsx" else "out.zip")
    written = export_register(store, "merangin", target, fmt=fmt)
    assert written == target
    assert target.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    import_register(store, "merangin", target)
    second = Register.load(store, "merangin")
    assert second.version == 2
    for table in ("programs", "assignments", "activities"):
        pd.testing.assert_frame_equal(getattr(first, table), getattr(second, table))


def test_xlsx_export_keeps_codes_as_text_cells(store, tmp_path):
    import_register(store, "merangin", write_csvs(tmp_path / "reg"))
    target = export_register(store, "merangin", tmp_path / "register.xlsx")
    wb = openpyxl.load_workbook(target)
    assert wb.sheetnames == ["programs", "assignments", "activities"]
    ws = wb["assignments"]
    assert [c.value for c in ws[1]][:4] == ["program_id", "kode", "planned", "achieved"]
    assert ws["B2"].value == A
    assert ws["B2"].data_type == "s"
    assert ws["B2"].number_format == "@"
    assert ws["C2"].value == 100  # numbers stay numbers


def test_csv_zip_export_holds_three_files(store, tmp_path):
    import_register(store, "merangin", write_csvs(tmp_path / "reg"))
    target = export_register(store, "merangin", tmp_path / "register.csv")
    assert target.suffix == ".zip"
    with zipfile.ZipFile(target) as z:
        assert z.namelist() == ["programs.csv", "assignments.csv", "activities.csv"]
        text = z.read("programs.csv").decode()
    assert text.splitlines()[1].startswith(
        "P-01,Posyandu aktif,health,Yayasan Sehat,APBD,1500000.5"
    )


def test_failed_export_leaves_the_old_file(store, tmp_path, monkeypatch):
    import_register(store, "merangin", write_csvs(tmp_path / "reg"))
    target = tmp_path / "register.xlsx"
    target.write_bytes(b"old")

    def broken(frames, path):
        Path(path).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(register_files, "_write_xlsx", broken)
    with pytest.raises(OSError, match="disk full"):
        export_register(store, "merangin", target)
    assert target.read_bytes() == b"old"
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".register.xlsx")]


def test_import_reads_an_xlsx_with_indonesian_sheet_names(store, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "program"
    ws.append(["Daftar program 2024"])  # a title above the header
    ws.append(["program_id", "name", "sector"])
    ws.append(["007", "Kelas ibu", "gizi"])
    lokasi = wb.create_sheet("lokasi")
    lokasi.append(["program_id", "kode", "planned"])
    lokasi.append(["007", B, 12])
    path = tmp_path / "daftar.xlsx"
    wb.save(path)
    import_register(store, "merangin", path)
    reg = Register.load(store, "merangin")
    assert reg.programs["program_id"].tolist() == ["007"]
    assert reg.programs["sector"].tolist() == ["nutrition"]
    assert reg.assignments[["kode", "planned"]].values.tolist() == [[B, 12]]
    assert len(reg.activities) == 0


# --- bad rows ---------------------------------------------------------------------------------

P_HEAD = "program_id,name,sector,budget,start,end\n"
P_OK = "P-01,Posyandu,health,1000,2024-01-01,2024-12-31\n"
A_HEAD = "program_id,kode,planned,achieved,start,end\n"
A_OK = f"P-01,{A},10,5,2024-01-01,2024-06-30\n"
L_HEAD = "activity_id,program_id,kode,date,figure\n"
L_OK = f"L1,P-01,{A},2024-02-01,5\n"


@pytest.mark.parametrize(
    ("table", "bad_row", "column", "message"),
    [
        ("assignments", "P-01,15.02.09.2001,10,5,,\n", "kode",
         "unknown village code '15.02.09.2001': it is not in the workspace's villages"),
        ("assignments", "P-01,12345,10,5,,\n", "kode",
         "'12345' is not a valid village code: a desa code has 10 digits, this one has 5"),
        ("assignments", f"P-01,{B},10,5,2024-05-01,2024-04-01\n", "end",
         "the end 2024-04-01 is before the start 2024-05-01"),
        ("programs", "P-02,Sumur,air bersih,0,2024-05-01,2023-12-31\n", "end",
         "the end 2023-12-31 is before the start 2024-05-01"),
        ("assignments", f"P-01,{B},-3,0,,\n", "planned", "-3 is negative; it must be 0 or more"),
        ("assignments", f"P-01,{B},3,2.5,,\n", "achieved",
         "2.5 is not a whole number of beneficiaries"),
        ("assignments", f"P-09,{B},3,1,,\n", "program_id",
         "unknown program 'P-09': it is not in the programs table"),
        ("programs", "P-01,Lagi,health,0,,\n", "program_id",
         "P-01 is repeated; row 2 has it already"),
        ("assignments", f"P-01,{A},1,1,,\n", "kode",
         f"P-01 / {A} is repeated; row 2 has it already"),
        ("activities", f"L1,P-01,{A},2024-03-01,1\n", "activity_id",
         "L1 is repeated; row 2 has it already"),
        ("programs", "P-02,Sumur,health,0,31/02/2024,\n", "start",
         "'31/02/2024' is not a date; write YYYY-MM-DD or DD/MM/YYYY"),
        ("programs", "P-02,Sumur,health,satu juta,,\n", "budget", "'satu juta' is not a number"),
        ("programs", "P-02,Sumur,teknologi,0,,\n", "sector",
         "'teknologi' is not one of: health, education"),
        ("programs", "P-02,,health,0,,\n", "name", "a value is required here"),
        ("activities", f"L2,P-01,{A},kemarin,1\n", "date", "'kemarin' is not a date"),
        ("activities", f"L2,P-01,{A},2024-03-01,-1\n", "figure", "-1 is negative"),
    ],
)  # fmt: skip
def test_a_bad_row_is_named_and_nothing_is_written(
    store, tmp_path, table, bad_row, column, message
):
    import_register(store, "merangin", write_csvs(tmp_path / "good"))
    before = Register.load(store, "merangin")
    texts = {
        "programs": P_HEAD + P_OK,
        "assignments": A_HEAD + A_OK,
        "activities": L_HEAD + L_OK,
    }
    texts[table] += bad_row
    path = write_csvs(tmp_path / "bad", **texts)
    with pytest.raises(RegisterImportError) as caught:
        import_register(store, "merangin", path)
    problems = caught.value.problems
    assert len(problems) == 1, [str(p) for p in problems]
    problem = problems[0]
    assert (problem.file, problem.sheet, problem.row, problem.column) == (
        f"{table}.csv",
        table,
        3,
        column,
    )
    assert message in problem.message
    assert str(problem).startswith(f"{table}.csv, sheet '{table}', row 3, column '{column}': ")
    assert "nothing was written" in str(caught.value)
    after = Register.load(store, "merangin")
    assert after.version == before.version == 1
    for name in ("programs", "assignments", "activities"):
        pd.testing.assert_frame_equal(getattr(after, name), getattr(before, name))


def test_every_bad_row_is_reported_at_once(store, tmp_path):
    path = write_csvs(
        tmp_path / "bad",
        programs=P_HEAD + P_OK + "P-02,X,health,-5,2024-05-01,2024-01-01\n",
        assignments=A_HEAD + A_OK + "P-09,99.99.99.9999,-1,x,,\n",
        activities=L_HEAD + L_OK,
    )
    with pytest.raises(RegisterImportError) as caught:
        import_register(store, "merangin", path)
    where = [(p.sheet, p.row, p.column) for p in caught.value.problems]
    assert where == [
        ("programs", 3, "budget"),
        ("programs", 3, "end"),
        ("assignments", 3, "program_id"),
        ("assignments", 3, "kode"),
        ("assignments", 3, "planned"),
        ("assignments", 3, "achieved"),
    ]
    assert latest_version(store, "merangin") == 0
    assert caught.value.problems[0].to_dict()["row"] == 3


def test_file_level_problems(store, tmp_path):
    path = write_csvs(tmp_path / "nocol", programs="program_id,sector\nP-01,health\n")
    with pytest.raises(RegisterImportError) as caught:
        import_register(store, "merangin", path)
    problem = caught.value.problems[0]
    assert (problem.column, problem.row) == ("name", None)
    assert "accepted names: name, nama_program" in problem.message
    with pytest.raises(InputError, match=r"unsupported register file '\.gpkg'"):
        import_register(store, "merangin", _touch(tmp_path / "x.gpkg"))
    lone = tmp_path / "only"
    lone.mkdir()
    (lone / "kegiatan.csv").write_text(L_HEAD + L_OK)
    with pytest.raises(InputError, match="no programs table found"):
        import_register(store, "merangin", lone)
    with pytest.raises(InputError, match="file not found"):
        import_register(store, "merangin", tmp_path / "missing.xlsx")
    assert latest_version(store, "merangin") == 0


def _touch(path: Path) -> Path:
    path.write_bytes(b"x")
    return path


# --- edits and conflicts ----------------------------------------------------------------------


def test_edits_are_checked_and_saved_as_versions(store, tmp_path):
    import_register(store, "merangin", write_csvs(tmp_path / "reg"))
    reg = Register.load(store, "merangin")
    result = reg.add_program(
        {"program_id": "P-03", "name": "PAUD", "sector": "pendidikan", "start": "2024-07-01"},
        user="budi",
        note="rapat 3 Juli",
    )
    assert (result.version, result.rebased) == (2, False)
    assert reg.version == 2
    saved = Register.load(store, "merangin").programs.set_index("program_id")
    assert saved.loc["P-03", ["sector", "status", "target_group"]].tolist() == [
        "education", "planned", "persons",
    ]  # fmt: skip
    assert store.dataset_info("merangin", "program_assignments").note == "rapat 3 Juli"
    with pytest.raises(InputError, match="the end 2024-01-01 is before the start 2024-07-01") as e:
        reg.update_program("P-03", {"end": "2024-01-01"})
    assert e.value.column == "end"
    with pytest.raises(InputError, match="unknown village code"):
        reg.add_assignments([{"program_id": "P-03", "kode": "15.02.09.2001"}])
    with pytest.raises(InputError, match="already exists"):
        reg.add_assignments([{"program_id": "P-01", "kode": A}])
    with pytest.raises(InputError, match="unknown program 'P-99'"):
        reg.add_activities([{"program_id": "P-99", "date": "2024-01-01", "figure": 1}])
    with pytest.raises(InputError, match="unknown columns for programs: budjet"):
        reg.update_program("P-03", {"budjet": 5})
    with pytest.raises(NotFoundError, match="no programs row 'P-77'"):
        reg.remove_program("P-77")
    assert latest_version(store, "merangin") == 2
    removed = reg.remove_program("P-01", user="budi")
    assert removed.counts == {"programs": 2, "assignments": 1, "activities": 1}
    assert "also removed its 2 assignments and 1 activity entries" in str(removed.notes[1])


def test_an_edit_on_an_old_version_is_refused_only_when_its_rows_changed(store, tmp_path):
    import_register(store, "merangin", write_csvs(tmp_path / "reg"))
    ani = Register.load(store, "merangin")
    budi = Register.load(store, "merangin")
    ani.update_assignment("P-01", A, {"achieved": 80}, user="ani")
    # Budi's edit touches another row: applied on top of Ani's, and says so.
    result = budi.update_assignment("P-01", B, {"achieved": 30}, user="budi")
    assert (result.base_version, result.version, result.rebased) == (1, 3, True)
    assert "on top of version 2" in str(result.notes[0])
    latest = Register.load(store, "merangin").assignments.set_index("kode")
    assert latest.loc[A, "achieved"] == 80
    assert latest.loc[B, "achieved"] == 30
    # Citra still holds version 1 and edits Ani's row: refused.
    citra = Register.load(store, "merangin", 1)
    with pytest.raises(ConflictError, match="changed since version 1") as caught:
        citra.update_assignment("P-01", A, {"achieved": 90})
    assert caught.value.expected == 1
    with pytest.raises(ConflictError):
        citra.remove_program("P-01")  # its assignment to A changed
    assert latest_version(store, "merangin") == 3


def test_assign_from_scenario(store, tmp_path):
    import_register(store, "merangin", write_csvs(tmp_path / "reg"))
    scenario = {"name": "Skenario B", "summary": {"villages": [A, C, D]}, "other": 1}
    result = assign_from_scenario(store, "merangin", "P-01", scenario, planned=40, user="ani")
    assert result.version == 2
    assert "1 villages were already assigned to P-01" in str(result.notes[-1])
    a = Register.load(store, "merangin").assignments
    new = a.loc[a["scenario"] == "Skenario B"]
    assert new["kode"].tolist() == [C, D]
    assert new["planned"].tolist() == [40, 40]
    assert new["unit"].tolist() == ["households"] * 2
    assert store.dataset_info("merangin", "programs").note == "Skenario B"
    again = assign_from_scenario(store, "merangin", "P-01", scenario)
    assert again.version == 2  # nothing new
    with pytest.raises(NotFoundError, match="no program 'P-77'"):
        assign_from_scenario(store, "merangin", "P-77", scenario)
    with pytest.raises(InputError, match=r"summary\.villages"):
        assign_from_scenario(store, "merangin", "P-01", {"name": "x", "villages": [A]})
    with pytest.raises(InputError, match="unknown village code"):
        assign_from_scenario(
            store, "merangin", "P-02", {"name": "y", "summary": {"villages": ["15.02.09.2001"]}}
        )


# --- needs lifecycle --------------------------------------------------------------------------


def needs_layer(status: list[str | None]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "need_id": ["N1", "N2", "N3"],
            "category": ["health", "water", "health"],
            "severity": np.array([4, 3, 5], dtype=np.int64),
            "reported_date": pd.to_datetime(["2024-01-10", "2024-01-11", "2024-02-01"]),
            "status": status,
            "kode": [A, A, B],
        },
        geometry=gpd.GeoSeries([None, None, None]),
        crs="EPSG:4326",
    )


def put_needs(store, status):
    store.put_dataset(
        "merangin", "needs", needs_layer(status), source_name="n.csv", source_sha256=None,
        report={},
    )  # fmt: skip


def test_needs_lifecycle_survives_a_reimport(store, tmp_path):
    import_register(store, "merangin", write_csvs(tmp_path / "reg"))
    put_needs(store, ["open", "verified", None])
    note = record_need_action(store, "merangin", "N1", "verified", on="2024-02-01", by="ani")
    assert "status is now verified" in str(note)
    record_need_action(
        store, "merangin", "N1", "linked", on="2024-02-05", by="ani", program_id="P-01"
    )
    record_need_action(
        store, "merangin", "N1", "closed", on="05/06/2024", by="budi", note="posyandu berjalan"
    )
    record_need_action(store, "merangin", "N3", "verified", on="2024-02-02", by="ani")
    assert len(lifecycle_log(store, "merangin")) == 4
    put_needs(store, ["open", "addressed", "open"])  # re-imported: the lifecycle stays
    status = current_status(store, "merangin").set_index("need_id")
    assert status["status_imported"].tolist() == ["open", "addressed", "open"]
    assert status["status"].tolist() == ["closed", "addressed", "verified"]
    assert status.loc["N1", "closed_on"] == pd.Timestamp("2024-06-05")
    assert status.loc["N1", "closed_by"] == "budi"
    assert status.loc["N1", "linked_programs"] == "P-01"
    assert pd.isna(status.loc["N2", "verified_on"])
    story = you_said_we_did(store, "merangin", A)
    assert story["name"] == "Alfa"
    assert [n["need_id"] for n in story["needs"]] == ["N1", "N2"]
    n1 = story["needs"][0]
    assert [s["action"] for s in n1["lifecycle"]] == ["verified", "linked", "closed"]
    assert n1["lifecycle"][2]["date"] == "2024-06-05"
    assert [p["program_id"] for p in story["programs"]] == ["P-01"]
    assert story["programs"][0]["addresses"] == ["N1"]
    assert story["programs"][0]["assignment"]["achieved"] == 20


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"need_id": "N9", "action": "verified"}, "no need 'N9'"),
        ({"need_id": "N1", "action": "done"}, "unknown action 'done'"),
        ({"need_id": "N1", "action": "linked"}, "needs the program"),
        ({"need_id": "N1", "action": "verified", "by": " "}, "say who did it"),
        ({"need_id": "N1", "action": "verified", "on": "besok"}, "is not a date"),
    ],
)
def test_needs_lifecycle_refuses_bad_steps(store, kwargs, message):
    put_needs(store, ["open", "open", "open"])
    args = {"on": "2024-02-01", "by": "ani", **kwargs}
    with pytest.raises(InputError, match=message):
        record_need_action(store, "merangin", args.pop("need_id"), args.pop("action"), **args)
    with pytest.raises(NotFoundError, match="no program 'P-01'"):
        record_need_action(
            store, "merangin", "N1", "linked", on="2024-02-01", by="ani", program_id="P-01"
        )
    assert len(lifecycle_log(store, "merangin")) == 0


def test_needs_of_several_layers_are_told_apart_by_their_layer(store):
    """A survey and the musrenbang list both number their needs N1, N2, ...: a step names one."""
    put_needs(store, ["open", "open", "open"])  # dataset "needs"
    store.put_dataset(
        "merangin", "needs", needs_layer(["open", "open", "open"]), name="musrenbang",
        source_name="m.csv", source_sha256=None, report={},
    )  # fmt: skip
    with pytest.raises(InputError, match=r"several needs layers \(musrenbang, needs\)") as caught:
        record_need_action(store, "merangin", "N1", "verified", on="2024-02-01", by="ani")
    assert caught.value.column == "layer"
    with pytest.raises(InputError, match="no needs layer 'kobo'"):
        record_need_action(
            store, "merangin", "N1", "verified", on="2024-02-01", by="ani", layer="kobo"
        )
    note = record_need_action(
        store, "merangin", "N1", "closed", on="2024-03-01", by="ani", layer="musrenbang"
    )
    assert "status is now closed" in str(note)
    status = current_status(store, "merangin").set_index(["layer", "need_id"])
    assert status.loc[("musrenbang", "N1"), "status"] == "closed"
    assert status.loc[("needs", "N1"), "status"] == "open"  # same id, other layer: untouched
    assert len(status) == 6
    story = you_said_we_did(store, "merangin", A)
    seen = {(n["layer"], n["need_id"]): n for n in story["needs"]}
    assert set(seen) == {
        ("musrenbang", "N1"),
        ("musrenbang", "N2"),
        ("needs", "N1"),
        ("needs", "N2"),
    }
    assert [s["action"] for s in seen[("musrenbang", "N1")]["lifecycle"]] == ["closed"]
    assert seen[("needs", "N1")]["lifecycle"] == []


def test_lifecycle_entries_without_a_layer_belong_to_the_needs_layer(store):
    """Logs written before entries named their layer still apply (to the layer "needs")."""
    from layers.programs.needs_status import DATASET, overlay

    put_needs(store, ["open", "open", "open"])
    old = pd.DataFrame(
        {
            "need_id": ["N2"],
            "action": ["verified"],
            "date": pd.to_datetime(["2024-01-20"]),
            "by": ["ani"],
            "note": [""],
            "program_id": pd.Series([None], dtype="object"),
        }
    )
    store.put_dataset(
        "merangin", "derived", old, name=DATASET, source_name=None, source_sha256=None, report={}
    )
    log = lifecycle_log(store, "merangin")
    assert log["layer"].tolist() == ["needs"]
    status = overlay(needs_layer(["open", "open", "open"]), log).set_index("need_id")
    assert status["status"].tolist() == ["open", "verified", "open"]
