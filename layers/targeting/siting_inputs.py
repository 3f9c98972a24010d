"""Demand points and candidate sites for facility siting, and the checks on them.

Demand is where people are: one point per village (:func:`demand_from_villages`) or one
per populated raster cell (:func:`demand_from_raster`), weighted by people (or by
need-weighted people). Candidates are where a new facility could go: the villages' inner
points (:func:`village_candidates`), a regular grid inside the villages
(:func:`grid_candidates`) or any point layer (:func:`layer_candidates`).

Every helper returns a GeoDataFrame in the CRS of its input; :class:`FacilitySiting
<layers.targeting.siting.FacilitySiting>` projects everything to the metric CRS of the
demand before measuring.
"""

from __future__ import annotations

import math
import os
from numbers import Real
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.crs import metric_crs
from layers.errors import N_, InputError

__all__ = [
    "MAX_GRID_POINTS",
    "check_points",
    "demand_from_raster",
    "demand_from_villages",
    "grid_candidates",
    "layer_candidates",
    "village_candidates",
]

#: Most grid candidates :func:`grid_candidates` makes (a finer spacing is refused).
MAX_GRID_POINTS = 200_000
#: Codes shown in a message at most.
SHOW = 5


def _examples(values: Any) -> str:
    values = sorted(str(v) for v in values)
    more = f" (+{len(values) - SHOW})" if len(values) > SHOW else ""
    return ", ".join(values[:SHOW]) + more


def _villages(villages: Any) -> gpd.GeoDataFrame:
    """``villages`` checked: a GeoDataFrame with a CRS, text ``kode`` and polygons."""
    if not isinstance(villages, gpd.GeoDataFrame):
        raise InputError(
            N_("villages must be a GeoDataFrame of polygons, not %(found)s"),
            params={"found": type(villages).__name__},
        )
    if len(villages) == 0:
        raise InputError(N_("the villages layer is empty"))
    if villages.crs is None:
        raise InputError(N_("the villages layer has no CRS; set one before siting"))
    if "kode" not in villages.columns:
        raise InputError(N_("the villages layer lacks the column kode"), column="kode")
    kode = villages["kode"]
    if kode.isna().any() or not all(isinstance(k, str) for k in kode):
        raise InputError(
            N_("village codes (kode) must be text, with leading zeros kept"), column="kode"
        )
    if kode.duplicated().any():
        raise InputError(
            N_("village codes repeat: %(examples)s"),
            column="kode",
            params={"examples": _examples(kode[kode.duplicated()].unique())},
        )
    kinds = villages.geometry.geom_type
    bad = ~kinds.isin(["Polygon", "MultiPolygon"]) | villages.geometry.is_empty
    if bad.any():
        raise InputError(
            N_("villages must be polygons; %(count)s are not (%(examples)s)"),
            params={"count": int(bad.sum()), "examples": _examples(kode[bad])},
        )
    return villages


def _score_factor(kode: pd.Series, scores: Any, weight_by_score: bool) -> np.ndarray:
    """score / 100 per code (1 when not weighting; 0 for a village without a score)."""
    if not weight_by_score:
        return np.ones(len(kode))
    if not isinstance(scores, pd.Series):
        raise InputError(
            N_("weight_by_score needs the scores: a Series of score (0-100) indexed by kode")
        )
    values = pd.to_numeric(scores, errors="coerce")
    values = values[~values.index.duplicated()]
    factor = values.reindex(kode.to_numpy()).to_numpy(dtype=float) / 100.0
    bad = np.isfinite(factor) & ((factor < 0) | (factor > 1))
    if bad.any():
        raise InputError(
            N_("scores must lie between 0 and 100; %(count)s villages do not (%(examples)s)"),
            params={"count": int(bad.sum()), "examples": _examples(kode[bad])},
        )
    return factor


