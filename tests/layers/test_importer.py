"""import_into_store: strict and skip-rejected imports, versions, idempotency, rasters."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from layers.errors import InputError, StoreError
from layers.importer import import_into_store
from layers.storage import open_store


def _square(kode: str, nama: str, x0: float) -> dict:
    ring = [[x0, -2.1], [x0 + 0.1, -2.1], [x0 + 0.1, -2.0], [x0, -2.0], [x0, -2.1]]
    return {
        "type": "Feature",
        "properties": {"kode": kode, "nama": nama},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


VILLAGES = json.dumps(
    {
        "type": "FeatureCollection",
        "features": [_square("1502012001", "Satu", 102.0), _square("1502012002", "Dua", 102.1)],
    }
)


@pytest.fixture
def store(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    s.init()
    s.create_workspace("uji")
    path = tmp_path / "desa.geojson"
    path.write_text(VILLAGES, encoding="utf-8")
    assert import_into_store(s, "uji", path, "villages").stored
    yield s
    s.close()


def needs_file(tmp_path, extra_row=""):
    path = tmp_path / "needs.csv"
    path.write_text(
        "kategori,tingkat,tanggal,lintang,bujur\n"
        "air bersih,4,2024-03-01,-2.05,102.05\n"
        "gizi,5,2024-03-02,-2.05,102.15\n" + extra_row,
        encoding="utf-8",
    )
    return path


def test_points_are_placed_in_the_stored_villages(store, tmp_path):
    outcome = import_into_store(store, "uji", needs_file(tmp_path), "needs", user="ani")
    assert outcome.stored
    assert outcome.version.ref == "uji/needs@1"
    assert outcome.version.created_by == "ani"
    needs = store.read_dataset("uji", "needs")
    assert needs["kode"].tolist() == ["15.02.01.2001", "15.02.01.2002"]
    report = store.get_report("uji", "needs")
    assert report["notes"]["options"]["villages"] == "uji/villages@1"


def test_the_same_file_twice_makes_no_new_version(store, tmp_path):
    path = needs_file(tmp_path)
    first = import_into_store(store, "uji", path, "needs")
    again = import_into_store(store, "uji", path, "needs")
    assert first.stored
    assert not again.stored
    assert again.unchanged
    assert again.version.version == 1
    changed = import_into_store(store, "uji", path, "needs", swap_repair=True)
    assert changed.stored
    assert changed.version.version == 2
    assert len(store.list_datasets("uji", all_versions=True)) == 3  # villages + 2 needs


def test_rejected_rows_store_nothing_unless_skipped(store, tmp_path):
    path = needs_file(tmp_path, "astronomi,3,2024-03-03,-2.05,102.05\n")
    strict = import_into_store(store, "uji", path, "needs")
    assert not strict.stored
    assert [d.name for d in store.list_datasets("uji")] == ["villages"]
    skipped = import_into_store(store, "uji", path, "needs", skip_rejected=True)
    assert skipped.stored
    assert not skipped.ok
    assert len(store.read_dataset("uji", "needs")) == 2
    stored_report = store.get_report("uji", "needs")
    assert stored_report["counts"]["rejected"] == 1
    assert stored_report["findings"][0]["row"] == 4  # the rejected row is kept in the report


def test_a_name_cannot_change_kind(store, tmp_path):
    import_into_store(store, "uji", needs_file(tmp_path), "needs", name="laporan")
    facilities = tmp_path / "fasilitas.csv"
    facilities.write_text("nama,jenis,lintang,bujur\nPustu,pustu,-2.05,102.05\n")
    with pytest.raises(InputError, match="holds needs, not facilities"):
        import_into_store(store, "uji", facilities, "facilities", name="laporan")


def test_population_raster_is_stored_byte_for_byte(store, tmp_path):
    path = tmp_path / "penduduk.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=2,
        width=4,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=from_origin(102.0, -2.0, 0.05, 0.05),
        nodata=-1,
    ) as ds:
        ds.write(np.array([[10, 20, 30, 40], [1, 2, 3, -1]], dtype="float32"), 1)
    outcome = import_into_store(store, "uji", path, "raster")
    assert outcome.stored
    assert outcome.version.kind == "raster"
    assert outcome.version.ref == "uji/population@1"
    assert outcome.report.notes["population_total"] == 106.0
    # 8 cells cover the two villages exactly; one is nodata: 7/8 of their area is covered.
    assert outcome.report.notes["village_area_covered"] == pytest.approx(7 / 8)
    assert store.read_raster("uji", "population") == path.read_bytes()
    with pytest.raises(StoreError, match="read_raster"):
        store.read_dataset("uji", "population")
    assert import_into_store(store, "uji", path, "raster").unchanged


def _raster(path, values, nodata=-1):
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=2,
        width=4,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=from_origin(102.0, -2.0, 0.05, 0.05),
        nodata=nodata,
    ) as ds:
        ds.write(np.asarray(values, dtype="float32"), 1)
    return path


def test_a_raster_import_shares_the_people_among_villages_once(store, tmp_path):
    from layers.zonal_store import kept_zonal, zonal_names

    path = _raster(tmp_path / "penduduk.tif", [[10, 20, 30, 40], [1, 2, 3, 4]])
    outcome = import_into_store(store, "uji", path, "raster")
    assert outcome.stored
    assert outcome.notes == []
    names = zonal_names(store.dataset_info("uji", "villages"), outcome.version)
    kept = kept_zonal(store, "uji", *names)
    # Village 1 holds the two western columns of cells, village 2 the two eastern ones.
    assert kept.population.tolist() == pytest.approx([10 + 20 + 1 + 2, 30 + 40 + 3 + 4])


def test_a_failed_zonal_share_is_reported_not_hidden(store, tmp_path, monkeypatch):
    import layers.zonal_store

    def broken(store, workspace):
        raise InputError("the raster has no cell inside any village")

    monkeypatch.setattr(layers.zonal_store, "prepare_zonal", broken)
    path = _raster(tmp_path / "penduduk.tif", [[10, 20, 30, 40], [1, 2, 3, 4]])
    outcome = import_into_store(store, "uji", path, "raster")
    assert outcome.stored  # the raster itself is kept
    assert [n.code for n in outcome.notes] == ["zonal_failed"]
    message = outcome.notes[0].render()
    assert "no cell inside any village" in message
    assert "each score run will do it instead" in message
