"""Hot spots: Gi* and local Moran's I against formulas computed here, planted clusters, BH.

Lattices of 1 km squares in UTM zone 48 S near Jambi (see ``test_weights``); cell
``r * n + c`` is row ``r`` (from the south), column ``c``. Neighbours in the independent
computations come from index arithmetic (queen moves), not from geometry.
"""

from __future__ import annotations

import esda
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from libpysal.weights import W
from scipy import stats

from layers.errors import InputError
from layers.hotspots import GI_LABELS, LABELS, RESULT_COLUMNS, HotSpots, benjamini_hochberg
from layers.weights import village_weights
from tests.layers.test_weights import (
    ENCLAVE,
    KM,
    UTM48S,
    X0,
    Y0,
    code,
    lattice_villages,
    queen,
    square,
)


def grid(n: int, values: np.ndarray, column: str = "score") -> gpd.GeoDataFrame:
    geoms = [square(c, r) for r in range(n) for c in range(n)]
    layer = gpd.GeoDataFrame(
        {"kode": [code(i) for i in range(n * n)], column: values}, geometry=geoms, crs=UTM48S
    )
    return layer.to_crs(4326)


def queen_matrix(n: int) -> np.ndarray:
    matrix = np.zeros((n * n, n * n))
    for cell in range(n * n):
        matrix[cell, list(queen(n, cell))] = 1.0
    return matrix


def gi_star_z(x: np.ndarray, adjacency: np.ndarray) -> np.ndarray:
    """Ord and Getis (1995) Gi*, binary weights with w_ii = 1."""
    n = len(x)
    weights = adjacency + np.eye(n)
    w_i = weights.sum(axis=1)
    s1_i = (weights**2).sum(axis=1)
    mean = x.mean()
    s = np.sqrt((x**2).mean() - mean**2)
    return (weights @ x - mean * w_i) / (s * np.sqrt((n * s1_i - w_i**2) / (n - 1)))


