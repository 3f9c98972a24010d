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

import codecs
import csv
import hashlib
import io
import os
import re
import warnings
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyogrio
import shapely

from layers.errors import InputError

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
_LABELS = {
    "geojson": "GeoJSON",
    "gpkg": "GeoPackage",
    "shapefile": "Shapefile",
    "kml": "KML",
    "csv": "CSV",
    "xlsx": "Excel (.xlsx)",
}
_BLANK = ("", "nan", "none", "null", "-")
_NUMBER = r"[+-]?(?:\d+(?:[.,]\d+)?|[.,]\d+)"
_PAIR_RE = (
    rf"^\s*[\[\(]?\s*(?P<lat>{_NUMBER})\s*(?:[,;]\s*|\s+)(?P<lon>{_NUMBER})"
    rf"(?:(?:\s*[,;]\s*|\s+){_NUMBER}){{0,2}}\s*[\]\)]?\s*$"
)
_DECIMAL_COMMA_RE = r"[+-]?\d*,\d+"

# Column names (normalised: lower case, last part of a group path, separators as "_").
_LAT_NAMES = ("latitude", "lat", "lintang", "lat_dd", "latitude_dd", "latitud", "gps_latitude")
_LON_NAMES = (
    "longitude",
    "lon",
    "lng",
    "long",
    "bujur",
    "lon_dd",
    "longitude_dd",
    "longitud",
    "gps_longitude",
)
_XY_PAIRS = (
    ("x", "y"),
    ("point_x", "point_y"),
    ("xcoord", "ycoord"),
    ("x_coord", "y_coord"),
    ("coord_x", "coord_y"),
    ("koordinat_x", "koordinat_y"),
    ("easting", "northing"),
)
_GEOLOCATION = "geolocation"  # Kobo's _geolocation, normalised
_POINT_NAMES = (
    "koordinat",
    "coordinates",
    "coordinate",
    "titik_koordinat",
    "lokasi",
    "location",
    "gps",
    "geopoint",
    "latlon",
    "lat_lon",
    "latlong",
    "lat_long",
)
_WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "geometri")
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
# Columns LIBKML adds to every KML layer that never carry a user's data.
_KML_STYLE_COLUMNS = ("altitudeMode", "tessellate", "extrude", "visibility", "drawOrder", "icon")
_KML_OPTIONAL_COLUMNS = ("id", "timestamp", "begin", "end", "Name", "description")


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
    """

    frame: gpd.GeoDataFrame
    source: str
    format: str
    rows: np.ndarray
    crs_from_file: bool
    coordinate_columns: tuple[str, ...]
    notes: list[str]
    sha256: str


def supported_extensions() -> tuple[str, ...]:
    """Return the file extensions :func:`read_layer` accepts (lower case, with the dot)."""
    return tuple(sorted(_EXTENSIONS))


# --------------------------------------------------------------------------- entry points


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
    p, source, fmt = _check_file(path)
    if sheet is not None and fmt != "xlsx":
        raise InputError("a sheet can only be chosen in an .xlsx file", file=source)
    if layer is not None and fmt in ("csv", "xlsx"):
        raise InputError(
            "a layer can only be chosen in a GeoPackage, KML or zipped Shapefile", file=source
        )
    digest = _sha256(p)
    if fmt in ("csv", "xlsx"):
        return _read_table(p, source, fmt, sheet, digest)
    return _read_vector(p, source, fmt, layer, digest)


def list_layers(path: str | os.PathLike[str]) -> list[str]:
    """Return the choices a user has inside a file: layers, zipped ``.shp`` files or sheets.

    An empty list means the file has a single table and nothing to choose.
    """
    p, source, fmt = _check_file(path)
    if fmt == "xlsx":
        return _sheet_names(p, source)
    if fmt == "shapefile" and p.suffix.lower() == ".zip":
        with _open_zip(p, source) as zf:
            return [m for m in _zip_members(zf) if m.lower().endswith(".shp")]
    if fmt in ("gpkg", "kml"):
        gdal_path = _kmz_path(p, source) if p.suffix.lower() == ".kmz" else str(p)
        return _layer_names(gdal_path, source, fmt, skip_empty=fmt == "kml")
    return []


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
    _check_exists(p, source)
    if p.suffix.lower() not in RASTER_EXTENSIONS:
        raise InputError(
            f"a raster must be a GeoTIFF ({', '.join(RASTER_EXTENSIONS)}), "
            f"not '{p.suffix or 'no extension'}'",
            file=source,
        )
    try:
        with warnings.catch_warnings(), rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"):
            # A plain TIFF warns that it is not georeferenced; the error below says it.
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            ds = rasterio.open(p)
        with ds:
            if ds.driver != "GTiff":
                raise InputError(f"not a GeoTIFF (GDAL reads it as {ds.driver})", file=source)
            has_transform = not ds.transform.is_identity
            if ds.crs is None and not has_transform and not ds.gcps[0]:
                raise InputError(
                    "the TIFF has no georeferencing (no CRS and no geotransform)", file=source
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
        reason = _clean_reason(exc, [str(p), str(p.resolve())], source)
        raise InputError(f"not a readable GeoTIFF: {reason}", file=source) from exc
    info["sha256"] = _sha256(p)
    return info


# --------------------------------------------------------------------------- common helpers


def _check_exists(p: Path, source: str) -> None:
    if not p.exists():
        raise InputError(f"file not found: {p}", file=source)
    if p.is_dir():
        raise InputError("this is a folder, not a file", file=source)
    if p.stat().st_size == 0:
        raise InputError("the file is empty (0 bytes)", file=source)


def _check_file(path: str | os.PathLike[str]) -> tuple[Path, str, str]:
    p = Path(path)
    source = p.name
    ext = p.suffix.lower()
    if ext in RASTER_EXTENSIONS:
        _check_exists(p, source)
        raise InputError(
            "a GeoTIFF is a raster (e.g. population per pixel), not a table of features; "
            "load it as a raster layer",
            file=source,
        )
    if ext not in _EXTENSIONS:
        raise InputError(
            f"unsupported file type '{ext or 'no extension'}'; supported: "
            f"{', '.join(supported_extensions())} (and {', '.join(RASTER_EXTENSIONS)} rasters)",
            file=source,
        )
    _check_exists(p, source)
    return p, source, _EXTENSIONS[ext]


def _sha256(p: Path) -> str:
    h = hashlib.sha256()
    with p.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _clean_reason(exc: BaseException, paths: list[str], source: str) -> str:
    """The library's message with file system paths replaced by the user's file name."""
    text = str(exc) or type(exc).__name__
    for path in sorted({p for p in paths if p}, key=len, reverse=True):
        text = text.replace(path, source)
    text = text.split("; It might help to specify the correct driver", 1)[0]  # GDAL's advice
    text = re.sub(r"\s+", " ", text).strip().rstrip(".;")
    return text[:300]


def _norm(name: object) -> str:
    """Normalise a column name for matching: last group part, lower case, '_' separators."""
    text = str(name).strip().lower()
    text = text.rsplit("/", 1)[-1]
    text = re.sub(r"\(.*?\)|\[.*?\]", "", text)  # "Lintang (LS)", "lat [deg]"
    text = re.sub(r"[\s\-:.]+", "_", text)
    return text.strip("_")


def _is_kobo(columns: list[str]) -> bool:
    names = {str(c).strip().lower() for c in columns}
    names |= {n.rsplit("/", 1)[-1] for n in names if n.startswith(("meta/", "formhub/"))}
    return bool(names & _KOBO_MARKERS)


# --------------------------------------------------------------------------- vector files


def _read_vector(p: Path, source: str, fmt: str, layer: str | None, digest: str) -> RawLayer:
    notes: list[str] = []
    encoding = None
    ext = p.suffix.lower()
    if fmt == "shapefile":
        gdal_path, encoding, notes = _shapefile(p, source, layer)
        layer_name = None
    else:
        gdal_path = _kmz_path(p, source) if ext == ".kmz" else str(p)
        names = _layer_names(gdal_path, source, fmt, skip_empty=fmt == "kml")
        layer_name = _choose_layer(names, layer, source, fmt)
    frame = _gdal_read(gdal_path, source, fmt, layer_name, encoding, [str(p), str(p.resolve())])
    if fmt == "kml":
        frame = _tidy_kml(frame)
        if frame.crs is None:
            frame = frame.set_crs(WGS84)  # KML coordinates are always WGS 84 lon/lat
    if len(frame) == 0:
        raise InputError("the file has no features", file=source)
    if fmt == "geojson" and _is_kobo(list(frame.columns)):
        fmt = "kobo-geojson"
    geoms = frame.geometry.to_numpy()
    present = ~shapely.is_missing(geoms)
    if present.any() and shapely.has_z(geoms[present]).any():
        notes.append("coordinates have a Z (altitude) value")
    if not present.any():
        notes.append("no feature has a geometry")
    return RawLayer(
        frame=frame,
        source=source,
        format=fmt,
        rows=np.arange(1, len(frame) + 1, dtype=np.int64),
        crs_from_file=frame.crs is not None,
        coordinate_columns=(),
        notes=notes,
        sha256=digest,
    )


def _layer_names(gdal_path: str, source: str, fmt: str, *, skip_empty: bool) -> list[str]:
    try:
        layers = pyogrio.list_layers(gdal_path)
    except Exception as exc:
        raise _unreadable(exc, source, fmt, [gdal_path]) from exc
    names = [str(n) for n in layers[:, 0]] if len(layers) else []
    if skip_empty and len(names) > 1:
        counted = []
        for name in names:
            try:
                count = pyogrio.read_info(gdal_path, layer=name, force_feature_count=True)
            except Exception:  # an unreadable folder is simply not offered
                continue
            if count["features"]:
                counted.append(name)
        names = counted or names[:1]
    return names


def _choose_layer(names: list[str], layer: str | None, source: str, fmt: str) -> str:
    if not names:
        raise InputError(f"the {_LABELS[fmt]} file has no vector layers", file=source)
    if layer is not None:
        if layer not in names:
            raise InputError(
                f"no layer named '{layer}'; the layers are: {', '.join(names)}", file=source
            )
        return layer
    if len(names) > 1:
        raise InputError(
            f"the file has {len(names)} layers ({', '.join(names)}); choose which one to import",
            file=source,
        )
    return names[0]


def _gdal_read(
    gdal_path: str,
    source: str,
    fmt: str,
    layer: str | None,
    encoding: str | None,
    paths: list[str],
) -> gpd.GeoDataFrame:
    kwargs: dict[str, Any] = {"layer": layer, "encoding": encoding}
    try:
        frame = pyogrio.read_dataframe(gdal_path, use_arrow=True, **kwargs)
    except Exception:
        # Arrow cannot carry every OGR field type; the row-by-row path can.
        try:
            frame = pyogrio.read_dataframe(gdal_path, use_arrow=False, **kwargs)
        except Exception as exc:
            raise _unreadable(exc, source, fmt, [gdal_path, *paths]) from exc
    if not isinstance(frame, gpd.GeoDataFrame):  # an attribute-only table
        frame = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([None] * len(frame)), crs=None)
    return frame


def _unreadable(exc: BaseException, source: str, fmt: str, paths: list[str]) -> InputError:
    reason = _clean_reason(exc, paths, source)
    return InputError(f"cannot read the file as {_LABELS[fmt]}: {reason}", file=source)


def _tidy_kml(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Drop the styling columns LIBKML adds, and its optional ones when they are empty."""
    drop = [c for c in _KML_STYLE_COLUMNS if c in frame.columns]
    drop += [c for c in _KML_OPTIONAL_COLUMNS if c in frame.columns and frame[c].isna().all()]
    return frame.drop(columns=drop)


