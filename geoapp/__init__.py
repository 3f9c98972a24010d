"""Jangkau's web app: workspaces, layers and validation reports, in Bahasa Indonesia and English.

``create_app()`` builds the app in this order: configuration, store, accounts, languages,
blueprints, error handlers, command line. Nothing is read, opened or imported heavily at
import time: the store (and geopandas behind it) opens on the first request that needs data.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from geoapp import config as config_mod

__all__ = ["create_app"]

SECURITY_HEADERS = {
    # Everything the pages load comes from this server: no CDN, no tiles, no fonts elsewhere.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
        "frame-ancestors 'self'"
    ),
    "X-Frame-Options": "SAMEORIGIN",  # for browsers older than frame-ancestors
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def create_app(
    test_config: Mapping[str, Any] | None = None, *, instance_path: str | None = None
) -> Flask:
    """Create the Jangkau web app.

    ``test_config`` replaces ``instance/config.py`` and wins over the ``GEOAPP_*``
    environment variables. ``instance_path`` (or ``GEOAPP_INSTANCE_PATH``) moves the
    instance folder, which holds ``config.py`` and the default SQLite store.
    """
    instance_path = instance_path or os.environ.get("GEOAPP_INSTANCE_PATH") or None
    if instance_path:
        instance_path = os.path.abspath(instance_path)
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)

    # 1. configuration: defaults < instance/config.py < GEOAPP_* < test_config
    app.config.from_mapping(config_mod.DEFAULTS)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
    app.config.from_mapping(config_mod.from_environment())
    if test_config is not None:
        app.config.from_mapping(test_config)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = config_mod.default_database_url(app.instance_path)
    config_mod.check(app.config)

    # 2. store (opened lazily)
    from geoapp import store

    store.init_app(app)

    # 3. accounts: sessions, CSRF, every route's declared access
    from geoapp import auth

    auth.init_app(app)

    # 4. languages
    from geoapp import i18n

    i18n.init_app(app)

    # 5. blueprints
    from geoapp import views

    views.init_app(app)

    # 6. errors
    from geoapp import errors

    errors.init_app(app)

    # 7. command line (``flask --app geoapp <command>`` as well as ``geoapp <command>``)
    from geoapp import cli

    for command in cli.main.commands.values():
        app.cli.add_command(command)

    @app.after_request
    def _security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.template_filter("sha_short")
    def _sha_short(value):
        from geoapp.catalogue import short_sha

        return short_sha(value)

    return app
