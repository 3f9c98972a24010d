#!/usr/bin/env python
"""Build the bundled demo area, Kabupaten Merangin (Kemendagri 15.02).

Reads the public Jambi data in ``../shared/data`` (relative to the repository root) and
writes ``data/boundaries/merangin/``: real boundaries, facilities, PODES, IDM and code
tables for the regency, plus three GENERATED files (a population raster and two needs
files) made with a fixed seed. Running it twice gives the same bytes.

Usage::

    python scripts/prepare_demo.py [--out DIR] [--shared DIR]

See ``data/boundaries/README.md`` for what each file is and where it comes from.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import rasterio
import shapely
from rasterio.features import rasterize
from rasterio.transform import from_origin

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from layers.codes import CodeBridge  # noqa: E402
from layers.crs import metric_crs  # noqa: E402

SEED = 20261127
KAB = "15.02"
KAB_DIGITS = "1502"
PROV = "15"
CELL_DEG = 0.0025  # ~275 m at 2 degrees south
N_KOBO = 600
N_MUSRENBANG = 80

# PODES 2019 variables kept for the demo (labels come from podes2019_dictionary.csv).
PODES_KEEP: tuple[str, ...] = (
    # identification (the two names are text, everything else is a number)
    "R103N", "R104N", "R107",
    # families (the only per-village size measure) by electricity
    "R401A1", "R401A2", "R401B",
    # water and sanitation
    "R404", "R405A", "R405B", "R406", "R1301",
    # schools: TK, SD, MI, SMP, MTs, SMU, MA, SMK (count public/private, distance km, ease)
    "R501AK4",
    "R501CK2", "R501CK3", "R501CK4", "R501CK5",
    "R501DK4",
    "R501EK2", "R501EK3", "R501EK4", "R501EK5",
    "R501FK4",
    "R501GK2", "R501GK3", "R501GK4", "R501GK5",
    "R501HK4", "R501IK4",
    # health facilities (count, distance km, ease) and posyandu
    "R502AK2", "R502AK3", "R502AK4",
    "R502CK2", "R502CK3", "R502CK4",
    "R502DK2", "R502DK3", "R502DK4",
    "R502EK2", "R502EK3", "R502EK4",
    "R502IK2", "R502IK3", "R502IK4",
    "R502JK2", "R502JK3", "R502JK4",
    "R502KK2", "R502KK3", "R502KK4",
    "R502N",
    # outbreaks and malnutrition
    "R1206AK2", "R1206BK2", "R1206DK2", "R1207",
    # transport and connectivity
    "R701A", "R701B1", "R701B2", "R701C1", "R702AK5", "R702BK5", "R705C", "R705D",
    # natural disasters 2018-2019
    "R1001AK2", "R1001BK2", "R1001CK2", "R1001IK2", "R1001JK2",
)  # fmt: skip

PODES_TEXT: tuple[str, ...] = ("R103N", "R104N")

NEED_CATEGORIES: tuple[str, ...] = (
    "air bersih", "sanitasi", "kesehatan", "gizi", "pendidikan", "ekonomi",
    "infrastruktur", "lainnya",
)  # fmt: skip
NEED_BASE_P = np.array([0.16, 0.13, 0.15, 0.10, 0.12, 0.13, 0.15, 0.06])
NEED_SOURCES: tuple[str, ...] = ("survei", "kunjungan lapangan", "pengaduan", "musrenbang")
NEED_SOURCE_P = np.array([0.55, 0.20, 0.15, 0.10])
NEED_STATUSES: tuple[str, ...] = ("baru", "terverifikasi", "diproses", "ditangani", "selesai")

# Short free-text notes as field staff write them; {dusun} ("Dusun II", or "Lingkungan II" in a
# kelurahan), {rt}, {n} families, {b} toddlers, {km}, {bulan} are filled in.
NOTES: dict[str, tuple[str, ...]] = {
    "air bersih": (
        "Sumur warga kering saat kemarau, warga ambil air dari sungai",
        "Pipa air dari mata air putus sejak {bulan}",
        "Air sumur keruh dan berbau, warga minta sumur bor",
        "{n} KK di RT {rt} belum punya akses air bersih",
        "Air sungai keruh akibat tambang emas tanpa izin (PETI)",
        "Bak penampungan air hujan di {dusun} bocor",
    ),
    "sanitasi": (
        "{n} KK belum punya jamban sehat",
        "Sebagian warga masih buang air besar di sungai",
        "MCK umum di {dusun} rusak, pintu dan atap lapuk",
        "Saluran limbah rumah tangga tersumbat di RT {rt}",
        "Sampah menumpuk di pinggir sungai, belum ada tempat pembuangan",
    ),
    "kesehatan": (
        "Pustu jauh, bidan desa hanya datang sebulan sekali",
        "Posyandu di {dusun} kekurangan timbangan dan alat ukur",
        "Banyak warga demam, diduga malaria",
        "Tidak ada ambulans desa untuk rujukan ibu melahirkan",
        "Obat di poskesdes sering habis",
        "Jarak ke puskesmas {km} km, jalan rusak saat hujan",
    ),
    "gizi": (
        "{b} balita terindikasi stunting di {dusun}",
        "Ibu hamil kurang energi kronis, perlu makanan tambahan",
        "PMT posyandu berhenti sejak {bulan}",
        "Balita gizi kurang belum mendapat pendampingan",
    ),
    "pendidikan": (
        "Atap ruang kelas SD bocor",
        "Anak SMP harus menempuh {km} km ke sekolah",
        "Guru kurang, satu guru mengajar dua kelas",
        "PAUD belum punya gedung sendiri, belajar di rumah warga",
        "Banyak anak tidak lanjut sekolah setelah SD",
    ),
    "ekonomi": (
        "Harga karet turun, petani butuh pelatihan usaha lain",
        "Kelompok tani butuh bibit kopi dan pupuk",
        "BUMDes belum berjalan, perlu pendampingan",
        "Ibu-ibu PKK butuh modal usaha olahan pangan",
        "Jalan usaha tani rusak, hasil panen sulit dijual",
    ),
    "infrastruktur": (
        "Jalan desa berlumpur saat hujan, mobil tidak bisa lewat",
        "Jembatan gantung ke {dusun} rusak",
        "Listrik PLN belum masuk ke RT {rt}",
        "Sinyal telepon lemah di {dusun}",
        "Gorong-gorong tersumbat, jalan tergenang",
    ),
    "lainnya": (
        "Balai desa perlu perbaikan",
        "Lampu jalan di RT {rt} mati",
        "Babi hutan merusak kebun warga",
        "Warga minta pos ronda di {dusun}",
    ),
}

# Musrenbang proposals: (text, unit, volume low, volume high, unit cost in rupiah).
PROPOSALS: dict[str, tuple[tuple[str, str, int, int, int], ...]] = {
    "air bersih": (
        ("Pembangunan sumur bor", "unit", 1, 3, 45_000_000),
        ("Perpipaan air bersih dari mata air", "meter", 300, 1500, 150_000),
        ("Pembuatan bak penampungan air", "unit", 1, 4, 12_000_000),
    ),
    "sanitasi": (
        ("Pembangunan jamban sehat keluarga", "unit", 10, 40, 3_500_000),
        ("Rehabilitasi MCK umum", "unit", 1, 2, 25_000_000),
        ("Pembuatan saluran drainase", "meter", 100, 600, 350_000),
    ),
    "kesehatan": (
        ("Pengadaan alat posyandu", "paket", 1, 3, 7_500_000),
        ("Rehabilitasi gedung poskesdes", "unit", 1, 1, 60_000_000),
        ("Insentif kader posyandu", "orang", 5, 20, 1_200_000),
    ),
    "gizi": (
        ("Pemberian makanan tambahan balita", "paket", 30, 120, 150_000),
        ("Kelas ibu hamil dan pendampingan stunting", "kegiatan", 4, 12, 2_500_000),
    ),
    "pendidikan": (
        ("Rehabilitasi gedung PAUD", "unit", 1, 1, 75_000_000),
        ("Pengadaan alat permainan edukatif PAUD", "paket", 1, 2, 8_000_000),
        ("Insentif guru PAUD", "orang", 2, 6, 3_000_000),
    ),
    "ekonomi": (
        ("Bantuan bibit kopi untuk kelompok tani", "batang", 1000, 5000, 5_000),
        ("Pelatihan pengolahan hasil karet", "kegiatan", 1, 3, 15_000_000),
        ("Penyertaan modal BUMDes", "paket", 1, 1, 100_000_000),
    ),
    "infrastruktur": (
        ("Pengerasan jalan desa", "meter", 200, 1200, 600_000),
        ("Pembangunan jembatan gantung", "unit", 1, 1, 250_000_000),
        ("Pembangunan gorong-gorong", "unit", 2, 6, 9_000_000),
        ("Penerangan jalan tenaga surya", "titik", 5, 20, 6_500_000),
    ),
    "lainnya": (
        ("Rehabilitasi balai desa", "unit", 1, 1, 80_000_000),
        ("Pembangunan pos ronda", "unit", 1, 3, 10_000_000),
    ),
}

MONTHS = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
    "September", "Oktober", "November", "Desember",
)  # fmt: skip
ROMAN = ("I", "II", "III", "IV", "V", "VI")


# --- small I/O functions -------------------------------------------------------------------


def read_json(path: Path) -> dict:
    """Read a JSON file."""
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def write_geojson(path: Path, name: str, crs: dict | None, features: list[dict]) -> None:
    """Write a FeatureCollection with one feature per line; floats are kept as read."""
    head = {"type": "FeatureCollection", "name": name}
    if crs is not None:
        head["crs"] = crs
    compact = {"ensure_ascii": False, "separators": (",", ":")}
    text = json.dumps(head, **compact)[:-1] + ',"features":[\n'
    text += ",\n".join(json.dumps(f, **compact) for f in features)
    text += "\n]}\n"
    path.write_text(text, encoding="utf-8")


def write_csv(path: Path, table: pd.DataFrame) -> None:
    """Write a CSV in UTF-8 with LF line ends and no index."""
    table.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


def read_text_csv(path: Path) -> pd.DataFrame:
    """Read a CSV with every value as text, exactly as written (no NA guessing)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


