"""Helpers for keeping derived results in the store: JSON-safe values, a table's digest."""

from __future__ import annotations

import hashlib
import math
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["jsonable", "record_json", "table_digest"]


def jsonable(value: Any) -> Any:
    """``value`` with dates as ISO text and numpy scalars as Python numbers, recursively."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def record_json(value: Any) -> Any:
    """``value`` as JSON a record keeps: :func:`jsonable`, and NaN, infinity and pandas'
    missing values as None (JSON has no NaN)."""
    value = jsonable(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: record_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [record_json(v) for v in value]
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def table_digest(table: pd.DataFrame) -> str:
    """SHA-256 of a table's values and index: the ``source_sha256`` of a derived table."""
    hashed = pd.util.hash_pandas_object(table, index=True).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()
