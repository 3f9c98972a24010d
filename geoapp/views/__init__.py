"""Blueprints, one per concern: ``pages`` (HTML) and ``api`` (JSON under ``/api``)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every blueprint on ``app``."""
    from geoapp.views.api import bp as api
    from geoapp.views.basemap import bp as basemap
    from geoapp.views.map_api import bp as map_api
    from geoapp.views.map_page import bp as map_page
    from geoapp.views.pages import bp as pages

    app.register_blueprint(pages)
    app.register_blueprint(api)
    app.register_blueprint(map_api)
    app.register_blueprint(map_page)
    app.register_blueprint(basemap)
