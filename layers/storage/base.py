"""The store's interface, its records, and the input checks every backend applies.

A store keeps *workspaces* (one per area of work, e.g. ``merangin``) and, in each, named
*datasets* (``villages``, ``facilities``, ...). Every import writes a new immutable
*version* of a dataset: version 1, 2, 3, ... per (workspace, name). Earlier versions stay
readable, so a score computed last month can be recomputed from the data it used.
Besides layers, a workspace keeps *derived tables* (kind ``"derived"``: results such as a
score run's table) and *records*: small JSON documents in named collections (scoring
profiles, score runs, ...), versioned the same way, with who saved each version, when and why.

:class:`Store` is the interface the web app and the CLI use. :mod:`layers.storage.sql`
implements it with SQLAlchemy Core for both backends, the embedded SQLite store
(:mod:`layers.storage.sqlite`) and the PostGIS store (:mod:`layers.storage.postgis`).
"""

from __future__ import annotations

import abc
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import geopandas as gpd
import pandas as pd

from layers.errors import N_, StoreError
from layers.errors import ConflictError as ConflictError  # part of the store's interface
from layers.report import ValidationReport
from layers.schema import IMPORT_KINDS, KINDS, SPECS

#: Kind of a derived table: any frame the codec can store (a score run's results, ...).
DERIVED_KIND = "derived"
#: Every kind a dataset version can have: the layer kinds, ``raster`` and ``derived``.
DATASET_KINDS: tuple[str, ...] = (*IMPORT_KINDS, DERIVED_KIND)

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


@dataclass(frozen=True)
class RecordVersion:
    """One stored, immutable version of a record: a JSON document in a collection.

    Attributes
    ----------
    id : int
        Store-internal identifier.
    workspace : str
        Workspace name.
    collection : str
        What kind of document, e.g. ``"profiles"`` or ``"score_runs"`` (a slug).
    name : str
        The record's name in its collection (a slug).
    version : int
        1 for the first save of ``name`` in the collection, then 2, 3, ...
    body : dict
        The document, as read back from its JSON (lists where tuples were given).
    created_at : datetime
        When the version was saved, timezone-aware UTC.
    created_by : str or None
        Who saved it.
    note : str
        Why: free text given when saving.
    """

    id: int
    workspace: str
    collection: str
    name: str
    version: int
    body: dict[str, Any]
    created_at: datetime
    created_by: str | None
    note: str

    @property
    def ref(self) -> str:
        """``"workspace/collection/name@version"``, e.g. ``"merangin/profiles/default@3"``."""
        return f"{self.workspace}/{self.collection}/{self.name}@{self.version}"


# --- the interface -----------------------------------------------------------------------


