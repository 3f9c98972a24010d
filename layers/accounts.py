"""Accounts: passwords, sign-in with a rate limit, roles, invitations and public map links.

Several organisations share one installation, so every person signs in and has a role in
each workspace they work in:

``viewer``
    Reads everything in the workspace and exports it (government partners); may comment on
    the map when the workspace allows it.
``editor``
    Also imports, scores, targets, edits programs and needs, and annotates.
``admin``
    Also manages who has which role, public links and the workspace's settings.

An installation administrator (``is_admin``) is ``admin`` in every workspace and manages
accounts. Passwords are hashed with Argon2id (``argon2-cffi``); invitation and link tokens
are random, shown once, and kept only as their SHA-256. Sign-in is refused for a while
after repeated failures, per user name and per address, whatever the password then is.

:class:`Accounts` wraps a store; the web app and the command line call it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from layers.errors import N_, InputError, StoreError
from layers.storage.accounts import ROLES, Invite, PublicLink, User, check_role

if TYPE_CHECKING:
    from layers.storage.base import Store

__all__ = [
    "ROLES",
    "Accounts",
    "LoginFailedError",
    "LoginThrottledError",
    "RateLimit",
    "User",
    "role_allows",
    "role_of",
    "token_digest",
]

#: Shortest password accepted.
MIN_PASSWORD = 10
#: How long an invitation link stays valid by default.
INVITE_DAYS = 7
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
#: Passwords too common to accept whatever their length (checked case-insensitively).
_COMMON = frozenset(
    {
        "password123",
        "passw0rd123",
        "1234567890",
        "12345678910",
        "qwertyuiop",
        "iloveyou123",
        "katasandi123",
        "rahasia123",
        "indonesia123",
        "jangkau123",
        "admin12345",
        "administrator",
    }
)
_HASHER = PasswordHasher()
# Verified against when the user name is unknown, so that case takes as long as a wrong
# password and does not reveal which names exist.
_DUMMY_HASH = _HASHER.hash("not a password of anyone")


class LoginFailedError(InputError):
    """The user name or password is wrong, or the account is inactive (never says which)."""


class LoginThrottledError(InputError):
    """Too many failed sign-ins recently; ``retry_after`` says in how many seconds to retry."""

    def __init__(self, template: str, *, retry_after: int, **kwargs: object) -> None:
        super().__init__(template, **kwargs)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RateLimit:
    """Failed sign-ins allowed within ``window`` per user name and per address."""

    per_user: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)


def role_allows(role: str | None, needed: str) -> bool:
    """Whether ``role`` (or no role: None) includes what ``needed`` allows."""
    check_role(needed)
    return role is not None and ROLES.index(role) >= ROLES.index(needed)


def role_of(user: User | None, workspace: str) -> str | None:
    """The role of ``user`` in ``workspace`` (installation administrators: ``admin``)."""
    if user is None or not user.active:
        return None
    if user.is_admin:
        return "admin"
    return user.roles.get(workspace)


def token_digest(token: str) -> str:
    """SHA-256 (hex) of a token: what the store keeps instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A random URL-safe token of 256 bits."""
    return secrets.token_urlsafe(32)


def check_username(username: object) -> str:
    """Return ``username`` when it is a valid sign-in name; :class:`InputError` otherwise."""
    if not isinstance(username, str) or not _USERNAME.match(username):
        raise InputError(
            N_(
                "the user name %(value)r is not valid: use 2 to 64 lowercase letters, digits, "
                "dots, hyphens or underscores, starting with a letter or digit"
            ),
            column="username",
            params={"value": username},
        )
    return username


def check_password(password: object, username: str | None = None) -> str:
    """Return ``password`` when it is acceptable; :class:`InputError` says why not."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InputError(
            N_("the password must have at least %(least)s characters"),
            column="password",
            params={"least": MIN_PASSWORD},
        )
    if len(password) > 1024:
        raise InputError(N_("the password is longer than 1024 characters"), column="password")
    lowered = password.lower()
    if lowered in _COMMON or (username and username.lower() in lowered) or len(set(password)) < 4:
        raise InputError(
            N_("this password is too easy to guess; choose another"), column="password"
        )
    return password


