"""Mapbox Vector Tile 2.1 bytes written with numpy, every feature of a tile at once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from layers.tiles.grid import EXTENT, LAYER_NAME

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
class Entries:
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


def string_entries(texts: list[str]) -> Entries:
    """``Layer.values`` entries holding ``string_value`` for each text."""
    if not texts:
        return Entries(np.empty(0, np.uint8), np.zeros(1, np.int64))
    raw = [t.encode("utf-8", "replace") for t in texts]
    lengths = np.fromiter(map(len, raw), dtype=np.int64, count=len(raw))
    inner_head = 1 + _varint_sizes(lengths)
    out, body, offsets = _wrap(inner_head + lengths, _LAYER_VALUE)
    out[body] = _VALUE_STRING
    _put_varints(out, body + 1, lengths, inner_head - 1)
    out[_ranges(body + inner_head, lengths)] = np.frombuffer(b"".join(raw), dtype=np.uint8)
    return Entries(out, offsets)


def double_entries(numbers: np.ndarray) -> Entries:
    """``Layer.values`` entries holding ``double_value`` (11 bytes each)."""
    n = len(numbers)
    out = np.empty((n, 11), dtype=np.uint8)
    out[:, 0] = _LAYER_VALUE
    out[:, 1] = 9
    out[:, 2] = _VALUE_DOUBLE
    out[:, 3:] = np.ascontiguousarray(numbers, dtype="<f8").view(np.uint8).reshape(n, 8)
    return Entries(out.reshape(-1), np.arange(n + 1, dtype=np.int64) * 11)


def int_entries(numbers: np.ndarray) -> Entries:
    """``Layer.values`` entries holding ``int_value`` (two's complement varint)."""
    v = np.asarray(numbers, dtype=np.int64).view(_U64)
    sizes = _varint_sizes(v)
    out, body, offsets = _wrap(1 + sizes, _LAYER_VALUE)
    out[body] = _VALUE_INT
    _put_varints(out, body + 1, v, sizes)
    return Entries(out, offsets)


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


def has_repeated_points(geoms: np.ndarray) -> np.ndarray:
    """True for shapes with two equal consecutive coordinates (MVT forbids a zero move)."""
    coords, which = shapely.get_coordinates(geoms, return_index=True)
    same = (coords[1:] == coords[:-1]).all(axis=1) & (which[1:] == which[:-1])
    out = np.zeros(len(geoms), dtype=bool)
    out[which[1:][same]] = True
    return out


def snap_to_grid(geoms: np.ndarray) -> np.ndarray:
    """Make shapes valid on the integer grid; a shape that collapses becomes empty."""
    fixed = shapely.make_valid(geoms, method="structure", keep_collapsed=False)
    try:
        fixed = shapely.set_precision(fixed, 1.0)
    except shapely.errors.GEOSException:
        # Snap rounding can fail on rare shapes: retry one by one, giving up on those.
        fixed = np.array([snap_one(g) for g in fixed], dtype=object)
    still = ~shapely.is_valid(fixed) | has_repeated_points(fixed)
    fixed[still] = shapely.Polygon()
    return fixed


def snap_one(geom: shapely.Geometry) -> shapely.Geometry:
    try:
        return shapely.set_precision(geom, 1.0)
    except shapely.errors.GEOSException:
        return shapely.Polygon()


def encode_layer(
    grid: np.ndarray,
    tags: np.ndarray,
    tag_offsets: np.ndarray,
    keys: list[str],
    entries: list[Entries],
) -> bytes:
    """A whole tile of one polygon layer (:data:`LAYER_NAME`).

    Parameters
    ----------
    grid : numpy.ndarray of shapely Polygons/MultiPolygons
        The features' shapes in tile units (0..:data:`EXTENT`, y down), valid and rounded.
    tags, tag_offsets : numpy.ndarray
        Every feature's (key index, value index) pairs, flat, and where each feature's start.
    keys : list of str
        Property names, in key index order.
    entries : list of Entries
        The encoded values, in value index order.
    """
    commands, command_offsets = _geometry_commands(grid)
    features = _features(commands, command_offsets, tags, tag_offsets)
    name = LAYER_NAME.encode()
    encoded_keys = b"".join(
        bytes([_LAYER_KEY]) + _varint(len(key.encode())) + key.encode() for key in keys
    )
    layer = b"".join(
        [
            bytes([_LAYER_NAME]) + _varint(len(name)) + name,
            features.tobytes(),
            encoded_keys,
            *(e.tobytes() for e in entries),
            bytes([_LAYER_EXTENT]) + _varint(EXTENT),
            bytes([_LAYER_VERSION, 2]),
        ]
    )
    return bytes([_TILE_LAYER]) + _varint(len(layer)) + layer
