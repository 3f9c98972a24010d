"""Register files: reading and writing the three tables as XLSX or CSV (three files or a zip).

Layout (documented in ``docs/programs.md``): an XLSX workbook with the sheets
``programs``, ``assignments`` and ``activities``; or the same tables as three CSV files
``programs.csv``, ``assignments.csv`` and ``activities.csv``, in a folder or a zip.
Indonesian sheet and file names are accepted too (``program``, ``lokasi``,
``kegiatan``...). Every cell is read as text, so codes keep their leading zeros.
Writing is atomic: a temporary file beside the target, then a rename.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from layers.atomic import replacing
from layers.errors import N_, InputError
from layers.io import XLSX_ENGINE
from layers.io.delimited import read_csv
from layers.io.xlsx import read_xlsx, sheet_names
from layers.programs.checks import RawTable, normalise_header
from layers.programs.model import FIELDS, TABLE_NAMES, TABLES

FORMATS: tuple[str, ...] = ("xlsx", "csv")
#: Column types written as numbers in XLSX (everything else is a text cell).
_NUMERIC = ("money", "number", "count")


def _table_of(name: str) -> str | None:
    norm = normalise_header(name)
    for table, names in TABLE_NAMES.items():
        if norm in names:
            return table
    return None


def _drop_blank(frame: pd.DataFrame, rows: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    if frame.shape[1] == 0 or len(frame) == 0:
        return frame.iloc[:0], rows[:0]
    filled = np.zeros(len(frame), dtype=bool)
    for col in frame.columns:
        s = frame[col].astype("object")
        filled |= s.map(lambda v: v is not None and str(v).strip() != "" and v == v).to_numpy(
            dtype=bool
        )
    return frame.loc[filled].reset_index(drop=True), rows[filled]


def read_register_file(path: str | os.PathLike[str]) -> dict[str, RawTable]:
    """Read a register file into its raw tables.

    Parameters
    ----------
    path : path-like
        An ``.xlsx`` workbook, a ``.zip`` of CSV files, a folder holding the CSV files, or
        one of the CSV files (its siblings are found by name).

    Returns
    -------
    dict
        ``programs`` and, when present, ``assignments`` and ``activities``.

    Raises
    ------
    InputError
        The file is missing, of an unsupported type, unreadable, or has no programs table.
    """
    p = Path(path)
    source = p.name or str(p)
    if not p.exists():
        raise InputError(N_("file not found: %(path)s"), file=source, params={"path": str(p)})
    ext = p.suffix.lower()
    if p.is_dir():
        found = _csv_members({f.name: f for f in sorted(p.iterdir()) if f.is_file()})
        tables = {t: _read_csv_path(f, f.name) for t, f in found.items()}
    elif ext == ".xlsx":
        tables = _read_workbook(p, source)
    elif ext == ".zip":
        tables = _read_zip(p, source)
    elif ext in (".csv", ".txt"):
        found = _csv_members({f.name: f for f in sorted(p.parent.iterdir()) if f.is_file()})
        if _table_of(p.stem) is None:
            found = {"programs": p, **{k: v for k, v in found.items() if k != "programs"}}
        tables = {t: _read_csv_path(f, f.name) for t, f in found.items()}
    else:
        raise InputError(
            N_(
                "unsupported register file '%(ext)s'; use an .xlsx workbook, a .zip of CSV "
                "files or the programs.csv file"
            ),
            file=source,
            params={"ext": ext or p.name},
        )
    if "programs" not in tables:
        raise InputError(
            N_("no programs table found; name the sheet or CSV file 'programs' (found: %(found)s)"),
            file=source,
            params={"found": ", ".join(sorted(tables)) or "-"},
        )
    return tables


def _csv_members(files: Mapping[str, object]) -> dict[str, object]:
    found: dict[str, object] = {}
    for name, f in files.items():
        if Path(name).suffix.lower() not in (".csv", ".txt"):
            continue
        table = _table_of(Path(name).stem)
        if table is not None and table not in found:
            found[table] = f
    return found


def _read_csv_path(p: Path, source: str, sheet: str | None = None) -> RawTable:
    if p.stat().st_size == 0:
        raise InputError(N_("the file is empty (0 bytes)"), file=source)
    frame, rows, _ = read_csv(p, source, [])
    frame, rows = _drop_blank(frame, rows)
    return RawTable(frame=frame, rows=rows, file=source, sheet=sheet or Path(source).stem)


def _read_zip(p: Path, source: str) -> dict[str, RawTable]:
    from layers.uploads import check_archive

    try:
        archive = zipfile.ZipFile(p)
    except zipfile.BadZipFile as exc:
        raise InputError(
            N_("cannot read the file as a zip: %(reason)s"),
            file=source,
            params={"reason": str(exc)},
        ) from exc
    with archive, tempfile.TemporaryDirectory() as tmp:
        check_archive(archive, source=source)
        names = {
            Path(i.filename).name: i for i in archive.infolist() if not i.is_dir() and i.filename
        }
        found = _csv_members(names)
        tables = {}
        for table, info in found.items():
            target = Path(tmp) / f"{table}.csv"
            target.write_bytes(archive.read(info))
            member = Path(info.filename).name
            raw = _read_csv_path(target, f"{source}/{member}", Path(member).stem)
            tables[table] = raw
    return tables


def _read_workbook(p: Path, source: str) -> dict[str, RawTable]:
    engine = XLSX_ENGINE
    tables = {}
    for sheet in sheet_names(p, source, engine):
        table = _table_of(sheet)
        if table is None or table in tables:
            continue
        try:
            frame, rows = read_xlsx(p, source, sheet, [], engine)
        except InputError as exc:
            if "is empty" in exc.template and table != "programs":
                continue
            raise
        frame, rows = _drop_blank(frame, rows)
        tables[table] = RawTable(frame=frame, rows=rows, file=source, sheet=sheet)
    return tables


# --- writing ------------------------------------------------------------------------------


def export_frames(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The register's tables as written to files: dates as ``YYYY-MM-DD`` text, blanks empty.

    Parameters
    ----------
    tables : mapping
        Canonical ``programs``, ``assignments`` and ``activities`` frames.
    """
    out = {}
    for table in TABLES:
        frame = tables[table].reset_index(drop=True)
        cols = {}
        for f in FIELDS[table]:
            values = frame[f.name]
            if f.dtype == "date":
                cols[f.name] = (
                    values.dt.strftime("%Y-%m-%d").astype("object").where(values.notna(), None)
                )
            elif f.dtype in _NUMERIC:
                cols[f.name] = values.astype("object").where(values.notna(), None)
            else:
                cols[f.name] = values.astype("object").where(values.notna(), None)
        out[table] = pd.DataFrame(cols, index=pd.RangeIndex(len(frame)))
    return out


