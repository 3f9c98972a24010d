"""The coverage page (map, timeline, charts, tables, downloads) and the read-only partner page.

The data comes from :mod:`geoapp.views.coverage_data` (one call per page) and the charts
from :mod:`geoapp.views.coverage_charts` (SVG made here, no chart library). The map draws
the workspace's village vector tiles and ``static/js/coverage.js`` colours them by code
from the page's JSON; moving the timeline asks the JSON API
(:mod:`geoapp.views.coverage_api`) for the reach on another date, without a reload.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, current_app, render_template, request, url_for
from flask_babel import get_locale, gettext

from geoapp.auth import requires
from geoapp.store import get_store
from geoapp.views import coverage_charts, coverage_data
from geoapp.views.coverage_api import core_call
from geoapp.views.map_page import NEED_STATUS_LABELS

bp = Blueprint("coverage", __name__, url_prefix="/workspaces/<workspace>")

#: Download formats and their content types.
FORMATS: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _lang() -> str:
    return str(get_locale() or current_app.config["DEFAULT_LOCALE"])


def _labels() -> dict[str, dict[str, str]]:
    from layers.programs.model import SECTOR_LABELS, STATUS_LABELS, UNIT_LABELS

    return {
        "sectors": {k: gettext(v) for k, v in SECTOR_LABELS.items()},
        "statuses": {k: gettext(v) for k, v in STATUS_LABELS.items()},
        "units": {k: gettext(v) for k, v in UNIT_LABELS.items()},
    }


@bp.get("/coverage")
@requires("viewer")
def coverage_page(workspace: str) -> str:
    """Show coverage on ``?as_of=`` for ``?type=``, the map coloured by ``?colour=``."""
    as_of = core_call(coverage_data.parse_date, request.args.get("as_of"))
    data = core_call(
        coverage_data.coverage_page_data,
        get_store(),
        workspace,
        as_of=as_of,
        facility_type=request.args.get("type") or None,
        colour=request.args.get("colour") or "coverage",
        translate=gettext,
    )
    labels = _labels()
    lang = _lang()
    data["month"] = _month_of(data["as_of"], data["months"])
    charts = {
        "kecamatan": coverage_charts.kecamatan_bars(
            data["kecamatan"],
            title=gettext("Share of people within the standard distance, by kecamatan"),
            lang=lang,
            target_label=gettext("target"),
        ),
        "reach": coverage_charts.reach_charts(
            data["series"],
            data["months"],
            as_of=data["month"],
            lang=lang,
            translate=gettext,
            sector_labels=labels["sectors"],
        ),
    }
    tiles = None
    if data["map"] is not None:
        tiles = url_for(
            "map_api.village_tile",
            workspace=workspace,
            z=0,
            x=0,
            y=0,
            profile=data["map"]["profile"],
            v=data["map"]["version"],
        ).replace("/0/0/0.pbf", "/{z}/{x}/{y}.pbf")
    return render_template(
        "coverage.html",
        data=data,
        charts=charts,
        labels=labels,
        tiles=tiles,
        workspace_name=workspace,
        need_statuses={k: gettext(v) for k, v in NEED_STATUS_LABELS.items()},
        api=url_for("coverage_api.coverage", workspace=workspace),
        needs_api=url_for("coverage_api.village_needs", workspace=workspace, kode="KODE"),
        need_action_api=url_for(
            "coverage_api.verify_need", workspace=workspace, need_id="NEED_ID"
        ).replace("/verify", "/ACTION"),
        today=date.today().isoformat(),
    )


def _month_of(as_of: str, months: list[str]) -> str:
    """The month end of the timeline that ``as_of`` falls in (the nearest end otherwise)."""
    for m in months:
        if as_of[:7] == m[:7]:
            return m
    return months[0] if months and as_of < months[0] else (months[-1] if months else as_of)


@bp.get("/coverage/export.csv", defaults={"fmt": "csv"})
@bp.get("/coverage/export.xlsx", defaults={"fmt": "xlsx"})
@requires("viewer")
def export(workspace: str, fmt: str) -> Response:
    """Download the service coverage table of ``?level=`` (kecamatan) as CSV or XLSX."""
    level = request.args.get("level") or "kecamatan"
    body = core_call(
        coverage_data.coverage_export,
        get_store(),
        workspace,
        as_of=core_call(coverage_data.parse_date, request.args.get("as_of")),
        level=level,
        fmt=fmt,
        translate=gettext,
    )
    response = Response(body, mimetype=FORMATS[fmt].split(";")[0])
    response.headers["Content-Type"] = FORMATS[fmt]
    name = f"{workspace}-coverage-{level}.{fmt}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.get("/partner")
@requires("viewer")
def partner(workspace: str) -> str:
    """Show partners the coverage by kecamatan and kabupaten with its method, read-only."""
    as_of = core_call(coverage_data.parse_date, request.args.get("as_of"))
    data = core_call(
        coverage_data.partner_page_data, get_store(), workspace, as_of=as_of, translate=gettext
    )
    return render_template("partner.html", data=data, labels=_labels(), workspace_name=workspace)