class Store(abc.ABC):
    """Versioned storage of validated layers, derived tables and records, grouped in workspaces.

    Obtain one with :func:`layers.storage.open_store`. A store is safe to share between
    the threads of a web server; every method runs in its own transaction.
    """

    @abc.abstractmethod
    def init(self) -> None:
        """Create the tables when missing (idempotent)."""

    @abc.abstractmethod
    def create_workspace(
        self,
        name: str,
        title: str | None = None,
        description: str = "",
        *,
        created_by: str | None = None,
    ) -> Workspace:
        """Create a workspace; raise :class:`StoreError` when the name is taken or invalid."""

    @abc.abstractmethod
    def get_workspace(self, name: str) -> Workspace:
        """Return a workspace; raise :class:`NotFoundError` naming the known ones."""

    @abc.abstractmethod
    def list_workspaces(self) -> list[Workspace]:
        """Return all workspaces, by name."""

    @abc.abstractmethod
    def delete_workspace(self, name: str, *, deleted_by: str | None = None) -> None:
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
        """Write several datasets (``(kind, data, name, report)`` each) as their next
        versions in ONE transaction: all of them or none; :class:`ConflictError` when
        ``expected_versions`` (name -> version, 0 for none yet) is not the latest;
        ``changes`` (name -> row values before and after) goes into the audit trail."""

    @abc.abstractmethod
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
        """Read a dataset version (the latest by default) exactly as it was written.

        ``geometry=False`` leaves the geometry out and returns a plain DataFrame.
        """

    @abc.abstractmethod
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
        """Write a GeoTIFF (bytes) as the next version of raster dataset ``name``."""

    @abc.abstractmethod
    def read_raster(self, workspace: str, name: str, version: int | None = None) -> bytes:
        """Return the GeoTIFF bytes of a raster dataset version, exactly as written."""

    @abc.abstractmethod
    def dataset_info(self, workspace: str, name: str, version: int | None = None) -> DatasetVersion:
        """Describe a dataset version (the latest by default)."""

    @abc.abstractmethod
    def list_datasets(
        self,
        workspace: str | None = None,
        *,
        all_versions: bool = False,
        kinds: str | Iterable[str] | None = None,
    ) -> list[DatasetVersion]:
        """List the latest version of each dataset (or every version), by workspace and name.

        Layers only (every kind but ``derived``) unless ``kinds`` says which kinds to list.
        """

    @abc.abstractmethod
    def get_report(self, workspace: str, name: str, version: int | None = None) -> dict[str, Any]:
        """Return the validation report stored with a dataset version."""

    @abc.abstractmethod
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
        """Save ``body`` as the next version of a record; :class:`ConflictError` when
        ``expected_version`` is given and is not the latest version."""

    @abc.abstractmethod
    def get_record(
        self, workspace: str, collection: str, name: str, version: int | None = None
    ) -> RecordVersion:
        """Return a record version (the latest by default)."""

    @abc.abstractmethod
    def list_records(
        self, workspace: str, collection: str | None = None, *, all_versions: bool = False
    ) -> list[RecordVersion]:
        """List the latest version of each record (or every version), by collection and name."""

    @abc.abstractmethod
    def delete_record(
        self, workspace: str, collection: str, name: str, *, deleted_by: str | None = None
    ) -> None:
        """Delete every version of a record."""

    @abc.abstractmethod
    def list_audit(self, **filters: Any) -> tuple[list[Any], int]:
        """Return audit entries (newest first) matching ``filters``, and their total count."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the store's connections."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- validation helpers ------------------------------------------------------------------


#: Messages for a name that breaks the naming rule, by what is named.
NAME_ERRORS: dict[str, str] = {
    "workspace": N_(
        "invalid workspace name %(value)r: use 1 to 64 lowercase letters, digits, "
        "'-' or '_' (for example 'merangin' or 'puskesmas_2024')"
    ),
    "dataset": N_(
        "invalid dataset name %(value)r: use 1 to 64 lowercase letters, digits, "
        "'-' or '_' (for example 'merangin' or 'puskesmas_2024')"
    ),
    "collection": N_(
        "invalid collection name %(value)r: use 1 to 64 lowercase letters, digits, "
        "'-' or '_' (for example 'profiles' or 'score_runs')"
    ),
    "record": N_(
        "invalid record name %(value)r: use 1 to 64 lowercase letters, digits, "
        "'-' or '_' (for example 'default' or 'health-2024')"
    ),
}


def check_name(value: object, what: str) -> str:
    """Return ``value`` when it is a valid slug, else raise :class:`StoreError` saying why.

    Parameters
    ----------
    value : object
        The proposed name.
    what : str
        ``"workspace"``, ``"dataset"``, ``"collection"`` or ``"record"``, for the message.
    """
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        template = NAME_ERRORS.get(what, NAME_ERRORS["dataset"])
        raise StoreError(template, params={"value": value})
    return value


def check_bbox(bbox: Sequence[float]) -> Bounds:
    """Return ``bbox`` as four floats ``(minx, miny, maxx, maxy)`` or raise :class:`StoreError`."""
    try:
        values = tuple(float(v) for v in bbox)
    except (TypeError, ValueError):
        raise StoreError(
            N_("bbox must be four numbers (minx, miny, maxx, maxy), not %(bbox)r"),
            params={"bbox": bbox},
        ) from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise StoreError(
            N_("bbox must be four finite numbers (minx, miny, maxx, maxy), not %(bbox)r"),
            params={"bbox": bbox},
        )
    minx, miny, maxx, maxy = values
    if minx > maxx or miny > maxy:
        raise StoreError(
            N_("bbox %(bbox)r has min greater than max; expected (minx, miny, maxx, maxy)"),
            params={"bbox": bbox},
        )
    return values  # type: ignore[return-value]


def check_layer(kind: str, data: object) -> None:
    """Raise :class:`StoreError` unless ``data`` can be stored as a layer of ``kind``.

    A canonical kind (:data:`layers.schema.KINDS`) needs its schema's frame type, CRS and
    required columns. A ``derived`` table may be any DataFrame, or a GeoDataFrame whose
    geometry has a CRS; whether its columns can be stored is checked by the codec.
    """
    if kind == DERIVED_KIND:
        _check_derived(data)
        return
    if kind not in KINDS:
        raise StoreError(
            N_("unknown layer kind %(kind)r; expected one of %(kinds)s"),
            params={"kind": kind, "kinds": ", ".join((*KINDS, DERIVED_KIND))},
        )
    spec = SPECS[kind]
    if not isinstance(data, pd.DataFrame):
        raise StoreError(
            N_("a %(kind)s layer must be a DataFrame, not %(type)s"),
            params={"kind": kind, "type": type(data).__name__},
        )
    if spec.geometry:
        if not isinstance(data, gpd.GeoDataFrame) or data._geometry_column_name not in data:
            raise StoreError(
                N_("a %(kind)s layer must be a GeoDataFrame with a geometry column"),
                params={"kind": kind},
            )
        if data.crs is None:
            raise StoreError(
                N_(
                    "the %(kind)s layer has no coordinate reference system; set one "
                    "(layers are stored in EPSG:4326) before storing it"
                ),
                params={"kind": kind},
            )
    elif isinstance(data, gpd.GeoDataFrame):
        raise StoreError(
            N_("a %(kind)s layer is a table without geometry; pass a plain DataFrame"),
            params={"kind": kind},
        )
    missing = [c.name for c in spec.columns if c.required and c.name not in data.columns]
    if missing:
        raise StoreError(
            N_("the %(kind)s layer lacks required columns: %(columns)s"),
            params={"kind": kind, "columns": ", ".join(missing)},
        )


def _check_derived(data: object) -> None:
    if not isinstance(data, pd.DataFrame):
        raise StoreError(
            N_("a derived table must be a DataFrame or GeoDataFrame, not %(type)s"),
            params={"type": type(data).__name__},
        )
    if (
        isinstance(data, gpd.GeoDataFrame)
        and data._geometry_column_name in data
        and data.crs is None
    ):
        raise StoreError(
            N_(
                "the derived table's geometry has no coordinate reference system; "
                "set one before storing it"
            )
        )


def check_kinds(kinds: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """Return ``kinds`` as a tuple of known dataset kinds (None stays None), or raise.

    Parameters
    ----------
    kinds : str, iterable of str or None
        One kind, several, or None.

    Raises
    ------
    StoreError
        A kind is not one of :data:`DATASET_KINDS`.
    """
    if kinds is None:
        return None
    values = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    unknown = [k for k in values if k not in DATASET_KINDS]
    if unknown or not values:
        raise StoreError(
            N_("unknown dataset kinds %(kinds)r; expected some of %(known)s"),
            params={"kinds": unknown or list(values), "known": ", ".join(DATASET_KINDS)},
        )
    return values


def check_version(value: object, what: str = "version", minimum: int = 1) -> int:
    """Return ``value`` when it is a whole number of at least ``minimum``, else raise.

    Parameters
    ----------
    value : object
        The proposed version.
    what : str
        The argument's name, for the message.
    minimum : int
        The smallest allowed value.

    Raises
    ------
    StoreError
        ``value`` is not an ``int`` (booleans and floats are refused) or is too small.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise StoreError(
            N_("%(what)s must be a whole number from %(minimum)s, not %(value)r"),
            params={"what": what, "minimum": minimum, "value": value},
        )
    return value


def report_counts(report: dict[str, Any]) -> dict[str, int]:
    """Return the counts of a stored report (``ValidationReport.to_dict()``), or ``{}``."""
    counts = report.get("counts")
    if isinstance(counts, dict):
        return {str(k): int(v) for k, v in counts.items()}
    if "kind" in report and "file" in report:
        return ValidationReport.from_dict(report).counts()
    return {}
