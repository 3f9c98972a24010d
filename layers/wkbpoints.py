"""2D points read straight from an Arrow column of WKB, without a Python object per value.

GDAL (through pyogrio's Arrow reader) and the store's chunks hand geometries over as an
Arrow binary column of WKB. Decoding a million points through :func:`shapely.from_wkb`
first makes a Python ``bytes`` object per point; when every value is a little-endian 2D
point with coordinates, numpy can read the coordinates from the column's buffer instead and
:func:`shapely.points` builds the same geometries.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import shapely

__all__ = ["POINT_WKB", "points_from_wkb", "points_from_xy", "xy_from_wkb"]

#: One little-endian ISO WKB point: byte order, type (1 = Point), x, y (21 bytes, packed).
POINT_WKB = np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])


def _chunk_xy(array: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """x, y and the validity mask of one Arrow chunk, or None when it is not all 2D points."""
    if not pa.types.is_binary(array.type):
        return None
    n = len(array)
    valid = np.ones(n, dtype=bool)
    if array.null_count:
        valid = ~np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset : array.offset + n + 1]
    sizes = np.diff(offsets)
    if not ((sizes == POINT_WKB.itemsize) | (~valid & (sizes == 0))).all():
        return None
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    records = data.view(POINT_WKB)
    if not ((records["order"] == 1).all() and (records["type"] == 1).all()):
        return None
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    x[valid] = records["x"]
    y[valid] = records["y"]
    if np.isnan(x[valid]).any() or np.isnan(y[valid]).any():
        return None  # POINT EMPTY is written with NaN coordinates: shapely decides
    return x, y, valid


def xy_from_wkb(
    values: pa.Array | pa.ChunkedArray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Coordinates of an Arrow column of 2D point WKB.

    Parameters
    ----------
    values : pyarrow.Array or pyarrow.ChunkedArray
        Binary WKB values, nulls allowed.

    Returns
    -------
    tuple of numpy.ndarray or None
        ``x``, ``y`` (NaN where null) and ``valid`` (False where null); None unless every
        non-null value is a little-endian 2D point whose coordinates are not NaN (an
        empty point is written with NaN coordinates).
    """
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    parts = []
    for chunk in chunks:
        part = _chunk_xy(chunk)
        if part is None:
            return None
        parts.append(part)
    if not parts:
        return np.empty(0), np.empty(0), np.empty(0, dtype=bool)
    if len(parts) == 1:
        return parts[0]
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))  # type: ignore[return-value]


def points_from_wkb(values: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """Shapely points (None where null) from an Arrow column of 2D point WKB.

    The geometries are those :func:`shapely.from_wkb` gives for the same bytes. Returns
    None when a value is anything else (another geometry type, Z or M, big-endian, an
    empty point): decode those with :func:`shapely.from_wkb`.
    """
    xy = xy_from_wkb(values)
    if xy is None:
        return None
    return points_from_xy(*xy)


def points_from_xy(x: np.ndarray, y: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Shapely points from coordinates, None where ``valid`` is False."""
    if valid.all():
        return shapely.points(x, y)
    out = np.full(len(x), None, dtype=object)
    out[valid] = shapely.points(x[valid], y[valid])
    return out
