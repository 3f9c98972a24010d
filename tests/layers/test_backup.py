"""Backup of a workspace to one file and restore, on every backend.

Run like ``tests/layers/test_storage.py``: SQLite always, PostGIS when
``JANGKAU_TEST_POSTGIS_URL`` is set (each store in a schema of its own). The workspace
backed up is the bundled demo area (vector layers, tables, the population raster, zonal
tables) plus score runs, several versions of a layer and of records in several
collections, and audit rows written directly; each round trip is checked with
``workspace_digest`` and, independently, dataset by dataset and record by record.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import uuid
from datetime import UTC, date, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa
from geopandas.testing import assert_geodataframe_equal
from pandas.testing import assert_frame_equal

from layers.backup import (
    FORMAT_VERSION,
    backup_workspace,
    file_digest,
    restore_workspace,
    workspace_digest,
)
from layers.demo_load import load_demo
from layers.errors import InputError, NotFoundError, StoreError
from layers.indicator_settings import IndicatorSettings
from layers.score_run import rerun, run_score
from layers.storage import DATASET_KINDS, Store, open_store
from layers.storage.tables import audit_table
from tests.layers import test_storage as contract

# The backends of the store's contract tests: SQLite always, PostGIS when configured.
postgis_database = contract.postgis_database
store_url = contract.store_url
dump = contract.dump

WS = "merangin"
AS_OF = date(2025, 6, 30)
#: Audit rows written directly (times and actors must come back as they were).
AUDIT_ROWS = [
    {
        "at": datetime(2024, 5, 1, 8, 30, 12, 123456, tzinfo=UTC),
        "actor": "budi",
        "workspace": WS,
        "action": "export",
        "target_kind": "dataset",
        "target": "villages@1",
        "summary": "peta desa diekspor ke GeoPackage",
        "before_json": None,
        "after_json": json.dumps({"format": "gpkg"}),
    },
    {
        "at": datetime(2024, 5, 2, 1, 0, 0, tzinfo=UTC),
        "actor": None,
        "workspace": WS,
        "action": "note",
        "target_kind": "workspace",
        "target": WS,
        "summary": "catatan: data musrenbang 2024 diperiksa",
        "before_json": json.dumps({"status": "draft"}),
        "after_json": json.dumps({"status": "final"}),
    },
]


# --- stores --------------------------------------------------------------------------------


@pytest.fixture
def new_store(store_url, request, tmp_path):
    """Make more empty, initialised stores of the same backend as ``store_url``."""
    made: list[tuple[Store, str | None]] = []

    def make(backend: str | None = None) -> Store:
        backend = backend or ("sqlite" if store_url.startswith("sqlite") else "postgis")
        if backend == "sqlite":
            s = open_store(f"sqlite:///{tmp_path / f'store{len(made)}.sqlite'}")
            made.append((s, None))
        else:
            engine = request.getfixturevalue("postgis_database")
            schema = f"test_{uuid.uuid4().hex[:12]}"
            with engine.begin() as conn:
                conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
            url = engine.url.update_query_dict({"options": f"-csearch_path={schema},public"})
            s = open_store(url.render_as_string(hide_password=False))
            made.append((s, schema))
        s.init()
        return s

    yield make
    for s, schema in made:
        s.close()
        if schema is not None:
            engine = request.getfixturevalue("postgis_database")
            with engine.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")


def populate(store: Store) -> None:
    """The demo area with score runs, versions, records of several collections, audit rows,
    and a second workspace that must stay out of the backup."""
    store.init()
    load_demo(store, WS, user="ani")
    settings = IndicatorSettings(as_of=AS_OF)
    run_score(store, WS, "health_access", user="ani", settings=settings, note="pertama")
    run_score(store, WS, "health_access", user="budi", settings=settings)
    run_score(store, WS, "education", settings=settings)
    villages = store.read_dataset(WS, "villages")
    villages.loc[villages.index[0], "name"] = "Pulau Rengas (baru)"
    store.put_dataset(
        WS,
        "villages",
        villages,
        source_name="desa-2025.geojson",
        source_sha256="cd" * 32,
        report={"kind": "villages", "counts": {"read": len(villages)}},
        created_by="citra",
        note="nama desa diperbaiki",
    )
    for version in range(1, 4):
        store.put_record(
            WS,
            "scenarios",
            "posyandu-baru",
            {"zeta": version, "alpha": [1, 2.5, None, True], "nama": "Posyandu Ke-\u00e9"},
            created_by="dewi",
            note=f"revisi {version}",
        )
    store.put_record(WS, "annotations", "desa-2001", {"text": "jalan rusak", "tags": []})
    store.put_record(WS, "needs_status", "kobo-17", {"status": "verified", "by": {"x": 1}})
    store.put_record(WS, "needs_status", "kobo-17", {"status": "closed", "by": {"x": 2}})
    with store.engine.begin() as conn:
        conn.execute(audit_table.insert(), AUDIT_ROWS)
        conn.execute(
            audit_table.insert(),
            [{**AUDIT_ROWS[0], "workspace": "kerinci"}, {**AUDIT_ROWS[1], "workspace": None}],
        )
    store.create_workspace("kerinci", "Kabupaten Kerinci")
    store.put_record("kerinci", "profiles", "lain", {"a": 1})


@pytest.fixture
def source(store_url):
    """A populated store of each backend."""
    s = open_store(store_url)
    populate(s)
    yield s
    s.close()


# --- independent comparison ----------------------------------------------------------------


def _versions(store: Store, workspace: str) -> list:
    return store.list_datasets(workspace, all_versions=True, kinds=DATASET_KINDS)


def assert_same_workspace(a: Store, wa: str, b: Store, wb: str) -> None:
    """Compare two workspaces through the public store interface, value by value."""
    one, two = a.get_workspace(wa), b.get_workspace(wb)
    assert (one.title, one.description, one.created_at) == (
        two.title,
        two.description,
        two.created_at,
    )
    va, vb = _versions(a, wa), _versions(b, wb)
    assert [(v.name, v.version) for v in va] == [(v.name, v.version) for v in vb]
    fields = [
        "kind",
        "source_name",
        "source_sha256",
        "created_at",
        "created_by",
        "row_count",
        "counts",
        "crs",
        "bounds",
        "note",
    ]
    for x, y in zip(va, vb, strict=True):
        assert (x.workspace, y.workspace) == (wa, wb)
        for field in fields:
            assert getattr(x, field) == getattr(y, field), (x.ref, field)
        assert a.get_report(wa, x.name, x.version) == b.get_report(wb, y.name, y.version)
        if x.kind == "raster":
            assert a.read_raster(wa, x.name, x.version) == b.read_raster(wb, y.name, y.version)
            continue
        fa = a.read_dataset(wa, x.name, x.version)
        fb = b.read_dataset(wb, y.name, y.version)
        assert type(fa) is type(fb)
        if isinstance(fa, gpd.GeoDataFrame):
            assert_geodataframe_equal(fa, fb, check_less_precise=False)
            for column in fa.columns[fa.dtypes == "geometry"]:
                wkb_a = shapely.to_wkb(fa[column].array, flavor="iso")
                wkb_b = shapely.to_wkb(fb[column].array, flavor="iso")
                assert np.array_equal(wkb_a, wkb_b), (x.ref, column)
        else:
            assert_frame_equal(fa, fb, check_exact=True)
    ra = a.list_records(wa, all_versions=True)
    rb = b.list_records(wb, all_versions=True)
    assert len(ra) == len(rb) > 0
    for x, y in zip(ra, rb, strict=True):
        assert (x.collection, x.name, x.version, x.created_at, x.created_by, x.note) == (
            y.collection,
            y.name,
            y.version,
            y.created_at,
            y.created_by,
            y.note,
        )
        assert json.dumps(x.body) == json.dumps(y.body)  # equal, keys in the same order


def audit_of(store: Store, workspace: str) -> list[tuple]:
    """The workspace's audit rows without ids and without restore entries, sorted."""
    entries, _ = store.list_audit(workspace=workspace, limit=10_000)
    rows = [
        (e.at, e.actor, e.action, e.target_kind, e.target, e.summary, e.before, e.after)
        for e in entries
        if e.action != "restore"
    ]
    return sorted(rows, key=repr)


