"""Pausing Python's cyclic garbage collector while a layer's objects are made.

Importing or reading a layer makes millions of objects (geometries, text) that live until
the call ends. The cyclic collector would walk all of them again and again while they are
being made (its thresholds count allocations), finding no garbage: reference counting frees
everything these calls drop. Pausing it for the call is what makes the difference; it
resumes, as it was, when the outermost paused call returns.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = ["cyclic_gc_paused", "without_cyclic_gc"]

T = TypeVar("T")


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector inside the ``with`` block (nesting is fine)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def without_cyclic_gc(func: Callable[..., T]) -> Callable[..., T]:
    """Decorate ``func`` to run inside :func:`cyclic_gc_paused`."""

    @functools.wraps(func)
    def paused(*args: Any, **kwargs: Any) -> T:
        with cyclic_gc_paused():
            return func(*args, **kwargs)

    return paused
