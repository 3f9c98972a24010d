"""Rules of a program placement, the villages' benefit and cost, and the obvious conflicts.

:class:`Rules` holds the switchable rules. :func:`prepare` checks the village table and
turns it into arrays sorted by village code (the order every solver works in, so results do
not depend on the table's row order). :func:`check_conflicts` finds rule sets that cannot
hold before any solver runs and says which rules clash.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from layers.errors import N_, InputError
from layers.errors import Note as BaseNote

__all__ = [
    "BENEFITS",
    "NOTES",
    "RULE_NAMES",
    "Note",
    "Prepared",
    "Rules",
    "check_conflicts",
    "prepare",
    "spacing_pairs",
]

#: Switchable rules, in the order they are reported.
RULE_NAMES: tuple[str, ...] = (
    "min_per_kecamatan",
    "max_per_kecamatan",
    "exclude",
    "must_include",
    "min_spacing_m",
)
#: Named benefits (any other text is a column of the village table).
BENEFITS: tuple[str, ...] = ("score_x_people", "people_in_need")
#: Villages named in a conflict message at most.
SHOW = 5

NOTES: dict[str, str] = {
    "missing_values": N_(
        "%(count)s villages have no %(what)s value and cannot be chosen (e.g. %(examples)s)"
    ),
    "unknown_excluded": N_(
        "%(count)s excluded village codes are not in the table and were ignored (e.g. %(examples)s)"
    ),
    "solver_missing": N_("solver %(asked)s is not available; %(used)s was used instead"),
    "greedy_fallback": N_(
        "no integer programming solver is available: villages were chosen greedily by benefit "
        "per cost, which may be below the best possible selection"
    ),
    "time_limit": N_(
        "the solver stopped at the time limit of %(seconds)s s; the selection is the best found, "
        "within %(gap)s of the best possible benefit"
    ),
    "no_solution": N_("the solver found no selection within the time limit of %(seconds)s s"),
    "edit_breaks_rule": N_("the manual edits break the rule %(rule)s"),
}


class Note(BaseNote):
    """Something a placement noticed: a code of :data:`NOTES` and its parameters."""

    TEMPLATES = NOTES


#: Conflict messages by kind; ``%(rules)s`` names the rules that clash.
DETAILS = {
    "must_excluded": N_(
        "the rules %(rules)s cannot all hold: villages %(kode)s are both required and excluded"
    ),
    "must_budget": N_(
        "the rules %(rules)s cannot all hold: the required villages cost %(cost)s together, "
        "more than the budget of %(budget)s"
    ),
    "must_top_n": N_(
        "the rules %(rules)s cannot all hold: %(count)s villages are required but only "
        "%(top_n)s may be chosen"
    ),
    "must_max": N_(
        "the rules %(rules)s cannot all hold: kecamatan %(kecamatan)s has %(count)s required "
        "villages, more than the maximum of %(max)s"
    ),
    "min_max": N_(
        "the rules %(rules)s cannot all hold: the minimum per kecamatan (%(min)s) is larger "
        "than the maximum (%(max)s)"
    ),
    "min_villages": N_(
        "the rules %(rules)s cannot all hold: kecamatan %(kecamatan)s has only %(count)s "
        "villages that can be chosen, fewer than the minimum of %(min)s"
    ),
    "min_top_n": N_(
        "the rules %(rules)s cannot all hold: %(kecamatan)s kecamatan with at least %(min)s "
        "villages each need %(count)s villages, but only %(top_n)s may be chosen"
    ),
    "min_budget": N_(
        "the rules %(rules)s cannot all hold: the cheapest villages meeting the minimum per "
        "kecamatan cost %(cost)s, more than the budget of %(budget)s"
    ),
    "must_spacing": N_(
        "the rules %(rules)s cannot all hold: required villages %(a)s and %(b)s are "
        "%(distance)s m apart, closer than %(spacing)s m"
    ),
    "solver": N_(
        "the rules %(rules)s cannot all hold: no selection keeps all of them; drop or loosen "
        "one of them"
    ),
}


def conflict(rules: Iterable[str], detail: str, **params: Any) -> InputError:
    """The error for rules that cannot all hold (``params["rules"]`` names them)."""
    template = DETAILS[detail]  # each one marked with N_ above
    return InputError(template, params={"rules": ", ".join(rules), **params})


def _examples(kode: Iterable[str]) -> str:
    kode = sorted(kode)
    more = f" (+{len(kode) - SHOW})" if len(kode) > SHOW else ""
    return ", ".join(kode[:SHOW]) + more


def _codes(value: Any, name: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InputError(
            N_("%(name)s must be a set of village codes, not %(found)s"),
            params={"name": name, "found": type(value).__name__},
        )
    codes = list(value)
    bad = [c for c in codes if not isinstance(c, str)]
    if bad:
        raise InputError(
            N_("%(name)s: village codes must be text, not %(found)r"),
            params={"name": name, "found": bad[0]},
        )
    return frozenset(codes)


def _count(value: Any, name: str, least: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
        raise InputError(
            N_("%(name)s must be a whole number of at least %(least)s, not %(found)r"),
            params={"name": name, "least": least, "found": value},
        )
    return int(value)


@dataclass(frozen=True)
class Rules:
    """The rules a selection keeps; each is off when ``None`` or empty.

    Parameters
    ----------
    min_per_kecamatan : int, optional
        At least this many villages in every kecamatan of the table.
    max_per_kecamatan : int, optional
        At most this many villages in any kecamatan.
    exclude : set of str
        Villages that cannot be chosen (e.g. covered by another program). Codes not in the
        table are ignored (and noted).
    must_include : set of str
        Villages that are always chosen; every code must be in the table.
    min_spacing_m : float, optional
        No two chosen villages closer than this many metres (needs ``x``/``y``).
    """

    min_per_kecamatan: int | None = None
    max_per_kecamatan: int | None = None
    exclude: frozenset[str] = field(default_factory=frozenset)
    must_include: frozenset[str] = field(default_factory=frozenset)
    min_spacing_m: float | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "min_per_kecamatan", _count(self.min_per_kecamatan, "min_per_kecamatan", 1))
        set_(self, "max_per_kecamatan", _count(self.max_per_kecamatan, "max_per_kecamatan", 0))
        set_(self, "exclude", _codes(self.exclude, "exclude"))
        set_(self, "must_include", _codes(self.must_include, "must_include"))
        spacing = self.min_spacing_m
        if spacing is not None:
            if (
                isinstance(spacing, bool)
                or not isinstance(spacing, Real)
                or not math.isfinite(spacing)
                or spacing <= 0
            ):
                raise InputError(
                    N_("min_spacing_m must be a number of metres above 0, not %(found)r"),
                    params={"found": spacing},
                )
            set_(self, "min_spacing_m", float(spacing))

    @property
    def active(self) -> tuple[str, ...]:
        """Names of the rules that are on, in :data:`RULE_NAMES` order."""
        return tuple(name for name in RULE_NAMES if getattr(self, name))

    def without(self, name: str) -> Rules:
        """The same rules with rule ``name`` switched off."""
        if name not in RULE_NAMES:
            raise ValueError(f"unknown rule {name!r}; rules are {', '.join(RULE_NAMES)}")
        default = frozenset() if name in ("exclude", "must_include") else None
        return replace(self, **{name: default})

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe data (code sets as sorted lists)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = sorted(value) if isinstance(value, frozenset) else value
        return out


# --- the village table ---------------------------------------------------------------------


@dataclass
class Prepared:
    """The village table as arrays sorted by code (what the solvers read)."""

    kode: np.ndarray  # object, sorted
    kec: np.ndarray  # int codes of kecamatan_kode
    kecamatan: np.ndarray  # kecamatan_kode of each kec code, sorted
    benefit: np.ndarray
    cost: np.ndarray
    valid: np.ndarray  # benefit and cost known
    x: np.ndarray | None
    y: np.ndarray | None
    notes: list[Note]

    @property
    def n(self) -> int:
        """Number of villages."""
        return self.kode.size

    def mask(self, codes: Iterable[str]) -> np.ndarray:
        """Boolean mask of the villages in ``codes`` (a hash look-up, no sort)."""
        codes = list(codes)
        if not codes:
            return np.zeros(self.n, dtype=bool)
        return pd.Index(self.kode).isin(codes)


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    values = frame[column]
    if not (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)):
        raise InputError(
            N_("column %(column)s must hold numbers, not %(dtype)s"),
            column=column,
            params={"column": column, "dtype": str(values.dtype)},
        )
    return values.to_numpy(dtype=float, na_value=np.nan)


def _require(frame: pd.DataFrame, columns: Iterable[str], why: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            N_("the village table lacks the columns %(columns)s, needed for %(why)s"),
            params={"columns": ", ".join(missing), "why": why},
        )


def _rate(spec: str, prefix: str) -> float:
    text = spec[len(prefix) :]
    try:
        rate = float(text)
    except ValueError:
        rate = math.nan
    if not math.isfinite(rate) or rate < 0:
        raise InputError(
            N_("cost %(spec)r needs a rate of 0 or more after '%(prefix)s'"),
            params={"spec": spec, "prefix": prefix},
        )
    return rate


def _benefit(frame: pd.DataFrame, spec: Any) -> np.ndarray:
    if not isinstance(spec, str) or not spec:
        raise InputError(
            N_("benefit must be %(named)s or a column name, not %(found)r"),
            params={"named": " or ".join(BENEFITS), "found": spec},
        )
    if spec == "score_x_people":
        _require(frame, ("score", "population"), "benefit score_x_people")
        return _numeric(frame, "score") / 100.0 * _numeric(frame, "population")
    _require(frame, (spec,), f"benefit {spec}")
    return _numeric(frame, spec)


def _cost(frame: pd.DataFrame, spec: Any) -> np.ndarray:
    n = len(frame)
    if isinstance(spec, Real) and not isinstance(spec, bool):
        if not math.isfinite(spec) or spec < 0:
            raise InputError(
                N_("a fixed cost must be a number of 0 or more, not %(found)r"),
                params={"found": spec},
            )
        return np.full(n, float(spec))
    if not isinstance(spec, str) or not spec:
        raise InputError(
            N_(
                "cost must be a number, 'per_person:<rate>', 'per_household:<rate>' or a "
                "column name, not %(found)r"
            ),
            params={"found": spec},
        )
    for prefix, column in (("per_person:", "population"), ("per_household:", "households")):
        if spec.startswith(prefix):
            rate = _rate(spec, prefix)
            _require(frame, (column,), f"cost {spec}")
            return rate * _numeric(frame, column)
    _require(frame, (spec,), f"cost {spec}")
    return _numeric(frame, spec)


def _negative(values: np.ndarray, kode: np.ndarray, what: str) -> None:
    bad = (values < 0) | np.isinf(values)
    if bad.any():
        raise InputError(
            N_("%(what)s must be 0 or more and finite; %(count)s villages are not (%(examples)s)"),
            params={"what": what, "count": int(bad.sum()), "examples": _examples(kode[bad])},
        )


def prepare(villages: Any, benefit: Any, cost: Any, *, spacing: bool) -> Prepared:
    """Check the village table and return its arrays sorted by code.

    Parameters
    ----------
    villages : pandas.DataFrame
        Indexed by ``kode`` (or with a ``kode`` column): ``kecamatan_kode`` and the columns
        the benefit and cost need; ``x``/``y`` (metres) when ``spacing``.
    benefit, cost
        As for :class:`~layers.targeting.ProgramPlacement`.
    spacing : bool
        Whether the spacing rule is on (then ``x``/``y`` are required).

    Raises
    ------
    InputError
        When a column is missing or not numeric, codes are not text or repeat, or a benefit
        or cost is negative.
    """
    if not isinstance(villages, pd.DataFrame):
        raise InputError(
            N_("villages must be a table (DataFrame) indexed by kode, not %(found)s"),
            params={"found": type(villages).__name__},
        )
    frame = villages.set_index("kode") if "kode" in villages.columns else villages
    if len(frame) == 0:
        raise InputError(N_("the village table is empty"))
    kode = frame.index.to_numpy(dtype=object)
    if not all(isinstance(k, str) for k in kode):
        raise InputError(N_("village codes (kode) must be text, with leading zeros kept"))
    if frame.index.has_duplicates:
        dup = frame.index[frame.index.duplicated()].unique()
        raise InputError(
            N_("village codes repeat: %(examples)s"), params={"examples": _examples(dup)}
        )
    _require(frame, ("kecamatan_kode",), "the kecamatan rules and counts")
    if spacing:
        _require(frame, ("x", "y"), "the spacing rule (metric coordinates)")
    frame = frame.iloc[np.argsort(kode, kind="stable")]
    kode = frame.index.to_numpy(dtype=object)
    kec_text = frame["kecamatan_kode"]
    if kec_text.isna().any() or not all(isinstance(k, str) for k in kec_text):
        raise InputError(N_("kecamatan_kode must be text for every village"))
    kec, kecamatan = pd.factorize(kec_text.to_numpy(dtype=object), sort=True)
    b = _benefit(frame, benefit)
    c = _cost(frame, cost)
    _negative(b, kode, N_("benefit"))
    _negative(c, kode, N_("cost"))
    valid = np.isfinite(b) & np.isfinite(c)
    notes = []
    for what, values in (("benefit", b), ("cost", c)):
        missing = np.isnan(values)
        if missing.any():
            params = {
                "count": int(missing.sum()),
                "what": what,
                "examples": _examples(kode[missing]),
            }
            notes.append(Note("missing_values", params))
    x = y = None
    if spacing:
        x, y = _numeric(frame, "x"), _numeric(frame, "y")
        bad = valid & ~(np.isfinite(x) & np.isfinite(y))
        if bad.any():
            raise InputError(
                N_("x/y are missing for %(count)s villages (%(examples)s), needed for spacing"),
                params={"count": int(bad.sum()), "examples": _examples(kode[bad])},
            )
    return Prepared(
        kode=kode,
        kec=kec.astype(np.int64),
        kecamatan=np.asarray(kecamatan, dtype=object),
        benefit=np.where(valid, b, 0.0),
        cost=np.where(valid, c, 0.0),
        valid=valid,
        x=x,
        y=y,
        notes=notes,
    )


def spacing_pairs(data: Prepared, spacing: float) -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, of usable villages closer than ``spacing`` metres.

    Found with a KD-tree (no loop over villages), sorted, as an ``(k, 2)`` int array.
    """
    idx = np.flatnonzero(data.valid)
    points = np.column_stack([data.x[idx], data.y[idx]])
    pairs = cKDTree(points).query_pairs(spacing, output_type="ndarray")
    if pairs.size == 0:
        return np.empty((0, 2), dtype=np.int64)
    gap = np.hypot(*(points[pairs[:, 0]] - points[pairs[:, 1]]).T)
    pairs = np.sort(idx[pairs[gap < spacing]], axis=1)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


