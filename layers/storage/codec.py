"""Snapshots of layers as GeoParquet chunks, restored exactly.

A dataset version is stored as one or more *chunks*, each a complete GeoParquet 1.1 file
(geometries as ISO WKB, with the ``geo`` metadata), holding up to :data:`CHUNK_ROWS` rows.
Each chunk's bounding box is kept beside it so a read by bounding box skips chunks that
cannot match.

What is written comes back exactly: geometries (same WKB bytes, Z and M kept), column
order, every column's dtype (NumPy, pandas ``str``/``string``, nullable integers and
booleans, categoricals with their categories and order, timezone-aware datetimes), row
order and a non-default index. The dtypes are kept in a JSON *schema* stored with the
version's metadata row, and the restored frame is checked against it.

Layers larger than one chunk are stored in tiles (:func:`tile_order`), so that each chunk
covers a compact area and a bbox read opens few chunks; a hidden column
(:data:`ROW_COLUMN`) keeps every row's original position and reads restore it.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import shapely
from geopandas.array import GeometryDtype
from pyproj import CRS

from layers.errors import N_, NotFoundError, StoreError
from layers.gcpause import cyclic_gc_paused

#: Most rows in one chunk.
CHUNK_ROWS = 100_000
#: Rough upper size of one chunk's geometries, in bytes of WKB (big polygons make short chunks).
CHUNK_BYTES = 128 * 1024 * 1024
#: Parquet compression of chunks (fast to decode; ~3x smaller than plain).
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 1
#: Hidden column with each row's position in the layer as written (only in reordered layers).
ROW_COLUMN = "__jangkau_row"
#: Hidden columns holding the levels of a non-default index.
INDEX_COLUMN = "__jangkau_index_{}"
RESERVED_PREFIX = "__jangkau_"
#: Version of the snapshot format described by the schema JSON.
FORMAT = 1

Bounds = tuple[float, float, float, float]

_GEOMETRY_NAMES = {
    0: "Point",
    1: "LineString",
    2: "LineString",  # LinearRing is written as a LineString in WKB
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}


# --- dtypes ------------------------------------------------------------------------------


def _json_scalars(values: pd.Index, column: str) -> list[Any]:
    """Return categories as JSON values, or raise when they are not text, numbers or booleans."""
    kind = values.dtype.kind if isinstance(values.dtype, np.dtype) else None
    if kind in ("i", "u", "b"):
        return [v.item() if hasattr(v, "item") else v for v in values]
    if kind == "f":
        return [float(v) for v in values]
    items = list(values)
    if all(isinstance(v, str) for v in items):
        return items
    raise StoreError(
        N_(
            "column %(column)r: categories must be text, numbers or booleans, "
            "not %(dtype)s; convert the column before storing it"
        ),
        params={"column": column, "dtype": str(values.dtype)},
    )


def dtype_spec(dtype: Any, column: str) -> dict[str, Any]:
    """Describe a pandas dtype as JSON-able data that :func:`spec_dtype` turns back into it.

    Raises
    ------
    StoreError
        The dtype cannot be stored exactly.
    """
    if isinstance(dtype, np.dtype):
        spec: dict[str, Any] = {"numpy": dtype.str}
    elif isinstance(dtype, pd.StringDtype):
        na = dtype.na_value
        spec = {
            "string": dtype.storage,
            "na": "nan" if isinstance(na, float) and math.isnan(na) else "NA",
        }
    elif isinstance(dtype, pd.CategoricalDtype):
        categories = dtype.categories
        spec = {
            "category": dtype_spec(categories.dtype, column),
            "categories": _json_scalars(categories, column),
            "ordered": bool(dtype.ordered),
        }
    elif isinstance(dtype, pd.DatetimeTZDtype):
        spec = {"datetimetz": dtype.unit, "tz": str(dtype.tz)}
    else:
        spec = {"pandas": str(dtype)}
    try:
        same = spec_dtype(spec) == dtype
    except (TypeError, ValueError, KeyError):
        same = False
    if not same:
        raise StoreError(
            N_("column %(column)r has dtype %(dtype)s, which cannot be stored exactly"),
            params={"column": column, "dtype": str(dtype)},
        )
    return spec


def spec_dtype(spec: dict[str, Any]) -> Any:
    """Return the pandas dtype described by :func:`dtype_spec` output."""
    if "numpy" in spec:
        return np.dtype(spec["numpy"])
    if "string" in spec:
        na = np.nan if spec["na"] == "nan" else pd.NA
        return pd.StringDtype(storage=spec["string"], na_value=na)
    if "category" in spec:
        categories = pd.Index(spec["categories"], dtype=spec_dtype(spec["category"]))
        return pd.CategoricalDtype(categories, ordered=spec["ordered"])
    if "datetimetz" in spec:
        return pd.DatetimeTZDtype(unit=spec["datetimetz"], tz=spec["tz"])
    return pd.api.types.pandas_dtype(spec["pandas"])


def crs_text(crs: CRS | None) -> str | None:
    """Return ``"AUTHORITY:CODE"`` when that names ``crs`` exactly, else its PROJJSON."""
    if crs is None:
        return None
    authority = crs.to_authority(min_confidence=100)
    if authority is not None:
        text = ":".join(authority)
        if CRS.from_user_input(text) == crs:
            return text
    return crs.to_json()


def crs_srid(text: str | None) -> int:
    """Return the EPSG code of a stored CRS text, or 0 when it has none."""
    if text and text.upper().startswith("EPSG:"):
        return int(text.split(":", 1)[1])
    return 0


# --- geometry helpers --------------------------------------------------------------------


#: Geometries (or rows) above which encoding and re-ordering are split across cores.
PARALLEL_ROWS = 200_000
#: Stored bytes above which chunks are decoded on several threads.
PARALLEL_BYTES = 8 * 1024 * 1024


def _halves(n: int) -> list[slice]:
    """Split ``range(n)`` into one slice per core when it is worth it."""
    parts = min(os.cpu_count() or 1, 4) if n >= PARALLEL_ROWS else 1
    bounds = np.linspace(0, n, parts + 1).astype(int)
    return [slice(a, b) for a, b in itertools.pairwise(bounds)]


def to_wkb(geometries: np.ndarray) -> np.ndarray:
    """Encode shapely geometries as little-endian ISO WKB (Z and M kept; None stays None).

    Large arrays are encoded on a thread per core (shapely releases the GIL and writes
    each geometry independently).
    """

    def encode(part: slice) -> np.ndarray:
        return shapely.to_wkb(geometries[part], output_dimension=4, byte_order=1, flavor="iso")

    parts = _halves(len(geometries))
    if len(parts) == 1:
        return encode(parts[0])
    with ThreadPoolExecutor(len(parts)) as pool:
        return np.concatenate(list(pool.map(encode, parts)))


#: One little-endian ISO WKB point: byte order, type (1 = Point), x, y (21 bytes, packed).
_WKB_POINT = np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])


def point_wkb(geometries: np.ndarray, type_codes: np.ndarray) -> pa.Array | None:
    """WKB of 2D points written with numpy, as an Arrow binary array.

    The bytes are those :func:`to_wkb` gives, without making a Python object per point.
    Returns None (use :func:`to_wkb`) unless every geometry is a non-empty 2D point.
    """
    n = len(geometries)
    if n == 0 or n * _WKB_POINT.itemsize >= 2**31 or not (type_codes == 0).all():
        return None
    if shapely.is_empty(geometries).any():
        return None
    records = np.empty(n, dtype=_WKB_POINT)
    records["order"] = 1
    records["type"] = 1
    records["x"] = shapely.get_x(geometries)
    records["y"] = shapely.get_y(geometries)
    offsets = np.arange(0, (n + 1) * _WKB_POINT.itemsize, _WKB_POINT.itemsize, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(records)]
    )


#: The start of a little-endian ISO WKB polygon with one ring: byte order, type (3 =
#: Polygon), number of rings (1), number of points of the ring (13 bytes, packed).
_WKB_POLYGON = np.dtype([("order", "u1"), ("type", "<u4"), ("rings", "<u4"), ("points", "<u4")])


def polygon_wkb(geometries: np.ndarray, type_codes: np.ndarray) -> pa.Array | None:
    """WKB of polygonal layers as an Arrow binary array, simple polygons written with numpy.

    Polygons with one ring (no holes, 2D, not empty) are written from their coordinates
    without making a Python object per polygon; every other geometry goes through
    :func:`to_wkb`. The bytes are those :func:`to_wkb` gives. Returns None (use
    :func:`to_wkb`) when fewer than half the geometries are such polygons, when one is
    None, or when the WKB would not fit an Arrow binary array.
    """
    n = len(geometries)
    simple = type_codes == 6  # Polygon without Z
    if n == 0 or 2 * int(simple.sum()) < n or (type_codes < 0).any():
        return None
    candidates = np.flatnonzero(simple)
    polygons = geometries[candidates]
    keep = ~shapely.is_empty(polygons) & (shapely.get_num_interior_rings(polygons) == 0)
    if hasattr(shapely, "has_m"):
        keep &= ~shapely.has_m(polygons)
    simple[candidates[~keep]] = False
    pos = np.flatnonzero(simple)
    rest = np.flatnonzero(~simple)
    points = np.zeros(n, dtype=np.int64)
    points[pos] = shapely.get_num_coordinates(geometries[pos])
    other_sizes = np.zeros(n, dtype=np.int64)
    others = None
    if len(rest):
        others = pa.array(to_wkb(geometries[rest]), type=pa.large_binary())
        other_sizes[rest] = np.diff(np.frombuffer(others.buffers()[1], dtype=np.int64))
    total = int(points.sum()) * 16 + len(pos) * _WKB_POLYGON.itemsize + int(other_sizes.sum())
    if total >= 2**31:
        return None
    header = np.zeros(len(pos), dtype=_WKB_POLYGON)
    header["order"] = 1
    header["type"] = 3
    header["rings"] = 1
    header["points"] = points[pos]
    header_sizes = np.zeros(n, dtype=np.int32)
    header_sizes[pos] = _WKB_POLYGON.itemsize
    coords = np.ascontiguousarray(shapely.get_coordinates(geometries[pos]), dtype="<f8")

    def binary(sizes: np.ndarray, data: Any) -> pa.Array:
        offsets = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(sizes, out=offsets[1:])
        buffer = data if isinstance(data, pa.Buffer) else pa.py_buffer(data)
        return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets), buffer])

    parts = [binary(header_sizes, header), binary(points * 16, coords)]
    if others is not None:  # the other geometries' WKB, empty in the rows of simple ones
        parts.append(binary(other_sizes, others.buffers()[2]))
    return pc.binary_join_element_wise(*parts, b"")


def take_rows(table: pa.Table, order: np.ndarray) -> pa.Table:
    """``table.take(order)``, split across cores for large tables (Arrow releases the GIL)."""
    parts = _halves(len(order))
    if len(parts) == 1:
        return table.take(pa.array(order))
    with ThreadPoolExecutor(len(parts)) as pool:
        pieces = list(pool.map(lambda part: table.take(pa.array(order[part])), parts))
    return pa.concat_tables(pieces)


def from_wkb(values: Any) -> np.ndarray:
    """Decode WKB (an Arrow binary array or a sequence of bytes/None) into shapely geometries."""
    if isinstance(values, pa.ChunkedArray | pa.Array):
        chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
        for decode in (_wkb_points, _wkb_polygons):
            decoded = []
            for chunk in chunks:
                geoms = decode(chunk)
                if geoms is None:
                    break
                decoded.append(geoms)
            if chunks and len(decoded) == len(chunks):
                return np.concatenate(decoded) if len(decoded) > 1 else decoded[0]
        values = values.to_numpy(zero_copy_only=False)
    return shapely.from_wkb(np.asarray(values, dtype=object))


def _wkb_points(array: pa.Array) -> np.ndarray | None:
    """Points read straight from an Arrow array of 2D point WKB (as :func:`point_wkb` writes).

    None unless every value is a little-endian 2D point with coordinates (then
    :func:`shapely.from_wkb` decodes them); the check reads the bytes, never the schema.
    """
    size = _WKB_POINT.itemsize
    if len(array) == 0 or array.null_count or array.type != pa.binary():
        return None
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)
    offsets = offsets[array.offset : array.offset + len(array) + 1]
    if not (np.diff(offsets) == size).all():
        return None
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    records = data.view(_WKB_POINT)
    if not ((records["order"] == 1).all() and (records["type"] == 1).all()):
        return None
    x, y = records["x"], records["y"]
    if np.isnan(x).any() or np.isnan(y).any():
        return None
    return shapely.points(x, y)


def _wkb_polygons(array: pa.Array) -> np.ndarray | None:
    """Polygons read from an Arrow array of one-ring 2D polygon WKB (as :func:`polygon_wkb`
    writes them), built from their coordinates without a Python ``bytes`` object each.

    None unless every value is a little-endian Polygon with one closed ring of at least 4
    points (then :func:`shapely.from_wkb` decodes them); the check reads the bytes.
    """
    head_size = _WKB_POLYGON.itemsize
    n = len(array)
    if n == 0 or array.null_count or array.type != pa.binary():
        return None
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset : array.offset + n + 1]
    sizes = np.diff(offsets).astype(np.int64)
    if not (sizes >= head_size).all():
        return None
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8)
    heads = data[offsets[:-1, None] + np.arange(head_size)].copy().view(_WKB_POLYGON).ravel()
    points = heads["points"].astype(np.int64)
    if not (
        (heads["order"] == 1).all()
        and (heads["type"] == 3).all()
        and (heads["rings"] == 1).all()
        and (points >= 4).all()
        and (sizes == head_size + 16 * points).all()
    ):
        return None
    body = pc.binary_slice(array, head_size, 2**31 - 1)  # the coordinates, back to back
    body_offsets = np.frombuffer(body.buffers()[1], dtype=np.int32)
    body_offsets = body_offsets[body.offset : body.offset + n + 1]
    body_data = np.frombuffer(body.buffers()[2], dtype=np.uint8)
    coords = body_data[body_offsets[0] : body_offsets[-1]].view("<f8").reshape(-1, 2)
    rings = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(points, out=rings[1:])
    if not (coords[rings[:-1]] == coords[rings[1:] - 1]).all():
        return None  # an open ring (or NaN): shapely would close it, from_wkb would not
    return shapely.from_ragged_array(
        shapely.GeometryType.POLYGON, coords, (rings, np.arange(n + 1, dtype=np.int64))
    )


def boxes_meet(a: Sequence[float], b: Sequence[float]) -> bool:
    """True when two ``(minx, miny, maxx, maxy)`` boxes intersect or touch."""
    return a[0] <= b[2] and a[2] >= b[0] and a[1] <= b[3] and a[3] >= b[1]


def bbox_mask(geometries: np.ndarray, bbox: Bounds) -> np.ndarray:
    """Boolean mask of geometries whose bounding box intersects or touches ``bbox``.

    None and empty geometries never match.
    """
    bounds = shapely.bounds(geometries)
    with np.errstate(invalid="ignore"):
        return (
            (bounds[:, 0] <= bbox[2])
            & (bounds[:, 2] >= bbox[0])
            & (bounds[:, 1] <= bbox[3])
            & (bounds[:, 3] >= bbox[1])
        )


def _extent(bounds: np.ndarray) -> Bounds | None:
    """Total extent of per-row ``bounds`` ignoring NaN rows; None when no row has any."""
    valid = ~np.isnan(bounds[:, 0])
    if not valid.any():
        return None
    b = bounds if valid.all() else bounds[valid]
    return (
        float(b[:, 0].min()),
        float(b[:, 1].min()),
        float(b[:, 2].max()),
        float(b[:, 3].max()),
    )


def stable_argsort(key: np.ndarray) -> np.ndarray:
    """``np.argsort(key, kind="stable")`` of a float array without NaN, faster.

    Sorted with numpy's (vectorised, unstable) quicksort; runs of equal keys are then put
    back in position order, which is all a stable sort does differently.
    """
    order = np.argsort(key)
    ordered = key[order]
    tied = ordered[1:] == ordered[:-1]
    if not tied.any():
        return order
    # Positions (in sorted order) of every element in a run of equal keys, and its run.
    starts = np.flatnonzero(tied & ~np.concatenate([[False], tied[:-1]]))
    members = np.flatnonzero(np.concatenate([[False], tied]) | np.concatenate([tied, [False]]))
    run = np.searchsorted(starts, members, side="right") - 1
    within = order[members]
    order[members] = within[np.lexsort((within, run))]
    return order


def tile_order(bounds: np.ndarray, chunk_rows: int) -> np.ndarray:
    """Return row positions in sort-tile order: vertical strips by x, each sorted by y.

    The strips hold a whole number of chunks, so consecutive runs of ``chunk_rows`` rows
    cover compact, nearly square tiles (the packing of an STR tree). Rows without a
    bounding box (None or empty geometries) go last, in their order.
    """
    x = (bounds[:, 0] + bounds[:, 2]) / 2
    y = (bounds[:, 1] + bounds[:, 3]) / 2
    valid = ~np.isnan(x)
    located = np.flatnonzero(valid)
    m = len(located)
    chunks = max(1, math.ceil(m / chunk_rows))
    strips = math.ceil(math.sqrt(chunks))
    strip_rows = math.ceil(chunks / strips) * chunk_rows
    lx, ly = x[located], y[located]
    # Strip of each row by its rank in x: a partition at the strip edges is enough.
    edges = list(range(strip_rows, m, strip_rows))
    strip = np.zeros(m, dtype=np.float64)
    if edges:
        by_x = np.argpartition(lx, edges)
        for start in edges:
            strip[by_x[start:]] += 1.0
    # One sort on strip, then y (scaled into [0, 1) so it never reaches the next strip).
    low, span = (float(ly.min()), float(np.ptp(ly))) if m else (0.0, 0.0)
    key = strip + ((ly - low) / span * 0.5 if span > 0 else 0.0)
    order = located[stable_argsort(key)]
    return np.concatenate([order, np.flatnonzero(~valid)])


def _geometry_types(codes: np.ndarray) -> list[str]:
    """GeoParquet ``geometry_types`` from :func:`_type_codes` values (-1 for None)."""
    names = {
        _GEOMETRY_NAMES[int(code) // 2] + (" Z" if code % 2 else "")
        for code in np.unique(codes)
        if code >= 0
    }
    return sorted(names)


def _type_codes(geometries: np.ndarray) -> np.ndarray:
    """Per-row geometry type id times two plus one when it has Z; -1 for None."""
    type_id = shapely.get_type_id(geometries).astype(np.int16)
    return np.where(type_id >= 0, type_id * 2 + shapely.has_z(geometries), -1).astype(np.int16)


# --- writing -----------------------------------------------------------------------------


@dataclass
class Part:
    """One chunk to write: a run of rows of the snapshot in storage order.

    Attributes
    ----------
    seq : int
        Chunk number, from 0.
    start, row_count : int
        First storage-order row and number of rows.
    bbox : tuple or None
        Extent of the active geometry column in the chunk.
    table : pyarrow.Table
        The chunk's columns (geometries as WKB, hidden columns last).
    geo : dict or None
        The GeoParquet ``geo`` metadata for the chunk.
    """

    seq: int
    start: int
    row_count: int
    bbox: Bounds | None
    table: pa.Table
    geo: dict[str, Any] | None


@dataclass
class Snapshot:
    """A layer prepared for storage: validated, converted, ordered and cut into chunks.

    Attributes
    ----------
    row_count : int
        Rows in the layer.
    schema : dict
        What :class:`Reader` needs to restore the frame exactly (stored as JSON).
    crs : str or None
        CRS of the active geometry column (``"EPSG:4326"`` or PROJJSON).
    bounds : tuple or None
        Extent of the active geometry column.
    table : pyarrow.Table
        Every column in storage order; geometries as WKB.
    """

    row_count: int
    schema: dict[str, Any]
    crs: str | None
    bounds: Bounds | None
    table: pa.Table
    active: str | None
    cuts: list[tuple[int, int]]
    row_bounds: np.ndarray  # (n, 4) bounds of the active geometry, storage order
    type_codes: dict[str, np.ndarray]  # per geometry column, storage order
    ordinals: np.ndarray | None = None  # original position of each storage-order row

    def parts(self, *, with_active: bool = True) -> Iterator[Part]:
        """Yield the chunks in order; ``with_active=False`` leaves the active geometry out."""
        table = self.table
        if not with_active and self.active is not None:
            table = table.drop_columns([self.active])
        crs = {c["name"]: c["geometry"]["crs"] for c in self.schema["columns"] if "geometry" in c}
        geometry_names = [g for g in crs if g in table.column_names]
        primary = self.active if self.active in geometry_names else None
        if primary is None and geometry_names:
            primary = geometry_names[0]
        for seq, (start, stop) in enumerate(self.cuts):
            bbox = _extent(self.row_bounds[start:stop]) if self.active else None
            geo = None
            if geometry_names:
                columns = {}
                for name in geometry_names:
                    meta: dict[str, Any] = {
                        "encoding": "WKB",
                        "geometry_types": _geometry_types(self.type_codes[name][start:stop]),
                    }
                    if crs[name] is not None:
                        meta["crs"] = CRS.from_user_input(crs[name]).to_json_dict()
                    if name == self.active and bbox is not None:
                        meta["bbox"] = list(bbox)
                    columns[name] = meta
                geo = {"version": "1.1.0", "primary_column": primary, "columns": columns}
            yield Part(
                seq=seq,
                start=start,
                row_count=stop - start,
                bbox=bbox,
                table=table.slice(start, stop - start),
                geo=geo,
            )

    def active_rows(self, part: Part) -> tuple[np.ndarray, pa.ChunkedArray]:
        """Original row positions and active-geometry WKB of ``part``'s rows."""
        stop = part.start + part.row_count
        if self.ordinals is None:
            ordinals = np.arange(part.start, stop, dtype=np.int64)
        else:
            ordinals = self.ordinals[part.start : stop]
        return ordinals, self.table.column(self.active).slice(part.start, part.row_count)


