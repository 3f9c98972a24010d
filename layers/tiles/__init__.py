"""Vector tiles of the village polygons for the map, and a cache for them.

The map asks for 256-pixel tiles in Web Mercator (EPSG:3857) by zoom ``z`` and column/row
``x``/``y`` (the XYZ scheme: row 0 at the top, as OpenStreetMap and Leaflet number them).
:class:`VillageTiles` answers with a Mapbox Vector Tile (MVT 2.1): one layer ``villages``,
extent 4096, each village clipped to the tile plus a few pixels of buffer, simplified for
the zoom, with the properties ``kode``, ``name``, ``kecamatan``, ``value``, ``class`` and
``rank`` (a missing value is left out). :class:`TileCache` keeps the bytes in memory and,
optionally, on disk.

How a tile is made, all of it with array operations over the tile's villages:

1. the villages are projected to EPSG:3857 once, and an STRtree is built over them;
2. the tree gives the villages whose envelope meets the buffered tile;
3. at low zooms, villages smaller than :attr:`VillageTiles.min_area_px` square pixels are
   dropped (they cannot be seen; they are counted);
4. each village is simplified for the zoom (Douglas-Peucker with a tolerance of half a
   pixel; GEOS keeps the result valid and drops parts that collapse), once per village and
   zoom, the first time a tile needs it;
5. the shapes are clipped to the buffered tile (``shapely.clip_by_rect``), moved into tile
   units and rounded to the 4096 grid; the few that rounding made invalid are snapped
   again with ``shapely.set_precision`` (which drops what collapses);
6. the protocol-buffer bytes are written with numpy: rings turned as MVT wants, geometry
   commands, zigzag deltas and varints for every feature at once, and attribute values
   encoded once per village when the object is built.

The encoder follows the Mapbox Vector Tile specification 2.1; the tests decode its output
with the ``mapbox-vector-tile`` package and compare it with that package's own encoder.
That package encodes in pure Python (about 16 microseconds per small polygon and one per
vertex), too slow for the thousands of villages in a low-zoom tile over Java.
"""

from __future__ import annotations

from layers.tiles.cache import TileCache
from layers.tiles.grid import (
    EXTENT,
    LAYER_NAME,
    MAX_ZOOM,
    ORIGIN_SHIFT,
    PROPERTIES,
    TILE_SIZE,
    check_tile,
    lonlat_to_tile,
    tile_bounds,
)
from layers.tiles.villages import TileResult, VillageTiles

__all__ = [
    "EXTENT",
    "LAYER_NAME",
    "MAX_ZOOM",
    "ORIGIN_SHIFT",
    "PROPERTIES",
    "TILE_SIZE",
    "TileCache",
    "TileResult",
    "VillageTiles",
    "check_tile",
    "lonlat_to_tile",
    "tile_bounds",
]
