"""The program register of a workspace: load, edit with conflict checks, import and export.

The register is three derived tables (:data:`~layers.programs.model.DATASETS`) written
together with :meth:`Store.put_datasets`, so version *n* of the register is version *n*
of each table. Every edit is checked, applied to a copy of the latest version and saved
as the next version with who and why. An edit based on an older version than the latest
is refused (:class:`~layers.storage.base.ConflictError`) only when one of the rows it
touches changed since; otherwise it is applied on top of the latest version and the
result says so.

Examples
--------
>>> reg = Register.load(store, "merangin")  # doctest: +SKIP
>>> reg.add_program({"program_id": "P-01", "name": "Posyandu", "sector": "health"},
...                 user="ani", note="agreed with Dinkes")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from layers.errors import N_, InputError, Note, NotFoundError
from layers.programs.checks import (
    CheckResult,
    RawTable,
    RegisterImportError,
    apply_defaults,
    check_register,
)
from layers.programs.files import export_frames, read_register_file, write_register_file
from layers.programs.model import DATASETS, FIELDS, KEYS, TABLES, canonical, empty, key_strings
from layers.storage.base import DERIVED_KIND, ConflictError, Store


class RegisterNote(Note):
    """What an edit or import did, rendered in the user's language."""

    TEMPLATES: ClassVar[dict[str, str]] = {
        "saved": N_("saved as version %(version)s of the register"),
        "rebased": N_(
            "saved as version %(version)s on top of version %(latest)s: the edit was based "
            "on version %(base)s, and the rows it touches had not changed since"
        ),
        "cascade": N_(
            "removing program %(program)s also removed its %(assignments)s assignments and "
            "%(activities)s activity entries"
        ),
        "skipped": N_("%(count)s villages were already assigned to %(program)s: %(codes)s"),
        "imported": N_(
            "%(programs)s programs, %(assignments)s assignments and %(activities)s activity entries"
        ),
        "dry_run": N_("checked only (dry run): nothing was written"),
        "unused_columns": N_("columns not used in %(table)s: %(columns)s"),
    }


