"""Checking register tables row by row: every rejected row named by file, sheet, row, column.

:func:`check_register` takes the three tables as read from a user's file (text cells, the
row numbers the user sees) and returns them in canonical form together with every problem
found. Nothing is stored here; the caller writes only when there is no problem.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from layers.codes import normalize_kemendagri_series
from layers.errors import COLUMN_TEMPLATE, N_, ROW_TEMPLATE, InputError, fill
from layers.programs.model import (
    FIELDS,
    KEYS,
    SECTOR_ALIASES,
    SECTORS,
    STATUS_ALIASES,
    STATUSES,
    TABLES,
    UNIT_ALIASES,
    UNITS,
    Field,
    canonical,
    vocabulary,
)
from layers.validate.cells import blank, map_vocabulary, parse_dates, to_number

SHEET_TEMPLATE = N_("sheet '%(sheet)s'")

VOCABULARIES: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "sector": (vocabulary(SECTOR_ALIASES), SECTORS),
    "status": (vocabulary(STATUS_ALIASES), STATUSES),
    "unit": (vocabulary(UNIT_ALIASES), UNITS),
}

#: Why a row was rejected, by problem code.
PROBLEMS: dict[str, str] = {
    "required": N_("a value is required here"),
    "not_date": N_("%(value)r is not a date; write YYYY-MM-DD or DD/MM/YYYY"),
    "not_number": N_("%(value)r is not a number"),
    "negative": N_("%(value)s is negative; it must be 0 or more"),
    "not_whole": N_("%(value)s is not a whole number of beneficiaries"),
    "not_allowed": N_("%(value)r is not one of: %(allowed)s"),
    "end_before_start": N_("the end %(end)s is before the start %(start)s"),
    "duplicate": N_("%(value)s is repeated; row %(first)s has it already"),
    "unknown_village": N_("unknown village code %(value)r: it is not in the workspace's villages"),
    "bad_code": N_("%(value)r is not a valid village code: %(reason)s"),
    "unknown_program": N_("unknown program %(value)r: it is not in the programs table"),
    "missing_column": N_("the required column is missing; accepted names: %(names)s"),
    "missing_table": N_("the programs table is missing; name the sheet or file 'programs'"),
}


class RegisterRowError(InputError):
    """One rejected row (or column) of a register file, with its sheet.

    Parameters
    ----------
    template : str
        The reason (a template of :data:`PROBLEMS`).
    sheet : str, optional
        The sheet (XLSX) or table (CSV) the row is in.
    **kwargs
        ``file``, ``row``, ``column`` and ``params`` as for :class:`InputError`.
    """

    def __init__(self, template: str, *, sheet: str | None = None, **kwargs: Any) -> None:
        self.sheet = sheet
        super().__init__(template, **kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle with the sheet too."""
        return (
            _rebuild_row_error,
            (self.template, self.file, self.sheet, self.row, self.column, self.params),
        )

    def where(self, gettext: Callable[[str], str] | None = None) -> str:
        """Return ``"file, sheet 'S', row R, column 'C'"`` with the parts that are known."""
        tr = gettext or (lambda text: text)
        parts = []
        if self.file:
            parts.append(str(self.file))
        if self.sheet:
            parts.append(fill(SHEET_TEMPLATE, {"sheet": self.sheet}, tr))
        if self.row is not None:
            parts.append(fill(ROW_TEMPLATE, {"row": self.row}, tr))
        if self.column:
            parts.append(fill(COLUMN_TEMPLATE, {"column": self.column}, tr))
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe data: file, sheet, row, column, message (English) and params."""
        return {
            "file": self.file,
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "message": self.message,
            "params": {k: _plain(v) for k, v in self.params.items()},
        }


def _rebuild_row_error(template, file, sheet, row, column, params) -> RegisterRowError:
    return RegisterRowError(template, file=file, sheet=sheet, row=row, column=column, params=params)


class RegisterImportError(InputError):
    """A register file had rejected rows; nothing was written.

    Attributes
    ----------
    problems : list of RegisterRowError
        Every rejected row, in file order.
    """

    def __init__(self, problems: list[RegisterRowError], *, file: str | None = None) -> None:
        self.problems = list(problems)
        first = self.problems[0] if self.problems else None
        super().__init__(
            N_(
                "%(count)s problems in the register file, nothing was written; the first: %(first)s"
            ),
            file=file,
            params={"count": len(self.problems), "first": str(first) if first else ""},
        )

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle with the problems."""
        return (RegisterImportError, (self.problems,), {"file": self.file})

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.file = state.get("file")


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return value


