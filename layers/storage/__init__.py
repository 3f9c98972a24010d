"""Versioned storage of validated layers, derived tables and records: SQLite by default,
PostGIS by URL.

>>> from layers.storage import open_store
>>> store = open_store("sqlite://")          # in memory; "sqlite:///instance/jangkau.sqlite"
>>> store.init()
>>> store.create_workspace("merangin", "Kabupaten Merangin").name
'merangin'

See ``docs/storage.md`` for the design.
"""

from __future__ import annotations

import os

from layers.errors import N_, NotFoundError, StoreError
from layers.storage.base import (
    DATASET_KINDS,
    DERIVED_KIND,
    ConflictError,
    DatasetVersion,
    RecordVersion,
    Store,
    Workspace,
)

__all__ = [
    "DATASET_KINDS",
    "DERIVED_KIND",
    "ConflictError",
    "DatasetVersion",
    "NotFoundError",
    "RecordVersion",
    "Store",
    "StoreError",
    "Workspace",
    "open_store",
]

SQLITE_SCHEMES = ("sqlite", "sqlite+pysqlite")
POSTGIS_SCHEMES = ("postgresql", "postgresql+psycopg", "postgres", "postgis")


def open_store(url: str | os.PathLike[str]) -> Store:
    """Open the store at ``url``, choosing the backend by its scheme.

    Parameters
    ----------
    url : str or path
        ``sqlite:///path/to/file.sqlite`` (relative to the working folder; four slashes for
        an absolute path), ``sqlite://`` for a throwaway in-memory store, or
        ``postgresql://user:password@host:port/database`` for PostGIS. A path object is
        taken as a SQLite file.

    Returns
    -------
    Store
        Not yet initialised: call :meth:`Store.init` once to create the tables.

    Raises
    ------
    StoreError
        The scheme is not supported, or the backend cannot be opened.
    """
    if isinstance(url, os.PathLike):
        url = f"sqlite:///{os.fspath(url)}"
    if not isinstance(url, str) or "://" not in url:
        raise StoreError(
            N_(
                "store URL %(url)r is not a URL; use sqlite:///path/to/jangkau.sqlite "
                "or postgresql://user:password@host/database"
            ),
            params={"url": url},
        )
    scheme = url.split("://", 1)[0].lower()
    if scheme in SQLITE_SCHEMES:
        from layers.storage.sqlite import SQLiteStore

        return SQLiteStore(url)
    if scheme in POSTGIS_SCHEMES:
        from layers.storage.postgis import PostGISStore

        return PostGISStore(url)
    raise StoreError(
        N_("unsupported store URL scheme %(scheme)r; use one of: %(schemes)s"),
        params={"scheme": scheme, "schemes": ", ".join(SQLITE_SCHEMES + POSTGIS_SCHEMES)},
    )
