"""A local basemap from an MBTiles file, for maps that must work with the network cut.

MBTiles (https://github.com/mapbox/mbtiles-spec) is one SQLite file holding map tiles by zoom,
column and row, with the rows counted from the bottom (the TMS scheme); web maps count them
from the top (the XYZ scheme), so a row is flipped on the way out. The file is opened
read-only, one connection per thread, so one file serves the app's worker threads.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from layers.errors import N_, InputError

__all__ = ["CONTENT_TYPES", "MBTiles"]

#: Content type of each tile format an MBTiles file may declare in its metadata.
CONTENT_TYPES: dict[str, str] = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "pbf": "application/x-protobuf",
}


class MBTiles:
    """Read tiles from an MBTiles file.

    Parameters
    ----------
    path : path-like
        The ``.mbtiles`` file.

    Attributes
    ----------
    metadata : dict
        The file's ``metadata`` table (name, format, minzoom, maxzoom, attribution, ...).
    format : str
        Tile format (``png`` when the file does not say).
    content_type : str
        HTTP content type of the tiles.

    Raises
    ------
    InputError
        When the file is missing, is not SQLite, or has no ``tiles`` table, or declares a
        format a browser cannot show.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(N_("the basemap file does not exist"), file=str(self.path))
        self._local = threading.local()
        try:
            rows = self._connection().execute("SELECT name, value FROM metadata").fetchall()
            self._connection().execute("SELECT 1 FROM tiles LIMIT 1").fetchall()
        except sqlite3.DatabaseError as exc:
            raise InputError(
                N_("not an MBTiles file (an SQLite file with metadata and tiles): %(reason)s"),
                file=str(self.path),
                params={"reason": str(exc)},
            ) from None
        self.metadata = {str(k): str(v) for k, v in rows}
        self.format = self.metadata.get("format", "png").lower()
        if self.format not in CONTENT_TYPES:
            raise InputError(
                N_("the basemap's tile format %(format)r is not one of %(known)s"),
                file=str(self.path),
                params={"format": self.format, "known": ", ".join(CONTENT_TYPES)},
            )
        self.content_type = CONTENT_TYPES[self.format]

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            uri = f"file:{self.path.resolve()}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=True)
            self._local.conn = conn
        return conn

    @property
    def attribution(self) -> str:
        """The data's attribution as the file gives it (may be empty)."""
        return self.metadata.get("attribution", "")

    @property
    def zooms(self) -> tuple[int, int]:
        """Lowest and highest zoom the file holds (from its metadata, else 0 and 22)."""
        try:
            return int(self.metadata.get("minzoom", 0)), int(self.metadata.get("maxzoom", 22))
        except ValueError:
            return 0, 22

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The tile at zoom ``z``, column ``x`` and row ``y`` counted from the top; None if absent.

        Raises
        ------
        InputError
            For a tile outside the map at that zoom.
        """
        from layers.tiles import check_tile

        check_tile(z, x, y)
        row = (1 << int(z)) - 1 - int(y)
        found = (
            self._connection()
            .execute(
                "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? "
                "AND tile_row = ?",
                (int(z), int(x), row),
            )
            .fetchone()
        )
        return None if found is None else bytes(found[0])
