"""Configuration: defaults, then ``instance/config.py``, then ``GEOAPP_*`` environment variables.

Every key is listed in :data:`DEFAULTS` and documented in ``docs/configuration.md`` (a test
checks both). An environment variable ``GEOAPP_<KEY>`` overrides ``<KEY>``; its text is
converted to the type of the default (``int`` keys must be whole numbers). Reading the
configuration does no I/O beyond the optional instance file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

#: Prefix of the environment variables that override configuration keys.
ENV_PREFIX = "GEOAPP_"

#: Languages the app is translated into; the first is the fallback of last resort.
LANGUAGES: tuple[str, ...] = ("id", "en")

#: Every configuration key with its default. ``None`` for DATABASE_URL means
#: ``sqlite:///<instance folder>/jangkau.sqlite``.
DEFAULTS: dict[str, Any] = {
    "SECRET_KEY": "dev",
    "DATABASE_URL": None,
    "DEFAULT_LOCALE": "id",
    "TIMEZONE": "Asia/Jakarta",
    "DEFAULT_WORKSPACE": "default",
    "REPORT_PAGE_SIZE": 500,
    "BASEMAP": "none",
    "BASEMAP_MBTILES": "",
    "MAX_CONTENT_LENGTH": 200 * 1024 * 1024,
    "SESSION_HOURS": 12,
    "SESSION_COOKIE_SECURE": False,
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_MAX_FAILURES_PER_ADDRESS": 20,
}

#: Environment variables read outside the app configuration (documented with the others).
ENV_ONLY: dict[str, str] = {
    "GEOAPP_INSTANCE_PATH": "instance folder (default: instance/ next to the geoapp package)",
    "GEOAPP_LOCALE": "language of the command line output (id or en)",
}


class ConfigError(ValueError):
    """A configuration value cannot be used; the message names the key and the value."""


def _convert(key: str, text: str, default: Any) -> Any:
    if isinstance(default, bool):
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{ENV_PREFIX}{key}={text!r} is not a yes/no value")
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{ENV_PREFIX}{key}={text!r} is not a whole number") from None
    return text


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the configuration keys set through ``GEOAPP_*`` environment variables."""
    environ = os.environ if environ is None else environ
    out = {}
    for key, default in DEFAULTS.items():
        name = ENV_PREFIX + key
        if name in environ and environ[name] != "":
            out[key] = _convert(key, environ[name], default)
    return out


#: Background maps the map page can show: none, OpenStreetMap (online), a local MBTiles file.
BASEMAP_CHOICES = ("none", "osm", "mbtiles")


def check(config: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` for values the app cannot run with."""
    if config["DEFAULT_LOCALE"] not in LANGUAGES:
        raise ConfigError(
            f"DEFAULT_LOCALE must be one of {', '.join(LANGUAGES)}, "
            f"not {config['DEFAULT_LOCALE']!r}"
        )
    if config.get("BASEMAP", "none") not in BASEMAP_CHOICES:
        raise ConfigError(
            f"BASEMAP must be one of {', '.join(BASEMAP_CHOICES)}, not {config['BASEMAP']!r}"
        )
    if config.get("BASEMAP") == "mbtiles" and not config.get("BASEMAP_MBTILES"):
        raise ConfigError("BASEMAP = 'mbtiles' needs BASEMAP_MBTILES, the path of the file")
    size = config["REPORT_PAGE_SIZE"]
    if not isinstance(size, int) or size < 1:
        raise ConfigError(f"REPORT_PAGE_SIZE must be a whole number of 1 or more, not {size!r}")
    url = config["DATABASE_URL"]
    if not isinstance(url, str) or "://" not in url:
        raise ConfigError(
            f"DATABASE_URL must be a URL such as sqlite:///path/jangkau.sqlite, not {url!r}"
        )


def default_database_url(instance_path: str) -> str:
    """``sqlite:///<instance_path>/jangkau.sqlite`` (an absolute path gives four slashes)."""
    return "sqlite:///" + os.path.join(instance_path, "jangkau.sqlite")
