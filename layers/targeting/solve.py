"""Solving one selection problem: sorting, an integer program (PuLP), or the greedy fallback.

A :class:`Spec` is one problem: which villages may be chosen, which must be, the budget,
``top_n`` and the kecamatan and spacing limits. :func:`solve_spec` picks the method: plain
sorting when only a count limits the selection (exact), otherwise a 0-1 integer program
solved by HiGHS or CBC through PuLP, or, when neither solver can be loaded, a greedy pass
by benefit per cost. The formulation is in ``docs/targeting.md``.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy import sparse

from layers.targeting.rules import Prepared, Rules

__all__ = ["SOLVERS", "Outcome", "Spec", "available_solvers", "build_spec", "solve_spec"]

#: Solvers a placement may ask for.
SOLVERS: tuple[str, ...] = ("highs", "cbc", "greedy")


@dataclass
class Spec:
    """One selection problem over the villages of a :class:`Prepared` table."""

    candidate: np.ndarray  # may be chosen (required villages included)
    must: np.ndarray
    budget: float | None
    top_n: int | None
    min_k: int | None
    max_k: int | None
    pairs: np.ndarray | None  # conflicting pairs among candidates (spacing rule)

    @property
    def needs_program(self) -> bool:
        """Whether sorting by benefit cannot give the best selection."""
        return (
            self.budget is not None
            or self.min_k is not None
            or self.max_k is not None
            or (self.pairs is not None and self.pairs.size > 0)
        )


@dataclass
class Outcome:
    """What one solve gave: the chosen villages and how sure it is."""

    chosen: np.ndarray  # bool over all villages
    status: str  # optimal | time_limit | infeasible | no_solution | heuristic
    gap: float | None  # relative MIP gap (0 = proven best); None when not known
    method: str  # sort | highs | cbc | greedy
    seconds: float


def build_spec(
    data: Prepared,
    rules: Rules,
    budget: float | None,
    top_n: int | None,
    pairs: np.ndarray | None,
) -> Spec:
    """The problem of ``rules`` (``pairs``: every close pair of usable villages)."""
    must = data.mask(rules.must_include)
    candidate = (data.valid & ~data.mask(rules.exclude)) | must
    close = None
    if rules.min_spacing_m is not None and pairs is not None:
        close = pairs[candidate[pairs[:, 0]] & candidate[pairs[:, 1]]]
    return Spec(
        candidate=candidate,
        must=must,
        budget=budget,
        top_n=top_n,
        min_k=rules.min_per_kecamatan,
        max_k=rules.max_per_kecamatan,
        pairs=close,
    )


@cache
def available_solvers() -> tuple[str, ...]:
    """Integer programming solvers that can be loaded here (``"highs"``, ``"cbc"``)."""
    try:
        import pulp
    except ImportError:
        return ()
    found = []
    if pulp.HiGHS(msg=False).available():
        found.append("highs")
    with warnings.catch_warnings():  # the bundled CBC is deprecated for PuLP 4
        warnings.simplefilter("ignore", DeprecationWarning)
        if pulp.PULP_CBC_CMD(msg=False).available():
            found.append("cbc")
    return tuple(found)


def solve_spec(
    data: Prepared, spec: Spec, method: str, time_limit: float, mip_gap: float
) -> Outcome:
    """Solve ``spec`` with ``method`` (sorting is used whenever it is exact)."""
    start = time.perf_counter()
    if not spec.needs_program:
        chosen, status, gap, method = _top(data, spec), "optimal", 0.0, "sort"
    elif method == "greedy":
        chosen, status = _greedy(data, spec)
        gap = None
    else:
        chosen, status, gap = _program(data, spec, method, time_limit, mip_gap)
    return Outcome(chosen, status, gap, method, time.perf_counter() - start)


def _order(data: Prepared, key: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``idx`` by ``key`` descending, then benefit descending, then code (the array order)."""
    return idx[np.lexsort((idx, -data.benefit[idx], -key[idx]))]


