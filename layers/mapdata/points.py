"""Facilities and needs as GeoJSON points for the part of the map on screen."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely

from layers.errors import N_, InputError
from layers.mapdata.cache import read_columns
from layers.storage import Store

__all__ = ["MAX_POINTS", "POINT_LAYERS", "parse_bbox", "points_geojson"]

#: Properties of each point layer, in order.
POINT_LAYERS: dict[str, tuple[str, ...]] = {
    "facilities": ("facility_id", "name", "type", "sector"),
    "needs": ("need_id", "category", "severity", "status", "reported_date"),
}
#: Most points one answer holds.
MAX_POINTS = 20000

Bounds = tuple[float, float, float, float]


def _bbox_error(template: str, value: object) -> InputError:
    return InputError(template, params={"value": value})


def parse_bbox(bbox: str | Sequence[float]) -> Bounds:
    """A bounding box in longitude and latitude, from ``"minx,miny,maxx,maxy"`` or 4 numbers.

    Parameters
    ----------
    bbox : str or sequence of float
        West, south, east, north in degrees (EPSG:4326).

    Returns
    -------
    tuple of float

    Raises
    ------
    InputError
        Not four finite numbers, a minimum greater than its maximum, or a value outside
        longitude -180..180 and latitude -90..90.
    """
    parts = bbox.split(",") if isinstance(bbox, str) else bbox
    try:
        values = tuple(float(v) for v in parts)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise _bbox_error(
            N_("bbox must be four numbers minx,miny,maxx,maxy (degrees), not %(value)r"), bbox
        )
    minx, miny, maxx, maxy = values
    if minx > maxx or miny > maxy:
        raise _bbox_error(
            N_("bbox %(value)r has a minimum greater than its maximum; write minx,miny,maxx,maxy"),
            bbox,
        )
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise _bbox_error(
            N_("bbox %(value)r is outside longitude -180 to 180 and latitude -90 to 90"), bbox
        )
    return minx, miny, maxx, maxy


def _plain(series: pd.Series) -> list[Any]:
    """Values as Python objects, missing ones as None, dates as ISO text."""
    if pd.api.types.is_datetime64_any_dtype(series):
        text = series.dt.strftime("%Y-%m-%d")
        return text.astype(object).where(series.notna(), None).tolist()
    if pd.api.types.is_integer_dtype(series) or pd.api.types.is_float_dtype(series):
        out = series.astype("Float64").astype(object)
        values = out.where(series.notna(), None).tolist()
        if pd.api.types.is_integer_dtype(series):
            return [None if v is None else int(v) for v in values]
        return values
    return series.astype(object).where(series.notna(), None).tolist()


def points_geojson(
    store: Store,
    workspace: str,
    layer: str,
    bbox: str | Sequence[float],
    limit: int = MAX_POINTS,
) -> dict[str, Any]:
    """The points of every facilities or needs layer of a workspace inside a bounding box.

    Parameters
    ----------
    store : Store
        The store.
    workspace : str
        Workspace name.
    layer : {"facilities", "needs"}
        Which kind of layer; every layer of that kind counts (latest versions).
    bbox : str or sequence of float
        ``"minx,miny,maxx,maxy"`` in degrees (see :func:`parse_bbox`).
    limit : int
        At most this many points (1 to :data:`MAX_POINTS`). When more fall in the box,
        an evenly spaced selection of them (in the store's spatial order) is returned
        and ``truncated`` is true.

    Returns
    -------
    dict
        GeoJSON FeatureCollection with ``layer``, ``total`` (points in the box),
        ``truncated`` and ``datasets`` (references read). Properties: facilities
        ``facility_id``, ``name``, ``type``, ``sector``; needs ``need_id``, ``category``,
        ``severity``, ``status``, ``reported_date`` (ISO date); both ``dataset``. Needs
        without a location are left out.

    Raises
    ------
    InputError
        For an unknown layer, a bad bbox or limit.
    NotFoundError
        For an unknown workspace.
    """
    if layer not in POINT_LAYERS:
        raise InputError(
            N_("unknown point layer %(layer)r; use one of %(allowed)s"),
            params={"layer": layer, "allowed": ", ".join(POINT_LAYERS)},
        )
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_POINTS:
        raise InputError(
            N_("the number of points must be a whole number from 1 to %(maximum)s, not %(value)r"),
            params={"maximum": MAX_POINTS, "value": limit},
        )
    box = parse_bbox(bbox)
    store.get_workspace(workspace)
    columns = POINT_LAYERS[layer]
    frames, refs = [], []
    for info in store.list_datasets(workspace, kinds=layer):
        frame = read_columns(store, workspace, info.name, info.version, list(columns), bbox=box)
        frame = frame.loc[:, [*columns, frame.geometry.name]]
        frame = frame.rename_geometry("geometry") if frame.geometry.name != "geometry" else frame
        frame["dataset"] = info.name
        frames.append(frame)
        refs.append(info.ref)
    if frames:
        found = pd.concat(frames, ignore_index=True)
        geoms = found["geometry"].to_numpy()
        xs, ys = shapely.get_x(geoms), shapely.get_y(geoms)
        inside = (xs >= box[0]) & (xs <= box[2]) & (ys >= box[1]) & (ys <= box[3])
        found = found[inside]
        xs, ys = xs[inside], ys[inside]
    else:
        found, xs, ys = pd.DataFrame(columns=[*columns, "dataset"]), np.empty(0), np.empty(0)
    total = len(found)
    truncated = total > limit
    if truncated:
        keep = np.unique(np.linspace(0, total - 1, limit).round().astype(np.int64))
        found, xs, ys = found.iloc[keep], xs[keep], ys[keep]
    names = [*columns, "dataset"]
    values = [_plain(found[c]) for c in names]
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [x, y]},
            "properties": dict(zip(names, row, strict=True)),
        }
        for x, y, *row in zip(xs.tolist(), ys.tolist(), *values, strict=True)
    ]
    return {
        "type": "FeatureCollection",
        "layer": layer,
        "total": total,
        "truncated": truncated,
        "datasets": refs,
        "features": features,
    }
