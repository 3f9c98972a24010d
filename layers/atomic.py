"""Files written whole or not at all: a temporary file beside the target, renamed over it."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["replacing"]


@contextmanager
def replacing(path: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """A fresh path to write, renamed over ``path`` when the block ends without an error.

    The temporary file lies in a hidden folder beside ``path`` (the same file system, so
    the rename is atomic); on an error it is removed and ``path`` is left as it was.

    Parameters
    ----------
    path : path-like
        The file to write. Its folder must exist.
    suffix : str, optional
        Extension of the temporary file (default: that of ``path``), for writers that
        choose a format by the file name (GDAL drivers).

    Yields
    ------
    pathlib.Path
        Where to write.
    """
    target = Path(path)
    folder = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    partial = folder / f"partial{target.suffix if suffix is None else suffix}"
    try:
        yield partial
        os.replace(partial, target)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
