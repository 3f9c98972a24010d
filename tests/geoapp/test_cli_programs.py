"""``geoapp programs``, ``geoapp needs`` and ``geoapp coverage`` through click's runner."""

from __future__ import annotations

import json

import click
import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from shapely.geometry import Point, box

from geoapp.cli_programs import coverage, needs, programs
from layers.storage import open_store

CODES = ["15.02.01.2001", "15.02.01.2002", "15.02.02.2001", "15.02.02.2002"]
A, B, C, D = CODES


@click.group()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """The commands under test, as the lead registers them in ``geoapp``."""


for _command in (programs, needs, coverage):
    cli.add_command(_command)

COMMANDS = [
    ["programs"],
    ["programs", "import"],
    ["programs", "export"],
    ["programs", "list"],
    ["programs", "show"],
    ["programs", "assign"],
    ["programs", "log"],
    ["programs", "change"],
    ["needs"],
    ["needs", "verify"],
    ["needs", "link"],
    ["needs", "close"],
    ["coverage"],
]


@pytest.fixture
def url(tmp_path) -> str:
    """A store with villages (in EPSG:4326 near Jambi), a puskesmas and two needs."""
    url = f"sqlite:///{tmp_path / 'jangkau.sqlite'}"
    store = open_store(url)
    store.init()
    store.create_workspace("merangin")
    villages = gpd.GeoDataFrame(
        {
            "kode": CODES,
            "name": ["Alfa", "Bravo", "Charlie", "Delta"],
            "kecamatan": ["Satu", "Satu", "Dua", "Dua"],
            "kabupaten": ["Merangin"] * 4,
            "population": [1500.0, 800.0, 1600.0, 1100.0],
        },
        geometry=[box(102 + i * 0.01, -2, 102.01 + i * 0.01, -1.99) for i in range(4)],
        crs="EPSG:4326",
    )
    store.put_dataset(
        "merangin", "villages", villages, source_name="v", source_sha256=None, report={}
    )
    facilities = gpd.GeoDataFrame(
        {"facility_id": ["F1"], "name": ["Puskesmas Alfa"], "type": ["puskesmas"], "kode": [A]},
        geometry=[Point(102.005, -1.995)],
        crs="EPSG:4326",
    )
    store.put_dataset(
        "merangin", "facilities", facilities, source_name="f", source_sha256=None, report={}
    )
    needs_layer = gpd.GeoDataFrame(
        {
            "need_id": ["N1", "N2"],
            "category": ["health", "water"],
            "severity": np.array([4, 3], dtype=np.int64),
            "reported_date": pd.to_datetime(["2025-01-10", "2025-01-11"]),
            "status": ["open", "open"],
            "kode": [A, B],
        },
        geometry=gpd.GeoSeries([None, None]),
        crs="EPSG:4326",
    )
    store.put_dataset(
        "merangin", "needs", needs_layer, source_name="n", source_sha256=None, report={}
    )
    store.put_record(
        "merangin", "scenarios", "puskesmas_2025",
        {"name": "puskesmas_2025", "summary": {"villages": [C, D]}},
    )  # fmt: skip
    store.close()
    return url


@pytest.fixture
def run(url, tmp_path):
    def invoke(*args: str, lang: str = "en"):
        env = {
            "GEOAPP_INSTANCE_PATH": str(tmp_path / "instance"),
            "GEOAPP_DATABASE_URL": url,
            "GEOAPP_LOCALE": lang,
            "LC_ALL": "",
            "LANG": "C.UTF-8",
        }
        return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)

    return invoke


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_of_every_command_has_examples(run, command):
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.output


def write_register(folder):
    folder.mkdir()
    (folder / "programs.csv").write_text(
        "id_program,nama_program,sektor,anggaran,tanggal_mulai,sasaran,status\n"
        "P-01,Posyandu aktif,kesehatan,1500000,2025-01-01,orang,aktif\n"
    )
    (folder / "assignments.csv").write_text(
        f"id_program,kode_desa,rencana,capaian,tanggal_mulai,status\n"
        f"P-01,{A},1200,1000,2025-01-05,aktif\n"
    )
    return folder / "programs.csv"


