"""replacing: a file is written whole or not at all, and nothing is left behind."""

from __future__ import annotations

import pytest

from layers.atomic import replacing


def test_the_new_content_replaces_the_file_only_at_the_end(tmp_path):
    target = tmp_path / "peta.pdf"
    target.write_bytes(b"old")
    with replacing(target) as partial:
        assert partial.suffix == ".pdf"
        assert partial.parent.parent == tmp_path  # same folder: the rename is atomic
        partial.write_bytes(b"new")
        assert target.read_bytes() == b"old"
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["peta.pdf"]


def test_a_failed_write_leaves_the_old_file_and_no_leftovers(tmp_path):
    target = tmp_path / "data.gpkg"
    target.write_bytes(b"old")

    def write_half() -> None:
        with replacing(target, ".gpkg") as partial:
            partial.write_bytes(b"half")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_half()
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.gpkg"]