# --- round trips ---------------------------------------------------------------------------


def test_round_trip_into_a_fresh_store_is_identical(source, new_store, tmp_path):
    path = tmp_path / "merangin.jangkau"
    summary = backup_workspace(source, WS, path, actor="ani")
    versions = _versions(source, WS)
    assert summary.datasets == len(versions) > 10
    assert {v.kind for v in versions} >= {"villages", "facilities", "needs", "raster", "derived"}
    assert summary.records == len(source.list_records(WS, all_versions=True))
    assert summary.audit == len(source.list_audit(workspace=WS, limit=10_000)[0])
    assert summary.size == path.stat().st_size
    assert summary.digest == file_digest(path)
    assert not list(tmp_path.glob(".merangin.jangkau*"))  # no temporary file left

    target = new_store()
    restored = restore_workspace(target, path, actor="admin")
    assert (restored.workspace, restored.replaced) == (WS, False)
    assert restored.datasets == summary.datasets
    assert restored.records == summary.records
    assert restored.audit == summary.audit
    assert workspace_digest(target, WS) == workspace_digest(source, WS)
    assert_same_workspace(source, WS, target, WS)
    assert audit_of(target, WS) == audit_of(source, WS)
    assert rerun(target, WS, "health_access", 2).same  # the restored data give the same scores
    for row in AUDIT_ROWS:  # written directly: original times and actors
        assert (row["at"], row["actor"], row["action"]) in {r[:3] for r in audit_of(target, WS)}
    entries, _ = target.list_audit(workspace=WS, action="restore", limit=10)
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.actor, entry.target_kind, entry.target, entry.before) == (
        "admin",
        "workspace",
        WS,
        None,
    )
    assert entry.after["manifest"]["digest"] == summary.digest
    assert entry.after["manifest"]["counts"]["datasets"] == summary.datasets
    # only the workspace: nothing of kerinci, no audit rows of other workspaces
    assert [w.name for w in target.list_workspaces()] == [WS]
    assert target.list_audit(workspace="kerinci")[1] == 0


