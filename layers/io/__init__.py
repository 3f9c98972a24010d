"""Read any supported input file into a raw table, before validation.

:func:`read_layer` turns a user's file into a :class:`RawLayer`: every source column as
read, a ``geometry`` column, and the row numbers the user sees. Nothing is checked here
beyond "can the file be read at all"; :mod:`layers.validate` maps columns onto the
canonical schemas, checks values and writes the report.

Supported inputs
----------------
- Vector files through GDAL (pyogrio, Arrow where it works): GeoJSON (``.geojson``,
  ``.json``, including KoboToolbox GeoJSON exports), GeoPackage (``.gpkg``), Shapefile
  (zipped ``.zip`` or a bare ``.shp`` beside its ``.shx``/``.dbf``), KML and KMZ.
- Tables: CSV/TXT/TSV and XLSX, including KoboToolbox and ODK exports. Every attribute
  column is read as text (codes keep their leading zeros); coordinates come from a
  latitude/longitude pair, a single "lat, lon" column (``koordinat``, ``_geolocation``,
  an ODK ``gps`` column "lat lon alt acc") or a WKT column, and become points in
  EPSG:4326 (WKT and x/y columns keep an unknown CRS unless the file says otherwise).
- GeoTIFF rasters: :func:`read_raster_info` (metadata only).

A coordinate that is present but not a number leaves the row's geometry empty and is
recorded in the text column ``_coord_error`` (the offending value) so that validation
rejects that row by name; blank coordinates simply give no geometry.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from layers.errors import N_, InputError
from layers.io.common import (
    COORD_ERROR,
    RASTER_EXTENSIONS,
    RawLayer,
    check_file,
    file_sha256,
    supported_extensions,
)
from layers.io.raster import read_raster_info
from layers.io.tables import read_table
from layers.io.vector import kmz_path, layer_names, open_zip, read_vector, zip_members
from layers.io.xlsx import default_engine, sheet_names

__all__ = [
    "COORD_ERROR",
    "RASTER_EXTENSIONS",
    "XLSX_ENGINE",
    "RawLayer",
    "list_layers",
    "read_layer",
    "read_raster_info",
    "supported_extensions",
]

#: The XLSX reader in use; tests switch it to check that both give the same table.
#: :func:`read_layer` and :func:`list_layers` read it on every call.
XLSX_ENGINE = default_engine()


def read_layer(
    path: str | os.PathLike[str], *, layer: str | None = None, sheet: str | None = None
) -> RawLayer:
    """Read a vector or tabular file into a :class:`RawLayer`; the file is never modified.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Its extension decides the reader (see :func:`supported_extensions`).
    layer : str, optional
        Layer of a GeoPackage or KML, or the ``.shp`` inside a zip holding several.
        Required when there are several.
    sheet : str, optional
        Worksheet of an XLSX file; the first sheet by default.

    Returns
    -------
    RawLayer

    Raises
    ------
    InputError
        Missing, empty, unsupported or unreadable file, an ambiguous layer, or a CSV row
        whose number of fields differs from the header's. The message names the file and,
        where known, the row and column.
    """
    p, source, fmt = check_file(path)
    if sheet is not None and fmt != "xlsx":
        raise InputError(N_("a sheet can only be chosen in an .xlsx file"), file=source)
    if layer is not None and fmt in ("csv", "xlsx"):
        raise InputError(
            N_("a layer can only be chosen in a GeoPackage, KML or zipped Shapefile"), file=source
        )
    # Hash the file on another thread while it is read (hashlib releases the GIL).
    with ThreadPoolExecutor(1) as pool:
        digest = pool.submit(file_sha256, p)
        if fmt in ("csv", "xlsx"):
            raw = read_table(p, source, fmt, sheet, "", XLSX_ENGINE)
        else:
            raw = read_vector(p, source, fmt, layer, "")
        return replace(raw, sha256=digest.result())


def list_layers(path: str | os.PathLike[str]) -> list[str]:
    """Return the choices a user has inside a file: layers, zipped ``.shp`` files or sheets.

    An empty list means the file has a single table and nothing to choose.
    """
    p, source, fmt = check_file(path)
    if fmt == "xlsx":
        return sheet_names(p, source, XLSX_ENGINE)
    if fmt == "shapefile" and p.suffix.lower() == ".zip":
        with open_zip(p, source) as zf:
            return [m for m in zip_members(zf) if m.lower().endswith(".shp")]
    if fmt in ("gpkg", "kml"):
        gdal_path = kmz_path(p, source) if p.suffix.lower() == ".kmz" else str(p)
        return layer_names(gdal_path, source, fmt, skip_empty=fmt == "kml")
    return []
