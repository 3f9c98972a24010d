"""The coverage JSON API under ``/api/workspaces/<ws>``: coverage on a date, reach over time,
a village's needs and the programs that address them, and a need's lifecycle steps
(verify, link, close: JSON objects with ``base_version``, the lifecycle version the page
showed).

Each view parses the request and calls one function of :mod:`geoapp.views.coverage_data`
(which calls :mod:`layers.coverage` and :mod:`layers.programs`). Errors keep the app's one
shape (:mod:`geoapp.errors`): a value the core cannot use is a 400 ``bad_request`` whose
``details.parameter`` names it, an unknown workspace or village layer a 404, a register
edited meanwhile a 409.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask_babel import gettext

from geoapp.auth import actor, requires
from geoapp.errors import AppError, BadRequestError
from geoapp.store import get_store
from geoapp.views import coverage_data
from layers.errors import (
    N_,
    ConflictError,
    InputError,
    JangkauError,
    NotFoundError,
    StoreError,
    fill,
)

bp = Blueprint("coverage_api", __name__, url_prefix="/api/workspaces/<workspace>")


class CoreError(AppError):
    """An error of the core with the status, code and details the API gives it."""

    def __init__(self, exc: JangkauError, status: int, code: str, details: dict[str, Any]):
        super().__init__(exc.template, details)
        self.status, self.code, self.exc = status, code, exc

    def render(self, translate: Callable[[str], str]) -> str:
        """The core's message in the request's language, with its file and row when known.

        A query parameter's name is in ``details.parameter``, not in the message.
        """
        if self.exc.file or self.exc.row is not None:
            return self.exc.render(translate)
        return fill(self.exc.template, self.exc.params, translate)


def as_app_error(exc: JangkauError) -> AppError:
    """400 for input, 404 for not found, 409 for a conflict; anything else re-raised."""
    from layers.storage.base import ConflictError

    if isinstance(exc, ConflictError):
        latest = exc.latest.version if exc.latest is not None else None
        details = {"reason": str(exc), "expected_version": exc.expected, "latest_version": latest}
        return CoreError(exc, 409, "conflict", details)
    if isinstance(exc, NotFoundError):
        return CoreError(exc, 404, "not_found", {"reason": str(exc)})
    if isinstance(exc, InputError):
        details: dict[str, Any] = {"reason": str(exc)}
        if exc.column:
            details["parameter"] = str(exc.column)
        return CoreError(exc, 400, "bad_request", details)
    raise exc


def core_call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` with the core's errors as the API's."""
    try:
        return function(*args, **kwargs)
    except (InputError, NotFoundError) as exc:
        raise as_app_error(exc) from None
    except StoreError as exc:
        from layers.storage.base import ConflictError  # the store is loaded by now

        if not isinstance(exc, ConflictError):
            raise
        raise as_app_error(exc) from None


def edit_call(workspace: str, function: Any, *args: Any, **kwargs: Any) -> Any:
    """``function(store, workspace, *args, **kwargs)`` with the core's errors as the API's; a
    conflict's details carry the other person's change (``theirs``)."""
    from geoapp.views import programs_edit as edit_helpers

    store = get_store()
    try:
        return function(store, workspace, *args, translate=gettext, **kwargs)
    except ConflictError as exc:
        error = as_app_error(exc)
        if "steps" in (exc.params or {}):
            error.details.update(
                latest_version=edit_helpers.lifecycle_version(store, workspace),
                theirs=exc.params["steps"],
            )
            exc.params = {k: v for k, v in exc.params.items() if k != "steps"}
        else:
            error.details.update(edit_helpers.conflict_details(store, workspace, exc))
        raise error from None
    except (InputError, NotFoundError) as exc:
        raise as_app_error(exc) from None


def json_body() -> Any:
    """The request's JSON object; 400 naming ``body`` otherwise."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequestError(N_("send a JSON object"), details={"parameter": "body"})
    return body


def signed_body() -> Any:
    """The request's JSON object with ``user`` set to the signed-in account (what the
    client says there is replaced: the register records who really made the change)."""
    return {**json_body(), "user": actor()}


def _date(name: str) -> Any:
    text = request.args.get(name)
    if text is None or not text.strip():
        return None
    return core_call(coverage_data.parse_date, text, name)


@bp.get("/coverage")
@requires("viewer")
def coverage(workspace: str) -> Response:
    """Service coverage and program reach on ``?as_of=`` (``?level=``, ``?profile=``)."""
    levels = core_call(coverage_data.parse_levels, request.args.get("level"))
    body = core_call(
        coverage_data.coverage_data,
        get_store(),
        workspace,
        as_of=core_call(coverage_data.parse_date, request.args.get("as_of")),
        levels=levels,
        profile=request.args.get("profile") or None,
    )
    return jsonify(body)


@bp.get("/coverage/timeseries")
@requires("viewer")
def timeseries(workspace: str) -> Response:
    """Reach at each month or quarter end (``?freq=M|Q``, ``?start=``, ``?end=``)."""
    body = core_call(
        coverage_data.timeseries_data,
        get_store(),
        workspace,
        freq=request.args.get("freq") or "M",
        start=_date("start"),
        end=_date("end"),
    )
    return jsonify(body)


@bp.get("/villages/<kode>/needs")
@requires("viewer")
def village_needs(workspace: str, kode: str) -> Response:
    """A village's needs, their steps and the programs that address them."""
    return jsonify(core_call(coverage_data.village_needs, get_store(), workspace, kode))


def _need_step(workspace: str, need_id: str, word: str) -> tuple[Response, int]:
    from geoapp.views.programs_edit import need_action

    body = signed_body()  # the step is recorded under the signed-in account
    if not body.get("by"):
        body["by"] = actor()  # who did it in the field: the account unless said otherwise
    body = edit_call(workspace, need_action, need_id, word, body)
    return jsonify(body), 201


@bp.post("/needs/<need_id>/verify")
@requires("editor")
def verify_need(workspace: str, need_id: str) -> tuple[Response, int]:
    """Record that a reported need was verified (``on``, ``by``, ``note``, ``layer``)."""
    return _need_step(workspace, need_id, "verify")


@bp.post("/needs/<need_id>/link")
@requires("editor")
def link_need(workspace: str, need_id: str) -> tuple[Response, int]:
    """Link a reported need to the program that addresses it (``program_id``)."""
    return _need_step(workspace, need_id, "link")


@bp.post("/needs/<need_id>/close")
@requires("editor")
def close_need(workspace: str, need_id: str) -> tuple[Response, int]:
    """Close a reported need."""
    return _need_step(workspace, need_id, "close")
