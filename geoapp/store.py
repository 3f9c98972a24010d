"""The app's store: opened on first use from ``DATABASE_URL`` and shared by all threads.

Opening is lazy so that creating the app does no I/O and imports nothing heavy; the
store classes (and geopandas behind them) load on the first request that needs data.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from flask import Flask, current_app

if TYPE_CHECKING:
    from layers.storage import Store

EXTENSION = "jangkau_store"


class StoreHolder:
    """Holds the store for one app; opens it once, thread-safely."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._store: Store | None = None
        self._lock = threading.Lock()

    def get(self) -> Store:
        """Return the store, opening it on first call."""
        if self._store is None:
            with self._lock:
                if self._store is None:
                    from layers.storage import open_store

                    self._store = open_store(self.url)
        return self._store

    def close(self) -> None:
        """Release the store's connections (it reopens on next use)."""
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def init_app(app: Flask) -> None:
    """Attach a lazily opened store for ``app.config['DATABASE_URL']``."""
    app.extensions[EXTENSION] = StoreHolder(app.config["DATABASE_URL"])


def get_store(app: Flask | None = None) -> Store:
    """Return the store of ``app`` (the current app by default)."""
    app = app or current_app
    return app.extensions[EXTENSION].get()


def close_store(app: Flask) -> None:
    """Close the store of ``app`` (tests, shutdown)."""
    holder = app.extensions.get(EXTENSION)
    if holder is not None:
        holder.close()
