"""The scenario pages' data and their Folium maps, built without Flask.

A scenario (:mod:`layers.targeting.scenarios`) is a saved placement or siting result.
:func:`list_page_data`, :func:`result_page_data` and :func:`compare_page_data` gather what
the three scenario pages show, one call per page; the last two build the page's map with
Folium: the chosen villages (or new sites with their reach) over the kecamatan outlines,
and for a comparison the villages only some scenarios choose, coloured by which ones.

The maps reuse :mod:`geoapp.mapbuild`'s mechanism: every Folium resource points at the
app's own copy (``asset_urls``), no CDN address reaches the page, and data text (names,
titles) never enters the map's inline script: it travels in a JSON element escaped for
HTML, and ``static/js/scenarios.js`` writes it into tooltips as text. The view passes the
translation function, the language and the app's URLs.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from layers.errors import N_, fill

if TYPE_CHECKING:
    import geopandas as gpd

    from layers.storage import Store

__all__ = [
    "DIFFERENCE_COLOURS",
    "KINDS",
    "MODELS",
    "REASON_LABELS",
    "RULE_LABELS",
    "build_scenario_map",
    "compare_page_data",
    "list_page_data",
    "result_page_data",
]

#: Kinds of scenario, as the form offers them.
KINDS: dict[str, str] = {
    "placement": N_("Program placement: which villages get the program"),
    "siting": N_("Facility siting: where new facilities go"),
}
#: Siting models, as the form offers them.
MODELS: dict[str, str] = {
    "mclp": N_("Most people within reach of k new sites (MCLP)"),
    "lscp": N_("Fewest sites that reach everyone (LSCP)"),
    "pmedian": N_("Shortest average distance with k new sites (p-median)"),
}
#: Benefits a placement can maximise.
BENEFIT_LABELS: dict[str, str] = {
    "score_x_people": N_("Need-weighted people (score / 100 × population)"),
    "people_in_need": N_("People in need"),
}
#: How each rule of a placement is named on the pages.
RULE_LABELS: dict[str, str] = {
    "min_per_kecamatan": N_("At least this many villages per kecamatan"),
    "max_per_kecamatan": N_("At most this many villages per kecamatan"),
    "exclude": N_("Villages left out (e.g. already in another program)"),
    "must_include": N_("Villages that must be included"),
    "min_spacing_m": N_("Minimum distance between chosen villages (m)"),
    "budget": N_("Budget"),
    "top_n": N_("Number of villages"),
}
#: Why a village is in a placement (keys of ``layers.targeting.REASONS``).
REASON_LABELS: dict[str, str] = {
    "top benefit": N_("top benefit"),
    "must include": N_("must include"),
    "manual": N_("manual"),
}
#: Solver statuses, as the pages name them.
STATUS_LABELS: dict[str, str] = {
    "optimal": N_("optimal (proven best)"),
    "time_limit": N_("stopped at the time limit (best found)"),
    "heuristic": N_("heuristic (not proven best)"),
    "no_solution": N_("no solution found"),
}
#: Fill of the villages a scenario chooses, of new sites and of existing facilities.
SELECTED_COLOUR = "#d95f0e"
SITE_COLOUR = "#54278f"
EXISTING_COLOUR = "#636363"
OUTLINE_COLOUR = "#4d4d4d"
#: Villages every compared scenario chooses.
SHARED_COLOUR = "#969696"
#: Colours of the groups of a comparison ("only A", "only B", "A and B", ...): Dark2.
DIFFERENCE_COLOURS: tuple[str, ...] = (
    "#1b9e77",
    "#d95f02",
    "#7570b3",
    "#e7298a",
    "#66a61e",
    "#e6ab02",
    "#a6761d",
    "#1f78b4",
)
#: Folium resources a scenario map does not use: Bootstrap's page-wide styles would restyle
#: the page around the map (its tables and code), and the markers are plain circles.
UNUSED_ASSETS: tuple[str, ...] = (
    "bootstrap",
    "bootstrap_css",
    "jquery",
    "awesome_markers",
    "awesome_markers_css",
    "awesome_markers_font_css",
)
#: Tolerance (degrees, about 20 m) the village outlines of a scenario map are simplified to.
SIMPLIFY_DEGREES = 0.0002
#: Tolerance (degrees, about 100 m) of the kecamatan outlines drawn as context.
OUTLINE_SIMPLIFY_DEGREES = 0.001
#: Most kecamatan outlines a scenario map draws whole; beyond, only those it touches.
MAX_OUTLINES = 300
#: Most existing facilities a siting map draws whole; beyond, only those in its view.
MAX_EXISTING = 2000
#: Decimal places kept in map coordinates (about 1 m).
COORD_DECIMALS = 5


# --- small helpers ----------------------------------------------------------------------


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _note_text(note: Any, translate: Callable[[str], str]) -> str:
    """A saved note (``{"code", "params", "message"}``) in the page's language."""
    if not isinstance(note, Mapping):
        return str(note)
    from layers.targeting import NOTES, SITING_NOTES
    from layers.targeting.scenarios import NOTES as SCENARIO_NOTES

    templates: dict[str, str] = {**NOTES, **SITING_NOTES, **SCENARIO_NOTES}
    template = templates.get(str(note.get("code")))
    if template:
        return fill(template, dict(note.get("params") or {}), translate)
    return str(note.get("message") or note.get("code") or "")


