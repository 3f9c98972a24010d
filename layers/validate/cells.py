"""Parsing cells as people type them: blanks, numbers with decimal commas, dates."""

from __future__ import annotations

import numpy as np
import pandas as pd

EMPTY_TEXT = ("", "nan", "NaN", "None", "NULL", "null", "-")


def by_unique(series: pd.Series, func) -> pd.Series:
    """Apply ``func`` to each distinct value once (columns repeat few values many times)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    mapped = np.array([func(u) for u in uniques] + [None], dtype=object)
    return pd.Series(mapped[codes], index=series.index, dtype="object")


def blank(series: pd.Series) -> pd.Series:
    """Text with surrounding space removed; empty strings become missing (object dtype)."""
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
        return series.astype("object").where(series.notna(), None)
    text = series.astype("string").str.strip()
    text = text.where(~text.isin(EMPTY_TEXT))
    return text.astype("object").where(text.notna(), None)


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
    text = blank(series)
    present = text.notna()
    if pd.api.types.is_datetime64_any_dtype(series):
        naive = series.dt.tz_localize(None) if series.dt.tz else series
        return naive.dt.normalize().astype("datetime64[ns]"), present & series.isna()
    s = text.astype("string")
    iso_day = s.str.extract(r"^(\d{4}-\d{2}-\d{2})(?:[T ].*)?$", expand=False)
    parsed = pd.to_datetime(iso_day, format="%Y-%m-%d", errors="coerce")
    rest = present & parsed.isna() & iso_day.isna()
    if rest.any():
        parsed.loc[rest] = pd.to_datetime(s[rest], dayfirst=True, errors="coerce", format="mixed")
    parsed = parsed.dt.normalize().astype("datetime64[ns]")
    return parsed, present & parsed.isna()
