"""The program register's JSON API under ``/api/workspaces/<ws>/programs``.

List the programs, read one with its assignments and activity log, and import a register
file (XLSX, ZIP of CSV files or programs.csv): ``dry_run=1`` checks every row and writes
nothing, ``dry_run=0`` imports when no row is rejected. A rejected file is a 400
``rows_rejected`` whose ``details.problems`` lists every row (file, sheet, row, column,
reason); nothing is written.

Edits (a new program, changed fields, villages assigned, an activity entry; a need's
lifecycle step is in :mod:`geoapp.views.coverage_api`) are JSON objects with
``base_version``, the version the page showed; each calls one function of
:mod:`geoapp.views.programs_edit`. A value the core refuses is a 400 whose
``details.parameter`` names the field; a row someone changed since ``base_version`` is a
409 ``conflict`` whose ``details.theirs`` is that row now. ``/change`` compares the
program's villages with the others between two score runs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from flask_babel import gettext

from geoapp.auth import actor, requires
from geoapp.errors import AppError, BadRequestError
from geoapp.store import get_store
from geoapp.views import coverage_data, programs_data, programs_edit
from geoapp.views.coverage_api import as_app_error, core_call, edit_call, signed_body
from layers.errors import N_, InputError, NotFoundError, StoreError

bp = Blueprint("programs_api", __name__, url_prefix="/api/workspaces/<workspace>/programs")


class RowsRejectedError(AppError):
    """A register file with rejected rows (400); every problem is in ``details.problems``."""

    status = 400
    code = "rows_rejected"


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


def parse_flag(args: Any, name: str) -> bool:
    """``1``/``true``/``yes`` or ``0``/``false``/``no`` (required)."""
    text = (args.get(name) or "").strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no"):
        return False
    raise BadRequestError(
        N_("%(parameter)s must be 1 (check only) or 0 (import), not %(value)r"),
        details={"parameter": name},
        parameter=name,
        value=text,
    )


def program_links(workspace: str, program_id: str) -> dict[str, str]:
    """API and page addresses of a program."""
    return {
        "self": url_for("programs_api.program", workspace=workspace, program_id=program_id),
        "html": url_for("programs.program", workspace=workspace, program_id=program_id),
    }


@bp.get("")
@requires("viewer")
def programs(workspace: str) -> Response:
    """The register's programs with villages and beneficiaries planned and achieved."""
    body = core_call(
        programs_data.programs_data,
        get_store(),
        workspace,
        as_of=core_call(coverage_data.parse_date, request.args.get("as_of")),
        version=parse_version(request.args),
    )
    for item in body["programs"]:
        item["links"] = program_links(workspace, item["program_id"])
    return jsonify(body)


@bp.get("/<program_id>")
@requires("viewer")
def program(workspace: str, program_id: str) -> Response:
    """One program with its assignments, activity log and reach (``?as_of=``)."""
    body = core_call(
        programs_data.program_data,
        get_store(),
        workspace,
        program_id,
        as_of=core_call(coverage_data.parse_date, request.args.get("as_of")),
        version=parse_version(request.args),
    )
    body["links"] = program_links(workspace, program_id)
    return jsonify(body)


@contextmanager
def _checked_upload(upload: Any) -> Iterator[IO[bytes]]:
    """The upload saved to a temporary file (removed afterwards) and checked by
    :func:`layers.uploads.check_upload`; yields the file open for reading."""
    from layers.uploads import REGISTER_TYPES, UploadLimits, check_upload, save_upload, upload_name

    largest = current_app.config.get("MAX_CONTENT_LENGTH")
    limits = UploadLimits(max_bytes=largest) if largest else UploadLimits()
    name = upload_name(upload.filename)
    with tempfile.TemporaryDirectory(prefix="jangkau-upload-") as folder:
        path = Path(folder) / name
        try:
            save_upload(upload.stream, path, source=name, limits=limits)
            check_upload(path, filename=name, expected=REGISTER_TYPES, limits=limits)
        except InputError as exc:
            error = as_app_error(exc)
            error.details.update({"parameter": "file", "file": exc.file})
            raise error from None
        with path.open("rb") as stream:
            yield stream