def local_moran(x: np.ndarray, adjacency: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Anselin's local I with row-standardised weights; esda divides by n - 1, not n."""
    n = len(x)
    d = x - x.mean()
    lag = (adjacency / adjacency.sum(axis=1, keepdims=True)) @ d
    moran = d * lag / ((d @ d) / (n - 1))
    quadrant = np.select([(d > 0) & (lag > 0), (d <= 0) & (lag > 0), (d <= 0)], [1, 2, 3], 4)
    return moran, quadrant


RNG_VALUES = np.random.default_rng(3).normal(10.0, 1.0, 100)


def planted() -> np.ndarray:
    """10 x 10 noise with a 3 x 3 block of high need (rows/cols 3-5) and one of low need."""
    values = RNG_VALUES.copy()
    block = [r * 10 + c for r in range(3, 6) for c in range(3, 6)]
    low = [r * 10 + c for r in range(7, 10) for c in range(0, 3)]
    values[block] += 5.0
    values[low] -= 5.0
    return values


@pytest.fixture(scope="module")
def planted_run() -> HotSpots:
    return HotSpots(grid(10, planted())).run()


def test_result_has_one_row_per_village_indexed_by_text_code(planted_run):
    result = planted_run.result
    assert list(result.columns) == list(RESULT_COLUMNS)
    assert result.index.name == "kode"
    assert result.index.tolist() == [code(i) for i in range(100)]
    assert result["significant"].dtype == bool
    assert result["gi_significant"].dtype == bool
    assert set(result["moran_q"]) <= {1, 2, 3, 4}
    assert (result["neighbours"] == queen_matrix(10).sum(axis=1)).all()
    assert not result["fallback"].any()


def test_gi_star_z_matches_the_ord_getis_formula(planted_run):
    expected = gi_star_z(planted(), queen_matrix(10))
    np.testing.assert_allclose(planted_run.result["gi_z"].to_numpy(), expected, rtol=1e-9)


def test_gi_star_z_is_the_same_for_negative_values():
    values = planted() - 100.0  # all negative: G itself needs a positive total
    run = HotSpots(grid(10, values), permutations=99).run()
    expected = gi_star_z(values, queen_matrix(10))
    np.testing.assert_allclose(run.result["gi_z"].to_numpy(), expected, rtol=1e-9)


def test_local_moran_matches_a_numpy_computation(planted_run):
    moran, quadrant = local_moran(planted(), queen_matrix(10))
    result = planted_run.result
    np.testing.assert_allclose(result["moran_i"].to_numpy(), moran, rtol=1e-9)
    assert result["moran_q"].tolist() == quadrant.tolist()


def test_planted_clusters_are_found_and_nothing_far_from_them(planted_run):
    result = planted_run.result
    centre_high, centre_low = code(44), code(81)
    assert result.loc[centre_high, "label"] == "high_cluster"
    assert result.loc[centre_high, "gi_label"] == "hot_spot"
    assert result.loc[centre_low, "label"] == "low_cluster"
    assert result.loc[centre_low, "gi_label"] == "cold_spot"
    assert result.loc[centre_high, "significant"]
    assert result.loc[centre_high, "gi_p"] == pytest.approx(2 / 1000)  # no permutation beat it
    # Every significant high cluster lies in the high block or touches it.
    near_high = {r * 10 + c for r in range(2, 7) for c in range(2, 7)}
    high = result.index[result["label"] == "high_cluster"]
    assert {int(k[-4:]) - 2001 for k in high} <= near_high
    near_low = {r * 10 + c for r in range(6, 10) for c in range(0, 4)}
    low = result.index[result["label"] == "low_cluster"]
    assert {int(k[-4:]) - 2001 for k in low} <= near_low
    assert set(result["label"]) <= set(LABELS)
    assert set(result["gi_label"]) <= set(GI_LABELS)
    assert planted_run.notes == []


def test_noise_alone_gives_no_significant_village_after_fdr():
    run = HotSpots(grid(10, RNG_VALUES)).run()
    assert not run.result["significant"].any()
    assert not run.result["gi_significant"].any()
    assert run.counts()["not_significant"] == 100
    # 2 / 1000 > 0.05 / 100: a lone village at the smallest p-value could not pass BH.
    assert any("too coarse for the false discovery rate over 100" in str(n) for n in run.notes)


@pytest.mark.filterwarnings("ignore:The alternative hypothesis:DeprecationWarning")
def test_p_values_are_esdas_doubled(planted_run):
    values = planted()
    w = planted_run.weights.w
    lisa = esda.Moran_Local(values, w, permutations=999, seed=planted_run.seed)
    expected = np.minimum(2 * lisa.p_sim.astype(float), 1)
    np.testing.assert_allclose(planted_run.result["moran_p"].to_numpy(), expected, atol=1e-6)
    assert planted_run.result["moran_p"].min() >= 2 / 1000
    assert planted_run.result["gi_p"].max() <= 1.0


def test_equal_neighbour_weights_make_both_permutation_tests_agree(planted_run):
    # Under conditional permutation both statistics move with the sum of the shuffled
    # neighbours' values alone (contiguity weighs each neighbour equally), and the same
    # seed draws the same permutations, so their p-values coincide (ties aside).
    result = planted_run.result
    np.testing.assert_array_equal(result["gi_p"], result["moran_p"])


def test_a_value_at_the_mean_is_never_a_significant_moran_class():
    # 1..25 on a 5 x 5 lattice: the centre holds 13, the mean, so its I is 0 in every
    # permutation (esda alone would give it the smallest p-value, 1 / 1000).
    run = HotSpots(grid(5, np.arange(1.0, 26.0))).run()
    centre = run.result.loc[code(12)]
    assert centre["moran_i"] == 0
    assert centre["moran_p"] == 1.0
    assert centre["label"] == "not_significant"


def test_bh_by_hand():
    # Sorted: .004 .012 .029 .041 .6 against i * .05 / 5 = .01 .02 .03 .04 .05: the first
    # three pass. Adjusted: .02, .03, .04833, .05125, .6 (each p * 5 / i, already rising).
    rejected, adjusted = benjamini_hochberg([0.012, 0.041, 0.029, 0.004, 0.6], alpha=0.05)
    assert rejected.tolist() == [True, False, True, True, False]
    np.testing.assert_allclose(adjusted, [0.03, 0.05125, 0.029 * 5 / 3, 0.02, 0.6])


def test_bh_is_step_up_not_step_down():
    # p(1) = .02 fails its own threshold .01, but p(5) = .04 <= .05, so all five pass;
    # each adjusted value is the minimum of p(j) * 5 / j over j >= i, here .04.
    rejected, adjusted = benjamini_hochberg([0.03, 0.02, 0.04, 0.025, 0.035])
    assert rejected.all()
    np.testing.assert_allclose(adjusted, [0.04] * 5)
    rejected, adjusted = benjamini_hochberg([0.5, 0.9, 1.0])
    assert not rejected.any()
    np.testing.assert_allclose(adjusted, [1.0, 1.0, 1.0])


def test_significance_uses_bh_or_the_raw_p_value(planted_run):
    result = planted_run.result
    p = result["moran_p"].to_numpy()
    # BH step-up written out: largest rank r with p(r) <= r * alpha / m.
    m = len(p)
    order = np.argsort(p, kind="stable")
    passing = [r for r in range(1, m + 1) if p[order[r - 1]] <= r * 0.05 / m]
    expected = np.zeros(m, dtype=bool)
    expected[order[: max(passing, default=0)]] = True
    assert result["significant"].tolist() == expected.tolist()
    raw = HotSpots(grid(10, planted()), fdr=False).run().result
    assert raw["significant"].tolist() == (raw["moran_p"] <= 0.05).tolist()
    assert raw["significant"].sum() >= result["significant"].sum()


def test_same_seed_same_numbers_and_global_random_state_untouched():
    layer = grid(10, planted())
    np.random.seed(7)
    first = HotSpots(layer, seed=11).run().result
    after = np.random.rand()
    np.random.seed(7)
    assert np.random.rand() == after  # the run did not reseed numpy's global generator
    second = HotSpots(layer, seed=11).run().result
    pd.testing.assert_frame_equal(first, second)
    other = HotSpots(layer, seed=12).run().result
    assert not np.array_equal(first["moran_p"], other["moran_p"])
    np.testing.assert_array_equal(first["gi_z"], other["gi_z"])


def test_analytical_p_values_without_permutations():
    values = planted()
    result = HotSpots(grid(10, values), permutations=0).run().result
    z = gi_star_z(values, queen_matrix(10))
    np.testing.assert_allclose(result["gi_p"].to_numpy(), 2 * stats.norm.sf(np.abs(z)), rtol=1e-9)
    assert result.loc[code(44), "label"] == "high_cluster"


def test_villages_without_value_are_left_out_and_their_neighbours_fall_back():
    layer = lattice_villages(island=False)  # 25 cells and an enclave inside cell 12
    values = np.arange(26, dtype=float)
    values[12] = np.nan  # the enclave's only neighbour
    values[0] = np.nan
    layer["score"] = values
    run = HotSpots(layer, permutations=99).run()
    assert run.excluded == [code(0), code(12)]
    assert code(12) not in run.result.index
    assert len(run.result) == 24
    assert run.weights.islands == [ENCLAVE]
    assert run.result.loc[ENCLAVE, "fallback"]
    assert run.result.loc[ENCLAVE, "neighbours"] == 4
    assert run.result.loc[code(6), "neighbours"] == 6  # 8 queen cells less 0 and 12
    assert run.result.loc[code(7), "neighbours"] == 8  # 8 less 12, plus the enclave
    assert [note.code for note in run.notes] == ["excluded", "islands", "too_coarse"]
    excluded, islands, _ = (note.to_dict() for note in run.notes)
    assert excluded["message"] == (
        "2 villages have no value in 'score' and were left out: 15.05.01.2001, 15.05.01.2013"
    )
    assert islands["params"] == {"count": 1, "k": 4, "codes": ENCLAVE}
    assert "their 4 nearest villages were taken as neighbours" in islands["message"]


def test_given_weights_are_reused_and_reordered():
    values = planted()
    layer = grid(10, values)
    weights = village_weights(layer)
    reused = HotSpots(layer, weights=weights, seed=5).run()
    assert reused.weights is weights
    built = HotSpots(layer, seed=5).run()
    pd.testing.assert_frame_equal(reused.result, built.result)
    shuffled = layer.iloc[::-1]
    again = HotSpots(shuffled, weights=weights, seed=5).run().result
    np.testing.assert_allclose(
        again.loc[built.result.index, "gi_z"], built.result["gi_z"], rtol=1e-12
    )


def test_too_few_permutations_is_noted():
    run = HotSpots(grid(4, np.arange(16.0)), permutations=19).run()
    assert [note.code for note in run.notes] == ["too_few_permutations", "too_coarse"]
    assert str(run.notes[0]) == (
        "with 19 permutations no p-value can be below 0.05; use more permutations"
    )
    assert not run.result["significant"].any()  # the smallest p-value is 2 / 20


def test_repaired_polygons_and_separate_groups_are_noted():
    layer = grid(3, np.arange(9.0)).to_crs(UTM48S)
    bowtie = shapely.Polygon(
        [(X0 + 30 * KM, Y0), (X0 + 31 * KM, Y0 + KM), (X0 + 31 * KM, Y0), (X0 + 30 * KM, Y0 + KM)]
    )
    far = gpd.GeoDataFrame(
        {"kode": ["15.05.09.2001", "15.05.09.2002"], "score": [20.0, 21.0]},
        geometry=[bowtie, square(31, 0)],
        crs=UTM48S,
    )
    run = HotSpots(pd.concat([layer, far], ignore_index=True), permutations=99).run()
    assert [note.code for note in run.notes] == ["components", "repaired", "too_coarse"]
    assert run.notes[1].params == {"count": 1, "codes": "15.05.09.2001"}
    assert run.notes[0].params == {"count": 2}


def _villages(**columns) -> gpd.GeoDataFrame:
    return grid(3, np.arange(9.0)).assign(**columns)


@pytest.mark.parametrize(
    ("layer", "column", "message"),
    [
        (_villages(), "need", r"no column 'need'; numeric columns: score"),
        (_villages(need=list("abcdefghi")), "need", "must hold numbers"),
        (_villages(need=[True, False] * 4 + [True]), "need", "must hold numbers"),
        (_villages(need=[1, 2, np.inf, 4, 5, 6, 7, 8, 9.0]), "need", r"infinite value.*2003"),
        (_villages(need=[3.0] * 9), "need", r"same value \(3.0\)"),
        (_villages(need=[1.0, 2.0] + [np.nan] * 7), "need", "at least 3 villages with a value"),
        (_villages().set_crs(None, allow_override=True), "score", "no coordinate reference"),
        (_villages(kode=range(9)), "score", "must be text"),
        (_villages().iloc[:2], "score", "at least 3 villages are needed"),
    ],
)
def test_bad_inputs_are_refused_with_a_clear_message(layer, column, message):
    with pytest.raises(InputError, match=message):
        HotSpots(layer, column).run()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"permutations": -1}, "permutations must be"),
        ({"permutations": 9.5}, "permutations must be"),
        ({"alpha": 0}, "alpha must be"),
        ({"alpha": 1.5}, "alpha must be"),
        ({"seed": -3}, "seed must be"),
        ({"fdr": "yes"}, "fdr must be"),
        ({"k": 0}, "k must be"),
        ({"n_jobs": 0}, "n_jobs must be"),
        ({"weights": W({"a": ["b"], "b": ["a"]})}, "weights must come from village_weights"),
    ],
)
def test_bad_arguments_are_programming_errors(kwargs, message):
    with pytest.raises(ValueError, match=message) as caught:
        HotSpots(_villages(), **kwargs)
    assert not isinstance(caught.value, InputError)


def test_weights_for_other_villages_are_refused():
    layer = _villages()
    other = village_weights(layer.iloc[:5])
    with pytest.raises(InputError, match=r"4 villages are not in the neighbour weights"):
        HotSpots(layer, weights=other).run()


def test_bh_refuses_bad_p_values():
    with pytest.raises(ValueError, match="between 0 and 1"):
        benjamini_hochberg([0.1, np.nan])
    with pytest.raises(ValueError, match="one-dimensional"):
        benjamini_hochberg(np.zeros((2, 2)))
