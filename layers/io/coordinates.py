"""Coordinates in tables: finding the columns and parsing lat/lon, x/y, "lat, lon" and WKT."""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from layers.io.common import COORD_ERROR, WGS84

_BLANK = ("", "nan", "none", "null", "-")
_NUMBER = r"[+-]?(?:\d+(?:[.,]\d+)?|[.,]\d+)"
_PAIR_RE = (
    rf"^\s*[\[\(]?\s*(?P<lat>{_NUMBER})\s*(?:[,;]\s*|\s+)(?P<lon>{_NUMBER})"
    rf"(?:(?:\s*[,;]\s*|\s+){_NUMBER}){{0,2}}\s*[\]\)]?\s*$"
)
_DECIMAL_COMMA_RE = r"[+-]?\d*,\d+"

# Column names (normalised: lower case, last part of a group path, separators as "_").
_LAT_NAMES = ("latitude", "lat", "lintang", "lat_dd", "latitude_dd", "latitud", "gps_latitude")
_LON_NAMES = (
    "longitude",
    "lon",
    "lng",
    "long",
    "bujur",
    "lon_dd",
    "longitude_dd",
    "longitud",
    "gps_longitude",
)
_XY_PAIRS = (
    ("x", "y"),
    ("point_x", "point_y"),
    ("xcoord", "ycoord"),
    ("x_coord", "y_coord"),
    ("coord_x", "coord_y"),
    ("koordinat_x", "koordinat_y"),
    ("easting", "northing"),
)
_GEOLOCATION = "geolocation"  # Kobo's _geolocation, normalised
_POINT_NAMES = (
    "koordinat",
    "coordinates",
    "coordinate",
    "titik_koordinat",
    "lokasi",
    "location",
    "gps",
    "geopoint",
    "latlon",
    "lat_lon",
    "latlong",
    "lat_long",
)
_WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "geometri")


class Coordinates(NamedTuple):
    """Points parsed from a table, with what went wrong per row."""

    geometry: np.ndarray  # shapely geometries or None, one per row
    errors: np.ndarray | None  # the offending text per row (None where fine)
    crs: str | None
    columns: tuple[str, ...]
    notes: list[str]


def _norm(name: object) -> str:
    """Normalise a column name for matching: last group part, lower case, '_' separators."""
    text = str(name).strip().lower()
    text = text.rsplit("/", 1)[-1]
    text = re.sub(r"\(.*?\)|\[.*?\]", "", text)  # "Lintang (LS)", "lat [deg]"
    text = re.sub(r"[\s\-:.]+", "_", text)
    return text.strip("_")


def find_coordinates(frame: pd.DataFrame, kobo: bool) -> tuple[str, tuple[str, ...]] | None:
    """Where the coordinates are: ('latlon'|'xy', (lat, lon)), ('point'|'wkt', (col,))."""
    normed: dict[str, str] = {}
    for col in frame.columns:
        normed.setdefault(_norm(col), col)
    lat = next((normed[n] for n in _LAT_NAMES if n in normed), None)
    lon = next((normed[n] for n in _LON_NAMES if n in normed), None)
    if lat is not None and lon is not None:
        return "latlon", (lat, lon)
    # Kobo `_lokasi_latitude`, ODK Central `lokasi-Latitude`: a question's split geopoint.
    for col in frame.columns:
        n = _norm(col)
        partner = normed.get(n[: -len("latitude")] + "longitude")
        if n.endswith("_latitude") and partner is not None:
            return "latlon", (col, partner)
    if _GEOLOCATION in normed:
        return "point", (normed[_GEOLOCATION],)
    for x_name, y_name in _XY_PAIRS:
        if x_name in normed and y_name in normed:
            return "xy", (normed[y_name], normed[x_name])
    for name in _POINT_NAMES:
        if name in normed and _any_pair(frame[normed[name]]):
            return "point", (normed[name],)
    for name in _WKT_NAMES:
        if name in normed:
            return "wkt", (normed[name],)
    if kobo:  # a Kobo geopoint column under the question's own name: "lat lon alt acc"
        for col in frame.columns:
            if _any_pair(frame[col], need_four=True):
                return "point", (col,)
    return None


