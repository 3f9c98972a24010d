"""Vector tiles of the village polygons for the map, and a cache for them.

The map asks for 256-pixel tiles in Web Mercator (EPSG:3857) by zoom ``z`` and column/row
``x``/``y`` (the XYZ scheme: row 0 at the top, as OpenStreetMap and Leaflet number them).
:class:`VillageTiles` answers with a Mapbox Vector Tile (MVT 2.1): one layer ``villages``,
extent 4096, each village clipped to the tile plus a few pixels of buffer, simplified for
the zoom, with the properties ``kode``, ``name``, ``kecamatan``, ``value``, ``class`` and
``rank`` (a missing value is left out). :class:`TileCache` keeps the bytes in memory and,
optionally, on disk.

How a tile is made, all of it with array operations over the tile's villages:

1. the villages are projected to EPSG:3857 once, and an STRtree is built over them;
2. the tree gives the villages whose envelope meets the buffered tile;
3. at low zooms, villages smaller than :attr:`VillageTiles.min_area_px` square pixels are
   dropped (they cannot be seen; they are counted);
4. each village is simplified for the zoom (Douglas-Peucker with a tolerance of half a
   pixel; GEOS keeps the result valid and drops parts that collapse), once per village and
   zoom, the first time a tile needs it;
5. the shapes are clipped to the buffered tile (``shapely.clip_by_rect``), moved into tile
   units and rounded to the 4096 grid; the few that rounding made invalid are snapped
   again with ``shapely.set_precision`` (which drops what collapses);
6. the protocol-buffer bytes are written with numpy: rings turned as MVT wants, geometry
   commands, zigzag deltas and varints for every feature at once, and attribute values
   encoded once per village when the object is built.

The encoder follows the Mapbox Vector Tile specification 2.1; the tests decode its output
with the ``mapbox-vector-tile`` package and compare it with that package's own encoder.
That package encodes in pure Python (about 16 microseconds per small polygon and one per
vertex), too slow for the thousands of villages in a low-zoom tile over Java.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.errors import N_, InputError

__all__ = [
    "EXTENT",
    "LAYER_NAME",
    "MAX_ZOOM",
    "ORIGIN_SHIFT",
    "PROPERTIES",
    "TILE_SIZE",
    "TileCache",
    "TileResult",
    "VillageTiles",
    "check_tile",
    "lonlat_to_tile",
    "tile_bounds",
]

log = logging.getLogger(__name__)

#: Half the width of the Web Mercator world in metres (pi times the WGS 84 radius).
ORIGIN_SHIFT = math.pi * 6378137.0
#: Highest zoom served.
MAX_ZOOM = 22
#: Width of a tile on screen, in pixels.
TILE_SIZE = 256
#: Tile units per tile side in the MVT geometry.
EXTENT = 4096
#: Name of the one layer in every tile.
LAYER_NAME = "villages"
#: The feature properties, in the order they are written.
PROPERTIES = ("kode", "name", "kecamatan", "value", "class", "rank")
#: Highest latitude Web Mercator shows.
MAX_LATITUDE = 85.0511287798066

# --------------------------------------------------------------------------------------
# Tile arithmetic
# --------------------------------------------------------------------------------------


def check_tile(z: int, x: int, y: int) -> None:
    """Check that ``z/x/y`` names a tile of the map.

    Parameters
    ----------
    z, x, y : int
        Zoom, column (0 at 180 degrees west) and row (0 at the top).

    Raises
    ------
    InputError
        When a number is not a whole number, the zoom is outside 0 to :data:`MAX_ZOOM`, or
        ``x`` or ``y`` is outside 0 to ``2**z - 1``.
    """
    for part, value in (("z", z), ("x", x), ("y", y)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise InputError(
                N_("tile %(part)s must be a whole number, not %(value)s"),
                params={"part": part, "value": repr(value)},
            )
    if not 0 <= z <= MAX_ZOOM:
        raise InputError(
            N_("zoom %(z)s is outside the zooms served, 0 to %(max)s"),
            params={"z": int(z), "max": MAX_ZOOM},
        )
    last = 2 ** int(z) - 1
    if not (0 <= x <= last and 0 <= y <= last):
        raise InputError(
            N_("tile %(z)s/%(x)s/%(y)s is outside the map: x and y run from 0 to %(max)s"),
            params={"z": int(z), "x": int(x), "y": int(y), "max": last},
        )


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """Return the bounds of a tile in EPSG:3857 metres.

    Parameters
    ----------
    z, x, y : int
        The tile (XYZ scheme: row 0 at the top).

    Returns
    -------
    tuple of float
        ``(minx, miny, maxx, maxy)``; zoom 0 is the whole world,
        ``(-20037508.34, -20037508.34, 20037508.34, 20037508.34)``.

    Raises
    ------
    InputError
        When the tile does not exist (see :func:`check_tile`).
    """
    check_tile(z, x, y)
    size = 2 * ORIGIN_SHIFT / 2 ** int(z)
    return (
        -ORIGIN_SHIFT + int(x) * size,
        ORIGIN_SHIFT - (int(y) + 1) * size,
        -ORIGIN_SHIFT + (int(x) + 1) * size,
        ORIGIN_SHIFT - int(y) * size,
    )


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """Return the ``(x, y)`` of the tile at zoom ``z`` that holds a longitude/latitude.

    Parameters
    ----------
    lon, lat : float
        Degrees (EPSG:4326); latitudes beyond +-85.0511 are taken at that limit.
    z : int
        Zoom.

    Returns
    -------
    tuple of int
        Column and row, by the usual formula ``x = (lon + 180) / 360 * 2**z`` and
        ``y = (1 - asinh(tan(lat)) / pi) / 2 * 2**z``, rounded down.

    Raises
    ------
    InputError
        When the zoom is outside 0 to :data:`MAX_ZOOM` or the longitude outside +-180.
    """
    check_tile(z, 0, 0)
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180):
        raise InputError(
            N_("%(lon)s, %(lat)s is not a longitude/latitude in degrees"),
            params={"lon": lon, "lat": lat},
        )
    n = 2 ** int(z)
    lat = max(-MAX_LATITUDE, min(MAX_LATITUDE, lat))
    fx = (lon + 180.0) / 360.0 * n
    fy = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n
    return min(math.floor(fx), n - 1), min(max(math.floor(fy), 0), n - 1)


# --------------------------------------------------------------------------------------
# Protocol-buffer pieces, written with numpy
# --------------------------------------------------------------------------------------
# Field tags (field number << 3 | wire type) of vector_tile.proto.
_TILE_LAYER = 0x1A  # Tile.layers = 3, length-delimited
_LAYER_NAME = 0x0A  # Layer.name = 1
_LAYER_FEATURE = 0x12  # Layer.features = 2
_LAYER_KEY = 0x1A  # Layer.keys = 3
_LAYER_VALUE = 0x22  # Layer.values = 4
_LAYER_EXTENT = 0x28  # Layer.extent = 5, varint
_LAYER_VERSION = 0x78  # Layer.version = 15, varint
_FEATURE_TAGS = 0x12  # Feature.tags = 2, packed
_FEATURE_TYPE = 0x18  # Feature.type = 3, varint
_FEATURE_GEOMETRY = 0x22  # Feature.geometry = 4, packed
_POLYGON = 3  # GeomType.POLYGON
_VALUE_STRING = 0x0A  # Value.string_value = 1
_VALUE_DOUBLE = 0x19  # Value.double_value = 3, 64-bit
_VALUE_INT = 0x20  # Value.int_value = 4, varint
# Geometry commands (id | count << 3).
_MOVE_TO_1 = 1 | 1 << 3
_LINE_TO = 2
_CLOSE_PATH = 7 | 1 << 3

_U64 = np.uint64


def _varint_sizes(values: np.ndarray) -> np.ndarray:
    """Bytes each unsigned value takes as a protocol-buffer varint (1 to 10)."""
    v = values.astype(_U64, copy=False)
    size = np.ones(v.shape, dtype=np.int64)
    for k in range(1, 10):
        size += v >= _U64(1 << (7 * k))
    return size


def _put_varints(out: np.ndarray, pos: np.ndarray, values: np.ndarray, sizes: np.ndarray) -> None:
    """Write ``values`` as varints into the byte array ``out`` starting at ``pos``."""
    v = values.astype(_U64, copy=False)
    for k in range(int(sizes.max(initial=0))):
        take = sizes > k
        byte = (v[take] >> _U64(7 * k)) & _U64(0x7F)
        more = sizes[take] > k + 1
        out[pos[take] + k] = (byte | (more.astype(_U64) << _U64(7))).astype(np.uint8)


def _varint(value: int) -> bytes:
    """One varint (for the few scalars of a layer header)."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _starts(lengths: np.ndarray) -> np.ndarray:
    """Start offsets of consecutive pieces of the given lengths."""
    out = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=out[1:])
    return out


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(start, start + length)`` for every pair, without a loop."""
    lengths = lengths.astype(np.int64, copy=False)
    total = int(lengths.sum())
    return np.repeat(starts - _starts(lengths), lengths) + np.arange(total, dtype=np.int64)


@dataclass(frozen=True)
class _Entries:
    """Encoded ``Layer.values`` entries (tag, length, Value message) in one byte buffer."""

    data: np.ndarray  # uint8
    offsets: np.ndarray  # int64, len(entries) + 1

    def take(self, which: np.ndarray) -> np.ndarray:
        """The bytes of the entries ``which``, in that order."""
        lengths = self.offsets[which + 1] - self.offsets[which]
        return self.data[_ranges(self.offsets[which], lengths)]


def _wrap(payload_lengths: np.ndarray, tag: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lay out ``tag, varint(length), payload`` pieces: buffer, payload positions, offsets."""
    head = 1 + _varint_sizes(payload_lengths)
    whole = head + payload_lengths
    starts = _starts(whole)
    out = np.empty(int(whole.sum()), dtype=np.uint8)
    out[starts] = tag
    _put_varints(out, starts + 1, payload_lengths, head - 1)
    offsets = np.append(starts, len(out))
    return out, starts + head, offsets


