"""Population per village from a raster, and distances measured from raster cells.

A population raster holds people per cell. :func:`zonal_population` shares each cell's
people among the villages it lies in, exactly by area:

* a cell that no village boundary crosses lies wholly inside one village (or none); it is
  found by rasterising the villages with the cell-centre rule and counted whole;
* a cell that a boundary crosses (found by rasterising the boundaries with every touched
  cell, plus the cells holding the polygons' vertices) is split by the area of its
  intersection with each village, computed with shapely for all such cells at once;
* where villages overlap (slivers of simplified boundaries, or a duplicate polygon), the
  cells the overlap touches are split by area too, and where the villages together cover
  more than the whole cell their shares are scaled down so its people are counted once.

The work is vectorised: GDAL rasterises, an STRtree finds the villages near each edge
cell, and the intersection areas are computed in one shapely call. Only the cells that
boundaries cross (a few percent of a province's cells) need geometry; every other cell is
a label lookup. Nodata, non-finite and negative cells count as zero people.

:func:`nearest_distance` finds, for many points (cell centres), the distance to the nearest
of a set of facilities, exactly, with a KD-tree. For raster cells it first asks the tree
once per block of neighbouring cells: when only a few facilities can be nearest to any
cell of the block, those few are compared directly, which is several times faster than
one tree query per cell.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyproj
import rasterio
import rasterio.enums
import rasterio.features
import shapely
from affine import Affine
from rasterio.io import MemoryFile
from scipy.spatial import cKDTree

from layers.errors import N_, InputError

__all__ = [
    "BLOCK",
    "PointGroups",
    "PopulationGrid",
    "ZonalPopulation",
    "cell_blocks",
    "cell_centres",
    "nearest_distance",
    "zonal_population",
]

#: Side, in cells, of the blocks :func:`nearest_distance` groups raster cells into.
BLOCK = 8
#: Candidate facilities compared directly per block before falling back to the tree.
CANDIDATES = 8
#: (cell, village) pairs from which edge-cell areas are computed on a thread per core.
PARALLEL_PAIRS = 50_000
#: Points handled per chunk (and thread) when comparing candidates.
CHUNK = 250_000


def _crs(value: Any) -> pyproj.CRS:
    """A pyproj CRS from a rasterio CRS, a pyproj CRS, an EPSG code or a string."""
    if isinstance(value, pyproj.CRS):
        return value
    if hasattr(value, "to_wkt"):
        return pyproj.CRS.from_wkt(value.to_wkt())
    return pyproj.CRS.from_user_input(value)


@dataclass(frozen=True)
class PopulationGrid:
    """A population raster in memory: people per cell on a north-up grid.

    Parameters
    ----------
    array : numpy.ndarray
        2-D array of people per cell (rows from the top).
    transform : affine.Affine
        Cell to CRS coordinates (GDAL convention: ``transform * (col, row)`` is the
        cell's upper-left corner). Rotated grids are not supported.
    crs : pyproj.CRS, str or int
        The raster's coordinate reference system.
    nodata : float, optional
        The value marking cells without data.

    Raises
    ------
    InputError
        When the array is not 2-D numbers, the grid is rotated or degenerate, or there is
        no CRS.
    """

    array: np.ndarray
    transform: Affine
    crs: pyproj.CRS
    nodata: float | None = None

    def __post_init__(self) -> None:
        array = np.asarray(self.array)
        if array.ndim != 2 or array.size == 0:
            raise InputError(
                N_("a population raster must be one band of rows and columns, got shape %(shape)s"),
                params={"shape": tuple(array.shape)},
            )
        if not np.issubdtype(array.dtype, np.number) or np.issubdtype(
            array.dtype, np.complexfloating
        ):
            raise InputError(
                N_("the population raster holds %(dtype)s, not numbers"),
                params={"dtype": str(array.dtype)},
            )
        if not isinstance(self.transform, Affine):
            raise ValueError(f"transform must be an affine.Affine, not {type(self.transform)}")
        t = self.transform
        if t.b != 0 or t.d != 0:
            raise InputError(N_("rotated rasters are not supported; warp it north-up first"))
        if t.a == 0 or t.e == 0 or not np.isfinite([t.a, t.c, t.e, t.f]).all():
            raise InputError(N_("the raster's cell size is zero or not finite"))
        if self.crs is None:
            raise InputError(
                N_(
                    "the raster has no coordinate reference system; write one into the GeoTIFF "
                    "(e.g. gdal_edit.py -a_srs EPSG:4326)"
                )
            )
        try:
            crs = _crs(self.crs)
        except pyproj.exceptions.CRSError as exc:
            raise InputError(
                N_("the raster's coordinate reference system is not understood: %(reason)s"),
                params={"reason": str(exc)},
            ) from exc
        object.__setattr__(self, "array", array)
        object.__setattr__(self, "crs", crs)
        if self.nodata is not None:
            object.__setattr__(self, "nodata", float(self.nodata))

    @classmethod
    def from_path(cls, path: str | os.PathLike, band: int = 1) -> PopulationGrid:
        """Read one band of a GeoTIFF (people per cell).

        Parameters
        ----------
        path : path-like
            The GeoTIFF.
        band : int
            Band holding people per cell (1 by default).

        Returns
        -------
        PopulationGrid

        Raises
        ------
        InputError
            When the file cannot be read, lacks the band or has no CRS.
        """
        try:
            with rasterio.open(path) as ds:
                return cls._from_dataset(ds, band, os.path.basename(os.fspath(path)))
        except rasterio.errors.RasterioIOError as exc:
            raise InputError(
                N_("cannot read the raster: %(reason)s"),
                file=os.path.basename(os.fspath(path)),
                params={"reason": str(exc)},
            ) from exc

    @classmethod
    def from_bytes(cls, data: bytes, band: int = 1) -> PopulationGrid:
        """Read one band of a GeoTIFF held in memory (as ``store.read_raster`` returns it).

        Parameters
        ----------
        data : bytes
            The GeoTIFF's bytes.
        band : int
            Band holding people per cell (1 by default).

        Returns
        -------
        PopulationGrid
        """
        if not isinstance(data, bytes | bytearray | memoryview) or len(data) == 0:
            raise InputError(N_("the raster is empty or not GeoTIFF bytes"))
        try:
            with MemoryFile(bytes(data)) as mem, mem.open() as ds:
                return cls._from_dataset(ds, band, None)
        except rasterio.errors.RasterioIOError as exc:
            raise InputError(
                N_("cannot read the raster: %(reason)s"), params={"reason": str(exc)}
            ) from exc

    @classmethod
    def _from_dataset(cls, ds, band: int, source: str | None) -> PopulationGrid:
        if not 1 <= int(band) <= ds.count:
            raise InputError(
                N_("band %(band)s does not exist; the raster has %(count)s"),
                file=source,
                params={"band": band, "count": ds.count},
            )
        if ds.crs is None:
            raise InputError(
                N_(
                    "the raster has no coordinate reference system; write one into the GeoTIFF "
                    "(e.g. gdal_edit.py -a_srs EPSG:4326)"
                ),
                file=source,
            )
        return cls(ds.read(int(band)), ds.transform, _crs(ds.crs), ds.nodata)

    @property
    def shape(self) -> tuple[int, int]:
        """Rows and columns."""
        return self.array.shape

    @property
    def cell_area(self) -> float:
        """Area of one cell in squared CRS units (degrees² for a geographic raster)."""
        return abs(self.transform.a * self.transform.e)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(minx, miny, maxx, maxy)`` in the raster's CRS."""
        rows, cols = self.shape
        xs = (self.transform.c, self.transform.c + cols * self.transform.a)
        ys = (self.transform.f, self.transform.f + rows * self.transform.e)
        return min(xs), min(ys), max(xs), max(ys)

    def people(self) -> tuple[np.ndarray, dict[str, int]]:
        """People per cell as float64, with nodata, non-finite and negative cells as zero.

        Returns
        -------
        values : numpy.ndarray
            Same shape as the grid.
        counts : dict
            ``nodata_cells`` (nodata or not finite) and ``negative_cells`` set to zero.
        """
        values = self.array.astype(np.float64, copy=True)
        invalid = ~np.isfinite(values)
        if self.nodata is not None and np.isfinite(self.nodata):
            invalid |= values == self.nodata
        negative = ~invalid & (values < 0)
        values[invalid | negative] = 0.0
        return values, {"nodata_cells": int(invalid.sum()), "negative_cells": int(negative.sum())}


@dataclass
class ZonalPopulation:
    """People per village from a raster, and which cells each village holds.

    Attributes
    ----------
    population : numpy.ndarray
        People per village (float); NaN for a village that no raster cell overlaps.
    covered : numpy.ndarray
        Share (0-1) of each village's area that lies on the raster's grid; 0 off the grid.
    cell : numpy.ndarray
        Flat cell index (``row * columns + col``) of each (cell, village) pair.
    village : numpy.ndarray
        Village position of each pair.
    share : numpy.ndarray
        Share of the cell's area counted in the village (1 for whole cells).
    weight : numpy.ndarray
        People of the cell counted in the village (``people * share``).
    notes : dict
        Counts and totals: ``cells``, ``nodata_cells``, ``negative_cells``, ``edge_cells``,
        ``overlap_cells`` (edge cells whose shares were scaled down), ``population_total``,
        ``population_in_villages``, ``population_outside_villages``, ``villages_on_raster``,
        ``villages_off_raster``, ``villages_partly_off_raster`` (under 99 % covered).
    """

    population: np.ndarray
    covered: np.ndarray
    cell: np.ndarray
    village: np.ndarray
    share: np.ndarray
    weight: np.ndarray
    notes: dict[str, Any] = field(default_factory=dict)

    def to_frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Two tables to store: per village (``population``, ``covered``) and per pair."""
        villages = pd.DataFrame({"population": self.population, "covered": self.covered})
        pairs = pd.DataFrame(
            {
                "cell": self.cell.astype(np.int64),
                "village": self.village.astype(np.int64),
                "share": self.share,
                "weight": self.weight,
            }
        )
        return villages, pairs

    @classmethod
    def from_frames(
        cls, villages: pd.DataFrame, pairs: pd.DataFrame, notes: dict[str, Any] | None = None
    ) -> ZonalPopulation:
        """The result kept with :meth:`to_frames`, read back."""
        return cls(
            population=villages["population"].to_numpy(dtype=np.float64),
            covered=villages["covered"].to_numpy(dtype=np.float64),
            cell=pairs["cell"].to_numpy(dtype=np.int64),
            village=pairs["village"].to_numpy(dtype=np.int64),
            share=pairs["share"].to_numpy(dtype=np.float64),
            weight=pairs["weight"].to_numpy(dtype=np.float64),
            notes=dict(notes or {}),
        )


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """The geometries, with invalid polygons repaired to polygons (zonal areas need it)."""
    geoms = np.asarray(geoms, dtype=object).copy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    bad = np.flatnonzero(present)[~shapely.is_valid(geoms[present])]
    if len(bad):
        geoms[bad] = shapely.make_valid(geoms[bad], method="structure", keep_collapsed=False)
    return geoms


def _clip_area(geoms: np.ndarray, x0, y0, x1, y1) -> np.ndarray:
    """Area of each geometry inside its own rectangle.

    GEOS's rectangle clipping is several times faster than a general intersection with a
    box polygon; shapely's public ``clip_by_rect`` takes one rectangle only, so its ufunc
    is called with arrays, falling back to the intersection if that ever changes.
    """
    rect = [np.asarray(v, np.float64) for v in (x0, y0, x1, y1)]

    def clip(span: slice) -> np.ndarray:
        part = [v[span] for v in rect]
        try:
            clipped = shapely.lib.clip_by_rect(geoms[span], *part)
        except (AttributeError, TypeError):  # pragma: no cover - depends on the shapely build
            clipped = shapely.intersection(geoms[span], shapely.box(*part))
        return shapely.area(clipped)

    threads = max(1, min(4, os.cpu_count() or 1))
    if threads == 1 or len(geoms) < PARALLEL_PAIRS:
        return clip(slice(None))
    # GEOS releases the GIL: one slice of the pairs per core.
    cuts = np.linspace(0, len(geoms), threads + 1).astype(int)
    with ThreadPoolExecutor(threads) as pool:
        parts = pool.map(clip, [slice(a, b) for a, b in itertools.pairwise(cuts)])
        return np.concatenate(list(parts))


def _cell_edges(transform: Affine, rows: np.ndarray, cols: np.ndarray):
    """``(x0, y0, x1, y1)`` of cells (minimum and maximum corners)."""
    xa = transform.c + cols * transform.a
    xb = xa + transform.a
    ya = transform.f + rows * transform.e
    yb = ya + transform.e
    return np.minimum(xa, xb), np.minimum(ya, yb), np.maximum(xa, xb), np.maximum(ya, yb)


def zonal_population(geometries: np.ndarray, grid: PopulationGrid) -> ZonalPopulation:
    """Share a population raster's people among village polygons, exactly by area.

    Parameters
    ----------
    geometries : numpy.ndarray of shapely Polygons/MultiPolygons
        Villages in the raster's CRS (missing or empty entries get NaN).
    grid : PopulationGrid
        People per cell.

    Returns
    -------
    ZonalPopulation
        See the module docstring for the method.
    """
    if not isinstance(grid, PopulationGrid):
        raise ValueError(f"grid must be a PopulationGrid, not {type(grid).__name__}")
    geoms = _polygonal(geometries)
    n = len(geoms)
    values, counts = grid.people()
    rows_n, cols_n = grid.shape
    t = grid.transform
    minx, miny, maxx, maxy = grid.bounds
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    gb = shapely.bounds(geoms)
    near = present & (gb[:, 0] < maxx) & (gb[:, 2] > minx) & (gb[:, 1] < maxy) & (gb[:, 3] > miny)
    idx = np.flatnonzero(near)

    # Whole cells: the cell-centre rule.
    label = np.zeros(grid.shape, dtype=np.int32)
    edge = np.zeros(grid.shape, dtype=bool)
    if len(idx):
        shapes = [geoms[i].__geo_interface__ for i in idx]  # converted once, burnt twice
        label = rasterio.features.rasterize(
            zip(shapes, idx + 1, strict=True),
            out_shape=grid.shape,
            transform=t,
            fill=0,
            dtype="int32",
        )
        edge = rasterio.features.rasterize(
            ((b, 1) for b in shapely.boundary(geoms[idx])),
            out_shape=grid.shape,
            transform=t,
            fill=0,
            dtype="uint8",
            all_touched=True,
        ).astype(bool)
        # The cells holding the vertices are boundary cells too (a village smaller than a
        # cell lies wholly in them), whatever the line rasteriser decided.
        xy = shapely.get_coordinates(geoms[idx])
        col, row = ~t * (xy[:, 0], xy[:, 1])
        col, row = np.floor(col).astype(np.int64), np.floor(row).astype(np.int64)
        ok = (row >= 0) & (row < rows_n) & (col >= 0) & (col < cols_n)
        edge[row[ok], col[ok]] = True

        # Where villages overlap, a cell can lie wholly inside several: count the villages
        # holding each cell centre and treat cells held twice as edge cells, so their people
        # are shared by area like the rest.
        held = rasterio.features.rasterize(
            ((shape, 1) for shape in shapes),
            out_shape=grid.shape,
            transform=t,
            fill=0,
            dtype="int32",
            merge_alg=rasterio.enums.MergeAlg.add,
        )
        edge |= held > 1

    whole = (label > 0) & ~edge
    whole_cells = np.flatnonzero(whole)
    whole_village = label.ravel()[whole_cells].astype(np.int64) - 1

    edge_cells = np.flatnonzero(edge)
    er, ec = np.divmod(edge_cells, cols_n)
    x0, y0, x1, y1 = _cell_edges(t, er, ec)
    tree = shapely.STRtree(geoms[idx])
    pair_cell, pair_geom = tree.query(shapely.box(x0, y0, x1, y1))
    area = _clip_area(
        geoms[idx][pair_geom], x0[pair_cell], y0[pair_cell], x1[pair_cell], y1[pair_cell]
    )
    share = area / grid.cell_area
    keep = share > 0
    pair_cell, pair_geom, share = pair_cell[keep], pair_geom[keep], share[keep]
    total_share = np.bincount(pair_cell, weights=share, minlength=len(edge_cells))
    over = total_share > 1 + 1e-9
    share = np.where(over[pair_cell], share / total_share[pair_cell], share)
    share = np.minimum(share, 1.0)

    cell = np.concatenate([whole_cells, edge_cells[pair_cell]])
    village = np.concatenate([whole_village, idx[pair_geom]])
    shares = np.concatenate([np.ones(len(whole_cells)), share])
    weight = values.ravel()[cell] * shares

    population = np.bincount(village, weights=weight, minlength=n)
    covered_area = np.bincount(village, weights=shares, minlength=n) * grid.cell_area
    village_area = np.where(present, shapely.area(geoms), 0.0)
    covered = np.zeros(n)
    np.divide(covered_area, village_area, out=covered, where=village_area > 0)
    covered = np.minimum(covered, 1.0)
    on = np.bincount(village, minlength=n) > 0
    population = np.where(on, population, np.nan)
    total = float(values.sum())
    inside = float(weight.sum())
    notes = {
        "cells": int(values.size),
        **counts,
        "edge_cells": len(edge_cells),
        "overlap_cells": int(over.sum()),
        "population_total": total,
        "population_in_villages": inside,
        "population_outside_villages": max(total - inside, 0.0),
        "villages_on_raster": int(on.sum()),
        "villages_off_raster": int(n - on.sum()),
        "villages_partly_off_raster": int((on & (covered < 0.99)).sum()),
    }
    return ZonalPopulation(population, covered, cell, village, shares, weight, notes)


def _rows_cols(grid: PopulationGrid, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of flat cell indices (32-bit division where the grid allows: faster)."""
    cols_n = grid.shape[1]
    dtype = np.int32 if grid.array.size < 2**31 else np.int64
    cells = np.asarray(cells).astype(dtype, copy=False)
    rows = cells // dtype(cols_n)
    return rows, cells - rows * dtype(cols_n)


def cell_centres(grid: PopulationGrid, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of cells given by flat index, in the raster's CRS.

    Parameters
    ----------
    grid : PopulationGrid
        The grid.
    cells : numpy.ndarray of int
        Flat cell indices (``row * columns + col``).

    Returns
    -------
    x, y : numpy.ndarray
        Centre coordinates.
    """
    rows, cols = _rows_cols(grid, cells)
    t = grid.transform
    return t.c + (cols + 0.5) * t.a, t.f + (rows + 0.5) * t.e


def cell_blocks(grid: PopulationGrid, cells: np.ndarray, size: int = BLOCK) -> np.ndarray:
    """Block number of each cell: cells in the same ``size`` x ``size`` block share it."""
    if size < 1:
        raise ValueError(f"block size must be at least 1, got {size}")
    rows, cols = _rows_cols(grid, cells)
    per_row = -(-grid.shape[1] // size)
    return (rows // size).astype(np.int64) * per_row + cols // size


@dataclass
class PointGroups:
    """Points grouped into clusters of near neighbours, prepared once for many searches.

    Attributes
    ----------
    inverse : numpy.ndarray
        Cluster position of each point.
    centres : numpy.ndarray
        ``(k, 2)`` mean coordinates of each cluster.
    radius : numpy.ndarray
        Largest distance from a cluster's centre to one of its points.
    """

    inverse: np.ndarray
    centres: np.ndarray
    radius: np.ndarray

    @classmethod
    def build(cls, points: np.ndarray, groups: np.ndarray) -> PointGroups:
        """Prepare ``points`` (``(n, 2)``, metric) grouped by ``groups`` (one label each)."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        groups = np.asarray(groups)
        if len(groups) != len(points):
            raise ValueError(f"{len(points)} points but {len(groups)} groups")
        if len(points) == 0:
            return cls(np.empty(0, np.int64), np.empty((0, 2)), np.empty(0))
        if np.issubdtype(groups.dtype, np.integer) and groups.min() >= 0:
            # Block numbers: a dense count instead of a sort.
            size = np.bincount(groups)
            compact = np.cumsum(size > 0) - 1
            inverse = compact[groups]
            size = size[size > 0]
        else:
            _, inverse, size = np.unique(groups, return_inverse=True, return_counts=True)
        cx = np.bincount(inverse, weights=points[:, 0]) / size
        cy = np.bincount(inverse, weights=points[:, 1]) / size
        spread = np.hypot(points[:, 0] - cx[inverse], points[:, 1] - cy[inverse])
        radius = np.zeros(len(size))
        np.maximum.at(radius, inverse, spread)
        return cls(inverse, np.column_stack([cx, cy]), radius)


def nearest_distance(
    facilities: np.ndarray,
    points: np.ndarray,
    groups: np.ndarray | PointGroups | None = None,
    *,
    tree: cKDTree | None = None,
    workers: int = -1,
) -> np.ndarray:
    """Euclidean distance from each point to the nearest facility (same metric units).

    Parameters
    ----------
    facilities : numpy.ndarray
        ``(m, 2)`` facility coordinates in a metric CRS.
    points : numpy.ndarray
        ``(n, 2)`` point coordinates in the same CRS.
    groups : numpy.ndarray of int or PointGroups, optional
        A group per point, grouping points that lie close together (raster cells of one
        block, :func:`cell_blocks`), or those groups prepared with
        :meth:`PointGroups.build` (once for several facility types). The result is the
        same with or without groups; they make many points much faster (see the module
        docstring).
    tree : scipy.spatial.cKDTree, optional
        A tree already built on ``facilities``.
    workers : int
        Threads for the tree queries (-1: every core).

    Returns
    -------
    numpy.ndarray
        Distance per point; NaN everywhere when there are no facilities.
    """
    facilities = np.asarray(facilities, dtype=np.float64).reshape(-1, 2)
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    n = len(points)
    if len(facilities) == 0:
        return np.full(n, np.nan)
    if n == 0:
        return np.empty(0)
    tree = cKDTree(facilities) if tree is None else tree
    if groups is None:
        return tree.query(points, workers=workers)[0]
    if not isinstance(groups, PointGroups):
        groups = PointGroups.build(points, groups)
    if len(groups.inverse) != n:
        raise ValueError(f"{n} points but the groups were prepared for {len(groups.inverse)}")
    inv = groups.inverse
    k = min(CANDIDATES, len(facilities))
    dist, near = tree.query(groups.centres, k=k, workers=workers)
    dist, near = dist.reshape(-1, k), near.reshape(-1, k)
    # The facility nearest to any point of a group lies within d1 + 2 r of the group's
    # centre (d1: the centre's nearest distance, r: the group's radius). When the k-th
    # nearest lies beyond that, the facilities within it are all the candidates.
    bound = dist[:, 0] + 2 * groups.radius + 1e-6
    candidates = (dist <= bound[:, None]).sum(axis=1)
    if k < len(facilities):
        candidates[dist[:, -1] <= bound] = 0  # maybe more: ask the tree per point
    point_m = candidates[inv]
    result = np.empty(n)

    def chunk(lo: int) -> None:
        # Points by candidate count, most first: the j-th candidate is then compared for a
        # prefix of them (no masks), and the few with an open count (0) come last.
        order = lo + np.argsort(-point_m[lo : lo + CHUNK], kind="stable")
        m = point_m[order]
        xy = points[order]
        group = inv[order]
        best = np.full(len(order), np.inf)
        for j in range(k):
            a = int(np.count_nonzero(m > j))
            if a == 0:
                break
            f = facilities[near[group[:a], j]]
            dx = f[:, 0] - xy[:a, 0]
            dy = f[:, 1] - xy[:a, 1]
            dx *= dx
            dy *= dy
            dx += dy
            np.minimum(best[:a], dx, out=best[:a])
        best = np.sqrt(best)
        rest = m == 0
        if rest.any():
            best[rest] = tree.query(xy[rest], workers=1)[0]
        result[order] = best

    starts = range(0, n, CHUNK)
    threads = max(1, min(len(starts), os.cpu_count() or 1, 4 if workers == -1 else workers))
    if threads == 1:
        for lo in starts:
            chunk(lo)
    else:
        # numpy and the tree release the GIL: one chunk of points per core at a time.
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(chunk, starts))
    return result
