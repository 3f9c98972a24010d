"""Records, derived tables and the table layout upgrade, on every backend.

Run like ``tests/layers/test_storage.py``: SQLite always, PostGIS when
``JANGKAU_TEST_POSTGIS_URL`` is set (each test in a schema of its own).
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
import re
import threading
from collections import OrderedDict

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from layers.errors import NotFoundError, StoreError
from layers.storage import (
    DATASET_KINDS,
    ConflictError,
    RecordVersion,
    codec,
    open_store,
)
from layers.storage.tables import SCHEMA_VERSION
from tests.layers import test_storage as contract

# The backends of the store's contract tests: SQLite always, PostGIS when configured.
postgis_database = contract.postgis_database
store_url = contract.store_url

SHA = contract.SHA


@pytest.fixture
def store(store_url):
    """An initialised store with the workspaces ``merangin`` and ``kerinci``."""
    s = open_store(store_url)
    s.init()
    s.create_workspace("merangin", "Kabupaten Merangin")
    s.create_workspace("kerinci")
    yield s
    s.close()


def profile(weight: float = 0.5) -> dict:
    """A scoring profile as the app would save it: nested, ordered, with text in Indonesian."""
    return {
        "title": "Akses kesehatan",
        "indicators": [
            {"id": "dist_m__puskesmas", "weight": weight, "direction": "higher_is_worse"},
            {"id": "needs_per_1000__health", "weight": 1 - weight, "direction": "higher_is_worse"},
        ],
        "normalise": "minmax",
        "missing": None,
        "published": False,
        "kode_filter": ["0102", "15.02.01"],
        "threshold": 3,
    }


# --- records ---------------------------------------------------------------------------------


def test_saved_record_reads_back_exactly(store):
    before = dt.datetime.now(dt.UTC)
    saved = store.put_record(
        "merangin", "profiles", "kesehatan", profile(), created_by="ani", note="first draft"
    )
    after = dt.datetime.now(dt.UTC)
    assert isinstance(saved, RecordVersion)
    assert (saved.workspace, saved.collection, saved.name, saved.version) == (
        "merangin",
        "profiles",
        "kesehatan",
        1,
    )
    assert saved.ref == "merangin/profiles/kesehatan@1"
    assert (saved.created_by, saved.note) == ("ani", "first draft")
    assert saved.created_at.utcoffset() == dt.timedelta(0)
    assert before <= saved.created_at <= after
    back = store.get_record("merangin", "profiles", "kesehatan")
    assert back == saved
    assert back.body == profile()
    # key order, codes with leading zeros, None, booleans and number types are kept
    assert list(back.body) == list(profile())
    assert back.body["kode_filter"] == ["0102", "15.02.01"]
    assert type(back.body["threshold"]) is int
    assert back.body["published"] is False
    assert back.body["missing"] is None


def test_tuples_come_back_as_lists_and_numpy_floats_as_floats(store):
    body = {"bounds": (101.5, -2.8), "share": np.float64(0.25), "nested": OrderedDict(a=1)}
    saved = store.put_record("merangin", "notes", "x", body)
    assert saved.body == {"bounds": [101.5, -2.8], "share": 0.25, "nested": {"a": 1}}
    assert store.get_record("merangin", "notes", "x").body == saved.body


def test_versions_count_per_workspace_collection_and_name(store):
    v1 = store.put_record("merangin", "profiles", "kesehatan", profile(0.5), created_by="ani")
    v2 = store.put_record("merangin", "profiles", "kesehatan", profile(0.7), created_by="budi")
    other_name = store.put_record("merangin", "profiles", "pendidikan", profile())
    other_collection = store.put_record("merangin", "score_runs", "kesehatan", {"ok": True})
    other_workspace = store.put_record("kerinci", "profiles", "kesehatan", profile())
    assert [v1.version, v2.version] == [1, 2]
    assert other_name.version == other_collection.version == other_workspace.version == 1
    assert store.get_record("merangin", "profiles", "kesehatan") == v2
    old = store.get_record("merangin", "profiles", "kesehatan", 1)
    assert old == v1
    assert old.body["indicators"][0]["weight"] == 0.5
    assert v2.body["indicators"][0]["weight"] == 0.7


def test_list_records_latest_or_all_versions(store):
    store.put_record("merangin", "score_runs", "run-1", {"n": 1})
    store.put_record("merangin", "profiles", "pendidikan", {"v": 1})
    store.put_record("merangin", "profiles", "kesehatan", {"v": 1})
    store.put_record("merangin", "profiles", "kesehatan", {"v": 2})
    store.put_record("kerinci", "profiles", "kesehatan", {"v": 1})
    latest = store.list_records("merangin")
    assert [r.ref for r in latest] == [
        "merangin/profiles/kesehatan@2",
        "merangin/profiles/pendidikan@1",
        "merangin/score_runs/run-1@1",
    ]
    assert latest[0].body == {"v": 2}
    assert [r.ref for r in store.list_records("merangin", "profiles", all_versions=True)] == [
        "merangin/profiles/kesehatan@1",
        "merangin/profiles/kesehatan@2",
        "merangin/profiles/pendidikan@1",
    ]
    assert [r.ref for r in store.list_records("kerinci")] == ["kerinci/profiles/kesehatan@1"]
    assert store.list_records("merangin", "programs") == []
    with pytest.raises(NotFoundError, match="no workspace 'tebo'"):
        store.list_records("tebo")


def test_unknown_records_name_what_exists(store):
    with pytest.raises(
        NotFoundError,
        match=r"no record 'kesehatan' in merangin/profiles: workspace merangin has no records yet",
    ):
        store.get_record("merangin", "profiles", "kesehatan")
    store.put_record("merangin", "profiles", "kesehatan", {"v": 1})
    store.put_record("merangin", "profiles", "kesehatan", {"v": 2})
    store.put_record("merangin", "profiles", "air", {"v": 1})
    store.put_record("merangin", "score_runs", "run-1", {"v": 1})
    with pytest.raises(
        NotFoundError, match=r"no record 'gizi' in merangin/profiles; records: air, kesehatan$"
    ):
        store.get_record("merangin", "profiles", "gizi")
    with pytest.raises(
        NotFoundError,
        match=r"no record 'x' in merangin/profile: the collection is empty; "
        r"collections: profiles, score_runs$",
    ):
        store.get_record("merangin", "profile", "x")
    with pytest.raises(
        NotFoundError, match=r"no version 3 of merangin/profiles/kesehatan; versions: 1, 2$"
    ):
        store.get_record("merangin", "profiles", "kesehatan", 3)
    with pytest.raises(NotFoundError, match=r"no workspace 'tebo'; workspaces: kerinci, merangin"):
        store.get_record("tebo", "profiles", "kesehatan")
    with pytest.raises(NotFoundError, match="no workspace 'tebo'"):
        store.put_record("tebo", "profiles", "kesehatan", {})
    with pytest.raises(NotFoundError, match="records: air, kesehatan"):
        store.delete_record("merangin", "profiles", "gizi")


class Unserialisable:
    def __repr__(self) -> str:
        return "<Unserialisable>"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"when": dt.date(2024, 1, 31)},
            r"^body\['when'\] is datetime.date\(2024, 1, 31\) \(type date\), which a record "
            r"cannot store; use text, a number, true/false, None, a list or a dict$",
        ),
        (
            {"weights": {"a": [1, np.int64(2)]}},
            r"^body\['weights'\]\['a'\]\[1\] is np.int64\(2\) \(type int64\)",
        ),
        ({"flags": [True, np.bool_(False)]}, r"^body\['flags'\]\[1\] is .* \(type bool\)"),
        ({"score": [0.1, float("nan")]}, r"^body\['score'\]\[1\] is nan; .*finite numbers"),
        ({"x": {"y": float("inf")}}, r"^body\['x'\]\['y'\] is inf"),
        ({"kode": {"0102", "007"}}, r"^body\['kode'\] is .* \(type set\)"),
        ({"obj": Unserialisable()}, r"^body\['obj'\] is <Unserialisable> \(type Unserialisable"),
        ({"by_year": {2024: 1}}, r"^record key 2024 at body\['by_year'\] is not text"),
        ({"frame": pd.Series(range(1000))}, r"^body\['frame'\] is .{1,40} \(type Series\)"),
        ([1, 2], "a record body must be a dict, not list"),
        ("{}", "a record body must be a dict, not str"),
    ],
)
def test_bodies_json_cannot_keep_are_refused_with_their_path(store, body, message):
    before = contract.dump(store)
    with pytest.raises(StoreError, match=message):
        store.put_record("merangin", "profiles", "kesehatan", body)
    assert contract.dump(store) == before


def test_a_body_that_contains_itself_is_refused(store):
    body: dict = {"a": []}
    body["a"].append(body)
    with pytest.raises(StoreError, match=r"body\['a'\]\[0\] contains itself"):
        store.put_record("merangin", "profiles", "loop", body)
    shared = [1, 2]
    # the same list twice is a tree of values, not a loop
    saved = store.put_record("merangin", "profiles", "shared", {"a": shared, "b": shared})
    assert saved.body == {"a": [1, 2], "b": [1, 2]}


def test_a_body_nested_too_deeply_is_refused(store):
    body: dict = {}
    inner = body
    for _ in range(5000):
        inner["a"] = {}
        inner = inner["a"]
    with pytest.raises(StoreError, match="nested too deeply"):
        store.put_record("merangin", "profiles", "deep", body)
    assert store.list_records("merangin") == []


@pytest.mark.parametrize("bad", ["", "Profiles", "score runs", "a" * 65, "a/b", None, 3])
def test_bad_collection_and_record_names_are_refused(store, bad):
    with pytest.raises(StoreError, match=r"invalid collection name .*lowercase letters, digits"):
        store.put_record("merangin", bad, "x", {})
    with pytest.raises(StoreError, match=r"invalid record name .*lowercase letters, digits"):
        store.put_record("merangin", "profiles", bad, {})
    with pytest.raises(StoreError, match="invalid record name"):
        store.get_record("merangin", "profiles", bad)
    if bad is not None:  # no collection means every collection
        with pytest.raises(StoreError, match="invalid collection name"):
            store.list_records("merangin", bad)
    assert store.list_records("merangin") == []


def test_bad_versions_and_metadata_are_refused(store):
    store.put_record("merangin", "profiles", "x", {})
    for bad in [0, -1, "1", True, 1.0]:
        with pytest.raises(StoreError, match=r"version must be a whole number from 1"):
            store.get_record("merangin", "profiles", "x", bad)
    for bad in [-1, "1", True, 1.0, 0.0]:
        with pytest.raises(StoreError, match=r"expected_version must be a whole number from 0"):
            store.put_record("merangin", "profiles", "x", {}, expected_version=bad)
    with pytest.raises(StoreError, match="created_by must be text"):
        store.put_record("merangin", "profiles", "x", {}, created_by=7)
    with pytest.raises(StoreError, match="note must be text"):
        store.put_record("merangin", "profiles", "x", {}, note=None)
    assert [r.version for r in store.list_records("merangin", all_versions=True)] == [1]


def _when(value: dt.datetime) -> str:
    """``2024-05-01 08:30:00 UTC``."""
    return value.isoformat(sep=" ", timespec="seconds").replace("+00:00", " UTC")


def test_a_save_based_on_an_old_version_is_refused_naming_who_saved_the_new_one(store):
    store.put_record("merangin", "profiles", "kesehatan", profile(0.5), created_by="ani")
    v2 = store.put_record(
        "merangin", "profiles", "kesehatan", profile(0.6), created_by="budi", expected_version=1
    )
    assert v2.version == 2
    before = contract.dump(store)
    with pytest.raises(ConflictError) as info:
        store.put_record(
            "merangin", "profiles", "kesehatan", profile(0.9), created_by="citra",
            expected_version=1,
        )  # fmt: skip
    assert str(info.value) == (
        "merangin/profiles/kesehatan was changed meanwhile: version 2 was saved by budi at "
        f"{_when(v2.created_at)}, but your change was based on version 1; reload it and apply "
        "your change again"
    )
    assert info.value.latest == v2
    assert info.value.expected == 1
    assert isinstance(info.value, StoreError)
    copy = pickle.loads(pickle.dumps(info.value))  # e.g. from a worker process
    assert (type(copy), str(copy)) == (ConflictError, str(info.value))
    assert contract.dump(store) == before
    # based on the latest, the save goes through
    v3 = store.put_record("merangin", "profiles", "kesehatan", profile(0.9), expected_version=2)
    assert v3.version == 3
    # without an author the message says when only
    with pytest.raises(ConflictError, match=r"version 3 was saved at \d{4}-\d\d-\d\d "):
        store.put_record("merangin", "profiles", "kesehatan", profile(), expected_version=2)


def test_expected_version_zero_means_the_record_must_be_new(store):
    first = store.put_record(
        "merangin", "profiles", "gizi", {"v": 1}, created_by="ani", expected_version=0
    )
    assert first.version == 1
    with pytest.raises(
        ConflictError,
        match=r"^merangin/profiles/gizi already exists: version 1 was saved by ani at "
        + re.escape(_when(first.created_at)),
    ):
        store.put_record("merangin", "profiles", "gizi", {"v": 2}, expected_version=0)
    store.delete_record("merangin", "profiles", "gizi")
    with pytest.raises(ConflictError, match=r"no longer exists \(it was deleted\)") as info:
        store.put_record("merangin", "profiles", "gizi", {"v": 2}, expected_version=1)
    assert info.value.latest is None
    assert store.list_records("merangin") == []


def test_two_stores_on_one_database_both_editing_version_1(store_url):
    setup = open_store(store_url)
    setup.init()
    setup.create_workspace("merangin")
    setup.put_record("merangin", "profiles", "kesehatan", profile(0.5), created_by="ani")
    first, second = open_store(store_url), open_store(store_url)
    loaded_first = first.get_record("merangin", "profiles", "kesehatan")
    loaded_second = second.get_record("merangin", "profiles", "kesehatan")
    assert loaded_first.version == loaded_second.version == 1
    saved = first.put_record(
        "merangin",
        "profiles",
        "kesehatan",
        profile(0.8),
        created_by="budi",
        expected_version=loaded_first.version,
    )
    with pytest.raises(ConflictError, match="version 2 was saved by budi at") as info:
        second.put_record(
            "merangin",
            "profiles",
            "kesehatan",
            profile(0.2),
            created_by="citra",
            expected_version=loaded_second.version,
        )
    assert info.value.latest == saved
    latest = setup.get_record("merangin", "profiles", "kesehatan")
    assert (latest.version, latest.created_by, latest.body) == (2, "budi", profile(0.8))
    for s in (setup, first, second):
        s.close()


def test_concurrent_saves_of_one_version_let_exactly_one_through(store_url):
    setup = open_store(store_url)
    setup.init()
    setup.create_workspace("merangin")
    setup.put_record("merangin", "profiles", "kesehatan", {"v": 0})
    writers = 4
    barrier = threading.Barrier(writers)
    saved, conflicts, errors = [], [], []

    def save(i):
        s = open_store(store_url)
        try:
            loaded = s.get_record("merangin", "profiles", "kesehatan")
            barrier.wait()
            saved.append(
                s.put_record(
                    "merangin",
                    "profiles",
                    "kesehatan",
                    {"v": i},
                    created_by=f"user{i}",
                    expected_version=loaded.version,
                )
            )
        except ConflictError as exc:
            conflicts.append(exc)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            s.close()

    threads = [threading.Thread(target=save, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(saved) == 1
    assert len(conflicts) == writers - 1
    winner = saved[0]
    assert all(c.latest == winner for c in conflicts)
    history = setup.list_records("merangin", all_versions=True)
    assert [(r.version, r.created_by) for r in history] == [(1, None), (2, winner.created_by)]
    setup.close()


def test_delete_record_and_workspace_remove_records(store):
    store.put_record("merangin", "profiles", "kesehatan", {"v": 1})
    store.put_record("merangin", "profiles", "kesehatan", {"v": 2})
    store.put_record("merangin", "profiles", "air", {"v": 1})
    store.put_record("kerinci", "profiles", "kesehatan", {"v": 1})
    store.delete_record("merangin", "profiles", "kesehatan")
    assert [r.ref for r in store.list_records("merangin", all_versions=True)] == [
        "merangin/profiles/air@1"
    ]
    # a new save after deleting starts again from version 1
    assert store.put_record("merangin", "profiles", "kesehatan", {"v": 3}).version == 1
    store.delete_workspace("merangin")
    rows = contract.dump(store)["records"]
    assert len(rows) == 1
    assert store.list_records("kerinci")[0].ref == "kerinci/profiles/kesehatan@1"
    store.create_workspace("merangin")
    assert store.list_records("merangin") == []


# --- derived tables ------------------------------------------------------------------------


def score_table() -> pd.DataFrame:
    """A score run's result: indexed by kode (text, leading zeros), numbers and text."""
    return pd.DataFrame(
        {
            "score": [0.8123456789, 0.5, np.nan],
            "rank": np.array([1, 2, 3], dtype="int64"),
            "band": ["tinggi", "sedang", None],
            "dist_m__puskesmas": pd.array([5400.0, None, 120.5], dtype="Float64"),
            "needs__water": pd.array([3, 0, None], dtype="Int64"),
        },
        index=pd.Index(["15.02.01.2001", "0102", "007"], name="kode"),
    )


