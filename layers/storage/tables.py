"""The store's tables and the version of their layout.

Both backends create these tables (PostGIS adds one ``features_<id>`` table per spatial
dataset version, see :mod:`layers.storage.postgis`). The layout version is kept in
``meta`` under ``schema_version``; :meth:`layers.storage.sql.SQLStore.init` creates what a
store of an earlier layout lacks and records the new version.

Layout history:

1. ``meta``, ``workspaces``, ``datasets``, ``dataset_chunks``.
2. ``records``: versioned JSON documents (scoring profiles, score runs, ...).
3. ``audit``: every change with who, when, what, before and after; ``users``,
   ``memberships`` (a role per workspace), ``invites``, ``public_links`` and
   ``login_failures`` for accounts.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

#: Version of the table layout below; stored in ``meta`` so later releases can migrate.
SCHEMA_VERSION = 3
#: The first layout with the ``records`` table.
RECORDS_LAYOUT = 2
#: The first layout with the audit trail and the accounts tables.
ACCOUNTS_LAYOUT = 3

metadata = sa.MetaData()

meta_table = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

workspaces_table = sa.Table(
    "workspaces",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

datasets_table = sa.Table(
    "datasets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "workspace_id",
        sa.Integer,
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("source_name", sa.Text),
    sa.Column("source_sha256", sa.String(64)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.Text),
    sa.Column("row_count", sa.BigInteger, nullable=False),
    sa.Column("counts_json", sa.Text, nullable=False),
    sa.Column("report_json", sa.Text, nullable=False),
    sa.Column("crs", sa.Text),
    sa.Column("minx", sa.Double),
    sa.Column("miny", sa.Double),
    sa.Column("maxx", sa.Double),
    sa.Column("maxy", sa.Double),
    sa.Column("note", sa.Text, nullable=False, default=""),
    sa.Column("schema_json", sa.Text, nullable=False),
    sa.UniqueConstraint("workspace_id", "name", "version", name="uq_datasets_version"),
)

chunks_table = sa.Table(
    "dataset_chunks",
    metadata,
    sa.Column(
        "dataset_id",
        sa.Integer,
        sa.ForeignKey("datasets.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("row_count", sa.BigInteger, nullable=False),
    sa.Column("minx", sa.Double),
    sa.Column("miny", sa.Double),
    sa.Column("maxx", sa.Double),
    sa.Column("maxy", sa.Double),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

# The body is kept as the JSON text written (not PostgreSQL jsonb, which reorders keys), so
# a record reads back with its keys in their order on both backends.
records_table = sa.Table(
    "records",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "workspace_id",
        sa.Integer,
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("collection", sa.String(64), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("body_json", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.Text),
    sa.Column("note", sa.Text, nullable=False, default=""),
    sa.UniqueConstraint("workspace_id", "collection", "name", "version", name="uq_records_version"),
)

# The audit trail names its workspace by name, not by a foreign key: deleting a workspace
# keeps the record of what happened to it (and of the deletion itself).
audit_table = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.Text),
    sa.Column("workspace", sa.String(64)),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("target_kind", sa.String(32), nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False, default=""),
    sa.Column("before_json", sa.Text),
    sa.Column("after_json", sa.Text),
    sa.Index("ix_audit_workspace_at", "workspace", "at"),
)

users_table = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.Text, nullable=False, default=""),
    sa.Column("password_hash", sa.Text),
    sa.Column("is_admin", sa.Boolean, nullable=False, default=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.Text),
    sa.Column("password_changed_at", sa.DateTime(timezone=True)),
    # Raised on every password change and deactivation: sessions carrying an older value end.
    sa.Column("session_epoch", sa.Integer, nullable=False, default=0),
)

memberships_table = sa.Table(
    "memberships",
    metadata,
    sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("workspace", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("granted_by", sa.Text),
)

invites_table = sa.Table(
    "invites",
    metadata,
    sa.Column("token_sha256", sa.String(64), primary_key=True),
    sa.Column("workspace", sa.String(64)),
    sa.Column("role", sa.String(16)),
    sa.Column("is_admin", sa.Boolean, nullable=False, default=False),
    sa.Column("note", sa.Text, nullable=False, default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.Text),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True)),
    sa.Column("used_by", sa.Text),
)

public_links_table = sa.Table(
    "public_links",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("workspace", sa.String(64), nullable=False),
    sa.Column("label", sa.Text, nullable=False, default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.Text),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
    sa.Column("revoked_by", sa.Text),
)

login_failures_table = sa.Table(
    "login_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("address", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_login_failures_at", "at"),
)

#: Tables every backend has, in creation order.
COMMON_TABLES = (
    meta_table,
    workspaces_table,
    datasets_table,
    chunks_table,
    records_table,
    audit_table,
    users_table,
    memberships_table,
    invites_table,
    public_links_table,
    login_failures_table,
)


def utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime (SQLite hands back naive ones)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
