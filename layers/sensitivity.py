"""How much a village's rank depends on the exact weights of a profile.

Weights are agreed in a meeting; nobody would defend "2.0 and not 2.3". A seeded Monte Carlo
draws every weight of a profile uniformly within +/- ``spread`` of its value (relative),
re-scores all villages with each draw, and reports per village the range of its rank and how
often it falls in the top N. A village selected with the agreed weights but not under
slightly different ones (or the reverse) is *fragile*: its selection is a matter of weights,
not of a clear difference in need, and deserves a look before a decision.

Weights do not change the normalised indicator values (see :mod:`layers.scoring`), so a
draw's scores are one matrix product: scores = 100 * (W @ N.T) / (W @ A.T) for the weight
draws W (runs x rules), the normalised values N (villages x rules, 0 where excluded) and the
availability A (1 where the village has the rule). Draws are processed in chunks sized to a
memory budget; the ranks of every draw are kept as int32 to give rank percentiles.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from layers.errors import N_, InputError
from layers.profiles import ScoringProfile
from layers.scoring import RANK_DECIMALS, code_bits, normalise_indicators

__all__ = ["WeightSensitivity"]

#: Largest relative spread of a weight draw (weights stay above 5% of their value).
MAX_SPREAD = 0.95
#: Villages per block when rank percentiles are computed from the stored ranks.
_STAT_BLOCK = 8192
#: Bytes per village and draw of one chunk: scores, totals, keys, ranks and temporaries.
_CHUNK_BYTES = 72


def _check_number(field: str, value: Any, low: float, high: float, *, whole: bool = False) -> float:
    ok = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
    ok = ok and low <= value <= high
    ok = ok and (not whole or float(value).is_integer())
    if not ok:
        template = (
            N_("%(field)s must be a whole number from %(low)s to %(high)s, not %(value)r")
            if whole
            else N_("%(field)s must be a number from %(low)s to %(high)s, not %(value)r")
        )
        raise InputError(
            template, params={"field": field, "low": low, "high": high, "value": value}
        )
    return float(value)


class WeightSensitivity:
    """Seeded Monte Carlo of a profile's weights: how stable is each village's rank?

    Parameters
    ----------
    indicators : pandas.DataFrame
        Indicator table indexed by village code, as for :class:`layers.scoring.Score`.
    profile : ScoringProfile
        The profile whose weights are perturbed (its other settings stay as they are).
    runs : int
        Number of weight draws, 1 to 100,000.
    spread : float
        Relative half-width of the uniform draw, 0 to 0.95: weight ``w`` becomes
        ``w * u`` with ``u`` uniform on ``[1 - spread, 1 + spread]``, each rule and draw apart.
    top_n : int
        Size of the selection looked at (the N most underserved villages).
    seed : int
        Seed of numpy's default generator; the same seed gives the same draws and results.
    keep_share : float
        A village in the top N with the profile's own weights is fragile when it is in the
        top N in fewer than this share of the draws (default 0.9).
    enter_share : float
        A village outside that top N is fragile when it is in the top N in this share of
        the draws or more (default 0.1).
    max_memory_mb : float
        Memory budget for the run's arrays; draws are processed in chunks that fit it.

    Attributes
    ----------
    results : pandas.DataFrame
        After :meth:`run`, indexed by ``kode`` in table order: ``score`` and ``rank`` with
        the profile's own weights, ``in_top_n`` (bool), ``rank_min``, ``rank_p05``,
        ``rank_p95``, ``rank_max`` over the draws (empirical quantiles: ranks that occurred),
        ``share_top_n`` (share of draws in the top N), ``stable`` (in or out of the top N in
        every draw, as with the profile's weights) and ``fragile``. Rank columns are
        missing and flags False for villages without a score.
    weights : pandas.DataFrame
        The drawn weights, one row per draw, one column per rule used.
    overlap : numpy.ndarray
        Per draw, the share of the profile's top N still in the draw's top N.
    summary : dict
        Run settings and counts (JSON-safe).
    """

    def __init__(
        self,
        indicators: pd.DataFrame,
        profile: ScoringProfile,
        *,
        runs: int = 500,
        spread: float = 0.2,
        top_n: int = 20,
        seed: int = 0,
        keep_share: float = 0.9,
        enter_share: float = 0.1,
        max_memory_mb: float = 512,
    ) -> None:
        if not isinstance(indicators, pd.DataFrame):
            raise ValueError(
                f"indicators must be a pandas DataFrame indexed by kode, not {type(indicators)}"
            )
        if not isinstance(profile, ScoringProfile):
            raise ValueError(f"profile must be a ScoringProfile, not {type(profile)}")
        self.runs = int(_check_number("runs", runs, 1, 100_000, whole=True))
        self.spread = _check_number("spread", spread, 0, MAX_SPREAD)
        self.top_n = int(_check_number("top_n", top_n, 1, 10_000_000, whole=True))
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, not {seed!r}")
        self.seed = int(seed)
        self.keep_share = _check_number("keep_share", keep_share, 0, 1)
        self.enter_share = _check_number("enter_share", enter_share, 0, 1)
        self.max_memory_mb = _check_number("max_memory_mb", max_memory_mb, 0.1, 1_000_000)
        self.indicators = indicators
        self.profile = profile
        self.results: pd.DataFrame | None = None
        self.weights: pd.DataFrame | None = None
        self.overlap: np.ndarray | None = None
        self.summary: dict[str, Any] = {}

    def _chunk_runs(self, villages: int, rules: int) -> int:
        """Draws per chunk within the memory budget (at least one)."""
        budget = self.max_memory_mb * 1e6
        fixed = 4 * self.runs * villages + 16 * villages * rules
        per_run = _CHUNK_BYTES * villages
        if budget < fixed + per_run:
            raise InputError(
                N_(
                    "%(runs)s draws for %(villages)s villages need about %(needed)s MB, more "
                    "than the %(budget)s MB allowed; use fewer draws"
                ),
                params={
                    "runs": self.runs,
                    "villages": villages,
                    "needed": math.ceil((fixed + per_run) / 1e6),
                    "budget": self.max_memory_mb,
                },
            )
        return int(max(1, min(self.runs, (budget - fixed) // per_run)))

    def run(self) -> WeightSensitivity:
        """Draw the weights, re-score, rank and summarise; return self."""
        inputs = normalise_indicators(self.indicators, self.profile)
        weights = inputs.weights
        available = ~np.isnan(inputs.normalised)
        scored = available.any(axis=1)
        # Work on the scored villages only, in code order so that equal scores rank by code.
        scored_at = np.flatnonzero(scored)
        by_code = scored_at[np.argsort(inputs.kodes[scored_at].astype(str), kind="stable")]
        values = np.ascontiguousarray(np.nan_to_num(inputs.normalised[by_code], nan=0.0).T)
        mask = np.ascontiguousarray(available[by_code].T.astype("float64"))
        m = by_code.size
        top_n = min(self.top_n, m)

        rng = np.random.default_rng(self.seed)
        draws = weights * rng.uniform(1 - self.spread, 1 + self.spread, (self.runs, weights.size))

        base_score = 100.0 * (weights @ values) / (weights @ mask)
        base_rank = _Ranker(1, m).rank(weights[None, :], values, mask)[0].copy()
        base_top = np.flatnonzero(base_rank <= top_n)

        # Ranks of every draw, village-major so that each village's ranks sort in place.
        ranks = np.empty((m, self.runs), dtype=np.int32)
        overlap = np.empty(self.runs)
        chunk = self._chunk_runs(m, weights.size)
        ranker = _Ranker(chunk, m)
        for start in range(0, self.runs, chunk):
            block = draws[start : start + chunk]
            chunk_ranks = ranker.rank(block, values, mask)
            ranks[:, start : start + len(block)] = chunk_ranks.T
            overlap[start : start + len(block)] = (chunk_ranks[:, base_top] <= top_n).sum(1) / top_n
        del ranker

        stats = _rank_stats(ranks, top_n)
        in_top = base_rank <= top_n
        share = stats["share_top_n"]
        fragile = np.where(in_top, share < self.keep_share, share >= self.enter_share)
        stable = np.where(in_top, share == 1.0, share == 0.0)

        n = len(inputs.kodes)

        def spread_out(values: np.ndarray, fill: Any, dtype: Any) -> np.ndarray:
            out = np.full(n, fill, dtype=dtype)
            out[by_code] = values
            return out

        def integers(values: np.ndarray) -> pd.arrays.IntegerArray:
            return pd.arrays.IntegerArray(spread_out(values, 0, np.int64), ~scored)

        self.results = pd.DataFrame(
            {
                "score": spread_out(base_score, np.nan, "float64"),
                "rank": integers(base_rank),
                "in_top_n": spread_out(in_top, False, bool),
                "rank_min": integers(stats["rank_min"]),
                "rank_p05": integers(stats["rank_p05"]),
                "rank_p95": integers(stats["rank_p95"]),
                "rank_max": integers(stats["rank_max"]),
                "share_top_n": spread_out(share, np.nan, "float64"),
                "stable": spread_out(stable, False, bool),
                "fragile": spread_out(fragile, False, bool),
            },
            index=pd.Index(inputs.kodes, name="kode", dtype=object),
        )
        self.weights = pd.DataFrame(draws, columns=[r.indicator for r in inputs.rules])
        self.weights.index.name = "run"
        self.overlap = overlap
        self.summary = {
            "profile": self.profile.name,
            "runs": self.runs,
            "spread": self.spread,
            "top_n": top_n,
            "seed": self.seed,
            "keep_share": self.keep_share,
            "enter_share": self.enter_share,
            "villages": n,
            "scored": m,
            "fragile": int(fragile.sum()),
            "fragile_in_top_n": int((fragile & in_top).sum()),
            "fragile_outside_top_n": int((fragile & ~in_top).sum()),
            "top_n_always": int((in_top & (share == 1.0)).sum()),
            "overlap_mean": float(overlap.mean()),
            "overlap_min": float(overlap.min()),
            "chunk_runs": chunk,
            "indicators": [r.indicator for r in inputs.rules],
        }
        return self

    @property
    def fragile_kodes(self) -> list[str]:
        """Codes of the fragile villages, by rank with the profile's weights."""
        if self.results is None:
            raise ValueError("call run() before reading the results of a WeightSensitivity")
        fragile = self.results[self.results["fragile"]]
        return list(fragile.sort_values("rank").index)


class _Ranker:
    """Scores and ranks chunks of weight draws in buffers reused from chunk to chunk.

    Villages are in code order, so the sort keys of :func:`layers.scoring.rank_keys`
    (points in the high bits, the village's position in the low bits) are built in place,
    sorted, and their low bits read back as the village at each rank.
    """

    def __init__(self, chunk: int, villages: int) -> None:
        self.bits = code_bits(villages)
        self.scores = np.empty((chunk, villages))
        self.totals = np.empty((chunk, villages))
        self.keys = np.empty((chunk, villages), dtype=np.int64)
        self.ranks = np.empty((chunk, villages), dtype=np.int32)
        self.positions = np.arange(villages, dtype=np.int64)
        self.rank_numbers = np.arange(1, villages + 1, dtype=np.int32)

    def rank(self, draws: np.ndarray, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Ranks (1 = most underserved) per draw row; a view valid until the next call."""
        c, m = len(draws), self.positions.size
        scores, totals, keys = self.scores[:c], self.totals[:c], self.keys[:c]
        np.matmul(draws, values, out=scores)
        np.matmul(draws, mask, out=totals)
        np.divide(scores, totals, out=scores)
        scores *= 100.0 * 10**RANK_DECIMALS
        np.rint(scores, out=scores)
        np.subtract(101.0 * 10**RANK_DECIMALS, scores, out=scores)
        np.copyto(keys, scores, casting="unsafe")
        np.left_shift(keys, self.bits, out=keys)
        np.bitwise_or(keys, self.positions, out=keys)
        keys.sort(axis=1)
        np.bitwise_and(keys, (1 << self.bits) - 1, out=keys)
        ranks = self.ranks[:c]
        np.put_along_axis(ranks, keys, np.broadcast_to(self.rank_numbers, (c, m)), axis=1)
        return ranks


def _rank_stats(ranks: np.ndarray, top_n: int) -> dict[str, np.ndarray]:
    """Per village (row, sorted in place): min, max, 5th/95th percentile rank, share in top N.

    Percentiles are empirical (numpy's ``inverted_cdf``): the rank at position
    ``ceil(q * runs) - 1`` of the village's sorted ranks.
    """
    runs = ranks.shape[1]
    for start in range(0, ranks.shape[0], _STAT_BLOCK):
        ranks[start : start + _STAT_BLOCK].sort(axis=1)
    p05, p95 = (max(math.ceil(q * runs) - 1, 0) for q in (0.05, 0.95))
    return {
        "rank_min": ranks[:, 0].astype(np.int64),
        "rank_p05": ranks[:, p05].astype(np.int64),
        "rank_p95": ranks[:, p95].astype(np.int64),
        "rank_max": ranks[:, -1].astype(np.int64),
        "share_top_n": np.count_nonzero(ranks <= top_n, axis=1) / runs,
    }
