"""One call for the command line and the web app: service coverage and program reach."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from layers.coverage.areas import LEVELS, check_level
from layers.coverage.reach import ProgramReach, _as_timestamp, _plain
from layers.coverage.service import TABLE_COLUMNS, ServiceCoverage
from layers.derived import jsonable, table_digest
from layers.errors import N_, InputError, NotFoundError
from layers.programs.register import Register
from layers.score_run import RUNS, load_run
from layers.storage.base import Store
from layers.zonal import PopulationGrid
from layers.zonal_store import kept_zonal, zonal_names

#: Version of the service coverage method; kept tables of another version are not reused.
SERVICE_METHOD = 1
KEPT_PREFIX = "coverage-service-"


def _kept_name(inputs: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
    key = {"method": SERVICE_METHOD, "inputs": dict(inputs), "settings": dict(settings)}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    return KEPT_PREFIX + digest[:24]


def _read_kept(
    store: Store, workspace: str, name: str
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]] | None:
    try:
        notes = store.get_report(workspace, name).get("notes", {})
    except NotFoundError:
        return None
    if notes.get("method") != SERVICE_METHOD:
        return None
    table = store.read_dataset(workspace, name)
    level = table["level"].to_numpy()
    service = {}
    for lv in LEVELS:
        part = table.loc[level == lv].reset_index(drop=True)
        if lv != "village":
            part = part.drop(columns="people_source")
        service[lv] = part
    return service, notes.get("service_method", {})


def _keep(
    store: Store,
    workspace: str,
    name: str,
    service: Mapping[str, pd.DataFrame],
    method: Mapping[str, Any],
    inputs: Mapping[str, Any],
    settings: Mapping[str, Any],
) -> None:
    table = pd.concat([service[lv] for lv in LEVELS], ignore_index=True)
    for col in ("share_met", "per_1000_met"):
        table[col] = table[col].astype("boolean")
    table["people_source"] = table["people_source"].astype("object")
    for col in ("area_kode", "area", "kecamatan", "kabupaten", "type", "level"):
        table[col] = table[col].astype("object")
    notes = {
        "method": SERVICE_METHOD,
        "inputs": jsonable(dict(inputs)),
        "settings": jsonable(dict(settings)),
        "service_method": method,
    }
    store.put_dataset(
        workspace,
        "derived",
        table,
        name=name,
        source_name=f"service coverage of {inputs.get('villages')}",
        source_sha256=table_digest(table),
        report={"kind": "derived", "notes": notes},
    )


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as JSON-safe rows (NaN as None), converted in one pass."""
    return json.loads(frame.to_json(orient="records", date_format="iso", date_unit="s"))


def _latest_run(store: Store, workspace: str, profile: str | None) -> dict[str, Any] | None:
    if profile is not None:
        return load_run(store, workspace, profile)
    runs = store.list_records(workspace, RUNS)
    if not runs:
        return None
    newest = max(runs, key=lambda r: r.created_at)
    return load_run(store, workspace, newest.name, newest.version)


def coverage_table(
    store: Store,
    workspace: str,
    *,
    as_of: date | str,
    profile: str | None = None,
    standards: Mapping[str, float] | None = None,
    share_targets: Mapping[str, float] | None = None,
    per_1000_targets: Mapping[str, float] | None = None,
    register_version: int | None = None,
    keep: bool = True,
) -> dict[str, Any]:
    """Service coverage and program reach of a workspace on a date, as JSON-safe data.

    Parameters
    ----------
    store : Store
        The store.
    workspace : str
        The workspace (needs a villages layer; facilities, a ``population`` raster, a
        register and score runs are used when present).
    as_of : date or str
        The date the reach figures describe.
    profile : str, optional
        Score runs of this profile give the high-need villages (default: the most
        recent score run of any profile; none: no high-need figures).
    standards, share_targets, per_1000_targets : mapping, optional
        As for :class:`~layers.coverage.service.ServiceCoverage`.
    register_version : int, optional
        A register version (default: the latest).
    keep : bool
        Keep the service coverage in the store and reuse it: it depends only on the
        villages, facilities and raster versions and the standards and targets (not on
        ``as_of``), so it is computed once per combination and kept as a derived table
        ``coverage-service-<digest>`` (see :data:`SERVICE_METHOD`).

    Returns
    -------
    dict
        ``as_of``, ``workspace``, ``inputs`` (dataset and record references),
        ``service`` (``village``, ``kecamatan``, ``kabupaten``: the tables of
        :meth:`ServiceCoverage.table` as DataFrames; None without facilities),
        ``service_method`` and ``reach`` (:meth:`ProgramReach.to_dict`). Pass it to
        :func:`coverage_json` for JSON.

    Raises
    ------
    InputError
        A bad date or settings.
    NotFoundError
        Unknown workspace, or no villages layer.
    """
    stamp = _as_timestamp(as_of, "as_of")
    if not isinstance(store, Store):
        raise InputError(
            N_("store must be a Store, not %(type)s"), params={"type": type(store).__name__}
        )
    store.get_workspace(workspace)
    latest = {d.name: d for d in store.list_datasets(workspace)}
    villages_d = latest.get("villages")
    if villages_d is None or villages_d.kind != "villages":
        raise NotFoundError(
            N_("workspace %(workspace)r has no villages layer; import villages first"),
            params={"workspace": workspace},
        )
    table = store.read_dataset(workspace, "villages", villages_d.version, geometry=False)
    inputs: dict[str, Any] = {"villages": villages_d.ref}
    facility_sets = [d for d in latest.values() if d.kind == "facilities"]
    service = None
    method = None
    if facility_sets:
        frames = [
            store.read_dataset(workspace, d.name, d.version, columns=["type", "kode"])
            for d in facility_sets
        ]
        facilities = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        inputs["facilities"] = " + ".join(d.ref for d in facility_sets)
        raster_d = latest.get("population")
        if raster_d is not None and raster_d.kind == "raster":
            inputs["population"] = raster_d.ref
        settings = {
            "standards": None if standards is None else dict(standards),
            "share_targets": None if share_targets is None else dict(share_targets),
            "per_1000_targets": None if per_1000_targets is None else dict(per_1000_targets),
        }
        name = _kept_name(inputs, settings)
        kept = _read_kept(store, workspace, name) if keep else None
        if kept is not None:
            service, method = kept
        else:
            grid = zonal = None
            if "population" in inputs:
                grid = PopulationGrid.from_bytes(store.read_raster(workspace, "population"))
                zonal = kept_zonal(store, workspace, *zonal_names(villages_d, raster_d))
            villages = store.read_dataset(workspace, "villages", villages_d.version)
            cov = ServiceCoverage(
                villages,
                facilities,
                population=grid,
                versions=inputs,
                zonal=zonal,
                **settings,
            ).compute()
            service = {level: cov.table(level) for level in LEVELS}
            method = _json(cov.method)
            if keep:
                _keep(store, workspace, name, service, method, inputs, settings)
    register = Register.load(store, workspace, register_version)
    inputs["register"] = register.version
    run = _latest_run(store, workspace, profile)
    if run is not None:
        inputs["score_run"] = run["record"].ref
    reach = ProgramReach(register, table, run, as_of=stamp).compute()
    return {
        "as_of": stamp.date().isoformat(),
        "workspace": workspace,
        "inputs": inputs,
        "service": service,
        "service_method": method,
        "reach": reach.to_dict(),
    }


