"""What every reader shares: the result type, file checks, hashing and error text."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np

from layers.errors import N_, InputError

WGS84 = "EPSG:4326"
#: Text column added to tabular inputs with coordinates: the offending value, or None.
COORD_ERROR = "_coord_error"
#: Raster extensions read by :func:`read_raster_info`.
RASTER_EXTENSIONS: tuple[str, ...] = (".tif", ".tiff")

_EXTENSIONS = {
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
    ".zip": "shapefile",
    ".shp": "shapefile",
    ".kml": "kml",
    ".kmz": "kml",
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
}
_KOBO_MARKERS = {
    "_uuid",
    "_submission_time",
    "_geolocation",
    "_xform_id_string",
    "_validation_status",
    "_submitted_by",
    "__version__",
    "meta/instanceid",
    "formhub/uuid",
    "instanceid",
    "submissiondate",
    "meta-instanceid",
}


@dataclass
class RawLayer:
    """A file read as-is, before validation.

    Attributes
    ----------
    frame : geopandas.GeoDataFrame
        All source columns as read; CSV/XLSX attribute columns are text (never numbers).
        The geometry column is ``geometry`` (all None when the table has no coordinates).
        Tabular inputs with coordinates also have the text column ``_coord_error``.
    source : str
        The file's name as the user gave it (basename).
    format : str
        ``geojson``, ``gpkg``, ``shapefile``, ``kml``, ``csv``, ``xlsx``, ``kobo-csv``,
        ``kobo-xlsx`` or ``kobo-geojson``.
    rows : numpy.ndarray
        The row number the user sees, per record: the spreadsheet line for CSV/XLSX
        (header = line 1), the 1-based feature number for vector files.
    crs_from_file : bool
        False when the file gave no CRS (``frame.crs`` is None then); latitude/longitude
        columns count as EPSG:4326 from the file.
    coordinate_columns : tuple of str
        The source columns the coordinates came from; empty if none.
    notes : list of str
        What the reader noticed or assumed (``encoding cp1252``, ``decimal comma``...).
    sha256 : str
        SHA-256 of the file's bytes.
    point_xy : tuple of numpy.ndarray or None
        When every geometry was read as a 2D point (or none): their x and y, NaN where a
        row has no geometry, as read (before any CRS change); None otherwise. Lets
        placement start from the coordinates while the rest is checked.
    """

    frame: gpd.GeoDataFrame
    source: str
    format: str
    rows: np.ndarray
    crs_from_file: bool
    coordinate_columns: tuple[str, ...]
    notes: list[str]
    sha256: str
    point_xy: tuple[np.ndarray, np.ndarray] | None = None


def supported_extensions() -> tuple[str, ...]:
    """Return the file extensions :func:`read_layer` accepts (lower case, with the dot)."""
    return tuple(sorted(_EXTENSIONS))


def check_exists(p: Path, source: str) -> None:
    """Raise :class:`InputError` unless ``p`` is an existing, non-empty file."""
    if not p.exists():
        raise InputError(N_("file not found: %(path)s"), file=source, params={"path": str(p)})
    if p.is_dir():
        raise InputError(N_("this is a folder, not a file"), file=source)
    if p.stat().st_size == 0:
        raise InputError(N_("the file is empty (0 bytes)"), file=source)


def check_file(path: str | os.PathLike[str]) -> tuple[Path, str, str]:
    """Check a feature file; return its path, its name and the format its extension gives."""
    p = Path(path)
    source = p.name
    ext = p.suffix.lower()
    if ext in RASTER_EXTENSIONS:
        check_exists(p, source)
        raise InputError(
            N_(
                "a GeoTIFF is a raster (e.g. population per pixel), not a table of features; "
                "load it as a raster layer"
            ),
            file=source,
        )
    if ext not in _EXTENSIONS:
        template = (
            N_(
                "unsupported file type '%(ext)s'; supported: %(supported)s "
                "(and %(rasters)s rasters)"
            )
            if ext
            else N_(
                "unsupported file type (no extension); supported: %(supported)s "
                "(and %(rasters)s rasters)"
            )
        )
        raise InputError(
            template,
            file=source,
            params={
                "ext": ext,
                "supported": ", ".join(supported_extensions()),
                "rasters": ", ".join(RASTER_EXTENSIONS),
            },
        )
    check_exists(p, source)
    return p, source, _EXTENSIONS[ext]


def file_sha256(p: Path) -> str:
    """SHA-256 of the file's bytes, as hex."""
    h = hashlib.sha256()
    with p.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def clean_reason(exc: BaseException, paths: list[str], source: str) -> str:
    """The library's message with file system paths replaced by the user's file name."""
    text = str(exc) or type(exc).__name__
    for path in sorted({p for p in paths if p}, key=len, reverse=True):
        text = text.replace(path, source)
    text = text.split("; It might help to specify the correct driver", 1)[0]  # GDAL's advice
    text = re.sub(r"\s+", " ", text).strip().rstrip(".;")
    return text[:300]


def is_kobo(columns: list[str]) -> bool:
    """Whether the columns include those KoboToolbox or ODK add to every export."""
    names = {str(c).strip().lower() for c in columns}
    names |= {n.rsplit("/", 1)[-1] for n in names if n.startswith(("meta/", "formhub/"))}
    return bool(names & _KOBO_MARKERS)
