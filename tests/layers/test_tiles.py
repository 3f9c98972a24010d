"""Village vector tiles and their cache, checked against hand-computed tiles and positions.

Tiles are decoded with the ``mapbox-vector-tile`` package (not our encoder) and its own
encoder is used to cross-check ours on random shapes.
"""

from __future__ import annotations

import logging
import math
import threading
import time

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pandas as pd
import pytest
import shapely

from layers.errors import InputError
from layers.tiles import (
    TileCache,
    VillageTiles,
    check_tile,
    lonlat_to_tile,
    tile_bounds,
)

W = 20037508.342789244  # half the Web Mercator world, metres
R = 6378137.0
# Jakarta, Monas: the z10 tile by the usual formula, worked by hand:
#   x = (106.8272 + 180) / 360 * 1024 = 815.864                         -> 815
#   tan(-6.1754 deg) = -0.108200; asinh(-0.108200) = -0.107990
#   y = (1 - (-0.107990) / pi) / 2 * 1024 = (1 + 0.0343745) / 2 * 1024 = 529.600 -> 529
MONAS = (106.8272, -6.1754)
Z, TX, TY = 10, 815, 529
SIZE = 2 * W / 2**Z  # tile side at z10, metres
TMINX, TMAXY = -W + TX * SIZE, W - TY * SIZE  # tile 815/529's left and top edges


def decode(data: bytes) -> list[dict]:
    """Features of the villages layer in tile units with y down (as written)."""
    if data == b"":
        return []
    layers = mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})
    assert set(layers) == {"villages"}
    assert layers["villages"]["extent"] == 4096
    return layers["villages"]["features"]


def by_kode(features: list[dict]) -> dict[str, dict]:
    return {f["properties"]["kode"]: f for f in features}


def signed_area(ring: list[list[float]]) -> float:
    """Surveyor's formula as in the MVT spec (positive = clockwise on screen, y down)."""
    xy = np.asarray(ring, dtype=float)
    x, y = xy[:, 0], xy[:, 1]
    return float((x * np.roll(y, -1) - np.roll(x, -1) * y).sum() / 2)


def mercator_box(x0: float, y0: float, x1: float, y1: float, tx: int = TX, ty: int = TY):
    """An axis-aligned box given in tile units (y down) of z10 tile tx/ty, in EPSG:3857."""
    minx, maxy = -W + tx * SIZE, W - ty * SIZE
    k = SIZE / 4096
    return shapely.box(minx + x0 * k, maxy - y1 * k, minx + x1 * k, maxy - y0 * k)


# --------------------------------------------------------------------------------------
# tile math
# --------------------------------------------------------------------------------------


def test_zoom_0_is_the_whole_world():
    assert tile_bounds(0, 0, 0) == pytest.approx((-W, -W, W, W), abs=1e-6)
    assert tile_bounds(0, 0, 0)[2] == pytest.approx(20037508.34, abs=0.01)


def test_zoom_1_quarters_with_row_0_at_the_top():
    assert tile_bounds(1, 0, 0) == pytest.approx((-W, 0, 0, W), abs=1e-6)
    assert tile_bounds(1, 1, 1) == pytest.approx((0, -W, W, 0), abs=1e-6)


def test_a_point_falls_in_the_tile_computed_by_hand():
    assert lonlat_to_tile(*MONAS, Z) == (TX, TY)
    lon, lat = MONAS
    mx = R * math.radians(lon)
    my = R * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    minx, miny, maxx, maxy = tile_bounds(Z, TX, TY)
    assert minx <= mx < maxx
    assert miny <= my < maxy
    assert maxx - minx == pytest.approx(2 * W / 1024)
    assert minx == pytest.approx(-W + 815 * 2 * W / 1024)
    assert maxy == pytest.approx(W - 529 * 2 * W / 1024)


def test_lonlat_edges():
    assert lonlat_to_tile(-180, 0, 3) == (0, 4)
    assert lonlat_to_tile(180, 0, 3) == (7, 4)  # the east edge belongs to the last column
    assert lonlat_to_tile(0, 89.9, 3) == (4, 0)  # beyond the Mercator limit: clamped
    with pytest.raises(InputError):
        lonlat_to_tile(200, 0, 3)