def lone_axis_hint(frame: pd.DataFrame) -> str:
    """Name a latitude column without a longitude one (or the reverse), if there is one."""
    names = {_norm(c): c for c in reversed(frame.columns)}
    lone = [names[n] for n in (*_LAT_NAMES, *_LON_NAMES) if n in names]
    return f" (found '{lone[0]}' but not its partner)" if lone else ""


def parse_coordinates(frame: pd.DataFrame, kind: str, columns: tuple[str, ...]) -> Coordinates:
    """Parse the columns :func:`find_coordinates` found into points."""
    if kind in ("latlon", "xy"):
        return _parse_pair(frame, columns[0], columns[1], degrees=kind == "latlon")
    if kind == "point":
        return _parse_single(frame, columns[0])
    return _parse_wkt(frame, columns[0])


def _arrow(series: pd.Series) -> pa.Array:
    return pa.array(series.astype("str"), from_pandas=True)


def _blank_mask(text: pa.Array) -> np.ndarray:
    low = pc.utf8_lower(pc.utf8_trim_whitespace(text))
    blank = pc.or_kleene(pc.is_null(low), pc.is_in(low, value_set=pa.array(_BLANK)))
    return np.asarray(blank.fill_null(True).to_numpy(zero_copy_only=False), dtype=bool)


def _numbers(text: pa.Array) -> tuple[np.ndarray, np.ndarray, bool]:
    """Parse coordinate text; return (values, bad mask, decimal comma used)."""
    s = pc.utf8_trim_whitespace(text)
    s = pc.replace_substring(s, "\u2212", "-")  # the minus sign word processors insert
    s = pc.utf8_rtrim(s, characters="°")
    comma = pc.match_substring_regex(s, f"^{_DECIMAL_COMMA_RE}$").fill_null(False)
    used_comma = bool(pc.any(comma).as_py())
    if used_comma:
        s = pc.if_else(comma, pc.replace_substring(s, ",", "."), s)
    blank = _blank_mask(text)
    values = pd.to_numeric(pd.Series(s.to_pandas(), dtype="str"), errors="coerce")
    values = np.array(values.to_numpy(dtype=np.float64, na_value=np.nan))
    values[blank] = np.nan
    bad = ~blank & ~np.isfinite(values)
    return values, bad, used_comma