@dataclass
class RawTable:
    """One table as read from a file: text cells and the row numbers the user sees.

    Attributes
    ----------
    frame : pandas.DataFrame
        The file's columns as read (text).
    rows : numpy.ndarray
        Row number of each record as the user sees it (spreadsheet line).
    file : str
        The file's name.
    sheet : str or None
        The sheet (XLSX) or the CSV file's table name.
    """

    frame: pd.DataFrame
    rows: np.ndarray
    file: str
    sheet: str | None = None


@dataclass
class CheckResult:
    """Canonical tables and the problems found (empty when every row is fine)."""

    tables: dict[str, pd.DataFrame]
    problems: list[RegisterRowError] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no row was rejected."""
        return not self.problems


def normalise_header(name: object) -> str:
    """A column header as compared: lower case, runs of spaces, dots and dashes as ``_``."""
    text = str(name).strip().lower()
    text = re.sub(r"\(.*?\)", "", text).strip()
    return re.sub(r"[\s.\-/]+", "_", text).strip("_")


def match_columns(columns: Iterable[str], fields: tuple[Field, ...]) -> dict[str, str]:
    """Canonical field name -> the file's column holding it (first match in field order)."""
    by_norm: dict[str, str] = {}
    for col in columns:
        by_norm.setdefault(normalise_header(col), col)
    found: dict[str, str] = {}
    taken: set[str] = set()
    # Canonical names win over aliases ("sasaran" is an alias of two fields).
    for f in fields:
        col = by_norm.get(f.name)
        if col is not None and col not in taken:
            found[f.name] = col
            taken.add(col)
    for f in fields:
        if f.name in found:
            continue
        for alias in f.names:
            col = by_norm.get(alias)
            if col is not None and col not in taken:
                found[f.name] = col
                taken.add(col)
                break
    return found


