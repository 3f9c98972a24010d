"""The underserved score, checked against values worked out by hand on small tables.

Each expected value below is written out from the formulas of docs/scoring.md: min-max
``(x - min) / (max - min)``, z-scores ``(clip(z, -3, 3) + 3) / 6``, percentile ranks
``(rank - 1) / (m - 1)`` with ties at their mean rank, and the score
``100 * sum(w * n) / sum(w)`` over the rules a village has.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata

from layers import scoring
from layers.errors import InputError
from layers.profiles import (
    DIRECTIONS,
    MISSING_POLICIES,
    NORMALISATIONS,
    IndicatorRule,
    ScoringProfile,
)
from layers.scoring import CLASS_LABELS, NOTES, REASONS, Score, class_labels, classify

KODES = [f"15.02.01.200{i}" for i in range(1, 10)]


def table(**columns: list[float]) -> pd.DataFrame:
    """An indicator table of the first villages of KODES, one column per keyword."""
    n = len(next(iter(columns.values())))
    return pd.DataFrame(
        {k: np.asarray(v, dtype="float64") for k, v in columns.items()},
        index=pd.Index(KODES[:n], name="kode"),
    )


def profile(*rules: IndicatorRule, **settings: Any) -> ScoringProfile:
    return ScoringProfile(name="uji", title="Uji", rules=rules, **settings)


def scores_of(values: list[float], **rule: Any) -> np.ndarray:
    """Scores of a one-rule profile over one column ``x``."""
    result = Score(table(x=values), profile(IndicatorRule("x", **rule))).run()
    return result.scores["score"].to_numpy()


# --- normalisation, direction, cap --------------------------------------------------------


def test_minmax_need_and_better():
    # (x - 2) / (10 - 2) for x = 2, 4, 6, 10
    assert scores_of([2, 4, 6, 10]) == pytest.approx([0, 25, 50, 100])
    # better: (10 - x) / (10 - 2)
    assert scores_of([2, 4, 6, 10], direction="better") == pytest.approx([100, 75, 50, 0])


def test_zscore_maps_three_standard_deviations_onto_0_to_1():
    # mean 4, population standard deviation sqrt(50 / 5) = sqrt(10)
    z = np.array([-3, -2, -1, 0, 6]) / math.sqrt(10)
    expected = 100 * (z + 3) / 6
    assert scores_of([1, 2, 3, 4, 10], normalisation="zscore") == pytest.approx(expected)
    assert scores_of([1, 2, 3, 4, 10], normalisation="zscore", direction="better") == (
        pytest.approx(100 * (3 - z) / 6)
    )


def test_zscore_beyond_three_standard_deviations_is_clipped():
    # Twenty zeros and a one: mean 1/21, sd sqrt(20)/21; the one is sqrt(20) = 4.47 sd above
    # (clipped to 3, so 1), the zeros are -1/sqrt(20) sd: (3 - 1/sqrt(20)) / 6.
    values = [0.0] * 8 + [1.0]
    big = pd.DataFrame(
        {"x": [0.0] * 20 + [1.0]}, index=pd.Index([f"15.02.01.{2001 + i}" for i in range(21)])
    )
    result = Score(big, profile(IndicatorRule("x", normalisation="zscore"))).run()
    score = result.scores["score"].to_numpy()
    assert score[-1] == pytest.approx(100.0)
    assert score[:-1] == pytest.approx(100 * (3 - 1 / math.sqrt(20)) / 6)
    assert len(values) == 9


def test_rank_is_the_percentile_rank_with_ties_at_their_mean():
    values = [5, 1, 5, 3, 9]
    # by hand: ranks 3.5, 1, 3.5, 2, 5 of 5 -> (rank - 1) / 4
    expected = 100 * np.array([2.5, 0, 2.5, 1, 4]) / 4
    assert scores_of(values, normalisation="rank") == pytest.approx(expected)
    # and by scipy's average ranks
    assert scores_of(values, normalisation="rank") == pytest.approx(
        100 * (rankdata(values) - 1) / 4
    )
    assert scores_of(values, normalisation="rank", direction="better") == pytest.approx(
        100 * (rankdata([-v for v in values]) - 1) / 4
    )


def test_cap_clips_raw_values_before_normalising():
    values = [0, 1000, 2000, 50000]
    # upper cap 4000: 0, 1000, 2000, 4000 -> min-max over 0..4000
    assert scores_of(values, cap=(None, 4000)) == pytest.approx([0, 25, 50, 100])
    # lower cap 500: 500, 1000, 2000, 50000 -> min-max over 500..50000
    assert scores_of(values, cap=(500, None)) == pytest.approx(
        100 * np.array([0, 500, 1500, 49500]) / 49500
    )
    result = Score(table(x=values), profile(IndicatorRule("x", cap=(None, 4000)))).run()
    contributions = result.contributions
    assert contributions["status"].tolist() == ["observed", "observed", "observed", "capped"]
    assert contributions["raw"].tolist() == values
    assert contributions["value"].tolist() == [0, 1000, 2000, 4000]


# --- missing values ---------------------------------------------------------------------


def test_exclude_drops_the_rule_and_shares_its_weight_out_again():
    indicators = table(a=[0, 10, 5, np.nan], b=[0, 0, 10, 10])
    result = Score(indicators, profile(IndicatorRule("a", 1), IndicatorRule("b", 3))).run()
    scores = result.scores
    # a -> 0, 1, 0.5, -; b -> 0, 0, 1, 1
    # 100 * (1*0 + 3*0)/4, 100 * (1*1 + 3*0)/4, 100 * (1*0.5 + 3*1)/4, 100 * (3*1)/3
    assert scores["score"].tolist() == pytest.approx([0, 25, 87.5, 100])
    assert scores["weight_used"].tolist() == pytest.approx([1, 1, 1, 0.75])
    assert scores["indicators_used"].tolist() == [2, 2, 2, 1]
    last = result.contributions[result.contributions["kode"] == KODES[3]]
    assert last["status"].tolist() == ["excluded", "observed"]
    assert last["weight"].tolist() == pytest.approx([0.0, 1.0])
    assert np.isnan(last["contribution"].iloc[0])
    assert last["contribution"].iloc[1] == pytest.approx(100)


@pytest.mark.parametrize(
    ("normalisation", "expected"),
    [
        # observed 0, 2, 6, 10; median 4 -> min-max 0.4
        ("minmax", [0, 20, 60, 100, 40]),
        # percentile rank of 4 among 0, 2, 6, 10: two below, none equal -> (2 - 0.5) / 3
        ("rank", [0, 100 / 3, 200 / 3, 100, 50]),
    ],
)
def test_median_imputes_the_median_of_the_observed_values(normalisation: str, expected):
    values = [0, 2, 6, 10, np.nan]
    result = Score(
        table(x=values), profile(IndicatorRule("x", normalisation=normalisation, missing="median"))
    ).run()
    assert result.scores["score"].tolist() == pytest.approx(expected)
    assert result.contributions["status"].iloc[-1] == "median"
    assert result.contributions["value"].iloc[-1] == 4.0


def test_median_is_normalised_with_the_observed_values_only():
    # z-score parameters from 0, 2, 6, 10 (mean 4.5, sd sqrt(65/4)); the imputed median 4
    # does not shrink them.
    sd = math.sqrt((4.5**2 + 2.5**2 + 1.5**2 + 5.5**2) / 4)
    z = (np.array([0, 2, 6, 10, 4]) - 4.5) / sd
    assert scores_of([0, 2, 6, 10, np.nan], normalisation="zscore", missing="median") == (
        pytest.approx(100 * (z + 3) / 6)
    )


def test_worst_uses_the_value_of_highest_need():
    values = [0, 2, 6, 10, np.nan]
    # need: the highest value, 10 -> 1
    assert scores_of(values, missing="worst") == pytest.approx([0, 20, 60, 100, 100])
    # better: the lowest value, 0 -> 1
    assert scores_of(values, missing="worst", direction="better") == pytest.approx(
        [100, 80, 40, 0, 100]
    )
    # rank: the imputed 10 is ranked among the observed values 0, 2, 6, 10 like the
    # observed 10 (three below, itself the one equal): 3 / 3
    assert scores_of(values, missing="worst", normalisation="rank") == pytest.approx(
        [0, 100 / 3, 200 / 3, 100, 100]
    )


def test_worst_after_cap_is_the_cap():
    values = [100, 2000, 50000, np.nan]
    result = Score(
        table(x=values), profile(IndicatorRule("x", cap=(None, 5000), missing="worst"))
    ).run()
    assert result.contributions["value"].tolist() == [100, 2000, 5000, 5000]
    assert result.scores["score"].tolist() == pytest.approx([0, 1900 / 49, 100, 100])


def test_a_village_without_any_value_has_no_score_and_a_reason():
    indicators = table(a=[1, 3, np.nan, 2], b=[4, 0, np.nan, 2])
    result = Score(indicators, profile(IndicatorRule("a"), IndicatorRule("b"))).run()
    row = result.scores.loc[KODES[2]]
    assert np.isnan(row["score"])
    assert row["reason"] == "no_indicator"
    assert pd.isna(row["rank"])
    assert pd.isna(row["need_class"])
    assert row["class_label"] == "no_data"
    # The others are ranked 1..3 among themselves; none gets rank 0.
    # a -> 0, 1, 0.5; b -> 1, 0, 0.5: scores 50, 50, 50 -> ties by code
    assert result.scores["rank"].tolist() == [1, 2, pd.NA, 3]
    assert result.scores["reason"].isna().tolist() == [True, True, False, True]
    assert [n.code for n in result.notes] == ["unscored", "no_spread"]
    assert result.notes[0].render() == (
        "villages without a value for any indicator of the profile, so not scored: 1"
    )
    explanation = result.explain(KODES[2])
    assert explanation.score is None
    assert explanation.rank is None
    assert explanation.reason == "no_indicator"
    assert explanation.reason_template == REASONS["no_indicator"]
    assert [i.status for i in explanation.indicators] == ["excluded", "excluded"]


def test_infinite_values_count_as_missing():
    result = Score(table(x=[1, np.inf, 3, -np.inf]), profile(IndicatorRule("x"))).run()
    assert result.scores["score"].tolist()[0::2] == pytest.approx([0, 100])
    assert result.scores["reason"].tolist()[1::2] == ["no_indicator", "no_indicator"]


# --- rules left out ---------------------------------------------------------------------


def test_rules_without_values_are_left_out_and_constant_ones_count_as_middle():
    indicators = table(a=[1, 2, 3], same=[5, 5, 5], empty=[np.nan] * 3)
    rules = (
        IndicatorRule("a"),
        IndicatorRule("same", 4),
        IndicatorRule("empty", 2, missing="median"),
        IndicatorRule("absent", 3, optional=True),
    )
    result = Score(indicators, profile(*rules)).run()
    # a -> 0, 0.5, 1; same -> 0.5 everywhere: 100 * (1 * a + 4 * 0.5) / 5
    assert result.scores["score"].tolist() == pytest.approx([40, 50, 60])
    assert result.scores["weight_used"].tolist() == pytest.approx([0.5] * 3)  # 5 of 10
    assert [(n.code, n.params["indicator"]) for n in result.notes] == [
        ("rule_absent", "absent"),
        ("rule_constant", "same"),
        ("rule_empty", "empty"),
    ]
    assert result.notes[1].render() == (
        "indicator same has the same value in every village, so it cannot tell villages "
        "apart; each village counts as middle (0.5) on it"
    )
    assert list(result.contributions["indicator"].unique()) == ["a", "same"]
    assert [n.code for n in result.explain(KODES[0]).left_out] == [
        "rule_absent",
        "rule_constant",
        "rule_empty",
    ]
    # A cap can make a column constant too.
    capped = Score(indicators, profile(IndicatorRule("a", cap=(0, 1)), IndicatorRule("same"))).run()
    assert [n.code for n in capped.notes] == ["rule_constant", "rule_constant", "no_spread"]
    assert capped.scores["score"].tolist() == pytest.approx([50, 50, 50])
    assert capped.scores["need_class"].tolist() == [3, 3, 3]


def test_no_rule_with_values_is_an_error_naming_the_profile():
    with pytest.raises(InputError) as info:
        Score(table(empty=[np.nan] * 3), profile(IndicatorRule("empty"))).run()
    assert str(info.value) == "no indicator of profile uji has a value in any village (empty)"


# --- input checks -----------------------------------------------------------------------


def bad_tables() -> list[tuple[pd.DataFrame, str]]:
    good = table(x=[1, 2, 3])
    numbers = good.set_axis(pd.Index([1502012001, 1502012002, 1502012003]))
    repeated = good.set_axis(pd.Index([KODES[0], KODES[1], KODES[0]]))
    text = good.assign(x=["1", "2", "3"])
    flags = good.assign(x=[True, False, True])
    doubled = pd.concat([good, good], axis=1)
    return [
        (good.iloc[:0], "the indicator table has no villages"),
        (numbers, "must be text with leading zeros kept; found integer values such as 1502"),
        (repeated, "village code 15.02.01.2001 appears more than once"),
        (text, "indicator x must hold numbers, not"),
        (flags, "indicator x must hold numbers, not bool"),
        (doubled, "indicator x appears in more than one column"),
    ]


@pytest.mark.parametrize(("indicators", "message"), bad_tables())
def test_bad_tables_are_refused_with_the_reason(indicators: pd.DataFrame, message: str):
    with pytest.raises(InputError) as info:
        Score(indicators, profile(IndicatorRule("x"))).run()
    assert message in str(info.value)


def test_missing_required_indicator_lists_what_the_table_has():
    with pytest.raises(InputError) as info:
        Score(table(x=[1, 2]), profile(IndicatorRule("dist_m__puskesmas"))).run()
    assert str(info.value) == (
        "profile uji needs indicators the table does not have: dist_m__puskesmas; "
        "the table has 1: x"
    )


def test_programming_mistakes_are_value_errors():
    with pytest.raises(ValueError, match="pandas DataFrame"):
        Score({"x": [1, 2]}, profile(IndicatorRule("x")))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ScoringProfile"):
        Score(table(x=[1, 2]), {"rules": []})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"call run\(\)"):
        Score(table(x=[1, 2]), profile(IndicatorRule("x"))).explain(KODES[0])


# --- ranks, contributions, explanation ----------------------------------------------------


def test_equal_scores_rank_by_code_whatever_the_row_order():
    indicators = table(x=[3, 7, 7, 1]).iloc[[2, 1, 3, 0]]  # 2003, 2002, 2004, 2001
    result = Score(indicators, profile(IndicatorRule("x"))).run()
    assert list(result.scores.index) == [KODES[2], KODES[1], KODES[3], KODES[0]]
    # 2002 and 2003 both score 100: 2002 first by code.
    assert result.scores["rank"].tolist() == [2, 1, 4, 3]


def mixed_result() -> Score:
    indicators = table(
        dist=[500, 12000, 3000, np.nan, 800, 25000],
        posyandu=[2.5, 0.0, 1.0, 1.5, np.nan, 0.5],
        needs=[0, 4.2, np.nan, 1.1, 0.3, 2.0],
    )
    rules = (
        IndicatorRule("dist", 3, normalisation="rank", cap=(None, 20000)),
        IndicatorRule("posyandu", 1.5, "better", "zscore", missing="median"),
        IndicatorRule("needs", 2, "need", "minmax", missing="worst"),
    )
    return Score(indicators, profile(*rules)).run()


def test_contributions_sum_to_the_score_and_weights_to_one():
    result = mixed_result()
    contributions = result.contributions
    by_village = contributions.groupby("kode", sort=False)
    assert by_village["contribution"].sum(min_count=1).to_numpy() == pytest.approx(
        result.scores["score"].to_numpy()
    )
    assert by_village["weight"].sum().to_numpy() == pytest.approx(np.ones(6))
    assert contributions.columns.tolist() == [
        "kode",
        "indicator",
        "raw",
        "value",
        "status",
        "normalised",
        "weight",
        "contribution",
    ]
    # Village 2004 has no distance: its 1.5 + 2 weight points are shared as 3/7 and 4/7.
    village = contributions[contributions["kode"] == KODES[3]]
    assert village["weight"].tolist() == pytest.approx([0, 1.5 / 3.5, 2 / 3.5])


def test_explanation_orders_indicators_by_contribution_and_adds_up():
    result = mixed_result()
    kode = KODES[1]  # far (12000 m), no posyandu, most needs
    explanation = result.explain(kode)
    assert explanation.score == pytest.approx(result.scores.loc[kode, "score"])
    contributions = [i.contribution for i in explanation.indicators]
    assert contributions == sorted(contributions, reverse=True)
    assert sum(contributions) == pytest.approx(explanation.score)
    assert sum(i.effective_weight for i in explanation.indicators) == pytest.approx(1)
    needs = {i.indicator: i for i in explanation.indicators}["needs"]
    assert (needs.raw, needs.normalised, needs.status) == (4.2, 1.0, "observed")
    assert needs.contribution == pytest.approx(100 * 2 / 6.5)
    assert explanation.rank == result.scores.loc[kode, "rank"]
    assert explanation.ranked == 6
    assert explanation.label == CLASS_LABELS[explanation.class_label]
    data = json.loads(json.dumps(explanation.to_dict()))
    assert data["indicators"][0]["indicator"] == explanation.indicators[0].indicator
    # The imputed "worst" needs value of village 2003 shows as such.
    imputed = {i.indicator: i for i in result.explain(KODES[2]).indicators}["needs"]
    assert (imputed.raw, imputed.value, imputed.status) == (None, 4.2, "worst")


def test_mixed_scores_by_hand():
    result = mixed_result()
    # dist (capped at 20000): 500, 12000, 3000, -, 800, 20000 -> ranks 1, 4, 3, -, 2, 5 of 5
    dist = np.array([0, 3, 2, np.nan, 1, 4]) / 4
    # posyandu better, median of 2.5, 0, 1, 1.5, 0.5 is 1 for village 2005; z of -x
    observed = np.array([2.5, 0.0, 1.0, 1.5, 0.5])
    filled = np.array([2.5, 0.0, 1.0, 1.5, 1.0, 0.5])
    z = -(filled - observed.mean()) / observed.std()
    posyandu = (np.clip(z, -3, 3) + 3) / 6
    # needs min-max over 0..4.2, village 2003 takes the worst (4.2)
    needs = np.array([0, 4.2, 4.2, 1.1, 0.3, 2.0]) / 4.2
    weights = np.array([3, 1.5, 2])
    parts = np.column_stack([dist, posyandu, needs])
    available = ~np.isnan(parts)
    expected = 100 * np.nansum(parts * weights, axis=1) / (available * weights).sum(axis=1)
    assert result.scores["score"].to_numpy() == pytest.approx(expected)
    assert result.scores["rank"].tolist() == list(
        rankdata(-np.round(expected, 6), method="ordinal")
    )


def test_explain_unknown_village_is_an_input_error():
    with pytest.raises(InputError, match=r"no village with code '15\.02\.01\.2999'"):
        mixed_result().explain("15.02.01.2999")


# --- classes ----------------------------------------------------------------------------

SPREAD = [0, 10, 45, 55, 60, 100]


@pytest.mark.parametrize(
    ("method", "breaks", "classes"),
    [
        # median of six scores (45 + 55) / 2 = 50
        ("quantiles", [50, 100], [1, 1, 1, 2, 2, 2]),
        # half way between 0 and 100
        ("equal_interval", [50, 100], [1, 1, 1, 2, 2, 2]),
        # least squared deviations within classes: {0, 10} | {45, 55, 60, 100}
        # (50 + 1750 = 1800 against 2333 for {0, 10, 45} | ..., 2970 for ... | {100})
        ("natural_breaks", [10, 100], [1, 1, 2, 2, 2, 2]),
    ],
)
def test_two_classes_by_each_method(method: str, breaks: list[float], classes: list[int]):
    result = Score(
        table(x=SPREAD), profile(IndicatorRule("x"), classes=2, classification=method)
    ).run()
    assert result.scores["score"].tolist() == pytest.approx(SPREAD)
    assert result.scores["need_class"].tolist() == classes
    assert list(result.classification.breaks) == pytest.approx(breaks)
    assert result.classification.counts == (classes.count(1), classes.count(2))
    assert result.scores["class_label"].tolist() == [("lower", "higher")[c - 1] for c in classes]


def test_quantile_classes_with_tied_scores_leave_classes_empty():
    scores = np.array([0, 0, 0, 0, 0, 0, 10, 50, 90, np.nan])
    classes, classification = classify(scores, 5, "quantiles")
    # quantiles at 0.2 .. 0.8 of nine scores: 0, 0, 0, 10 + 0.4 * 40 = 26; top 90
    assert list(classification.breaks) == pytest.approx([0, 0, 0, 26, 90])
    assert classes.tolist() == [1, 1, 1, 1, 1, 1, 4, 5, 5, 0]
    assert classification.counts == (6, 0, 0, 1, 2)
    assert classification.lower == 0


def test_five_equal_interval_classes():
    classes, classification = classify(
        np.array([0, 19, 20, 21, 55, 80, 100.0]), 5, "equal_interval"
    )
    assert list(classification.breaks) == pytest.approx([20, 40, 60, 80, 100])
    assert classes.tolist() == [1, 1, 1, 2, 3, 4, 5]
    assert classification.labels == ("very_low", "low", "moderate", "high", "very_high")


def test_natural_breaks_with_few_distinct_scores_fall_back_to_equal_intervals():
    result = Score(
        table(x=[0, 30, 100]), profile(IndicatorRule("x"), classification="natural_breaks")
    ).run()
    assert result.scores["need_class"].tolist() == [1, 2, 5]
    assert result.classification.note == "few_distinct"
    assert result.notes[-1].render() == (
        "only 3 distinct scores for 5 classes; classes were cut at equal intervals instead "
        "of natural breaks"
    )


def test_natural_breaks_on_many_scores_use_evenly_spaced_order_statistics(monkeypatch):
    monkeypatch.setattr(scoring, "JENKS_SAMPLE", 40)
    rng = np.random.default_rng(5)
    low = rng.uniform(0, 20, 300)
    high = rng.uniform(70, 100, 100)
    classes, classification = classify(np.concatenate([low, high]), 2, "natural_breaks")
    assert classification.breaks[0] <= 20
    assert classification.breaks[1] == high.max()
    assert classes.tolist() == [1] * 300 + [2] * 100


def test_equal_scores_go_to_the_middle_class():
    classes, classification = classify(np.array([40.0, 40.0, np.nan]), 5, "natural_breaks")
    assert classes.tolist() == [3, 3, 0]
    assert classification.note == "no_spread"
    assert NOTES["no_spread"].startswith("every scored village")


def test_class_labels_in_english_and_through_a_translation():
    assert class_labels(3) == {1: "Low need", 2: "Moderate need", 3: "High need"}
    result = Score(table(x=SPREAD), profile(IndicatorRule("x"))).run()
    assert result.class_labels()[5] == "Very high need"
    indonesian = {"Very high need": "Kebutuhan sangat tinggi"}
    assert result.class_labels(lambda t: indonesian.get(t, t))[5] == "Kebutuhan sangat tinggi"
    for k in range(2, 8):
        assert len(class_labels(k)) == k
    with pytest.raises(ValueError, match="2 to 7"):
        class_labels(8)


def test_classification_is_json_safe():
    result = Score(table(x=SPREAD), profile(IndicatorRule("x"), classes=3)).run()
    data = json.loads(json.dumps(result.classification.to_dict()))
    assert data["k"] == 3
    assert data["counts"] == [2, 2, 2]
    assert data["labels"] == ["low", "moderate", "high"]


# --- monotonicity -----------------------------------------------------------------------


def random_table(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Three indicators with ties (small integers), spread values and missing values."""
    columns = {
        "ties": rng.integers(0, 4, n).astype(float),
        "spread": rng.gamma(1.5, 1000.0, n),
        "mixed": rng.choice([0.0, 0.5, 1.0, 7.0, 30.0], n),
    }
    for values in columns.values():
        values[rng.random(n) < 0.25] = np.nan
        values[:2] = [0.0, 1.0]  # at least two distinct values observed
    return pd.DataFrame(columns, index=pd.Index([f"15.02.03.{2001 + i}" for i in range(n)]))


