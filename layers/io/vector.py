"""Vector files through GDAL: GeoJSON, GeoPackage, Shapefile (bare or zipped), KML, KMZ."""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import pyogrio.geopandas as pyogrio_geopandas
import shapely

from layers.errors import N_, InputError
from layers.io.common import WGS84, RawLayer, clean_reason, is_kobo
from layers.wkbpoints import points_from_xy, xy_from_wkb

_LABELS = {
    "geojson": "GeoJSON",
    "gpkg": "GeoPackage",
    "shapefile": "Shapefile",
    "kml": "KML",
    "csv": "CSV",
    "xlsx": "Excel (.xlsx)",
}
# Columns LIBKML adds to every KML layer that never carry a user's data.
_KML_STYLE_COLUMNS = ("altitudeMode", "tessellate", "extrude", "visibility", "drawOrder", "icon")
_KML_OPTIONAL_COLUMNS = ("id", "timestamp", "begin", "end", "Name", "description")


def read_vector(p: Path, source: str, fmt: str, layer: str | None, digest: str) -> RawLayer:
    """Read a vector file through GDAL into a :class:`RawLayer` (rows are feature numbers)."""
    notes: list[str] = []
    encoding = None
    ext = p.suffix.lower()
    if fmt == "shapefile":
        gdal_path, encoding, notes = _shapefile(p, source, layer)
        layer_name = None
    else:
        gdal_path = kmz_path(p, source) if ext == ".kmz" else str(p)
        names = layer_names(gdal_path, source, fmt, skip_empty=fmt == "kml")
        layer_name = _choose_layer(names, layer, source, fmt)
    frame, point_xy = _gdal_read(
        gdal_path, source, fmt, layer_name, encoding, [str(p), str(p.resolve())]
    )
    if fmt == "kml":
        frame = _tidy_kml(frame)
        if frame.crs is None:
            frame = frame.set_crs(WGS84)  # KML coordinates are always WGS 84 lon/lat
    if len(frame) == 0:
        raise InputError(N_("the file has no features"), file=source)
    if fmt == "geojson" and is_kobo(list(frame.columns)):
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
        point_xy=point_xy,
    )


def layer_names(gdal_path: str, source: str, fmt: str, *, skip_empty: bool) -> list[str]:
    """The file's layers; with ``skip_empty``, only those with features (if any has)."""
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
        raise InputError(
            N_("the %(format)s file has no vector layers"),
            file=source,
            params={"format": _LABELS[fmt]},
        )
    if layer is not None:
        if layer not in names:
            raise InputError(
                N_("no layer named '%(layer)s'; the layers are: %(layers)s"),
                file=source,
                params={"layer": layer, "layers": ", ".join(names)},
            )
        return layer
    if len(names) > 1:
        raise InputError(
            N_("the file has %(count)s layers (%(layers)s); choose which one to import"),
            file=source,
            params={"count": len(names), "layers": ", ".join(names)},
        )
    return names[0]


def _gdal_read(
    gdal_path: str,
    source: str,
    fmt: str,
    layer: str | None,
    encoding: str | None,
    paths: list[str],
) -> tuple[gpd.GeoDataFrame, tuple[np.ndarray, np.ndarray] | None]:
    """The file as a GeoDataFrame, and its points' x and y when all were read as 2D points."""
    kwargs: dict[str, Any] = {"layer": layer, "encoding": encoding}
    point_xy = None
    try:
        frame, point_xy = _read_arrow_frame(gdal_path, layer, encoding)
    except Exception:
        # Arrow cannot carry every OGR field type; the row-by-row path can.
        try:
            frame = pyogrio.read_dataframe(gdal_path, use_arrow=False, **kwargs)
        except Exception as exc:
            raise _unreadable(exc, source, fmt, [gdal_path, *paths]) from exc
    if not isinstance(frame, gpd.GeoDataFrame):  # an attribute-only table
        frame = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([None] * len(frame)), crs=None)
    return frame, point_xy