def demand_from_villages(
    villages: gpd.GeoDataFrame,
    *,
    population: str = "population",
    scores: pd.Series | None = None,
    weight_by_score: bool = False,
) -> gpd.GeoDataFrame:
    """One demand point per village, at its representative point.

    Parameters
    ----------
    villages : geopandas.GeoDataFrame
        Village polygons with ``kode`` (text) and a population column; ``kecamatan_kode``
        is carried over when present.
    population : str
        The column of people per village.
    scores : pandas.Series, optional
        Score (0-100) indexed by ``kode``; needed with ``weight_by_score``.
    weight_by_score : bool
        Weight = population x score / 100 (need-weighted people) instead of population.

    Returns
    -------
    geopandas.GeoDataFrame
        ``kode``, ``kecamatan_kode`` (when known), ``weight`` and Point geometry, in the
        villages' CRS. A village without a population (or, when weighting by score,
        without a score) gets weight 0; their codes are listed in
        ``attrs["missing_weight"]`` and :class:`~layers.targeting.siting.FacilitySiting`
        notes them.

    Raises
    ------
    InputError
        When the villages are not polygons with text codes, the population column is
        missing, not numeric or negative, or a score is outside 0-100.
    """
    villages = _villages(villages)
    if population not in villages.columns:
        raise InputError(
            N_("the villages layer lacks the population column %(column)s"),
            column=population,
            params={"column": population},
        )
    people = villages[population]
    if not pd.api.types.is_numeric_dtype(people) or pd.api.types.is_bool_dtype(people):
        raise InputError(
            N_("column %(column)s must hold numbers, not %(dtype)s"),
            column=population,
            params={"column": population, "dtype": str(people.dtype)},
        )
    people = people.to_numpy(dtype=float, na_value=np.nan)
    kode = villages["kode"]
    negative = (people < 0) | np.isinf(people)
    if negative.any():
        raise InputError(
            N_(
                "population must be 0 or more and finite; %(count)s villages are not (%(examples)s)"
            ),
            column=population,
            params={"count": int(negative.sum()), "examples": _examples(kode[negative])},
        )
    weight = people * _score_factor(kode, scores, weight_by_score)
    missing = ~np.isfinite(weight)
    frame = {"kode": kode.to_numpy(dtype=object), "weight": np.where(missing, 0.0, weight)}
    if "kecamatan_kode" in villages.columns:
        frame["kecamatan_kode"] = villages["kecamatan_kode"].to_numpy(dtype=object)
    out = gpd.GeoDataFrame(
        frame, geometry=villages.geometry.representative_point().to_numpy(), crs=villages.crs
    )
    out.index = villages.index
    out.attrs["missing_weight"] = kode[missing].tolist()
    return out