# --- real data subsets ---------------------------------------------------------------------


def bridge_from(src: Path) -> CodeBridge:
    """The official regency/district bridge plus the village crosswalk from the shared data."""
    return CodeBridge(
        read_text_csv(src / "codes" / "bridging_kabkota_2020.csv"),
        read_text_csv(src / "codes" / "bridging_kecamatan_2020.csv"),
        read_text_csv(src / "podes" / "crosswalk_podes_bps_to_kemendagri.csv"),
    )


def prepare_boundaries(src: Path, out: Path) -> tuple[gpd.GeoDataFrame, shapely.Geometry]:
    """Copy the Merangin village, kecamatan, regency and Jambi province polygons unchanged.

    Returns the villages (source order, geometry as read, not repaired) and the regency outline.
    """
    bdir = src / "boundaries"
    villages = read_json(bdir / f"desa_kelurahan_{KAB.replace('.', '_')}.geojson")
    feats = [f for f in villages["features"] if f["properties"]["kode_kab"] == KAB]
    write_geojson(out / "villages.geojson", "villages", villages.get("crs"), feats)

    kec = read_json(bdir / "kecamatan_15.geojson")
    kec_feats = [f for f in kec["features"] if f["properties"]["kode_kab"] == KAB]
    write_geojson(out / "kecamatan.geojson", "kecamatan", kec.get("crs"), kec_feats)

    kab = read_json(bdir / "kabupaten_kota_15.geojson")
    kab_feats = [f for f in kab["features"] if f["properties"]["kode"] == KAB]
    write_geojson(out / "kabupaten.geojson", "kabupaten", kab.get("crs"), kab_feats)

    prov = read_json(bdir / "provinsi_15_jambi.geojson")
    write_geojson(out / "provinsi.geojson", "provinsi", prov.get("crs"), prov["features"])

    gdf = gpd.GeoDataFrame.from_features(feats, crs="EPSG:4326")
    outline = shapely.geometry.shape(kab_feats[0]["geometry"])
    return gdf, outline


