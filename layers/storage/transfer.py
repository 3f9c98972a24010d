"""Copying one workspace between a store and a backup file, table by table.

The functions here work on a :class:`~layers.storage.sql.SQLStore` (SQLite or PostGIS)
through its engine, its transactions and the tables of :mod:`layers.storage.tables`;
:mod:`layers.backup` is the public interface built on them.

A backup file is a SQLite database with these tables:

``backup_manifest``
    ``key``/``value`` pairs: ``format`` (:data:`FORMAT_NAME`), ``format_version``,
    ``jangkau_version``, ``workspace``, ``created_at``, ``created_by``, ``source_store``
    (``sqlite`` or ``postgis``), ``counts`` (rows per table, JSON) and ``digest`` (see
    :func:`file_digest`).
``workspace``
    The workspace's one row (name, title, description, created_at).
``datasets``, ``dataset_chunks``
    Every dataset version with its metadata, report and schema, and its chunks: complete
    GeoParquet files with the geometry column (as the SQLite store keeps them, whatever the
    source backend) or, for rasters, the pieces of the GeoTIFF.
``records``
    Every record version, its body as the JSON text stored.
``audit``
    The workspace's rows of the audit trail, with their times and actors.

Times are ISO 8601 text in UTC. The ids in the file are the file's own (1, 2, 3, ...), not
the source store's.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import struct
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from layers.errors import N_, InputError, StoreError
from layers.storage import codec
from layers.storage.tables import (
    ACCOUNTS_LAYOUT,
    RECORDS_LAYOUT,
    audit_table,
    chunks_table,
    datasets_table,
    records_table,
    utc,
    workspaces_table,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from layers.storage.sql import SQLStore

__all__ = [
    "FILE_TABLES",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "file_digest",
    "open_backup",
    "restore_from",
    "store_digest",
    "write_backup",
]

#: The ``format`` value of every backup file's manifest.
FORMAT_NAME = "jangkau-workspace-backup"
#: The version of the file layout this Jangkau writes and reads (newer files are refused).
FORMAT_VERSION = 1
#: The data tables of a backup file, in the order the digest reads them.
FILE_TABLES = ("workspace", "datasets", "dataset_chunks", "records", "audit")
#: Audit actions that describe where a copy came from rather than the workspace's content;
#: :func:`store_digest` leaves them out so a restored copy has the digest of its original.
RESTORE_ACTION = "restore"
#: Keys of a snapshot's schema that describe how the chunks are laid out, not the data.
_LAYOUT_KEYS = ("format", "row_order", "wkb_bytes")

_FILE_SCHEMA = """
CREATE TABLE backup_manifest (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE workspace (
    name TEXT NOT NULL, title TEXT NOT NULL, description TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE datasets (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL,
    source_name TEXT, source_sha256 TEXT, created_at TEXT NOT NULL, created_by TEXT,
    row_count INTEGER NOT NULL, counts_json TEXT NOT NULL, report_json TEXT NOT NULL,
    crs TEXT, minx REAL, miny REAL, maxx REAL, maxy REAL, note TEXT NOT NULL,
    schema_json TEXT NOT NULL, UNIQUE (name, version)
);
CREATE TABLE dataset_chunks (
    dataset_id INTEGER NOT NULL REFERENCES datasets (id), seq INTEGER NOT NULL,
    row_count INTEGER NOT NULL, minx REAL, miny REAL, maxx REAL, maxy REAL,
    data BLOB NOT NULL, PRIMARY KEY (dataset_id, seq)
);
CREATE TABLE records (
    id INTEGER PRIMARY KEY, collection TEXT NOT NULL, name TEXT NOT NULL,
    version INTEGER NOT NULL, body_json TEXT NOT NULL, created_at TEXT NOT NULL,
    created_by TEXT, note TEXT NOT NULL, UNIQUE (collection, name, version)
);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT, action TEXT NOT NULL,
    target_kind TEXT NOT NULL, target TEXT NOT NULL, summary TEXT NOT NULL,
    before_json TEXT, after_json TEXT
);
"""

_DATASET_COLUMNS = (
    "kind",
    "name",
    "version",
    "source_name",
    "source_sha256",
    "created_at",
    "created_by",
    "row_count",
    "counts_json",
    "report_json",
    "crs",
    "minx",
    "miny",
    "maxx",
    "maxy",
    "note",
    "schema_json",
)
_RECORD_COLUMNS = ("collection", "name", "version", "body_json", "created_at", "created_by", "note")
_AUDIT_COLUMNS = (
    "at",
    "actor",
    "action",
    "target_kind",
    "target",
    "summary",
    "before_json",
    "after_json",
)
#: Primary key order of each file table, for the digest.
_FILE_ORDER = {
    "workspace": "rowid",
    "datasets": "id",
    "dataset_chunks": "dataset_id, seq",
    "records": "id",
    "audit": "id",
}


def _when(value: datetime) -> str:
    """A stored time as ISO 8601 text in UTC, with microseconds."""
    return utc(value).isoformat(timespec="microseconds")


def _feed(digest: Any, *values: Any) -> None:
    """Add typed, length-prefixed values to a hash (so no two listings can collide)."""
    for value in values:
        if value is None:
            digest.update(b"N")
        elif isinstance(value, bool):
            digest.update(b"T" if value else b"F")
        elif isinstance(value, int):
            text = str(value).encode()
            digest.update(b"I" + struct.pack(">I", len(text)) + text)
        elif isinstance(value, float):
            digest.update(b"D" + struct.pack(">d", value))
        elif isinstance(value, str):
            data = value.encode("utf-8")
            digest.update(b"S" + struct.pack(">Q", len(data)) + data)
        elif isinstance(value, bytes | bytearray | memoryview):
            data = bytes(value)
            digest.update(b"B" + struct.pack(">Q", len(data)) + data)
        else:
            raise TypeError(f"cannot digest {type(value).__name__}")


def _canonical_json(text: str | None) -> str | None:
    """JSON text with sorted keys (key order of reports and audit values is not content)."""
    if text is None:
        return None
    return json.dumps(json.loads(text), sort_keys=True, ensure_ascii=False)


def _content_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A snapshot's schema without the keys that only describe the chunk layout."""
    return {k: v for k, v in schema.items() if k not in _LAYOUT_KEYS}


# --- reading a store -----------------------------------------------------------------------


def _dataset_rows(conn: Connection, workspace_id: int) -> list[Any]:
    return conn.execute(
        sa.select(datasets_table)
        .where(datasets_table.c.workspace_id == workspace_id)
        .order_by(datasets_table.c.name, datasets_table.c.version)
    ).all()


def _chunk_rows(conn: Connection, dataset_id: int) -> Iterator[Any]:
    """The stored chunks of a version in order, fetched one at a time (they may be large)."""
    seqs = conn.execute(
        sa.select(chunks_table.c.seq)
        .where(chunks_table.c.dataset_id == dataset_id)
        .order_by(chunks_table.c.seq)
    ).scalars()
    for seq in list(seqs):
        yield conn.execute(
            sa.select(chunks_table)
            .where(chunks_table.c.dataset_id == dataset_id)
            .where(chunks_table.c.seq == seq)
        ).one()


def _read_frame(store: SQLStore, conn: Connection, row: Any, workspace: str) -> Any:
    """Read a whole (non-raster) version through the store's own reader."""
    reader = codec.Reader(json.loads(row.schema_json), ref=f"{workspace}/{row.name}@{row.version}")
    refs = store._chunk_refs(conn, row.id)
    return _as_stored(store._read_features(conn, row, reader, refs, None), reader.schema)


def _as_stored(frame: Any, schema: dict[str, Any]) -> Any:
    """``frame`` with its index levels in the dtypes of ``schema``.

    pandas 3 infers a ``str`` dtype for an index rebuilt from an array of text, so a level
    stored as ``object`` can come back as ``str``; a copy must keep the stored dtype.
    """
    levels = schema.get("index", {}).get("levels")
    if not levels:
        return frame
    wanted = [codec.spec_dtype(level["dtype"]) for level in levels]
    current = [frame.index.get_level_values(i) for i in range(len(levels))]
    if all(level.dtype == dtype for level, dtype in zip(current, wanted, strict=True)):
        return frame
    fixed = [
        pd.Index(np.asarray(level, dtype=object), dtype=object, name=level.name)
        if dtype == np.dtype(object)
        else level.astype(dtype)
        for level, dtype in zip(current, wanted, strict=True)
    ]
    frame = frame.copy(deep=False)
    frame.index = fixed[0] if len(fixed) == 1 else pd.MultiIndex.from_arrays(fixed)
    return frame


def _chunks_hold_geometry(blob: bytes, active: str) -> bool:
    """Whether a stored chunk has the active geometry column (PostGIS keeps it apart)."""
    return active in pq.read_schema(pa.BufferReader(blob)).names


def _full_chunks(
    store: SQLStore, conn: Connection, row: Any, workspace: str
) -> Iterator[tuple[int, int, codec.Bounds | None, bytes]]:
    """``(seq, row_count, bbox, data)`` of a version's chunks, each a complete GeoParquet
    file with its geometry column; rebuilt from the features when the backend keeps the
    geometries apart."""
    schema = json.loads(row.schema_json)
    active = schema.get("geometry")
    if row.kind != "raster" and active is not None:
        first = conn.execute(
            sa.select(chunks_table.c.data)
            .where(chunks_table.c.dataset_id == row.id)
            .order_by(chunks_table.c.seq)
            .limit(1)
        ).scalar()
        if first is not None and not _chunks_hold_geometry(first, active):
            frame = _read_frame(store, conn, row, workspace)
            snapshot = codec.prepare(frame, chunk_rows=store.chunk_rows)
            if _content_schema(snapshot.schema) != _content_schema(schema):
                raise StoreError(
                    N_("%(ref)s cannot be copied exactly: its stored schema does not match"),
                    params={"ref": f"{workspace}/{row.name}@{row.version}"},
                )
            for part in snapshot.parts():
                yield part.seq, part.row_count, part.bbox, codec.encode_chunk(part)
            return
    for chunk in _chunk_rows(conn, row.id):
        box = None if chunk.minx is None else (chunk.minx, chunk.miny, chunk.maxx, chunk.maxy)
        yield chunk.seq, chunk.row_count, box, bytes(chunk.data)


def _record_rows(store: SQLStore, conn: Connection, workspace_id: int) -> list[Any]:
    if (store._layout or 0) < RECORDS_LAYOUT:
        return []
    return conn.execute(
        sa.select(records_table)
        .where(records_table.c.workspace_id == workspace_id)
        .order_by(records_table.c.collection, records_table.c.name, records_table.c.version)
    ).all()


def _audit_rows(store: SQLStore, conn: Connection, workspace: str) -> list[Any]:
    if (store._layout or 0) < ACCOUNTS_LAYOUT:
        return []
    return conn.execute(
        sa.select(audit_table)
        .where(audit_table.c.workspace == workspace)
        .order_by(audit_table.c.at, audit_table.c.id)
    ).all()


def store_kind(store: SQLStore) -> str:
    """``"postgis"`` or ``"sqlite"``: the backend of ``store``."""
    return "postgis" if store.engine.dialect.name == "postgresql" else "sqlite"


# --- writing a backup ----------------------------------------------------------------------


def write_backup(
    store: SQLStore,
    workspace: str,
    path: Path,
    *,
    actor: str | None,
    jangkau_version: str,
) -> dict[str, Any]:
    """Write workspace ``workspace`` of ``store`` into a new backup file at ``path``.

    Everything is read in one read transaction of the store (a consistent snapshot even
    while others write). ``path`` must be a fresh file (the caller writes to a temporary
    path and renames it).

    Returns
    -------
    dict
        The manifest written (``counts`` and ``digest`` included).
    """
    created_at = datetime.now(UTC)
    with closing(sqlite3.connect(path, isolation_level=None)) as out:
        # A fresh temporary file: no journal is needed (a failure discards the whole file),
        # but the data reach the disk at COMMIT, before the file is renamed into place.
        out.execute("PRAGMA journal_mode = OFF")
        out.execute("PRAGMA synchronous = FULL")
        out.execute("BEGIN")
        for statement in _FILE_SCHEMA.split(";"):
            if statement.strip():
                out.execute(statement)
        counts = dict.fromkeys(FILE_TABLES, 0)
        with store._transaction() as conn:
            ws = store._workspace_row(conn, workspace)
            out.execute(
                "INSERT INTO workspace VALUES (?, ?, ?, ?)",
                (ws.name, ws.title, ws.description or "", _when(ws.created_at)),
            )
            counts["workspace"] = 1
            for file_id, row in enumerate(_dataset_rows(conn, ws.id), start=1):
                values = [getattr(row, c) for c in _DATASET_COLUMNS]
                values[_DATASET_COLUMNS.index("created_at")] = _when(row.created_at)
                out.execute(
                    f"INSERT INTO datasets (id, {', '.join(_DATASET_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * (len(_DATASET_COLUMNS) + 1))})",
                    (file_id, *values),
                )
                counts["datasets"] += 1
                for seq, row_count, box, data in _full_chunks(store, conn, row, workspace):
                    bounds = box if box is not None else (None, None, None, None)
                    out.execute(
                        "INSERT INTO dataset_chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (file_id, seq, row_count, *bounds, data),
                    )
                    counts["dataset_chunks"] += 1
            for file_id, row in enumerate(_record_rows(store, conn, ws.id), start=1):
                values = [getattr(row, c) for c in _RECORD_COLUMNS]
                values[_RECORD_COLUMNS.index("created_at")] = _when(row.created_at)
                out.execute(
                    f"INSERT INTO records (id, {', '.join(_RECORD_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * (len(_RECORD_COLUMNS) + 1))})",
                    (file_id, *values),
                )
                counts["records"] += 1
            for file_id, row in enumerate(_audit_rows(store, conn, workspace), start=1):
                values = [getattr(row, c) for c in _AUDIT_COLUMNS]
                values[0] = _when(row.at)
                out.execute(
                    f"INSERT INTO audit (id, {', '.join(_AUDIT_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * (len(_AUDIT_COLUMNS) + 1))})",
                    (file_id, *values),
                )
                counts["audit"] += 1
        manifest: dict[str, Any] = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "jangkau_version": jangkau_version,
            "workspace": workspace,
            "created_at": _when(created_at),
            "created_by": actor,
            "source_store": store_kind(store),
            "counts": counts,
        }
        out.executemany(
            "INSERT INTO backup_manifest VALUES (?, ?)",
            [(key, json.dumps(value)) for key, value in manifest.items()],
        )
        manifest["digest"] = _digest_connection(out)
        out.execute(
            "INSERT INTO backup_manifest VALUES (?, ?)", ("digest", json.dumps(manifest["digest"]))
        )
        out.execute("COMMIT")
    return manifest


