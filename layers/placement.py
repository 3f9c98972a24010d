"""Placing points in villages: which village each point falls in, deterministically.

Neighbouring village polygons from simplified sources overlap in thin slivers, so a point
near a border can fall in two villages. Each point is assigned to exactly one: the village
whose boundary is farthest from the point (the point is deepest inside it), ties broken by
the smaller code. Points in no village are reported, never dropped.

The work is vectorised: a uniform grid of the villages' bounding boxes (:mod:`layers.boxgrid`,
numpy only) gives bounding-box candidates, the polygons test them with shapely's
``intersects_xy`` village by village, and for large point sets those tests run on a thread
per core (shapely releases the GIL), each thread owning its villages.

The polygons are not prepared: a prepared polygon builds an index of its edges on first use,
which costs more than it saves when each village meets a few dozen points, as an import's
do (the answers are the same either way: both count ray crossings exactly).
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from layers.boxgrid import BoxGrid

__all__ = ["Placement", "VillageIndex", "place_points", "swapped_inside"]

#: Candidate pairs below which the exact tests run on one thread.
CHUNK = 200_000
#: Points matched to the grid at a time.
GRID_BLOCK = 131_072


@dataclass
class Placement:
    """Where points fall among village polygons.

    Attributes
    ----------
    village : numpy.ndarray
        Index (position in the villages array) of the village chosen per point; -1 where
        the point is in no village.
    overlaps : pandas.DataFrame
        One row per point that fell in more than one village: ``point`` (position),
        ``candidates`` (list of village positions, chosen first).
    """

    village: np.ndarray
    overlaps: pd.DataFrame

    def merge(self, positions: np.ndarray, other: Placement) -> Placement:
        """This placement with the points at ``positions`` replaced by ``other``'s."""
        village = self.village.copy()
        village[positions] = other.village
        moved = other.overlaps.assign(point=positions[other.overlaps["point"].to_numpy()])
        kept = self.overlaps[~self.overlaps["point"].isin(positions)]
        overlaps = pd.concat([kept, moved], ignore_index=True).sort_values("point")
        return Placement(village, overlaps.reset_index(drop=True))


def _no_overlaps() -> pd.DataFrame:
    return pd.DataFrame({"point": np.array([], dtype=np.int64), "candidates": []})


