"""HTML pages: workspaces, a workspace's layers, a dataset's versions, a validation report."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from geoapp import catalogue
from geoapp.auth import requires, visible
from geoapp.store import get_store

bp = Blueprint("pages", __name__)


@bp.get("/")
@requires("signed_in")
def index():
    """List the workspaces."""
    workspaces, counts = catalogue.dataset_counts(get_store())
    return render_template("index.html", workspaces=visible(workspaces), dataset_counts=counts)


@bp.get("/workspaces/<workspace>")
@requires("viewer")
def workspace(workspace: str):
    """List the layers of a workspace, latest version of each."""
    overview = catalogue.workspace_overview(get_store(), workspace)
    return render_template(
        "workspace.html",
        workspace=overview.workspace,
        datasets=overview.datasets,
        version_counts=overview.version_counts,
        extents=overview.extents,
    )


@bp.get("/workspaces/<workspace>/datasets/<name>")
@requires("viewer")
def dataset(workspace: str, name: str):
    """List every version of a dataset."""
    store = get_store()
    version = catalogue.parse_positive_int("version", request.args.get("version"))
    ws = catalogue.get_workspace(store, workspace)
    info, versions = catalogue.get_dataset(store, workspace, name, version)
    return render_template(
        "dataset.html", workspace=ws, info=info, versions=list(reversed(versions))
    )


@bp.get("/workspaces/<workspace>/datasets/<name>/report")
@requires("viewer")
def report(workspace: str, name: str):
    """Show a page of a dataset version's validation report."""
    store = get_store()
    version = catalogue.parse_positive_int("version", request.args.get("version"))
    page = catalogue.parse_positive_int("page", request.args.get("page")) or 1
    action = catalogue.parse_action(request.args.get("action"))
    size = current_app.config["REPORT_PAGE_SIZE"]
    ws = catalogue.get_workspace(store, workspace)
    view = catalogue.get_report(
        store, workspace, name, version, offset=(page - 1) * size, limit=size, action=action
    )
    pages = max(1, -(-view.total // size))
    return render_template(
        "report.html", workspace=ws, view=view, page=page, pages=pages, version=version
    )