# --- checking a backup ---------------------------------------------------------------------


def _digest_connection(conn: sqlite3.Connection) -> str:
    """SHA-256 over a backup file's manifest (but its digest) and data tables, in order."""
    digest = hashlib.sha256()
    for key, value in conn.execute(
        "SELECT key, value FROM backup_manifest WHERE key != 'digest' ORDER BY key"
    ):
        _feed(digest, "manifest", key, value)
    for table in FILE_TABLES:
        _feed(digest, "table", table)
        cursor = conn.execute(f"SELECT * FROM {table} ORDER BY {_FILE_ORDER[table]}")
        for row in cursor:
            _feed(digest, "row", *row)
    return digest.hexdigest()


def file_digest(path: str | Path) -> str:
    """The content digest of the backup file at ``path``, computed from what it holds now.

    A file whose manifest ``digest`` differs from this was changed or damaged after it
    was written.
    """
    with closing(sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)) as conn:
        return _digest_connection(conn)


@dataclass
class BackupFile:
    """A validated backup file, open for reading."""

    path: Path
    conn: sqlite3.Connection
    manifest: dict[str, Any]


def _bad(path: Path, template: str, **params: Any) -> InputError:
    return InputError(template, file=str(path), params=params)


def open_backup(path: str | Path) -> BackupFile:
    """Open and check a backup file before anything is restored from it.

    Checks that it is a SQLite database with a Jangkau manifest, of a format this Jangkau
    reads, with every table, the row counts of its manifest and a matching digest.

    Raises
    ------
    InputError
        Naming the file and what is wrong with it.
    """
    path = Path(path)
    if not path.is_file():
        raise _bad(path, N_("no such backup file"))
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise _bad(path, N_("cannot open the backup file: %(reason)s"), reason=str(exc)) from None
    try:
        manifest = _check(path, conn)
    except BaseException:
        conn.close()
        raise
    return BackupFile(path=path, conn=conn, manifest=manifest)


