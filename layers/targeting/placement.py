"""Program placement: which villages get the program, within a budget and the agreed rules."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from layers.derived import record_json
from layers.errors import N_, InputError
from layers.targeting.rules import (
    RULE_NAMES,
    Note,
    Rules,
    _codes,
    _count,
    _examples,
    check_conflicts,
    conflict,
    finite_number,
    prepare,
    spacing_pairs,
)
from layers.targeting.solve import SOLVERS, Outcome, available_solvers, build_spec, solve_spec

__all__ = ["REASONS", "ProgramPlacement"]

#: Why a village is in the selection.
REASONS: dict[str, str] = {
    "top benefit": N_("top benefit"),
    "must include": N_("must include"),
    "manual": N_("manual"),
}


class ProgramPlacement:
    """Choose the villages that get a program: the most benefit within a budget and rules.

    Parameters
    ----------
    villages : pandas.DataFrame
        Indexed by ``kode`` (text; or with a ``kode`` column): ``kecamatan_kode`` and the
        columns the benefit and cost need (``score``, ``population``, ``households``,
        ``people_in_need``, ...); ``x``/``y`` in metres of a metric CRS for the spacing rule.
    benefit : str
        ``"score_x_people"`` (score / 100 x population: need-weighted people),
        ``"people_in_need"`` (that column), or the name of a numeric column.
    cost : float or str, optional
        A fixed cost per village, ``"per_person:<rate>"`` (rate x population),
        ``"per_household:<rate>"`` (rate x households) or a column name. Required with a
        budget; 0 otherwise.
    budget : float, optional
        Most the selection may cost. Without it, ``top_n`` is required.
    top_n : int, optional
        Most villages the selection may have.
    rules : Rules, optional
        The switchable rules (kecamatan limits, exclusions, required villages, spacing).
    add, remove : iterable of str
        Manual edits applied after solving (recorded with their effect in :attr:`edits`).
    time_limit : float
        Seconds each solver run may take (default 30).
    solver : str
        ``"highs"`` (default), ``"cbc"`` or ``"greedy"``. When the asked solver cannot be
        loaded the other is used; when neither can, the greedy fallback (flagged).
    mip_gap : float
        Relative gap at which the solver may stop (default 1e-4: within 0.01 %).
    rule_costs : bool
        Whether to solve again without each active rule to price it (default True).

    Attributes
    ----------
    selected : pandas.DataFrame
        After :meth:`solve`: ``rank`` (by benefit, ties by code), ``kode``,
        ``kecamatan_kode``, ``benefit``, ``cost``, ``reason`` (a key of :data:`REASONS`),
        plus ``score``/``population`` when the table has them.
    objective : float
        Benefit of the selection the solver chose (before manual edits).
    benefit_total, cost_total : float
        Benefit and cost of the final selection (after manual edits).
    budget_share : float or None
        ``cost_total / budget``.
    gap : float or None
        Relative MIP gap the solver reported (0 = proven best; None when not known).
    status : str
        ``optimal``, ``time_limit`` (best found when time ran out), ``heuristic`` (greedy)
        or ``no_solution``.
    solver : str
        Method used: ``sort`` (exact: only a count limits the choice), ``highs``, ``cbc``
        or ``greedy``.
    fallback : bool
        True when the greedy fallback replaced an unavailable solver.
    rule_costs : pandas.DataFrame
        Per active rule: ``benefit_without`` (best benefit with that rule off),
        ``benefit_given_up`` and ``share`` of it, ``status`` of that solve.
    by_kecamatan : pandas.DataFrame
        Per kecamatan: ``villages``, ``selected``, ``benefit``, ``cost``.
    edits : dict
        ``added``, ``removed`` (codes that changed the selection), ``benefit_change``,
        ``cost_change``, ``broken_rules``.
    seconds : dict
        Time of each step.
    notes : list of Note
        Missing values, solver substitutions, time limits, rules broken by edits.

    Examples
    --------
    >>> plan = ProgramPlacement(table, cost="per_person:25000", budget=2e9,
    ...                         rules=Rules(max_per_kecamatan=3)).solve()  # doctest: +SKIP
    >>> plan.selected, plan.rule_costs, plan.to_dict()  # doctest: +SKIP
    """

    def __init__(
        self,
        villages: pd.DataFrame,
        *,
        benefit: str = "score_x_people",
        cost: float | str | None = None,
        budget: float | None = None,
        top_n: int | None = None,
        rules: Rules | None = None,
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
        time_limit: float = 30,
        solver: str = "highs",
        mip_gap: float = 1e-4,
        rule_costs: bool = True,
    ) -> None:
        rules = Rules() if rules is None else rules
        if not isinstance(rules, Rules):
            raise ValueError(f"rules must be a Rules, not {type(rules).__name__}")
        if solver not in SOLVERS:
            raise InputError(
                N_("solver must be one of %(allowed)s, not %(found)r"),
                params={"allowed": ", ".join(SOLVERS), "found": solver},
            )
        self.budget = None if budget is None else finite_number(budget, "budget")
        self.top_n = _count(top_n, "top_n", 1)
        if self.budget is None and self.top_n is None:
            raise InputError(N_("give a budget or top_n: how many villages can be chosen?"))
        if self.budget is not None and cost is None:
            raise InputError(N_("a budget needs a cost per village (cost=...)"))
        self.time_limit = finite_number(time_limit, "time_limit")
        self.mip_gap = finite_number(mip_gap, "mip_gap", positive=False)
        if not 0 <= self.mip_gap < 1:
            raise InputError(
                N_("mip_gap must be at least 0 and below 1, not %(found)r"),
                params={"found": mip_gap},
            )
        self.data = prepare(
            villages, benefit, 0.0 if cost is None else cost, spacing=bool(rules.min_spacing_m)
        )
        self.rules, self.solver_asked, self.want_rule_costs = rules, solver, bool(rule_costs)
        self.benefit_spec, self.cost_spec = benefit, cost
        self.add, self.remove = _codes(add, "add"), _codes(remove, "remove")
        known = set(self.data.kode.tolist())
        for name, codes in (
            ("must_include", rules.must_include),
            ("add", self.add),
            ("remove", self.remove),
        ):
            unknown = codes - known
            if unknown:
                raise InputError(
                    N_("%(name)s names villages that are not in the table: %(examples)s"),
                    params={"name": name, "examples": _examples(unknown)},
                )
        for name, codes in (("must_include", rules.must_include), ("add", self.add)):
            unusable = codes & set(self.data.kode[~self.data.valid].tolist())
            if unusable:
                raise InputError(
                    N_("%(name)s names villages without a benefit or cost value: %(examples)s"),
                    params={"name": name, "examples": _examples(unusable)},
                )
        both = self.add & self.remove
        if both:
            raise InputError(
                N_("villages cannot be both added and removed: %(examples)s"),
                params={"examples": _examples(both)},
            )
        self.extra = villages.set_index("kode") if "kode" in villages.columns else villages
        self.selected: pd.DataFrame | None = None
        self.objective = self.benefit_total = self.cost_total = math.nan
        self.budget_share: float | None = None
        self.gap: float | None = None
        self.status: str | None = None
        self.solver: str | None = None
        self.fallback = False
        self.rule_costs: pd.DataFrame | None = None
        self.by_kecamatan: pd.DataFrame | None = None
        self.edits: dict[str, Any] = {}
        self.seconds: dict[str, float] = {}
        self.notes: list[Note] = list(self.data.notes)

    # --- solving -------------------------------------------------------------------------

    def _method(self) -> str:
        found = available_solvers()
        asked = self.solver_asked
        if asked == "greedy" or asked in found:
            return asked
        if found:
            self.notes.append(Note("solver_missing", {"asked": asked, "used": found[0]}))
            return found[0]
        self.fallback = True
        self.notes.append(Note("greedy_fallback"))
        return "greedy"

    def _solve(self, method: str, rules: Rules, budget: float | None, top_n: int | None) -> Outcome:
        spec = build_spec(self.data, rules, budget, top_n, self._pairs)
        return solve_spec(self.data, spec, method, self.time_limit, self.mip_gap)

    def _conflicting(self, method: str) -> InputError:
        """Rules that cannot hold together: drop each in turn while the rest still clash."""
        keep = [*self.rules.active]
        keep += [n for n in ("budget", "top_n") if getattr(self, n) is not None]
        for name in list(keep):
            trial = [n for n in keep if n != name]
            rules = self.rules
            for rule in RULE_NAMES:
                if rule not in trial and getattr(rules, rule):
                    rules = rules.without(rule)
            budget = self.budget if "budget" in trial else None
            top_n = self.top_n if "top_n" in trial else None
            if self._solve(method, rules, budget, top_n).status == "infeasible":
                keep = trial
        return conflict(keep, "solver")

    def solve(self) -> ProgramPlacement:
        """Choose the villages, price each rule, apply the manual edits; return self.

        Raises
        ------
        InputError
            When the rules cannot all hold; the message names the rules that clash.
        """
        started = time.perf_counter()
        data, rules = self.data, self.rules
        self._pairs = None
        if rules.min_spacing_m is not None:
            self._pairs = spacing_pairs(data, rules.min_spacing_m)
        check_conflicts(data, rules, self.budget, self.top_n, self._pairs)
        method = self._method()
        self.seconds["prepare"] = time.perf_counter() - started
        outcome = self._solve(method, rules, self.budget, self.top_n)
        self.seconds["solve"] = outcome.seconds
        if outcome.status == "infeasible":
            raise self._conflicting(method)
        self.status, self.gap, self.solver = outcome.status, outcome.gap, outcome.method
        if outcome.status == "time_limit":
            gap = "unknown" if outcome.gap is None else f"{outcome.gap:.2%}"
            self.notes.append(Note("time_limit", {"seconds": self.time_limit, "gap": gap}))
        elif outcome.status == "no_solution":
            self.notes.append(Note("no_solution", {"seconds": self.time_limit}))
        self.objective = float(data.benefit[outcome.chosen].sum())

        step = time.perf_counter()
        rows = []
        for name in rules.active if self.want_rule_costs else ():
            other = self._solve(method, rules.without(name), self.budget, self.top_n)
            without = float(data.benefit[other.chosen].sum())
            given_up = without - self.objective
            rows.append(
                {
                    "rule": name,
                    "benefit_without": without,
                    "benefit_given_up": given_up,
                    "share": given_up / without if without > 0 else 0.0,
                    "status": other.status,
                }
            )
        columns = ["rule", "benefit_without", "benefit_given_up", "share", "status"]
        self.rule_costs = pd.DataFrame(rows, columns=columns).set_index("rule")
        self.seconds["rule_costs"] = time.perf_counter() - step

        self._finish(outcome.chosen)
        self.seconds["total"] = time.perf_counter() - started
        return self

    # --- results -------------------------------------------------------------------------

    def _broken(self, chosen: np.ndarray) -> list[str]:
        """Rules (and budget/top_n) the selection ``chosen`` does not keep."""
        data, rules = self.data, self.rules
        per_kec = np.bincount(data.kec[chosen], minlength=data.kecamatan.size)
        checks = {
            "budget": self.budget is not None
            and data.cost[chosen].sum() > self.budget * (1 + 1e-9),
            "top_n": self.top_n is not None and chosen.sum() > self.top_n,
            "min_per_kecamatan": rules.min_per_kecamatan is not None
            and bool((per_kec < rules.min_per_kecamatan).any()),
            "max_per_kecamatan": rules.max_per_kecamatan is not None
            and bool((per_kec > rules.max_per_kecamatan).any()),
            "exclude": bool((chosen & data.mask(rules.exclude)).any()),
            "must_include": bool((data.mask(rules.must_include) & ~chosen).any()),
            "min_spacing_m": self._pairs is not None
            and bool((chosen[self._pairs[:, 0]] & chosen[self._pairs[:, 1]]).any()),
        }
        return [name for name, broken in checks.items() if broken]

    def _finish(self, optimised: np.ndarray) -> None:
        data = self.data
        chosen = optimised.copy()
        added = data.mask(self.add) & ~chosen
        removed = data.mask(self.remove) & chosen
        chosen = (chosen | added) & ~removed
        broken = self._broken(chosen) if (added.any() or removed.any()) else []
        self.notes.extend(Note("edit_breaks_rule", {"rule": name}) for name in broken)
        self.edits = {
            "added": data.kode[added].tolist(),
            "removed": data.kode[removed].tolist(),
            "benefit_change": float(data.benefit[added].sum() - data.benefit[removed].sum()),
            "cost_change": float(data.cost[added].sum() - data.cost[removed].sum()),
            "broken_rules": broken,
        }
        self.benefit_total = float(data.benefit[chosen].sum())
        self.cost_total = float(data.cost[chosen].sum())
        self.budget_share = None if self.budget is None else self.cost_total / self.budget

        idx = np.flatnonzero(chosen)
        idx = idx[np.lexsort((idx, -data.benefit[idx]))]
        must = data.mask(self.rules.must_include)
        reason = np.where(added[idx], "manual", np.where(must[idx], "must include", "top benefit"))
        selected = pd.DataFrame(
            {
                "rank": np.arange(1, idx.size + 1),
                "kode": data.kode[idx],
                "kecamatan_kode": data.kecamatan[data.kec[idx]],
                "benefit": data.benefit[idx],
                "cost": data.cost[idx],
                "reason": reason.astype(object),
            }
        )
        for column in ("score", "population"):
            if column in self.extra.columns:
                selected[column] = self.extra[column].reindex(selected["kode"]).to_numpy()
        self.selected = selected

        n_kec = data.kecamatan.size
        self.by_kecamatan = pd.DataFrame(
            {
                "villages": np.bincount(data.kec, minlength=n_kec),
                "selected": np.bincount(data.kec[chosen], minlength=n_kec),
                "benefit": np.bincount(data.kec[chosen], data.benefit[chosen], minlength=n_kec),
                "cost": np.bincount(data.kec[chosen], data.cost[chosen], minlength=n_kec),
            },
            index=pd.Index(data.kecamatan, name="kecamatan_kode", dtype=object),
        )

    def _require_solved(self) -> pd.DataFrame:
        if self.selected is None:
            raise ValueError("call solve() before reading the results of a ProgramPlacement")
        return self.selected

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe settings and results (for saving a placement as a record)."""
        selected = self._require_solved()

        costs = self.rule_costs.reset_index().to_dict(orient="records")
        kecamatan = self.by_kecamatan.reset_index().to_dict(orient="records")
        return record_json(
            {
                "settings": {
                    "benefit": self.benefit_spec,
                    "cost": self.cost_spec,
                    "budget": self.budget,
                    "top_n": self.top_n,
                    "rules": self.rules.to_dict(),
                    "add": sorted(self.add),
                    "remove": sorted(self.remove),
                    "solver": self.solver_asked,
                    "time_limit": self.time_limit,
                    "mip_gap": self.mip_gap,
                },
                "status": self.status,
                "solver": self.solver,
                "fallback": self.fallback,
                "gap": self.gap,
                "objective": self.objective,
                "benefit_total": self.benefit_total,
                "cost_total": self.cost_total,
                "budget_share": self.budget_share,
                "selected": selected.to_dict(orient="records"),
                "rule_costs": costs,
                "by_kecamatan": kecamatan,
                "edits": self.edits,
                "notes": [note.to_dict() for note in self.notes],
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            }
        )
