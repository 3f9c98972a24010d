"""Editing the program register and the needs lifecycle from the web, without Flask.

Each function checks a request body (a JSON object), calls the core once
(:class:`layers.programs.Register`, :func:`layers.programs.assign_from_scenario`,
:func:`layers.programs.assign_villages`,
:func:`layers.programs.needs_status.record_need_action`) and returns JSON-safe data. Every
edit names the version it was based on (``base_version``: the register version, or the
needs lifecycle version, the page showed): an edit touching a row that changed since is
refused with :class:`~layers.errors.ConflictError`, and :func:`conflict_details` gives the
other person's change to show. :func:`program_change` compares a program's villages with
the others between two score runs (:func:`layers.coverage.before_after`); the
``geoapp programs change`` command prints the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from geoapp.views.coverage_data import _plain
from layers.errors import N_, ConflictError, InputError, NotFoundError

if TYPE_CHECKING:
    from layers.storage import Store

#: Members of a register edit that are not register columns: the version it is based on, who
#: and why (kept with the version written; ``note`` is the register's own column).
META = ("base_version", "user", "reason")
#: Lifecycle actions by the word of the web address.
NEED_ACTIONS: dict[str, str] = {"verify": "verified", "link": "linked", "close": "closed"}
#: Members of a need action's body.
NEED_MEMBERS = ("on", "by", "note", "program_id", "layer", "base_version", "user")
#: Members of an assignment request besides META.
ASSIGN_MEMBERS = ("scenario", "version", "kode", "planned", "unit", "status")
#: Members of an activity entry besides META.
ACTIVITY_MEMBERS = ("date", "figure", "unit", "kode", "description")


def _body(body: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    """``body`` as a dict with only ``allowed`` members; InputError naming the first other."""
    if not isinstance(body, Mapping):
        raise InputError(N_("send a JSON object"), column="body")
    unknown = [k for k in body if k not in allowed]
    if unknown:
        raise InputError(
            N_("unknown member %(member)r; members: %(known)s"),
            column=str(unknown[0]),
            params={"member": unknown[0], "known": ", ".join(allowed)},
        )
    return dict(body)


def _whole(value: Any, name: str, *, minimum: int = 0, required: bool = False) -> int | None:
    if value is None or value == "":
        if required:
            raise InputError(
                N_("%(member)s is required (a whole number)"),
                column=name,
                params={"member": name},
            )
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(
            N_("%(member)s must be a whole number from %(minimum)s, not %(value)r"),
            column=name,
            params={"member": name, "minimum": minimum, "value": value},
        )
    return value


def _text(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(N_("%(member)s must be text"), column=name, params={"member": name})
    return value.strip() or None


def _base(store: Store, workspace: str, body: Mapping[str, Any]) -> Any:
    """The register at ``body["base_version"]`` (required; not beyond the latest)."""
    from layers.programs import Register, latest_version

    base = _whole(body.get("base_version"), "base_version", required=True)
    latest = latest_version(store, workspace)
    if base > latest:
        raise InputError(
            N_("base_version %(value)s is newer than the latest register version %(latest)s"),
            column="base_version",
            params={"value": base, "latest": latest},
        )
    return Register.load(store, workspace, base)


def _result(result: Any, translate: Callable[[str], str], **extra: Any) -> dict[str, Any]:
    body = result.to_dict()
    body["messages"] = [n.render(translate) for n in result.notes]
    body.update(extra)
    return body


def _who(body: Mapping[str, Any]) -> dict[str, Any]:
    return {"user": _text(body, "user"), "note": _text(body, "reason") or ""}


def _program_fields() -> tuple[str, ...]:
    from layers.programs.model import columns

    return tuple(columns("programs"))


def create_program(
    store: Store, workspace: str, body: Any, *, translate: Callable[[str], str]
) -> dict[str, Any]:
    """Add a program (``program_id``, ``name``, ``sector`` and the other register fields)."""
    body = _body(body, (*_program_fields(), *META))
    reg = _base(store, workspace, body)
    values = {k: v for k, v in body.items() if k not in META}
    result = reg.add_program(values, **_who(body))
    return _result(result, translate, program_id=str(values.get("program_id", "")).strip())


def update_program(
    store: Store, workspace: str, program_id: str, body: Any, *, translate: Callable[[str], str]
) -> dict[str, Any]:
    """Change some fields of a program (not its ``program_id``)."""
    fields = tuple(f for f in _program_fields() if f != "program_id")
    body = _body(body, (*fields, *META))
    changes = {k: v for k, v in body.items() if k not in META}
    if not changes:
        raise InputError(
            N_("send one or more fields to change: %(known)s"),
            column="body",
            params={"known": ", ".join(fields)},
        )
    reg = _base(store, workspace, body)
    result = reg.update_program(program_id, changes, **_who(body))
    return _result(result, translate, program_id=program_id)


def _check_assignments_unchanged(
    store: Store, workspace: str, base: Any, program_id: str, codes: list[str]
) -> None:
    """ConflictError when the program's assignment to one of ``codes`` changed since ``base``."""
    from layers.programs import Register, latest_version
    from layers.programs.files import export_frames
    from layers.programs.model import TABLES, empty

    latest_number = latest_version(store, workspace)
    if latest_number == base.version:
        return
    latest = Register.load(store, workspace, latest_number)

    def rows(reg: Any) -> dict[str, dict[str, Any]]:
        a = reg.assignments
        mine = a.loc[(a["program_id"] == str(program_id)) & a["kode"].isin(codes)]
        frame = export_frames({**{t: empty(t) for t in TABLES}, "assignments": mine})
        return {r["kode"]: r for r in frame["assignments"].to_dict("records")}

    before, now = rows(base), rows(latest)
    for kode in codes:
        if before.get(kode) != now.get(kode):
            raise ConflictError(
                N_(
                    "%(table)s row %(key)r changed since version %(base)s (the latest is "
                    "%(latest)s); reload the register and make the edit again"
                ),
                expected=base.version,
                params={
                    "table": "assignments",
                    "key": f"{program_id}|{kode}",
                    "base": base.version,
                    "latest": latest_number,
                },
            )


