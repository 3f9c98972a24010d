"""Blueprints, one per concern: ``pages`` (HTML) and ``api`` (JSON under ``/api``)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every blueprint on ``app``."""
    from geoapp.views.api import bp as api
    from geoapp.views.pages import bp as pages

    app.register_blueprint(pages)
    app.register_blueprint(api)