def score_map() -> gpd.GeoDataFrame:
    """The same result on the village polygons, in a metric CRS (UTM 48S)."""
    villages = contract.villages().set_index("kode")
    frame = score_table().iloc[:2].join(villages[["geometry"]], how="left")
    return gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326").to_crs("EPSG:32748")


def put_derived(store, data, name, **kw):
    kw.setdefault("source_name", None)
    kw.setdefault("source_sha256", None)
    kw.setdefault("report", {"profile": "merangin/profiles/kesehatan@2"})
    return store.put_dataset("merangin", "derived", data, name=name, **kw)


def test_derived_tables_round_trip_exactly(store):
    table = score_table()
    version = put_derived(store, table, "score-kesehatan", created_by="ani", note="run 1")
    assert (version.kind, version.ref, version.row_count) == (
        "derived",
        "merangin/score-kesehatan@1",
        3,
    )
    assert (version.crs, version.bounds) == (None, None)
    back = store.read_dataset("merangin", "score-kesehatan")
    contract.assert_same(back, table)
    assert back.index.tolist() == ["15.02.01.2001", "0102", "007"]
    assert store.get_report("merangin", "score-kesehatan") == {
        "profile": "merangin/profiles/kesehatan@2"
    }
    spatial = score_map()
    info = put_derived(store, spatial, "score-kesehatan-map")
    assert info.crs == "EPSG:32748"
    assert info.bounds == pytest.approx(tuple(spatial.total_bounds))
    contract.assert_same(store.read_dataset("merangin", "score-kesehatan-map"), spatial)
    # a second run is the next version; the first stays readable
    assert put_derived(store, table.iloc[:1], "score-kesehatan").version == 2
    contract.assert_same(store.read_dataset("merangin", "score-kesehatan", 1), table)


