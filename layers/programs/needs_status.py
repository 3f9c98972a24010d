"""The lifecycle of reported needs: verified, linked to a program, closed.

Each step is an entry (need, action, date, who, note, program) in the versioned derived
table ``need-status`` of the workspace: every step writes its next version, so the log
survives a re-import of the needs layer (entries are matched by the needs layer's name and
``need_id``: a workspace may hold several needs layers, such as a KoboToolbox survey and the
musrenbang list, whose ids can repeat). The
*current* status of a need is the furthest of its imported status and its lifecycle
(open < verified < in_progress < addressed < closed): verifying makes it ``verified``,
linking it to a program ``in_progress``, closing it ``closed``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from layers.errors import N_, InputError, Note, NotFoundError
from layers.programs.register import Register
from layers.schema import NEED_STATUSES
from layers.storage.base import DERIVED_KIND, Store

#: Dataset name of the lifecycle log.
DATASET = "need-status"
#: Lifecycle actions and the status each one gives.
ACTIONS: dict[str, str] = {"verified": "verified", "linked": "in_progress", "closed": "closed"}
ACTION_LABELS: dict[str, str] = {
    "verified": N_("verified"),
    "linked": N_("linked to a program"),
    "closed": N_("closed"),
}
RANK: dict[str, int] = {s: i for i, s in enumerate(NEED_STATUSES)}
COLUMNS: tuple[str, ...] = ("layer", "need_id", "action", "date", "by", "note", "program_id")
#: Needs layer of lifecycle entries recorded before entries named their layer.
DEFAULT_LAYER = "needs"
_SEP = "\x1f"  # between layer and need id in a need's key (in neither)


class NeedNote(Note):
    """What a lifecycle step did."""

    TEMPLATES: ClassVar[dict[str, str]] = {
        "verified": N_(
            "need %(need)s verified on %(date)s; its status is now %(status)s "
            "(version %(version)s of the lifecycle)"
        ),
        "linked": N_(
            "need %(need)s linked to program %(program)s on %(date)s; its status is now "
            "%(status)s (version %(version)s of the lifecycle)"
        ),
        "closed": N_(
            "need %(need)s closed on %(date)s; its status is now %(status)s "
            "(version %(version)s of the lifecycle)"
        ),
    }


def _empty() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "layer": pd.Series([], dtype="object"),
            "need_id": pd.Series([], dtype="object"),
            "action": pd.Series([], dtype="object"),
            "date": pd.Series([], dtype="datetime64[ns]"),
            "by": pd.Series([], dtype="object"),
            "note": pd.Series([], dtype="object"),
            "program_id": pd.Series([], dtype="object"),
        }
    )


def lifecycle_log(store: Store, workspace: str, version: int | None = None) -> pd.DataFrame:
    """Every lifecycle entry of the workspace (empty when none), in the order recorded.

    Entries recorded before entries named their needs layer get :data:`DEFAULT_LAYER`.
    """
    try:
        log = store.read_dataset(workspace, DATASET, version)
    except NotFoundError:
        store.get_workspace(workspace)
        if version is not None:
            raise
        return _empty()
    if "layer" not in log.columns:
        log.insert(0, "layer", pd.Series(DEFAULT_LAYER, index=log.index, dtype="object"))
    return log


def needs_layers(store: Store, workspace: str) -> list[str]:
    """Names of the workspace's needs datasets (latest versions), sorted."""
    store.get_workspace(workspace)
    return sorted(d.name for d in store.list_datasets(workspace) if d.kind == "needs")


def all_needs(store: Store, workspace: str, columns: list[str] | None = None) -> pd.DataFrame:
    """The rows of every needs layer of the workspace (no geometry), with their ``layer``.

    Empty (columns ``layer`` and ``need_id``) when the workspace has no needs layer.
    """
    frames = [
        store.read_dataset(workspace, name, columns=columns, geometry=False).assign(layer=name)
        for name in needs_layers(store, workspace)
    ]
    if not frames:
        return pd.DataFrame(
            {"layer": pd.Series([], dtype="object"), "need_id": pd.Series([], dtype="object")}
        )
    return pd.concat(frames, ignore_index=True)


