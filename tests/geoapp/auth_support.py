"""Signed-in test clients and browser sessions.

Every route of the app needs a role, so the web tests sign in. ``tests/geoapp/conftest.py``
makes :class:`SignedInClient` the test client of every app in these tests: it signs in as
the installation administrator :data:`TEST_USER` on its first request (the account is made
in the app's store when missing) and sends the session's CSRF token with every request, as
the pages' scripts do. ``app.test_client(user=None)`` is an anonymous client; ``user=`` and
``roles=`` give another account. The access tests use those to walk every route with every
role.
"""

from __future__ import annotations

import functools
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

#: The administrator the web tests act as, and its password.
TEST_USER = "penguji"
TEST_PASSWORD = "Uji-jangkau-2026!"


@functools.cache
def password_hash(password: str = TEST_PASSWORD) -> str:
    """The Argon2 hash of a test password, made once per test run (hashing is slow)."""
    from layers.accounts import hash_password

    return hash_password(password)


def ensure_user(
    store: Any,
    username: str = TEST_USER,
    *,
    is_admin: bool = True,
    roles: dict[str, str] | None = None,
    password: str = TEST_PASSWORD,
) -> Any:
    """The account ``username`` in ``store`` (made when missing) with ``roles`` given."""
    user = store.find_user(username)
    if user is None:
        store.create_user(
            username,
            password_hash=password_hash(password),
            display_name=username.title(),
            is_admin=is_admin,
            created_by="tests",
        )
    for workspace, role in (roles or {}).items():
        store.set_role(username, workspace, role, granted_by="tests")
    return store.find_user(username)


def session_for(app: Flask, user: Any) -> dict[str, Any]:
    """Session contents signing ``user`` in, with a CSRF secret; and the matching token."""
    from flask import session
    from flask_wtf.csrf import generate_csrf

    with app.test_request_context():
        token = generate_csrf()
        raw = session["csrf_token"]
    return {"user": user.username, "epoch": user.session_epoch, "csrf_token": raw}, token


def session_cookie(app: Flask, user: Any) -> str:
    """The value of a session cookie signing ``user`` in (for a browser)."""
    return signed_headers(app, user)["Cookie"].split("=", 1)[1]


def signed_headers(app: Flask, user: Any = None) -> dict[str, str]:
    """HTTP headers of a request signed in as ``user`` (the test administrator by default)
    carrying the session's CSRF token, for clients other than Flask's."""
    from geoapp.store import get_store

    user = user or ensure_user(get_store(app))
    contents, token = session_for(app, user)
    serializer = app.session_interface.get_signing_serializer(app)
    cookie = serializer.dumps({**contents, "_permanent": True})
    return {"Cookie": f"session={cookie}", "X-CSRFToken": token}


class SignedInClient(FlaskClient):
    """A test client signed in as ``user`` (None: anonymous) on its first request."""

    def __init__(
        self,
        *args: Any,
        user: str | None = TEST_USER,
        is_admin: bool = True,
        roles: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.is_admin = is_admin
        self.roles = roles
        self.csrf_token: str | None = None
        self._signed = user is None

    def sign_in(self) -> None:
        """Sign in now (the account is made when missing)."""
        from geoapp.store import get_store
        from layers.errors import StoreError

        self._signed = True
        try:
            user = ensure_user(
                get_store(self.application), self.user, is_admin=self.is_admin, roles=self.roles
            )
        except StoreError:  # an uninitialised store: stay anonymous, the app will say so
            return
        contents, self.csrf_token = session_for(self.application, user)
        with self.session_transaction() as session:
            session.update(contents)
        self.environ_base["HTTP_X_CSRFTOKEN"] = self.csrf_token

    def open(self, *args: Any, **kwargs: Any) -> Any:
        """Sign in before the first request, then send it."""
        if not self._signed:
            self.sign_in()
        return super().open(*args, **kwargs)
