"""Scenarios: a named, saved placement or siting run that a meeting can compare and export.

A scenario is a versioned record in the ``scenarios`` collection of a workspace, named by
a slug. Its body holds what was asked (``kind``, ``profile``, ``settings``), what was read
(``inputs``: the dataset versions and the score run), the full result
(:meth:`ProgramPlacement.to_dict` or :meth:`FacilitySiting.to_dict`) and a ``summary``
with the same keys for both kinds, so that scenarios of either kind compare side by side.
Saving under a name again makes a new version; earlier versions stay readable.

The design is in ``docs/scenarios.md``.
"""

from __future__ import annotations

import math
import re
import time
from typing import Any

import numpy as np
import pandas as pd

from layers.derived import record_json
from layers.errors import N_, InputError, NotFoundError
from layers.errors import Note as BaseNote
from layers.mapdata.cache import RunData, latest_run, run_villages, village_frame
from layers.storage import Store
from layers.targeting.placement import ProgramPlacement
from layers.targeting.rules import Rules
from layers.targeting.scenario_inputs import (
    KODE_PATTERN,
    MAX_GRID_CANDIDATES,
    placement_settings,
    placement_table,
    siting_settings,
    table_for_run,
)

__all__ = [
    "COLLECTION",
    "KINDS",
    "NOTES",
    "SUMMARY_KEYS",
    "check_scenario_name",
    "compare_scenarios",
    "delete_scenario",
    "list_scenarios",
    "load_scenario",
    "placement_table",
    "run_scenario",
]

#: Record collection of scenarios.
COLLECTION = "scenarios"
#: Kinds of scenario.
KINDS = ("placement", "siting")
#: A scenario name: 1-64 lowercase letters, digits and "-", starting and ending with a
#: letter or digit.
NAME_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
#: Keys of a scenario's summary (the same for both kinds).
SUMMARY_KEYS = (
    "villages_selected",
    "villages",
    "people_reached",
    "people_in_need_reached",
    "new_sites",
    "cost",
    "budget",
    "budget_share",
    "by_kecamatan",
    "status",
    "gap",
    "solver",
    "notes",
)
#: Summary numbers listed and compared side by side.
HEADLINE_KEYS = (
    "villages_selected",
    "people_reached",
    "people_in_need_reached",
    "new_sites",
    "cost",
    "budget",
    "budget_share",
    "status",
    "gap",
    "solver",
)

NOTES: dict[str, str] = {
    "no_population": N_(
        "%(count)s villages have no population and were left out of the demand (e.g. %(examples)s)"
    ),
    "no_existing": N_(
        "the facilities layers have no %(type)s: every site of this type is new to the model"
    ),
}


class Note(BaseNote):
    """Something a scenario noticed while building its inputs."""

    TEMPLATES = NOTES


# --- names and records -----------------------------------------------------------------------

#: Names a scenario cannot have: they are addresses of the scenario pages
#: (``.../scenarios/compare``).
RESERVED_NAMES = frozenset({"compare"})


