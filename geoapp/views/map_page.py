"""The map page: villages coloured by need, with facilities, needs, outlines and shared notes.

The URL carries the view (profile, indicator, layers, area filter, zoom and centre), so a
copied address opens the same map. The map itself is built by :mod:`geoapp.mapbuild`
(Folium); ``static/js/map.js`` loads the data of the part in view from the JSON API.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Response,
    current_app,
    make_response,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale, gettext

from geoapp import mapbuild
from geoapp.auth import requires
from geoapp.errors import BadRequestError
from geoapp.store import get_store
from layers.errors import InputError
from layers.report import N_

bp = Blueprint("map_page", __name__)

#: Area codes the ``kec`` filter takes: a kabupaten (``15.02``) or a kecamatan (``15.02.06``).
AREA_CODE = re.compile(r"\d{2}\.\d{2}(?:\.\d{2})?")
#: Highest zoom the map accepts in a URL.
MAX_ZOOM = 22
#: How each need status is named in the map's popups.
NEED_STATUS_LABELS: dict[str, str] = {
    "open": N_("open"),
    "verified": N_("verified"),
    "in_progress": N_("in progress"),
    "addressed": N_("addressed"),
    "closed": N_("closed"),
}


def _number(name: str, text: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        raise BadRequestError(
            N_("%(name)s must be a number from %(low)s to %(high)s, not %(value)r"),
            details={"parameter": name},
            name=name,
            low=low,
            high=high,
            value=text,
        )
    return value


def parse_view(args: Any) -> dict[str, Any]:
    """The map view a URL asks for; 400 for a value the map cannot show."""
    view: dict[str, Any] = {
        "profile": args.get("profile") or None,
        "indicator": args.get("indicator") or None,
        "layers": list(mapbuild.DEFAULT_LAYERS),
        "kec": None,
        "z": None,
        "lat": None,
        "lon": None,
    }
    if "layers" in args:
        chosen = [part for part in args.get("layers", "").split(",") if part]
        unknown = [part for part in chosen if part not in mapbuild.OVERLAYS]
        if unknown:
            raise BadRequestError(
                N_("unknown map layer %(layer)r; layers: %(known)s"),
                details={"parameter": "layers", "allowed": list(mapbuild.OVERLAYS)},
                layer=unknown[0],
                known=", ".join(mapbuild.OVERLAYS),
            )
        view["layers"] = [key for key in mapbuild.OVERLAYS if key in chosen]
    kec = args.get("kec") or None
    if kec is not None and not AREA_CODE.fullmatch(kec):
        raise BadRequestError(
            N_("%(value)r is not a kabupaten or kecamatan code such as 15.02 or 15.02.06"),
            details={"parameter": "kec"},
            value=kec,
        )
    view["kec"] = kec
    if args.get("z"):
        zoom = _number("z", args["z"], 0, MAX_ZOOM)
        view["z"] = int(zoom) if zoom.is_integer() else zoom
    if args.get("lat") or args.get("lon"):
        if not (args.get("lat") and args.get("lon")):
            raise BadRequestError(
                N_("give both lat and lon for the centre of the map"),
                details={"parameter": "lat" if not args.get("lat") else "lon"},
            )
        view["lat"] = _number("lat", args["lat"], -90, 90)
        view["lon"] = _number("lon", args["lon"], -180, 180)
    return view


def api_urls(workspace: str, profile: str, indicator: str | None, version: str) -> dict[str, str]:
    """The JSON API addresses the map page uses, with ``{z}``/``{kode}``-style holes."""
    base = url_for("api.workspace", workspace=workspace)
    query = {"profile": profile, **({"indicator": indicator} if indicator else {}), "v": version}
    return {
        "tile_url": f"{base}/tiles/villages/{{z}}/{{x}}/{{y}}.pbf?{urlencode(query)}",
        "values_url": f"{base}/map/values",
        "detail_url": f"{base}/villages/{{kode}}",
        "search_url": f"{base}/search",
        "outlines_url": f"{base}/outlines/{{level}}",
        "points_url": f"{base}/points/{{layer}}",
        "annotations_url": f"{base}/annotations",
        "events_url": f"{base}/events",
        "presenter_url": f"{base}/presenter",
    }


def asset_urls() -> dict[str, str | None]:
    """Folium's resource names mapped to this app's copies (None: left out)."""
    from geoapp.assets import FOLIUM_ASSETS, FOLIUM_SKIPPED

    urls: dict[str, str | None] = {
        name: url_for("static", filename=path) for name, path in FOLIUM_ASSETS.items()
    }
    urls.update({name: None for name in FOLIUM_SKIPPED})
    return urls


def content_security_policy(page: str, basemap: dict[str, Any]) -> str:
    """The app's policy, allowing the map's inline scripts and the basemap's tiles."""
    from geoapp import SECURITY_HEADERS

    directives: dict[str, list[str]] = {}
    for part in SECURITY_HEADERS["Content-Security-Policy"].split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    directives["script-src"] = [*directives.get("script-src", ["'self'"])]
    directives["script-src"] += mapbuild.inline_script_hashes(page)
    if basemap.get("kind") == "tiles" and basemap.get("origin"):
        directives["img-src"] = [*directives.get("img-src", ["'self'"]), basemap["origin"]]
    return "; ".join(" ".join([name, *values]) for name, values in directives.items())


