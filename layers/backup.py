"""Backup and restore of one workspace to one file and back.

>>> summary = backup_workspace(store, "merangin", "merangin-2025-06-01.jangkau")
>>> restore_workspace(other_store, "merangin-2025-06-01.jangkau")  # SQLite or PostGIS
>>> workspace_digest(store, "merangin") == workspace_digest(other_store, "merangin")
True

A backup holds everything of the workspace: its row, every dataset version (layers,
rasters, derived tables: metadata, report, schema and data), every record version of every
collection, and the workspace's rows of the audit trail. Users, memberships, invites and
public links are access control of the whole installation and are not in it. The file is a
SQLite database; see :mod:`layers.storage.transfer` for its tables and ``docs/backup.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layers import __version__
from layers.atomic import replacing
from layers.errors import N_, InputError, StoreError
from layers.storage import Store
from layers.storage.base import check_name
from layers.storage.transfer import (
    FORMAT_NAME,
    FORMAT_VERSION,
    file_digest,
    open_backup,
    restore_from,
    store_digest,
    write_backup,
)

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "BackupSummary",
    "RestoreSummary",
    "backup_workspace",
    "file_digest",
    "restore_workspace",
    "workspace_digest",
]


@dataclass(frozen=True)
class BackupSummary:
    """What a backup file holds.

    Attributes
    ----------
    path : pathlib.Path
        The file written.
    workspace : str
        The workspace backed up.
    datasets, chunks, records, audit : int
        Dataset versions, stored chunks, record versions and audit rows in the file.
    size : int
        The file's size in bytes.
    digest : str
        The file's content digest (SHA-256, hex), as in its manifest.
    created_at : str
        When the backup was made (ISO 8601, UTC).
    source_store : str
        ``"sqlite"`` or ``"postgis"``.
    """

    path: Path
    workspace: str
    datasets: int
    chunks: int
    records: int
    audit: int
    size: int
    digest: str
    created_at: str
    source_store: str


@dataclass(frozen=True)
class RestoreSummary:
    """What a restore wrote.

    Attributes
    ----------
    path : pathlib.Path
        The backup file.
    workspace : str
        The workspace restored (its name in the target store).
    from_workspace : str
        Its name when it was backed up.
    replaced : bool
        Whether a workspace of that name was replaced.
    datasets, chunks, records : int
        Dataset versions, chunks and record versions written.
    audit : int
        Audit rows of the backup restored.
    audit_present : int
        Audit rows of the backup the store already had (not written twice).
    manifest : dict
        The backup's manifest (format, Jangkau version, created at/by, counts, digest).
    """

    path: Path
    workspace: str
    from_workspace: str
    replaced: bool
    datasets: int
    chunks: int
    records: int
    audit: int
    audit_present: int
    manifest: dict[str, Any]


def _sql_store(store: Store) -> Any:
    from layers.storage.sql import SQLStore

    if not isinstance(store, SQLStore):
        raise StoreError(
            N_("backup and restore need a SQLite or PostGIS store, not %(store)r"),
            params={"store": type(store).__name__},
        )
    return store


def backup_workspace(
    store: Store,
    workspace: str,
    path: str | os.PathLike[str],
    *,
    actor: str | None = None,
) -> BackupSummary:
    """Write everything of ``workspace`` into one backup file.

    The store is read in one read transaction, so the backup is a consistent snapshot
    even while others write. The file is written whole or not at all (a temporary file
    renamed over ``path``).

    Parameters
    ----------
    store : Store
        A SQLite or PostGIS store.
    workspace : str
        The workspace to back up.
    path : path-like
        The file to write (replaced when it exists). Its folder must exist.
    actor : str, optional
        Who makes the backup (kept in the manifest).

    Returns
    -------
    BackupSummary

    Raises
    ------
    NotFoundError
        No such workspace.
    InputError
        The folder of ``path`` does not exist, or ``path`` is a folder.
    StoreError
        A failure while reading the store.
    """
    sql_store = _sql_store(store)
    check_name(workspace, "workspace")
    target = Path(path)
    if target.is_dir():
        raise InputError(N_("the backup file is a folder"), file=str(target))
    if not target.parent.is_dir():
        raise InputError(
            N_("the folder %(folder)s does not exist"),
            file=str(target),
            params={"folder": str(target.parent)},
        )
    with replacing(target) as partial:
        manifest = write_backup(
            sql_store, workspace, partial, actor=actor, jangkau_version=__version__
        )
    counts = manifest["counts"]
    return BackupSummary(
        path=target,
        workspace=workspace,
        datasets=counts["datasets"],
        chunks=counts["dataset_chunks"],
        records=counts["records"],
        audit=counts["audit"],
        size=target.stat().st_size,
        digest=manifest["digest"],
        created_at=manifest["created_at"],
        source_store=manifest["source_store"],
    )


def restore_workspace(
    store: Store,
    path: str | os.PathLike[str],
    *,
    workspace: str | None = None,
    replace: bool = False,
    actor: str | None = None,
) -> RestoreSummary:
    """Restore a workspace from a backup file, all or nothing.

    The file is checked first (a Jangkau backup, a format this Jangkau reads, every table,
    its row counts and content digest). Then, in ONE write transaction, the workspace is
    written with every dataset version (on PostGIS with its ``features_<id>`` table),
    record version and audit row of the backup, plus one audit row for the restore. Any
    failure rolls everything back and leaves the store exactly as it was.

    Parameters
    ----------
    store : Store
        A SQLite or PostGIS store, initialised.
    path : path-like
        The backup file.
    workspace : str, optional
        The name to restore under (default: the name it was backed up under). The audit
        rows of the backup are restored under this name.
    replace : bool
        When a workspace of that name exists: False refuses, True deletes it and restores
        in the same transaction (its audit trail is kept).
    actor : str, optional
        Who restores (the restore's audit row).

    Returns
    -------
    RestoreSummary

    Raises
    ------
    InputError
        The file is missing, not a backup, of a newer format, incomplete or damaged
        (naming the file and what is wrong); nothing was written.
    StoreError
        The workspace exists and ``replace`` is False, the store needs ``init``, or a
        failure while writing; nothing was written.
    """
    sql_store = _sql_store(store)
    backup = open_backup(path)
    try:
        name = backup.manifest["workspace"] if workspace is None else workspace
        check_name(name, "workspace")
        summary = restore_from(sql_store, backup, workspace=name, replace=replace, actor=actor)
        return RestoreSummary(
            path=backup.path,
            workspace=name,
            from_workspace=summary["from_workspace"],
            replaced=summary["replaced"],
            datasets=summary["datasets"],
            chunks=summary["chunks"],
            records=summary["records"],
            audit=summary["audit"],
            audit_present=summary["audit_present"],
            manifest=dict(backup.manifest),
        )
    finally:
        backup.conn.close()


def workspace_digest(store: Store, workspace: str) -> str:
    """SHA-256 (hex) over a canonical listing of everything a backup of ``workspace`` holds.

    The listing has the workspace's title and description; every dataset version with its
    metadata, report, schema and decoded data (geometries as WKB, values, dtypes, index
    and row order; a raster's bytes); every record version with its body, time, author and
    note; and the audit rows without their database ids. Internal ids, the workspace's
    name, the way the data are cut into chunks and the audit rows of restores are left
    out, so two stores holding the same workspace have the same digest whatever their
    backend: a restored copy has the digest of its original.

    Parameters
    ----------
    store : Store
        A SQLite or PostGIS store.
    workspace : str
        The workspace.

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    return store_digest(_sql_store(store), workspace)
