"""Web Mercator tile numbering (the XYZ scheme Leaflet and OpenStreetMap use)."""

from __future__ import annotations

import math

import numpy as np

from layers.errors import N_, InputError

ORIGIN_SHIFT = math.pi * 6378137.0
#: Highest zoom served.
MAX_ZOOM = 22
#: Width of a tile on screen, in pixels.
TILE_SIZE = 256
#: Tile units per tile side in the MVT geometry.
EXTENT = 4096
#: Name of the one layer in every tile.
LAYER_NAME = "villages"
#: The feature properties, in the order they are written.
PROPERTIES = ("kode", "name", "kecamatan", "value", "class", "rank")
#: Highest latitude Web Mercator shows.
MAX_LATITUDE = 85.0511287798066

# --------------------------------------------------------------------------------------
# Tile arithmetic
# --------------------------------------------------------------------------------------


def check_tile(z: int, x: int, y: int) -> None:
    """Check that ``z/x/y`` names a tile of the map.

    Parameters
    ----------
    z, x, y : int
        Zoom, column (0 at 180 degrees west) and row (0 at the top).

    Raises
    ------
    InputError
        When a number is not a whole number, the zoom is outside 0 to :data:`MAX_ZOOM`, or
        ``x`` or ``y`` is outside 0 to ``2**z - 1``.
    """
    for part, value in (("z", z), ("x", x), ("y", y)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise InputError(
                N_("tile %(part)s must be a whole number, not %(value)s"),
                params={"part": part, "value": repr(value)},
            )
    if not 0 <= z <= MAX_ZOOM:
        raise InputError(
            N_("zoom %(z)s is outside the zooms served, 0 to %(max)s"),
            params={"z": int(z), "max": MAX_ZOOM},
        )
    last = 2 ** int(z) - 1
    if not (0 <= x <= last and 0 <= y <= last):
        raise InputError(
            N_("tile %(z)s/%(x)s/%(y)s is outside the map: x and y run from 0 to %(max)s"),
            params={"z": int(z), "x": int(x), "y": int(y), "max": last},
        )


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """Return the bounds of a tile in EPSG:3857 metres.

    Parameters
    ----------
    z, x, y : int
        The tile (XYZ scheme: row 0 at the top).

    Returns
    -------
    tuple of float
        ``(minx, miny, maxx, maxy)``; zoom 0 is the whole world,
        ``(-20037508.34, -20037508.34, 20037508.34, 20037508.34)``.

    Raises
    ------
    InputError
        When the tile does not exist (see :func:`check_tile`).
    """
    check_tile(z, x, y)
    size = 2 * ORIGIN_SHIFT / 2 ** int(z)
    return (
        -ORIGIN_SHIFT + int(x) * size,
        ORIGIN_SHIFT - (int(y) + 1) * size,
        -ORIGIN_SHIFT + (int(x) + 1) * size,
        ORIGIN_SHIFT - int(y) * size,
    )


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """Return the ``(x, y)`` of the tile at zoom ``z`` that holds a longitude/latitude.

    Parameters
    ----------
    lon, lat : float
        Degrees (EPSG:4326); latitudes beyond +-85.0511 are taken at that limit.
    z : int
        Zoom.

    Returns
    -------
    tuple of int
        Column and row, by the usual formula ``x = (lon + 180) / 360 * 2**z`` and
        ``y = (1 - asinh(tan(lat)) / pi) / 2 * 2**z``, rounded down.

    Raises
    ------
    InputError
        When the zoom is outside 0 to :data:`MAX_ZOOM` or the longitude outside +-180.
    """
    check_tile(z, 0, 0)
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180):
        raise InputError(
            N_("%(lon)s, %(lat)s is not a longitude/latitude in degrees"),
            params={"lon": lon, "lat": lat},
        )
    n = 2 ** int(z)
    lat = max(-MAX_LATITUDE, min(MAX_LATITUDE, lat))
    fx = (lon + 180.0) / 360.0 * n
    fy = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n
    return min(math.floor(fx), n - 1), min(max(math.floor(fy), 0), n - 1)