def _number_text(value: object) -> str:
    if value is None:
        return ""
    f = float(value)  # type: ignore[arg-type]
    return str(int(f)) if f.is_integer() and abs(f) < 1e15 else repr(f)


def _csv_bytes(table: str, frame: pd.DataFrame) -> bytes:
    text = frame.copy()
    for f in FIELDS[table]:
        if f.dtype in _NUMERIC:
            text[f.name] = text[f.name].map(_number_text)
    buffer = io.StringIO()
    text.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode("utf-8")


def atomic_write(target: Path, write) -> None:
    """Call ``write(temporary path)`` and rename the result over ``target`` if it succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with replacing(target) as partial:
        write(partial)


def write_register_file(
    tables: Mapping[str, pd.DataFrame], path: str | os.PathLike[str], fmt: str | None = None
) -> Path:
    """Write the register to ``path`` atomically.

    Parameters
    ----------
    tables : mapping
        Canonical ``programs``, ``assignments`` and ``activities`` frames.
    path : path-like
        Target file: ``.xlsx`` for a workbook, ``.zip`` for the CSV files zipped.
    fmt : {"xlsx", "csv"}, optional
        From the extension when omitted (``.xlsx`` -> xlsx, ``.zip``/``.csv`` -> csv). CSV
        is always written as a zip of three files; a ``.csv`` target becomes ``.zip``.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    InputError
        An unknown format, or a format that does not fit the extension.
    """
    p = Path(path)
    ext = p.suffix.lower()
    if fmt is None:
        fmt = {".xlsx": "xlsx", ".zip": "csv", ".csv": "csv"}.get(ext)
        if fmt is None:
            raise InputError(
                N_("cannot tell the format from '%(name)s'; end the name with .xlsx or .zip"),
                params={"name": p.name},
            )
    if fmt not in FORMATS:
        raise InputError(N_("unknown format %(format)r; use xlsx or csv"), params={"format": fmt})
    if fmt == "csv" and ext != ".zip":
        p = p.with_suffix(".zip")
    if fmt == "xlsx" and ext != ".xlsx":
        raise InputError(
            N_("an XLSX export needs a name ending in .xlsx, not '%(name)s'"),
            params={"name": p.name},
        )
    frames = export_frames(tables)
    if fmt == "csv":

        def write(tmp: Path) -> None:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for table in TABLES:
                    archive.writestr(f"{table}.csv", _csv_bytes(table, frames[table]))

    else:

        def write(tmp: Path) -> None:
            _write_xlsx(frames, tmp)

    atomic_write(p, write)
    return p


def _write_xlsx(frames: Mapping[str, pd.DataFrame], target: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING

    wb = Workbook()
    wb.remove(wb.active)
    for table in TABLES:
        ws = wb.create_sheet(table)
        fields = FIELDS[table]
        ws.append([f.name for f in fields])
        frame = frames[table]
        arrays = [frame[f.name].to_numpy(dtype=object) for f in fields]
        for i in range(len(frame)):
            ws.append([_xlsx_value(a[i]) for a in arrays])
        for j, f in enumerate(fields, start=1):
            if f.dtype in _NUMERIC:
                continue
            for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                if cell.value is not None:
                    cell.data_type = TYPE_STRING
                cell.number_format = "@"
        for j, f in enumerate(fields, start=1):
            ws.column_dimensions[ws.cell(1, j).column_letter].width = max(12, len(f.name) + 2)
    wb.save(target)


def _xlsx_value(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    return value