def _string_entries(texts: list[str]) -> _Entries:
    """``Layer.values`` entries holding ``string_value`` for each text."""
    if not texts:
        return _Entries(np.empty(0, np.uint8), np.zeros(1, np.int64))
    raw = [t.encode("utf-8", "replace") for t in texts]
    lengths = np.fromiter(map(len, raw), dtype=np.int64, count=len(raw))
    inner_head = 1 + _varint_sizes(lengths)
    out, body, offsets = _wrap(inner_head + lengths, _LAYER_VALUE)
    out[body] = _VALUE_STRING
    _put_varints(out, body + 1, lengths, inner_head - 1)
    out[_ranges(body + inner_head, lengths)] = np.frombuffer(b"".join(raw), dtype=np.uint8)
    return _Entries(out, offsets)


def _double_entries(numbers: np.ndarray) -> _Entries:
    """``Layer.values`` entries holding ``double_value`` (11 bytes each)."""
    n = len(numbers)
    out = np.empty((n, 11), dtype=np.uint8)
    out[:, 0] = _LAYER_VALUE
    out[:, 1] = 9
    out[:, 2] = _VALUE_DOUBLE
    out[:, 3:] = np.ascontiguousarray(numbers, dtype="<f8").view(np.uint8).reshape(n, 8)
    return _Entries(out.reshape(-1), np.arange(n + 1, dtype=np.int64) * 11)