@pytest.mark.parametrize(
    ("z", "x", "y", "match"),
    [
        (-1, 0, 0, "zoom -1"),
        (23, 0, 0, "zoom 23"),
        (3, 8, 0, "tile 3/8/0 is outside the map: x and y run from 0 to 7"),
        (3, 0, 8, "outside the map"),
        (3, -1, 0, "outside the map"),
        (0, 1, 0, "outside the map"),
        (3, 1.5, 0, "tile x must be a whole number"),
        (3, 1, "2", "tile y must be a whole number"),
        (True, 0, 0, "tile z must be a whole number"),
        (None, 0, 0, "tile z must be a whole number"),
    ],
)
def test_check_tile_refuses(z, x, y, match):
    with pytest.raises(InputError, match=match) as info:
        check_tile(z, x, y)
    assert info.value.template  # an N_ template the app translates


def test_check_tile_accepts_the_corners():
    check_tile(0, 0, 0)
    check_tile(22, 2**22 - 1, 2**22 - 1)
    check_tile(np.int64(5), np.int32(3), np.int64(31))
    with pytest.raises(InputError):
        tile_bounds(2, 4, 0)


# --------------------------------------------------------------------------------------
# encoding
# --------------------------------------------------------------------------------------

XSS = "Desa <script>alert(\"x\")</script> & 'Kutip'"