def _check(path: Path, conn: sqlite3.Connection) -> dict[str, Any]:
    try:
        tables = {
            name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
    except sqlite3.DatabaseError as exc:
        raise _bad(
            path, N_("not a Jangkau backup (not a SQLite database: %(reason)s)"), reason=str(exc)
        ) from None
    if "backup_manifest" not in tables:
        raise _bad(path, N_("not a Jangkau backup: it has no backup_manifest table"))
    try:
        manifest = {
            key: json.loads(value)
            for key, value in conn.execute("SELECT key, value FROM backup_manifest")
        }
    except (sqlite3.DatabaseError, ValueError) as exc:
        raise _bad(
            path, N_("the backup's manifest cannot be read: %(reason)s"), reason=str(exc)
        ) from None
    if manifest.get("format") != FORMAT_NAME:
        raise _bad(
            path,
            N_("not a Jangkau backup: its manifest's format is %(found)r, not %(expected)r"),
            found=manifest.get("format"),
            expected=FORMAT_NAME,
        )
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _bad(path, N_("the backup's manifest has no valid format_version"))
    if version > FORMAT_VERSION:
        raise _bad(
            path,
            N_(
                "the backup has format version %(found)s, newer than this Jangkau reads "
                "(%(known)s); it was written by Jangkau %(jangkau)s: upgrade Jangkau"
            ),
            found=version,
            known=FORMAT_VERSION,
            jangkau=manifest.get("jangkau_version"),
        )
    missing = [t for t in FILE_TABLES if t not in tables]
    missing += [k for k in ("workspace", "counts", "digest") if k not in manifest]
    if missing:
        raise _bad(
            path,
            N_("the backup is incomplete: it lacks %(missing)s"),
            missing=", ".join(missing),
        )
    try:
        integrity = conn.execute("PRAGMA quick_check").fetchall()
        if integrity != [("ok",)]:
            raise sqlite3.DatabaseError("; ".join(str(r[0]) for r in integrity[:5]))
        found = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in FILE_TABLES}
        digest = _digest_connection(conn)
    except sqlite3.DatabaseError as exc:
        raise _bad(
            path,
            N_("the backup file is damaged (truncated or changed): %(reason)s"),
            reason=str(exc),
        ) from None
    counts = manifest["counts"]
    wrong = [
        f"{t} {found[t]} (manifest: {counts.get(t) if isinstance(counts, dict) else None})"
        for t in FILE_TABLES
        if not isinstance(counts, dict) or counts.get(t) != found[t]
    ]
    if wrong:
        raise _bad(
            path,
            N_("the backup's row counts do not match its manifest: %(tables)s"),
            tables=", ".join(wrong),
        )
    if found["workspace"] != 1:
        raise _bad(path, N_("the backup must hold exactly one workspace row"))
    if digest != manifest["digest"]:
        raise _bad(
            path,
            N_(
                "the backup's content digest does not match its manifest (the file was "
                "changed or damaged after it was written): found %(found)s, expected "
                "%(expected)s"
            ),
            found=digest,
            expected=manifest["digest"],
        )
    return manifest


