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
