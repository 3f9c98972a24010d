"""Accounts and access: users, roles, invitations, public links, settings, the audit trail."""

from __future__ import annotations

import io
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext

from geoapp import auth
from geoapp.auth import requires
from geoapp.errors import BadRequestError
from geoapp.store import get_store
from geoapp.views.coverage_api import core_call
from layers.errors import InputError, StoreError
from layers.report import N_

bp = Blueprint("admin", __name__)

#: Entries per page of the audit pages.
PER_PAGE = 100


def _link(endpoint: str, **values: Any) -> str:
    return url_for(endpoint, _external=True, **values)


def _users_action(form: Any) -> dict[str, Any]:
    """Carry out one form action of the accounts page; what to show afterwards."""
    accounts, who = auth.accounts(), auth.actor()
    action = form.get("action")
    if action == "create":
        user = accounts.create_user(
            form.get("username", "").strip(),
            form.get("password", ""),
            display_name=form.get("display_name", ""),
            is_admin=form.get("is_admin") == "1",
            created_by=who,
        )
        return {"done": gettext("Account %(user)s created.", user=user.username)}
    if action == "invite":
        workspace = form.get("workspace") or None
        token, _ = accounts.invite(
            workspace=workspace,
            role=form.get("role") if workspace else None,
            is_admin=form.get("is_admin") == "1",
            created_by=who,
            days=_int(form.get("days", "7"), "days"),
            note=form.get("note", ""),
        )
        return {"invite_link": _link("auth.invite", token=token)}
    if action in ("deactivate", "activate"):
        username = form.get("username", "")
        get_store().update_user(username, changed_by=who, active=action == "activate")
        return {"done": gettext("Account %(user)s changed.", user=username)}
    if action == "reset_password":
        username = form.get("username", "")
        accounts.reset_password(username, form.get("password", ""), changed_by=who)
        return {"done": gettext("The password of %(user)s was changed.", user=username)}
    raise BadRequestError(N_("unknown action %(value)r"), value=action)


def _int(text: str, name: str) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        raise InputError(
            N_("%(name)s must be a whole number, not %(value)r"),
            column=name,
            params={"name": name, "value": text},
        ) from None


@bp.route("/admin/users", methods=["GET", "POST"])
@requires("superuser")
def users() -> Any:
    """Every account, creating accounts and invitations, deactivating."""
    result: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        try:
            result = _users_action(request.form)
        except (InputError, StoreError) as exc:
            result, status = {"error": auth.form_message(exc)}, 400
    store = get_store()
    return (
        render_template(
            "admin_users.html",
            users=store.list_users(),
            invites=store.list_invites()[:50],
            workspaces=store.list_workspaces(),
            roles=_roles(),
            **result,
        ),
        status,
    )


def _roles() -> list[tuple[str, str]]:
    return [
        ("viewer", gettext("viewer")),
        ("editor", gettext("editor")),
        ("admin", gettext("admin")),
    ]


def _access_action(workspace: str, form: Any) -> dict[str, Any]:
    """Carry out one form action of a workspace's access page."""
    accounts, who, store = auth.accounts(), auth.actor(), get_store()
    action = form.get("action")
    if action == "set_role":
        username = form.get("username", "").strip()
        store.set_role(username, workspace, form.get("role") or None, granted_by=who)
        return {"done": gettext("The role of %(user)s was changed.", user=username)}
    if action == "invite":
        token, _ = accounts.invite(
            workspace=workspace,
            role=form.get("role", "viewer"),
            created_by=who,
            days=_int(form.get("days", "7"), "days"),
            note=form.get("note", ""),
        )
        return {"invite_link": _link("auth.invite", token=token)}
    if action == "make_link":
        token, _ = accounts.make_public_link(workspace, label=form.get("label", ""), created_by=who)
        return {"public_link": _link("auth.public_link", token=token)}
    if action == "revoke_link":
        store.revoke_public_link(
            workspace, _int(form.get("link_id", ""), "link_id"), revoked_by=who
        )
        return {"done": gettext("The link was revoked; it no longer opens the map.")}
    if action == "settings":
        body = {"viewers_may_comment": form.get("viewers_may_comment") == "1"}
        store.put_record(workspace, "settings", "access", body, created_by=who)
        return {"done": gettext("Settings saved.")}
    raise BadRequestError(N_("unknown action %(value)r"), value=action)