class _TableCheck:
    """Checks of one table; collects problems as (position mask, template, column, values)."""

    def __init__(self, table: str, raw: RawTable) -> None:
        self.table = table
        self.raw = raw
        self.n = len(raw.frame)
        self.rows = np.asarray(raw.rows)
        self.bad = np.zeros(self.n, dtype=bool)
        self.found = match_columns(raw.frame.columns, FIELDS[table])
        self.out: dict[str, Any] = {}
        self.problems: list[tuple[int, int, RegisterRowError]] = []
        self.order = {f.name: i for i, f in enumerate(FIELDS[table])}

    def column_of(self, name: str) -> str:
        return self.found.get(name, name)

    def reject(
        self,
        mask: np.ndarray,
        code: str,
        name: str,
        values: Iterable[Any] | None = None,
        per_row: Mapping[str, Iterable[Any]] | None = None,
        **params: Any,
    ) -> None:
        """One problem per row in ``mask`` (rows already rejected for this column skip)."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        vals = None if values is None else np.asarray(list(values), dtype=object)
        extra = {k: np.asarray(list(v), dtype=object) for k, v in (per_row or {}).items()}
        for i in np.flatnonzero(mask):
            p = dict(params)
            if vals is not None:
                p["value"] = _plain(vals[i])
            for k, arr in extra.items():
                p[k] = _plain(arr[i])
            err = RegisterRowError(
                PROBLEMS[code],
                file=self.raw.file,
                sheet=self.raw.sheet,
                row=None if self.rows[i] is None else int(self.rows[i]),
                column=self.column_of(name),
                params=p,
            )
            self.problems.append((int(i), self.order.get(name, 99), err))
        self.bad |= mask

    def missing_columns(self) -> list[RegisterRowError]:
        out = []
        for f in FIELDS[self.table]:
            if f.required and f.name not in self.found:
                names = ", ".join((f.name, *f.names))
                out.append(
                    RegisterRowError(
                        PROBLEMS["missing_column"],
                        file=self.raw.file,
                        sheet=self.raw.sheet,
                        column=f.name,
                        params={"names": names},
                    )
                )
        return out

    def values(self, codes: set[str]) -> None:
        """Parse every mapped column by its type."""
        frame = self.raw.frame
        for f in FIELDS[self.table]:
            source = self.found.get(f.name)
            if source is None:
                self.out[f.name] = pd.Series([None] * self.n, dtype="object")
                continue
            raw = frame[source].reset_index(drop=True)
            text = blank(raw)
            absent = text.isna().to_numpy()
            if f.required:
                self.reject(absent, "required", f.name)
            if f.dtype in ("text",):
                self.out[f.name] = text
            elif f.dtype == "code":
                self.out[f.name] = self._codes(f.name, text, codes)
            elif f.dtype == "date":
                parsed, bad = parse_dates(raw)
                self.reject(bad.to_numpy(), "not_date", f.name, text)
                self.out[f.name] = parsed.reset_index(drop=True)
            elif f.dtype in ("money", "number", "count"):
                number, bad = to_number(raw)
                number = number.reset_index(drop=True)
                bad = bad.to_numpy()
                self.reject(bad, "not_number", f.name, text)
                ok = ~bad & number.notna().to_numpy()
                self.reject(ok & (number.to_numpy() < 0), "negative", f.name, text)
                if f.dtype == "count":
                    frac = ok & (number.to_numpy() != np.round(number.to_numpy()))
                    self.reject(frac, "not_whole", f.name, text)
                self.out[f.name] = number
            else:
                vocab, allowed = VOCABULARIES[f.dtype]
                mapped, missing = map_vocabulary(text, vocab)
                unknown = ~missing & mapped.isna().to_numpy()
                self.reject(unknown, "not_allowed", f.name, text, allowed=", ".join(allowed))
                self.out[f.name] = mapped.reset_index(drop=True)

    def _codes(self, name: str, text: pd.Series, codes: set[str]) -> pd.Series:
        present = text.notna().to_numpy()
        as_is = text.isin(codes).to_numpy()
        out = text.where(as_is, None).astype("object")
        rest = present & ~as_is
        if rest.any():
            normal, errors = normalize_kemendagri_series(text[rest])
            normal = normal.reindex(text.index)
            errors = errors.reindex(text.index)
            known = normal.isin(codes).to_numpy() & rest
            out[known] = normal[known]
            invalid = rest & errors.notna().to_numpy()
            reasons = errors.fillna("").map(_code_reason)
            self.reject(invalid, "bad_code", name, text, per_row={"reason": reasons})
            self.reject(rest & ~known & ~invalid, "unknown_village", name, text)
        return out

    def end_after_start(self) -> None:
        if "start" not in self.found or "end" not in self.found:
            return
        start, end = self.out["start"], self.out["end"]
        wrong = (end < start).fillna(False).to_numpy(dtype=bool)
        self.reject(
            wrong,
            "end_before_start",
            "end",
            per_row={
                "start": start.dt.strftime("%Y-%m-%d").fillna(""),
                "end": end.dt.strftime("%Y-%m-%d").fillna(""),
            },
        )

    def duplicates(self) -> None:
        keys = KEYS[self.table]
        parts = [self.out[k].astype("object") for k in keys]
        live = np.logical_and.reduce([p.notna().to_numpy() for p in parts])
        if not live.any():
            return
        key = parts[0].astype(str)
        for p in parts[1:]:
            key = key + " / " + p.astype(str)
        key = key.where(live, None)
        dup = key.duplicated(keep="first").to_numpy() & live
        if not dup.any():
            return
        positions = pd.Series(np.arange(self.n))
        first_pos = positions.groupby(key.to_numpy(), dropna=True).transform("min")
        first_row = np.full(self.n, None, dtype=object)
        first_row[live] = self.rows[first_pos[live].to_numpy().astype(int)]
        self.reject(dup, "duplicate", keys[-1], key, per_row={"first": first_row})

    def known(self, name: str, allowed: set[str], code: str) -> None:
        values = self.out[name]
        unknown = values.notna().to_numpy() & ~values.isin(allowed).to_numpy()
        self.reject(unknown, code, name, values)

    def sorted_problems(self) -> list[RegisterRowError]:
        return [p for _, _, p in sorted(self.problems, key=lambda t: (t[0], t[1]))]


def _code_reason(text: str) -> str:
    """The reason of a :class:`~layers.codes.CodeError` as text, without the repeated value."""
    text = str(text)
    if ": " in text:
        return text.split(": ", 1)[1]
    return text


def check_register(raw: Mapping[str, RawTable | None], village_codes: Iterable[str]) -> CheckResult:
    """Check and convert the tables of a register file.

    Parameters
    ----------
    raw : mapping
        ``programs`` (required), ``assignments`` and ``activities`` (None or absent: no
        rows) as read from the file.
    village_codes : iterable of str
        The workspace's village codes; assignment and activity codes must be among them
        (as written, or once normalised to the dotted Kemendagri form).

    Returns
    -------
    CheckResult
        Canonical tables (only the rows without problems) and every problem, ordered by
        table, then row, then column.

    Raises
    ------
    InputError
        ``raw`` is not a mapping or lacks the programs table.
    """
    if not isinstance(raw, Mapping):
        raise InputError(
            N_("the register must be given as tables by name, not %(type)s"),
            params={"type": type(raw).__name__},
        )
    if raw.get("programs") is None:
        raise InputError(N_("the programs table is missing; name the sheet or file 'programs'"))
    codes = {str(c) for c in village_codes}
    problems: list[RegisterRowError] = []
    checks: dict[str, _TableCheck] = {}
    notes: list[dict[str, Any]] = []
    for table in TABLES:
        source = raw.get(table)
        if source is None:
            continue
        check = _TableCheck(table, source)
        missing = check.missing_columns()
        if missing:
            problems.extend(missing)
            continue
        unused = [c for c in source.frame.columns if c not in check.found.values()]
        if unused:
            notes.append({"table": table, "unused_columns": [str(c) for c in unused]})
        check.values(codes)
        check.end_after_start()
        checks[table] = check
    if "programs" in checks:
        p = checks["programs"]
        p.duplicates()
        program_ids = set(p.out["program_id"].dropna())
        for table in ("assignments", "activities"):
            if table in checks:
                checks[table].known("program_id", program_ids, "unknown_program")
    if "activities" in checks:
        _activity_ids(checks["activities"])
    for table in ("assignments", "activities"):
        if table in checks:
            checks[table].duplicates()
    for table in TABLES:
        if table in checks:
            problems.extend(checks[table].sorted_problems())
    tables = {table: _finish(table, checks.get(table)) for table in TABLES}
    return CheckResult(tables=tables, problems=problems, notes=notes)


def _activity_ids(check: _TableCheck) -> None:
    ids = check.out["activity_id"].astype("object")
    missing = ids.isna().to_numpy()
    if missing.any():
        ids = ids.copy()
        ids[missing] = [f"A{int(r):06d}" for r in check.rows[missing]]
    check.out["activity_id"] = ids


def _finish(table: str, check: _TableCheck | None) -> pd.DataFrame:
    from layers.programs.model import empty

    if check is None:
        return empty(table)
    keep = ~check.bad
    frame = pd.DataFrame({k: pd.Series(v).reset_index(drop=True) for k, v in check.out.items()})
    frame = frame.loc[keep].reset_index(drop=True)
    return canonical(table, frame)


def apply_defaults(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Fill blank cells that have a documented default.

    A program's ``status`` defaults to ``planned`` and its ``target_group`` to
    ``persons``; an assignment's ``unit`` and an activity's ``unit`` to their program's
    target group, an assignment's ``status`` to ``planned``, its ``planned`` and
    ``achieved`` to 0.
    """
    programs = tables["programs"].copy()
    programs["status"] = programs["status"].where(programs["status"].notna(), "planned")
    programs["target_group"] = programs["target_group"].where(
        programs["target_group"].notna(), "persons"
    )
    group = pd.Series(programs["target_group"].to_numpy(), index=programs["program_id"].to_numpy())
    out = {"programs": programs}
    for table in ("assignments", "activities"):
        frame = tables[table].copy()
        default_unit = frame["program_id"].map(group)
        frame["unit"] = frame["unit"].where(frame["unit"].notna(), default_unit)
        frame["unit"] = frame["unit"].where(frame["unit"].notna(), "persons").astype("object")
        if table == "assignments":
            frame["status"] = frame["status"].where(frame["status"].notna(), "planned")
            frame["planned"] = frame["planned"].fillna(0)
            frame["achieved"] = frame["achieved"].fillna(0)
        out[table] = canonical(table, frame)
    out["programs"] = canonical("programs", programs)
    return out
