"""Point placement among overlapping villages, and the metric CRS policy, by hand."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
import shapely

from layers.crs import INDONESIA_ALBERS, metric_crs
from layers.placement import place_points, swapped_inside

# Two villages overlapping in the strip 1.8 <= x <= 2.0.
A = shapely.box(0, 0, 2, 2)
B = shapely.box(1.8, 0, 4, 2)


def test_each_point_gets_exactly_one_village_deepest_wins():
    points = np.array(
        [
            shapely.Point(1, 1),  # only A
            shapely.Point(3, 1),  # only B
            shapely.Point(1.85, 1),  # both: 0.15 inside A's edge x=2, 0.05 inside B's x=1.8
            shapely.Point(1.97, 1),  # both: 0.03 from A's edge, 0.17 from B's
            shapely.Point(9, 9),  # neither
            None,  # no geometry
        ],
        dtype=object,
    )
    placed = place_points(points, np.array([A, B]), np.array(["15.01.01.2001", "15.01.01.2002"]))
    assert placed.village.tolist() == [0, 1, 0, 1, -1, -1]
    overlaps = dict(zip(placed.overlaps["point"], placed.overlaps["candidates"], strict=True))
    assert overlaps == {2: [0, 1], 3: [1, 0]}


def test_tie_is_broken_by_the_smaller_code_whatever_the_input_order():
    point = np.array([shapely.Point(1.9, 1)], dtype=object)  # 0.1 from both edges
    one = place_points(point, np.array([A, B]), np.array(["15.01.01.2009", "15.01.01.2001"]))
    two = place_points(point, np.array([B, A]), np.array(["15.01.01.2001", "15.01.01.2009"]))
    assert one.village.tolist() == [1]  # B, code ...2001
    assert two.village.tolist() == [0]  # still B


def test_swapped_points_are_found_only_when_the_swap_lands_inside():
    area = np.array([shapely.box(101, -3, 103, -1)])
    points = np.array(
        [shapely.Point(102, -2), shapely.Point(-2, 102), shapely.Point(-20, 150)], dtype=object
    )
    assert swapped_inside(points, area).tolist() == [False, True, False]


def test_regency_gets_its_utm_zone_and_nation_gets_albers():
    # Merangin straddles 102 E: its centre (102.05 E) lies in UTM zone 48 south.
    assert metric_crs((101.5, -2.6, 102.6, -1.8)).to_epsg() == 32748
    assert metric_crs((98.0, 2.0, 99.0, 3.0)).to_epsg() == 32647  # Medan: 47 N
    assert metric_crs((95.0, -11.0, 141.0, 6.0)) == INDONESIA_ALBERS


def test_albers_distances_stay_within_half_a_percent_across_indonesia():
    geod = pyproj.Geod(ellps="WGS84")
    to_albers = pyproj.Transformer.from_crs(4326, INDONESIA_ALBERS, always_xy=True)
    for lon, lat in [(95.3, 5.5), (106.8, -6.2), (119.4, -5.1), (140.7, -2.5), (124.8, 1.5)]:
        lon2, lat2 = lon + 0.05, lat + 0.05  # a few kilometres, like a village to a facility
        _, _, true = geod.inv(lon, lat, lon2, lat2)
        x1, y1 = to_albers.transform(lon, lat)
        x2, y2 = to_albers.transform(lon2, lat2)
        assert np.hypot(x2 - x1, y2 - y1) == pytest.approx(true, rel=0.005)


@pytest.mark.parametrize(
    "bounds", [(0, 0, 500_000, 9_700_000), (float("nan"), 0, 1, 1), (10, 10, 5, 5)]
)
def test_metric_crs_refuses_bounds_that_are_not_degrees(bounds):
    with pytest.raises(ValueError, match="bounds"):
        metric_crs(bounds)