# --- conflicts seen before solving ---------------------------------------------------------


def _number_text(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.4g}"


def check_conflicts(
    data: Prepared,
    rules: Rules,
    budget: float | None,
    top_n: int | None,
    pairs: np.ndarray | None,
) -> None:
    """Raise the :class:`InputError` of the first obvious conflict between rules.

    Checked: required villages that are excluded, cost more than the budget, outnumber
    ``top_n``, outnumber the maximum of their kecamatan, or lie closer than the spacing; a
    minimum per kecamatan above the maximum, above the villages a kecamatan has to offer,
    or beyond what ``top_n`` or the budget allow. Other conflicts are found by the solver.
    """
    must = data.mask(rules.must_include)
    clash = sorted(rules.must_include & rules.exclude)
    if clash:
        raise conflict(("must_include", "exclude"), "must_excluded", kode=_examples(clash))
    must_cost = float(data.cost[must].sum())
    if budget is not None and must_cost > budget:
        raise conflict(
            ("must_include", "budget"),
            "must_budget",
            cost=_number_text(must_cost),
            budget=_number_text(budget),
        )
    if top_n is not None and must.sum() > top_n:
        raise conflict(("must_include", "top_n"), "must_top_n", count=int(must.sum()), top_n=top_n)
    n_kec = data.kecamatan.size
    must_kec = np.bincount(data.kec[must], minlength=n_kec)
    mx, mn = rules.max_per_kecamatan, rules.min_per_kecamatan
    if mx is not None and (must_kec > mx).any():
        k = int(np.argmax(must_kec > mx))
        raise conflict(
            ("must_include", "max_per_kecamatan"),
            "must_max",
            kecamatan=data.kecamatan[k],
            count=int(must_kec[k]),
            max=mx,
        )
    if pairs is not None and pairs.size and must.any():
        both = must[pairs[:, 0]] & must[pairs[:, 1]]
        if both.any():
            i, j = pairs[np.argmax(both)]
            distance = math.hypot(data.x[i] - data.x[j], data.y[i] - data.y[j])
            raise conflict(
                ("must_include", "min_spacing_m"),
                "must_spacing",
                a=data.kode[i],
                b=data.kode[j],
                distance=f"{distance:,.0f}",
                spacing=f"{rules.min_spacing_m:,.0f}",
            )
    if mn is None:
        return
    if mx is not None and mn > mx:
        raise conflict(("min_per_kecamatan", "max_per_kecamatan"), "min_max", min=mn, max=mx)
    excluded = data.mask(rules.exclude)
    free = data.valid & ~excluded & ~must
    offer = np.bincount(data.kec[free], minlength=n_kec) + must_kec
    short = offer < mn
    if short.any():
        k = int(np.argmax(short))
        with_excluded = np.bincount(data.kec[data.valid | must], minlength=n_kec)[k] >= mn
        names = ("min_per_kecamatan", "exclude") if with_excluded else ("min_per_kecamatan",)
        raise conflict(
            names, "min_villages", kecamatan=data.kecamatan[k], count=int(offer[k]), min=mn
        )
    need = np.maximum(mn - must_kec, 0)
    if top_n is not None and int(np.maximum(must_kec, mn).sum()) > top_n:
        count = int(np.maximum(must_kec, mn).sum())
        raise conflict(
            ("min_per_kecamatan", "top_n"),
            "min_top_n",
            kecamatan=n_kec,
            min=mn,
            count=count,
            top_n=top_n,
        )
    if budget is not None:
        idx = np.flatnonzero(free)
        idx = idx[np.lexsort((data.cost[idx], data.kec[idx]))]
        kec = data.kec[idx]
        first = np.searchsorted(kec, kec, side="left")
        position = np.arange(idx.size) - first
        cheapest = float(data.cost[idx][position < need[kec]].sum()) + must_cost
        if cheapest > budget:
            raise conflict(
                ("min_per_kecamatan", "budget"),
                "min_budget",
                cost=_number_text(cheapest),
                budget=_number_text(budget),
            )


def finite_number(value: Any, name: str, *, positive: bool = True) -> float:
    """``value`` as a float, or an :class:`InputError` naming ``name``."""
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (positive and value <= 0):
        raise InputError(
            N_("%(name)s must be a number above 0, not %(found)r"),
            params={"name": name, "found": value},
        )
    return float(value)