def _read_arrow_frame(
    gdal_path: str, layer: str | None, encoding: str | None
) -> tuple[gpd.GeoDataFrame | pd.DataFrame, tuple[np.ndarray, np.ndarray] | None]:
    """``pyogrio.read_dataframe(gdal_path, use_arrow=True)``, with 2D points read faster.

    The same frame as pyogrio's (its own steps, in its order), except that a geometry
    column holding only 2D points is decoded from the Arrow buffer with numpy
    (:func:`layers.wkbpoints.xy_from_wkb`) instead of through a Python ``bytes`` object
    per feature; their x and y are returned too (None for other geometries). Anything
    pyogrio would post-process in a way not repeated here is read by pyogrio itself.
    """
    parse_datetime = getattr(pyogrio_geopandas, "_try_parse_datetime", None)
    if parse_datetime is None or int(pa.__version__.split(".", 1)[0]) < 19:
        frame = pyogrio.read_dataframe(gdal_path, use_arrow=True, layer=layer, encoding=encoding)
        return frame, None
    meta, table = pyogrio.read_arrow(
        gdal_path, layer=layer, encoding=encoding, datetime_as_string=True
    )
    if "OFSTJSON" in list(meta["ogr_subtypes"]):
        del table
        frame = pyogrio.read_dataframe(gdal_path, use_arrow=True, layer=layer, encoding=encoding)
        return frame, None
    geometry_name = meta["geometry_name"] or "wkb_geometry"
    wkb = None
    if geometry_name in table.column_names:
        wkb = table.column(geometry_name)
        table = table.drop_columns([geometry_name])
        if isinstance(wkb.type, pa.ExtensionType):  # geoarrow.wkb, when registered
            wkb = pa.chunked_array([chunk.storage for chunk in wkb.chunks], wkb.type.storage_type)
    df = table.to_pandas()  # text that is not UTF-8 raises: the caller reads row by row
    del table
    for dtype, column in zip(meta["dtypes"], meta["fields"], strict=True):
        if dtype is not None and dtype.startswith("datetime") and dtype != "datetime64[D]":
            df[column] = parse_datetime(df[column], False, True)
    if wkb is None:
        return (pd.DataFrame() if len(df.columns) == 0 else df), None
    xy = xy_from_wkb(wkb)
    if xy is None:
        geometry = shapely.from_wkb(wkb.to_numpy(zero_copy_only=False))
    else:
        geometry = points_from_xy(*xy)
    df["geometry"] = geometry
    frame = gpd.GeoDataFrame(df, geometry="geometry", crs=meta["crs"])
    return frame, None if xy is None else (xy[0], xy[1])


def _unreadable(exc: BaseException, source: str, fmt: str, paths: list[str]) -> InputError:
    reason = clean_reason(exc, paths, source)
    return InputError(
        N_("cannot read the file as %(format)s: %(reason)s"),
        file=source,
        params={"format": _LABELS[fmt], "reason": reason},
    )


def _tidy_kml(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Drop the styling columns LIBKML adds, and its optional ones when they are empty."""
    drop = [c for c in _KML_STYLE_COLUMNS if c in frame.columns]
    drop += [c for c in _KML_OPTIONAL_COLUMNS if c in frame.columns and frame[c].isna().all()]
    return frame.drop(columns=drop)


def kmz_path(p: Path, source: str) -> str:
    """GDAL path of the main KML document inside a KMZ (doc.kml, else the shallowest .kml)."""
    with open_zip(p, source) as zf:
        kmls = [m for m in zip_members(zf) if m.lower().endswith(".kml")]
    if not kmls:
        raise InputError(N_("the KMZ archive holds no .kml document"), file=source)
    main = min(kmls, key=lambda m: (PurePosixPath(m).name.lower() != "doc.kml", m.count("/"), m))
    return f"/vsizip/{p.resolve()}/{main}"


def open_zip(p: Path, source: str) -> zipfile.ZipFile:
    """Open a ZIP archive checked by :func:`layers.uploads.check_archive`.

    Raises :class:`InputError` when it is not a ZIP archive or the check refuses it.
    """
    from layers.uploads import check_archive

    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise InputError(N_("unreadable archive: not a valid ZIP file"), file=source) from exc
    try:
        check_archive(zf, source=source)
    except BaseException:
        zf.close()
        raise
    return zf


def zip_members(zf: zipfile.ZipFile) -> list[str]:
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
        with open_zip(p, source) as zf:
            members = zip_members(zf)
            shps = [m for m in members if m.lower().endswith(".shp")]
            if not shps:
                listed = ", ".join(members[:10]) + (" ..." if len(members) > 10 else "")
                raise InputError(
                    N_("the archive holds no .shp file (it has: %(members)s)")
                    if listed
                    else N_("the archive holds no .shp file (it is empty)"),
                    file=source,
                    params={"members": listed},
                )
            if layer is not None:
                chosen = [m for m in shps if layer in (m, PurePosixPath(m).stem)]
                if not chosen:
                    raise InputError(
                        N_("no .shp named '%(layer)s' in the archive; it has: %(shapefiles)s"),
                        file=source,
                        params={"layer": layer, "shapefiles": ", ".join(shps)},
                    )
                shp = chosen[0]
            elif len(shps) > 1:
                raise InputError(
                    N_(
                        "the archive holds %(count)s shapefiles (%(shapefiles)s); "
                        "choose which one to import"
                    ),
                    file=source,
                    params={"count": len(shps), "shapefiles": ", ".join(shps)},
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
                    N_("unreadable archive: cannot extract %(member)s"),
                    file=source,
                    params={"member": parts[".dbf"]},
                ) from exc
        gdal_path = f"/vsizip/{p.resolve()}/{shp}"
    else:
        if layer is not None:
            raise InputError(N_("a layer can only be chosen in a zip of shapefiles"), file=source)
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
            N_(
                "the shapefile %(name)s is incomplete: %(missing)s is missing "
                "(a shapefile needs its .shp, .shx and .dbf files together)"
            ),
            file=source,
            params={"name": shp_name, "missing": ", ".join(stem + m for m in missing)},
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
