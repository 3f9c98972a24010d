"""The JSON API under ``/api``: workspaces, datasets, versions and validation reports.

Errors use the one shape of :mod:`geoapp.errors`. Values (kinds, actions, codes) are the
stored English identifiers; only ``message`` texts follow the request's language.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request, url_for
from flask_babel import gettext

from geoapp import catalogue
from geoapp.auth import requires, visible
from geoapp.store import get_store

bp = Blueprint("api", __name__, url_prefix="/api")


def _dataset_links(info) -> dict[str, str]:
    return {
        "self": url_for(
            "api.dataset", workspace=info.workspace, name=info.name, version=info.version
        ),
        "report": url_for(
            "api.report", workspace=info.workspace, name=info.name, version=info.version
        ),
        "html": url_for("pages.dataset", workspace=info.workspace, name=info.name),
    }


@bp.get("/")
@requires("signed_in")
def index():
    """Name the API's entry points."""
    return jsonify({"name": "jangkau", "links": {"workspaces": url_for("api.workspaces")}})


@bp.get("/workspaces")
@requires("signed_in")
def workspaces():
    """List the workspaces."""
    items = []
    for ws in visible(get_store().list_workspaces()):
        item = catalogue.workspace_json(ws)
        item["links"] = {
            "self": url_for("api.workspace", workspace=ws.name),
            "datasets": url_for("api.datasets", workspace=ws.name),
        }
        items.append(item)
    return jsonify({"workspaces": items})


@bp.get("/workspaces/<workspace>")
@requires("viewer")
def workspace(workspace: str):
    """Describe a workspace."""
    store = get_store()
    item = catalogue.workspace_json(catalogue.get_workspace(store, workspace))
    item["dataset_count"] = len(store.list_datasets(workspace))
    item["links"] = {"datasets": url_for("api.datasets", workspace=workspace)}
    return jsonify(item)


@bp.get("/workspaces/<workspace>/datasets")
@requires("viewer")
def datasets(workspace: str):
    """List a workspace's datasets (latest versions; ``?all_versions=1`` for all)."""
    all_versions = catalogue.parse_flag("all_versions", request.args.get("all_versions"))
    items = []
    for info in catalogue.list_datasets(get_store(), workspace, all_versions=all_versions):
        item = catalogue.dataset_json(info)
        item["links"] = _dataset_links(info)
        items.append(item)
    return jsonify({"workspace": workspace, "all_versions": all_versions, "datasets": items})


@bp.get("/workspaces/<workspace>/datasets/<name>")
@requires("viewer")
def dataset(workspace: str, name: str):
    """Describe a dataset version (``?version=N``, latest by default) with its report counts."""
    version = catalogue.parse_positive_int("version", request.args.get("version"))
    info, versions = catalogue.get_dataset(get_store(), workspace, name, version)
    item = catalogue.dataset_json(info)
    item["latest_version"] = versions[-1].version
    item["versions"] = [
        {"version": v.version, "created_at": v.created_at.isoformat(), "counts": v.counts}
        for v in versions
    ]
    item["links"] = _dataset_links(info)
    return jsonify(item)


@bp.get("/workspaces/<workspace>/datasets/<name>/report")
@requires("viewer")
def report(workspace: str, name: str):
    """Return a dataset version's validation report (``?offset``, ``?limit``, ``?action``)."""
    version = catalogue.parse_positive_int("version", request.args.get("version"))
    offset = catalogue.parse_positive_int("offset", request.args.get("offset"), minimum=0) or 0
    limit = catalogue.parse_positive_int("limit", request.args.get("limit"))
    action = catalogue.parse_action(request.args.get("action"))
    limit = min(limit or current_app.config["REPORT_PAGE_SIZE"], catalogue.MAX_LIMIT)
    view = catalogue.get_report(
        get_store(), workspace, name, version, offset=offset, limit=limit, action=action
    )
    return jsonify(catalogue.report_json(view, gettext))
