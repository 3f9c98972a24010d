"""The zonal population of a workspace, kept in the store per villages and raster version.

How a population raster's people fall in each village depends only on one villages version
and one raster version, which never change; it is computed once (when either is imported,
or by the first score run) and kept as two derived tables named after both versions.
"""

from __future__ import annotations

import pandas as pd

from layers.derived import jsonable, table_digest
from layers.errors import NotFoundError
from layers.indicators import villages_on_raster
from layers.storage import DatasetVersion, Store
from layers.zonal import PopulationGrid, ZonalPopulation

__all__ = ["ZONAL_METHOD", "keep_zonal", "kept_zonal", "prepare_zonal", "zonal_names"]

#: Version of the zonal method; kept zonal results of another version are not reused.
ZONAL_METHOD = 1


def zonal_names(villages: DatasetVersion, raster: DatasetVersion) -> tuple[str, str]:
    """Names of the two derived tables (per village, per cell) for these two versions."""
    base = f"zonal-{villages.name}-{villages.version}-{raster.name}-{raster.version}"
    return f"{base}-villages", f"{base}-cells"


def keep_zonal(
    store: Store,
    workspace: str,
    villages_info: DatasetVersion,
    villages: pd.DataFrame,
    raster_info: DatasetVersion,
    grid: PopulationGrid,
    *,
    kept: ZonalPopulation | None = None,
    save: bool = True,
) -> ZonalPopulation:
    """The villages' zonal population: kept in the store once computed, then reused.

    It depends only on one villages version and one raster version (both never change),
    like the village codes points get at import; kept as two derived tables named after
    both versions.
    """
    per_village, per_cell = zonal_names(villages_info, raster_info)
    if kept is not None and len(kept.population) == len(villages):
        return kept
    result = villages_on_raster(villages.geometry.to_numpy(), villages.crs, grid)
    if save:
        frames = result.to_frames()
        notes = {
            "method": ZONAL_METHOD,
            "villages": villages_info.ref,
            "raster": raster_info.ref,
            "zonal": jsonable(result.notes),
        }
        for name, frame in zip((per_village, per_cell), frames, strict=True):
            store.put_dataset(
                workspace,
                "derived",
                frame,
                name=name,
                source_name=f"zonal population of {villages_info.ref} on {raster_info.ref}",
                source_sha256=table_digest(frame),
                report={"kind": "derived", "notes": notes},
            )
    return result


def kept_zonal(
    store: Store, workspace: str, per_village: str, per_cell: str
) -> ZonalPopulation | None:
    """The zonal population kept under the two table names of :func:`zonal_names`.

    Returns
    -------
    ZonalPopulation or None
        None when the tables do not exist or were made by another version of the method.
    """
    try:
        notes = store.get_report(workspace, per_village).get("notes", {})
        if notes.get("method") != ZONAL_METHOD:
            return None
        return ZonalPopulation.from_frames(
            store.read_dataset(workspace, per_village),
            store.read_dataset(workspace, per_cell),
            notes.get("zonal", {}),
        )
    except NotFoundError:
        return None


def prepare_zonal(store: Store, workspace: str) -> bool:
    """Compute and keep the zonal population of the latest villages and raster, if both exist.

    Called after a raster or villages import, so the first score run does not pay for it.
    Returns True when it was computed or already kept.
    """
    try:
        villages_info = store.dataset_info(workspace, "villages")
        raster_info = store.dataset_info(workspace, "population")
    except NotFoundError:
        return False
    if villages_info.kind != "villages" or raster_info.kind != "raster":
        return False
    kept = kept_zonal(store, workspace, *zonal_names(villages_info, raster_info))
    if kept is not None:
        return True
    villages = store.read_dataset(workspace, "villages", villages_info.version)
    grid = PopulationGrid.from_bytes(store.read_raster(workspace, "population"))
    keep_zonal(store, workspace, villages_info, villages, raster_info, grid)
    return True
