"""Blueprints, one per concern: pages (HTML), the map, scenarios, and JSON under ``/api``."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every blueprint on ``app``."""
    from geoapp.views.admin import bp as admin
    from geoapp.views.api import bp as api
    from geoapp.views.auth import bp as auth
    from geoapp.views.basemap import bp as basemap
    from geoapp.views.coverage import bp as coverage
    from geoapp.views.coverage_api import bp as coverage_api
    from geoapp.views.exports import bp as exports
    from geoapp.views.map_api import bp as map_api
    from geoapp.views.map_export import bp as map_export
    from geoapp.views.map_page import bp as map_page
    from geoapp.views.openapi import bp as openapi
    from geoapp.views.pages import bp as pages
    from geoapp.views.programs import bp as programs
    from geoapp.views.programs_api import bp as programs_api
    from geoapp.views.report_export import bp as report_export
    from geoapp.views.scenarios import bp as scenarios
    from geoapp.views.scenarios_api import bp as scenarios_api
    from geoapp.views.uploads import bp as uploads

    app.register_blueprint(auth)
    app.register_blueprint(admin)
    app.register_blueprint(pages)
    app.register_blueprint(api)
    app.register_blueprint(map_api)
    app.register_blueprint(map_page)
    app.register_blueprint(map_export)
    app.register_blueprint(basemap)
    app.register_blueprint(scenarios)
    app.register_blueprint(scenarios_api)
    app.register_blueprint(coverage)
    app.register_blueprint(coverage_api)
    app.register_blueprint(programs)
    app.register_blueprint(programs_api)
    app.register_blueprint(exports)
    app.register_blueprint(report_export)
    app.register_blueprint(uploads)
    app.register_blueprint(openapi)
