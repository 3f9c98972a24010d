"""Hot spots of need: where high (or low) scores cluster, and where a village stands out.

Two local statistics are computed for every village with a value, over the neighbours of
:func:`layers.weights.village_weights`:

* **Getis-Ord Gi*** (:class:`esda.G_Local` with ``star=True``): is the sum of the village's
  own value and its neighbours' values higher or lower than chance would give? A large
  positive z-score is a hot spot (a cluster of high need), a large negative one a cold
  spot. Gi* uses binary weights with the village itself included (weight 1), so its
  z-score is the Ord and Getis (1995) one; row-standardising would only scale each
  village's statistic and leaves its permutation p-value unchanged.
* **Local Moran's I** (:class:`esda.Moran_Local`, row-standardised weights): is the
  village like its neighbours (high among high, low among low) or unlike them (high
  among low, low among high)? Its quadrant gives the class shown to users.

Both p-values come from conditional permutations (the village keeps its value, the
others are shuffled; seeded, so a re-run gives the same numbers) and are two-sided:
esda's pseudo p-value counts the permutations as extreme as the observation in its own
direction, and is doubled (at most 1). Contiguity weighs every neighbour equally, so both
tests depend only on the sum of the shuffled neighbours' values and, drawn with the same
seed, give the same p-value; the statistics still say different things. With
``permutations=0`` the normal approximation
is used instead (faster, less exact for skewed values). Testing every village at once
finds some clusters by chance, so by default the p-values are adjusted with the
Benjamini-Hochberg false-discovery-rate procedure before comparing with ``alpha``.

The column should grow with need, as the underserved score does: "high" in the labels
means high need.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import esda
import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
from libpysal.weights import WSP
from scipy import stats

from layers.errors import N_, InputError
from layers.errors import Note as BaseNote
from layers.weights import (
    DEFAULT_K,
    DEFAULT_TOLERANCE_M,
    VillageWeights,
    check_options,
    listed,
    validate_villages,
    village_weights,
)

__all__ = [
    "DEFAULT_SEED",
    "GI_LABELS",
    "LABELS",
    "RESULT_COLUMNS",
    "HotSpots",
    "Note",
    "benjamini_hochberg",
]

#: Seed of the permutations unless one is given.
DEFAULT_SEED = 20240917
#: Fewest villages with a value that a hot-spot analysis accepts.
MIN_VILLAGES = 3

#: Local Moran classes: label id -> plain-language text (translated in the app).
LABELS: dict[str, str] = {
    "high_cluster": N_("Cluster of high need, significant"),
    "low_cluster": N_("Cluster of low need, significant"),
    "high_outlier": N_("High need among low-need neighbours"),
    "low_outlier": N_("Low need among high-need neighbours"),
    "not_significant": N_("Not significant"),
}

#: Gi* classes: label id -> plain-language text.
GI_LABELS: dict[str, str] = {
    "hot_spot": N_("Hot spot: high need here and around, significant"),
    "cold_spot": N_("Cold spot: low need here and around, significant"),
    "not_significant": N_("Not significant"),
}

#: esda's quadrants (1 HH, 2 LH, 3 LL, 4 HL) -> label id.
QUADRANT_LABELS: dict[int, str] = {
    1: "high_cluster",
    2: "low_outlier",
    3: "low_cluster",
    4: "high_outlier",
}

#: One esda permutation run at a time per process (esda seeds numpy's global generator).
_ESDA_LOCK = threading.Lock()

RESULT_COLUMNS = (
    "value",
    "gi_z",
    "gi_p",
    "gi_p_fdr",
    "gi_significant",
    "gi_label",
    "moran_i",
    "moran_q",
    "moran_p",
    "moran_p_fdr",
    "significant",
    "label",
    "neighbours",
    "fallback",
)


#: Notes a run can add: code -> English template with ``%(name)s`` placeholders.
NOTES: dict[str, str] = {
    "excluded": N_("%(count)s villages have no value in '%(column)s' and were left out: %(codes)s"),
    "too_few_permutations": N_(
        "with %(permutations)s permutations no p-value can be below %(alpha)s; "
        "use more permutations"
    ),
    "too_coarse": N_(
        "no village is significant, but with %(permutations)s permutations the "
        "smallest p-value is %(smallest)s, too coarse for the false discovery "
        "rate over %(count)s villages; use more permutations, or 0 for the "
        "normal approximation"
    ),
    "islands": N_(
        "%(count)s villages touch no other village; their %(k)s nearest villages "
        "were taken as neighbours: %(codes)s"
    ),
    "components": N_("the villages form %(count)s separate groups with no neighbours between them"),
    "repaired": N_(
        "%(count)s village polygons are invalid and were repaired to find neighbours: %(codes)s"
    ),
}


class Note(BaseNote):
    """Something a hot-spot run did that the user should know: a code of :data:`NOTES`."""

    TEMPLATES = NOTES


def benjamini_hochberg(
    p_values: np.ndarray | list[float], alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini-Hochberg false-discovery-rate adjustment.

    With the ``m`` p-values sorted, ``p(1) <= ... <= p(m)``, the hypotheses
    ``1 .. r`` are rejected for the largest ``r`` with ``p(r) <= r * alpha / m``. The
    adjusted p-value of ``p(i)`` is ``min over j >= i of p(j) * m / j`` (at most 1), so a
    test is rejected exactly when its adjusted p-value is ``<= alpha``.

    Parameters
    ----------
    p_values : array-like of float
        One-dimensional p-values in 0..1, without NaN.
    alpha : float, default 0.05
        False discovery rate to control, in (0, 1).

    Returns
    -------
    rejected : numpy.ndarray of bool
        True where the test is significant after the adjustment.
    adjusted : numpy.ndarray of float
        The adjusted p-values, in the input's order.

    Raises
    ------
    ValueError
        When the p-values are not one-dimensional numbers in 0..1 or ``alpha`` is not
        in (0, 1).
    """
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"p-values must be one-dimensional, got shape {p.shape}")
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("p-values must be numbers between 0 and 1, without NaN")
    _check_alpha(alpha)
    m = p.size
    if m == 0:
        return np.zeros(0, dtype=bool), np.zeros(0)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    # Running minimum from the largest p-value down keeps the adjusted values monotone.
    adjusted_sorted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    adjusted = np.empty(m)
    adjusted[order] = adjusted_sorted
    return adjusted <= alpha, adjusted


