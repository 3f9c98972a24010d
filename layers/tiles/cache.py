"""A thread-safe memory and disk cache of tiles, keyed by the data they show."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from layers.tiles.grid import check_tile

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------


class _Pending:
    """A tile being made by one thread, that others wait for."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.data: bytes | None = None
        self.error: BaseException | None = None

    def wait(self) -> bytes:
        self.done.wait()
        if self.error is not None:
            raise self.error
        assert self.data is not None
        return self.data


class TileCache:
    """Tiles kept in memory (least recently used first out) and optionally on disk.

    Parameters
    ----------
    directory : pathlib.Path, optional
        Where tiles are also written, as ``directory/<hash of key>/z/x/y.pbf`` (the key
        itself in ``key.txt`` beside them), so that they outlive the process. Files are
        written whole to a temporary name, flushed to disk and renamed: a reader never sees
        half a tile, and a power cut leaves either the whole tile or none. When writing
        fails (disk full, read-only), the tile is still served and a warning is logged.
    memory_items : int, optional
        Tiles kept in memory.
    memory_bytes : int, optional
        Most bytes of tiles kept in memory (a dense low-zoom tile over Java is close to a
        megabyte, a zoom-12 tile some kilobytes).

    Notes
    -----
    The key names the data a tile is made from (for instance
    ``"ws/villages@3|ws/score_runs/p@2|score"``): new data means a new key, so old tiles are
    never served for it and need no invalidation; :meth:`clear` frees the space. Safe to
    use from several threads: when several ask for a tile that is not cached yet, it is
    made once and the others wait for it.
    """

    def __init__(
        self,
        directory: Path | None,
        memory_items: int = 2048,
        memory_bytes: int = 256 * 2**20,
    ) -> None:
        if memory_items < 0 or memory_bytes < 0:
            raise ValueError("memory_items and memory_bytes must be 0 or more")
        self.directory = Path(directory) if directory is not None else None
        self.memory_items = int(memory_items)
        self.memory_bytes = int(memory_bytes)
        self._bytes = 0
        self._memory: OrderedDict[tuple[str, int, int, int], bytes] = OrderedDict()
        self._pending: dict[tuple[str, int, int, int], _Pending] = {}
        self._lock = threading.Lock()
        self._counts = {"memory_hits": 0, "disk_hits": 0, "made": 0}

    @staticmethod
    def key_hash(key: str) -> str:
        """The folder name of a key under :attr:`directory`."""
        return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]

    def path(self, key: str, z: int, x: int, y: int) -> Path | None:
        """The disk file of a tile (``None`` without a directory)."""
        if self.directory is None:
            return None
        return self.directory / self.key_hash(key) / str(int(z)) / str(int(x)) / f"{int(y)}.pbf"

    def stats(self) -> dict[str, int]:
        """Counts: memory_hits, disk_hits, made, and the tiles and bytes now in memory."""
        with self._lock:
            return {**self._counts, "memory_items": len(self._memory), "memory_bytes": self._bytes}

    def get(self, key: str, z: int, x: int, y: int, make: Callable[[], bytes]) -> bytes:
        """Return tile ``z/x/y`` of the data ``key``, calling ``make`` only when not cached.

        Parameters
        ----------
        key : str
            Names the data (non-empty).
        z, x, y : int
            The tile.
        make : callable
            Returns the tile's bytes; called at most once per tile while it stays cached,
            however many threads ask.

        Returns
        -------
        bytes
            The tile.

        Raises
        ------
        InputError
            When the tile does not exist.
        Exception
            Whatever ``make`` raises (to every thread waiting for that tile).
        """
        if not isinstance(key, str) or not key:
            raise ValueError("the cache key must be a non-empty string")
        check_tile(z, x, y)
        item = (key, int(z), int(x), int(y))
        with self._lock:
            data = self._memory.get(item)
            if data is not None:
                self._memory.move_to_end(item)
                self._counts["memory_hits"] += 1
                return data
            pending = self._pending.get(item)
            owner = pending is None
            if pending is None:
                pending = self._pending[item] = _Pending()
        if not owner:
            return pending.wait()
        try:
            data = self._read(item)
            if data is None:
                data = make()
                if not isinstance(data, bytes):
                    raise TypeError(f"make() returned {type(data).__name__}, not bytes")
                self._write(item, data)
                counter = "made"
            else:
                counter = "disk_hits"
            with self._lock:
                self._counts[counter] += 1
                self._remember(item, data)
            pending.data = data
            return data
        except BaseException as exc:
            pending.error = exc
            raise
        finally:
            with self._lock:
                self._pending.pop(item, None)
            pending.done.set()

    def _remember(self, item: tuple[str, int, int, int], data: bytes) -> None:
        """Put a tile in memory, dropping the least recently used (lock held)."""
        if self.memory_items == 0 or len(data) > self.memory_bytes:
            return
        old = self._memory.pop(item, None)
        if old is not None:
            self._bytes -= len(old)
        self._memory[item] = data
        self._bytes += len(data)
        while len(self._memory) > self.memory_items or self._bytes > self.memory_bytes:
            self._bytes -= len(self._memory.popitem(last=False)[1])

    def _read(self, item: tuple[str, int, int, int]) -> bytes | None:
        path = self.path(*item)
        if path is None:
            return None
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cannot read cached tile %s: %s", path, exc)
            return None

    def _write(self, item: tuple[str, int, int, int], data: bytes) -> None:
        path = self.path(*item)
        if path is None:
            return
        try:
            folder = path.parents[2]
            if not (folder / "key.txt").exists():
                folder.mkdir(parents=True, exist_ok=True)
                _write_atomic(folder / "key.txt", item[0].encode("utf-8"))
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_atomic(path, data)
        except OSError as exc:
            log.warning("cannot write cached tile %s: %s", path, exc)

    def clear(self, prefix: str | None = None) -> None:
        """Forget cached tiles, in memory and on disk.

        Parameters
        ----------
        prefix : str, optional
            Only the tiles whose key starts with this (say ``"ws/"`` for one workspace);
            all tiles when omitted. Other files in the directory are left alone.
        """
        with self._lock:
            for item in [i for i in self._memory if prefix is None or i[0].startswith(prefix)]:
                self._bytes -= len(self._memory.pop(item))
        if self.directory is None or not self.directory.is_dir():
            return
        for folder in self.directory.iterdir():
            if not _is_key_folder(folder):
                continue
            if prefix is not None:
                try:
                    key = (folder / "key.txt").read_text(encoding="utf-8")
                except OSError:
                    continue
                if not key.startswith(prefix):
                    continue
            shutil.rmtree(folder, ignore_errors=True)


def _is_key_folder(folder: Path) -> bool:
    name = folder.name
    return folder.is_dir() and len(name) == 32 and all(c in "0123456789abcdef" for c in name)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a flushed temporary file and a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
