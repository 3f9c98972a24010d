"""Point WKB written with numpy must be byte for byte what shapely writes."""

import numpy as np
import shapely

from layers.storage import codec


def test_point_wkb_matches_shapely_bytes():
    rng = np.random.default_rng(7)
    x = rng.uniform(95, 141, 5000)
    y = rng.uniform(-11, 6, 5000)
    x[:3] = [0.0, -0.0, 1e-300]
    points = shapely.points(x, y)
    array = codec.point_wkb(points, codec._type_codes(points))
    assert array is not None
    assert array.to_pylist() == list(codec.to_wkb(points))
    back = shapely.from_wkb(np.array(array.to_pylist(), dtype=object))
    assert shapely.equals_exact(back, points, tolerance=0).all()


def test_point_wkb_leaves_other_geometries_to_shapely():
    mixed = np.array([shapely.Point(1, 2), shapely.LineString([(0, 0), (1, 1)])], dtype=object)
    assert codec.point_wkb(mixed, codec._type_codes(mixed)) is None
    with_z = np.array([shapely.Point(1, 2, 3)], dtype=object)
    assert codec.point_wkb(with_z, codec._type_codes(with_z)) is None
    with_none = np.array([shapely.Point(1, 2), None], dtype=object)
    assert codec.point_wkb(with_none, codec._type_codes(with_none)) is None
    empty = np.array([shapely.Point(1, 2), shapely.Point()], dtype=object)
    assert codec.point_wkb(empty, codec._type_codes(empty)) is None
    assert codec.point_wkb(np.array([], dtype=object), np.array([], dtype=np.int16)) is None


def test_tile_order_is_a_permutation_with_compact_strips():
    rng = np.random.default_rng(3)
    n = 50_000
    x, y = rng.uniform(0, 10, n), rng.uniform(0, 10, n)
    bounds = np.column_stack([x, y, x, y])
    bounds[::97] = np.nan
    order = codec.tile_order(bounds, 5000)
    assert np.array_equal(np.sort(order), np.arange(n))
    located = order[: (~np.isnan(bounds[:, 0])).sum()]
    assert not np.isnan(bounds[located, 0]).any()
    # each run of 5,000 rows covers a small part of the whole area
    areas = []
    for lo in range(0, len(located) - 5000, 5000):
        b = bounds[located[lo : lo + 5000]]
        areas.append(np.ptp(b[:, 0]) * np.ptp(b[:, 1]))
    assert max(areas) < 100 / 3


def test_points_decode_from_wkb_like_shapely():
    import pyarrow as pa

    rng = np.random.default_rng(9)
    points = shapely.points(rng.uniform(95, 141, 3000), rng.uniform(-11, 6, 3000))
    array = codec.point_wkb(points, codec._type_codes(points))
    chunked = pa.chunked_array([array.slice(0, 1000), array.slice(1000)])
    for values in (array, chunked, array.slice(7, 100)):
        back = codec.from_wkb(values)
        expected = shapely.from_wkb(np.array(values.to_pylist(), dtype=object))
        assert shapely.equals_exact(back, expected, tolerance=0).all()
    # anything else goes through shapely: big-endian, 3D, empty, None, mixed
    other = [
        shapely.to_wkb(shapely.Point(1, 2), byte_order=0),
        shapely.to_wkb(shapely.Point(1, 2, 3)),
        shapely.to_wkb(shapely.Point()),
        None,
        shapely.to_wkb(shapely.LineString([(0, 0), (1, 1)])),
    ]
    for value in other:
        values = pa.array([shapely.to_wkb(shapely.Point(5, 6)), value], type=pa.binary())
        back = codec.from_wkb(values)
        expected = shapely.from_wkb(np.array(values.to_pylist(), dtype=object))
        assert back[0] == shapely.Point(5, 6)
        assert (
            (back[1] is None and expected[1] is None)
            or back[1].equals_exact(expected[1], tolerance=0)
            or (back[1].is_empty and expected[1].is_empty)
        )
