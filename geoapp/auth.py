"""Who may do what: sign-in sessions, every route's declared access, CSRF, public map links.

Every view declares what it needs with :func:`requires`; a request to a view that declares
nothing is refused (so a new route cannot be open by mistake). The levels, from the least:

``public``       anyone (sign-in page, static files, an accepted invitation)
``signed_in``    any signed-in account (workspace list, own password)
``viewer``       a role in the route's workspace (read, export)
``commenter``    viewer when the workspace lets viewers comment, editor otherwise
``editor``       import, score, target, edit programs and needs, annotate
``admin``        the workspace's roles, public links and settings
``superuser``    installation administrators: accounts and the whole audit trail

``requires("viewer", public_link=True)`` also admits a visitor who opened one of the
workspace's public map links (read-only, that workspace only) until it is revoked.

Sessions are Flask's signed cookies (HttpOnly, SameSite=Lax, Secure when configured) holding
the user name and the account's *session epoch*: a password change or deactivation raises
the epoch and so ends every open session of the account. Every state-changing request
(POST, PUT, PATCH, DELETE), form or JSON, must carry the session's CSRF token (Flask-WTF):
forms in a hidden field, scripts in the ``X-CSRFToken`` header (``static/js/csrf.js``).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask, current_app, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext
from flask_wtf.csrf import CSRFError, CSRFProtect

from geoapp.errors import AppError, BadRequestError, respond, wants_json
from layers.report import N_

if TYPE_CHECKING:
    from layers.accounts import Accounts
    from layers.storage.accounts import User

__all__ = [
    "LEVELS",
    "ForbiddenError",
    "SignInRequiredError",
    "access_of",
    "actor",
    "current_user",
    "init_app",
    "requires",
    "visible",
]

#: Access levels a view may declare, from the least to the most.
LEVELS: tuple[str, ...] = (
    "public",
    "signed_in",
    "viewer",
    "commenter",
    "editor",
    "admin",
    "superuser",
)
#: Workspace roles each level needs (the levels above ``signed_in``).
_ROLE_OF_LEVEL = {"viewer": "viewer", "editor": "editor", "admin": "admin"}
#: Endpoints outside the blueprints (Flask's static files).
_BUILTIN = {"static": ("public", False)}
#: Session key of an opened public map link's token.
PUBLIC_KEY = "public_link"

F = TypeVar("F", bound=Callable[..., Any])
csrf = CSRFProtect()


class SignInRequiredError(AppError):
    """The route needs an account and nobody is signed in (401)."""

    status = 401
    code = "sign_in_required"


class ForbiddenError(AppError):
    """The signed-in account's role does not allow this (403)."""

    status = 403
    code = "forbidden"


def form_message(exc: Exception) -> str:
    """A core error's message in the request's language, to show beside a form."""
    render = getattr(exc, "render", None)
    return render(gettext) if render else str(exc)


def requires(level: str, *, public_link: bool = False) -> Callable[[F], F]:
    """Declare the access a view needs (one of :data:`LEVELS`)."""
    if level not in LEVELS:
        raise ValueError(f"unknown access level {level!r}; levels: {', '.join(LEVELS)}")

    def mark(view: F) -> F:
        view.access = (level, public_link)  # type: ignore[attr-defined]
        return view

    return mark


def access_of(app: Flask, endpoint: str) -> tuple[str, bool] | None:
    """The ``(level, public_link)`` a view declared, or None when it declared nothing."""
    if endpoint in _BUILTIN:
        return _BUILTIN[endpoint]
    view = app.view_functions.get(endpoint)
    return getattr(view, "access", None)


def accounts() -> Accounts:
    """The accounts of the app's store."""
    from geoapp.store import get_store
    from layers.accounts import Accounts, RateLimit

    store = get_store()
    limit = RateLimit(
        per_user=current_app.config["LOGIN_MAX_FAILURES"],
        per_address=current_app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
    )
    return Accounts(store, limit)


def current_user() -> User | None:
    """The signed-in account of this request, or None (checked once per request)."""
    if "user" in g:
        return g.user
    user = None
    name, epoch = session.get("user"), session.get("epoch")
    if isinstance(name, str):
        from geoapp.store import get_store

        found = get_store().find_user(name)
        if found is not None and found.active and found.session_epoch == epoch:
            user = found
        else:
            session.pop("user", None)
            session.pop("epoch", None)
    g.user = user
    return user


def actor() -> str | None:
    """The name the audit trail records for this request's changes."""
    user = current_user()
    return None if user is None else user.username


def sign_in(user: User) -> None:
    """Start a fresh session for ``user`` (a new CSRF token; any public link is dropped)."""
    session.clear()
    session["user"] = user.username
    session["epoch"] = user.session_epoch
    session.permanent = True
    g.user = user


def sign_out() -> None:
    """End this session."""
    session.clear()
    g.user = None