def _check_alpha(alpha: float) -> None:
    if (
        isinstance(alpha, bool)
        or not isinstance(alpha, int | float | np.floating)
        or not 0 < alpha < 1
    ):
        raise ValueError(f"alpha must be a number between 0 and 1, got {alpha!r}")


class HotSpots:
    """Hot spots and outliers of a village score (Getis-Ord Gi* and local Moran's I).

    Parameters
    ----------
    villages : GeoDataFrame
        Village polygons with a unique text ``kode``, a CRS, and the value column.
    column : str, default "score"
        Numeric column to analyse; it should grow with need. Villages where it is empty
        (NaN) are left out and listed in :attr:`excluded`.
    weights : VillageWeights, optional
        Neighbours from :func:`layers.weights.village_weights`, to reuse them across
        several columns. They must contain every village with a value (villages without
        one are dropped from them). Built from ``villages`` when omitted.
    permutations : int, default 999
        Conditional permutations for the pseudo p-values; 0 uses the normal
        approximation instead. With ``P`` permutations the smallest two-sided p-value is
        ``2 / (P + 1)``.
    alpha : float, default 0.05
        Significance level (false discovery rate when ``fdr`` is True).
    fdr : bool, default True
        Adjust the p-values with Benjamini-Hochberg before comparing with ``alpha``.
    seed : int, default :data:`DEFAULT_SEED`
        Seed of the permutations: the same seed gives the same p-values.
    k : int, default 4
        Nearest villages given to a village without neighbours (see ``village_weights``).
    tolerance : float, default 10
        Gap in metres still counted as touching, when the weights are built here.
    n_jobs : int, default 1
        Processes for esda's permutations (-1 for every core).

    Attributes
    ----------
    result : pandas.DataFrame
        After :meth:`run`, one row per village with a value, indexed by ``kode``:
        ``value``; ``gi_z`` (Gi* z-score), ``gi_p`` (two-sided p-value), ``gi_p_fdr``
        (Benjamini-Hochberg adjusted), ``gi_significant``, ``gi_label`` (a key of
        :data:`GI_LABELS`); ``moran_i`` (local Moran's I), ``moran_q`` (quadrant: 1 high
        among high, 2 low among high, 3 low among low, 4 high among low), ``moran_p``,
        ``moran_p_fdr``, ``significant`` (the local Moran class is significant),
        ``label`` (a key of :data:`LABELS`); ``neighbours`` (how many) and ``fallback``
        (True when some neighbours are nearest villages rather than touching ones).
    weights : VillageWeights
        The neighbours used (for the villages with a value).
    excluded : list of str
        Codes of the villages left out for having no value.
    notes : list of Note
        What the user should know: villages left out, villages given nearest
        neighbours, separate groups, repaired polygons, too few permutations.
    seconds : dict
        Time taken by each step (``weights``, ``gi``, ``moran``), in seconds.
    """

    def __init__(
        self,
        villages: gpd.GeoDataFrame,
        column: str = "score",
        *,
        weights: VillageWeights | None = None,
        permutations: int = 999,
        alpha: float = 0.05,
        fdr: bool = True,
        seed: int = DEFAULT_SEED,
        k: int = DEFAULT_K,
        tolerance: float = DEFAULT_TOLERANCE_M,
        n_jobs: int = 1,
    ) -> None:
        validate_villages(villages, min_rows=MIN_VILLAGES)
        values = _values(villages, column)
        if weights is not None and not isinstance(weights, VillageWeights):
            raise ValueError(
                f"weights must come from village_weights(), not {type(weights).__name__}"
            )
        _whole("permutations", permutations, 0)
        _check_alpha(alpha)
        if not isinstance(fdr, bool | np.bool_):
            raise ValueError(f"fdr must be True or False, got {fdr!r}")
        _whole("seed", seed, 0, 2**32 - 1)
        _whole("n_jobs", n_jobs, -1)
        if n_jobs == 0:
            raise ValueError("n_jobs must be -1 (every core) or at least 1, got 0")
        check_options(k, tolerance)
        self.villages = villages
        self.column = column
        self.permutations = int(permutations)
        self.alpha = float(alpha)
        self.fdr = bool(fdr)
        self.seed = int(seed)
        self.k = k
        self.tolerance = tolerance
        self.n_jobs = n_jobs
        self._given_weights = weights
        self._values = values
        self.result: pd.DataFrame | None = None
        self.weights: VillageWeights | None = None
        self.excluded: list[str] = []
        self.notes: list[Note] = []
        self.seconds: dict[str, float] = {}

    def run(self) -> HotSpots:
        """Compute Gi* and local Moran's I for every village with a value.

        Returns
        -------
        HotSpots
            ``self``, with :attr:`result`, :attr:`weights`, :attr:`excluded`,
            :attr:`notes` and :attr:`seconds` filled in.

        Raises
        ------
        InputError
            When fewer than 3 villages have a value, when every value is the same, or
            when given weights lack some of the villages.
        """
        kode = pd.Index(self.villages["kode"].to_numpy(dtype=object), name="kode")
        has_value = ~np.isnan(self._values)
        kept = kode[has_value]
        y = self._values[has_value]
        if len(y) < MIN_VILLAGES:
            raise InputError(
                N_(
                    "hot spots need at least %(min)s villages with a value in '%(column)s', "
                    "found %(count)s"
                ),
                column=self.column,
                params={"min": MIN_VILLAGES, "column": self.column, "count": len(y)},
            )
        if np.ptp(y) == 0:
            raise InputError(
                N_(
                    "every village has the same value (%(value)s) in '%(column)s'; hot spots "
                    "need values that differ"
                ),
                column=self.column,
                params={"value": float(y[0]), "column": self.column},
            )
        notes: list[Note] = []
        self.seconds = {}
        self.excluded = kode[~has_value].tolist()
        if self.excluded:
            notes.append(
                Note(
                    "excluded",
                    {
                        "count": len(self.excluded),
                        "column": self.column,
                        "codes": listed(self.excluded),
                    },
                )
            )

        started = time.perf_counter()
        weights = self._weights_for(kept, has_value)
        self.seconds["weights"] = time.perf_counter() - started
        self.weights = weights
        notes.extend(_weights_notes(weights))
        if self.permutations and 2 / (self.permutations + 1) > self.alpha:
            notes.append(
                Note(
                    "too_few_permutations",
                    {"permutations": self.permutations, "alpha": self.alpha},
                )
            )

        started = time.perf_counter()
        gi_z, gi_p = self._gi_star(y, weights)
        self.seconds["gi"] = time.perf_counter() - started
        started = time.perf_counter()
        moran_i, moran_q, moran_p = self._local_moran(y, weights)
        self.seconds["moran"] = time.perf_counter() - started

        gi_significant, gi_p_fdr = self._significant(gi_p)
        significant, moran_p_fdr = self._significant(moran_p)
        gi_label = np.where(
            gi_significant, np.where(gi_z > 0, "hot_spot", "cold_spot"), "not_significant"
        )
        quadrant_label = np.array([QUADRANT_LABELS[q] for q in range(1, 5)])[moran_q - 1]
        label = np.where(significant, quadrant_label, "not_significant")
        fallback = kept.isin(weights.fallback) if weights.fallback else np.zeros(len(y), bool)
        smallest = 2 / (self.permutations + 1)
        if (
            self.fdr
            and self.permutations
            and smallest * len(y) / self.alpha > 1
            and not (significant.any() or gi_significant.any())
        ):
            notes.append(
                Note(
                    "too_coarse",
                    {
                        "permutations": self.permutations,
                        "smallest": round(smallest, 6),
                        "count": len(y),
                    },
                )
            )
        self.result = pd.DataFrame(
            {
                "value": y,
                "gi_z": gi_z,
                "gi_p": gi_p,
                "gi_p_fdr": gi_p_fdr,
                "gi_significant": gi_significant,
                "gi_label": gi_label,
                "moran_i": moran_i,
                "moran_q": moran_q,
                "moran_p": moran_p,
                "moran_p_fdr": moran_p_fdr,
                "significant": significant,
                "label": label,
                "neighbours": np.diff(weights.adjacency.indptr),
                "fallback": np.asarray(fallback, dtype=bool),
            },
            index=kept,
        )
        self.notes = notes
        return self

    def counts(self) -> pd.Series:
        """Number of villages in each local Moran class (every key of :data:`LABELS`)."""
        if self.result is None:
            raise ValueError("call run() first")
        return self.result["label"].value_counts().reindex(list(LABELS), fill_value=0)

    # --- steps ------------------------------------------------------------------------

    def _weights_for(self, kept: pd.Index, has_value: np.ndarray) -> VillageWeights:
        given = self._given_weights
        if given is None:
            return village_weights(self.villages.loc[has_value], k=self.k, tolerance=self.tolerance)
        if given.kode.equals(kept):
            return given
        return given.subset(kept)

    def _gi_star(self, y: np.ndarray, weights: VillageWeights) -> tuple[np.ndarray, np.ndarray]:
        """Gi* z-scores and two-sided p-values, binary weights with the village itself."""
        n = len(y)
        with_self = (weights.adjacency + sp.identity(n, format="csr")).tocsr()
        w = WSP(with_self, id_order=weights.kode.tolist()).to_W(silence_warnings=True)
        # G = sum(w * y) / sum(y) needs a positive total; the z-score and the permutation
        # ranks do not change when a constant is added, so shift negative values up.
        shifted = y - y.min() if y.min() < 0 else y
        with _esda_quietly():
            gi = esda.G_Local(
                shifted,
                w,
                transform="B",
                star=True,
                permutations=self.permutations,
                keep_simulations=False,
                seed=self.seed,
                n_jobs=self.n_jobs,
            )
        z = np.asarray(gi.Zs, dtype=float)
        if self.permutations:
            return z, self._two_sided(gi.p_sim)
        return z, np.minimum(2 * stats.norm.sf(np.abs(z)), 1.0)

    def _local_moran(
        self, y: np.ndarray, weights: VillageWeights
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Local Moran's I, quadrant and two-sided p-value (row-standardised weights)."""
        with _esda_quietly():
            lisa = esda.Moran_Local(
                y,
                weights.w,
                transformation="r",
                permutations=self.permutations,
                keep_simulations=False,
                seed=self.seed,
                n_jobs=self.n_jobs,
            )
        moran_i = np.asarray(lisa.Is, dtype=float)
        quadrant = np.asarray(lisa.q, dtype=np.int64)
        if self.permutations:
            p = self._two_sided(lisa.p_sim)
        else:
            z = (moran_i - lisa.EI) / np.sqrt(lisa.VI)
            p = np.minimum(2 * stats.norm.sf(np.abs(z)), 1.0)
        # A village whose value is the mean has I = 0 in every permutation; esda then
        # reports the smallest p-value. It is like and unlike its neighbours alike: p = 1.
        p[np.abs(np.asarray(lisa.z, dtype=float)) < 1e-12] = 1.0
        return moran_i, quadrant, p

    def _two_sided(self, p_sim: np.ndarray) -> np.ndarray:
        # esda stores (count + 1) / (P + 1) in float32; recover the exact count.
        permutations = self.permutations + 1
        extreme = np.rint(np.asarray(p_sim, dtype=float) * permutations)
        return np.minimum(2 * extreme / permutations, 1.0)

    def _significant(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rejected, adjusted = benjamini_hochberg(p, self.alpha)
        return (rejected if self.fdr else p <= self.alpha), adjusted


def _whole(name: str, value: object, low: int, high: int | None = None) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or value < low
        or (high is not None and value > high)
    ):
        bounds = f"from {low} to {high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be a whole number {bounds}, got {value!r}")


