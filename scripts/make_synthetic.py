"""Make a seeded synthetic national-scale data set shaped like Indonesia, for benchmarks.

The set has about 84,000 village polygons in 38 provinces, 514 regencies and 7,277
kecamatan (the real national counts), 300,000 facility points and 1,000,000 reported
needs, written as three GeoPackages. Every row is valid: it measures speed, not repair.

How it is made (vectorised numpy and shapely 2; about a minute at full size):

* Land is a set of rough island outlines (Sumatra, Java, Kalimantan, Sulawesi, Papua,
  Nusa Tenggara, Maluku and smaller islands) inside lon 95..141, lat -11..6.
* Village seeds are drawn inside each province's part of its island, as many as the
  province has villages (scaled to ``n_villages``), denser around towns. A jittered grid
  of sea seeds bounds the coast.
* Villages are the Voronoi cells of the land seeds, built from the Delaunay triangulation
  so neighbouring cells share their vertices exactly (no gaps, no overlaps). Each shared
  edge is split into points and bent by a smooth random curve, once, and both neighbours
  use the same points, so the coverage stays clean; every village has 20 to 200 vertices.
* Regencies and kecamatan group neighbouring villages (nearest centre within the parent
  area); Kemendagri codes ``PP.KK.CC.DDDD`` number them, the village part starting with 1
  for a kelurahan and 2 for a desa; kota get regency codes from 71.
* Facilities and needs are points drawn uniformly inside villages chosen in proportion to
  population.
* A population raster (``population.tif``, people per cell, float32 GeoTIFF in EPSG:4326,
  2,200 x 2,200 cells by default) covers one province (Sumatera Utara by default), clipped
  to its villages: each village's people are spread over the cells whose centres fall in
  it, clustered around its representative point, with uninhabited patches (zero) in
  between; cells outside the province are nodata. Each village's raster total differs
  from its table population by a few percent, as census and modelled counts do, and the
  province total equals the sum of its villages' populations.

Run ``python scripts/make_synthetic.py`` (defaults: full size and the raster into
``bench-data/``) or call :func:`make_national` (the raster only with ``raster_size``).
Existing files are kept when ``manifest.json`` records the same seed, sizes and generator
version; the raster has its own entry, so adding it (or changing its size or province)
leaves up-to-date vector files alone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyogrio
import rasterio
import rasterio.features
import shapely
from rasterio.transform import from_origin
from scipy import ndimage

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from layers.schema import FACILITY_TYPES, VOCABULARIES  # noqa: E402

__all__ = ["DEFAULT_DIR", "FILES", "RASTER_FILE", "make_national", "make_population_raster"]

GENERATOR_VERSION = 1
DEFAULT_DIR = ROOT / "bench-data"
FILES = {"villages": "villages.gpkg", "facilities": "facilities.gpkg", "needs": "needs.gpkg"}
RASTER_FILE = "population.tif"
RASTER_VERSION = 1
RASTER_SIZE = 2200
# Sumatera Utara: among the provinces with the most villages, and its extent is square.
RASTER_PROVINCE = "12"
RASTER_NODATA = -99999.0
MIN_VERTICES, MAX_VERTICES = 20, 200
EXTENT = (95.0, -11.0, 141.0, 6.0)

# --- land -------------------------------------------------------------------------------

# Island groups: (spine or outline, half width in degrees). A spine is buffered by its
# half width; an outline (closed, first point repeated) is a polygon buffered slightly.
ISLANDS: dict[str, list[tuple[list[tuple[float, float]], float]]] = {
    "sumatra": [
        ([(95.6, 5.3), (97.5, 3.6), (99.5, 1.5), (101.5, -1.0), (103.5, -3.0)], 1.25),
        ([(103.5, -3.0), (105.0, -5.0)], 1.0),
        ([(97.1, 1.5), (97.9, 0.7)], 0.22),  # Nias
        ([(98.7, -1.1), (99.2, -1.6)], 0.25),  # Siberut
    ],
    "riau_islands": [
        ([(104.0, 1.1), (104.6, 0.9)], 0.22),  # Batam, Bintan
        ([(104.4, -0.1), (104.8, -0.3)], 0.2),  # Lingga
        ([(108.1, 3.9), (108.3, 4.0)], 0.22),  # Natuna
    ],
    "bangka": [
        ([(105.3, -1.7), (106.6, -2.9)], 0.3),
        ([(107.7, -2.8), (108.1, -2.9)], 0.32),  # Belitung
    ],
    "java": [
        (
            [(105.4, -6.6), (107.0, -6.9), (109.0, -7.1), (111.0, -7.3), (112.8, -7.7)],
            0.5,
        ),
        ([(112.8, -7.7), (114.0, -8.0)], 0.4),
        ([(112.8, -7.05), (114.0, -7.0)], 0.17),  # Madura
    ],
    "bali": [([(114.8, -8.3), (115.6, -8.4)], 0.25)],
    "ntb": [
        ([(116.2, -8.6), (116.5, -8.6)], 0.3),  # Lombok
        ([(116.9, -8.6), (118.0, -8.5), (119.0, -8.6)], 0.28),  # Sumbawa
    ],
    "ntt": [
        ([(119.9, -8.6), (121.5, -8.7), (123.0, -8.4)], 0.27),  # Flores
        ([(119.0, -9.7), (120.7, -10.0)], 0.33),  # Sumba
        ([(123.6, -10.2), (124.4, -9.6)], 0.35),  # west Timor
    ],
    "kalimantan": [
        (
            [
                (109.0, 1.5),
                (109.6, 2.0),
                (111.5, 1.2),
                (113.5, 1.5),
                (115.0, 3.0),
                (115.6, 4.2),
                (117.6, 4.2),
                (117.7, 3.0),
                (118.8, 1.0),
                (117.5, 0.0),
                (117.0, -1.0),
                (116.5, -2.5),
                (116.2, -3.8),
                (114.6, -4.1),
                (113.0, -3.2),
                (111.5, -3.0),
                (110.2, -2.9),
                (110.0, -1.5),
                (109.0, -0.5),
                (109.0, 1.5),
            ],
            0.1,
        )
    ],
    "sulawesi": [
        ([(125.1, 1.5), (124.0, 0.8), (122.5, 0.6), (121.0, 0.5), (120.2, 0.7)], 0.3),
        ([(120.0, 0.7), (120.4, -1.0), (119.8, -3.0), (119.7, -5.4)], 0.6),
        ([(120.8, -1.2), (122.0, -1.0), (123.2, -0.9)], 0.33),
        ([(120.8, -2.5), (121.8, -3.8), (122.6, -4.8)], 0.5),
        ([(122.7, -5.0), (122.9, -5.6)], 0.2),  # Buton
    ],
    "maluku": [
        ([(128.1, -3.1), (129.5, -3.0), (130.7, -3.4)], 0.3),  # Seram
        ([(126.4, -3.3), (126.9, -3.5)], 0.35),  # Buru
    ],
    "malut": [
        ([(127.9, 2.1), (127.9, 0.5), (128.3, -0.6)], 0.3),  # Halmahera
        ([(128.0, 0.8), (128.7, 0.9)], 0.2),
    ],
    "papua": [
        (
            [
                (131.0, -0.9),
                (132.5, -0.4),
                (134.0, -0.8),
                (134.2, -2.2),
                (135.0, -3.3),
                (136.5, -2.3),
                (138.0, -1.7),
                (140.0, -2.3),
                (141.0, -2.6),
                (141.0, -9.1),
                (140.0, -8.2),
                (138.9, -8.3),
                (138.0, -7.5),
                (138.5, -6.8),
                (137.5, -5.3),
                (135.5, -4.4),
                (134.2, -3.9),
                (133.0, -4.0),
                (132.5, -3.0),
                (132.0, -2.8),
                (133.3, -2.3),
                (131.0, -1.5),
                (131.0, -0.9),
            ],
            0.05,
        )
    ],
}

# (code, name, island group, centre lon, lat, villages, regencies, of which kota), roughly
# the 2024 national figures; scaled to the requested number of villages.
PROVINCES: list[tuple[str, str, str, float, float, int, int, int]] = [
    ("11", "Aceh", "sumatra", 96.9, 4.4, 6497, 23, 5),
    ("12", "Sumatera Utara", "sumatra", 99.0, 2.2, 6110, 33, 8),
    ("13", "Sumatera Barat", "sumatra", 100.4, -0.8, 1265, 19, 7),
    ("14", "Riau", "sumatra", 101.8, 0.6, 1862, 12, 2),
    ("15", "Jambi", "sumatra", 103.0, -1.7, 1585, 11, 2),
    ("16", "Sumatera Selatan", "sumatra", 104.3, -3.2, 3258, 17, 4),
    ("17", "Bengkulu", "sumatra", 102.3, -3.9, 1513, 10, 1),
    ("18", "Lampung", "sumatra", 105.0, -4.9, 2651, 15, 2),
    ("19", "Kepulauan Bangka Belitung", "bangka", 106.4, -2.6, 393, 7, 1),
    ("21", "Kepulauan Riau", "riau_islands", 104.4, 1.0, 419, 7, 2),
    ("31", "DKI Jakarta", "java", 106.83, -6.2, 267, 6, 5),
    ("32", "Jawa Barat", "java", 107.6, -6.95, 5957, 27, 9),
    ("33", "Jawa Tengah", "java", 110.1, -7.15, 8563, 35, 6),
    ("34", "DI Yogyakarta", "java", 110.4, -7.85, 438, 5, 1),
    ("35", "Jawa Timur", "java", 112.6, -7.6, 8494, 38, 9),
    ("36", "Banten", "java", 106.1, -6.45, 1552, 8, 4),
    ("51", "Bali", "bali", 115.1, -8.4, 716, 9, 1),
    ("52", "Nusa Tenggara Barat", "ntb", 117.4, -8.6, 1166, 10, 2),
    ("53", "Nusa Tenggara Timur", "ntt", 121.5, -9.0, 3442, 22, 1),
    ("61", "Kalimantan Barat", "kalimantan", 110.5, 0.0, 2145, 14, 2),
    ("62", "Kalimantan Tengah", "kalimantan", 113.5, -1.6, 1576, 14, 1),
    ("63", "Kalimantan Selatan", "kalimantan", 115.4, -3.0, 2017, 13, 2),
    ("64", "Kalimantan Timur", "kalimantan", 116.6, 0.4, 1038, 10, 3),
    ("65", "Kalimantan Utara", "kalimantan", 116.5, 3.1, 482, 5, 1),
    ("71", "Sulawesi Utara", "sulawesi", 124.6, 1.1, 1839, 15, 4),
    ("72", "Sulawesi Tengah", "sulawesi", 121.4, -1.3, 2020, 13, 1),
    ("73", "Sulawesi Selatan", "sulawesi", 119.9, -4.2, 3059, 24, 3),
    ("74", "Sulawesi Tenggara", "sulawesi", 122.2, -4.2, 2296, 17, 2),
    ("75", "Gorontalo", "sulawesi", 122.6, 0.7, 734, 6, 1),
    ("76", "Sulawesi Barat", "sulawesi", 119.3, -2.4, 650, 6, 0),
    ("81", "Maluku", "maluku", 129.2, -3.2, 1235, 11, 2),
    ("82", "Maluku Utara", "malut", 127.9, 1.0, 1185, 10, 2),
    ("91", "Papua", "papua", 139.8, -2.6, 1017, 9, 1),
    ("92", "Papua Barat", "papua", 133.6, -1.5, 1010, 7, 0),
    ("93", "Papua Selatan", "papua", 139.6, -7.2, 690, 4, 0),
    ("94", "Papua Tengah", "papua", 136.3, -3.8, 1210, 8, 0),
    ("95", "Papua Pegunungan", "papua", 139.0, -4.3, 2620, 8, 0),
    ("96", "Papua Barat Daya", "papua", 131.7, -1.1, 1000, 6, 1),
]
REAL_KECAMATAN = 7277
DENSE_ISLANDS = {"java": 7000.0, "bali": 5000.0}

# --- names ---------------------------------------------------------------------------------


def _word_list(text: str) -> tuple[str, ...]:
    return tuple(text.split())


PREFIXES = _word_list(
    "Sungai Tanjung Teluk Muara Bukit Kampung Lubuk Pulau Suka Karang Sumber Air Batu "
    "Padang Koto Rantau Simpang Talang Pematang Tebing Danau Kuala Ujung Pasir Tanah "
    "Gunung Rawa Kebun Sri Mekar Margo Wono Tegal Pangkalan Lebak Parit Bandar Labuhan "
    "Giri Banjar Sido Jati"
)
ROOTS = _word_list(
    "Jaya Makmur Baru Indah Sari Mulya Harapan Rejo Asri Lestari Maju Tengah Hilir Hulu "
    "Lama Merah Putih Panjang Besar Kecil Agung Mas Raya Damai Sejahtera Tani Rahayu "
    "Bening Kencana Wangi Kembang Pinang Kelapa Durian Manggis Rambutan Pisang Jambu "
    "Nangka Duku Bambu Randu Waru Beringin Cempaka Melati Kenanga Seroja Pandan Gading "
    "Emas Intan Permai Subur Karya Bakti Mukti Mulyo Kerto Purwo Harjo Tirto Kusumo Arum "
    "Anyar Ilir Ulu Kumpeh Rimbo Pauh"
)
SUFFIXES = ("", "", "", "", "", " I", " II", " Timur", " Barat", " Utara", " Selatan", " Dalam")
SYLLABLES = _word_list(
    "ba bu ka ke ko la lu ma me mo na ni pa po ra ri sa se ta ti wa ja ga da ha ya bang "
    "kan lan man pan ran san tan ngan rang dang wan jung lung pung kung"
)

NEED_LABELS = {
    "water": ("air bersih", "air minum"),
    "sanitation": ("sanitasi", "jamban", "mck"),
    "health": ("kesehatan", "kia"),
    "nutrition": ("gizi", "stunting"),
    "education": ("pendidikan", "sekolah"),
    "economy": ("ekonomi", "umkm", "pertanian"),
    "infrastructure": ("infrastruktur", "jalan", "jembatan", "listrik"),
    "other": ("lainnya",),
}
NEED_SHARES = {
    "water": 0.18,
    "sanitation": 0.14,
    "health": 0.14,
    "nutrition": 0.10,
    "education": 0.10,
    "economy": 0.12,
    "infrastructure": 0.18,
    "other": 0.04,
}
NEED_TEXTS = {
    "water": ("Sumur warga kering saat kemarau", "Pipa air bersih rusak", "Air keruh"),
    "sanitation": ("Belum ada jamban keluarga", "MCK umum rusak", "Sampah menumpuk di sungai"),
    "health": ("Bidan desa tidak menetap", "Posyandu kekurangan alat", "Obat sering habis"),
    "nutrition": ("Balita gizi kurang", "Kasus stunting meningkat", "Ibu hamil kurang gizi"),
    "education": ("Ruang kelas rusak", "Kekurangan guru", "Jarak ke sekolah jauh"),
    "economy": ("Harga hasil panen rendah", "Modal usaha kecil", "Pelatihan keterampilan"),
    "infrastructure": ("Jalan desa berlubang", "Jembatan putus", "Listrik sering padam"),
    "other": ("Perlu pendataan ulang", "Usulan warga", "Lain-lain"),
}
NEED_SOURCES = ("musrenbang", "survei", "pengaduan", "kunjungan lapangan")
NEED_SOURCE_SHARES = (0.35, 0.35, 0.15, 0.15)
NEED_STATUSES = ("baru", "terverifikasi", "diproses", "ditangani", "selesai")
NEED_STATUS_SHARES = (0.45, 0.2, 0.15, 0.1, 0.1)
SEVERITY_SHARES = (0.15, 0.25, 0.3, 0.2, 0.1)

# Facility types: share of all points, labels as found in source files, capacity range.
FACILITY_MIX: dict[str, tuple[float, tuple[str, ...], tuple[float, float] | None]] = {
    "posyandu": (0.30, ("Posyandu",), (20, 120)),
    "sd": (0.22, ("SD", "SD", "SD", "MI"), (60, 700)),
    "paud": (0.15, ("PAUD", "TK", "KB"), (10, 90)),
    "water_point": (0.10, ("Sumur Bor", "Hidran Umum", "Mata Air", "Sumur Gali"), (20, 300)),
    "smp": (0.06, ("SMP", "SMP", "MTs"), (90, 900)),
    "sma": (0.04, ("SMA", "SMK", "MA"), (90, 1200)),
    "poskesdes": (0.04, ("Poskesdes", "Polindes"), None),
    "pustu": (0.03, ("Puskesmas Pembantu", "Pustu"), None),
    "clinic": (0.03, ("Klinik Pratama", "Klinik"), (0, 20)),
    "puskesmas": (0.015, ("PUSKESMAS", "Puskesmas Rawat Inap"), (0, 30)),
    "hospital": (0.005, ("RSUD", "Rumah Sakit", "RSIA"), (50, 600)),
    "other": (0.01, ("Lainnya",), None),
}


def _log(msg: str, verbose: bool) -> None:
    if verbose:
        print(f"make_synthetic: {msg}", file=sys.stderr, flush=True)


# --- geometry --------------------------------------------------------------------------------


def _island_geometries() -> tuple[list[str], np.ndarray]:
    # Coastal villages reach up to ~0.2 degrees into the sea: keep land inside the extent.
    x0, y0, x1, y1 = EXTENT
    frame = shapely.box(x0 + 0.25, y0 + 0.25, x1 - 0.25, y1 - 0.25)
    names, geoms = [], []
    for name, parts in ISLANDS.items():
        shapes = []
        for coords, width in parts:
            if len(coords) > 3 and coords[0] == coords[-1]:
                shapes.append(shapely.buffer(shapely.Polygon(coords), width, quad_segs=4))
            else:
                shapes.append(shapely.buffer(shapely.LineString(coords), width, quad_segs=6))
        names.append(name)
        geom = shapely.intersection(shapely.union_all(shapes), frame)
        if geoms:  # islands never overlap: a village belongs to one island group
            geom = shapely.difference(geom, shapely.union_all(geoms))
        geoms.append(geom)
    geoms = np.array(geoms, dtype=object)
    shapely.prepare(geoms)
    return names, geoms


def _group_shift(group: np.ndarray) -> np.ndarray:
    """An x offset per group large enough that nearest neighbours never cross groups."""
    return group.astype(np.float64) * 1000.0


def _nearest_in_group(
    px: np.ndarray, py: np.ndarray, pgroup: np.ndarray, cx: np.ndarray, cy: np.ndarray, cgroup
) -> np.ndarray:
    """Index of the nearest centre of the same group for each point."""
    tree = shapely.STRtree(shapely.points(cx + _group_shift(cgroup), cy))
    pts = shapely.points(px + _group_shift(pgroup), py)
    idx = tree.query_nearest(pts, all_matches=False)
    out = np.empty(len(px), dtype=np.int64)
    out[idx[0]] = idx[1]
    return out


def _circumcentres(ax, ay, bx, by, cx, cy) -> tuple[np.ndarray, np.ndarray]:
    bx, by, cx, cy = bx - ax, by - ay, cx - ax, cy - ay
    d = 2.0 * (bx * cy - by * cx)
    b2, c2 = bx * bx + by * by, cx * cx + cy * cy
    return ax + (cy * b2 - by * c2) / d, ay + (bx * c2 - cx * b2) / d


def _voronoi_edges(seeds: np.ndarray, n_land: int) -> dict[str, np.ndarray]:
    """Voronoi cells of the first ``n_land`` seeds as rings of shared edges.

    Built from the Delaunay triangulation: each cell's vertices are the circumcentres of
    the triangles around its seed, in angular order, and each edge is identified by its
    two triangles, so neighbouring cells refer to the same edge.
    """
    tris = shapely.get_parts(shapely.delaunay_triangles(shapely.multipoints(seeds)))
    corners = shapely.get_coordinates(tris).reshape(len(tris), 4, 2)[:, :3, :]
    key = seeds[:, 0] + 1j * seeds[:, 1]
    order = np.argsort(key)
    corner_key = (corners[..., 0] + 1j * corners[..., 1]).ravel()
    pos = np.clip(np.searchsorted(key[order], corner_key), 0, len(key) - 1)
    ids = order[pos]
    if not np.array_equal(key[ids], corner_key):
        raise RuntimeError("Delaunay corners do not match the seeds")
    ids = ids.reshape(-1, 3)
    pts = seeds[ids]
    ux, uy = _circumcentres(
        pts[:, 0, 0], pts[:, 0, 1], pts[:, 1, 0], pts[:, 1, 1], pts[:, 2, 0], pts[:, 2, 1]
    )
    seed_of = ids.ravel()
    tri_of = np.repeat(np.arange(len(ids)), 3)
    land = seed_of < n_land
    seed_of, tri_of = seed_of[land], tri_of[land]
    angle = np.arctan2(uy[tri_of] - seeds[seed_of, 1], ux[tri_of] - seeds[seed_of, 0])
    o = np.lexsort((angle, seed_of))
    cell, tri = seed_of[o], tri_of[o]
    counts = np.bincount(cell, minlength=n_land)
    if (counts < 3).any():
        raise RuntimeError("a land seed lies on the hull of the triangulation")
    start = np.concatenate(([0], np.cumsum(counts)[:-1]))
    nxt = np.arange(len(cell)) + 1
    last = np.cumsum(counts) - 1
    nxt[last] = start
    a, b = tri, tri[nxt]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    edge_key = lo.astype(np.int64) * len(ids) + hi
    uniq, edge = np.unique(edge_key, return_inverse=True)
    e_lo, e_hi = uniq // len(ids), uniq % len(ids)
    return {
        "cell": cell,  # per cell-edge, sorted by cell then ring order
        "edge": edge,  # unique edge id per cell-edge
        "forward": a < b,  # the cell walks the edge from its lower to its higher triangle
        "start_x": ux[a],
        "start_y": uy[a],
        "ax": ux[e_lo],
        "ay": uy[e_lo],
        "bx": ux[e_hi],
        "by": uy[e_hi],
    }


def _edge_subdivisions(ve: dict[str, np.ndarray], n_cells: int, rng) -> np.ndarray:
    """Points per edge so that each cell has MIN_VERTICES..MAX_VERTICES vertices."""
    cell, edge = ve["cell"], ve["edge"]
    length = np.hypot(ve["bx"] - ve["ax"], ve["by"] - ve["ay"])
    perimeter = np.bincount(cell, weights=length[edge], minlength=n_cells)
    sx = np.bincount(cell, weights=ve["start_x"], minlength=n_cells) / np.bincount(cell)
    sy = np.bincount(cell, weights=ve["start_y"], minlength=n_cells) / np.bincount(cell)
    # A smooth field of detail (some areas were digitised finely, some coarsely) + noise.
    u = 0.5 + 0.5 * np.sin(sx * 0.7 + 1.3) * np.cos(sy * 1.1 + 0.4)
    target = np.exp(np.log(28) + (np.log(150) - np.log(28)) * u)
    target *= rng.lognormal(0.0, 0.15, n_cells)
    log_step = np.log(perimeter / target)
    n_edges = len(length)
    sum_log = np.bincount(edge, weights=log_step[cell], minlength=n_edges)
    n_use = np.bincount(edge, minlength=n_edges)
    step = np.exp(sum_log / n_use)
    k = np.maximum(1, np.rint(length / step)).astype(np.int64)
    lo, hi = MIN_VERTICES + 2, MAX_VERTICES - 10
    for _ in range(20):
        n = np.bincount(cell, weights=k[edge], minlength=n_cells)
        if ((n >= MIN_VERTICES) & (n <= MAX_VERTICES)).all():
            break
        shrink = np.ones(n_edges)
        grow = np.ones(n_edges)
        np.minimum.at(shrink, edge, np.minimum(1.0, hi / n)[cell])
        np.maximum.at(grow, edge, np.maximum(1.0, lo / n)[cell])
        k = np.where(
            shrink < 1.0,
            np.maximum(1, np.floor(k * shrink)),
            np.where(grow > 1.0, np.ceil(k * grow), k),
        ).astype(np.int64)
    n = np.bincount(cell, weights=k[edge], minlength=n_cells)
    if not ((n >= MIN_VERTICES) & (n <= MAX_VERTICES)).all():
        raise RuntimeError("could not bring every village to 20-200 vertices")
    return k


def _build_cells(
    ve: dict[str, np.ndarray], k: np.ndarray, coef: np.ndarray, noise: np.ndarray, amp: np.ndarray
) -> np.ndarray:
    """Assemble cell polygons from shared, bent edges (``amp`` 0 keeps an edge straight).

    ``coef`` holds three sine amplitudes per edge and ``noise`` one offset per interior
    point, both relative to the edge length; each edge stays a graph over its own chord,
    so it never crosses itself.
    """
    ax, ay, bx, by = ve["ax"], ve["ay"], ve["bx"], ve["by"]
    dx, dy = bx - ax, by - ay
    # Interior points of each unique edge, walking from its lower to its higher triangle.
    n_int = k - 1
    e_of = np.repeat(np.arange(len(k)), n_int)
    e_off = np.concatenate(([0], np.cumsum(n_int)[:-1]))
    j = np.arange(len(e_of)) - e_off[e_of] + 1
    t = j / k[e_of]
    c = coef[e_of]
    bend = (
        c[:, 0] * np.sin(np.pi * t)
        + c[:, 1] * np.sin(2 * np.pi * t)
        + c[:, 2] * np.sin(3 * np.pi * t)
        + noise * np.sin(np.pi * t) / k[e_of]
    ) * amp[e_of]
    # Offset along the normal (-dy, dx); bend is relative to the edge length.
    ix = ax[e_of] + t * dx[e_of] - bend * dy[e_of]
    iy = ay[e_of] + t * dy[e_of] + bend * dx[e_of]
    # Each cell-edge contributes its start vertex and the interior points of its edge.
    cell, edge, fwd = ve["cell"], ve["edge"], ve["forward"]
    size = k[edge]
    block = np.repeat(np.arange(len(cell)), size)
    block_start = np.concatenate(([0], np.cumsum(size)[:-1]))
    local = np.arange(len(block)) - block_start[block]
    x = np.empty(len(block))
    y = np.empty(len(block))
    first = local == 0
    x[first], y[first] = ve["start_x"], ve["start_y"]
    rest = ~first
    b = block[rest]
    e = edge[b]
    lrest = local[rest] - 1
    idx = e_off[e] + np.where(fwd[b], lrest, n_int[e] - 1 - lrest)
    x[rest], y[rest] = ix[idx], iy[idx]
    coords = np.round(np.column_stack((x, y)), 7)
    rings = shapely.linearrings(coords, indices=cell[block])
    return shapely.polygons(rings)


def _village_polygons(seeds: np.ndarray, n_land: int, rng, verbose: bool) -> np.ndarray:
    ve = _voronoi_edges(seeds, n_land)
    k = _edge_subdivisions(ve, n_land, rng)
    n_edges = len(k)
    coef = np.column_stack(
        (
            rng.uniform(-0.07, 0.07, n_edges),
            rng.uniform(-0.03, 0.03, n_edges),
            rng.uniform(-0.015, 0.015, n_edges),
        )
    )
    noise = rng.normal(0.0, 0.15, int((k - 1).sum()))
    amp = np.ones(n_edges)
    for attempt in range(6):
        polys = _build_cells(ve, k, coef, noise, amp)
        bad = ~shapely.is_valid(polys)
        if not bad.any():
            return polys
        _log(
            f"straightening the edges of {int(bad.sum())} invalid cells (pass {attempt + 1})",
            verbose,
        )
        edges_of_bad = np.unique(ve["edge"][bad[ve["cell"]]])
        amp[edges_of_bad] = 0.0
    raise RuntimeError(f"{int(bad.sum())} village polygons stay invalid")


# --- the data set ----------------------------------------------------------------------------


def _province_targets(n_villages: int) -> np.ndarray:
    real = np.array([p[5] for p in PROVINCES], dtype=np.float64)
    counts = np.maximum(3, np.floor(real / real.sum() * n_villages)).astype(np.int64)
    counts[np.argmax(counts)] += n_villages - counts.sum()
    return counts


def _seeds(rng, n_villages: int, verbose: bool):
    names, islands = _island_geometries()
    island_index = {n: i for i, n in enumerate(names)}
    targets = _province_targets(n_villages)
    p_island = np.array([island_index[p[2]] for p in PROVINCES])
    p_x = np.array([p[3] for p in PROVINCES])
    p_y = np.array([p[4] for p in PROVINCES])
    x0, y0, x1, y1 = EXTENT
    # A pool of uniform land candidates per island, at least 4 per village of each province.
    pool_x, pool_y, pool_prov = [], [], []
    for i, geom in enumerate(islands):
        mine = np.flatnonzero(p_island == i)
        need = 4 * targets[mine]
        bx0, by0, bx1, by1 = shapely.bounds(geom)
        batch = int(8 * need.sum() * (bx1 - bx0) * (by1 - by0) / shapely.area(geom)) + 1000
        xs, ys, have = [], [], np.zeros(len(mine), dtype=np.int64)
        for _ in range(30):
            x = rng.uniform(bx0, bx1, batch)
            y = rng.uniform(by0, by1, batch)
            inside = shapely.contains_xy(geom, x, y)
            x, y = x[inside], y[inside]
            d = np.hypot(x[:, None] - p_x[mine][None, :], y[:, None] - p_y[mine][None, :])
            prov = mine[np.argmin(d, axis=1)]
            xs.append(x)
            ys.append(y)
            pool_prov.append(prov)
            have += np.bincount(np.searchsorted(mine, prov), minlength=len(mine))
            if (have >= need).all():
                break
            batch *= 2
        else:
            raise RuntimeError(f"not enough land candidates on {names[i]}")
        pool_x.extend(xs)
        pool_y.extend(ys)
    px, py, prov = (np.concatenate(a) for a in (pool_x, pool_y, pool_prov))
    have = np.bincount(prov, minlength=len(PROVINCES))
    # Town bumps: candidates near random town centres are more likely to become villages.
    n_towns = 600
    town = rng.choice(len(px), n_towns, replace=False)
    tree = shapely.STRtree(shapely.points(px[town], py[town]))
    near_idx, dist = tree.query_nearest(shapely.points(px, py), return_distance=True)
    d = np.full(len(px), np.inf)
    d[near_idx[0]] = dist
    weight = 1.0 + 12.0 * np.exp(-((d / 0.12) ** 2))
    # Choose exactly the target count per province, weighted (Efraimidis-Spirakis keys).
    keys = np.log(rng.uniform(size=len(px))) / weight
    o = np.lexsort((-keys, prov))
    rank = np.arange(len(o)) - np.concatenate(([0], np.cumsum(have)[:-1]))[prov[o]]
    chosen = o[rank < targets[prov[o]]]
    chosen = chosen[np.argsort(prov[chosen], kind="stable")]
    land = np.column_stack((px[chosen], py[chosen]))
    land_prov = prov[chosen]
    _log(f"{len(land)} village seeds in {len(PROVINCES)} provinces", verbose)
    # Sea seeds: a jittered grid outside the land, bounding the coastal villages.
    gx, gy = np.meshgrid(np.arange(x0 - 1.0, x1 + 1.01, 0.25), np.arange(y0 - 1.0, y1 + 1.01, 0.25))
    sx = gx.ravel() + rng.uniform(-0.08, 0.08, gx.size)
    sy = gy.ravel() + rng.uniform(-0.08, 0.08, gy.size)
    on_land = np.zeros(sx.size, dtype=bool)
    for geom in islands:
        on_land |= shapely.contains_xy(geom, sx, sy)
    sea = np.column_stack((sx[~on_land], sy[~on_land]))
    seeds = np.vstack((land, sea))
    _, first = np.unique(seeds[:, 0] + 1j * seeds[:, 1], return_index=True)
    if len(first) != len(seeds):
        raise RuntimeError("duplicate seeds")
    return seeds, len(land), land_prov


def _pick_centres(group: np.ndarray, n_per_group: np.ndarray, rng) -> np.ndarray:
    """Indices of ``n_per_group[g]`` distinct random members of each group ``g``."""
    keys = rng.uniform(size=len(group))
    o = np.lexsort((keys, group))
    sizes = np.bincount(group, minlength=len(n_per_group))
    rank = np.arange(len(o)) - np.concatenate(([0], np.cumsum(sizes)[:-1]))[group[o]]
    return o[rank < n_per_group[group[o]]]


def _cluster(x, y, group, n_per_group, rng, iterations: int = 3) -> np.ndarray:
    """Split each group into ``n_per_group[g]`` contiguous clusters; returns cluster ids.

    Cluster ids are numbered by group, so clusters of group 0 come first.
    """
    idx = _pick_centres(group, n_per_group, rng)
    idx = idx[np.lexsort((idx, group[idx]))]
    cx, cy, cg = x[idx], y[idx], group[idx]
    for _ in range(iterations):
        assign = _nearest_in_group(x, y, group, cx, cy, cg)
        n = np.bincount(assign, minlength=len(cx))
        has = n > 0
        cx = np.where(has, np.bincount(assign, weights=x, minlength=len(cx)) / np.maximum(n, 1), cx)
        cy = np.where(has, np.bincount(assign, weights=y, minlength=len(cx)) / np.maximum(n, 1), cy)
    assign = _nearest_in_group(x, y, group, cx, cy, cg)
    # Renumber so that ids are contiguous and no cluster is empty.
    _, compact = np.unique(assign, return_inverse=True)
    return compact


def _rank_within(group: np.ndarray, order_key: tuple[np.ndarray, ...]) -> np.ndarray:
    """0-based rank of each element within its group, ordered by ``order_key``."""
    o = np.lexsort((*order_key, group))
    sizes = np.bincount(group)
    rank = np.empty(len(group), dtype=np.int64)
    rank[o] = np.arange(len(group)) - np.concatenate(([0], np.cumsum(sizes)[:-1]))[group[o]]
    return rank


def _words(rng, n: int) -> np.ndarray:
    """Indonesian-looking place names."""
    kind = rng.uniform(size=n)
    pre = np.array(PREFIXES, dtype=object)[rng.integers(0, len(PREFIXES), n)]
    root = np.array(ROOTS, dtype=object)[rng.integers(0, len(ROOTS), n)]
    suf = np.array(SUFFIXES, dtype=object)[rng.integers(0, len(SUFFIXES), n)]
    syl = np.array(SYLLABLES, dtype=object)
    cap = np.array([s.capitalize() for s in SYLLABLES], dtype=object)
    word = cap[rng.integers(0, len(syl), n)] + syl[rng.integers(0, len(syl), n)]
    three = rng.uniform(size=n) < 0.4
    word[three] = word[three] + syl[rng.integers(0, len(syl), int(three.sum()))]
    out = np.where(kind < 0.55, pre + " " + root, np.where(kind < 0.75, word + " " + root, word))
    return (out + suf).astype(object)


def _pad(values: np.ndarray, width: int) -> np.ndarray:
    return np.char.zfill(values.astype(str), width).astype(object)


def _villages(rng, n_villages: int, verbose: bool) -> dict[str, np.ndarray]:
    t0 = time.perf_counter()
    seeds, n_land, prov = _seeds(rng, n_villages, verbose)
    _log(f"seeds: {time.perf_counter() - t0:.1f} s", verbose)
    polys = _village_polygons(seeds, n_land, rng, verbose)
    _log(f"{n_land} polygons: {time.perf_counter() - t0:.1f} s", verbose)
    x, y = seeds[:n_land, 0], seeds[:n_land, 1]
    n_prov = len(PROVINCES)
    real_villages = np.array([p[5] for p in PROVINCES], dtype=np.float64)
    real_regencies = np.array([p[6] for p in PROVINCES], dtype=np.float64)
    real_kota = np.array([p[7] for p in PROVINCES], dtype=np.float64)
    per_prov = np.bincount(prov, minlength=n_prov)
    scale = per_prov / real_villages
    n_reg = np.clip(np.rint(real_regencies * np.minimum(1.0, scale * 4)), 1, 70).astype(int)
    n_reg = np.minimum(n_reg, np.maximum(1, per_prov // 3))
    reg = _cluster(x, y, prov, n_reg, rng)
    reg_prov = np.zeros(reg.max() + 1, dtype=np.int64)
    reg_prov[reg] = prov
    reg_size = np.bincount(reg)
    kec_ratio = REAL_KECAMATAN / 83_763  # kecamatan per village nationally
    n_kec = np.clip(np.rint(reg_size * kec_ratio), 1, 95).astype(int)
    kec = _cluster(x, y, reg, n_kec, rng)
    kec_reg = np.zeros(kec.max() + 1, dtype=np.int64)
    kec_reg[kec] = reg
    # Kota: the densest regencies of each province (smallest mean village area).
    area = shapely.area(polys)
    reg_mean_area = np.bincount(reg, weights=area) / reg_size
    reg_rank = _rank_within(reg_prov, (reg_mean_area,))
    n_reg_actual = np.bincount(reg_prov, minlength=n_prov)
    kota_n = np.rint(n_reg_actual * real_kota / real_regencies).astype(int)
    kota_n = np.minimum(kota_n, n_reg_actual - (real_kota < real_regencies))
    is_kota = reg_rank < kota_n[reg_prov]
    reg_cx = np.bincount(reg, weights=x) / reg_size
    reg_cy = np.bincount(reg, weights=y) / reg_size
    reg_num = _rank_within(reg_prov * 2 + is_kota, (reg_cx, -reg_cy)) + np.where(is_kota, 71, 1)
    kec_size = np.bincount(kec)
    kec_cx = np.bincount(kec, weights=x) / kec_size
    kec_cy = np.bincount(kec, weights=y) / kec_size
    kec_num = _rank_within(kec_reg, (kec_cx, -kec_cy)) + 1
    if reg_num.max() > 99 or kec_num.max() > 99:
        raise RuntimeError("too many regencies or kecamatan for two-digit codes")
    # Village type: kota are mostly kelurahan; towns elsewhere have a few.
    v_kota = is_kota[reg]
    kelurahan = rng.uniform(size=n_land) < np.where(v_kota, 0.5, 0.03)
    vrank = _rank_within(kec * 2 + kelurahan, (x, -y))
    if vrank.max() >= 999:
        raise RuntimeError("too many villages in a kecamatan")
    vnum = vrank + np.where(kelurahan, 1001, 2001)
    prov_code = np.array([p[0] for p in PROVINCES], dtype=object)
    prov_name = np.array([p[1] for p in PROVINCES], dtype=object)
    kab_code = prov_code[reg_prov] + "." + _pad(reg_num, 2)
    kec_code = kab_code[kec_reg] + "." + _pad(kec_num, 2)
    kode = kec_code[kec] + "." + _pad(vnum, 4)
    if len(np.unique(kode)) != n_land:
        raise RuntimeError("village codes are not unique")
    reg_word = _words(rng, len(reg_num))
    kab_name = np.where(is_kota, "Kota ", "Kabupaten ") + reg_word
    kec_name = _words(rng, len(kec_num))
    dense = np.array([DENSE_ISLANDS.get(p[2], 2500.0) for p in PROVINCES])[prov]
    if_papua = np.array([p[2] == "papua" for p in PROVINCES])[prov]
    base = np.where(if_papua, 700.0, dense) * np.where(kelurahan, 2.5, 1.0)
    population = np.rint(base * rng.lognormal(0.0, 0.6, n_land)).clip(80, 150_000)
    return {
        "kode": kode,
        "nama": _words(rng, n_land),
        "kode_kec": kec_code[kec],
        "nama_kec": kec_name[kec],
        "kode_kab": kab_code[reg],
        "nama_kab": kab_name[reg].astype(object),
        "kode_prov": prov_code[prov],
        "nama_prov": prov_name[prov],
        "jenis": np.where(kelurahan, "kelurahan", "desa").astype(object),
        "penduduk": population.astype(np.float64),
        "geometry": polys,
    }


def _points_in(polys: np.ndarray, which: np.ndarray, rng) -> np.ndarray:
    """One uniform random point inside ``polys[which[i]]`` for each i.

    Rejection sampling in each polygon's bounding box; the few points of very thin
    villages still missing after some rounds are drawn in a triangulation of the polygon.
    """
    shapely.prepare(polys)
    bounds = shapely.bounds(polys)
    x = np.empty(len(which))
    y = np.empty(len(which))
    todo = np.arange(len(which))
    for round_ in range(100):
        if round_ < 30:
            b = bounds[which[todo]]
            tx = rng.uniform(b[:, 0], b[:, 2])
            ty = rng.uniform(b[:, 1], b[:, 3])
        else:
            tx, ty = _points_in_triangles(polys, which[todo], rng)
        tx, ty = np.round(tx, 7), np.round(ty, 7)
        ok = shapely.contains_xy(polys[which[todo]], tx, ty)
        x[todo[ok]], y[todo[ok]] = tx[ok], ty[ok]
        todo = todo[~ok]
        if len(todo) == 0:
            return shapely.points(x, y)
    raise RuntimeError(f"{len(todo)} points could not be placed")


def _points_in_triangles(polys: np.ndarray, which: np.ndarray, rng):
    """Uniform random points in ``polys[which]`` through a triangulation of each polygon."""
    uniq, inv = np.unique(which, return_inverse=True)
    tris, owner = shapely.get_parts(
        shapely.constrained_delaunay_triangles(polys[uniq]), return_index=True
    )
    area = shapely.area(tris)
    cum = np.cumsum(area)
    count = np.bincount(owner, minlength=len(uniq))
    end = np.cumsum(count)
    before = np.where(end - count > 0, cum[np.maximum(end - count - 1, 0)], 0.0)
    total = cum[end - 1] - before
    pick = np.searchsorted(cum, before[inv] + rng.uniform(size=len(which)) * total[inv])
    pick = np.minimum(pick, end[inv] - 1)
    corners = shapely.get_coordinates(tris[pick]).reshape(len(pick), 4, 2)
    u, v = rng.uniform(size=len(pick)), rng.uniform(size=len(pick))
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
    p = a + u[:, None] * (b - a) + v[:, None] * (c - a)
    return p[:, 0], p[:, 1]


def _choose(rng, values, shares, n: int) -> np.ndarray:
    p = np.asarray(shares, dtype=np.float64)
    return np.asarray(values, dtype=object)[rng.choice(len(values), n, p=p / p.sum())]


def _facilities(rng, v: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    types = list(FACILITY_MIX)
    shares = np.array([FACILITY_MIX[t][0] for t in types])
    type_idx = rng.choice(len(types), n, p=shares / shares.sum())
    weight = v["penduduk"] ** 0.8
    village = rng.choice(len(weight), n, p=weight / weight.sum())
    label = np.empty(n, dtype=object)
    capacity = np.full(n, np.nan)
    for i, t in enumerate(types):  # a dozen types, vectorised within each
        sel = type_idx == i
        labels = np.array(FACILITY_MIX[t][1], dtype=object)
        label[sel] = labels[rng.integers(0, len(labels), int(sel.sum()))]
        rng_cap = FACILITY_MIX[t][2]
        if rng_cap is not None:
            capacity[sel] = np.rint(rng.uniform(*rng_cap, int(sel.sum())))
    vocab = VOCABULARIES[("facilities", "type")]
    mapped = np.array([vocab.get(lbl.lower()) for lbl in np.unique(label)])
    expect = np.array(
        [types[type_idx[np.flatnonzero(label == lbl)[0]]] for lbl in np.unique(label)]
    )
    if not np.array_equal(mapped, expect) or set(types) != set(FACILITY_TYPES):
        raise RuntimeError("facility labels do not map to the facility taxonomy")
    kab_digits = np.char.replace(v["kode_kab"][village].astype(str), ".", "").astype(object)
    serial = rng.integers(0, 1_000_000, n)
    sector = np.array([FACILITY_TYPES[types[i]] for i in range(len(types))], dtype=object)[type_idx]
    # Source codes as the source systems write them: Kemenkes (P + regency + 6 digits) for
    # health, NPSN (8 digits) for schools, a water-utility code for water points.
    source = np.full(n, None, dtype=object)
    health = sector == "health"
    source[health] = "P" + kab_digits[health] + _pad(serial[health], 6)
    school = sector == "education"
    source[school] = _pad(rng.integers(10_000_000, 70_000_000, int(school.sum())), 8)
    water = sector == "water"
    source[water] = "SAB-" + kab_digits[water] + "-" + _pad(serial[water] % 100_000, 5)
    number = _pad(rng.integers(1, 40, n), 2)
    name = label + " " + _words(rng, n)
    place = np.isin(type_idx, [types.index(t) for t in ("sd", "smp", "sma")])
    name[place] = label[place] + " Negeri " + number[place] + " " + v["nama"][village[place]]
    seat = np.isin(type_idx, [types.index(t) for t in ("puskesmas", "hospital")])
    name[seat] = label[seat] + " " + v["nama_kec"][village[seat]]
    return {
        "facility_id": "FAS-" + _pad(np.arange(1, n + 1), 7),
        "nama": name,
        "jenis": label,
        "kapasitas": capacity,
        "kode_sumber": source,
        "kode_desa": v["kode"][village],
        "geometry": _points_in(v["geometry"], village, rng),
    }


def _needs(rng, v: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    cats = list(NEED_SHARES)
    cat_idx = rng.choice(len(cats), n, p=np.array(list(NEED_SHARES.values())))
    label = np.empty(n, dtype=object)
    text = np.empty(n, dtype=object)
    for i, c in enumerate(cats):
        sel = cat_idx == i
        labels = np.array(NEED_LABELS[c], dtype=object)
        texts = np.array(NEED_TEXTS[c], dtype=object)
        label[sel] = labels[rng.integers(0, len(labels), int(sel.sum()))]
        text[sel] = texts[rng.integers(0, len(texts), int(sel.sum()))]
    text = text + " (Dusun " + rng.integers(1, 9, n).astype(str).astype(object) + ")"
    weight = v["penduduk"]
    village = rng.choice(len(weight), n, p=weight / weight.sum())
    start = np.datetime64("2022-01-01")
    days = (np.datetime64("2026-06-30") - start).astype(int)
    reported = start + rng.integers(0, days + 1, n).astype("timedelta64[D]")
    return {
        "need_id": "KBT-" + _pad(np.arange(1, n + 1), 7),
        "kategori": label,
        "tingkat": rng.choice(5, n, p=np.array(SEVERITY_SHARES)).astype(np.int32) + 1,
        "tanggal_lapor": reported,
        "sumber": _choose(rng, NEED_SOURCES, NEED_SOURCE_SHARES, n),
        "status": _choose(rng, NEED_STATUSES, NEED_STATUS_SHARES, n),
        "keterangan": text,
        "geometry": _points_in(v["geometry"], village, rng),
    }


def _write(columns: dict[str, np.ndarray], path: Path, layer: str, geometry_type: str) -> None:
    arrays = {}
    for name, values in columns.items():
        if name == "geometry":
            continue
        if values.dtype == object:
            arrays[name] = pa.array(values, type=pa.string())
        else:
            arrays[name] = pa.array(values)
    arrays["geometry"] = pa.array(shapely.to_wkb(columns["geometry"]), type=pa.binary())
    table = pa.table(arrays)
    tmp = path.with_name(path.stem + ".partial" + path.suffix)
    if tmp.exists():
        tmp.unlink()
    pyogrio.write_arrow(
        table,
        tmp,
        layer=layer,
        driver="GPKG",
        geometry_name="geometry",
        geometry_type=geometry_type,
        crs="EPSG:4326",
    )
    os.replace(tmp, path)


# --- population raster ------------------------------------------------------------------------


def _smooth_field(rng, size: int, cells_per_knot: int) -> np.ndarray:
    """A smooth random field in [0, 1]: uniform knots every ``cells_per_knot``, bilinear."""
    knots = size // cells_per_knot + 2
    coarse = rng.uniform(size=(knots, knots))
    fine = ndimage.zoom(coarse, (size / knots, size / knots), order=1, mode="nearest")
    fine = fine[:size, :size]
    if fine.shape != (size, size):  # zoom rounds the output shape; pad the last row/column
        fine = np.pad(fine, ((0, size - fine.shape[0]), (0, size - fine.shape[1])), mode="edge")
    return fine


def _population_grid(
    geoms: np.ndarray, population: np.ndarray, size: int, rng
) -> tuple[np.ndarray, object, dict]:
    """People per cell on a ``size`` x ``size`` grid of square cells over ``geoms``.

    Returns the float32 grid (nodata outside the villages), its affine transform and facts
    for the manifest.
    """
    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    side = max(x1 - x0, y1 - y0) * 1.002  # a thin margin around the province
    res = float(np.ceil(side / size * 1e6) / 1e6)
    left = float(np.floor(((x0 + x1) / 2 - res * size / 2) * 1e4) / 1e4)
    top = float(np.ceil(((y0 + y1) / 2 + res * size / 2) * 1e4) / 1e4)
    transform = from_origin(left, top, res, res)
    n = len(geoms)
    # Which village each cell centre falls in (0 = none): the cell-centre rule.
    owner = rasterio.features.rasterize(
        zip(geoms, np.arange(1, n + 1, dtype=np.int32), strict=True),
        out_shape=(size, size),
        transform=transform,
        fill=0,
        all_touched=False,
        dtype="int32",
    ).ravel()
    cells = np.flatnonzero(owner)
    village = owner[cells] - 1
    row, col = np.divmod(cells, size)
    cx = left + (col + 0.5) * res
    cy = top - (row + 0.5) * res
    rep = shapely.point_on_surface(geoms)
    px, py = shapely.get_x(rep), shapely.get_y(rep)
    coslat = np.cos(np.radians(py))
    # Settlement: a Gaussian around the village's representative point, its width a third
    # of the village's size, modulated by a smooth field (denser and sparser quarters),
    # plus thinly scattered farms. Forest and plantation patches away from the centre
    # hold nobody.
    scale = 0.3 * np.sqrt(shapely.area(geoms) * coslat)
    d2 = ((cx - px[village]) * coslat[village]) ** 2 + (cy - py[village]) ** 2
    core = np.exp(-0.5 * d2 / scale[village] ** 2)
    density = 0.4 + 1.6 * _smooth_field(rng, size, 40).ravel()[cells]
    weight = core * density + 0.02 * density
    empty = (_smooth_field(rng, size, 60).ravel()[cells] < 0.35) & (core < 0.25)
    weight[empty] = 0.0
    # Each village's raster total: its table population, off by a few percent (a modelled
    # count is not the census), the province total kept equal to the table's.
    target = population * rng.lognormal(0.0, 0.08, n)
    target *= population.sum() / target.sum()
    sum_w = np.bincount(village, weights=weight, minlength=n)
    grid = np.full(size * size, RASTER_NODATA, dtype=np.float64)
    grid[cells] = np.where(sum_w[village] > 0, weight * target[village], 0.0) / np.where(
        sum_w[village] > 0, sum_w[village], 1.0
    )
    # A village too small to hold a cell centre: its people go to the cell of its
    # representative point (a raster counts people where they are, whatever the boundary).
    lost = np.flatnonzero(sum_w == 0)
    if len(lost):
        lr = np.clip(((top - py[lost]) // res).astype(np.int64), 0, size - 1)
        lc = np.clip(((px[lost] - left) // res).astype(np.int64), 0, size - 1)
        flat = lr * size + lc
        grid[flat] = np.where(grid[flat] == RASTER_NODATA, 0.0, grid[flat])
        np.add.at(grid, flat, target[lost])
    valid = grid != RASTER_NODATA
    facts = {
        "res": res,
        "bounds": [round(b, 6) for b in (left, top - res * size, left + res * size, top)],
        "valid_cells": int(valid.sum()),
        "zero_cells": int((grid[valid] == 0).sum()),
        "villages_without_cell": len(lost),
        "population": round(float(grid[valid].sum()), 1),
    }
    return grid.astype(np.float32).reshape(size, size), transform, facts


def make_population_raster(
    villages_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    province: str = RASTER_PROVINCE,
    size: int = RASTER_SIZE,
    seed: int = 20261127,
) -> dict:
    """Write a population GeoTIFF over one province of a synthetic villages file.

    Parameters
    ----------
    villages_path : path-like
        ``villages.gpkg`` written by :func:`make_national`.
    out_path : path-like
        The GeoTIFF to write (replaced atomically).
    province : str
        Two-digit province code (``"12"``, Sumatera Utara, by default).
    size : int
        Cells per side; cells are square, the grid is centred on the province.
    seed : int
        Random seed; the same villages, seed and size give the same raster.

    Returns
    -------
    dict
        Facts for the manifest: province, size, resolution, bounds, cell counts, the
        raster's total population and the province's table total.
    """
    if size < 10:
        raise ValueError(f"the raster needs at least 10 cells per side, got {size}")
    villages = pyogrio.read_dataframe(
        villages_path, columns=["kode_prov", "nama_prov", "penduduk"], use_arrow=True
    )
    mine = (villages["kode_prov"] == province).to_numpy()
    if not mine.any():
        raise ValueError(f"no village of province {province!r} in {villages_path}")
    geoms = villages.geometry.to_numpy()[mine]
    population = villages["penduduk"].to_numpy(dtype=np.float64)[mine]
    rng = np.random.default_rng([int(seed), 7])  # a stream apart from the vector layers'
    grid, transform, facts = _population_grid(geoms, population, size, rng)
    out = Path(out_path)
    tmp = out.with_name(out.stem + ".partial" + out.suffix)
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": transform,
        "nodata": RASTER_NODATA,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "predictor": 3,
    }
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(grid, 1)
        dst.update_tags(units="people per cell", province=province)
    os.replace(tmp, out)
    return {
        "province": province,
        "province_name": str(villages["nama_prov"][mine].iloc[0]),
        "size": size,
        "villages": int(mine.sum()),
        "province_population": round(float(population.sum()), 1),
        **facts,
    }


def _raster_up_to_date(entry: dict, wanted: dict, path: Path) -> bool:
    return (
        path.exists()
        and {k: entry.get(k) for k in wanted} == wanted
        and entry.get("bytes") == path.stat().st_size
    )


def make_national(
    out_dir: str | os.PathLike = DEFAULT_DIR,
    seed: int = 20261127,
    n_villages: int = 84000,
    n_facilities: int = 300000,
    n_needs: int = 1000000,
    *,
    raster_size: int | None = None,
    raster_province: str = RASTER_PROVINCE,
    force: bool = False,
    verbose: bool = True,
) -> dict[str, Path]:
    """Write the synthetic national data set, or keep it when it is already there.

    Parameters
    ----------
    out_dir : path-like
        Folder for ``villages.gpkg``, ``facilities.gpkg``, ``needs.gpkg``,
        ``population.tif`` and ``manifest.json`` (created when missing).
    seed : int
        Random seed; the same seed and sizes give the same files.
    n_villages, n_facilities, n_needs : int
        Rows per layer.
    raster_size : int or None
        Cells per side of the population raster (``population.tif``; the command line
        makes one of 2,200 cells by default); ``None`` or 0 for none.
    raster_province : str
        Province code the raster covers.
    force : bool
        Regenerate even when the manifest matches.
    verbose : bool
        Print progress to stderr.

    Returns
    -------
    dict
        ``{"villages": path, "facilities": path, "needs": path}``, plus
        ``"population": path`` when a raster is made.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {kind: out / name for kind, name in FILES.items()}
    wanted = {
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "n_villages": int(n_villages),
        "n_facilities": int(n_facilities),
        "n_needs": int(n_needs),
    }
    manifest_path = out / "manifest.json"
    manifest = None
    if not force and manifest_path.exists() and all(p.exists() for p in paths.values()):
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            manifest = {}
        files = manifest.get("files", {})
        same_files = all(
            files.get(kind, {}).get("bytes") == p.stat().st_size for kind, p in paths.items()
        )
        if {k: manifest.get(k) for k in wanted} == wanted and same_files:
            _log(f"{out} is up to date (seed {seed})", verbose)
        else:
            manifest = None
    if manifest is None:
        manifest = _write_vectors(out, paths, wanted, verbose)
    if raster_size:
        raster_path = out / RASTER_FILE
        raster_wanted = {
            "raster_version": RASTER_VERSION,
            "seed": int(seed),
            "province": str(raster_province),
            "size": int(raster_size),
        }
        entry = manifest.get("files", {}).get("population", {})
        if not force and _raster_up_to_date(entry, raster_wanted, raster_path):
            _log(f"{raster_path.name} is up to date", verbose)
        else:
            t0 = time.perf_counter()
            facts = make_population_raster(
                paths["villages"],
                raster_path,
                province=raster_province,
                size=raster_size,
                seed=seed,
            )
            _log(f"{raster_path.name}: {time.perf_counter() - t0:.1f} s", verbose)
            manifest.setdefault("files", {})["population"] = {
                "name": raster_path.name,
                **raster_wanted,
                **facts,
                "seconds": round(time.perf_counter() - t0, 1),
                "bytes": raster_path.stat().st_size,
            }
            tmp = manifest_path.with_name(manifest_path.name + ".partial")
            tmp.write_text(json.dumps(manifest, indent=2) + "\n")
            os.replace(tmp, manifest_path)
        paths["population"] = raster_path
    return paths