@pytest.fixture
def squares() -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Five villages around Jakarta, stored in EPSG:4326 like the real ones.

    In tile 10/815/529 units (y down): A is x 1024-2048, y 1024-2048; B x 2560-3072,
    y 512-1024; C x 256-512, y 3072-3584; E a square with a hole; D lies in tile 817/529.
    """
    ring = mercator_box(2560, 2560, 3584, 3584)
    hole = mercator_box(2816, 2816, 3328, 3328)
    shapes = [
        mercator_box(1024, 1024, 2048, 2048),
        mercator_box(2560, 512, 3072, 1024),
        mercator_box(256, 3072, 512, 3584),
        mercator_box(1024, 1024, 2048, 2048, tx=TX + 2),
        shapely.Polygon(ring.exterior, [hole.exterior]),
    ]
    villages = gpd.GeoDataFrame(
        {
            "kode": [
                "31.71.01.1001",
                "31.71.01.1002",
                "31.71.01.1003",
                "31.71.03.1001",
                "31.71.02.1005",
            ],
            "name": [XSS, "Kebon Kelapa", "Petojo", "Jauh", "Berlubang"],
            "kecamatan": ["Gambir", None, "Gambir", "Sawah Besar", "Tanah Abang"],
        },
        geometry=shapes,
        crs=3857,
    ).to_crs(4326)
    values = pd.DataFrame(
        {
            "value": [12.5, np.nan, 0.25, -3.0],
            "class": pd.array([3, 2, pd.NA, 1], dtype="Int64"),
            "rank": pd.array([1, pd.NA, 7, 2], dtype="Int64"),
        },
        index=pd.Index(
            ["31.71.01.1001", "31.71.01.1002", "31.71.03.1001", "31.71.02.1005"], name="kode"
        ),
    )
    return villages, values


def test_properties_are_exact_and_missing_values_left_out(squares):
    villages, values = squares
    features = by_kode(decode(VillageTiles(villages, values).tile(Z, TX, TY)))
    assert set(features) == {"31.71.01.1001", "31.71.01.1002", "31.71.01.1003", "31.71.02.1005"}
    assert features["31.71.01.1001"]["properties"] == {
        "kode": "31.71.01.1001",
        "name": XSS,  # exactly: escaping is the page's job
        "kecamatan": "Gambir",
        "value": 12.5,
        "class": 3,
        "rank": 1,
    }
    # no kecamatan, no value, no rank
    assert features["31.71.01.1002"]["properties"] == {
        "kode": "31.71.01.1002",
        "name": "Kebon Kelapa",
        "class": 2,
    }
    # no row in the values at all
    assert features["31.71.01.1003"]["properties"] == {
        "kode": "31.71.01.1003",
        "name": "Petojo",
        "kecamatan": "Gambir",
    }
    assert features["31.71.02.1005"]["properties"] == {
        "kode": "31.71.02.1005",
        "name": "Berlubang",
        "kecamatan": "Tanah Abang",
        "value": -3.0,
        "class": 1,
        "rank": 2,
    }
    assert all(f["geometry"]["type"] == "Polygon" for f in features.values())


def test_without_values_only_names(squares):
    villages, _ = squares
    features = by_kode(decode(VillageTiles(villages).tile(Z, TX, TY)))
    assert features["31.71.01.1001"]["properties"] == {
        "kode": "31.71.01.1001",
        "name": XSS,
        "kecamatan": "Gambir",
    }
    only_codes = VillageTiles(villages[["kode", "geometry"]])
    assert {f["properties"]["kode"]: f["properties"] for f in decode(only_codes.tile(Z, TX, TY))}[
        "31.71.01.1003"
    ] == {"kode": "31.71.01.1003"}


def test_square_lands_on_the_hand_computed_grid(squares):
    villages, values = squares
    tiles = VillageTiles(villages, values)
    features = by_kode(decode(tiles.tile(Z, TX, TY)))
    (ring,) = features["31.71.01.1001"]["geometry"]["coordinates"]
    assert ring[0] == ring[-1]
    assert sorted(map(tuple, ring[:-1])) == [(1024, 1024), (1024, 2048), (2048, 1024), (2048, 2048)]
    assert signed_area(ring) == 1024 * 1024  # exterior: clockwise on screen
    (ring,) = features["31.71.01.1002"]["geometry"]["coordinates"]
    assert sorted(map(tuple, ring[:-1])) == [(2560, 512), (2560, 1024), (3072, 512), (3072, 1024)]
    outer, inner = features["31.71.02.1005"]["geometry"]["coordinates"]
    assert sorted(map(tuple, outer[:-1])) == [
        (2560, 2560),
        (2560, 3584),
        (3584, 2560),
        (3584, 3584),
    ]
    assert sorted(map(tuple, inner[:-1])) == [
        (2816, 2816),
        (2816, 3328),
        (3328, 2816),
        (3328, 3328),
    ]
    assert signed_area(outer) == 1024 * 1024
    assert signed_area(inner) == -512 * 512  # holes wind the other way

    # Parent tile 9/407/264: tile 815/529 is its bottom-right quarter, at half the scale.
    features = by_kode(decode(tiles.tile(9, 407, 264)))
    (ring,) = features["31.71.01.1001"]["geometry"]["coordinates"]
    assert sorted(map(tuple, ring[:-1])) == [(2560, 2560), (2560, 3072), (3072, 2560), (3072, 3072)]
    # Child 11/1631/1059 (bottom-right quarter of 815/529): A's corner 2048,2048 is its
    # origin, so A shows only in the 4-pixel buffer: x and y from -64 to 0.
    features = by_kode(decode(tiles.tile(11, 1631, 1059)))
    (ring,) = features["31.71.01.1001"]["geometry"]["coordinates"]
    assert sorted(map(tuple, ring[:-1])) == [(-64, -64), (-64, 0), (0, -64), (0, 0)]


def test_villages_only_in_the_tiles_that_cover_them(squares):
    villages, values = squares
    tiles = VillageTiles(villages, values)
    assert set(by_kode(decode(tiles.tile(Z, TX + 2, TY)))) == {"31.71.03.1001"}
    assert set(by_kode(decode(tiles.tile(9, 407, 264)))) == {
        "31.71.01.1001",
        "31.71.01.1002",
        "31.71.01.1003",
        "31.71.02.1005",
    }
    assert set(by_kode(decode(tiles.tile(9, 408, 264)))) == {"31.71.03.1001"}
    # the neighbours of 815/529 (nothing within 4 pixels of the shared edges)
    for dx, dy in [(-1, 0), (1, 0), (0, -1), (0, 1)]:
        assert tiles.tile(Z, TX + dx, TY + dy) == b""
    # Children of 815/529, each a quarter (2048 units of the parent): A (1024-2048 both
    # ways) fills the bottom-right of the top-left child and reaches the three others
    # only through their 4-pixel buffer; B, C and E each lie in one child.
    children = {
        (1630, 1058): {"31.71.01.1001"},
        (1631, 1058): {"31.71.01.1001", "31.71.01.1002"},
        (1630, 1059): {"31.71.01.1001", "31.71.01.1003"},
        (1631, 1059): {"31.71.01.1001", "31.71.02.1005"},
    }
    for (x, y), kodes in children.items():
        assert set(by_kode(decode(tiles.tile(11, x, y)))) == kodes
    assert tiles.tile(0, 0, 0) == b""  # at zoom 0 every village is far below a pixel
    assert tiles.tile(12, 0, 0) == b""
    assert mapbox_vector_tile.decode(b"") == {}  # the empty tile is a valid MVT


def test_villages_below_a_fraction_of_a_pixel_are_dropped_and_counted(squares):
    villages, values = squares
    tiles = VillageTiles(villages, values)
    # At zoom 2 a pixel is ~39 km: A (9.8 km wide) is 1/16 of a pixel, under the 1/4 limit.
    assert lonlat_to_tile(*MONAS, 2) == (3, 2)
    result = tiles.render(2, 3, 2)
    assert (result.data, result.features, result.small) == (b"", 0, 5)
    # With no area limit they reach the simplification, whose half-pixel tolerance
    # collapses boxes a quarter of a pixel wide.
    loose = VillageTiles(villages, values, min_area_px=0).render(2, 3, 2)
    assert (loose.data, loose.small, loose.collapsed) == (b"", 0, 5)
    result = tiles.render(Z, TX, TY)
    assert (result.features, result.small, result.collapsed) == (4, 0, 0)
    assert tiles.stats()["small"] == 5
    assert tiles.stats()["tiles"] == 2


def test_a_village_across_a_tile_edge_is_clipped_with_the_buffer():
    # x from 3072 in tile 815 to 1024 in tile 816, y 1024-2048
    long = mercator_box(3072, 1024, 5120, 2048)
    villages = gpd.GeoDataFrame({"kode": ["31.71.01.1009"]}, geometry=[long], crs=3857)
    tiles = VillageTiles(villages.to_crs(4326))
    (left,) = decode(tiles.tile(Z, TX, TY))
    (right,) = decode(tiles.tile(Z, TX + 1, TY))
    (ring,) = left["geometry"]["coordinates"]
    assert sorted(map(tuple, ring[:-1])) == [(3072, 1024), (3072, 2048), (4160, 1024), (4160, 2048)]
    (ring,) = right["geometry"]["coordinates"]
    assert sorted(map(tuple, ring[:-1])) == [(-64, 1024), (-64, 2048), (1024, 1024), (1024, 2048)]
    assert VillageTiles(villages.to_crs(4326), buffer_px=0).render(Z, TX + 1, TY).features == 1


def test_bad_inputs_are_refused(squares):
    villages, values = squares
    with pytest.raises(InputError, match="no kode column"):
        VillageTiles(villages.drop(columns="kode"))
    with pytest.raises(InputError, match="no CRS"):
        VillageTiles(villages.set_crs(None, allow_override=True))
    with pytest.raises(InputError, match="no column rank"):
        VillageTiles(villages, values.drop(columns="rank"))
    with pytest.raises(InputError, match="repeat a village code"):
        VillageTiles(villages, pd.concat([values, values.iloc[:1]]))
    half = values.astype({"class": float})
    half.iloc[0, half.columns.get_loc("class")] = 1.5
    with pytest.raises(InputError, match="class must be whole numbers"):
        VillageTiles(villages, half)
    tiles = VillageTiles(villages, values)
    with pytest.raises(InputError):
        tiles.tile(10, 1024, 0)


def test_rows_without_code_or_polygon_are_skipped(squares):
    villages, values = squares
    extra = gpd.GeoDataFrame(
        {
            "kode": [None, " ", "31.71.01.1010", "31.71.01.1011"],
            "name": ["x", "y", "titik", "kosong"],
        },
        geometry=[
            villages.geometry.iloc[0],
            villages.geometry.iloc[1],
            shapely.Point(106.8, -6.2),
            shapely.Polygon(),
        ],
        crs=4326,
    )
    tiles = VillageTiles(pd.concat([villages, extra], ignore_index=True), values)
    assert tiles.skipped == 4
    assert len(tiles) == 5
    assert set(by_kode(decode(tiles.tile(Z, TX, TY)))) == {
        "31.71.01.1001",
        "31.71.01.1002",
        "31.71.01.1003",
        "31.71.02.1005",
    }


def _blobs(n: int, seed: int) -> gpd.GeoDataFrame:
    """Irregular villages around Jakarta: stars, some with holes, some in two parts."""
    rng = np.random.default_rng(seed)
    cx = rng.uniform(-W + 814.5 * SIZE, -W + 817.5 * SIZE, n)
    cy = rng.uniform(W - 531.5 * SIZE, W - 528.5 * SIZE, n)
    shapes = []
    for i in range(n):
        k = int(rng.integers(12, 60))
        angle = np.sort(rng.uniform(0, 2 * np.pi, k))
        radius = rng.uniform(300, 4000) * rng.uniform(0.5, 1.0, k)
        star = shapely.Polygon(
            np.column_stack([cx[i] + radius * np.cos(angle), cy[i] + radius * np.sin(angle)])
        )
        star = shapely.make_valid(star)
        if i % 7 == 0:
            star = star.difference(shapely.Point(cx[i], cy[i]).buffer(radius.min() / 3))
        if i % 11 == 0:
            star = shapely.union(star, shapely.Point(cx[i] + 9000, cy[i]).buffer(800))
        shapes.append(star)
    kode = [f"31.7{i // 1000}.{i // 100 % 10:02d}.{2001 + i % 100}" for i in range(n)]
    return gpd.GeoDataFrame(
        {"kode": kode, "name": [f"Desa {i}" for i in range(n)]}, geometry=shapes, crs=3857
    )


TILES = [
    (8, 203, 132),
    (9, 407, 264),
    (10, 815, 529),
    (10, 816, 530),
    (11, 1632, 1059),
    (12, 3264, 2119),
]


def test_tiles_match_the_reference_encoder_and_the_shapes():
    villages = _blobs(300, seed=3)
    tiles = VillageTiles(villages.to_crs(4326))
    merc = villages.set_index("kode").geometry
    for z, x, y in TILES:
        features = decode(tiles.tile(z, x, y))
        assert features, (z, x, y)
        # the reference encoder writes the same features from the decoded shapes
        again = mapbox_vector_tile.encode(
            {
                "name": "villages",
                "features": [
                    {
                        "geometry": shapely.geometry.shape(f["geometry"]),
                        "properties": f["properties"],
                    }
                    for f in features
                ],
            },
            default_options={"y_coord_down": True},
        )
        assert decode(again) == features

        # Each shape is the village clipped to the buffered tile, within half a pixel (8
        # units: the simplification) plus rounding: none of it is farther from the
        # village, and of the village less than a square pixel (256 units) is farther from
        # it (slivers where a spike touches the tile's edge, tips of spikes cut when the
        # simplifier keeps the shape valid).
        minx, _, maxx, maxy = tile_bounds(z, x, y)
        k = 4096 / (maxx - minx)
        expected = merc.map(
            lambda g, minx=minx, maxy=maxy, k=k: shapely.clip_by_rect(
                shapely.transform(g, lambda c: (c - (minx, maxy)) * (k, -k)), -64, -64, 4160, 4160
            )
        )
        for f in features:
            shape = shapely.geometry.shape(f["geometry"])
            assert shape.is_valid
            want = expected[f["properties"]["kode"]]
            assert shape.difference(want.buffer(9)).area < 1e-6
            assert want.difference(shape.buffer(9)).area < 256
        # and every village that shows there is present
        visible = {kd for kd, g in expected.items() if g.area > 64 * 64}
        assert visible <= {f["properties"]["kode"] for f in features}


def test_bytes_equal_the_reference_encoder_for_code_only_villages():
    # With the code as the only property both encoders write the same table of values in
    # the same order, so the whole tile must match byte for byte.
    villages = _blobs(300, seed=4)[["kode", "geometry"]].to_crs(4326)
    tiles = VillageTiles(villages)
    for tile in TILES:
        data = tiles.tile(*tile)
        features = [
            {"geometry": shapely.geometry.shape(f["geometry"]), "properties": f["properties"]}
            for f in decode(data)
        ]
        reference = mapbox_vector_tile.encode(
            {"name": "villages", "features": features}, default_options={"y_coord_down": True}
        )
        assert data == reference, tile


def test_prepared_and_lazy_tiles_are_the_same():
    villages = _blobs(120, seed=8).to_crs(4326)
    lazy = VillageTiles(villages)
    prepared = VillageTiles(villages)
    prepared.prepare(range(8, 13))
    for tile in TILES:
        assert prepared.tile(*tile) == lazy.tile(*tile)


def test_tiles_from_many_threads_equal_tiles_made_one_by_one():
    villages = _blobs(200, seed=5).to_crs(4326)
    serial = {t: VillageTiles(villages).tile(*t) for t in TILES}
    shared = VillageTiles(villages)
    results: dict[tuple, set[bytes]] = {t: set() for t in TILES}
    barrier = threading.Barrier(8)

    def work(i: int) -> None:
        barrier.wait()
        for t in TILES[i % 3 :] + TILES[: i % 3]:
            results[t].add(shared.tile(*t))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results == {t: {serial[t]} for t in TILES}


# --------------------------------------------------------------------------------------
# cache
# --------------------------------------------------------------------------------------


class Maker:
    """Counts calls per tile and returns bytes that name the key and tile."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: dict[tuple, int] = {}
        self.delay = delay
        self.lock = threading.Lock()

    def __call__(self, key: str, z: int, x: int, y: int):
        def make() -> bytes:
            with self.lock:
                self.calls[(key, z, x, y)] = self.calls.get((key, z, x, y), 0) + 1
            time.sleep(self.delay)
            return f"{key}:{z}/{x}/{y}".encode()

        return make


