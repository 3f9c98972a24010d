"""Records: versioned JSON documents of a workspace, grouped in collections.

A record is a small document the app saves and reads back whole: a scoring profile, the
description of a score run, later scenarios, programs and annotations. Records live in
*collections* (``profiles``, ``score_runs``, ...); every save writes a new immutable
*version* (1, 2, 3, ... per workspace, collection and name) with who saved it, when and
why, and earlier versions stay readable, so a score run can cite the exact profile it used
(``"merangin/profiles/default@3"``).

Two people editing the same record do not overwrite each other: a save may say which
version it was based on (``expected_version``), and when someone saved a newer version in
the meantime it is refused with :class:`~layers.storage.base.ConflictError`, naming who
saved it and when.

:class:`RecordsMixin` implements the record methods of
:class:`~layers.storage.sql.SQLStore` for both backends.
"""

from __future__ import annotations

import json
import math
import reprlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from layers.errors import N_, NotFoundError, StoreError
from layers.storage.audit import changes
from layers.storage.base import ConflictError, RecordVersion, check_name, check_version
from layers.storage.tables import RECORDS_LAYOUT, records_table, utc

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.engine import Connection

#: Values a record holds as they are (subclasses such as NumPy's float64 are written as
#: their base type); NumPy integers and booleans are not Python ones and are refused.
_SCALARS = (str, int, float, bool, type(None))


def _check_value(value: object, path: str, containers: set[int]) -> None:
    """Raise :class:`StoreError` at the first value under ``value`` that JSON cannot hold.

    ``containers`` holds the ids of the dicts and lists on the path to ``value``, to
    refuse a body that contains itself.
    """
    if isinstance(value, dict | list | tuple):
        if id(value) in containers:
            raise StoreError(
                N_("%(path)s contains itself; a record body must be a tree of values"),
                params={"path": path},
            )
        containers.add(id(value))
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise StoreError(
                        N_("record key %(key)r at %(path)s is not text; JSON keys must be text"),
                        params={"key": key, "path": path},
                    )
                _check_value(item, f"{path}[{key!r}]", containers)
        else:
            for i, item in enumerate(value):
                _check_value(item, f"{path}[{i}]", containers)
        containers.discard(id(value))
    elif isinstance(value, float) and not math.isfinite(value):
        raise StoreError(
            N_("%(path)s is %(value)r; a record can hold finite numbers only (use None)"),
            params={"path": path, "value": value},
        )
    elif not isinstance(value, _SCALARS):
        raise StoreError(
            N_(
                "%(path)s is %(value)s (type %(type)s), which a record cannot store; use "
                "text, a number, true/false, None, a list or a dict"
            ),
            params={
                "path": path,
                "type": type(value).__name__,
                "value": " ".join(reprlib.repr(value).split()),  # short, on one line
            },
        )


