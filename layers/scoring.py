"""The underserved score: a weighted mean of normalised indicators, 0-100 per village.

For each rule of a :class:`~layers.profiles.ScoringProfile`, the indicator's raw values are
capped, missing values are handled by the rule's policy, and the values are normalised onto
0-1 so that 1 is the most need among the villages of the table. A village's score is

    score = 100 * sum_j(w_j * n_j) / sum_j(w_j)

over the rules ``j`` that have a value for the village (``exclude`` drops a rule for the
villages without a value, and the remaining weights are shared out again). Scores compare
villages *within one table*: a score of 80 means "more in need than most villages here", not
an absolute level. The method, with each formula, is in ``docs/scoring.md``.

The work is vectorised over villages: one loop over the profile's rules (a handful), none
over villages. Weights do not change the normalised values, so :mod:`layers.sensitivity`
re-scores many weight draws as one matrix product over the same normalised matrix.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from layers.errors import N_, InputError
from layers.errors import Note as BaseNote
from layers.profiles import IndicatorRule, ScoringProfile

__all__ = [
    "CLASS_LABELS",
    "NOTES",
    "REASONS",
    "STATUSES",
    "Classification",
    "Explanation",
    "IndicatorExplanation",
    "IndicatorRule",
    "NormalisedIndicators",
    "Note",
    "Score",
    "ScoringProfile",
    "class_label_ids",
    "class_labels",
    "classify",
    "code_bits",
    "normalise_indicators",
    "rank_keys",
]

#: Standard scores beyond +/- this many standard deviations count as the extreme (0 or 1).
ZSCORE_CLIP = 3.0
#: Scores equal to this many decimals are ties, ranked by village code.
RANK_DECIMALS = 6
#: Natural breaks on more scores than this are found on this many evenly spaced order
#: statistics of the scores (Fisher-Jenks is quadratic in the number of values).
JENKS_SAMPLE = 1000

#: What was used for each village and indicator (the ``status`` of a contribution).
STATUSES: tuple[str, ...] = ("observed", "capped", "median", "worst", "excluded")
OBSERVED, CAPPED, MEDIAN, WORST, EXCLUDED = range(len(STATUSES))

#: Need class labels by id.
CLASS_LABELS: dict[str, str] = {
    "very_low": N_("Very low need"),
    "low": N_("Low need"),
    "moderately_low": N_("Moderately low need"),
    "moderate": N_("Moderate need"),
    "moderately_high": N_("Moderately high need"),
    "high": N_("High need"),
    "very_high": N_("Very high need"),
    "lower": N_("Lower need"),
    "higher": N_("Higher need"),
    "no_data": N_("No data"),
}

_LABEL_IDS: dict[int, tuple[str, ...]] = {
    2: ("lower", "higher"),
    3: ("low", "moderate", "high"),
    4: ("low", "moderate", "high", "very_high"),
    5: ("very_low", "low", "moderate", "high", "very_high"),
    6: ("very_low", "low", "moderately_low", "moderately_high", "high", "very_high"),
    7: ("very_low", "low", "moderately_low", "moderate", "moderately_high", "high", "very_high"),
}

#: Why a village has no score.
REASONS: dict[str, str] = {
    "no_indicator": N_("none of the profile's indicators has a value for this village"),
}

#: What a scoring run noticed about the table as a whole.
NOTES: dict[str, str] = {
    "rule_absent": N_("the table has no indicator %(indicator)s; its optional rule was left out"),
    "rule_empty": N_("indicator %(indicator)s has no value in any village; it was left out"),
    "rule_constant": N_(
        "indicator %(indicator)s has the same value in every village, so it cannot tell "
        "villages apart; each village counts as middle (0.5) on it"
    ),
    "unscored": N_(
        "villages without a value for any indicator of the profile, so not scored: %(count)s"
    ),
    "few_distinct": N_(
        "only %(count)s distinct scores for %(classes)s classes; classes were cut at equal "
        "intervals instead of natural breaks"
    ),
    "no_spread": N_("every scored village has the same score; all are in the middle class"),
}


def class_label_ids(k: int) -> tuple[str, ...]:
    """Label ids of classes 1..k (class k is the highest need)."""
    if k not in _LABEL_IDS:
        raise ValueError(f"need classes are 2 to 7, not {k!r}")
    return _LABEL_IDS[k]


def class_labels(k: int, gettext: Callable[[str], str] | None = None) -> dict[int, str]:
    """Labels of classes 1..k: English templates, or translated with ``gettext``."""
    tr = gettext or (lambda text: text)
    return {c: tr(CLASS_LABELS[i]) for c, i in enumerate(class_label_ids(k), start=1)}


class Note(BaseNote):
    """Something a scoring run noticed: a code of :data:`NOTES` and its parameters."""

    TEMPLATES = NOTES


# --- input ------------------------------------------------------------------------------


def _check_table(indicators: Any) -> None:
    if not isinstance(indicators, pd.DataFrame):
        raise ValueError(
            f"indicators must be a pandas DataFrame indexed by kode, not {type(indicators)}"
        )
    if len(indicators) == 0:
        raise InputError(N_("the indicator table has no villages"))
    kinds = pd.api.types.infer_dtype(indicators.index, skipna=False)
    if kinds != "string":
        example = next((k for k in indicators.index if not isinstance(k, str)), None)
        raise InputError(
            N_(
                "village codes (the table's index) must be text with leading zeros kept; "
                "found %(kind)s values such as %(value)r"
            ),
            params={"kind": kinds, "value": example},
        )
    duplicated = indicators.index[indicators.index.duplicated()]
    if len(duplicated):
        raise InputError(
            N_("village code %(value)s appears more than once in the indicator table"),
            params={"value": duplicated[0]},
        )


def _column(indicators: pd.DataFrame, indicator: str) -> np.ndarray:
    """The indicator's values as float64, with +/-inf read as missing."""
    if int(np.sum(indicators.columns == indicator)) > 1:
        raise InputError(
            N_("indicator %(indicator)s appears in more than one column of the table"),
            params={"indicator": indicator},
        )
    column = indicators[indicator]
    if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
        raise InputError(
            N_("indicator %(indicator)s must hold numbers, not %(dtype)s"),
            params={"indicator": indicator, "dtype": str(column.dtype)},
        )
    values = column.to_numpy(dtype="float64", na_value=np.nan, copy=True)
    values[~np.isfinite(values)] = np.nan
    return values


