"""The default store: one SQLite file, no server.

Metadata rows and GeoParquet chunks (:mod:`layers.storage.codec`) live in the same file.
The database runs in WAL mode so the web app keeps serving (readers never wait) while the
command line imports (one writer at a time; a second writer waits up to
:data:`BUSY_TIMEOUT_S` seconds). Every write starts with ``BEGIN IMMEDIATE`` so two
writers never deadlock upgrading a read lock.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import StaticPool

from layers.errors import N_, StoreError
from layers.storage import codec
from layers.storage.sql import Bounds, ChunkRef, SQLStore

#: How long a writer waits for another writer to finish, in seconds.
BUSY_TIMEOUT_S = 30
#: Largest WAL file kept after a checkpoint, in bytes (big imports grow it temporarily).
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event below emit BEGIN itself instead of the sqlite3
    # module's implicit transactions, so reads are transactions too (consistent snapshots).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL is a property of the file (kept once set); in memory it stays "memory".
    mode = cursor.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() not in ("wal", "memory"):
        cursor.close()
        raise StoreError(
            N_("the store cannot use write-ahead logging (journal mode %(mode)s)"),
            params={"mode": mode},
        )
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
    cursor.close()


def _on_begin(conn: Connection) -> None:
    mode = "IMMEDIATE" if conn.get_execution_options().get("jangkau_write") else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")


class SQLiteStore(SQLStore):
    """Store in one SQLite file (or in memory for ``sqlite://``).

    Parameters
    ----------
    url : str
        ``sqlite:///relative/path.sqlite``, ``sqlite:////absolute/path.sqlite`` or
        ``sqlite://`` (in memory, for tests). The file's folder is created when missing.
    """

    _write_options: ClassVar[dict[str, Any]] = {"jangkau_write": True}  # BEGIN IMMEDIATE

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        database = parsed.database
        memory = database in (None, "", ":memory:")
        if memory:
            engine = sa.create_engine(
                "sqlite+pysqlite://",
                poolclass=StaticPool,
                connect_args={"check_same_thread": False},
            )
        else:
            path = Path(database).expanduser()
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    N_("cannot create the folder for the store %(path)s: %(reason)s"),
                    params={"path": str(path), "reason": str(exc)},
                ) from exc
            engine = sa.create_engine(
                parsed.set(drivername="sqlite+pysqlite", database=str(path)),
                connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_S},
            )
        sa.event.listen(engine, "connect", _on_connect)
        sa.event.listen(engine, "begin", _on_begin)
        super().__init__(engine, url)
        self.path = None if memory else path

    def _write_features(self, conn: Connection, dataset_id: int, snapshot: codec.Snapshot) -> None:
        # Chunks are encoded on a thread per core (Parquet writing releases the GIL) and
        # inserted in order on this connection, inside the caller's transaction.
        parts = list(snapshot.parts())
        if len(parts) < 2:
            for part in parts:
                self._insert_chunk(conn, dataset_id, part)
            return
        with ThreadPoolExecutor(min(len(parts), os.cpu_count() or 1)) as pool:
            for part, data in zip(parts, pool.map(codec.encode_chunk, parts), strict=True):
                self._insert_chunk(conn, dataset_id, part, data)

    def _read_features(
        self,
        conn: Connection,
        row: Any,
        reader: codec.Reader,
        refs: list[ChunkRef],
        bbox: Bounds | None,
    ) -> pd.DataFrame:
        blobs = self._fetch_chunks(conn, row.id, refs)
        table = reader.decode(blobs)
        return reader.restore(
            table,
            [(r.first_row, r.row_count) for r in refs],
            row_count=row.row_count,
            bbox=bbox,
        )