def record_json(body: object) -> str:
    """Return ``body`` as JSON text, or raise :class:`StoreError` naming the first bad value.

    A body is a dict with text keys whose values are text, finite numbers, booleans, None,
    lists (or tuples, read back as lists) and dicts of the same. Anything else, such as a
    date, a NumPy integer or a set, is refused with its key path (``body['weights'][2]``)
    rather than stored in a form that would read back differently.

    Parameters
    ----------
    body : object
        The proposed record body.

    Raises
    ------
    StoreError
        ``body`` is not a dict, or holds a value that JSON cannot represent exactly.
    """
    if not isinstance(body, dict):
        raise StoreError(
            N_("a record body must be a dict, not %(type)s"),
            params={"type": type(body).__name__},
        )
    try:
        _check_value(body, "body", set())
        return json.dumps(body, ensure_ascii=False, allow_nan=False)
    except RecursionError:
        raise StoreError(N_("the record body is nested too deeply to store")) from None


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _conflict(
    workspace: str,
    collection: str,
    name: str,
    expected: int,
    latest: RecordVersion | None,
) -> ConflictError:
    """The error for a save based on version ``expected`` when ``latest`` is the latest."""
    record = f"{workspace}/{collection}/{name}"
    if latest is None:
        return ConflictError(
            N_(
                "%(record)s no longer exists (it was deleted); your change was based on "
                "version %(expected)s"
            ),
            params={"record": record, "expected": expected},
            expected=expected,
        )
    params = {
        "record": record,
        "expected": expected,
        "latest": latest.version,
        "user": latest.created_by,
        "time": _when(latest.created_at),
    }
    if expected == 0:
        template = (
            N_(
                "%(record)s already exists: version %(latest)s was saved by %(user)s at "
                "%(time)s; load it and apply your change to it"
            )
            if latest.created_by
            else N_(
                "%(record)s already exists: version %(latest)s was saved at %(time)s; "
                "load it and apply your change to it"
            )
        )
    else:
        template = (
            N_(
                "%(record)s was changed meanwhile: version %(latest)s was saved by %(user)s "
                "at %(time)s, but your change was based on version %(expected)s; reload it "
                "and apply your change again"
            )
            if latest.created_by
            else N_(
                "%(record)s was changed meanwhile: version %(latest)s was saved at %(time)s, "
                "but your change was based on version %(expected)s; reload it and apply "
                "your change again"
            )
        )
    return ConflictError(template, params=params, latest=latest, expected=expected)