# --- restoring -----------------------------------------------------------------------------


def _parse_time(value: str) -> datetime:
    return utc(datetime.fromisoformat(value))


def _delete_workspace_content(store: SQLStore, conn: Connection, workspace_id: int) -> None:
    """Delete a workspace's datasets, features, chunks, records and row (not its audit)."""
    dataset_ids = sa.select(datasets_table.c.id).where(
        datasets_table.c.workspace_id == workspace_id
    )
    store._delete_features(conn, dataset_ids)
    conn.execute(chunks_table.delete().where(chunks_table.c.dataset_id.in_(dataset_ids)))
    conn.execute(datasets_table.delete().where(datasets_table.c.workspace_id == workspace_id))
    store._delete_records(conn, workspace_id)
    conn.execute(workspaces_table.delete().where(workspaces_table.c.id == workspace_id))


def _file_chunks(backup: BackupFile, file_id: int) -> Iterator[sqlite3.Row | tuple]:
    yield from backup.conn.execute(
        "SELECT seq, row_count, minx, miny, maxx, maxy, data FROM dataset_chunks "
        "WHERE dataset_id = ? ORDER BY seq",
        (file_id,),
    )


def _decode(backup: BackupFile, file_id: int, values: dict[str, Any], ref: str) -> Any:
    """The frame of a backed-up version, decoded from its chunks."""
    try:
        schema = json.loads(values["schema_json"])
        reader = codec.Reader(schema, ref=ref)
        chunks, blobs, first = [], [], 0
        for _seq, row_count, *_box, data in _file_chunks(backup, file_id):
            chunks.append((first, row_count))
            blobs.append(data)
            first += row_count
        table = reader.decode(blobs)
        frame = _as_stored(reader.restore(table, chunks, row_count=values["row_count"]), schema)
        if len(frame) != values["row_count"]:
            raise ValueError(f"{len(frame)} rows instead of {values['row_count']}")
        return schema, frame
    except StoreError:
        raise
    except (ValueError, TypeError, KeyError, OSError, pa.ArrowException) as exc:
        raise _bad(
            backup.path,
            N_("%(ref)s in the backup cannot be decoded: %(reason)s; nothing was restored"),
            ref=ref,
            reason=str(exc),
        ) from None


