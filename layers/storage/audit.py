"""The audit trail: every change to a store, with who, when, what, and before and after.

Each write of the store (a dataset version, a record version, a deleted record, a workspace
created or deleted, an account or role changed) adds one row to the ``audit`` table in the
same transaction as the change itself, so the trail and the data can never disagree: a
change rolled back leaves no audit row, and no change happens without one.

What a row holds:

``at``, ``actor``
    When (UTC) and who (the user name the caller gave; None for changes made without an
    account, such as the command line run by the machine's owner).
``workspace``, ``action``, ``target_kind``, ``target``
    Where and what: ``import`` of ``dataset`` ``villages@3``, ``save`` of ``record``
    ``profiles/default@2``, ``delete`` of ``record`` ``scenarios/puskesmas-baru``, ...
``summary``
    One line for people (English; the audit page shows it as it is).
``before``, ``after``
    The values that changed, as two dicts keyed by the same paths
    (``{"weights.distance": 0.3}`` before, ``{"weights.distance": 0.5}`` after). A new
    record has no ``before``; a dataset version has its metadata (version, rows, source
    file and hash). Long values are shortened and at most :data:`MAX_PATHS` paths are kept:
    the full versions stay in the store, named by ``target``.

:class:`AuditMixin` adds the writing helper and :meth:`AuditMixin.list_audit` to
:class:`~layers.storage.sql.SQLStore`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from layers.errors import N_, StoreError
from layers.storage.tables import ACCOUNTS_LAYOUT, audit_table, utc

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.engine import Connection

__all__ = ["MAX_PATHS", "AuditEntry", "AuditMixin", "changes"]

#: At most this many changed paths are kept in one audit row.
MAX_PATHS = 200
#: Text values longer than this are shortened in the audit row.
MAX_TEXT = 300
#: The largest page :meth:`AuditMixin.list_audit` returns.
MAX_LIMIT = 10_000


@dataclass(frozen=True)
class AuditEntry:
    """One change: who, when, where, what, and the values before and after."""

    id: int
    at: datetime
    actor: str | None
    workspace: str | None
    action: str
    target_kind: str
    target: str
    summary: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (the time as ISO 8601 text)."""
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "workspace": self.workspace,
            "action": self.action,
            "target_kind": self.target_kind,
            "target": self.target,
            "summary": self.summary,
            "before": self.before,
            "after": self.after,
        }


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return value[: MAX_TEXT - 1] + "\u2026"
    return value


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if not prefix and not value:  # an empty document has no paths
        return
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, list) and value and len(value) <= 50:
        for i, item in enumerate(value):
            _flatten(item, f"{prefix}[{i}]", out)
    elif isinstance(value, list) and value:
        # long lists (villages of a scenario, rows of a result) are summarised, not listed
        out[prefix] = f"[{len(value)} items]"
    else:
        out[prefix] = _short(value)


