"""One error shape for the JSON API and an HTML page for everything else.

Every JSON error is ``{"error": {"status": int, "code": str, "message": str, "details": {}}}``
with ``message`` in the request's language. Views raise :class:`AppError` subclasses with an
English message template (marked with ``N_`` for the catalogues) and its parameters; the
handlers registered by :func:`init_app` translate and render them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext
from werkzeug.exceptions import HTTPException

from layers.errors import NotFoundError, StoreError
from layers.report import N_

log = logging.getLogger(__name__)

#: Machine-readable codes of the HTTP errors werkzeug raises.
HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "sign_in_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    429: "too_many_attempts",
    500: "internal_error",
    503: "unavailable",
}

#: Messages shown for HTTP errors raised outside the views (unknown URL, wrong method, ...).
HTTP_MESSAGES: dict[int, str] = {
    400: N_("The request is not valid."),
    401: N_("Sign in to use this address."),
    403: N_("You are not allowed to do this."),
    404: N_("Nothing was found at this address."),
    405: N_("This address does not accept the %(method)s method."),
    413: N_("The request is too large."),
    429: N_("Too many attempts; wait a while and try again."),
    500: N_("Something went wrong on the server; the error has been logged."),
    503: N_("The service is not available right now."),
}

#: Page titles of the HTML error page, by status.
HTTP_TITLES: dict[int, str] = {
    400: N_("Bad request"),
    401: N_("Sign in"),
    403: N_("Not allowed"),
    404: N_("Not found"),
    405: N_("Method not allowed"),
    413: N_("Request too large"),
    429: N_("Too many attempts"),
    500: N_("Server error"),
    503: N_("Service unavailable"),
}


class AppError(Exception):
    """An error with its HTTP status, a stable code, a translatable message and details.

    Parameters
    ----------
    message : str
        English template marked with ``N_``; ``%(name)s`` placeholders filled from ``params``.
    details : dict, optional
        Plain data for the JSON ``details`` member.
    **params
        Values for the template's placeholders.
    """

    status = 500
    code = "internal_error"

    def __init__(self, message: str, details: dict[str, Any] | None = None, **params: Any):
        super().__init__(message % params if params else message)
        self.template = message
        self.params = params
        self.details = details or {}

    def render(self, translate: Callable[[str], str]) -> str:
        """Return the message translated with ``translate`` and filled with its parameters."""
        text = translate(self.template)
        return text % self.params if self.params else text


class BadRequestError(AppError):
    """A query parameter or path part has a value the app cannot use (400)."""

    status = 400
    code = "bad_request"


class ResourceNotFoundError(AppError):
    """A workspace, dataset or version does not exist (404)."""

    status = 404
    code = "not_found"


class StoreUnavailableError(AppError):
    """The store cannot be opened or read (503), e.g. before ``geoapp init``."""

    status = 503
    code = "store_unavailable"


def wants_json() -> bool:
    """True for requests to the JSON API (``/api`` and below)."""
    path = request.path
    return path == "/api" or path.startswith("/api/")


def error_body(status: int, code: str, message: str, details: dict[str, Any]) -> dict[str, Any]:
    """The JSON error document."""
    return {"error": {"status": status, "code": code, "message": message, "details": details}}


def respond(status: int, code: str, message: str, details: dict[str, Any]) -> Response:
    if wants_json():
        response = jsonify(error_body(status, code, message, details))
    else:
        title = gettext(HTTP_TITLES.get(status, HTTP_TITLES[500]))
        response = Response(
            render_template("error.html", status=status, code=code, title=title, message=message)
        )
    response.status_code = status
    return response


def handle_app_error(exc: AppError) -> Response:
    """Render an :class:`AppError`."""
    return respond(exc.status, exc.code, exc.render(gettext), exc.details)


def handle_http_exception(exc: HTTPException) -> Response:
    """Render werkzeug's HTTP errors (unknown URL, wrong method, ...) in the app's shape."""
    status = exc.code or 500
    code = HTTP_CODES.get(status) or (exc.name or "error").lower().replace(" ", "_")
    details: dict[str, Any] = {}
    template = HTTP_MESSAGES.get(status)
    if status == 405:
        details["allowed"] = sorted(getattr(exc, "valid_methods", None) or [])
        message = gettext(HTTP_MESSAGES[405], method=request.method)
    elif template:
        message = gettext(template)
    else:
        message = exc.description or exc.name
    if status == 404:
        details["path"] = request.path
    response = respond(status, code, message, details)
    if status == 405 and details["allowed"]:
        response.headers["Allow"] = ", ".join(details["allowed"])
    return response


def handle_store_error(exc: StoreError) -> Response:
    """Store errors that escaped the views: not found is 404, the rest 503.

    The message is the store's own, in the request's language; ``details.reason`` keeps
    the English text for logs and scripts.
    """
    if isinstance(exc, NotFoundError):
        return respond(404, "not_found", exc.render(gettext), {"reason": str(exc)})
    log.error("store error on %s: %s", request.path, exc)
    message = gettext(N_("The data store cannot be read: %(reason)s"), reason=exc.render(gettext))
    return respond(503, "store_unavailable", message, {"reason": str(exc)})


def handle_unexpected(exc: Exception) -> Response:
    """Any other exception: log it and answer 500 without leaking internals."""
    log.exception("unhandled error on %s %s", request.method, request.path)
    return respond(500, "internal_error", gettext(HTTP_MESSAGES[500]), {})


def init_app(app: Flask) -> None:
    """Register the error handlers on ``app``."""
    app.register_error_handler(AppError, handle_app_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(StoreError, handle_store_error)
    app.register_error_handler(Exception, handle_unexpected)
