"""The OpenAPI 3.1 description of the JSON API: ``GET /api/openapi.json``."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from geoapp.auth import requires

bp = Blueprint("openapi", __name__, url_prefix="/api")


@bp.get("/openapi.json")
@requires("public")
def document() -> Response:
    """Describe every JSON route: parameters, bodies, answers, errors and access."""
    from geoapp.openapi import build_document

    cached = current_app.extensions.get("jangkau_openapi")
    if cached is None:
        cached = build_document(current_app)
        current_app.extensions["jangkau_openapi"] = cached
    return jsonify(cached)
