"""The store's interface, its records, and the SQL metadata both backends share.

A store keeps *workspaces* (one per area of work, e.g. ``merangin``) and, in each, named
*datasets* (``villages``, ``facilities``, ...). Every import writes a new immutable
*version* of a dataset: version 1, 2, 3, ... per (workspace, name). Earlier versions stay
readable, so a score computed last month can be recomputed from the data it used.

:class:`Store` is the interface the web app and the CLI use. :class:`SQLStore` implements
everything but the feature data with SQLAlchemy Core, so the embedded SQLite store
(:mod:`layers.storage.sqlite`) and the PostGIS store (:mod:`layers.storage.postgis`) differ
only in how they open the database and where they put the rows of a snapshot.
"""

from __future__ import annotations

import abc
import json
import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from layers.errors import NotFoundError, StoreError
from layers.report import ValidationReport
from layers.schema import KINDS, SPECS
from layers.storage import codec

#: Version of the table layout below; stored in ``meta`` so later releases can migrate.
SCHEMA_VERSION = 1

NAME_PATTERN = re.compile(r"[a-z0-9_-]{1,64}")
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")

Bounds = tuple[float, float, float, float]


# --- records -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Workspace:
    """A named area of work holding datasets.

    Attributes
    ----------
    name : str
        Slug: 1-64 lowercase letters, digits, ``-`` or ``_``.
    title : str
        Human title (the name when none was given).
    description : str
        Free text.
    created_at : datetime
        Creation time, timezone-aware UTC.
    """

    name: str
    title: str
    description: str
    created_at: datetime


@dataclass(frozen=True)
class DatasetVersion:
    """One stored, immutable version of a dataset.

    Attributes
    ----------
    id : int
        Store-internal identifier.
    workspace : str
        Workspace name.
    kind : str
        Layer kind, one of :data:`layers.schema.KINDS`.
    name : str
        Dataset name (a slug; defaults to the kind).
    version : int
        1 for the first import of ``name`` in the workspace, then 2, 3, ...
    source_name : str or None
        The imported file's name as the user gave it.
    source_sha256 : str or None
        SHA-256 of the imported file (64 lowercase hex digits).
    created_at : datetime
        When the version was written, timezone-aware UTC.
    created_by : str or None
        Who wrote it.
    row_count : int
        Rows in the stored layer.
    counts : dict
        The validation counts: read, accepted, repaired, rejected, warnings.
    crs : str or None
        Coordinate reference system of the geometries (``"EPSG:4326"`` for canonical
        layers); None for tables without geometry.
    bounds : tuple of float or None
        ``(minx, miny, maxx, maxy)`` of the geometries in ``crs`` units; None when the layer
        has no geometry or only empty ones.
    note : str
        Free text given when writing.
    """

    id: int
    workspace: str
    kind: str
    name: str
    version: int
    source_name: str | None
    source_sha256: str | None
    created_at: datetime
    created_by: str | None
    row_count: int
    counts: dict[str, int]
    crs: str | None
    bounds: Bounds | None
    note: str

    @property
    def ref(self) -> str:
        """``"workspace/name@version"``, e.g. ``"merangin/villages@2"``."""
        return f"{self.workspace}/{self.name}@{self.version}"


# --- the interface -----------------------------------------------------------------------