def _audit_key(values: dict[str, Any]) -> tuple:
    return (
        _when(values["at"]),
        values["actor"],
        values["action"],
        values["target_kind"],
        values["target"],
        values["summary"],
        values["before_json"],
        values["after_json"],
    )


def restore_from(
    store: SQLStore,
    backup: BackupFile,
    *,
    workspace: str,
    replace: bool,
    actor: str | None,
) -> dict[str, Any]:
    """Restore a checked backup into ``store`` as ``workspace``, in ONE write transaction.

    Returns
    -------
    dict
        ``workspace``, ``replaced``, ``datasets``, ``chunks``, ``records``, ``audit``
        (audit rows restored) and ``audit_present`` (rows already in the store, skipped).
    """
    if not store._initialised:
        store._check_initialised()
    if (store._layout or 0) < ACCOUNTS_LAYOUT:
        raise StoreError(
            N_(
                "the store %(store)s has table layout %(found)s; run init (the command "
                "line's init command) before restoring a backup into it"
            ),
            params={"store": repr(store), "found": store._layout},
        )
    name, title, description, created_at = backup.conn.execute(
        "SELECT name, title, description, created_at FROM workspace"
    ).fetchone()
    summary: dict[str, Any] = {
        "workspace": workspace,
        "from_workspace": name,
        "replaced": False,
        "datasets": 0,
        "chunks": 0,
        "records": 0,
        "audit": 0,
        "audit_present": 0,
    }
    with store._transaction(write=True) as conn:
        query = sa.select(workspaces_table).where(workspaces_table.c.name == workspace)
        existing = conn.execute(query.with_for_update()).first()
        if existing is not None:
            if not replace:
                raise StoreError(
                    N_(
                        "workspace %(workspace)r already exists; restore under another name "
                        "or replace it (replace=True, the command line's --replace)"
                    ),
                    params={"workspace": workspace},
                )
            _delete_workspace_content(store, conn, existing.id)
            summary["replaced"] = True
        workspace_id = conn.execute(
            workspaces_table.insert().values(
                name=workspace,
                title=title,
                description=description,
                created_at=_parse_time(created_at),
            )
        ).inserted_primary_key[0]
        _restore_datasets(store, conn, backup, workspace, workspace_id, summary)
        _restore_records(conn, backup, workspace_id, summary)
        _restore_audit(conn, backup, workspace, summary)
        manifest = dict(backup.manifest)
        conn.execute(
            audit_table.insert().values(
                at=datetime.now(UTC),
                actor=actor,
                workspace=workspace,
                action=RESTORE_ACTION,
                target_kind="workspace",
                target=workspace,
                summary=(
                    f"workspace {workspace} restored from {backup.path.name} (backup of "
                    f"{name} made {manifest.get('created_at')}): {summary['datasets']} "
                    f"dataset versions, {summary['records']} record versions, "
                    f"{summary['audit']} audit entries"
                    + ("; the previous content was replaced" if summary["replaced"] else "")
                ),
                before_json=None,
                after_json=json.dumps(
                    {
                        "file": backup.path.name,
                        "manifest": manifest,
                        "replaced": summary["replaced"],
                    },
                    ensure_ascii=False,
                ),
            )
        )
    return summary