class RecordsMixin:
    """The record methods of :class:`~layers.storage.sql.SQLStore`.

    Relies on the store's ``_transaction``, ``_workspace_row``, ``_check_initialised`` and
    ``_layout`` (the table layout version found in the store).
    """

    _initialised: bool
    _layout: int | None

    if TYPE_CHECKING:

        def _audit(self, conn: Connection, **fields: Any) -> None: ...
        def _transaction(self, *, write: bool = False) -> Iterator[Connection]: ...
        def _workspace_row(self, conn: Connection, name: str, *, lock: bool = False) -> Any: ...
        def _check_initialised(self) -> None: ...

    def _require_records(self) -> None:
        """Raise :class:`StoreError` unless the store's tables include ``records``."""
        if not self._initialised or (self._layout or 0) < RECORDS_LAYOUT:
            # (another process may have upgraded the store since it was opened)
            self._initialised = False
            self._check_initialised()
        if (self._layout or 0) < RECORDS_LAYOUT:
            raise StoreError(
                N_(
                    "the store %(store)s has table layout %(found)s, which cannot keep "
                    "records yet; run Store.init() (the command line's init command) to "
                    "upgrade it in place"
                ),
                params={"store": repr(self), "found": self._layout},
            )

    @staticmethod
    def _record(row: Any, workspace: str) -> RecordVersion:
        return RecordVersion(
            id=row.id,
            workspace=workspace,
            collection=row.collection,
            name=row.name,
            version=row.version,
            body=json.loads(row.body_json),
            created_at=utc(row.created_at),
            created_by=row.created_by,
            note=row.note,
        )

    def put_record(
        self,
        workspace: str,
        collection: str,
        name: str,
        body: dict[str, Any],
        *,
        created_by: str | None = None,
        note: str = "",
        expected_version: int | None = None,
    ) -> RecordVersion:
        """Save ``body`` as the next version of a record, in one transaction.

        Parameters
        ----------
        workspace : str
            An existing workspace.
        collection : str
            The record's collection (a slug such as ``"profiles"``).
        name : str
            The record's name in the collection (a slug).
        body : dict
            The document: text keys; text, finite numbers, booleans, None, lists and dicts.
        created_by : str, optional
            Who is saving.
        note : str
            Why: free text.
        expected_version : int, optional
            The version this save is based on (the one the user loaded and edited); 0 when
            the record must not exist yet. When given and not the latest version, nothing
            is saved and :class:`ConflictError` says who saved the latest one and when.
            None saves unconditionally.

        Returns
        -------
        RecordVersion
            The version saved: the previous highest version of the record plus one.

        Raises
        ------
        ConflictError
            ``expected_version`` is not the latest version.
        NotFoundError
            The workspace does not exist.
        StoreError
            Invalid input (the message names the offending key path of ``body``).
        """
        check_name(collection, "collection")
        check_name(name, "record")
        body_json = record_json(body)
        if expected_version is not None:
            check_version(expected_version, "expected_version", minimum=0)
        if created_by is not None and not isinstance(created_by, str):
            raise StoreError(
                N_("created_by must be text or None, not %(value)r"), params={"value": created_by}
            )
        if not isinstance(note, str):
            raise StoreError(N_("note must be text, not %(value)r"), params={"value": note})
        self._require_records()
        created_at = datetime.now(UTC)
        r = records_table
        with self._transaction(write=True) as conn:
            workspace_id = self._workspace_row(conn, workspace, lock=True).id
            latest_row = conn.execute(
                sa.select(r)
                .where(r.c.workspace_id == workspace_id)
                .where(r.c.collection == collection)
                .where(r.c.name == name)
                .order_by(r.c.version.desc())
                .limit(1)
            ).first()
            latest = None if latest_row is None else self._record(latest_row, workspace)
            latest_version = 0 if latest is None else latest.version
            if expected_version is not None and expected_version != latest_version:
                raise _conflict(workspace, collection, name, expected_version, latest)
            version = latest_version + 1
            result = conn.execute(
                r.insert().values(
                    workspace_id=workspace_id,
                    collection=collection,
                    name=name,
                    version=version,
                    body_json=body_json,
                    created_at=created_at,
                    created_by=created_by,
                    note=note,
                )
            )
            record_id = result.inserted_primary_key[0]
            old, new = changes(None if latest is None else latest.body, json.loads(body_json))
            self._audit(
                conn,
                actor=created_by,
                workspace=workspace,
                action="save",
                target_kind="record",
                target=f"{collection}/{name}@{version}",
                summary=note or f"{collection}/{name} version {version}",
                before=old,
                after=new,
                at=created_at,
            )
        return RecordVersion(
            id=record_id,
            workspace=workspace,
            collection=collection,
            name=name,
            version=version,
            body=json.loads(body_json),
            created_at=created_at,
            created_by=created_by,
            note=note,
        )

    def _record_versions(
        self, conn: Connection, workspace: str, workspace_id: int, collection: str, name: str
    ) -> list[int]:
        """The versions of a record, ascending; :class:`NotFoundError` when it has none."""
        r = records_table
        versions = list(
            conn.execute(
                sa.select(r.c.version)
                .where(r.c.workspace_id == workspace_id)
                .where(r.c.collection == collection)
                .where(r.c.name == name)
                .order_by(r.c.version)
            ).scalars()
        )
        if versions:
            return versions
        names = ", ".join(
            conn.execute(
                sa.select(r.c.name)
                .where(r.c.workspace_id == workspace_id)
                .where(r.c.collection == collection)
                .distinct()
                .order_by(r.c.name)
            ).scalars()
        )
        params = {"record": name, "workspace": workspace, "collection": collection}
        if names:
            raise NotFoundError(
                N_("no record %(record)r in %(workspace)s/%(collection)s; records: %(known)s"),
                params={**params, "known": names},
            )
        collections = ", ".join(
            conn.execute(
                sa.select(r.c.collection)
                .where(r.c.workspace_id == workspace_id)
                .distinct()
                .order_by(r.c.collection)
            ).scalars()
        )
        raise NotFoundError(
            N_(
                "no record %(record)r in %(workspace)s/%(collection)s: the collection is "
                "empty; collections: %(known)s"
            )
            if collections
            else N_(
                "no record %(record)r in %(workspace)s/%(collection)s: workspace "
                "%(workspace)s has no records yet"
            ),
            params={**params, "known": collections},
        )

    def get_record(
        self, workspace: str, collection: str, name: str, version: int | None = None
    ) -> RecordVersion:
        """Return a record version (the latest when ``version`` is None).

        Raises
        ------
        NotFoundError
            Unknown workspace, record or version; the message lists what exists (the
            workspace's collections when the collection is empty).
        StoreError
            Invalid names or version.
        """
        check_name(collection, "collection")
        check_name(name, "record")
        if version is not None:
            check_version(version)
        self._require_records()
        r = records_table
        with self._transaction() as conn:
            workspace_id = self._workspace_row(conn, workspace).id
            versions = self._record_versions(conn, workspace, workspace_id, collection, name)
            if version is None:
                version = versions[-1]
            elif version not in versions:
                raise NotFoundError(
                    N_("no version %(version)s of %(record)s; versions: %(known)s"),
                    params={
                        "version": version,
                        "record": f"{workspace}/{collection}/{name}",
                        "known": ", ".join(map(str, versions)),
                    },
                )
            row = conn.execute(
                sa.select(r)
                .where(r.c.workspace_id == workspace_id)
                .where(r.c.collection == collection)
                .where(r.c.name == name)
                .where(r.c.version == version)
            ).one()
            return self._record(row, workspace)

    def list_records(
        self, workspace: str, collection: str | None = None, *, all_versions: bool = False
    ) -> list[RecordVersion]:
        """List records ordered by collection, name and version.

        Parameters
        ----------
        workspace : str
            The workspace (:class:`NotFoundError` when unknown).
        collection : str, optional
            Only this collection; every collection when None.
        all_versions : bool
            Every version instead of the latest of each record.
        """
        if collection is not None:
            check_name(collection, "collection")
        self._require_records()
        r = records_table
        with self._transaction() as conn:
            workspace_id = self._workspace_row(conn, workspace).id
            query = (
                sa.select(r)
                .where(r.c.workspace_id == workspace_id)
                .order_by(r.c.collection, r.c.name, r.c.version)
            )
            if collection is not None:
                query = query.where(r.c.collection == collection)
            if not all_versions:
                latest = (
                    sa.select(r.c.collection, r.c.name, sa.func.max(r.c.version).label("version"))
                    .where(r.c.workspace_id == workspace_id)
                    .group_by(r.c.collection, r.c.name)
                    .subquery()
                )
                query = query.join(
                    latest,
                    sa.and_(
                        latest.c.collection == r.c.collection,
                        latest.c.name == r.c.name,
                        latest.c.version == r.c.version,
                    ),
                )
            return [self._record(row, workspace) for row in conn.execute(query)]

    def delete_record(
        self, workspace: str, collection: str, name: str, *, deleted_by: str | None = None
    ) -> None:
        """Delete every version of a record; the audit trail keeps its last body.

        ``deleted_by`` names who deleted it, for the audit trail.

        Raises
        ------
        NotFoundError
            Unknown workspace or record; the message lists what exists.
        """
        check_name(collection, "collection")
        check_name(name, "record")
        self._require_records()
        r = records_table
        with self._transaction(write=True) as conn:
            workspace_id = self._workspace_row(conn, workspace, lock=True).id
            versions = self._record_versions(conn, workspace, workspace_id, collection, name)
            last = conn.execute(
                sa.select(r.c.body_json)
                .where(r.c.workspace_id == workspace_id)
                .where(r.c.collection == collection)
                .where(r.c.name == name)
                .where(r.c.version == versions[-1])
            ).scalar()
            old, _ = changes(json.loads(last), None)
            self._audit(
                conn,
                actor=deleted_by,
                workspace=workspace,
                action="delete",
                target_kind="record",
                target=f"{collection}/{name}",
                summary=f"{collection}/{name} deleted ({len(versions)} versions)",
                before=old,
            )
            conn.execute(
                r.delete()
                .where(r.c.workspace_id == workspace_id)
                .where(r.c.collection == collection)
                .where(r.c.name == name)
            )

    def _delete_records(self, conn: Connection, workspace_id: int) -> None:
        """Delete every record of a workspace inside the caller's transaction."""
        if (self._layout or 0) >= RECORDS_LAYOUT:
            conn.execute(records_table.delete().where(records_table.c.workspace_id == workspace_id))
