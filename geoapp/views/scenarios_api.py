"""The scenarios' JSON API under ``/api/workspaces/<ws>/scenarios``.

List, run and save, read, compare and delete scenarios (:mod:`layers.targeting.scenarios`).
Errors keep the app's one shape (:mod:`geoapp.errors`): a setting that cannot be used is a
400 whose ``details.setting`` names it, a save based on an old version a 409 with the
latest version, an unknown workspace or scenario a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from geoapp.auth import actor, requires
from geoapp.errors import AppError, BadRequestError
from geoapp.store import get_store
from layers.errors import N_, ConflictError, InputError, JangkauError, NotFoundError

bp = Blueprint("scenarios_api", __name__, url_prefix="/api/workspaces/<workspace>/scenarios")

#: Members a POST body may have.
POST_FIELDS = (
    "name",
    "kind",
    "profile",
    "settings",
    "title",
    "author",
    "note",
    "expected_version",
)


class ScenarioError(AppError):
    """An error of the core, with the status, code and details the API gives it."""

    def __init__(self, exc: JangkauError, status: int, code: str, details: dict[str, Any]):
        super().__init__(exc.template, details)
        self.status, self.code, self.exc = status, code, exc

    def render(self, translate: Callable[[str], str]) -> str:
        """The core's message (with its file/row/column) in the request's language."""
        return self.exc.render(translate)


def app_error(exc: JangkauError) -> AppError:
    """The API error of a core error: 400 for input, 409 for a conflict, 404 not found."""
    if isinstance(exc, ConflictError):
        details: dict[str, Any] = {"reason": str(exc), "expected_version": exc.expected}
        details["latest_version"] = exc.latest.version if exc.latest is not None else None
        return ScenarioError(exc, 409, "conflict", details)
    if isinstance(exc, NotFoundError):
        return ScenarioError(exc, 404, "not_found", {"reason": str(exc), **_where(exc)})
    if isinstance(exc, InputError):
        return ScenarioError(exc, 400, "bad_request", {"reason": str(exc), **_where(exc)})
    raise exc


def _where(exc: JangkauError) -> dict[str, Any]:
    out: dict[str, Any] = {}
    setting = exc.params.get("setting") or exc.column
    if setting:
        out["setting"] = str(setting)
    if "rules" in exc.params:
        out["rules"] = exc.params["rules"]
    return out


def scenario_links(workspace: str, name: str) -> dict[str, str]:
    """API and page addresses of a scenario."""
    return {
        "self": url_for("scenarios_api.scenario", workspace=workspace, name=name),
        "html": url_for("scenarios.result", workspace=workspace, name=name),
        "csv": url_for("scenarios.export", workspace=workspace, name=name, fmt="csv"),
        "xlsx": url_for("scenarios.export", workspace=workspace, name=name, fmt="xlsx"),
    }


def parse_names(args: Any) -> list[str]:
    """The ``?name=`` values of a comparison (also ``?name=a,b``), at least two."""
    names: list[str] = []
    for value in args.getlist("name"):
        names += [part.strip() for part in value.split(",") if part.strip()]
    names = list(dict.fromkeys(names))
    if len(names) < 2:
        raise BadRequestError(
            N_("name at least two scenarios to compare (?name=a&name=b)"),
            details={"parameter": "name", "found": names},
        )
    return names


def parse_version(args: Any) -> int | None:
    """``?version=N`` (a whole number from 1), or None for the latest."""
    text = args.get("version")
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise BadRequestError(
            N_("version must be a whole number from 1, not %(value)r"),
            details={"parameter": "version"},
            value=text,
        )
    return int(text)


def parse_post(data: Any) -> dict[str, Any]:
    """The keyword arguments of ``run_scenario`` from a POST body."""
    if not isinstance(data, dict):
        raise BadRequestError(
            N_("send the scenario as a JSON object with name, kind, profile and settings")
        )
    unknown = sorted(set(data) - set(POST_FIELDS))
    if unknown:
        raise BadRequestError(
            N_("unknown member %(member)r; members: %(known)s"),
            details={"parameter": unknown[0], "allowed": list(POST_FIELDS)},
            member=unknown[0],
            known=", ".join(POST_FIELDS),
        )
    for key in ("name", "kind", "profile"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise BadRequestError(
                N_("%(member)s is required (text)"),
                details={"parameter": key, "setting": key},
                member=key,
            )
    settings = data.get("settings", {})
    if not isinstance(settings, dict):
        raise BadRequestError(
            N_("settings must be a JSON object of setting names and values"),
            details={"parameter": "settings", "setting": "settings"},
        )
    expected = data.get("expected_version")
    if expected is not None and (isinstance(expected, bool) or not isinstance(expected, int)):
        raise BadRequestError(
            N_("expected_version must be a whole number"),
            details={"parameter": "expected_version"},
        )
    for key in ("title", "author", "note"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise BadRequestError(
                N_("%(member)s must be text"), details={"parameter": key}, member=key
            )
    return {
        "name": data["name"].strip(),
        "kind": data["kind"].strip(),
        "profile": data["profile"].strip(),
        "settings": settings,
        "title": (data.get("title") or "").strip() or None,
        "author": (data.get("author") or "").strip() or None,
        "note": data.get("note") or "",
        "expected_version": expected,
    }


def core_call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)``, its input, conflict and not-found errors as API errors."""
    try:
        return function(*args, **kwargs)
    except (InputError, NotFoundError, ConflictError) as exc:
        raise app_error(exc) from None


@bp.get("")
@requires("viewer")
def scenarios(workspace: str) -> Response:
    """List the saved scenarios (latest version of each)."""
    from layers.targeting.scenarios import list_scenarios

    items = core_call(list_scenarios, get_store(), workspace)
    for item in items:
        item["links"] = scenario_links(workspace, item["name"])
    return jsonify({"workspace": workspace, "scenarios": items})


@bp.post("")
@requires("editor")
def create(workspace: str) -> tuple[Response, int, dict[str, str]]:
    """Run a scenario and save it (a new version when the name exists)."""
    from layers.targeting.scenarios import run_scenario

    args = parse_post(request.get_json(silent=True))
    args["author"] = actor()  # who is signed in, whatever the body says
    name = args.pop("name")
    saved = core_call(run_scenario, get_store(), workspace, name, **args)
    saved["links"] = scenario_links(workspace, saved.get("name", name))
    return jsonify(saved), 201, {"Location": saved["links"]["self"]}


@bp.get("/compare")
@requires("viewer")
def compare(workspace: str) -> Response:
    """Compare two or more scenarios (``?name=a&name=b``)."""
    from layers.targeting.scenarios import compare_scenarios

    result = core_call(compare_scenarios, get_store(), workspace, parse_names(request.args))
    return jsonify(result)


@bp.get("/<name>")
@requires("viewer")
def scenario(workspace: str, name: str) -> Response:
    """Return a saved scenario (``?version=N``, the latest by default)."""
    from layers.targeting.scenarios import load_scenario

    body = core_call(load_scenario, get_store(), workspace, name, parse_version(request.args))
    body["links"] = scenario_links(workspace, name)
    return jsonify(body)


@bp.delete("/<name>")
@requires("editor")
def delete(workspace: str, name: str) -> Response:
    """Delete a scenario and all its versions."""
    from layers.targeting.scenarios import delete_scenario

    core_call(delete_scenario, get_store(), workspace, name, deleted_by=actor())
    return Response(status=204)