def never() -> bytes:
    raise AssertionError("make() called for a cached tile")


def test_a_hit_returns_the_same_bytes_without_making_again():
    cache = TileCache(None)
    maker = Maker()
    first = cache.get("ws/villages@1|score", 5, 3, 4, maker("ws/villages@1|score", 5, 3, 4))
    assert first == b"ws/villages@1|score:5/3/4"
    assert cache.get("ws/villages@1|score", 5, 3, 4, never) is first
    assert maker.calls == {("ws/villages@1|score", 5, 3, 4): 1}
    assert cache.stats() == {
        "memory_hits": 1,
        "disk_hits": 0,
        "made": 1,
        "memory_items": 1,
        "memory_bytes": len(first),
    }


def test_a_new_key_makes_the_tile_again():
    cache = TileCache(None)
    maker = Maker()
    cache.get("ws/villages@1|run@1", 5, 3, 4, maker("ws/villages@1|run@1", 5, 3, 4))
    data = cache.get("ws/villages@1|run@2", 5, 3, 4, maker("ws/villages@1|run@2", 5, 3, 4))
    assert data == b"ws/villages@1|run@2:5/3/4"
    assert sum(maker.calls.values()) == 2


def test_empty_tiles_are_cached_too(tmp_path):
    cache = TileCache(tmp_path)
    assert cache.get("k", 3, 1, 1, lambda: b"") == b""
    assert cache.get("k", 3, 1, 1, never) == b""
    assert TileCache(tmp_path).get("k", 3, 1, 1, never) == b""