def basemap_for(app) -> dict[str, Any]:
    """The configured basemap; a local MBTiles file is served by the ``basemap`` route."""
    setting = app.config.get("BASEMAP", "none")
    if setting != "mbtiles":
        return mapbuild.basemap_config(setting)
    from geoapp.views.basemap import mbtiles

    source = mbtiles(app)
    return mapbuild.basemap_config(
        "mbtiles",
        local_url=url_for("basemap.tile", z=0, x=0, y=0).replace("/0/0/0", "/{z}/{x}/{y}"),
        attribution=source.attribution,
        max_zoom=source.zooms[1],
    )


@bp.get("/workspaces/<workspace>/map")
@requires("viewer", public_link=True)
def map_page(workspace: str) -> Response:
    """Show the workspace's map in the view the URL describes."""
    view = parse_view(request.args)
    try:
        data = mapbuild.map_page_data(
            get_store(), workspace, view["profile"], view["indicator"], gettext
        )
        basemap = basemap_for(current_app)
    except InputError as exc:
        raise BadRequestError(exc.template, details={"reason": str(exc)}, **exc.params) from None
    lang = str(get_locale() or current_app.config["DEFAULT_LOCALE"])
    urls = api_urls(data.workspace, data.profile, data.indicator, data.version)
    labels = {
        "villages": gettext("Villages (desa/kelurahan)"),
        "kecamatan": gettext("Kecamatan outlines"),
        "kabupaten": gettext("Kabupaten outlines"),
        "facilities": gettext("Facilities"),
        "needs": gettext("Needs"),
        "needs_heat": gettext("Needs heat map"),
        "annotations": gettext("Notes on the map"),
        "basemap": gettext("Background map"),
        "legend_title": data.label + (f" ({data.unit})" if data.unit else ""),
        "no_value": gettext("No data"),
    }
    fragment = mapbuild.build_map(
        workspace=data.workspace,
        bounds=data.bounds,
        legend=data.legend,
        basemap=basemap,
        labels=labels,
        lang=lang,
        asset_urls=asset_urls(),
        **urls,
    )
    view.update(profile=data.profile, indicator=data.indicator)
    from layers.schema import FACILITY_TYPE_LABELS, NEED_CATEGORY_LABELS

    html = render_template(
        "map.html",
        data=data,
        view=view,
        map_html=fragment,
        facility_types={k: gettext(v) for k, v in FACILITY_TYPE_LABELS.items()},
        need_categories={k: gettext(v) for k, v in NEED_CATEGORY_LABELS.items()},
        need_statuses={k: gettext(v) for k, v in NEED_STATUS_LABELS.items()},
    )
    response = make_response(html)
    response.headers["Content-Security-Policy"] = content_security_policy(fragment, basemap)
    return response