def _check_labels(data: pd.DataFrame) -> None:
    if isinstance(data.columns, pd.MultiIndex):
        raise StoreError(N_("columns with several levels cannot be stored; flatten them first"))
    labels = list(data.columns)
    bad = [c for c in labels if not isinstance(c, str) or not c]
    if bad:
        raise StoreError(
            N_("column names must be non-empty text; found %(found)r"), params={"found": bad}
        )
    duplicates = sorted({c for c in labels if labels.count(c) > 1})
    if duplicates:
        raise StoreError(
            N_("column names must be unique; repeated: %(columns)s"),
            params={"columns": ", ".join(duplicates)},
        )
    reserved = [c for c in labels if c.startswith(RESERVED_PREFIX)]
    if reserved:
        raise StoreError(
            N_("column names starting with %(prefix)r are reserved: %(columns)s"),
            params={"prefix": RESERVED_PREFIX, "columns": reserved},
        )
    names = [n for n in data.index.names if n is not None]
    if any(not isinstance(n, str) for n in names):
        raise StoreError(
            N_("index names must be text or None; found %(found)r"),
            params={"found": list(data.index.names)},
        )


def _cut(sizes: np.ndarray, chunk_rows: int) -> list[tuple[int, int]]:
    """Split rows into runs of at most ``chunk_rows`` rows and about ``CHUNK_BYTES`` bytes."""
    n = len(sizes)
    if n == 0:
        return [(0, 0)]
    cumulative = np.cumsum(sizes)
    cuts = []
    start = 0
    while start < n:
        before = cumulative[start - 1] if start else 0
        by_bytes = int(np.searchsorted(cumulative, before + CHUNK_BYTES, side="right"))
        stop = max(start + 1, min(start + chunk_rows, by_bytes, n))
        cuts.append((start, stop))
        start = stop
    return cuts


