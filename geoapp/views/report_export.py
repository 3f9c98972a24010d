"""Printed documents on the web: a scenario's proposal report and a village's one-page
profile as PDF downloads, drawn by :class:`layers.exports.report.ProposalReport` and
:class:`layers.exports.village_profile.VillageProfile`."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app
from flask import request as flask_request
from flask_babel import get_locale

from geoapp.auth import requires
from geoapp.errors import BadRequestError
from geoapp.store import get_store
from geoapp.views.map_export import UNSAFE
from geoapp.views.scenarios_api import core_call
from layers.report import N_

bp = Blueprint("report_export", __name__)

LANGUAGES = ("id", "en")


def _lang(args: Any) -> str:
    value = args.get("lang") or str(get_locale() or current_app.config["DEFAULT_LOCALE"])
    if value not in LANGUAGES:
        raise BadRequestError(
            N_("%(name)s must be one of %(allowed)s, not %(value)r"),
            details={"parameter": "lang", "allowed": list(LANGUAGES)},
            name="lang",
            allowed=", ".join(LANGUAGES),
            value=value,
        )
    return value


def proposal_pdf(store: Any, workspace: str, name: str, lang: str) -> bytes:
    """The proposal report of a scenario as PDF bytes (one call onto ``ProposalReport``)."""
    import tempfile
    from pathlib import Path

    from layers.exports.report import ProposalReport

    with tempfile.TemporaryDirectory(prefix="jangkau-report-") as tmp:
        path = Path(tmp) / "report.pdf"
        ProposalReport(store, workspace, name, lang=lang).render(path)
        return path.read_bytes()


def village_pdf(store: Any, workspace: str, kode: str, profile: str | None, lang: str) -> bytes:
    """The one-page profile of a village as PDF bytes (one call onto ``VillageProfile``)."""
    import tempfile
    from pathlib import Path

    from layers.exports.village_profile import VillageProfile

    with tempfile.TemporaryDirectory(prefix="jangkau-village-") as tmp:
        path = Path(tmp) / "village.pdf"
        VillageProfile(store, workspace, kode, profile=profile, lang=lang).render(path)
        return path.read_bytes()


def _attachment(data: bytes, name: str) -> Response:
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{UNSAFE.sub("_", name)}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/workspaces/<workspace>/scenarios/<name>/report.pdf")
@requires("viewer")
def scenario_report(workspace: str, name: str) -> Response:
    """Download a scenario's proposal report (PDF attachment)."""
    lang = _lang(flask_request.args)
    data = core_call(proposal_pdf, get_store(), workspace, name, lang)
    return _attachment(data, f"{workspace}-{name}-{lang}.pdf")


@bp.get("/workspaces/<workspace>/villages/<kode>/profile.pdf")
@requires("viewer")
def village_profile(workspace: str, kode: str) -> Response:
    """Download a village's one-page profile (PDF attachment)."""
    lang = _lang(flask_request.args)
    profile = flask_request.args.get("profile") or None
    data = core_call(village_pdf, get_store(), workspace, kode, profile, lang)
    return _attachment(data, f"{workspace}-{kode}-{lang}.pdf")
