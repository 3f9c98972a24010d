"""The ``geoapp`` command line, through click's runner and as real processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from geoapp.cli import CODE_SYSTEMS, EXIT_REJECTED, EXIT_USAGE, main
from tests.conftest import REPO

COMMANDS = [
    "init",
    "import",
    "validate",
    "demo",
    "layers",
    "report",
    "score",
    "profiles",
    "rerun",
    "hotspots",
    "scenario",
    "programs",
    "needs",
    "coverage",
    "export",
    "serve",
    "backup",
    "restore",
    "user",
    "audit",
]

NEEDS_HEADER = "kode_desa,tanggal,bidang,urgensi\n"
NEEDS_OK = NEEDS_HEADER + "15.02.01.2001,2025-02-15,kesehatan,3\n15.02.01.2002,2025-02-02,gizi,4\n"
NEEDS_BAD = NEEDS_OK + "15.02.01.2003,2025-03-01,air bersih,9\n"


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """Environment pointing the command line at a fresh instance folder, output in English."""
    return {
        "GEOAPP_INSTANCE_PATH": str(tmp_path / "instance"),
        "GEOAPP_DATABASE_URL": "",
        "GEOAPP_LOCALE": "en",
        "LC_ALL": "",
        "LANG": "C.UTF-8",
    }


@pytest.fixture
def run(env):
    """Run the command line in-process; returns click's Result."""

    def invoke(*args: str, lang: str | None = None):
        argv = (["--lang", lang] if lang else []) + [str(a) for a in args]
        return CliRunner().invoke(main, argv, env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    """Small needs tables: one clean, one with a severity out of range (row 4), one empty."""
    out = {}
    for name, content in (("ok", NEEDS_OK), ("bad", NEEDS_BAD), ("empty", "")):
        path = tmp_path / f"needs_{name}.csv"
        path.write_text(content, encoding="utf-8")
        out[name] = path
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("a,b\n1,2\n", encoding="utf-8")
    out["nocol"] = nocol
    return out


def test_code_systems_match_the_core():
    from layers.validate import CODE_SYSTEMS as CORE

    assert tuple(CODE_SYSTEMS) == tuple(CORE)


def test_every_command_is_registered():
    assert sorted(main.commands) == sorted(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_every_command_has_examples(run, command):
    result = run(command, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.output
    assert f"geoapp {command}" in result.output


def test_usage_errors_exit_64_not_2(run):
    result = run("validate", "--bogus")
    assert result.exit_code == EXIT_USAGE
    assert "No such option" in result.output
    assert run("nonsense").exit_code == EXIT_USAGE
    assert run("import", "parks", "x.csv").exit_code == EXIT_USAGE


def test_init_creates_instance_store_and_default_workspace(run, tmp_path):
    result = run("init")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "instance" / "jangkau.sqlite").exists()
    assert "Workspace default created." in result.output
    again = run("init")
    assert again.exit_code == 0
    assert "Workspace default already exists." in again.output
    assert run("init", "--workspace", "jambi").exit_code == 0
    from layers.storage import open_store

    store = open_store(f"sqlite:///{tmp_path / 'instance' / 'jangkau.sqlite'}")
    assert [w.name for w in store.list_workspaces()] == ["default", "jambi"]
    assert store.get_workspace("default").title == "Default workspace"
    store.close()


def test_init_rejects_a_bad_workspace_name(run):
    result = run("init", "--workspace", "Bad Name!")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: invalid workspace name")


def test_validate_clean_file_exits_0_and_writes_nothing(run, files, tmp_path):
    result = run("validate", "--kind", "needs", files["ok"])
    assert result.exit_code == 0, result.output
    assert "needs_ok.csv: read 2, accepted 2" in result.output
    assert not (tmp_path / "instance").exists()  # no store was opened


def test_validate_rejected_rows_exit_2_with_file_row_column_message(run, files):
    result = run("validate", "--kind", "needs", files["bad"])
    assert result.exit_code == EXIT_REJECTED
    assert "rejected 1" in result.output
    line = next(x for x in result.output.splitlines() if x.startswith("REJECTED"))
    assert "needs_bad.csv, row 4, column 'urgensi': 9" in line
    assert "is outside 1 to 5" in line


def test_validate_in_indonesian(run, files):
    result = run("validate", "--kind", "needs", files["bad"], lang="id")
    assert result.exit_code == EXIT_REJECTED
    assert "ditolak 1" in result.output
    line = next(x for x in result.output.splitlines() if x.startswith("DITOLAK"))
    assert "baris 4, kolom 'urgensi'" in line
    assert "berada di luar rentang 1 sampai 5" in line


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("missing", "error: {path}: file not found"),
        ("empty", "error: needs_empty.csv: "),
        ("nocol", "error: nocol.csv: required column 'category' not found"),
    ],
)
def test_validate_file_errors_exit_1_with_one_line(run, files, tmp_path, name, expected):
    path = files.get(name, tmp_path / "missing.csv")
    result = run("validate", "--kind", "needs", path)
    assert result.exit_code == 1
    assert result.stderr.startswith(expected.format(path=path))
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_validate_json(run, files):
    result = run("validate", "--kind", "needs", files["bad"], "--json")
    assert result.exit_code == EXIT_REJECTED
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert data["counts"]["rejected"] == 1
    assert len(data["source_sha256"]) == 64
    rejected = [f for f in data["findings"] if f["action"] == "rejected"]
    assert rejected[0]["row"] == 4
    assert rejected[0]["column"] == "urgensi"


