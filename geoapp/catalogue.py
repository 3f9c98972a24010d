"""What the pages, the JSON API and the command line show about stored datasets.

Plain functions over a :class:`layers.storage.Store`, one call deep from every view and
command, with no Flask in them: they return store records and reports, raise
:class:`~geoapp.errors.ResourceNotFoundError` / :class:`~geoapp.errors.BadRequestError` with
structured details, and turn records into JSON-ready dictionaries.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from geoapp.errors import BadRequestError, ResourceNotFoundError
from layers.errors import NotFoundError
from layers.report import ACTIONS, N_, Finding, ValidationReport

if TYPE_CHECKING:
    from layers.storage import DatasetVersion, Store, Workspace

#: ``workspace/name@version``, ``workspace/name``, ``name@version`` or ``name``.
REF_PATTERN = re.compile(r"^(?:(?P<workspace>[^/@\s]+)/)?(?P<name>[^/@\s]+)(?:@(?P<version>.+))?$")
#: Characters of a SHA-256 shown in tables.
SHA_SHORT = 12
#: Largest page of findings the API hands out at once.
MAX_LIMIT = 5000


# --- parameters ----------------------------------------------------------------------------


def parse_positive_int(name: str, value: str | None, *, minimum: int = 1) -> int | None:
    """Return ``value`` as an int of at least ``minimum`` (None when absent), or raise 400."""
    if value is None or value == "":
        return None
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or int(text) < minimum:
        raise BadRequestError(
            N_(
                "The parameter %(parameter)s must be a whole number of %(minimum)s or more, "
                "not %(value)s."
            ),
            details={"parameter": name, "value": value, "minimum": minimum},
            parameter=name,
            value=repr(value),
            minimum=minimum,
        )
    return int(text)


def parse_flag(name: str, value: str | None) -> bool:
    """Return a yes/no query parameter as a bool (absent is no), or raise 400."""
    if value is None or value == "":
        return False
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise BadRequestError(
        N_("The parameter %(parameter)s must be 1 or 0 (yes or no), not %(value)s."),
        details={"parameter": name, "value": value, "allowed": ["1", "0", "true", "false"]},
        parameter=name,
        value=repr(value),
    )


def parse_action(value: str | None) -> str | None:
    """Return a finding action filter (None for all), or raise 400 naming the allowed ones."""
    if value is None or value == "":
        return None
    if value not in ACTIONS:
        raise BadRequestError(
            N_("The parameter %(parameter)s must be one of %(allowed)s, not %(value)s."),
            details={"parameter": "action", "value": value, "allowed": list(ACTIONS)},
            parameter="action",
            allowed=", ".join(ACTIONS),
            value=repr(value),
        )
    return value


def parse_ref(text: str, workspace: str | None = None) -> tuple[str, str, int | None]:
    """Split ``workspace/name[@version]`` (or ``name[@version]`` with ``workspace``).

    Raises
    ------
    BadRequestError
        The text is not a dataset reference, the version is not a positive whole number,
        or no workspace is given either way.
    """
    match = REF_PATTERN.match(text.strip())
    if not match:
        raise BadRequestError(
            N_(
                "%(value)s is not a dataset reference; use workspace/name or "
                "workspace/name@version."
            ),
            details={"value": text},
            value=repr(text),
        )
    ws = match["workspace"] or workspace
    if not ws:
        raise BadRequestError(
            N_("No workspace given for %(value)s; write workspace/name or pass a workspace."),
            details={"value": text},
            value=repr(text),
        )
    version = parse_positive_int("version", match["version"])
    return ws, match["name"], version


# --- lookups -------------------------------------------------------------------------------


def get_workspace(store: Store, name: str) -> Workspace:
    """Return a workspace or raise 404 listing the existing ones."""
    try:
        return store.get_workspace(name)
    except NotFoundError:
        known = [w.name for w in store.list_workspaces()]
        raise ResourceNotFoundError(
            N_("There is no workspace %(workspace)s."),
            details={"workspace": name, "available": known},
            workspace=repr(name),
        ) from None


def list_datasets(
    store: Store, workspace: str, *, all_versions: bool = False
) -> list[DatasetVersion]:
    """Datasets of a workspace (latest versions, or all), by name; 404 for an unknown workspace."""
    get_workspace(store, workspace)
    return store.list_datasets(workspace, all_versions=all_versions)


def dataset_counts(store: Store) -> tuple[list[Workspace], dict[str, int]]:
    """Every workspace, and how many datasets each holds."""
    workspaces = store.list_workspaces()
    counts = {w.name: 0 for w in workspaces}
    for info in store.list_datasets():
        counts[info.workspace] = counts.get(info.workspace, 0) + 1
    return workspaces, counts


@dataclass
class WorkspaceOverview:
    """What a workspace page shows: its layers, how many versions each has, their extents."""

    workspace: Workspace
    datasets: list[DatasetVersion]
    version_counts: dict[str, int]
    extents: list[dict[str, Any]]


def workspace_overview(store: Store, name: str) -> WorkspaceOverview:
    """The latest version of each dataset of a workspace, with version counts and extents."""
    workspace = get_workspace(store, name)
    datasets = list_datasets(store, name)
    version_counts: dict[str, int] = {}
    for info in list_datasets(store, name, all_versions=True):
        version_counts[info.name] = version_counts.get(info.name, 0) + 1
    extents = [
        {"name": d.name, "kind": d.kind, "bounds": list(d.bounds)}
        for d in datasets
        if d.bounds is not None
    ]
    return WorkspaceOverview(workspace, datasets, version_counts, extents)


def dataset_versions(store: Store, workspace: str, name: str) -> list[DatasetVersion]:
    """Every version of a dataset, oldest first; 404 when the workspace or dataset is unknown."""
    versions = [d for d in list_datasets(store, workspace, all_versions=True) if d.name == name]
    if not versions:
        known = sorted({d.name for d in store.list_datasets(workspace)})
        raise ResourceNotFoundError(
            N_("There is no dataset %(dataset)s in workspace %(workspace)s."),
            details={"workspace": workspace, "dataset": name, "available": known},
            dataset=repr(name),
            workspace=repr(workspace),
        )
    return versions


def get_dataset(
    store: Store, workspace: str, name: str, version: int | None = None
) -> tuple[DatasetVersion, list[DatasetVersion]]:
    """Return one version (the latest by default) and the list of all versions, or raise 404."""
    versions = dataset_versions(store, workspace, name)
    if version is None:
        return versions[-1], versions
    for info in versions:
        if info.version == version:
            return info, versions
    raise ResourceNotFoundError(
        N_("There is no version %(version)s of dataset %(dataset)s in workspace %(workspace)s."),
        details={
            "workspace": workspace,
            "dataset": name,
            "version": version,
            "available": [v.version for v in versions],
        },
        version=version,
        dataset=repr(name),
        workspace=repr(workspace),
    )


@dataclass
class ReportView:
    """One page of a stored validation report.

    Attributes
    ----------
    info : DatasetVersion
        The dataset version the report belongs to.
    report : ValidationReport
        The whole report.
    findings : list of Finding
        The findings on this page (after the action filter).
    total : int
        Findings kept in detail that match the filter.
    offset, limit : int
        Position and size of the page.
    action : str or None
        The action filter.
    """

    info: DatasetVersion
    report: ValidationReport
    findings: list[Finding]
    total: int
    offset: int
    limit: int
    action: str | None

    @property
    def not_kept(self) -> int:
        """Findings counted in the report's totals but not kept in detail (same filter)."""
        return sum(
            n
            for key, n in self.report.truncated.items()
            if self.action is None or key.startswith(self.action + ":")
        )


