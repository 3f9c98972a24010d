"""Weight sensitivity: seeded, chunk-independent, and right on cases worked out by hand."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from layers.errors import InputError
from layers.profiles import IndicatorRule, ScoringProfile
from layers.scoring import Score
from layers.sensitivity import WeightSensitivity

KODES = ["15.02.05.2001", "15.02.05.2002", "15.02.05.2003", "15.02.05.2004", "15.02.05.2005"]


def table(**columns: list[float]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    return pd.DataFrame(
        {k: np.asarray(v, dtype="float64") for k, v in columns.items()},
        index=pd.Index(KODES[:n], name="kode"),
    )


def two_rules(**settings: Any) -> ScoringProfile:
    return ScoringProfile(
        name="uji",
        title="Uji",
        rules=(IndicatorRule("a", 1.0), IndicatorRule("b", 1.0)),
        **settings,
    )


# Villages 2001 and 2002 are each the neediest on one indicator and tie with equal weights;
# 2003 is in between on both, 2004 lowest. With min-max, a -> 1, 0, 0.2, 0 and
# b -> 0, 1, 0.2, 0, so 2001 scores 100 * wa / (wa + wb) and 2002 100 * wb / (wa + wb).
SPLIT = table(a=[10, 0, 2, 0], b=[0, 10, 2, 0])


def test_a_selection_that_depends_on_the_weights_is_fragile():
    result = WeightSensitivity(SPLIT, two_rules(), runs=400, spread=0.2, top_n=1, seed=11).run()
    res = result.results
    weights = result.weights
    # By hand from the draws: 2001 is first exactly when its weight a is above weight b.
    first = weights["a"].to_numpy() > weights["b"].to_numpy()
    assert res.loc[KODES[0], "share_top_n"] == pytest.approx(first.mean())
    assert res.loc[KODES[1], "share_top_n"] == pytest.approx(1 - first.mean())
    assert 0.35 < first.mean() < 0.65
    # With the profile's own weights they tie at 50; 2001 is first by code.
    assert res["score"].tolist() == pytest.approx([50, 50, 20, 0])
    assert res["rank"].tolist() == [1, 2, 3, 4]
    assert res["in_top_n"].tolist() == [True, False, False, False]
    # 2001 selected but not in 90% of draws; 2002 not selected but in at least 10%.
    assert res["fragile"].tolist() == [True, True, False, False]
    assert res["stable"].tolist() == [False, False, True, True]
    assert result.fragile_kodes == [KODES[0], KODES[1]]
    ranks_2001 = np.where(first, 1, 2)
    assert (res.loc[KODES[0], "rank_min"], res.loc[KODES[0], "rank_max"]) == (1, 2)
    assert res.loc[KODES[0], "rank_p05"] == np.quantile(ranks_2001, 0.05, method="inverted_cdf")
    assert res.loc[KODES[0], "rank_p95"] == np.quantile(ranks_2001, 0.95, method="inverted_cdf")
    # 2003 scores at most 20; 2001 and 2002 at least 100 * 0.8 / 2 = 40: always third.
    assert res.loc[KODES[2], ["rank_min", "rank_p05", "rank_p95", "rank_max"]].tolist() == [3] * 4
    assert result.overlap.tolist() == pytest.approx(first.astype(float).tolist())
    assert result.summary["fragile"] == 2
    assert result.summary["fragile_in_top_n"] == 1


def test_a_clear_difference_in_need_is_stable():
    # 2001 is the neediest on both indicators: first in every draw.
    clear = table(a=[10, 0, 2, 0], b=[10, 1, 2, 0])
    result = WeightSensitivity(clear, two_rules(), runs=300, spread=0.3, top_n=1, seed=3).run()
    res = result.results
    assert res.loc[KODES[0], ["rank_min", "rank_max"]].tolist() == [1, 1]
    assert res["share_top_n"].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert res["stable"].all()
    assert not res["fragile"].any()
    assert result.fragile_kodes == []
    assert result.summary["top_n_always"] == 1
    assert result.overlap.min() == 1.0


def test_thresholds_are_parameters():
    result = WeightSensitivity(
        SPLIT, two_rules(), runs=400, top_n=1, seed=11, keep_share=0.3, enter_share=0.7
    ).run()
    share = result.results["share_top_n"]
    assert 0.3 < share.iloc[0] < 0.7
    assert result.results["fragile"].tolist() == [False, False, False, False]


def test_same_seed_same_results_whatever_the_chunk_size():
    rng = np.random.default_rng(8)
    indicators = pd.DataFrame(
        {
            "dist_m__puskesmas": rng.gamma(2, 3000, 300),
            "needs_per_1000__health": np.where(rng.random(300) < 0.2, np.nan, rng.random(300)),
            "fac_per_1000__posyandu": rng.integers(0, 4, 300).astype(float),
        },
        index=pd.Index([f"15.02.06.{2001 + i}" for i in range(300)], name="kode"),
    )
    rules = (
        IndicatorRule("dist_m__puskesmas", 2, normalisation="rank"),
        IndicatorRule("needs_per_1000__health", 1.5, missing="median"),
        IndicatorRule("fac_per_1000__posyandu", 1, "better", "zscore"),
    )
    profile = ScoringProfile(name="uji", title="Uji", rules=rules)
    kwargs: dict[str, Any] = {"runs": 120, "spread": 0.25, "top_n": 15, "seed": 2024}
    one = WeightSensitivity(indicators, profile, **kwargs).run()
    small = WeightSensitivity(indicators, profile, max_memory_mb=0.3, **kwargs).run()
    assert small.summary["chunk_runs"] < one.summary["chunk_runs"] == 120
    pd.testing.assert_frame_equal(one.results, small.results)
    pd.testing.assert_frame_equal(one.weights, small.weights)
    other = WeightSensitivity(indicators, profile, **{**kwargs, "seed": 2025}).run()
    assert not np.allclose(one.weights.to_numpy(), other.weights.to_numpy())
    # Each draw's weights stay within +/- 25% of the profile's.
    ratio = one.weights.to_numpy() / np.array([2, 1.5, 1])
    assert ratio.min() >= 0.75
    assert ratio.max() <= 1.25
    # The profile's own weights give the ranks of Score.
    score = Score(indicators, profile).run()
    pd.testing.assert_series_equal(one.results["rank"], score.scores["rank"])
    assert one.results["score"].to_numpy() == pytest.approx(score.scores["score"].to_numpy())


def test_one_draw_is_scored_as_score_would_score_its_weights():
    rng = np.random.default_rng(4)
    indicators = table(a=rng.random(5).tolist(), b=rng.random(5).tolist(), c=[1, np.nan, 3, 0, 2])
    profile = ScoringProfile(
        name="uji",
        title="Uji",
        rules=(IndicatorRule("a", 1), IndicatorRule("b", 2, "better"), IndicatorRule("c", 3)),
    )
    for seed in range(5):
        draw = WeightSensitivity(indicators, profile, runs=1, spread=0.9, top_n=2, seed=seed).run()
        weights = draw.weights.iloc[0].to_dict()
        expected = Score(indicators, profile.with_weights(weights)).run().scores["rank"]
        assert draw.results["rank_min"].tolist() == expected.tolist()
        assert draw.results["rank_max"].tolist() == expected.tolist()


def test_no_spread_changes_nothing():
    result = WeightSensitivity(SPLIT, two_rules(), runs=20, spread=0.0, top_n=2, seed=1).run()
    res = result.results
    assert (res["rank_min"] == res["rank"]).all()
    assert (res["rank_max"] == res["rank"]).all()
    assert res["stable"].all()
    assert not res["fragile"].any()


def test_villages_without_a_score_are_left_out_of_the_ranks():
    indicators = table(a=[10, 0, np.nan, 5, 1], b=[0, 10, np.nan, 5, 1])
    result = WeightSensitivity(indicators, two_rules(), runs=50, top_n=2, seed=5).run()
    row = result.results.loc[KODES[2]]
    assert np.isnan(row["score"])
    assert pd.isna(row["rank"])
    assert pd.isna(row["rank_max"])
    assert not row["fragile"]
    assert not row["in_top_n"]
    assert not row["stable"]
    assert result.results["rank_max"].max() == 4
    assert result.summary["scored"] == 4
    assert result.summary["villages"] == 5


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"runs": 0}, "runs must be a whole number from 1 to 100000, not 0"),
        ({"runs": 2.5}, "runs must be a whole number"),
        ({"runs": True}, "runs must be a whole number"),
        ({"spread": 1.0}, "spread must be a number from 0 to 0.95, not 1.0"),
        ({"spread": -0.1}, "spread must be a number from 0 to 0.95"),
        ({"top_n": 0}, "top_n must be a whole number from 1"),
        ({"keep_share": 1.5}, "keep_share must be a number from 0 to 1"),
        ({"enter_share": float("nan")}, "enter_share must be a number from 0 to 1"),
    ],
)
def test_bad_settings_are_refused(settings: dict[str, Any], message: str):
    with pytest.raises(InputError) as info:
        WeightSensitivity(SPLIT, two_rules(), **settings)
    assert message in str(info.value)


def test_programming_mistakes_are_value_errors():
    with pytest.raises(ValueError, match="seed"):
        WeightSensitivity(SPLIT, two_rules(), seed=-1)
    with pytest.raises(ValueError, match="ScoringProfile"):
        WeightSensitivity(SPLIT, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"call run\(\)"):
        _ = WeightSensitivity(SPLIT, two_rules()).fragile_kodes


def test_a_budget_too_small_for_the_ranks_is_refused():
    with pytest.raises(InputError, match="use fewer draws"):
        WeightSensitivity(SPLIT, two_rules(), runs=100_000, max_memory_mb=1).run()