def test_the_disk_cache_outlives_the_cache_object(tmp_path):
    key = "ws/villages@3|ws/score_runs/p@2|score"
    cache = TileCache(tmp_path)
    maker = Maker()
    data = cache.get(key, 12, 3264, 2119, maker(key, 12, 3264, 2119))
    path = tmp_path / TileCache.key_hash(key) / "12" / "3264" / "2119.pbf"
    assert cache.path(key, 12, 3264, 2119) == path
    assert path.read_bytes() == data
    assert (path.parents[2] / "key.txt").read_text() == key
    assert not list(tmp_path.rglob("*.tmp"))  # written through a temporary file, renamed
    again = TileCache(tmp_path)
    assert again.get(key, 12, 3264, 2119, never) == data
    assert again.stats()["disk_hits"] == 1
    assert TileCache(tmp_path).get("other", 12, 3264, 2119, lambda: b"new") == b"new"


def test_memory_keeps_the_most_recently_used():
    cache = TileCache(None, memory_items=2)
    maker = Maker()
    for t in [(1, 0, 0), (1, 1, 0), (1, 0, 0), (1, 1, 1)]:
        cache.get("k", *t, maker("k", *t))
    cache.get("k", 1, 0, 0, never)  # used last but one: kept
    cache.get("k", 1, 1, 0, maker("k", 1, 1, 0))  # the oldest: made again
    assert maker.calls[("k", 1, 1, 0)] == 2
    assert cache.stats()["memory_items"] == 2


