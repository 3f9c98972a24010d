"""Import a file into a workspace: validate, then store, all or nothing.

This is the one function the CLI, the web upload and the demo loader call. Validation
happens entirely before the store is touched, and the store writes a dataset version in a
single transaction, so a refused or failed import leaves the store exactly as it was.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pyproj import CRS

from layers.codes import CodeBridge
from layers.errors import N_, InputError, Note, NotFoundError
from layers.gcpause import without_cyclic_gc
from layers.io import RawLayer, read_layer
from layers.memory import memory_kept
from layers.placement import VillageIndex
from layers.raster import RasterResult, validate_population_raster
from layers.report import ValidationReport
from layers.schema import IMPORT_KINDS, STORAGE_CRS
from layers.storage.base import DatasetVersion, Store
from layers.validate import CODE_SYSTEMS, ImportResult, validate_layer
from layers.validate.kinds import village_index as build_village_index

__all__ = ["IMPORT_KINDS", "ImportNote", "ImportOutcome", "check_file", "import_into_store"]

VILLAGES_DATASET = "villages"


class ImportNote(Note):
    """Something an import noticed after storing the version."""

    TEMPLATES: ClassVar[dict[str, str]] = {
        "zonal_failed": N_(
            "the population raster could not be shared among the villages now "
            "(%(reason)s); each score run will do it instead"
        ),
    }


@dataclass
class ImportOutcome:
    """What an import did.

    Attributes
    ----------
    version : DatasetVersion or None
        The stored version (or the existing one when ``unchanged``); None when refused.
    report : ValidationReport
        The validation report.
    stored : bool
        True when a new version was written.
    unchanged : bool
        True when the same file, with the same options, is already the latest version.
    result : ImportResult or RasterResult or None
        The validation result (the canonical data and its report).
    notes : list of ImportNote
        What happened after the version was stored that the user should know (the
        population raster could not be shared among the villages, ...).
    """

    version: DatasetVersion | None
    report: ValidationReport
    stored: bool
    unchanged: bool = False
    result: ImportResult | RasterResult | None = None
    notes: list[ImportNote] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing was rejected."""
        return self.report.ok


def _placeable_xy(raw: RawLayer | None) -> tuple[np.ndarray, np.ndarray] | None:
    """The file's point coordinates when they are already in the storage CRS, else None."""
    if raw is None or raw.point_xy is None or not raw.crs_from_file:
        return None
    if raw.frame.crs is None or not raw.frame.crs.equals(CRS.from_user_input(STORAGE_CRS)):
        return None
    return raw.point_xy


def _has_dataset(store: Store, workspace: str, name: str) -> bool:
    try:
        store.dataset_info(workspace, name)
    except NotFoundError:
        return False
    return True


@without_cyclic_gc
@memory_kept()
def check_file(
    path: str | os.PathLike | RawLayer,
    kind: str,
    *,
    workspace_villages=None,
    bridge: CodeBridge | None = None,
    code_system: str = "kemendagri",
    crs: str | None = None,
    mapping: dict[str, str] | None = None,
    swap_repair: bool = False,
    layer: str | None = None,
    sheet: str | None = None,
    today: date | None = None,
    village_index: VillageIndex | None = None,
    load_villages: Callable[[], tuple[Any, VillageIndex | None]] | None = None,
) -> ImportResult | RasterResult:
    """Validate a file of any importable kind without storing it.

    Parameters are those of :func:`import_into_store`; ``path`` may also be a file already
    read with :func:`layers.io.read_layer`; ``workspace_villages`` is the workspace's
    villages layer when there is one, and ``village_index`` the same villages indexed
    for placing points when the caller already built it
    (:func:`layers.validate.kinds.village_index`); ``load_villages`` gives both instead,
    called only when validation needs them (see :func:`layers.validate.validate_layer`).
    Returns the validation result, whose ``report`` says what an import would accept,
    repair and reject.
    """
    if kind not in IMPORT_KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(IMPORT_KINDS)}")
    if kind == "raster":
        return validate_population_raster(path, workspace_villages=workspace_villages)
    raw = path if isinstance(path, RawLayer) else read_layer(path, layer=layer, sheet=sheet)
    return validate_layer(
        raw,
        kind,
        workspace_villages=workspace_villages,
        bridge=bridge,
        code_system=code_system,
        crs=crs,
        mapping=mapping,
        swap_repair=swap_repair,
        today=today,
        village_index=village_index,
        load_villages=load_villages,
    )