def test_the_digest_changes_with_the_content(source, new_store, tmp_path):
    before = workspace_digest(source, WS)
    source.put_record(WS, "annotations", "desa-2001", {"text": "jalan diperbaiki"})
    assert workspace_digest(source, WS) != before
    path = tmp_path / "m.jangkau"
    backup_workspace(source, WS, path)
    target = new_store()
    restore_workspace(target, path)
    digest = workspace_digest(target, WS)
    assert digest == workspace_digest(source, WS)
    target.put_dataset(
        WS,
        "derived",
        pd.DataFrame({"x": [1]}),
        name="extra",
        source_name=None,
        source_sha256=None,
        report={},
    )
    assert workspace_digest(target, WS) != digest


@pytest.mark.skipif(not contract.POSTGIS_URL, reason="set JANGKAU_TEST_POSTGIS_URL")
def test_sqlite_to_postgis_to_sqlite(tmp_path, new_store, store_url):
    if not store_url.startswith("sqlite"):
        pytest.skip("the stores of this test do not depend on the backend parameter")
    first = new_store("sqlite")
    populate(first)
    digest = workspace_digest(first, WS)
    backup_workspace(first, WS, tmp_path / "one.jangkau")
    middle = new_store("postgis")
    restore_workspace(middle, tmp_path / "one.jangkau")
    assert workspace_digest(middle, WS) == digest
    assert_same_workspace(first, WS, middle, WS)
    # the geometries are real PostGIS rows: one features table per spatial version
    spatial = [v for v in _versions(middle, WS) if v.crs is not None and v.kind != "raster"]
    with middle.engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        for version in spatial:
            assert f"features_{version.id}" in tables, version.ref
            count = conn.exec_driver_sql(f"SELECT count(*) FROM features_{version.id}").scalar()
            assert count == version.row_count
    summary = backup_workspace(middle, WS, tmp_path / "two.jangkau")
    assert summary.source_store == "postgis"
    last = new_store("sqlite")
    restore_workspace(last, tmp_path / "two.jangkau", workspace="kembali")
    assert workspace_digest(last, "kembali") == digest
    assert_same_workspace(first, WS, last, "kembali")