class _Normalised(NamedTuple):
    value: np.ndarray  # capped, imputed
    normalised: np.ndarray  # 0-1, NaN = excluded
    status: np.ndarray  # index into STATUSES
    constant: bool  # every observed value the same


def _normalise(raw: np.ndarray, rule: IndicatorRule) -> _Normalised | str:
    """One rule's values: capped and imputed, normalised, their statuses.

    Returns the code of a note instead when no village has a value. Normalisation
    parameters come from the observed (capped) values only; an imputed value is normalised
    as an observed value equal to it would be. When every observed value is the same, each
    village gets 0.5 (the limit of percentile ranks and z-scores; it keeps the score
    monotone, see docs/scoring.md).
    """
    value = raw.copy()
    missing = np.isnan(value)
    status = np.where(missing, EXCLUDED, OBSERVED).astype(np.int8)
    if rule.cap is not None:
        low, high = rule.cap
        lower = -np.inf if low is None else low
        upper = np.inf if high is None else high
        status[(value < lower) | (value > upper)] = CAPPED
        value = np.clip(value, lower, upper)
    if missing.all():
        return "rule_empty"
    sign = 1.0 if rule.direction == "need" else -1.0
    observed = np.sort(sign * value[~missing])  # need-oriented: higher = more need
    low_value, high_value = observed[0], observed[-1]
    constant = low_value == high_value
    if rule.missing == "median":
        value[missing] = float(np.median(value[~missing]))
        status[missing] = MEDIAN
    elif rule.missing == "worst":
        value[missing] = sign * high_value
        status[missing] = WORST
    oriented = sign * value
    if constant:  # no village differs: each is the middle, as ranks and z-scores give
        normalised = np.where(np.isnan(oriented), np.nan, 0.5)
    elif rule.normalisation == "minmax":
        normalised = (oriented - low_value) / (high_value - low_value)
    elif rule.normalisation == "zscore":
        z = (oriented - observed.mean()) / observed.std()
        normalised = (np.clip(z, -ZSCORE_CLIP, ZSCORE_CLIP) + ZSCORE_CLIP) / (2 * ZSCORE_CLIP)
    else:  # percentile rank, ties at their mean rank: (below + (equal - 1) / 2) / (m - 1)
        filled = np.where(np.isnan(oriented), low_value, oriented)
        below = np.searchsorted(observed, filled, side="left")
        equal = np.searchsorted(observed, filled, side="right") - below
        normalised = (below + (equal - 1) / 2) / (observed.size - 1)
        normalised[np.isnan(oriented)] = np.nan
    return _Normalised(value, np.clip(normalised, 0.0, 1.0), status, bool(constant))