def test_layer_lists_leave_derived_tables_out_unless_asked(store):
    contract.put(store, "villages", contract.villages())
    contract.put(store, "indicators", contract.indicators(), name="podes")
    put_derived(store, score_table(), "score-a")
    put_derived(store, score_table(), "score-a")
    put_derived(store, score_table(), "score-b")
    assert [d.ref for d in store.list_datasets("merangin")] == [
        "merangin/podes@1",
        "merangin/villages@1",
    ]
    assert [d.ref for d in store.list_datasets()] == ["merangin/podes@1", "merangin/villages@1"]
    assert [d.ref for d in store.list_datasets("merangin", kinds="derived")] == [
        "merangin/score-a@2",
        "merangin/score-b@1",
    ]
    assert [d.ref for d in store.list_datasets(kinds=["derived"], all_versions=True)] == [
        "merangin/score-a@1",
        "merangin/score-a@2",
        "merangin/score-b@1",
    ]
    assert [d.name for d in store.list_datasets("merangin", kinds=DATASET_KINDS)] == [
        "podes",
        "score-a",
        "score-b",
        "villages",
    ]
    assert [d.name for d in store.list_datasets(kinds=("indicators", "raster"))] == ["podes"]
    for bad in ["score", ["villages", "roads"], []]:
        with pytest.raises(StoreError, match=r"unknown dataset kinds .*expected some of villages"):
            store.list_datasets(kinds=bad)


