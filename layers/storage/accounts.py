"""Accounts in the store: users, their role in each workspace, invites, public links.

These tables belong to the installation, not to one workspace (a backup of a workspace does
not carry them). Every change is written with its audit row in the same transaction. Secrets
never reach the store: passwords arrive hashed (:mod:`layers.accounts` hashes them) and
invite and link tokens arrive as their SHA-256.

:class:`AccountsMixin` adds these methods to :class:`~layers.storage.sql.SQLStore`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from layers.errors import N_, NotFoundError, StoreError
from layers.storage.tables import (
    ACCOUNTS_LAYOUT,
    invites_table,
    login_failures_table,
    memberships_table,
    public_links_table,
    users_table,
    utc,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.engine import Connection

__all__ = ["ROLES", "AccountsMixin", "Invite", "PublicLink", "User"]

_DAY = timedelta(days=1)

#: Roles in a workspace, from the least to the most it allows.
ROLES: tuple[str, ...] = ("viewer", "editor", "admin")


@dataclass(frozen=True)
class User:
    """An account: its name, whether it may sign in, and its roles per workspace."""

    id: int
    username: str
    display_name: str
    is_admin: bool
    active: bool
    created_at: datetime
    created_by: str | None
    password_changed_at: datetime | None
    session_epoch: int
    password_hash: str | None
    roles: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        """Plain data without the password hash."""
        return {
            "username": self.username,
            "display_name": self.display_name,
            "is_admin": self.is_admin,
            "active": self.active,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "roles": dict(self.roles),
        }


@dataclass(frozen=True)
class Invite:
    """An invitation to create an account with a role (by the SHA-256 of its token)."""

    token_sha256: str
    workspace: str | None
    role: str | None
    is_admin: bool
    note: str
    created_at: datetime
    created_by: str | None
    expires_at: datetime
    used_at: datetime | None
    used_by: str | None


@dataclass(frozen=True)
class PublicLink:
    """A read-only link to a workspace's map, until revoked."""

    id: int
    token_sha256: str
    workspace: str
    label: str
    created_at: datetime
    created_by: str | None
    revoked_at: datetime | None
    revoked_by: str | None

    @property
    def active(self) -> bool:
        """Whether the link still opens the map."""
        return self.revoked_at is None


def check_role(role: object) -> str:
    """Return ``role`` when it is one of :data:`ROLES`; :class:`StoreError` otherwise."""
    if role not in ROLES:
        raise StoreError(
            N_("unknown role %(value)r; roles: %(known)s"),
            params={"value": role, "known": ", ".join(ROLES)},
        )
    return str(role)