@dataclass
class NormalisedIndicators:
    """The indicator table made ready for scoring under one profile.

    Attributes
    ----------
    kodes : numpy.ndarray of str
        Village codes in table order.
    rules : tuple of IndicatorRule
        The rules used, in profile order (rules left out are in ``notes``).
    raw : numpy.ndarray
        Villages x rules: the table's values (NaN = missing).
    value : numpy.ndarray
        The values used: capped and, by the missing policy, imputed.
    normalised : numpy.ndarray
        Values on 0-1, 1 = most need; NaN where the rule is excluded for the village.
    status : numpy.ndarray of int8
        Index into :data:`STATUSES` per village and rule.
    total_weight : float
        Sum of the weights of every rule of the profile, used or not.
    notes : list of Note
        Rules left out or the same everywhere, and why.
    """

    kodes: np.ndarray
    rules: tuple[IndicatorRule, ...]
    raw: np.ndarray
    value: np.ndarray
    normalised: np.ndarray
    status: np.ndarray
    total_weight: float
    notes: list[Note]

    @property
    def weights(self) -> np.ndarray:
        """The used rules' weights, in rule order."""
        return np.array([rule.weight for rule in self.rules], dtype="float64")

    @property
    def kode_order(self) -> np.ndarray:
        """Position of each village among the codes sorted as text (ties break on it)."""
        order = np.empty(len(self.kodes), dtype=np.int64)
        order[np.argsort(self.kodes.astype(str), kind="stable")] = np.arange(len(self.kodes))
        return order


def normalise_indicators(indicators: pd.DataFrame, profile: ScoringProfile) -> NormalisedIndicators:
    """Check the table against the profile and normalise every rule's indicator.

    Parameters
    ----------
    indicators : pandas.DataFrame
        Indexed by village code (text, unique), one float column per indicator id.
    profile : ScoringProfile
        The rules to apply.

    Returns
    -------
    NormalisedIndicators
        Matrices of villages x used rules.

    Raises
    ------
    InputError
        When the table is empty, codes are not text or repeat, an indicator is not numeric,
        a required indicator is absent, or no rule's indicator has a value anywhere.
    """
    if not isinstance(profile, ScoringProfile):
        raise ValueError(f"profile must be a ScoringProfile, not {type(profile)}")
    _check_table(indicators)
    usable = profile.validate(indicators.columns)
    notes = [
        Note("rule_absent", {"indicator": r.indicator}) for r in profile.rules if r not in usable
    ]
    rules, raws, values, normalised, statuses = [], [], [], [], []
    for rule in usable:
        raw = _column(indicators, rule.indicator)
        result = _normalise(raw, rule)
        if isinstance(result, str):
            notes.append(Note(result, {"indicator": rule.indicator}))
            continue
        if result.constant:
            notes.append(Note("rule_constant", {"indicator": rule.indicator}))
        rules.append(rule)
        raws.append(raw)
        values.append(result.value)
        normalised.append(result.normalised)
        statuses.append(result.status)
    if not rules:
        raise InputError(
            N_("no indicator of profile %(profile)s has a value in any village (%(indicators)s)"),
            params={"profile": profile.name, "indicators": ", ".join(r.indicator for r in usable)},
        )
    return NormalisedIndicators(
        kodes=np.asarray(indicators.index, dtype=object),
        rules=tuple(rules),
        raw=np.column_stack(raws),
        value=np.column_stack(values),
        normalised=np.column_stack(normalised),
        status=np.column_stack(statuses),
        total_weight=profile.total_weight,
        notes=notes,
    )


# --- ranks and classes ------------------------------------------------------------------


