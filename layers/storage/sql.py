"""The SQLAlchemy implementation of :class:`~layers.storage.base.Store`.

:class:`SQLStore` does everything but the feature data: workspaces, versions, metadata,
reports, records (:mod:`layers.storage.records`), transactions and upgrading the tables
(:mod:`layers.storage.tables`). The SQLite and PostGIS backends differ only in how they
open the database and where they put the rows of a snapshot
(:meth:`SQLStore._write_features`, :meth:`SQLStore._read_features`).
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from layers.errors import N_, NotFoundError, StoreError
from layers.report import ValidationReport
from layers.storage import codec
from layers.storage.accounts import AccountsMixin
from layers.storage.audit import AuditMixin
from layers.storage.audit import changes as row_changes
from layers.storage.base import (
    DERIVED_KIND,
    SHA256_PATTERN,
    Bounds,
    ConflictError,
    DatasetVersion,
    Store,
    Workspace,
    check_bbox,
    check_kinds,
    check_layer,
    check_name,
    check_version,
    report_counts,
)
from layers.storage.records import RecordsMixin
from layers.storage.tables import (
    COMMON_TABLES,
    SCHEMA_VERSION,
    chunks_table,
    datasets_table,
    meta_table,
    metadata,
    workspaces_table,
)
from layers.storage.tables import utc as _utc


@dataclass(frozen=True)
class ChunkRef:
    """A stored chunk's place in the snapshot: which rows it holds and their extent."""

    seq: int
    first_row: int
    row_count: int
    bbox: Bounds | None


# --- shared SQL implementation -------------------------------------------------------------