def _optional(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


class AccountsMixin:
    """Users, memberships, invites, public links and failed logins (layout 3)."""

    if TYPE_CHECKING:
        _layout: int | None
        _initialised: bool

        def _transaction(self, *, write: bool = False) -> Iterator[Connection]: ...
        def _check_initialised(self) -> None: ...
        def _audit(self, conn: Connection, **fields: Any) -> None: ...
        def _workspace_row(self, conn: Connection, name: str, *, lock: bool = False) -> Any: ...

    def _require_accounts(self) -> None:
        """Raise :class:`StoreError` unless the store has the accounts tables."""
        if not self._initialised or (self._layout or 0) < ACCOUNTS_LAYOUT:
            self._initialised = False
            self._check_initialised()
        if (self._layout or 0) < ACCOUNTS_LAYOUT:
            raise StoreError(
                N_(
                    "the store %(store)s has table layout %(found)s, which has no accounts "
                    "yet; run Store.init() (the command line's init command) to upgrade it"
                ),
                params={"store": repr(self), "found": self._layout},
            )

    # -- users ----------------------------------------------------------------------------

    def _user_row(self, conn: Connection, username: str) -> Any:
        row = conn.execute(sa.select(users_table).where(users_table.c.username == username)).first()
        if row is None:
            raise NotFoundError(N_("no user %(user)r"), params={"user": username})
        return row

    def _user(self, conn: Connection, row: Any) -> User:
        m = memberships_table
        roles = dict(
            conn.execute(
                sa.select(m.c.workspace, m.c.role)
                .where(m.c.user_id == row.id)
                .order_by(m.c.workspace)
            ).all()
        )
        return User(
            id=row.id,
            username=row.username,
            display_name=row.display_name,
            is_admin=bool(row.is_admin),
            active=bool(row.active),
            created_at=utc(row.created_at),
            created_by=row.created_by,
            password_changed_at=_optional(row.password_changed_at),
            session_epoch=int(row.session_epoch),
            password_hash=row.password_hash,
            roles=roles,
        )

    def count_users(self) -> int:
        """Return how many accounts exist (active or not)."""
        self._require_accounts()
        with self._transaction() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(users_table)).scalar())

    def find_user(self, username: str) -> User | None:
        """Return the account called ``username``, or None."""
        self._require_accounts()
        with self._transaction() as conn:
            row = conn.execute(
                sa.select(users_table).where(users_table.c.username == username)
            ).first()
            return None if row is None else self._user(conn, row)

    def list_users(self) -> list[User]:
        """Return every account, by name."""
        self._require_accounts()
        with self._transaction() as conn:
            rows = conn.execute(sa.select(users_table).order_by(users_table.c.username)).all()
            return [self._user(conn, row) for row in rows]

    def _insert_user(
        self,
        conn: Connection,
        username: str,
        *,
        password_hash: str,
        display_name: str,
        is_admin: bool,
        created_by: str | None,
        now: datetime,
    ) -> int:
        taken = conn.execute(
            sa.select(users_table.c.id).where(users_table.c.username == username)
        ).first()
        if taken:
            raise StoreError(N_("user %(user)r already exists"), params={"user": username})
        user_id = conn.execute(
            users_table.insert().values(
                username=username,
                display_name=display_name,
                password_hash=password_hash,
                is_admin=is_admin,
                active=True,
                created_at=now,
                created_by=created_by,
                password_changed_at=now,
                session_epoch=0,
            )
        ).inserted_primary_key[0]
        self._audit(
            conn,
            actor=created_by,
            workspace=None,
            action="create",
            target_kind="user",
            target=username,
            summary=f"account {username} created" + (" (administrator)" if is_admin else ""),
            after={"display_name": display_name, "is_admin": is_admin, "active": True},
            at=now,
        )
        return user_id

    def create_user(
        self,
        username: str,
        *,
        password_hash: str,
        display_name: str = "",
        is_admin: bool = False,
        created_by: str | None = None,
        only_if_first: bool = False,
    ) -> User:
        """Create an account (its password already hashed).

        Parameters
        ----------
        username : str
            The sign-in name (checked by :mod:`layers.accounts`).
        password_hash : str
            The hash of the password.
        display_name : str
            The name shown to others.
        is_admin : bool
            An installation administrator: every role in every workspace, and accounts.
        created_by : str, optional
            Who creates it.
        only_if_first : bool
            Create it only when no account exists yet (the first administrator), in the
            same transaction as the check.

        Raises
        ------
        StoreError
            The name is taken, or ``only_if_first`` and an account exists.
        """
        self._require_accounts()
        now = datetime.now(UTC)
        with self._transaction(write=True) as conn:
            if only_if_first:
                count = conn.execute(sa.select(sa.func.count()).select_from(users_table)).scalar()
                if count:
                    raise StoreError(N_("an account exists already; sign in to add others"))
            self._insert_user(
                conn,
                username,
                password_hash=password_hash,
                display_name=display_name,
                is_admin=is_admin,
                created_by=created_by,
                now=now,
            )
            return self._user(conn, self._user_row(conn, username))

    def update_user(
        self,
        username: str,
        *,
        changed_by: str | None,
        password_hash: str | None = None,
        display_name: str | None = None,
        is_admin: bool | None = None,
        active: bool | None = None,
    ) -> User:
        """Change an account; a new password or deactivation ends its open sessions.

        Raises
        ------
        NotFoundError
            No such user.
        StoreError
            The change would leave no active administrator.
        """
        self._require_accounts()
        now = datetime.now(UTC)
        with self._transaction(write=True) as conn:
            row = self._user_row(conn, username)
            values: dict[str, Any] = {}
            before: dict[str, Any] = {}
            after: dict[str, Any] = {}
            for key, value in (
                ("display_name", display_name),
                ("is_admin", is_admin),
                ("active", active),
            ):
                if value is not None and value != getattr(row, key):
                    values[key] = value
                    before[key], after[key] = getattr(row, key), value
            if password_hash is not None:
                values["password_hash"] = password_hash
                values["password_changed_at"] = now
                before["password"], after["password"] = "(old)", "(changed)"
            if password_hash is not None or values.get("active") is False:
                values["session_epoch"] = row.session_epoch + 1
            if not values:
                return self._user(conn, row)
            conn.execute(users_table.update().where(users_table.c.id == row.id).values(**values))
            admins = conn.execute(
                sa.select(sa.func.count())
                .select_from(users_table)
                .where(users_table.c.is_admin.is_(True))
                .where(users_table.c.active.is_(True))
            ).scalar()
            demoted = row.is_admin and row.active and ("is_admin" in values or "active" in values)
            if demoted and not admins:
                raise StoreError(
                    N_("%(user)s is the last active administrator; make another one first"),
                    params={"user": username},
                )
            self._audit(
                conn,
                actor=changed_by,
                workspace=None,
                action="update",
                target_kind="user",
                target=username,
                summary=f"account {username} changed: {', '.join(after)}",
                before=before,
                after=after,
                at=now,
            )
            return self._user(conn, self._user_row(conn, username))

    # -- roles ----------------------------------------------------------------------------

    def set_role(
        self, username: str, workspace: str, role: str | None, *, granted_by: str | None
    ) -> User:
        """Give ``username`` a role in ``workspace`` (None takes it away).

        Raises
        ------
        NotFoundError
            No such user or workspace.
        StoreError
            Unknown role.
        """
        if role is not None:
            check_role(role)
        self._require_accounts()
        now = datetime.now(UTC)
        m = memberships_table
        with self._transaction(write=True) as conn:
            user = self._user_row(conn, username)
            self._workspace_row(conn, workspace)
            old = conn.execute(
                sa.select(m.c.role).where(m.c.user_id == user.id).where(m.c.workspace == workspace)
            ).scalar()
            if old == role:
                return self._user(conn, user)
            conn.execute(m.delete().where(m.c.user_id == user.id).where(m.c.workspace == workspace))
            if role is not None:
                conn.execute(
                    m.insert().values(
                        user_id=user.id,
                        workspace=workspace,
                        role=role,
                        granted_at=now,
                        granted_by=granted_by,
                    )
                )
            self._audit(
                conn,
                actor=granted_by,
                workspace=workspace,
                action="update" if role else "delete",
                target_kind="membership",
                target=username,
                summary=f"{username}: role {old or 'none'} -> {role or 'none'} in {workspace}",
                before={"role": old},
                after={"role": role},
                at=now,
            )
            return self._user(conn, user)

    def members(self, workspace: str) -> list[tuple[str, str]]:
        """Return ``(username, role)`` of everyone with a role in ``workspace``, by name."""
        self._require_accounts()
        m, u = memberships_table, users_table
        with self._transaction() as conn:
            self._workspace_row(conn, workspace)
            rows = conn.execute(
                sa.select(u.c.username, m.c.role)
                .join(m, m.c.user_id == u.c.id)
                .where(m.c.workspace == workspace)
                .order_by(u.c.username)
            ).all()
        return [(row.username, row.role) for row in rows]

    # -- invites --------------------------------------------------------------------------

    @staticmethod
    def _invite(row: Any) -> Invite:
        return Invite(
            token_sha256=row.token_sha256,
            workspace=row.workspace,
            role=row.role,
            is_admin=bool(row.is_admin),
            note=row.note,
            created_at=utc(row.created_at),
            created_by=row.created_by,
            expires_at=utc(row.expires_at),
            used_at=_optional(row.used_at),
            used_by=row.used_by,
        )

    def create_invite(
        self,
        token_sha256: str,
        *,
        workspace: str | None,
        role: str | None,
        is_admin: bool = False,
        expires_at: datetime,
        created_by: str | None,
        note: str = "",
    ) -> Invite:
        """Keep an invitation (by its token's SHA-256) to join ``workspace`` as ``role``."""
        if role is not None:
            check_role(role)
        self._require_accounts()
        now = datetime.now(UTC)
        with self._transaction(write=True) as conn:
            if workspace is not None:
                self._workspace_row(conn, workspace)
            conn.execute(
                invites_table.insert().values(
                    token_sha256=token_sha256,
                    workspace=workspace,
                    role=role,
                    is_admin=is_admin,
                    note=note,
                    created_at=now,
                    created_by=created_by,
                    expires_at=expires_at,
                )
            )
            self._audit(
                conn,
                actor=created_by,
                workspace=workspace,
                action="create",
                target_kind="invite",
                target=token_sha256[:12],
                summary=f"invitation as {role or 'member'}"
                + (f" of {workspace}" if workspace else "")
                + (" (administrator)" if is_admin else ""),
                after={"role": role, "is_admin": is_admin, "expires_at": expires_at.isoformat()},
                at=now,
            )
            row = conn.execute(
                sa.select(invites_table).where(invites_table.c.token_sha256 == token_sha256)
            ).one()
            return self._invite(row)

    def find_invite(self, token_sha256: str) -> Invite | None:
        """Return the invitation with this token hash, or None."""
        self._require_accounts()
        with self._transaction() as conn:
            row = conn.execute(
                sa.select(invites_table).where(invites_table.c.token_sha256 == token_sha256)
            ).first()
        return None if row is None else self._invite(row)

    def list_invites(self) -> list[Invite]:
        """Return every invitation, newest first."""
        self._require_accounts()
        with self._transaction() as conn:
            rows = conn.execute(
                sa.select(invites_table).order_by(invites_table.c.created_at.desc())
            ).all()
        return [self._invite(row) for row in rows]

    def accept_invite(
        self, token_sha256: str, username: str, *, password_hash: str, display_name: str = ""
    ) -> User:
        """Create the invited account and its role, and use up the invitation, all at once.

        Raises
        ------
        NotFoundError
            No such invitation.
        StoreError
            The invitation was used or has expired, or the name is taken.
        """
        self._require_accounts()
        now = datetime.now(UTC)
        i = invites_table
        with self._transaction(write=True) as conn:
            row = conn.execute(sa.select(i).where(i.c.token_sha256 == token_sha256)).first()
            if row is None:
                raise NotFoundError(N_("this invitation link is not valid"))
            invite = self._invite(row)
            if invite.used_at is not None:
                raise StoreError(N_("this invitation link has been used already"))
            if invite.expires_at <= now:
                raise StoreError(N_("this invitation link has expired; ask for a new one"))
            user_id = self._insert_user(
                conn,
                username,
                password_hash=password_hash,
                display_name=display_name,
                is_admin=invite.is_admin,
                created_by=invite.created_by,
                now=now,
            )
            if invite.workspace is not None and invite.role is not None:
                self._workspace_row(conn, invite.workspace)
                conn.execute(
                    memberships_table.insert().values(
                        user_id=user_id,
                        workspace=invite.workspace,
                        role=invite.role,
                        granted_at=now,
                        granted_by=invite.created_by,
                    )
                )
                self._audit(
                    conn,
                    actor=username,
                    workspace=invite.workspace,
                    action="update",
                    target_kind="membership",
                    target=username,
                    summary=f"{username} joined {invite.workspace} as {invite.role} by invitation",
                    before={"role": None},
                    after={"role": invite.role},
                    at=now,
                )
            conn.execute(
                i.update()
                .where(i.c.token_sha256 == token_sha256)
                .values(used_at=now, used_by=username)
            )
            return self._user(conn, self._user_row(conn, username))

    # -- public links ---------------------------------------------------------------------

    @staticmethod
    def _link(row: Any) -> PublicLink:
        return PublicLink(
            id=row.id,
            token_sha256=row.token_sha256,
            workspace=row.workspace,
            label=row.label,
            created_at=utc(row.created_at),
            created_by=row.created_by,
            revoked_at=_optional(row.revoked_at),
            revoked_by=row.revoked_by,
        )

    def create_public_link(
        self, token_sha256: str, workspace: str, *, label: str = "", created_by: str | None
    ) -> PublicLink:
        """Keep a read-only link (by its token's SHA-256) to ``workspace``'s map."""
        self._require_accounts()
        now = datetime.now(UTC)
        p = public_links_table
        with self._transaction(write=True) as conn:
            self._workspace_row(conn, workspace)
            link_id = conn.execute(
                p.insert().values(
                    token_sha256=token_sha256,
                    workspace=workspace,
                    label=label,
                    created_at=now,
                    created_by=created_by,
                )
            ).inserted_primary_key[0]
            self._audit(
                conn,
                actor=created_by,
                workspace=workspace,
                action="create",
                target_kind="link",
                target=str(link_id),
                summary=f"public map link {link_id} made" + (f": {label}" if label else ""),
                after={"label": label},
                at=now,
            )
            return self._link(conn.execute(sa.select(p).where(p.c.id == link_id)).one())

    def revoke_public_link(self, workspace: str, link_id: int, *, revoked_by: str | None) -> None:
        """Revoke a public link of ``workspace``; it stops working at once.

        Raises
        ------
        NotFoundError
            The workspace has no such link.
        """
        self._require_accounts()
        now = datetime.now(UTC)
        p = public_links_table
        with self._transaction(write=True) as conn:
            row = conn.execute(
                sa.select(p).where(p.c.id == link_id).where(p.c.workspace == workspace)
            ).first()
            if row is None:
                raise NotFoundError(
                    N_("no public link %(link)s in %(workspace)s"),
                    params={"link": link_id, "workspace": workspace},
                )
            if row.revoked_at is not None:
                return
            conn.execute(
                p.update().where(p.c.id == link_id).values(revoked_at=now, revoked_by=revoked_by)
            )
            self._audit(
                conn,
                actor=revoked_by,
                workspace=workspace,
                action="delete",
                target_kind="link",
                target=str(link_id),
                summary=f"public map link {link_id} revoked",
                before={"label": row.label, "active": True},
                after={"active": False},
                at=now,
            )

    def find_public_link(self, token_sha256: str) -> PublicLink | None:
        """Return the public link with this token hash (revoked or not), or None."""
        self._require_accounts()
        p = public_links_table
        with self._transaction() as conn:
            row = conn.execute(sa.select(p).where(p.c.token_sha256 == token_sha256)).first()
        return None if row is None else self._link(row)

    def list_public_links(self, workspace: str) -> list[PublicLink]:
        """Return the public links of ``workspace``, newest first."""
        self._require_accounts()
        p = public_links_table
        with self._transaction() as conn:
            rows = conn.execute(
                sa.select(p).where(p.c.workspace == workspace).order_by(p.c.id.desc())
            ).all()
        return [self._link(row) for row in rows]

    # -- failed sign-ins ------------------------------------------------------------------

    def record_login_failure(self, username: str, address: str, at: datetime) -> None:
        """Remember one failed sign-in (kept a day; older ones are removed as new ones come)."""
        self._require_accounts()
        f = login_failures_table
        with self._transaction(write=True) as conn:
            conn.execute(f.insert().values(username=username[:64], address=address[:64], at=at))
            conn.execute(f.delete().where(f.c.at < at - _DAY))

    def count_login_failures(
        self, *, since: datetime, username: str | None = None, address: str | None = None
    ) -> int:
        """Count failed sign-ins since ``since`` for a user name and/or an address."""
        self._require_accounts()
        f = login_failures_table
        conditions = [f.c.at >= since]
        if username is not None:
            conditions.append(f.c.username == username[:64])
        if address is not None:
            conditions.append(f.c.address == address[:64])
        with self._transaction() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(f).where(*conditions)).scalar()
            )

    def clear_login_failures(self, username: str) -> None:
        """Forget the failed sign-ins of ``username`` (after a successful one)."""
        self._require_accounts()
        f = login_failures_table
        with self._transaction(write=True) as conn:
            conn.execute(f.delete().where(f.c.username == username[:64]))