def rank_keys(scores: np.ndarray, kode_order: np.ndarray) -> np.ndarray:
    """Unique int64 sort keys: higher score first, equal scores by code, no score last.

    The key holds the score's points (to :data:`RANK_DECIMALS` decimals, reversed) in its
    high bits and the village's position among the sorted codes in its low bits, so a sort
    of the keys alone both orders the villages and tells which village is where.

    Parameters
    ----------
    scores : numpy.ndarray
        Scores 0-100 (NaN = not scored), villages on the last axis.
    kode_order : numpy.ndarray
        Position of each village among the sorted codes (a permutation of 0..n-1).
    """
    scale = 10**RANK_DECIMALS
    points = np.rint(np.where(np.isnan(scores), -1.0, scores) * scale).astype(np.int64)
    return ((101 * scale - points) << code_bits(kode_order.size)) | kode_order


def code_bits(n: int) -> int:
    """Low bits of a rank key that hold a village's position among ``n`` codes."""
    bits = max(1, int(n - 1).bit_length())
    if bits > 35:  # the points need 27 bits of the 63
        raise ValueError(f"too many villages to rank: {n}")
    return bits


def _ranks(scores: np.ndarray, kode_order: np.ndarray) -> np.ndarray:
    """Rank 1 = highest score, ties by code; 0 for villages without a score."""
    order = np.argsort(rank_keys(scores, kode_order))
    ranks = np.empty(scores.size, dtype=np.int64)
    ranks[order] = np.arange(1, scores.size + 1)
    ranks[np.isnan(scores)] = 0
    return ranks