def demand_from_raster(
    villages: gpd.GeoDataFrame,
    raster_path: Any,
    *,
    scores: pd.Series | None = None,
    weight_by_score: bool = False,
) -> gpd.GeoDataFrame:
    """One demand point per populated raster cell centre, with the village it lies in.

    The people of each cell are shared among the villages it lies in exactly by area
    (:func:`layers.indicators.villages_on_raster`); the point carries the cell's people
    counted in villages and the ``kode`` of the village holding the largest share of it.

    Parameters
    ----------
    villages : geopandas.GeoDataFrame
        Village polygons with ``kode`` (text).
    raster_path : path-like, bytes or PopulationGrid
        The population raster (people per cell).
    scores : pandas.Series, optional
        Score (0-100) indexed by ``kode``; needed with ``weight_by_score``.
    weight_by_score : bool
        Multiply each point's people by its village's score / 100.

    Returns
    -------
    geopandas.GeoDataFrame
        ``kode``, ``kecamatan_kode`` (when the villages have it), ``weight``, ``cell``
        (flat cell index) and Point geometry in the raster's CRS, ordered by cell. Cells
        with no people in any village are left out.
    """
    from layers.indicators import villages_on_raster
    from layers.zonal import PopulationGrid, cell_centres

    villages = _villages(villages)
    if isinstance(raster_path, PopulationGrid):
        grid = raster_path
    elif isinstance(raster_path, bytes | bytearray | memoryview):
        grid = PopulationGrid.from_bytes(bytes(raster_path))
    elif isinstance(raster_path, str | os.PathLike):
        grid = PopulationGrid.from_path(raster_path)
    else:
        raise InputError(
            N_("the population raster must be a GeoTIFF path or bytes, not %(found)s"),
            params={"found": type(raster_path).__name__},
        )
    zonal = villages_on_raster(villages.geometry.to_numpy(), villages.crs, grid)
    keep = zonal.weight > 0
    cell, village, weight = zonal.cell[keep], zonal.village[keep], zonal.weight[keep]
    kode = villages["kode"].reset_index(drop=True)
    weight = weight * _score_factor(kode, scores, weight_by_score)[village]
    weight = np.where(np.isfinite(weight), weight, 0.0)
    # one row per cell: people summed, the village with the largest share named
    order = np.lexsort((-zonal.weight[keep], cell))
    cell, village, weight = cell[order], village[order], weight[order]
    cells, first = np.unique(cell, return_index=True)
    people = np.add.reduceat(weight, first) if cells.size else np.zeros(0)
    owner = village[first]
    populated = people > 0
    cells, owner, people = cells[populated], owner[populated], people[populated]
    x, y = cell_centres(grid, cells)
    frame = {"kode": kode.to_numpy(dtype=object)[owner], "weight": people, "cell": cells}
    if "kecamatan_kode" in villages.columns:
        frame["kecamatan_kode"] = villages["kecamatan_kode"].to_numpy(dtype=object)[owner]
    return gpd.GeoDataFrame(frame, geometry=shapely.points(x, y), crs=grid.crs)