def _keys(frame: pd.DataFrame) -> pd.Series:
    """Each row's need key: its layer and need id."""
    layer = (
        frame["layer"].astype("object").where(frame["layer"].notna(), DEFAULT_LAYER)
        if "layer" in frame.columns
        else pd.Series(DEFAULT_LAYER, index=frame.index, dtype="object")
    )
    return layer.astype(str) + _SEP + frame["need_id"].astype(str)


def _latest(store: Store, workspace: str) -> int:
    try:
        return store.dataset_info(workspace, DATASET).version
    except NotFoundError:
        return 0


def _as_date(value: Any, column: str) -> pd.Timestamp:
    if isinstance(value, datetime | pd.Timestamp):
        return pd.Timestamp(value).normalize().tz_localize(None)
    if isinstance(value, date):
        return pd.Timestamp(value)
    if isinstance(value, str):
        parsed = pd.to_datetime(value.strip(), errors="coerce", dayfirst=not value[:4].isdigit())
        if not pd.isna(parsed):
            return pd.Timestamp(parsed).normalize()
    raise InputError(
        N_("%(value)r is not a date; write YYYY-MM-DD or DD/MM/YYYY"),
        column=column,
        params={"value": value},
    )


def record_need_action(
    store: Store,
    workspace: str,
    need_id: str,
    action: str,
    *,
    on: date | str,
    by: str,
    note: str = "",
    program_id: str | None = None,
    layer: str | None = None,
    user: str | None = None,
) -> NeedNote:
    """Record that a need was verified, linked to a program, or closed.

    Parameters
    ----------
    store : Store
        The store.
    workspace : str
        The workspace.
    need_id : str
        A need of the workspace's latest needs layer.
    action : {"verified", "linked", "closed"}
        The step.
    on : date or str
        When it happened.
    by : str
        Who did it in the field (required; kept with the step).
    note : str
        Why or how.
    program_id : str, optional
        The program addressing the need (required for ``linked``; must be in the register).
    layer : str, optional
        The needs dataset the need is in (see :func:`needs_layers`). By default the one
        needs layer holding ``need_id``; when several hold it, the error names them.
    user : str, optional
        The account recording the step (the audit trail's actor); ``by`` when None.

    Returns
    -------
    NeedNote
        What was recorded and the need's new status.

    Raises
    ------
    InputError
        Unknown action or need, a missing program or person, a bad date.
    NotFoundError
        The workspace has no needs layer.
    """
    if action not in ACTIONS:
        raise InputError(
            N_("unknown action %(action)r; expected one of %(known)s"),
            params={"action": action, "known": ", ".join(ACTIONS)},
        )
    if not isinstance(by, str) or not by.strip():
        raise InputError(N_("say who did it (by=...)"), column="by")
    when = _as_date(on, "date")
    layers = needs_layers(store, workspace)
    if not layers:
        raise NotFoundError(
            N_("workspace %(workspace)r has no needs layer; import needs first"),
            params={"workspace": workspace},
        )
    if layer is not None and layer not in layers:
        raise InputError(
            N_("no needs layer %(layer)r; the needs layers are: %(layers)s"),
            column="layer",
            params={"layer": layer, "layers": ", ".join(layers)},
        )
    needs = all_needs(store, workspace, columns=["need_id"])
    held = sorted(set(needs.loc[needs["need_id"].astype(str) == str(need_id), "layer"]))
    if layer is not None and layer not in held:
        raise InputError(
            N_("no need %(need)r in needs layer %(layer)s"),
            column="need_id",
            params={"need": need_id, "layer": layer},
        )
    if layer is None:
        if not held:
            raise InputError(
                N_("no need %(need)r in the workspace's needs layers (%(layers)s)"),
                column="need_id",
                params={"need": need_id, "layers": ", ".join(layers)},
            )
        if len(held) > 1:
            raise InputError(
                N_("need %(need)r is in several needs layers (%(layers)s); say which (layer)"),
                column="layer",
                params={"need": need_id, "layers": ", ".join(held)},
            )
        layer = held[0]
    if action == "linked" and not program_id:
        raise InputError(
            N_("linking a need needs the program it is linked to"), column="program_id"
        )
    if program_id:
        Register.load(store, workspace).program(str(program_id))  # NotFoundError when unknown
    base = _latest(store, workspace)
    log = lifecycle_log(store, workspace)
    entry = pd.DataFrame(
        {
            "layer": [layer],
            "need_id": [str(need_id)],
            "action": [action],
            "date": pd.Series([when], dtype="datetime64[ns]"),
            "by": [by.strip()],
            "note": [note or ""],
            "program_id": [str(program_id) if program_id else None],
        }
    )
    table = pd.concat([log, entry], ignore_index=True)
    table = table.astype(
        {"layer": "object", "need_id": "object", "action": "object", "by": "object"}
    )
    n = len(table)
    report = {"counts": {"read": n, "accepted": n, "repaired": 0, "rejected": 0, "warnings": 0}}
    written = store.put_datasets(
        workspace,
        [(DERIVED_KIND, table, DATASET, report)],
        created_by=user or by.strip(),
        note=note or action,
        expected_versions={DATASET: base},
        changes={  # the step itself, for the audit trail
            DATASET: (
                None,
                {
                    f"{layer}/{need_id}": {
                        "action": action,
                        "date": when.date().isoformat(),
                        "by": by.strip(),
                        "note": note or "",
                        "program_id": str(program_id) if program_id else None,
                    }
                },
            )
        },
    )
    mine = overlay(pd.DataFrame({"layer": [layer], "need_id": [str(need_id)]}), table)
    status = mine["status"].iloc[0]
    return NeedNote(
        action,
        {
            "need": need_id,
            "program": program_id or "",
            "date": when.date().isoformat(),
            "status": status,
            "version": written[0].version,
        },
    )