def test_import_list_show_assign_log_export(run, tmp_path):
    path = write_register(tmp_path / "reg")
    dry = run("programs", "import", path, "-w", "merangin", "--dry-run")
    assert dry.exit_code == 0
    assert "nothing was written" in dry.output
    done = run("programs", "import", path, "-w", "merangin", "--user", "ani")
    assert done.exit_code == 0, done.output
    assert "saved as version 1 of the register" in done.output
    listed = run("programs", "list", "-w", "merangin", lang="id")
    assert listed.exit_code == 0
    assert "P-01" in listed.output
    assert "1.200" in listed.output
    assigned = run("programs", "assign", "P-01", "-w", "merangin", "--scenario", "puskesmas_2025")
    assert assigned.exit_code == 0
    assert "version 2" in assigned.output
    kode = run("programs", "assign", "P-01", "-w", "merangin", "--kode", A, "--kode", B)
    assert "1 villages were already assigned to P-01" in kode.output
    logged = run(
        "programs", "log", "P-01", "-w", "merangin", "--date", "2025-03-31", "--figure", "120",
        "--unit", "persons", "--kode", B, "--description", "120 orang dijangkau",
    )  # fmt: skip
    assert logged.exit_code == 0
    assert "version 4" in logged.output
    shown = run("programs", "show", "P-01", "-w", "merangin", "--json")
    data = json.loads(shown.output)
    assert [a["kode"] for a in data["assignments"]] == [A, C, D, B]
    assert data["activities"][0]["figure"] == 120
    assert data["activities"][0]["date"] == "2025-03-31"
    text = run("programs", "show", "P-01", "-w", "merangin")
    assert "Posyandu aktif" in text.output
    assert "120 orang dijangkau" in text.output
    out = tmp_path / "register.xlsx"
    exported = run("programs", "export", out, "-w", "merangin")
    assert exported.exit_code == 0
    assert out.exists()
    assert openpyxl.load_workbook(out).sheetnames == ["programs", "assignments", "activities"]
    neither = run("programs", "assign", "P-01", "-w", "merangin")
    assert neither.exit_code != 0
    assert "either --scenario" in neither.output


def test_import_with_bad_rows_lists_them_and_exits_2(run, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "programs.csv").write_text("program_id,name,sector\nP-01,X,health\n")
    (folder / "assignments.csv").write_text(
        "program_id,kode,planned\nP-01,15.02.09.2001,5\nP-02,15.02.01.2001,-1\n"
    )
    result = run("programs", "import", folder / "programs.csv", "-w", "merangin")
    assert result.exit_code == 2
    assert (
        "assignments.csv, sheet 'assignments', row 2, column 'kode': unknown village code "
        "'15.02.09.2001'" in result.output
    )
    assert "row 3, column 'program_id': unknown program 'P-02'" in result.output
    assert "row 3, column 'planned': -1 is negative" in result.output
    assert "3 problems; nothing was written" in result.output
    as_json = run("programs", "import", folder / "programs.csv", "-w", "merangin", "--json")
    assert as_json.exit_code == 2
    problems = json.loads(as_json.output)["problems"]
    assert [(p["sheet"], p["row"], p["column"]) for p in problems] == [
        ("assignments", 2, "kode"), ("assignments", 3, "program_id"),
        ("assignments", 3, "planned"),
    ]  # fmt: skip
    listed = run("programs", "list", "-w", "merangin")
    assert "no programs yet" in listed.output


def test_needs_steps(run, tmp_path):
    run("programs", "import", write_register(tmp_path / "reg"), "-w", "merangin")
    verified = run("needs", "verify", "N1", "-w", "merangin", "--by", "ani", "--date", "2025-02-01")
    assert verified.exit_code == 0
    assert "need N1 verified on 2025-02-01; its status is now verified" in verified.output
    linked = run("needs", "link", "N1", "-w", "merangin", "--by", "ani", "--program", "P-01")
    assert "status is now in_progress" in linked.output
    closed = run("needs", "close", "N1", "-w", "merangin", "--by", "budi", "--note", "selesai")
    assert "status is now closed" in closed.output
    unknown = run("needs", "verify", "N9", "-w", "merangin", "--by", "ani")
    assert unknown.exit_code == 1
    assert "no need 'N9'" in unknown.output


def test_coverage_table_text_json_and_csv(run, tmp_path):
    run("programs", "import", write_register(tmp_path / "reg"), "-w", "merangin")
    text = run("coverage", "-w", "merangin", "--as-of", "2025-06-30", lang="id")
    assert text.exit_code == 0, text.output
    assert "Satu" in text.output
    assert "puskesmas" in text.output
    assert "2.300" in text.output  # people of kecamatan Satu, Indonesian grouping
    assert "P-01" in text.output
    csv_path = tmp_path / "cakupan.csv"
    result = run(
        "coverage", "-w", "merangin", "--as-of", "2025-06-30", "--level", "village", "--json",
        "--csv", csv_path,
    )  # fmt: skip
    data = json.loads(result.output)
    assert data["as_of"] == "2025-06-30"
    assert data["inputs"]["register"] == 1
    program = data["reach"]["by_program"][0]
    assert (program["group"], program["villages_reached"], program["achieved_persons"]) == (
        "P-01", 1, 1000,
    )  # fmt: skip
    table = pd.read_csv(csv_path, dtype={"area_kode": str})
    assert table["area_kode"].tolist() == CODES
    assert table["people"].tolist() == [1500, 800, 1600, 1100]
    bad = run("coverage", "-w", "merangin", "--as-of", "besok")
    assert bad.exit_code == 1
    assert "as_of must be a date" in bad.output


