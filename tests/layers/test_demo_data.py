"""The bundled Merangin demo files exist, agree with each other and match their README."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely

from layers.codes import CodeBridge, normalize_kemendagri
from layers.demo import (
    CODES_DIR,
    DEMO_DIR,
    DEMO_KODE,
    DEMO_WORKSPACE,
    attribution,
    demo_files,
    demo_manifest,
)
from layers.schema import VOCABULARIES

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
README = REPO_ROOT / "data" / "boundaries" / "README.md"
KEMENDAGRI_DESA = re.compile(r"^15\.02\.\d{2}\.[12]\d{3}$")


def text_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def villages() -> gpd.GeoDataFrame:
    return gpd.read_file(DEMO_DIR / "villages.geojson")


@pytest.fixture(scope="module")
def bridge() -> CodeBridge:
    return CodeBridge.from_directory(CODES_DIR)


def test_manifest_paths_exist_and_names_are_unique():
    manifest = demo_manifest()
    assert DEMO_WORKSPACE == "merangin"
    missing = [str(f.path) for f in manifest if not f.path.is_file()]
    assert missing == []
    names = [f.name for f in manifest]
    assert len(names) == len(set(names))
    assert {f.kind for f in manifest} == {
        "villages", "facilities", "needs", "indicators", "raster", "outline", "codes",
    }  # fmt: skip
    assert all(f.code_system in ("kemendagri", "bps") for f in manifest)
    assert all(f.source and f.licence and f.attribution for f in manifest)
    assert demo_files()["villages"] == DEMO_DIR / "villages.geojson"
    assert manifest[0].kind == "villages"  # imported first: the other layers are placed in it
    generated = {f.name for f in manifest if f.generated}
    assert generated == {"needs_kobo", "needs_musrenbang", "population"}


def test_every_bundled_file_is_in_the_manifest():
    listed = {f.path.resolve() for f in demo_manifest()}
    on_disk = {p.resolve() for p in DEMO_DIR.rglob("*") if p.is_file()}
    assert on_disk - listed == set()


def test_villages_are_the_215_of_merangin_with_text_codes(villages):
    raw = json.loads((DEMO_DIR / "villages.geojson").read_text(encoding="utf-8"))
    props = [f["properties"] for f in raw["features"]]
    assert len(props) == 215
    assert all(isinstance(p["kode"], str) and KEMENDAGRI_DESA.match(p["kode"]) for p in props)
    assert all(isinstance(p["kode10"], str) and len(p["kode10"]) == 10 for p in props)
    assert all(p["kode10"] == p["kode"].replace(".", "") for p in props)
    assert len({p["kode"] for p in props}) == 215
    kinds = {p["kode"][9]: set() for p in props}
    for p in props:
        kinds[p["kode"][9]].add(p["jenis"])
    assert kinds == {"1": {"kelurahan"}, "2": {"desa"}}
    assert all(p["kode_kab"] == DEMO_KODE and p["kode_kec"] == p["kode"][:8] for p in props)
    assert villages["kode"].map(type).eq(str).all()
    assert villages.crs.to_epsg() == 4326
    assert set(villages.geom_type) <= {"Polygon", "MultiPolygon"}


def test_outlines_match_the_villages(villages):
    kec = gpd.read_file(DEMO_DIR / "kecamatan.geojson")
    kab = gpd.read_file(DEMO_DIR / "kabupaten.geojson")
    prov = gpd.read_file(DEMO_DIR / "provinsi.geojson")
    assert len(kec) == 24
    assert set(kec["kode"]) == set(villages["kode_kec"])
    assert kab["kode"].tolist() == [DEMO_KODE]
    assert prov["kode"].tolist() == ["15"]
    inner = shapely.point_on_surface(villages.geometry.to_numpy())
    outline = kab.geometry.iloc[0]
    assert shapely.dwithin(outline, inner, 0.01).all()
    assert prov.geometry.iloc[0].buffer(0.01).contains(outline)


def test_facilities_belong_to_merangin_by_code_or_location(bridge):
    fac = gpd.read_file(DEMO_DIR / "facilities_kemenkes.geojson")
    assert len(fac) >= 19
    assert fac["kode_faskes"].map(type).eq(str).all()
    assert {"kode_faskes", "jenis_faskes", "nama_faskes", "alamat_faskes"} <= set(fac.columns)
    by_code = bridge.kemenkes_regency(fac["kode_faskes"]) == DEMO_KODE
    outline = gpd.read_file(DEMO_DIR / "kabupaten.geojson").geometry.iloc[0]
    by_place = fac.within(outline)
    assert (by_code | by_place).all()
    assert by_code.sum() == 19


def test_podes_keeps_bps_codes_as_text_and_links_through_the_crosswalk(bridge, villages):
    podes = text_csv(DEMO_DIR / "podes_merangin.csv")
    assert len(podes) == 215
    assert podes["kode_bps_desa"].str.fullmatch(r"1502\d{6}").all()
    dictionary = text_csv(DEMO_DIR / "podes_dictionary_merangin.csv")
    assert list(dictionary["variable"]) == list(podes.columns)
    assert {"R401A1", "R401A2", "R401B", "R502CK3", "R404", "R405A"} <= set(podes.columns)
    # census sentinels are kept as written, not turned into numbers or blanks
    assert (podes["R502AK3"] == "99.9").any()
    linked = bridge.villages_to_kemendagri(podes["kode_bps_desa"])
    assert linked.kode.notna().sum() == 212
    assert set(linked.kode.dropna()) <= set(villages["kode"])
    assert len(linked.unmatched) == 3


def test_code_tables_cover_the_demo(villages):
    wilayah = text_csv(CODES_DIR / "kode_wilayah_15_kepmendagri2025.csv")
    desa = wilayah[wilayah["level"] == "desa_kelurahan"]
    assert set(desa["kode"]) == set(villages["kode"])
    kab = text_csv(CODES_DIR / "bridging_kabkota_2020.csv")
    assert kab["kode_bps"].str.startswith("15").all()
    # the swapped Jambi regencies are in the bridge (BPS 1508 Tebo = Kemendagri 1509)
    assert dict(zip(kab["kode_bps"], kab["kode_dagri"], strict=True))["1508"] == "1509"
    kec = text_csv(CODES_DIR / "bridging_kecamatan_2020.csv")
    assert set(villages["kode_kec"].str.replace(".", "")) <= set(kec["kode_dagri"])


def test_idm_rows_are_merangin_villages_with_text_codes(villages):
    idm = text_csv(DEMO_DIR / "idm_merangin.csv")
    assert len(idm) > 0
    assert idm["kode_desa"].str.fullmatch(r"\d{10}").all()
    assert set(idm["kode_desa"]) <= set(villages["kode10"])
    assert set(idm["tahun"]) == {"2021", "2022", "2023", "2024"}


def target_population() -> float:
    penduduk = text_csv(CODES_DIR / "penduduk_kabkota_2025.csv")
    return float(penduduk.loc[penduduk["kode"] == DEMO_KODE, "total"].iloc[0])


def test_population_raster_is_generated_georeferenced_and_sums_to_the_target(villages):
    with rasterio.open(DEMO_DIR / "population.tif") as src:
        grid = src.read(1)
        assert src.crs.to_epsg() == 4326
        assert src.nodata == -1
        assert src.dtypes == ("float32",)
        assert src.res == pytest.approx((0.0025, 0.0025))
        assert src.profile["tiled"] is True
        assert src.compression.name.lower() == "deflate"
        tags = src.tags()
        b = src.bounds
        transform = src.transform
    for key in ("GENERATED", "source", "method", "seed"):
        assert tags.get(key), key
    minx, miny, maxx, maxy = villages.total_bounds
    assert b.left <= minx
    assert b.bottom <= miny
    assert b.right >= maxx
    assert b.top >= maxy
    data = grid != -1
    assert (grid[data] >= 0).all()
    total = grid[data].sum(dtype=np.float64)
    assert total == pytest.approx(target_population(), rel=0.005)
    assert float(tags["target_population"]) == target_population()
    # people only in cells that touch a village
    rows, cols = np.nonzero(data)
    xs, ys = rasterio.transform.xy(transform, rows, cols)
    union = shapely.union_all(villages.geometry.to_numpy())
    assert shapely.dwithin(union, shapely.points(xs, ys), 0.0025 * 0.75).all()


def test_kobo_points_fall_inside_their_villages(villages):
    kobo = text_csv(DEMO_DIR / "needs_kobo.csv")
    assert 500 <= len(kobo) <= 700
    lat = kobo["_lokasi_latitude"].astype(float).to_numpy()
    lon = kobo["_lokasi_longitude"].astype(float).to_numpy()
    assert (
        kobo["_geolocation"] == kobo["_lokasi_latitude"] + " " + kobo["_lokasi_longitude"]
    ).all()
    geopoint = kobo["lokasi"].str.split(" ")  # Kobo geopoint: "lat lon altitude precision"
    assert (geopoint.str[0] == kobo["_lokasi_latitude"]).all()
    assert (geopoint.str[1] == kobo["_lokasi_longitude"]).all()
    assert (geopoint.str[2] == kobo["_lokasi_altitude"]).all()
    tree = shapely.STRtree(villages.geometry.to_numpy())
    pt, vi = tree.query(shapely.points(lon, lat), predicate="within")
    assert np.bincount(pt, minlength=len(kobo)).min() == 1
    named = villages["nama_kec"].to_numpy()[vi] + "/" + villages["nama"].to_numpy()[vi]
    reported = (kobo["kecamatan"] + "/" + kobo["desa"]).to_numpy()[pt]
    assert (named == reported).all()
    assert kobo["_uuid"].is_unique
    assert kobo["_id"].is_unique
    assert list(kobo["_index"].astype(int)) == list(range(1, len(kobo) + 1))


def test_kobo_values_use_the_known_vocabularies():
    kobo = text_csv(DEMO_DIR / "needs_kobo.csv")
    for column, key in (("kategori", "category"), ("sumber", "source"), ("status", "status")):
        vocab = VOCABULARIES[("needs", key)]
        assert kobo[column].str.lower().isin(vocab).all(), column
    assert kobo["tingkat_keparahan"].astype(int).between(1, 5).all()
    reported = pd.to_datetime(kobo["tanggal_lapor"], format="%Y-%m-%d")
    today = pd.to_datetime(kobo["today"], format="%Y-%m-%d")
    assert (reported <= today).all()
    assert (today <= pd.Timestamp.now()).all()


def test_musrenbang_codes_are_half_dotted_and_all_known(villages):
    mus = text_csv(DEMO_DIR / "needs_musrenbang.csv")
    assert 60 <= len(mus) <= 100
    dotted = mus["kode_desa"].str.contains(".", regex=False)
    assert dotted.sum() == len(mus) // 2
    assert mus.loc[~dotted, "kode_desa"].str.fullmatch(r"\d{10}").all()
    assert set(mus["kode_desa"].map(normalize_kemendagri)) <= set(villages["kode"])
    assert mus["bidang"].isin(VOCABULARIES[("needs", "category")]).all()
    assert mus["urgensi"].astype(int).between(1, 5).all()


def test_readme_describes_every_file_and_attribution():
    text = README.read_text(encoding="utf-8")
    for f in demo_manifest():
        rel = f.path.relative_to(DEMO_DIR).as_posix()
        assert rel in text, rel
    for needle in ("Cahya DSN", "MIT", "Kemenkes BPPSDMK", "GPL-3", "Kemendesa", "GENERATED"):
        assert needle in text, needle
    lines = attribution()
    assert len(lines) == len(set(lines)) >= 6
    assert any("Cahya DSN" in a for a in lines)
    assert any("not real" in a for a in lines)


def test_bundle_stays_small():
    size = sum(p.stat().st_size for p in DEMO_DIR.rglob("*") if p.is_file())
    assert size < 6 * 1024 * 1024


@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"shared data not found at {SHARED_DATA}")
def test_preparation_reproduces_the_bundled_files(tmp_path):
    out = tmp_path / "merangin"
    script = REPO_ROOT / "scripts" / "prepare_demo.py"
    cmd = [sys.executable, str(script), "--out", str(out), "--shared", str(SHARED_DATA)]
    subprocess.run(cmd, check=True, capture_output=True, cwd=tmp_path, timeout=600)
    made = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    bundled = sorted(p.relative_to(DEMO_DIR) for p in DEMO_DIR.rglob("*") if p.is_file())
    assert made == bundled
    for rel in made:
        if rel.suffix == ".tif":
            with rasterio.open(out / rel) as a, rasterio.open(DEMO_DIR / rel) as b:
                np.testing.assert_array_equal(a.read(), b.read())
                assert a.transform == b.transform
                assert a.crs == b.crs
                assert a.tags() == b.tags()
        else:
            assert (out / rel).read_bytes() == (DEMO_DIR / rel).read_bytes(), rel
    # idempotent: a second run over its own output changes nothing
    before = {rel: (out / rel).read_bytes() for rel in made}
    subprocess.run(cmd, check=True, capture_output=True, cwd=tmp_path, timeout=600)
    assert {rel: (out / rel).read_bytes() for rel in made} == before
