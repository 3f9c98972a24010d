"""Geometry checks: CRS policy, polygon repair, point coordinates and swapped lat/lon."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import geopandas as gpd
import numpy as np
import shapely

from layers.errors import N_, InputError
from layers.io import RawLayer
from layers.placement import Placement, VillageIndex
from layers.report import ValidationReport
from layers.schema import STORAGE_CRS
from layers.validate.cells import blank
from layers.validate.checker import RowChecker

#: Degrees bounds of Indonesia with a margin: the fallback area for swap detection.
INDONESIA_BOUNDS = (94.0, -12.0, 142.0, 7.0)


POINT, MULTIPOINT, POLYGON, MULTIPOLYGON = 0, 4, 3, 6
#: Geometries from which validity is checked on several threads.
PARALLEL_GEOMETRIES = 20_000


TYPE_NAMES = np.array(
    [
        "Point",
        "LineString",
        "LinearRing",
        "Polygon",
        "MultiPoint",
        "MultiLineString",
        "MultiPolygon",
        "GeometryCollection",
    ],
    dtype=object,
)


def type_names(type_ids: np.ndarray) -> np.ndarray:
    """Geometry type names for shapely type ids (``missing`` for None)."""
    ids = np.asarray(type_ids)
    return np.where(ids >= 0, TYPE_NAMES[np.clip(ids, 0, 7)], "missing")


def polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep only the polygonal parts of repaired geometries (make_valid can add lines).

    Returns Polygons where one part remains, MultiPolygons where several do, and empty
    Polygons where none does.
    """
    geoms = np.asarray(geoms, dtype=object)
    out = geoms.copy()
    mixed = ~np.isin(shapely.get_type_id(geoms), (POLYGON, MULTIPOLYGON))
    if not mixed.any():
        return out
    # Flatten collections (and multipolygons inside them) down to single parts.
    parts, owner = shapely.get_parts(geoms[mixed], return_index=True)
    parts, inner = shapely.get_parts(parts, return_index=True)
    owner = owner[inner]
    poly = shapely.get_type_id(parts) == POLYGON
    parts, owner = parts[poly], owner[poly]
    counts = np.bincount(owner, minlength=mixed.sum())
    merged = np.full(mixed.sum(), shapely.Polygon(), dtype=object)
    if len(parts):
        multi = shapely.multipolygons(parts, indices=owner)
        has = np.flatnonzero(counts > 0)
        merged[has] = multi[has]
        one = counts == 1
        if one.any():
            merged[one] = shapely.get_geometry(merged[one], 0)
    out[mixed] = merged
    return out


def is_valid(geoms: np.ndarray) -> np.ndarray:
    """:func:`shapely.is_valid`, on a thread per core for many geometries.

    GEOS checks each geometry on its own and shapely releases the GIL meanwhile.
    """
    parts = min(os.cpu_count() or 1, 4) if len(geoms) >= PARALLEL_GEOMETRIES else 1
    if parts == 1:
        return shapely.is_valid(geoms)
    bounds = np.linspace(0, len(geoms), parts + 1).astype(int)
    with ThreadPoolExecutor(parts) as pool:
        pieces = pool.map(lambda a, b: shapely.is_valid(geoms[a:b]), bounds[:-1], bounds[1:])
        return np.concatenate(list(pieces))


def check_crs(raw: RawLayer, crs: str | None, report: ValidationReport) -> gpd.GeoSeries:
    """Return the geometries in EPSG:4326, assuming WGS 84 only when that is safe."""
    geom = raw.frame.geometry
    if crs is not None and raw.frame.crs is not None and raw.crs_from_file:
        given = gpd.GeoSeries([], crs=crs).crs
        if given != raw.frame.crs:
            raise InputError(
                N_(
                    "the file says its CRS is %(found)s but %(given)s was given; "
                    "remove the option or fix the file"
                ),
                file=raw.source,
                params={"found": raw.frame.crs.to_string(), "given": given.to_string()},
            )
    if raw.frame.crs is None or not raw.crs_from_file:
        if crs is not None:
            geom = gpd.GeoSeries(geom.values, index=geom.index, crs=crs)
        else:
            present = geom[~(geom.isna() | geom.is_empty)]
            if len(present):
                minx, miny, maxx, maxy = present.total_bounds
                if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
                    raise InputError(
                        N_(
                            "the file has no coordinate reference system and its coordinates "
                            "(x %(minx)s to %(maxx)s, y %(miny)s to %(maxy)s) are not degrees; "
                            "give the CRS (e.g. --crs EPSG:32748) or add a .prj file"
                        ),
                        file=raw.source,
                        params={
                            "minx": f"{minx:.0f}",
                            "maxx": f"{maxx:.0f}",
                            "miny": f"{miny:.0f}",
                            "maxy": f"{maxy:.0f}",
                        },
                    )
                report.add("warning", "crs_assumed")
            geom = gpd.GeoSeries(geom.values, index=geom.index, crs=STORAGE_CRS)
    if geom.crs is not None and not geom.crs.equals(gpd.GeoSeries([], crs=STORAGE_CRS).crs):
        report.add("repaired", "crs_transformed", source=geom.crs.to_string())
        geom = geom.to_crs(STORAGE_CRS)
    return geom


