"""The box grid must find exactly the pairs an R-tree bounding-box query finds."""

import numpy as np
import pytest
import shapely

from layers.boxgrid import BoxGrid


def _pairs(p, b):
    return set(zip(p.tolist(), b.tolist(), strict=True))


@pytest.mark.parametrize("cell", [None, 0.05, 3.0])
def test_grid_candidates_equal_strtree_bbox_query(cell):
    rng = np.random.default_rng(11)
    x0, y0 = rng.uniform(100, 104, 400), rng.uniform(-3, 0, 400)
    w, h = rng.exponential(0.1, 400), rng.exponential(0.1, 400)
    boxes = shapely.box(x0, y0, x0 + w, y0 + h)
    boxes[5] = None
    bounds = shapely.bounds(boxes)
    px, py = rng.uniform(99.5, 104.5, 20_000), rng.uniform(-3.5, 0.5, 20_000)
    # points exactly on box edges and corners count, as in the R-tree
    px[:3] = [bounds[0, 0], bounds[1, 2], bounds[2, 2]]
    py[:3] = [bounds[0, 1], bounds[1, 1], bounds[2, 3]]
    px[3], py[3] = np.nan, np.nan
    grid = BoxGrid(bounds, cell=cell)
    assert grid.fit
    p, b = grid.candidates(px, py)
    tree = shapely.STRtree(boxes)
    tp, tb = tree.query(shapely.points(px, py))
    assert _pairs(p, b) == _pairs(tp, tb)
    assert {0, 1, 2} <= set(p.tolist())
    assert 3 not in set(p.tolist())


def test_grid_without_boxes_is_not_fit():
    grid = BoxGrid(np.full((3, 4), np.nan))
    assert not grid.fit
    with pytest.raises(ValueError, match="R-tree"):
        grid.candidates(np.array([1.0]), np.array([1.0]))


def test_grid_refuses_bad_bounds():
    with pytest.raises(ValueError, match="shape"):
        BoxGrid(np.zeros((3, 3)))


def test_placement_is_the_same_with_the_grid_or_the_rtree(monkeypatch):
    from layers import boxgrid
    from layers.placement import VillageIndex

    rng = np.random.default_rng(5)
    # a 20 x 20 lattice of square villages, with one overlapping sliver village
    xs, ys = np.meshgrid(np.arange(20) * 0.01 + 102.0, np.arange(20) * 0.01 - 2.0)
    cells = shapely.box(xs.ravel(), ys.ravel(), xs.ravel() + 0.01, ys.ravel() + 0.01)
    villages = np.append(cells, shapely.box(102.045, -2.0, 102.055, -1.8))
    codes = np.array([f"15.01.01.{2001 + i}" for i in range(len(villages))], dtype=object)
    points = shapely.points(rng.uniform(101.99, 102.21, 30_000), rng.uniform(-2.01, -1.79, 30_000))
    with_grid = VillageIndex(villages, codes).place(points)
    monkeypatch.setattr(boxgrid, "MAX_ENTRIES", 0)
    index = VillageIndex(villages, codes)
    assert not index.grid.fit
    with_tree = index.place(points)
    assert np.array_equal(with_grid.village, with_tree.village)
    assert (with_grid.village == -1).sum() > 0
    assert len(with_grid.overlaps) > 0