def test_validate_against_an_unknown_workspace(run, files):
    assert run("init").exit_code == 0
    result = run("validate", "--kind", "needs", files["ok"], "--workspace", "nope")
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: There is no workspace 'nope'."


def _layers(run) -> list[str]:
    result = run("layers", "--json")
    assert result.exit_code == 0, result.output
    return [d["ref"] for d in json.loads(result.stdout)]


def test_import_strict_stores_nothing_and_exits_2(run, files):
    run("init")
    result = run("import", "needs", files["bad"], "--workspace", "default")
    assert result.exit_code == EXIT_REJECTED
    assert "row 4, column 'urgensi'" in result.stdout
    assert "Nothing was stored: 1 rows were rejected" in result.stderr
    assert _layers(run) == []


def test_import_skip_rejected_stores_accepted_rows_and_still_exits_2(run, files):
    run("init")
    args = ("import", "needs", files["bad"], "--skip-rejected", "--user", "ani")
    result = run(*args)
    assert result.exit_code == EXIT_REJECTED
    assert "Stored default/needs@1." in result.stdout
    assert _layers(run) == ["default/needs@1"]
    info = json.loads(run("layers", "--json").stdout)[0]
    assert info["row_count"] == 2
    assert info["created_by"] == "ani"
    assert info["counts"]["rejected"] == 1
    again = run(*args)
    assert again.exit_code == EXIT_REJECTED
    assert "Nothing new: default/needs@1" in again.stdout
    assert _layers(run) == ["default/needs@1"]


def test_import_clean_file_new_versions_and_names(run, files):
    run("init")
    first = run("import", "needs", files["ok"])
    assert first.exit_code == 0, first.output
    assert "Stored default/needs@1." in first.output
    second = run("import", "needs", files["bad"], "--skip-rejected")
    assert "Stored default/needs@2." in second.output
    named = run("import", "needs", files["ok"], "--name", "musrenbang", "--json")
    assert named.exit_code == 0
    data = json.loads(named.stdout)
    assert data["stored"] is True
    assert data["dataset"]["ref"] == "default/musrenbang@1"
    assert _layers(run) == ["default/musrenbang@1", "default/needs@2"]
    listing = run("layers", "--all-versions")
    assert "default/needs@1" in listing.output
    assert "default/needs@2" in listing.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--workspace", "nope"), "error: no workspace 'nope'"),
        (("--name", "Bad Name"), "error: invalid dataset name"),
    ],
)
def test_import_errors_exit_1(run, files, args, message):
    run("init")
    result = run("import", "needs", files["ok"], *args)
    assert result.exit_code == 1
    assert result.stderr.startswith(message)


