"""The store's contract, run against every backend: SQLite always, PostGIS when configured.

Set ``JANGKAU_TEST_POSTGIS_URL=postgresql://user@host:port/database`` (a database where
the ``postgis`` extension exists or may be created) to run the PostGIS half; each test
gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shapely
import sqlalchemy as sa
from geopandas.testing import assert_geodataframe_equal
from pandas.testing import assert_frame_equal

from layers.errors import NotFoundError, StoreError
from layers.report import ValidationReport
from layers.storage import DatasetVersion, Store, Workspace, codec, open_store
from layers.storage.base import check_name
from layers.storage.sql import SCHEMA_VERSION

REPO = Path(__file__).resolve().parents[2]
POSTGIS_URL = os.environ.get("JANGKAU_TEST_POSTGIS_URL")
SHA = "ab" * 32


# --- backends ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgis_database():
    """A PostGIS database of its own for this test session, dropped at the end.

    Made with CREATE DATABASE when the configured user may; otherwise the configured
    database is used as it is (its ``public`` schema must then hold no Jangkau tables).
    """
    base = sa.make_url(POSTGIS_URL).set(drivername="postgresql+psycopg")
    name = f"jangkau_test_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except sa.exc.SQLAlchemyError:
        name = None
    url = base if name is None else base.set(database=name)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis SCHEMA public")
    try:
        yield engine
    finally:
        engine.dispose()
        if name is not None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
        admin.dispose()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgis",
            marks=pytest.mark.skipif(
                not POSTGIS_URL, reason="set JANGKAU_TEST_POSTGIS_URL to test the PostGIS store"
            ),
        ),
    ]
)
def store_url(request, tmp_path):
    """URL of an empty store of each backend (PostGIS: a schema of its own)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'instance' / 'jangkau.sqlite'}"
        return
    engine = request.getfixturevalue("postgis_database")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = engine.url.update_query_dict({"options": f"-csearch_path={schema},public"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def store(store_url):
    """An initialised store with the workspace ``merangin``."""
    s = open_store(store_url)
    s.init()
    s.create_workspace("merangin", "Kabupaten Merangin", "demo area")
    yield s
    s.close()


def dump(store: Store) -> dict[str, list[tuple]]:
    """Every row of every table of the store, sorted: equal dumps mean an unchanged store."""
    engine = store.engine
    with engine.connect() as conn:
        names = sorted(sa.inspect(conn).get_table_names())
        tables = {}
        for name in names:
            rows = conn.exec_driver_sql(f'SELECT * FROM "{name}"').all()
            tables[name] = sorted(tuple(map(repr, row)) for row in rows)
    assert {"meta", "workspaces", "datasets", "dataset_chunks"} <= set(tables)
    return tables


# --- layers ------------------------------------------------------------------------------


def villages() -> gpd.GeoDataFrame:
    """Three villages: a square, a square with a hole, a two-part multipolygon."""
    hole = shapely.Polygon(
        [(102.0, -2.0), (102.1, -2.0), (102.1, -1.9), (102.0, -1.9)],
        holes=[[(102.02, -1.98), (102.02, -1.92), (102.08, -1.92), (102.08, -1.98)]],
    )
    multi = shapely.MultiPolygon(
        [shapely.box(102.2, -2.0, 102.25, -1.95), shapely.box(102.3, -2.0, 102.35, -1.95)]
    )
    return gpd.GeoDataFrame(
        {
            "kode": ["15.02.01.2001", "15.02.01.1002", "15.02.02.2003"],
            "name": ["Pulau Rengas", None, ""],
            "kecamatan_kode": ["15.02.01", "15.02.01", "15.02.02"],
            "village_type": pd.Categorical(
                ["desa", "kelurahan", "desa"], categories=["desa", "kelurahan"]
            ),
            "population": [1520.0, np.nan, 0.0],
        },
        geometry=[shapely.box(101.9, -2.0, 102.0, -1.9), hole, multi],
        crs="EPSG:4326",
    )


def needs() -> gpd.GeoDataFrame:
    """Needs with a missing point, dates, a nullable integer and None vs empty text."""
    return gpd.GeoDataFrame(
        {
            "need_id": ["N001", "N002", "N003"],
            "category": pd.Categorical(["water", "health", "water"]),
            "severity": pd.array([5, 3, None], dtype="Int64"),
            "reported_date": pd.to_datetime(["2024-01-31", "2023-12-01", None]),
            "description": pd.Series(["sumur kering", "", None], dtype=object),
            "kode": ["15.02.01.2001", "15.02.01.1002", "0102"],
        },
        geometry=[shapely.Point(102.05, -1.95), None, shapely.Point(102.3, -1.97)],
        crs="EPSG:4326",
    )


def indicators() -> pd.DataFrame:
    """An indicator table: codes with leading zeros and mixed numeric dtypes."""
    return pd.DataFrame(
        {
            "kode": ["0102", "15.02.01.2001", "007"],
            "families": np.array([120, 0, 87], dtype="int64"),
            "idm": [0.61, np.nan, 0.7123456789012345],
            "households": pd.array([10, None, 3], dtype="Int64"),
        }
    )


def every_dtype() -> gpd.GeoDataFrame:
    """One column of each dtype the store promises to keep, plus Z, M and empty geometries."""
    n = 4
    frame = gpd.GeoDataFrame(
        {
            "name": pd.Series(["0102", None, "", "x"], dtype=object),
            "text": pd.Series(["0102", None, "", "ä"], dtype="str"),
            "string": pd.Series(["a", None, "", "b"], dtype="string"),
            "string_python": pd.Series(["a", None, "", "b"], dtype=pd.StringDtype("python")),
            "int8": np.array([1, -2, 3, 127], dtype="int8"),
            "uint16": np.array([1, 2, 3, 65535], dtype="uint16"),
            "int64": np.array([2**62, -1, 0, 5], dtype="int64"),
            "Int32": pd.array([1, None, 3, 4], dtype="Int32"),
            "float32": np.array([1.5, np.nan, -0.0, 3.25], dtype="float32"),
            "float64": [0.1, np.nan, np.inf, -1e-300],
            "Float64": pd.array([0.5, None, 1.0, 2.0], dtype="Float64"),
            "bool": [True, False, True, False],
            "boolean": pd.array([True, None, False, True], dtype="boolean"),
            "ns": pd.to_datetime(
                ["2024-01-01 10:00:00.123456789", None, "1970-01-01", "2030-12-31"],
                format="ISO8601",
            ).as_unit("ns"),
            "us_tz": pd.to_datetime(["2024-01-01", None, "2024-06-30", "2000-02-29"])
            .as_unit("us")
            .tz_localize("Asia/Jakarta"),
            "date": [dt.date(2024, 1, 31), None, dt.date(1999, 12, 31), dt.date(2024, 2, 29)],
            "delta": pd.to_timedelta(["1 day", None, "2h", "0s"]),
            "type": pd.Categorical(["b", None, "a", "b"], categories=["b", "a", "c"], ordered=True),
            "period": pd.period_range("2024-01", periods=4, freq="M"),
            "arrow_int": pd.array([1, None, 3, 4], dtype="int64[pyarrow]"),
            "int_category": pd.Categorical([3, 1, None, 3], categories=[3, 1, 2]),
            "wkb_point": gpd.GeoSeries(
                [shapely.Point(1, 2), None, shapely.Point(3, 4), shapely.Point(5, 6)],
                crs="EPSG:32748",
            ),
        },
        geometry=[
            shapely.from_wkt("POINT Z (102.1 -1.9 35.5)"),
            shapely.from_wkt("POINT M (102.2 -1.8 7)"),
            shapely.from_wkt("POINT EMPTY"),
            shapely.from_wkt("LINESTRING ZM (102 -2 1 2, 102.5 -2.5 3 4)"),
        ],
        crs="EPSG:4326",
    )
    assert len(frame) == n
    return frame


def assert_same(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Equal frames, dtypes, index and CRS, and byte-identical WKB for every geometry column."""
    assert type(actual) is type(expected)
    assert list(actual.columns) == list(expected.columns)
    assert list(actual.dtypes) == list(expected.dtypes)
    if isinstance(expected, gpd.GeoDataFrame):
        assert actual.geometry.name == expected.geometry.name
        for name in expected.columns:
            if isinstance(expected[name].dtype, gpd.array.GeometryDtype):
                assert actual[name].crs == expected[name].crs
                assert list(codec.to_wkb(actual[name].values)) == list(
                    codec.to_wkb(expected[name].values)
                )
        assert_geodataframe_equal(actual, expected, check_index_type=True)
    else:
        assert_frame_equal(actual, expected, check_index_type=True, check_column_type=True)


def put(store: Store, kind: str, data: pd.DataFrame, **kw) -> DatasetVersion:
    kw.setdefault("source_name", f"{kind}.geojson")
    kw.setdefault("source_sha256", SHA)
    kw.setdefault("report", {})
    return store.put_dataset("merangin", kind, data, **kw)


def scattered_points(n: int, seed: int = 1) -> gpd.GeoDataFrame:
    """``n`` facility points in random order over Merangin, some missing or empty."""
    rng = np.random.default_rng(seed)
    geometry = shapely.points(rng.uniform(101.5, 102.8, n), rng.uniform(-2.8, -1.7, n))
    geometry[::97] = None
    geometry[5::131] = shapely.Point()
    return gpd.GeoDataFrame(
        {
            "facility_id": [f"F{i:05d}" for i in range(n)],
            "name": [f"Posyandu {i}" for i in range(n)],
            "type": pd.Categorical(rng.choice(["posyandu", "sd", "pustu"], n)),
            "capacity": rng.uniform(0, 100, n),
            "kode": [f"15.02.{i % 24 + 1:02d}.{2001 + i % 9:04d}" for i in range(n)],
        },
        geometry=geometry,
        crs="EPSG:4326",
    )


# --- opening and initialising ------------------------------------------------------------


def test_open_store_chooses_backend_by_scheme(tmp_path):
    from layers.storage.postgis import PostGISStore
    from layers.storage.sqlite import SQLiteStore

    sqlite_store = open_store(f"sqlite:///{tmp_path}/new/folder/j.sqlite")
    assert isinstance(sqlite_store, SQLiteStore)
    assert (tmp_path / "new" / "folder").is_dir()
    assert isinstance(open_store(tmp_path / "by-path.sqlite"), SQLiteStore)
    # opening is lazy: no connection is made until the first operation
    assert isinstance(open_store("postgresql://someone@127.0.0.1:1/nowhere"), PostGISStore)
    with pytest.raises(StoreError, match=r"unsupported store URL scheme 'mysql'.*sqlite"):
        open_store("mysql://localhost/x")
    with pytest.raises(StoreError, match="not a URL"):
        open_store("instance/jangkau.sqlite")


def test_unreachable_postgis_is_a_store_error():
    store = open_store("postgresql://someone@127.0.0.1:1/nowhere?connect_timeout=2")
    with pytest.raises(StoreError, match="cannot initialise the store"):
        store.init()


def test_sqlite_file_uses_wal_and_foreign_keys(tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/j.sqlite")
    store.init()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_in_memory_sqlite_store_works():
    store = open_store("sqlite://")
    store.init()
    store.create_workspace("tmp")
    put_version = store.put_dataset(
        "tmp", "indicators", indicators(), source_name=None, source_sha256=None, report={}
    )
    assert put_version.ref == "tmp/indicators@1"
    assert_same(store.read_dataset("tmp", "indicators"), indicators())


def test_operations_before_init_say_so(store_url):
    store = open_store(store_url)
    with pytest.raises(StoreError, match="not initialised"):
        store.list_workspaces()


def test_init_is_idempotent_and_records_schema_version(store_url):
    store = open_store(store_url)
    store.init()
    store.create_workspace("merangin")
    store.init()
    assert [w.name for w in store.list_workspaces()] == ["merangin"]
    with store.engine.connect() as conn:
        value = conn.exec_driver_sql("SELECT value FROM meta WHERE key = 'schema_version'").scalar()
    assert value == str(SCHEMA_VERSION)


def test_store_from_a_newer_release_is_refused(store_url):
    store = open_store(store_url)
    store.init()
    with store.engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE meta SET value = '{SCHEMA_VERSION + 1}'")
    with pytest.raises(StoreError, match="newer than this Jangkau"):
        open_store(store_url).list_workspaces()
    with pytest.raises(StoreError, match="newer than this Jangkau"):
        open_store(store_url).init()


# --- workspaces ----------------------------------------------------------------------------


def test_workspaces_create_get_list_delete(store):
    ws = store.get_workspace("merangin")
    assert ws == Workspace("merangin", "Kabupaten Merangin", "demo area", ws.created_at)
    assert ws.created_at.tzinfo is not None
    assert ws.created_at.utcoffset() == dt.timedelta(0)
    kerinci = store.create_workspace("kerinci")
    assert kerinci.title == "kerinci"
    assert [w.name for w in store.list_workspaces()] == ["kerinci", "merangin"]
    with pytest.raises(StoreError, match="workspace 'kerinci' already exists"):
        store.create_workspace("kerinci")
    store.delete_workspace("kerinci")
    assert [w.name for w in store.list_workspaces()] == ["merangin"]


def test_unknown_workspace_lists_the_known_ones(store):
    store.create_workspace("kerinci")
    with pytest.raises(NotFoundError, match=r"no workspace 'tebo'; workspaces: kerinci, merangin"):
        store.get_workspace("tebo")
    with pytest.raises(NotFoundError, match="no workspace 'tebo'"):
        store.read_dataset("tebo", "villages")
    with pytest.raises(NotFoundError, match="no workspace 'tebo'"):
        store.put_dataset(
            "tebo", "villages", villages(), source_name="v", source_sha256=None, report={}
        )
    with pytest.raises(NotFoundError, match="no workspace 'tebo'"):
        store.delete_workspace("tebo")
    with pytest.raises(NotFoundError, match="no workspace 'tebo'"):
        store.list_datasets("tebo")


@pytest.mark.parametrize(
    "name", ["", "Merangin", "kab merangin", "a" * 65, "désa", "a/b", "..", None, 12]
)
def test_bad_names_are_refused_with_the_rule(store, name):
    with pytest.raises(StoreError, match=r"invalid workspace name .*lowercase letters, digits"):
        store.create_workspace(name)
    if name is not None:  # no dataset name means "the kind"
        with pytest.raises(StoreError, match=r"invalid dataset name .*lowercase letters, digits"):
            put(store, "villages", villages(), name=name)
    assert store.list_datasets() == []


@pytest.mark.parametrize("name", ["a", "merangin", "kab-15_02", "0", "x" * 64])
def test_good_names_pass(name):
    assert check_name(name, "workspace") == name


# --- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "make"),
    [("villages", villages), ("needs", needs), ("indicators", indicators)],
)
def test_round_trip_is_exact(store, kind, make):
    data = make()
    version = put(store, kind, data)
    back = store.read_dataset("merangin", kind)
    assert_same(back, data)
    assert version.row_count == len(data)


def test_a_layer_without_any_point_reads_back(store):
    """Needs keyed by village code only (no coordinates at all) round-trip on both backends."""
    data = needs()
    data = data.set_geometry(gpd.GeoSeries([None] * len(data), crs="EPSG:4326"))
    put(store, "needs", data)
    back = store.read_dataset("merangin", "needs")
    assert_same(back, data)
    assert back.geometry.isna().all()


def test_round_trip_keeps_codes_nulls_and_empty_text(store):
    put(store, "needs", needs())
    back = store.read_dataset("merangin", "needs")
    assert back["kode"].tolist() == ["15.02.01.2001", "15.02.01.1002", "0102"]
    assert back["description"].tolist() == ["sumur kering", "", None]
    assert back.geometry.isna().tolist() == [False, True, False]
    assert back["reported_date"].iloc[0] == pd.Timestamp("2024-01-31")
    assert back["severity"].isna().tolist() == [False, False, True]
    ind = put(store, "indicators", indicators())
    table = store.read_dataset("merangin", "indicators", ind.version)
    assert table["kode"].tolist() == ["0102", "15.02.01.2001", "007"]


def test_every_supported_dtype_and_geometry_round_trips(store):
    data = every_dtype()
    put(store, "facilities", data, name="odd")
    assert_same(store.read_dataset("merangin", "odd"), data)


def test_polygon_holes_and_multipolygons_keep_their_wkb(store):
    data = villages()
    put(store, "villages", data)
    back = store.read_dataset("merangin", "villages")
    assert (
        back.geometry.iloc[1].interiors[0].coords[:] == data.geometry.iloc[1].interiors[0].coords[:]
    )
    assert back.geometry.iloc[2].geom_type == "MultiPolygon"
    assert [bytes(b) for b in shapely.to_wkb(back.geometry.values)] == [
        bytes(b) for b in shapely.to_wkb(data.geometry.values)
    ]


def test_index_and_geometry_name_round_trip(store):
    data = villages().rename_geometry("batas").set_index("name")
    data["kode"] = data["kode"]  # still a required column
    put(store, "villages", data.assign(name=data.index), name="by_name")
    assert_same(store.read_dataset("merangin", "by_name"), data.assign(name=data.index))
    multi = indicators().set_index(["idm", "families"])
    put(store, "indicators", multi, name="multi")
    assert_same(store.read_dataset("merangin", "multi"), multi)
    shifted = indicators()
    shifted.index = pd.RangeIndex(10, 16, 2, name="row")
    put(store, "indicators", shifted, name="shifted")
    assert_same(store.read_dataset("merangin", "shifted"), shifted)


def test_empty_layer_round_trips(store):
    data = villages().iloc[:0]
    version = put(store, "villages", data)
    assert version.row_count == 0
    assert version.bounds is None
    assert_same(store.read_dataset("merangin", "villages"), data)


def test_many_chunks_round_trip_in_original_order(store):
    store.chunk_rows = 100
    data = scattered_points(1234)
    version = put(store, "facilities", data)
    assert version.bounds == pytest.approx(tuple(data.total_bounds))
    with store.engine.connect() as conn:
        chunks = conn.exec_driver_sql(
            f"SELECT count(*) FROM dataset_chunks WHERE dataset_id = {version.id}"
        ).scalar()
    assert chunks == 13
    assert_same(store.read_dataset("merangin", "facilities"), data)


def test_a_stored_chunk_is_a_geoparquet_file(tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/j.sqlite")
    store.init()
    store.create_workspace("merangin")
    data = villages()
    version = put(store, "villages", data)
    with store.engine.connect() as conn:
        blob = conn.exec_driver_sql(
            f"SELECT data FROM dataset_chunks WHERE dataset_id = {version.id}"
        ).scalar()
    (tmp_path / "chunk.parquet").write_bytes(blob)
    assert_geodataframe_equal(gpd.read_parquet(tmp_path / "chunk.parquet"), data)


# --- versions, listing, reports ----------------------------------------------------------------


def test_versions_increase_and_earlier_ones_stay_readable(store):
    first = villages()
    second = villages().iloc[:2]
    v1 = put(store, "villages", first, created_by="ani", note="first import")
    v2 = put(store, "villages", second)
    assert (v1.version, v2.version) == (1, 2)
    assert v2.ref == "merangin/villages@2"
    assert_same(store.read_dataset("merangin", "villages"), second)
    assert_same(store.read_dataset("merangin", "villages", 1), first)
    info = store.dataset_info("merangin", "villages", 1)
    assert info == v1
    assert (info.created_by, info.note, info.kind, info.source_sha256) == (
        "ani",
        "first import",
        "villages",
        SHA,
    )
    assert store.dataset_info("merangin", "villages") == v2
    with pytest.raises(NotFoundError, match=r"no version 3 of merangin/villages; versions: 1, 2"):
        store.read_dataset("merangin", "villages", 3)


def test_list_datasets_latest_or_all_versions(store):
    store.create_workspace("kerinci")
    put(store, "villages", villages())
    put(store, "villages", villages())
    put(store, "needs", needs())
    put(store, "needs", needs(), name="needs-2024")
    store.put_dataset(
        "kerinci", "indicators", indicators(), source_name="p.csv", source_sha256=None, report={}
    )
    latest = store.list_datasets()
    assert [d.ref for d in latest] == [
        "kerinci/indicators@1",
        "merangin/needs@1",
        "merangin/needs-2024@1",
        "merangin/villages@2",
    ]
    refs = [d.ref for d in store.list_datasets("merangin", all_versions=True)]
    assert sorted(refs) == sorted(
        ["merangin/needs@1", "merangin/needs-2024@1", "merangin/villages@1", "merangin/villages@2"]
    )
    assert [d.ref for d in store.list_datasets("kerinci")] == ["kerinci/indicators@1"]


def test_unknown_dataset_lists_the_known_ones(store):
    put(store, "villages", villages())
    put(store, "needs", needs())
    with pytest.raises(
        NotFoundError,
        match=r"no dataset 'roads' in workspace 'merangin'; "
        r"datasets: needs, villages",
    ):
        store.read_dataset("merangin", "roads")
    with pytest.raises(NotFoundError, match="datasets: needs, villages"):
        store.get_report("merangin", "roads")
    store.create_workspace("kerinci")
    with pytest.raises(NotFoundError, match="datasets: none yet"):
        store.dataset_info("kerinci", "villages")


def test_report_is_stored_and_counts_come_from_it(store):
    report = ValidationReport(
        kind="needs", file="kobo.xlsx", rows_read=5, accepted=3, rejected_count=2, repaired_count=1
    )
    report.add("rejected", "value_required", row=2, column="category")
    report.add("rejected", "date_invalid", row=4, column="reported_date", value="31/02/2024")
    report.add("repaired", "value_mapped", row=3, column="category", value="Air", mapped="water")
    report.add("warning", "date_future", row=5, value="2031-01-01")
    version = put(store, "needs", needs(), report=report)
    expected_counts = {"read": 5, "accepted": 3, "repaired": 1, "rejected": 2, "warnings": 1}
    assert version.counts == expected_counts
    assert store.dataset_info("merangin", "needs").counts == expected_counts
    stored = store.get_report("merangin", "needs")
    assert stored == report.to_dict()
    assert ValidationReport.from_dict(stored).rejected_rows == [2, 4]
    # a plain dict without counts is stored too
    put(store, "needs", needs(), report={"note": "made by hand"})
    assert store.get_report("merangin", "needs") == {"note": "made by hand"}
    assert store.dataset_info("merangin", "needs").counts == {}


# --- reading parts ---------------------------------------------------------------------------


def test_bbox_read_matches_cx_and_skips_chunks(store, monkeypatch):
    store.chunk_rows = 100
    data = scattered_points(2000, seed=7)
    put(store, "facilities", data)
    bbox = (101.9, -2.4, 102.2, -2.1)
    decoded = []
    real = codec.Reader.decode

    def counting(self, blobs, **kw):
        blobs = list(blobs)
        decoded.append(len(blobs))
        return real(self, blobs, **kw)

    monkeypatch.setattr(codec.Reader, "decode", counting)
    back = store.read_dataset("merangin", "facilities", bbox=bbox)
    expected = data.cx[bbox[0] : bbox[2], bbox[1] : bbox[3]]
    expected = expected[~expected.geometry.is_empty]
    assert len(expected) > 50
    assert_same(back, expected)
    assert decoded[-1] < 20 / 4  # a few of the 20 chunks


def test_bbox_read_of_polygons_uses_bounding_boxes(store):
    put(store, "villages", villages())

    def codes(bbox):
        return store.read_dataset("merangin", "villages", bbox=bbox)["kode"].tolist()

    assert codes((101.95, -1.95, 101.99, -1.92)) == ["15.02.01.2001"]  # inside the first
    assert codes((102.1, -1.95, 102.15, -1.92)) == ["15.02.01.1002"]  # touches its east edge
    assert codes((101.99, -1.95, 102.01, -1.92)) == ["15.02.01.2001", "15.02.01.1002"]
    # in the gap between the two parts of the multipolygon: its bounding box still meets it
    assert codes((102.26, -1.99, 102.29, -1.96)) == ["15.02.02.2003"]
    none = store.read_dataset("merangin", "villages", bbox=(0, 0, 1, 1))
    assert len(none) == 0
    assert list(none.columns) == list(villages().columns)
    assert list(none.dtypes) == list(villages().dtypes)
    assert none.crs == "EPSG:4326"


def test_bbox_is_validated_and_needs_geometry(store):
    put(store, "indicators", indicators())
    put(store, "villages", villages())
    with pytest.raises(StoreError, match="has no geometry"):
        store.read_dataset("merangin", "indicators", bbox=(0, 0, 1, 1))
    for bad in [(1, 2, 3), (3, 0, 1, 1), ("a", 0, 1, 1), (0, 0, np.nan, 1)]:
        with pytest.raises(StoreError, match="bbox"):
            store.read_dataset("merangin", "villages", bbox=bad)


def test_columns_read_only_those_plus_geometry(store):
    data = villages()
    put(store, "villages", data)
    back = store.read_dataset("merangin", "villages", columns=["population", "kode"])
    assert list(back.columns) == ["population", "kode", "geometry"]
    assert_same(back, data[["population", "kode", "geometry"]])
    with pytest.raises(NotFoundError, match=r"has no column 'nama'; columns: kode, name"):
        store.read_dataset("merangin", "villages", columns=["nama"])


def test_reading_without_geometry_gives_the_attributes_only(store):
    data = villages()
    put(store, "villages", data)
    back = store.read_dataset("merangin", "villages", columns=["kode", "geometry"], geometry=False)
    assert type(back) is pd.DataFrame
    assert list(back.columns) == ["kode"]
    pd.testing.assert_frame_equal(back, pd.DataFrame(data[["kode"]]))
    whole = store.read_dataset("merangin", "villages", geometry=False)
    assert list(whole.columns) == [c for c in data.columns if c != "geometry"]
    # many tiled chunks: rows come back in their original order
    points = scattered_points(30_000, seed=4)
    put(store, "facilities", points, name="many")
    plain = store.read_dataset("merangin", "many", geometry=False)
    pd.testing.assert_frame_equal(plain, pd.DataFrame(points.drop(columns="geometry")))
    with pytest.raises(StoreError, match="needs the geometry"):
        store.read_dataset("merangin", "villages", bbox=(0, 0, 1, 1), geometry=False)


# --- refusing bad input ----------------------------------------------------------------------


def _mixed() -> pd.DataFrame:
    frame = indicators()
    frame["families"] = pd.Series([1, "two", 3], dtype=object)
    return frame


@pytest.mark.parametrize(
    ("kind", "make", "message"),
    [
        ("roads", villages, r"unknown layer kind 'roads'; expected one of villages, facilities"),
        ("villages", lambda: villages().set_crs(None, allow_override=True), "no coordinate"),
        ("villages", lambda: pd.DataFrame(villages().drop(columns="geometry")), "GeoDataFrame"),
        ("indicators", villages, "without geometry"),
        ("villages", lambda: villages().drop(columns="name"), "lacks required columns: name"),
        ("indicators", lambda: indicators().rename(columns={"idm": 5}), "non-empty text"),
        ("indicators", lambda: indicators().rename(columns={"idm": "kode"}), "repeated: kode"),
        ("indicators", lambda: indicators().assign(__jangkau_row=1), "reserved"),
        ("indicators", _mixed, "cannot be stored"),
        ("indicators", lambda: indicators().assign(c=[1j, 2j, 3j]), "cannot be stored"),
        ("villages", "not a frame", "must be a DataFrame"),
    ],
)
def test_invalid_layers_are_refused_and_nothing_is_written(store, kind, make, message):
    data = make() if callable(make) else make
    before = dump(store)
    with pytest.raises(StoreError, match=message):
        store.put_dataset("merangin", kind, data, source_name="x", source_sha256=None, report={})
    assert dump(store) == before


def test_invalid_metadata_is_refused(store):
    with pytest.raises(StoreError, match="64 hexadecimal digits"):
        put(store, "villages", villages(), source_sha256="abc")
    with pytest.raises(StoreError, match="cannot be stored as JSON"):
        put(store, "villages", villages(), report={"when": dt.datetime.now()})
    assert put(store, "villages", villages(), source_sha256=SHA.upper()).source_sha256 == SHA


# --- atomicity and concurrency ---------------------------------------------------------------


def test_failure_while_writing_chunks_leaves_the_store_unchanged(store, monkeypatch):
    store.chunk_rows = 100
    put(store, "facilities", scattered_points(300))
    before = dump(store)
    real = codec.encode_chunk
    calls = []

    def failing(part):
        calls.append(part.seq)
        if len(calls) == 2:
            raise OSError("disk full (injected)")
        return real(part)

    monkeypatch.setattr(codec, "encode_chunk", failing)
    with pytest.raises(StoreError, match="injected"):
        put(store, "facilities", scattered_points(500, seed=3))
    assert {0, 1} <= set(calls)  # the failing chunk was reached (chunks encode in parallel)
    assert dump(store) == before
    monkeypatch.setattr(codec, "encode_chunk", real)
    assert put(store, "facilities", scattered_points(500, seed=3)).version == 2


_KILLED_WRITER = """
import os, signal, sys
import geopandas as gpd, shapely
from layers.storage import codec, open_store
store = open_store(sys.argv[1])
store.chunk_rows = 10
real = codec.encode_chunk
def encode(part):
    if part.seq == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(part)
codec.encode_chunk = encode
points = gpd.GeoDataFrame({"name": [str(i) for i in range(50)], "type": ["sd"] * 50},
                          geometry=shapely.points(range(50), range(50)), crs="EPSG:4326")
store.put_dataset("merangin", "facilities", points, source_name="p", source_sha256=None, report={})
"""


def test_a_writer_killed_midway_leaves_the_store_unchanged(store, store_url):
    put(store, "villages", villages())
    before = dump(store)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER, store_url], env=env, capture_output=True, timeout=120
    )
    assert done.returncode == -9, done.stderr.decode()
    store.close()  # fresh connections, as after a restart
    assert dump(store) == before
    assert put(store, "facilities", scattered_points(20)).version == 1


def test_readers_see_only_committed_versions(store_url, monkeypatch):
    writer = open_store(store_url)
    writer.init()
    writer.create_workspace("merangin")
    reader = open_store(store_url)
    writer.chunk_rows = 50
    first = scattered_points(120)
    put(writer, "facilities", first)
    seen = []
    real = codec.encode_chunk

    def peeking(part):
        if part.seq == 1:  # the new version's row and first chunk are written, not committed
            seen.append([d.ref for d in reader.list_datasets(all_versions=True)])
            seen.append(reader.read_dataset("merangin", "facilities"))
        return real(part)

    monkeypatch.setattr(codec, "encode_chunk", peeking)
    second = scattered_points(150, seed=9)
    put(writer, "facilities", second)
    assert seen[0] == ["merangin/facilities@1"]
    assert_same(seen[1], first)
    assert_same(reader.read_dataset("merangin", "facilities"), second)
    writer.close()
    reader.close()


def test_concurrent_writers_get_distinct_versions(store_url):
    setup = open_store(store_url)
    setup.init()
    setup.create_workspace("merangin")
    errors = []
    versions = []

    def write(seed):
        try:
            s = open_store(store_url)
            for i in range(3):
                versions.append(put(s, "facilities", scattered_points(200, seed + i)).version)
            s.close()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(seed,)) for seed in (1, 10, 20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(versions) == list(range(1, 10))
    listed = setup.list_datasets("merangin", all_versions=True)
    assert [d.version for d in listed] == list(range(1, 10))


def test_delete_workspace_removes_its_datasets(store):
    store.chunk_rows = 100
    put(store, "facilities", scattered_points(250))
    put(store, "indicators", indicators())
    store.create_workspace("kerinci")
    store.put_dataset(
        "kerinci", "villages", villages(), source_name="v", source_sha256=None, report={}
    )
    store.delete_workspace("merangin")
    tables = dump(store)
    assert len(tables["datasets"]) == 1
    assert len(tables["dataset_chunks"]) == 1
    features = [t for t in tables if t.startswith("features_")]
    assert len(features) == (1 if store.engine.dialect.name == "postgresql" else 0)
    assert_same(store.read_dataset("kerinci", "villages"), villages())


# --- codec details -----------------------------------------------------------------------------


def test_tile_order_makes_compact_chunks():
    points = scattered_points(10_000, seed=3)
    bounds = shapely.bounds(points.geometry.values)
    order = codec.tile_order(bounds, 1000)
    assert sorted(order) == list(range(10_000))
    # the rows without a location come last
    missing = np.isnan(bounds[:, 0])
    assert missing[order][-missing.sum() :].all()
    tiled = [codec._extent(bounds[order][i : i + 1000]) for i in range(0, 9000, 1000)]
    area = np.mean([(b[2] - b[0]) * (b[3] - b[1]) for b in tiled])
    whole = codec._extent(bounds)
    assert area < (whole[2] - whole[0]) * (whole[3] - whole[1]) / 5


def test_dtype_specs_refuse_what_cannot_come_back():
    with pytest.raises(StoreError, match="categories must be text"):
        codec.dtype_spec(pd.CategoricalDtype(pd.to_datetime(["2024-01-01"])), "c")
    with pytest.raises(StoreError, match="cannot be stored exactly"):
        codec.dtype_spec(pd.ArrowDtype(pa.struct([("a", pa.int64())])), "t")
    assert codec.spec_dtype(codec.dtype_spec(pd.StringDtype("python"), "s")) == pd.StringDtype(
        "python"
    )


def test_wkb_is_iso_little_endian_with_z_and_m():
    wkb = codec.to_wkb(np.array([shapely.from_wkt("POINT ZM (1 2 3 4)"), None], dtype=object))
    assert wkb[0][:5] == bytes([1]) + (3001).to_bytes(4, "little")
    assert wkb[1] is None
    assert pa.array(wkb, type=pa.binary()).null_count == 1