@bp.route("/workspaces/<workspace>/access", methods=["GET", "POST"])
@requires("admin")
def access(workspace: str) -> Any:
    """Who has which role in the workspace, invitations, public map links, settings."""
    store = get_store()
    store.get_workspace(workspace)  # 404 naming the workspaces there are
    result: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        try:
            result = _access_action(workspace, request.form)
        except (InputError, StoreError) as exc:
            result, status = {"error": auth.form_message(exc)}, 400
    return (
        render_template(
            "workspace_access.html",
            workspace=workspace,
            members=store.members(workspace),
            links=store.list_public_links(workspace),
            comment=auth.workspace_setting(workspace, "viewers_may_comment", False),
            roles=_roles(),
            **result,
        ),
        status,
    )


def _filters(workspace: str | None) -> Any:
    from layers.audit import AuditFilters

    return core_call(
        AuditFilters.from_text,
        request.args,
        workspace=workspace,
        timezone=current_app.config["TIMEZONE"],
    )


#: The last page number the audit pages accept (a million entries at 100 per page).
MAX_PAGE = 10_000


def _page() -> int:
    text = request.args.get("page", "1")
    page = int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else 0
    if not 1 <= page <= MAX_PAGE:
        raise BadRequestError(N_("page must be a whole number from 1 to %(most)s"), most=MAX_PAGE)
    return page


def _audit_page(workspace: str | None) -> Any:
    from layers.audit import ACTIONS, TARGET_KINDS, audit_page

    if workspace is not None:
        get_store().get_workspace(workspace)  # 404 naming the workspaces there are
    page = _page()
    entries, total = audit_page(get_store(), _filters(workspace), page=page, per_page=PER_PAGE)
    return render_template(
        "audit.html",
        action_labels=_action_labels(),
        kind_labels=_kind_labels(),
        workspace=workspace,
        entries=entries,
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        actions=ACTIONS,
        kinds=TARGET_KINDS,
        args=request.args,
    )


def _action_labels() -> dict[str, str]:
    return {
        "create": gettext("created"),
        "import": gettext("imported"),
        "save": gettext("saved"),
        "update": gettext("changed"),
        "delete": gettext("deleted"),
        "restore": gettext("restored"),
    }


def _kind_labels() -> dict[str, str]:
    return {
        "workspace": gettext("workspace"),
        "dataset": gettext("dataset"),
        "record": gettext("record"),
        "user": gettext("account"),
        "membership": gettext("role"),
        "invite": gettext("invitation"),
        "link": gettext("public link"),
    }


@bp.get("/workspaces/<workspace>/audit")
@requires("editor")
def workspace_audit(workspace: str) -> Any:
    """The workspace's changes, newest first, with filters."""
    return _audit_page(workspace)


@bp.get("/admin/audit")
@requires("superuser")
def all_audit() -> Any:
    """Every change in the installation, accounts included."""
    return _audit_page(request.args.get("workspace") or None)


@bp.get("/workspaces/<workspace>/audit.<fmt>")
@requires("editor")
def audit_export(workspace: str, fmt: str) -> Response:
    """The filtered trail as CSV or XLSX."""
    from layers.audit import write_audit

    get_store().get_workspace(workspace)  # 404 naming the workspaces there are
    if fmt not in ("csv", "xlsx"):
        raise BadRequestError(N_("unknown format %(value)r; use csv or xlsx"), value=fmt)
    buffer = io.BytesIO()
    write_audit(
        get_store(), _filters(workspace), buffer, fmt, timezone=current_app.config["TIMEZONE"]
    )
    buffer.seek(0)
    mimetype = (
        "text/csv"
        if fmt == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return send_file(
        buffer, mimetype=mimetype, as_attachment=True, download_name=f"audit-{workspace}.{fmt}"
    )


@bp.get("/api/workspaces/<workspace>/audit")
@requires("editor")
def audit_api(workspace: str) -> Response:
    """The workspace's changes as JSON (``page``, filters as on the page)."""
    from layers.audit import audit_page

    get_store().get_workspace(workspace)  # 404 naming the workspaces there are
    page = _page()
    entries, total = audit_page(get_store(), _filters(workspace), page=page, per_page=PER_PAGE)
    return jsonify(
        {
            "workspace": workspace,
            "total": total,
            "page": page,
            "per_page": PER_PAGE,
            "entries": [e.to_dict() for e in entries],
        }
    )