def test_restore_under_another_name(source, tmp_path):
    path = tmp_path / "m.jangkau"
    backup_workspace(source, WS, path)
    restored = restore_workspace(source, path, workspace="merangin_lama", actor="ani")
    assert (restored.workspace, restored.from_workspace) == ("merangin_lama", WS)
    assert workspace_digest(source, "merangin_lama") == workspace_digest(source, WS)
    assert_same_workspace(source, WS, source, "merangin_lama")
    assert audit_of(source, "merangin_lama") == audit_of(source, WS)
    refs = {v.ref for v in _versions(source, "merangin_lama")}
    assert "merangin_lama/villages@2" in refs
    # a saved score run of the copy is computed again from the copy's pinned versions
    check = rerun(source, "merangin_lama", "health_access", 1)
    assert check.same
    assert check.run.inputs["villages"] == "merangin_lama/villages@1"


def test_an_existing_workspace_is_refused_unless_replaced(source, tmp_path):
    path = tmp_path / "m.jangkau"
    summary = backup_workspace(source, WS, path)
    digest = workspace_digest(source, WS)
    before = dump(source)
    with pytest.raises(StoreError, match="workspace 'merangin' already exists"):
        restore_workspace(source, path)
    assert dump(source) == before

    # changes after the backup are undone by replacing it with the backup
    source.put_record(WS, "scenarios", "posyandu-baru", {"zeta": 99}, created_by="eko")
    source.put_dataset(
        WS,
        "derived",
        pd.DataFrame({"x": [1.5]}),
        name="score-health_access",
        source_name=None,
        source_sha256=None,
        report={},
    )
    source.delete_record(WS, "annotations", "desa-2001")
    assert workspace_digest(source, WS) != digest
    restored = restore_workspace(source, path, replace=True, actor="ani")
    assert restored.replaced
    assert restored.audit == 0  # the trail is not repeated
    assert restored.audit_present == summary.audit
    record = source.get_record(WS, "scenarios", "posyandu-baru")
    assert (record.version, record.created_by) == (3, "dewi")
    assert source.get_record(WS, "annotations", "desa-2001").body == {
        "text": "jalan rusak",
        "tags": [],
    }
    assert max(v.version for v in _versions(source, WS) if v.name == "score-health_access") == 2
    # the workspace's content is the backup's; its audit trail keeps what happened since
    actions = [e.action for e in source.list_audit(workspace=WS, limit=10_000)[0]]
    assert actions.count("restore") == 1
    assert "delete" in actions  # the deleted record, kept in the trail
    assert [w.name for w in source.list_workspaces()] == ["kerinci", WS]


def test_restoring_a_deleted_workspace_does_not_repeat_its_history(source, tmp_path):
    path = tmp_path / "m.jangkau"
    summary = backup_workspace(source, WS, path)
    history = audit_of(source, WS)
    source.delete_workspace(WS, deleted_by="eko")
    restored = restore_workspace(source, path)
    assert (restored.audit, restored.audit_present) == (0, summary.audit)
    after = audit_of(source, WS)
    assert [row for row in after if row[2] != "delete" or row[1] != "eko"] == history


# --- refused files -------------------------------------------------------------------------