@dataclass(frozen=True)
class EditResult:
    """The outcome of an edit or an import.

    Attributes
    ----------
    version : int or None
        The register version written (None for a dry run).
    base_version : int
        The version the change was based on.
    rebased : bool
        True when other versions had been written since ``base_version`` and the change
        was applied on top of the latest.
    notes : list of RegisterNote
        What happened, to show the user.
    counts : dict
        Rows per table in the version written (or checked).
    """

    version: int | None
    base_version: int
    rebased: bool
    notes: list[RegisterNote] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe data."""
        return {
            "version": self.version,
            "base_version": self.base_version,
            "rebased": self.rebased,
            "counts": dict(self.counts),
            "notes": [n.to_dict() for n in self.notes],
        }


def village_codes(store: Store, workspace: str) -> pd.Index:
    """The codes of the workspace's latest villages layer (text).

    Raises
    ------
    NotFoundError
        The workspace has no villages layer.
    """
    frame = store.read_dataset(workspace, "villages", columns=["kode"], geometry=False)
    return pd.Index(frame["kode"].astype(str).to_numpy(dtype=object), name="kode")


class Register:
    """A program register: programs, their village assignments and the activity log.

    Parameters
    ----------
    programs, assignments, activities : pandas.DataFrame
        Canonical tables (:func:`~layers.programs.model.canonical`); missing ones empty.
    store : Store, optional
        Where the register lives (needed for edits).
    workspace : str, optional
        Its workspace.
    version : int
        The register version these tables are (0: nothing saved yet).

    Attributes
    ----------
    programs, assignments, activities : pandas.DataFrame
        The tables (treat as read-only; edit through the methods).
    """

    def __init__(
        self,
        programs: pd.DataFrame | None = None,
        assignments: pd.DataFrame | None = None,
        activities: pd.DataFrame | None = None,
        *,
        store: Store | None = None,
        workspace: str | None = None,
        version: int = 0,
    ) -> None:
        given = {"programs": programs, "assignments": assignments, "activities": activities}
        for table, frame in given.items():
            if frame is not None and not isinstance(frame, pd.DataFrame):
                raise InputError(
                    N_("the %(table)s table must be a DataFrame, not %(type)s"),
                    params={"table": table, "type": type(frame).__name__},
                )
            if frame is not None:
                missing = [f.name for f in FIELDS[table] if f.name not in frame.columns]
                required = [f.name for f in FIELDS[table] if f.required]
                if [c for c in missing if c in required]:
                    raise InputError(
                        N_("the %(table)s table lacks the columns %(columns)s"),
                        params={"table": table, "columns": ", ".join(missing)},
                    )
        self.programs = (
            canonical("programs", programs) if programs is not None else empty("programs")
        )
        self.assignments = (
            canonical("assignments", assignments)
            if assignments is not None
            else empty("assignments")
        )
        self.activities = (
            canonical("activities", activities) if activities is not None else empty("activities")
        )
        self.store = store
        self.workspace = workspace
        self.version = int(version)

    # -- loading ----------------------------------------------------------------------

    @classmethod
    def load(cls, store: Store, workspace: str, version: int | None = None) -> Register:
        """Load a register version (the latest by default; an empty register when none).

        Parameters
        ----------
        store : Store
            The store.
        workspace : str
            The workspace.
        version : int, optional
            The register version.

        Raises
        ------
        NotFoundError
            Unknown workspace, or a version that does not exist.
        """
        if not isinstance(store, Store):
            raise InputError(
                N_("store must be a Store, not %(type)s"), params={"type": type(store).__name__}
            )
        store.get_workspace(workspace)
        latest = latest_version(store, workspace)
        if version is None:
            version = latest
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise InputError(
                N_("a register version is a whole number from 0, not %(value)r"),
                params={"value": version},
            )
        if version == 0:
            return cls(store=store, workspace=workspace, version=0)
        if version > latest:
            raise NotFoundError(
                N_("no version %(version)s of the program register; the latest is %(latest)s"),
                params={"version": version, "latest": latest},
            )
        frames = {
            table: store.read_dataset(workspace, DATASETS[table], version) for table in TABLES
        }
        return cls(**frames, store=store, workspace=workspace, version=version)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The three tables by name (copies)."""
        return {
            "programs": self.programs.copy(),
            "assignments": self.assignments.copy(),
            "activities": self.activities.copy(),
        }

    def counts(self) -> dict[str, int]:
        """Rows per table."""
        return {t: len(f) for t, f in self.tables().items()}

    def program(self, program_id: str) -> dict[str, Any]:
        """One program with its assignments and activities.

        Raises
        ------
        NotFoundError
            No such program.
        """
        rows = self.programs.loc[self.programs["program_id"] == str(program_id)]
        if rows.empty:
            raise NotFoundError(
                N_("no program %(program)r in the register; programs: %(known)s"),
                params={"program": program_id, "known": _listing(self.programs["program_id"])},
            )
        mine = self.assignments["program_id"] == str(program_id)
        logged = self.activities["program_id"] == str(program_id)
        return {
            "program": export_frames(
                {
                    "programs": rows,
                    "assignments": empty("assignments"),
                    "activities": empty("activities"),
                }
            )["programs"].to_dict("records")[0],
            "assignments": self.assignments.loc[mine].reset_index(drop=True),
            "activities": self.activities.loc[logged].reset_index(drop=True),
        }

    # -- edits ------------------------------------------------------------------------

    def add_program(self, values: Mapping[str, Any], **kwargs: Any) -> EditResult:
        """Add a program (``program_id``, ``name``, ``sector`` required; see docs/programs.md).

        ``kwargs``: ``user`` and ``note`` (who and why).
        """
        return self._edit("programs", "add", [values], **kwargs)

    def update_program(
        self, program_id: str, changes: Mapping[str, Any], **kwargs: Any
    ) -> EditResult:
        """Change some fields of a program (``program_id`` itself cannot change)."""
        return self._edit("programs", "update", [{**changes, "program_id": program_id}], **kwargs)

    def remove_program(self, program_id: str, **kwargs: Any) -> EditResult:
        """Remove a program with its assignments and activity entries."""
        return self._edit("programs", "remove", [{"program_id": program_id}], **kwargs)

    def add_assignments(self, rows: Sequence[Mapping[str, Any]], **kwargs: Any) -> EditResult:
        """Assign programs to villages (``program_id`` and ``kode`` required per row)."""
        return self._edit("assignments", "add", list(rows), **kwargs)

    def update_assignment(
        self, program_id: str, kode: str, changes: Mapping[str, Any], **kwargs: Any
    ) -> EditResult:
        """Change an assignment (e.g. ``achieved`` or ``status``)."""
        row = {**changes, "program_id": program_id, "kode": kode}
        return self._edit("assignments", "update", [row], **kwargs)

    def remove_assignment(self, program_id: str, kode: str, **kwargs: Any) -> EditResult:
        """Remove a program's assignment to a village."""
        row = {"program_id": program_id, "kode": kode}
        return self._edit("assignments", "remove", [row], **kwargs)

    def add_activities(self, rows: Sequence[Mapping[str, Any]], **kwargs: Any) -> EditResult:
        """Log activities (``program_id``, ``date``, ``figure`` required; ``activity_id``
        generated when absent)."""
        return self._edit("activities", "add", list(rows), **kwargs)

    def remove_activity(self, activity_id: str, **kwargs: Any) -> EditResult:
        """Remove an activity entry."""
        return self._edit("activities", "remove", [{"activity_id": activity_id}], **kwargs)

    def _edit(
        self,
        table: str,
        action: str,
        rows: list[Mapping[str, Any]],
        *,
        user: str | None = None,
        note: str = "",
    ) -> EditResult:
        if self.store is None or self.workspace is None:
            raise InputError(
                N_("this register is not attached to a store; load it with Register.load")
            )
        if not rows or not all(isinstance(r, Mapping) for r in rows):
            raise InputError(N_("an edit needs one or more rows given as dicts of column values"))
        unknown = sorted({k for r in rows for k in r} - {f.name for f in FIELDS[table]})
        if unknown:
            raise InputError(
                N_("unknown columns for %(table)s: %(columns)s; known: %(known)s"),
                params={
                    "table": table,
                    "columns": ", ".join(unknown),
                    "known": ", ".join(f.name for f in FIELDS[table]),
                },
            )
        base = self
        base_version = self.version
        latest_number = latest_version(self.store, self.workspace)
        latest = (
            base
            if latest_number == self.version
            else Register.load(self.store, self.workspace, latest_number)
        )
        codes = village_codes(self.store, self.workspace)
        tables, touched, notes = _apply(latest, table, action, rows, codes)
        rebased = latest.version != base_version
        if rebased:
            _check_unchanged(base, latest, touched)
        version = _save(
            self.store,
            self.workspace,
            tables,
            expected=latest.version,
            user=user,
            note=note,
            action=f"{action} {table}",
            changes=_row_changes(latest, tables, touched),
        )
        self.programs, self.assignments, self.activities = (
            tables["programs"],
            tables["assignments"],
            tables["activities"],
        )
        self.version = version
        saved = (
            RegisterNote(
                "rebased", {"version": version, "latest": latest.version, "base": base_version}
            )
            if rebased
            else RegisterNote("saved", {"version": version})
        )
        return EditResult(
            version=version,
            base_version=base_version,
            rebased=rebased,
            notes=[saved, *notes],
            counts={t: len(f) for t, f in tables.items()},
        )


