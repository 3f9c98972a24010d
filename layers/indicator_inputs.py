"""Checking the layers given to the indicators, and finding the village of each row."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from layers.errors import N_, InputError
from layers.placement import place_points

# --- input checks ----------------------------------------------------------------------


def require_columns(frame: pd.DataFrame, layer: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            N_("the %(layer)s layer lacks the column(s) %(missing)s; it has: %(found)s"),
            params={
                "layer": layer,
                "missing": ", ".join(missing),
                "found": ", ".join(map(str, frame.columns)),
            },
        )


def text_codes(series: pd.Series, layer: str, *, required: bool) -> pd.Series:
    """The codes, checked to be text (missing allowed unless ``required``)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    missing = series.isna()
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind not in ("string", "empty") and not missing.all():
        raise InputError(
            N_(
                "village codes in the %(layer)s layer must be text with their leading zeros "
                "(e.g. '15.02.01.2001'), found %(kind)s values"
            ),
            column="kode",
            params={"layer": layer, "kind": kind},
        )
    if required and missing.any():
        raise InputError(
            N_("%(count)s rows of the %(layer)s layer have no village code"),
            column="kode",
            params={"count": int(missing.sum()), "layer": layer},
        )
    return series


def crs_of(frame: pd.DataFrame, layer: str) -> pyproj.CRS | None:
    if not isinstance(frame, gpd.GeoDataFrame) or frame._geometry_column_name not in frame:
        return None
    geoms = frame.geometry.to_numpy()
    if frame.crs is None and not shapely.is_missing(geoms).all():
        raise InputError(
            N_(
                "the %(layer)s layer has no coordinate reference system; "
                "set one (EPSG:4326 as stored)"
            ),
            params={"layer": layer},
        )
    return frame.crs


def projected_points(frame: pd.DataFrame, layer: str, target: pyproj.CRS) -> np.ndarray:
    """Point geometries in ``target`` (None where missing), checked to be points."""
    if crs_of(frame, layer) is None:
        return np.full(len(frame), None, dtype=object)
    geoms = frame.geometry
    if frame.crs != target:
        geoms = geoms.to_crs(target)
    geoms = geoms.to_numpy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    kinds = shapely.get_type_id(geoms[present])
    if (kinds != shapely.GeometryType.POINT).any():
        found = sorted({shapely.GeometryType(k).name.title() for k in np.unique(kinds)})
        raise InputError(
            N_("the %(layer)s layer must hold points, found %(found)s"),
            params={"layer": layer, "found": ", ".join(found)},
        )
    geoms = geoms.copy()
    geoms[~present] = None
    return geoms


def check_vocabulary(series: pd.Series, allowed: tuple[str, ...], layer: str, column: str) -> None:
    missing = series.isna()
    if missing.any() and column != "status":
        raise InputError(
            N_("%(count)s rows of the %(layer)s layer have no %(column)s"),
            column=column,
            params={"count": int(missing.sum()), "layer": layer, "column": column},
        )
    bad = ~missing & ~series.isin(allowed)
    if bad.any():
        found = sorted({str(v) for v in series[bad].unique()[:100]})[:5]
        raise InputError(
            N_(
                "unknown %(column)s value(s) %(found)s in the %(layer)s layer; "
                "use one of %(allowed)s"
            ),
            column=column,
            params={
                "column": column,
                "found": ", ".join(found),
                "layer": layer,
                "allowed": ", ".join(allowed),
            },
        )


# --- placing rows in villages ----------------------------------------------------------


def village_positions(
    codes: pd.Series | None, points: np.ndarray, index: pd.Index, villages: np.ndarray
) -> tuple[np.ndarray, dict[str, Any]]:
    """Village position per row: by its code when it has one, else by its point."""
    n = len(points)
    if codes is None:
        has_code = np.zeros(n, dtype=bool)
        pos = np.full(n, -1, dtype=np.int64)
    else:
        has_code = codes.notna().to_numpy()
        pos = index.get_indexer(codes).astype(np.int64)
        pos[~has_code] = -1
    unknown = has_code & (pos < 0)
    need_place = ~has_code & ~shapely.is_missing(points)
    placed = np.zeros(n, dtype=bool)
    if need_place.any():
        where = np.flatnonzero(need_place)
        found = place_points(points[where], villages, index.to_numpy()).village
        pos[where] = found
        placed[where[found >= 0]] = True
    examples = [] if codes is None else sorted(codes[unknown].astype(str).unique()[:100])[:5]
    stats = {
        "rows": n,
        "by_code": int((has_code & ~unknown).sum()),
        "placed": int(placed.sum()),
        "unplaced": int((~has_code & ~placed).sum()),
        "unknown_code": int(unknown.sum()),
        "unknown_code_examples": examples,
    }
    return pos, stats
