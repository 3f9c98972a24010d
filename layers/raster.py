"""Population rasters: validate a GeoTIFF of people per cell before it is stored.

A population raster is optional. When present it refines everything that counts people
(zonal population, population-weighted distances, coverage). It is stored as the GeoTIFF
bytes (exactly as given, or with only the repairs listed in the report), in its own CRS:
reprojecting population counts would resample them and change the totals.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import rasterio
import rasterio.features
import rasterio.transform
import shapely
from rasterio.io import MemoryFile

from layers.errors import N_, InputError
from layers.io import read_raster_info
from layers.report import ValidationReport

__all__ = ["RasterResult", "validate_population_raster"]


@dataclass
class RasterResult:
    """A validated population raster.

    Attributes
    ----------
    data : bytes
        The GeoTIFF to store.
    info : dict
        CRS, bounds, shape, resolution, nodata, dtype, total population (people).
    report : ValidationReport
        What was checked and repaired; rows are not used (cells are counted in notes).
    """

    data: bytes
    info: dict[str, Any]
    report: ValidationReport
    source_name: str
    source_sha256: str
    repaired: bool = False
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when nothing was rejected."""
        return self.report.ok


def validate_population_raster(
    path: str | os.PathLike,
    *,
    workspace_villages: gpd.GeoDataFrame | None = None,
    band: int = 1,
) -> RasterResult:
    """Check a population GeoTIFF: georeferenced, numeric, non-negative, covering the area.

    Parameters
    ----------
    path : path-like
        The GeoTIFF.
    workspace_villages : GeoDataFrame, optional
        The workspace's villages; the share of their area the raster covers is reported
        and a warning given below 95 %.
    band : int
        Band holding people per cell (default 1).

    Returns
    -------
    RasterResult

    Raises
    ------
    InputError
        When the file is not a readable GeoTIFF, has no CRS, lacks the band, or holds
        no valid cell.
    """
    info = read_raster_info(path)
    source = info["source"]
    if info["crs"] is None:
        raise InputError(
            N_(
                "the raster has no coordinate reference system; write one into the GeoTIFF "
                "(e.g. gdal_edit.py -a_srs EPSG:4326)"
            ),
            file=source,
        )
    if not 1 <= band <= info["count"]:
        raise InputError(
            N_("band %(band)s does not exist; the raster has %(count)s"),
            file=source,
            params={"band": band, "count": info["count"]},
        )
    report = ValidationReport(kind="raster", file=source)
    raw = open(path, "rb").read()  # noqa: SIM115 - bytes stored as given
    with rasterio.open(path) as ds:
        values = ds.read(band, masked=True).astype("float64")
        profile = ds.profile
        transform = ds.transform
        crs = ds.crs
    if not np.issubdtype(np.dtype(info["dtype"]), np.number):
        raise InputError(
            N_("band %(band)s holds %(dtype)s, not numbers"),
            file=source,
            params={"band": band, "dtype": info["dtype"]},
        )
    valid = ~np.ma.getmaskarray(values) & np.isfinite(values.filled(np.nan))
    if not valid.any():
        raise InputError(N_("every cell is nodata; there is no population to use"), file=source)
    negative = valid & (values.filled(0) < 0)
    data = raw
    repaired = False
    if info["count"] > 1:
        report.add("warning", "raster_band_used", band=band, count=info["count"])
    if info["nodata"] is None:
        report.add("warning", "raster_no_nodata")
    if negative.any():
        # Negative people are impossible: mark those cells as nodata, keep everything else.
        nodata = info["nodata"] if info["nodata"] is not None else -1.0
        fixed = values.filled(nodata)
        fixed[negative] = nodata
        profile.update(count=1, nodata=nodata, dtype="float32")
        with MemoryFile() as mem:
            with mem.open(**profile) as out:
                out.write(fixed.astype("float32"), 1)
            data = mem.read()
        report.add("repaired", "raster_negative_cells", count=int(negative.sum()))
        valid &= ~negative
        repaired = True
    total = float(values.filled(0)[valid].sum())
    notes = {
        "cells": int(values.size),
        "valid_cells": int(valid.sum()),
        "population_total": total,
        "crs": info["crs"],
        "bounds": info["bounds"],
        "res": info["res"],
    }
    if workspace_villages is not None and len(workspace_villages):
        covered = _coverage(workspace_villages, valid, transform, crs)
        notes["village_area_covered"] = covered
        if covered < 0.95:
            report.add("warning", "raster_partial_coverage", share=f"{covered:.0%}")
    report.notes.update(notes)
    report.rows_read = report.accepted = int(valid.sum())
    info = {**info, **notes}
    return RasterResult(
        data=data,
        info=info,
        report=report,
        source_name=source,
        source_sha256=info["sha256"],
        repaired=repaired,
    )


def _coverage(villages: gpd.GeoDataFrame, valid: np.ndarray, transform, crs) -> float:
    """Share of the villages' area (counted in raster cells) that holds a valid value.

    Villages near the raster are rasterised on the raster's own grid, extended to reach
    them where they lie beyond its edges, so area outside the raster counts as not
    covered. Villages whose bounding box misses the raster entirely count by their area
    in cells, without being rasterised: a province raster in a national workspace does
    not need a national grid.
    """
    shapes = np.array(
        [g for g in villages.to_crs(crs).geometry if g is not None and not g.is_empty],
        dtype=object,
    )
    if not len(shapes):
        return 0.0
    res_x, res_y = transform.a, -transform.e
    rx0, ry1 = transform.c, transform.f
    rx1, ry0 = rx0 + valid.shape[1] * res_x, ry1 - valid.shape[0] * res_y
    b = shapely.bounds(shapes)
    near = (b[:, 2] >= rx0) & (b[:, 0] <= rx1) & (b[:, 3] >= ry0) & (b[:, 1] <= ry1)
    far_cells = float(shapely.area(shapes[~near]).sum() / (res_x * res_y))
    if not near.any():
        return 0.0
    minx, miny = b[near, 0].min(), b[near, 1].min()
    maxx, maxy = b[near, 2].max(), b[near, 3].max()
    left = int(np.floor((minx - transform.c) / res_x))
    top = int(np.floor((transform.f - maxy) / res_y))
    right = int(np.ceil((maxx - transform.c) / res_x))
    bottom = int(np.ceil((transform.f - miny) / res_y))
    col0, row0 = min(left, 0), min(top, 0)
    width = max(right, valid.shape[1]) - col0
    height = max(bottom, valid.shape[0]) - row0
    grid = rasterio.transform.from_origin(
        transform.c + col0 * res_x, transform.f - row0 * res_y, res_x, res_y
    )
    inside = rasterio.features.rasterize(
        ((g, 1) for g in shapes[near]),
        out_shape=(height, width),
        transform=grid,
        fill=0,
        dtype="uint8",
    ).astype(bool)
    extended = np.zeros((height, width), dtype=bool)
    extended[-row0 : -row0 + valid.shape[0], -col0 : -col0 + valid.shape[1]] = valid
    total = inside.sum() + far_cells
    if total <= 0:
        return 0.0
    return float((inside & extended).sum() / total)
