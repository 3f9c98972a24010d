"""Languages: Flask-Babel for the web app, plain Babel catalogues for the command line.

The web app picks the language from ``?lang=id|en`` (remembered in a cookie), then the
cookie, then the browser's ``Accept-Language``, then ``DEFAULT_LOCALE`` (``id``). The
command line picks ``--lang``, then ``GEOAPP_LOCALE``, then ``LC_ALL``/``LC_MESSAGES``/
``LANG`` when they name Indonesian or English, then English.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, current_app, request, url_for
from flask_babel import Babel, format_decimal, get_locale, gettext

from geoapp.config import LANGUAGES
from geoapp.labels import ACTION_LABELS, COUNT_LABELS, KIND_LABELS

#: Folder with ``<lang>/LC_MESSAGES/messages.po`` (and the compiled ``.mo``).
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
#: Cookie remembering the language chosen with ``?lang=``.
LOCALE_COOKIE = "lang"
#: Names of the languages, each in its own language (never translated).
LANGUAGE_NAMES: dict[str, str] = {"id": "Bahasa Indonesia", "en": "English"}


def select_locale() -> str:
    """Return the language of the current request."""
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        return chosen
    remembered = request.cookies.get(LOCALE_COOKIE)
    if remembered in LANGUAGES:
        return remembered
    best = request.accept_languages.best_match(LANGUAGES)
    return best or current_app.config["DEFAULT_LOCALE"]


def remember_locale(response: Response) -> Response:
    """Store ``?lang=`` in a cookie and say which language the response is in."""
    chosen = request.args.get("lang")
    if chosen in LANGUAGES and request.cookies.get(LOCALE_COOKIE) != chosen:
        response.set_cookie(
            LOCALE_COOKIE, chosen, max_age=365 * 24 * 3600, samesite="Lax", httponly=True
        )
    response.headers["Content-Language"] = str(get_locale() or current_app.config["DEFAULT_LOCALE"])
    response.vary.update(("Accept-Language", "Cookie"))
    return response


def translate_text(text: Any) -> str:
    """Translate a stored text when the catalogue knows it (titles, notes); else return it."""
    if text is None:
        return ""
    text = str(text)
    return gettext(text) if text.strip() else text


def switch_url(lang: str) -> str:
    """URL of the current page in language ``lang``."""
    args = request.args.to_dict(flat=True)
    args["lang"] = lang
    if request.endpoint and request.url_rule is not None:
        try:
            return url_for(request.endpoint, **(request.view_args or {}), **args)
        except Exception:  # a view argument that cannot be rebuilt: fall back to the path
            pass
    return f"{request.path}?{urlencode(args)}"


def _template_globals() -> dict[str, Any]:
    current = str(get_locale() or current_app.config["DEFAULT_LOCALE"])
    return {
        "current_locale": current,
        "languages": [(lang, LANGUAGE_NAMES[lang]) for lang in LANGUAGES],
        "switch_url": switch_url,
        # Jinja's ``_`` always %-formats; findings render with the plain gettext instead.
        "translate": gettext,
        "kind_labels": KIND_LABELS,
        "action_labels": ACTION_LABELS,
        "count_labels": COUNT_LABELS,
    }


def init_app(app: Flask) -> None:
    """Set up Flask-Babel and the language helpers on ``app``."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", app.config["DEFAULT_LOCALE"])
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", app.config["TIMEZONE"])
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    Babel(app, locale_selector=select_locale)
    app.after_request(remember_locale)
    app.context_processor(_template_globals)
    app.jinja_env.filters["tr"] = translate_text
    app.jinja_env.filters["num"] = format_decimal


# --- command line ------------------------------------------------------------------------


def cli_locale(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """Language of the command line output (see the module docstring for the order)."""
    environ = os.environ if environ is None else environ
    if explicit in LANGUAGES:
        return explicit
    value = environ.get("GEOAPP_LOCALE", "")
    if value in LANGUAGES:
        return value
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            code = value.split(".")[0].split("_")[0].lower()
            if code in ("id", "in"):
                return "id"
            if code == "en":
                return "en"
            if name == "LC_ALL":
                break
    return "en"


def cli_translations(locale: str):
    """A ``gettext.NullTranslations``-like object for ``locale`` (English when not compiled)."""
    from babel.support import Translations

    return Translations.load(str(TRANSLATIONS_DIR), [locale], domain="messages")