def test_import_before_init_says_to_run_init(run, files):
    result = run("import", "needs", files["ok"])
    assert result.exit_code == 1
    assert "init" in result.stderr
    assert result.stderr.startswith("error:")


def test_import_missing_file_exits_1(run, tmp_path):
    run("init")
    result = run("import", "needs", tmp_path / "nope.csv")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert "file not found" in result.stderr


@pytest.mark.slow
def test_demo_loads_once_then_nothing_new(run):
    first = run("demo")
    assert first.exit_code == 0, first.output
    assert "stored in workspace merangin" in first.output
    refs = _layers(run)
    assert "merangin/villages@1" in refs
    assert len(refs) >= 4
    second = run("demo")
    assert second.exit_code == 0
    assert "0 of" in second.output
    assert "unchanged" in second.output
    assert _layers(run) == refs
    table = run("layers", "--workspace", "merangin", lang="id")
    assert "Desa/Kelurahan" in table.output
    assert "diterima" in table.output


def test_layers_and_report(run, files):
    run("init")
    run("import", "needs", files["bad"], "--skip-rejected", "--user", "ani")
    run("import", "needs", files["ok"])
    table = run("layers", "--workspace", "default").output
    header, rule, row = table.splitlines()[:3]
    assert header.split()[:3] == ["dataset", "kind", "rows"]
    assert set(rule.replace(" ", "")) == {"-"}
    assert row.split()[:3] == ["default/needs@2", "Needs", "2"]
    report = run("report", "default/needs@1")
    assert report.exit_code == 0
    assert "default/needs@1" in report.output
    assert "read 3, accepted 2, repaired 0, rejected 1" in report.output
    assert "REJECTED  needs_bad.csv, row 4, column 'urgensi'" in report.output
    same = run("report", "needs@1", "--workspace", "default")
    assert same.output == report.output
    latest = run("report", "default/needs", "--json")
    data = json.loads(latest.stdout)
    assert data["dataset"]["version"] == 2
    assert data["counts"]["rejected"] == 0
    only = run("report", "default/needs@1", "--action", "rejected", "--json")
    assert {f["action"] for f in json.loads(only.stdout)["findings"]} == {"rejected"}
    limited = run("report", "default/needs@1", "--limit", "1")
    assert "... and 1 more findings not shown" in limited.output


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("needs", "error: No workspace given for 'needs'"),
        ("default/needs@x", "error: The parameter version must be a whole number"),
        ("default/needs@7", "error: There is no version 7 of dataset 'needs'"),
        ("default/parks", "error: There is no dataset 'parks' in workspace 'default'."),
        ("nope/needs", "error: There is no workspace 'nope'."),
        ("a/b/c", "error: 'a/b/c' is not a dataset reference"),
    ],
)
def test_report_bad_references_exit_1(run, files, ref, message):
    run("init")
    run("import", "needs", files["ok"])
    result = run("report", ref)
    assert result.exit_code == 1
    assert result.stderr.startswith(message)


def test_layers_with_no_datasets(run):
    run("init")
    result = run("layers")
    assert result.exit_code == 0
    assert "No datasets yet" in result.output


def test_serve_uses_waitress(run, monkeypatch, tmp_path):
    calls = {}

    def fake_serve(app, **kwargs):
        calls["app"] = app
        calls.update(kwargs)

    import waitress

    monkeypatch.setattr(waitress, "serve", fake_serve)
    result = run("serve", "--port", "5123", "--threads", "2")
    assert result.exit_code == 0, result.output
    assert calls["host"] == "127.0.0.1"
    assert calls["port"] == 5123
    assert calls["threads"] == 2
    assert calls["app"].name == "geoapp"
    assert "http://127.0.0.1:5123" in result.output
    assert (tmp_path / "instance" / "jangkau.sqlite").exists()  # tables made on start