def _values(villages: gpd.GeoDataFrame, column: str) -> np.ndarray:
    """The column as float64 (NaN where empty), after checking it holds finite numbers."""
    if not isinstance(column, str):
        raise ValueError(f"column must be a column name (text), got {column!r}")
    geometry = villages.geometry.name
    if column not in villages.columns or column == geometry:
        numeric = [
            str(c) for c in villages.columns if c != geometry and _is_number_column(villages[c])
        ]
        raise InputError(
            N_("the villages have no column '%(column)s'; numeric columns: %(columns)s"),
            column=column,
            params={"column": column, "columns": ", ".join(numeric) or "-"},
        )
    if not _is_number_column(villages[column]):
        raise InputError(
            N_("column '%(column)s' must hold numbers, it holds %(dtype)s values"),
            column=column,
            params={"column": column, "dtype": str(villages[column].dtype)},
        )
    values = villages[column].to_numpy(dtype="float64", na_value=np.nan)
    infinite = np.isinf(values)
    if infinite.any():
        raise InputError(
            N_("%(count)s villages have an infinite value in '%(column)s': %(codes)s"),
            column=column,
            params={
                "count": int(infinite.sum()),
                "column": column,
                "codes": listed(villages["kode"][infinite]),
            },
        )
    return values


def _is_number_column(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _weights_notes(weights: VillageWeights) -> list[Note]:
    notes = []
    if weights.islands:
        notes.append(
            Note(
                "islands",
                {"count": len(weights.islands), "k": weights.k, "codes": listed(weights.islands)},
            )
        )
    if weights.components > 1:
        notes.append(
            Note(
                "components",
                {"count": weights.components},
            )
        )
    if weights.repaired:
        notes.append(
            Note(
                "repaired",
                {"count": len(weights.repaired), "codes": listed(weights.repaired)},
            )
        )
    return notes


@contextmanager
def _esda_quietly() -> Iterator[None]:
    """Hide esda's notices that do not apply here, and keep numpy's global random state.

    esda seeds numpy's global generator for its permutations; restoring it afterwards
    keeps other code's random numbers unaffected by a hot-spot run. The lock keeps two
    runs in threads of one process (the web server's) from reseeding each other mid-draw,
    which would break the same-seed-same-numbers promise.
    """
    with _ESDA_LOCK:
        state = np.random.get_state()
        try:
            with warnings.catch_warnings():
                # We double esda's directed p-value ourselves (see the module notes).
                warnings.filterwarnings(
                    "ignore", message="The alternative hypothesis", category=DeprecationWarning
                )
                warnings.filterwarnings("ignore", category=sp.SparseEfficiencyWarning)
                yield
        finally:
            np.random.set_state(state)