def latest_version(store: Store, workspace: str) -> int:
    """The latest register version of ``workspace`` (0 when none was saved)."""
    try:
        return store.dataset_info(workspace, DATASETS["programs"]).version
    except NotFoundError:
        store.get_workspace(workspace)  # unknown workspace: raise that instead
        return 0


def _listing(values: pd.Series, limit: int = 10) -> str:
    items = [str(v) for v in values.head(limit)]
    if not items:
        return "none yet"
    more = len(values) - len(items)
    return ", ".join(items) + (f" (+{more})" if more > 0 else "")


def _text(value: Any) -> Any:
    """A value as the text a person would type (for checking edits like file rows)."""
    if value is None:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, datetime | pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _raw_rows(table: str, rows: list[Mapping[str, Any]]) -> RawTable:
    names = [f.name for f in FIELDS[table]]
    frame = pd.DataFrame(
        {n: pd.Series([_text(r.get(n)) for r in rows], dtype="object") for n in names}
    )
    return RawTable(
        frame=frame, rows=np.array([None] * len(rows), dtype=object), file=None, sheet=table
    )


def _check_rows(
    table: str, rows: list[Mapping[str, Any]], programs: pd.DataFrame, codes: pd.Index
) -> pd.DataFrame:
    """Check new or changed rows of ``table`` against the programs; canonical rows or raise."""
    if table == "programs":
        raw = {"programs": _raw_rows("programs", rows)}
    else:
        program_rows = export_frames(
            {
                "programs": programs,
                "assignments": empty("assignments"),
                "activities": empty("activities"),
            }
        )["programs"]
        raw = {
            "programs": RawTable(
                frame=program_rows,
                rows=np.array([None] * len(program_rows), dtype=object),
                file=None,
                sheet="programs",
            ),
            table: _raw_rows(table, rows),
        }
    result: CheckResult = check_register(raw, codes)
    if result.problems:
        raise result.problems[0]
    filled = apply_defaults(result.tables)
    return filled[table]


