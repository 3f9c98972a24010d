"""A uniform grid over bounding boxes, for finding the boxes that hold many points at once.

For points against polygons an R-tree (shapely's STRtree) answers one point at a time;
with a million points that per-point query dominates. Here every box is registered in the
grid cells it overlaps, and all points are matched to their cell's boxes with numpy array
operations only. The result is the same set of (point, box) pairs an R-tree bounding-box
query gives: boxes are closed, so a point on a box's edge is a candidate.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BoxGrid"]

#: Most cells the grid may have (memory: two int64 arrays of this length at most).
MAX_CELLS = 4_000_000
#: Most box-cell registrations before the grid is judged unfit (e.g. a few giant boxes).
MAX_ENTRIES = 30_000_000


class BoxGrid:
    """Bounding boxes registered in a uniform grid.

    Parameters
    ----------
    bounds : numpy.ndarray, shape (n, 4)
        ``xmin, ymin, xmax, ymax`` per box; rows with NaN (missing or empty geometries)
        are never candidates.
    cell : float, optional
        Cell size in the boxes' units. By default half the median of the boxes' larger
        side: a typical box overlaps about nine cells and a point meets few boxes
        (measured on 84,000 villages and a million points: half the median was ten times
        faster to query than the whole median, and finer cells gained little).

    Attributes
    ----------
    fit : bool
        False when the boxes are too uneven for a grid (too many registrations); callers
        then use an R-tree instead.
    """

    def __init__(self, bounds: np.ndarray, cell: float | None = None) -> None:
        bounds = np.asarray(bounds, dtype=np.float64)
        if bounds.ndim != 2 or bounds.shape[1] != 4:
            raise ValueError(f"bounds must have shape (n, 4), not {bounds.shape}")
        self.bounds = bounds
        valid = np.flatnonzero(~np.isnan(bounds).any(axis=1))
        self.fit = len(valid) > 0
        if not self.fit:
            return
        b = bounds[valid]
        self.x0, self.y0 = float(b[:, 0].min()), float(b[:, 1].min())
        width = float(b[:, 2].max()) - self.x0
        height = float(b[:, 3].max()) - self.y0
        if cell is None:
            cell = float(np.median(np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]))) / 2
        # Never finer than MAX_CELLS allows; never zero (points-like boxes).
        floor = max(width, height, 1e-9) / 1e6
        cell = max(cell, floor, np.sqrt(max(width * height, 0.0) / MAX_CELLS))
        self.cell = cell
        self.nx = int(width // cell) + 1
        self.ny = int(height // cell) + 1
        ix0, iy0 = self._cells(b[:, 0], b[:, 1])
        ix1, iy1 = self._cells(b[:, 2], b[:, 3])
        w = ix1 - ix0 + 1
        per_box = w * (iy1 - iy0 + 1)
        total = int(per_box.sum())
        if total > MAX_ENTRIES:
            self.fit = False
            return
        box = np.repeat(np.arange(len(b), dtype=np.int64), per_box)
        k = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(per_box) - per_box, per_box)
        cell_id = (iy0[box] + k // w[box]) * self.nx + (ix0[box] + k % w[box])
        order = np.argsort(cell_id, kind="stable")
        self.entries = valid[box[order]]  # box positions, grouped by cell
        # Each entry's box edges, in entry order: points sorted by cell read them in a row.
        self.edges = [np.ascontiguousarray(bounds[self.entries, j]) for j in range(4)]
        counts = np.bincount(cell_id, minlength=self.nx * self.ny)
        self.start = np.concatenate([[0], np.cumsum(counts)])

    def _cells(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ix = np.floor((x - self.x0) / self.cell).astype(np.int64)
        iy = np.floor((y - self.y0) / self.cell).astype(np.int64)
        return ix, iy

    def cell_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Cell number of each point; -1 outside the grid or for NaN coordinates."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        out = np.full(len(x), -1, dtype=np.int64)
        if not self.fit:
            return out
        fx = (x - self.x0) / self.cell
        fy = (y - self.y0) / self.cell
        with np.errstate(invalid="ignore"):
            inside = (fx >= 0) & (fx < self.nx) & (fy >= 0) & (fy < self.ny)
        ix = np.floor(fx[inside]).astype(np.int64)
        iy = np.floor(fy[inside]).astype(np.int64)
        out[inside] = iy * self.nx + ix
        return out

    def candidates(
        self, x: np.ndarray, y: np.ndarray, cells: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every (point position, box position) pair where the point lies in the box.

        Parameters
        ----------
        x, y : numpy.ndarray
            Point coordinates (NaN for points to skip).
        cells : numpy.ndarray, optional
            :meth:`cell_of` of the points, when already known.

        Returns
        -------
        tuple of numpy.ndarray
            Point positions and box positions, in the order of the points.
        """
        if not self.fit:
            raise ValueError("the boxes are too uneven for a grid; use an R-tree")
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        cells = self.cell_of(x, y) if cells is None else cells
        located = np.flatnonzero(cells >= 0)
        c = cells[located]
        first = self.start[c]
        n = self.start[c + 1] - first
        total = int(n.sum())
        point = np.repeat(located, n)
        k = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(n) - n, n)
        entry = np.repeat(first, n) + k
        px, py = x[point], y[point]
        x0, y0, x1, y1 = self.edges
        inside = (px >= x0[entry]) & (px <= x1[entry]) & (py >= y0[entry]) & (py <= y1[entry])
        return point[inside], self.entries[entry[inside]]
