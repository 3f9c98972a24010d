"""The map of the map page, built with Folium, with no geometry in the page.

:func:`build_map` returns the HTML of a Folium map (stylesheets, scripts, the map's element
and its inline script) for the map page to place in its layout. Villages come from the
vector tile route, drawn by ``folium.plugins.VectorGridProtobuf`` and coloured by each
tile feature's ``class`` with the legend's colours; facilities, needs, outlines and
annotations are empty Folium layers that ``static/js/map.js`` fills from the JSON API for
the part of the map in view. Every script and stylesheet Folium would take from a CDN is
replaced by the app's own copy (``asset_urls``); the only address elsewhere a page can
hold is the tile server of a configured online basemap.

:func:`map_page_data` gathers what the page shows besides the map (profiles, the
indicators of the latest run, the legend, the villages' bounds) from the store. Neither
imports Flask: the view passes the translation function and the app's URLs.
"""

from __future__ import annotations

import base64
import decimal
import functools
import hashlib
import html
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from layers.storage import Store

__all__ = [
    "BASEMAPS",
    "DEFAULT_LAYERS",
    "LABEL_KEYS",
    "OVERLAYS",
    "MapPageData",
    "basemap_config",
    "build_map",
    "inline_script_hashes",
    "map_page_data",
]

#: Overlays of the map, in the layer control's order (keys used in URLs and by map.js).
OVERLAYS: tuple[str, ...] = (
    "villages",
    "kecamatan",
    "kabupaten",
    "facilities",
    "needs",
    "needs_heat",
    "annotations",
)
#: Overlays shown when the URL names none.
DEFAULT_LAYERS: tuple[str, ...] = ("villages", "kecamatan", "facilities", "annotations")
#: Translated texts ``build_map`` needs in ``labels``: one per overlay, plus these.
LABEL_KEYS: tuple[str, ...] = (*OVERLAYS, "basemap", "legend_title", "no_value")
#: Basemaps the ``BASEMAP`` setting can name. "osm" is the only one that loads anything
#: from another server (OpenStreetMap's tiles, under its tile usage policy).
BASEMAPS: dict[str, dict[str, Any]] = {
    "none": {"kind": "none"},
    "osm": {
        "kind": "tiles",
        "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "origin": "https://tile.openstreetmap.org",
        "attribution": "© OpenStreetMap contributors",
        "max_zoom": 19,
    },
}
#: Zoom range of the map.
MIN_ZOOM = 3
MAX_ZOOM = 19
#: Zoom above which the village tiles are enlarged rather than fetched again.
MAX_NATIVE_TILE_ZOOM = 14
#: Fill of villages without a value (not scored, or no value of the indicator).
NO_VALUE_COLOUR = "#bdbdbd"

_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
# Characters a URL may keep as they are inside the single-quoted JavaScript string that
# Folium writes the tile URL into; everything else (quotes, backslashes, <, >) is encoded.
_URL_SAFE = "/:?&=%{}.,-_~+@!$*;"
_TILE_HOLE = re.compile(r"%7B([a-z])%7D")


