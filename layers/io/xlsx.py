"""Excel workbooks (.xlsx) through calamine or openpyxl; the header may sit below a title."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from layers.errors import N_, InputError
from layers.io.columns import cell_text, finish_columns, header_names
from layers.io.common import clean_reason


def default_engine() -> str:
    """'calamine' (Rust, about 15 times faster) when installed, else 'openpyxl'."""
    try:
        import python_calamine  # noqa: F401
    except ImportError:
        return "openpyxl"
    return "calamine"


def _unreadable_xlsx(exc: BaseException, p: Path, source: str) -> InputError:
    reason = clean_reason(exc, [str(p), str(p.resolve())], source)
    return InputError(
        N_("cannot read the file as Excel (.xlsx): %(reason)s"),
        file=source,
        params={"reason": reason},
    )


def sheet_names(p: Path, source: str, engine: str) -> list[str]:
    """The workbook's sheet names, read with ``engine`` ('calamine' or 'openpyxl').

    A workbook is a ZIP archive: it is checked like an uploaded archive first (sizes,
    compression ratio, member names), so a crafted file cannot exhaust the machine.
    """
    import zipfile

    from layers.uploads import check_archive

    if zipfile.is_zipfile(p):
        check_archive(p, source=source)
    try:
        if engine == "calamine":
            from python_calamine import CalamineWorkbook

            return list(CalamineWorkbook.from_path(str(p)).sheet_names)
        import openpyxl

        wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
        names = list(wb.sheetnames)
        wb.close()
        return names
    except Exception as exc:  # both raise zip, XML and key errors for broken files
        raise _unreadable_xlsx(exc, p, source) from exc


def _sheet_lines(
    p: Path, source: str, sheet: str, engine: str
) -> list[list[Any] | tuple[Any, ...]]:
    """Every line of a sheet from line 1, as cell values (empty cells None or '')."""
    try:
        if engine == "calamine":
            from python_calamine import CalamineWorkbook

            wb = CalamineWorkbook.from_path(str(p))
            return wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        import openpyxl

        wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
        try:
            return list(wb[sheet].iter_rows(min_row=1, values_only=True))
        finally:
            wb.close()
    except Exception as exc:
        reason = clean_reason(exc, [str(p), str(p.resolve())], source)
        raise InputError(
            N_("cannot read the sheet '%(sheet)s': %(reason)s"),
            file=source,
            params={"sheet": sheet, "reason": reason},
        ) from exc


def read_xlsx(
    p: Path, source: str, sheet: str | None, notes: list[str], engine: str
) -> tuple[pd.DataFrame, np.ndarray]:
    """A sheet (the first by default) as text columns, with the spreadsheet line numbers."""
    sheets = sheet_names(p, source, engine)
    if sheet is not None and sheet not in sheets:
        raise InputError(
            N_("no sheet named '%(sheet)s'; the sheets are: %(sheets)s"),
            file=source,
            params={"sheet": sheet, "sheets": ", ".join(sheets)},
        )
    if not sheets:
        raise InputError(N_("the workbook has no sheets"), file=source)
    title = sheet if sheet is not None else sheets[0]
    if len(sheets) > 1 and sheet is None:
        notes.append(f"read the first sheet '{title}' of {len(sheets)}")
    lines = _sheet_lines(p, source, title, engine)
    # The header is the first line with two or more cells filled; a title above it has one.
    filled = [sum(cell_text(v) is not None for v in row) for row in lines[:200]]
    at = next((i for i, count in enumerate(filled) if count >= 2), None)
    if at is None:
        at = next((i for i, count in enumerate(filled) if count), None)
    if at is None:
        raise InputError(N_("the sheet '%(sheet)s' is empty"), file=source, params={"sheet": title})
    header, records = lines[at], lines[at + 1 :]
    if at > 0:
        notes.append(f"header on line {at + 1}")
    width = max([len(header), *(len(r) for r in records)])
    names = header_names([*header, *[None] * (width - len(header))], notes)
    columns: dict[str, Any] = {}
    for j, name in enumerate(names):
        cells = [cell_text(r[j]) if j < len(r) else None for r in records]
        columns[name] = pd.array(cells, dtype="str")
    frame = pd.DataFrame(columns, index=pd.RangeIndex(len(records)))
    frame = finish_columns(frame, names, notes, source)
    return frame, np.arange(at + 2, at + 2 + len(records), dtype=np.int64)
