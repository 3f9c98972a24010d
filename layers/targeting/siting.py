"""Facility siting: where new facilities (posyandu, water points, pustu) should go.

:class:`FacilitySiting` chooses candidate sites for new facilities of one type, given
where people are (demand points with a weight) and the facilities that already exist:

* ``"mclp"`` (maximal covering): ``k`` sites covering the most demand weight within
  ``distance_m``; demand already within ``distance_m`` of an existing facility counts as
  covered;
* ``"lscp"`` (set covering): the fewest sites so that all demand not yet covered is within
  ``distance_m``; demand no candidate can reach is reported, not made infeasible;
* ``"pmedian"``: ``k`` sites minimising total weight x distance to the nearest facility,
  new or existing.

Two engines solve them: ``"own"`` (a sparse formulation: KD-tree coverage sets, demand
with identical coverage merged, HiGHS or CBC through PuLP, HiGHS stopped hard at the time
limit) and ``"spopt"`` (``spopt.locate`` on the dense distance matrix); ``"auto"`` takes
spopt for small problems and the own engine otherwise. The formulations, the threshold and
the measured figures are in ``docs/siting.md``.
"""

from __future__ import annotations

import math
import time
from numbers import Real
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from layers.crs import metric_crs
from layers.derived import record_json
from layers.errors import N_, InputError
from layers.errors import Note as BaseNote
from layers.targeting.siting_inputs import (
    _examples,
    _unique_ids,
    check_points,
    demand_from_raster,
    demand_from_villages,
    grid_candidates,
    layer_candidates,
    village_candidates,
)
from layers.targeting.siting_models import (
    Solved,
    attribute_coverage,
    attribute_distance,
    coverage_matrix,
    greedy_cover,
    greedy_median,
    merge_rows,
    nearest,
    own_lscp,
    own_mclp,
    own_pmedian,
    spopt_solve,
)
from layers.targeting.solve import available_solvers

__all__ = [
    "AUTO_SPOPT_CELLS",
    "ENGINES",
    "MODELS",
    "SITING_NOTES",
    "SITING_SOLVERS",
    "FacilitySiting",
    "SitingNote",
    "demand_from_raster",
    "demand_from_villages",
    "grid_candidates",
    "layer_candidates",
    "village_candidates",
]

MODELS: tuple[str, ...] = ("mclp", "lscp", "pmedian")
ENGINES: tuple[str, ...] = ("auto", "own", "spopt")
SITING_SOLVERS: tuple[str, ...] = ("highs", "cbc")
#: ``engine="auto"`` uses spopt when demand points x facilities (candidates + existing) is at
#: most this. spopt builds dense matrices and one PuLP term per pair in every coverage row
#: (one variable per pair for p-median): at 200,000 pairs it took 2.0 s (MCLP), 6.4 s
#: (LSCP) and 13.5 s with 0.7 GB (p-median), against 0.1, 3.8 and 7.0 s for the own
#: engine, whose size follows the pairs within reach. At 50,000 pairs spopt stays at a few
#: seconds for every model.
AUTO_SPOPT_CELLS = 50_000

SITING_NOTES: dict[str, str] = {
    "missing_weight": N_(
        "%(count)s villages have no population or score and count with weight 0 (e.g. %(examples)s)"
    ),
    "uncoverable": N_(
        "%(weight)s of the demand weight (%(share)s) is farther than %(distance)s m from "
        "every candidate site and existing facility: no site can reach it"
    ),
    "fewer_sites": N_(
        "only %(count)s of the %(k)s sites add anything; the others would cover no "
        "demand that is not covered already"
    ),
    "lscp_k_ignored": N_("k is not used by the set covering model (it finds the number)"),
    "solver_missing": N_("solver %(asked)s is not available; %(used)s was used instead"),
    "greedy_fallback": N_(
        "no integer programming solver is available: sites were chosen greedily, which may "
        "be below the best possible choice"
    ),
    "time_limit": N_(
        "the solver stopped at the time limit of %(seconds)s s; the sites are the best found, "
        "within %(gap)s of the best possible"
    ),
    "no_solution": N_(
        "the solver found no solution within the time limit of %(seconds)s s; the sites "
        "were chosen greedily"
    ),
    "auto_engine": N_("engine %(engine)s chosen for %(cells)s demand-facility pairs"),
}


class SitingNote(BaseNote):
    """Something a siting noticed: a code of :data:`SITING_NOTES` and its parameters."""

    TEMPLATES = SITING_NOTES