def get_report(
    store: Store,
    workspace: str,
    name: str,
    version: int | None = None,
    *,
    offset: int = 0,
    limit: int = 500,
    action: str | None = None,
) -> ReportView:
    """Return a page of the validation report stored with a dataset version, or raise 404."""
    info, _ = get_dataset(store, workspace, name, version)
    report = ValidationReport.from_dict(store.get_report(workspace, name, info.version))
    findings = (
        report.findings if action is None else [f for f in report.findings if f.action == action]
    )
    return ReportView(
        info=info,
        report=report,
        findings=findings[offset : offset + limit],
        total=len(findings),
        offset=offset,
        limit=limit,
        action=action,
    )


# --- JSON ----------------------------------------------------------------------------------


def workspace_json(workspace: Workspace) -> dict[str, Any]:
    """A workspace as JSON-ready data."""
    return {
        "name": workspace.name,
        "title": workspace.title,
        "description": workspace.description,
        "created_at": workspace.created_at.isoformat(),
    }


def dataset_json(info: DatasetVersion) -> dict[str, Any]:
    """A dataset version as JSON-ready data (its report counts included)."""
    return {
        "workspace": info.workspace,
        "name": info.name,
        "version": info.version,
        "ref": info.ref,
        "kind": info.kind,
        "source_name": info.source_name,
        "source_sha256": info.source_sha256,
        "created_at": info.created_at.isoformat(),
        "created_by": info.created_by,
        "row_count": info.row_count,
        "counts": dict(info.counts),
        "crs": info.crs,
        "bounds": list(info.bounds) if info.bounds is not None else None,
        "note": info.note,
    }


def finding_json(finding: Finding, translate: Callable[[str], str]) -> dict[str, Any]:
    """A finding as JSON-ready data, with its message rendered by ``translate``."""
    return {
        "action": finding.action,
        "code": finding.code,
        "row": finding.row,
        "column": finding.column,
        "params": finding.params,
        "message": finding.render(translate),
    }


def report_json(view: ReportView, translate: Callable[[str], str]) -> dict[str, Any]:
    """A page of a report as JSON-ready data."""
    report = view.report
    return {
        "dataset": dataset_json(view.info),
        "kind": report.kind,
        "file": report.file,
        "counts": report.counts(),
        "totals": dict(report.totals),
        "not_kept_in_detail": report.truncated,
        "unmatched_codes": dict(report.unmatched_codes),
        "notes": report.notes,
        "findings_total": view.total,
        "offset": view.offset,
        "limit": view.limit,
        "action": view.action,
        "findings": [finding_json(f, translate) for f in view.findings],
    }


def short_sha(sha256: str | None) -> str:
    """The first characters of a SHA-256 (empty when unknown)."""
    return (sha256 or "")[:SHA_SHORT]