@dataclass(frozen=True)
class Classification:
    """Need classes cut from the scores.

    Class ``c`` holds the scores above ``breaks[c - 2]`` (above ``lower`` - 1 for class 1) up
    to and including ``breaks[c - 1]``; class ``k`` is the highest need. Classes may be empty
    when many villages share a score.

    Attributes
    ----------
    method : str
        ``quantiles``, ``natural_breaks`` or ``equal_interval``.
    k : int
        Number of classes.
    lower : float
        Lowest score (NaN when no village is scored).
    breaks : tuple of float
        Upper bound of each class, ``k`` values, the last one the highest score.
    counts : tuple of int
        Villages in each class.
    labels : tuple of str
        Label id of each class (see :data:`CLASS_LABELS`).
    note : str or None
        Code of a :data:`NOTES` entry when the classes were cut differently than asked.
    """

    method: str
    k: int
    lower: float
    breaks: tuple[float, ...]
    counts: tuple[int, ...]
    labels: tuple[str, ...]
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe data (NaN as None)."""
        return {
            "method": self.method,
            "k": self.k,
            "lower": _json_number(self.lower),
            "breaks": [_json_number(b) for b in self.breaks],
            "counts": list(self.counts),
            "labels": list(self.labels),
            "note": self.note,
        }


def _fisher_jenks(y: np.ndarray, k: int) -> np.ndarray | None:
    """Fisher-Jenks upper bounds (mapclassify) or None when too few distinct values.

    On more than :data:`JENKS_SAMPLE` scores the breaks are found on that many evenly
    spaced order statistics; each break then moves to the highest score at or below the
    midpoint between the sample's last value in the class and its first in the next, so
    that scores between two sampled values go to the nearer class.
    """
    ordered = np.sort(y)
    sample = ordered
    if ordered.size > JENKS_SAMPLE:
        sample = ordered[np.rint(np.linspace(0, ordered.size - 1, JENKS_SAMPLE)).astype(int)]
    if np.unique(sample).size <= k:
        return None
    import mapclassify  # imported here: only natural breaks need it

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Numba not installed")
        bins = np.asarray(mapclassify.FisherJenks(sample, k=k).bins, dtype="float64")
    following = sample[np.minimum(np.searchsorted(sample, bins, side="right"), sample.size - 1)]
    midpoints = (bins + following) / 2
    return ordered[np.searchsorted(ordered, midpoints, side="right") - 1]


def classify(scores: np.ndarray, k: int, method: str) -> tuple[np.ndarray, Classification]:
    """Cut scores into ``k`` need classes.

    Parameters
    ----------
    scores : numpy.ndarray
        Scores 0-100; NaN for villages without a score.
    k : int
        Number of classes, 2 to 7.
    method : {"quantiles", "natural_breaks", "equal_interval"}
        ``quantiles``: breaks at the 1/k, 2/k, ... quantiles (linear interpolation);
        ``equal_interval``: k equal steps from the lowest to the highest score;
        ``natural_breaks``: Fisher-Jenks (mapclassify), on :data:`JENKS_SAMPLE` evenly
        spaced order statistics when there are more scores; with ``k`` or fewer distinct
        scores, equal intervals.

    Returns
    -------
    classes : numpy.ndarray of int
        Class 1..k per village, 0 where the score is NaN.
    classification : Classification
        The breaks and counts.
    """
    labels = class_label_ids(k)
    if method not in ("quantiles", "natural_breaks", "equal_interval"):
        raise ValueError(f"unknown classification {method!r}")
    scores = np.asarray(scores, dtype="float64")
    scored = ~np.isnan(scores)
    classes = np.zeros(scores.size, dtype=np.int64)
    if not scored.any():
        return classes, Classification(method, k, math.nan, (), (0,) * k, labels)
    y = scores[scored]
    low, high = float(y.min()), float(y.max())
    note = None
    steps = np.arange(1, k + 1) / k
    if low == high:
        breaks = np.full(k, high)
        classes[scored] = (k + 1) // 2
        note = "no_spread"
    else:
        breaks = None
        if method == "quantiles":
            breaks = np.quantile(y, steps)
        elif method == "natural_breaks":
            breaks = _fisher_jenks(y, k)
            if breaks is None:
                note = "few_distinct"
        if breaks is None:
            breaks = low + (high - low) * steps
        breaks[-1] = high
        classes[scored] = np.minimum(np.searchsorted(breaks, y, side="left") + 1, k)
    counts = tuple(int(c) for c in np.bincount(classes[scored], minlength=k + 1)[1:])
    return classes, Classification(
        method, k, low, tuple(float(b) for b in breaks), counts, labels, note
    )


# --- explanation ------------------------------------------------------------------------


def _json_number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class IndicatorExplanation:
    """One indicator's part in a village's score.

    Attributes
    ----------
    indicator : str
        Indicator id.
    raw : float or None
        The table's value (None when missing).
    value : float or None
        The value normalised: capped, or imputed (``status``); None when excluded.
    status : str
        One of :data:`STATUSES`.
    normalised : float or None
        0-1, 1 = most need in the table; None when excluded.
    weight : float
        The rule's weight in the profile.
    effective_weight : float
        Its share of this village's score (0 when excluded; the shares sum to 1).
    contribution : float or None
        Points of the 0-100 score (None when excluded).
    direction, normalisation, missing : str
        The rule's settings.
    cap : (float or None, float or None) or None
        The rule's cap.
    """

    indicator: str
    raw: float | None
    value: float | None
    status: str
    normalised: float | None
    weight: float
    effective_weight: float
    contribution: float | None
    direction: str
    normalisation: str
    missing: str
    cap: tuple[float | None, float | None] | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe data."""
        return {
            "indicator": self.indicator,
            "raw": self.raw,
            "value": self.value,
            "status": self.status,
            "normalised": self.normalised,
            "weight": self.weight,
            "effective_weight": self.effective_weight,
            "contribution": self.contribution,
            "direction": self.direction,
            "normalisation": self.normalisation,
            "missing": self.missing,
            "cap": None if self.cap is None else list(self.cap),
        }