@without_cyclic_gc
@memory_kept()
def import_into_store(
    store: Store,
    workspace: str,
    path: str | os.PathLike,
    kind: str,
    *,
    name: str | None = None,
    code_system: str = "kemendagri",
    bridge: CodeBridge | str | os.PathLike | None = None,
    crs: str | None = None,
    mapping: dict[str, str] | None = None,
    swap_repair: bool = False,
    skip_rejected: bool = False,
    user: str | None = None,
    layer: str | None = None,
    sheet: str | None = None,
    note: str = "",
    today: date | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> ImportOutcome:
    """Validate a file and store it as a new version of a dataset in a workspace.

    Parameters
    ----------
    store : Store
        Where to write.
    workspace : str
        Existing workspace name.
    path : path-like
        The file to import.
    kind : {"villages", "facilities", "needs", "indicators", "raster"}
        Layer kind; ``raster`` is a population GeoTIFF.
    name : str, optional
        Dataset name (default: the kind). Versions count per name.
    code_system : {"kemendagri", "bps"}
        Code system of the file's village code column.
    bridge : CodeBridge or path, optional
        BPS <-> Kemendagri bridge (object or folder with the bridge CSV files).
    crs, mapping, swap_repair, layer, sheet, today
        Passed to :func:`layers.validate.import_layer`.
    skip_rejected : bool
        Store the accepted rows even when some were rejected (the report keeps every
        rejected row). By default nothing is stored when any row is rejected.
    user : str, optional
        Who imported it.
    note : str
        Free text stored with the version.
    progress : callable, optional
        Called as ``progress(stage, done, total)`` when each stage starts (``"read"``,
        ``"validate"``, ``"store"``), for progress bars.

    Returns
    -------
    ImportOutcome

    Raises
    ------
    InputError
        For file-level problems (nothing is written).
    NotFoundError
        When the workspace does not exist.
    """
    if kind not in IMPORT_KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(IMPORT_KINDS)}")
    if code_system not in CODE_SYSTEMS:
        raise ValueError(
            f"code_system must be one of {', '.join(CODE_SYSTEMS)}, not {code_system!r}"
        )
    store.get_workspace(workspace)
    if not Path(path).exists():
        raise InputError(N_("file not found"), file=str(path))
    if bridge is not None and not isinstance(bridge, CodeBridge):
        bridge = CodeBridge.from_directory(bridge)
    stages = ("read", "validate", "store")

    def stage(name: str) -> None:
        if progress is not None:
            progress(name, stages.index(name), len(stages))

    stage("read")
    villages = None
    villages_ref = None
    raw = None
    pool = None
    future: Future[tuple[Any, VillageIndex | None]] | None = None
    point_xy: Future[tuple[np.ndarray, np.ndarray] | None] = Future()
    if kind != "villages" and _has_dataset(store, workspace, VILLAGES_DATASET):
        info = store.dataset_info(workspace, VILLAGES_DATASET)
        villages_ref = info.ref

        def read_villages() -> tuple[Any, VillageIndex | None]:
            found = store.read_dataset(
                workspace, VILLAGES_DATASET, version=info.version, columns=["kode"]
            )
            if kind not in ("facilities", "needs") or len(found) == 0:
                return found, None
            index = build_village_index(found)
            xy = point_xy.result()
            if xy is not None:
                index.prime(*xy)
            return found, index

        # Read (and index) the workspace's villages while the file is read, and place its
        # points while their other values are checked: both mostly wait on I/O and C
        # code that releases the GIL. Points layers take the villages when placement
        # starts (validate_layer's load_villages).
        pool = ThreadPoolExecutor(1)
        future = pool.submit(read_villages)
    try:
        if kind != "raster":
            raw = read_layer(path, layer=layer, sheet=sheet)
        point_xy.set_result(_placeable_xy(raw))
        load = None
        if future is not None:
            if kind in ("facilities", "needs"):
                load = future.result
            else:
                villages = future.result()[0]
        stage("validate")
        result = check_file(
            raw if raw is not None else path,
            kind,
            workspace_villages=villages,
            bridge=bridge,
            code_system=code_system,
            crs=crs,
            mapping=mapping,
            swap_repair=swap_repair,
            layer=layer,
            sheet=sheet,
            today=today,
            load_villages=load,
        )
    except BaseException:
        # The villages' own failure first, as when they were read before validating.
        if future is not None and raw is not None and future.exception() is not None:
            raise future.exception() from None
        raise
    finally:
        if not point_xy.done():
            point_xy.set_result(None)
        if pool is not None:
            pool.shutdown(wait=True)
    report = result.report
    options: dict[str, Any] = {
        "kind": kind,
        "code_system": code_system,
        "crs": crs,
        "mapping": mapping or {},
        "swap_repair": swap_repair,
        "skip_rejected": skip_rejected,
        "layer": layer,
        "sheet": sheet,
        "villages": villages_ref,
    }
    report.notes["options"] = options
    if isinstance(result, ImportResult):
        report.notes["column_map"] = result.column_map
    dataset = name or ("population" if kind == "raster" else kind)
    if not result.ok and not skip_rejected:
        return ImportOutcome(None, report, stored=False, result=result)
    if isinstance(result, ImportResult) and len(result.data) == 0:
        raise InputError(N_("no row was accepted, so nothing was stored"), file=result.source_name)
    if _has_dataset(store, workspace, dataset):
        latest = store.dataset_info(workspace, dataset)
        if latest.kind != kind:
            raise InputError(
                N_(
                    "dataset %(dataset)r in %(workspace)r holds %(found)s, not %(kind)s; "
                    "choose another name"
                ),
                file=result.source_name,
                params={
                    "dataset": dataset,
                    "workspace": workspace,
                    "found": latest.kind,
                    "kind": kind,
                },
            )
        previous = store.get_report(workspace, dataset, latest.version)
        if (
            latest.source_sha256 == result.source_sha256
            and previous.get("notes", {}).get("options") == options
        ):
            return ImportOutcome(latest, report, stored=False, unchanged=True, result=result)
    stage("store")
    if isinstance(result, RasterResult):
        version = store.put_raster(
            workspace,
            result.data,
            name=dataset,
            source_name=result.source_name,
            source_sha256=result.source_sha256,
            report=report.to_dict(),
            crs=result.info["crs"],
            bounds=result.info["bounds"],
            created_by=user,
            note=note,
        )
        notes = _prepare_zonal(store, workspace, dataset)
        return ImportOutcome(version, report, stored=True, result=result, notes=notes)
    version = store.put_dataset(
        workspace,
        kind,
        result.data,
        name=dataset,
        source_name=result.source_name,
        source_sha256=result.source_sha256,
        report=report.to_dict(),
        created_by=user,
        note=note,
    )
    notes = _prepare_zonal(store, workspace, dataset) if kind == "villages" else []
    return ImportOutcome(version, report, stored=True, result=result, notes=notes)


def _prepare_zonal(store: Store, workspace: str, dataset: str) -> list[Note]:
    """Share the population raster among the villages now, once, for every later score run.

    Only for the workspace's own ``villages`` and ``population`` datasets, and only when
    both exist. A failure here leaves the stored version as it is (the score run computes
    the shares then) and is returned as a note, so the user learns why.
    """
    if dataset not in (VILLAGES_DATASET, "population"):
        return []
    if not (
        _has_dataset(store, workspace, VILLAGES_DATASET)
        and _has_dataset(store, workspace, "population")
    ):
        return []
    from layers.zonal_store import prepare_zonal  # loads the analysis modules: only when needed

    try:
        prepare_zonal(store, workspace)
    except (InputError, ValueError) as exc:
        return [ImportNote("zonal_failed", {"reason": str(exc)})]
    return []