def _restore_datasets(
    store: SQLStore,
    conn: Connection,
    backup: BackupFile,
    workspace: str,
    workspace_id: int,
    summary: dict[str, Any],
) -> None:
    columns = ", ".join(("id", *_DATASET_COLUMNS))
    rows = backup.conn.execute(f"SELECT {columns} FROM datasets ORDER BY name, version").fetchall()
    for file_id, *fields in rows:
        values = dict(zip(_DATASET_COLUMNS, fields, strict=True))
        values["created_at"] = _parse_time(values["created_at"])
        ref = f"{workspace}/{values['name']}@{values['version']}"
        if values["kind"] == "raster":
            dataset_id = _insert_version(conn, workspace_id, values)
            for seq, row_count, minx, miny, maxx, maxy, data in _file_chunks(backup, file_id):
                conn.execute(
                    chunks_table.insert().values(
                        dataset_id=dataset_id,
                        seq=seq,
                        row_count=row_count,
                        minx=minx,
                        miny=miny,
                        maxx=maxx,
                        maxy=maxy,
                        data=data,
                    )
                )
                summary["chunks"] += 1
        else:
            schema, frame = _decode(backup, file_id, values, ref)
            snapshot = codec.prepare(frame, chunk_rows=store.chunk_rows)
            if _content_schema(snapshot.schema) != _content_schema(schema):
                raise StoreError(
                    N_("%(ref)s cannot be restored exactly: its data do not match its schema"),
                    params={"ref": ref},
                )
            if snapshot.schema != schema:  # laid out in chunks differently by this store
                values["schema_json"] = json.dumps(snapshot.schema)
            dataset_id = _insert_version(conn, workspace_id, values)
            store._write_features(conn, dataset_id, snapshot)
            summary["chunks"] += len(snapshot.cuts)
        summary["datasets"] += 1