def _top(data: Prepared, spec: Spec) -> np.ndarray:
    chosen = spec.must.copy()
    free = np.flatnonzero(spec.candidate & ~spec.must)
    room = free.size if spec.top_n is None else max(spec.top_n - int(spec.must.sum()), 0)
    chosen[_order(data, data.benefit, free)[:room]] = True
    return chosen


def _kecamatan_groups(data: Prepared, idx: np.ndarray) -> list[np.ndarray]:
    """Positions in ``idx`` grouped by kecamatan (kecamatan code order)."""
    order = np.argsort(data.kec[idx], kind="stable")
    cuts = np.flatnonzero(np.diff(data.kec[idx][order])) + 1
    return np.split(order, cuts)


def _program(
    data: Prepared, spec: Spec, solver: str, time_limit: float, mip_gap: float
) -> tuple[np.ndarray, str, float | None]:
    import pulp

    chosen = np.zeros(data.n, dtype=bool)
    idx = np.flatnonzero(spec.candidate)
    if spec.min_k is not None:
        offer = np.bincount(data.kec[idx], minlength=data.kecamatan.size)
        if (offer < spec.min_k).any():
            return chosen, "infeasible", None
    if idx.size == 0:
        return chosen, "optimal", 0.0
    prob = pulp.LpProblem("program_placement", pulp.LpMaximize)
    # PuLP models variable by variable: this is the one loop over villages, in the modeller.
    xs = [
        prob.add_variable(f"x_{i}", lowBound=int(low), upBound=1, cat=pulp.LpInteger)
        for i, low in zip(idx.tolist(), spec.must[idx].tolist(), strict=True)
    ]
    # Benefits and costs are scaled to about 1 (rupiah budgets reach 1e11): the solver's
    # tolerances are absolute, and unscaled rows stall it. The gap is relative, unchanged.
    benefit = data.benefit[idx] / max(float(data.benefit[idx].max()), 1e-12)
    prob += pulp.LpAffineExpression(zip(xs, benefit.tolist(), strict=True))
    if spec.budget is not None:
        unit = max(float(data.cost[idx].max()), 1e-12)
        cost = data.cost[idx] / unit
        spend = pulp.LpAffineExpression(zip(xs, cost.tolist(), strict=True))
        prob += spend <= spec.budget / unit, "budget"
    if spec.top_n is not None:
        prob += pulp.lpSum(xs) <= spec.top_n, "top_n"
    if spec.min_k is not None or spec.max_k is not None:
        for group in _kecamatan_groups(data, idx):
            count = pulp.LpAffineExpression([(xs[j], 1) for j in group.tolist()])
            k = data.kecamatan[data.kec[idx[group[0]]]]
            if spec.min_k is not None:
                prob += count >= spec.min_k, f"min_{k}"
            if spec.max_k is not None:
                prob += count <= spec.max_k, f"max_{k}"
    if spec.pairs is not None and spec.pairs.size:
        where = np.full(data.n, -1, dtype=np.int64)
        where[idx] = np.arange(idx.size)
        for a, b in where[spec.pairs].tolist():
            prob += xs[a] + xs[b] <= 1
    # The greedy selection (when it keeps every rule) is handed over as the first incumbent:
    # on large, nearly tied knapsacks the solver may otherwise spend its time finding one.
    start, start_status = _greedy(data, spec)
    warm = start[idx].astype(float) if start_status == "heuristic" else None
    options = {"msg": False, "timeLimit": time_limit, "gapRel": mip_gap, "threads": 1}
    if solver == "highs":
        engine = _warm_highs_class()(xs, warm, **options)
    else:
        if warm is not None:
            for var, value in zip(xs, warm.tolist(), strict=True):
                var.setInitialValue(value)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            engine = pulp.PULP_CBC_CMD(warmStart=warm is not None, **options)
    prob.solve(engine)
    values = np.array([v.varValue if v.varValue is not None else 0.0 for v in xs])
    if solver == "highs":
        status, gap = _highs_status(prob)
    else:
        status, gap = _cbc_status(prob)
    if status in ("optimal", "time_limit"):
        chosen[idx] = values > 0.5
    return chosen, status, gap


