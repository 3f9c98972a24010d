"""The store's tables and the version of their layout.

Both backends create these tables (PostGIS adds one ``features_<id>`` table per spatial
dataset version, see :mod:`layers.storage.postgis`). The layout version is kept in
``meta`` under ``schema_version``; :meth:`layers.storage.sql.SQLStore.init` creates what a
store of an earlier layout lacks and records the new version.

Layout history:

1. ``meta``, ``workspaces``, ``datasets``, ``dataset_chunks``.
2. ``records``: versioned JSON documents (scoring profiles, score runs, ...).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

#: Version of the table layout below; stored in ``meta`` so later releases can migrate.
SCHEMA_VERSION = 2
#: The first layout with the ``records`` table.
RECORDS_LAYOUT = 2

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

#: Tables every backend has, in creation order.
COMMON_TABLES = (meta_table, workspaces_table, datasets_table, chunks_table, records_table)


def utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime (SQLite hands back naive ones)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