def _complex() -> pd.DataFrame:
    return score_table().assign(z=[1j, 2j, 3j])


@pytest.mark.parametrize(
    ("make", "name", "message"),
    [
        (score_table, None, r"a derived table needs a name"),
        (lambda: score_table().to_dict(), "s", "must be a DataFrame or GeoDataFrame, not dict"),
        (
            lambda: score_map().set_crs(None, allow_override=True),
            "s",
            "geometry has no coordinate reference system",
        ),
        (_complex, "s", "cannot be stored"),
        (lambda: score_table().rename(columns={"rank": "score"}), "s", "repeated: score"),
        (score_table, "Score A", "invalid dataset name"),
    ],
)
def test_derived_tables_the_codec_cannot_keep_are_refused(store, make, name, message):
    before = contract.dump(store)
    with pytest.raises(StoreError, match=message):
        store.put_dataset(
            "merangin", "derived", make(), name=name, source_name=None, source_sha256=None,
            report={},
        )  # fmt: skip
    assert contract.dump(store) == before


def test_canonical_kinds_are_checked_as_strictly_as_before(store):
    # what a derived table may be is still refused for the layer kinds
    before = contract.dump(store)
    with pytest.raises(StoreError, match="lacks required columns"):
        contract.put(store, "indicators", score_table())
    with pytest.raises(StoreError, match="must be a GeoDataFrame with a geometry column"):
        contract.put(store, "villages", pd.DataFrame(contract.villages()))
    with pytest.raises(StoreError, match="a table without geometry"):
        contract.put(store, "indicators", score_map().reset_index())
    with pytest.raises(StoreError, match=r"unknown layer kind 'score'; expected one of .*derived"):
        contract.put(store, "score", score_table())
    assert contract.dump(store) == before