def prepare_codes(src: Path, out: Path, bridge: CodeBridge) -> pd.DataFrame:
    """Copy the code-table rows the demo import needs; return the Merangin crosswalk rows."""
    cdir = out / "codes"
    cdir.mkdir(parents=True, exist_ok=True)
    codes = src / "codes"

    prov = read_text_csv(codes / "bridging_provinsi_2020.csv")
    write_csv(cdir / "bridging_provinsi_2020.csv", prov[prov["kode_bps"] == PROV])
    kab = read_text_csv(codes / "bridging_kabkota_2020.csv")
    write_csv(cdir / "bridging_kabkota_2020.csv", kab[kab["kode_bps"].str.startswith(PROV)])
    kec = read_text_csv(codes / "bridging_kecamatan_2020.csv")
    write_csv(cdir / "bridging_kecamatan_2020.csv", kec[kec["kode_bps"].str.startswith(PROV)])

    wil = read_text_csv(codes / "kode_wilayah_15_kepmendagri2025.csv")
    keep = (wil["kode"] == PROV) | (wil["kode"] == KAB) | wil["kode"].str.startswith(KAB + ".")
    write_csv(cdir / "kode_wilayah_15_kepmendagri2025.csv", wil[keep])

    pop = read_text_csv(codes / "penduduk_kabkota_2025.csv")
    keep = (pop["kode"] == PROV) | pop["kode"].str.startswith(PROV + ".")
    write_csv(cdir / "penduduk_kabkota_2025.csv", pop[keep])

    cw = read_text_csv(src / "podes" / "crosswalk_podes_bps_to_kemendagri.csv")
    cw_m = cw[in_merangin_bps(cw["kode_bps_desa"], cw["kode_dagri_desa"], bridge)]
    write_csv(cdir / "crosswalk_podes_bps_to_kemendagri.csv", cw_m)
    return cw_m


def in_merangin_bps(bps_codes: pd.Series, dagri_codes: pd.Series, bridge: CodeBridge) -> pd.Series:
    """Rows whose BPS regency bridges to 15.02, or whose crosswalked village is in 15.02."""
    regency = bps_codes.str[:4].map(bridge.regency_to_kemendagri)
    return (regency == KAB) | dagri_codes.fillna("").str.startswith(KAB + ".")


def prepare_facilities(
    src: Path, out: Path, bridge: CodeBridge, outline: shapely.Geometry, villages: gpd.GeoDataFrame
) -> pd.DataFrame:
    """Kemenkes points whose code bridges to 15.02, plus any Jambi point inside Merangin."""
    data = read_json(src / "facilities" / "faskes_jambi_2019.geojson")
    feats = data["features"]
    codes = pd.Series([f["properties"]["kode_faskes"] for f in feats], dtype=object)
    by_code = (bridge.kemenkes_regency(codes) == KAB).to_numpy()
    xy = np.array([f["geometry"]["coordinates"][:2] for f in feats], dtype=float)
    area = shapely.union_all([outline, *villages.geometry.to_numpy()])
    shapely.prepare(area)
    by_place = shapely.contains_xy(area, xy[:, 0], xy[:, 1])
    keep = by_code | by_place
    write_geojson(
        out / "facilities_kemenkes.geojson",
        "facilities_kemenkes",
        data.get("crs"),
        [f for f, k in zip(feats, keep, strict=True) if k],
    )
    return pd.DataFrame(
        {
            "kode_faskes": codes[keep].to_numpy(),
            "by_code": by_code[keep],
            "by_place": by_place[keep],
        }
    )


def prepare_podes(src: Path, out: Path, bridge: CodeBridge) -> pd.DataFrame:
    """PODES 2019 rows for Merangin with a documented subset of variables, values as text."""
    podes = read_text_csv(src / "podes" / "podes2019_jambi.csv")
    dagri = bridge.villages_to_kemendagri(podes["kode_bps_desa"]).kode
    rows = podes[in_merangin_bps(podes["kode_bps_desa"], dagri, bridge)]
    rows = rows[["kode_bps_desa", *PODES_KEEP]].sort_values("kode_bps_desa", kind="stable")
    write_csv(out / "podes_merangin.csv", rows)

    dictionary = read_text_csv(src / "podes" / "podes2019_dictionary.csv")
    labels = dictionary.set_index("variable")["label"]
    missing = [v for v in PODES_KEEP if v not in labels.index]
    if missing:
        raise SystemExit(f"PODES dictionary lacks {missing}")
    kept = pd.DataFrame(
        {
            "variable": ["kode_bps_desa", *PODES_KEEP],
            "label": [
                "Kode desa BPS 10 digit (teks; gabungkan lewat crosswalk, bukan awalan)",
                *labels.loc[list(PODES_KEEP)].tolist(),
            ],
        }
    )
    write_csv(out / "podes_dictionary_merangin.csv", kept)
    return rows


def prepare_idm(src: Path, out: Path, villages: gpd.GeoDataFrame) -> pd.DataFrame:
    """IDM summary rows (all years) for the Merangin villages in the national sample."""
    idm = read_text_csv(src / "idm" / "idm_summary_2021_2024.csv")
    rows = idm[idm["kode_desa"].isin(set(villages["kode10"]))]
    rows = rows.sort_values(["kode_desa", "tahun"], kind="stable")
    write_csv(out / "idm_merangin.csv", rows)
    return rows


# --- generated data -------------------------------------------------------------------------