@bp.post("/import")
@requires("editor")
def import_register(workspace: str) -> tuple[Response, int]:
    """Check (``dry_run=1``) or import (``dry_run=0``) the uploaded register ``file``."""
    from layers.programs import RegisterImportError

    # The request's size is bounded by MAX_CONTENT_LENGTH (413 in the one error shape).
    dry_run = parse_flag(request.values, "dry_run")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise BadRequestError(
            N_("send the register as the multipart field 'file'"), details={"parameter": "file"}
        )
    try:
        with _checked_upload(upload) as stream:
            body = programs_data.import_upload(
                get_store(),
                workspace,
                upload.filename,
                stream,
                dry_run=dry_run,
                user=actor(),
                note=(request.values.get("note") or "").strip(),
                translate=gettext,
            )
    except RegisterImportError as exc:
        problems = programs_data.problem_rows(exc, gettext)
        raise RowsRejectedError(
            N_("%(count)s problems; nothing was written. Correct the file and import it again."),
            details={"problems": problems, "file": exc.file, "dry_run": dry_run},
            count=len(problems),
        ) from None
    except (InputError, NotFoundError) as exc:
        raise as_app_error(exc) from None
    except StoreError as exc:
        from layers.storage.base import ConflictError  # the store is loaded by now

        if not isinstance(exc, ConflictError):
            raise
        raise as_app_error(exc) from None
    body["links"] = {"programs": url_for("programs_api.programs", workspace=workspace)}
    return jsonify(body), (200 if dry_run else 201)


# -- edits ----------------------------------------------------------------------------------


@bp.post("")
@requires("editor")
def create(workspace: str) -> tuple[Response, int, dict[str, str]]:
    """Add a program to the register (its fields and ``base_version``)."""
    body = edit_call(workspace, programs_edit.create_program, signed_body())
    body["links"] = program_links(workspace, body["program_id"])
    return jsonify(body), 201, {"Location": body["links"]["self"]}


@bp.patch("/<program_id>")
@requires("editor")
def update(workspace: str, program_id: str) -> Response:
    """Change some fields of a program (``base_version`` and the fields)."""
    body = edit_call(workspace, programs_edit.update_program, program_id, signed_body())
    body["links"] = program_links(workspace, program_id)
    return jsonify(body)


@bp.post("/<program_id>/assignments")
@requires("editor")
def assign(workspace: str, program_id: str) -> tuple[Response, int]:
    """Assign the program to a saved scenario's villages or to villages by code."""
    body = edit_call(workspace, programs_edit.add_assignments, program_id, signed_body())
    body["links"] = program_links(workspace, program_id)
    return jsonify(body), 201


@bp.post("/<program_id>/activities")
@requires("editor")
def log_activity(workspace: str, program_id: str) -> tuple[Response, int]:
    """Add an entry to the program's activity log."""
    body = edit_call(workspace, programs_edit.log_activity, program_id, signed_body())
    body["links"] = program_links(workspace, program_id)
    return jsonify(body), 201


@bp.get("/<program_id>/change")
@requires("viewer")
def change(workspace: str, program_id: str) -> Response:
    """The program's villages versus the others between two score runs of ``?profile=``
    (``?baseline=N``, ``?followup=M``: the latest run by default)."""
    baseline = _run_number("baseline", required=True)
    body = core_call(
        programs_edit.program_change,
        get_store(),
        workspace,
        program_id,
        profile=(request.args.get("profile") or "").strip(),
        baseline=baseline,
        followup=_run_number("followup"),
    )
    return jsonify(body)


def _run_number(name: str, *, required: bool = False) -> int | None:
    text = (request.args.get(name) or "").strip()
    if not text and not required:
        return None
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise BadRequestError(
            N_("%(parameter)s must be a score run number from 1, not %(value)r"),
            details={"parameter": name},
            parameter=name,
            value=text,
        )
    return int(text)
