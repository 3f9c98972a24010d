"""Header cells to column names, and spreadsheet cells to the text a person sees."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

import pandas as pd

from layers.errors import N_, InputError


def header_names(raw: list[object], notes: list[str]) -> list[str]:
    """Header cells as column names: stripped, empty ones named, duplicates numbered."""
    names: list[str] = []
    renamed: list[str] = []
    for i, cell in enumerate(raw, start=1):
        name = (cell_text(cell) or "").strip().lstrip("\ufeff").strip()
        if not name:
            name = f"unnamed_{i}"
        if name in names:
            k = 1
            while f"{name}.{k}" in names or f"{name}.{k}" in raw:
                k += 1
            name = f"{name}.{k}"
            renamed.append(name)
        names.append(name)
    if renamed:
        notes.append(f"duplicate column names renamed: {', '.join(renamed)}")
    return names


def finish_columns(
    frame: pd.DataFrame, names: list[str], notes: list[str], source: str
) -> pd.DataFrame:
    """Name the columns, dropping header-less ones that hold nothing."""
    frame.columns = names
    # A trailing delimiter makes a column with neither header nor values: drop it quietly.
    unnamed = [n for n in names if re.fullmatch(r"unnamed_\d+", n)]
    drop = [n for n in unnamed if _all_blank(frame[n])]
    frame = frame.drop(columns=drop)
    kept = [n for n in unnamed if n not in drop]
    if kept:
        notes.append(f"columns without a header were named {', '.join(kept)}")
    if frame.shape[1] == 0:
        raise InputError(N_("the file has no columns"), file=source)
    return frame


def _all_blank(s: pd.Series) -> bool:
    return bool((s.isna() | (s.str.strip() == "")).all())


def cell_text(value: Any) -> str | None:
    """A spreadsheet cell as the text a person sees (whole numbers without '.0')."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)