def add_assignments(
    store: Store,
    workspace: str,
    program_id: str,
    body: Any,
    *,
    translate: Callable[[str], str],
) -> dict[str, Any]:
    """Assign a program to a saved scenario's villages (``scenario``, ``version``) or to
    villages by code (``kode``: a list); villages it already has are left as they are."""
    from layers.programs import Register, assign_from_scenario, assign_villages, latest_version

    body = _body(body, (*ASSIGN_MEMBERS, *META))
    reg = _base(store, workspace, body)
    reg.program(program_id)  # NotFoundError naming the programs
    scenario = _text(body, "scenario")
    codes = body.get("kode")
    if bool(scenario) == (codes is not None):
        raise InputError(
            N_("send either scenario (a saved scenario's name) or kode (a list of village codes)"),
            column="scenario" if scenario is None else "kode",
        )
    options = {
        "planned": _whole(body.get("planned"), "planned"),
        "unit": _text(body, "unit"),
        "status": _text(body, "status") or "planned",
        **_who(body),
    }
    if scenario:
        from layers.targeting.scenarios import load_scenario

        version = _whole(body.get("version"), "version", minimum=1)
        saved = load_scenario(store, workspace, scenario, version)
        villages = (saved.get("summary") or {}).get("villages")
        wanted = [str(k) for k in villages] if isinstance(villages, list) else []
        _check_assignments_unchanged(store, workspace, reg, program_id, wanted)
        previous = latest_version(store, workspace)
        result = assign_from_scenario(store, workspace, program_id, saved, **options)
        extra = {"scenario": scenario, "scenario_version": saved.get("version")}
    else:
        if isinstance(codes, str) or not isinstance(codes, list):
            raise InputError(N_("kode must be a list of village codes"), column="kode")
        wanted = [str(k).strip() for k in codes if str(k).strip()]
        if not wanted:
            raise InputError(N_("kode must be a list of village codes"), column="kode")
        _check_assignments_unchanged(store, workspace, reg, program_id, wanted)
        previous = latest_version(store, workspace)
        result = assign_villages(store, workspace, program_id, wanted, **options)
        extra = {}
    added = 0
    if result.version != previous:
        before = Register.load(store, workspace, previous).counts()["assignments"]
        added = result.counts["assignments"] - before
    return _result(result, translate, program_id=program_id, added=added, **extra)