def podes_numbers(
    podes: pd.DataFrame, villages: gpd.GeoDataFrame, bridge: CodeBridge
) -> pd.DataFrame:
    """PODES variables as numbers, one row per village (source order); NaN where unlinked."""
    link = bridge.villages_to_kemendagri(podes["kode_bps_desa"]).kode
    numeric = [c for c in PODES_KEEP if c not in PODES_TEXT]
    num = podes[numeric].apply(pd.to_numeric, errors="coerce")
    num.index = link.to_numpy()
    num = num[num.index.notna()]
    return num.reindex(villages["kode"].to_numpy())


def village_population(
    villages: gpd.GeoDataFrame, podes: pd.DataFrame, area_km2: np.ndarray, target: float
) -> tuple[np.ndarray, float, np.ndarray]:
    """People per village: PODES families scaled to the regency total (median density if unlinked).

    Returns population, the implied people per family, and the linked mask.
    """
    families = (podes["R401A1"] + podes["R401A2"] + podes["R401B"]).to_numpy(dtype=float)
    linked = np.isfinite(families) & (families > 0)
    density = np.median(families[linked] / area_km2[linked])
    raw = np.where(linked, families, density * area_km2)
    scale = target / raw.sum()
    return raw * scale, float(scale), linked


def random_points_in(
    geoms: np.ndarray, counts: np.ndarray, rng: np.random.Generator, max_rounds: int = 200
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uniform random points inside polygons: sample in each bbox, keep those inside, repeat.

    Returns (owner index, x, y) arrays, grouped by owner in index order.
    """
    shapely.prepare(geoms)
    bounds = shapely.bounds(geoms)
    fill = shapely.area(geoms) / np.maximum(
        (bounds[:, 2] - bounds[:, 0]) * (bounds[:, 3] - bounds[:, 1]), 1e-12
    )
    need = counts.astype(int).copy()
    owners, xs, ys = [], [], []
    for _ in range(max_rounds):
        if not need.any():
            break
        todo = np.flatnonzero(need)
        draws = np.ceil(need[todo] / np.clip(fill[todo], 0.02, 1) * 1.5).astype(int) + 2
        owner = np.repeat(todo, draws)
        b = bounds[owner]
        x = b[:, 0] + rng.random(owner.size) * (b[:, 2] - b[:, 0])
        y = b[:, 1] + rng.random(owner.size) * (b[:, 3] - b[:, 1])
        ok = shapely.contains_xy(geoms[owner], x, y)
        owner, x, y = owner[ok], x[ok], y[ok]
        rank = _rank_within(owner)
        take = rank < need[owner]
        owners.append(owner[take])
        xs.append(x[take])
        ys.append(y[take])
        need -= np.bincount(owner[take], minlength=need.size)
    if need.any():
        raise RuntimeError(f"could not place points in {np.count_nonzero(need)} polygons")
    owner, x, y = np.concatenate(owners), np.concatenate(xs), np.concatenate(ys)
    order = np.argsort(owner, kind="stable")
    return owner[order], x[order], y[order]


def _rank_within(groups: np.ndarray) -> np.ndarray:
    """0, 1, 2 ... within each run of equal values (``groups`` sorted or not, stable)."""
    order = np.argsort(groups, kind="stable")
    g = groups[order]
    start = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
    ranks_sorted = np.arange(g.size) - np.repeat(start, np.diff(np.r_[start, g.size]))
    ranks = np.empty_like(ranks_sorted)
    ranks[order] = ranks_sorted
    return ranks


def settlement_clusters(
    villages: gpd.GeoDataFrame, pop: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    """A few settlement centres per village: one at the representative point, others random."""
    geoms = villages.geometry.to_numpy()
    kelurahan = (villages["jenis"] == "kelurahan").to_numpy()
    extra = np.minimum(rng.poisson(0.6 + pop / 2500.0), 4)
    own, ex, ey = random_points_in(geoms, extra, rng)
    rep = shapely.point_on_surface(geoms)
    n = len(villages)
    village = np.r_[np.arange(n), own]
    x = np.r_[shapely.get_x(rep), ex]
    y = np.r_[shapely.get_y(rep), ey]
    main = np.r_[np.ones(n, bool), np.zeros(own.size, bool)]
    sigma = np.where(
        main,
        np.where(
            kelurahan[village],
            rng.uniform(500, 900, village.size),
            rng.uniform(250, 500, village.size),
        ),
        rng.uniform(150, 350, village.size),
    )
    weight = np.where(main, 1.0, rng.uniform(0.2, 0.8, village.size))
    order = np.lexsort((~main, village))
    return (
        pd.DataFrame(
            {"village": village, "x": x, "y": y, "sigma_m": sigma, "weight": weight, "main": main}
        )
        .iloc[order]
        .reset_index(drop=True)
    )


def raster_grid(bounds: np.ndarray) -> tuple[rasterio.Affine, int, int]:
    """A CELL_DEG grid snapped to multiples of the cell size, one cell of margin."""
    ix0 = int(np.floor(bounds[0] / CELL_DEG)) - 1
    iy0 = int(np.floor(bounds[1] / CELL_DEG)) - 1
    ix1 = int(np.ceil(bounds[2] / CELL_DEG)) + 1
    iy1 = int(np.ceil(bounds[3] / CELL_DEG)) + 1
    transform = from_origin(round(ix0 * CELL_DEG, 6), round(iy1 * CELL_DEG, 6), CELL_DEG, CELL_DEG)
    return transform, iy1 - iy0, ix1 - ix0


def prepare_population(
    out: Path,
    villages: gpd.GeoDataFrame,
    pop: np.ndarray,
    clusters: pd.DataFrame,
    to_metric: pyproj.Transformer,
    rng: np.random.Generator,
    meta: dict[str, str],
) -> np.ndarray:
    """Write population.tif: each village's people spread over the cells that touch it.

    A cell is given to the village its centre falls in, else (border cells) to a village it
    touches; smaller villages are burnt last so every village keeps cells. Within a village
    the weights are Gaussian kernels around its settlement centres plus a flat background
    holding 8-15 % of its people, normalised so the village total is exact.
    """
    geoms = villages.geometry.to_numpy()
    n = geoms.size
    transform, height, width = raster_grid(villages.total_bounds)
    order = np.argsort(-shapely.area(geoms), kind="stable")
    shapes = [(geoms[i], int(i) + 1) for i in order]
    kw = {"out_shape": (height, width), "transform": transform, "fill": 0, "dtype": "int32"}
    centre = rasterize(shapes, all_touched=False, **kw)
    touch = rasterize(shapes, all_touched=True, **kw)
    owner = np.where(centre > 0, centre, touch) - 1
    missing = np.setdiff1d(np.arange(n), owner[owner >= 0])
    if missing.size:  # a village smaller than a cell: give it the cell of its inner point
        rep = shapely.point_on_surface(geoms[missing])
        rows, cols = rasterio.transform.rowcol(transform, shapely.get_x(rep), shapely.get_y(rep))
        owner[np.asarray(rows), np.asarray(cols)] = missing

    cell = np.flatnonzero(owner.ravel() >= 0)
    cell_v = owner.ravel()[cell]
    r, c = np.divmod(cell, width)
    lon, lat = rasterio.transform.xy(transform, r, c, offset="center")
    cx, cy = to_metric.transform(np.asarray(lon), np.asarray(lat))
    kx, ky = to_metric.transform(clusters["x"].to_numpy(), clusters["y"].to_numpy())

    # pair every cell with each settlement centre of its own village (clusters sorted by village)
    kv = clusters["village"].to_numpy()
    k_start = np.searchsorted(kv, np.arange(n))
    k_count = np.bincount(kv, minlength=n)
    reps = k_count[cell_v]
    pair_cell = np.repeat(np.arange(cell.size), reps)
    pair_k = np.repeat(k_start[cell_v], reps) + _rank_within(pair_cell)
    d2 = (cx[pair_cell] - kx[pair_k]) ** 2 + (cy[pair_cell] - ky[pair_k]) ** 2
    sig = clusters["sigma_m"].to_numpy()[pair_k]
    kern = clusters["weight"].to_numpy()[pair_k] * np.exp(-d2 / (2 * sig**2))
    w = np.bincount(pair_cell, weights=kern, minlength=cell.size)

    n_cells = np.bincount(cell_v, minlength=n)
    k_sum = np.bincount(cell_v, weights=w, minlength=n)
    frac = rng.uniform(0.08, 0.15, n)
    k_sum = np.where(k_sum > 0, k_sum, 1.0)
    background = frac / n_cells * k_sum / (1 - frac)
    w = w + background[cell_v]
    total = np.bincount(cell_v, weights=w, minlength=n)
    people = pop[cell_v] * w / total[cell_v]

    grid = np.full(height * width, -1.0, dtype=np.float32)
    grid[cell] = people.astype(np.float32)
    grid = grid.reshape(height, width)
    profile = {
        "driver": "GTiff",
        "dtype": "float32",
        "nodata": -1.0,
        "width": width,
        "height": height,
        "count": 1,
        "crs": "EPSG:4326",
        "transform": transform,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "predictor": 3,
        "zlevel": 9,
    }
    with rasterio.open(out / "population.tif", "w", **profile) as dst:
        dst.write(grid, 1)
        dst.update_tags(**meta)
        dst.update_tags(1, units="people per cell", generated="true")
        dst.set_band_description(1, "GENERATED population per cell (not real)")
    return grid


def access_score(podes: pd.DataFrame) -> pd.DataFrame:
    """Per-village remoteness from PODES (0 good access .. 1 poor), plus its parts as ranks.

    Distances use 99/99.9 ("very far or unknown") capped to the largest real value; the
    score is the mean percentile rank of distances to a puskesmas, a junior secondary
    school, a senior secondary school, the regency office and the share of families without
    electricity. Unlinked villages get 0.5.
    """

    def dist(*cols: str) -> pd.Series:
        d = podes[list(cols)].min(axis=1)
        real = d[d < 99]
        return d.where(d < 99, real.max() if len(real) else np.nan)

    fam = podes["R401A1"] + podes["R401A2"] + podes["R401B"]
    parts = pd.DataFrame(
        {
            "health": dist("R502CK3", "R502DK3"),
            "school": dist("R501EK4", "R501FK4"),
            "senior": dist("R501GK4", "R501HK4", "R501IK4"),
            "road": dist("R702BK5"),
            "power": podes["R401B"] / fam.where(fam > 0),
        }
    )
    ranks = parts.rank(pct=True).fillna(0.5)
    ranks["score"] = ranks.mean(axis=1)
    ranks["nutrition"] = (podes["R1207"].fillna(0) > 0).astype(float)
    return ranks


def place_near_settlements(
    village: np.ndarray,
    villages: gpd.GeoDataFrame,
    clusters: pd.DataFrame,
    to_metric: pyproj.Transformer,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Report locations: near a settlement centre of the village, inside it and no other.

    Points are rounded to 7 decimals (as written) before the test, so the file keeps them
    inside; a point landing in an overlap sliver of two villages is drawn again.
    """
    geoms = villages.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    to_geo = pyproj.Transformer.from_crs(to_metric.target_crs, "EPSG:4326", always_xy=True)
    kx, ky = to_metric.transform(clusters["x"].to_numpy(), clusters["y"].to_numpy())
    kv = clusters["village"].to_numpy()
    kw = clusters["weight"].to_numpy()
    lon = np.full(village.size, np.nan)
    lat = np.full(village.size, np.nan)
    todo = np.arange(village.size)
    for attempt in range(60):
        if not todo.size:
            break
        v = village[todo]
        if attempt < 40:
            # choose one centre of the village, weight-proportional: cumulative trick per row
            u = rng.random(todo.size)
            cum = np.bincount(kv, weights=kw)[v] * u
            pos = np.searchsorted(kv, v)
            cw = np.cumsum(kw)
            base = np.r_[0, cw][pos]
            k = np.searchsorted(cw, base + cum, side="right")
            k = np.minimum(k, np.searchsorted(kv, v, side="right") - 1)
            sig = clusters["sigma_m"].to_numpy()[k] * 1.5
            x, y = to_geo.transform(
                kx[k] + rng.normal(0, 1, todo.size) * sig, ky[k] + rng.normal(0, 1, todo.size) * sig
            )
        else:
            _, x, y = random_points_in(geoms[v], np.ones(v.size, int), rng)
        x, y = np.round(np.asarray(x), 7), np.round(np.asarray(y), 7)
        pts = shapely.points(x, y)
        hit_p, hit_v = tree.query(pts, predicate="within")
        count = np.bincount(hit_p, minlength=todo.size)
        own = np.zeros(todo.size, bool)
        own[hit_p[hit_v == v[hit_p]]] = True
        ok = own & (count == 1)
        lon[todo[ok]], lat[todo[ok]] = x[ok], y[ok]
        todo = todo[~ok]
    if todo.size:
        raise RuntimeError(f"could not place {todo.size} reports")
    return lon, lat


def pick(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One index per row of a (rows, k) probability matrix (vectorised inverse CDF)."""
    cum = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    return np.minimum((rng.random((probs.shape[0], 1)) > cum).sum(axis=1), probs.shape[1] - 1)


def fill_notes(
    templates: list[str], kelurahan: np.ndarray, rng: np.random.Generator, dist_km: np.ndarray
) -> list[str]:
    """Fill the note placeholders with small random details."""
    n = len(templates)
    dusun = hamlets(kelurahan, rng.integers(0, len(ROMAN), n))
    rt = rng.integers(1, 13, n)
    kk = rng.integers(5, 60, n)
    toddlers = rng.integers(3, 25, n)
    month = rng.integers(0, 12, n)
    return [
        t.format(dusun=d, rt=f"{r:02d}", n=k, b=b, km=f"{km:g}", bulan=MONTHS[m])
        for t, d, r, k, b, km, m in zip(
            templates, dusun, rt, kk, toddlers, dist_km, month, strict=True
        )
    ]


def hamlets(kelurahan: np.ndarray, number: np.ndarray) -> list[str]:
    """Hamlet names: "Dusun II" in a desa, "Lingkungan II" in a kelurahan."""
    return [
        f"{'Lingkungan' if k else 'Dusun'} {ROMAN[i]}"
        for k, i in zip(kelurahan, number, strict=True)
    ]


def category_probs(ranks: pd.DataFrame, village: np.ndarray) -> np.ndarray:
    """Category probabilities per report, tilted towards the village's weak spots."""
    r = ranks.iloc[village]
    p = np.tile(NEED_BASE_P, (village.size, 1))
    p[:, 0] *= 0.7 + 0.6 * r["power"].to_numpy()  # air bersih: remote, unelectrified
    p[:, 1] *= 0.7 + 0.6 * r["power"].to_numpy()
    p[:, 2] *= 0.5 + 1.0 * r["health"].to_numpy()
    p[:, 3] *= 1.0 + 0.8 * r["nutrition"].to_numpy()
    p[:, 4] *= 0.5 + 1.0 * r["school"].to_numpy()
    p[:, 6] *= 0.5 + 1.0 * r["road"].to_numpy()
    return p


def prepare_needs_kobo(
    out: Path,
    villages: gpd.GeoDataFrame,
    pop: np.ndarray,
    clusters: pd.DataFrame,
    ranks: pd.DataFrame,
    podes: pd.DataFrame,
    to_metric: pyproj.Transformer,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """A KoboToolbox-style CSV export of GENERATED community needs reports."""
    score = ranks["score"].to_numpy()
    weight = np.sqrt(pop) * (0.4 + 1.6 * score)
    counts = rng.multinomial(N_KOBO, weight / weight.sum())
    village = np.repeat(np.arange(len(villages)), counts)
    n = village.size

    lon, lat = place_near_settlements(village, villages, clusters, to_metric, rng)
    alt = 45 + 1300 * np.clip((102.05 - lon) / 0.45, 0, 1) ** 1.5 + rng.normal(0, 12, n)
    precision = np.round(2.5 + rng.gamma(2.0, 3.0, n), 1)

    cat = pick(rng, category_probs(ranks, village))
    sev = np.clip(np.round(rng.normal(2.3 + 1.6 * score[village], 0.9)), 1, 5).astype(int)
    src = rng.choice(len(NEED_SOURCES), n, p=NEED_SOURCE_P)

    day0 = np.datetime64("2025-02-03")
    span = int((np.datetime64("2025-11-28") - day0).astype(int))
    reported = day0 + rng.integers(0, span, n).astype("timedelta64[D]")
    lag = np.where(rng.random(n) < 0.7, 0, rng.integers(1, 8, n)).astype("timedelta64[D]")
    today = reported + lag
    start = pd.to_datetime(today) + pd.to_timedelta(rng.integers(8 * 3600, 16 * 3600, n), "s")
    start = start + pd.to_timedelta(rng.integers(0, 1000, n), "ms")
    end = start + pd.to_timedelta(rng.integers(240, 1500, n), "s")
    sync = np.where(
        rng.random(n) < 0.6, rng.integers(30, 3600, n), rng.integers(3600, 3 * 86400, n)
    )
    submitted_utc = end + pd.to_timedelta(sync, "s") - pd.Timedelta(hours=7)

    age = (np.datetime64("2025-12-15") - reported).astype(int) / 300.0
    sp = np.column_stack(
        [1.6 - age, 0.5 + 0.2 * age, 0.3 + 0.5 * age, 0.1 + 0.7 * age, 0.05 + 0.4 * age]
    )
    status = pick(rng, np.clip(sp, 0.02, None))

    templates = []
    note_choice = rng.random(n)
    for i in range(n):  # 600 text picks; the expensive work above is vectorised
        options = NOTES[NEED_CATEGORIES[cat[i]]]
        templates.append(options[int(note_choice[i] * len(options))])
    d_pkm = podes_km(podes, village, ("R502CK3", "R502DK3"))
    d_smp = podes_km(podes, village, ("R501EK4", "R501FK4"))
    km = np.where(cat == 4, d_smp, d_pkm)
    kelurahan = (villages["jenis"] == "kelurahan").to_numpy()[village]
    notes = fill_notes(templates, kelurahan, rng, km)

    rnd = rng.bytes(16 * n)
    uuids = [str(uuid.UUID(bytes=rnd[16 * i : 16 * i + 16], version=4)) for i in range(n)]
    kec_codes = villages["kode_kec"].to_numpy()[village]
    enumerators = {k: f"fasilitator{j + 1:02d}" for j, k in enumerate(sorted(set(kec_codes)))}

    fmt_ms = "%Y-%m-%dT%H:%M:%S.%f"
    table = pd.DataFrame(
        {
            "start": pd.Series(start).dt.strftime(fmt_ms).str[:-3] + "+07:00",
            "end": pd.Series(end).dt.strftime(fmt_ms).str[:-3] + "+07:00",
            "today": pd.Series(pd.to_datetime(today)).dt.strftime("%Y-%m-%d"),
            "tanggal_lapor": pd.Series(pd.to_datetime(reported)).dt.strftime("%Y-%m-%d"),
            "kecamatan": villages["nama_kec"].to_numpy()[village],
            "desa": villages["nama"].to_numpy()[village],
            "kategori": np.array(NEED_CATEGORIES)[cat],
            "tingkat_keparahan": sev,
            "jumlah_kk_terdampak": np.maximum(1, np.round(rng.lognormal(2.6, 0.8, n))).astype(int),
            "sumber": np.array(NEED_SOURCES)[src],
            "status": np.array(NEED_STATUSES)[status],
            "keterangan": notes,
            "lokasi": [
                f"{a:.7f} {o:.7f} {h:.1f} {p:.1f}"
                for a, o, h, p in zip(lat, lon, alt, precision, strict=True)
            ],
            "_lokasi_latitude": [f"{a:.7f}" for a in lat],
            "_lokasi_longitude": [f"{o:.7f}" for o in lon],
            "_lokasi_altitude": [f"{h:.1f}" for h in alt],
            "_lokasi_precision": [f"{p:.1f}" for p in precision],
            "_geolocation": [f"{a:.7f} {o:.7f}" for a, o in zip(lat, lon, strict=True)],
            "_uuid": uuids,
            "_submission_time": pd.Series(submitted_utc).dt.strftime("%Y-%m-%dT%H:%M:%S"),
            "_validation_status": "",
            "_status": "submitted_via_web",
            "_submitted_by": [enumerators[k] for k in kec_codes],
            "__version__": "vUq7LbGm3XkR9dTzPw2hNc",
        }
    )
    table = table.sort_values(["_submission_time", "_uuid"], kind="stable").reset_index(drop=True)
    table.insert(
        table.columns.get_loc("_uuid"), "_id", 287_400_000 + np.cumsum(rng.integers(1, 40, n))
    )
    table["_index"] = np.arange(1, n + 1)
    write_csv(out / "needs_kobo.csv", table)
    return table


def podes_km(podes: pd.DataFrame, village: np.ndarray, cols: tuple[str, ...]) -> np.ndarray:
    """The PODES distance (km) for each report's village, 99/99.9 and unlinked read as 10."""
    d = podes[list(cols)].min(axis=1).to_numpy()[village]
    d = np.where(np.isfinite(d) & (d < 99), d, 10.0)
    return np.maximum(np.round(d, 1), 1.0)


def prepare_needs_musrenbang(
    out: Path, villages: gpd.GeoDataFrame, ranks: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """GENERATED musrenbang proposals keyed by village code (half dotted, half 10 digits)."""
    score = ranks["score"].to_numpy()
    weight = 0.3 + score**2
    village = rng.choice(len(villages), N_MUSRENBANG, p=weight / weight.sum())
    village.sort(kind="stable")
    n = village.size
    cat = pick(rng, category_probs(ranks, village))
    kelurahan = (villages["jenis"] == "kelurahan").to_numpy()[village]
    u = rng.random((n, 2))
    where = hamlets(kelurahan, rng.integers(0, 4, n))
    rows = []
    for i in range(n):  # 80 rows of text assembly
        options = PROPOSALS[NEED_CATEGORIES[cat[i]]]
        text, unit, lo, hi, cost = options[int(u[i, 0] * len(options))]
        volume = lo + u[i, 1] * (hi - lo)
        step = 50 if unit == "meter" else 100 if unit == "batang" else 1
        volume = int(max(lo, round(volume / step) * step))
        biaya = int(np.ceil(volume * cost / 500_000) * 500_000)
        rows.append((f"{text} di {where[i]}", where[i], volume, unit, biaya))
    dotted = np.zeros(n, bool)
    dotted[rng.permutation(n)[: n // 2]] = True
    kode = villages["kode"].to_numpy()[village]
    kode10 = villages["kode10"].to_numpy()[village]
    day0 = np.datetime64("2025-01-13")
    tanggal = day0 + rng.integers(0, 47, n).astype("timedelta64[D]")
    table = pd.DataFrame(
        {
            "no": np.arange(1, n + 1),
            "tahun_anggaran": 2026,
            "tanggal": pd.Series(pd.to_datetime(tanggal)).dt.strftime("%Y-%m-%d"),
            "kode_desa": np.where(dotted, kode, kode10),
            "nama_desa": villages["nama"].to_numpy()[village],
            "kecamatan": villages["nama_kec"].to_numpy()[village],
            "bidang": np.array(NEED_CATEGORIES)[cat],
            "uraian": [r[0] for r in rows],
            "lokasi_dusun": [r[1] for r in rows],
            "volume": [r[2] for r in rows],
            "satuan": [r[3] for r in rows],
            "perkiraan_biaya": [r[4] for r in rows],
            "urgensi": np.clip(np.round(rng.normal(2.5 + 2.0 * score[village], 0.8)), 1, 5).astype(
                int
            ),
            "sumber": "musrenbang",
            "status": np.array(NEED_STATUSES[:3])[rng.choice(3, n, p=[0.5, 0.35, 0.15])],
        }
    )
    write_csv(out / "needs_musrenbang.csv", table)
    return table


# --- orchestration ---------------------------------------------------------------------------


def quirks(villages: gpd.GeoDataFrame, facilities_file: Path) -> dict[str, object]:
    """Facts about this subset that the README documents (printed by ``main``)."""
    geoms = villages.geometry.to_numpy()
    cx = villages["lng_centroid_src"].to_numpy(dtype=float)
    cy = villages["lat_centroid_src"].to_numpy(dtype=float)
    outside = ~shapely.contains_xy(geoms, cx, cy)
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="overlaps")
    pairs = a < b
    fac = gpd.read_file(facilities_file)
    fp, fv = tree.query(fac.geometry.to_numpy(), predicate="within")
    per_point = np.bincount(fp, minlength=len(fac))
    return {
        "invalid_geometries": int((~shapely.is_valid(geoms)).sum()),
        "multipolygons": int((shapely.get_type_id(geoms) == 6).sum()),
        "centroid_outside": villages.loc[outside, "kode"].tolist(),
        "overlapping_pairs": int(pairs.sum()),
        "facilities_in_no_village": fac.loc[per_point == 0, "kode_faskes"].tolist(),
        "facilities_in_two_villages": fac.loc[per_point > 1, "kode_faskes"].tolist(),
        "facility_village": len(fv),
    }


def main(argv: list[str] | None = None) -> int:
    """Build the demo area; ``--out`` and ``--shared`` override the default folders."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "data" / "boundaries" / "merangin")
    parser.add_argument("--shared", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    args = parser.parse_args(argv)
    src = args.shared / "jambi"
    if not src.is_dir():
        parser.error(f"no shared data at {src}")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    bridge = bridge_from(src)
    villages, outline = prepare_boundaries(src, out)
    crosswalk = prepare_codes(src, out, bridge)
    facilities = prepare_facilities(src, out, bridge, outline, villages)
    podes_text = prepare_podes(src, out, bridge)
    idm = prepare_idm(src, out, villages)

    podes = podes_numbers(podes_text, villages, bridge)
    crs = metric_crs(tuple(villages.total_bounds))
    to_metric = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    area_km2 = villages.to_crs(crs).area.to_numpy() / 1e6
    penduduk = read_text_csv(out / "codes" / "penduduk_kabkota_2025.csv")
    target = float(penduduk.loc[penduduk["kode"] == KAB, "total"].iloc[0])
    pop, per_family, linked = village_population(villages, podes, area_km2, target)

    rng_pop = np.random.default_rng([SEED, 1])
    rng_needs = np.random.default_rng([SEED, 2])
    rng_mus = np.random.default_rng([SEED, 3])
    clusters = settlement_clusters(villages, pop, rng_pop)
    meta = {
        "GENERATED": "yes - simulated population, not a census or survey product",
        "source": (
            "BPS PODES 2019 families R401A1+R401A2+R401B (cran/PODES, GPL-3) per village via "
            "the BPS-Kemendagri crosswalk; total scaled to Kabupaten Merangin 2025 population "
            f"{int(target)} (cahyadsn/wilayah penduduk_kabkota_2025, MIT); village polygons "
            "cahyadsn/wilayah_boundaries (MIT)"
        ),
        "method": (
            f"scripts/prepare_demo.py: people per village = families x {per_family:.4f} "
            "(scaled to the regency total; villages without a PODES link get the median "
            "density); spread over cells touching the village with Gaussian settlement "
            "kernels (one at the representative point, 0-4 random) plus an 8-15% flat "
            f"background; cell {CELL_DEG} degree; metric distances in {crs.to_string()}"
        ),
        "seed": str(SEED),
        "kode_wilayah": KAB,
        "target_population": str(int(target)),
    }
    grid = prepare_population(out, villages, pop, clusters, to_metric, rng_pop, meta)

    ranks = access_score(podes)
    kobo = prepare_needs_kobo(out, villages, pop, clusters, ranks, podes, to_metric, rng_needs)
    mus = prepare_needs_musrenbang(out, villages, ranks, rng_mus)

    facts = quirks(villages, out / "facilities_kemenkes.geojson")
    summary = {
        "villages": len(villages),
        "villages_linked_to_podes": int(linked.sum()),
        "villages_unlinked": villages.loc[~linked, "kode"].tolist(),
        "crosswalk_rows": len(crosswalk),
        "crosswalk_methods": crosswalk["match_method"].value_counts().to_dict(),
        "podes_rows": len(podes_text),
        "facilities": len(facilities),
        "facilities_by_code_only": facilities.loc[~facilities.by_place, "kode_faskes"].tolist(),
        "facilities_by_place_only": facilities.loc[~facilities.by_code, "kode_faskes"].tolist(),
        "idm_rows": len(idm),
        "idm_villages": int(idm["kode_desa"].nunique()),
        "target_population": target,
        "raster_population": float(grid[grid > 0].sum(dtype=np.float64)),
        "raster_shape": list(grid.shape),
        "people_per_family": round(per_family, 4),
        "settlement_clusters": len(clusters),
        "kobo_rows": len(kobo),
        "musrenbang_rows": len(mus),
        **facts,
    }
    print(json.dumps(summary, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
