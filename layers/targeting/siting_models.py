"""The siting models: coverage sets, greedy starts, the own sparse programs and spopt.

Everything here works on coordinates in metres (arrays), already projected by
:class:`~layers.targeting.siting.FacilitySiting`. The formulations are in
``docs/siting.md``.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

from layers.targeting.solve import cbc_status, highs_status, mip_engine

__all__ = [
    "Solved",
    "attribute_coverage",
    "attribute_distance",
    "coverage_matrix",
    "greedy_cover",
    "greedy_median",
    "merge_rows",
    "nearest",
    "own_lscp",
    "own_mclp",
    "own_pmedian",
    "spopt_solve",
]

#: Nearest candidates per demand point the own p-median starts with (doubled as needed).
PMEDIAN_START_NEIGHBOURS = 16
#: A large finite distance for demand with no facility at all (greedy p-median only).
FAR = 1e12


@dataclass
class Solved:
    """What one solve gave: chosen candidate positions and how sure it is."""

    chosen: np.ndarray  # int positions of the chosen candidates
    status: str  # optimal | time_limit | heuristic | no_solution
    gap: float | None
    rows: int = 0  # constraints / demand groups in the model
    columns: int = 0  # candidate variables in the model


# --- geometry ------------------------------------------------------------------------------


def nearest(points: np.ndarray, sites: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance to, and position of, the nearest of ``sites`` (inf and -1 when none)."""
    if len(sites) == 0 or len(points) == 0:
        return np.full(len(points), np.inf), np.full(len(points), -1, dtype=np.int64)
    dist, idx = cKDTree(sites).query(points, k=1)
    return np.asarray(dist, dtype=float), np.asarray(idx, dtype=np.int64)


def coverage_matrix(points: np.ndarray, sites: np.ndarray, radius: float) -> sparse.csr_matrix:
    """Boolean ``len(points) x len(sites)`` matrix: site within ``radius`` m (inclusive)."""
    shape = (len(points), len(sites))
    if len(points) == 0 or len(sites) == 0:
        return sparse.csr_matrix(shape, dtype=bool)
    pairs = cKDTree(points).sparse_distance_matrix(cKDTree(sites), radius, output_type="ndarray")
    keep = pairs["v"] <= radius
    ones = np.ones(int(keep.sum()), dtype=bool)
    matrix = sparse.csr_matrix((ones, (pairs["i"][keep], pairs["j"][keep])), shape=shape)
    matrix.sort_indices()
    return matrix


