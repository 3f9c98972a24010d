"""The programs pages: the 3W/4W register (who, what, where, when), one program, the upload
form and the register download.

The data comes from :mod:`geoapp.views.programs_data`. The upload form
(``static/js/programs.js``) sends the file to the JSON API
(:mod:`geoapp.views.programs_api`) with ``dry_run=1`` first, shows every rejected row or
what would be imported, and imports only when the user confirms.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request, url_for
from flask_babel import gettext

from geoapp.auth import requires
from geoapp.store import get_store
from geoapp.views import coverage_data, programs_data
from geoapp.views.coverage import _labels
from geoapp.views.coverage_api import core_call
from geoapp.views.programs_api import parse_version

bp = Blueprint("programs", __name__, url_prefix="/workspaces/<workspace>/programs")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("")
@requires("viewer")
def index(workspace: str) -> str:
    """List the programs of the register, with the upload form and the download."""
    as_of = core_call(coverage_data.parse_date, request.args.get("as_of"))
    data = core_call(programs_data.programs_data, get_store(), workspace, as_of=as_of)
    return render_template(
        "programs.html",
        data=data,
        workspace={"name": workspace, "title": gettext(data["title"])},
        labels=_labels(),
        workspace_name=workspace,
        import_url=url_for("programs_api.import_register", workspace=workspace),
    )


@bp.get("/export.xlsx")
@requires("viewer")
def export(workspace: str) -> Response:
    """Download the register (``?version=N``, the latest by default) as an XLSX workbook."""
    body = core_call(
        programs_data.register_xlsx, get_store(), workspace, parse_version(request.args)
    )
    response = Response(body, mimetype=XLSX)
    name = f"{workspace}-register.xlsx"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.get("/<program_id>")
@requires("viewer")
def program(workspace: str, program_id: str) -> str:
    """Show one program: its villages, its activity log and its reach on ``?as_of=``."""
    as_of = core_call(coverage_data.parse_date, request.args.get("as_of"))
    data = core_call(
        programs_data.program_page_data, get_store(), workspace, program_id, as_of=as_of
    )
    return render_template(
        "programs_program.html", data=data, labels=_labels(), workspace_name=workspace
    )