def _points_xy(
    points: np.ndarray, xy: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions of usable points and their x, y (taken from ``xy`` when given)."""
    ok = ~(shapely.is_missing(points) | shapely.is_empty(points))
    idx = np.flatnonzero(ok)
    if xy is not None:
        return (
            idx,
            np.asarray(xy[0], dtype=np.float64)[idx],
            np.asarray(xy[1], dtype=np.float64)[idx],
        )
    return idx, shapely.get_x(points[idx]), shapely.get_y(points[idx])


class VillageIndex:
    """A spatial index of village polygons for placing many points quickly.

    Parameters
    ----------
    villages : numpy.ndarray of shapely Polygons/MultiPolygons
        Village polygons (used as they are; prepared ones stay prepared).
    codes : numpy.ndarray of str
        Village codes, used to break ties so the choice never depends on input order.
    """

    def __init__(self, villages: np.ndarray, codes: np.ndarray) -> None:
        self.villages = np.asarray(villages, dtype=object)
        self.codes = np.asarray(codes, dtype=object)
        if len(self.villages) != len(self.codes):
            raise ValueError(f"{len(self.villages)} villages but {len(self.codes)} codes")
        self.grid = BoxGrid(shapely.bounds(self.villages))
        self._tree: shapely.STRtree | None = None
        self._primed: tuple[np.ndarray, np.ndarray, np.ndarray, Placement] | None = None
        self.threads = max(1, min(4, os.cpu_count() or 1))

    @property
    def tree(self) -> shapely.STRtree:
        """An R-tree of the villages, built on first use."""
        if self._tree is None:
            self._tree = shapely.STRtree(self.villages)
        return self._tree

    def _pairs(
        self,
        points: np.ndarray | None,
        x: np.ndarray,
        y: np.ndarray,
        idx: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """All (point position, village position) pairs where the point is in the village.

        Bounding-box candidates come from a uniform grid of the villages' boxes (numpy
        only; several times faster than an R-tree query per point), or from the STRtree
        when the boxes are too uneven for a grid. They are sorted by village, so each
        polygon is tested against all its candidate points in a row (its coordinates stay
        in cache); the exact tests run on one thread per core over contiguous runs of
        villages (a prepared polygon builds its internal index lazily on first use, and
        two threads must never share one).

        ``x`` and ``y`` are the coordinates of ``points[idx]`` (of ``points`` without
        ``idx``); the positions returned are positions in ``x``. ``points`` may be None
        when the grid fits (only the R-tree reads the geometries).
        """
        if len(x) == 0:
            return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
        parallel = self.threads > 1 and len(x) >= CHUNK
        if self.grid.fit:
            # Points in cell order, in blocks: the temporary arrays stay small (fresh
            # memory pages are slow to obtain) and neighbouring points share boxes.
            cells = self.grid.cell_of(x, y)
            # The pairs found are the same in any order, so the sorts need not be stable.
            by_cell = np.argsort(cells)
            found = []
            for lo in range(0, len(by_cell), GRID_BLOCK):
                block = by_cell[lo : lo + GRID_BLOCK]
                bp, bv = self.grid.candidates(x[block], y[block], cells[block])
                found.append((block[bp], bv))
            p = np.concatenate([f[0] for f in found])
            v = np.concatenate([f[1] for f in found])
        else:
            if points is None:
                raise ValueError("the boxes are too uneven for a grid: give the points")
            p, v = self.tree.query(points if idx is None else points[idx])
        order = np.argsort(v)
        p, v = p[order], v[order]
        cuts = [0]
        if parallel:
            cuts += [
                int(np.searchsorted(v, v[len(v) * k // self.threads]))
                for k in range(1, self.threads)
            ]
        cuts.append(len(p))

        def test(span: tuple[int, int]) -> np.ndarray:
            lo, hi = span
            return shapely.intersects_xy(self.villages[v[lo:hi]], x[p[lo:hi]], y[p[lo:hi]])

        spans = [span for span in itertools.pairwise(cuts) if span[1] > span[0]] or [(0, 0)]
        if len(spans) > 1:
            with ThreadPoolExecutor(len(spans)) as pool:
                keep = np.concatenate(list(pool.map(test, spans)))
        else:
            keep = test(spans[0])
        return p[keep], v[keep]

    def place(
        self, points: np.ndarray, xy: tuple[np.ndarray, np.ndarray] | None = None
    ) -> Placement:
        """Assign each point to one village (see the module docstring for the rule).

        Parameters
        ----------
        points : numpy.ndarray of shapely Points
            The points (None or empty entries are left unplaced).
        xy : tuple of numpy.ndarray, optional
            The points' x and y when the caller already has them (any value where a
            point is None or empty); saves reading them from the geometries again, and
            lets a placement made beforehand by :meth:`prime` be used.
        """
        points = np.asarray(points, dtype=object)
        n = len(points)
        if n == 0 or len(self.villages) == 0:
            return Placement(np.full(n, -1, dtype=np.int64), _no_overlaps())
        idx, x, y = _points_xy(points, xy)
        if xy is not None:
            primed = self._from_primed(n, idx, x, y)
            if primed is not None:
                return primed
        return self._place(n, idx, x, y, points)

    def prime(self, x: np.ndarray, y: np.ndarray) -> None:
        """Place points known only by their coordinates now, for a later :meth:`place`.

        ``x`` and ``y`` are NaN where there is no point. A later ``place(points, xy)``
        of (some of) the same points, with the same coordinates, takes its answer from
        here: a point's village depends on its coordinates alone. Lets an import place
        its points while it still checks their other values.
        """
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        self._primed = None
        if len(self.villages) == 0 or not self.grid.fit:
            return
        valid = ~(np.isnan(x) | np.isnan(y))
        idx = np.flatnonzero(valid)
        placement = self._place(len(x), idx, x[idx], y[idx], None)
        self._primed = (x, y, valid, placement)

    def _from_primed(
        self, n: int, idx: np.ndarray, x: np.ndarray, y: np.ndarray
    ) -> Placement | None:
        """The primed placement restricted to the points at ``idx``, if it covers them."""
        if self._primed is None:
            return None
        px, py, valid, placement = self._primed
        if len(px) != n or not valid[idx].all():
            return None
        if not (np.array_equal(px[idx], x) and np.array_equal(py[idx], y)):
            return None
        wanted = np.zeros(n, dtype=bool)
        wanted[idx] = True
        chosen = np.where(wanted, placement.village, -1)
        overlaps = placement.overlaps
        if len(overlaps):
            overlaps = overlaps[wanted[overlaps["point"].to_numpy()]].reset_index(drop=True)
        if len(overlaps) == 0:
            overlaps = _no_overlaps()
        return Placement(chosen, overlaps)

    def _place(
        self, n: int, idx: np.ndarray, x: np.ndarray, y: np.ndarray, points: np.ndarray | None
    ) -> Placement:
        """Place the ``n`` points whose usable ones are at ``idx``, with coordinates x, y.

        ``points`` are the geometries (None: made from x and y where needed, which the
        grid allows; the R-tree needs the geometries).
        """
        chosen = np.full(n, -1, dtype=np.int64)
        pt_pos, vil_pos = self._pairs(points, x, y, idx)
        pt_pos = idx[pt_pos]
        if len(pt_pos) == 0:
            return Placement(chosen, _no_overlaps())
        counts = np.bincount(pt_pos, minlength=n)
        single = counts[pt_pos] == 1
        chosen[pt_pos[single]] = vil_pos[single]
        if single.all():
            return Placement(chosen, _no_overlaps())
        mp, mv = pt_pos[~single], vil_pos[~single]
        if points is None:
            where = np.searchsorted(idx, mp)
            geoms = shapely.points(x[where], y[where])
        else:
            geoms = points[mp]
        # Rounded so that equal depths (up to about 0.1 mm in degrees) fall to the code.
        depth = np.round(shapely.distance(geoms, shapely.boundary(self.villages[mv])), 9)
        order = np.lexsort((self.codes[mv].astype(str), -depth, mp))
        mp, mv = mp[order], mv[order]
        first = np.ones(len(mp), dtype=bool)
        first[1:] = mp[1:] != mp[:-1]
        chosen[mp[first]] = mv[first]
        groups = pd.Series(mv).groupby(mp, sort=True).agg(list)
        overlaps = pd.DataFrame({"point": groups.index.to_numpy(), "candidates": groups.to_list()})
        return Placement(chosen, overlaps)

    def swapped(self, points: np.ndarray) -> np.ndarray:
        """True where a point falls in no village as given but in one with x and y swapped."""
        points = np.asarray(points, dtype=object)
        result = np.zeros(len(points), dtype=bool)
        if len(points) == 0 or len(self.villages) == 0:
            return result
        idx, x, y = _points_xy(points)
        inside = np.zeros(len(idx), dtype=bool)
        inside[self._pairs(points[idx], x, y)[0]] = True
        out = ~inside
        if out.any():
            flipped = shapely.points(y[out], x[out])
            hit = np.unique(self._pairs(flipped, y[out], x[out])[0])
            result[idx[out][hit]] = True
        return result


def place_points(points: np.ndarray, villages: np.ndarray, codes: np.ndarray) -> Placement:
    """Assign each point to one village polygon.

    Parameters
    ----------
    points : numpy.ndarray of shapely Points
        Points in the same CRS as ``villages`` (None or empty entries are left unplaced).
    villages : numpy.ndarray of shapely Polygons/MultiPolygons
        Village polygons.
    codes : numpy.ndarray of str
        Village codes, used to break ties so the choice never depends on input order.

    Returns
    -------
    Placement
    """
    return VillageIndex(villages, codes).place(points)


def swapped_inside(points: np.ndarray, area: np.ndarray) -> np.ndarray:
    """Which points fall in ``area`` only when their x and y are swapped.

    Parameters
    ----------
    points : numpy.ndarray of shapely Points
        Points as read (x = longitude, y = latitude).
    area : numpy.ndarray of shapely geometries
        The polygons that define the area (e.g. the workspace's villages).

    Returns
    -------
    numpy.ndarray of bool
        True where the point is outside the area but its swap is inside.
    """
    area = np.asarray(area, dtype=object)
    return VillageIndex(area, np.arange(len(area)).astype(str)).swapped(points)