def _json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element and a JavaScript string."""
    return (
        json.dumps(value, ensure_ascii=False)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("'", "\\u0027")
    )


def _number(value: Any, lang: str) -> str:
    """A legend bound: whole above 1,000, one decimal above 10, else two (as map.js does)."""
    from babel.numbers import format_decimal

    size = abs(float(value))
    pattern = "#,##0" if size >= 1000 else "#,##0.#" if size >= 10 else "#,##0.##"
    with decimal.localcontext() as context:
        context.rounding = decimal.ROUND_HALF_UP  # as Intl.NumberFormat rounds
        return format_decimal(decimal.Decimal(str(value)), format=pattern, locale=lang)


def _check_bounds(bounds: Sequence[float]) -> tuple[float, float, float, float]:
    values = tuple(float(v) for v in bounds)
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ValueError(f"bounds must be four finite numbers, not {bounds!r}")
    minx, miny, maxx, maxy = values
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise ValueError(f"bounds must be (minx, miny, maxx, maxy) in degrees, not {bounds!r}")
    return minx, miny, maxx, maxy


def _check_legend(legend: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for entry in legend:
        colour = str(entry.get("colour", ""))
        if not _COLOUR.fullmatch(colour):
            raise ValueError(f"legend colour must be #rrggbb, not {colour!r}")
        klass = entry.get("class")
        out.append(
            {
                "class": None if klass is None else int(klass),
                "label": str(entry.get("label") or ""),
                "lower": entry.get("lower"),
                "upper": entry.get("upper"),
                "colour": colour.lower(),
            }
        )
    return out


def _safe_url(url: str) -> str:
    quoted = quote(url, safe=_URL_SAFE.replace("{", "").replace("}", ""))
    return _TILE_HOLE.sub(lambda m: "{" + m.group(1) + "}", quoted)


def _no_template(text: str) -> str:
    """``text`` (already HTML) with braces as entities, so no template reads it as syntax."""
    return text.replace("{", "&#123;").replace("}", "&#125;")


@functools.cache
def _parts_class() -> type:
    """The Folium element of the legend and configuration (made once, as branca loads late)."""
    from branca.element import Element, MacroElement

    class Raw(Element):
        """Text rendered exactly as given (branca would read a macro's output as a template)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

        def render(self, **kwargs: Any) -> str:
            return self.text

    class Parts(MacroElement):
        """The legend and page configuration (HTML) and the script tying them to the map."""

        def __init__(self, html_text: str, script_text: str) -> None:
            super().__init__()
            self._name = "JangkauMapParts"
            self.html_text = html_text
            self.script_text = script_text

        def render(self, **kwargs: Any) -> None:
            figure = self.get_root()
            figure.html.add_child(Raw(self.html_text), name=self.get_name())
            figure.script.add_child(Raw(self.script_text), name=self.get_name())

    return Parts


def _localise(element: Any, asset_urls: Mapping[str, str | None]) -> None:
    """Point every Folium resource of ``element`` and its children at the app's copies."""
    from folium.elements import JSCSSMixin

    if isinstance(element, JSCSSMixin):
        for attr in ("default_js", "default_css"):
            local = []
            for name, _url in getattr(type(element), attr):
                if name not in asset_urls:
                    raise ValueError(
                        f"no local copy of Folium resource {name!r} "
                        f"({type(element).__name__}); add it to asset_urls"
                    )
                if asset_urls[name] is not None:
                    local.append((name, asset_urls[name]))
            setattr(element, attr, local)
    for child in list(element._children.values()):
        _localise(child, asset_urls)


def _legend_range(entry: Mapping[str, Any], lang: str) -> str:
    lower, upper = entry.get("lower"), entry.get("upper")
    if lower is None and upper is None:
        return ""
    if lower is None:
        return f"≤ {_number(upper, lang)}"
    if upper is None:
        return f"≥ {_number(lower, lang)}"
    return f"{_number(lower, lang)} – {_number(upper, lang)}"


def _legend_html(
    element_id: str, title: str, legend: list[dict[str, Any]], no_value: str, lang: str
) -> str:
    esc = html.escape
    classes = sorted((e for e in legend if e["class"] is not None), key=lambda e: -e["class"])
    missing = next((e for e in legend if e["class"] is None), None)
    items = []
    for entry in classes:
        items.append(
            f'<li data-class="{entry["class"]}" data-colour="{entry["colour"]}">'
            f'<span class="swatch" style="background:{entry["colour"]}"></span>'
            f'<span class="legend-label">{esc(entry["label"])}</span> '
            f'<span class="legend-range">{esc(_legend_range(entry, lang))}</span></li>'
        )
    colour = missing["colour"] if missing else NO_VALUE_COLOUR
    label = (missing["label"] if missing else "") or no_value
    items.append(
        f'<li data-class="" data-colour="{colour}">'
        f'<span class="swatch" style="background:{colour}"></span>'
        f'<span class="legend-label">{esc(label)}</span></li>'
    )
    return (
        f'<div id="{element_id}" class="map-legend" data-legend>'
        f'<h2 class="map-legend-title">{esc(title)}</h2>'
        f'<ul class="map-legend-items">{"".join(items)}</ul></div>'
    )


#: Leaflet.VectorGrid 1.3 was written for Leaflet 1.7: its canvas tiles handle a click by
#: calling ``L.DomEvent.fakeStop`` (gone since Leaflet 1.8) and pass on only clicks on a
#: village, so the map never heard the others (popups stayed open, notes could not be
#: drawn). This handles clicks as Leaflet 1.9's own canvas does: the village hit, then the
#: map. It runs before the layer makes its first tile.
_CANVAS_TILE_CLICK = """\
  L.Canvas.Tile.prototype._onClick = function (e) {
    var point = this._map.mouseEventToLayerPoint(e).subtract(this.getOffset());
    var hit = null;
    for (var id in this._layers) {
      var layer = this._layers[id];
      if (layer.options.interactive && layer._containsPoint(point)
          && !this._map._draggableMoved(layer)) {
        hit = layer;
      }
    }
    this._fireEvent(hit ? [hit] : false, e);
  };
"""


def _village_style_options(legend: list[dict[str, Any]]) -> str:
    """VectorGrid options: one style function for the ``villages`` tile layer.

    The colours sit in ``options.jangkau`` so map.js can change them (another profile or
    indicator) and filter by an area code, then redraw.
    """
    colours = {str(e["class"]): e["colour"] for e in legend if e["class"] is not None}
    missing = [e["colour"] for e in legend if e["class"] is None]
    state = {"colours": colours, "noValue": (missing or [NO_VALUE_COLOUR])[0], "filter": None}
    return (
        "(function () {\n"
        f"{_CANVAS_TILE_CLICK}"
        f"  var state = {_json(state)};\n"
        "  function style(p, z) {\n"
        "    var c = state.colours[String(p['class'])] || state.noValue;\n"
        "    var code = String(p.kode || '');\n"
        "    var inside = !state.filter || code.indexOf(state.filter + '.') === 0;\n"
        "    return {fill: true, fillColor: c, fillOpacity: inside ? 0.78 : 0.15,\n"
        "            color: '#ffffff', weight: z < 9 ? 0.3 : 0.8, opacity: inside ? 0.9 : 0.3};\n"
        "  }\n"
        "  return {\n"
        "    rendererFactory: L.canvas.tile,\n"
        "    interactive: true,\n"
        f"    maxNativeZoom: {MAX_NATIVE_TILE_ZOOM},\n"
        "    getFeatureId: function (f) { return f.properties.kode; },\n"
        "    jangkau: state,\n"
        "    vectorTileLayerStyles: {villages: style}\n"
        "  };\n"
        "})()"
    )


def folium_map(
    bounds: tuple[float, float, float, float], basemap: Mapping[str, Any], basemap_name: str
) -> Any:
    """An empty Folium map centred on ``bounds`` with the configured background, if any.

    ``basemap_name`` is the layer's name, already escaped for Leaflet's layer control.
    """
    import folium

    minx, miny, maxx, maxy = bounds
    m = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        zoom_start=9,
        tiles=None,
        control_scale=True,
        width="100%",
        height="100%",
        # Leaflet needs a zoom range when no tile layer gives one (marker clusters ask).
        minZoom=MIN_ZOOM,
        maxZoom=MAX_ZOOM,
    )
    if basemap.get("kind") == "tiles":
        folium.TileLayer(
            tiles=_safe_url(str(basemap["url"])),
            attr=_no_template(html.escape(str(basemap.get("attribution", "")))),
            name=basemap_name,
            max_zoom=int(basemap.get("max_zoom", 19)),
            overlay=False,
            control=False,
        ).add_to(m)
    return m