def changes(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Return the paths whose values differ between two documents, old and new values.

    Parameters
    ----------
    before, after : dict or None
        The document before and after the change; None when it did not exist (created) or
        no longer exists (deleted).

    Returns
    -------
    tuple of (dict or None, dict or None)
        ``(old, new)`` keyed by the same dotted paths (``weights.distance``,
        ``villages[3]``); a path missing on one side is absent from that side's dict. None
        stands for a side that did not exist. At most :data:`MAX_PATHS` paths are kept
        (the key ``"\u2026"`` then says how many were left out).
    """
    if before is not None and not isinstance(before, dict):
        raise StoreError(N_("the audit's before value must be a dict or None"))
    if after is not None and not isinstance(after, dict):
        raise StoreError(N_("the audit's after value must be a dict or None"))
    flat_before: dict[str, Any] = {}
    flat_after: dict[str, Any] = {}
    if before is not None:
        _flatten(before, "", flat_before)
    if after is not None:
        _flatten(after, "", flat_after)
    paths = [p for p in flat_before if flat_after.get(p, _MISSING) != flat_before[p]]
    paths += [p for p in flat_after if p not in flat_before]
    kept, left = paths[:MAX_PATHS], len(paths) - MAX_PATHS
    old = None if before is None else {p: flat_before[p] for p in kept if p in flat_before}
    new = None if after is None else {p: flat_after[p] for p in kept if p in flat_after}
    if left > 0:
        for side in (old, new):
            if side is not None:
                side["\u2026"] = f"{left} more changes"
    return old, new


_MISSING = object()


class AuditMixin:
    """Audit rows written in the caller's transaction, and the trail read back with filters."""

    if TYPE_CHECKING:
        _layout: int | None

        def _transaction(self, *, write: bool = False) -> Iterator[Connection]: ...

    def _audit(
        self,
        conn: Connection,
        *,
        actor: str | None,
        workspace: str | None,
        action: str,
        target_kind: str,
        target: str,
        summary: str = "",
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> None:
        """Add one audit row inside ``conn``'s transaction (nothing on a store whose layout
        predates the audit table: ``init`` upgrades it)."""
        if (self._layout or 0) < ACCOUNTS_LAYOUT:
            return
        conn.execute(
            audit_table.insert().values(
                at=at or datetime.now(UTC),
                actor=actor,
                workspace=workspace,
                action=action,
                target_kind=target_kind,
                target=target,
                summary=summary,
                before_json=None if before is None else json.dumps(before, default=str),
                after_json=None if after is None else json.dumps(after, default=str),
            )
        )

    def list_audit(
        self,
        *,
        workspace: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        target_kind: str | None = None,
        text: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> tuple[list[AuditEntry], int]:
        """Return audit entries, newest first, and how many match the filters in all.

        Parameters
        ----------
        workspace, actor, action, target_kind : str, optional
            Keep entries with exactly this value (``workspace=""`` keeps entries that
            belong to no workspace, such as account changes).
        text : str, optional
            Keep entries whose target or summary contains this text (case-insensitive).
        since, until : datetime, optional
            Keep entries at or after ``since`` and before ``until`` (aware datetimes).
        limit, offset : int
            The page: at most ``limit`` entries (1 to 10,000) after skipping ``offset``.

        Returns
        -------
        tuple of (list of AuditEntry, int)
            The page and the total number of matching entries.
        """
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
            raise StoreError(
                N_("limit must be a whole number from 1 to %(most)s, not %(value)r"),
                params={"most": MAX_LIMIT, "value": limit},
            )
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise StoreError(
                N_("offset must be a whole number of 0 or more, not %(value)r"),
                params={"value": offset},
            )
        for label, moment in (("since", since), ("until", until)):
            if moment is not None and (not isinstance(moment, datetime) or moment.tzinfo is None):
                raise StoreError(
                    N_("%(name)s must be a datetime with a time zone, not %(value)r"),
                    params={"name": label, "value": moment},
                )
        a = audit_table
        conditions = []
        if workspace is not None:
            conditions.append(
                a.c.workspace.is_(None) if workspace == "" else a.c.workspace == workspace
            )
        for column, value in (
            (a.c.actor, actor),
            (a.c.action, action),
            (a.c.target_kind, target_kind),
        ):
            if value is not None:
                conditions.append(column == value)
        if text:
            pattern = f"%{text.lower()}%"
            conditions.append(
                sa.or_(
                    sa.func.lower(a.c.target).like(pattern),
                    sa.func.lower(a.c.summary).like(pattern),
                )
            )
        if since is not None:
            conditions.append(a.c.at >= since.astimezone(UTC))
        if until is not None:
            conditions.append(a.c.at < until.astimezone(UTC))
        with self._transaction() as conn:
            if (self._layout or 0) < ACCOUNTS_LAYOUT:
                return [], 0
            total = conn.execute(
                sa.select(sa.func.count()).select_from(a).where(*conditions)
            ).scalar()
            rows = conn.execute(
                sa.select(a)
                .where(*conditions)
                .order_by(a.c.at.desc(), a.c.id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
        return [_entry(row) for row in rows], int(total or 0)


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=utc(row.at),
        actor=row.actor,
        workspace=row.workspace,
        action=row.action,
        target_kind=row.target_kind,
        target=row.target,
        summary=row.summary,
        before=None if row.before_json is None else json.loads(row.before_json),
        after=None if row.after_json is None else json.loads(row.after_json),
    )
