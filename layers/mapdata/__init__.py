"""The data behind the shared map: village values and tiles, details, search, outlines,
points, annotations and the presenter's view.

Everything here reads the store and returns plain data (JSON-ready dicts, or small
dataclasses with ``to_dict``); the web app's ``/api/workspaces/<ws>/...`` map routes are
one call each onto these functions. Values come from the latest saved score run of a
profile (:mod:`layers.score_run`), so the map shows exactly what a run recorded; data that
takes time to prepare (a run's values, the villages, tile indexes, outlines) is kept in
memory per data version (:mod:`layers.mapdata.cache`).

>>> mv = map_values(store, "merangin", "health_access")  # doctest: +SKIP
>>> mv.legend[0]["label"], mv.legend[0]["colour"]  # doctest: +SKIP
('Very low need', '#ffffb2')
>>> detail = village_detail(store, "merangin", "health_access", "15.02.06.2026")  # doctest: +SKIP
>>> detail["indicators"][0]["contribution"]  # doctest: +SKIP
"""

from __future__ import annotations

from layers.mapdata.cache import caches, latest_run
from layers.mapdata.labels import UNIT_LABELS, indicator_info, render_label, unit_label
from layers.mapdata.points import MAX_POINTS, POINT_LAYERS, parse_bbox, points_geojson
from layers.mapdata.shared import (
    ANNOTATIONS,
    GEOMETRY_TYPES,
    MAP_STATE,
    MAX_NOTE,
    MapEvent,
    add_annotation,
    get_presenter_view,
    list_annotations,
    map_events,
    parse_since,
    set_presenter_view,
)
from layers.mapdata.values import (
    INDICATOR_CLASS_LABELS,
    INDICATOR_PALETTE,
    NEED_PALETTE,
    NO_DATA_COLOUR,
    PALETTES,
    MapValues,
    Tile,
    map_values,
    palette,
    village_tile,
    village_tiles,
)
from layers.mapdata.villages import LEVELS, area_outlines, search_villages, village_detail

__all__ = [
    "ANNOTATIONS",
    "GEOMETRY_TYPES",
    "INDICATOR_CLASS_LABELS",
    "INDICATOR_PALETTE",
    "LEVELS",
    "MAP_STATE",
    "MAX_NOTE",
    "MAX_POINTS",
    "NEED_PALETTE",
    "NO_DATA_COLOUR",
    "PALETTES",
    "POINT_LAYERS",
    "UNIT_LABELS",
    "MapEvent",
    "MapValues",
    "Tile",
    "add_annotation",
    "area_outlines",
    "caches",
    "get_presenter_view",
    "indicator_info",
    "latest_run",
    "list_annotations",
    "map_events",
    "map_values",
    "palette",
    "parse_bbox",
    "parse_since",
    "points_geojson",
    "render_label",
    "search_villages",
    "set_presenter_view",
    "unit_label",
    "village_detail",
    "village_tile",
    "village_tiles",
]
