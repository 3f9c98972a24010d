"""Import a layer from the web: ``POST /api/workspaces/<ws>/datasets`` (multipart).

Fields: ``file``; ``kind`` (villages, facilities, needs or indicators); optional ``name``
(the dataset, the kind by default), ``code_system`` (kemendagri or bps) and ``dry_run``
(``1`` checks and writes nothing, ``0``, the default, imports). The upload is checked by
:func:`layers.uploads.check_upload` and imported by :func:`layers.uploads.import_upload`,
which calls the same :func:`layers.importer.import_into_store` as ``geoapp import``.
Editors only; the version records the signed-in account as its importer.

Answers: 201 with the new version and the report's counts; 200 for a dry run, or when the
same file with the same options is already the latest version; 400 ``rows_rejected`` whose
``details.rows`` lists the rejected rows (file, row, column, reason) with nothing stored;
400 ``bad_request`` for a file refused as a whole; 413 (one JSON shape) for a request
larger than ``MAX_CONTENT_LENGTH``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from flask_babel import gettext

from geoapp.auth import actor, requires
from geoapp.errors import BadRequestError
from geoapp.store import get_store
from geoapp.views.coverage_api import as_app_error
from geoapp.views.programs_api import RowsRejectedError, parse_flag
from layers.errors import N_, InputError, NotFoundError

bp = Blueprint("uploads", __name__, url_prefix="/api/workspaces/<workspace>")

#: Rejected rows listed in one answer (the stored report keeps them all).
MAX_ROWS = 1000


def _choice(name: str, allowed: tuple[str, ...], default: str | None = None) -> str:
    """A form field that must be one of ``allowed``."""
    value = (request.values.get(name) or "").strip() or default
    if value not in allowed:
        raise BadRequestError(
            N_("%(parameter)s must be one of %(allowed)s, not %(value)r"),
            details={"parameter": name, "allowed": list(allowed)},
            parameter=name,
            allowed=", ".join(allowed),
            value=value or "",
        )
    return value


def _limits() -> Any:
    """The upload limits, the file size bounded by ``MAX_CONTENT_LENGTH``."""
    from layers.uploads import UploadLimits

    largest = current_app.config.get("MAX_CONTENT_LENGTH")
    return UploadLimits(max_bytes=largest) if largest else UploadLimits()


def _rows(report: Any) -> list[dict[str, Any]]:
    """The report's rejected rows: file, row, column, reason in the request's language."""
    return [
        {
            "file": report.file,
            "row": f.row,
            "column": f.column,
            "code": f.code,
            "reason": f.render(gettext),
        }
        for f in report.rejected[:MAX_ROWS]
    ]


@bp.post("/datasets")
@requires("editor")
def import_dataset(workspace: str) -> tuple[Response, int]:
    """Check (``dry_run=1``) or import (``dry_run=0``) the uploaded layer ``file``."""
    from geoapp.catalogue import dataset_json
    from geoapp.cli_common import code_bridge
    from layers.uploads import UPLOAD_KINDS, import_upload
    from layers.validate import CODE_SYSTEMS

    kind = _choice("kind", UPLOAD_KINDS)
    code_system = _choice("code_system", tuple(CODE_SYSTEMS), "kemendagri")
    dry_run = parse_flag(request.values, "dry_run") if request.values.get("dry_run") else False
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise BadRequestError(
            N_("send the file as the multipart field 'file'"), details={"parameter": "file"}
        )
    try:
        outcome = import_upload(
            get_store(),
            workspace,
            upload.stream,
            upload.filename,
            kind,
            name=(request.values.get("name") or "").strip() or None,
            code_system=code_system,
            bridge=code_bridge(code_system, None, kind),
            dry_run=dry_run,
            user=actor(),
            limits=_limits(),
        )
    except (InputError, NotFoundError) as exc:
        error = as_app_error(exc)
        if isinstance(exc, InputError):
            error.details.setdefault("parameter", "file")
            error.details["file"] = exc.file
        raise error from None
    report = outcome.report
    counts = report.counts()
    if not report.ok:
        rows = _rows(report)
        raise RowsRejectedError(
            N_(
                "%(count)s rows were rejected; nothing was stored. Correct the file and send "
                "it again."
            ),
            details={
                "file": report.file,
                "dry_run": dry_run,
                "counts": counts,
                "rows": rows,
                "rows_total": len(report.rejected),
            },
            count=counts["rejected"],
        )
    body: dict[str, Any] = {
        "workspace": workspace,
        "file": report.file,
        "kind": kind,
        "dry_run": dry_run,
        "stored": outcome.stored,
        "unchanged": outcome.unchanged,
        "counts": counts,
        "dataset": None,
        "messages": [note.render(gettext) for note in outcome.notes],
    }
    if outcome.version is not None:
        info = outcome.version
        body["dataset"] = dataset_json(info)
        body["dataset"]["links"] = {
            "self": url_for(
                "api.dataset", workspace=workspace, name=info.name, version=info.version
            ),
            "report": url_for(
                "api.report", workspace=workspace, name=info.name, version=info.version
            ),
            "html": url_for("pages.dataset", workspace=workspace, name=info.name),
        }
    return jsonify(body), (201 if outcome.stored else 200)