def prepare(data: pd.DataFrame, *, chunk_rows: int = CHUNK_ROWS) -> Snapshot:
    """Validate and convert a frame for storage, before any transaction starts.

    Parameters
    ----------
    data : DataFrame or GeoDataFrame
        The layer. Column names must be unique, non-empty text.
    chunk_rows : int
        Most rows per chunk.

    Raises
    ------
    StoreError
        A column name, dtype or value cannot be stored exactly.
    """
    _check_labels(data)
    n = len(data)
    spatial = isinstance(data, gpd.GeoDataFrame)
    active = data._geometry_column_name if spatial and data._geometry_column_name in data else None

    columns: list[dict[str, Any]] = []
    geometries: dict[str, np.ndarray] = {}
    plain: dict[str, Any] = {}
    for name in data.columns:
        series = data[name]
        if isinstance(series.dtype, GeometryDtype):
            geometries[name] = np.asarray(series.array, dtype=object)
            crs = getattr(series.array, "crs", None)
            columns.append({"name": name, "geometry": {"crs": crs_text(crs)}})
        else:
            columns.append({"name": name, "dtype": dtype_spec(series.dtype, name)})
            plain[name] = series.reset_index(drop=True)

    index = data.index
    if isinstance(index, pd.RangeIndex):
        index_schema: dict[str, Any] = {"range": [index.start, index.step], "name": index.name}
    else:
        levels = []
        for i, level_name in enumerate(index.names):
            values = index.get_level_values(i)
            if isinstance(values.dtype, GeometryDtype):
                raise StoreError(
                    N_("an index of geometries cannot be stored; reset the index first")
                )
            label = INDEX_COLUMN.format(i)
            levels.append({"name": level_name, "dtype": dtype_spec(values.dtype, label)})
            plain[label] = pd.Series(values, copy=False)
        index_schema = {"levels": levels}

    frame = pd.DataFrame(plain, index=pd.RangeIndex(n), copy=False)
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise StoreError(
            N_("the layer cannot be stored: %(reason)s"), params={"reason": str(exc)}
        ) from None
    if table.num_rows != n:  # a frame without attribute columns
        table = pa.table({ROW_COLUMN: pa.nulls(n, pa.int8())}).drop_columns([ROW_COLUMN])

    # Geometries become WKB in their original order (shapely objects are read in memory
    # order: much faster than after reordering).
    type_codes = {}
    sizes = np.full(n, 64, dtype=np.int64)
    for position, spec in enumerate(columns):
        name = spec["name"]
        if name in geometries:
            geoms = geometries[name]
            type_codes[name] = _type_codes(geoms)
            wkb = point_wkb(geoms, type_codes[name])
            if wkb is None:
                wkb = polygon_wkb(geoms, type_codes[name])
                if wkb is None:
                    wkb = pa.array(to_wkb(geoms), type=pa.binary())
                sizes += shapely.get_num_coordinates(geoms).astype(np.int64) * 32
            else:
                sizes += 32
            table = table.add_column(position, name, wkb)
    row_bounds = shapely.bounds(geometries[active]) if active else np.full((n, 4), np.nan)
    extent = _extent(row_bounds) if active else None

    # Layers of several chunks are stored in tiles so a bbox read skips most chunks.
    # (Arrow moves the attributes into tile order faster than pandas does: converting
    # text to Arrow reads the strings in their memory order.)
    cuts = _cut(sizes, chunk_rows)
    ordinals = None
    if len(cuts) > 1 and extent is not None:
        rows = math.ceil(n / len(cuts))
        order = tile_order(row_bounds, rows)
        if not np.array_equal(order, np.arange(n)):
            ordinals = order.astype(np.int64)
            positions = pa.array(ordinals)
            table = take_rows(table, ordinals) if table.num_columns else table
            table = table.append_column(ROW_COLUMN, positions)
            type_codes = {g: v[ordinals] for g, v in type_codes.items()}
            row_bounds = row_bounds[ordinals]
            cuts = _cut(sizes[ordinals], rows)

    return Snapshot(
        row_count=n,
        schema={
            "format": FORMAT,
            "frame": "GeoDataFrame" if spatial else "DataFrame",
            "columns": columns,
            "geometry": active,
            "index": index_schema,
            "row_order": "tiles" if ordinals is not None else None,
            "wkb_bytes": table.column(active).nbytes if active else 0,
        },
        crs=next((c["geometry"]["crs"] for c in columns if c["name"] == active), None),
        bounds=extent,
        table=table,
        active=active,
        cuts=cuts,
        row_bounds=row_bounds,
        type_codes=type_codes,
        ordinals=ordinals,
    )