class SQLStore(RecordsMixin, AccountsMixin, AuditMixin, Store):
    """Metadata, versioning and transactions over SQLAlchemy; backends add the feature rows.

    Subclasses build :attr:`engine` and implement :meth:`_write_features` and
    :meth:`_read_features`; both are called inside the transaction of the calling method.
    """

    #: Rows per stored chunk (fewer when geometries are large; see ``codec.CHUNK_BYTES``).
    chunk_rows: int = codec.CHUNK_ROWS
    #: Connection execution options for reading and for writing transactions.
    _read_options: ClassVar[dict[str, Any]] = {}
    _write_options: ClassVar[dict[str, Any]] = {}

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url
        self._initialised = False
        self._layout: int | None = None  # the store's table layout version, once read

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
        options = self._write_options if write else self._read_options
        try:
            with self.engine.connect() as conn:
                conn.execution_options(**options)
                with conn.begin():
                    yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(
                N_("the store could not complete the operation: %(reason)s"),
                params={"reason": str(exc)},
            ) from exc

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
            raise StoreError(
                N_("cannot open the store %(store)s: %(reason)s"),
                params={"store": repr(self), "reason": str(exc)},
            ) from exc
        if version is None:
            raise StoreError(
                N_(
                    "the store %(store)s is not initialised; run Store.init() "
                    "(the command line's init command) first"
                ),
                params={"store": repr(self)},
            )
        # An older layout is used as it is (its tables are a subset of this one's); what
        # needs the newer tables says to run init, which upgrades in place.
        self._layout = self._check_schema_version(version)
        self._initialised = True

    def _check_schema_version(self, value: str) -> int:
        if int(value) > SCHEMA_VERSION:
            raise StoreError(
                N_(
                    "the store %(store)s has table layout %(found)s, newer than this Jangkau "
                    "understands (%(known)s); upgrade Jangkau"
                ),
                params={"store": repr(self), "found": value, "known": SCHEMA_VERSION},
            )
        return int(value)

    def init(self) -> None:
        """Create the tables when missing and record the table layout version (idempotent).

        A store of an earlier layout is upgraded in place, in one transaction: the tables it
        lacks are created and its ``schema_version`` set to :data:`SCHEMA_VERSION`; its
        workspaces and datasets are kept as they are.
        """
        try:
            with self.engine.connect() as conn:
                conn.execution_options(**self._write_options)  # one init at a time
                with conn.begin():
                    self._create_tables(conn)
                    version = conn.execute(
                        sa.select(meta_table.c.value).where(meta_table.c.key == "schema_version")
                    ).scalar()
                    if version is None:
                        conn.execute(
                            meta_table.insert().values(
                                key="schema_version", value=str(SCHEMA_VERSION)
                            )
                        )
                    elif self._check_schema_version(version) < SCHEMA_VERSION:
                        # 1 -> 2 adds the records table, created above with any other
                        # missing table; nothing else changes.
                        conn.execute(
                            meta_table.update()
                            .where(meta_table.c.key == "schema_version")
                            .values(value=str(SCHEMA_VERSION))
                        )
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(
                N_("cannot initialise the store %(store)s: %(reason)s"),
                params={"store": repr(self), "reason": str(exc)},
            ) from exc
        self._layout = SCHEMA_VERSION
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
        self,
        name: str,
        title: str | None = None,
        description: str = "",
        *,
        created_by: str | None = None,
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
        created_by : str, optional
            Who creates it (for the audit trail).

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
                raise StoreError(
                    N_("workspace %(workspace)r already exists"), params={"workspace": name}
                )
            conn.execute(
                workspaces_table.insert().values(
                    name=workspace.name,
                    title=workspace.title,
                    description=workspace.description,
                    created_at=workspace.created_at,
                )
            )
            self._audit(
                conn,
                actor=created_by,
                workspace=name,
                action="create",
                target_kind="workspace",
                target=name,
                summary=f"workspace {name} created",
                after={"title": workspace.title, "description": workspace.description},
                at=workspace.created_at,
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
            raise NotFoundError(
                N_("no workspace %(workspace)r; workspaces: %(known)s")
                if known
                else N_("no workspace %(workspace)r; workspaces: none yet"),
                params={"workspace": name, "known": ", ".join(known)},
            )
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

    def delete_workspace(self, name: str, *, deleted_by: str | None = None) -> None:
        """Delete a workspace, every version of every dataset in it, and its records.

        Its audit trail stays, with the deletion as its last entry (``deleted_by``).

        Raises
        ------
        NotFoundError
            No such workspace.
        """
        with self._transaction(write=True) as conn:
            row = self._workspace_row(conn, name, lock=True)
            workspace_id = row.id
            self._audit(
                conn,
                actor=deleted_by,
                workspace=name,
                action="delete",
                target_kind="workspace",
                target=name,
                summary=f"workspace {name} deleted with its datasets and records",
                before={"title": row.title, "description": row.description},
            )
            dataset_ids = sa.select(datasets_table.c.id).where(
                datasets_table.c.workspace_id == workspace_id
            )
            self._delete_features(conn, dataset_ids)
            conn.execute(chunks_table.delete().where(chunks_table.c.dataset_id.in_(dataset_ids)))
            conn.execute(
                datasets_table.delete().where(datasets_table.c.workspace_id == workspace_id)
            )
            self._delete_records(conn, workspace_id)
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
            listing = ", ".join(names)
            raise NotFoundError(
                N_("no dataset %(dataset)r in workspace %(workspace)r; datasets: %(known)s")
                if listing
                else N_("no dataset %(dataset)r in workspace %(workspace)r; datasets: none yet"),
                params={"dataset": name, "workspace": workspace, "known": listing},
            )
        if version is None:
            version = versions[-1]
        elif version not in versions:
            raise NotFoundError(
                N_("no version %(version)s of %(workspace)s/%(dataset)s; versions: %(known)s"),
                params={
                    "version": version,
                    "workspace": workspace,
                    "dataset": name,
                    "known": ", ".join(str(v) for v in versions),
                },
            )
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
        self,
        workspace: str | None = None,
        *,
        all_versions: bool = False,
        kinds: str | Iterable[str] | None = None,
    ) -> list[DatasetVersion]:
        """List datasets ordered by workspace, name and version.

        Parameters
        ----------
        workspace : str, optional
            Only this workspace (:class:`NotFoundError` when unknown); all when None.
        all_versions : bool
            Every version instead of the latest of each name.
        kinds : str or iterable of str, optional
            Only datasets of these kinds (of :data:`~layers.storage.base.DATASET_KINDS`,
            e.g. ``"derived"`` for derived tables). When None, the layers: every kind but
            ``derived``, so layer lists do not show results unless asked for.

        Raises
        ------
        StoreError
            An unknown kind.
        """
        wanted = check_kinds(kinds)
        d, w = datasets_table, workspaces_table
        query = (
            sa.select(d, w.c.name.label("workspace_name"))
            .join(w, w.c.id == d.c.workspace_id)
            .order_by(w.c.name, d.c.name, d.c.version)
        )
        if wanted is None:
            query = query.where(d.c.kind != DERIVED_KIND)
        else:
            query = query.where(d.c.kind.in_(wanted))
        if not all_versions:
            latest = (
                sa.select(d.c.workspace_id, d.c.name, sa.func.max(d.c.version).label("version"))
                .group_by(d.c.workspace_id, d.c.name)
                .subquery()
            )
            query = query.join(
                latest,
                sa.and_(
                    latest.c.workspace_id == d.c.workspace_id,
                    latest.c.name == d.c.name,
                    latest.c.version == d.c.version,
                ),
            )
        with self._transaction() as conn:
            if workspace is not None:
                query = query.where(d.c.workspace_id == self._workspace_row(conn, workspace).id)
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
            Layer kind, one of :data:`layers.schema.KINDS`, or ``"derived"`` for a table
            computed from other datasets (a score run's results, ...).
        data : GeoDataFrame or DataFrame
            The canonical layer: a GeoDataFrame with a CRS for spatial kinds, a DataFrame for
            ``indicators``; for ``derived``, any DataFrame, or a GeoDataFrame whose geometry
            has a CRS. Stored exactly: geometries as WKB, column dtypes, row order and a
            non-default index (such as ``kode``) come back as written.
        name : str, optional
            Dataset name (a slug); the kind when omitted (required for ``derived``). A name
            holds either layers or derived tables, never both.
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
        name, values, snapshot = self._prepare_dataset(
            kind,
            data,
            name=name,
            source_name=source_name,
            source_sha256=source_sha256,
            report=report,
            created_by=created_by,
            note=note,
            created_at=datetime.now(UTC),
        )
        return self._write_version(
            workspace,
            name,
            values,
            lambda conn, dataset_id: self._write_features(conn, dataset_id, snapshot),
        )

    def put_datasets(
        self,
        workspace: str,
        items: Sequence[tuple[str, pd.DataFrame, str, dict[str, Any] | ValidationReport]],
        *,
        created_by: str | None = None,
        note: str = "",
        expected_versions: dict[str, int] | None = None,
        changes: Mapping[str, tuple[dict[str, Any] | None, dict[str, Any] | None]] | None = None,
    ) -> list[DatasetVersion]:
        """Write several datasets, each as its next version, in ONE transaction.

        Either every version is written or none is: a failure on any item rolls back the
        others. Used for tables that belong together (a program register's programs,
        assignments and activities).

        Parameters
        ----------
        workspace : str
            An existing workspace.
        items : sequence of (kind, data, name, report)
            What to write, as for :meth:`put_dataset` (``source_name`` and
            ``source_sha256`` are None). Names must differ from one another.
        created_by : str, optional
            Who is writing (the same for every version).
        note : str
            Why (the same for every version).
        expected_versions : dict, optional
            Dataset name -> the version the caller based its change on (0: the dataset did
            not exist yet). Checked inside the transaction: when another version was
            written since, :class:`~layers.storage.base.ConflictError` and nothing is
            written.
        changes : dict, optional
            Dataset name -> ``(before, after)``: the row values the change replaced and
            wrote (keyed by row, e.g. ``{"P-10": {"budget": 2000000}}``). The audit row of
            that dataset's version lists the values that differ under ``values``, as record
            saves do.

        Returns
        -------
        list of DatasetVersion
            The versions written, in the order of ``items``; all share one ``created_at``.

        Raises
        ------
        NotFoundError
            The workspace does not exist.
        ConflictError
            A dataset's latest version is not the one in ``expected_versions``.
        StoreError
            An invalid item, two items with the same name, or a failure while writing;
            nothing was written.
        """
        if isinstance(items, str | bytes) or not isinstance(items, Sequence) or not items:
            raise StoreError(
                N_("items must be a non-empty list of (kind, data, name, report), not %(value)r"),
                params={"value": type(items).__name__},
            )
        created_at = datetime.now(UTC)
        prepared = []
        for position, item in enumerate(items, start=1):
            if not isinstance(item, tuple | list) or len(item) != 4:
                raise StoreError(
                    N_("item %(position)s must be a tuple (kind, data, name, report)"),
                    params={"position": position},
                )
            kind, data, name, report = item
            prepared.append(
                self._prepare_dataset(
                    kind,
                    data,
                    name=name,
                    source_name=None,
                    source_sha256=None,
                    report=report,
                    created_by=created_by,
                    note=note,
                    created_at=created_at,
                )
            )
        names = [p[0] for p in prepared]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise StoreError(
                N_("each dataset can be written once per call; repeated: %(names)s"),
                params={"names": ", ".join(repeated)},
            )
        expected = {}
        for key, value in (expected_versions or {}).items():
            expected[check_name(key, "dataset")] = check_version(
                value, "expected_versions[" + key + "]", minimum=0
            )
        return self._write_versions(
            workspace,
            [
                (name, values, self._features_writer(snapshot))
                for name, values, snapshot in prepared
            ],
            expected=expected,
            changes=changes,
        )

    def _features_writer(self, snapshot: codec.Snapshot) -> Callable[[Connection, int], None]:
        return lambda conn, dataset_id: self._write_features(conn, dataset_id, snapshot)

    def _prepare_dataset(
        self,
        kind: str,
        data: pd.DataFrame,
        *,
        name: str | None,
        source_name: str | None,
        source_sha256: str | None,
        report: dict[str, Any] | ValidationReport,
        created_by: str | None,
        note: str,
        created_at: datetime,
    ) -> tuple[str, dict[str, Any], codec.Snapshot]:
        """Check one dataset version and return its name, its metadata row and its rows."""
        if kind == DERIVED_KIND and name is None:
            raise StoreError(N_("a derived table needs a name (name=...)"))
        name = check_name(kind if name is None else name, "dataset")
        check_layer(kind, data)
        if source_sha256 is not None:
            source_sha256 = str(source_sha256).lower()
            if not SHA256_PATTERN.fullmatch(source_sha256):
                raise StoreError(
                    N_("source_sha256 must be 64 hexadecimal digits, not %(value)r"),
                    params={"value": source_sha256},
                )
        if isinstance(report, ValidationReport):
            report = report.to_dict()
        if not isinstance(report, dict):
            raise StoreError(
                N_("report must be a dict (ValidationReport.to_dict()), not %(value)r"),
                params={"value": report},
            )
        try:
            report_json = json.dumps(report, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise StoreError(
                N_("the report cannot be stored as JSON: %(reason)s"), params={"reason": str(exc)}
            ) from None
        counts = report_counts(report)
        snapshot = codec.prepare(data, chunk_rows=self.chunk_rows)
        bounds = snapshot.bounds

        values = {
            "kind": kind,
            "name": name,
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
        return name, values, snapshot

    def _write_version(
        self,
        workspace: str,
        name: str,
        values: dict[str, Any],
        write_body: Callable[[Connection, int], None],
    ) -> DatasetVersion:
        """In one transaction, insert the next version's row of ``name`` and let
        ``write_body(conn, dataset_id)`` write its content; any failure rolls both back."""
        return self._write_versions(workspace, [(name, values, write_body)])[0]

    def _write_versions(
        self,
        workspace: str,
        items: list[tuple[str, dict[str, Any], Callable[[Connection, int], None]]],
        *,
        expected: dict[str, int] | None = None,
        changes: Mapping[str, tuple[dict[str, Any] | None, dict[str, Any] | None]] | None = None,
    ) -> list[DatasetVersion]:
        """In one transaction, for each ``(name, values, write_body)`` insert the next
        version's row of ``name`` and let ``write_body(conn, dataset_id)`` write its
        content; any failure rolls every one of them back."""
        written: list[tuple[str, dict[str, Any], int, int]] = []
        try:
            with self._transaction(write=True) as conn:
                workspace_id = self._workspace_row(conn, workspace, lock=True).id
                if expected:
                    self._check_expected(conn, workspace, workspace_id, expected)
                for name, values, write_body in items:
                    latest = conn.execute(
                        sa.select(
                            datasets_table.c.version,
                            datasets_table.c.kind,
                            datasets_table.c.row_count,
                            datasets_table.c.source_name,
                            datasets_table.c.source_sha256,
                        )
                        .where(datasets_table.c.workspace_id == workspace_id)
                        .where(datasets_table.c.name == name)
                        .order_by(datasets_table.c.version.desc())
                        .limit(1)
                    ).first()
                    if latest is not None:
                        self._check_same_family(workspace, name, latest.kind, values["kind"])
                    version = (latest.version if latest else 0) + 1
                    result = conn.execute(
                        datasets_table.insert().values(
                            workspace_id=workspace_id, version=version, **values
                        )
                    )
                    dataset_id = result.inserted_primary_key[0]
                    write_body(conn, dataset_id)
                    self._audit_version(
                        conn, workspace, name, values, version, latest, (changes or {}).get(name)
                    )
                    written.append((name, values, dataset_id, version))
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(
                N_("writing %(workspace)s/%(dataset)s failed and nothing was stored: %(reason)s"),
                params={
                    "workspace": workspace,
                    "dataset": ", ".join(name for name, _, _ in items),
                    "reason": str(exc),
                },
            ) from exc
        return [
            self._version_from_values(workspace, name, values, dataset_id, version)
            for name, values, dataset_id, version in written
        ]

    def _audit_version(
        self,
        conn: Connection,
        workspace: str,
        name: str,
        values: dict[str, Any],
        version: int,
        latest: Any,
        rows: tuple[dict[str, Any] | None, dict[str, Any] | None] | None = None,
    ) -> None:
        """The audit row of a new dataset version: its metadata against the previous one's,
        and the row values that changed when the caller says which (``rows``)."""
        after = {
            "version": version,
            "kind": values["kind"],
            "rows": values["row_count"],
            "source_name": values["source_name"],
            "source_sha256": values["source_sha256"],
            "counts": json.loads(values["counts_json"]),
        }
        if values["note"]:
            after["note"] = values["note"]
        before = None
        if latest is not None:
            before = {
                "version": latest.version,
                "kind": latest.kind,
                "rows": latest.row_count,
                "source_name": latest.source_name,
                "source_sha256": latest.source_sha256,
            }
        if rows is not None:
            old, new = row_changes(*rows)
            before = {**(before or {}), "values": old}
            after = {**after, "values": new}
        derived = values["kind"] == DERIVED_KIND
        source = f" from {values['source_name']}" if values["source_name"] else ""
        self._audit(
            conn,
            actor=values["created_by"],
            workspace=workspace,
            action="save" if derived else "import",
            target_kind="dataset",
            target=f"{name}@{version}",
            summary=(
                f"{values['kind']} {name} version {version}: {values['row_count']} rows{source}"
            ),
            before=before,
            after=after,
            at=values["created_at"],
        )

    @staticmethod
    def _check_expected(
        conn: Connection, workspace: str, workspace_id: int, expected: dict[str, int]
    ) -> None:
        """Raise :class:`ConflictError` when a dataset's latest version is not the expected."""
        for name, want in expected.items():
            latest = conn.execute(
                sa.select(sa.func.max(datasets_table.c.version))
                .where(datasets_table.c.workspace_id == workspace_id)
                .where(datasets_table.c.name == name)
            ).scalar()
            if (latest or 0) != want:
                raise ConflictError(
                    N_(
                        "%(workspace)s/%(dataset)s changed: the change was based on version "
                        "%(expected)s but the latest is %(latest)s; nothing was written"
                    ),
                    expected=want,
                    params={
                        "workspace": workspace,
                        "dataset": name,
                        "expected": want,
                        "latest": latest or 0,
                    },
                )

    @staticmethod
    def _version_from_values(
        workspace: str, name: str, values: dict[str, Any], dataset_id: int, version: int
    ) -> DatasetVersion:
        bounds = None
        if values["minx"] is not None:
            bounds = (values["minx"], values["miny"], values["maxx"], values["maxy"])
        return DatasetVersion(
            id=dataset_id,
            workspace=workspace,
            kind=values["kind"],
            name=name,
            version=version,
            source_name=values["source_name"],
            source_sha256=values["source_sha256"],
            created_at=values["created_at"],
            created_by=values["created_by"],
            row_count=values["row_count"],
            counts=json.loads(values["counts_json"]),
            crs=values["crs"],
            bounds=bounds,
            note=values["note"],
        )

    @staticmethod
    def _check_same_family(workspace: str, name: str, stored: str, kind: str) -> None:
        """Refuse a derived table under a layer's name and a layer under a derived name, so
        a result never becomes the latest version of a layer (or the reverse)."""
        if (stored == DERIVED_KIND) == (kind == DERIVED_KIND):
            return
        params = {"workspace": workspace, "dataset": name, "stored": stored, "kind": kind}
        raise StoreError(
            N_(
                "%(workspace)s/%(dataset)s is a %(stored)s layer; store the derived table "
                "under another name"
            )
            if kind == DERIVED_KIND
            else N_(
                "%(workspace)s/%(dataset)s holds derived tables; store the %(kind)s layer "
                "under another name"
            ),
            params=params,
        )

    #: Rasters are stored as GeoTIFF bytes split into pieces of at most this size.
    RASTER_PIECE = 32 * 1024 * 1024

    def put_raster(
        self,
        workspace: str,
        data: bytes,
        *,
        name: str = "population",
        source_name: str | None,
        source_sha256: str | None,
        report: dict[str, Any] | ValidationReport,
        crs: str | None,
        bounds: Bounds | None,
        created_by: str | None = None,
        note: str = "",
    ) -> DatasetVersion:
        """Write a GeoTIFF as the next version of a raster dataset, in one transaction.

        Parameters
        ----------
        workspace : str
            An existing workspace.
        data : bytes
            The GeoTIFF file's bytes (validated by :mod:`layers.raster`).
        name : str
            Dataset name, ``"population"`` by default.
        source_name, source_sha256 : str or None
            The imported file's name and SHA-256.
        report : dict or ValidationReport
            The validation report.
        crs : str or None
            The raster's CRS (e.g. ``"EPSG:4326"``); rasters keep their own CRS.
        bounds : tuple or None
            ``(left, bottom, right, top)`` in that CRS.
        created_by, note : str
            Who and why.

        Returns
        -------
        DatasetVersion
            With ``kind == "raster"`` and ``row_count`` the number of valid cells.
        """
        name = check_name(name, "dataset")
        if not isinstance(data, bytes | bytearray) or not data:
            raise StoreError(N_("a raster must be given as the non-empty bytes of a GeoTIFF"))
        if isinstance(report, ValidationReport):
            report = report.to_dict()
        counts = report_counts(report)
        created_at = datetime.now(UTC)
        values = {
            "kind": "raster",
            "name": name,
            "source_name": source_name,
            "source_sha256": source_sha256,
            "created_at": created_at,
            "created_by": created_by,
            "row_count": counts.get("accepted", 0),
            "counts_json": json.dumps(counts),
            "report_json": json.dumps(report, ensure_ascii=False, allow_nan=False),
            "crs": crs,
            "minx": bounds[0] if bounds else None,
            "miny": bounds[1] if bounds else None,
            "maxx": bounds[2] if bounds else None,
            "maxy": bounds[3] if bounds else None,
            "note": note or "",
            "schema_json": json.dumps({"raster": "GTiff", "bytes": len(data)}),
        }

        def write_pieces(conn: Connection, dataset_id: int) -> None:
            for seq, start in enumerate(range(0, len(data), self.RASTER_PIECE)):
                piece = bytes(data[start : start + self.RASTER_PIECE])
                conn.execute(
                    chunks_table.insert().values(
                        dataset_id=dataset_id, seq=seq, row_count=0, data=piece
                    )
                )

        return self._write_version(workspace, name, values, write_pieces)

    def read_raster(self, workspace: str, name: str, version: int | None = None) -> bytes:
        """Return the GeoTIFF bytes of a raster dataset version, exactly as written.

        Raises
        ------
        NotFoundError
            Unknown workspace, dataset or version.
        StoreError
            The dataset is not a raster.
        """
        with self._transaction() as conn:
            row, _ = self._dataset_row(conn, workspace, name, version)
            if row.kind != "raster":
                raise StoreError(
                    N_("%(workspace)s/%(dataset)s holds %(kind)s, not a raster"),
                    params={"workspace": workspace, "dataset": name, "kind": row.kind},
                )
            pieces = conn.execute(
                sa.select(chunks_table.c.data)
                .where(chunks_table.c.dataset_id == row.id)
                .order_by(chunks_table.c.seq)
            ).scalars()
            return b"".join(pieces)

    def read_dataset(
        self,
        workspace: str,
        name: str,
        version: int | None = None,
        *,
        bbox: Sequence[float] | None = None,
        columns: Sequence[str] | None = None,
        geometry: bool = True,
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
            returned (last, unless listed) unless ``geometry`` is False.
        geometry : bool
            False: leave the geometry out (a plain DataFrame; much faster for large
            point layers whose village codes are all that is needed). Not with ``bbox``.

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
            if row.kind == "raster":
                raise StoreError(
                    N_("%(workspace)s/%(dataset)s is a raster; read it with read_raster"),
                    params={"workspace": workspace, "dataset": name},
                )
            schema = json.loads(row.schema_json)
            reader = codec.Reader(schema, ref=f"{workspace}/{name}@{row.version}")
            if bbox is not None and not geometry:
                raise StoreError(N_("a read by bbox needs the geometry"))
            reader.select(columns, geometry=geometry)
            if query_bbox is not None and not reader.spatial:
                raise StoreError(
                    N_("%(workspace)s/%(dataset)s has no geometry; it cannot be read by bbox"),
                    params={"workspace": workspace, "dataset": name},
                )
            refs = self._chunk_refs(conn, row.id)
            if query_bbox is not None:
                refs = [
                    r for r in refs if r.bbox is not None and codec.boxes_meet(r.bbox, query_bbox)
                ]
            return self._read_features(conn, row, reader, refs, query_bbox)

    def _chunk_refs(self, conn: Connection, dataset_id: int) -> list[ChunkRef]:
        """The chunks of a version in order: their rows and bounding boxes, not their bytes."""
        refs = []
        first = 0
        for c in conn.execute(
            sa.select(
                chunks_table.c.seq,
                chunks_table.c.row_count,
                chunks_table.c.minx,
                chunks_table.c.miny,
                chunks_table.c.maxx,
                chunks_table.c.maxy,
            )
            .where(chunks_table.c.dataset_id == dataset_id)
            .order_by(chunks_table.c.seq)
        ):
            box = None if c.minx is None else (c.minx, c.miny, c.maxx, c.maxy)
            refs.append(ChunkRef(c.seq, first, c.row_count, box))
            first += c.row_count
        return refs

    def _fetch_chunks(self, conn: Connection, dataset_id: int, refs: list[ChunkRef]) -> list[bytes]:
        """Return the stored bytes of the chunks ``refs``, in their order."""
        blobs: list[bytes] = []
        for start in range(0, len(refs), 500):  # bounded IN lists
            seqs = [r.seq for r in refs[start : start + 500]]
            blobs.extend(
                conn.execute(
                    sa.select(chunks_table.c.data)
                    .where(chunks_table.c.dataset_id == dataset_id)
                    .where(chunks_table.c.seq.in_(seqs))
                    .order_by(chunks_table.c.seq)
                ).scalars()
            )
        return blobs

    def _insert_chunk(
        self, conn: Connection, dataset_id: int, part: codec.Part, data: bytes | None = None
    ) -> None:
        """Insert one chunk, encoding it unless ``data`` is given (a failure leaves the
        transaction to roll back)."""
        bbox = part.bbox
        conn.execute(
            chunks_table.insert().values(
                dataset_id=dataset_id,
                seq=part.seq,
                row_count=part.row_count,
                minx=bbox[0] if bbox else None,
                miny=bbox[1] if bbox else None,
                maxx=bbox[2] if bbox else None,
                maxy=bbox[3] if bbox else None,
                data=codec.encode_chunk(part) if data is None else data,
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