def _kmz_path(p: Path, source: str) -> str:
    """GDAL path of the main KML document inside a KMZ (doc.kml, else the shallowest .kml)."""
    with _open_zip(p, source) as zf:
        kmls = [m for m in _zip_members(zf) if m.lower().endswith(".kml")]
    if not kmls:
        raise InputError("the KMZ archive holds no .kml document", file=source)
    main = min(kmls, key=lambda m: (PurePosixPath(m).name.lower() != "doc.kml", m.count("/"), m))
    return f"/vsizip/{p.resolve()}/{main}"


def _open_zip(p: Path, source: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(p)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise InputError("unreadable archive: not a valid ZIP file", file=source) from exc


def _zip_members(zf: zipfile.ZipFile) -> list[str]:
    """Files in a zip, without folders and the metadata macOS adds."""
    out = []
    for info in zf.infolist():
        name = info.filename
        if info.is_dir() or name.startswith("__MACOSX/") or PurePosixPath(name).name[:2] == "._":
            continue
        out.append(name)
    return out


def _shapefile(p: Path, source: str, layer: str | None) -> tuple[str, str | None, list[str]]:
    """Locate a Shapefile (bare or zipped) and decide how to decode its attributes.

    Returns the GDAL path of the ``.shp``, the encoding to pass to GDAL (None when a
    ``.cpg`` says it) and the notes.
    """
    notes: list[str] = []
    if p.suffix.lower() == ".zip":
        with _open_zip(p, source) as zf:
            members = _zip_members(zf)
            shps = [m for m in members if m.lower().endswith(".shp")]
            if not shps:
                listed = ", ".join(members[:10]) + (" ..." if len(members) > 10 else "")
                raise InputError(
                    f"the archive holds no .shp file (it has: {listed or 'nothing'})",
                    file=source,
                )
            if layer is not None:
                chosen = [m for m in shps if layer in (m, PurePosixPath(m).stem)]
                if not chosen:
                    raise InputError(
                        f"no .shp named '{layer}' in the archive; it has: {', '.join(shps)}",
                        file=source,
                    )
                shp = chosen[0]
            elif len(shps) > 1:
                raise InputError(
                    f"the archive holds {len(shps)} shapefiles ({', '.join(shps)}); "
                    "choose which one to import",
                    file=source,
                )
            else:
                shp = shps[0]
            stem = shp[:-4]
            parts = {m[len(stem) :].lower(): m for m in members if m[: len(stem)] == stem}
            _require_parts(parts, PurePosixPath(shp).name, source)
            try:
                dbf = zf.read(parts[".dbf"])
            except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as exc:
                raise InputError(
                    f"unreadable archive: cannot extract {parts['.dbf']}", file=source
                ) from exc
        gdal_path = f"/vsizip/{p.resolve()}/{shp}"
    else:
        if layer is not None:
            raise InputError("a layer can only be chosen in a zip of shapefiles", file=source)
        siblings = {
            q.name[len(p.stem) :].lower(): q.name
            for q in p.parent.iterdir()
            if q.name[: len(p.stem)] == p.stem
        }
        _require_parts(siblings, p.name, source)
        dbf = (p.parent / siblings[".dbf"]).read_bytes()
        gdal_path = str(p)
        parts = siblings
    encoding = None
    if ".cpg" not in parts:
        encoding = _dbf_encoding(dbf)
        notes.append(f"encoding {encoding} (no .cpg file)")
    if ".prj" not in parts:
        notes.append("no .prj file: the coordinate reference system is unknown")
    return gdal_path, encoding, notes


def _require_parts(parts: dict[str, str], shp_name: str, source: str) -> None:
    missing = [ext for ext in (".shx", ".dbf") if ext not in parts]
    if missing:
        stem = shp_name[:-4]
        raise InputError(
            f"the shapefile {shp_name} is incomplete: {', '.join(stem + m for m in missing)} "
            "is missing (a shapefile needs its .shp, .shx and .dbf files together)",
            file=source,
        )


def _dbf_encoding(dbf: bytes) -> str:
    """'utf-8' when the DBF's names and text fields are valid UTF-8, else 'cp1252'."""
    if len(dbf) < 32:
        return "utf-8"
    n_records = int.from_bytes(dbf[4:8], "little")
    header_len = int.from_bytes(dbf[8:10], "little")
    record_len = int.from_bytes(dbf[10:12], "little")
    chunks = []
    text_fields = []
    offset, pos = 1, 32  # byte 0 of each record is the deletion flag
    while pos + 32 <= min(header_len, len(dbf)) and dbf[pos] != 0x0D:
        desc = dbf[pos : pos + 32]
        chunks.append(desc[:11].split(b"\0", 1)[0])
        if chr(desc[11]) == "C":
            text_fields.append((offset, desc[16]))
        offset += desc[16]
        pos += 32
    if record_len and text_fields:
        n = min(n_records, max(0, len(dbf) - header_len) // record_len)
        records = np.frombuffer(dbf, np.uint8, count=n * record_len, offset=header_len)
        records = records.reshape(n, record_len)
        for start, width in text_fields:
            block = records[:, start : start + width]
            if (block >= 0x80).any():  # only non-ASCII text can fail to decode
                sep = np.zeros((n, 1), np.uint8)  # keep fields from joining into a character
                chunks.append(np.hstack([block, sep]).tobytes())
    try:
        for chunk in chunks:
            chunk.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


# --------------------------------------------------------------------------- tables


def _read_table(p: Path, source: str, fmt: str, sheet: str | None, digest: str) -> RawLayer:
    notes: list[str] = []
    if fmt == "csv":
        frame, rows, delimiter = _read_csv(p, source, notes)
    else:
        frame, rows = _read_xlsx(p, source, sheet, notes)
        delimiter = None
    frame, rows = _drop_empty(frame, rows, notes)
    if len(frame) == 0:
        raise InputError("the file has a header but no data rows", file=source)
    kobo = _is_kobo([str(c) for c in frame.columns])
    found = _find_coordinates(frame, kobo)
    coords = _Coordinates(np.full(len(frame), None, dtype=object), None, None, (), [])
    if found is not None:
        coords = _parse_coordinates(frame, *found)
        notes.extend(coords.notes)
        if "geometry" in coords.columns:  # a WKT column called geometry becomes the geometry
            frame = frame.drop(columns="geometry")
        frame[COORD_ERROR] = pd.array(coords.errors, dtype="str")
    else:
        notes.append("no coordinate columns" + _lone_axis_hint(frame))
    if "geometry" in frame.columns:
        frame = frame.rename(columns={"geometry": "geometry_source"})
        notes.append("source column 'geometry' renamed 'geometry_source'")
    if "decimal comma" not in notes and _uses_decimal_comma(frame, delimiter, coords.columns):
        notes.append("decimal comma")
    geometry = gpd.GeoSeries(coords.geometry, index=frame.index)
    gdf = gpd.GeoDataFrame(frame, geometry=geometry, crs=coords.crs)
    return RawLayer(
        frame=gdf,
        source=source,
        format=f"kobo-{fmt}" if kobo else fmt,
        rows=rows,
        crs_from_file=coords.crs is not None,
        coordinate_columns=coords.columns,
        notes=notes,
        sha256=digest,
    )


def _drop_empty(
    frame: pd.DataFrame, rows: np.ndarray, notes: list[str]
) -> tuple[pd.DataFrame, np.ndarray]:
    """Drop rows whose every cell is blank, keeping the line numbers of the others."""
    if frame.shape[1] == 0:
        return frame.iloc[:0], rows[:0]
    blank = np.ones(len(frame), dtype=bool)
    for col in frame.columns:
        s = frame[col]
        blank &= (s.isna() | (s.str.strip() == "")).to_numpy(dtype=bool, na_value=True)
    if blank.any():
        count = int(blank.sum())
        notes.append(f"{count} empty row{'s' if count > 1 else ''} skipped")
        frame = frame.loc[~blank].reset_index(drop=True)
        rows = rows[~blank]
    return frame, rows


def _header_names(raw: list[object], notes: list[str]) -> list[str]:
    """Header cells as column names: stripped, empty ones named, duplicates numbered."""
    names: list[str] = []
    renamed: list[str] = []
    for i, cell in enumerate(raw, start=1):
        name = (_cell_text(cell) or "").strip().lstrip("\ufeff").strip()
        if not name:
            name = f"unnamed_{i}"
        if name in names:
            k = 1
            while f"{name}.{k}" in names or f"{name}.{k}" in raw:
                k += 1
            name = f"{name}.{k}"
            renamed.append(name)
        names.append(name)
    if renamed:
        notes.append(f"duplicate column names renamed: {', '.join(renamed)}")
    return names


def _finish_columns(
    frame: pd.DataFrame, names: list[str], notes: list[str], source: str
) -> pd.DataFrame:
    frame.columns = names
    # A trailing delimiter makes a column with neither header nor values: drop it quietly.
    unnamed = [n for n in names if re.fullmatch(r"unnamed_\d+", n)]
    drop = [n for n in unnamed if _all_blank(frame[n])]
    frame = frame.drop(columns=drop)
    kept = [n for n in unnamed if n not in drop]
    if kept:
        notes.append(f"columns without a header were named {', '.join(kept)}")
    if frame.shape[1] == 0:
        raise InputError("the file has no columns", file=source)
    return frame


def _all_blank(s: pd.Series) -> bool:
    return bool((s.isna() | (s.str.strip() == "")).all())


# ---- CSV


def _decode(data: bytes, notes: list[str]) -> bytes:
    """Return UTF-8 bytes without a BOM; note the encoding the file used."""
    if data.startswith(codecs.BOM_UTF8):
        body = data[3:]
        try:
            body.decode("utf-8")
            notes.append("encoding utf-8 (with BOM)")
            return body
        except UnicodeDecodeError:
            data = body
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        notes.append("encoding utf-16")
        return data.decode("utf-16").encode("utf-8")
    if data.isascii():
        notes.append("encoding utf-8")
        return data
    try:
        data.decode("utf-8")
        notes.append("encoding utf-8")
        return data
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
        notes.append("encoding cp1252")
    except UnicodeDecodeError:  # the five bytes cp1252 leaves undefined
        text = data.decode("latin-1")
        notes.append("encoding latin-1")
    return text.encode("utf-8")


def _sniff(sample: str) -> tuple[str, list[str]]:
    """Pick the delimiter among , ; tab | and return it with the parsed header."""
    lines = sample.splitlines()
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample may cut the last line short
    text = "\n".join(lines[:50])
    best: tuple[float, int, int] = (-1.0, 0, 0)
    choice = ","
    header: list[str] = []
    for rank, delim in enumerate((",", ";", "\t", "|")):
        rows = [r for r in csv.reader(io.StringIO(text), delimiter=delim) if r]
        if not rows:
            continue
        width = len(rows[0])
        if width < 2:
            continue
        consistent = sum(len(r) == width for r in rows) / len(rows)
        score = (consistent, width, -rank)
        if score > best:
            best, choice, header = score, delim, rows[0]
    if not header:
        first = next(csv.reader(io.StringIO(text)), [])
        header = first[:1] if first else []
    return choice, header


def _read_csv(p: Path, source: str, notes: list[str]) -> tuple[pd.DataFrame, np.ndarray, str]:
    data = _decode(p.read_bytes(), notes)
    body = data.lstrip(b"\r\n")
    lead = data[: len(data) - len(body)].count(b"\n") or (1 if len(body) < len(data) else 0)
    sample = body[: 1 << 16].decode("utf-8", errors="ignore")
    if not sample.strip():
        raise InputError("the file holds no text", file=source)
    delimiter, header = _sniff(sample)
    if delimiter != ",":
        notes.append("delimiter " + {"\t": "tab"}.get(delimiter, f"'{delimiter}'"))
    names = _header_names(list(header), notes)
    fields = [f"f{i}" for i in range(len(names))]
    bad: list[Any] = []

    def on_bad(row: Any) -> str:
        bad.append(row)
        return "skip"

    def parse(threads: bool) -> pa.Table:
        bad.clear()
        return pacsv.read_csv(
            io.BytesIO(body),
            read_options=pacsv.ReadOptions(
                use_threads=threads, column_names=fields, skip_rows=1, block_size=1 << 24
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                quote_char='"',
                double_quote=True,
                newlines_in_values=True,
                ignore_empty_lines=False,
                invalid_row_handler=on_bad,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(fields, pa.string()),
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                null_values=[""],
            ),
        )

    try:
        table = parse(True)
        if any(row.number is None for row in bad):  # numbers are known single-threaded
            table = parse(False)
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        reason = _clean_reason(exc, [str(p)], source)
        raise InputError(f"cannot read the file as CSV: {reason}", file=source) from exc
    wrong = [row for row in bad if row.text.strip()]
    if wrong:
        row = wrong[0]
        more = f" ({len(wrong) - 1} more rows like it)" if len(wrong) > 1 else ""
        raise InputError(
            f"this row has {row.actual_columns} fields but the header has "
            f"{row.expected_columns}; check the delimiter and quotes{more}",
            file=source,
            row=row.number + lead,
        )
    # Records are numbered like spreadsheet lines: the header is 1, skipped blank lines count.
    rows = np.arange(2, len(table) + len(bad) + 2, dtype=np.int64)
    if bad:  # lines holding only spaces
        rows = rows[~np.isin(rows, [row.number for row in bad])]
        notes.append(f"{len(bad)} blank line{'s' if len(bad) > 1 else ''} skipped")
    frame = table.to_pandas()
    frame = _finish_columns(frame, names, notes, source)
    return frame, rows + lead, delimiter


# ---- XLSX


def _xlsx_engine() -> str:
    """'calamine' (Rust, about 15 times faster) when installed, else 'openpyxl'."""
    try:
        import python_calamine  # noqa: F401
    except ImportError:
        return "openpyxl"
    return "calamine"


#: The XLSX reader in use; tests switch it to check that both give the same table.
XLSX_ENGINE = _xlsx_engine()


def _unreadable_xlsx(exc: BaseException, p: Path, source: str) -> InputError:
    reason = _clean_reason(exc, [str(p), str(p.resolve())], source)
    return InputError(f"cannot read the file as Excel (.xlsx): {reason}", file=source)


def _sheet_names(p: Path, source: str) -> list[str]:
    try:
        if XLSX_ENGINE == "calamine":
            from python_calamine import CalamineWorkbook

            return list(CalamineWorkbook.from_path(str(p)).sheet_names)
        import openpyxl

        wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
        names = list(wb.sheetnames)
        wb.close()
        return names
    except Exception as exc:  # both raise zip, XML and key errors for broken files
        raise _unreadable_xlsx(exc, p, source) from exc


def _sheet_lines(p: Path, source: str, sheet: str) -> list[list[Any] | tuple[Any, ...]]:
    """Every line of a sheet from line 1, as cell values (empty cells None or '')."""
    try:
        if XLSX_ENGINE == "calamine":
            from python_calamine import CalamineWorkbook

            wb = CalamineWorkbook.from_path(str(p))
            return wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        import openpyxl

        wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
        try:
            return list(wb[sheet].iter_rows(min_row=1, values_only=True))
        finally:
            wb.close()
    except Exception as exc:
        reason = _clean_reason(exc, [str(p), str(p.resolve())], source)
        raise InputError(f"cannot read the sheet '{sheet}': {reason}", file=source) from exc


def _read_xlsx(
    p: Path, source: str, sheet: str | None, notes: list[str]
) -> tuple[pd.DataFrame, np.ndarray]:
    sheets = _sheet_names(p, source)
    if sheet is not None and sheet not in sheets:
        raise InputError(
            f"no sheet named '{sheet}'; the sheets are: {', '.join(sheets)}", file=source
        )
    if not sheets:
        raise InputError("the workbook has no sheets", file=source)
    title = sheet if sheet is not None else sheets[0]
    if len(sheets) > 1 and sheet is None:
        notes.append(f"read the first sheet '{title}' of {len(sheets)}")
    lines = _sheet_lines(p, source, title)
    # The header is the first line with two or more cells filled; a title above it has one.
    filled = [sum(_cell_text(v) is not None for v in row) for row in lines[:200]]
    at = next((i for i, count in enumerate(filled) if count >= 2), None)
    if at is None:
        at = next((i for i, count in enumerate(filled) if count), None)
    if at is None:
        raise InputError(f"the sheet '{title}' is empty", file=source)
    header, records = lines[at], lines[at + 1 :]
    if at > 0:
        notes.append(f"header on line {at + 1}")
    width = max([len(header), *(len(r) for r in records)])
    names = _header_names([*header, *[None] * (width - len(header))], notes)
    columns: dict[str, Any] = {}
    for j, name in enumerate(names):
        cells = [_cell_text(r[j]) if j < len(r) else None for r in records]
        columns[name] = pd.array(cells, dtype="str")
    frame = pd.DataFrame(columns, index=pd.RangeIndex(len(records)))
    frame = _finish_columns(frame, names, notes, source)
    return frame, np.arange(at + 2, at + 2 + len(records), dtype=np.int64)


def _cell_text(value: Any) -> str | None:
    """A spreadsheet cell as the text a person sees (whole numbers without '.0')."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


# ---- coordinates


class _Coordinates(NamedTuple):
    geometry: np.ndarray  # shapely geometries or None, one per row
    errors: np.ndarray | None  # the offending text per row (None where fine)
    crs: str | None
    columns: tuple[str, ...]
    notes: list[str]


def _find_coordinates(frame: pd.DataFrame, kobo: bool) -> tuple[str, tuple[str, ...]] | None:
    """Where the coordinates are: ('latlon'|'xy', (lat, lon)), ('point'|'wkt', (col,))."""
    normed: dict[str, str] = {}
    for col in frame.columns:
        normed.setdefault(_norm(col), col)
    lat = next((normed[n] for n in _LAT_NAMES if n in normed), None)
    lon = next((normed[n] for n in _LON_NAMES if n in normed), None)
    if lat is not None and lon is not None:
        return "latlon", (lat, lon)
    # Kobo `_lokasi_latitude`, ODK Central `lokasi-Latitude`: a question's split geopoint.
    for col in frame.columns:
        n = _norm(col)
        partner = normed.get(n[: -len("latitude")] + "longitude")
        if n.endswith("_latitude") and partner is not None:
            return "latlon", (col, partner)
    if _GEOLOCATION in normed:
        return "point", (normed[_GEOLOCATION],)
    for x_name, y_name in _XY_PAIRS:
        if x_name in normed and y_name in normed:
            return "xy", (normed[y_name], normed[x_name])
    for name in _POINT_NAMES:
        if name in normed and _any_pair(frame[normed[name]]):
            return "point", (normed[name],)
    for name in _WKT_NAMES:
        if name in normed:
            return "wkt", (normed[name],)
    if kobo:  # a Kobo geopoint column under the question's own name: "lat lon alt acc"
        for col in frame.columns:
            if _any_pair(frame[col], need_four=True):
                return "point", (col,)
    return None


def _lone_axis_hint(frame: pd.DataFrame) -> str:
    """Name a latitude column without a longitude one (or the reverse), if there is one."""
    names = {_norm(c): c for c in reversed(frame.columns)}
    lone = [names[n] for n in (*_LAT_NAMES, *_LON_NAMES) if n in names]
    return f" (found '{lone[0]}' but not its partner)" if lone else ""


def _parse_coordinates(frame: pd.DataFrame, kind: str, columns: tuple[str, ...]) -> _Coordinates:
    if kind in ("latlon", "xy"):
        return _parse_pair(frame, columns[0], columns[1], degrees=kind == "latlon")
    if kind == "point":
        return _parse_single(frame, columns[0])
    return _parse_wkt(frame, columns[0])


def _arrow(series: pd.Series) -> pa.Array:
    return pa.array(series.astype("str"), from_pandas=True)


def _blank_mask(text: pa.Array) -> np.ndarray:
    low = pc.utf8_lower(pc.utf8_trim_whitespace(text))
    blank = pc.or_kleene(pc.is_null(low), pc.is_in(low, value_set=pa.array(_BLANK)))
    return np.asarray(blank.fill_null(True).to_numpy(zero_copy_only=False), dtype=bool)


def _numbers(text: pa.Array) -> tuple[np.ndarray, np.ndarray, bool]:
    """Parse coordinate text; return (values, bad mask, decimal comma used)."""
    s = pc.utf8_trim_whitespace(text)
    s = pc.replace_substring(s, "\u2212", "-")  # the minus sign word processors insert
    s = pc.utf8_rtrim(s, characters="°")
    comma = pc.match_substring_regex(s, f"^{_DECIMAL_COMMA_RE}$").fill_null(False)
    used_comma = bool(pc.any(comma).as_py())
    if used_comma:
        s = pc.if_else(comma, pc.replace_substring(s, ",", "."), s)
    blank = _blank_mask(text)
    values = pd.to_numeric(pd.Series(s.to_pandas(), dtype="str"), errors="coerce")
    values = np.array(values.to_numpy(dtype=np.float64, na_value=np.nan))
    values[blank] = np.nan
    bad = ~blank & ~np.isfinite(values)
    return values, bad, used_comma


def _points(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    geoms = np.full(len(lat), None, dtype=object)
    ok = np.isfinite(lat) & np.isfinite(lon)
    geoms[ok] = shapely.points(lon[ok], lat[ok])
    return geoms


def _parse_pair(frame: pd.DataFrame, lat_col: str, lon_col: str, degrees: bool) -> _Coordinates:
    lat_text, lon_text = _arrow(frame[lat_col]), _arrow(frame[lon_col])
    lat, lat_bad, comma1 = _numbers(lat_text)
    lon, lon_bad, comma2 = _numbers(lon_text)
    lat_blank, lon_blank = _blank_mask(lat_text), _blank_mask(lon_text)
    errors = np.full(len(frame), None, dtype=object)
    half = (lat_blank ^ lon_blank) & ~lat_bad & ~lon_bad
    if half.any() or lat_bad.any() or lon_bad.any():
        lat_raw = np.asarray(lat_text.fill_null("(blank)").to_pylist(), dtype=object)
        lon_raw = np.asarray(lon_text.fill_null("(blank)").to_pylist(), dtype=object)
        errors[half] = [f"{a}, {b}" for a, b in zip(lat_raw[half], lon_raw[half], strict=True)]
        errors[lon_bad] = lon_raw[lon_bad]
        errors[lat_bad] = lat_raw[lat_bad]
    geoms = _points(lat, lon)
    notes = ["decimal comma"] if comma1 or comma2 else []
    crs = WGS84 if degrees else None
    if not degrees:
        notes.append(
            f"coordinates from '{lon_col}' (x) and '{lat_col}' (y); "
            "the file does not say their coordinate reference system"
        )
    return _Coordinates(geoms, errors, crs, (lat_col, lon_col), notes)


def _any_pair(series: pd.Series, need_four: bool = False) -> bool:
    """Whether any of the first 1000 values reads as a "lat lon" pair (ODK: 4 numbers)."""
    head = _arrow(series.iloc[:1000])
    pattern = rf"^\s*{_NUMBER}\s+{_NUMBER}\s+{_NUMBER}\s+{_NUMBER}\s*$" if need_four else _PAIR_RE
    return bool(pc.any(pc.match_substring_regex(head, pattern)).as_py())


def _parse_single(frame: pd.DataFrame, col: str) -> _Coordinates:
    """Parse a single column holding "lat, lon", "lat lon", "[lat, lon]" or "lat lon alt acc"."""
    text = _arrow(frame[col])
    # "[None, None]" or "null null" means no location was taken: blank, not an error.
    skeleton = pc.replace_substring_regex(pc.utf8_lower(text), r"[\[\]\(\),;\s]+", " ")
    skeleton = pc.utf8_trim_whitespace(skeleton)
    empty_parts = pc.match_substring_regex(skeleton, r"^((nan|none|null)( (nan|none|null))*)?$")
    blank = _blank_mask(text) | empty_parts.fill_null(True).to_numpy(zero_copy_only=False)
    parts = pc.extract_regex(text, _PAIR_RE)
    lat, lat_bad, comma1 = _numbers(pc.struct_field(parts, "lat"))
    lon, lon_bad, comma2 = _numbers(pc.struct_field(parts, "lon"))
    unmatched = np.asarray(pc.is_null(parts).to_numpy(zero_copy_only=False), dtype=bool)
    bad = ~blank & (unmatched | lat_bad | lon_bad)
    lat[bad | blank] = np.nan
    lon[bad | blank] = np.nan
    errors = np.full(len(frame), None, dtype=object)
    errors[bad] = np.asarray(text.to_pandas(), dtype=object)[bad]
    notes = ["decimal comma"] if comma1 or comma2 else []
    return _Coordinates(_points(lat, lon), errors, WGS84, (col,), notes)


def _parse_wkt(frame: pd.DataFrame, col: str) -> _Coordinates:
    """Parse a WKT column (``SRID=n;`` EWKT prefixes give the CRS)."""
    text = _arrow(frame[col])
    blank = _blank_mask(text)
    srid = pc.extract_regex(text, r"^\s*(?i:srid)=(?P<srid>\d+)\s*;")
    body = pc.replace_substring_regex(text, r"^\s*(?i:srid)=\d+\s*;", "")
    values = np.asarray(body.to_pandas(), dtype=object)
    values[blank] = None
    geoms = shapely.from_wkt(values, on_invalid="ignore")
    bad = ~blank & shapely.is_missing(geoms)
    errors = np.full(len(frame), None, dtype=object)
    errors[bad] = np.asarray(text.to_pandas(), dtype=object)[bad]
    codes = pc.unique(pc.struct_field(srid, "srid").drop_null()).to_pylist()
    notes: list[str] = []
    crs = None
    if len(codes) == 1:
        crs = f"EPSG:{codes[0]}"
    elif len(codes) > 1:
        notes.append(f"several SRIDs in '{col}' ({', '.join(codes)}); CRS left unknown")
    else:
        notes.append(f"geometry from WKT column '{col}'; the file does not say its CRS")
    return _Coordinates(geoms, errors, crs, (col,), notes)


def _uses_decimal_comma(frame: pd.DataFrame, delimiter: str | None, skip: tuple[str, ...]) -> bool:
    """Whether number-like cells are written with a decimal comma (first 1000 rows)."""
    if delimiter == ",":
        return False
    head = frame.iloc[:1000]
    for col in head.columns:
        if col in skip or col == COORD_ERROR:
            continue
        matches = head[col].str.fullmatch(_DECIMAL_COMMA_RE)
        if bool(matches.fillna(False).any()):
            return True
    return False
