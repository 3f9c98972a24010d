"""Several dataset versions in one transaction (``Store.put_datasets``), on every backend.

Run like ``tests/layers/test_storage.py``: SQLite always, PostGIS when
``JANGKAU_TEST_POSTGIS_URL`` is set (each test in a schema of its own).
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from layers.errors import NotFoundError, StoreError
from layers.storage import ConflictError, open_store
from tests.layers import test_storage as contract

postgis_database = contract.postgis_database
store_url = contract.store_url

REPORT = {"counts": {"read": 2, "accepted": 2, "repaired": 0, "rejected": 0, "warnings": 0}}


@pytest.fixture
def store(store_url):
    s = open_store(store_url)
    s.init()
    s.create_workspace("merangin")
    yield s
    s.close()


def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    programs = pd.DataFrame(
        {
            "program_id": ["P-01", "P-02"],
            "budget": [1_500_000.5, 0.0],
            "start": pd.to_datetime(["2024-01-01", "2024-02-01"]),
        }
    )
    assignments = pd.DataFrame(
        {
            "program_id": ["P-01", "P-01"],
            "kode": ["15.02.01.2001", "15.02.01.2002"],
            "planned": pd.array([100, None], dtype="Int64"),
        }
    )
    return programs, assignments


def names(store) -> list[tuple[str, int]]:
    return [
        (d.name, d.version)
        for d in store.list_datasets("merangin", all_versions=True, kinds="derived")
    ]


def test_versions_are_written_together_and_read_back_exactly(store):
    programs, assignments = tables()
    written = store.put_datasets(
        "merangin",
        [
            ("derived", programs, "programs", REPORT),
            ("derived", assignments, "assignments", REPORT),
        ],
        created_by="ani",
        note="first register",
    )
    assert [(v.name, v.version, v.kind, v.row_count) for v in written] == [
        ("programs", 1, "derived", 2),
        ("assignments", 1, "derived", 2),
    ]
    assert written[0].created_at == written[1].created_at
    assert {v.created_by for v in written} == {"ani"}
    assert written[1].note == "first register"
    pd.testing.assert_frame_equal(store.read_dataset("merangin", "programs"), programs)
    pd.testing.assert_frame_equal(store.read_dataset("merangin", "assignments"), assignments)
    again = store.put_datasets(
        "merangin",
        [
            ("derived", programs.iloc[:1], "programs", REPORT),
            ("derived", assignments, "assignments", REPORT),
        ],
        expected_versions={"programs": 1, "assignments": 1},
    )
    assert [v.version for v in again] == [2, 2]
    assert store.dataset_info("merangin", "programs").row_count == 1
    assert store.get_report("merangin", "programs", 2) == REPORT


def test_a_failing_item_writes_nothing(store):
    programs, assignments = tables()
    store.put_datasets("merangin", [("derived", programs, "programs", REPORT)])
    before = names(store)
    bad = pd.DataFrame({"x": [object(), object()]})  # cannot be stored
    with pytest.raises(StoreError):
        store.put_datasets(
            "merangin",
            [("derived", programs, "programs", REPORT), ("derived", bad, "assignments", REPORT)],
        )
    assert names(store) == before
    # A layer name taken by a layer refuses a derived table: checked inside the transaction.
    points = gpd.GeoDataFrame(
        {"facility_id": ["f1"], "name": ["Pkm"], "type": ["puskesmas"]},
        geometry=[Point(102, -2)],
        crs="EPSG:4326",
    )
    store.put_dataset(
        "merangin", "facilities", points, source_name="f.csv", source_sha256=None, report={}
    )
    with pytest.raises(StoreError, match="facilities is a facilities layer"):
        store.put_datasets(
            "merangin",
            [
                ("derived", programs, "programs", REPORT),
                ("derived", assignments, "facilities", REPORT),
            ],
        )
    assert names(store) == before


def test_expected_versions_refuse_a_changed_dataset(store):
    programs, assignments = tables()
    items = [
        ("derived", programs, "programs", REPORT),
        ("derived", assignments, "assignments", REPORT),
    ]
    store.put_datasets("merangin", items, expected_versions={"programs": 0, "assignments": 0})
    with pytest.raises(ConflictError, match="based on version 0 but the latest is 1") as caught:
        store.put_datasets("merangin", items, expected_versions={"programs": 0})
    assert caught.value.expected == 0
    assert names(store) == [("assignments", 1), ("programs", 1)]


@pytest.mark.parametrize(
    ("items", "kwargs", "message"),
    [
        ([], {}, "non-empty list"),
        ("programs", {}, "non-empty list"),
        ([("derived", pd.DataFrame({"a": [1]}), "programs")], {}, "item 1 must be a tuple"),
        ([("derived", pd.DataFrame({"a": [1]}), "Programs!", REPORT)], {}, "invalid dataset name"),
        ([("derived", [1, 2], "programs", REPORT)], {}, "must be a DataFrame"),
        ([("layer", pd.DataFrame({"a": [1]}), "programs", REPORT)], {}, "unknown layer kind"),
        (
            [("derived", pd.DataFrame({"a": [1]}), "p", REPORT)] * 2,
            {},
            "repeated: p",
        ),
        (
            [("derived", pd.DataFrame({"a": [1]}), "p", REPORT)],
            {"expected_versions": {"p": -1}},
            "whole number from 0",
        ),
    ],
)
def test_bad_items_are_refused_before_writing(store, items, kwargs, message):
    with pytest.raises(StoreError, match=message):
        store.put_datasets("merangin", items, **kwargs)
    assert names(store) == []


def test_unknown_workspace(store):
    programs, _ = tables()
    with pytest.raises(NotFoundError, match="no workspace 'kerinci'"):
        store.put_datasets("kerinci", [("derived", programs, "programs", REPORT)])