def log_activity(
    store: Store,
    workspace: str,
    program_id: str,
    body: Any,
    *,
    translate: Callable[[str], str],
) -> dict[str, Any]:
    """Add an entry to a program's activity log (``date``, ``figure``, ``unit``, ``kode``,
    ``description``)."""
    body = _body(body, (*ACTIVITY_MEMBERS, *META))
    reg = _base(store, workspace, body)
    reg.program(program_id)
    row = {k: body.get(k) for k in ACTIVITY_MEMBERS}
    row = {k: (v.strip() or None) if isinstance(v, str) else v for k, v in row.items()}
    result = reg.add_activities([{**row, "program_id": program_id}], **_who(body))
    logged = reg.activities.iloc[-1]
    return _result(result, translate, program_id=program_id, activity_id=str(logged["activity_id"]))


def conflict_details(store: Store, workspace: str, exc: ConflictError) -> dict[str, Any]:
    """What the other person changed: the row now (``theirs``; None when removed), the
    register's latest version and the table and key of the row."""
    from layers.programs import Register, latest_version
    from layers.programs.files import export_frames
    from layers.programs.model import TABLES, empty, key_strings

    params = exc.params or {}
    table, key = params.get("table"), params.get("key")
    out: dict[str, Any] = {"latest_version": latest_version(store, workspace)}
    if table not in TABLES or key is None:
        return out
    reg = Register.load(store, workspace)
    frame = getattr(reg, table)
    hit = frame.loc[(key_strings(table, frame) == str(key)).to_numpy()]
    rows = export_frames({**{t: empty(t) for t in TABLES}, table: hit})[table]
    theirs = [{k: _plain(v) for k, v in r.items()} for r in rows.to_dict("records")]
    out.update({"table": table, "key": str(key), "theirs": theirs[0] if theirs else None})
    return out


# -- needs ------------------------------------------------------------------------------


def lifecycle_version(store: Store, workspace: str) -> int:
    """The latest version of the needs lifecycle log (0 when nothing was recorded)."""
    from layers.programs.needs_status import DATASET

    try:
        return store.dataset_info(workspace, DATASET).version
    except NotFoundError:
        store.get_workspace(workspace)
        return 0


def need_action(
    store: Store,
    workspace: str,
    need_id: str,
    word: str,
    body: Any,
    *,
    translate: Callable[[str], str],
) -> dict[str, Any]:
    """Record that a need was verified, linked to a program or closed.

    ``base_version`` is the lifecycle version the page showed: when someone recorded a step
    for the same need since, nothing is written (ConflictError with their steps).
    """
    from layers.programs.needs_status import lifecycle_log, record_need_action

    if word not in NEED_ACTIONS:
        raise NotFoundError(
            N_("unknown action %(action)r; expected one of %(known)s"),
            params={"action": word, "known": ", ".join(NEED_ACTIONS)},
        )
    body = _body(body, NEED_MEMBERS)
    base = _whole(body.get("base_version"), "base_version", required=True)
    latest = lifecycle_version(store, workspace)
    if base > latest:
        raise InputError(
            N_("base_version %(value)s is newer than the latest lifecycle version %(latest)s"),
            column="base_version",
            params={"value": base, "latest": latest},
        )
    layer = _text(body, "layer")
    if base < latest:
        log = lifecycle_log(store, workspace)
        known = len(lifecycle_log(store, workspace, base)) if base else 0
        since = log.iloc[known:]
        since = since.loc[since["need_id"].astype(str) == str(need_id)]
        if layer:
            since = since.loc[since["layer"].astype(str) == layer]
        if len(since):
            steps = [{k: _plain(v) for k, v in r.items()} for r in since.to_dict("records")]
            raise ConflictError(
                N_(
                    "need %(need)s changed since version %(base)s of the lifecycle (the latest "
                    "is %(latest)s); reload and try again"
                ),
                expected=base,
                params={
                    "need": need_id,
                    "base": base,
                    "latest": latest,
                    "table": "need-status",
                    "steps": steps,
                },
            )
    by = _text(body, "by")
    if not by:
        raise InputError(N_("say who did it (by=...)"), column="by")
    on = _text(body, "on")
    if not on:
        raise InputError(N_("on (the date, YYYY-MM-DD) is required"), column="on")
    note = record_need_action(
        store,
        workspace,
        need_id,
        NEED_ACTIONS[word],
        on=on,
        by=by,
        note=_text(body, "note") or "",
        program_id=_text(body, "program_id"),
        layer=layer,
        user=_text(body, "user"),
    )
    return {
        "need_id": need_id,
        "action": NEED_ACTIONS[word],
        "status": note.params["status"],
        "version": note.params["version"],
        "message": note.render(translate),
    }


