"""HTML pages: workspaces, a workspace's layers, a dataset's versions, a validation report."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from geoapp import catalogue
from geoapp.store import get_store

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    """List the workspaces."""
    store = get_store()
    workspaces = store.list_workspaces()
    datasets = store.list_datasets()
    per_workspace = {w.name: 0 for w in workspaces}
    for info in datasets:
        per_workspace[info.workspace] = per_workspace.get(info.workspace, 0) + 1
    return render_template("index.html", workspaces=workspaces, dataset_counts=per_workspace)


@bp.get("/workspaces/<workspace>")
def workspace(workspace: str):
    """List the layers of a workspace, latest version of each."""
    store = get_store()
    ws = catalogue.get_workspace(store, workspace)
    datasets = catalogue.list_datasets(store, workspace)
    versions = catalogue.list_datasets(store, workspace, all_versions=True)
    version_counts = {}
    for info in versions:
        version_counts[info.name] = version_counts.get(info.name, 0) + 1
    extents = [
        {"name": d.name, "kind": d.kind, "bounds": list(d.bounds)}
        for d in datasets
        if d.bounds is not None
    ]
    return render_template(
        "workspace.html",
        workspace=ws,
        datasets=datasets,
        version_counts=version_counts,
        extents=extents,
    )


@bp.get("/workspaces/<workspace>/datasets/<name>")
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
