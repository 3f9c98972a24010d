"""An import killed midway (SIGKILL, no clean-up of any kind) leaves the store as it was.

A child process imports the bundled Merangin villages with the real importer. Its store
writes chunks of 20 rows, and after the second chunk is written (inside the import's
transaction) the child says so through a marker file and waits; the test then kills it with
SIGKILL. Afterwards the store must hold exactly the rows it held before, pass SQLite's
integrity check (or, on PostGIS, have no transaction left holding a lock), and take the same
import again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from layers.storage import open_store
from tests.conftest import REPO
from tests.layers.test_storage import dump, postgis_database, store_url  # noqa: F401

VILLAGES = REPO / "data" / "boundaries" / "merangin" / "villages.geojson"

CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    from layers.importer import import_into_store
    from layers.storage import open_store
    from layers.storage.sql import SQLStore

    url, path, marker = sys.argv[1:4]
    store = open_store(url)
    store.chunk_rows = 20
    original = SQLStore._insert_chunk
    written = []

    def insert_then_wait(self, conn, dataset_id, part, data=None):
        original(self, conn, dataset_id, part, data)
        written.append(dataset_id)
        if len(written) == 2:
            Path(marker).write_text(str(dataset_id))
            time.sleep(120)  # killed here, halfway through the import's transaction

    SQLStore._insert_chunk = insert_then_wait
    import_into_store(store, "merangin", path, "villages", user="killed")
    print("the import finished, which it must not")
    """
)


def _kill_midway(url: str, tmp_path) -> int:
    marker = tmp_path / "halfway"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url, str(VILLAGES), str(marker)],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        if child.poll() is not None:
            pytest.fail(f"the import ended before it was killed: {child.stdout.read().decode()}")
        if time.monotonic() > deadline:
            child.kill()
            pytest.fail("the import did not reach its second chunk within 120 s")
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return int(marker.read_text())


def test_an_import_killed_midway_leaves_the_store_unchanged(store_url, tmp_path):  # noqa: F811
    store = open_store(store_url)
    store.init()
    store.create_workspace("merangin", "Kabupaten Merangin")
    store.put_record("merangin", "profiles", "kesehatan", {"weights": {"jarak": 1.0}})
    before = dump(store)
    store.close()

    dataset_id = _kill_midway(store_url, tmp_path)
    assert dataset_id > 0  # the child had inserted the version row and two chunks

    after = open_store(store_url)
    if after.engine.url.get_backend_name() == "postgresql":
        # the server ends the dead connection's transaction; wait until it has
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with after.engine.connect() as conn:
                waiting = conn.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND state LIKE 'idle in transaction%%'"
                ).scalar()
            if not waiting:
                break
            time.sleep(0.2)
    else:
        with after.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    assert dump(after) == before
    assert after.list_datasets("merangin") == []
    entries, _ = after.list_audit(workspace="merangin")
    assert [e.action for e in entries] == ["save", "create"]  # no trace of the killed import

    # nothing is left locked: the same import now goes through
    from layers.importer import import_into_store

    outcome = import_into_store(after, "merangin", VILLAGES, "villages", user="ani")
    assert outcome.stored
    assert after.dataset_info("merangin", "villages").row_count == outcome.version.row_count
    assert outcome.version.row_count > 200
    after.close()
