"""Printed maps on the web: the map page's "Print / PDF" control downloads a PNG or PDF of
the current view, drawn by :class:`layers.exports.static_map.StaticMap`."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, current_app
from flask import request as flask_request
from flask_babel import get_locale, gettext

from geoapp.auth import requires
from geoapp.cli_export_map import basemap_file
from geoapp.errors import BadRequestError
from geoapp.store import get_store
from geoapp.views.scenarios_api import core_call
from layers.report import N_

bp = Blueprint("map_export", __name__)

#: Content type of each format.
MIMETYPES = {"png": "image/png", "pdf": "application/pdf"}
#: Characters kept in a download's file name.
UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _choice(args: Any, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = args.get(name) or default
    if value not in allowed:
        raise BadRequestError(
            N_("%(name)s must be one of %(allowed)s, not %(value)r"),
            details={"parameter": name, "allowed": list(allowed)},
            name=name,
            allowed=", ".join(allowed),
            value=value,
        )
    return value


def parse_export(args: Any, fmt: str) -> dict[str, Any]:
    """The printed map a URL asks for; 400 for a value that cannot be printed."""
    if fmt not in MIMETYPES:
        raise BadRequestError(
            N_("%(name)s must be one of %(allowed)s, not %(value)r"),
            details={"parameter": "format", "allowed": list(MIMETYPES)},
            name="format",
            allowed=", ".join(MIMETYPES),
            value=fmt,
        )
    bbox = None
    if args.get("bbox"):
        try:
            bbox = tuple(float(v) for v in args["bbox"].split(","))
        except ValueError:
            raise BadRequestError(
                N_("expected four numbers separated by commas, not %(value)r"),
                details={"parameter": "bbox"},
                value=args["bbox"],
            ) from None
    labels = _choice(args, "labels", ("kecamatan", "selected", "none"), "kecamatan")
    return {
        "profile": args.get("profile") or None,
        "indicator": args.get("indicator") or None,
        "scenario": args.get("scenario") or None,
        "title": args.get("title") or None,
        "labels": None if labels == "none" else labels,
        "bbox": bbox,
        "paper": _choice(args, "paper", ("A4", "A3"), "A4"),
        "orientation": _choice(args, "orientation", ("portrait", "landscape"), "portrait"),
        "dpi": int(_choice(args, "dpi", ("150", "300"), "150")),
    }


def printed_map(
    store: Any, workspace: str, fmt: str, options: dict[str, Any], lang: str, basemap: str | None
) -> tuple[bytes, str]:
    """The page's bytes and the profile drawn (one call onto ``StaticMap``)."""
    from layers.exports.static_map import StaticMap

    page = {k: options.pop(k) for k in ("paper", "orientation", "dpi")}
    static = StaticMap(store, workspace, lang=lang, basemap=basemap, gettext=gettext, **options)
    data = static.to_bytes(fmt, page["paper"], page["orientation"], page["dpi"])
    return data, str(static.profile or "")


@bp.get("/workspaces/<workspace>/map/export.<fmt>")
@requires("viewer")
def export_map(workspace: str, fmt: str) -> Response:
    """Download the map as a PNG or PDF page (attachment)."""
    options = parse_export(flask_request.args, fmt)
    lang = str(get_locale() or current_app.config["DEFAULT_LOCALE"])
    paper = options["paper"]
    data, profile = core_call(
        printed_map, get_store(), workspace, fmt, dict(options), lang, basemap_file(current_app)
    )
    parts = [workspace, profile, options["indicator"], options["scenario"], paper]
    name = UNSAFE.sub("_", "-".join(p for p in parts if p)) + f".{fmt}"
    response = Response(data, mimetype=MIMETYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response