def _apply(
    reg: Register,
    table: str,
    action: str,
    rows: list[Mapping[str, Any]],
    codes: pd.Index,
) -> tuple[dict[str, pd.DataFrame], dict[str, set[str]], list[RegisterNote]]:
    """Apply an edit to a copy of ``reg``; return the tables, the keys touched, notes."""
    tables = reg.tables()
    frame = tables[table]
    keys = key_strings(table, frame)
    touched: dict[str, set[str]] = {t: set() for t in TABLES}
    notes: list[RegisterNote] = []
    if action == "remove":
        wanted = [_key_of(table, r) for r in rows]
        for k in wanted:
            if k not in set(keys):
                raise NotFoundError(
                    N_("no %(table)s row %(key)r in the register"),
                    params={"table": table, "key": k},
                )
        drop = keys.isin(wanted).to_numpy()
        tables[table] = frame.loc[~drop].reset_index(drop=True)
        touched[table].update(wanted)
        if table == "programs":
            for child in ("assignments", "activities"):
                cf = tables[child]
                gone = cf["program_id"].isin(wanted).to_numpy()
                touched[child].update(key_strings(child, cf.loc[gone]))
                tables[child] = cf.loc[~gone].reset_index(drop=True)
            notes.append(
                RegisterNote(
                    "cascade",
                    {
                        "program": ", ".join(wanted),
                        "assignments": len(touched["assignments"]),
                        "activities": len(touched["activities"]),
                    },
                )
            )
        return tables, touched, notes
    if action == "update":
        merged = []
        for r in rows:
            k = _key_of(table, r)
            hit = np.flatnonzero((keys == k).to_numpy())
            if len(hit) == 0:
                raise NotFoundError(
                    N_("no %(table)s row %(key)r in the register"),
                    params={"table": table, "key": k},
                )
            current = export_frames({**{t: empty(t) for t in TABLES}, table: frame.iloc[hit[:1]]})[
                table
            ].to_dict("records")[0]
            merged.append({**current, **dict(r)})
        checked = _check_rows(table, merged, tables["programs"], codes)
        new_keys = key_strings(table, checked)
        position = pd.Series(np.arange(len(frame)), index=keys.to_numpy())
        out = frame.copy()
        for i, k in enumerate(new_keys):
            out.iloc[int(position[k])] = checked.iloc[i]
        tables[table] = canonical(table, out)
        touched[table].update(new_keys)
        return tables, touched, notes
    if action != "add":
        raise InputError(
            N_("unknown edit %(action)r; expected add, update or remove"),
            params={"action": action},
        )
    if table == "activities":
        rows = _with_activity_ids(rows, set(frame["activity_id"].dropna()))
    checked = _check_rows(table, rows, tables["programs"], codes)
    new_keys = key_strings(table, checked)
    clash = new_keys[new_keys.isin(set(keys))]
    if len(clash):
        raise InputError(
            N_("%(table)s row %(key)r already exists; update it instead"),
            column=KEYS[table][-1],
            params={"table": table, "key": clash.iloc[0]},
        )
    tables[table] = canonical(table, pd.concat([frame, checked], ignore_index=True))
    touched[table].update(new_keys)
    return tables, touched, notes