def _refs(text: Any) -> list[tuple[str, int]]:
    """Dataset (name, version) pairs of ``"ws/name@v"`` or ``"ws/a@1 + ws/b@2"``."""
    out = []
    for part in str(text or "").split(" + "):
        body, _, version = part.strip().rpartition("@")
        name = body.rsplit("/", 1)[-1]
        if version.isascii() and version.isdigit() and name:
            out.append((name, int(version)))
    return out


def _villages(store: Store, workspace: str, scenario: Mapping[str, Any] | None) -> Any:
    """The villages the scenario read (its recorded version), else the latest."""
    from layers.errors import NotFoundError
    from layers.mapdata.cache import latest_villages, village_frame

    inputs = (scenario or {}).get("inputs") or {}
    for name, version in _refs(inputs.get("villages")):
        try:
            info = store.dataset_info(workspace, name, version)
        except NotFoundError:
            continue  # deleted since: the latest villages are drawn
        return village_frame(store, workspace, info.ref, info.created_at)
    return latest_villages(store, workspace)


def _existing_facilities(
    store: Store, workspace: str, scenario: Mapping[str, Any], facility_type: str | None
) -> gpd.GeoDataFrame | None:
    """Points of the existing facilities of the type that a siting scenario kept fixed."""
    import pandas as pd

    from layers.errors import NotFoundError

    refs = _refs((scenario.get("inputs") or {}).get("existing_facilities"))
    if not facility_type or not refs:
        return None
    parts = []
    for name, version in refs:
        try:
            frame = store.read_dataset(workspace, name, version)
        except NotFoundError:
            continue
        if "type" in frame.columns:
            frame = frame[frame["type"].astype(str) == facility_type]
            parts.append(frame.to_crs("EPSG:4326") if frame.crs is not None else frame)
    if not parts:
        return None
    import geopandas as gpd

    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs="EPSG:4326")