# -- before and after -------------------------------------------------------------------


def score_runs(store: Store, workspace: str) -> dict[str, list[dict[str, Any]]]:
    """The saved score runs by profile: ``{profile: [{"run", "created_at"}, ...]}``, oldest
    first."""
    from layers.score_run import RUNS

    store.get_workspace(workspace)
    out: dict[str, list[dict[str, Any]]] = {}
    for rec in store.list_records(workspace, RUNS, all_versions=True):
        out.setdefault(rec.name, []).append(
            {"run": rec.version, "created_at": rec.created_at.isoformat(timespec="minutes")}
        )
    for runs in out.values():
        runs.sort(key=lambda r: r["run"])
    return dict(sorted(out.items()))


def program_change(
    store: Store,
    workspace: str,
    program_id: str,
    *,
    profile: str,
    baseline: int,
    followup: int | None = None,
) -> dict[str, Any]:
    """A program's villages (assigned, not dropped) versus the others between two score runs
    of ``profile`` (the follow-up: the latest run by default), by measure.

    Raises
    ------
    InputError
        No profile or runs, a follow-up not after the baseline, a program without villages.
    NotFoundError
        An unknown program, profile run or workspace.
    """
    from layers.coverage import before_after
    from layers.programs import Register
    from layers.score_run import load_run

    if not profile:
        raise InputError(N_("profile is required"), column="profile")
    runs = [r["run"] for r in score_runs(store, workspace).get(profile, [])]
    if not runs:
        raise NotFoundError(
            N_("profile %(profile)r has no saved score run; run geoapp score first"),
            params={"profile": profile},
        )
    for name, value in (("baseline", baseline), ("followup", followup)):
        if value is not None and value not in runs:
            raise InputError(
                N_("%(member)s: no run %(value)s of %(profile)s; its runs: %(runs)s"),
                column=name,
                params={
                    "member": name,
                    "value": value,
                    "profile": profile,
                    "runs": ", ".join(map(str, runs)),
                },
            )
    followup = runs[-1] if followup is None else followup
    if followup == baseline:
        raise InputError(
            N_("the follow-up must be another run than the baseline (%(run)s)"),
            column="followup",
            params={"run": baseline},
        )
    reg = Register.load(store, workspace)
    item = reg.program(program_id)
    a = item["assignments"]
    selected = sorted(set(a.loc[a["status"] != "dropped", "kode"].astype(str)))
    if not selected:
        raise InputError(
            N_("program %(program)s has no village assigned (dropped ones left out)"),
            column="program_id",
            params={"program": program_id},
        )
    before = load_run(store, workspace, profile, baseline)
    after = load_run(store, workspace, profile, followup)
    table = before_after(before, after, selected)
    return {
        "workspace": workspace,
        "program_id": program_id,
        "profile": profile,
        "baseline": baseline,
        "followup": followup,
        "baseline_ref": before["record"].ref,
        "followup_ref": after["record"].ref,
        "selected": selected,
        "villages": {k: int(v) for k, v in table.attrs.get("villages", {}).items()},
        "rows": [{k: _plain(v) for k, v in r.items()} for r in table.to_dict("records")],
    }
