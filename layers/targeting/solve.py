"""Solving one selection problem: sorting, an integer program (PuLP), or the greedy fallback.

A :class:`Spec` is one problem: which villages may be chosen, which must be, the budget,
``top_n`` and the kecamatan and spacing limits. :func:`solve_spec` picks the method: plain
sorting when only a count limits the selection (exact), otherwise a 0-1 integer program
solved by HiGHS or CBC through PuLP, or, when neither solver can be loaded, a greedy pass
by benefit per cost. The formulation is in ``docs/targeting.md``.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import sys
import time
import warnings
from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy import sparse

from layers.targeting.rules import Prepared, Rules

__all__ = [
    "KILL_GRACE_SECONDS",
    "LIGHT_PRESOLVE_COLUMNS",
    "SOLVERS",
    "HighsRun",
    "Outcome",
    "Spec",
    "available_solvers",
    "build_spec",
    "cbc_status",
    "highs_status",
    "mip_engine",
    "run_highs",
    "solve_spec",
]

#: Solvers a placement may ask for.
SOLVERS: tuple[str, ...] = ("highs", "cbc", "greedy")
#: Integer programs with at least this many variables get HiGHS's light presolve. Its full
#: presolve does not watch the time limit while it works (on an 84,000-village knapsack it
#: ran 5 to 24 s whatever the limit) and gains nothing on these models (see
#: ``docs/targeting.md``, "Time limit at scale").
LIGHT_PRESOLVE_COLUMNS = 20_000
#: Seconds after the deadline at which a HiGHS worker that has not answered is killed.
KILL_GRACE_SECONDS = 0.5
#: Least time (s) a solver is given, even when building the model used up the limit.
MIN_SOLVER_SECONDS = 0.05


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
    # the solver gets the whole limit from here (building the model is not counted)
    deadline = time.perf_counter() + time_limit
    engine = mip_engine(solver, xs, warm, deadline=deadline, mip_gap=mip_gap)
    prob.solve(engine)
    values = np.array([v.varValue if v.varValue is not None else 0.0 for v in xs])
    status, gap = highs_status(engine) if solver == "highs" else cbc_status(prob)
    if status in ("optimal", "time_limit"):
        chosen[idx] = values > 0.5
    return chosen, status, gap


def mip_engine(
    solver: str,
    xs: list,
    start: np.ndarray | None,
    *,
    deadline: float,
    mip_gap: float,
) -> object:
    """A PuLP solver object for ``solver`` (``"highs"`` or ``"cbc"``), time-limited.

    Parameters
    ----------
    solver : str
        ``"highs"`` or ``"cbc"``.
    xs : list of pulp.LpVariable
        The variables ``start`` gives values for.
    start : numpy.ndarray, optional
        A feasible solution to start from (one value per variable of ``xs``), or None.
    deadline : float
        ``time.perf_counter()`` value by which the solver must stop: it gets the time left
        (at least :data:`MIN_SOLVER_SECONDS`), so building the model counts against the
        limit too.
    mip_gap : float
        Relative gap at which to stop.

    Returns
    -------
    pulp.LpSolver
        For HiGHS, PuLP's interface keeping the start as the answer whenever HiGHS returns
        nothing better (it is not handed to HiGHS) and, on models of at least
        :data:`LIGHT_PRESOLVE_COLUMNS` variables, the light presolve (the full one does not
        watch the time limit).
    """
    import pulp

    left = max(deadline - time.perf_counter(), MIN_SOLVER_SECONDS)
    options = {"msg": False, "timeLimit": left, "gapRel": mip_gap, "threads": 1}
    if solver == "highs":
        return _warm_highs_class()(xs, start, deadline, **options)
    if start is not None:
        for var, value in zip(xs, start.tolist(), strict=True):
            var.setInitialValue(value)
    with warnings.catch_warnings():  # the bundled CBC is deprecated for PuLP 4
        warnings.simplefilter("ignore", DeprecationWarning)
        return pulp.PULP_CBC_CMD(warmStart=start is not None, **options)


@dataclass
class HighsRun:
    """What one HiGHS run in a worker process gave."""

    status: str  # optimal | time_limit | infeasible | no_solution
    values: np.ndarray | None  # one value per column, None when no solution came back
    gap: float | None
    stopped: bool  # the worker was stopped at the deadline (HiGHS did not keep the limit)
    bound: float | None = None  # HiGHS's dual bound of the (minimised) objective


def run_highs(model: object, deadline: float) -> HighsRun:
    """Run the ``highspy.Highs`` ``model`` and stop it by ``deadline`` whatever it does.

    HiGHS keeps its ``time_limit`` option only where it looks at the clock: 1.16 does not
    in presolve probing, and it can hang at the root node when the limit strikes after a
    start solution was set. Where the platform can fork (Linux, macOS), the run happens in
    a forked copy of this process (no re-import, the model is already in memory) that sends
    back the status, the gap and the column values, and is killed
    :data:`KILL_GRACE_SECONDS` after ``deadline`` if it has not answered; the caller then
    keeps its start solution. Elsewhere HiGHS runs here, with only its own limit.
    """
    if not hasattr(os, "fork"):
        model.run()
        return _highs_result(model)
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():  # Python 3.12+ warns about forking with threads
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the worker: run, send the result, leave without any clean-up
        code = 0
        try:
            os.close(read_end)
            model.run()
            done = _highs_result(model)
            payload = pickle.dumps((done.status, done.values, done.gap, done.bound))
            view = memoryview(payload)
            while view:
                view = view[os.write(write_end, view) :]
        except BaseException:  # nothing may escape a forked child
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    chunks: list[bytes] = []
    stopped = False
    try:
        while True:
            left = deadline + KILL_GRACE_SECONDS - time.perf_counter()
            ready = select.select([read_end], [], [], max(left, 0.0))[0] if left > 0 else []
            if not ready:
                stopped = True
                os.kill(pid, signal.SIGKILL)
                break
            chunk = os.read(read_end, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    if stopped or not chunks:
        return HighsRun("time_limit" if stopped else "no_solution", None, None, stopped)
    status, values, gap, bound = pickle.loads(b"".join(chunks))  # our own child's bytes
    return HighsRun(status, values, gap, False, bound)


def _highs_result(model: object) -> HighsRun:
    import highspy

    found = model.getModelStatus()
    codes = highspy.HighsModelStatus
    info = model.getInfo()
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    gap = float(info.mip_gap) if np.isfinite(info.mip_gap) else None
    values = np.asarray(model.getSolution().col_value, dtype=float) if has_solution else None
    bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else None
    if found == codes.kOptimal:
        return HighsRun("optimal", values, gap if gap is not None else 0.0, False, bound)
    if found in (codes.kInfeasible, codes.kUnboundedOrInfeasible):
        return HighsRun("infeasible", None, None, False)
    status = "time_limit" if has_solution else "no_solution"
    return HighsRun(status, values, gap if has_solution else None, False, bound)


@cache
def _silence_highs_banner() -> None:
    """Make this process's first HiGHS object with standard output pointed at /dev/null.

    highspy prints its banner from C++ on file descriptor 1 the first time a ``Highs`` is
    made in a process, whatever the options; that would break ``--json`` output of the
    command line. Later objects print nothing. (Other threads' output in those few
    microseconds is lost too: this happens once per process.)
    """
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


@cache
def _warm_highs_class() -> type:
    import pulp

    _silence_highs_banner()

    class WarmHiGHS(pulp.HiGHS):
        """PuLP's HiGHS interface: a fallback solution, a presolve for the size, a hard stop."""

        def __init__(
            self, xs: list, start: np.ndarray | None, deadline: float, **options: object
        ) -> None:
            super().__init__(**options)
            self.xs, self.start, self.deadline = xs, start, deadline
            self.run: HighsRun | None = None

        def callSolver(self, lp) -> None:  # noqa: N802 (PuLP's name)
            model = lp.solverModel
            n = model.getNumCol()
            if n >= LIGHT_PRESOLVE_COLUMNS:
                model.setOptionValue("presolve_mode", 2)  # light: no probing
            run = run_highs(model, self.deadline)
            if self.start is not None:
                # The start is kept here, not handed to HiGHS: 1.16 given a start solution
                # (setSolution) returned wrong answers flagged optimal (an objective below
                # the true optimum, with the start's values) and could hang at the root.
                start = np.zeros(n)
                start[[v.index for v in self.xs]] = self.start
                cost = np.asarray(model.getLp().col_cost_, dtype=float)  # minimised
                best = float(cost @ start)
                worse = run.values is None or float(cost @ run.values) > best + 1e-9 * max(
                    1.0, abs(best)
                )
                if worse and run.status in ("optimal", "time_limit", "no_solution"):
                    gap = None  # the start's distance from HiGHS's bound, when it has one
                    if run.bound is not None and best != 0:
                        gap = max(best - run.bound, 0.0) / abs(best)
                    run = HighsRun("time_limit", start, gap, run.stopped, run.bound)
            if run.values is None and run.status == "time_limit":
                run = HighsRun("no_solution", None, None, run.stopped)
            self.run = run

        def findSolutionValues(self, lp) -> tuple[int, int]:  # noqa: N802 (PuLP's name)
            run = self.run
            if run.values is not None:
                for var in lp.variables():  # PuLP's own per-variable bookkeeping
                    var.varValue = float(run.values[var.index])
            return {
                "optimal": (pulp.LpStatusOptimal, pulp.LpSolutionOptimal),
                "time_limit": (pulp.LpStatusOptimal, pulp.LpSolutionIntegerFeasible),
                "infeasible": (pulp.LpStatusInfeasible, pulp.LpSolutionInfeasible),
                "no_solution": (pulp.LpStatusNotSolved, pulp.LpSolutionNoSolutionFound),
            }[run.status]

    return WarmHiGHS


def highs_status(engine: object) -> tuple[str, float | None]:
    """``status`` and relative ``gap`` of the last run of a :func:`mip_engine` HiGHS."""
    run = engine.run
    return run.status, run.gap


def cbc_status(prob) -> tuple[str, float | None]:
    """``status`` of a problem PuLP solved with CBC (the gap is not reported: None)."""
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
