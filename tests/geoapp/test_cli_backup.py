"""``geoapp backup`` and ``geoapp restore`` through click's runner, between two SQLite stores."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from geoapp.cli import EXIT_ERROR, EXIT_USAGE, main
from layers.backup import file_digest, workspace_digest
from layers.demo_load import load_demo
from layers.storage import DATASET_KINDS, open_store

WS = "merangin"


@pytest.fixture
def urls(tmp_path):
    """Two store URLs: ``source`` with the demo area and a record, ``target`` empty."""
    source = f"sqlite:///{tmp_path / 'source.sqlite'}"
    store = open_store(source)
    store.init()
    load_demo(store, WS, user="ani")
    store.put_record(WS, "scenarios", "posyandu", {"villages": ["15.02.01.2001"]}, note="uji")
    store.put_record(WS, "scenarios", "posyandu", {"villages": []}, created_by="budi")
    store.close()
    return {"source": source, "target": f"sqlite:///{tmp_path / 'target.sqlite'}"}


@pytest.fixture
def run(tmp_path, urls):
    """Run the command line in-process against one of the stores; returns click's Result."""

    def invoke(*args: str, store: str = "source", lang: str | None = None):
        env = {
            "GEOAPP_INSTANCE_PATH": str(tmp_path / "instance"),
            "GEOAPP_DATABASE_URL": urls[store],
            "GEOAPP_LOCALE": "en",
            "LC_ALL": "",
            "LANG": "C.UTF-8",
        }
        argv = (["--lang", lang] if lang else []) + [str(a) for a in args]
        return CliRunner().invoke(main, argv, env=env, catch_exceptions=False)

    return invoke


def _digest(url: str, workspace: str) -> str:
    store = open_store(url)
    try:
        return workspace_digest(store, workspace)
    finally:
        store.close()


def test_backup_then_restore_into_another_store(run, urls, tmp_path):
    path = tmp_path / "merangin.jangkau"
    result = run("backup", "-w", WS, path)
    assert result.exit_code == 0, result.output
    with sqlite3.connect(path) as conn:
        datasets = conn.execute("SELECT count(*) FROM datasets").fetchone()[0]
        chunks = conn.execute("SELECT count(*) FROM dataset_chunks").fetchone()[0]
        audit = conn.execute("SELECT count(*) FROM audit").fetchone()[0]
        manifest = dict(conn.execute("SELECT key, value FROM backup_manifest").fetchall())
    conn.close()
    assert datasets == 9
    lines = result.output.splitlines()
    assert lines[0].startswith(f"Backed up workspace {WS} to {path} (")
    assert lines[0].endswith(" MB).") or lines[0].endswith(" KB).")
    assert lines[1] == (
        f"{datasets} dataset versions ({chunks} chunks), 2 record versions, {audit} audit entries."
    )
    assert lines[2] == f"Content digest: {json.loads(manifest['digest'])}"
    assert json.loads(manifest["digest"]) == file_digest(path)

    restored = run("restore", path, "--user", "ani", store="target")
    assert restored.exit_code == 0, restored.output
    out = restored.output.splitlines()
    assert out[0].startswith(f"Restored workspace {WS} from {path} (a backup of {WS} made 20")
    assert out[1] == (
        f"{datasets} dataset versions, 2 record versions, {audit} audit entries "
        "(0 were already in the audit trail)."
    )
    assert _digest(urls["target"], WS) == _digest(urls["source"], WS)
    target = open_store(urls["target"])
    entries, total = target.list_audit(workspace=WS, action="restore")
    assert total == 1
    assert entries[0].actor == "ani"
    assert len(target.list_datasets(WS, all_versions=True, kinds=DATASET_KINDS)) == datasets
    target.close()


def test_existing_files_and_workspaces_are_kept_unless_asked(run, urls, tmp_path):
    path = tmp_path / "m.jangkau"
    assert run("backup", "-w", WS, path).exit_code == 0
    first = path.read_bytes()
    again = run("backup", "-w", WS, path)
    assert again.exit_code == EXIT_ERROR
    assert again.output.strip() == (
        f"error: {path} already exists; choose another name or add --overwrite"
    )
    assert path.read_bytes() == first
    assert run("backup", "-w", WS, path, "--overwrite").exit_code == 0

    assert run("restore", path, store="target").exit_code == 0
    refused = run("restore", path, store="target")
    assert refused.exit_code == EXIT_ERROR
    assert "error: workspace 'merangin' already exists" in refused.output
    assert "--replace" in refused.output
    renamed = run("restore", path, "--as", "merangin_lama", store="target")
    assert renamed.exit_code == 0, renamed.output
    assert "Restored workspace merangin_lama from" in renamed.output
    assert _digest(urls["target"], "merangin_lama") == _digest(urls["source"], WS)
    replaced = run("restore", path, "--replace", store="target")
    assert replaced.exit_code == 0, replaced.output
    assert "The previous content of workspace merangin was replaced." in replaced.output
    assert "were already in the audit trail" in replaced.output
    assert _digest(urls["target"], WS) == _digest(urls["source"], WS)


def test_errors_name_the_file_or_workspace(run, urls, tmp_path):
    missing = run("backup", "-w", "tebo", tmp_path / "t.jangkau")
    assert missing.exit_code == EXIT_ERROR
    assert "error: no workspace 'tebo'; workspaces: merangin" in missing.output
    assert not (tmp_path / "t.jangkau").exists()

    bad = tmp_path / "desa.csv"
    bad.write_text("kode,nama\n15.02.01.2001,Pulau Rengas\n", encoding="utf-8")
    refused = run("restore", bad, store="target")
    assert refused.exit_code == EXIT_ERROR
    assert refused.output.startswith(f"error: {bad}: not a Jangkau backup")
    assert "Traceback" not in refused.output

    nowhere = run("restore", tmp_path / "nowhere.jangkau", store="target")
    assert nowhere.exit_code == EXIT_ERROR
    assert "no such backup file" in nowhere.output

    assert run("restore", store="target").exit_code == EXIT_USAGE
    assert run("backup", "-w", WS, tmp_path / "x.jangkau", "--bogus").exit_code == EXIT_USAGE


def test_backup_without_workspace_uses_the_default_one(run, tmp_path):
    assert run("init").exit_code == 0
    result = run("backup", tmp_path / "default.jangkau")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Backed up workspace default to ")
    assert "0 dataset versions (0 chunks), 0 record versions" in result.output


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_help_has_examples(run, command):
    result = run(command, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.output
    assert f"geoapp {command} " in result.output