def _key_of(table: str, row: Mapping[str, Any]) -> str:
    parts = []
    for k in KEYS[table]:
        value = row.get(k)
        if value is None or str(value).strip() == "":
            raise InputError(
                N_("%(column)s is required to find the %(table)s row"),
                column=k,
                params={"column": k, "table": table},
            )
        parts.append(str(value).strip())
    return "|".join(parts)


def _with_activity_ids(rows: list[Mapping[str, Any]], taken: set[str]) -> list[dict[str, Any]]:
    out = []
    n = len(taken)
    for r in rows:
        r = dict(r)
        if not r.get("activity_id"):
            n += 1
            while f"A{n:06d}" in taken:
                n += 1
            r["activity_id"] = f"A{n:06d}"
        taken.add(str(r["activity_id"]))
        out.append(r)
    return out


def _rows_by_key(reg: Register, table: str, wanted: Iterable[str]) -> dict[str, dict[str, Any]]:
    frame = getattr(reg, table)
    keys = key_strings(table, frame)
    hit = keys.isin(set(wanted)).to_numpy()
    sub = export_frames({**{t: empty(t) for t in TABLES}, table: frame.loc[hit]})[table]
    return dict(zip(keys[hit], sub.to_dict("records"), strict=True))


def _check_unchanged(base: Register, latest: Register, touched: dict[str, set[str]]) -> None:
    """Raise ConflictError when a row the edit touches differs between the two versions."""
    for table, wanted in touched.items():
        if not wanted:
            continue
        before = _rows_by_key(base, table, wanted)
        now = _rows_by_key(latest, table, wanted)
        for key in sorted(wanted):
            if before.get(key) != now.get(key):
                raise ConflictError(
                    N_(
                        "%(table)s row %(key)r changed since version %(base)s (the latest is "
                        "%(latest)s); reload the register and make the edit again"
                    ),
                    expected=base.version,
                    params={
                        "table": table,
                        "key": key,
                        "base": base.version,
                        "latest": latest.version,
                    },
                )


def _row_changes(
    old: Register, tables: Mapping[str, pd.DataFrame], touched: Mapping[str, set[str]]
) -> dict[str, tuple[dict[str, Any] | None, dict[str, Any] | None]]:
    """For the audit trail: per dataset, the touched rows before and after the edit."""
    new = SimpleNamespace(**tables)  # the edited tables, read like a register's
    return {
        DATASETS[table]: (_rows_by_key(old, table, keys), _rows_by_key(new, table, keys))
        for table, keys in touched.items()
        if keys
    }


def _save(
    store: Store,
    workspace: str,
    tables: Mapping[str, pd.DataFrame],
    *,
    expected: int,
    user: str | None,
    note: str,
    action: str,
    source: str | None = None,
    changes: Mapping[str, tuple[dict[str, Any] | None, dict[str, Any] | None]] | None = None,
) -> int:
    items = []
    for table in TABLES:
        frame = canonical(table, tables[table])
        n = len(frame)
        report = {
            "counts": {"read": n, "accepted": n, "repaired": 0, "rejected": 0, "warnings": 0},
            "register": {"table": table, "action": action, "source": source},
        }
        items.append((DERIVED_KIND, frame, DATASETS[table], report))
    written = store.put_datasets(
        workspace,
        items,
        created_by=user,
        note=note,
        expected_versions={DATASETS[t]: expected for t in TABLES},
        changes=changes,
    )
    return written[0].version


