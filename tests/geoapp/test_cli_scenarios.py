"""``geoapp scenario`` through click's runner, on the six-village store of the scenario tests.

By hand (see ``tests/layers/test_scenarios.py``): need-weighted people Satu 0, Dua 400,
Tiga 200, Empat 2,400, Lima 2,000, Enam 1,500; people 1,000 / 2,000 / 500 / 4,000 /
2,500 / 1,500.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from geoapp.cli import EXIT_USAGE, main
from layers.targeting.scenarios import list_scenarios, load_scenario
from tests.layers.test_scenarios import KODE, PROFILE, WS, build_store


@pytest.fixture
def store(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    store = build_store(folder)
    yield store
    store.close()


@pytest.fixture
def run(tmp_path, store):
    """Run the command line in-process against the store; returns click's Result."""
    env = {
        "GEOAPP_INSTANCE_PATH": str(tmp_path / "instance"),
        "GEOAPP_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'store.sqlite'}",
        "GEOAPP_LOCALE": "en",
        "LC_ALL": "",
        "LANG": "C.UTF-8",
    }

    def invoke(*args: str, lang: str | None = None, input: str | None = None):
        argv = (["--lang", lang] if lang else []) + [str(a) for a in args]
        return CliRunner().invoke(main, argv, env=env, catch_exceptions=False, input=input)

    return invoke


def place(run, name: str, *options: str, lang: str | None = None):
    return run(
        "scenario",
        "run",
        name,
        "-w",
        WS,
        "--kind",
        "placement",
        "-p",
        PROFILE,
        *options,
        lang=lang,
    )