def _int_entries(numbers: np.ndarray) -> _Entries:
    """``Layer.values`` entries holding ``int_value`` (two's complement varint)."""
    v = np.asarray(numbers, dtype=np.int64).view(_U64)
    sizes = _varint_sizes(v)
    out, body, offsets = _wrap(1 + sizes, _LAYER_VALUE)
    out[body] = _VALUE_INT
    _put_varints(out, body + 1, v, sizes)
    return _Entries(out, offsets)


def _geometry_commands(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MVT polygon commands of valid polygons on the integer grid of the tile (y down).

    Returns the commands of all features in one uint32 array and the offsets of each
    feature's commands in it. The cursor starts at (0, 0) in each feature and carries over
    from ring to ring; each ring is ``MoveTo(1), LineTo(n - 1), ClosePath`` over its
    points without the closing one. Rings are turned as the specification wants: outer
    rings with a positive area by the surveyor's formula (clockwise on screen), holes
    with a negative one.
    """
    kind, coords, offsets = shapely.to_ragged_array(geoms)
    if kind == shapely.GeometryType.POLYGON:
        ring_offsets, feature_rings = offsets
        outer_rings = feature_rings[:-1]
    else:
        ring_offsets, polygon_rings, feature_polygons = offsets
        feature_rings = polygon_rings[feature_polygons]
        outer_rings = polygon_rings[:-1]
    n_rings = len(ring_offsets) - 1
    points_per_ring = np.diff(ring_offsets) - 1
    ring_first = _starts(points_per_ring)
    ring_of_point = np.repeat(np.arange(n_rings), points_per_ring)
    j = np.arange(int(points_per_ring.sum())) - ring_first[ring_of_point]

    # twice the signed area of each ring (exact: integer coordinates)
    x, y = coords[:, 0], coords[:, 1]
    cross = x[:-1] * y[1:] - x[1:] * y[:-1]
    cross = np.append(cross, 0.0)
    cross[ring_offsets[1:] - 1] = 0.0  # no term from one ring's end to the next's start
    area2 = np.add.reduceat(cross, ring_offsets[:-1]) if n_rings else cross[:0]
    outer = np.zeros(n_rings, dtype=bool)
    outer[outer_rings] = True
    turn = np.where(outer, area2 < 0, area2 > 0)
    # points of a turned ring in the order p0, p(n-1), ..., p1
    n_of_point = points_per_ring[ring_of_point]
    along = np.where(turn[ring_of_point], (n_of_point - j) % n_of_point, j)
    points = coords[ring_offsets[:-1][ring_of_point] + along].astype(np.int64)

    delta = np.empty_like(points)
    delta[0] = points[0]
    delta[1:] = points[1:] - points[:-1]
    first = ring_first[feature_rings[:-1]]
    delta[first] = points[first]
    zigzag = ((delta << 1) ^ (delta >> 63)).astype(np.uint32)

    ring_len = 2 * points_per_ring + 3
    ring_start = _starts(ring_len)
    out = np.empty(int(ring_len.sum()), dtype=np.uint32)
    out[ring_start] = _MOVE_TO_1
    out[ring_start + 3] = _LINE_TO | (points_per_ring - 1) << 3
    out[ring_start + ring_len - 1] = _CLOSE_PATH
    pos = ring_start[ring_of_point] + np.where(j == 0, 1, 2 + 2 * j)
    out[pos] = zigzag[:, 0]
    out[pos + 1] = zigzag[:, 1]
    feature_offsets = np.append(ring_start, len(out))[feature_rings]
    return out, feature_offsets


def _features(
    commands: np.ndarray,
    command_offsets: np.ndarray,
    tags: np.ndarray,
    tag_offsets: np.ndarray,
) -> np.ndarray:
    """The ``Layer.features`` entries of all features, as one byte array."""
    n = len(command_offsets) - 1
    c_size = _varint_sizes(commands)
    t_size = _varint_sizes(tags)
    c_cum = np.append(0, np.cumsum(c_size))
    t_cum = np.append(0, np.cumsum(t_size))
    c_len = c_cum[command_offsets[1:]] - c_cum[command_offsets[:-1]]
    t_len = t_cum[tag_offsets[1:]] - t_cum[tag_offsets[:-1]]
    c_head = _varint_sizes(c_len)
    t_head = _varint_sizes(t_len)
    body = 1 + t_head + t_len + 2 + 1 + c_head + c_len
    out, pos, _ = _wrap(body, _LAYER_FEATURE)
    # tags: 0x12, varint(len), packed tags
    out[pos] = _FEATURE_TAGS
    _put_varints(out, pos + 1, t_len, t_head)
    t_at = pos + 1 + t_head
    feature_of_tag = np.repeat(np.arange(n), np.diff(tag_offsets))
    _put_varints(
        out,
        t_at[feature_of_tag] + t_cum[:-1] - t_cum[tag_offsets[:-1]][feature_of_tag],
        tags,
        t_size,
    )
    # type: 0x18, 3 ; geometry: 0x22, varint(len), packed commands
    g_at = t_at + t_len
    out[g_at] = _FEATURE_TYPE
    out[g_at + 1] = _POLYGON
    out[g_at + 2] = _FEATURE_GEOMETRY
    _put_varints(out, g_at + 3, c_len, c_head)
    c_at = g_at + 3 + c_head
    feature_of_command = np.repeat(np.arange(n), np.diff(command_offsets))
    _put_varints(
        out,
        c_at[feature_of_command] + c_cum[:-1] - c_cum[command_offsets[:-1]][feature_of_command],
        commands,
        c_size,
    )
    return out


def _has_repeated_points(geoms: np.ndarray) -> np.ndarray:
    """True for shapes with two equal consecutive coordinates (MVT forbids a zero move)."""
    coords, which = shapely.get_coordinates(geoms, return_index=True)
    same = (coords[1:] == coords[:-1]).all(axis=1) & (which[1:] == which[:-1])
    out = np.zeros(len(geoms), dtype=bool)
    out[which[1:][same]] = True
    return out


def _snap_to_grid(geoms: np.ndarray) -> np.ndarray:
    """Make shapes valid on the integer grid; a shape that collapses becomes empty."""
    fixed = shapely.make_valid(geoms, method="structure", keep_collapsed=False)
    try:
        fixed = shapely.set_precision(fixed, 1.0)
    except shapely.errors.GEOSException:
        # Snap rounding can fail on rare shapes: retry one by one, giving up on those.
        fixed = np.array([_snap_one(g) for g in fixed], dtype=object)
    still = ~shapely.is_valid(fixed) | _has_repeated_points(fixed)
    fixed[still] = shapely.Polygon()
    return fixed


def _snap_one(geom: shapely.Geometry) -> shapely.Geometry:
    try:
        return shapely.set_precision(geom, 1.0)
    except shapely.errors.GEOSException:
        return shapely.Polygon()


# --------------------------------------------------------------------------------------
# Village tiles
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TileResult:
    """One encoded tile and what went into it.

    Attributes
    ----------
    data : bytes
        The Mapbox Vector Tile; ``b""`` when no village shows in the tile.
    features : int
        Villages written.
    small : int
        Villages whose envelope meets the tile but that are smaller than
        :attr:`VillageTiles.min_area_px` square pixels at this zoom, left out.
    collapsed : int
        Villages whose envelope meets the tile but that vanished in simplification or
        in rounding to the tile grid (narrower than about a pixel), or that lie outside
        the tile although their envelope meets it.
    """

    data: bytes
    features: int
    small: int
    collapsed: int


class _ZoomShapes:
    """Villages simplified for one zoom, filled in as tiles need them."""

    def __init__(self, n: int) -> None:
        self.geoms = np.empty(n, dtype=object)
        self.done = np.zeros(n, dtype=bool)


class _Column:
    """One property: a value number per village (-1 when missing) and the encoded values."""

    def __init__(self, codes: np.ndarray, entries: _Entries) -> None:
        self.codes = codes.astype(np.int64)
        self.entries = entries


def _text_column(values: pd.Series) -> _Column:
    texts = values.astype("string")
    texts = texts.mask(texts.str.len() == 0)
    codes, uniques = pd.factorize(texts, use_na_sentinel=True)
    return _Column(np.asarray(codes), _string_entries([str(u) for u in uniques]))


def _number_column(values: np.ndarray) -> _Column:
    finite = np.isfinite(values)
    codes = np.full(len(values), -1, dtype=np.int64)
    uniques, inverse = np.unique(values[finite], return_inverse=True)
    codes[finite] = inverse
    return _Column(codes, _double_entries(uniques))


def _integer_column(values: pd.Series, name: str) -> _Column:
    try:
        ints = pd.array(values, dtype="Int64")
    except (TypeError, ValueError) as exc:
        raise InputError(
            N_("the map values' %(column)s must be whole numbers: %(reason)s"),
            params={"column": name, "reason": str(exc)},
        ) from exc
    present = ~np.asarray(ints.isna())
    numbers = np.asarray(ints.to_numpy(dtype=np.int64, na_value=0))
    codes = np.full(len(numbers), -1, dtype=np.int64)
    uniques, inverse = np.unique(numbers[present], return_inverse=True)
    codes[present] = inverse
    return _Column(codes, _int_entries(uniques))


class VillageTiles:
    """Mapbox Vector Tiles of village polygons with their map values.

    Build one per data version (villages and values); it is safe to call :meth:`tile`
    from several threads at once.

    Parameters
    ----------
    villages : geopandas.GeoDataFrame
        Village polygons with a CRS (EPSG:4326 as stored) and the columns ``kode`` and,
        when present, ``name`` and ``kecamatan``. Rows without a code or a polygon are
        left out (counted in :attr:`skipped`).
    values : pandas.DataFrame, optional
        Indexed by ``kode`` with the columns ``value`` (float), ``class`` and ``rank``
        (whole numbers, ``Int64``). A village without a row, or with a missing or
        non-finite value, has no such property.
    buffer_px : float, optional
        Pixels drawn beyond each tile edge so that outlines join across tiles.
    min_area_px : float, optional
        Villages smaller than this many square pixels at a tile's zoom are left out of it
        (at zoom 5 a pixel is about 4.9 km wide at the equator; at zoom 9 about 300 m).
    simplify_px : float, optional
        Simplification tolerance in pixels.
    max_simplify_zoom : int, optional
        Above this zoom the shapes are not simplified.

    Attributes
    ----------
    skipped : int
        Input rows left out (no code, no geometry, or not a polygon).

    Raises
    ------
    InputError
        When ``kode`` or the CRS is missing, a values column is missing, the values'
        codes repeat, or ``class``/``rank`` are not whole numbers.
    """

    def __init__(
        self,
        villages: gpd.GeoDataFrame,
        values: pd.DataFrame | None = None,
        *,
        buffer_px: float = 4.0,
        min_area_px: float = 0.25,
        simplify_px: float = 0.5,
        max_simplify_zoom: int = 14,
    ) -> None:
        if "kode" not in villages.columns:
            raise InputError(
                N_("the villages have no %(column)s column"), params={"column": "kode"}
            )
        if villages.crs is None:
            raise InputError(N_("the villages have no CRS"))
        self.buffer_px = float(buffer_px)
        self.min_area_px = float(min_area_px)
        self.simplify_px = float(simplify_px)
        self.max_simplify_zoom = int(max_simplify_zoom)

        geometry = villages.geometry
        polygonal = np.isin(shapely.get_type_id(np.asarray(geometry.array)), (3, 6))
        kode = villages["kode"].astype("string").str.strip()
        keep = polygonal & ~np.asarray(geometry.is_empty) & np.asarray(kode.fillna("") != "")
        self.skipped = int((~keep).sum())
        rows = villages.loc[keep].assign(kode=kode[keep])
        geoms = np.asarray(rows.geometry.to_crs(3857).array, dtype=object)
        invalid = ~shapely.is_valid(geoms)
        if invalid.any():
            geoms[invalid] = shapely.make_valid(
                geoms[invalid], method="structure", keep_collapsed=False
            )
        self._geoms = geoms
        self._area = shapely.area(geoms)
        self._bounds = shapely.bounds(geoms)
        self._tree = shapely.STRtree(geoms)
        self._columns = self._property_columns(rows, values)
        self._zooms: dict[int, _ZoomShapes] = {}
        self._lock = threading.Lock()
        self._counts = {"tiles": 0, "features": 0, "small": 0, "collapsed": 0}

    @staticmethod
    def _property_columns(
        rows: gpd.GeoDataFrame, values: pd.DataFrame | None
    ) -> list[tuple[str, _Column]]:
        kode = rows["kode"].astype(str).reset_index(drop=True)
        columns = [("kode", _text_column(kode))]
        for name in ("name", "kecamatan"):
            if name in rows.columns:
                columns.append((name, _text_column(rows[name].reset_index(drop=True))))
        if values is None:
            return columns
        missing = [c for c in ("value", "class", "rank") if c not in values.columns]
        if missing:
            raise InputError(
                N_("the map values have no column %(columns)s"),
                params={"columns": ", ".join(missing)},
            )
        if not values.index.is_unique:
            raise InputError(N_("the map values repeat a village code"))
        aligned = values.set_axis(values.index.astype(str)).reindex(kode)
        number = pd.to_numeric(aligned["value"], errors="coerce").to_numpy(dtype=float)
        columns.append(("value", _number_column(number)))
        columns.append(("class", _integer_column(aligned["class"], "class")))
        columns.append(("rank", _integer_column(aligned["rank"], "rank")))
        return columns

    def __len__(self) -> int:
        """Number of villages that can appear in tiles."""
        return len(self._geoms)

    def stats(self) -> dict[str, int]:
        """Totals over the tiles made so far: tiles, features, small, collapsed."""
        with self._lock:
            return dict(self._counts)

    def prepare(self, zooms: Iterable[int]) -> None:
        """Simplify every village for ``zooms`` now rather than when tiles first need it.

        Parameters
        ----------
        zooms : iterable of int
            Zooms to prepare (say 5 to 8, in a background thread after building).
        """
        for z in zooms:
            check_tile(z, 0, 0)
            threshold = self.min_area_px * (2 * ORIGIN_SHIFT / 2**z / TILE_SIZE) ** 2
            self._shapes(int(z), np.flatnonzero(self._area >= threshold))

    def _shapes(self, z: int, idx: np.ndarray) -> np.ndarray:
        """The villages ``idx`` simplified for zoom ``z`` (cached per village and zoom)."""
        if z > self.max_simplify_zoom:
            return self._geoms[idx]
        shapes = self._zooms.get(z)
        if shapes is None:
            with self._lock:
                shapes = self._zooms.setdefault(z, _ZoomShapes(len(self._geoms)))
        todo = idx[~shapes.done[idx]]
        if todo.size:
            tolerance = self.simplify_px * 2 * ORIGIN_SHIFT / 2**z / TILE_SIZE
            # Another thread may simplify the same villages at once: same result, no harm.
            # The shapes are stored before they are marked done.
            shapes.geoms[todo] = shapely.simplify(
                self._geoms[todo], tolerance, preserve_topology=False
            )
            shapes.done[todo] = True
        return shapes.geoms[idx]

    def tile(self, z: int, x: int, y: int) -> bytes:
        """Return the Mapbox Vector Tile ``z/x/y``.

        Parameters
        ----------
        z, x, y : int
            The tile (XYZ scheme).

        Returns
        -------
        bytes
            One layer ``villages`` with extent 4096, or ``b""`` (a valid empty tile) when
            no village shows there.

        Raises
        ------
        InputError
            When the tile does not exist.
        """
        return self.render(z, x, y).data

    def render(self, z: int, x: int, y: int) -> TileResult:
        """Make tile ``z/x/y`` and say how many villages went in or were left out.

        Parameters
        ----------
        z, x, y : int
            The tile (XYZ scheme).

        Returns
        -------
        TileResult
            The bytes (as :meth:`tile`) and the counts.

        Raises
        ------
        InputError
            When the tile does not exist.
        """
        minx, miny, maxx, maxy = tile_bounds(z, x, y)
        z = int(z)
        size = maxx - minx
        pixel = size / TILE_SIZE
        pad = self.buffer_px * pixel
        rect = (minx - pad, miny - pad, maxx + pad, maxy + pad)
        idx = np.sort(self._tree.query(shapely.box(*rect)))
        small = self._area[idx] < self.min_area_px * pixel * pixel
        idx = idx[~small]
        shapes = self._shapes(z, idx)
        # Only the villages that cross the buffered tile's edge need clipping (a
        # simplified shape lies within its village's envelope).
        b = self._bounds[idx]
        across = (
            (b[:, 0] < rect[0]) | (b[:, 1] < rect[1]) | (b[:, 2] > rect[2]) | (b[:, 3] > rect[3])
        )
        shapes[across] = shapely.clip_by_rect(shapes[across], *rect)
        scale = EXTENT / size
        origin = np.array([minx, maxy])
        factor = np.array([scale, -scale])
        grid = shapely.transform(shapes, lambda c: np.rint((c - origin) * factor))
        bad = ~shapely.is_valid(grid) | _has_repeated_points(grid)
        if bad.any():
            grid[bad] = _snap_to_grid(grid[bad])
        shown = ~shapely.is_empty(grid) & np.isin(shapely.get_type_id(grid), (3, 6))
        grid = grid[shown]
        idx = idx[shown]
        result = TileResult(
            data=self._encode(grid, idx) if len(idx) else b"",
            features=len(idx),
            small=int(small.sum()),
            collapsed=int((~shown).sum()),
        )
        with self._lock:
            self._counts["tiles"] += 1
            self._counts["features"] += result.features
            self._counts["small"] += result.small
            self._counts["collapsed"] += result.collapsed
        return result

    def _encode(self, grid: np.ndarray, idx: np.ndarray) -> bytes:
        """The tile bytes of the shapes ``grid`` (tile units, y down) of villages ``idx``."""
        n = len(idx)
        k = len(self._columns)
        value_tags = np.full((n, k), -1, dtype=np.int64)
        entries = []
        next_value = 0
        for j, (_, column) in enumerate(self._columns):
            codes = column.codes[idx]
            present = codes >= 0
            used, local = np.unique(codes[present], return_inverse=True)
            value_tags[present, j] = next_value + local
            next_value += len(used)
            entries.append(column.entries.take(used))
        pairs = np.stack([np.broadcast_to(np.arange(k), (n, k)), value_tags], axis=2)
        present = value_tags >= 0
        tags = pairs[present].reshape(-1)
        tag_offsets = np.append(0, np.cumsum(2 * present.sum(axis=1)))
        commands, command_offsets = _geometry_commands(grid)
        features = _features(commands, command_offsets, tags, tag_offsets)

        name = LAYER_NAME.encode()
        keys = b"".join(
            bytes([_LAYER_KEY]) + _varint(len(key.encode())) + key.encode()
            for key, _ in self._columns
        )
        layer = b"".join(
            [
                bytes([_LAYER_NAME]) + _varint(len(name)) + name,
                features.tobytes(),
                keys,
                *(e.tobytes() for e in entries),
                bytes([_LAYER_EXTENT]) + _varint(EXTENT),
                bytes([_LAYER_VERSION, 2]),
            ]
        )
        return bytes([_TILE_LAYER]) + _varint(len(layer)) + layer


# --------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------


class _Pending:
    """A tile being made by one thread, that others wait for."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.data: bytes | None = None
        self.error: BaseException | None = None

    def wait(self) -> bytes:
        self.done.wait()
        if self.error is not None:
            raise self.error
        assert self.data is not None
        return self.data


class TileCache:
    """Tiles kept in memory (least recently used first out) and optionally on disk.

    Parameters
    ----------
    directory : pathlib.Path, optional
        Where tiles are also written, as ``directory/<hash of key>/z/x/y.pbf`` (the key
        itself in ``key.txt`` beside them), so that they outlive the process. Files are
        written whole to a temporary name, flushed to disk and renamed: a reader never sees
        half a tile, and a power cut leaves either the whole tile or none. When writing
        fails (disk full, read-only), the tile is still served and a warning is logged.
    memory_items : int, optional
        Tiles kept in memory.
    memory_bytes : int, optional
        Most bytes of tiles kept in memory (a dense low-zoom tile over Java is close to a
        megabyte, a zoom-12 tile some kilobytes).

    Notes
    -----
    The key names the data a tile is made from (for instance
    ``"ws/villages@3|ws/score_runs/p@2|score"``): new data means a new key, so old tiles are
    never served for it and need no invalidation; :meth:`clear` frees the space. Safe to
    use from several threads: when several ask for a tile that is not cached yet, it is
    made once and the others wait for it.
    """

    def __init__(
        self,
        directory: Path | None,
        memory_items: int = 2048,
        memory_bytes: int = 256 * 2**20,
    ) -> None:
        if memory_items < 0 or memory_bytes < 0:
            raise ValueError("memory_items and memory_bytes must be 0 or more")
        self.directory = Path(directory) if directory is not None else None
        self.memory_items = int(memory_items)
        self.memory_bytes = int(memory_bytes)
        self._bytes = 0
        self._memory: OrderedDict[tuple[str, int, int, int], bytes] = OrderedDict()
        self._pending: dict[tuple[str, int, int, int], _Pending] = {}
        self._lock = threading.Lock()
        self._counts = {"memory_hits": 0, "disk_hits": 0, "made": 0}

    @staticmethod
    def key_hash(key: str) -> str:
        """The folder name of a key under :attr:`directory`."""
        return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]

    def path(self, key: str, z: int, x: int, y: int) -> Path | None:
        """The disk file of a tile (``None`` without a directory)."""
        if self.directory is None:
            return None
        return self.directory / self.key_hash(key) / str(int(z)) / str(int(x)) / f"{int(y)}.pbf"

    def stats(self) -> dict[str, int]:
        """Counts: memory_hits, disk_hits, made, and the tiles and bytes now in memory."""
        with self._lock:
            return {**self._counts, "memory_items": len(self._memory), "memory_bytes": self._bytes}

    def get(self, key: str, z: int, x: int, y: int, make: Callable[[], bytes]) -> bytes:
        """Return tile ``z/x/y`` of the data ``key``, calling ``make`` only when not cached.

        Parameters
        ----------
        key : str
            Names the data (non-empty).
        z, x, y : int
            The tile.
        make : callable
            Returns the tile's bytes; called at most once per tile while it stays cached,
            however many threads ask.

        Returns
        -------
        bytes
            The tile.

        Raises
        ------
        InputError
            When the tile does not exist.
        Exception
            Whatever ``make`` raises (to every thread waiting for that tile).
        """
        if not isinstance(key, str) or not key:
            raise ValueError("the cache key must be a non-empty string")
        check_tile(z, x, y)
        item = (key, int(z), int(x), int(y))
        with self._lock:
            data = self._memory.get(item)
            if data is not None:
                self._memory.move_to_end(item)
                self._counts["memory_hits"] += 1
                return data
            pending = self._pending.get(item)
            owner = pending is None
            if pending is None:
                pending = self._pending[item] = _Pending()
        if not owner:
            return pending.wait()
        try:
            data = self._read(item)
            if data is None:
                data = make()
                if not isinstance(data, bytes):
                    raise TypeError(f"make() returned {type(data).__name__}, not bytes")
                self._write(item, data)
                counter = "made"
            else:
                counter = "disk_hits"
            with self._lock:
                self._counts[counter] += 1
                self._remember(item, data)
            pending.data = data
            return data
        except BaseException as exc:
            pending.error = exc
            raise
        finally:
            with self._lock:
                self._pending.pop(item, None)
            pending.done.set()

    def _remember(self, item: tuple[str, int, int, int], data: bytes) -> None:
        """Put a tile in memory, dropping the least recently used (lock held)."""
        if self.memory_items == 0 or len(data) > self.memory_bytes:
            return
        old = self._memory.pop(item, None)
        if old is not None:
            self._bytes -= len(old)
        self._memory[item] = data
        self._bytes += len(data)
        while len(self._memory) > self.memory_items or self._bytes > self.memory_bytes:
            self._bytes -= len(self._memory.popitem(last=False)[1])

    def _read(self, item: tuple[str, int, int, int]) -> bytes | None:
        path = self.path(*item)
        if path is None:
            return None
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cannot read cached tile %s: %s", path, exc)
            return None

    def _write(self, item: tuple[str, int, int, int], data: bytes) -> None:
        path = self.path(*item)
        if path is None:
            return
        try:
            folder = path.parents[2]
            if not (folder / "key.txt").exists():
                folder.mkdir(parents=True, exist_ok=True)
                _write_atomic(folder / "key.txt", item[0].encode("utf-8"))
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_atomic(path, data)
        except OSError as exc:
            log.warning("cannot write cached tile %s: %s", path, exc)

    def clear(self, prefix: str | None = None) -> None:
        """Forget cached tiles, in memory and on disk.

        Parameters
        ----------
        prefix : str, optional
            Only the tiles whose key starts with this (say ``"ws/"`` for one workspace);
            all tiles when omitted. Other files in the directory are left alone.
        """
        with self._lock:
            for item in [i for i in self._memory if prefix is None or i[0].startswith(prefix)]:
                self._bytes -= len(self._memory.pop(item))
        if self.directory is None or not self.directory.is_dir():
            return
        for folder in self.directory.iterdir():
            if not _is_key_folder(folder):
                continue
            if prefix is not None:
                try:
                    key = (folder / "key.txt").read_text(encoding="utf-8")
                except OSError:
                    continue
                if not key.startswith(prefix):
                    continue
            shutil.rmtree(folder, ignore_errors=True)


def _is_key_folder(folder: Path) -> bool:
    name = folder.name
    return folder.is_dir() and len(name) == 32 and all(c in "0123456789abcdef" for c in name)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a flushed temporary file and a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