def check_polygons(v: RowChecker, geom: gpd.GeoSeries) -> np.ndarray:
    """Reject missing, empty and non-polygon geometries; repair invalid ones (make_valid)."""
    values = geom.to_numpy(dtype=object).copy()
    missing = shapely.is_missing(values)
    v.reject(missing, "geometry_missing", "geometry")
    safe = np.where(missing, shapely.Point(), values)
    v.reject(~missing & shapely.is_empty(safe), "geometry_empty", "geometry")
    type_ids = shapely.get_type_id(safe)
    wrong = ~np.isin(type_ids, (POLYGON, MULTIPOLYGON))
    v.reject(
        wrong,
        "geometry_wrong_type",
        "geometry",
        per_row={"found": type_names(type_ids)},
        expected="Polygon",
    )
    live = np.flatnonzero(v.keep)
    invalid_pos = live[~is_valid(values[live])]
    if len(invalid_pos) == 0:
        return values
    reasons = np.full(len(values), None, dtype=object)
    reasons[invalid_pos] = shapely.is_valid_reason(values[invalid_pos])
    rebuilt = polygonal(shapely.make_valid(values[invalid_pos]))
    failed = shapely.is_empty(rebuilt)
    repaired = np.zeros(len(values), dtype=bool)
    repaired[invalid_pos[~failed]] = True
    v.repair(repaired, "geometry_repaired", "geometry", per_row={"reason": reasons})
    values[invalid_pos[~failed]] = rebuilt[~failed]
    lost = np.zeros(len(values), dtype=bool)
    lost[invalid_pos[failed]] = True
    v.reject(lost, "geometry_empty", "geometry")
    return values


def check_points(
    v: RowChecker,
    geom: gpd.GeoSeries,
    optional: bool,
    index: VillageIndex | None,
    swap_repair: bool,
) -> tuple[np.ndarray, Placement | None]:
    """Check point coordinates: errors, types, swapped lat/lon, ranges.

    With a village index the points are also placed in villages (once: only points in no
    village are tried swapped). Returns the points and their placement (None without
    villages).
    """
    values = geom.to_numpy(dtype=object).copy()
    if "_coord_error" in v.frame.columns:
        err = blank(v.frame["_coord_error"])
        bad = err.notna().to_numpy()
        # Name the column that holds the bad value; fall back to all coordinate columns.
        for column in v.raw.coordinate_columns:
            if column in v.frame.columns:
                holds = (blank(v.frame[column]) == err).fillna(False).to_numpy()
                v.reject(bad & holds, "coordinate_invalid", column, err)
        col = ",".join(v.raw.coordinate_columns) or "coordinates"
        v.reject(bad, "coordinate_invalid", col, err)
    missing = shapely.is_missing(values)
    if not optional:
        v.reject(missing, "geometry_missing", v.geometry_column)
    present = ~missing & v.keep
    empty = present & shapely.is_empty(np.where(missing, shapely.Point(), values))
    if optional:
        values[empty] = None
    else:
        v.reject(empty, "geometry_empty", v.geometry_column)
    present = ~shapely.is_missing(values) & v.keep
    types = shapely.get_type_id(np.where(present, values, shapely.Point()))
    multi = np.flatnonzero(present & (types == 4))
    one_multi = np.zeros(len(values), dtype=bool)
    one_multi[multi[shapely.get_num_geometries(values[multi]) == 1]] = True
    if one_multi.any():
        values[one_multi] = shapely.get_geometry(values[one_multi], 0)
        v.repair(one_multi, "geometry_collection_reduced", v.geometry_column, kept="Point")
        types[one_multi] = shapely.get_type_id(values[one_multi])
    names = type_names(types)
    v.reject(
        present & (types != POINT),
        "geometry_wrong_type",
        "geometry",
        per_row={"found": names},
        expected="Point",
    )
    present = ~shapely.is_missing(values) & v.keep
    probe = np.where(present, values, shapely.Point(0, 0))
    x = shapely.get_x(probe)
    y = shapely.get_y(probe)
    # Swapped latitude/longitude: outside the area, inside once swapped.
    placement = None
    if index is not None:
        placement = index.place(np.where(present, values, None), xy=(x, y))
        swap = np.zeros(len(values), dtype=bool)
        lost = np.flatnonzero(present & (placement.village < 0))
        swap[lost] = index.swapped(values[lost])
    else:
        x0, y0, x1, y1 = INDONESIA_BOUNDS
        inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        inside_sw = (y >= x0) & (y <= x1) & (x >= y0) & (x <= y1)
        swap = present & ~inside & inside_sw
    if swap.any():
        col = v.geometry_column
        if swap_repair:
            values[swap] = shapely.points(y[swap], x[swap])
            x[swap], y[swap] = y[swap], x[swap].copy()
            v.repair(swap, "latlon_swapped", col)
            if index is not None:
                moved = np.flatnonzero(swap)
                placement = placement.merge(moved, index.place(values[moved]))
        else:
            v.warn(swap, "latlon_swapped_suggested", col)
    bad = present & ~swap & ((np.abs(y) > 90) | (np.abs(x) > 180) | ~np.isfinite(x + y))
    coords = np.array([f"{a:g}, {b:g}" for a, b in zip(y[bad], x[bad], strict=True)], dtype=object)
    vals = np.full(len(values), None, dtype=object)
    vals[bad] = coords
    v.reject(bad, "coordinate_out_of_range", v.geometry_column, vals)
    return values, placement