def _features(
    geoms: Any, properties: list[dict[str, Any]], tolerance: float = SIMPLIFY_DEGREES
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of ``geoms`` (EPSG:4326), rounded and simplified."""
    import shapely

    geoms = shapely.set_precision(
        shapely.simplify(geoms, tolerance, preserve_topology=True),
        10.0**-COORD_DECIMALS,
    )
    texts = shapely.to_geojson(geoms)
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": json.loads(text), "properties": props}
            for text, props in zip(texts, properties, strict=True)
            if text is not None and text != "null"
        ],
    }


def _village_features(frame: Any, codes: Sequence[str], group: Mapping[str, int]) -> dict:
    """Features of the villages ``codes`` (those the villages layer has), with their group."""
    import numpy as np

    positions = frame.positions.get_indexer(list(codes))
    found = positions >= 0
    rows = positions[found]
    kept = [c for c, f in zip(codes, found, strict=True) if f]
    geoms = frame.frame.geometry.to_numpy()[rows] if rows.size else np.array([], dtype=object)
    props = [{"kode": str(c), "group": int(group.get(c, 0))} for c in kept]
    return _features(geoms, props)


def _names(frame: Any, codes: Sequence[str]) -> dict[str, list[str]]:
    """``{kode: [name, kecamatan]}`` for the codes the villages layer has."""
    positions = frame.positions.get_indexer(list(codes))
    table = frame.frame
    out = {}
    names = table["name"].astype(object).to_numpy()
    kec = table["kecamatan"].astype(object).to_numpy()
    for code, pos in zip(codes, positions, strict=True):
        if pos >= 0:
            name, area = names[pos], kec[pos]
            out[str(code)] = [
                "" if name is None or name != name else str(name),
                "" if area is None or area != area else str(area),
            ]
    return out


def _kecamatan_outlines(store: Store, workspace: str, frame: Any, codes: Sequence[str]) -> dict:
    """Kecamatan outlines (kept in memory by the map data) as context, code only.

    Every kecamatan up to :data:`MAX_OUTLINES`; beyond, only those of the villages
    ``codes`` (a national workspace has thousands).
    """
    import numpy as np

    from layers.mapdata import area_outlines

    features = area_outlines(store, workspace, "kecamatan")["features"]
    if len(features) > MAX_OUTLINES:
        rows = frame.positions.get_indexer(list(codes))
        kec = frame.frame["kecamatan_kode"].astype(object).to_numpy()[rows[rows >= 0]]
        wanted = {str(k) for k in kec if k is not None and k == k}
        wanted |= {str(c)[:8] for c in codes}
        features = [f for f in features if str(f["properties"]["kode"]) in wanted]
    if not features:
        return {"type": "FeatureCollection", "features": []}
    import shapely

    geoms = np.array([shapely.geometry.shape(f["geometry"]) for f in features], dtype=object)
    props = [{"kode": str(f["properties"]["kode"])} for f in features]
    return _features(geoms, props, OUTLINE_SIMPLIFY_DEGREES)


# --- the map ----------------------------------------------------------------------------


def _legend_html(element_id: str, title: str, entries: Sequence[tuple[str, str, str]]) -> str:
    """Legend items ``(colour, label, shape)``; shape is ``fill``, ``line`` or ``dot``."""
    esc = html.escape
    items = "".join(
        f'<li data-colour="{esc(colour)}"><span class="swatch swatch-{esc(shape)}" '
        f'style="background:{esc(colour)}"></span>'
        f'<span class="legend-label">{esc(label)}</span></li>'
        for colour, label, shape in entries
    )
    return (
        f'<div id="{element_id}" class="map-legend scenario-legend" data-legend>'
        f'<h2 class="map-legend-title">{esc(title)}</h2>'
        f'<ul class="map-legend-items">{items}</ul></div>'
    )


def build_scenario_map(
    *,
    bounds: Sequence[float],
    outlines: Mapping[str, Any] | None,
    areas: Mapping[str, Any],
    group_colours: Mapping[int, str],
    points: Mapping[str, Any] | None = None,
    reach: Mapping[str, Any] | None = None,
    existing: Mapping[str, Any] | None = None,
    legend: Sequence[tuple[str, str, str]],
    labels: Mapping[str, str],
    basemap: Mapping[str, Any],
    asset_urls: Mapping[str, str | None],
) -> str:
    """The HTML of a scenario map: Folium's stylesheets and scripts, the map, its script.

    Parameters
    ----------
    bounds : sequence of float
        ``(minx, miny, maxx, maxy)`` in degrees; the map opens fitted to it.
    outlines : mapping or None
        GeoJSON of the kecamatan outlines (context, not interactive).
    areas : mapping
        GeoJSON of the villages to colour; each feature's ``group`` picks its fill from
        ``group_colours`` and its ``kode`` names it (tooltips are added by scenarios.js).
    group_colours : mapping
        ``{group: "#rrggbb"}``.
    points, reach, existing : mapping, optional
        GeoJSON of new sites (points with ``site_id``), of the area each reaches
        (polygons) and of the existing facilities of the type (points).
    legend : sequence
        ``(colour, label, shape)`` entries, labels already translated.
    labels : mapping
        Translated names of the overlays: ``outlines``, ``areas``, ``points``, ``reach``,
        ``existing``, ``legend_title``, ``basemap``.
    basemap : mapping
        One of :data:`geoapp.mapbuild.BASEMAPS` (or the local MBTiles one).
    asset_urls : mapping
        Folium resource name -> the app's URL of its copy (None: leave out). A resource
        missing from it is an error, so no CDN address reaches the page.

    Returns
    -------
    str
        HTML for the page to place in its layout.
    """
    import folium

    from geoapp.mapbuild import (
        _check_bounds,
        _json,
        _localise,
        _no_template,
        _parts_class,
        folium_map,
    )

    minx, miny, maxx, maxy = _check_bounds(bounds)
    asset_urls = {**asset_urls, **{name: None for name in UNUSED_ASSETS}}
    colours = {int(k): str(v) for k, v in group_colours.items()}
    for colour in colours.values():
        if not (len(colour) == 7 and colour.startswith("#")):
            raise ValueError(f"group colours must be #rrggbb, not {colour!r}")

    def name(key: str) -> str:
        return _no_template(html.escape(str(labels.get(key, key))))

    m = folium_map((minx, miny, maxx, maxy), basemap, name("basemap"))
    layers: dict[str, Any] = {}
    if outlines is not None and outlines.get("features"):
        layers["outlines"] = folium.GeoJson(
            dict(outlines),
            name=name("outlines"),
            style_function=lambda f: {
                "fill": False,
                "color": OUTLINE_COLOUR,
                "weight": 1.5,
                "opacity": 0.8,
            },
            interactive=False,
            zoom_on_click=False,
        )

    def area_style(feature: dict[str, Any]) -> dict[str, Any]:
        colour = colours.get(int(feature["properties"].get("group", 0)), SELECTED_COLOUR)
        return {"fillColor": colour, "fillOpacity": 0.7, "color": "#ffffff", "weight": 1}

    if areas.get("features"):
        layers["areas"] = folium.GeoJson(
            dict(areas), name=name("areas"), style_function=area_style, zoom_on_click=False
        )
    if reach is not None and reach.get("features"):
        layers["reach"] = folium.GeoJson(
            dict(reach),
            name=name("reach"),
            style_function=lambda f: {
                "fillColor": SITE_COLOUR,
                "fillOpacity": 0.08,
                "color": SITE_COLOUR,
                "weight": 1.5,
                "dashArray": "6 4",
            },
            interactive=False,
            zoom_on_click=False,
        )
    if existing is not None and existing.get("features"):
        layers["existing"] = folium.GeoJson(
            dict(existing),
            name=name("existing"),
            marker=folium.CircleMarker(
                radius=5, color="#ffffff", weight=1, fill_color=EXISTING_COLOUR, fill_opacity=1
            ),
            zoom_on_click=False,
        )
    if points is not None and points.get("features"):
        layers["points"] = folium.GeoJson(
            dict(points),
            name=name("points"),
            marker=folium.CircleMarker(
                radius=9, color="#ffffff", weight=2, fill_color=SITE_COLOUR, fill_opacity=1
            ),
            zoom_on_click=False,
        )
    for layer in layers.values():
        layer.add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    control = folium.LayerControl(position="topright", collapsed=False)
    control.add_to(m)

    legend_id = f"legend_{m.get_name().removeprefix('map_')}"
    entries = "".join(f"{_json(k)}: {v.get_name()}, " for k, v in layers.items())
    extra = _parts_class()(
        _legend_html(legend_id, str(labels.get("legend_title", "")), legend),
        f"window.jangkauScenarioMap = {{map: {m.get_name()}, layers: {{{entries}}}}};\n"
        f"(function () {{\n  var el = document.getElementById({_json(legend_id)});\n"
        "  var legend = L.control({position: 'bottomright'});\n"
        "  legend.onAdd = function () { L.DomEvent.disableClickPropagation(el); return el; };\n"
        f"  legend.addTo({m.get_name()});\n}})();\n",
    )
    extra.add_to(m)

    _localise(m, asset_urls)
    figure = m.get_root()
    figure.header._children.pop("meta_http", None)
    figure.render()
    return (
        f'<div class="jangkau-map" data-map="{m.get_name()}">\n{figure.header.render()}\n'
        f"{figure.html.render()}\n<script>\n{figure.script.render()}\n</script>\n</div>\n"
    )


def _map_labels(translate: Callable[[str], str], **extra: str) -> dict[str, str]:
    return {
        "outlines": translate(N_("Kecamatan outlines")),
        "basemap": translate(N_("Background map")),
        "legend_title": translate(N_("Legend")),
        **extra,
    }


def _bounds(
    frame: Any, codes: Sequence[str], points: Sequence[Mapping[str, Any]] = (), pad: float = 0.02
) -> tuple[float, float, float, float]:
    """Extent of the villages ``codes`` and the point features, else of every village."""
    import numpy as np

    rows = frame.positions.get_indexer(list(codes))
    boxes = [frame.bounds[rows[rows >= 0]]]
    xy = [f["geometry"]["coordinates"] for f in points]
    if xy:
        arr = np.asarray(xy, dtype=float)
        boxes.append(np.column_stack([arr, arr]))
    stacked = np.vstack(boxes) if any(len(b) for b in boxes) else frame.bounds
    stacked = stacked[np.isfinite(stacked).all(axis=1)]
    if not len(stacked):
        stacked = np.asarray([frame.frame.total_bounds])
    minx, miny = stacked[:, 0].min(), stacked[:, 1].min()
    maxx, maxy = stacked[:, 2].max(), stacked[:, 3].max()
    return (
        max(-180.0, float(minx) - pad),
        max(-90.0, float(miny) - pad),
        min(180.0, float(maxx) + pad),
        min(90.0, float(maxy) + pad),
    )


# --- the pages --------------------------------------------------------------------------


def list_page_data(store: Store, workspace: str, translate: Callable[[str], str]) -> dict:
    """The list page: saved scenarios and what the form offers.

    Returns
    -------
    dict
        ``workspace`` (the Workspace), ``scenarios`` (list_scenarios items with
        ``created`` as a datetime and the summary numbers at ``numbers``), ``profiles``
        (``{"name", "title"}``), ``facility_types`` (``{"id", "label", "distance_m"}``),
        ``benefits``, ``models``, ``kinds`` (``{"id", "label"}``), ``rules`` (labels),
        ``point_layers`` (facilities and needs datasets that can give candidate sites:
        ``{"name", "kind", "rows"}``) and ``defaults`` (the default settings of each kind).
    """
    from layers.indicator_settings import DEFAULT_STANDARDS_M
    from layers.schema import FACILITY_TYPE_LABELS
    from layers.score_run import list_profiles
    from layers.targeting.scenario_inputs import PLACEMENT_SETTINGS, SITING_SETTINGS
    from layers.targeting.scenarios import list_scenarios

    ws = store.get_workspace(workspace)
    items = []
    for item in list_scenarios(store, workspace):
        numbers = dict(item.get("summary") or {})
        for key in ("villages_selected", "people_reached", "cost", "budget_share"):
            numbers.setdefault(key, item.get(key))
        items.append({**item, "created": _when(item.get("created_at")), "numbers": numbers})
    return {
        "workspace": ws,
        "scenarios": items,
        "profiles": [
            {"name": p.name, "title": translate(p.title)} for p in list_profiles(store, workspace)
        ],
        "facility_types": [
            {"id": key, "label": translate(label), "distance_m": DEFAULT_STANDARDS_M[key]}
            for key, label in FACILITY_TYPE_LABELS.items()
            if key in DEFAULT_STANDARDS_M
        ],
        "benefits": [{"id": k, "label": translate(v)} for k, v in BENEFIT_LABELS.items()],
        "models": [{"id": k, "label": translate(v)} for k, v in MODELS.items()],
        "kinds": [{"id": k, "label": translate(v)} for k, v in KINDS.items()],
        "rules": {k: translate(v) for k, v in RULE_LABELS.items()},
        "point_layers": [
            {"name": d.name, "kind": d.kind, "rows": d.row_count}
            for d in store.list_datasets(workspace)
            if d.kind in ("facilities", "needs")
        ],
        "defaults": {"placement": PLACEMENT_SETTINGS, "siting": SITING_SETTINGS},
    }


def _sites_geojson(sites: list[dict[str, Any]]) -> dict[str, Any]:
    features = []
    for site in sites:
        x, y = _number(site.get("x")), _number(site.get("y"))
        if x is None or y is None:
            continue
        features.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "Point",
                    "coordinates": [round(x, COORD_DECIMALS), round(y, COORD_DECIMALS)],
                },
                "properties": {"site_id": str(site.get("site_id"))},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _reach_geojson(points: dict[str, Any], distance_m: float | None) -> dict[str, Any] | None:
    """Circles of ``distance_m`` around the sites, drawn in a metric CRS."""
    if not distance_m or not points["features"]:
        return None
    import geopandas as gpd
    import shapely

    from layers.crs import metric_crs

    xy = [f["geometry"]["coordinates"] for f in points["features"]]
    series = gpd.GeoSeries(shapely.points(xy), crs="EPSG:4326")
    frame = gpd.GeoDataFrame(geometry=series)
    circles = series.to_crs(metric_crs(frame)).buffer(float(distance_m), 48).to_crs("EPSG:4326")
    props = [dict(f["properties"]) for f in points["features"]]
    return _features(circles.to_numpy(), props)


def _points_geojson(frame: gpd.GeoDataFrame | None) -> dict[str, Any] | None:
    if frame is None or frame.empty:
        return None
    import shapely

    geoms = shapely.point_on_surface(frame.geometry.to_numpy())
    ident = frame["facility_id"] if "facility_id" in frame.columns else frame.index
    names = frame["name"] if "name" in frame.columns else ident
    return _features(
        geoms,
        [{"site_id": str(i), "name": str(n)} for i, n in zip(ident, names, strict=True)],
    )


def result_page_data(
    store: Store,
    workspace: str,
    name: str,
    version: int | None,
    *,
    translate: Callable[[str], str],
    basemap: Mapping[str, Any],
    asset_urls: Mapping[str, str | None],
) -> dict[str, Any]:
    """A saved scenario with what its page shows, and its map.

    Returns
    -------
    dict
        ``workspace``, ``scenario`` (the saved body with ``version``), ``summary``,
        ``result``, ``kind``, ``selected`` (placement rows with ``name``/``kecamatan``),
        ``sites`` (siting rows with ``name``), ``by_kecamatan``, ``rule_costs``,
        ``edits``, ``notes`` (translated), ``status_label``, ``settings`` (pairs),
        ``inputs`` (pairs), ``created``, ``map_html``, ``names`` (tooltips: ``{kode:
        [name, kecamatan]}``, sites under ``"site:<id>"``).
    """
    from layers.targeting.scenarios import load_scenario

    ws = store.get_workspace(workspace)
    scenario = load_scenario(store, workspace, name, version)
    summary = dict(scenario.get("summary") or {})
    result = dict(scenario.get("result") or {})
    kind = str(scenario.get("kind") or "placement")
    frame = _villages(store, workspace, scenario)
    codes = [str(c) for c in summary.get("villages") or []]
    names = _names(frame, codes)

    selected = []
    for row in result.get("selected") or []:
        code = str(row.get("kode"))
        place = names.get(code, ["", ""])
        selected.append(
            {
                **row,
                "name": place[0],
                "kecamatan": place[1],
                "reason_label": translate(REASON_LABELS.get(str(row.get("reason")), "")),
            }
        )
    sites = []
    for row in sorted(result.get("sites") or [], key=lambda r: r.get("order") or 0):
        code = None if row.get("kode") is None else str(row.get("kode"))
        place = names.get(code, None) if code else None
        if code and place is None:
            place = _names(frame, [code]).get(code, ["", ""])
        sites.append({**row, "name": (place or ["", ""])[0], "kecamatan": (place or ["", ""])[1]})

    areas = _village_features(frame, codes, {})
    settings = dict(scenario.get("settings") or {})
    points = reach = existing = None
    legend = []
    bounds = _bounds(frame, codes)
    if kind == "siting":
        points = _sites_geojson(sites)
        distance = _number(settings.get("distance_m")) or _number(
            (result.get("settings") or {}).get("distance_m")
        )
        reach = _reach_geojson(points, distance)
        bounds = _bounds(frame, codes, points["features"])
        facilities = _existing_facilities(store, workspace, scenario, settings.get("facility_type"))
        if facilities is not None and len(facilities) > MAX_EXISTING:
            minx, miny, maxx, maxy = bounds  # only those in view
            facilities = facilities.cx[minx:maxx, miny:maxy]
        existing = _points_geojson(facilities)
        legend = [
            (SELECTED_COLOUR, translate(N_("Villages of the scenario")), "fill"),
            (SITE_COLOUR, translate(N_("New sites")), "dot"),
        ]
        if reach:
            legend.append((SITE_COLOUR, translate(N_("Reach of the new sites")), "line"))
        if existing:
            legend.append((EXISTING_COLOUR, translate(N_("Existing facilities")), "dot"))
    else:
        legend = [(SELECTED_COLOUR, translate(N_("Selected villages")), "fill")]
    legend.append((OUTLINE_COLOUR, translate(N_("Kecamatan outlines")), "line"))
    tooltip_names = dict(names)
    for site in sites:
        tooltip_names[f"site:{site.get('site_id')}"] = [
            str(site.get("site_id")),
            str(site.get("name") or ""),
        ]
    if existing:
        for f in existing["features"]:
            tooltip_names[f"site:{f['properties']['site_id']}"] = [
                f["properties"].pop("name"),
                translate(N_("Existing facility")),
            ]
    map_html = build_scenario_map(
        bounds=bounds,
        outlines=_kecamatan_outlines(store, workspace, frame, codes),
        areas=areas,
        group_colours={0: SELECTED_COLOUR},
        points=points,
        reach=reach,
        existing=existing,
        legend=legend,
        labels=_map_labels(
            translate,
            areas=translate(N_("Villages of the scenario"))
            if kind == "siting"
            else translate(N_("Selected villages")),
            points=translate(N_("New sites")),
            reach=translate(N_("Reach of the new sites")),
            existing=translate(N_("Existing facilities")),
        ),
        basemap=basemap,
        asset_urls=asset_urls,
    )
    rule_costs = [
        {**row, "label": translate(RULE_LABELS.get(str(row.get("rule")), str(row.get("rule"))))}
        for row in result.get("rule_costs") or []
    ]
    by_kecamatan = list(summary.get("by_kecamatan") or [])
    status = summary.get("status") or result.get("status")
    return {
        "workspace": ws,
        "scenario": scenario,
        "summary": summary,
        "result": result,
        "kind": kind,
        "selected": selected,
        "sites": sites,
        "by_kecamatan": by_kecamatan,
        "rule_costs": rule_costs,
        "edits": dict(result.get("edits") or {}),
        "notes": [
            _note_text(n, translate)
            for n in [*(summary.get("notes") or []), *(result.get("notes") or [])]
        ],
        "status": status,
        "status_label": translate(STATUS_LABELS[status]) if status in STATUS_LABELS else "",
        "settings": _pairs(settings),
        "inputs": _pairs(dict(scenario.get("inputs") or {})),
        "created": _when(scenario.get("created_at")),
        "map_html": map_html,
        "names": tooltip_names,
    }


def _pairs(mapping: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(key, text)`` pairs for a settings table (lists joined, dicts as JSON)."""
    out = []
    for key, value in mapping.items():
        if value is None or value == [] or value == {}:
            continue
        if isinstance(value, list | tuple):
            text = ", ".join(str(v) for v in value)
        elif isinstance(value, Mapping):
            text = json.dumps(
                {k: v for k, v in value.items() if v not in (None, [], {})}, ensure_ascii=False
            )
        else:
            text = str(value)
        out.append((str(key), text))
    return out


def _group_label(names: Sequence[str], every: Sequence[str], translate: Callable) -> str:
    if len(names) == 1:
        return fill(N_("only %(name)s"), {"name": names[0]}, translate)
    return fill(N_("%(names)s, not the others"), {"names": " + ".join(names)}, translate)


def compare_page_data(
    store: Store,
    workspace: str,
    names: Sequence[str],
    *,
    translate: Callable[[str], str],
    basemap: Mapping[str, Any],
    asset_urls: Mapping[str, str | None],
) -> dict[str, Any]:
    """Scenarios side by side, and a map of the villages only some of them choose.

    Each combination of scenarios that chooses a village ("only a", "a + b, not the
    others", ...) gets a colour of :data:`DIFFERENCE_COLOURS` (in the order the
    combinations first appear when the differences are sorted by code); villages every
    scenario chooses are grey.

    Returns
    -------
    dict
        ``workspace``, ``names``, ``scenarios`` (saved bodies by name), ``headline``
        (their headline numbers by name), ``comparison`` (:func:`compare_scenarios`), ``groups``
        (``{"key", "names", "label", "colour", "count"}``), ``differences`` (rows with
        ``group`` and ``colour``), ``shared`` (count of villages every scenario chooses),
        ``map_html``, ``tooltips``.
    """
    from layers.targeting.scenarios import compare_scenarios, load_scenario

    ws = store.get_workspace(workspace)
    comparison = compare_scenarios(store, workspace, list(names))
    order = list(names)
    loaded = {n: load_scenario(store, workspace, n) for n in order}
    chosen = [
        {str(c) for c in (s.get("summary") or {}).get("villages") or []} for s in loaded.values()
    ]
    shared = sorted(set.intersection(*chosen)) if chosen else []
    differences = sorted(comparison.get("differences") or [], key=lambda r: str(r.get("kode")))
    headline = {str(row.get("name")): row for row in comparison.get("scenarios") or []}
    groups: dict[tuple[str, ...], dict[str, Any]] = {}
    rows = []
    for row in differences:
        inside = tuple(n for n in order if n in set(row.get("in") or []))
        if inside not in groups:
            index = len(groups)
            groups[inside] = {
                "key": index + 1,
                "names": list(inside),
                "label": _group_label(inside, order, translate),
                "colour": DIFFERENCE_COLOURS[index % len(DIFFERENCE_COLOURS)],
                "count": 0,
            }
        group = groups[inside]
        group["count"] += 1
        rows.append({**row, "group": group["key"], "colour": group["colour"], "in": list(inside)})
    frame = _villages(store, workspace, next(iter(loaded.values()), None))
    group_of = {str(r["kode"]): r["group"] for r in rows}
    codes = [*group_of, *shared]
    areas = _village_features(frame, codes, group_of)
    colours = {0: SHARED_COLOUR, **{g["key"]: g["colour"] for g in groups.values()}}
    legend = [(g["colour"], g["label"], "fill") for g in groups.values()]
    legend.append((SHARED_COLOUR, translate(N_("chosen by every scenario")), "fill"))
    legend.append((OUTLINE_COLOUR, translate(N_("Kecamatan outlines")), "line"))
    map_html = build_scenario_map(
        bounds=_bounds(frame, list(group_of) or codes),
        outlines=_kecamatan_outlines(store, workspace, frame, codes),
        areas=areas,
        group_colours=colours,
        legend=legend,
        labels=_map_labels(translate, areas=translate(N_("Villages that differ"))),
        basemap=basemap,
        asset_urls=asset_urls,
    )
    tooltips = _names(frame, codes)
    for code, group in group_of.items():
        label = next(g["label"] for g in groups.values() if g["key"] == group)
        tooltips.setdefault(code, ["", ""]).append(label)
    for code in shared:
        tooltips.setdefault(code, ["", ""]).append(translate(N_("chosen by every scenario")))
    return {
        "workspace": ws,
        "names": order,
        "scenarios": loaded,
        "headline": headline,
        "comparison": comparison,
        "groups": list(groups.values()),
        "differences": rows,
        "shared": len(shared),
        "map_html": map_html,
        "tooltips": tooltips,
    }
