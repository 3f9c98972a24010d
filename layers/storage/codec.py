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

Layers larger than one chunk are stored in Hilbert-curve order of their geometries'
bounding-box centres, so that each chunk covers a compact area; a hidden column
(:data:`ROW_COLUMN`) keeps every row's original position and reads restore it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from geopandas.array import GeometryDtype
from pyproj import CRS

from layers.errors import NotFoundError, StoreError

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
        f"column {column!r}: categories must be text, numbers or booleans, "
        f"not {values.dtype}; convert the column before storing it"
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
        raise StoreError(f"column {column!r} has dtype {dtype}, which cannot be stored exactly")
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


def to_wkb(geometries: np.ndarray) -> np.ndarray:
    """Encode shapely geometries as little-endian ISO WKB (Z and M kept; None stays None)."""
    return shapely.to_wkb(geometries, output_dimension=4, byte_order=1, flavor="iso")


def from_wkb(values: Any) -> np.ndarray:
    """Decode WKB (an Arrow binary array or a sequence of bytes/None) into shapely geometries."""
    if isinstance(values, pa.ChunkedArray | pa.Array):
        values = values.to_numpy(zero_copy_only=False)
    return shapely.from_wkb(np.asarray(values, dtype=object))


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
    b = bounds[valid]
    return (
        float(b[:, 0].min()),
        float(b[:, 1].min()),
        float(b[:, 2].max()),
        float(b[:, 3].max()),
    )


def hilbert_order(bounds: np.ndarray, extent: Bounds, level: int = 16) -> np.ndarray:
    """Return row positions sorted along a Hilbert curve through the bounding-box centres.

    Rows without a bounding box (None or empty geometries) go last, in their order.
    """
    n = 1 << level
    x = (bounds[:, 0] + bounds[:, 2]) / 2
    y = (bounds[:, 1] + bounds[:, 3]) / 2
    missing = np.isnan(x)
    width = max(extent[2] - extent[0], 1e-300)
    height = max(extent[3] - extent[1], 1e-300)
    with np.errstate(invalid="ignore"):
        xi = np.clip(np.nan_to_num((x - extent[0]) / width * (n - 1)), 0, n - 1).astype(np.int64)
        yi = np.clip(np.nan_to_num((y - extent[1]) / height * (n - 1)), 0, n - 1).astype(np.int64)
    key = np.zeros(len(x), dtype=np.int64)
    s = n >> 1
    while s > 0:
        rx = (xi & s) > 0
        ry = (yi & s) > 0
        key += s * s * ((3 * rx) ^ ry)
        # rotate the quadrant so the curve stays continuous
        flip = ~ry & rx
        xi = np.where(flip, n - 1 - xi, xi)
        yi = np.where(flip, n - 1 - yi, yi)
        swap = ~ry
        xi, yi = np.where(swap, yi, xi), np.where(swap, xi, yi)
        s >>= 1
    key[missing] = np.iinfo(np.int64).max
    return np.argsort(key, kind="stable")