def build_map(
    *,
    workspace: str,
    bounds: Sequence[float],
    tile_url: str,
    values_url: str,
    detail_url: str,
    search_url: str,
    outlines_url: str,
    points_url: str,
    annotations_url: str,
    events_url: str,
    presenter_url: str,
    legend: list,
    basemap: dict,
    labels: dict,
    lang: str,
    asset_urls: dict,
) -> str:
    """The map's HTML: Folium's stylesheets and scripts, the map element, its script.

    ``bounds`` is ``(minx, miny, maxx, maxy)`` in degrees; the map opens fitted to it.
    ``tile_url`` holds ``{z}``, ``{x}`` and ``{y}``; ``detail_url`` holds ``{kode}`` and
    ``outlines_url`` and ``points_url`` hold ``{level}`` and ``{layer}``. ``legend`` is the
    values API's (``class``, translated ``label``, ``lower``, ``upper``, ``colour``);
    ``labels`` the translated texts of :data:`LABEL_KEYS`; ``basemap`` one of
    :data:`BASEMAPS`; ``asset_urls`` maps each Folium resource name to the app's URL of
    its local copy, or to None to leave it out. A Folium resource missing from
    ``asset_urls`` is an error, so no CDN address can reach the page.
    """
    import folium
    from folium.plugins import GeoMan, HeatMap, MarkerCluster, VectorGridProtobuf

    minx, miny, maxx, maxy = _check_bounds(bounds)
    checked_legend = _check_legend(legend)
    missing = [key for key in LABEL_KEYS if key not in labels]
    if missing:
        raise ValueError(f"labels lacks {', '.join(missing)}")
    if lang not in ("id", "en"):
        raise ValueError(f"lang must be id or en, not {lang!r}")
    kind = basemap.get("kind", "none")
    if kind not in ("none", "tiles"):
        raise ValueError(f"basemap kind must be none or tiles, not {kind!r}")

    def name(key: str) -> str:
        # Leaflet's layer control writes names as HTML: give it escaped text. Folium reads
        # its own output as a template once more, so braces are written as entities.
        return _no_template(html.escape(str(labels[key])))

    m = folium_map((minx, miny, maxx, maxy), basemap, name("basemap"))

    layers: dict[str, Any] = {}
    layers["villages"] = VectorGridProtobuf(
        _safe_url(tile_url),
        name=name("villages"),
        options=_village_style_options(checked_legend),
        overlay=True,
    )
    layers["kecamatan"] = folium.FeatureGroup(name=name("kecamatan"), show=True)
    layers["kabupaten"] = folium.FeatureGroup(name=name("kabupaten"), show=False)
    cluster = {
        "show_coverage_on_hover": False,
        "max_cluster_radius": 45,
        "chunked_loading": True,
        "disable_clustering_at_zoom": 16,
    }
    layers["facilities"] = MarkerCluster(name=name("facilities"), show=True, **cluster)
    layers["needs"] = MarkerCluster(name=name("needs"), show=False, **cluster)
    layers["needs_heat"] = HeatMap(
        [],
        name=name("needs_heat"),
        show=False,
        radius=22,
        blur=18,
        max_zoom=13,
        min_opacity=0.3,
        # Purples: apart from the villages' yellow-to-red, and readable without colour.
        gradient={0.3: "#dadaeb", 0.6: "#9e9ac8", 0.8: "#6a51a3", 1.0: "#3f007d"},
    )
    layers["annotations"] = folium.FeatureGroup(name=name("annotations"), show=True)
    for key in OVERLAYS:
        layers[key].add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    control = folium.LayerControl(position="topright", collapsed=False)
    control.add_to(m)
    # Drawing notes: a point, a line or an area; map.js asks for the note and saves it.
    GeoMan(
        position="topleft",
        draw_marker=True,
        draw_polyline=True,
        draw_polygon=True,
        draw_circle_marker=False,
        draw_circle=False,
        draw_rectangle=False,
        draw_text=False,
        edit_mode=False,
        drag_mode=False,
        cut_polygon=False,
        removal_mode=False,
        rotate_mode=False,
        one_block=True,
    ).add_to(m)

    legend_id = f"legend_{m.get_name().removeprefix('map_')}"
    title, no_value = str(labels["legend_title"]), str(labels["no_value"])
    config = {
        "workspace": workspace,
        "lang": lang,
        "bounds": [minx, miny, maxx, maxy],
        "legend": checked_legend,
        "legendId": legend_id,
        "noValueColour": NO_VALUE_COLOUR,
        "overlays": list(OVERLAYS),
        "urls": {
            "tiles": _safe_url(tile_url),
            "values": values_url,
            "detail": detail_url,
            "search": search_url,
            "outlines": outlines_url,
            "points": points_url,
            "annotations": annotations_url,
            "events": events_url,
            "presenter": presenter_url,
        },
    }
    entries = "".join(f"{_json(k)}: {layers[k].get_name()}, " for k in OVERLAYS)
    extra = _parts_class()(
        _legend_html(legend_id, title, checked_legend, no_value, lang)
        + '\n<script type="application/json" id="jangkau-map-config">'
        + _json(config)
        + "</script>",
        f"window.jangkauMap = {{map: {m.get_name()}, control: {control.get_name()}, "
        f"layers: {{{entries}}}}};\n"
        f"(function () {{\n  var el = document.getElementById({_json(legend_id)});\n"
        "  var legend = L.control({position: 'bottomright'});\n"
        "  legend.onAdd = function () { L.DomEvent.disableClickPropagation(el); return el; };\n"
        f"  legend.addTo({m.get_name()});\n  window.jangkauMap.legend = legend;\n}})();\n",
    )
    extra.add_to(m)

    _localise(m, asset_urls)
    figure = m.get_root()
    figure.header._children.pop("meta_http", None)
    figure.render()
    header = figure.header.render()
    body = figure.html.render()
    script = figure.script.render()
    return (
        f'<div class="jangkau-map" data-map="{m.get_name()}">\n{header}\n{body}\n'
        f"<script>\n{script}\n</script>\n</div>\n"
    )