def merge_rows(matrix: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Group identical rows of a sorted CSR matrix (exactly, without a loop over rows).

    Rows are keyed by their length and two 64-bit sums of random numbers drawn per column
    (a fixed seed); rows sharing a key are then compared column by column, and a row that
    differs from its group's first row (a hash collision, practically never) stays alone.

    Returns
    -------
    group : numpy.ndarray
        Group number of each row (groups numbered by their first row).
    first : numpy.ndarray
        The first row of each group.
    """
    n = matrix.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(20261127)
    draws = rng.integers(0, np.iinfo(np.uint64).max, size=(2, matrix.shape[1]), dtype=np.uint64)
    length = np.diff(matrix.indptr)
    row_of = np.repeat(np.arange(n), length)
    keys = []
    for draw in draws:
        total = np.zeros(n, dtype=np.uint64)
        np.add.at(total, row_of, draw[matrix.indices])  # wraps around modulo 2**64
        keys.append(total)
    _, first, group = np.unique(
        np.column_stack([length.astype(np.uint64), *keys]),
        axis=0,
        return_index=True,
        return_inverse=True,
    )
    group = group.ravel()
    # verify: every row equals the first row of its group, entry by entry
    lead = first[group]
    offset = np.arange(matrix.indices.size) - matrix.indptr[row_of]
    same = matrix.indices == matrix.indices[matrix.indptr[lead[row_of]] + offset]
    bad = np.unique(row_of[~same])
    if bad.size:
        group = group.copy()
        group[bad] = first.size + np.arange(bad.size)
        first = np.concatenate([first, bad])
    # number groups by their first row, so the order does not depend on the hash
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[group], first[order]


# --- greedy --------------------------------------------------------------------------------


def greedy_cover(matrix: sparse.csr_matrix, weight: np.ndarray, k: int | None) -> np.ndarray:
    """Sites chosen one by one, each covering the most weight not yet covered.

    ``k`` sites (fewer when no site adds anything) for MCLP; with ``k=None``, until every
    row that some site covers is covered (LSCP: rows then count 1 each when ``weight`` is
    all ones). Ties go to the lower column. Returns column positions in the order chosen.
    """
    csc = matrix.tocsc()
    open_ = np.ones(matrix.shape[0], dtype=bool)
    chosen: list[int] = []
    limit = matrix.shape[1] if k is None else k
    while len(chosen) < limit:
        gain = csc.T @ (weight * open_)
        if chosen:
            gain[chosen] = -1.0
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            break
        chosen.append(j)
        open_[csc.indices[csc.indptr[j] : csc.indptr[j + 1]]] = False
    return np.asarray(chosen, dtype=np.int64)


def greedy_median(
    rows: np.ndarray,
    cols: np.ndarray,
    dist: np.ndarray,
    weight: np.ndarray,
    current: np.ndarray,
    m: int,
    k: int,
) -> np.ndarray:
    """Sites chosen one by one, each saving the most weight x distance (p-median start).

    ``rows``/``cols``/``dist``: demand-candidate pairs and their distances; ``current``:
    each demand point's distance before (existing facilities; :data:`FAR` for none).
    """
    cur = np.minimum(current, FAR)
    chosen: list[int] = []
    for _ in range(k):
        saving = np.bincount(cols, weight[rows] * np.maximum(cur[rows] - dist, 0.0), minlength=m)
        if chosen:
            saving[chosen] = -1.0
        j = int(np.argmax(saving))
        if saving[j] <= 0:
            break
        chosen.append(j)
        mine = cols == j
        np.minimum.at(cur, rows[mine], dist[mine])
    return np.asarray(chosen, dtype=np.int64)


def attribute_coverage(
    matrix: sparse.csr_matrix, weight: np.ndarray, chosen: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Order ``chosen`` greedily and give each the weight it newly covers in that order.

    Returns the chosen columns in order and the weight each adds (together: all the
    weight the chosen sites cover among ``matrix``'s rows).
    """
    if chosen.size == 0:
        return chosen, np.zeros(0)
    sub = matrix[:, chosen].tocsc()
    order = greedy_cover(sub, weight, None)
    rest = np.setdiff1d(np.arange(chosen.size), order)  # sites adding nothing, by position
    order = np.concatenate([order, rest])
    open_ = np.ones(matrix.shape[0], dtype=bool)
    added = np.zeros(order.size)
    for t, j in enumerate(order.tolist()):
        hit = sub.indices[sub.indptr[j] : sub.indptr[j + 1]]
        added[t] = float(weight[hit][open_[hit]].sum())
        open_[hit] = False
    return chosen[order], added


def attribute_distance(
    points: np.ndarray, weight: np.ndarray, sites: np.ndarray, before: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Order the chosen ``sites`` greedily by weight x distance saved, and what each saves.

    ``before``: each point's distance to the nearest existing facility (inf for none; a
    point with no facility before saves nothing that can be counted, so it is measured
    from the farthest new site instead).
    """
    if len(sites) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    dist = np.hypot(points[:, 0, None] - sites[None, :, 0], points[:, 1, None] - sites[None, :, 1])
    cur = np.where(np.isfinite(before), before, dist.max(axis=1))
    left = list(range(len(sites)))
    order, saved = [], []
    while left:
        gain = (weight[:, None] * np.maximum(cur[:, None] - dist[:, left], 0.0)).sum(axis=0)
        t = int(np.argmax(gain))
        j = left.pop(t)
        order.append(j)
        saved.append(float(gain[t]))
        cur = np.minimum(cur, dist[:, j])
    return np.asarray(order, dtype=np.int64), np.asarray(saved)


# --- own sparse programs ---------------------------------------------------------------


def _solve(
    prob, solver: str, xs: list, start: np.ndarray | None, deadline: float, mip_gap: float
) -> tuple[str, float | None]:
    engine = mip_engine(solver, xs, start, deadline=deadline, mip_gap=mip_gap)
    prob.solve(engine)
    return highs_status(engine) if solver == "highs" else cbc_status(prob)


def _values(xs: list) -> np.ndarray:
    return np.array([v.varValue if v.varValue is not None else 0.0 for v in xs])


def own_mclp(
    matrix: sparse.csr_matrix,
    weight: np.ndarray,
    k: int,
    *,
    solver: str,
    deadline: float,
    mip_gap: float,
) -> Solved:
    """Maximal covering over groups of identical coverage (rows) and candidates (columns).

    maximise sum_g w_g y_g  s.t.  y_g <= sum_{j in N_g} x_j,  sum_j x_j <= k,
    x binary, 0 <= y <= 1. ``matrix`` rows are the merged groups of uncovered demand.
    """
    import pulp

    start = greedy_cover(matrix, weight, k)
    useful = np.flatnonzero(np.asarray(matrix.sum(axis=0)).ravel() > 0)
    if useful.size <= k:  # every useful site fits: nothing to choose
        return Solved(useful, "optimal", 0.0, matrix.shape[0], useful.size)
    sub = matrix[:, useful].tocsr()
    scale = max(float(weight.max()), 1e-12)
    prob = pulp.LpProblem("mclp", pulp.LpMaximize)
    # PuLP models variable by variable and row by row: the accepted loop, in the modeller.
    xs = [prob.add_variable(f"x_{j}", 0, 1, pulp.LpInteger) for j in useful.tolist()]
    ys = [prob.add_variable(f"y_{g}", 0, 1) for g in range(sub.shape[0])]
    prob += pulp.LpAffineExpression(zip(ys, (weight / scale).tolist(), strict=True))
    for g, y in enumerate(ys):
        cols = sub.indices[sub.indptr[g] : sub.indptr[g + 1]]
        prob += pulp.LpAffineExpression([(y, 1)] + [(xs[j], -1) for j in cols.tolist()]) <= 0
    prob += pulp.lpSum(xs) <= k, "k"
    where = np.full(matrix.shape[1], -1)
    where[useful] = np.arange(useful.size)
    x0 = np.zeros(useful.size)
    x0[where[start]] = 1.0
    y0 = np.minimum(sub @ x0, 1.0)
    status, gap = _solve(prob, solver, xs + ys, np.concatenate([x0, y0]), deadline, mip_gap)
    if status not in ("optimal", "time_limit"):
        return Solved(start, status, None, sub.shape[0], useful.size)
    return Solved(useful[_values(xs) > 0.5], status, gap, sub.shape[0], useful.size)


def own_lscp(matrix: sparse.csr_matrix, *, solver: str, deadline: float, mip_gap: float) -> Solved:
    """Fewest sites covering every row: minimise sum_j x_j s.t. sum_{j in N_g} x_j >= 1."""
    import pulp

    start = greedy_cover(matrix, np.ones(matrix.shape[0]), None)
    if matrix.shape[0] == 0:
        return Solved(start, "optimal", 0.0)
    useful = np.flatnonzero(np.asarray(matrix.sum(axis=0)).ravel() > 0)
    sub = matrix[:, useful].tocsr()
    prob = pulp.LpProblem("lscp", pulp.LpMinimize)
    xs = [prob.add_variable(f"x_{j}", 0, 1, pulp.LpInteger) for j in useful.tolist()]
    prob += pulp.lpSum(xs)
    for g in range(sub.shape[0]):
        cols = sub.indices[sub.indptr[g] : sub.indptr[g + 1]]
        prob += pulp.LpAffineExpression([(xs[j], 1) for j in cols.tolist()]) >= 1
    where = np.full(matrix.shape[1], -1)
    where[useful] = np.arange(useful.size)
    x0 = np.zeros(useful.size)
    x0[where[start]] = 1.0
    status, gap = _solve(prob, solver, xs, x0, deadline, mip_gap)
    if status not in ("optimal", "time_limit"):
        return Solved(start, status, None, sub.shape[0], useful.size)
    return Solved(useful[_values(xs) > 0.5], status, gap, sub.shape[0], useful.size)


def own_pmedian(
    points: np.ndarray,
    weight: np.ndarray,
    sites: np.ndarray,
    before: np.ndarray,
    k: int,
    *,
    solver: str,
    deadline: float,
    mip_gap: float,
) -> Solved:
    """p-median over each point's nearest candidates, widened until the answer is exact.

    Point *i* may be served by its K nearest candidates closer than its nearest existing
    facility (distance ``before``), or fall back at cost ``f_i`` = the smaller of ``before``
    and the distance to its K-th nearest candidate (a lower bound of anything farther).
    When the best solution lets a point fall back on such a bound, K is doubled and the
    program solved again; at the end every cost is exact.
    """
    import pulp

    m = len(sites)
    tree = cKDTree(sites)
    k_near = min(m, max(PMEDIAN_START_NEIGHBOURS, 2 * k))
    w = np.asarray(weight, dtype=float)
    while True:
        dist, idx = tree.query(points, k=k_near)
        dist, idx = dist.reshape(len(points), -1), idx.reshape(len(points), -1)
        complete = k_near >= m
        bound = before if complete else np.minimum(before, dist[:, -1])
        keep = dist < before[:, None]
        rows, slot = np.nonzero(keep)
        cols, d = idx[rows, slot], dist[rows, slot]
        fallback = np.isfinite(bound)
        start = greedy_median(rows, cols, d, w, before, m, k)
        if time.perf_counter() >= deadline:
            return Solved(start, "time_limit", None, len(points), m)
        scale = max(float(np.max(d, initial=0.0)), float(np.max(bound[fallback], initial=0.0)))
        scale = max(scale * max(float(w.max()), 1e-12), 1e-12)
        prob = pulp.LpProblem("pmedian", pulp.LpMinimize)
        xs = [prob.add_variable(f"x_{j}", 0, 1, pulp.LpInteger) for j in range(m)]
        zs = [prob.add_variable(f"z_{t}", 0, 1) for t in range(rows.size)]
        fb = np.flatnonzero(fallback)
        us = [prob.add_variable(f"u_{i}", 0, 1) for i in fb.tolist()]
        cost = np.concatenate([w[rows] * d, w[fb] * bound[fb]]) / scale
        prob += pulp.LpAffineExpression(zip(zs + us, cost.tolist(), strict=True))
        u_of = np.full(len(points), -1)
        u_of[fb] = np.arange(fb.size)
        cuts = np.searchsorted(rows, np.arange(len(points) + 1))
        for i in range(len(points)):
            terms = [(zs[t], 1) for t in range(cuts[i], cuts[i + 1])]
            if u_of[i] >= 0:
                terms.append((us[u_of[i]], 1))
            if terms:
                prob += pulp.LpAffineExpression(terms) == 1
        for t, j in enumerate(cols.tolist()):
            prob += zs[t] - xs[j] <= 0
        prob += pulp.lpSum(xs) <= k, "k"
        # start: each point to its nearest chosen candidate in its list, else falls back
        x0 = np.zeros(m)
        x0[start] = 1.0
        open_d = np.where(x0[cols] > 0, d, np.inf)
        best = np.full(len(points), np.inf)
        np.minimum.at(best, rows, open_d)
        served = (open_d == best[rows]) & np.isfinite(open_d) & (d < bound[rows])
        first = np.zeros(rows.size, dtype=bool)
        pick = np.flatnonzero(served)
        _, once = np.unique(rows[pick], return_index=True)
        first[pick[once]] = True
        z0 = first.astype(float)
        got = np.zeros(len(points), dtype=bool)
        got[rows[first]] = True
        u0 = (~got[fb]).astype(float)
        status, gap = _solve(
            prob, solver, xs + zs + us, np.concatenate([x0, z0, u0]), deadline, mip_gap
        )
        if status not in ("optimal", "time_limit"):
            return Solved(start, status, None, len(points), m)
        chosen = np.flatnonzero(_values(xs) > 0.5)
        loose = fb[_values(us) > 0.5] if us else fb[:0]
        loose = loose[bound[loose] < before[loose]]
        if complete or loose.size == 0 or status == "time_limit":
            return Solved(chosen, status, gap, len(points), m)
        k_near = min(m, 2 * k_near)


# --- spopt ---------------------------------------------------------------------------------


def spopt_solve(
    model: str,
    points: np.ndarray,
    weight: np.ndarray,
    sites: np.ndarray,
    existing: np.ndarray,
    *,
    k: int | None,
    radius: float | None,
    solver: str,
    deadline: float,
    mip_gap: float,
) -> Solved:
    """Solve with ``spopt.locate`` on the dense demand x facility distance matrix.

    Existing facilities are appended to the candidates as spopt's predefined facilities
    (fixed open), so ``p`` is ``k`` plus their number. LSCP gets only the demand some
    facility can reach (spopt would call the rest infeasible).
    """
    from scipy.spatial.distance import cdist
    from spopt.locate import LSCP, MCLP, PMedian

    m, e = len(sites), len(existing)
    facilities = np.vstack([sites, existing]) if e else sites
    predefined = np.r_[np.zeros(m, dtype=int), np.ones(e, dtype=int)] if e else None
    cost = cdist(points, facilities)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if model == "mclp":
            problem = MCLP.from_cost_matrix(
                cost,
                weight,
                service_radius=radius,
                p_facilities=k + e,
                predefined_facilities_arr=predefined,
            )
        elif model == "lscp":
            reach = (cost <= radius).any(axis=1) & (weight > 0)  # nobody there: no need
            problem = LSCP.from_cost_matrix(
                cost[reach], service_radius=radius, predefined_facilities_arr=predefined
            )
        else:
            problem = PMedian.from_cost_matrix(
                cost, weight, p_facilities=k + e, predefined_facilities_arr=predefined
            )
        engine = mip_engine(solver, [], None, deadline=deadline, mip_gap=mip_gap)
        try:
            problem.solve(engine, results=False)
        except RuntimeError:  # spopt's "Model is not solved"
            return Solved(np.zeros(0, dtype=np.int64), "no_solution", None, len(points), m)
    status, gap = highs_status(engine) if solver == "highs" else cbc_status(problem.problem)
    values = np.array([v.varValue or 0.0 for v in problem.fac_vars[:m]])
    return Solved(np.flatnonzero(values > 0.5), status, gap, len(points), m)
