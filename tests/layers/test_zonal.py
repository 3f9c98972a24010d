"""Zonal population and cell distances, checked by hand and against independent computations.

The hand-made rasters are tiny GeoTIFFs written with rasterio in memory. Expected values are
worked out in the comments; where a second computation is used (a per-cell shapely
intersection loop, scipy's all-pairs distances, the ``exactextract`` package) it shares none
of the code under test.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from rasterio.io import MemoryFile
from rasterio.transform import from_origin
from scipy.spatial.distance import cdist

from layers.demo import demo_files
from layers.errors import InputError
from layers.zonal import (
    PointGroups,
    PopulationGrid,
    cell_blocks,
    cell_centres,
    nearest_distance,
    zonal_population,
)

# A 3 x 4 grid of 0.01 degree cells with its upper-left corner at 102.00 E, 2.00 S.
ORIGIN = from_origin(102.0, -2.0, 0.01, 0.01)
VALUES = [
    [1.0, 2.0, 3.0, 4.0],
    [5.0, 6.0, 7.0, 8.0],
    [9.0, 10.0, -1.0, 12.0],  # -1 is nodata
]


def geotiff(values, *, transform=ORIGIN, crs="EPSG:4326", nodata=-1.0) -> bytes:
    values = np.asarray(values, dtype="float32")
    with MemoryFile() as mem:
        with mem.open(
            driver="GTiff",
            height=values.shape[0],
            width=values.shape[1],
            count=1,
            dtype="float32",
            crs=crs,
            transform=transform,
            nodata=nodata,
        ) as ds:
            ds.write(values, 1)
        return mem.read()


@pytest.fixture
def grid() -> PopulationGrid:
    return PopulationGrid.from_bytes(geotiff(VALUES))


def test_grid_reads_bytes_and_paths_alike(grid, tmp_path):
    path = tmp_path / "pop.tif"
    path.write_bytes(geotiff(VALUES))
    from_path = PopulationGrid.from_path(path)
    assert from_path.shape == grid.shape == (3, 4)
    assert from_path.crs.to_epsg() == grid.crs.to_epsg() == 4326
    assert from_path.nodata == grid.nodata == -1.0
    np.testing.assert_array_equal(from_path.array, grid.array)
    assert grid.bounds == pytest.approx((102.0, -2.03, 102.04, -2.0))
    assert grid.cell_area == pytest.approx(1e-4)
    people, counts = grid.people()
    assert people.sum() == pytest.approx(67.0)  # every value but the nodata cell
    assert counts == {"nodata_cells": 1, "negative_cells": 0}


def test_negative_and_non_finite_cells_count_as_no_people():
    grid = PopulationGrid(np.array([[1.0, -5.0], [np.nan, 2.0]]), ORIGIN, "EPSG:4326", None)
    people, counts = grid.people()
    np.testing.assert_array_equal(people, [[1.0, 0.0], [0.0, 2.0]])
    assert counts == {"nodata_cells": 1, "negative_cells": 1}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: PopulationGrid(np.ones(3), ORIGIN, "EPSG:4326"), "rows and columns"),
        (lambda: PopulationGrid(np.array([["a"]]), ORIGIN, "EPSG:4326"), "not numbers"),
        (lambda: PopulationGrid(np.ones((2, 2)), ORIGIN, None), "coordinate reference system"),
        (
            lambda: PopulationGrid(np.ones((2, 2)), ORIGIN * ORIGIN.rotation(30), "EPSG:4326"),
            "rotated",
        ),
        (lambda: PopulationGrid.from_bytes(b""), "empty"),
        (lambda: PopulationGrid.from_bytes(b"not a tiff"), "cannot read"),
        (lambda: PopulationGrid.from_bytes(geotiff(VALUES), band=2), "band 2 does not exist"),
        (lambda: PopulationGrid.from_bytes(geotiff(VALUES, crs=None)), "coordinate reference"),
    ],
)
def test_bad_rasters_are_refused_with_a_reason(make, message):
    with pytest.raises(InputError, match=message):
        make()


def test_zonal_sums_by_hand_with_a_split_edge_cell_and_a_village_inside_one_cell(grid):
    villages = np.array(
        [
            # A: column 0 whole (1 + 5 + 9) and the left half of column 1 ((2 + 6 + 10) / 2).
            shapely.box(102.0, -2.03, 102.015, -2.0),
            # B: right half of column 1 in rows 0-1 ((2 + 6) / 2) and columns 2-3 there
            # (3 + 4 + 7 + 8).
            shapely.box(102.015, -2.02, 102.04, -2.0),
            # C: 0.002 x 0.002 degrees inside the cell of 12 people: 4 % of it, 0.48 people.
            shapely.box(102.031, -2.029, 102.033, -2.027),
            # D: off the raster.
            shapely.box(103.0, -2.5, 103.01, -2.49),
        ],
        dtype=object,
    )
    z = zonal_population(villages, grid)
    np.testing.assert_allclose(z.population[:3], [24.0, 26.0, 0.48], rtol=1e-9)
    assert np.isnan(z.population[3])
    np.testing.assert_allclose(z.covered, [1.0, 1.0, 1.0, 0.0], atol=1e-9)
    # 67 people in valid cells: 24 + 26 + 0.48 inside villages, the rest outside (the
    # bottom half of column 1, 5, and 12 - 0.48 in the last cell).
    assert z.notes["population_total"] == pytest.approx(67.0)
    assert z.notes["population_outside_villages"] == pytest.approx(5.0 + 11.52)
    assert z.notes["nodata_cells"] == 1
    assert z.notes["villages_on_raster"] == 3
    assert z.notes["villages_off_raster"] == 1
    split = z.cell == 1  # row 0, column 1: half in A, half in B
    assert sorted(z.share[split]) == pytest.approx([0.5, 0.5])
    np.testing.assert_allclose(np.bincount(z.village, z.weight, minlength=4)[:3], [24, 26, 0.48])


def test_a_cell_covered_by_two_overlapping_villages_is_counted_once(grid):
    cell = shapely.box(102.0, -2.01, 102.01, -2.0)  # the cell of 1 person
    z = zonal_population(np.array([cell, cell], dtype=object), grid)
    np.testing.assert_allclose(z.population, [0.5, 0.5])
    assert z.notes["overlap_cells"] == 1
    assert z.notes["population_in_villages"] == pytest.approx(1.0)


def test_edge_areas_are_the_same_without_the_fast_rectangle_clip(grid, monkeypatch):
    villages = np.array(
        [shapely.box(102.0, -2.03, 102.015, -2.0), shapely.box(102.015, -2.02, 102.04, -2.0)],
        dtype=object,
    )
    fast = zonal_population(villages, grid).population

    def refuse(*args, **kwargs):
        raise TypeError("only scalars")

    monkeypatch.setattr(shapely.lib, "clip_by_rect", refuse)
    np.testing.assert_allclose(zonal_population(villages, grid).population, fast, rtol=1e-12)
    np.testing.assert_allclose(fast, [24.0, 26.0])


def test_a_missing_raster_file_is_named(tmp_path):
    with pytest.raises(InputError, match="cannot read the raster") as info:
        PopulationGrid.from_path(tmp_path / "penduduk.tif")
    assert info.value.file == "penduduk.tif"


def test_cells_wholly_inside_two_overlapping_villages_are_shared_between_them():
    big = PopulationGrid(np.ones((5, 5)), ORIGIN, "EPSG:4326")
    square = shapely.box(102.0, -2.05, 102.05, -2.0)  # all 25 cells, twice
    z = zonal_population(np.array([square, square], dtype=object), big)
    np.testing.assert_allclose(z.population, [12.5, 12.5])
    assert z.notes["overlap_cells"] == 25
    assert z.notes["population_outside_villages"] == pytest.approx(0.0)


def brute_force_zonal(geoms: list, values: np.ndarray, transform) -> np.ndarray:
    """Per cell, per village: intersection area over cell area, overlaps scaled to one."""
    rows, cols = values.shape
    out = np.zeros(len(geoms))
    for r in range(rows):
        for c in range(cols):
            x0, y1 = transform * (c, r)
            x1, y0 = transform * (c + 1, r + 1)
            cell = shapely.box(x0, y0, x1, y1)
            shares = np.array([g.intersection(cell).area / cell.area for g in geoms])
            if shares.sum() > 1:
                shares /= shares.sum()
            out += shares * values[r, c]
    return out


def test_zonal_matches_a_cell_by_cell_intersection_on_random_villages():
    rng = np.random.default_rng(3)
    transform = from_origin(102.0, -2.0, 0.01, 0.01)
    values = rng.gamma(2.0, 10.0, (30, 30))
    seeds = shapely.multipoints(rng.uniform([102.02, -2.28], [102.28, -2.02], (25, 2)))
    frame = shapely.box(102.03, -2.27, 102.27, -2.03)
    cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=frame))
    geoms = [shapely.intersection(c, frame) for c in cells]
    geoms += [
        shapely.Point(102.15, -2.15).buffer(0.021),
        shapely.box(102.001, -2.009, 102.002, -2.008),
    ]
    geoms = [g for g in geoms if not g.is_empty]
    expected = brute_force_zonal(geoms, values, transform)
    z = zonal_population(np.array(geoms, dtype=object), PopulationGrid(values, transform, 4326))
    np.testing.assert_allclose(z.population, expected, rtol=1e-9, atol=1e-9)


def test_zonal_matches_exactextract_on_the_demo_raster():
    exactextract = pytest.importorskip("exactextract")
    files = demo_files()
    villages = gpd.read_file(files["villages"])
    grid = PopulationGrid.from_path(files["population"])
    z = zonal_population(villages.geometry.to_numpy(), grid)
    with rasterio.open(files["population"]) as ds:
        found = exactextract.exact_extract(
            ds, villages, ["cell_id", "coverage"], output="pandas", include_cols=[]
        )
    # exactextract measures each village alone; where overlapping slivers together cover
    # more than a cell, share it out as the module does, then sum the people.
    pairs = pd.DataFrame(
        {
            "village": np.repeat(np.arange(len(found)), found["cell_id"].map(len)),
            "cell": np.concatenate(found["cell_id"].to_numpy()).astype(np.int64),
            "share": np.concatenate(found["coverage"].to_numpy()).astype(np.float64),
        }
    )
    total = pairs.groupby("cell")["share"].transform("sum")
    pairs["share"] = np.where(total > 1, pairs["share"] / total, pairs["share"])
    people, _ = grid.people()
    pairs["people"] = people.ravel()[pairs["cell"]] * pairs["share"]
    expected = pairs.groupby("village")["people"].sum().reindex(range(len(villages)), fill_value=0)
    # exactextract computes coverage in single precision: agree to 1e-5 of the people.
    np.testing.assert_allclose(z.population, expected.to_numpy(), rtol=1e-5, atol=1e-3)
    assert z.notes["population_in_villages"] == pytest.approx(expected.sum(), rel=1e-6)


def test_cell_centres_and_blocks(grid):
    x, y = cell_centres(grid, np.array([0, 5, 11]))
    np.testing.assert_allclose(x, [102.005, 102.015, 102.035])
    np.testing.assert_allclose(y, [-2.005, -2.015, -2.025])
    np.testing.assert_array_equal(
        cell_blocks(grid, np.array([0, 1, 2, 4, 11]), size=2), [0, 0, 1, 0, 3]
    )
    with pytest.raises(ValueError, match="block size"):
        cell_blocks(grid, np.array([0]), size=0)


@pytest.mark.parametrize("n_facilities", [1, 3, 8, 9, 400])
def test_nearest_distance_with_groups_equals_all_pairs(n_facilities):
    rng = np.random.default_rng(n_facilities)
    facilities = rng.uniform(0, 50_000, (n_facilities, 2))
    facilities[-1] = facilities[0]  # a duplicate location
    side = 120
    cells = np.arange(side * side)
    xy = np.column_stack([(cells % side) * 400.0 + 200, (cells // side) * 400.0 + 200])
    xy = xy[rng.random(len(xy)) < 0.7]  # unpopulated cells are left out
    rows, cols = xy[:, 1] // 400, xy[:, 0] // 400
    blocks = (rows // 8) * 100 + cols // 8
    expected = cdist(xy, facilities).min(axis=1)
    np.testing.assert_allclose(nearest_distance(facilities, xy), expected, rtol=1e-12)
    np.testing.assert_allclose(nearest_distance(facilities, xy, blocks), expected, rtol=1e-12)
    prepared = PointGroups.build(xy, blocks)
    np.testing.assert_allclose(nearest_distance(facilities, xy, prepared), expected, rtol=1e-12)


def test_nearest_distance_without_facilities_is_unknown():
    assert np.isnan(nearest_distance(np.empty((0, 2)), np.zeros((3, 2)))).all()
    assert nearest_distance(np.zeros((1, 2)), np.empty((0, 2))).shape == (0,)
    with pytest.raises(ValueError, match="groups"):
        nearest_distance(np.zeros((1, 2)), np.zeros((3, 2)), np.array([1, 2]))