def _insert_version(conn: Connection, workspace_id: int, values: dict[str, Any]) -> int:
    return conn.execute(
        datasets_table.insert().values(workspace_id=workspace_id, **values)
    ).inserted_primary_key[0]


def _restore_records(
    conn: Connection, backup: BackupFile, workspace_id: int, summary: dict[str, Any]
) -> None:
    columns = ", ".join(_RECORD_COLUMNS)
    rows = backup.conn.execute(f"SELECT {columns} FROM records ORDER BY id")
    batch = []
    for fields in rows:
        values = dict(zip(_RECORD_COLUMNS, fields, strict=True))
        values["created_at"] = _parse_time(values["created_at"])
        batch.append({"workspace_id": workspace_id, **values})
        if len(batch) >= 1000:
            conn.execute(records_table.insert(), batch)
            summary["records"] += len(batch)
            batch = []
    if batch:
        conn.execute(records_table.insert(), batch)
        summary["records"] += len(batch)


def _restore_audit(
    conn: Connection, backup: BackupFile, workspace: str, summary: dict[str, Any]
) -> None:
    """Insert the backup's audit rows under ``workspace``, skipping rows the store already
    has (restoring a deleted workspace from its backup keeps one copy of its history)."""
    present = {
        _audit_key(row._mapping)
        for row in conn.execute(sa.select(audit_table).where(audit_table.c.workspace == workspace))
    }
    columns = ", ".join(_AUDIT_COLUMNS)
    batch = []
    for fields in backup.conn.execute(f"SELECT {columns} FROM audit ORDER BY id"):
        values = dict(zip(_AUDIT_COLUMNS, fields, strict=True))
        values["at"] = _parse_time(values["at"])
        key = _audit_key(values)
        if key in present:
            summary["audit_present"] += 1
            continue
        present.add(key)
        batch.append({"workspace": workspace, **values})
    for start in range(0, len(batch), 1000):
        conn.execute(audit_table.insert(), batch[start : start + 1000])
    summary["audit"] += len(batch)


