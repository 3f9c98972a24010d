"""Tables (CSV and XLSX) as raw layers: blank rows dropped, coordinates made points."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from layers.errors import N_, InputError
from layers.io.common import COORD_ERROR, RawLayer, is_kobo
from layers.io.coordinates import (
    Coordinates,
    find_coordinates,
    lone_axis_hint,
    parse_coordinates,
    uses_decimal_comma,
)
from layers.io.delimited import read_csv
from layers.io.xlsx import read_xlsx


def read_table(
    p: Path, source: str, fmt: str, sheet: str | None, digest: str, xlsx_engine: str
) -> RawLayer:
    """Read a CSV or XLSX file (``xlsx_engine`` reads workbooks) into a :class:`RawLayer`."""
    notes: list[str] = []
    if fmt == "csv":
        frame, rows, delimiter = read_csv(p, source, notes)
    else:
        frame, rows = read_xlsx(p, source, sheet, notes, xlsx_engine)
        delimiter = None
    frame, rows = _drop_empty(frame, rows, notes)
    if len(frame) == 0:
        raise InputError(N_("the file has a header but no data rows"), file=source)
    kobo = is_kobo([str(c) for c in frame.columns])
    found = find_coordinates(frame, kobo)
    coords = Coordinates(np.full(len(frame), None, dtype=object), None, None, (), [])
    if found is not None:
        coords = parse_coordinates(frame, *found)
        notes.extend(coords.notes)
        if "geometry" in coords.columns:  # a WKT column called geometry becomes the geometry
            frame = frame.drop(columns="geometry")
        frame[COORD_ERROR] = pd.array(coords.errors, dtype="str")
    else:
        notes.append("no coordinate columns" + lone_axis_hint(frame))
    if "geometry" in frame.columns:
        frame = frame.rename(columns={"geometry": "geometry_source"})
        notes.append("source column 'geometry' renamed 'geometry_source'")
    if "decimal comma" not in notes and uses_decimal_comma(frame, delimiter, coords.columns):
        notes.append("decimal comma")
    geometry = gpd.GeoSeries(coords.geometry, index=frame.index)
    gdf = gpd.GeoDataFrame(frame, geometry=geometry, crs=coords.crs)
    return RawLayer(
        frame=gdf,
        source=source,
        format=f"kobo-{fmt}" if kobo else fmt,
        rows=rows,
        crs_from_file=coords.crs is not None,
        coordinate_columns=coords.columns,
        notes=notes,
        sha256=digest,
    )


def _drop_empty(
    frame: pd.DataFrame, rows: np.ndarray, notes: list[str]
) -> tuple[pd.DataFrame, np.ndarray]:
    """Drop rows whose every cell is blank, keeping the line numbers of the others."""
    if frame.shape[1] == 0:
        return frame.iloc[:0], rows[:0]
    blank = np.ones(len(frame), dtype=bool)
    for col in frame.columns:
        s = frame[col]
        blank &= (s.isna() | (s.str.strip() == "")).to_numpy(dtype=bool, na_value=True)
    if blank.any():
        count = int(blank.sum())
        notes.append(f"{count} empty row{'s' if count > 1 else ''} skipped")
        frame = frame.loc[~blank].reset_index(drop=True)
        rows = rows[~blank]
    return frame, rows
