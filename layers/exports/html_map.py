"""A standalone HTML map: one file that shows the villages by need class, opened from disk.

:func:`export_html_map` writes a single ``.html`` file with everything inside it: Leaflet's
script and stylesheet (read from the app's local copies in ``geoapp/static/vendor`` when
the file is made, never from a CDN), the villages as GeoJSON simplified to a tolerance in
metres, coloured by the need class of the latest score run with the same classes and
colours as the web map (:mod:`layers.mapdata`), a legend, and a popup per village with its
name, code, kecamatan, score, rank and class. The page asks nothing of any network (its
Content-Security-Policy forbids it), so it works on a laptop without internet, attached
to an e-mail or copied to a flash drive.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from layers.errors import N_, InputError
from layers.exports.data import ExportNote, ExportResult, _atomic, _software
from layers.storage import Store

__all__ = ["COORDINATE_DECIMALS", "DEFAULT_TOLERANCE_M", "VENDOR_DIR", "export_html_map"]

#: Default simplification tolerance of the village outlines, in metres.
DEFAULT_TOLERANCE_M = 25.0
#: Decimals of the coordinates in the page (5 decimals: about 1.1 m).
COORDINATE_DECIMALS = 5
#: The app's local copies of the front-end libraries (made at setup from npm).
VENDOR_DIR = Path(__file__).resolve().parents[2] / "geoapp" / "static" / "vendor"
#: Files inlined into the page.
LEAFLET_JS = "leaflet/leaflet.js"
LEAFLET_CSS = "leaflet/leaflet.css"
#: The page may load nothing from anywhere: scripts and styles are inline, images data URLs.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"
)
#: Colour of villages without a value (as the web map).
NO_DATA_COLOUR = "#bdbdbd"

TEXTS: dict[str, str] = {
    "code": N_("Code"),
    "kecamatan": N_("Kecamatan"),
    "score": N_("Score"),
    "rank": N_("Rank"),
    "class": N_("Need class"),
    "no_data": N_("No data"),
    "villages": N_("Villages"),
    "legend": N_("Need class"),
    "no_run": N_("No score run yet: villages are not coloured. Run geoapp score first."),
    "data": N_("Data: %(refs)s"),
    "made": N_("Made on %(date)s with Jangkau %(version)s"),
    "simplified": N_(
        "Village outlines simplified to %(metres)s m for this file; "
        "the GeoPackage export has the exact boundaries."
    ),
    "profile": N_("Scoring profile: %(profile)s"),
}


def _tr(gettext: Callable[[str], str] | None) -> Callable[..., str]:
    def translate(key: str, **params: Any) -> str:
        template = TEXTS[key]
        text = gettext(template) if gettext else template
        if params:
            try:
                return text % params
            except (KeyError, TypeError, ValueError):
                return template % params
        return text

    return translate


def _read_vendor(vendor_dir: Path, name: str) -> str:
    path = vendor_dir / name
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: the front-end files are installed by scripts/setup.sh (npm)"
        )
    return path.read_text(encoding="utf-8")


def _inline(text: str, tag: str) -> str:
    """Text safe inside ``<tag>...</tag>``: no closing tag can end it early."""
    return text.replace(f"</{tag}", f"<\\/{tag}")


def _json_for_script(data: Any) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _latest_profile(store: Store, ws: str) -> str | None:
    records = store.list_records(ws, "score_runs")
    if not records:
        return None
    return max(records, key=lambda r: (r.created_at, r.name)).name


def simplify_villages(frame: Any, tolerance_m: float) -> np.ndarray:
    """The village outlines simplified to ``tolerance_m`` metres (in a metric CRS) and
    rounded to :data:`COORDINATE_DECIMALS` decimals, in EPSG:4326.

    When the villages form a valid coverage (no overlaps), their shared edges are
    simplified once (``shapely.coverage_simplify``), so neighbours keep meeting without
    gaps; otherwise each outline is simplified on its own, keeping it valid.
    """
    import geopandas as gpd
    import shapely

    from layers.crs import metric_crs

    geometry = gpd.GeoSeries(frame.geometry.to_numpy(), crs=frame.crs)
    present = geometry.notna() & ~geometry.is_empty
    out = np.full(len(geometry), None, dtype=object)
    if not present.any():
        return out
    shapes = geometry[present]
    crs = metric_crs(tuple(shapes.to_crs(4326).total_bounds))
    metric = shapes.to_crs(crs).to_numpy()
    metric = shapely.make_valid(metric)
    if tolerance_m > 0:
        try:
            coverage = bool(shapely.coverage_is_valid(metric))
        except shapely.errors.GEOSException:
            coverage = False
        if coverage:
            simple = shapely.coverage_simplify(metric, tolerance_m)
        else:
            simple = shapely.simplify(metric, tolerance_m, preserve_topology=True)
    else:
        simple = metric
    back = gpd.GeoSeries(simple, crs=crs).to_crs(4326).to_numpy()
    back = shapely.transform(back, lambda xy: np.round(xy, COORDINATE_DECIMALS))
    out[present.to_numpy()] = back
    return out


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _features(frame: Any, shapes: np.ndarray, values: Any) -> tuple[str, int]:
    """The villages as a GeoJSON FeatureCollection text, and the number of features."""
    import shapely

    keep = np.array([s is not None and not shapely.is_empty(s) for s in shapes], dtype=bool)
    texts = shapely.to_geojson(shapes[keep])
    kode = frame["kode"].astype(object).to_numpy()[keep]
    name = frame["name"].astype(object).to_numpy()[keep]
    kec = (
        frame["kecamatan"].astype(object).to_numpy()[keep]
        if "kecamatan" in frame
        else np.full(keep.sum(), None)
    )
    if values is not None:
        chosen = values.reindex(pd.Index(kode, dtype=object))
        score = chosen["value"].to_numpy(dtype="float64", na_value=np.nan)
        klass = chosen["class"].astype("Int64")
        rank = chosen["rank"].astype("Int64")
    parts = []
    for i, (k, n, kc, geometry) in enumerate(zip(kode, name, kec, texts, strict=True)):
        props: dict[str, Any] = {"k": str(k), "n": None if pd.isna(n) else str(n)}
        if isinstance(kc, str):
            props["kc"] = kc
        if values is not None:
            if np.isfinite(score[i]):
                props["s"] = round(float(score[i]), 1)
            if not pd.isna(klass.iloc[i]):
                props["c"] = int(klass.iloc[i])
            if not pd.isna(rank.iloc[i]):
                props["r"] = int(rank.iloc[i])
        parts.append(
            '{"type":"Feature","properties":'
            + _json_for_script(props)
            + ',"geometry":'
            + geometry
            + "}"
        )
    return '{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}", len(parts)


PAGE_CSS = """
html, body { margin: 0; height: 100%; font-family: system-ui, "Segoe UI", Roboto, sans-serif; }
body { display: flex; flex-direction: column; font-size: 18px; color: #222; }
header { padding: 0.5rem 1rem; border-bottom: 1px solid #ccc; }
header h1 { margin: 0; font-size: 1.5rem; }
header p { margin: 0.2rem 0 0; color: #444; }
main { flex: 1; position: relative; min-height: 300px; }
#map { position: absolute; inset: 0; background: #f4f4f0; }
#legend { position: absolute; right: 10px; bottom: 24px; z-index: 1000; background: #fff;
  padding: 0.5rem 0.75rem; border: 1px solid #999; border-radius: 4px; font-size: 16px; }
#legend h2 { font-size: 1rem; margin: 0 0 0.3rem; }
#legend ul { list-style: none; margin: 0; padding: 0; }
#legend li { display: flex; align-items: center; gap: 0.4rem; margin: 0.15rem 0; }
#legend .swatch { display: inline-block; width: 1.2em; height: 1em; border: 1px solid #666; }
footer { padding: 0.3rem 1rem; font-size: 14px; color: #444; border-top: 1px solid #ccc; }
.popup strong { display: block; font-size: 1.1rem; margin-bottom: 0.2rem; }
.popup div { font-size: 0.95rem; }
"""

PAGE_JS = """
(function () {
  "use strict";
  var page = JSON.parse(document.getElementById("page-data").textContent);
  var data = JSON.parse(document.getElementById("villages-data").textContent);
  var colours = {};
  page.legend.forEach(function (item) { if (item.class !== null) { colours[item.class] = item; } });
  var locale = page.lang === "id" ? "id-ID" : "en";
  var fmt = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });
  var map = L.map("map", { attributionControl: false, preferCanvas: false });
  function style(feature) {
    var c = feature.properties.c;
    return { color: "#555", weight: 0.8, fillOpacity: 0.8,
             fillColor: c in colours ? colours[c].colour : page.no_data_colour };
  }
  function line(label, value) {
    var div = document.createElement("div");
    div.textContent = label + ": " + value;
    return div;
  }
  function popup(layer) {
    var p = layer.feature.properties;
    var box = document.createElement("div");
    box.className = "popup";
    var title = document.createElement("strong");
    title.textContent = p.n || p.k;
    box.appendChild(title);
    box.appendChild(line(page.texts.code, p.k));
    if (p.kc) { box.appendChild(line(page.texts.kecamatan, p.kc)); }
    if (p.s !== undefined) { box.appendChild(line(page.texts.score, fmt.format(p.s))); }
    if (p.r !== undefined) { box.appendChild(line(page.texts.rank, p.r + " / " + page.ranked)); }
    var label = p.c in colours ? colours[p.c].label : page.texts.no_data;
    box.appendChild(line(page.texts["class"], label));
    return box;
  }
  var villages = L.geoJSON(data, { style: style }).bindPopup(popup).addTo(map);
  var bounds = villages.getBounds();
  if (bounds.isValid()) { map.fitBounds(bounds); } else { map.setView([-2, 118], 5); }
  window.jangkauMap = { map: map, villages: villages };
})();
"""


def _legend_html(legend: list[dict[str, Any]], title: str, no_run: str | None) -> str:
    items = []
    for item in reversed([i for i in legend if i["class"] is not None]):
        items.append(
            f'<li><span class="swatch" style="background:{html.escape(item["colour"])}"></span>'
            f"{html.escape(item['label'])} ({item['count']})</li>"
        )
    for item in legend:
        if item["class"] is None and item["count"]:
            items.append(
                f'<li><span class="swatch" style="background:{html.escape(item["colour"])}"></span>'
                f"{html.escape(item['label'])} ({item['count']})</li>"
            )
    note = f"<p>{html.escape(no_run)}</p>" if no_run else ""
    return (
        f'<aside id="legend"><h2>{html.escape(title)}</h2>{note}<ul>{"".join(items)}</ul></aside>'
    )


def export_html_map(
    store: Store,
    ws: str,
    path: str | os.PathLike[str],
    *,
    profile: str | None = None,
    tolerance_m: float = DEFAULT_TOLERANCE_M,
    lang: str = "id",
    gettext: Callable[[str], str] | None = None,
    title: str | None = None,
    vendor_dir: Path | None = None,
) -> ExportResult:
    """Write a standalone HTML map of the workspace's villages by need class.

    Parameters
    ----------
    store : Store
        The store.
    ws : str
        Workspace name.
    path : path
        File to write; written whole or not at all.
    profile : str, optional
        Scoring profile whose latest run colours the villages (one is computed and saved
        when the profile has none, as for the web map). Default: the profile of the most
        recent saved run; with no run at all the villages are drawn uncoloured.
    tolerance_m : float
        Simplification tolerance in metres (0 keeps every vertex).
    lang : str
        ``id`` or ``en``: the page's language and number format.
    gettext : callable, optional
        Translates the page's texts (English without).
    title : str, optional
        Title (default: the workspace's title).
    vendor_dir : Path, optional
        Where Leaflet's files are (default :data:`VENDOR_DIR`).

    Returns
    -------
    ExportResult
        ``layers`` is ``("villages",)``; ``rows`` the villages drawn.

    Raises
    ------
    InputError
        A negative tolerance or a bad profile name.
    NotFoundError
        Unknown workspace or profile, or a workspace without villages.
    FileNotFoundError
        Leaflet's files are not installed.
    """
    from layers.mapdata import map_values, render_label
    from layers.mapdata.cache import latest_run, latest_villages, run_villages

    tr = _tr(gettext)
    tolerance = _number(tolerance_m)
    if tolerance is None or tolerance < 0:
        raise InputError(
            N_("the tolerance must be 0 or more metres, not %(found)r"),
            params={"found": tolerance_m, "setting": "tolerance_m"},
        )
    workspace = store.get_workspace(ws)
    vendor = vendor_dir or VENDOR_DIR
    leaflet_js = _read_vendor(vendor, LEAFLET_JS)
    leaflet_css = _read_vendor(vendor, LEAFLET_CSS)
    chosen = profile or _latest_profile(store, ws)
    notes: list[ExportNote] = []
    if chosen is not None:
        mv = map_values(store, ws, chosen)
        run = latest_run(store, ws, chosen)
        villages = run_villages(store, ws, run)
        values = mv.values
        legend = [{**item, "label": (gettext or str)(item["label"])} for item in mv.legend]
        legend_title = render_label(mv.label, mv.label_params, gettext)
        refs = [villages.ref, mv.run_ref]
        no_run = None
    else:
        villages = latest_villages(store, ws)
        values = None
        legend = [
            {
                "class": None,
                "label": tr("no_data"),
                "colour": NO_DATA_COLOUR,
                "count": len(villages.frame),
            }
        ]
        legend_title = tr("legend")
        refs = [villages.ref]
        no_run = tr("no_run")
    frame = villages.frame
    shapes = simplify_villages(frame, tolerance)
    geojson, count = _features(frame, shapes, values)
    ranked = int(values["rank"].notna().sum()) if values is not None else 0
    page = {
        "lang": lang,
        "legend": [
            {"class": i["class"], "label": i["label"], "colour": i["colour"]} for i in legend
        ],
        "no_data_colour": NO_DATA_COLOUR,
        "ranked": ranked,
        "texts": {
            key: tr(key) for key in ("code", "kecamatan", "score", "rank", "class", "no_data")
        },
    }
    heading = title or workspace.title or workspace.name
    subtitle = " · ".join(
        part
        for part in (
            legend_title,
            tr("profile", profile=chosen) if chosen else "",
            f"{tr('villages')}: {count}",
        )
        if part
    )
    today = datetime.now().astimezone().date().isoformat()
    footer = " · ".join(
        [
            tr("data", refs=", ".join(refs)),
            tr("simplified", metres=f"{tolerance:g}"),
            tr("made", date=today, version=_software()),
        ]
    )
    document = "".join(
        [
            "<!DOCTYPE html>\n",
            f'<html lang="{html.escape(lang)}"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(heading)}</title>",
            f"<style>{_inline(leaflet_css, 'style')}</style>",
            f"<style>{PAGE_CSS}</style></head><body>",
            f"<header><h1>{html.escape(heading)}</h1><p>{html.escape(subtitle)}</p></header>",
            '<main><div id="map"></div>',
            _legend_html(legend, legend_title, no_run),
            "</main>",
            f"<footer>{html.escape(footer)}</footer>",
            f"<script>{_inline(leaflet_js, 'script')}</script>",
            f'<script type="application/json" id="page-data">{_json_for_script(page)}</script>',
            f'<script type="application/json" id="villages-data">{_inline(geojson, "script")}'
            "</script>",
            f"<script>{PAGE_JS}</script>",
            "</body></html>\n",
        ]
    )
    target = Path(path)
    with _atomic(target, ".html") as partial:
        partial.write_text(document, encoding="utf-8")
    return ExportResult(
        path=target,
        size=target.stat().st_size,
        layers=("villages",),
        notes=tuple(notes),
        rows={"villages": count},
    )
