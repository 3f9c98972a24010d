"""Keeping freed memory for reuse while an import runs.

An import makes and drops many large temporary arrays: hundreds of megabytes for a million
points. With glibc's default settings ``malloc`` hands a freed block larger than its mmap
threshold back to the kernel at once, and trims the top of its heaps when more than its
trim threshold is free; numpy also asks for transparent huge pages on arrays of 4 MB and
more. Each new temporary is then fresh memory that the kernel must map and zero (a 2 MB
huge page at a time), even when an array of the same size was freed a moment before.
Measured on the benchmark's needs layer (a million points), a quarter of the import's
CPU time went to the kernel that way, and keeping memory as below took its import from
about 3.0 to 2.75 s (``scripts/bench_import.py``).

Inside :func:`memory_kept` freed memory stays in the process to be reused:

* ``M_MMAP_THRESHOLD`` is raised to 32 MB (the most glibc's own dynamic threshold reaches),
  so blocks below it come from the heaps and go back to them;
* ``M_TRIM_THRESHOLD`` and ``M_TOP_PAD`` are raised, so the heaps keep their free space;
* numpy's huge-page advice is off, so only the pages an array touches are zeroed;
* Arrow allocates from its jemalloc pool (or ``malloc`` where the build has no jemalloc):
  its default pool, mimalloc, maps and zeroes fresh huge pages for big buffers, and a
  table's ``take`` took from 0.03 to 0.18 s from one run to the next on the benchmark's
  villages.

When the outermost block ends, the trim threshold goes back to glibc's default, numpy's
advice and Arrow's pool to what they were, and ``malloc_trim(0)`` returns the free memory
to the kernel: a long-running web server does not keep the import's peak. The mmap
threshold stays raised (glibc's dynamic threshold would have risen there after the first
large free anyway).

Elsewhere than glibc (macOS, musl) only numpy's advice and Arrow's pool change.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa

__all__ = ["memory_kept"]

# mallopt parameters (glibc malloc.h).
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3

#: Blocks below this many bytes come from malloc's heaps (the top of glibc's dynamic range).
MMAP_THRESHOLD = 32 * 1024 * 1024
#: Free space a heap keeps at its top during an import.
KEPT_TRIM_THRESHOLD = 1024 * 1024 * 1024
#: Extra space a heap asks for each time it grows during an import.
KEPT_TOP_PAD = 64 * 1024 * 1024
#: glibc's defaults, restored afterwards (mallopt(3)).
DEFAULT_TRIM_THRESHOLD = 128 * 1024
DEFAULT_TOP_PAD = 128 * 1024

_lock = threading.Lock()
_depth = 0
_numpy_advice: bool | None = None
_arrow_pool: pa.MemoryPool | None = None


def _glibc() -> Any | None:
    """The C library's ``mallopt`` and ``malloc_trim`` (glibc only), from the running process."""
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt  # noqa: B018  (present in glibc only)
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()


def _set_numpy_advice(enabled: bool) -> bool | None:
    """Turn numpy's huge-page advice on or off; returns the previous state (None: unknown)."""
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # another numpy: leave it as it is
        return None
    return bool(_set_madvise_hugepage(enabled))


def _import_pool() -> pa.MemoryPool:
    """Arrow's jemalloc pool where this build has it, else ``malloc``'s."""
    try:
        return pa.jemalloc_memory_pool()
    except (NotImplementedError, pa.ArrowNotImplementedError):
        return pa.system_memory_pool()


@contextmanager
def memory_kept() -> Iterator[None]:
    """Keep freed memory for reuse inside the ``with`` block (nesting and threads are fine).

    Also a decorator: ``@memory_kept()`` runs each call of the function inside the block.
    """
    global _depth, _numpy_advice, _arrow_pool
    with _lock:
        _depth += 1
        if _depth == 1:
            if _LIBC is not None:
                _LIBC.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                _LIBC.mallopt(_M_TRIM_THRESHOLD, KEPT_TRIM_THRESHOLD)
                _LIBC.mallopt(_M_TOP_PAD, KEPT_TOP_PAD)
            _numpy_advice = _set_numpy_advice(False)
            _arrow_pool = pa.default_memory_pool()
            pa.set_memory_pool(_import_pool())
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                if _numpy_advice is not None:
                    _set_numpy_advice(_numpy_advice)
                if _arrow_pool is not None:
                    pa.set_memory_pool(_arrow_pool)
                if _LIBC is not None:
                    _LIBC.mallopt(_M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
                    _LIBC.mallopt(_M_TOP_PAD, DEFAULT_TOP_PAD)
                    _LIBC.malloc_trim(0)