@pytest.mark.parametrize("command", ["run", "list", "show", "compare", "export", "delete"])
def test_every_subcommand_has_examples(run, command):
    result = run("scenario", command, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.output
    assert f"geoapp scenario {command}" in result.output


def test_run_prints_headline_numbers_and_the_villages(run, store):
    result = place(
        run,
        "anggaran",
        "--budget",
        "62000000",
        "--cost",
        "per_person:10000",
        "--exclude",
        "01.01.02.2005",
        "--max-per-kecamatan",
        "2",
        "--title",
        "Anggaran",
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"Saved scenario {WS}/scenarios/anggaran@1." in out
    # Empat, Enam, Tiga: 6,000 people, 4,100 need-weighted, 60 million of 62
    assert "Villages selected: 3; people reached: 6,000 (in need: 4,100)." in out
    assert "Cost: 60,000,000 of a budget of 62,000,000 (96.8 %)." in out
    lines = [line for line in out.splitlines() if line.startswith(("1 ", "2 ", "3 "))]
    assert [line.split()[1] for line in lines] == [KODE[3], KODE[5], KODE[2]]
    assert "Distance to the nearest puskesmas: 6.7 km (+60.0)" in lines[0]
    saved = load_scenario(store, WS, "anggaran")
    assert saved["title"] == "Anggaran"
    assert saved["settings"]["rules"] == {"max_per_kecamatan": 2, "exclude": [KODE[4]]}


def test_numbers_follow_the_language(run):
    result = place(run, "tiga", "--top-n", "3", lang="id")
    assert result.exit_code == 0, result.output
    # Empat, Lima, Enam: 8.000 people, 5.900 need-weighted (Indonesian grouping)
    assert "8.000" in result.output
    assert "5.900" in result.output
    assert "6,7 km" in result.output


def test_codes_from_a_file_and_json_output(run, tmp_path):
    pkh = tmp_path / "pkh.csv"
    pkh.write_text("kode,nama\n0101022004,Empat\n01.01.02.2005,Lima\n", encoding="utf-8")
    result = place(run, "tanpa-pkh", "--top-n", "2", "--exclude", str(pkh), "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["settings"]["rules"]["exclude"] == [KODE[3], KODE[4]]
    assert body["summary"]["villages"] == [KODE[5], KODE[1]]  # Enam 1,500, Dua 400
    assert body["summary"]["people_reached"] == 1500 + 2000
    assert body["version"] == 1


def test_wrong_options_and_settings(run, store):
    result = place(run, "a", "--top-n", "2", "--model", "mclp")
    assert result.exit_code == EXIT_USAGE
    assert "--model is not an option of a placement scenario" in result.output
    result = run(
        "scenario", "run", "a", "-w", WS, "--kind", "siting", "-p", PROFILE, "--budget", "5"
    )
    assert result.exit_code == EXIT_USAGE
    result = place(run, "a", "--budget", "5")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: the setting budget needs the setting cost")
    result = place(run, "Nama Salah", "--top-n", "1")
    assert result.exit_code == 1
    assert "not a scenario name" in result.stderr
    assert list_scenarios(store, WS) == []


def test_list_show_compare_export_delete(run, tmp_path, store):
    assert "No scenarios yet" in run("scenario", "list", "-w", WS).output
    assert place(run, "top-3", "--top-n", "3").exit_code == 0
    assert place(run, "per-kec", "--top-n", "3", "--min-per-kecamatan", "1").exit_code == 0
    listed = run("scenario", "list", "-w", WS)
    assert listed.exit_code == 0
    rows = [line.split()[0] for line in listed.output.splitlines()[2:]]
    assert rows == ["per-kec", "top-3"]
    as_json = json.loads(run("scenario", "list", "-w", WS, "--json").output)
    assert [s["people_reached"] for s in as_json] == [8500, 8000]

    shown = run("scenario", "show", "top-3", "-w", WS)
    assert shown.exit_code == 0
    assert "people reached: 8,000" in shown.output
    body = json.loads(run("scenario", "show", "top-3", "-w", WS, "--json").output)
    assert body["summary"]["villages"] == [KODE[3], KODE[4], KODE[5]]

    compared = run("scenario", "compare", "top-3", "per-kec", "-w", WS)
    assert compared.exit_code == 0, compared.output
    assert "2 villages are in every scenario; 2 are in only some of them." in compared.output
    data = json.loads(run("scenario", "compare", "top-3", "per-kec", "-w", WS, "--json").output)
    assert [(d["kode"], d["in"]) for d in data["differences"]] == [
        (KODE[1], ["per-kec"]),
        (KODE[5], ["top-3"]),
    ]
    missing = run("scenario", "compare", "top-3", "tidak-ada", "-w", WS)
    assert missing.exit_code == 1
    assert "no scenario 'tidak-ada'" in missing.stderr

    target = tmp_path / "desa.csv"
    exported = run("scenario", "export", "top-3", str(target), "-w", WS)
    assert exported.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert [r["kode"] for r in rows] == [KODE[3], KODE[4], KODE[5]]
    assert [float(r["people_reached"]) for r in rows] == [4000, 2500, 1500]
    xlsx = tmp_path / "desa.xlsx"
    assert run("scenario", "export", "top-3", str(xlsx), "-w", WS).exit_code == 0
    assert xlsx.read_bytes()[:2] == b"PK"  # a zip: XLSX chosen from the extension
    text = tmp_path / "desa.txt"
    assert run("scenario", "export", "top-3", str(text), "-w", WS, "--format", "csv").exit_code == 0
    assert text.read_bytes().startswith(b"\xef\xbb\xbf")

    kept = run("scenario", "delete", "top-3", "-w", WS, input="n\n")
    assert kept.exit_code == 1
    assert [s["name"] for s in list_scenarios(store, WS)] == ["per-kec", "top-3"]
    gone = run("scenario", "delete", "top-3", "-w", WS, "--yes")
    assert gone.exit_code == 0
    assert "Deleted scenario top-3." in gone.output
    assert [s["name"] for s in list_scenarios(store, WS)] == ["per-kec"]


def test_a_siting_scenario(run, store):
    result = run(
        "scenario",
        "run",
        "posyandu-baru",
        "-w",
        WS,
        "--kind",
        "siting",
        "-p",
        PROFILE,
        "--model",
        "mclp",
        "--type",
        "posyandu",
        "-k",
        "1",
        "--distance-m",
        "2500",
    )
    assert result.exit_code == 0, result.output
    # Lima reaches Empat, Lima and Enam: 8,000 people, 5,900 need-weighted
    assert (
        "New posyandu sites: 1 in 1 villages; people newly reached within 2,500 m: 8,000 "
        "(in need: 5,900)." in result.output
    )
    assert "new posyandu site 01.01.02.2005: 8,000 more people within 2,500 m" in result.output
    saved = load_scenario(store, WS, "posyandu-baru")
    assert saved["summary"]["villages"] == [KODE[4]]
    wrong = run(
        "scenario",
        "run",
        "x",
        "-w",
        WS,
        "--kind",
        "siting",
        "-p",
        PROFILE,
        "--type",
        "posyandu",
    )
    assert wrong.exit_code == 1
    assert "setting k is required by the mclp model" in wrong.stderr