def _geometry_types(geometries: np.ndarray) -> list[str]:
    """GeoParquet ``geometry_types`` of the non-empty geometries present."""
    present = ~(shapely.is_missing(geometries) | shapely.is_empty(geometries))
    if not present.any():
        return []
    kept = geometries[present]
    codes = shapely.get_type_id(kept) * 2 + shapely.has_z(kept)
    names = []
    for code in np.unique(codes):
        names.append(_GEOMETRY_NAMES[int(code) // 2] + (" Z" if code % 2 else ""))
    return sorted(set(names))


# --- writing -----------------------------------------------------------------------------


@dataclass
class Part:
    """One chunk to write: a slice of the snapshot in storage order."""

    seq: int
    row_count: int
    bbox: Bounds | None
    table: pa.Table  # the non-geometry columns (and hidden ones)
    geometries: dict[str, np.ndarray]  # the geometry columns to encode as WKB
    order: list[str]  # column order of the chunk
    crs: dict[str, str | None]  # CRS text by geometry column
    primary: str | None
    start: int = 0  # first storage-order row


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
    """

    row_count: int
    schema: dict[str, Any]
    crs: str | None
    bounds: Bounds | None
    attributes: pa.Table
    geometries: dict[str, np.ndarray]
    active: str | None
    cuts: list[tuple[int, int, Bounds | None]] = field(default_factory=list)
    ordinals: np.ndarray | None = None  # original position of each storage-order row

    def parts(self, *, with_active: bool = True) -> Iterator[Part]:
        """Yield the chunks in order; ``with_active=False`` leaves the active geometry out."""
        geometry_names = [g for g in self.geometries if with_active or g != self.active]
        order = [
            c["name"] for c in self.schema["columns"] if with_active or c["name"] != self.active
        ]
        order += [n for n in self.attributes.column_names if n.startswith(RESERVED_PREFIX)]
        crs = {c["name"]: c["geometry"]["crs"] for c in self.schema["columns"] if "geometry" in c}
        primary = self.active if with_active else (geometry_names[0] if geometry_names else None)
        for seq, (start, stop, bbox) in enumerate(self.cuts):
            yield Part(
                seq=seq,
                row_count=stop - start,
                bbox=bbox,
                table=self.attributes.slice(start, stop - start),
                geometries={g: self.geometries[g][start:stop] for g in geometry_names},
                order=order,
                crs=crs,
                primary=primary,
                start=start,
            )

    def active_rows(self, part: Part) -> tuple[np.ndarray, np.ndarray]:
        """Original positions and geometries of the active column for ``part``'s rows."""
        stop = part.start + part.row_count
        if self.ordinals is None:
            ordinals = np.arange(part.start, stop, dtype=np.int64)
        else:
            ordinals = self.ordinals[part.start : stop]
        return ordinals, self.geometries[self.active][part.start : stop]


def _check_labels(data: pd.DataFrame) -> None:
    if isinstance(data.columns, pd.MultiIndex):
        raise StoreError("columns with several levels cannot be stored; flatten them first")
    labels = list(data.columns)
    bad = [c for c in labels if not isinstance(c, str) or not c]
    if bad:
        raise StoreError(f"column names must be non-empty text; found {bad!r}")
    duplicates = sorted({c for c in labels if labels.count(c) > 1})
    if duplicates:
        raise StoreError(f"column names must be unique; repeated: {', '.join(duplicates)}")
    reserved = [c for c in labels if c.startswith(RESERVED_PREFIX)]
    if reserved:
        raise StoreError(f"column names starting with {RESERVED_PREFIX!r} are reserved: {reserved}")
    names = [n for n in data.index.names if n is not None]
    if any(not isinstance(n, str) for n in names):
        raise StoreError(f"index names must be text or None; found {list(data.index.names)!r}")


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
            plain[name] = series

    index = data.index
    if isinstance(index, pd.RangeIndex):
        index_schema: dict[str, Any] = {
            "range": [index.start, index.step],
            "name": index.name,
        }
    else:
        levels = []
        for i, level_name in enumerate(index.names):
            values = index.get_level_values(i)
            if isinstance(values.dtype, GeometryDtype):
                raise StoreError("an index of geometries cannot be stored; reset the index first")
            label = INDEX_COLUMN.format(i)
            levels.append({"name": level_name, "dtype": dtype_spec(values.dtype, label)})
            plain[label] = pd.Series(values, copy=False).reset_index(drop=True)
        index_schema = {"levels": levels}

    frame = pd.DataFrame(
        {k: v.reset_index(drop=True) for k, v in plain.items()}, index=pd.RangeIndex(n), copy=False
    )
    try:
        attributes = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise StoreError(f"the layer cannot be stored: {exc}") from None

    # Rough WKB size per row so that chunks of big polygons stay a manageable size.
    sizes = np.full(n, 64, dtype=np.int64)
    for geoms in geometries.values():
        sizes += shapely.get_num_coordinates(geoms).astype(np.int64) * 32
    bounds_rows = shapely.bounds(geometries[active]) if active else np.full((n, 4), np.nan)
    extent = _extent(bounds_rows) if active else None

    cuts = _cut(sizes, chunk_rows)
    ordinals = None
    if len(cuts) > 1 and extent is not None:
        order = hilbert_order(bounds_rows, extent)
        if not np.array_equal(order, np.arange(n)):
            ordinals = order.astype(np.int64)
            if attributes.num_columns:
                attributes = attributes.take(pa.array(ordinals)).append_column(
                    ROW_COLUMN, pa.array(ordinals)
                )
            else:
                attributes = pa.table({ROW_COLUMN: pa.array(ordinals)})
            geometries = {g: v[ordinals] for g, v in geometries.items()}
            bounds_rows = bounds_rows[ordinals]
            sizes = sizes[ordinals]
            cuts = _cut(sizes, chunk_rows)

    snapshot = Snapshot(
        row_count=n,
        schema={
            "format": FORMAT,
            "frame": "GeoDataFrame" if spatial else "DataFrame",
            "columns": columns,
            "geometry": active,
            "index": index_schema,
            "row_order": "hilbert" if ordinals is not None else None,
        },
        crs=next((c["geometry"]["crs"] for c in columns if c["name"] == active), None),
        bounds=extent,
        attributes=attributes,
        geometries=geometries,
        active=active,
        ordinals=ordinals,
    )
    snapshot.cuts = [
        (start, stop, _extent(bounds_rows[start:stop]) if active else None) for start, stop in cuts
    ]
    return snapshot


def encode_chunk(part: Part) -> bytes:
    """Encode one chunk as a GeoParquet 1.1 file (WKB geometries) and return its bytes."""
    arrays = []
    geo_columns: dict[str, Any] = {}
    for name in part.order:
        if name in part.geometries:
            geoms = part.geometries[name]
            arrays.append(pa.array(to_wkb(geoms), type=pa.binary()))
            meta: dict[str, Any] = {"encoding": "WKB", "geometry_types": _geometry_types(geoms)}
            crs = part.crs.get(name)
            if crs is not None:
                meta["crs"] = CRS.from_user_input(crs).to_json_dict()
            extent = _extent(shapely.bounds(geoms))
            if extent is not None:
                meta["bbox"] = list(extent)
            geo_columns[name] = meta
        else:
            arrays.append(part.table.column(name))
    table = pa.Table.from_arrays(arrays, names=part.order)
    metadata = dict(part.table.schema.metadata or {})
    if geo_columns:
        metadata[b"geo"] = json.dumps(
            {"version": "1.1.0", "primary_column": part.primary, "columns": geo_columns}
        ).encode()
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
                f"{ref} was written by a newer Jangkau (snapshot format {schema['format']})"
            )
        self.schema = schema
        self.ref = ref
        self.columns = {c["name"]: c for c in schema["columns"]}
        self.active: str | None = schema.get("geometry")
        self.ordered = schema.get("row_order") is not None
        self.selected = list(self.columns)

    @property
    def spatial(self) -> bool:
        """True when the layer has an active geometry column."""
        return self.active is not None

    def select(self, columns: Sequence[str] | None) -> None:
        """Read only ``columns`` (the active geometry is always added)."""
        if columns is None:
            self.selected = list(self.columns)
            return
        if isinstance(columns, str):
            columns = [columns]
        unknown = [c for c in columns if c not in self.columns]
        if unknown:
            raise NotFoundError(
                f"{self.ref} has no column {', '.join(map(repr, unknown))}; "
                f"columns: {', '.join(self.columns)}"
            )
        selected = list(dict.fromkeys(columns))
        if self.active and self.active not in selected:
            selected.append(self.active)
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
        tables = [pq.read_table(pa.BufferReader(blob), columns=names) for blob in blobs]
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
            The active geometry column kept outside the chunks, as original row positions
            (sorted) and shapely geometries.
        """
        if table is None:
            return self._empty()
        geometries: dict[str, np.ndarray] = {}
        for name in self.selected:
            if "geometry" in self.columns[name] and name in table.column_names:
                geometries[name] = from_wkb(table.column(name))
        table = table.drop_columns(list(geometries))

        complete = bbox is None and sum(c[1] for c in chunks) == row_count
        ordinals: np.ndarray | None = None
        if self.ordered:
            ordinals = table.column(ROW_COLUMN).to_numpy()
            table = table.drop_columns([ROW_COLUMN])
        elif not complete or external is not None:
            ordinals = np.concatenate(
                [np.arange(first, first + count, dtype=np.int64) for first, count in chunks]
            )

        if external is not None:
            ext_ordinals, ext_geoms = external
            if bbox is not None:
                keep = bbox_mask(ext_geoms, bbox)
                ext_ordinals, ext_geoms = ext_ordinals[keep], ext_geoms[keep]
            if not complete:
                keep = np.isin(ordinals, ext_ordinals)
                table, ordinals = table.filter(pa.array(keep)), ordinals[keep]
                geometries = {g: v[keep] for g, v in geometries.items()}
        elif bbox is not None:
            keep = bbox_mask(geometries[self.active], bbox)
            table, ordinals = table.filter(pa.array(keep)), ordinals[keep]
            geometries = {g: v[keep] for g, v in geometries.items()}

        if ordinals is not None:
            if complete and self.ordered:
                order = np.empty(row_count, dtype=np.int64)
                order[ordinals] = np.arange(row_count, dtype=np.int64)
            else:
                order = np.argsort(ordinals, kind="stable")
            if not np.array_equal(order, np.arange(len(order))):
                table = table.take(pa.array(order))
                ordinals = ordinals[order]
                geometries = {g: v[order] for g, v in geometries.items()}

        if external is not None:
            if len(ext_ordinals) != table.num_rows or not np.array_equal(ext_ordinals, ordinals):
                raise StoreError(f"{self.ref} is damaged: its geometries and attributes disagree")
            geometries[self.active] = ext_geoms
        if ordinals is not None:
            n = len(ordinals)
        elif geometries:
            n = len(next(iter(geometries.values())))
        else:
            n = table.num_rows
        return self._frame(table, geometries, ordinals, n)

    # -- building the frame ---------------------------------------------------------------

    def _column(self, table: pa.Table, frame: pd.DataFrame, name: str, spec: dict) -> Any:
        """The column ``name`` with exactly its stored dtype."""
        expected = spec_dtype(spec)
        values = frame[name]
        if values.dtype == expected:
            return values.array
        if expected == np.dtype(object):
            column = table.column(name)
            if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                return column.to_numpy(zero_copy_only=False)
            return values.astype(object).array
        return values.astype(expected).array

    def _frame(
        self,
        table: pa.Table,
        geometries: dict[str, np.ndarray],
        ordinals: np.ndarray | None,
        n: int,
    ) -> pd.DataFrame:
        plain = table.to_pandas() if table.num_columns else pd.DataFrame(index=range(n))
        data: dict[str, Any] = {}
        for name in self.selected:
            spec = self.columns[name]
            if "geometry" in spec:
                crs = spec["geometry"]["crs"]
                data[name] = gpd.array.from_shapely(
                    geometries[name], crs=None if crs is None else CRS.from_user_input(crs)
                )
            else:
                data[name] = self._column(table, plain, name, spec["dtype"])
        index = self._index(table, plain, ordinals, n)
        frame = pd.DataFrame(data, index=index, copy=False)
        if self.schema["frame"] == "GeoDataFrame":
            return (
                gpd.GeoDataFrame(frame, geometry=self.active)
                if self.active
                else gpd.GeoDataFrame(frame)
            )
        return frame

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
        data: dict[str, Any] = {}
        for name in self.selected:
            spec = self.columns[name]
            if "geometry" in spec:
                crs = spec["geometry"]["crs"]
                data[name] = gpd.GeoSeries(
                    [], crs=None if crs is None else CRS.from_user_input(crs)
                ).array
            else:
                data[name] = pd.Series([], dtype=spec_dtype(spec["dtype"])).array
        index_spec = self.schema["index"]
        if "range" in index_spec:
            index = pd.Index(np.empty(0, dtype=np.int64), name=index_spec["name"])
        else:
            levels = [
                pd.Index(pd.Series([], dtype=spec_dtype(level["dtype"])), name=level["name"])
                for level in index_spec["levels"]
            ]
            index = levels[0] if len(levels) == 1 else pd.MultiIndex.from_arrays(levels)
        frame = pd.DataFrame(data, index=index, copy=False)
        if self.schema["frame"] == "GeoDataFrame":
            return (
                gpd.GeoDataFrame(frame, geometry=self.active)
                if self.active
                else gpd.GeoDataFrame(frame)
            )
        return frame