def test_memory_holds_at_most_memory_bytes():
    cache = TileCache(None, memory_bytes=25)
    maker = Maker()
    for x in range(3):  # 10 bytes each: the third pushes the first out
        cache.get("k", 4, x, 0, lambda x=x: b"%09d|" % x)
    assert cache.stats()["memory_items"] == 2
    assert cache.stats()["memory_bytes"] == 20
    cache.get("k", 4, 2, 0, never)
    cache.get("k", 4, 1, 0, never)
    cache.get("k", 4, 0, 0, maker("k", 4, 0, 0))  # the first one went
    assert maker.calls == {("k", 4, 0, 0): 1}
    big = cache.get("k", 4, 5, 0, lambda: b"x" * 26)  # larger than the memory: not kept
    assert cache.get("k", 4, 5, 0, lambda: b"y" * 26) != big
    assert cache.stats()["memory_bytes"] <= 25


def test_clear_by_prefix_and_all(tmp_path):
    cache = TileCache(tmp_path)
    for key in ("ws1/villages@1", "ws1/villages@2", "ws2/villages@1"):
        cache.get(key, 2, 1, 1, lambda key=key: key.encode())
    (tmp_path / "README").write_text("not a tile")
    cache.clear("ws1/")
    assert TileCache(tmp_path).get("ws2/villages@1", 2, 1, 1, never) == b"ws2/villages@1"
    assert cache.get("ws2/villages@1", 2, 1, 1, never) == b"ws2/villages@1"
    assert cache.get("ws1/villages@1", 2, 1, 1, lambda: b"again") == b"again"
    cache.clear()
    assert cache.stats()["memory_items"] == cache.stats()["memory_bytes"] == 0
    assert [p.name for p in tmp_path.iterdir()] == ["README"]
    assert TileCache(tmp_path).get("ws2/villages@1", 2, 1, 1, lambda: b"made") == b"made"