def inline_script_hashes(page: str) -> list[str]:
    """CSP sources (``'sha256-...'``) of the inline scripts in ``page``, in order."""
    out = []
    for body in _INLINE_SCRIPT.findall(page):
        digest = hashlib.sha256(body.encode("utf-8")).digest()
        source = f"'sha256-{base64.b64encode(digest).decode('ascii')}'"
        if source not in out:
            out.append(source)
    return out


def basemap_config(
    setting: str, *, local_url: str | None = None, attribution: str = "", max_zoom: int = 19
) -> dict[str, Any]:
    """The basemap of the ``BASEMAP`` setting: ``"none"``, ``"osm"`` or ``"mbtiles"``.

    ``"mbtiles"`` is a local file served by the app itself at ``local_url`` (with
    ``{z}``, ``{x}``, ``{y}``): a background map that works with the network cut.
    """
    key = (setting or "none").strip().lower()
    if key == "mbtiles":
        if not local_url:
            raise ValueError("the mbtiles basemap needs the app's URL of its tiles")
        return {
            "kind": "tiles",
            "url": local_url,
            "origin": None,
            "attribution": attribution,
            "max_zoom": max_zoom,
        }
    if key not in BASEMAPS:
        choices = ", ".join([*BASEMAPS, "mbtiles"])
        raise ValueError(f"BASEMAP must be one of {choices}, not {setting!r}")
    return dict(BASEMAPS[key])