@dataclass(frozen=True)
class Explanation:
    """Everything a map popup shows about one village's score.

    Attributes
    ----------
    kode : str
        Village code.
    profile, profile_title : str
        The profile's name and title (a template for built-in profiles).
    score : float or None
        0-100, higher = more underserved; None when not scored (see ``reason``).
    rank : int or None
        1 = most underserved, out of ``ranked`` scored villages.
    ranked : int
        Number of scored villages in the table.
    need_class : int or None
        1..``classes``; ``classes`` is the highest need.
    classes : int
        Number of classes.
    class_label : str
        Label id (``very_high``, ... or ``no_data``); ``label`` is its English template.
    label : str
        Template of the class label, to translate on display.
    weight_used : float
        Share of the profile's total weight this village's score rests on (0-1).
    reason : str or None
        Code of :data:`REASONS` when the village is not scored.
    indicators : tuple of IndicatorExplanation
        Used indicators by contribution, largest first; excluded ones last.
    left_out : tuple of Note
        Rules of the profile left out for the whole table, and why.
    """

    kode: str
    profile: str
    profile_title: str
    score: float | None
    rank: int | None
    ranked: int
    need_class: int | None
    classes: int
    class_label: str
    label: str
    weight_used: float
    reason: str | None
    indicators: tuple[IndicatorExplanation, ...]
    left_out: tuple[Note, ...]

    @property
    def reason_template(self) -> str | None:
        """English template of ``reason``."""
        return REASONS[self.reason] if self.reason else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe data."""
        return {
            "kode": self.kode,
            "profile": self.profile,
            "profile_title": self.profile_title,
            "score": self.score,
            "rank": self.rank,
            "ranked": self.ranked,
            "need_class": self.need_class,
            "classes": self.classes,
            "class_label": self.class_label,
            "label": self.label,
            "weight_used": self.weight_used,
            "reason": self.reason,
            "indicators": [i.to_dict() for i in self.indicators],
            "left_out": [n.to_dict() for n in self.left_out],
        }


# --- the score --------------------------------------------------------------------------


class Score:
    """Underserved score of every village of an indicator table under a profile.

    Parameters
    ----------
    indicators : pandas.DataFrame
        Indexed by village code (text), one float column per indicator id, as made by
        ``VillageIndicators(...).compute().values``.
    profile : ScoringProfile
        The rules, classes and classification.

    Attributes
    ----------
    scores : pandas.DataFrame
        After :meth:`run`, indexed by ``kode`` in table order: ``score`` (0-100, higher =
        more underserved; NaN when no indicator has a value, see ``reason``), ``rank`` (1 =
        most underserved; equal scores ranked by code; missing when not scored),
        ``need_class`` (1..k, k = highest need), ``class_label`` (label id),
        ``weight_used`` (share of the profile's weight the score rests on, 0-1),
        ``indicators_used`` and ``reason`` (code of :data:`REASONS`, or missing).
    contributions : pandas.DataFrame
        One row per village and used rule: ``kode``, ``indicator``, ``raw``, ``value``
        (capped/imputed), ``status``, ``normalised`` (0-1), ``weight`` (effective: the
        share of the village's score), ``contribution`` (points of the 0-100 score; NaN when
        excluded). A scored village's contributions sum to its score.
    classification : Classification
        Classes and their breaks.
    notes : list of Note
        Rules left out, unscored villages, classes cut differently than asked.
    inputs : NormalisedIndicators
        The matrices the scores were computed from (villages x used rules).

    Examples
    --------
    >>> score = Score(values, get_builtin("health_access")).run()  # doctest: +SKIP
    >>> score.scores.sort_values("rank").head(20)  # doctest: +SKIP
    >>> score.explain("15.02.06.2026").to_dict()  # doctest: +SKIP
    """

    def __init__(self, indicators: pd.DataFrame, profile: ScoringProfile) -> None:
        if not isinstance(indicators, pd.DataFrame):
            raise ValueError(
                f"indicators must be a pandas DataFrame indexed by kode, not {type(indicators)}"
            )
        if not isinstance(profile, ScoringProfile):
            raise ValueError(f"profile must be a ScoringProfile, not {type(profile)}")
        self.indicators = indicators
        self.profile = profile
        self.inputs: NormalisedIndicators | None = None
        self.scores: pd.DataFrame | None = None
        self.contributions: pd.DataFrame | None = None
        self.classification: Classification | None = None
        self.notes: list[Note] = []
        self._effective: np.ndarray | None = None
        self._contribution: np.ndarray | None = None

    def run(self) -> Score:
        """Normalise, weigh, rank and classify; return self."""
        inputs = normalise_indicators(self.indicators, self.profile)
        normalised = inputs.normalised
        weights = inputs.weights
        available = ~np.isnan(normalised)
        weight_sum = available @ weights
        scored = weight_sum > 0
        effective = np.zeros_like(normalised)
        np.divide(
            np.where(available, weights, 0.0),
            weight_sum[:, None],
            out=effective,
            where=scored[:, None],
        )
        contribution = 100.0 * normalised * effective
        score = np.where(scored, np.nansum(contribution, axis=1), np.nan)
        ranks = _ranks(score, inputs.kode_order)
        classes, classification = classify(score, self.profile.classes, self.profile.classification)
        label_ids = np.array(("no_data", *classification.labels), dtype=object)

        index = pd.Index(inputs.kodes, name="kode", dtype=object)
        self.scores = pd.DataFrame(
            {
                "score": score,
                "rank": pd.arrays.IntegerArray(ranks, ~scored),
                "need_class": pd.arrays.IntegerArray(classes, ~scored),
                "class_label": label_ids[classes],
                "weight_used": weight_sum / inputs.total_weight,
                "indicators_used": available.sum(axis=1),
                "reason": np.where(scored, None, "no_indicator"),
            },
            index=index,
        )

        n, n_rules = normalised.shape
        self.contributions = pd.DataFrame(
            {
                "kode": np.repeat(inputs.kodes, n_rules),
                "indicator": pd.Categorical.from_codes(
                    np.tile(np.arange(n_rules), n), categories=[r.indicator for r in inputs.rules]
                ),
                "raw": inputs.raw.ravel(),
                "value": np.where(available, inputs.value, np.nan).ravel(),
                "status": pd.Categorical.from_codes(inputs.status.ravel(), categories=STATUSES),
                "normalised": normalised.ravel(),
                "weight": effective.ravel(),
                "contribution": contribution.ravel(),
            }
        )
        notes = list(inputs.notes)
        if not scored.all():
            notes.append(Note("unscored", {"count": int((~scored).sum())}))
        if classification.note:
            params = {"count": int(np.unique(score[scored]).size), "classes": classification.k}
            notes.append(Note(classification.note, params))
        self.inputs = inputs
        self.classification = classification
        self.notes = notes
        self._effective = effective
        self._contribution = contribution
        return self

    def _require_run(self) -> NormalisedIndicators:
        if self.inputs is None or self.scores is None:
            raise ValueError("call run() before reading the results of a Score")
        return self.inputs

    def class_labels(self, gettext: Callable[[str], str] | None = None) -> dict[int, str]:
        """Labels of classes 1..k: English templates, or translated with ``gettext``."""
        return class_labels(self.profile.classes, gettext)

    def explain(self, kode: str) -> Explanation:
        """Why village ``kode`` has its score: each indicator's value, weight and points.

        Raises
        ------
        InputError
            When ``kode`` is not a village of the table.
        """
        inputs = self._require_run()
        assert self.scores is not None
        assert self._contribution is not None
        assert self._effective is not None
        if not isinstance(kode, str) or kode not in self.scores.index:
            raise InputError(
                N_("no village with code %(value)r in the scored table"), params={"value": kode}
            )
        i = int(self.scores.index.get_loc(kode))
        row = self.scores.iloc[i]
        parts = []
        for j, rule in enumerate(inputs.rules):
            excluded = inputs.status[i, j] == EXCLUDED
            parts.append(
                IndicatorExplanation(
                    indicator=rule.indicator,
                    raw=_json_number(inputs.raw[i, j]),
                    value=None if excluded else _json_number(inputs.value[i, j]),
                    status=STATUSES[inputs.status[i, j]],
                    normalised=_json_number(inputs.normalised[i, j]),
                    weight=rule.weight,
                    effective_weight=float(self._effective[i, j]),
                    contribution=_json_number(self._contribution[i, j]),
                    direction=rule.direction,
                    normalisation=rule.normalisation,
                    missing=rule.missing,
                    cap=rule.cap,
                )
            )
        # Largest contribution first (rule order among equals), excluded indicators last.
        parts.sort(key=lambda p: (p.contribution is None, -(p.contribution or 0.0)))
        scored = not pd.isna(row["score"])
        return Explanation(
            kode=kode,
            profile=self.profile.name,
            profile_title=self.profile.title,
            score=float(row["score"]) if scored else None,
            rank=int(row["rank"]) if scored else None,
            ranked=int(self.scores["score"].notna().sum()),
            need_class=int(row["need_class"]) if scored else None,
            classes=self.profile.classes,
            class_label=str(row["class_label"]),
            label=CLASS_LABELS[str(row["class_label"])],
            weight_used=float(row["weight_used"]),
            reason=None if scored else str(row["reason"]),
            indicators=tuple(parts),
            left_out=tuple(inputs.notes),
        )