def hash_password(password: str) -> str:
    """Argon2id hash of ``password``."""
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (False for a missing or broken hash)."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class Accounts:
    """Accounts of one store: create, sign in, change passwords, roles, invites, links.

    Parameters
    ----------
    store : Store
        An initialised store.
    limit : RateLimit, optional
        How many failed sign-ins are allowed, and within which window.
    """

    def __init__(self, store: Store, limit: RateLimit | None = None) -> None:
        self.store = store
        self.limit = limit or RateLimit()

    # -- accounts -------------------------------------------------------------------------

    def create_user(
        self,
        username: str,
        password: str,
        *,
        display_name: str = "",
        is_admin: bool = False,
        created_by: str | None = None,
        only_if_first: bool = False,
    ) -> User:
        """Check and create an account (see :meth:`SQLStore.create_user`)."""
        check_username(username)
        check_password(password, username)
        return self.store.create_user(
            username,
            password_hash=hash_password(password),
            display_name=_display(display_name),
            is_admin=is_admin,
            created_by=created_by,
            only_if_first=only_if_first,
        )

    def authenticate(self, username: str, password: str, address: str) -> User:
        """Return the active account ``username`` when ``password`` is its password.

        Raises
        ------
        LoginThrottledError
            Too many failures for this name or from this address within the window; the
            password is not even checked.
        LoginFailedError
            Wrong name or password, or an inactive account (the message does not say
            which); the failure is counted.
        """
        now = datetime.now(UTC)
        since = now - self.limit.window
        name = username.strip().lower() if isinstance(username, str) else ""
        by_user = self.store.count_login_failures(since=since, username=name)
        by_address = self.store.count_login_failures(since=since, address=address)
        if by_user >= self.limit.per_user or by_address >= self.limit.per_address:
            raise LoginThrottledError(
                N_("too many failed sign-ins; wait %(minutes)s minutes and try again"),
                retry_after=int(self.limit.window.total_seconds()),
                params={"minutes": int(self.limit.window.total_seconds() // 60)},
            )
        user = self.store.find_user(name) if name else None
        good = verify_password(None if user is None else user.password_hash, password or "")
        if user is None or not good or not user.active:
            self.store.record_login_failure(name or "?", address, now)
            raise LoginFailedError(N_("the user name or the password is not correct"))
        self.store.clear_login_failures(name)
        return user

    def change_password(self, username: str, old: str, new: str) -> User:
        """Change one's own password, given the current one; other sessions end.

        Raises
        ------
        LoginFailedError
            The current password is wrong.
        InputError
            The new password is not acceptable.
        """
        user = self.store.find_user(username)
        if user is None or not verify_password(user.password_hash, old or ""):
            raise LoginFailedError(N_("the current password is not correct"), column="old_password")
        check_password(new, username)
        return self.store.update_user(
            username, changed_by=username, password_hash=hash_password(new)
        )

    def reset_password(self, username: str, new: str, *, changed_by: str | None) -> User:
        """Set another person's password (administrators, the command line)."""
        check_password(new, username)
        return self.store.update_user(
            username, changed_by=changed_by, password_hash=hash_password(new)
        )

    def role_in(self, user: User | None, workspace: str) -> str | None:
        """The role of ``user`` in ``workspace`` (administrators: ``admin``), or None."""
        return role_of(user, workspace)

    # -- invitations ----------------------------------------------------------------------

    def invite(
        self,
        *,
        workspace: str | None,
        role: str | None,
        is_admin: bool = False,
        created_by: str | None,
        days: int = INVITE_DAYS,
        note: str = "",
    ) -> tuple[str, Invite]:
        """Make an invitation; return its token (shown once, never stored) and the invite."""
        if role is not None:
            check_role(role)
        if (workspace is None) != (role is None):
            raise InputError(N_("an invitation needs both a workspace and a role, or neither"))
        if not isinstance(days, int) or not 1 <= days <= 90:
            raise InputError(
                N_("an invitation is valid for 1 to 90 days, not %(value)r"),
                column="days",
                params={"value": days},
            )
        token = new_token()
        invite = self.store.create_invite(
            token_digest(token),
            workspace=workspace,
            role=role,
            is_admin=is_admin,
            expires_at=datetime.now(UTC) + timedelta(days=days),
            created_by=created_by,
            note=_display(note),
        )
        return token, invite

    def accept_invite(
        self, token: str, username: str, password: str, *, display_name: str = ""
    ) -> User:
        """Create the invited account (checks as :meth:`create_user`)."""
        check_username(username)
        check_password(password, username)
        return self.store.accept_invite(
            token_digest(token or ""),
            username,
            password_hash=hash_password(password),
            display_name=_display(display_name),
        )

    def find_invite(self, token: str) -> Invite | None:
        """The invitation with this token, if it is still usable."""
        invite = self.store.find_invite(token_digest(token or ""))
        if invite is None or invite.used_at is not None:
            return None
        if invite.expires_at <= datetime.now(UTC):
            return None
        return invite

    # -- public links ---------------------------------------------------------------------

    def make_public_link(
        self, workspace: str, *, label: str = "", created_by: str | None
    ) -> tuple[str, PublicLink]:
        """Make a read-only map link of ``workspace``; return its token (shown once)."""
        token = new_token()
        link = self.store.create_public_link(
            token_digest(token), workspace, label=_display(label), created_by=created_by
        )
        return token, link

    def public_workspace(self, token: str) -> str | None:
        """The workspace a public link token opens, or None when unknown or revoked."""
        if not token:
            return None
        link = self.store.find_public_link(token_digest(token))
        return link.workspace if link is not None and link.active else None


def _display(text: object) -> str:
    """A display name or note: text, trimmed, at most 200 characters."""
    if text is None:
        return ""
    if not isinstance(text, str):
        raise StoreError(N_("expected text, not %(value)r"), params={"value": text})
    return text.strip()[:200]