# --- what the page shows besides the map ----------------------------------------------------


@dataclass(frozen=True)
class MapPageData:
    """What the map page shows besides the map itself.

    ``profiles`` are ``{"name", "title"}`` and ``indicators`` ``{"id", "label", "unit",
    "in_profile"}`` dicts with translated texts (the profile's own indicators first);
    ``legend`` has translated labels and ``label`` names what colours the villages;
    ``version`` changes with the data drawn (tile URLs carry it, so browsers may keep
    tiles); ``bounds`` is the villages' extent ``(minx, miny, maxx, maxy)`` in degrees.
    """

    workspace: str
    title: str
    profile: str
    profiles: list[dict[str, str]]
    indicator: str | None
    indicators: list[dict[str, Any]]
    legend: list[dict[str, Any]]
    label: str
    unit: str | None
    run: str
    version: str
    bounds: tuple[float, float, float, float]


def map_page_data(
    store: Store,
    workspace: str,
    profile: str | None,
    indicator: str | None,
    translate: Callable[[str], str],
) -> MapPageData:
    """Profiles, the indicators of the profile's latest run, the legend and the extent.

    Without ``profile`` the first profile of the workspace is shown. Raises
    :class:`layers.errors.NotFoundError` for an unknown workspace or profile and
    :class:`layers.errors.InputError` for an indicator the run does not have.
    """
    from layers.errors import N_, InputError, NotFoundError
    from layers.mapdata import indicator_info, latest_run, map_values, render_label, unit_label
    from layers.score_run import list_profiles

    ws = store.get_workspace(workspace)
    entries = list_profiles(store, workspace)
    names = [e.name for e in entries]
    chosen = profile or (names[0] if names else "")
    if chosen not in names:
        raise NotFoundError(
            N_("no scoring profile called %(name)r; profiles: %(known)s"),
            params={"name": chosen, "known": ", ".join(names)},
        )
    values = map_values(store, workspace, chosen, indicator or None)
    run = latest_run(store, workspace, chosen)  # kept in memory by map_values
    weighed = [r.indicator for r in run.profile.rules if r.indicator in run.indicators]
    ordered = weighed + [i for i in run.indicators if i not in weighed]
    indicators = []
    for ident in ordered:
        template, params, unit = indicator_info(ident, run.settings)
        indicators.append(
            {
                "id": ident,
                "label": render_label(template, params, translate),
                "unit": unit_label(unit, translate) or "",
                "in_profile": ident in weighed,
            }
        )
    name, version = values.villages_ref.split("/", 1)[1].rsplit("@", 1)
    info = store.dataset_info(workspace, name, int(version))
    if info.bounds is None:
        raise InputError(N_("the villages layer has no geometry to map"))
    legend = [{**e, "label": translate(str(e.get("label") or ""))} for e in values.legend]
    return MapPageData(
        workspace=ws.name,
        title=translate(ws.title),
        profile=chosen,
        profiles=[{"name": e.name, "title": translate(e.title)} for e in entries],
        indicator=values.indicator,
        indicators=indicators,
        legend=legend,
        label=render_label(values.label, values.label_params, translate),
        unit=unit_label(values.unit, translate),
        run=values.run_ref,
        version=values.version,
        bounds=tuple(float(v) for v in info.bounds),  # type: ignore[arg-type]
    )
