"""The PostGIS store, chosen by a ``postgresql://`` URL (``GEOAPP_DATABASE_URL``).

Same tables as the SQLite store (:mod:`layers.storage.tables`), plus one table of features
per spatial dataset version, ``features_<dataset id>`` (``row_ord bigint primary key, geom
geometry`` with a GiST index), so the geometries are real PostGIS geometries that SQL and
desktop GIS can query. The attribute columns stay in GeoParquet chunks (``dataset_chunks``)
so their dtypes come back exactly; ``row_ord`` is the row's position in the layer as written
and ties the two.

Geometries go in with ``ST_GeomFromWKB`` (loaded through a binary ``COPY``) and come back
with ``ST_AsBinary`` (ISO WKB, the same bytes the SQLite store keeps). Both directions pack
and unpack the rows with NumPy, never a Python loop per feature. The driver is psycopg 3.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url

from layers.errors import N_, StoreError
from layers.storage import codec
from layers.storage.sql import Bounds, ChunkRef, SQLStore
from layers.storage.tables import COMMON_TABLES, metadata

#: Bytes of WKB fetched per query when reading geometries (PostgreSQL values stop at 1 GB).
READ_BATCH_BYTES = 256 * 1024 * 1024

_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8  # signature, flags, header extension
_COPY_ROW = np.dtype([("fields", ">i2"), ("len1", ">i4"), ("row_ord", ">i8"), ("len2", ">i4")])


def features_table(dataset_id: int) -> str:
    """Name of the table holding the geometries of dataset version ``dataset_id``."""
    return f"features_{int(dataset_id)}"


def pack_copy(row_ords: np.ndarray, wkb: pa.Array | pa.ChunkedArray) -> bytes:
    """Pack ``(row_ord bigint, wkb bytea)`` rows in PostgreSQL's binary ``COPY`` format.

    Parameters
    ----------
    row_ords : numpy.ndarray of int64
        Row positions.
    wkb : pyarrow binary array
        WKB per row; null for a missing geometry.
    """
    if isinstance(wkb, pa.ChunkedArray):
        wkb = wkb.combine_chunks() if wkb.num_chunks else pa.array([], type=pa.binary())
    n = len(wkb)
    heads = np.empty(n, dtype=_COPY_ROW)
    heads["fields"] = 2
    heads["len1"] = 8
    heads["row_ord"] = row_ords
    lengths = pc.binary_length(wkb).to_numpy(zero_copy_only=False)
    heads["len2"] = np.nan_to_num(lengths, nan=-1).astype(np.int64)
    # Each row is its fixed header followed by its WKB (nothing for a null geometry):
    # join them element-wise and the values of the result are the COPY body.
    width = _COPY_ROW.itemsize
    head_offsets = (np.arange(n + 1, dtype=np.int64) * width).astype(np.int32)
    head_array = pa.Array.from_buffers(
        pa.binary(), n, [None, pa.py_buffer(head_offsets), pa.py_buffer(heads.tobytes())]
    )
    rows = pc.binary_join_element_wise(
        head_array, wkb, b"", null_handling="replace", null_replacement=b""
    )
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32, count=n + 1, offset=rows.offset * 4)
    body = rows.buffers()[2][offsets[0] : offsets[-1]] if n else b""
    return b"".join([_COPY_SIGNATURE, memoryview(body), b"\xff\xff"])


def unpack_wkb(row_ords: bytes, lengths: bytes, data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Decode packed ``int8send``/``int4send`` values and concatenated WKB into geometries."""
    ords = np.frombuffer(row_ords, dtype=">i8").astype(np.int64)
    sizes = np.frombuffer(lengths, dtype=">i4").astype(np.int64)
    valid = sizes >= 0
    offsets = np.concatenate([[0], np.cumsum(np.where(valid, sizes, 0))]).astype(np.int32)
    array = pa.Array.from_buffers(
        pa.binary(), len(sizes), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    values = array.to_numpy(zero_copy_only=False)
    values[~valid] = None
    return ords, codec.from_wkb(values)


# The three aggregates see the rows in the same order (one scan), so they line up.
_SELECT_PACKED = (
    "SELECT string_agg(int8send(row_ord), ''::bytea), "
    "string_agg(int4send(coalesce(length(wkb), -1)), ''::bytea), "
    "string_agg(wkb, ''::bytea) "
    "FROM (SELECT row_ord, ST_AsBinary(geom) AS wkb FROM {table} "
    "WHERE row_ord >= :low AND row_ord < :high{bbox}) AS rows"
)
_IN_BBOX = " AND geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, :srid)"


class PostGISStore(SQLStore):
    """Store in a PostgreSQL database with the PostGIS extension.

    Parameters
    ----------
    url : str
        ``postgresql://user:password@host:port/database`` (``postgres://`` and
        ``postgresql+psycopg://`` are accepted too).
    """

    # Reads see one snapshot across their statements; writes lock their workspace row.
    _read_options: ClassVar[dict[str, Any]] = {"isolation_level": "REPEATABLE READ"}
    _write_options: ClassVar[dict[str, Any]] = {"isolation_level": "READ COMMITTED"}

    def __init__(self, url: str) -> None:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise StoreError(
                N_("PostGIS support needs the psycopg package: pip install 'psycopg[binary]'")
            ) from None
        # postgres://, postgis:// and postgresql+driver:// all mean PostgreSQL through psycopg 3
        parsed = make_url(f"postgresql+psycopg://{url.split('://', 1)[1]}")
        engine = sa.create_engine(parsed, pool_pre_ping=True)
        super().__init__(engine, url)

    def _create_tables(self, conn: Connection) -> None:
        present = conn.exec_driver_sql(
            "SELECT 1 FROM pg_extension WHERE extname = 'postgis'"
        ).scalar()
        if not present:
            try:
                with conn.begin_nested():
                    conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
            except sa.exc.SQLAlchemyError as exc:
                database = self.engine.url.database
                raise StoreError(
                    N_(
                        "PostGIS support needs the postgis extension in database %(database)r; "
                        "ask an administrator to run: CREATE EXTENSION postgis; (%(reason)s)"
                    ),
                    params={"database": database, "reason": str(exc.orig)},
                ) from exc
        metadata.create_all(conn, tables=list(COMMON_TABLES))

    def _write_features(self, conn: Connection, dataset_id: int, snapshot: codec.Snapshot) -> None:
        if snapshot.active is None:
            for part in snapshot.parts():
                self._insert_chunk(conn, dataset_id, part)
            return
        table = features_table(dataset_id)
        conn.exec_driver_sql(
            "CREATE TEMP TABLE jangkau_staging (row_ord bigint, wkb bytea) ON COMMIT DROP"
        )
        raw = conn.connection.driver_connection
        for part in snapshot.parts(with_active=False):
            self._insert_chunk(conn, dataset_id, part)
            packed = pack_copy(*snapshot.active_rows(part))
            with (
                raw.cursor() as cursor,
                cursor.copy(
                    "COPY jangkau_staging (row_ord, wkb) FROM STDIN (FORMAT binary)"
                ) as copy,
            ):
                copy.write(packed)
        # Loading first and indexing after is several times faster than indexing row by row.
        conn.exec_driver_sql(f"CREATE TABLE {table} (row_ord bigint NOT NULL, geom geometry)")
        conn.execute(
            sa.text(
                f"INSERT INTO {table} (row_ord, geom) "
                f"SELECT row_ord, ST_GeomFromWKB(wkb, :srid) FROM jangkau_staging ORDER BY row_ord"
            ),
            {"srid": codec.crs_srid(snapshot.crs)},
        )
        conn.exec_driver_sql(f"ALTER TABLE {table} ADD PRIMARY KEY (row_ord)")
        conn.exec_driver_sql(f"CREATE INDEX {table}_geom ON {table} USING gist (geom)")
        conn.exec_driver_sql("DROP TABLE jangkau_staging")

    def _read_geometries(
        self, conn: Connection, row: Any, bbox: Bounds | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Row positions (ascending) and geometries of a version, optionally within ``bbox``."""
        params: dict[str, Any] = {}
        if bbox is not None:
            params.update(zip(("minx", "miny", "maxx", "maxy"), bbox, strict=True))
            params["srid"] = codec.crs_srid(row.crs)
        query = sa.text(
            _SELECT_PACKED.format(
                table=features_table(row.id), bbox=_IN_BBOX if bbox is not None else ""
            )
        )
        wkb_bytes = json.loads(row.schema_json).get("wkb_bytes", 0)
        average = max(wkb_bytes / max(row.row_count, 1), 1.0)
        batch = max(1000, int(READ_BATCH_BYTES / average))
        ords, geoms = [], []
        for low in range(0, max(row.row_count, 1), batch):
            params.update(low=low, high=low + batch)
            packed = conn.execute(query, params).one()
            if packed[0] is None:
                continue
            # every geometry of the batch missing: string_agg of NULLs is NULL
            batch_ords, batch_geoms = unpack_wkb(packed[0], packed[1], packed[2] or b"")
            ords.append(batch_ords)
            geoms.append(batch_geoms)
        if not ords:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=object)
        row_ords, geometries = np.concatenate(ords), np.concatenate(geoms)
        if np.any(row_ords[1:] < row_ords[:-1]):
            order = np.argsort(row_ords, kind="stable")
            row_ords, geometries = row_ords[order], geometries[order]
        return row_ords, geometries

    def _read_features(
        self,
        conn: Connection,
        row: Any,
        reader: codec.Reader,
        refs: list[ChunkRef],
        bbox: Bounds | None,
    ) -> pd.DataFrame:
        chunks = [(r.first_row, r.row_count) for r in refs]
        if not reader.spatial:
            table = reader.decode(self._fetch_chunks(conn, row.id, refs))
            return reader.restore(table, chunks, row_count=row.row_count)
        if not refs:
            return reader.restore(None, chunks, row_count=row.row_count, bbox=bbox)
        table = reader.decode(self._fetch_chunks(conn, row.id, refs), with_active=False)
        return reader.restore(
            table,
            chunks,
            row_count=row.row_count,
            bbox=bbox,
            external=self._read_geometries(conn, row, bbox),
        )

    def _delete_features(self, conn: Connection, dataset_ids: sa.Select) -> None:
        for dataset_id in conn.execute(dataset_ids).scalars():
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {features_table(dataset_id)}")