def check_scenario_name(name: object) -> str:
    """``name`` when it can name a scenario, else :class:`InputError` saying why."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InputError(
            N_(
                "%(value)r is not a scenario name: use 1 to 64 lowercase letters, digits and "
                "'-' (for example 'posyandu-2025' or 'budget-2m')"
            ),
            params={"value": name, "setting": "name"},
        )
    if name in RESERVED_NAMES:
        raise InputError(
            N_("%(value)r is part of the scenario pages' addresses; choose another name"),
            params={"value": name, "setting": "name"},
        )
    return name


def _not_found(store: Store, ws: str, name: object) -> NotFoundError:
    known = ", ".join(r.name for r in store.list_records(ws, COLLECTION))
    if known:
        return NotFoundError(
            N_("no scenario %(name)r in workspace %(workspace)s; scenarios: %(known)s"),
            params={"name": name, "workspace": ws, "known": known},
        )
    return NotFoundError(
        N_("no scenario %(name)r in workspace %(workspace)s: it has no scenarios yet"),
        params={"name": name, "workspace": ws},
    )


def _with_version(record: Any) -> dict[str, Any]:
    body = dict(record.body)
    body["version"] = record.version
    body["created_at"] = record.created_at.isoformat()
    body["ref"] = record.ref
    return body


def _check_expected(store: Store, ws: str, name: str, expected: int | None) -> None:
    """Refuse a save based on an old version before solving (the store checks again)."""
    if expected is None:
        return
    from layers.storage.records import _conflict

    try:
        latest = store.get_record(ws, COLLECTION, name)
    except NotFoundError:
        latest = None
    version = 0 if latest is None else latest.version
    if isinstance(expected, int) and not isinstance(expected, bool) and expected != version:
        if latest is None and expected == 0:
            return
        raise _conflict(ws, COLLECTION, name, expected, latest)


# --- running ---------------------------------------------------------------------------------


def run_scenario(
    store: Store,
    ws: str,
    name: str,
    *,
    kind: str,
    profile: str,
    settings: dict[str, Any],
    title: str | None = None,
    author: str | None = None,
    note: str = "",
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Build a scenario's inputs from the store, run it, save it; return the saved body.

    Parameters
    ----------
    store : Store
        The store.
    ws : str
        Workspace name.
    name : str
        Scenario name (a slug: lowercase letters, digits, ``-``). Saving under a name
        that exists makes its next version.
    kind : str
        ``"placement"`` (which villages get a program:
        :class:`~layers.targeting.ProgramPlacement`) or ``"siting"`` (where new
        facilities go: :class:`~layers.targeting.siting.FacilitySiting`).
    profile : str
        Scoring profile; the latest score run of it is used (computed and saved when
        there is none).
    settings : dict
        Placement: ``benefit``, ``cost``, ``budget``, ``top_n``, ``rules`` (a dict of
        :class:`~layers.targeting.Rules` fields), ``add``, ``remove``, ``time_limit``,
        ``solver`` (see :func:`~layers.targeting.scenario_inputs.placement_settings`).
        Siting: ``model``, ``facility_type``, ``distance_m``, ``k``, ``candidates``,
        ``demand``, ``weight_by_score``, ``time_limit``, ``engine``, ``solver`` (see
        :func:`~layers.targeting.scenario_inputs.siting_settings`).
    title : str, optional
        Human title (default: the name).
    author : str, optional
        Who ran it.
    note : str
        Why (kept with the version).
    expected_version : int, optional
        The version this run replaces (0: the name must be new); refused with
        :class:`~layers.storage.ConflictError` when someone saved another version since.

    Returns
    -------
    dict
        The saved body (``name``, ``title``, ``kind``, ``profile``, ``inputs``,
        ``settings`` as checked with defaults filled in, ``result``, ``summary``,
        ``author``, ``note``) plus ``version``, ``created_at`` (ISO text) and ``ref``.

    Raises
    ------
    InputError
        A bad name, kind or setting (the message and ``params["setting"]`` name it), or
        rules that cannot hold together. Nothing is saved.
    NotFoundError
        Unknown workspace or profile.
    ConflictError
        ``expected_version`` is not the latest version.
    """
    started = time.perf_counter()
    name = check_scenario_name(name)
    if kind not in KINDS:
        raise InputError(
            N_("setting %(setting)s must be one of %(allowed)s, not %(found)r"),
            params={"setting": "kind", "allowed": ", ".join(KINDS), "found": kind},
        )
    if title is not None and not isinstance(title, str):
        raise InputError(
            N_("the title must be text, not %(found)r"), params={"found": title, "setting": "title"}
        )
    if author is not None and not isinstance(author, str):
        raise InputError(
            N_("the author must be text, not %(found)r"),
            params={"found": author, "setting": "author"},
        )
    if not isinstance(note, str):
        raise InputError(
            N_("the note must be text, not %(found)r"), params={"found": note, "setting": "note"}
        )
    store.get_workspace(ws)
    _check_expected(store, ws, name, expected_version)
    run = latest_run(store, ws, profile)
    table = table_for_run(store, ws, run)
    inputs = {**dict(run.inputs), "score_run": run.ref}
    if kind == "placement":
        checked, result, summary = _run_placement(table, settings)
    else:
        checked, result, summary, used = _run_siting(store, ws, run, table, settings)
        inputs.update(used)
    body = record_json(
        {
            "name": name,
            "title": (title or "").strip() or name,
            "kind": kind,
            "profile": profile,
            "inputs": inputs,
            "settings": checked,
            "result": result,
            "summary": summary,
            "author": author,
            "note": note,
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
    record = store.put_record(
        ws,
        COLLECTION,
        name,
        body,
        created_by=author,
        note=note,
        expected_version=expected_version,
    )
    return _with_version(record)


def _kecamatan_names(table: pd.DataFrame) -> pd.Series:
    named = table[["kecamatan_kode", "kecamatan"]].dropna(subset=["kecamatan_kode"])
    return named.groupby("kecamatan_kode", sort=True)["kecamatan"].first()


def _by_kecamatan(
    table: pd.DataFrame,
    selected_kode: pd.Series,
    reached: pd.Series,
    cost: pd.Series | None,
) -> list[dict[str, Any]]:
    """Per kecamatan of the table: ``selected`` count, ``people_reached`` and ``cost``.

    ``selected_kode``: one code per selected village or site (a village may repeat);
    ``reached``: people reached by village code; ``cost``: cost by selected village code.
    """
    kec = table["kecamatan_kode"]
    names = _kecamatan_names(table)
    index = pd.Index(sorted(kec.dropna().unique()), name="kecamatan_kode", dtype=object)
    selected = kec.reindex(selected_kode.to_numpy()).value_counts().reindex(index, fill_value=0)
    people = reached.groupby(kec.reindex(reached.index).to_numpy()).sum()
    people = people.reindex(index, fill_value=0.0)
    frame = pd.DataFrame(
        {
            "kecamatan_kode": index.to_numpy(dtype=object),
            "kecamatan": names.reindex(index).to_numpy(dtype=object),
            "selected": selected.to_numpy(dtype=int),
            "people_reached": people.to_numpy(dtype=float),
        }
    )
    if cost is None:
        frame["cost"] = None
    else:
        spent = cost.groupby(kec.reindex(cost.index).to_numpy()).sum()
        frame["cost"] = spent.reindex(index, fill_value=0.0).to_numpy(dtype=float)
    frame["kecamatan"] = frame["kecamatan"].where(frame["kecamatan"].notna(), None)
    return frame.to_dict(orient="records")


def _run_placement(
    table: pd.DataFrame, settings: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    checked = placement_settings(settings, table.index)
    rules = Rules(
        **{
            k: frozenset(v) if k in ("exclude", "must_include") else v
            for k, v in checked["rules"].items()
        }
    )
    plan = ProgramPlacement(
        table,
        benefit=checked["benefit"],
        cost=checked["cost"],
        budget=checked["budget"],
        top_n=checked["top_n"],
        rules=rules,
        add=checked["add"],
        remove=checked["remove"],
        time_limit=checked["time_limit"],
        solver=checked["solver"],
    ).solve()
    result = plan.to_dict()
    selected = plan.selected
    kode = selected["kode"].astype(object)
    people = table["population"].reindex(kode.to_numpy()).fillna(0.0)
    need = table["people_in_need"].reindex(kode.to_numpy()).fillna(0.0)
    cost = pd.Series(selected["cost"].to_numpy(dtype=float), index=kode.to_numpy())
    has_cost = checked["cost"] is not None
    summary = {
        "villages_selected": len(selected),
        "villages": kode.tolist(),
        "people_reached": float(people.sum()),
        "people_in_need_reached": float(need.sum()),
        "new_sites": None,
        "cost": plan.cost_total if has_cost else None,
        "budget": plan.budget,
        "budget_share": plan.budget_share,
        "by_kecamatan": _by_kecamatan(table, kode, people, cost if has_cost else None),
        "status": plan.status,
        "gap": plan.gap,
        "solver": plan.solver,
        "notes": [],
    }
    return checked, result, summary


# --- siting ----------------------------------------------------------------------------------


def _examples(kode: Any, show: int = 5) -> str:
    kode = sorted(str(k) for k in kode)
    more = f" (+{len(kode) - show})" if len(kode) > show else ""
    return ", ".join(kode[:show]) + more


def _dataset_kinds(store: Store, ws: str, refs: dict[str, str]) -> dict[str, tuple[str, int]]:
    """Dataset kind and version of each input reference ``"ws/name@v"``, by name."""
    out = {}
    for name, ref in refs.items():
        if "@" not in ref or name == "score_run":
            continue
        for part in ref.split(" + "):
            dataset, version = part.split("/", 1)[1].rsplit("@", 1)
            info = store.dataset_info(ws, dataset, int(version))
            out[f"{dataset}@{version}"] = (info.kind, int(version))
    return out


def _assign_kode(points: Any, villages: Any) -> np.ndarray:
    """Code of the village each point lies in (None outside every village)."""
    out = np.full(len(points), None, dtype=object)
    point_idx, village_idx = villages.sindex.query(points.geometry.to_numpy(), predicate="within")
    kode = villages["kode"].to_numpy(dtype=object)
    # a point on a shared border lies in neither; the first village found keeps a point
    order = np.argsort(point_idx, kind="stable")
    point_idx, village_idx = point_idx[order], village_idx[order]
    first = np.unique(point_idx, return_index=True)[1]
    out[point_idx[first]] = kode[village_idx[first]]
    return out


#: Id column of each point layer kind that can give candidate sites.
CANDIDATE_ID_COLUMNS = {"facilities": "facility_id", "needs": "need_id"}


def _layer_candidates(store: Store, ws: str, name: str) -> tuple[Any, str]:
    """Candidate sites from the latest version of a point dataset, and its reference."""
    from layers.targeting.siting import layer_candidates

    info = store.dataset_info(ws, name)  # NotFoundError names the workspace's datasets
    if info.kind not in CANDIDATE_ID_COLUMNS:
        raise InputError(
            N_(
                "setting %(setting)s: dataset %(dataset)s holds %(kind)s; candidate sites "
                "come from a facilities or needs dataset"
            ),
            params={"setting": "candidates", "dataset": name, "kind": info.kind},
        )
    column = CANDIDATE_ID_COLUMNS[info.kind]
    points = store.read_dataset(ws, name, info.version, columns=[column, "kode"])
    points = points[~(points.geometry.isna() | points.geometry.is_empty)]
    if len(points) == 0:
        raise InputError(
            N_("setting %(setting)s: dataset %(dataset)s has no points to place sites at"),
            params={"setting": "candidates", "dataset": name},
        )
    return layer_candidates(points.reset_index(drop=True), column), info.ref


def _run_siting(
    store: Store, ws: str, run: RunData, table: pd.DataFrame, settings: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, str]]:
    import geopandas as gpd

    from layers.crs import metric_crs
    from layers.indicators import DEFAULT_STANDARDS_M
    from layers.targeting.siting import (
        FacilitySiting,
        demand_from_raster,
        demand_from_villages,
        grid_candidates,
        village_candidates,
    )

    standards = run.settings.get("standards_m") or DEFAULT_STANDARDS_M
    checked = siting_settings(settings, standards)
    notes: list[Note] = []
    frame = run_villages(store, ws, run).frame
    villages = gpd.GeoDataFrame(
        {
            "kode": frame["kode"].to_numpy(dtype=object),
            "kecamatan_kode": table["kecamatan_kode"]
            .reindex(frame["kode"].to_numpy())
            .to_numpy(dtype=object),
            "population": table["population"].reindex(frame["kode"].to_numpy()).to_numpy(),
        },
        geometry=frame.geometry.to_numpy(),
        crs=frame.crs,
    )
    villages = villages[villages["kode"].isin(table.index)].reset_index(drop=True)
    kinds = _dataset_kinds(store, ws, run.inputs)
    used: dict[str, str] = {}

    if checked["demand"] == "raster":
        rasters = [(ref, v) for ref, (kind, v) in kinds.items() if kind == "raster"]
        if not rasters:
            raise InputError(
                N_(
                    "setting %(setting)s is raster, but the score run %(run)s read no "
                    "population raster; import one or use demand villages"
                ),
                params={"setting": "demand", "run": run.ref},
            )
        ref, version = rasters[0]
        data = store.read_raster(ws, ref.rsplit("@", 1)[0], version)
        demand = demand_from_raster(villages, data)
        used["demand_raster"] = f"{ws}/{ref}"
    else:
        unknown = villages["population"].isna().to_numpy()
        if unknown.any():
            params = {
                "count": int(unknown.sum()),
                "examples": _examples(villages["kode"][unknown]),
            }
            notes.append(Note("no_population", params))
        demand = demand_from_villages(villages[~unknown].reset_index(drop=True))
    demand = demand.copy()
    demand["people"] = demand["weight"].to_numpy(dtype=float)
    if "kode" not in demand.columns:
        demand["kode"] = _assign_kode(demand, villages)
    score = table["score"].reindex(demand["kode"].to_numpy()).to_numpy(dtype=float)
    need_share = np.nan_to_num(score / 100.0, nan=0.0)
    if checked["weight_by_score"]:
        demand["weight"] = demand["people"].to_numpy() * need_share

    candidates_spec = checked["candidates"]
    if candidates_spec.startswith("grid:"):
        spacing = float(candidates_spec[5:])
        area = float(villages.to_crs(metric_crs(villages)).area.sum())
        if area / spacing**2 > MAX_GRID_CANDIDATES:
            least = math.ceil(math.sqrt(area / MAX_GRID_CANDIDATES))
            raise InputError(
                N_(
                    "setting %(setting)s: a grid every %(spacing)s m gives about %(count)s "
                    "candidate sites, more than %(most)s; use a spacing of at least %(least)s m"
                ),
                params={
                    "setting": "candidates",
                    "spacing": f"{spacing:g}",
                    "count": int(area / spacing**2),
                    "most": MAX_GRID_CANDIDATES,
                    "least": least,
                },
            )
        candidates = grid_candidates(villages, spacing)
    elif candidates_spec.startswith("layer:"):
        candidates, used["candidates_layer"] = _layer_candidates(store, ws, candidates_spec[6:])
    else:
        candidates = village_candidates(villages)
    candidates = candidates.copy()
    if "kode" not in candidates.columns or candidates["kode"].isna().any():
        found = _assign_kode(candidates.to_crs(villages.crs), villages)
        if "kode" in candidates.columns:
            found = np.where(candidates["kode"].isna(), found, candidates["kode"])
        candidates["kode"] = found

    if checked["k"] is not None and checked["k"] > len(candidates):
        raise InputError(
            N_("setting %(setting)s: %(k)s sites asked, but there are only %(count)s candidates"),
            params={"setting": "k", "k": checked["k"], "count": len(candidates)},
        )
    existing = []
    for ref, (kind, version) in sorted(kinds.items()):
        if kind != "facilities":
            continue
        layer = store.read_dataset(ws, ref.rsplit("@", 1)[0], version, columns=["type"])
        keep = (layer["type"].astype(str) == checked["facility_type"]).to_numpy() & ~(
            layer.geometry.is_empty | layer.geometry.isna()
        ).to_numpy()
        if keep.any():
            existing.append(layer.loc[keep, ["geometry"]])
        used.setdefault("existing_facilities", "")
        used["existing_facilities"] = " + ".join(
            p for p in (used["existing_facilities"], f"{ws}/{ref}") if p
        )
    fixed = None
    if existing:
        fixed = gpd.GeoDataFrame(pd.concat(existing, ignore_index=True), crs=existing[0].crs)
    else:
        notes.append(Note("no_existing", {"type": checked["facility_type"]}))

    siting = FacilitySiting(
        demand,
        candidates,
        model=checked["model"],
        distance_m=checked["distance_m"],
        k=checked["k"],
        existing=fixed,
        engine=checked["engine"],
        solver=checked["solver"],
        time_limit=checked["time_limit"],
    ).solve()
    result = siting.to_dict()
    sites = siting.sites
    if "kode" not in sites.columns or sites["kode"].isna().any():
        by_site = pd.Series(candidates["kode"].to_numpy(), index=candidates["site_id"].astype(str))
        found = by_site.reindex(sites["site_id"].astype(str)).to_numpy(dtype=object)
        siting.sites = sites.assign(
            kode=found
            if "kode" not in sites.columns
            else sites["kode"].where(sites["kode"].notna(), found)
        )
    summary, per_site = _siting_summary(table, demand, siting, checked, need_share)
    summary["notes"] = [n.to_dict() for n in notes]
    kode_of = dict(zip(siting.sites["site_id"].astype(str), siting.sites["kode"], strict=True))
    for site in result.get("sites") or []:
        if isinstance(site, dict) and "site_id" in site:
            site["people_reached"] = float(per_site.get(str(site["site_id"]), 0.0))
            if site.get("kode") is None:
                site["kode"] = kode_of.get(str(site["site_id"]))
    return checked, result, summary, used


def _siting_summary(
    table: pd.DataFrame,
    demand: pd.DataFrame,
    siting: Any,
    checked: dict[str, Any],
    need_share: np.ndarray,
) -> tuple[dict[str, Any], pd.Series]:
    """The summary of a siting (villages of the new sites, people newly reached) and the
    people each new site newly reaches, by site id."""
    sites = siting.sites
    site_ids = set(sites["site_id"].astype(str))
    result = siting.demand_result.reindex(demand.index)
    if checked["distance_m"] is None:  # p-median of a type without a reach
        served = result["site_id"]
        reached = served.notna().to_numpy() & served.astype(str).isin(site_ids).to_numpy()
    else:
        before = result["covered_before"].fillna(False).to_numpy(dtype=bool)
        after = result["covered_after"].fillna(False).to_numpy(dtype=bool)
        reached = after & ~before
    people = demand["people"].to_numpy(dtype=float)
    kode = demand["kode"].to_numpy(dtype=object)
    reached_people = pd.Series(np.where(reached, people, 0.0), index=kode)
    reached_people = reached_people[pd.notna(reached_people.index)]
    by_kode = reached_people.groupby(level=0).sum()
    served = result["site_id"].astype(object).where(result["site_id"].notna(), None)
    per_site = pd.Series(np.where(reached, people, 0.0)).groupby(served.astype(str).to_numpy())
    per_site = per_site.sum()
    site_kode = sites["kode"].dropna().astype(object)
    villages = sorted(dict.fromkeys(site_kode.tolist()))
    summary = {
        "villages_selected": len(villages),
        "villages": villages,
        "people_reached": float((people * reached).sum()),
        "people_in_need_reached": float((people * need_share * reached).sum()),
        "new_sites": len(sites),
        "cost": None,
        "budget": None,
        "budget_share": None,
        "by_kecamatan": _by_kecamatan(table, site_kode, by_kode, None),
        "status": siting.status,
        "gap": siting.gap,
        "solver": siting.solver,
        "notes": [],
    }
    return summary, per_site


# --- reading ---------------------------------------------------------------------------------


def load_scenario(store: Store, ws: str, name: str, version: int | None = None) -> dict[str, Any]:
    """A saved scenario: its body plus ``version``, ``created_at`` and ``ref``.

    Raises
    ------
    NotFoundError
        Unknown workspace, scenario or version.
    """
    store.get_workspace(ws)
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise _not_found(store, ws, name)
    if version is not None:
        return _with_version(store.get_record(ws, COLLECTION, name, version))
    try:
        return _with_version(store.get_record(ws, COLLECTION, name))
    except NotFoundError:
        raise _not_found(store, ws, name) from None


def list_scenarios(store: Store, ws: str) -> list[dict[str, Any]]:
    """The saved scenarios of a workspace, newest first.

    Returns
    -------
    list of dict
        Per scenario (its latest version): ``name``, ``title``, ``kind``, ``profile``,
        ``version``, ``author``, ``created_at`` (ISO text) and the headline numbers of its
        summary: ``villages_selected``, ``people_reached``, ``people_in_need_reached``,
        ``new_sites``, ``cost``, ``budget``, ``budget_share``, ``status``, ``gap``,
        ``solver``.
    """
    out = []
    for record in store.list_records(ws, COLLECTION):
        body = record.body
        summary = body.get("summary") or {}
        out.append(
            {
                "name": record.name,
                "title": body.get("title") or record.name,
                "kind": body.get("kind"),
                "profile": body.get("profile"),
                "version": record.version,
                "author": body.get("author"),
                "created_at": record.created_at.isoformat(),
                **{k: summary.get(k) for k in HEADLINE_KEYS},
            }
        )
    out.sort(key=lambda s: (s["created_at"], s["name"]), reverse=True)
    return out


def delete_scenario(store: Store, ws: str, name: str, *, deleted_by: str | None = None) -> None:
    """Delete every version of a scenario (``deleted_by`` is kept in the audit trail).

    Raises
    ------
    NotFoundError
        Unknown workspace or scenario.
    """
    load_scenario(store, ws, name)  # NotFoundError naming the scenarios there are
    store.delete_record(ws, COLLECTION, name, deleted_by=deleted_by)


def village_names(store: Store, ws: str, scenarios: list[dict[str, Any]]) -> pd.DataFrame:
    """``name``, ``kecamatan_kode`` and ``kecamatan`` by code, from the villages the
    scenarios read (the first scenario's villages first)."""
    parts = []
    for ref in dict.fromkeys((s.get("inputs") or {}).get("villages") for s in scenarios):
        if not ref:
            continue
        dataset, version = ref.split("/", 1)[1].rsplit("@", 1)
        try:
            info = store.dataset_info(ws, dataset, int(version))
        except NotFoundError:
            continue  # that version was deleted with its workspace's history
        frame = village_frame(store, ws, ref, info.created_at).frame
        columns = [c for c in ("kode", "name", "kecamatan_kode", "kecamatan") if c in frame]
        parts.append(frame.loc[:, columns].drop(columns=[], errors="ignore"))
    if not parts:
        return pd.DataFrame(columns=["name", "kecamatan_kode", "kecamatan"]).rename_axis("kode")
    joined = pd.concat(parts, ignore_index=True).drop_duplicates("kode", keep="first")
    joined = joined.set_index("kode")
    for column in ("name", "kecamatan_kode", "kecamatan"):
        if column not in joined:
            joined[column] = None
    kode = joined.index.to_numpy(dtype=object)
    derived = [k[:8] if isinstance(k, str) and KODE_PATTERN.match(k) else None for k in kode]
    joined["kecamatan_kode"] = joined["kecamatan_kode"].where(
        joined["kecamatan_kode"].notna(), pd.Series(derived, index=joined.index, dtype=object)
    )
    return joined[["name", "kecamatan_kode", "kecamatan"]]


def _text(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def compare_scenarios(store: Store, ws: str, names: list[str]) -> dict[str, Any]:
    """Saved scenarios side by side: headline numbers, kecamatan counts, differences.

    Parameters
    ----------
    store : Store
        The store.
    ws : str
        Workspace name.
    names : list of str
        At least two scenario names (each read at its latest version), in the order to
        show them.

    Returns
    -------
    dict
        ``scenarios``: per name (in order) ``name``, ``title``, ``kind``, ``profile``,
        ``version`` and the headline numbers of its summary (see
        :func:`list_scenarios`). ``kecamatan``: one row per kecamatan any scenario
        touches: ``kecamatan_kode``, ``kecamatan``, ``selected`` and ``people_reached``
        (each a dict by scenario name). ``differences``: the villages selected by some
        but not all scenarios, by code: ``kode``, ``name``, ``kecamatan_kode``,
        ``kecamatan`` and ``in`` (the names that select it, in the given order).
        ``same``: how many villages every scenario selects.

    Raises
    ------
    InputError
        Fewer than two names, or a name given twice.
    NotFoundError
        An unknown scenario.
    """
    if isinstance(names, str) or not isinstance(names, list | tuple) or len(names) < 2:
        raise InputError(
            N_("compare at least two scenarios, not %(found)r"),
            params={"found": names, "setting": "name"},
        )
    repeated = sorted({n for n in names if list(names).count(n) > 1})
    if repeated:
        raise InputError(
            N_("scenarios named more than once: %(names)s"),
            params={"names": ", ".join(map(str, repeated)), "setting": "name"},
        )
    loaded = [load_scenario(store, ws, n) for n in names]
    rows = []
    for s in loaded:
        summary = s.get("summary") or {}
        rows.append(
            {
                "name": s["name"],
                "title": s.get("title") or s["name"],
                "kind": s.get("kind"),
                "profile": s.get("profile"),
                "version": s["version"],
                **{k: summary.get(k) for k in HEADLINE_KEYS},
            }
        )

    kecamatan: dict[str, dict[str, Any]] = {}
    for s in loaded:
        for row in (s.get("summary") or {}).get("by_kecamatan") or []:
            if not row.get("selected") and not row.get("people_reached"):
                continue
            entry = kecamatan.setdefault(
                row["kecamatan_kode"],
                {
                    "kecamatan_kode": row["kecamatan_kode"],
                    "kecamatan": row.get("kecamatan"),
                    "selected": {n: 0 for n in names},
                    "people_reached": {n: 0.0 for n in names},
                },
            )
            entry["kecamatan"] = entry["kecamatan"] or row.get("kecamatan")
            entry["selected"][s["name"]] = int(row.get("selected") or 0)
            entry["people_reached"][s["name"]] = float(row.get("people_reached") or 0.0)

    chosen = {s["name"]: set((s.get("summary") or {}).get("villages") or []) for s in loaded}
    every = set.intersection(*chosen.values())
    some = sorted(set.union(*chosen.values()) - every)
    lookup = village_names(store, ws, loaded).reindex(some)
    differences = [
        {
            "kode": kode,
            "name": _text(lookup.at[kode, "name"]),
            "kecamatan_kode": _text(lookup.at[kode, "kecamatan_kode"]),
            "kecamatan": _text(lookup.at[kode, "kecamatan"]),
            "in": [n for n in names if kode in chosen[n]],
        }
        for kode in some
    ]
    return record_json(
        {
            "scenarios": rows,
            "kecamatan": [kecamatan[k] for k in sorted(kecamatan)],
            "differences": differences,
            "same": len(every),
        }
    )


# --- export (in scenario_export.py) -----------------------------------------------------------


def __getattr__(name: str) -> Any:
    """``export_scenario`` and ``scenario_villages`` of :mod:`layers.targeting.scenario_export`.

    Offered here too, loaded on first use (that module imports this one).
    """
    if name in ("export_scenario", "scenario_villages"):
        from layers.targeting import scenario_export

        return getattr(scenario_export, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