def add_runs(url: str) -> None:
    """Two saved runs of profile ``akses`` (a table and a record each), values by hand."""
    store = open_store(url)
    for score, distance in (
        ([40.0, 50.0, 70.0, 90.0], [2.0, 3.0, 9.0, 11.0]),
        ([30.0, 35.0, 66.0, 88.0], [1.0, 2.0, 9.0, None]),
    ):
        table = pd.DataFrame({"kode": CODES, "score": score, "distance_km": distance})
        saved = store.put_dataset(
            "merangin", "derived", table, name="score-akses", source_name="s",
            source_sha256=None, report={},
        )  # fmt: skip
        store.put_record("merangin", "score_runs", "akses", {"table": saved.ref})
    store.close()


def test_programs_change_equals_before_after_and_the_hand_computed_figures(run, url, tmp_path):
    from layers.coverage import before_after
    from layers.score_run import load_run

    run("programs", "import", write_register(tmp_path / "reg"), "-w", "merangin")
    run("programs", "assign", "P-01", "-w", "merangin", "--kode", C)  # P-01: A and C
    add_runs(url)
    got = run("programs", "change", "P-01", "-w", "merangin", "--profile", "akses",
              "--baseline", "1", "--json")  # fmt: skip
    assert got.exit_code == 0, got.output
    data = json.loads(got.output)
    assert data["selected"] == [A, C]
    assert (data["baseline"], data["followup"]) == (1, 2)  # follow-up: the latest run
    rows = {r["measure"]: r for r in data["rows"]}
    score = rows["score"]
    assert score["selected_before"] == pytest.approx((40 + 70) / 2)
    assert score["selected_after"] == pytest.approx((30 + 66) / 2)
    assert score["other_change"] == pytest.approx((35 + 88) / 2 - (50 + 90) / 2)
    assert score["difference_in_differences"] == pytest.approx(-7.0 - -8.5)
    # D has no follow-up distance: only B counts among the others.
    distance = rows["distance_km"]
    assert (distance["other_villages"], distance["other_before"]) == (1, 3.0)
    assert distance["other_change"] == pytest.approx(-1.0)
    store = open_store(url)
    try:
        core = before_after(
            load_run(store, "merangin", "akses", 1), load_run(store, "merangin", "akses", 2),
            [A, C],
        )  # fmt: skip
    finally:
        store.close()
    assert data["rows"] == json.loads(core.to_json(orient="records"))
    text = run("programs", "change", "P-01", "-w", "merangin", "--profile", "akses",
               "--baseline", "1", "--followup", "2", lang="id")  # fmt: skip
    assert text.exit_code == 0, text.output
    line = next(x for x in text.output.splitlines() if x.strip().startswith("score"))
    # Indonesian decimals: 55,00 -> 48,00 for the program's villages, difference 1,50.
    assert "55,00" in line
    assert "48,00" in line
    assert "1,50" in line
    same = run("programs", "change", "P-01", "-w", "merangin", "--profile", "akses",
               "--baseline", "2")  # fmt: skip
    assert same.exit_code == 1
    assert "another run" in same.output
    missing = run("programs", "change", "P-01", "-w", "merangin", "--profile", "lain",
                  "--baseline", "1")  # fmt: skip
    assert missing.exit_code == 1
    assert "no saved score run" in missing.output


def test_needs_layer_option(run, url, tmp_path):
    run("programs", "import", write_register(tmp_path / "reg"), "-w", "merangin")
    store = open_store(url)
    other = gpd.GeoDataFrame(
        {
            "need_id": ["N1"],
            "category": ["road"],
            "severity": np.array([2], dtype=np.int64),
            "reported_date": pd.to_datetime(["2025-02-01"]),
            "status": ["open"],
            "kode": [D],
        },
        geometry=gpd.GeoSeries([None]),
        crs="EPSG:4326",
    )
    store.put_dataset("merangin", "needs", other, name="needs_musrenbang", source_name="m",
                      source_sha256=None, report={})  # fmt: skip
    store.close()
    which = run("needs", "verify", "N1", "-w", "merangin", "--by", "ani")
    assert which.exit_code == 1
    assert "several needs layers (needs, needs_musrenbang)" in which.output
    done = run("needs", "verify", "N1", "-w", "merangin", "--by", "ani",
               "--layer", "needs_musrenbang", "--date", "2025-03-01")  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "need N1 verified on 2025-03-01" in done.output
    linked = run("needs", "link", "N1", "-w", "merangin", "--by", "ani", "--program", "P-01",
                 "--layer", "needs")  # fmt: skip
    assert linked.exit_code == 0, linked.output
    closed = run("needs", "close", "N1", "-w", "merangin", "--by", "ani",
                 "--layer", "needs_musrenbang")  # fmt: skip
    assert "status is now closed" in closed.output
    wrong = run("needs", "close", "N1", "-w", "merangin", "--by", "ani", "--layer", "kobo")
    assert wrong.exit_code == 1
    assert "no needs layer 'kobo'" in wrong.output
    from layers.programs.needs_status import current_status

    store = open_store(url)
    try:
        status = current_status(store, "merangin").set_index(["layer", "need_id"])["status"]
    finally:
        store.close()
    assert status[("needs", "N1")] == "in_progress"
    assert status[("needs_musrenbang", "N1")] == "closed"