def encode_chunk(part: Part) -> bytes:
    """Encode one chunk as a GeoParquet 1.1 file and return its bytes."""
    table = part.table
    if part.geo is not None:
        metadata = dict(table.schema.metadata or {})
        metadata[b"geo"] = json.dumps(part.geo).encode()
        table = table.replace_schema_metadata(metadata)
    sink = pa.BufferOutputStream()
    pq.write_table(
        table,
        sink,
        compression=COMPRESSION,
        compression_level=COMPRESSION_LEVEL,
        write_statistics=False,
    )
    return sink.getvalue().to_pybytes()


# --- reading -----------------------------------------------------------------------------


class Reader:
    """Restores a stored snapshot (or part of it) from its chunks and schema."""

    def __init__(self, schema: dict[str, Any], *, ref: str = "dataset") -> None:
        if schema.get("format", 0) > FORMAT:
            raise StoreError(
                N_("%(ref)s was written by a newer Jangkau (snapshot format %(format)s)"),
                params={"ref": ref, "format": schema["format"]},
            )
        self.schema = schema
        self.ref = ref
        self.columns = {c["name"]: c for c in schema["columns"]}
        self.active: str | None = schema.get("geometry")
        self.ordered = schema.get("row_order") is not None
        self.selected = list(self.columns)
        self.with_geometry = True

    @property
    def spatial(self) -> bool:
        """True when the layer has an active geometry column and it is being read."""
        return self.active is not None and self.with_geometry

    def select(self, columns: Sequence[str] | None, *, geometry: bool = True) -> None:
        """Read only ``columns``; the active geometry is added unless ``geometry`` is False.

        Without the geometry the rows come back as a plain DataFrame and no WKB is read.
        """
        if columns is None:
            columns = list(self.columns)
        elif isinstance(columns, str):
            columns = [columns]
        unknown = [c for c in columns if c not in self.columns]
        if unknown:
            raise NotFoundError(
                N_("%(ref)s has no column %(unknown)s; columns: %(columns)s"),
                params={
                    "ref": self.ref,
                    "unknown": ", ".join(map(repr, unknown)),
                    "columns": ", ".join(self.columns),
                },
            )
        selected = list(dict.fromkeys(columns))
        self.with_geometry = geometry or self.active is None
        if self.active and self.active not in selected and self.with_geometry:
            selected.append(self.active)
        if not self.with_geometry:
            selected = [c for c in selected if c != self.active]
        self.selected = selected

    def chunk_columns(self, *, with_active: bool = True) -> list[str]:
        """Names of the stored columns to read from each chunk."""
        names = [c for c in self.selected if with_active or c != self.active]
        index = self.schema["index"]
        names += [INDEX_COLUMN.format(i) for i in range(len(index.get("levels", ())))]
        if self.ordered:
            names.append(ROW_COLUMN)
        return names

    def decode(self, blobs: Iterable[bytes], *, with_active: bool = True) -> pa.Table | None:
        """Read and concatenate chunks; None when there are none."""
        names = self.chunk_columns(with_active=with_active)

        def read(blob: bytes) -> pa.Table:
            return pq.read_table(pa.BufferReader(blob), columns=names)

        blobs = list(blobs)
        if len(blobs) > 1 and sum(len(b) for b in blobs) >= PARALLEL_BYTES:
            # Parquet decodes (decompresses) without the GIL: a chunk per core.
            with ThreadPoolExecutor(min(len(blobs), os.cpu_count() or 1, 4)) as pool:
                tables = list(pool.map(read, blobs))
        else:
            tables = [read(blob) for blob in blobs]
        if not tables:
            return None
        return pa.concat_tables(tables) if len(tables) > 1 else tables[0]

    def restore(
        self,
        table: pa.Table | None,
        chunks: Sequence[tuple[int, int]],
        *,
        row_count: int,
        bbox: Bounds | None = None,
        external: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> pd.DataFrame:
        """Rebuild the frame from decoded chunks.

        Parameters
        ----------
        table : pyarrow.Table or None
            The decoded chunks (:meth:`decode`), None when no chunk was read.
        chunks : sequence of (first_row, row_count)
            Storage-order position of each decoded chunk.
        row_count : int
            Rows in the whole layer.
        bbox : tuple, optional
            Keep only rows whose geometry's bounding box meets it.
        external : (ordinals, geometries), optional
            The active geometry column kept outside the chunks: original row positions
            (ascending) and their shapely geometries.
        """
        if table is None:
            return self._empty()
        with cyclic_gc_paused():
            return self._restore(table, chunks, row_count, bbox, external)

    def _restore(
        self,
        table: pa.Table,
        chunks: Sequence[tuple[int, int]],
        row_count: int,
        bbox: Bounds | None,
        external: tuple[np.ndarray, np.ndarray] | None,
    ) -> pd.DataFrame:
        complete = bbox is None and sum(c[1] for c in chunks) == row_count
        ordinals: np.ndarray | None = None
        if self.ordered:
            ordinals = table.column(ROW_COLUMN).to_numpy()
            table = table.drop_columns([ROW_COLUMN])
        elif not complete or external is not None:
            ordinals = np.concatenate(
                [np.arange(first, first + count, dtype=np.int64) for first, count in chunks]
            )

        active: np.ndarray | None = None  # decoded active geometries, kept aligned with table
        if external is not None:
            ext_ordinals, active = external
            if bbox is not None:
                keep = bbox_mask(active, bbox)
                ext_ordinals, active = ext_ordinals[keep], active[keep]
            if not complete:
                keep = np.isin(ordinals, ext_ordinals)
                table, ordinals = table.filter(pa.array(keep)), ordinals[keep]
        elif bbox is not None:
            active = from_wkb(table.column(self.active))
            table = table.drop_columns([self.active])
            keep = bbox_mask(active, bbox)
            table, ordinals, active = table.filter(pa.array(keep)), ordinals[keep], active[keep]
        elif ordinals is not None and self.active in table.column_names:
            # Decode geometries before restoring the row order: permuting shapely objects
            # moves pointers, while taking a WKB column copies every byte.
            active = from_wkb(table.column(self.active))
            table = table.drop_columns([self.active])

        if ordinals is not None:
            if complete and self.ordered:
                order = np.empty(row_count, dtype=np.int64)
                order[ordinals] = np.arange(row_count, dtype=np.int64)
            else:
                order = np.argsort(ordinals, kind="stable")
            if not np.array_equal(order, np.arange(len(order))):
                table = table.take(pa.array(order)) if table.num_columns else table
                ordinals = ordinals[order]
                if external is None and active is not None:
                    active = active[order]

        if external is not None and not np.array_equal(ext_ordinals, ordinals):
            raise StoreError(
                N_("%(ref)s is damaged: its geometries and attributes disagree"),
                params={"ref": self.ref},
            )
        if complete:
            ordinals = None  # every row, in order: the index is the stored one
        if active is not None:
            n = len(active)
        elif ordinals is not None:
            n = len(ordinals)
        else:
            n = table.num_rows
        geometries = {} if active is None else {self.active: active}
        for name in self.selected:
            if "geometry" in self.columns[name] and name in table.column_names:
                geometries[name] = from_wkb(table.column(name))
        table = table.drop_columns([g for g in geometries if g in table.column_names])
        return self._frame(table, geometries, ordinals, n)

    # -- building the frame ---------------------------------------------------------------

    def _column(self, table: pa.Table, frame: pd.DataFrame, name: str, spec: dict) -> Any:
        """The values of column ``name`` with exactly its stored dtype."""
        expected = spec_dtype(spec)
        values = frame[name]
        if values.dtype == expected:
            return values.array
        if expected == np.dtype(object):
            column = table.column(name)
            if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                return column.to_numpy(zero_copy_only=False)  # None stays None
            return values.astype(object).to_numpy()
        return values.astype(expected).array

    def _frame(
        self,
        table: pa.Table,
        geometries: dict[str, np.ndarray],
        ordinals: np.ndarray | None,
        n: int,
    ) -> pd.DataFrame:
        plain = table.to_pandas() if table.num_columns else pd.DataFrame(index=range(n))
        index = self._index(table, plain, ordinals, n)
        data: dict[str, pd.Series] = {}
        for name in self.selected:
            spec = self.columns[name]
            if "geometry" in spec:
                crs = spec["geometry"]["crs"]
                # The decoders give shapely geometries or None only, so the array is made
                # without from_shapely's check of every value.
                values = gpd.array.GeometryArray(
                    np.asarray(geometries[name], dtype=object),
                    crs=None if crs is None else CRS.from_user_input(crs),
                )
                data[name] = gpd.GeoSeries(values, index=index, name=name)
            else:
                values = self._column(table, plain, name, spec["dtype"])
                # a Series with its dtype given, so pandas does not re-infer object columns
                data[name] = pd.Series(
                    values, index=index, dtype=spec_dtype(spec["dtype"]), name=name, copy=False
                )
        return self._wrap(pd.DataFrame(data, index=index, copy=False))

    def _wrap(self, frame: pd.DataFrame) -> pd.DataFrame:
        if self.schema["frame"] != "GeoDataFrame" or not self.with_geometry:
            return frame
        if self.active:
            return gpd.GeoDataFrame(frame, geometry=self.active)
        return gpd.GeoDataFrame(frame)

    def _index(
        self, table: pa.Table, plain: pd.DataFrame, ordinals: np.ndarray | None, n: int
    ) -> pd.Index:
        spec = self.schema["index"]
        if "range" in spec:
            start, step = spec["range"]
            if ordinals is None:
                return pd.RangeIndex(start, start + step * n, step, name=spec["name"])
            return pd.Index(start + step * ordinals, name=spec["name"])
        arrays = []
        for i, level in enumerate(spec["levels"]):
            label = INDEX_COLUMN.format(i)
            arrays.append(
                pd.Index(self._column(table, plain, label, level["dtype"]), name=level["name"])
            )
        if len(arrays) == 1:
            return arrays[0]
        return pd.MultiIndex.from_arrays(arrays, names=[level["name"] for level in spec["levels"]])

    def _empty(self) -> pd.DataFrame:
        """A frame with no rows and the stored columns, dtypes and index shape."""
        index_spec = self.schema["index"]
        if "range" in index_spec:
            index = pd.Index(np.empty(0, dtype=np.int64), name=index_spec["name"])
        else:
            levels = [
                pd.Index(np.empty(0, dtype=object), name=level["name"]).astype(
                    spec_dtype(level["dtype"])
                )
                for level in index_spec["levels"]
            ]
            index = levels[0] if len(levels) == 1 else pd.MultiIndex.from_arrays(levels)
        data: dict[str, pd.Series] = {}
        for name in self.selected:
            spec = self.columns[name]
            if "geometry" in spec:
                crs = spec["geometry"]["crs"]
                data[name] = gpd.GeoSeries(
                    [], index=index, crs=None if crs is None else CRS.from_user_input(crs)
                )
            else:
                data[name] = pd.Series([], index=index, dtype=spec_dtype(spec["dtype"]))
        return self._wrap(pd.DataFrame(data, index=index, copy=False))