def _points(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    geoms = np.full(len(lat), None, dtype=object)
    ok = np.isfinite(lat) & np.isfinite(lon)
    geoms[ok] = shapely.points(lon[ok], lat[ok])
    return geoms


def _parse_pair(frame: pd.DataFrame, lat_col: str, lon_col: str, degrees: bool) -> Coordinates:
    lat_text, lon_text = _arrow(frame[lat_col]), _arrow(frame[lon_col])
    lat, lat_bad, comma1 = _numbers(lat_text)
    lon, lon_bad, comma2 = _numbers(lon_text)
    lat_blank, lon_blank = _blank_mask(lat_text), _blank_mask(lon_text)
    errors = np.full(len(frame), None, dtype=object)
    half = (lat_blank ^ lon_blank) & ~lat_bad & ~lon_bad
    if half.any() or lat_bad.any() or lon_bad.any():
        lat_raw = np.asarray(lat_text.fill_null("(blank)").to_pylist(), dtype=object)
        lon_raw = np.asarray(lon_text.fill_null("(blank)").to_pylist(), dtype=object)
        errors[half] = [f"{a}, {b}" for a, b in zip(lat_raw[half], lon_raw[half], strict=True)]
        errors[lon_bad] = lon_raw[lon_bad]
        errors[lat_bad] = lat_raw[lat_bad]
    geoms = _points(lat, lon)
    notes = ["decimal comma"] if comma1 or comma2 else []
    crs = WGS84 if degrees else None
    if not degrees:
        notes.append(
            f"coordinates from '{lon_col}' (x) and '{lat_col}' (y); "
            "the file does not say their coordinate reference system"
        )
    return Coordinates(geoms, errors, crs, (lat_col, lon_col), notes)


def _any_pair(series: pd.Series, need_four: bool = False) -> bool:
    """Whether any of the first 1000 values reads as a "lat lon" pair (ODK: 4 numbers)."""
    head = _arrow(series.iloc[:1000])
    pattern = rf"^\s*{_NUMBER}\s+{_NUMBER}\s+{_NUMBER}\s+{_NUMBER}\s*$" if need_four else _PAIR_RE
    return bool(pc.any(pc.match_substring_regex(head, pattern)).as_py())


def _parse_single(frame: pd.DataFrame, col: str) -> Coordinates:
    """Parse a single column holding "lat, lon", "lat lon", "[lat, lon]" or "lat lon alt acc"."""
    text = _arrow(frame[col])
    # "[None, None]" or "null null" means no location was taken: blank, not an error.
    skeleton = pc.replace_substring_regex(pc.utf8_lower(text), r"[\[\]\(\),;\s]+", " ")
    skeleton = pc.utf8_trim_whitespace(skeleton)
    empty_parts = pc.match_substring_regex(skeleton, r"^((nan|none|null)( (nan|none|null))*)?$")
    blank = _blank_mask(text) | empty_parts.fill_null(True).to_numpy(zero_copy_only=False)
    parts = pc.extract_regex(text, _PAIR_RE)
    lat, lat_bad, comma1 = _numbers(pc.struct_field(parts, "lat"))
    lon, lon_bad, comma2 = _numbers(pc.struct_field(parts, "lon"))
    unmatched = np.asarray(pc.is_null(parts).to_numpy(zero_copy_only=False), dtype=bool)
    bad = ~blank & (unmatched | lat_bad | lon_bad)
    lat[bad | blank] = np.nan
    lon[bad | blank] = np.nan
    errors = np.full(len(frame), None, dtype=object)
    errors[bad] = np.asarray(text.to_pandas(), dtype=object)[bad]
    notes = ["decimal comma"] if comma1 or comma2 else []
    return Coordinates(_points(lat, lon), errors, WGS84, (col,), notes)


def _parse_wkt(frame: pd.DataFrame, col: str) -> Coordinates:
    """Parse a WKT column (``SRID=n;`` EWKT prefixes give the CRS)."""
    text = _arrow(frame[col])
    blank = _blank_mask(text)
    srid = pc.extract_regex(text, r"^\s*(?i:srid)=(?P<srid>\d+)\s*;")
    body = pc.replace_substring_regex(text, r"^\s*(?i:srid)=\d+\s*;", "")
    values = np.asarray(body.to_pandas(), dtype=object)
    values[blank] = None
    geoms = shapely.from_wkt(values, on_invalid="ignore")
    bad = ~blank & shapely.is_missing(geoms)
    errors = np.full(len(frame), None, dtype=object)
    errors[bad] = np.asarray(text.to_pandas(), dtype=object)[bad]
    codes = pc.unique(pc.struct_field(srid, "srid").drop_null()).to_pylist()
    notes: list[str] = []
    crs = None
    if len(codes) == 1:
        crs = f"EPSG:{codes[0]}"
    elif len(codes) > 1:
        notes.append(f"several SRIDs in '{col}' ({', '.join(codes)}); CRS left unknown")
    else:
        notes.append(f"geometry from WKT column '{col}'; the file does not say its CRS")
    return Coordinates(geoms, errors, crs, (col,), notes)


def uses_decimal_comma(frame: pd.DataFrame, delimiter: str | None, skip: tuple[str, ...]) -> bool:
    """Whether number-like cells are written with a decimal comma (first 1000 rows)."""
    if delimiter == ",":
        return False
    head = frame.iloc[:1000]
    for col in head.columns:
        if col in skip or col == COORD_ERROR:
            continue
        matches = head[col].str.fullmatch(_DECIMAL_COMMA_RE)
        if bool(matches.fillna(False).any()):
            return True
    return False
