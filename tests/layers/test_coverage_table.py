"""``coverage_table``: service coverage and reach of a stored workspace, on every backend;
the service coverage is kept per input versions and settings and reused."""

from __future__ import annotations

import pandas as pd
import pytest
from rasterio.io import MemoryFile

from layers.coverage import coverage_json, coverage_table
from layers.programs import save_register
from layers.storage import open_store
from tests.layers import test_coverage as fixtures
from tests.layers import test_storage as contract

postgis_database = contract.postgis_database
store_url = contract.store_url
villages = fixtures.villages
facilities = fixtures.facilities
grid = fixtures.grid
register = fixtures.register
A, B, C, D = fixtures.CODES


def geotiff(g) -> bytes:
    with MemoryFile() as mem:
        with mem.open(
            driver="GTiff", height=3, width=3, count=1, dtype="float32", crs=fixtures.CRS,
            transform=g.transform,
        ) as ds:  # fmt: skip
            ds.write(g.array, 1)
        return mem.read()


@pytest.fixture
def store(store_url, villages, facilities, grid, register):
    s = open_store(store_url)
    s.init()
    s.create_workspace("ws")
    kw = {"source_name": "x", "source_sha256": None, "report": {}}
    s.put_dataset("ws", "villages", villages, **kw)
    s.put_dataset("ws", "facilities", facilities.assign(name=["Pkm", "Posy"]), **kw)
    data = geotiff(grid)
    with MemoryFile(data) as mem, mem.open() as ds:
        bounds = tuple(ds.bounds)
    s.put_raster("ws", data, crs=fixtures.CRS, bounds=bounds, **kw)
    save_register(s, "ws", register, user="test")
    yield s
    s.close()


def kept(store) -> list[str]:
    return [
        d.name
        for d in store.list_datasets("ws", kinds="derived")
        if d.name.startswith("coverage-service-")
    ]


def test_coverage_table_is_computed_once_then_reused(store):
    first = coverage_table(store, "ws", as_of="2024-03-31", standards=fixtures.STANDARDS)
    assert len(kept(store)) == 1
    v = first["service"]["village"]
    pusk = v.loc[v["type"] == "puskesmas"].set_index("area_kode")
    assert pusk["people_within"].tolist() == pytest.approx([120, 30, 70, 0])  # raster cells
    assert first["inputs"]["population"] == "ws/population@1"
    assert first["reach"]["totals"]["achieved_persons"] == 100
    second = coverage_table(store, "ws", as_of="2024-05-31", standards=fixtures.STANDARDS)
    assert len(kept(store)) == 1
    for level in ("village", "kecamatan", "kabupaten"):
        pd.testing.assert_frame_equal(second["service"][level], first["service"][level])
    assert second["service_method"] == first["service_method"]
    assert second["reach"]["totals"]["achieved_persons"] == 110
    other = coverage_table(store, "ws", as_of="2024-05-31", standards={"puskesmas": 1500.0})
    assert len(kept(store)) == 2
    k = other["service"]["kabupaten"].set_index("type")
    assert k.loc["puskesmas", "people_within"] == 120  # cells (0,0) (0,1) (1,0) (1,1)
    assert pd.isna(k.loc["posyandu", "people_within"])  # no standard given for it
    data = coverage_json(second, ["kecamatan"])
    assert list(data["service"]) == ["kecamatan"]
    assert data["service"]["kecamatan"][0]["area"] == "Satu"
    assert data["service"]["kecamatan"][0]["per_1000_met"] is None


def test_coverage_table_without_facilities_or_register(store_url, villages):
    s = open_store(store_url)
    s.init()
    s.create_workspace("ws")
    s.put_dataset("ws", "villages", villages, source_name="x", source_sha256=None, report={})
    out = coverage_table(s, "ws", as_of="2024-01-31")
    assert out["service"] is None
    assert out["inputs"]["register"] == 0
    assert out["reach"]["totals"]["villages_targeted"] == 0
    assert out["reach"]["high_need_rule"] == {"rule": "none"}
    s.close()
