"""Downloads for partners: a workspace as GeoPackage, one layer in any format, an HTML map.

Each route calls one function of :mod:`layers.exports` into a temporary folder and sends
the file as an attachment; errors come back in the app's one error shape (400 for an
unknown layer or format, 404 for an unknown workspace).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, request, send_file
from flask_babel import get_locale, gettext

from geoapp.auth import requires
from geoapp.errors import BadRequestError
from geoapp.store import get_store
from geoapp.views.scenarios_api import core_call
from layers.report import N_

bp = Blueprint("exports", __name__, url_prefix="/workspaces/<workspace>")

#: URL endings of one layer's download, their format and content type.
LAYER_FORMATS: dict[str, tuple[str, str]] = {
    "gpkg": ("gpkg", "application/geopackage+sqlite3"),
    "geojson": ("geojson", "application/geo+json"),
    "csv": ("csv", "text/csv; charset=utf-8"),
    "xlsx": ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "zip": ("shapefile", "application/zip"),
}


def _lang() -> str:
    return str(get_locale() or current_app.config["DEFAULT_LOCALE"])


def _send(write: Callable[[Path], Any], filename: str, content_type: str) -> Response:
    """Run ``write(path)`` (one export) in a temporary folder and stream the file.

    The folder is removed at once; the open file stays readable until sent (a national
    GeoPackage is not held in memory).
    """
    folder = tempfile.mkdtemp(prefix="jangkau-export-")
    try:
        path = Path(folder) / filename
        core_call(write, path)
        size = path.stat().st_size
        handle = path.open("rb")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    response = send_file(handle, mimetype=content_type.split(";")[0], max_age=0)
    response.headers["Content-Type"] = content_type
    response.headers["Content-Length"] = str(size)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _flag(name: str) -> bool:
    return request.args.get(name, "") in ("1", "true", "yes")


@bp.get("/export.gpkg")
@requires("viewer")
def workspace_gpkg(workspace: str) -> Response:
    """Download every layer of the workspace as one GeoPackage."""
    from layers.exports.data import export_workspace

    lang = _lang()
    return _send(
        lambda path: export_workspace(
            get_store(), workspace, path, "gpkg", lang=lang, gettext=gettext
        ),
        f"{workspace}.gpkg",
        LAYER_FORMATS["gpkg"][1],
    )


@bp.get("/export/map.html")
@requires("viewer")
def html_map(workspace: str) -> Response:
    """Download the standalone HTML map of the villages by need class."""
    from layers.exports.html_map import DEFAULT_TOLERANCE_M, export_html_map

    raw = request.args.get("tolerance_m")
    try:
        tolerance = float(raw) if raw not in (None, "") else DEFAULT_TOLERANCE_M
    except ValueError:
        raise BadRequestError(
            N_("tolerance_m must be a number of metres, not %(value)r"), value=raw
        ) from None
    profile, lang = request.args.get("profile") or None, _lang()
    return _send(
        lambda path: export_html_map(
            get_store(),
            workspace,
            path,
            profile=profile,
            tolerance_m=tolerance,
            lang=lang,
            gettext=gettext,
        ),
        f"{workspace}-map.html",
        "text/html; charset=utf-8",
    )


@bp.get("/export/<filename>")
@requires("viewer")
def layer(workspace: str, filename: str) -> Response:
    """Download one layer: <name>.gpkg, .geojson, .csv (?wkt=1), .xlsx or .zip (Shapefile)."""
    from layers.exports.data import export_layer

    name, _, ending = filename.rpartition(".")
    if not name or ending not in LAYER_FORMATS:
        raise BadRequestError(
            N_("download %(file)s: the name must end in one of %(allowed)s"),
            file=filename,
            allowed=", ".join(f".{e}" for e in LAYER_FORMATS),
        )
    fmt, content_type = LAYER_FORMATS[ending]
    wkt, lang = _flag("wkt"), _lang()
    return _send(
        lambda path: export_layer(
            get_store(), workspace, name, path, fmt, wkt=wkt, gettext=gettext, lang=lang
        ),
        f"{workspace}-{name}.{ending}",
        content_type,
    )