def test_eight_threads_make_each_tile_once(tmp_path):
    cache = TileCache(tmp_path)
    maker = Maker(delay=0.02)
    tiles = [(7, x, y) for x in range(100, 103) for y in range(60, 64)]
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []
    got: list[dict] = [{} for _ in range(8)]

    def work(i: int) -> None:
        try:
            barrier.wait()
            order = tiles[i:] + tiles[:i]
            for t in order:
                got[i][t] = cache.get(f"key{t[1] % 2}", *t, maker(f"key{t[1] % 2}", *t))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    expected = {t: f"key{t[1] % 2}:{t[0]}/{t[1]}/{t[2]}".encode() for t in tiles}
    assert all(g == expected for g in got)
    assert maker.calls == {(f"key{t[1] % 2}", *t): 1 for t in tiles}


def test_a_failed_make_reaches_the_caller_and_is_retried():
    cache = TileCache(None)

    def broken() -> bytes:
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError, match="database gone"):
        cache.get("k", 3, 1, 1, broken)
    assert cache.get("k", 3, 1, 1, lambda: b"ok") == b"ok"
    with pytest.raises(TypeError, match="not bytes"):
        cache.get("k", 3, 2, 2, lambda: "text")


def test_bad_tiles_and_keys_are_refused_before_making():
    cache = TileCache(None)
    with pytest.raises(InputError):
        cache.get("k", 3, 8, 0, never)
    with pytest.raises(ValueError, match="key"):
        cache.get("", 3, 1, 1, never)


def test_an_unwritable_directory_still_serves_tiles(tmp_path, caplog):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder should be")
    cache = TileCache(blocked)
    with caplog.at_level(logging.WARNING, logger="layers.tiles"):
        assert cache.get("k", 3, 1, 1, lambda: b"tile") == b"tile"
    assert "cannot write cached tile" in caplog.text
    assert cache.get("k", 3, 1, 1, never) == b"tile"


def test_village_tiles_through_the_cache(squares, tmp_path):
    villages, values = squares
    tiles = VillageTiles(villages, values)
    cache = TileCache(tmp_path)
    data = cache.get("ws/villages@1|score", Z, TX, TY, lambda: tiles.tile(Z, TX, TY))
    assert TileCache(tmp_path).get("ws/villages@1|score", Z, TX, TY, never) == data
    assert len(decode(data)) == 4
