"""Keeping freed memory during imports: settings on inside, restored after."""

from __future__ import annotations

import threading

import pyarrow as pa
import pytest
from numpy._core.multiarray import _set_madvise_hugepage

from layers import memory


def _numpy_advice() -> bool:
    state = _set_madvise_hugepage(True)
    _set_madvise_hugepage(state)
    return bool(state)


def test_settings_change_inside_and_come_back_after_nesting_and_errors():
    pool_before = pa.default_memory_pool().backend_name
    advice_before = _numpy_advice()
    seen = {}

    @memory.memory_kept()
    def failing() -> None:
        seen["advice"] = _numpy_advice()
        seen["pool"] = pa.default_memory_pool().backend_name
        with memory.memory_kept():
            seen["nested pool"] = pa.default_memory_pool().backend_name
        # the inner block ending leaves the outer one's settings alone
        seen["after nested"] = (_numpy_advice(), pa.default_memory_pool().backend_name)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        failing()
    assert seen["advice"] is False
    assert seen["pool"] in ("jemalloc", "system")
    assert seen["nested pool"] == seen["pool"]
    assert seen["after nested"] == (False, seen["pool"])
    assert pa.default_memory_pool().backend_name == pool_before
    assert _numpy_advice() is advice_before


def test_overlapping_blocks_on_threads_restore_once_the_last_ends():
    pool_before = pa.default_memory_pool().backend_name
    entered, release = threading.Event(), threading.Event()

    def other() -> None:
        with memory.memory_kept():
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=other)
    with memory.memory_kept():
        inside = pa.default_memory_pool().backend_name
        thread.start()
        assert entered.wait(10)
    # this thread's block ended first: the other one is still inside
    assert pa.default_memory_pool().backend_name == inside
    assert _numpy_advice() is False
    release.set()
    thread.join(10)
    assert pa.default_memory_pool().backend_name == pool_before


def test_decorated_function_keeps_its_result_and_name():
    @memory.memory_kept()
    def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    assert add(2, 3) == 5
    assert add.__name__ == "add"


def test_malloc_is_tuned_where_the_c_library_is_glibc():
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("malloc's settings are glibc's")
    # found in the running process: without it the block would leave malloc as it is
    assert memory._LIBC is not None
    assert callable(memory._LIBC.mallopt)
    assert callable(memory._LIBC.malloc_trim)