@pytest.mark.parametrize(
    ("normalisation", "missing", "direction"),
    list(itertools.product(NORMALISATIONS, MISSING_POLICIES, DIRECTIONS)),
)
def test_more_need_in_an_indicator_never_lowers_the_score(normalisation, missing, direction):
    seed = [*NORMALISATIONS, *MISSING_POLICIES, *DIRECTIONS].index(normalisation) * 100 + (
        MISSING_POLICIES.index(missing) * 10 + DIRECTIONS.index(direction)
    )
    rng = np.random.default_rng(seed)
    for _ in range(12):
        indicators = random_table(rng, int(rng.integers(4, 15)))
        target = str(rng.choice(indicators.columns))
        cap = [None, (None, float(np.nanmedian(indicators[target]))), (0.5, None)][
            int(rng.integers(0, 3))
        ]
        rules = [
            IndicatorRule(target, 2.0, direction, normalisation, cap, missing),
            *(
                IndicatorRule(
                    column,
                    float(rng.uniform(0.5, 3)),
                    str(rng.choice(DIRECTIONS)),
                    str(rng.choice(NORMALISATIONS)),
                    None,
                    str(rng.choice(MISSING_POLICIES)),
                )
                for column in indicators.columns
                if column != target
            ),
        ]
        before = Score(indicators, profile(*rules)).run().scores["score"].to_numpy()
        has_value = np.flatnonzero(indicators[target].notna().to_numpy())
        village = int(rng.choice(has_value))
        step = float(rng.choice([0.25, 1.0, 5.0, 1000.0]))
        changed = indicators.copy()
        changed.iloc[village, changed.columns.get_loc(target)] += (
            step if direction == "need" else -step
        )
        after = Score(changed, profile(*rules)).run().scores["score"].to_numpy()
        assert after[village] >= before[village] - 1e-9, (target, village, step)
