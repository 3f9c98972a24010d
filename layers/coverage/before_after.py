"""Baseline and follow-up: selected versus other villages at both times (difference in
differences).

For each measure (the score and every indicator both runs have), the mean over the
selected villages and over the other villages, at the baseline and at the follow-up, the
change of each group, and the difference of the changes. Only villages present in both
runs with a value at both times count for a measure; their numbers are in the table.
This describes what changed; it does not prove a program caused it (other things changed
too, and selected villages were chosen because they differed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from layers.errors import N_, InputError

#: Result columns that are not measures (ranks, weights, sensitivity figures).
NOT_MEASURES: frozenset[str] = frozenset(
    {
        "rank",
        "weight_used",
        "rank_min",
        "rank_p05",
        "rank_p95",
        "rank_max",
        "share_top_n",
        "fragile",
    }
)

COLUMNS: tuple[str, ...] = (
    "measure",
    "selected_villages",
    "selected_before",
    "selected_after",
    "selected_change",
    "other_villages",
    "other_before",
    "other_after",
    "other_change",
    "difference_in_differences",
)


def _table(run: Any, what: str) -> pd.DataFrame:
    """A run's per-village table indexed by text ``kode``."""
    if hasattr(run, "result_table"):
        frame = run.result_table()
    elif isinstance(run, Mapping) and isinstance(run.get("table_frame"), pd.DataFrame):
        frame = run["table_frame"]
    elif isinstance(run, pd.DataFrame):
        frame = run
    else:
        raise InputError(
            N_("the %(what)s run must be a score run, its saved form or a table, not %(type)s"),
            params={"what": what, "type": type(run).__name__},
        )
    if "kode" in frame.columns:
        frame = frame.set_index("kode")
    frame = frame.copy()
    frame.index = frame.index.astype(str)
    if frame.index.duplicated().any():
        raise InputError(
            N_("the %(what)s run lists a village more than once"),
            column="kode",
            params={"what": what},
        )
    return frame


def before_after(
    baseline_run: Any,
    followup_run: Any,
    selected_kode: Iterable[str],
    *,
    measures: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Compare selected and other villages between a baseline and a follow-up score run.

    Parameters
    ----------
    baseline_run, followup_run : ScoreRun, dict or pandas.DataFrame
        The runs (:class:`~layers.score_run.ScoreRun`, a :func:`~layers.score_run.load_run`
        dict, or a table by ``kode`` with ``score`` and indicator columns).
    selected_kode : iterable of str
        The villages the programs went to.
    measures : iterable of str, optional
        Which columns to compare (default: ``score`` then every numeric column both runs
        have, except ranks and weights).

    Returns
    -------
    pandas.DataFrame
        One row per measure with :data:`COLUMNS`; ``difference_in_differences`` is
        ``selected_change - other_change``. ``attrs`` holds the village counts
        (``both``, ``only_baseline``, ``only_followup``, ``selected_missing``).

    Raises
    ------
    InputError
        Runs that are not tables, no village in common, no selected village, or an
        unknown measure.
    """
    before = _table(baseline_run, "baseline")
    after = _table(followup_run, "follow-up")
    if isinstance(selected_kode, str) or not isinstance(selected_kode, Iterable):
        raise InputError(
            N_("selected_kode must be a list of village codes, not %(type)s"),
            params={"type": type(selected_kode).__name__},
        )
    selected = {str(k) for k in selected_kode}
    common = before.index.intersection(after.index)
    if len(common) == 0:
        raise InputError(N_("the two runs have no village in common"))
    chosen = common.isin(list(selected))
    if not chosen.any():
        raise InputError(N_("none of the selected villages is in both runs"))
    numeric = [
        c
        for c in before.columns
        if c in after.columns
        and c not in NOT_MEASURES
        and pd.api.types.is_numeric_dtype(before[c])
        and pd.api.types.is_numeric_dtype(after[c])
        and not pd.api.types.is_bool_dtype(before[c])
    ]
    if measures is None:
        names = (["score"] if "score" in numeric else []) + [c for c in numeric if c != "score"]
    else:
        names = list(measures)
        unknown = [m for m in names if m not in numeric]
        if unknown:
            raise InputError(
                N_("unknown measures %(measures)s; both runs have: %(known)s"),
                params={"measures": ", ".join(unknown), "known": ", ".join(numeric)},
            )
    b = before.loc[common, names].astype(np.float64).to_numpy()
    a = after.loc[common, names].astype(np.float64).to_numpy()
    both = np.isfinite(b) & np.isfinite(a)
    rows: dict[str, Any] = {"measure": names}
    for group, mask in (("selected", chosen), ("other", ~chosen)):
        m = both & mask[:, None]
        n = m.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_b = np.where(n > 0, np.where(m, b, 0).sum(axis=0) / n, np.nan)
            mean_a = np.where(n > 0, np.where(m, a, 0).sum(axis=0) / n, np.nan)
        rows[f"{group}_villages"] = n.astype(np.int64)
        rows[f"{group}_before"] = mean_b
        rows[f"{group}_after"] = mean_a
        rows[f"{group}_change"] = mean_a - mean_b
    rows["difference_in_differences"] = rows["selected_change"] - rows["other_change"]
    out = pd.DataFrame(rows).loc[:, list(COLUMNS)]
    out.attrs["villages"] = {
        "both": len(common),
        "only_baseline": len(before.index.difference(after.index)),
        "only_followup": len(after.index.difference(before.index)),
        "selected_missing": len(selected - set(common)),
    }
    return out
