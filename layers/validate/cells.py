"""Parsing cells as people type them: blanks, numbers with decimal commas, dates."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

EMPTY_TEXT = ("", "nan", "NaN", "None", "NULL", "null", "-")


def by_unique(series: pd.Series, func) -> pd.Series:
    """Apply ``func`` to each distinct value once (columns repeat few values many times)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    mapped = np.array([func(u) for u in uniques] + [None], dtype=object)
    return pd.Series(mapped[codes], index=series.index, dtype="object")


_EMPTY_ARROW = pa.array(EMPTY_TEXT)


def _arrow_text(series: pd.Series) -> pa.Array | None:
    """The column as an Arrow string array, or None when it does not hold text."""
    try:
        arr = pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if pa.types.is_large_string(arr.type) or pa.types.is_string_view(arr.type):
        arr = arr.cast(pa.string())
    return arr if pa.types.is_string(arr.type) else None


def blank(series: pd.Series) -> pd.Series:
    """Text with surrounding space removed; empty strings become missing.

    Text columns come back as pandas' Arrow-backed ``str`` dtype (no Python string per
    cell: a million-row layer keeps its text in Arrow from the file to the store); numbers,
    dates and mixed Python objects as object dtype with None for missing values.
    """
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
        return series.astype("object").where(series.notna(), None)
    arr = _arrow_text(series)
    if arr is None:  # mixed Python objects: strip the strings among them
        text = series.astype("object").map(lambda v: v.strip() if isinstance(v, str) else v)
        text = text.where(~text.isin(EMPTY_TEXT) & text.notna(), None)
        return text.astype("object")
    arr = pc.utf8_trim_whitespace(arr)
    arr = pc.if_else(pc.is_in(arr, value_set=_EMPTY_ARROW), pa.scalar(None, pa.string()), arr)
    return pd.Series(arr, index=series.index, dtype="str")


def to_number(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse numbers written with a decimal point or comma. Returns (values, bad mask)."""
    text = blank(series)
    present = text.notna()
    if pd.api.types.is_numeric_dtype(series):
        values = pd.to_numeric(series, errors="coerce")
        return values, present & values.isna()
    s = text.astype("string")
    comma_decimal = s.str.fullmatch(r"[-+]?\d{1,3}(\.\d{3})*,\d+|[-+]?\d+,\d+", na=False)
    s = s.where(
        ~comma_decimal, s.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    )
    values = pd.to_numeric(s, errors="coerce").astype("float64")
    return values, present & values.isna()


def parse_dates(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse dates: ISO first (the calendar date as written, time and zone dropped, so a
    KoboToolbox ``2024-03-05T06:00+07:00`` stays 5 March), then day-first as Indonesians
    write them (``05/03/2024``)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        naive = series.dt.tz_localize(None) if series.dt.tz else series
        return naive.dt.normalize().astype("datetime64[ns]"), pd.Series(False, index=series.index)
    first = series.dropna().head(1)
    if len(first) and isinstance(first.iloc[0], dt.date):  # dates from GeoPackage, Excel
        parsed = pd.to_datetime(series, errors="coerce").dt.normalize()
        return parsed.astype("datetime64[ns]"), series.notna() & parsed.isna()
    text = blank(series)
    present = text.notna()
    s = text.astype("string")
    arr = pa.array(s, from_pandas=True)
    iso = pc.fill_null(pc.match_substring_regex(arr, r"^\d{4}-\d{2}-\d{2}(?:[T ]|$)"), False)
    iso_day = pd.Series(
        pc.if_else(iso, pc.utf8_slice_codeunits(arr, 0, 10), pa.scalar(None, pa.string())).to_numpy(
            zero_copy_only=False
        ),
        index=series.index,
    )
    parsed = pd.to_datetime(iso_day, format="%Y-%m-%d", errors="coerce")
    rest = present & parsed.isna() & iso_day.isna()
    if rest.any():
        parsed.loc[rest] = pd.to_datetime(s[rest], dayfirst=True, errors="coerce", format="mixed")
    parsed = parsed.dt.normalize().astype("datetime64[ns]")
    return parsed, present & parsed.isna()


def map_vocabulary(series: pd.Series, vocab: dict[str, str]) -> tuple[pd.Series, np.ndarray]:
    """Map free text onto a vocabulary, case- and spacing-insensitively.

    Kobo exports answer names (``air_bersih``) where people type labels ("Air Bersih"), so
    underscores count as spaces. Each distinct value is handled once.

    Returns
    -------
    mapped : pandas.Series
        The vocabulary value per row (``str`` dtype), missing where blank or unknown.
    missing : numpy.ndarray of bool
        True where the cell is blank.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    cleaned = [u.strip() if isinstance(u, str) else u for u in uniques]
    blank_u = [c is None or (isinstance(c, str) and c in EMPTY_TEXT) for c in cleaned]
    mapped_u = [
        None if empty else vocab.get(re.sub(r"[\s_]+", " ", str(c).lower()))
        for c, empty in zip(cleaned, blank_u, strict=True)
    ]
    # Taken in Arrow: the result is text (``str`` dtype) without a Python string per row.
    mapped = pa.array([*mapped_u, None], type=pa.string()).take(
        pa.array(np.where(codes < 0, len(mapped_u), codes))
    )
    missing = np.array([*blank_u, True], dtype=bool)[codes]
    return pd.Series(mapped, index=series.index, dtype="str"), missing