def village_candidates(villages: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Candidate sites at the villages' representative points (``site_id`` = ``kode``)."""
    villages = _villages(villages)
    kode = villages["kode"].to_numpy(dtype=object)
    return gpd.GeoDataFrame(
        {"site_id": kode, "kode": kode},
        geometry=villages.geometry.representative_point().to_numpy(),
        crs=villages.crs,
    )


def grid_candidates(villages: gpd.GeoDataFrame, spacing_m: float) -> gpd.GeoDataFrame:
    """Candidate sites on a square grid of ``spacing_m`` metres, inside the villages.

    The grid is laid in the villages' metric CRS (:func:`layers.crs.metric_crs`) from the
    lower-left corner of their extent, cell centres half a spacing in. Points are kept
    when they lie inside a village (an STRtree query, no loop); each carries that
    village's ``kode``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``site_id`` (``"g<row>_<col>"``, row 0 at the south), ``kode`` and Point geometry
        in the villages' CRS.

    Raises
    ------
    InputError
        When the spacing is not a positive number of metres, or it would make more than
        :data:`MAX_GRID_POINTS` grid points over the extent.
    """
    villages = _villages(villages)
    ok = isinstance(spacing_m, Real) and not isinstance(spacing_m, bool)
    if not ok or not math.isfinite(spacing_m) or spacing_m <= 0:
        raise InputError(
            N_("the grid spacing must be a number of metres above 0, not %(found)r"),
            params={"found": spacing_m},
        )
    metric = villages.to_crs(metric_crs(villages))
    minx, miny, maxx, maxy = metric.total_bounds
    cols = math.floor((maxx - minx) / spacing_m) + 1
    rows = math.floor((maxy - miny) / spacing_m) + 1
    if rows * cols > MAX_GRID_POINTS:
        raise InputError(
            N_(
                "a grid spacing of %(spacing)s m makes %(count)s points over the area, more "
                "than %(most)s; use a larger spacing"
            ),
            params={"spacing": spacing_m, "count": rows * cols, "most": MAX_GRID_POINTS},
        )
    r, c = np.divmod(np.arange(rows * cols), cols)
    points = shapely.points(minx + (c + 0.5) * spacing_m, miny + (r + 0.5) * spacing_m)
    hit_point, hit_village = shapely.STRtree(metric.geometry.to_numpy()).query(
        points, predicate="within"
    )
    # a point on a shared boundary is in neither; one inside overlapping villages: first
    hit_point, first = np.unique(hit_point, return_index=True)
    hit_village = hit_village[first]
    site_id = np.char.add(
        np.char.add("g", r[hit_point].astype(str)), np.char.add("_", c[hit_point].astype(str))
    ).astype(object)
    out = gpd.GeoDataFrame(
        {"site_id": site_id, "kode": villages["kode"].to_numpy(dtype=object)[hit_village]},
        geometry=points[hit_point],
        crs=metric.crs,
    )
    return out.to_crs(villages.crs)


def layer_candidates(points: gpd.GeoDataFrame, id_column: str) -> gpd.GeoDataFrame:
    """Candidate sites from a point layer, identified by ``id_column``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``site_id`` (the ids as text), ``kode`` when the layer has it, and the points.

    Raises
    ------
    InputError
        When the layer is not points, lacks the column, or an id is missing or repeats.
    """
    check_points(points, "candidates")
    if id_column not in points.columns:
        raise InputError(
            N_("the candidate layer lacks the id column %(column)s"),
            column=id_column,
            params={"column": id_column},
        )
    ids = points[id_column]
    if ids.isna().any():
        raise InputError(
            N_("%(count)s candidate sites have no %(column)s"),
            column=id_column,
            params={"count": int(ids.isna().sum()), "column": id_column},
        )
    ids = ids.map(lambda v: v if isinstance(v, str) else str(v))
    frame = {"site_id": ids.to_numpy(dtype=object)}
    if "kode" in points.columns and id_column != "kode":
        frame["kode"] = points["kode"].to_numpy(dtype=object)
    out = gpd.GeoDataFrame(frame, geometry=points.geometry.to_numpy(), crs=points.crs)
    out.index = points.index
    _unique_ids(out)
    return out


def _unique_ids(candidates: gpd.GeoDataFrame) -> None:
    ids = candidates["site_id"]
    if ids.duplicated().any():
        raise InputError(
            N_("candidate site_id values repeat: %(examples)s"),
            column="site_id",
            params={"examples": _examples(ids[ids.duplicated()].unique())},
        )


def check_points(layer: Any, name: str, *, allow_empty: bool = False) -> gpd.GeoDataFrame:
    """``layer`` checked as a GeoDataFrame of points with a CRS (``name`` in messages).

    Raises
    ------
    InputError
        When it is not a GeoDataFrame, has no CRS, is empty (unless ``allow_empty``) or
        holds anything but non-empty points; the message names the first rows at fault.
    """
    if not isinstance(layer, gpd.GeoDataFrame):
        raise InputError(
            N_("%(name)s must be a GeoDataFrame of points, not %(found)s"),
            params={"name": name, "found": type(layer).__name__},
        )
    if len(layer) == 0:
        if allow_empty:
            return layer
        raise InputError(N_("%(name)s is empty"), params={"name": name})
    if layer.crs is None:
        raise InputError(N_("%(name)s has no CRS; set one before siting"), params={"name": name})
    geoms = layer.geometry
    bad = geoms.isna().to_numpy() | (geoms.geom_type != "Point").to_numpy()
    bad |= geoms.is_empty.to_numpy()
    if bad.any():
        rows = np.flatnonzero(bad)
        raise InputError(
            N_("%(name)s must be points; %(count)s rows are not (rows %(examples)s)"),
            row=int(rows[0]) + 1,
            params={
                "name": name,
                "count": int(bad.sum()),
                "examples": ", ".join(str(i + 1) for i in rows[:SHOW]),
            },
        )
    return layer
