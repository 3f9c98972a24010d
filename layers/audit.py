"""Reading the audit trail: filters from text (a form, a URL, the command line) and tables.

The trail itself is written by the store with every change (:mod:`layers.storage.audit`).
This module turns user-given filters into checked values, pages through the trail, and
writes it as CSV or XLSX for partners and auditors, with the before and after values as
JSON text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from layers.errors import N_, InputError

if TYPE_CHECKING:
    import os
    from collections.abc import Mapping
    from typing import IO

    import pandas as pd

    from layers.storage.audit import AuditEntry
    from layers.storage.base import Store

__all__ = ["ACTIONS", "COLUMNS", "TARGET_KINDS", "AuditFilters", "audit_frame", "write_audit"]

#: Actions the store records.
ACTIONS: tuple[str, ...] = ("create", "import", "save", "update", "delete", "restore")
#: Kinds of things changed.
TARGET_KINDS: tuple[str, ...] = (
    "workspace",
    "dataset",
    "record",
    "user",
    "membership",
    "invite",
    "link",
)
#: Columns of the exported trail.
COLUMNS: tuple[str, ...] = (
    "at",
    "actor",
    "workspace",
    "action",
    "target_kind",
    "target",
    "summary",
    "before",
    "after",
)
#: Rows one export holds at most.
EXPORT_LIMIT = 10_000


@dataclass(frozen=True)
class AuditFilters:
    """Checked filters of the audit trail (see :meth:`from_text`)."""

    workspace: str | None = None
    actor: str | None = None
    action: str | None = None
    target_kind: str | None = None
    text: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_text(
        cls, values: Mapping[str, str], *, workspace: str | None = None, timezone: str = "UTC"
    ) -> AuditFilters:
        """Check filters given as text.

        Parameters
        ----------
        values : mapping
            ``actor``, ``action``, ``target_kind``, ``text``, and the days ``since`` and
            ``until`` (``YYYY-MM-DD``, both included, in ``timezone``); empty values are
            ignored.
        workspace : str, optional
            Keep this workspace's entries only (the page of one workspace).
        timezone : str
            The time zone the days are meant in (``Asia/Jakarta``).

        Raises
        ------
        InputError
            An unknown action or kind, or a day that is not a date; the message names the
            parameter.
        """

        def text(name: str) -> str | None:
            value = values.get(name)
            value = value.strip() if isinstance(value, str) else None
            return value or None

        action, kind = text("action"), text("target_kind")
        if action is not None and action not in ACTIONS:
            raise InputError(
                N_("unknown action %(value)r; actions: %(known)s"),
                column="action",
                params={"value": action, "known": ", ".join(ACTIONS)},
            )
        if kind is not None and kind not in TARGET_KINDS:
            raise InputError(
                N_("unknown kind %(value)r; kinds: %(known)s"),
                column="target_kind",
                params={"value": kind, "known": ", ".join(TARGET_KINDS)},
            )
        zone = ZoneInfo(timezone)
        since = _day(text("since"), "since", zone)
        until = _day(text("until"), "until", zone)
        return cls(
            workspace=workspace,
            actor=text("actor"),
            action=action,
            target_kind=kind,
            text=text("text"),
            since=since,
            until=None if until is None else until + timedelta(days=1),
        )

    def query(self) -> dict[str, Any]:
        """Keyword arguments of :meth:`Store.list_audit`."""
        return {
            "workspace": self.workspace,
            "actor": self.actor,
            "action": self.action,
            "target_kind": self.target_kind,
            "text": self.text,
            "since": self.since,
            "until": self.until,
        }


def _day(value: str | None, name: str, zone: ZoneInfo) -> datetime | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InputError(
            N_("%(name)s must be a day as YYYY-MM-DD, not %(value)r"),
            column=name,
            params={"name": name, "value": value},
        ) from None
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def audit_page(
    store: Store, filters: AuditFilters, *, page: int = 1, per_page: int = 100
) -> tuple[list[AuditEntry], int]:
    """One page of the filtered trail (newest first) and the number of matching entries."""
    if not isinstance(page, int) or page < 1:
        raise InputError(N_("page must be 1 or more"), column="page")
    return store.list_audit(**filters.query(), limit=per_page, offset=(page - 1) * per_page)


def audit_frame(entries: list[AuditEntry], timezone: str = "UTC") -> pd.DataFrame:
    """The entries as a table of :data:`COLUMNS` (times in ``timezone``, values as JSON)."""
    import pandas as pd

    zone = ZoneInfo(timezone)
    rows = [
        {
            "at": e.at.astimezone(zone).isoformat(timespec="seconds"),
            "actor": e.actor or "",
            "workspace": e.workspace or "",
            "action": e.action,
            "target_kind": e.target_kind,
            "target": e.target,
            "summary": e.summary,
            "before": "" if e.before is None else json.dumps(e.before, ensure_ascii=False),
            "after": "" if e.after is None else json.dumps(e.after, ensure_ascii=False),
        }
        for e in entries
    ]
    return pd.DataFrame(rows, columns=list(COLUMNS), dtype="string")


def write_audit(
    store: Store,
    filters: AuditFilters,
    target: str | os.PathLike[str] | IO[bytes],
    fmt: str = "csv",
    *,
    timezone: str = "UTC",
) -> int:
    """Write the filtered trail (newest first, at most 10,000 entries) as CSV or XLSX.

    Returns
    -------
    int
        The number of entries written.
    """
    from layers.exports.data import write_table

    entries, _ = store.list_audit(**filters.query(), limit=EXPORT_LIMIT, offset=0)
    write_table(audit_frame(entries, timezone), target, fmt, sheet="audit")
    return len(entries)