class Store(abc.ABC):
    """Versioned storage of validated layers, grouped in workspaces.

    Obtain one with :func:`layers.storage.open_store`. A store is safe to share between
    the threads of a web server; every method runs in its own transaction.
    """

    @abc.abstractmethod
    def init(self) -> None:
        """Create the tables when missing (idempotent)."""

    @abc.abstractmethod
    def create_workspace(
        self, name: str, title: str | None = None, description: str = ""
    ) -> Workspace:
        """Create a workspace; raise :class:`StoreError` when the name is taken or invalid."""

    @abc.abstractmethod
    def get_workspace(self, name: str) -> Workspace:
        """Return a workspace; raise :class:`NotFoundError` naming the known ones."""

    @abc.abstractmethod
    def list_workspaces(self) -> list[Workspace]:
        """Return all workspaces, by name."""

    @abc.abstractmethod
    def delete_workspace(self, name: str) -> None:
        """Delete a workspace with every version of every dataset in it."""

    @abc.abstractmethod
    def put_dataset(
        self,
        workspace: str,
        kind: str,
        data: pd.DataFrame,
        *,
        name: str | None = None,
        source_name: str | None,
        source_sha256: str | None,
        report: dict[str, Any] | ValidationReport,
        created_by: str | None = None,
        note: str = "",
    ) -> DatasetVersion:
        """Write ``data`` as the next version of dataset ``name``, all or nothing."""

    @abc.abstractmethod
    def read_dataset(
        self,
        workspace: str,
        name: str,
        version: int | None = None,
        *,
        bbox: Sequence[float] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Read a dataset version (the latest by default) exactly as it was written."""

    @abc.abstractmethod
    def dataset_info(self, workspace: str, name: str, version: int | None = None) -> DatasetVersion:
        """Describe a dataset version (the latest by default)."""

    @abc.abstractmethod
    def list_datasets(
        self, workspace: str | None = None, *, all_versions: bool = False
    ) -> list[DatasetVersion]:
        """List the latest version of each dataset (or every version), by workspace and name."""

    @abc.abstractmethod
    def get_report(self, workspace: str, name: str, version: int | None = None) -> dict[str, Any]:
        """Return the validation report stored with a dataset version."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the store's connections."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- validation helpers ------------------------------------------------------------------


def check_name(value: object, what: str) -> str:
    """Return ``value`` when it is a valid slug, else raise :class:`StoreError` saying why.

    Parameters
    ----------
    value : object
        The proposed name.
    what : str
        ``"workspace"`` or ``"dataset"``, for the message.
    """
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise StoreError(
            f"invalid {what} name {value!r}: use 1 to 64 lowercase letters, digits, "
            f"'-' or '_' (for example 'merangin' or 'puskesmas_2024')"
        )
    return value


def check_bbox(bbox: Sequence[float]) -> Bounds:
    """Return ``bbox`` as four floats ``(minx, miny, maxx, maxy)`` or raise :class:`StoreError`."""
    try:
        values = tuple(float(v) for v in bbox)
    except (TypeError, ValueError):
        raise StoreError(
            f"bbox must be four numbers (minx, miny, maxx, maxy), not {bbox!r}"
        ) from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise StoreError(f"bbox must be four finite numbers (minx, miny, maxx, maxy), not {bbox!r}")
    minx, miny, maxx, maxy = values
    if minx > maxx or miny > maxy:
        raise StoreError(
            f"bbox {bbox!r} has min greater than max; expected (minx, miny, maxx, maxy)"
        )
    return values  # type: ignore[return-value]


def check_layer(kind: str, data: object) -> None:
    """Raise :class:`StoreError` unless ``data`` can be stored as a layer of ``kind``."""
    if kind not in KINDS:
        raise StoreError(f"unknown layer kind {kind!r}; expected one of {', '.join(KINDS)}")
    spec = SPECS[kind]
    if not isinstance(data, pd.DataFrame):
        raise StoreError(f"a {kind} layer must be a DataFrame, not {type(data).__name__}")
    if spec.geometry:
        if not isinstance(data, gpd.GeoDataFrame) or data._geometry_column_name not in data:
            raise StoreError(f"a {kind} layer must be a GeoDataFrame with a geometry column")
        if data.crs is None:
            raise StoreError(
                f"the {kind} layer has no coordinate reference system; set one "
                f"(layers are stored in EPSG:4326) before storing it"
            )
    elif isinstance(data, gpd.GeoDataFrame):
        raise StoreError(f"a {kind} layer is a table without geometry; pass a plain DataFrame")
    missing = [c.name for c in spec.columns if c.required and c.name not in data.columns]
    if missing:
        raise StoreError(f"the {kind} layer lacks required columns: {', '.join(missing)}")


def report_counts(report: dict[str, Any]) -> dict[str, int]:
    """Return the counts of a stored report (``ValidationReport.to_dict()``), or ``{}``."""
    counts = report.get("counts")
    if isinstance(counts, dict):
        return {str(k): int(v) for k, v in counts.items()}
    if "kind" in report and "file" in report:
        return ValidationReport.from_dict(report).counts()
    return {}


# --- tables --------------------------------------------------------------------------------

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

#: Tables every backend has, in creation order.
COMMON_TABLES = (meta_table, workspaces_table, datasets_table, chunks_table)


def _utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime (SQLite hands back naive ones)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@dataclass(frozen=True)
class ChunkRef:
    """A stored chunk's place in the snapshot: which rows it holds and their extent."""

    seq: int
    first_row: int
    row_count: int
    bbox: Bounds | None


# --- shared SQL implementation -------------------------------------------------------------


class SQLStore(Store):
    """Metadata, versioning and transactions over SQLAlchemy; backends add the feature rows.

    Subclasses build :attr:`engine` and implement :meth:`_write_features` and
    :meth:`_read_features`; both are called inside the transaction of the calling method.
    """

    #: Rows per stored chunk (fewer when geometries are large; see ``codec.CHUNK_BYTES``).
    chunk_rows: int = codec.CHUNK_ROWS

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url
        self._initialised = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.engine.url.render_as_string(hide_password=True)!r})"

    # -- transactions ---------------------------------------------------------------------

    @contextmanager
    def _transaction(self, *, write: bool = False) -> Iterator[Connection]:
        """Yield a connection inside one transaction, committed on success.

        Errors from the database become :class:`StoreError`; the transaction is rolled back,
        so the store is left as it was.
        """
        if not self._initialised:
            self._check_initialised()
        try:
            with self.engine.connect() as conn:
                conn.execution_options(jangkau_write=write)
                with conn.begin():
                    yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"the store could not complete the operation: {exc}") from exc

    def _check_initialised(self) -> None:
        try:
            with self.engine.connect() as conn:
                present = sa.inspect(conn).has_table(meta_table.name)
                version = (
                    conn.execute(
                        sa.select(meta_table.c.value).where(meta_table.c.key == "schema_version")
                    ).scalar()
                    if present
                    else None
                )
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"cannot open the store {self!r}: {exc}") from exc
        if version is None:
            raise StoreError(
                f"the store {self!r} is not initialised; run Store.init() "
                f"(the command line's init command) first"
            )
        self._check_schema_version(version)
        self._initialised = True

    def _check_schema_version(self, value: str) -> None:
        if int(value) > SCHEMA_VERSION:
            raise StoreError(
                f"the store {self!r} has table layout {value}, newer than this Jangkau "
                f"understands ({SCHEMA_VERSION}); upgrade Jangkau"
            )

    def init(self) -> None:
        """Create the tables when missing and record the table layout version (idempotent)."""
        try:
            with self.engine.begin() as conn:
                self._create_tables(conn)
                version = conn.execute(
                    sa.select(meta_table.c.value).where(meta_table.c.key == "schema_version")
                ).scalar()
                if version is None:
                    conn.execute(
                        meta_table.insert().values(key="schema_version", value=str(SCHEMA_VERSION))
                    )
                else:
                    self._check_schema_version(version)
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"cannot initialise the store {self!r}: {exc}") from exc
        self._initialised = True

    def _create_tables(self, conn: Connection) -> None:
        metadata.create_all(conn, tables=list(COMMON_TABLES))

    def close(self) -> None:
        """Release the store's connections (the store can still be used afterwards)."""
        self.engine.dispose()

    # -- workspaces ------------------------------------------------------------------------

    @staticmethod
    def _workspace(row: Any) -> Workspace:
        return Workspace(
            name=row.name,
            title=row.title,
            description=row.description,
            created_at=_utc(row.created_at),
        )

    def create_workspace(
        self, name: str, title: str | None = None, description: str = ""
    ) -> Workspace:
        """Create a workspace.

        Parameters
        ----------
        name : str
            Slug: 1-64 lowercase letters, digits, ``-`` or ``_``.
        title : str, optional
            Human title; the name when omitted.
        description : str
            Free text.

        Raises
        ------
        StoreError
            The name is invalid or already taken.
        """
        check_name(name, "workspace")
        workspace = Workspace(
            name=name,
            title=title if title else name,
            description=description or "",
            created_at=datetime.now(UTC),
        )
        with self._transaction(write=True) as conn:
            taken = conn.execute(
                sa.select(workspaces_table.c.id).where(workspaces_table.c.name == name)
            ).first()
            if taken:
                raise StoreError(f"workspace {name!r} already exists")
            conn.execute(
                workspaces_table.insert().values(
                    name=workspace.name,
                    title=workspace.title,
                    description=workspace.description,
                    created_at=workspace.created_at,
                )
            )
        return workspace

    def _workspace_names(self, conn: Connection) -> list[str]:
        return list(
            conn.execute(
                sa.select(workspaces_table.c.name).order_by(workspaces_table.c.name)
            ).scalars()
        )

    def _workspace_row(self, conn: Connection, name: str, *, lock: bool = False) -> Any:
        query = sa.select(workspaces_table).where(workspaces_table.c.name == name)
        if lock:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            known = self._workspace_names(conn)
            listing = ", ".join(known) if known else "none yet"
            raise NotFoundError(f"no workspace {name!r}; workspaces: {listing}")
        return row

    def get_workspace(self, name: str) -> Workspace:
        """Return the workspace called ``name``.

        Raises
        ------
        NotFoundError
            No such workspace; the message lists the existing ones.
        """
        with self._transaction() as conn:
            return self._workspace(self._workspace_row(conn, name))

    def list_workspaces(self) -> list[Workspace]:
        """Return every workspace, ordered by name."""
        with self._transaction() as conn:
            rows = conn.execute(sa.select(workspaces_table).order_by(workspaces_table.c.name))
            return [self._workspace(row) for row in rows]

    def delete_workspace(self, name: str) -> None:
        """Delete a workspace and every version of every dataset in it.

        Raises
        ------
        NotFoundError
            No such workspace.
        """
        with self._transaction(write=True) as conn:
            workspace_id = self._workspace_row(conn, name, lock=True).id
            dataset_ids = sa.select(datasets_table.c.id).where(
                datasets_table.c.workspace_id == workspace_id
            )
            self._delete_features(conn, dataset_ids)
            conn.execute(chunks_table.delete().where(chunks_table.c.dataset_id.in_(dataset_ids)))
            conn.execute(
                datasets_table.delete().where(datasets_table.c.workspace_id == workspace_id)
            )
            conn.execute(workspaces_table.delete().where(workspaces_table.c.id == workspace_id))

    # -- datasets: metadata ----------------------------------------------------------------

    @staticmethod
    def _dataset(row: Any, workspace: str) -> DatasetVersion:
        bounds = None
        if row.minx is not None:
            bounds = (row.minx, row.miny, row.maxx, row.maxy)
        return DatasetVersion(
            id=row.id,
            workspace=workspace,
            kind=row.kind,
            name=row.name,
            version=row.version,
            source_name=row.source_name,
            source_sha256=row.source_sha256,
            created_at=_utc(row.created_at),
            created_by=row.created_by,
            row_count=row.row_count,
            counts=json.loads(row.counts_json),
            crs=row.crs,
            bounds=bounds,
            note=row.note,
        )

    def _dataset_row(
        self, conn: Connection, workspace: str, name: str, version: int | None
    ) -> tuple[Any, str]:
        """Return the ``datasets`` row of a version and its workspace name, or raise."""
        workspace_id = self._workspace_row(conn, workspace).id
        versions = list(
            conn.execute(
                sa.select(datasets_table.c.version)
                .where(datasets_table.c.workspace_id == workspace_id)
                .where(datasets_table.c.name == name)
                .order_by(datasets_table.c.version)
            ).scalars()
        )
        if not versions:
            names = conn.execute(
                sa.select(datasets_table.c.name)
                .where(datasets_table.c.workspace_id == workspace_id)
                .distinct()
                .order_by(datasets_table.c.name)
            ).scalars()
            listing = ", ".join(names) or "none yet"
            raise NotFoundError(
                f"no dataset {name!r} in workspace {workspace!r}; datasets: {listing}"
            )
        if version is None:
            version = versions[-1]
        elif version not in versions:
            listing = ", ".join(str(v) for v in versions)
            raise NotFoundError(f"no version {version} of {workspace}/{name}; versions: {listing}")
        row = conn.execute(
            sa.select(datasets_table)
            .where(datasets_table.c.workspace_id == workspace_id)
            .where(datasets_table.c.name == name)
            .where(datasets_table.c.version == version)
        ).one()
        return row, workspace

    def dataset_info(self, workspace: str, name: str, version: int | None = None) -> DatasetVersion:
        """Describe a dataset version (the latest when ``version`` is None).

        Raises
        ------
        NotFoundError
            Unknown workspace, dataset or version; the message lists what exists.
        """
        with self._transaction() as conn:
            return self._dataset(*self._dataset_row(conn, workspace, name, version))

    def get_report(self, workspace: str, name: str, version: int | None = None) -> dict[str, Any]:
        """Return the validation report stored with a dataset version (the latest by default)."""
        with self._transaction() as conn:
            row, _ = self._dataset_row(conn, workspace, name, version)
            return json.loads(row.report_json)

    def list_datasets(
        self, workspace: str | None = None, *, all_versions: bool = False
    ) -> list[DatasetVersion]:
        """List datasets ordered by workspace, name and version.

        Parameters
        ----------
        workspace : str, optional
            Only this workspace (:class:`NotFoundError` when unknown); all when None.
        all_versions : bool
            Every version instead of the latest of each name.
        """
        d, w = datasets_table, workspaces_table
        query = (
            sa.select(d, w.c.name.label("workspace_name"))
            .join(w, w.c.id == d.c.workspace_id)
            .order_by(w.c.name, d.c.name, d.c.version)
        )
        if not all_versions:
            latest = (
                sa.select(sa.func.max(d.c.version))
                .where(d.c.workspace_id == sa.literal_column("outer_d.workspace_id"))
                .where(d.c.name == sa.literal_column("outer_d.name"))
                .scalar_subquery()
            )
            outer = d.alias("outer_d")
            query = (
                sa.select(outer, w.c.name.label("workspace_name"))
                .join(w, w.c.id == outer.c.workspace_id)
                .where(outer.c.version == latest)
                .order_by(w.c.name, outer.c.name)
            )
        with self._transaction() as conn:
            if workspace is not None:
                workspace_id = self._workspace_row(conn, workspace).id
                column = query.selected_columns.workspace_id
                query = query.where(column == workspace_id)
            return [self._dataset(row, row.workspace_name) for row in conn.execute(query)]

    # -- datasets: data --------------------------------------------------------------------

    def put_dataset(
        self,
        workspace: str,
        kind: str,
        data: pd.DataFrame,
        *,
        name: str | None = None,
        source_name: str | None,
        source_sha256: str | None,
        report: dict[str, Any] | ValidationReport,
        created_by: str | None = None,
        note: str = "",
    ) -> DatasetVersion:
        """Write ``data`` as the next version of a dataset, in one transaction.

        Parameters
        ----------
        workspace : str
            An existing workspace.
        kind : str
            Layer kind, one of :data:`layers.schema.KINDS`.
        data : GeoDataFrame or DataFrame
            The canonical layer: a GeoDataFrame with a CRS for spatial kinds, a DataFrame for
            ``indicators``. Stored exactly: geometries as WKB, column dtypes, row order and
            a non-default index come back as written.
        name : str, optional
            Dataset name (a slug); the kind when omitted.
        source_name, source_sha256 : str or None
            The imported file's name and SHA-256 (64 hex digits).
        report : dict or ValidationReport
            The import's report (``ValidationReport.to_dict()``), stored as JSON.
        created_by : str, optional
            Who is writing.
        note : str
            Free text.

        Returns
        -------
        DatasetVersion
            The version written: the previous highest version of ``name`` plus one.

        Raises
        ------
        NotFoundError
            The workspace does not exist.
        StoreError
            Invalid input or a failure while writing; nothing was written.
        """
        name = check_name(kind if name is None else name, "dataset")
        check_layer(kind, data)
        if source_sha256 is not None:
            source_sha256 = str(source_sha256).lower()
            if not SHA256_PATTERN.fullmatch(source_sha256):
                raise StoreError(
                    f"source_sha256 must be 64 hexadecimal digits, not {source_sha256!r}"
                )
        if isinstance(report, ValidationReport):
            report = report.to_dict()
        if not isinstance(report, dict):
            raise StoreError(f"report must be a dict (ValidationReport.to_dict()), not {report!r}")
        try:
            report_json = json.dumps(report, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"the report cannot be stored as JSON: {exc}") from None
        counts = report_counts(report)
        snapshot = codec.prepare(data, chunk_rows=self.chunk_rows)
        created_at = datetime.now(UTC)
        bounds = snapshot.bounds

        with self._transaction(write=True) as conn:
            workspace_id = self._workspace_row(conn, workspace, lock=True).id
            latest = conn.execute(
                sa.select(sa.func.max(datasets_table.c.version))
                .where(datasets_table.c.workspace_id == workspace_id)
                .where(datasets_table.c.name == name)
            ).scalar()
            version = (latest or 0) + 1
            values = {
                "workspace_id": workspace_id,
                "kind": kind,
                "name": name,
                "version": version,
                "source_name": source_name,
                "source_sha256": source_sha256,
                "created_at": created_at,
                "created_by": created_by,
                "row_count": snapshot.row_count,
                "counts_json": json.dumps(counts),
                "report_json": report_json,
                "crs": snapshot.crs,
                "minx": bounds[0] if bounds else None,
                "miny": bounds[1] if bounds else None,
                "maxx": bounds[2] if bounds else None,
                "maxy": bounds[3] if bounds else None,
                "note": note or "",
                "schema_json": json.dumps(snapshot.schema),
            }
            result = conn.execute(datasets_table.insert().values(**values))
            dataset_id = result.inserted_primary_key[0]
            self._write_features(conn, dataset_id, snapshot)

        return DatasetVersion(
            id=dataset_id,
            workspace=workspace,
            kind=kind,
            name=name,
            version=version,
            source_name=source_name,
            source_sha256=source_sha256,
            created_at=created_at,
            created_by=created_by,
            row_count=snapshot.row_count,
            counts=counts,
            crs=snapshot.crs,
            bounds=bounds,
            note=note or "",
        )

    def read_dataset(
        self,
        workspace: str,
        name: str,
        version: int | None = None,
        *,
        bbox: Sequence[float] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Read a dataset version exactly as it was written.

        Parameters
        ----------
        workspace, name : str
            The dataset.
        version : int, optional
            The latest when None.
        bbox : sequence of 4 floats, optional
            ``(minx, miny, maxx, maxy)`` in the dataset's CRS: only rows whose geometry's
            bounding box intersects it (touching counts), in their stored order. Rows
            without geometry are left out.
        columns : sequence of str, optional
            Only these columns, in this order; the active geometry column is always
            returned (last, unless listed).

        Returns
        -------
        GeoDataFrame or DataFrame
            A GeoDataFrame with the stored CRS for spatial layers, a DataFrame otherwise.

        Raises
        ------
        NotFoundError
            Unknown workspace, dataset, version or column.
        StoreError
            Invalid ``bbox`` or a failure while reading.
        """
        query_bbox = None if bbox is None else check_bbox(bbox)
        with self._transaction() as conn:
            row, _ = self._dataset_row(conn, workspace, name, version)
            schema = json.loads(row.schema_json)
            reader = codec.Reader(schema, ref=f"{workspace}/{name}@{row.version}")
            reader.select(columns)
            if query_bbox is not None and not reader.spatial:
                raise StoreError(f"{workspace}/{name} has no geometry; it cannot be read by bbox")
            chunk_rows = conn.execute(
                sa.select(
                    chunks_table.c.seq,
                    chunks_table.c.row_count,
                    chunks_table.c.minx,
                    chunks_table.c.miny,
                    chunks_table.c.maxx,
                    chunks_table.c.maxy,
                )
                .where(chunks_table.c.dataset_id == row.id)
                .order_by(chunks_table.c.seq)
            ).all()
            refs = []
            first = 0
            for c in chunk_rows:
                box = None if c.minx is None else (c.minx, c.miny, c.maxx, c.maxy)
                refs.append(ChunkRef(c.seq, first, c.row_count, box))
                first += c.row_count
            if query_bbox is not None:
                refs = [
                    r for r in refs if r.bbox is not None and codec.boxes_meet(r.bbox, query_bbox)
                ]
            return self._read_features(conn, row, reader, refs, query_bbox)

    def _fetch_chunks(self, conn: Connection, dataset_id: int, refs: list[ChunkRef]) -> list[bytes]:
        """Return the stored bytes of the chunks ``refs``, in their order."""
        if not refs:
            return []
        query = (
            sa.select(chunks_table.c.data)
            .where(chunks_table.c.dataset_id == dataset_id)
            .order_by(chunks_table.c.seq)
        )
        if len(refs) < 64:
            query = query.where(chunks_table.c.seq.in_([r.seq for r in refs]))
            return list(conn.execute(query).scalars())
        wanted = {r.seq for r in refs}
        query = query.add_columns(chunks_table.c.seq)
        return [data for data, seq in conn.execute(query) if seq in wanted]

    def _insert_chunks(
        self, conn: Connection, dataset_id: int, parts: Iterator[codec.Part]
    ) -> None:
        """Encode and insert chunks one by one (a failure leaves the transaction to roll back)."""
        for part in parts:
            conn.execute(
                chunks_table.insert().values(
                    dataset_id=dataset_id,
                    seq=part.seq,
                    row_count=part.row_count,
                    minx=part.bbox[0] if part.bbox else None,
                    miny=part.bbox[1] if part.bbox else None,
                    maxx=part.bbox[2] if part.bbox else None,
                    maxy=part.bbox[3] if part.bbox else None,
                    data=codec.encode_chunk(part),
                )
            )

    # -- backend hooks -------------------------------------------------------------------------

    @abc.abstractmethod
    def _write_features(self, conn: Connection, dataset_id: int, snapshot: codec.Snapshot) -> None:
        """Store the rows of ``snapshot`` for ``dataset_id`` inside the open transaction."""

    @abc.abstractmethod
    def _read_features(
        self,
        conn: Connection,
        row: Any,
        reader: codec.Reader,
        refs: list[ChunkRef],
        bbox: Bounds | None,
    ) -> pd.DataFrame:
        """Read the rows of the chunks ``refs`` (all of them unless ``bbox``) and restore them."""

    def _delete_features(self, conn: Connection, dataset_ids: sa.Select) -> None:
        """Delete backend-specific feature rows of ``dataset_ids`` (none by default)."""