def test_commands_run_under_flask_cli_with_the_apps_store(app):
    assert {"init", "import", "layers", "serve"} <= set(app.cli.commands)
    result = app.test_cli_runner().invoke(args=["layers", "--workspace", "merangin", "--json"])
    assert result.exit_code == 0, result.output
    assert "merangin/villages@2" in [d["ref"] for d in json.loads(result.stdout)]


# --- real processes ----------------------------------------------------------------------


def _geoapp() -> list[str]:
    script = Path(sys.executable).with_name("geoapp")
    found = script if script.exists() else shutil.which("geoapp")
    return [str(found)] if found else [sys.executable, "-m", "geoapp"]


def _process_env(env: dict[str, str]) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("GEOAPP_")}
    out.update(env)
    out["PYTHONPATH"] = str(REPO)
    return out


def test_python_m_geoapp_help(env):
    done = subprocess.run(
        [sys.executable, "-m", "geoapp", "--help"],
        capture_output=True, text=True, env=_process_env(env), timeout=60, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: geoapp ")
    for command in COMMANDS:
        assert command in done.stdout


def test_geoapp_validate_exit_codes_in_a_real_process(env, files, tmp_path):
    def validate(path: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*_geoapp(), "validate", "--kind", "needs", str(path)],
            capture_output=True, text=True, env=_process_env(env), timeout=120, cwd=tmp_path,
        )  # fmt: skip

    ok = validate(files["ok"])
    assert ok.returncode == 0, ok.stderr
    bad = validate(files["bad"])
    assert bad.returncode == 2
    assert "row 4, column 'urgensi'" in bad.stdout
    broken = validate(files["nocol"])
    assert broken.returncode == 1
    assert broken.stderr.startswith("error: nocol.csv: ")
    assert "Traceback" not in broken.stderr


def test_map_option_names_the_file_column(run, tmp_path):
    path = tmp_path / "dinkes.csv"
    path.write_text(
        "NAMA,JENIS_SARANA,lintang,bujur\nPustu Satu,pustu,-2.05,102.05\n", encoding="utf-8"
    )
    unmapped = run("validate", "--kind", "facilities", path)
    assert unmapped.exit_code == 1
    assert "required column 'type'" in unmapped.output
    mapped = run(
        "validate", "--kind", "facilities", path, "--map", "type=JENIS_SARANA", "--map", "name=NAMA"
    )
    assert mapped.exit_code == 0, mapped.output
    assert "accepted 1" in mapped.output
    malformed = run("validate", "--kind", "facilities", path, "--map", "JENIS_SARANA")
    assert malformed.exit_code == 64
    assert "LAYER_COLUMN=FILE_COLUMN" in malformed.output


def test_file_errors_follow_the_output_language(run, tmp_path):
    path = tmp_path / "kebutuhan.csv"
    path.write_text("kode_desa,tanggal,urgensi\n15.02.01.2001,2025-02-15,3\n", encoding="utf-8")
    result = run("validate", "--kind", "needs", path, lang="id")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: kebutuhan.csv: kolom wajib 'category' tidak ditemukan; ")
    assert lines[0].endswith("kolom di berkas: kode_desa, tanggal, urgensi")
    assert "required column" not in result.output
    english = run("validate", "--kind", "needs", path, lang="en")
    assert english.exit_code == 1
    assert english.stderr.startswith("error: kebutuhan.csv: required column 'category' not found")


def test_store_errors_follow_the_output_language(run, files):
    assert run("init").exit_code == 0
    result = run("import", "needs", files["ok"], "--name", "Bad Name", lang="id")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: nama dataset 'Bad Name' tidak sah: gunakan 1 sampai 64")
    result = run("import", "needs", files["ok"], "--workspace", "nope", lang="id")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: tidak ada ruang kerja 'nope'; ruang kerja yang ada: ")
