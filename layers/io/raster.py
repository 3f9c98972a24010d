"""GeoTIFF rasters: metadata only, the pixels are read elsewhere."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from layers.errors import N_, InputError
from layers.io.common import RASTER_EXTENSIONS, check_exists, clean_reason, file_sha256


def read_raster_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Describe a GeoTIFF without reading its pixels.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.tif``/``.tiff`` file.

    Returns
    -------
    dict
        ``source``, ``format`` ('geotiff'), ``crs`` (e.g. 'EPSG:4326', WKT when there is no
        EPSG code, None when absent), ``crs_from_file``, ``bounds`` (left, bottom, right,
        top in CRS units), ``shape`` (rows, columns), ``count`` (bands), ``res`` (pixel
        width, height in CRS units), ``transform`` (6 affine coefficients), ``nodata``,
        ``dtype`` and ``sha256``.

    Raises
    ------
    InputError
        Missing, empty or not a readable, georeferenced GeoTIFF.
    """
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioError

    p = Path(path)
    source = p.name
    check_exists(p, source)
    if p.suffix.lower() not in RASTER_EXTENSIONS:
        raise InputError(
            N_("a raster must be a GeoTIFF (%(allowed)s), not '%(ext)s'")
            if p.suffix
            else N_("a raster must be a GeoTIFF (%(allowed)s), not a file without extension"),
            file=source,
            params={"allowed": ", ".join(RASTER_EXTENSIONS), "ext": p.suffix},
        )
    try:
        with warnings.catch_warnings(), rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"):
            # A plain TIFF warns that it is not georeferenced; the error below says it.
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            ds = rasterio.open(p)
        with ds:
            if ds.driver != "GTiff":
                raise InputError(
                    N_("not a GeoTIFF (GDAL reads it as %(driver)s)"),
                    file=source,
                    params={"driver": ds.driver},
                )
            has_transform = not ds.transform.is_identity
            if ds.crs is None and not has_transform and not ds.gcps[0]:
                raise InputError(
                    N_("the TIFF has no georeferencing (no CRS and no geotransform)"),
                    file=source,
                )
            crs = None
            if ds.crs is not None:
                epsg = ds.crs.to_epsg()
                crs = f"EPSG:{epsg}" if epsg else ds.crs.to_wkt()
            info = {
                "source": source,
                "format": "geotiff",
                "crs": crs,
                "crs_from_file": ds.crs is not None,
                "bounds": tuple(float(v) for v in ds.bounds),
                "shape": (int(ds.height), int(ds.width)),
                "count": int(ds.count),
                "res": tuple(float(v) for v in ds.res),
                "transform": tuple(float(v) for v in tuple(ds.transform)[:6]),
                "nodata": ds.nodata,
                "dtype": str(ds.dtypes[0]),
            }
    except InputError:
        raise
    except (RasterioError, OSError, ValueError) as exc:
        reason = clean_reason(exc, [str(p), str(p.resolve())], source)
        raise InputError(
            N_("not a readable GeoTIFF: %(reason)s"), file=source, params={"reason": reason}
        ) from exc
    info["sha256"] = file_sha256(p)
    return info