# --- the content digest of a workspace in a store ------------------------------------------


def _data_bytes(frame: Any) -> bytes:
    """A canonical serialisation of a decoded frame: the rows as the codec stores them
    (geometries as WKB, index levels as columns), as one uncompressed Parquet row group."""
    snapshot = codec.prepare(frame, chunk_rows=max(len(frame), 1))
    table = snapshot.table.replace_schema_metadata(None).combine_chunks()
    sink = pa.BufferOutputStream()
    pq.write_table(
        table,
        sink,
        compression="none",
        write_statistics=False,
        row_group_size=max(table.num_rows, 1),
        store_schema=True,
    )
    return sink.getvalue().to_pybytes()


def store_digest(store: SQLStore, workspace: str) -> str:
    """SHA-256 over a canonical listing of everything a backup of ``workspace`` holds.

    Read in one read transaction. Internal ids, the workspace's name, the chunk layout and
    the audit rows of restores are left out, so two stores holding the same workspace (on
    any backend, under any name) have the same digest.
    """
    digest = hashlib.sha256()
    with store._transaction() as conn:
        ws = store._workspace_row(conn, workspace)
        _feed(digest, "workspace", ws.title, ws.description or "")
        for row in _dataset_rows(conn, ws.id):
            schema = json.loads(row.schema_json)
            _feed(
                digest,
                "dataset",
                row.kind,
                row.name,
                row.version,
                row.source_name,
                row.source_sha256,
                _when(row.created_at),
                row.created_by,
                row.row_count,
                _canonical_json(row.counts_json),
                _canonical_json(row.report_json),
                row.crs,
                row.minx,
                row.miny,
                row.maxx,
                row.maxy,
                row.note,
                json.dumps(_content_schema(schema), sort_keys=True),
            )
            if row.kind == "raster":
                data = hashlib.sha256()
                for chunk in _chunk_rows(conn, row.id):
                    data.update(bytes(chunk.data))
            else:
                data = hashlib.sha256(_data_bytes(_read_frame(store, conn, row, workspace)))
            _feed(digest, data.hexdigest())
        for row in _record_rows(store, conn, ws.id):
            _feed(
                digest,
                "record",
                row.collection,
                row.name,
                row.version,
                row.body_json,
                _when(row.created_at),
                row.created_by,
                row.note,
            )
        audit = sorted(
            (
                _audit_key(row._mapping)
                for row in _audit_rows(store, conn, workspace)
                if not (row.action == RESTORE_ACTION and row.target_kind == "workspace")
            ),
            key=lambda key: tuple("" if v is None else v for v in key),
        )
        for key in audit:
            _feed(digest, "audit", *key)
    return digest.hexdigest()