def coverage_json(
    result: Mapping[str, Any], levels: tuple[str, ...] | list[str] | None = None
) -> dict[str, Any]:
    """:func:`coverage_table`'s result as JSON-safe data.

    Parameters
    ----------
    result : dict
        What :func:`coverage_table` returned.
    levels : sequence of str, optional
        Service levels to include (default: all three; the village level of a national
        workspace has a row per village and facility type).
    """
    wanted = LEVELS if levels is None else tuple(levels)
    for level in wanted:
        if level not in LEVELS:
            raise InputError(
                N_("unknown level %(level)r; expected one of %(levels)s"),
                params={"level": level, "levels": ", ".join(LEVELS)},
            )
    service = result.get("service")
    out = {k: v for k, v in result.items() if k != "service"}
    out["service"] = (
        None if service is None else {level: records(service[level]) for level in wanted}
    )
    return out


def _json(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_json(v) for v in value.tolist()]
    return _plain(value)


#: Columns of a coverage table download: the service table's, with the village level's
#: ``people_source`` after ``people``.
EXPORT_COLUMNS: tuple[str, ...] = (
    *TABLE_COLUMNS[: TABLE_COLUMNS.index("people") + 1],
    "people_source",
    *TABLE_COLUMNS[TABLE_COLUMNS.index("people") + 1 :],
)


def coverage_frame(result: Mapping[str, Any], level: str) -> pd.DataFrame:
    """The service table of one level of a :func:`coverage_table` result, in the columns
    of :data:`EXPORT_COLUMNS` (empty without facilities), for a file."""
    check_level(level)
    service = result.get("service")
    if service is None:
        return pd.DataFrame(columns=list(EXPORT_COLUMNS))
    return service[level].reindex(columns=list(EXPORT_COLUMNS))


def method_rows(result: Mapping[str, Any], translate: Callable[[str], str]) -> list[list[str]]:
    """The method of a coverage result as (item, value, basis) rows, in the user's language."""
    method = result.get("service_method") or {}
    rows: list[list[str]] = [[translate(N_("date of the figures")), str(result["as_of"]), ""]]
    for key, ref in result.get("inputs", {}).items():
        rows.append([translate(N_("data: %(name)s")) % {"name": key}, str(ref), ""])
    basis = method.get("standard_basis", {})
    for ftype, metres in method.get("standards_m", {}).items():
        rows.append(
            [
                translate(N_("standard distance of %(type)s (m)")) % {"type": ftype},
                f"{metres:g}",
                str(basis.get(ftype, "")),
            ]
        )
    target_basis = method.get("target_basis", {})
    for ftype, share in method.get("share_targets", {}).items():
        rows.append(
            [
                translate(N_("target share within the standard distance, %(type)s"))
                % {"type": ftype},
                f"{share * 100:g} %",
                str(target_basis.get("share", "")),
            ]
        )
    for ftype, per in method.get("per_1000_targets", {}).items():
        rows.append(
            [
                translate(N_("target %(type)s per 1,000 people")) % {"type": ftype},
                f"{per:.4g}",
                str(target_basis.get(f"{ftype}_per_1000", "")),
            ]
        )
    for part in ("distance", "population"):
        info = method.get(part) or {}
        text = info.get("method") or info.get("rule")
        if text:
            rows.append(
                [translate(N_("how %(part)s was measured")) % {"part": part}, str(text), ""]
            )
    return rows