# -- import, export, scenarios -------------------------------------------------------------


def save_register(
    store: Store,
    workspace: str,
    tables: Mapping[str, pd.DataFrame],
    *,
    user: str | None = None,
    note: str = "",
) -> int:
    """Save tables made elsewhere (a generator, a migration) as the next register version.

    The tables are converted to the canonical columns and types but not checked row by row
    (use :func:`import_register` for files from people). Returns the version written.
    """
    reg = Register(
        tables.get("programs"),
        tables.get("assignments"),
        tables.get("activities"),
    )
    return _save(
        store,
        workspace,
        reg.tables(),
        expected=latest_version(store, workspace),
        user=user,
        note=note,
        action="save",
    )


def check_register_file(
    path: str | os.PathLike[str], codes: Iterable[str]
) -> tuple[dict[str, pd.DataFrame], CheckResult]:
    """Read and check a register file against village ``codes``; tables with defaults filled.

    Raises
    ------
    RegisterImportError
        One or more rows were rejected (``.problems`` lists every one).
    InputError
        The file cannot be read.
    """
    raw = read_register_file(path)
    result = check_register(raw, codes)
    if result.problems:
        raise RegisterImportError(result.problems, file=Path(path).name)
    return apply_defaults(result.tables), result


def import_register(
    store: Store,
    workspace: str,
    path: str | os.PathLike[str],
    *,
    dry_run: bool = False,
    user: str | None = None,
    note: str = "",
) -> EditResult:
    """Import a register file as the next version of the workspace's register.

    The file replaces the whole register (programs, assignments, activities). Every row is
    checked first; when any row is rejected nothing is written.

    Parameters
    ----------
    store : Store
        The store.
    workspace : str
        The workspace (its villages layer gives the valid village codes).
    path : path-like
        XLSX, zip of CSV files, folder or programs CSV (see :func:`read_register_file`).
    dry_run : bool
        Check only.
    user, note : str
        Who and why.

    Returns
    -------
    EditResult
        The version written (None for a dry run) and counts.

    Raises
    ------
    RegisterImportError
        Rejected rows, each with file, sheet, row, column and reason; nothing was written.
    InputError
        The file cannot be read.
    NotFoundError
        The workspace or its villages layer does not exist.
    """
    if not isinstance(store, Store):
        raise InputError(
            N_("store must be a Store, not %(type)s"), params={"type": type(store).__name__}
        )
    base = latest_version(store, workspace)
    codes = village_codes(store, workspace)
    tables, result = check_register_file(path, codes)
    counts = {t: len(f) for t, f in tables.items()}
    notes = [RegisterNote("imported", dict(counts))]
    notes += [
        RegisterNote(
            "unused_columns", {"table": n["table"], "columns": ", ".join(n["unused_columns"])}
        )
        for n in result.notes
    ]
    if dry_run:
        return EditResult(
            version=None,
            base_version=base,
            rebased=False,
            notes=[RegisterNote("dry_run"), *notes],
            counts=counts,
        )
    version = _save(
        store,
        workspace,
        tables,
        expected=base,
        user=user,
        note=note,
        action="import",
        source=Path(path).name,
    )
    return EditResult(
        version=version,
        base_version=base,
        rebased=False,
        notes=[RegisterNote("saved", {"version": version}), *notes],
        counts=counts,
    )


def export_register(
    store: Store,
    workspace: str,
    path: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    version: int | None = None,
) -> Path:
    """Write a register version (the latest by default) to an XLSX or zipped-CSV file.

    The file is written atomically and reads back identically with :func:`import_register`.

    Returns
    -------
    pathlib.Path
        The file written (``.zip`` for CSV).
    """
    reg = Register.load(store, workspace, version)
    return write_register_file(reg.tables(), path, fmt)