def _rewrite(path, sql: str, params: tuple = (), *, redigest: bool = False) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(sql, params)
    conn.close()
    if redigest:
        digest = file_digest(path)
        with sqlite3.connect(path) as conn:
            conn.execute(
                "UPDATE backup_manifest SET value = ? WHERE key = 'digest'", (json.dumps(digest),)
            )
        conn.close()


@pytest.fixture
def backup_file(source, tmp_path):
    path = tmp_path / "merangin.jangkau"
    backup_workspace(source, WS, path)
    return path


def _broken(backup_file, tmp_path, how: str):
    path = tmp_path / f"{how}.jangkau"
    shutil.copy(backup_file, path)
    if how == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif how == "digest":
        _rewrite(path, "UPDATE backup_manifest SET value = ? WHERE key = 'digest'", ('"00"',))
    elif how == "content":
        _rewrite(path, "UPDATE records SET note = 'diubah' WHERE id = 1")
    elif how == "not-sqlite":
        path.write_text("kode,nama\n15.02.01.2001,Pulau Rengas\n", encoding="utf-8")
    elif how == "other-sqlite":
        path.unlink()
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE t (x)")
        conn.close()
    elif how == "newer":
        _rewrite(
            path,
            "UPDATE backup_manifest SET value = ? WHERE key = 'format_version'",
            (str(FORMAT_VERSION + 1),),
            redigest=True,
        )
    elif how == "missing-table":
        _rewrite(path, "DROP TABLE audit")
    elif how == "counts":
        _rewrite(path, "DELETE FROM records WHERE id = 1", redigest=True)
    return path


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("truncated", "damaged|not a SQLite|malformed|does not match"),
        ("digest", "content digest does not match"),
        ("content", "content digest does not match"),
        ("not-sqlite", "not a Jangkau backup \\(not a SQLite database"),
        ("other-sqlite", "not a Jangkau backup: it has no backup_manifest table"),
        ("newer", f"format version {FORMAT_VERSION + 1}, newer than this Jangkau reads"),
        ("missing-table", "the backup is incomplete: it lacks audit"),
        ("counts", "row counts do not match its manifest: records"),
    ],
)
def test_a_bad_file_is_refused_and_nothing_changes(backup_file, tmp_path, source, how, message):
    path = _broken(backup_file, tmp_path, how)
    digest = workspace_digest(source, WS)
    before = dump(source)
    for replace in (False, True):
        with pytest.raises(InputError, match=message) as caught:
            restore_workspace(source, path, workspace="baru", replace=replace)
        assert caught.value.file == str(path)
        assert str(path) in str(caught.value)
    assert dump(source) == before
    assert workspace_digest(source, WS) == digest


def test_a_missing_file_is_named(source, tmp_path):
    path = tmp_path / "tidak-ada.jangkau"
    with pytest.raises(InputError, match="no such backup file") as caught:
        restore_workspace(source, path)
    assert caught.value.file == str(path)


@pytest.mark.parametrize("replace", [False, True])
def test_a_failure_midway_leaves_the_store_as_it_was(backup_file, tmp_path, new_store, replace):
    """An undecodable chunk of the last layer (the digest recomputed so the file passes its
    checks): the versions, chunks and features written before it are rolled back, and a
    replaced workspace is still there."""
    path = tmp_path / "damaged.jangkau"
    shutil.copy(backup_file, path)
    with sqlite3.connect(path) as conn:
        last = conn.execute(
            "SELECT id, name, version FROM datasets WHERE kind != 'raster' "
            "ORDER BY name DESC, version DESC LIMIT 1"
        ).fetchone()
    conn.close()
    _rewrite(
        path,
        "UPDATE dataset_chunks SET data = ? WHERE dataset_id = ? AND seq = 0",
        (b"PAR1 not parquet at all PAR1", last[0]),
        redigest=True,
    )
    target = new_store()
    target.create_workspace("kerinci", "Kabupaten Kerinci")
    if replace:
        restore_workspace(target, backup_file)
    digest = workspace_digest(target, WS) if replace else None
    before = dump(target)
    with pytest.raises(InputError, match=f"{last[1]}@{last[2]} in the backup cannot be decoded"):
        restore_workspace(target, path, replace=replace)
    assert dump(target) == before
    if replace:
        assert workspace_digest(target, WS) == digest
    else:
        with pytest.raises(NotFoundError):
            target.get_workspace(WS)