#: Headers a reverse proxy adds: behind one, every request comes from the loopback address.
PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def is_local_request() -> bool:
    """Whether the request comes from this computer (loopback address, not via a proxy)."""
    if any(name in request.headers for name in PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def workspace_setting(workspace: str, key: str, default: Any) -> Any:
    """A workspace setting kept in the ``settings/access`` record."""
    from geoapp.store import get_store
    from layers.errors import NotFoundError

    try:
        body = get_store().get_record(workspace, "settings", "access").body
    except NotFoundError:
        return default
    return body.get(key, default)


def role_here(workspace: str | None) -> str | None:
    """The signed-in account's role in ``workspace`` (None without one)."""
    user = current_user()
    if user is None or workspace is None:
        return None
    from layers.accounts import role_of

    return role_of(user, workspace)


def visible(workspaces: list[Any]) -> list[Any]:
    """The workspaces (objects with a ``name``) the signed-in account has a role in."""
    return [w for w in workspaces if role_here(w.name) is not None]


def _public_link_workspace() -> str | None:
    token = session.get(PUBLIC_KEY)
    if not isinstance(token, str):
        return None
    workspace = accounts().public_workspace(token)
    if workspace is None:
        session.pop(PUBLIC_KEY, None)
    return workspace


def _allowed(level: str, public_link: bool, workspace: str | None) -> bool | None:
    """True allowed; False forbidden; None: sign in first."""
    if level == "public":
        return True
    user = current_user()
    if user is None:
        if public_link and workspace is not None and _public_link_workspace() == workspace:
            return True
        return None
    if level == "signed_in":
        return True
    if level == "superuser":
        return user.is_admin
    if workspace is None:
        return user.is_admin
    from layers.accounts import role_allows

    role = role_here(workspace)
    if level == "commenter":
        needed = (
            "viewer" if workspace_setting(workspace, "viewers_may_comment", False) else "editor"
        )
    else:
        needed = _ROLE_OF_LEVEL[level]
    return role_allows(role, needed)


def _check_access() -> Any:
    """``before_request``: refuse what the route's declaration does not allow."""
    endpoint = request.endpoint
    if endpoint is None:  # 404 and 405: let the router answer
        return None
    declared = access_of(current_app, endpoint)
    if declared is None:
        raise ForbiddenError(N_("This address has no declared access and is closed."))
    level, public_link = declared
    workspace = (request.view_args or {}).get("workspace")
    allowed = _allowed(level, public_link, workspace)
    if allowed is None:
        if _needs_first_admin():
            return redirect(url_for("auth.setup"))
        if wants_json():
            raise SignInRequiredError(N_("Sign in to use this address."))
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if not allowed:
        raise ForbiddenError(
            N_("Your role in %(workspace)s does not allow this.")
            if workspace
            else N_("Only an administrator may do this."),
            workspace=workspace,
        )
    return None


def _needs_first_admin() -> bool:
    from geoapp.store import get_store

    return get_store().count_users() == 0  # an unreadable store: 503 from its error handler


def _refuse_nameless_form_fields() -> None:
    """A form part without a name is malformed: 400 (the CSRF check cannot read such a form)."""
    form_types = ("multipart/form-data", "application/x-www-form-urlencoded")
    if (
        request.method not in ("POST", "PUT", "PATCH", "DELETE")
        or request.mimetype not in form_types
    ):
        return
    if any(not isinstance(key, str) for key in list(request.form) + list(request.files)):
        raise BadRequestError(N_("the form has a field without a name"))


def handle_csrf_error(exc: CSRFError) -> Any:
    """A missing or wrong CSRF token: 400 in the one error shape."""
    message = gettext(
        N_("The form has expired or did not come from this site; reload the page and try again.")
    )
    return respond(400, "csrf_failed", message, {"reason": exc.description})


def _secret_key(app: Flask) -> str:
    """The configured key, or one made once and kept in the instance folder."""
    configured = app.config.get("SECRET_KEY")
    if configured and (configured != "dev" or app.config.get("TESTING")):
        return configured
    path = Path(app.instance_path) / "secret_key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it just now
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(key + "\n")
    return key


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, the key settled on first use (so creating the app
    writes nothing)."""

    def get_signing_serializer(self, app: Flask) -> Any:
        if not app.config.get("_SECRET_KEY_SETTLED"):
            with _KEY_LOCK:
                if not app.config.get("_SECRET_KEY_SETTLED"):
                    app.config["SECRET_KEY"] = _secret_key(app)
                    app.config["_SECRET_KEY_SETTLED"] = True
        return super().get_signing_serializer(app)


_KEY_LOCK = threading.Lock()


def init_app(app: Flask) -> None:
    """Sessions, CSRF protection, the access check and the template helpers."""
    from datetime import timedelta

    app.session_interface = _SessionInterface()
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    app.config["SESSION_COOKIE_SECURE"] = bool(app.config.get("SESSION_COOKIE_SECURE"))
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=app.config["SESSION_HOURS"])
    app.config["WTF_CSRF_TIME_LIMIT"] = None  # valid for the session's life
    app.config["WTF_CSRF_SSL_STRICT"] = app.config["SESSION_COOKIE_SECURE"]
    app.before_request(_refuse_nameless_form_fields)  # before the CSRF check reads the form
    csrf.init_app(app)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.before_request(_check_access)

    @app.context_processor
    def _auth_context() -> dict[str, Any]:
        def can(level: str, workspace: str | None = None) -> bool:
            return bool(_allowed(level, False, workspace))

        return {"current_user": current_user, "can": can}
