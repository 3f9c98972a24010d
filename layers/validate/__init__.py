"""Validate a raw layer into its canonical schema, repairing what is safe and reporting all.

:func:`import_layer` reads a file (:mod:`layers.io`) and returns the canonical layer with
its :class:`~layers.report.ValidationReport`. Nothing here writes anywhere: storing is
:mod:`layers.importer`'s job, and only happens when the caller decides the report is
acceptable. File-level problems (unreadable file, missing required column, no CRS) raise
:class:`~layers.errors.InputError`; row-level problems become findings.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import geopandas as gpd
import pandas as pd
import shapely

from layers import codes as codes_mod
from layers.errors import N_, InputError
from layers.io import RawLayer, read_layer
from layers.placement import VillageIndex
from layers.report import ValidationReport
from layers.schema import get_spec
from layers.validate.checker import RowChecker, check_values
from layers.validate.columns import (
    CODE_SYSTEMS,
    INTERNAL_COLUMNS,
    PERIOD_COLUMNS,
    match_columns,
    norm_name,
    require_columns,
)
from layers.validate.geometry import check_crs
from layers.validate.kinds import build_indicators, build_points, build_villages
from layers.validate.places import village_codes

__all__ = ["CODE_SYSTEMS", "ImportResult", "import_layer", "match_columns", "validate_layer"]


@dataclass
class ImportResult:
    """A validated layer, ready to store, and what validation found.

    Attributes
    ----------
    data : geopandas.GeoDataFrame or pandas.DataFrame
        Canonical layer (EPSG:4326), rejected rows removed.
    report : ValidationReport
        Row-by-row findings and counts.
    source_name, source_sha256 : str
        The file's name and the SHA-256 of its bytes.
    kind : str
        Layer kind.
    """

    data: gpd.GeoDataFrame | pd.DataFrame
    report: ValidationReport
    source_name: str
    source_sha256: str
    kind: str
    column_map: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no row was rejected."""
        return self.report.ok


def validate_layer(
    raw: RawLayer,
    kind: str,
    *,
    workspace_villages: gpd.GeoDataFrame | None = None,
    bridge: codes_mod.CodeBridge | None = None,
    code_system: str = "kemendagri",
    crs: str | None = None,
    mapping: dict[str, str] | None = None,
    swap_repair: bool = False,
    today: date | None = None,
    village_index: VillageIndex | None = None,
    load_villages: Callable[[], tuple[gpd.GeoDataFrame | None, VillageIndex | None]] | None = None,
) -> ImportResult:
    """Validate a raw layer into its canonical schema.

    Parameters
    ----------
    raw : RawLayer
        As returned by :func:`layers.io.read_layer`.
    kind : {"villages", "facilities", "needs", "indicators"}
        Target layer kind.
    workspace_villages : GeoDataFrame, optional
        The workspace's villages (canonical, EPSG:4326): points are placed in them, codes
        checked against them, and swapped coordinates detected against their area.
    bridge : CodeBridge, optional
        BPS <-> Kemendagri bridge; needed for ``code_system="bps"`` and to check
        Kemenkes facility codes against the village a facility falls in.
    code_system : {"kemendagri", "bps"}
        The system of the layer's village code column.
    crs : str, optional
        CRS of the file when it has none (e.g. ``"EPSG:32748"``).
    mapping : dict, optional
        ``{canonical column: file column}`` overrides.
    swap_repair : bool
        Swap back coordinates detected as lat/lon swapped (otherwise only warned).
    today : datetime.date, optional
        Reference date for "reported in the future" checks (default: today).
    village_index : VillageIndex, optional
        ``workspace_villages`` already indexed for placing points (as
        :class:`layers.placement.VillageIndex` builds it from their geometries and codes),
        when the caller built it beforehand; built here otherwise.
    load_villages : callable, optional
        Returns ``(workspace_villages, village_index)``; called once, when validation
        first needs the villages (after the values are checked), so the caller can read
        them meanwhile. Given, it replaces both arguments.

    Returns
    -------
    ImportResult
    """
    spec = get_spec(kind)
    if code_system not in CODE_SYSTEMS:
        raise ValueError(
            f"code_system must be one of {', '.join(CODE_SYSTEMS)}, not {code_system!r}"
        )
    _check_villages(workspace_villages)
    report = ValidationReport(kind=kind, file=raw.source, rows_read=len(raw.frame))
    report.notes.update({"format": raw.format, "code_system": code_system})
    if raw.notes:
        report.notes["reader"] = list(raw.notes)
    if len(raw.frame) == 0:
        raise InputError(N_("the file has no rows"), file=raw.source)
    columns = [str(c) for c in raw.frame.columns]
    found = match_columns(columns, spec, mapping, raw.source)
    geo = bool(raw.coordinate_columns) or (
        "geometry" in raw.frame.columns
        and not shapely.is_missing(raw.frame.geometry.to_numpy()).all()
    )
    require_columns(spec, found, columns, raw.source, bool(geo))
    v = RowChecker(raw, spec, report)

    used = set(found.values()) | set(raw.coordinate_columns)
    period = next((c for c in columns if norm_name(c) in PERIOD_COLUMNS), None)
    if spec.kind == "indicators" and period:
        used.add(period)
    extra = [c for c in columns if c not in used and c not in INTERNAL_COLUMNS]

    kode = village_codes(v, found, code_system, bridge)
    if kode is not None:
        v.out["kode"] = kode
    check_values(v, found)
    if kode is not None:
        v.out["kode"] = kode  # check_values must not overwrite the normalised codes

    if load_villages is not None:
        workspace_villages, village_index = load_villages()
        _check_villages(workspace_villages)
    if spec.kind == "indicators":
        data = build_indicators(v, extra, period, workspace_villages, found)
    else:
        if extra:
            report.add("warning", "column_ignored", value=", ".join(extra))
        geom = check_crs(raw, crs, report) if spec.geometry else None
        if spec.kind == "villages":
            data = build_villages(v, geom, found)
        else:
            data = build_points(
                v, geom, found, workspace_villages, bridge, swap_repair, today, village_index
            )
    report.accepted = len(data)
    report.rejected_count = int((~v.keep).sum())
    report.repaired_count = int((v.repaired & v.keep).sum())
    return ImportResult(
        data=data,
        report=report,
        source_name=raw.source,
        source_sha256=raw.sha256,
        kind=kind,
        column_map=found,
    )


def _check_villages(villages: gpd.GeoDataFrame | None) -> None:
    if villages is not None and "kode" not in villages.columns:
        raise ValueError("workspace_villages must be a canonical villages layer with 'kode'")


def import_layer(
    path: str | os.PathLike,
    kind: str,
    *,
    workspace_villages: gpd.GeoDataFrame | None = None,
    bridge: codes_mod.CodeBridge | None = None,
    code_system: str = "kemendagri",
    crs: str | None = None,
    mapping: dict[str, str] | None = None,
    swap_repair: bool = False,
    layer: str | None = None,
    sheet: str | None = None,
    today: date | None = None,
) -> ImportResult:
    """Read and validate a file as a layer of ``kind``; writes nothing.

    Parameters are those of :func:`validate_layer`, plus ``path`` and the ``layer`` (for
    GeoPackages with several layers) or ``sheet`` (for workbooks) to read.

    Raises
    ------
    InputError
        For file-level problems, naming the file.
    """
    get_spec(kind)
    if code_system not in CODE_SYSTEMS:
        raise ValueError(
            f"code_system must be one of {', '.join(CODE_SYSTEMS)}, not {code_system!r}"
        )
    raw = read_layer(path, layer=layer, sheet=sheet)
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
    )