def current_status(store: Store, workspace: str, needs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every need with its imported status overlaid by its lifecycle.

    Returns
    -------
    pandas.DataFrame
        The needs layers' columns (no geometry) and ``layer`` (the dataset of each need)
        plus ``status_imported``, ``status`` (the furthest of both), ``verified_on``,
        ``verified_by``, ``linked_programs`` (comma-separated), ``closed_on``,
        ``closed_by``. ``needs`` may be given instead of all the workspace's needs layers.
    """
    if needs is None:
        needs = all_needs(store, workspace)
    return overlay(needs, lifecycle_log(store, workspace))


def overlay(needs: pd.DataFrame, log: pd.DataFrame) -> pd.DataFrame:
    """Overlay the lifecycle ``log`` on the ``needs`` table (see :func:`current_status`).

    Parameters
    ----------
    needs : pandas.DataFrame
        Canonical needs with ``need_id`` and optionally ``status`` and ``layer`` (the needs
        dataset; :data:`DEFAULT_LAYER` when absent).
    log : pandas.DataFrame
        Lifecycle entries (:func:`lifecycle_log`); an entry applies to the need with its
        layer and id.
    """
    if not isinstance(needs, pd.DataFrame) or "need_id" not in needs.columns:
        raise InputError(N_("the needs table must have a need_id column"), column="need_id")
    out = pd.DataFrame(needs.drop(columns=["geometry"], errors="ignore")).copy()
    out["need_id"] = out["need_id"].astype(str)
    imported = (
        out["status"].astype("object")
        if "status" in out.columns
        else pd.Series(None, index=out.index, dtype="object")
    )
    imported = imported.where(imported.notna(), "open")
    out["status_imported"] = imported
    rank = imported.map(RANK).fillna(0).astype(int)
    ids = _keys(out).to_numpy()
    log = log.assign(_key=_keys(log))
    log = log.loc[log["_key"].isin(set(ids))]
    life_rank = log["action"].map({a: RANK[s] for a, s in ACTIONS.items()}).astype(int)
    best = life_rank.groupby(log["_key"].to_numpy()).max()
    life = best.reindex(ids).fillna(0).astype(int).to_numpy()
    rank = np.maximum(rank.to_numpy(), life)
    out["status"] = np.asarray(NEED_STATUSES, dtype=object)[rank]
    for action, prefix in (("verified", "verified"), ("closed", "closed")):
        last = log.loc[log["action"] == action].groupby("_key").last()
        out[f"{prefix}_on"] = last["date"].astype("datetime64[ns]").reindex(ids).to_numpy()
        out[f"{prefix}_by"] = last["by"].astype("object").reindex(ids).to_numpy()
    linked = log.loc[log["action"] == "linked"]
    programs = linked.groupby("_key")["program_id"].agg(
        lambda s: ", ".join(dict.fromkeys(s.dropna()))
    )
    out["linked_programs"] = programs.astype("object").reindex(ids).to_numpy()
    return out


def you_said_we_did(store: Store, workspace: str, kode: str) -> dict[str, Any]:
    """One village's reported needs, what happened to each, and the programs that address them.

    Parameters
    ----------
    store : Store
        The store.
    workspace : str
        The workspace.
    kode : str
        The village code.

    Returns
    -------
    dict
        ``kode``, ``name``, ``needs`` (each need of every needs layer, with its ``layer``,
        ``status_imported``, ``status`` and its lifecycle entries) and ``programs``
        (programs assigned to the village or linked to one of its needs, with their
        assignment there and the needs they address).

    Raises
    ------
    InputError
        The code is not a village of the workspace.
    """
    villages = store.read_dataset(workspace, "villages", geometry=False)
    match = villages.loc[villages["kode"].astype(str) == str(kode)]
    if match.empty:
        raise InputError(
            N_("unknown village code %(value)r: it is not in the workspace's villages"),
            column="kode",
            params={"value": kode},
        )
    needs = all_needs(store, workspace)
    log = lifecycle_log(store, workspace)
    mine = needs.loc[needs["kode"].astype(str) == str(kode)] if "kode" in needs else needs.iloc[:0]
    status = overlay(mine, log)
    status_keys = _keys(status)
    log = log.assign(_key=_keys(log))
    entries = log.loc[log["_key"].isin(set(status_keys))]
    reg = Register.load(store, workspace)
    assigned = reg.assignments.loc[reg.assignments["kode"] == str(kode)]
    linked_ids = set(entries["program_id"].dropna())
    ids = list(dict.fromkeys([*assigned["program_id"], *sorted(linked_ids)]))
    programs = reg.programs.set_index("program_id")
    out_needs = []
    for key, rec in zip(status_keys, status.to_dict("records"), strict=True):
        steps = entries.loc[entries["_key"] == key].drop(columns="_key")
        out_needs.append(
            {
                **{k: _plain(v) for k, v in rec.items()},
                "lifecycle": [
                    {k: _plain(v) for k, v in s.items()} for s in steps.to_dict("records")
                ],
            }
        )
    out_programs = []
    for pid in ids:
        if pid not in programs.index:
            continue
        p = programs.loc[pid]
        here = assigned.loc[assigned["program_id"] == pid]
        addresses = sorted(set(entries.loc[entries["program_id"] == pid, "need_id"]))
        out_programs.append(
            {
                "program_id": pid,
                "name": p["name"],
                "sector": p["sector"],
                "status": p["status"],
                "organisation": p["organisation"],
                "assignment": (
                    {k: _plain(v) for k, v in here.iloc[0].to_dict().items()} if len(here) else None
                ),
                "addresses": addresses,
            }
        )
    row = match.iloc[0]
    return {
        "kode": str(kode),
        "name": None if "name" not in match else _plain(row["name"]),
        "needs": out_needs,
        "programs": out_programs,
    }


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.date().isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    if value is pd.NaT or value is pd.NA:
        return None
    return value