def _write_vectors(out: Path, paths: dict[str, Path], wanted: dict, verbose: bool) -> dict:
    """Generate the three vector layers and write a fresh manifest (without a raster)."""
    manifest_path = out / "manifest.json"
    if manifest_path.exists():
        manifest_path.unlink()
    n_villages, n_facilities, n_needs = (
        wanted["n_villages"],
        wanted["n_facilities"],
        wanted["n_needs"],
    )
    if min(n_villages, n_facilities, n_needs) < 1 or n_villages < 200:
        raise ValueError("need at least 200 villages and one facility and need")
    rng = np.random.default_rng(wanted["seed"])
    t0 = time.perf_counter()
    villages = _villages(rng, n_villages, verbose)
    _write(villages, paths["villages"], "villages", "Polygon")
    _log(f"villages.gpkg: {time.perf_counter() - t0:.1f} s", verbose)
    facilities = _facilities(rng, villages, n_facilities)
    _write(facilities, paths["facilities"], "facilities", "Point")
    _log(f"facilities.gpkg: {time.perf_counter() - t0:.1f} s", verbose)
    needs = _needs(rng, villages, n_needs)
    _write(needs, paths["needs"], "needs", "Point")
    _log(f"needs.gpkg: {time.perf_counter() - t0:.1f} s", verbose)
    n_vertices = shapely.get_num_coordinates(shapely.get_exterior_ring(villages["geometry"])) - 1
    manifest = {
        **wanted,
        "extent": EXTENT,
        "provinces": len(np.unique(villages["kode_prov"])),
        "regencies": len(np.unique(villages["kode_kab"])),
        "kecamatan": len(np.unique(villages["kode_kec"])),
        "kelurahan": int((villages["jenis"] == "kelurahan").sum()),
        "bounds": [round(float(b), 3) for b in shapely.total_bounds(villages["geometry"])],
        "vertices": {
            "min": int(n_vertices.min()),
            "median": float(np.median(n_vertices)),
            "max": int(n_vertices.max()),
        },
        "seconds": round(time.perf_counter() - t0, 1),
        "files": {
            kind: {"name": p.name, "rows": int(n), "bytes": p.stat().st_size}
            for (kind, p), n in zip(paths.items(), (n_villages, n_facilities, n_needs), strict=True)
        },
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python scripts/make_synthetic.py [--out DIR] [--villages N] ...``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(DEFAULT_DIR), help="output folder (bench-data/)")
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--villages", type=int, default=84000)
    parser.add_argument("--facilities", type=int, default=300000)
    parser.add_argument("--needs", type=int, default=1000000)
    parser.add_argument(
        "--raster-size",
        type=int,
        default=RASTER_SIZE,
        help=f"cells per side of population.tif ({RASTER_SIZE}; 0 for none)",
    )
    parser.add_argument(
        "--raster-province",
        default=RASTER_PROVINCE,
        help=f"province code the raster covers ({RASTER_PROVINCE}, Sumatera Utara)",
    )
    parser.add_argument("--force", action="store_true", help="regenerate even if up to date")
    args = parser.parse_args(argv)
    paths = make_national(
        args.out,
        seed=args.seed,
        n_villages=args.villages,
        n_facilities=args.facilities,
        n_needs=args.needs,
        raster_size=args.raster_size or None,
        raster_province=args.raster_province,
        force=args.force,
    )
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
