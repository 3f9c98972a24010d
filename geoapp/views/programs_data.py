"""The programs pages' data, without Flask: the register list, one program, import, export.

The register and its files are :mod:`layers.programs`' (:class:`~layers.programs.Register`,
:func:`~layers.programs.import_register`, :func:`~layers.programs.export_register`); the
villages reached come from :class:`layers.coverage.ProgramReach` on the date asked, so the
programs page and the coverage page never disagree.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from geoapp.views.coverage_data import _plain
from layers.errors import N_, InputError, fill

if TYPE_CHECKING:
    import pandas as pd

    from layers.programs import RegisterImportError
    from layers.storage import Store

#: File endings a register upload may have.
UPLOAD_SUFFIXES: tuple[str, ...] = (".xlsx", ".zip", ".csv")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in r.items()} for r in frame.to_dict("records")]


def _reach(store: Store, workspace: str, register: Any, as_of: date) -> dict[str, dict]:
    from layers.coverage import ProgramReach

    villages = store.read_dataset(workspace, "villages", geometry=False)
    reach = ProgramReach(register, villages, as_of=as_of).compute()
    return {str(r["group"]): r for r in reach.to_dict()["by_program"]}


def programs_data(
    store: Store, workspace: str, *, as_of: date, version: int | None = None
) -> dict[str, Any]:
    """The register's programs with villages and beneficiaries planned and achieved.

    Each program has ``villages_planned`` (villages assigned, dropped ones left out),
    ``villages_reached`` (reached by ``as_of``, as :class:`ProgramReach` counts them),
    ``planned`` and ``achieved`` (sums of its assignments' beneficiaries, any unit).
    """
    from layers.programs import Register

    ws = store.get_workspace(workspace)
    reg = Register.load(store, workspace, version)
    reach = _reach(store, workspace, reg, as_of) if len(reg.programs) else {}
    a = reg.assignments.loc[reg.assignments["status"] != "dropped"]
    by = a.groupby("program_id")
    rows = []
    for p in _records(reg.programs):
        pid = p["program_id"]
        r = reach.get(pid, {})
        rows.append(
            {
                **p,
                "villages_planned": int(by.size().get(pid, 0)),
                "villages_reached": int(r.get("villages_reached") or 0),
                "planned": int(by["planned"].sum().get(pid, 0)),
                "achieved": int(by["achieved"].sum().get(pid, 0)),
            }
        )
    return {
        "workspace": workspace,
        "title": ws.title,
        "version": reg.version,
        "as_of": as_of.isoformat(),
        "counts": reg.counts(),
        "programs": rows,
    }


def program_data(
    store: Store, workspace: str, program_id: str, *, as_of: date, version: int | None = None
) -> dict[str, Any]:
    """One program with its assignments, its activity log and its reach on ``as_of``."""
    from layers.programs import Register

    reg = Register.load(store, workspace, version)
    item = reg.program(program_id)
    villages = store.read_dataset(workspace, "villages", geometry=False)
    names = villages.set_index(villages["kode"].astype(str))
    assignments = _records(item["assignments"])
    for a in assignments:
        a["village"] = _plain(names["name"].get(a["kode"])) if "name" in names else None
        a["kecamatan"] = _plain(names["kecamatan"].get(a["kode"])) if "kecamatan" in names else None
    reach = _reach(store, workspace, reg, as_of).get(str(program_id), {})
    return {
        "workspace": workspace,
        "version": reg.version,
        "as_of": as_of.isoformat(),
        "program": {k: _plain(v) for k, v in item["program"].items()},
        "assignments": assignments,
        "activities": _records(item["activities"]),
        "reach": reach,
    }


def program_page_data(
    store: Store, workspace: str, program_id: str, *, as_of: date
) -> dict[str, Any]:
    """One program (:func:`program_data`) with what its page's forms offer: the saved
    scenarios to assign villages from and the score runs of each profile (before and after).
    """
    from geoapp.views.programs_edit import score_runs
    from layers.targeting.scenarios import list_scenarios

    data = program_data(store, workspace, program_id, as_of=as_of)
    data["scenarios"] = [
        {"name": s["name"], "title": s["title"], "kind": s["kind"], "version": s["version"],
         "villages": s["villages_selected"]}
        for s in list_scenarios(store, workspace)
    ]  # fmt: skip
    data["score_runs"] = score_runs(store, workspace)
    return data


def register_xlsx(store: Store, workspace: str, version: int | None = None) -> bytes:
    """The register as an XLSX workbook (the file ``geoapp programs export`` writes)."""
    from layers.programs import export_register

    with tempfile.TemporaryDirectory(prefix="jangkau-register-") as folder:
        path = export_register(
            store, workspace, Path(folder) / "register.xlsx", fmt="xlsx", version=version
        )
        return Path(path).read_bytes()


def upload_name(filename: str | None) -> str:
    """A safe local name for an uploaded register file; InputError for another kind."""
    base = Path(str(filename or "")).name
    suffix = Path(base).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise InputError(
            N_("send an XLSX workbook, a ZIP of CSV files or programs.csv, not %(value)r"),
            column="file",
            params={"value": base or "-"},
        )
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(base).stem).strip("._") or "register"
    return stem[:80] + suffix


def import_upload(
    store: Store,
    workspace: str,
    filename: str | None,
    stream: IO[bytes],
    *,
    dry_run: bool,
    user: str | None,
    note: str,
    translate: Callable[[str], str],
) -> dict[str, Any]:
    """Check (``dry_run``) or import an uploaded register file; the result as JSON.

    Raises :class:`~layers.programs.RegisterImportError` with every rejected row, or
    InputError for a file that cannot be read.
    """
    from layers.programs import import_register

    name = upload_name(filename)
    with tempfile.TemporaryDirectory(prefix="jangkau-upload-") as folder:
        path = Path(folder) / name
        with path.open("wb") as out:
            while chunk := stream.read(1 << 20):
                out.write(chunk)
        result = import_register(store, workspace, path, dry_run=dry_run, user=user, note=note)
    body = result.to_dict()
    body["dry_run"] = dry_run
    body["file"] = name
    body["messages"] = [n.render(translate) for n in result.notes]
    return body


def problem_rows(exc: RegisterImportError, translate: Callable[[str], str]) -> list[dict]:
    """Every rejected row: file, sheet, row, column, the reason in the user's language."""
    out = []
    for p in exc.problems:
        item = p.to_dict()
        item["reason"] = fill(p.template, p.params, translate)
        item["text"] = p.render(translate)
        out.append(item)
    return out