def test_a_name_holds_either_layers_or_derived_tables(store):
    contract.put(store, "villages", contract.villages())
    put_derived(store, score_table(), "score-a")
    before = contract.dump(store)
    with pytest.raises(
        StoreError,
        match=r"merangin/villages is a villages layer; store the derived table under another",
    ):
        put_derived(store, score_table(), "villages")
    with pytest.raises(
        StoreError,
        match=r"merangin/score-a holds derived tables; store the indicators layer under another",
    ):
        contract.put(store, "indicators", contract.indicators(), name="score-a")
    with pytest.raises(StoreError, match="holds derived tables; store the raster layer"):
        store.put_raster(
            "merangin", b"II*\x00", name="score-a", source_name="p.tif", source_sha256=None,
            report={}, crs="EPSG:4326", bounds=None,
        )  # fmt: skip
    assert contract.dump(store) == before


# --- upgrading a store of table layout 1 ---------------------------------------------------------


def _layout_1_tables() -> tuple[sa.MetaData, dict[str, sa.Table]]:
    """The tables as layout 1 defined them, before records existed."""
    md = sa.MetaData()
    tables = {
        "meta": sa.Table(
            "meta",
            md,
            sa.Column("key", sa.String(64), primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        ),
        "workspaces": sa.Table(
            "workspaces",
            md,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("name", sa.String(64), nullable=False, unique=True),
            sa.Column("title", sa.Text, nullable=False),
            sa.Column("description", sa.Text, nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        ),
        "datasets": sa.Table(
            "datasets",
            md,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column(
                "workspace_id",
                sa.Integer,
                sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
                nullable=False,
            ),
            sa.Column("kind", sa.String(32), nullable=False),
            sa.Column("name", sa.String(64), nullable=False),
            sa.Column("version", sa.Integer, nullable=False),
            sa.Column("source_name", sa.Text),
            sa.Column("source_sha256", sa.String(64)),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("created_by", sa.Text),
            sa.Column("row_count", sa.BigInteger, nullable=False),
            sa.Column("counts_json", sa.Text, nullable=False),
            sa.Column("report_json", sa.Text, nullable=False),
            sa.Column("crs", sa.Text),
            *(sa.Column(c, sa.Double) for c in ("minx", "miny", "maxx", "maxy")),
            sa.Column("note", sa.Text, nullable=False),
            sa.Column("schema_json", sa.Text, nullable=False),
            sa.UniqueConstraint("workspace_id", "name", "version", name="uq_datasets_version"),
        ),
        "dataset_chunks": sa.Table(
            "dataset_chunks",
            md,
            sa.Column(
                "dataset_id",
                sa.Integer,
                sa.ForeignKey("datasets.id", ondelete="CASCADE"),
                primary_key=True,
            ),
            sa.Column("seq", sa.Integer, primary_key=True),
            sa.Column("row_count", sa.BigInteger, nullable=False),
            *(sa.Column(c, sa.Double) for c in ("minx", "miny", "maxx", "maxy")),
            sa.Column("data", sa.LargeBinary, nullable=False),
        ),
    }
    return md, tables


def write_layout_1_store(url: str) -> pd.DataFrame:
    """Write a store as layout 1 left it: one workspace and an indicator table. Returns it."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        from pathlib import Path

        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    else:
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = sa.create_engine(parsed)
    md, t = _layout_1_tables()
    table = contract.indicators()
    snapshot = codec.prepare(table)
    (part,) = snapshot.parts()
    created = dt.datetime(2024, 5, 1, 8, 30, tzinfo=dt.UTC)
    with engine.begin() as conn:
        md.create_all(conn)
        conn.execute(t["meta"].insert().values(key="schema_version", value="1"))
        workspace_id = conn.execute(
            t["workspaces"]
            .insert()
            .values(name="merangin", title="Merangin", description="", created_at=created)
        ).inserted_primary_key[0]
        dataset_id = conn.execute(
            t["datasets"]
            .insert()
            .values(
                workspace_id=workspace_id,
                kind="indicators",
                name="podes",
                version=1,
                source_name="podes.csv",
                source_sha256=SHA,
                created_at=created,
                created_by="ani",
                row_count=snapshot.row_count,
                counts_json="{}",
                report_json="{}",
                note="",
                schema_json=json.dumps(snapshot.schema),
            )
        ).inserted_primary_key[0]
        conn.execute(
            t["dataset_chunks"]
            .insert()
            .values(
                dataset_id=dataset_id,
                seq=0,
                row_count=part.row_count,
                data=codec.encode_chunk(part),
            )
        )
    engine.dispose()
    return table


def test_schema_version_is_3():
    assert SCHEMA_VERSION == 3


def test_a_layout_1_store_is_upgraded_in_place_by_init(store_url):
    table = write_layout_1_store(store_url)
    old = open_store(store_url)
    # its datasets stay usable before the upgrade; records say to run init
    contract.assert_same(old.read_dataset("merangin", "podes"), table)
    assert [d.ref for d in old.list_datasets()] == ["merangin/podes@1"]
    with pytest.raises(
        StoreError,
        match=r"has table layout 1, which cannot keep records yet; run Store.init\(\)",
    ):
        old.put_record("merangin", "profiles", "kesehatan", {})
    with old.engine.connect() as conn:
        assert not sa.inspect(conn).has_table("records")

    upgrader = open_store(store_url)
    upgrader.init()
    with upgrader.engine.connect() as conn:
        version = conn.exec_driver_sql(
            "SELECT value FROM meta WHERE key = 'schema_version'"
        ).scalar()
        assert sa.inspect(conn).has_table("records")
    assert version == str(SCHEMA_VERSION)
    upgrader.init()  # idempotent
    # the store opened before the upgrade sees the new table without being reopened
    saved = old.put_record("merangin", "profiles", "kesehatan", profile(), created_by="ani")
    assert saved.ref == "merangin/profiles/kesehatan@1"
    assert upgrader.get_record("merangin", "profiles", "kesehatan") == saved
    # the old data is untouched and new versions follow it
    info = upgrader.dataset_info("merangin", "podes")
    assert (info.version, info.created_by, info.source_sha256) == (1, "ani", SHA)
    assert info.created_at == dt.datetime(2024, 5, 1, 8, 30, tzinfo=dt.UTC)
    contract.assert_same(upgrader.read_dataset("merangin", "podes"), table)
    assert contract.put(upgrader, "indicators", table, name="podes").version == 2
    put_derived(upgrader, score_table(), "score-a")
    assert [d.ref for d in upgrader.list_datasets()] == ["merangin/podes@2"]
    upgrader.delete_workspace("merangin")
    assert contract.dump(upgrader)["records"] == []
    old.close()
    upgrader.close()


def test_a_layout_1_store_can_still_delete_a_workspace_before_the_upgrade(store_url):
    write_layout_1_store(store_url)
    old = open_store(store_url)
    old.delete_workspace("merangin")
    assert old.list_workspaces() == []
    old.close()