def assign_from_scenario(
    store: Store,
    workspace: str,
    program_id: str,
    scenario_result: Mapping[str, Any],
    *,
    planned: int | None = None,
    unit: str | None = None,
    status: str = "planned",
    user: str | None = None,
    note: str = "",
) -> EditResult:
    """Assign a program to the villages a targeting scenario selected.

    Parameters
    ----------
    store : Store
        The store.
    workspace : str
        The workspace.
    program_id : str
        An existing program.
    scenario_result : mapping
        The saved scenario body: ``{"name": ..., "summary": {"villages": [kode, ...]}}``.
    planned : int, optional
        Planned beneficiaries per village (0 when omitted).
    unit : str, optional
        Unit of ``planned`` (default: the program's target group).
    status : str
        Status of the new assignments (``planned``).
    user, note : str
        Who and why (the note defaults to the scenario's name).

    Returns
    -------
    EditResult
        With a note listing villages that were already assigned (left unchanged).

    Raises
    ------
    InputError
        A scenario without a name or villages, an unknown village code, a bad value.
    NotFoundError
        An unknown program.
    """
    if not isinstance(scenario_result, Mapping):
        raise InputError(
            N_("the scenario must be its saved body (a dict), not %(type)s"),
            params={"type": type(scenario_result).__name__},
        )
    name = scenario_result.get("name")
    summary = scenario_result.get("summary")
    villages = summary.get("villages") if isinstance(summary, Mapping) else None
    if not name or not isinstance(villages, list | tuple):
        raise InputError(
            N_(
                "the scenario needs a name and summary.villages (a list of village codes); "
                "found keys: %(keys)s"
            ),
            params={"keys": ", ".join(sorted(map(str, scenario_result))) or "-"},
        )
    return assign_villages(
        store,
        workspace,
        program_id,
        villages,
        planned=planned,
        unit=unit,
        status=status,
        scenario=str(name),
        user=user,
        note=note or str(name),
    )


def assign_villages(
    store: Store,
    workspace: str,
    program_id: str,
    codes: Sequence[str],
    *,
    planned: int | None = None,
    unit: str | None = None,
    status: str = "planned",
    scenario: str | None = None,
    user: str | None = None,
    note: str = "",
) -> EditResult:
    """Assign a program to villages; villages it already has are left as they are.

    Parameters
    ----------
    store : Store
        The store.
    workspace : str
        The workspace.
    program_id : str
        An existing program.
    codes : sequence of str
        Village codes (of the workspace's villages).
    planned, unit, status : optional
        Values of the new assignments (see :func:`assign_from_scenario`).
    scenario : str, optional
        The targeting scenario they come from.
    user, note : str
        Who and why.

    Returns
    -------
    EditResult
        With a note listing villages that were already assigned.
    """
    if isinstance(codes, str) or not isinstance(codes, Sequence):
        raise InputError(
            N_("village codes must be a list, not %(type)s"),
            params={"type": type(codes).__name__},
        )
    reg = Register.load(store, workspace)
    reg.program(program_id)  # raises NotFoundError naming the known programs
    mine = set(reg.assignments.loc[reg.assignments["program_id"] == str(program_id), "kode"])
    wanted = [str(k) for k in dict.fromkeys(codes)]
    already = [k for k in wanted if k in mine]
    new = [k for k in wanted if k not in mine]
    notes = []
    if already:
        notes.append(
            RegisterNote(
                "skipped",
                {"count": len(already), "program": program_id, "codes": ", ".join(already[:10])},
            )
        )
    if not new:
        return EditResult(
            version=reg.version,
            base_version=reg.version,
            rebased=False,
            notes=notes,
            counts=reg.counts(),
        )
    rows = [
        {
            "program_id": program_id,
            "kode": k,
            "planned": planned,
            "unit": unit,
            "status": status,
            "scenario": scenario,
        }
        for k in new
    ]
    result = reg.add_assignments(rows, user=user, note=note)
    return EditResult(
        version=result.version,
        base_version=result.base_version,
        rebased=result.rebased,
        notes=[*result.notes, *notes],
        counts=result.counts,
    )
