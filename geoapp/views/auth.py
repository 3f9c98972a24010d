"""Signing in and out, the first administrator, invitations, one's password, public links."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, session, url_for

from geoapp import auth
from geoapp.auth import requires
from geoapp.errors import ResourceNotFoundError
from geoapp.store import get_store
from layers.errors import InputError, StoreError
from layers.report import N_

bp = Blueprint("auth", __name__)


def _confirmed_password(form: Any, field: str = "password") -> str:
    """The new password of a form, refused when its confirmation differs."""
    password = form.get(field, "")
    if password != form.get("confirm", ""):
        raise InputError(N_("the two passwords differ"), column="confirm")
    return password


def _safe_next(target: str | None) -> str:
    """A redirect target on this site only (never another host)."""
    if not target:
        return url_for("pages.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("pages.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
@requires("public")
def login() -> Any:
    """The sign-in form; on success, back to where the visitor was going."""
    if auth.current_user() is not None and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    error, status, headers = None, 200, {}
    if request.method == "POST":
        from layers.accounts import LoginFailedError, LoginThrottledError

        try:
            user = auth.accounts().authenticate(
                request.form.get("username", ""),
                request.form.get("password", ""),
                request.remote_addr or "?",
            )
        except LoginThrottledError as exc:
            error, status = auth.form_message(exc), 429
            headers["Retry-After"] = str(exc.retry_after)
        except LoginFailedError as exc:
            error, status = auth.form_message(exc), 401
        else:
            auth.sign_in(user)
            return redirect(_safe_next(request.form.get("next")))
    page = render_template(
        "login.html",
        error=error,
        next=request.values.get("next", ""),
        username=request.form.get("username", ""),
    )
    return page, status, headers


@bp.post("/logout")
@requires("public")
def logout() -> Any:
    """End the session."""
    auth.sign_out()
    return redirect(url_for("auth.login"))


@bp.route("/setup", methods=["GET", "POST"])
@requires("public")
def setup() -> Any:
    """Create the first administrator (only while no account exists, from this computer)."""
    store = get_store()
    if store.count_users() > 0:
        return redirect(url_for("auth.login"))
    if not auth.is_local_request():
        raise auth.ForbiddenError(
            N_("The first administrator can only be created on the server itself.")
        )
    error = None
    if request.method == "POST":
        form = request.form
        try:
            password = _confirmed_password(form)
            user = auth.accounts().create_user(
                form.get("username", "").strip(),
                password,
                display_name=form.get("display_name", ""),
                is_admin=True,
                only_if_first=True,
            )
        except (InputError, StoreError) as exc:
            error = auth.form_message(exc)
        else:
            auth.sign_in(user)
            return redirect(url_for("pages.index"))
    return render_template("setup.html", error=error, form=request.form), 400 if error else 200


@bp.route("/invite/<token>", methods=["GET", "POST"])
@requires("public")
def invite(token: str) -> Any:
    """Accept an invitation: choose a user name and password."""
    accounts = auth.accounts()
    found = accounts.find_invite(token)
    if found is None:
        raise ResourceNotFoundError(
            N_("This invitation link is not valid any more; ask for a new one.")
        )
    error = None
    if request.method == "POST":
        form = request.form
        try:
            password = _confirmed_password(form)
            user = accounts.accept_invite(
                token,
                form.get("username", "").strip(),
                password,
                display_name=form.get("display_name", ""),
            )
        except (InputError, StoreError) as exc:
            error = auth.form_message(exc)
        else:
            auth.sign_in(user)
            target = (
                url_for("pages.workspace", workspace=found.workspace)
                if found.workspace
                else url_for("pages.index")
            )
            return redirect(target)
    return (
        render_template("invite.html", invite=found, error=error, form=request.form),
        400 if error else 200,
    )


@bp.route("/account", methods=["GET", "POST"])
@requires("signed_in")
def account() -> Any:
    """One's account: roles, and changing the password."""
    user = auth.current_user()
    error, done = None, False
    if request.method == "POST":
        form = request.form
        try:
            password = _confirmed_password(form, "new_password")
            changed = auth.accounts().change_password(
                user.username, form.get("old_password", ""), password
            )
        except (InputError, StoreError) as exc:
            error = auth.form_message(exc)
        else:
            auth.sign_in(changed)  # this session continues; the others end
            user, done = changed, True
    return render_template("account.html", user=user, error=error, done=done), (
        400 if error else 200
    )


@bp.get("/p/<token>")
@requires("public")
def public_link(token: str) -> Any:
    """Open a workspace's map through a public read-only link."""
    workspace = auth.accounts().public_workspace(token)
    if workspace is None:
        raise ResourceNotFoundError(
            N_("This map link is not valid any more; it may have been revoked.")
        )
    session[auth.PUBLIC_KEY] = token
    return redirect(url_for("map_page.map_page", workspace=workspace))
