"""Reading a local MBTiles basemap: TMS rows flipped to XYZ, metadata, bad files."""

from __future__ import annotations

import sqlite3

import pytest

from layers.errors import InputError
from layers.mbtiles import MBTiles

PNG = b"\x89PNG\r\n\x1a\n" + b"tile"


def make_mbtiles(path, tiles, *, fmt="png", attribution="© Peta Desa"):
    """An MBTiles file with ``tiles``: {(z, x, tms_row): bytes}."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        conn.execute(
            "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, "
            "tile_data BLOB)"
        )
        meta = {"name": "Merangin", "format": fmt, "minzoom": "8", "maxzoom": "14"}
        meta["attribution"] = attribution
        conn.executemany("INSERT INTO metadata VALUES (?, ?)", meta.items())
        conn.executemany(
            "INSERT INTO tiles VALUES (?, ?, ?, ?)",
            [(z, x, row, data) for (z, x, row), data in tiles.items()],
        )
    return path


def test_rows_are_flipped_from_tms_to_xyz(tmp_path):
    # At zoom 2 there are 4 rows: XYZ row 0 (north) is TMS row 3.
    path = make_mbtiles(tmp_path / "b.mbtiles", {(2, 1, 3): PNG + b"north", (2, 1, 0): PNG})
    source = MBTiles(path)
    assert source.tile(2, 1, 0) == PNG + b"north"
    assert source.tile(2, 1, 3) == PNG
    assert source.tile(2, 2, 0) is None
    assert source.content_type == "image/png"
    assert source.attribution == "© Peta Desa"
    assert source.zooms == (8, 14)


def test_tiles_outside_the_map_are_refused(tmp_path):
    source = MBTiles(make_mbtiles(tmp_path / "b.mbtiles", {}))
    with pytest.raises(InputError, match="outside the map"):
        source.tile(2, 4, 0)


def test_bad_files_name_the_file_and_the_problem(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        MBTiles(tmp_path / "missing.mbtiles")
    text = tmp_path / "notes.mbtiles"
    text.write_text("not a database at all, just a note about the map", encoding="utf-8")
    with pytest.raises(InputError, match=r"notes\.mbtiles.*not an MBTiles file"):
        MBTiles(text)
    with pytest.raises(InputError, match="tile format 'tiff'"):
        MBTiles(make_mbtiles(tmp_path / "t.mbtiles", {}, fmt="tiff"))


def test_each_thread_reads_through_its_own_connection(tmp_path):
    import threading

    source = MBTiles(make_mbtiles(tmp_path / "b.mbtiles", {(1, 0, 1): PNG}))
    found, errors = [], []

    def read():
        try:
            found.append(source.tile(1, 0, 0))
        except Exception as exc:  # a shared sqlite3 connection would raise here
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert found == [PNG] * 6