def test_a_backup_written_during_writes_is_consistent(store_url, tmp_path, new_store):
    """Pairs of tables written together (one transaction each) while backups run: every
    backup holds both tables of a pair or neither, and every version whole."""
    store = open_store(store_url)
    store.init()
    store.create_workspace(WS)
    n = 10_000
    points = gpd.GeoDataFrame(
        {"kode": [f"{i:05d}" for i in range(n)]},
        geometry=gpd.points_from_xy(np.linspace(101, 103, n), np.linspace(-3, -1, n)),
        crs="EPSG:4326",
    )
    store.chunk_rows = 20  # many chunks: a backup takes long enough to overlap the writes
    store.put_dataset(
        WS, "derived", points, name="titik", source_name=None, source_sha256=None, report={}
    )
    store.chunk_rows = 100_000
    stop = threading.Event()
    written: list[int] = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            writer_store = open_store(store_url)
            count = 0
            while not stop.is_set():
                count += 1
                frame = pd.DataFrame({"n": [count] * 5})
                writer_store.put_datasets(
                    WS, [("derived", frame, "pair_a", {}), ("derived", frame, "pair_b", {})]
                )
                written.append(count)
            writer_store.close()
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    seen: list[tuple[int, int]] = []
    try:
        for i in range(40):
            while not written:
                assert thread.is_alive(), errors
                stop.wait(0.01)
            start = len(written)
            path = tmp_path / f"b{i}.jangkau"
            backup_workspace(store, WS, path)
            during = len(written) - start
            with sqlite3.connect(path) as conn:
                latest = dict(
                    conn.execute(
                        "SELECT name, max(version) FROM datasets WHERE name LIKE 'pair_%' "
                        "GROUP BY name"
                    ).fetchall()
                )
                broken = conn.execute(
                    "SELECT count(*) FROM datasets d WHERE row_count != "
                    "(SELECT sum(row_count) FROM dataset_chunks c WHERE c.dataset_id = d.id)"
                ).fetchone()[0]
            conn.close()
            assert latest["pair_a"] == latest["pair_b"], latest
            assert broken == 0
            seen.append((latest["pair_a"], during))
            if i >= 3 and any(d > 0 for _, d in seen):
                break
    finally:
        stop.set()
        thread.join(60)
    assert not errors, errors
    assert any(during > 0 for _, during in seen), seen  # writes committed while backing up
    target = new_store()
    restore_workspace(target, path)
    assert target.read_dataset(WS, "pair_b")["n"].tolist() == [seen[-1][0]] * 5
    assert_geodataframe_equal(target.read_dataset(WS, "titik"), store.read_dataset(WS, "titik"))
    store.close()


def test_backup_errors_name_what_is_wrong(source, tmp_path):
    with pytest.raises(NotFoundError, match="no workspace 'tebo'"):
        backup_workspace(source, "tebo", tmp_path / "t.jangkau")
    assert not list(tmp_path.glob("*t.jangkau*"))
    with pytest.raises(InputError, match="does not exist") as caught:
        backup_workspace(source, WS, tmp_path / "no" / "such" / "m.jangkau")
    assert caught.value.file.endswith("m.jangkau")
    with pytest.raises(InputError, match="is a folder"):
        backup_workspace(source, WS, tmp_path)
    # an existing file is replaced whole
    path = tmp_path / "m.jangkau"
    path.write_bytes(b"old")
    summary = backup_workspace(source, WS, path)
    assert path.stat().st_size == summary.size > 3
