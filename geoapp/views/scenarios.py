"""Scenario pages: the list with the form to run one, a result, a comparison, downloads.

A scenario is a saved placement (which villages get a program) or siting (where new
facilities go) of :mod:`layers.targeting.scenarios`. The pages' data and maps come from
:mod:`geoapp.scenario_maps` (Folium, no Flask); the form runs a scenario through the JSON
API (:mod:`geoapp.views.scenarios_api`) with ``static/js/scenarios.js``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, Response, current_app, make_response, render_template, request
from flask_babel import get_locale, gettext

from geoapp import scenario_maps
from geoapp.auth import requires
from geoapp.store import get_store
from geoapp.views.scenarios_api import core_call, parse_names, parse_version

bp = Blueprint("scenarios", __name__, url_prefix="/workspaces/<workspace>/scenarios")

#: Download formats and their content types.
FORMATS: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _map_context() -> dict:
    from geoapp.views.map_page import asset_urls, basemap_for

    return {"translate": gettext, "basemap": basemap_for(current_app), "asset_urls": asset_urls()}


def _with_map_policy(html: str, fragment: str) -> Response:
    from geoapp.views.map_page import basemap_for, content_security_policy

    response = make_response(html)
    response.headers["Content-Security-Policy"] = content_security_policy(
        fragment, basemap_for(current_app)
    )
    return response


def export_file(workspace: str, name: str, fmt: str) -> bytes:
    """The scenario's villages as CSV or XLSX bytes, reasons in the request's language."""
    from layers.targeting.scenarios import export_scenario

    with tempfile.TemporaryDirectory(prefix="jangkau-export-") as folder:
        path = core_call(
            export_scenario,
            get_store(),
            workspace,
            name,
            Path(folder) / f"{name}.{fmt}",
            fmt,
            gettext=gettext,
            lang=str(get_locale() or current_app.config["DEFAULT_LOCALE"]),
        )
        return Path(path).read_bytes()


@bp.get("")
@requires("viewer")
def index(workspace: str):
    """List the saved scenarios, with the form to run a new one."""
    data = core_call(scenario_maps.list_page_data, get_store(), workspace, gettext)
    return render_template("scenarios.html", **data)


@bp.get("/compare")
@requires("viewer")
def compare(workspace: str):
    """Show two or more scenarios side by side with a map of where they differ."""
    names = parse_names(request.args)
    data = core_call(
        scenario_maps.compare_page_data, get_store(), workspace, names, **_map_context()
    )
    return _with_map_policy(render_template("scenarios_compare.html", **data), data["map_html"])


@bp.get("/<name>")
@requires("viewer")
def result(workspace: str, name: str):
    """Show a saved scenario: headline numbers, villages, map, rules, downloads."""
    version = parse_version(request.args)
    data = core_call(
        scenario_maps.result_page_data, get_store(), workspace, name, version, **_map_context()
    )
    return _with_map_policy(render_template("scenarios_result.html", **data), data["map_html"])


@bp.get("/<name>/export.csv", defaults={"fmt": "csv"})
@bp.get("/<name>/export.xlsx", defaults={"fmt": "xlsx"})
@requires("viewer")
def export(workspace: str, name: str, fmt: str) -> Response:
    """Download the scenario's villages as CSV or XLSX."""
    body = export_file(workspace, name, fmt)
    response = Response(body, mimetype=FORMATS[fmt].split(";")[0])
    response.headers["Content-Type"] = FORMATS[fmt]
    response.headers["Content-Disposition"] = f'attachment; filename="{workspace}-{name}.{fmt}"'
    return response