@cache
def _warm_highs_class() -> type:
    import highspy
    import pulp

    class WarmHiGHS(pulp.HiGHS):
        """PuLP's HiGHS interface, handed a feasible selection to start from."""

        def __init__(self, xs: list, start: np.ndarray | None, **options: object) -> None:
            super().__init__(**options)
            self.xs, self.start = xs, start

        def callSolver(self, lp) -> None:  # noqa: N802 (PuLP's name)
            if self.start is not None:
                values = np.zeros(lp.solverModel.getNumCol())
                values[[v.index for v in self.xs]] = self.start
                solution = highspy.HighsSolution()
                solution.col_value = values.tolist()
                solution.value_valid = True
                lp.solverModel.setSolution(solution)
            super().callSolver(lp)

    return WarmHiGHS


def _highs_status(prob) -> tuple[str, float | None]:
    import highspy

    model = prob.solverModel
    found = model.getModelStatus()
    codes = highspy.HighsModelStatus
    info = model.getInfo()
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    gap = float(info.mip_gap) if np.isfinite(info.mip_gap) else None
    if found == codes.kOptimal:
        return "optimal", gap if gap is not None else 0.0
    if found in (codes.kInfeasible, codes.kUnboundedOrInfeasible):
        return "infeasible", None
    return ("time_limit", gap) if has_solution else ("no_solution", None)


def _cbc_status(prob) -> tuple[str, float | None]:
    import pulp

    if prob.status == pulp.LpStatusInfeasible:
        return "infeasible", None
    if prob.sol_status == pulp.LpSolutionOptimal:
        return "optimal", None
    if prob.sol_status == pulp.LpSolutionIntegerFeasible:
        return "time_limit", None
    return "no_solution", None


def _greedy(data: Prepared, spec: Spec) -> tuple[np.ndarray, str]:
    """Required villages, then each kecamatan's minimum, then the rest, by benefit per cost.

    A village is taken when it still fits the budget, ``top_n``, its kecamatan's maximum
    and the spacing; otherwise it is skipped. Status ``"heuristic"``, or ``"infeasible"``
    when a kecamatan's minimum could not be met.
    """
    n_kec = data.kecamatan.size
    chosen = spec.must.copy()
    per_kec = np.bincount(data.kec[chosen], minlength=n_kec)
    spent = float(data.cost[chosen].sum())
    count = int(chosen.sum())
    blocked = np.zeros(data.n, dtype=bool)
    near = None
    if spec.pairs is not None and spec.pairs.size:
        a, b = spec.pairs[:, 0], spec.pairs[:, 1]
        ones = np.ones(2 * a.size, dtype=bool)
        near = sparse.csr_matrix((ones, (np.r_[a, b], np.r_[b, a])), shape=(data.n, data.n))
        blocked[near[np.flatnonzero(chosen)].indices] = True
    if spec.budget is None:
        key = data.benefit
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            key = np.where(data.cost > 0, data.benefit / data.cost, np.inf)
        key = np.where((data.cost == 0) & (data.benefit == 0), 0.0, key)
    order = _order(data, key, np.flatnonzero(spec.candidate & ~spec.must))

    def take(i: int) -> None:
        nonlocal spent, count
        if chosen[i] or blocked[i]:
            return
        k = data.kec[i]
        if spec.max_k is not None and per_kec[k] >= spec.max_k:
            return
        if spec.top_n is not None and count >= spec.top_n:
            return
        if spec.budget is not None and spent + data.cost[i] > spec.budget:
            return
        chosen[i] = True
        per_kec[k] += 1
        spent += float(data.cost[i])
        count += 1
        if near is not None:
            blocked[near.indices[near.indptr[i] : near.indptr[i + 1]]] = True

    if spec.min_k is not None:
        for group in _kecamatan_groups(data, order):
            for i in order[group].tolist():
                if per_kec[data.kec[i]] >= spec.min_k:
                    break
                take(i)
    for i in order.tolist():
        take(i)
    if spec.min_k is not None and (per_kec < spec.min_k).any():
        return chosen, "infeasible"
    return chosen, "heuristic"
