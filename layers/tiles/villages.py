"""Village polygons as vector tiles: the tile's villages, simplified for the zoom, clipped."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.errors import N_, InputError
from layers.tiles.grid import EXTENT, ORIGIN_SHIFT, TILE_SIZE, check_tile, tile_bounds
from layers.tiles.mvt import (
    Entries,
    double_entries,
    encode_layer,
    has_repeated_points,
    int_entries,
    snap_to_grid,
    string_entries,
)

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------
# Village tiles
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TileResult:
    """One encoded tile and what went into it.

    Attributes
    ----------
    data : bytes
        The Mapbox Vector Tile; ``b""`` when no village shows in the tile.
    features : int
        Villages written.
    small : int
        Villages whose envelope meets the tile but that are smaller than
        :attr:`VillageTiles.min_area_px` square pixels at this zoom, left out.
    collapsed : int
        Villages whose envelope meets the tile but that vanished in simplification or
        in rounding to the tile grid (narrower than about a pixel), or that lie outside
        the tile although their envelope meets it.
    """

    data: bytes
    features: int
    small: int
    collapsed: int


class _ZoomShapes:
    """Villages simplified for one zoom, filled in as tiles need them."""

    def __init__(self, n: int) -> None:
        self.geoms = np.empty(n, dtype=object)
        self.done = np.zeros(n, dtype=bool)


class _Column:
    """One property: a value number per village (-1 when missing) and the encoded values."""

    def __init__(self, codes: np.ndarray, entries: Entries) -> None:
        self.codes = codes.astype(np.int64)
        self.entries = entries


def _text_column(values: pd.Series) -> _Column:
    texts = values.astype("string")
    texts = texts.mask(texts.str.len() == 0)
    codes, uniques = pd.factorize(texts, use_na_sentinel=True)
    return _Column(np.asarray(codes), string_entries([str(u) for u in uniques]))


def _number_column(values: np.ndarray) -> _Column:
    finite = np.isfinite(values)
    codes = np.full(len(values), -1, dtype=np.int64)
    uniques, inverse = np.unique(values[finite], return_inverse=True)
    codes[finite] = inverse
    return _Column(codes, double_entries(uniques))


def _integer_column(values: pd.Series, name: str) -> _Column:
    try:
        ints = pd.array(values, dtype="Int64")
    except (TypeError, ValueError) as exc:
        raise InputError(
            N_("the map values' %(column)s must be whole numbers: %(reason)s"),
            params={"column": name, "reason": str(exc)},
        ) from exc
    present = ~np.asarray(ints.isna())
    numbers = np.asarray(ints.to_numpy(dtype=np.int64, na_value=0))
    codes = np.full(len(numbers), -1, dtype=np.int64)
    uniques, inverse = np.unique(numbers[present], return_inverse=True)
    codes[present] = inverse
    return _Column(codes, int_entries(uniques))


class VillageTiles:
    """Mapbox Vector Tiles of village polygons with their map values.

    Build one per data version (villages and values); it is safe to call :meth:`tile`
    from several threads at once.

    Parameters
    ----------
    villages : geopandas.GeoDataFrame
        Village polygons with a CRS (EPSG:4326 as stored) and the columns ``kode`` and,
        when present, ``name`` and ``kecamatan``. Rows without a code or a polygon are
        left out (counted in :attr:`skipped`).
    values : pandas.DataFrame, optional
        Indexed by ``kode`` with the columns ``value`` (float), ``class`` and ``rank``
        (whole numbers, ``Int64``). A village without a row, or with a missing or
        non-finite value, has no such property.
    buffer_px : float, optional
        Pixels drawn beyond each tile edge so that outlines join across tiles.
    min_area_px : float, optional
        Villages smaller than this many square pixels at a tile's zoom are left out of it
        (at zoom 5 a pixel is about 4.9 km wide at the equator; at zoom 9 about 300 m).
    simplify_px : float, optional
        Simplification tolerance in pixels.
    max_simplify_zoom : int, optional
        Above this zoom the shapes are not simplified.

    Attributes
    ----------
    skipped : int
        Input rows left out (no code, no geometry, or not a polygon).

    Raises
    ------
    InputError
        When ``kode`` or the CRS is missing, a values column is missing, the values'
        codes repeat, or ``class``/``rank`` are not whole numbers.
    """

    def __init__(
        self,
        villages: gpd.GeoDataFrame,
        values: pd.DataFrame | None = None,
        *,
        buffer_px: float = 4.0,
        min_area_px: float = 0.25,
        simplify_px: float = 0.5,
        max_simplify_zoom: int = 14,
    ) -> None:
        if "kode" not in villages.columns:
            raise InputError(
                N_("the villages have no %(column)s column"), params={"column": "kode"}
            )
        if villages.crs is None:
            raise InputError(N_("the villages have no CRS"))
        self.buffer_px = float(buffer_px)
        self.min_area_px = float(min_area_px)
        self.simplify_px = float(simplify_px)
        self.max_simplify_zoom = int(max_simplify_zoom)

        geometry = villages.geometry
        polygonal = np.isin(shapely.get_type_id(np.asarray(geometry.array)), (3, 6))
        kode = villages["kode"].astype("string").str.strip()
        keep = polygonal & ~np.asarray(geometry.is_empty) & np.asarray(kode.fillna("") != "")
        self.skipped = int((~keep).sum())
        rows = villages.loc[keep].assign(kode=kode[keep])
        geoms = np.asarray(rows.geometry.to_crs(3857).array, dtype=object)
        invalid = ~shapely.is_valid(geoms)
        if invalid.any():
            geoms[invalid] = shapely.make_valid(
                geoms[invalid], method="structure", keep_collapsed=False
            )
        self._geoms = geoms
        self._area = shapely.area(geoms)
        self._bounds = shapely.bounds(geoms)
        self._tree = shapely.STRtree(geoms)
        self._columns = self._property_columns(rows, values)
        self._zooms: dict[int, _ZoomShapes] = {}
        self._lock = threading.Lock()
        self._counts = {"tiles": 0, "features": 0, "small": 0, "collapsed": 0}

    @staticmethod
    def _property_columns(
        rows: gpd.GeoDataFrame, values: pd.DataFrame | None
    ) -> list[tuple[str, _Column]]:
        kode = rows["kode"].astype(str).reset_index(drop=True)
        columns = [("kode", _text_column(kode))]
        for name in ("name", "kecamatan"):
            if name in rows.columns:
                columns.append((name, _text_column(rows[name].reset_index(drop=True))))
        if values is None:
            return columns
        missing = [c for c in ("value", "class", "rank") if c not in values.columns]
        if missing:
            raise InputError(
                N_("the map values have no column %(columns)s"),
                params={"columns": ", ".join(missing)},
            )
        if not values.index.is_unique:
            raise InputError(N_("the map values repeat a village code"))
        aligned = values.set_axis(values.index.astype(str)).reindex(kode)
        number = pd.to_numeric(aligned["value"], errors="coerce").to_numpy(dtype=float)
        columns.append(("value", _number_column(number)))
        columns.append(("class", _integer_column(aligned["class"], "class")))
        columns.append(("rank", _integer_column(aligned["rank"], "rank")))
        return columns

    def __len__(self) -> int:
        """Number of villages that can appear in tiles."""
        return len(self._geoms)

    def stats(self) -> dict[str, int]:
        """Totals over the tiles made so far: tiles, features, small, collapsed."""
        with self._lock:
            return dict(self._counts)

    def prepare(self, zooms: Iterable[int]) -> None:
        """Simplify every village for ``zooms`` now rather than when tiles first need it.

        Parameters
        ----------
        zooms : iterable of int
            Zooms to prepare (say 5 to 8, in a background thread after building).
        """
        for z in zooms:
            check_tile(z, 0, 0)
            threshold = self.min_area_px * (2 * ORIGIN_SHIFT / 2**z / TILE_SIZE) ** 2
            self._shapes(int(z), np.flatnonzero(self._area >= threshold))

    def _shapes(self, z: int, idx: np.ndarray) -> np.ndarray:
        """The villages ``idx`` simplified for zoom ``z`` (cached per village and zoom)."""
        if z > self.max_simplify_zoom:
            return self._geoms[idx]
        shapes = self._zooms.get(z)
        if shapes is None:
            with self._lock:
                shapes = self._zooms.setdefault(z, _ZoomShapes(len(self._geoms)))
        todo = idx[~shapes.done[idx]]
        if todo.size:
            tolerance = self.simplify_px * 2 * ORIGIN_SHIFT / 2**z / TILE_SIZE
            # Another thread may simplify the same villages at once: same result, no harm.
            # The shapes are stored before they are marked done.
            shapes.geoms[todo] = shapely.simplify(
                self._geoms[todo], tolerance, preserve_topology=False
            )
            shapes.done[todo] = True
        return shapes.geoms[idx]

    def tile(self, z: int, x: int, y: int) -> bytes:
        """Return the Mapbox Vector Tile ``z/x/y``.

        Parameters
        ----------
        z, x, y : int
            The tile (XYZ scheme).

        Returns
        -------
        bytes
            One layer ``villages`` with extent 4096, or ``b""`` (a valid empty tile) when
            no village shows there.

        Raises
        ------
        InputError
            When the tile does not exist.
        """
        return self.render(z, x, y).data

    def render(self, z: int, x: int, y: int) -> TileResult:
        """Make tile ``z/x/y`` and say how many villages went in or were left out.

        Parameters
        ----------
        z, x, y : int
            The tile (XYZ scheme).

        Returns
        -------
        TileResult
            The bytes (as :meth:`tile`) and the counts.

        Raises
        ------
        InputError
            When the tile does not exist.
        """
        minx, miny, maxx, maxy = tile_bounds(z, x, y)
        z = int(z)
        size = maxx - minx
        pixel = size / TILE_SIZE
        pad = self.buffer_px * pixel
        rect = (minx - pad, miny - pad, maxx + pad, maxy + pad)
        idx = np.sort(self._tree.query(shapely.box(*rect)))
        small = self._area[idx] < self.min_area_px * pixel * pixel
        idx = idx[~small]
        shapes = self._shapes(z, idx)
        # Only the villages that cross the buffered tile's edge need clipping (a
        # simplified shape lies within its village's envelope).
        b = self._bounds[idx]
        across = (
            (b[:, 0] < rect[0]) | (b[:, 1] < rect[1]) | (b[:, 2] > rect[2]) | (b[:, 3] > rect[3])
        )
        shapes[across] = shapely.clip_by_rect(shapes[across], *rect)
        scale = EXTENT / size
        origin = np.array([minx, maxy])
        factor = np.array([scale, -scale])
        grid = shapely.transform(shapes, lambda c: np.rint((c - origin) * factor))
        bad = ~shapely.is_valid(grid) | has_repeated_points(grid)
        if bad.any():
            grid[bad] = snap_to_grid(grid[bad])
        shown = ~shapely.is_empty(grid) & np.isin(shapely.get_type_id(grid), (3, 6))
        grid = grid[shown]
        idx = idx[shown]
        result = TileResult(
            data=self._encode(grid, idx) if len(idx) else b"",
            features=len(idx),
            small=int(small.sum()),
            collapsed=int((~shown).sum()),
        )
        with self._lock:
            self._counts["tiles"] += 1
            self._counts["features"] += result.features
            self._counts["small"] += result.small
            self._counts["collapsed"] += result.collapsed
        return result

    def _encode(self, grid: np.ndarray, idx: np.ndarray) -> bytes:
        """The tile bytes of the shapes ``grid`` (tile units, y down) of villages ``idx``."""
        n = len(idx)
        k = len(self._columns)
        value_tags = np.full((n, k), -1, dtype=np.int64)
        entries = []
        next_value = 0
        for j, (_, column) in enumerate(self._columns):
            codes = column.codes[idx]
            present = codes >= 0
            used, local = np.unique(codes[present], return_inverse=True)
            value_tags[present, j] = next_value + local
            next_value += len(used)
            entries.append(column.entries.take(used))
        pairs = np.stack([np.broadcast_to(np.arange(k), (n, k)), value_tags], axis=2)
        present = value_tags >= 0
        tags = pairs[present].reshape(-1)
        tag_offsets = np.append(0, np.cumsum(2 * present.sum(axis=1)))
        return encode_layer(grid, tags, tag_offsets, [key for key, _ in self._columns], entries)
