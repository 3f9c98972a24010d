"""Village neighbours: contiguity with a tolerance, nearest-village fallback, checked by hand.

The fixtures are squares of 1 km in UTM zone 48 S near Jambi (about 102.5 E, 2 S), stored
in EPSG:4326 like every layer. The lattice's cell ``r * 5 + c`` has its lower-left corner
1 km * (c, r) from the origin; row 0 is the southern row.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from layers.errors import InputError
from layers.weights import VillageWeights, village_weights
from tests.conftest import shared_file

UTM48S = 32748
X0, Y0 = 222_000.0, 9_779_000.0  # about 102.50 E, 2.00 S
KM = 1000.0


def code(i: int) -> str:
    return f"15.05.01.{2001 + i}"


def square(col: float, row: float, size: float = KM) -> shapely.Polygon:
    x, y = X0 + col * KM, Y0 + row * KM
    return shapely.box(x, y, x + size, y + size)


def lattice_villages(n: int = 5, *, enclave: bool = True, island: bool = True) -> gpd.GeoDataFrame:
    """n x n lattice; cell 12 holds an enclave in a hole; an island 3 km east of it."""
    geoms = [square(c, r) for r in range(n) for c in range(n)]
    codes = [code(i) for i in range(n * n)]
    if enclave:
        hole = square(2.4, 2.4, 0.2 * KM)
        geoms[12] = shapely.Polygon(geoms[12].exterior, [hole.exterior])
        geoms.append(hole)
        codes.append("15.05.01.1001")  # a kelurahan inside the desa
    if island:
        # Centre (8.5, 2.9) km: its nearest cell centres are in column 4, rows 2, 3, 1, 4
        # (4.02, 4.05, 4.24, 4.31 km); the next, column 4 row 0 and column 3 row 2, are
        # 4.67 and 5.02 km away.
        geoms.append(square(8.0, 2.4))
        codes.append("15.05.02.2001")
    layer = gpd.GeoDataFrame({"kode": codes}, geometry=geoms, crs=UTM48S)
    return layer.to_crs(4326)


def queen(n: int, cell: int) -> set[int]:
    r, c = divmod(cell, n)
    return {
        rr * n + cc
        for rr in range(max(r - 1, 0), min(r + 2, n))
        for cc in range(max(c - 1, 0), min(c + 2, n))
        if (rr, cc) != (r, c)
    }


ENCLAVE, ISLAND = "15.05.01.1001", "15.05.02.2001"


@pytest.fixture(scope="module")
def weights() -> VillageWeights:
    return village_weights(lattice_villages())


def test_lattice_neighbours_are_the_queen_cells_checked_by_hand(weights):
    assert weights.neighbours(code(0)) == [code(1), code(5), code(6)]
    assert weights.neighbours(code(2)) == [code(i) for i in (1, 3, 6, 7, 8)]
    for cell in range(25):
        expected = {code(i) for i in queen(5, cell)}
        if cell == 12:
            expected.add(ENCLAVE)
        if cell in (9, 14, 19, 24):
            expected.add(ISLAND)  # the island's nearest cells, linked both ways
        assert set(weights.neighbours(code(cell))) == expected, cell


def test_enclave_touches_only_the_village_around_it(weights):
    assert weights.neighbours(ENCLAVE) == [code(12)]
    assert ENCLAVE not in weights.islands


def test_island_gets_its_k_nearest_villages_both_ways(weights):
    assert weights.islands == [ISLAND]
    assert sorted(weights.neighbours(ISLAND)) == sorted(code(i) for i in (9, 14, 19, 24))
    assert sorted(weights.fallback) == sorted([ISLAND, *(code(i) for i in (9, 14, 19, 24))])
    assert weights.components == 1
    assert (weights.cardinalities > 0).all()


def test_k_changes_the_island_neighbours():
    w2 = village_weights(lattice_villages(), k=2)
    assert sorted(w2.neighbours(ISLAND)) == [code(14), code(19)]
    assert w2.k == 2


def test_w_is_row_standardised_with_codes_as_ids(weights):
    w = weights.w
    layer = lattice_villages()
    assert w.id_order == layer["kode"].tolist()
    assert w.transform.lower() == "r"
    for kode in layer["kode"]:
        assert sum(w.weights[kode]) == pytest.approx(1.0, abs=1e-12)
        assert sorted(w.neighbors[kode]) == sorted(weights.neighbours(kode))
    assert weights.w.n == 27
    dense = weights.adjacency.toarray()
    assert (dense == dense.T).all()
    assert np.diag(dense).sum() == 0
    assert set(np.unique(dense)) == {0.0, 1.0}


def test_gap_within_tolerance_counts_as_touching_and_strict_mode_sees_islands():
    # A pair of squares 3 m apart and a pair overlapping by 2 m (a sliver), 20 km north.
    geoms = [square(0, 20), square(1.003, 20), square(10, 20), square(10.998, 20)]
    layer = gpd.GeoDataFrame(
        {"kode": [code(i) for i in range(4)]}, geometry=geoms, crs=UTM48S
    ).to_crs(4326)
    tolerant = village_weights(layer)  # 10 m
    assert tolerant.neighbours(code(0)) == [code(1)]
    assert tolerant.neighbours(code(2)) == [code(3)]
    assert tolerant.islands == []
    assert tolerant.fallback == []
    assert tolerant.components == 2
    assert tolerant.component_labels.tolist() == [0, 0, 1, 1]
    strict = village_weights(layer, tolerance=0, k=1)
    assert strict.islands == [code(0), code(1)]  # the 3 m gap; the sliver still touches
    assert strict.neighbours(code(0)) == [code(1)]  # nearest village, 1.003 km away
    assert strict.components == 2
    two_metres = village_weights(layer, tolerance=2.0, k=1)
    assert two_metres.islands == [code(0), code(1)]


def test_subset_keeps_contiguity_and_gives_new_islands_their_nearest():
    full = village_weights(lattice_villages(island=False))
    kept = [k for k in lattice_villages(island=False)["kode"] if k != code(12)]
    part = full.subset(kept[::-1])
    assert part.kode.tolist() == kept[::-1]
    assert part.islands == [ENCLAVE]  # its only neighbour was left out
    # The enclave's point (inside it, at 2.5, 2.5 km) is 1 km from the centres of the
    # cells 7, 11, 13 and 17 and 1.41 km from the diagonal ones.
    assert sorted(part.neighbours(ENCLAVE)) == sorted(code(i) for i in (7, 11, 13, 17))
    assert part.neighbours(code(0)) == [code(6), code(5), code(1)]  # in the order given
    with pytest.raises(InputError, match=r"not in the neighbour weights: 15\.09"):
        full.subset([code(0), "15.09.01.2001"])


def test_invalid_polygon_is_repaired_for_neighbours_and_listed():
    bowtie = shapely.Polygon(
        [(X0 + 1 * KM, Y0), (X0 + 2 * KM, Y0 + KM), (X0 + 2 * KM, Y0), (X0 + KM, Y0 + KM)]
    )
    layer = gpd.GeoDataFrame(
        {"kode": [code(0), code(1), code(2)]},
        geometry=[square(0, 0), bowtie, square(2, 0)],
        crs=UTM48S,
    )
    weights = village_weights(layer)
    assert weights.repaired == [code(1)]
    assert weights.neighbours(code(1)) == [code(0), code(2)]
    assert not shapely.is_valid(layer.geometry.iloc[1])  # the layer itself is unchanged


def test_metric_crs_is_chosen_for_the_area_and_can_be_given():
    layer = lattice_villages()
    assert village_weights(layer).crs.to_epsg() == UTM48S
    assert village_weights(layer, crs="EPSG:23833").crs.to_epsg() == 23833  # TM-3 48.2


def _layer(**columns) -> gpd.GeoDataFrame:
    base = {"kode": [code(0), code(1), code(2)]}
    base.update(columns)
    geometry = base.pop("geometry", [square(0, 0), square(1, 0), square(2, 0)])
    return gpd.GeoDataFrame(base, geometry=geometry, crs=UTM48S)


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        (_layer().set_crs(None, allow_override=True), "no coordinate reference system"),
        (_layer().rename(columns={"kode": "code"}), "no 'kode' column; columns: code"),
        (_layer(kode=[15050012001, 15050012002, 15050012003]), "must be text.*integer"),
        (_layer(kode=[code(0), None, code(2)]), r"1 villages have no code \(rows 2\)"),
        (_layer(kode=[code(0), " ", code(2)]), r"empty code \(rows 2\)"),
        (_layer(kode=[code(0), code(0), code(2)]), r"appear more than once: 15\.05\.01\.2001"),
        (
            _layer(geometry=[square(0, 0), shapely.Point(X0, Y0), square(2, 0)]),
            r"1 villages are Point, not polygons: 15\.05\.01\.2002",
        ),
        (
            _layer(geometry=[square(0, 0), shapely.Polygon(), None]),
            r"2 villages have no geometry: 15\.05\.01\.2002, 15\.05\.01\.2003",
        ),
        (_layer().iloc[:1], "at least 2 villages are needed, found 1"),
    ],
)
def test_bad_villages_are_refused_with_a_clear_message(layer, message):
    with pytest.raises(InputError, match=message):
        village_weights(layer)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, "k must be a whole number"),
        ({"k": 2.5}, "k must be a whole number"),
        ({"tolerance": -1}, "tolerance must be"),
        ({"tolerance": float("nan")}, "tolerance must be"),
        ({"crs": 4326}, "projected in metres"),
        ({"crs": "not a crs"}, "not a coordinate reference system"),
    ],
)
def test_bad_arguments_are_programming_errors(kwargs, message):
    with pytest.raises(ValueError, match=message) as caught:
        village_weights(_layer(), **kwargs)
    assert not isinstance(caught.value, InputError)


def test_not_a_geodataframe_is_a_programming_error():
    with pytest.raises(ValueError, match="must be a GeoDataFrame, not DataFrame"):
        village_weights(pd.DataFrame({"kode": [code(0)]}))


@pytest.mark.shared
def test_real_merangin_villages_all_have_neighbours_and_gaps_are_closed():
    path = shared_file("jambi", "boundaries", "desa_kelurahan_15_02.geojson")
    villages = gpd.read_file(path)[["kode", "geometry"]]
    tolerant = village_weights(villages)
    strict = village_weights(villages, tolerance=0)
    assert len(tolerant.kode) == 215
    assert tolerant.islands == []
    assert (tolerant.cardinalities >= 1).all()
    assert tolerant.components == 1
    # Every strict neighbour stays one; the tolerance only adds pairs across small gaps.
    assert (strict.contiguity.multiply(tolerant.contiguity)).nnz == strict.contiguity.nnz
    assert tolerant.contiguity.nnz >= strict.contiguity.nnz
    assert tolerant.crs.to_epsg() == 32748