def _choice(value: Any, allowed: tuple[str, ...], name: str) -> str:
    if value not in allowed:
        raise InputError(
            N_("%(name)s must be one of %(allowed)s, not %(found)r"),
            params={"name": name, "allowed": ", ".join(allowed), "found": value},
        )
    return value


def _positive(value: Any, name: str) -> float:
    ok = isinstance(value, Real) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        raise InputError(
            N_("%(name)s must be a number above 0, not %(found)r"),
            params={"name": name, "found": value},
        )
    return float(value)


def _lonlat(points: np.ndarray, crs: Any) -> tuple[np.ndarray, np.ndarray]:
    if len(points) == 0:
        return np.zeros(0), np.zeros(0)
    series = gpd.GeoSeries(gpd.points_from_xy(points[:, 0], points[:, 1]), crs=crs)
    series = series.to_crs(4326)
    return series.x.to_numpy(), series.y.to_numpy()


def _xy(layer: gpd.GeoDataFrame, crs: Any) -> np.ndarray:
    if len(layer) == 0:
        return np.zeros((0, 2))
    projected = layer.geometry.to_crs(crs)
    return np.column_stack([projected.x.to_numpy(), projected.y.to_numpy()])


class FacilitySiting:
    """Choose sites for new facilities: maximal covering, set covering or p-median.

    Parameters
    ----------
    demand : geopandas.GeoDataFrame
        Points with ``weight`` (>= 0: people or need-weighted people) and optionally
        ``kode`` (village code, text) and ``kecamatan_kode``. Any CRS.
    candidates : geopandas.GeoDataFrame
        Points with ``site_id`` (text, unique) and optionally ``kode``.
    model : str
        ``"mclp"``, ``"lscp"`` or ``"pmedian"``.
    distance_m : float, optional
        Service distance in metres (required for mclp and lscp; for pmedian it only adds
        the covered weights to the results).
    k : int, optional
        Number of new sites (required for mclp and pmedian; at most the candidates).
    existing : geopandas.GeoDataFrame, optional
        Points of the existing facilities of the type (kept open, never moved).
    engine : str
        ``"own"``, ``"spopt"`` or ``"auto"`` (spopt up to :data:`AUTO_SPOPT_CELLS`
        demand-facility pairs, else own).
    solver : str
        ``"highs"`` (default) or ``"cbc"``.
    time_limit : float
        Seconds the solve may take (model building included); HiGHS is stopped hard.
    mip_gap : float
        Relative gap at which the solver may stop (default 1e-4).

    Attributes
    ----------
    sites : pandas.DataFrame
        After :meth:`solve`: ``order``, ``site_id``, ``kode``, ``x``, ``y`` (EPSG:4326
        longitude/latitude), ``added_weight`` (weight newly covered, or weight x metres of
        distance saved for pmedian, by that site in ``order``).
    objective : float
        mclp: weight covered after (existing and new); lscp: number of new sites; pmedian:
        total weight x distance (m) to the nearest facility after.
    status, gap, solver, engine
        ``optimal`` | ``time_limit`` | ``heuristic`` | ``no_solution``; relative MIP gap
        (None when not known); the solver used (``highs``, ``cbc``, ``greedy``); the
        engine used (``own`` or ``spopt``).
    total_weight, covered_before, covered_after, uncoverable : float
        Demand weight in all, within ``distance_m`` of a facility before and after, and
        beyond ``distance_m`` of every candidate and existing facility (None without
        ``distance_m``).
    mean_distance_before, mean_distance_after : float or None
        Weighted mean distance (m) to the nearest facility (pmedian; before is None
        without existing facilities).
    demand_result : pandas.DataFrame
        Per demand point (index as given): ``covered_before``, ``covered_after``,
        ``distance_after_m``, ``site_id`` (the new site nearest to it when that is its
        nearest facility, and within ``distance_m`` when there is one; else None).
    by_kode : pandas.DataFrame
        Per demand ``kode``: ``weight``, ``covered_before``, ``covered_after`` (weights).
    seconds : dict
        ``build``, ``solve``, ``total``.
    notes : list of SitingNote

    Examples
    --------
    >>> demand = demand_from_villages(villages)  # doctest: +SKIP
    >>> siting = FacilitySiting(demand, village_candidates(villages), model="mclp",
    ...                         distance_m=2000, k=10, existing=posyandu).solve()  # doctest: +SKIP
    >>> siting.sites, siting.covered_after, siting.to_dict()  # doctest: +SKIP
    """

    def __init__(
        self,
        demand: gpd.GeoDataFrame,
        candidates: gpd.GeoDataFrame,
        *,
        model: str,
        distance_m: float | None = None,
        k: int | None = None,
        existing: gpd.GeoDataFrame | None = None,
        engine: str = "auto",
        solver: str = "highs",
        time_limit: float = 60.0,
        mip_gap: float = 1e-4,
    ) -> None:
        self.model = _choice(model, MODELS, "model")
        self.engine_asked = _choice(engine, ENGINES, "engine")
        self.solver_asked = _choice(solver, SITING_SOLVERS, "solver")
        self.time_limit = _positive(time_limit, "time_limit")
        ok = isinstance(mip_gap, Real) and not isinstance(mip_gap, bool)
        if not ok or not 0 <= mip_gap < 1:
            raise InputError(
                N_("mip_gap must be at least 0 and below 1, not %(found)r"),
                params={"found": mip_gap},
            )
        self.mip_gap = float(mip_gap)
        check_points(demand, "demand")
        check_points(candidates, "candidates")
        if existing is not None:
            check_points(existing, "existing", allow_empty=True)
        if "weight" not in demand.columns:
            raise InputError(N_("the demand points lack the column weight"), column="weight")
        weight = demand["weight"]
        if not pd.api.types.is_numeric_dtype(weight) or pd.api.types.is_bool_dtype(weight):
            raise InputError(
                N_("column %(column)s must hold numbers, not %(dtype)s"),
                column="weight",
                params={"column": "weight", "dtype": str(weight.dtype)},
            )
        values = weight.to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            rows = np.flatnonzero(bad)
            raise InputError(
                N_(
                    "weight must be a number of 0 or more; %(count)s demand points are "
                    "missing or negative (rows %(examples)s)"
                ),
                column="weight",
                row=int(rows[0]) + 1,
                params={
                    "count": int(bad.sum()),
                    "examples": ", ".join(str(i + 1) for i in rows[:5]),
                },
            )
        if "site_id" not in candidates.columns:
            raise InputError(N_("the candidates lack the column site_id"), column="site_id")
        ids = candidates["site_id"]
        if ids.isna().any() or not all(isinstance(v, str) for v in ids):
            raise InputError(N_("site_id must be text for every candidate"), column="site_id")
        _unique_ids(candidates)
        if "kode" in demand.columns:
            kode = demand["kode"]
            if not all(isinstance(v, str) for v in kode.dropna()):
                raise InputError(
                    N_("village codes (kode) must be text, with leading zeros kept"),
                    column="kode",
                )
        self.distance_m = None if distance_m is None else _positive(distance_m, "distance_m")
        if self.model in ("mclp", "lscp") and self.distance_m is None:
            raise InputError(
                N_("the model %(model)s needs distance_m (metres)"), params={"model": model}
            )
        self.notes: list[SitingNote] = []
        if self.model == "lscp":
            if k is not None:
                self.notes.append(SitingNote("lscp_k_ignored"))
            self.k = None
        else:
            if k is None:
                raise InputError(
                    N_("the model %(model)s needs k, the number of new sites"),
                    params={"model": model},
                )
            if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
                raise InputError(
                    N_("k must be a whole number of at least 1, not %(found)r"),
                    params={"found": k},
                )
            if k > len(candidates):
                raise InputError(
                    N_("k (%(k)s) is larger than the number of candidate sites (%(count)s)"),
                    params={"k": int(k), "count": len(candidates)},
                )
            self.k = int(k)
        missing = demand.attrs.get("missing_weight") or []
        if missing:
            self.notes.append(
                SitingNote(
                    "missing_weight", {"count": len(missing), "examples": _examples(missing)}
                )
            )
        self.demand, self.candidates = demand, candidates
        self.existing = existing if existing is not None and len(existing) else None
        self.crs = metric_crs(demand)
        self.sites: pd.DataFrame | None = None
        self.objective = math.nan
        self.status: str | None = None
        self.gap: float | None = None
        self.solver: str | None = None
        self.engine: str | None = None
        self.total_weight = float(values.sum())
        self.covered_before: float | None = None
        self.covered_after: float | None = None
        self.uncoverable: float | None = None
        self.mean_distance_before: float | None = None
        self.mean_distance_after: float | None = None
        self.demand_result: pd.DataFrame | None = None
        self.by_kode: pd.DataFrame | None = None
        self.seconds: dict[str, float] = {}
        self.model_size: dict[str, int] = {}
        self.merged: dict[str, int] = {}
        self._input_notes = list(self.notes)

    # --- solving ---------------------------------------------------------------------------

    def _solver(self) -> str:
        found = available_solvers()
        if self.solver_asked in found:
            return self.solver_asked
        if found:
            self.notes.append(
                SitingNote("solver_missing", {"asked": self.solver_asked, "used": found[0]})
            )
            return found[0]
        self.notes.append(SitingNote("greedy_fallback"))
        return "greedy"

    def _engine(self, n: int, m: int, e: int) -> str:
        if self.engine_asked != "auto":
            return self.engine_asked
        cells = n * (m + e)
        engine = "spopt" if cells <= AUTO_SPOPT_CELLS else "own"
        self.notes.append(SitingNote("auto_engine", {"engine": engine, "cells": cells}))
        return engine

    def solve(self) -> FacilitySiting:
        """Choose the sites and measure coverage and distances before and after; return self."""
        started = time.perf_counter()
        deadline = started + self.time_limit
        self.notes = list(self._input_notes)
        order = np.argsort(self.candidates["site_id"].to_numpy(dtype=str), kind="stable")
        cand = self.candidates.iloc[order]
        points = _xy(self.demand, self.crs)
        sites = _xy(cand, self.crs)
        existing = _xy(self.existing, self.crs) if self.existing is not None else np.zeros((0, 2))
        w = self.demand["weight"].to_numpy(dtype=float)
        n, m, e = len(points), len(sites), len(existing)
        before, _ = nearest(points, existing)
        r = self.distance_m
        solver = self._solver()
        engine = self._engine(n, m, e)
        if solver == "greedy":
            engine = "own"
        self.solver, self.engine = solver, engine

        matrix = None
        if r is not None:
            matrix = coverage_matrix(points, sites, r)
            covered0 = before <= r
            reach = covered0 | (np.diff(matrix.indptr) > 0)
            self.covered_before = float(w[covered0].sum())
            self.uncoverable = float(w[~reach].sum())
            if self.uncoverable > 0:
                share = self.uncoverable / self.total_weight if self.total_weight else 0.0
                self.notes.append(
                    SitingNote(
                        "uncoverable",
                        {
                            "weight": f"{self.uncoverable:,.0f}",
                            "share": f"{share:.1%}",
                            "distance": f"{r:,.0f}",
                        },
                    )
                )
        self.seconds["build"] = time.perf_counter() - started

        step = time.perf_counter()
        if engine == "spopt":
            solved = spopt_solve(
                self.model,
                points,
                w,
                sites,
                existing,
                k=self.k,
                radius=r,
                solver=solver,
                deadline=deadline,
                mip_gap=self.mip_gap,
            )
        else:
            solved = self._own(points, w, sites, before, matrix, solver, deadline)
        if solved.status == "no_solution":
            solved = Solved(
                self._greedy(points, w, sites, before, matrix),
                "no_solution",
                None,
                solved.rows,
                solved.columns,
            )
        self.seconds["solve"] = time.perf_counter() - step
        self.status, self.gap = solved.status, solved.gap
        self.model_size = {"rows": solved.rows, "columns": solved.columns}
        if solved.status == "time_limit":
            gap = "unknown" if solved.gap is None else f"{solved.gap:.2%}"
            self.notes.append(SitingNote("time_limit", {"seconds": self.time_limit, "gap": gap}))
        elif solved.status == "no_solution":
            self.notes.append(SitingNote("no_solution", {"seconds": self.time_limit}))
        self._results(cand, points, w, sites, existing, before, matrix, np.sort(solved.chosen))
        self.seconds["total"] = time.perf_counter() - started
        return self

    def _open_rows(self, before: np.ndarray, matrix: Any) -> np.ndarray:
        """Demand not covered by an existing facility that some candidate reaches."""
        return np.flatnonzero((before > self.distance_m) & (np.diff(matrix.indptr) > 0))

    def _own(self, points, w, sites, before, matrix, solver, deadline) -> Solved:
        if solver == "greedy":
            return Solved(self._greedy(points, w, sites, before, matrix), "heuristic", None)
        options = {"solver": solver, "deadline": deadline, "mip_gap": self.mip_gap}
        if self.model == "pmedian":
            return own_pmedian(points, w, sites, before, self.k, **options)
        rows = self._open_rows(before, matrix)
        rows = rows[w[rows] > 0]  # nobody lives there: nothing to cover
        sub = matrix[rows]
        group, first = merge_rows(sub)
        reduced = sub[first]
        if self.model == "mclp":
            weight = np.bincount(group, w[rows], minlength=first.size)
            solved = own_mclp(reduced, weight, self.k, **options)
        else:
            solved = own_lscp(reduced, **options)
        self.merged = {"demand": int(rows.size), "groups": int(first.size)}
        return solved

    def _greedy(self, points, w, sites, before, matrix) -> np.ndarray:
        if self.model == "pmedian":  # over each point's nearest candidates
            kk = min(len(sites), 32)
            d, j = cKDTree(sites).query(points, k=kk)
            rows = np.repeat(np.arange(len(points)), kk)
            d, j = d.reshape(-1), j.reshape(-1)
            return greedy_median(rows, j, d, w, before, len(sites), self.k)
        rows = self._open_rows(before, matrix)
        rows = rows[w[rows] > 0]
        weight = w[rows] if self.model == "mclp" else np.ones(rows.size)
        return greedy_cover(matrix[rows], weight, self.k)

    # --- results -------------------------------------------------------------------------

    def _results(self, cand, points, w, sites, existing, before, matrix, chosen) -> None:
        r = self.distance_m
        new_d, new_j = nearest(points, sites[chosen])
        after = np.minimum(before, new_d)
        by_new = (new_d < before) & (new_j >= 0)
        if r is not None:
            covered0 = before <= r
            covered1 = after <= r
            self.covered_after = float(w[covered1].sum())
            by_new &= new_d <= r
            rows = np.flatnonzero(~covered0)
            ordered, added = attribute_coverage(matrix[rows], w[rows], chosen)
        else:
            covered0 = covered1 = np.full(len(points), np.nan)
        if self.model == "pmedian":
            pos, added = attribute_distance(points, w, sites[chosen], before)
            ordered = chosen[pos]
            total = float(w.sum())
            self.objective = float((w * after).sum())
            self.mean_distance_after = self.objective / total if total else None
            if np.isfinite(before).all() and total:
                self.mean_distance_before = float((w * before).sum()) / total
        elif self.model == "mclp":
            self.objective = self.covered_after
        else:
            self.objective = float(chosen.size)
        if self.model in ("mclp", "pmedian") and (added > 0).sum() < self.k:
            self.notes.append(
                SitingNote("fewer_sites", {"count": int((added > 0).sum()), "k": self.k})
            )
        site_ids = cand["site_id"].to_numpy(dtype=object)
        lon, lat = _lonlat(sites[ordered], self.crs)
        kode = (
            cand["kode"].to_numpy(dtype=object)[ordered]
            if "kode" in cand.columns
            else np.full(ordered.size, None, dtype=object)
        )
        self.sites = pd.DataFrame(
            {
                "order": np.arange(1, ordered.size + 1),
                "site_id": site_ids[ordered],
                "kode": kode,
                "x": lon,
                "y": lat,
                "added_weight": added,
            }
        )
        serving = np.full(len(points), None, dtype=object)
        serving[by_new] = site_ids[chosen][new_j[by_new]]
        self.demand_result = pd.DataFrame(
            {
                "covered_before": covered0,
                "covered_after": covered1,
                "distance_after_m": after,
                "site_id": serving,
            },
            index=self.demand.index,
        )
        if "kode" in self.demand.columns:
            frame = pd.DataFrame(
                {
                    "kode": self.demand["kode"].to_numpy(dtype=object),
                    "weight": w,
                    "covered_before": np.where(covered0 == 1, w, 0.0) if r else np.nan,
                    "covered_after": np.where(covered1 == 1, w, 0.0) if r else np.nan,
                }
            )
            self.by_kode = frame.groupby("kode", sort=True, dropna=False).sum(min_count=1)
        else:
            self.by_kode = pd.DataFrame(
                columns=["weight", "covered_before", "covered_after"],
                index=pd.Index([], name="kode", dtype=object),
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe settings and results (for saving a siting as a record)."""
        if self.sites is None:
            raise ValueError("call solve() before reading the results of a FacilitySiting")

        by_kode = self.by_kode.reset_index().to_dict(orient="records")
        return record_json(
            {
                "settings": {
                    "model": self.model,
                    "distance_m": self.distance_m,
                    "k": self.k,
                    "engine": self.engine_asked,
                    "solver": self.solver_asked,
                    "time_limit": self.time_limit,
                    "mip_gap": self.mip_gap,
                    "demand_points": len(self.demand),
                    "candidates": len(self.candidates),
                    "existing": 0 if self.existing is None else len(self.existing),
                },
                "status": self.status,
                "gap": self.gap,
                "solver": self.solver,
                "engine": self.engine,
                "objective": self.objective,
                "total_weight": self.total_weight,
                "covered_before": self.covered_before,
                "covered_after": self.covered_after,
                "uncoverable": self.uncoverable,
                "mean_distance_before": self.mean_distance_before,
                "mean_distance_after": self.mean_distance_after,
                "sites": self.sites.to_dict(orient="records"),
                "by_kode": by_kode,
                "model_size": self.model_size,
                "notes": [note.to_dict() for note in self.notes],
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            }
        )
