"""A workspace's layers as files partners open: GeoPackage, GeoJSON, CSV, XLSX, Shapefile.

:func:`export_workspace` writes every layer of a workspace into one GeoPackage (QGIS opens
it with one layer per dataset); :func:`export_layer` writes one layer in any of
:data:`FORMATS`. The layers of a workspace (:func:`workspace_layers`) are its datasets
(latest versions; rasters are left out), the table of the latest score run of each
profile joined to the village polygons it scored (``score_<profile>``), and the selection
of each saved scenario (``scenario_<name>``: the chosen villages' polygons, or the new
sites as points).

Codes stay text in every format (``0102`` keeps its zero). Every file is written whole or
not at all: to a temporary file beside the target, renamed over it once complete, so a
failed export leaves the previous file as it was. See ``docs/exports.md``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, ClassVar

import numpy as np
import pandas as pd

from layers.atomic import replacing
from layers.errors import N_, InputError, NotFoundError
from layers.errors import Note as BaseNote
from layers.storage import Store

__all__ = [
    "COORDINATE_DECIMALS",
    "EXTENSIONS",
    "FORMATS",
    "SHAPEFILE_FIELDS",
    "ExportNote",
    "ExportResult",
    "LayerSource",
    "export_layer",
    "export_workspace",
    "read_layer",
    "shapefile_field_names",
    "workspace_layers",
    "write_table",
]

#: Formats :func:`export_layer` writes (``gpkg`` also for :func:`export_workspace`).
FORMATS: tuple[str, ...] = ("gpkg", "geojson", "csv", "xlsx", "shapefile")
#: File name ending of each format.
EXTENSIONS: dict[str, str] = {
    "gpkg": ".gpkg",
    "geojson": ".geojson",
    "csv": ".csv",
    "xlsx": ".xlsx",
    "shapefile": ".zip",
}
#: Decimals of the coordinates in GeoJSON (RFC 7946 advises 6 or 7: 7 is about 1 cm).
COORDINATE_DECIMALS = 7
#: Longest text a Shapefile (dBASE) field holds; longer values are cut.
SHAPEFILE_TEXT_MAX = 254
#: Fixed Shapefile field names (at most 10 characters) of the canonical columns.
SHAPEFILE_FIELDS: dict[str, str] = {
    "kode": "kode",
    "name": "name",
    "kecamatan_kode": "kec_kode",
    "kecamatan": "kecamatan",
    "kabupaten_kode": "kab_kode",
    "kabupaten": "kabupaten",
    "provinsi_kode": "prov_kode",
    "provinsi": "provinsi",
    "village_type": "vill_type",
    "population": "population",
    "facility_id": "fac_id",
    "type": "type",
    "sector": "sector",
    "capacity": "capacity",
    "source_code": "src_code",
    "need_id": "need_id",
    "category": "category",
    "severity": "severity",
    "reported_date": "rep_date",
    "source": "source",
    "status": "status",
    "description": "descript",
    "score": "score",
    "rank": "rank",
    "need_class": "need_class",
    "class_label": "class_lbl",
    "weight_used": "weight_usd",
    "reason": "reason",
    "benefit": "benefit",
    "cost": "cost",
    "people_reached": "people_rch",
    "site_id": "site_id",
    "lon": "lon",
    "lat": "lat",
}
#: Short prefixes of the score indicators' groups (``dist_m__puskesmas`` -> ``dm_puskesm``).
SHAPEFILE_PREFIXES: dict[str, str] = {
    "fac_count": "fc",
    "fac_per_1000": "fp",
    "dist_m": "dm",
    "share_beyond": "sb",
    "needs": "nd",
    "needs_weighted": "nw",
    "needs_per_1000": "np",
}
#: Record collections read for the score and scenario layers.
RUNS = "score_runs"
SCENARIOS = "scenarios"

NOTES: dict[str, str] = {
    "no_geometry": N_("%(layer)s has no geometries: written as a table without geometry"),
    "rows_without_geometry": N_("%(layer)s: %(count)s rows have no geometry"),
    "text_cut": N_(
        "%(layer)s: %(count)s texts longer than %(limit)s characters were cut (Shapefile limit)"
    ),
    "renamed": N_("%(layer)s: fields renamed for the Shapefile, see fields.csv"),
    "skipped": N_("%(layer)s was left out: %(reason)s"),
    "raster_left_out": N_("raster %(layer)s was left out: a GeoPackage here holds vector layers"),
}


class ExportNote(BaseNote):
    """Something an export noticed (rows without geometry, renamed fields, ...)."""

    TEMPLATES: ClassVar[dict[str, str]] = NOTES


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote.

    Attributes
    ----------
    path : Path
        The file written.
    size : int
        Its size in bytes.
    layers : tuple of str
        The layers written, in order.
    notes : tuple of ExportNote
        What the export noticed; ``render(gettext)`` gives each in the user's language.
    rows : dict
        Rows written per layer.
    """

    path: Path
    size: int
    layers: tuple[str, ...]
    notes: tuple[ExportNote, ...] = ()
    rows: dict[str, int] = field(default_factory=dict)

    def to_dict(self, gettext: Callable[[str], str] | None = None) -> dict[str, Any]:
        """JSON-ready data, notes in the language of ``gettext``."""
        return {
            "path": str(self.path),
            "size": self.size,
            "layers": list(self.layers),
            "rows": dict(self.rows),
            "notes": [n.render(gettext) for n in self.notes],
        }


@dataclass(frozen=True)
class LayerSource:
    """One exportable layer of a workspace.

    Attributes
    ----------
    name : str
        Name in the exported files: the dataset name with ``-`` as ``_`` (GeoPackage
        tables and QGIS prefer it), ``score_<profile>`` or ``scenario_<name>``.
    kind : str
        ``villages``, ``facilities``, ``needs``, ``indicators``, ``score`` or ``scenario``.
    ref : str
        What it comes from: ``ws/villages@3``, ``ws/score_runs/p@2`` or
        ``ws/scenarios/s@1``.
    dataset : str
        The dataset, profile or scenario name in the store.
    load : callable
        Returns the layer's frame (a GeoDataFrame in EPSG:4326, or a DataFrame).
    """

    name: str
    kind: str
    ref: str
    dataset: str
    load: Callable[[], pd.DataFrame] = field(repr=False, compare=False)


# --- the layers of a workspace -----------------------------------------------------------


def _safe_name(name: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", name.lower())


def _split_ref(ref: str) -> tuple[str, int]:
    name, version = ref.split("/", 1)[1].rsplit("@", 1)
    return name, int(version)


def _dataset_loader(store: Store, ws: str, name: str, version: int) -> Callable[[], pd.DataFrame]:
    return lambda: store.read_dataset(ws, name, version)


def _score_loader(store: Store, ws: str, profile: str, run: int) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import geopandas as gpd

        from layers.score_run import load_run

        body = load_run(store, ws, profile, run)
        table = body["table_frame"]
        if table is None:
            raise NotFoundError(
                N_("run %(ref)s has no saved table"), params={"ref": body["record"].ref}
            )
        table = table.copy()
        table.index = pd.Index(table.index.astype(str), name="kode")
        villages_ref = (body.get("inputs") or {}).get("villages")
        names = ["kode", "name", "kecamatan_kode", "kecamatan"]
        if villages_ref:
            vname, vversion = _split_ref(villages_ref)
            villages = store.read_dataset(ws, vname, vversion)
            keep = [c for c in names if c in villages.columns]
            villages = villages.loc[:, [*keep, villages.geometry.name]]
            villages = villages.assign(kode=villages["kode"].astype(object))
            joined = villages.merge(
                table.drop(columns=[c for c in names if c in table.columns and c != "kode"]),
                left_on="kode",
                right_index=True,
                how="inner",
            )
            return gpd.GeoDataFrame(joined, geometry=villages.geometry.name, crs=villages.crs)
        return table.reset_index()

    return load


def _scenario_loader(
    store: Store, ws: str, name: str, gettext: Callable[[str], str] | None, lang: str
) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import geopandas as gpd
        import shapely

        from layers.targeting.scenario_export import scenario_villages
        from layers.targeting.scenarios import load_scenario

        scenario = load_scenario(store, ws, name)
        table = scenario_villages(store, ws, scenario, gettext=gettext, lang=lang)
        table["kode"] = table["kode"].astype(object)
        if scenario.get("kind") == "siting":
            points = shapely.points(
                table["lon"].to_numpy(dtype=float), table["lat"].to_numpy(dtype=float)
            )
            return gpd.GeoDataFrame(table, geometry=points, crs="EPSG:4326")
        villages_ref = (scenario.get("inputs") or {}).get("villages")
        if not villages_ref:
            return table
        vname, vversion = _split_ref(villages_ref)
        villages = store.read_dataset(ws, vname, vversion, columns=["kode"])
        geometry = villages.set_index(villages["kode"].astype(object)).geometry
        shapes = geometry.reindex(table["kode"].to_numpy()).to_numpy()
        return gpd.GeoDataFrame(table, geometry=shapes, crs=villages.crs)

    return load


def workspace_layers(
    store: Store,
    ws: str,
    *,
    gettext: Callable[[str], str] | None = None,
    lang: str = "id",
) -> list[LayerSource]:
    """The exportable layers of a workspace, in export order.

    Datasets first (latest version of each, by name; rasters left out), then the latest
    score run of each profile (``score_<profile>``), then each saved scenario's selection
    (``scenario_<name>``). Two names that become equal once ``-`` is ``_`` get a number.

    Raises
    ------
    NotFoundError
        For an unknown workspace.
    """
    store.get_workspace(ws)
    sources: list[LayerSource] = []
    taken: set[str] = set()

    def unique(name: str) -> str:
        base, n = name, 2
        while name in taken:
            name = f"{base}_{n}"
            n += 1
        taken.add(name)
        return name

    for info in store.list_datasets(ws):
        if info.kind == "raster":
            continue
        sources.append(
            LayerSource(
                unique(_safe_name(info.name)),
                info.kind,
                info.ref,
                info.name,
                _dataset_loader(store, ws, info.name, info.version),
            )
        )
    for record in store.list_records(ws, RUNS):
        if not record.body.get("table"):
            continue
        sources.append(
            LayerSource(
                unique(_safe_name(f"score_{record.name}")),
                "score",
                record.ref,
                record.name,
                _score_loader(store, ws, record.name, record.version),
            )
        )
    for record in store.list_records(ws, SCENARIOS):
        sources.append(
            LayerSource(
                unique(_safe_name(f"scenario_{record.name}")),
                "scenario",
                record.ref,
                record.name,
                _scenario_loader(store, ws, record.name, gettext, lang),
            )
        )
    return sources


def _find_layer(sources: Sequence[LayerSource], ws: str, name: object) -> LayerSource:
    for source in sources:
        if source.kind not in ("score", "scenario") and source.dataset == name:
            return source
    for source in sources:
        if source.name == name:
            return source
    raise InputError(
        N_("workspace %(workspace)s has no layer %(layer)r; layers: %(known)s"),
        params={
            "workspace": ws,
            "layer": name,
            "known": ", ".join(s.name for s in sources) or "-",
            "setting": "layer",
        },
    )


def _check_format(fmt: object, allowed: Sequence[str] = FORMATS) -> str:
    if fmt not in allowed:
        raise InputError(
            N_("format must be one of %(allowed)s, not %(found)r"),
            params={"allowed": ", ".join(allowed), "found": fmt, "setting": "format"},
        )
    return str(fmt)


# --- preparing a frame -------------------------------------------------------------------


def _is_spatial(frame: pd.DataFrame) -> bool:
    import geopandas as gpd

    return isinstance(frame, gpd.GeoDataFrame) and frame.geometry.notna().any()


def _plain_value(value: Any) -> Any:
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as files can hold it: a named index as a column, text as Python ``str``
    (codes keep their zeros), categories as text, lists and dicts as JSON text, geometry
    in EPSG:4326; without geometry when it has none at all (a plain DataFrame)."""
    import geopandas as gpd

    if frame.index.name is not None or isinstance(frame.index, pd.MultiIndex):
        frame = frame.reset_index()
    else:
        frame = frame.reset_index(drop=True)
    frame = frame.loc[:, [c for c in frame.columns if not str(c).startswith("__jangkau")]]
    spatial = isinstance(frame, gpd.GeoDataFrame) and frame.geometry.notna().any()
    geometry = frame.geometry if spatial else None
    if isinstance(frame, gpd.GeoDataFrame):
        frame = pd.DataFrame(frame.drop(columns=[frame.geometry.name]))
    out = {}
    for column in frame.columns:
        series = frame[column]
        dtype = series.dtype
        if isinstance(dtype, pd.CategoricalDtype | pd.StringDtype) or pd.api.types.is_object_dtype(
            dtype
        ):
            values = series.astype(object).where(series.notna(), None)
            out[str(column)] = pd.Series(
                [_plain_value(v) for v in values], index=series.index, dtype=object
            )
        elif isinstance(dtype, pd.BooleanDtype):
            out[str(column)] = series.astype(object).where(series.notna(), None)
        elif isinstance(dtype, pd.PeriodDtype):
            out[str(column)] = series.astype(str).where(series.notna(), None).astype(object)
        else:
            out[str(column)] = series
    plain = pd.DataFrame(out, index=frame.index)
    if geometry is None:
        return plain
    result = gpd.GeoDataFrame(plain, geometry=geometry.to_numpy(), crs=geometry.crs)
    if result.crs is not None and result.crs.to_epsg() != 4326:
        result = result.to_crs(4326)
    return result


# --- atomic writes -----------------------------------------------------------------------


@contextmanager
def _atomic(path: Path, suffix: str) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed over it when the block ends without error."""
    path = Path(path)
    if path.is_dir():
        raise InputError(N_("%(path)s is a folder; give a file name"), params={"path": str(path)})
    if not path.parent.is_dir():
        raise InputError(
            N_("the folder %(folder)s does not exist"), params={"folder": str(path.parent)}
        )
    with replacing(path, suffix) as partial:
        yield partial


# --- writers -----------------------------------------------------------------------------


def _write_vector(frame: pd.DataFrame, path: Path, layer: str, driver: str, **options: Any) -> None:
    import pyogrio

    pyogrio.write_dataframe(frame, path, layer=layer, driver=driver, **options)


def _write_gpkg(frame: pd.DataFrame, path: Path, layer: str) -> None:
    _write_vector(frame, path, layer, "GPKG")


def _orient(frame: pd.DataFrame) -> pd.DataFrame:
    """Polygons with counter-clockwise exteriors and clockwise holes (RFC 7946)."""
    import shapely

    if not _is_spatial(frame):
        return frame
    frame = frame.copy()
    frame[frame.geometry.name] = shapely.orient_polygons(
        frame.geometry.to_numpy(), exterior_cw=False
    )
    return frame


def _write_geojson(frame: pd.DataFrame, path: Path, layer: str) -> None:
    import geopandas as gpd

    if not isinstance(frame, gpd.GeoDataFrame):
        frame = gpd.GeoDataFrame(frame, geometry=[None] * len(frame), crs="EPSG:4326")
    _write_vector(
        _orient(frame),
        path,
        layer,
        "GeoJSON",
        layer_options={
            "RFC7946": "YES",
            "COORDINATE_PRECISION": str(COORDINATE_DECIMALS),
            "WRITE_NAME": "NO",
        },
    )


def _table_with_coordinates(frame: pd.DataFrame, wkt: bool) -> pd.DataFrame:
    """Points as ``lon``/``lat`` columns; other geometries left out, or as ``wkt``."""
    import geopandas as gpd
    import shapely

    if not isinstance(frame, gpd.GeoDataFrame):
        return frame
    geometry = frame.geometry.to_numpy()
    table = pd.DataFrame(frame.drop(columns=[frame.geometry.name]))
    types = set(shapely.get_type_id(geometry[~shapely.is_missing(geometry)]).tolist())
    if types and types <= {0}:  # points only
        empty = shapely.is_missing(geometry) | shapely.is_empty(geometry)
        lon = np.where(empty, np.nan, shapely.get_x(np.where(empty, None, geometry)))
        lat = np.where(empty, np.nan, shapely.get_y(np.where(empty, None, geometry)))
        if "lon" not in table and "lat" not in table:
            table["lon"] = np.round(lon, COORDINATE_DECIMALS)
            table["lat"] = np.round(lat, COORDINATE_DECIMALS)
    if wkt:
        table["wkt"] = shapely.to_wkt(geometry, rounding_precision=COORDINATE_DECIMALS)
    return table


def _cell(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def _text_columns(frame: pd.DataFrame) -> set[str]:
    return {str(c) for c in frame.columns if pd.api.types.is_object_dtype(frame[c].dtype)}


def _write_csv(frame: pd.DataFrame, path: Path | IO[bytes]) -> None:
    """The table as CSV (UTF-8 with a BOM so Excel reads it), written by pandas in one go.

    Dates and times become ISO text: the date alone for a value at midnight, the date and
    time (with its offset) otherwise; missing values become empty cells.
    """
    columns = {}
    for name in frame.columns:
        series = frame[name]
        if pd.api.types.is_datetime64_any_dtype(series):
            series = _iso_texts(series)
        columns[str(name)] = series
    table = pd.DataFrame(columns, index=frame.index)
    table.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\r\n")


def _iso_texts(series: pd.Series) -> pd.Series:
    """Each date as ``YYYY-MM-DD`` at midnight, else its full ISO form; None where missing."""
    local = series.dt.tz_localize(None) if series.dt.tz is not None else series
    midnight = (local == local.dt.normalize()).to_numpy()
    out = pd.Series(series.dt.strftime("%Y-%m-%d").to_numpy(dtype=object), index=series.index)
    other = ~midnight & series.notna().to_numpy()
    if other.any():
        out[other] = series[other].map(lambda v: v.isoformat()).to_numpy(dtype=object)
    return out.where(series.notna(), None)


def _write_xlsx(
    frame: pd.DataFrame,
    path: Path | IO[bytes],
    layer: str,
    sheets: Mapping[str, Sequence[Sequence[Any]]],
) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(layer[:31])
    sheet.append([str(c) for c in frame.columns])
    text = _text_columns(frame)
    columns = [str(c) for c in frame.columns]
    for row in frame.itertuples(index=False):
        cells = []
        for column, value in zip(columns, row, strict=True):
            value = _cell(value)
            if isinstance(value, datetime) and value.tzinfo is not None:
                value = value.replace(tzinfo=None)
            cell = WriteOnlyCell(sheet, value=None)
            if column in text and value is not None:
                cell.value = str(value)
                cell.data_type = "s"
                cell.number_format = "@"  # text: codes keep their zeros and dots
            else:
                cell.value = value
            cells.append(cell)
        sheet.append(cells)
    for name, rows in sheets.items():
        extra = book.create_sheet(name[:31])
        for row in rows:
            cells = []
            for value in row:
                cell = WriteOnlyCell(extra, value=None if value is None else str(value))
                cell.number_format = "@"
                cells.append(cell)
            extra.append(cells)
    book.save(path)


def write_table(
    frame: pd.DataFrame,
    target: str | os.PathLike[str] | IO[bytes],
    fmt: str,
    *,
    sheet: str = "table",
    sheets: Mapping[str, Sequence[Sequence[Any]]] | None = None,
) -> None:
    """Write one table as CSV or XLSX, codes kept as text, to a path or a binary file.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table (no geometry column).
    target : path-like or binary file
        Where to write (not atomically: wrap a path in :func:`layers.atomic.replacing`).
    fmt : {"csv", "xlsx"}
        CSV: UTF-8 with a byte order mark, dates as ISO text, missing values empty.
        XLSX: the table on sheet ``sheet``, text columns as text cells.
    sheet : str
        Name of the table's sheet (XLSX).
    sheets : mapping, optional
        More XLSX sheets: name -> rows (header first), written as text.
    """
    if fmt == "csv":
        _write_csv(frame, target)
    elif fmt == "xlsx":
        _write_xlsx(frame, target, sheet, dict(sheets or {}))
    else:
        raise InputError(
            N_("unknown format %(value)r; use csv or xlsx"), column="format", params={"value": fmt}
        )


def shapefile_field_names(columns: Sequence[str]) -> dict[str, str]:
    """Shapefile field names (at most 10 characters, unique ignoring case) for ``columns``.

    The canonical columns take their names from :data:`SHAPEFILE_FIELDS`. Other columns,
    in order: lowercase, characters other than letters, digits and ``_`` as ``_``; a name
    ``group__detail`` (a score indicator, or a column of an indicator table) becomes
    ``prefix_detail``, the prefix from :data:`SHAPEFILE_PREFIXES` or else the group's first
    two characters; then the first 10 characters. A name already taken becomes its first 7
    characters, ``_`` and a two-digit number (``_01``, ``_02``, ...), the first one free. The result
    depends only on the columns and their order.
    """
    out: dict[str, str] = {}
    taken: set[str] = set()
    for column in columns:
        fixed = SHAPEFILE_FIELDS.get(column)
        if fixed is not None and fixed not in taken:
            out[column] = fixed
            taken.add(fixed)
    for column in columns:
        if column in out:
            continue
        name = re.sub(r"[^a-z0-9_]", "_", str(column).lower())
        group, sep, detail = name.partition("__")
        if sep and group and detail:
            name = f"{SHAPEFILE_PREFIXES.get(group, group[:2])}_{detail}"
        name = name[:10] or "field"
        n = 1
        candidate = name
        while candidate in taken:
            candidate = f"{name[:7]}_{n:02d}"
            n += 1
        out[column] = candidate
        taken.add(candidate)
    return out


def _date_texts(series: pd.Series) -> pd.Series:
    """ISO dates (``2025-02-15``), or date and time where a time is set; None for missing."""
    values = [_cell(v) for v in series]
    midnight = all(v is None or v.time() == datetime.min.time() for v in values)
    return pd.Series(
        [
            None if v is None else (v.date().isoformat() if midnight else v.isoformat())
            for v in values
        ],
        index=series.index,
        dtype=object,
    )


def _write_shapefile(frame: pd.DataFrame, path: Path, layer: str, notes: list[ExportNote]) -> None:
    import geopandas as gpd

    mapping = shapefile_field_names([str(c) for c in frame.columns if c != _geometry_name(frame)])
    frame = frame.rename(columns=mapping)
    cut = 0
    for short in mapping.values():
        series = frame[short]
        if pd.api.types.is_object_dtype(series.dtype):
            lengths = series.map(lambda v: len(str(v)) if isinstance(v, str) else 0)
            too_long = lengths > SHAPEFILE_TEXT_MAX
            if too_long.any():
                cut += int(too_long.sum())
                frame[short] = series.where(
                    ~too_long, series.map(lambda v: v[:SHAPEFILE_TEXT_MAX] if v else v)
                )
    if cut:
        notes.append(
            ExportNote("text_cut", {"layer": layer, "count": cut, "limit": SHAPEFILE_TEXT_MAX})
        )
    if any(k != v for k, v in mapping.items()):
        notes.append(ExportNote("renamed", {"layer": layer}))
    for short in mapping.values():  # dBASE has dates but no times: dates and times as text
        if pd.api.types.is_datetime64_any_dtype(frame[short]):
            frame[short] = _date_texts(frame[short])
    with tempfile.TemporaryDirectory(dir=path.parent) as folder:
        target = Path(folder) / f"{layer}.shp"
        if isinstance(frame, gpd.GeoDataFrame):
            _write_vector(frame, target, layer, "ESRI Shapefile", encoding="UTF-8")
        else:  # a table: the .dbf alone
            target = Path(folder) / f"{layer}.dbf"
            _write_vector(frame, target, layer, "ESRI Shapefile", encoding="UTF-8")
        fields = Path(folder) / "fields.csv"
        with fields.open("w", encoding="utf-8-sig", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["column", "shapefile_field"])
            writer.writerows(mapping.items())
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for member in sorted(Path(folder).iterdir()):
                archive.write(member, member.name)


def _geometry_name(frame: pd.DataFrame) -> str | None:
    import geopandas as gpd

    return frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None


# --- the public functions ----------------------------------------------------------------


def _load(source: LayerSource, notes: list[ExportNote]) -> pd.DataFrame:
    import geopandas as gpd

    raw = source.load()
    frame = prepare(raw)
    if isinstance(raw, gpd.GeoDataFrame) and not isinstance(frame, gpd.GeoDataFrame):
        notes.append(ExportNote("no_geometry", {"layer": source.name}))
    elif isinstance(frame, gpd.GeoDataFrame):
        missing = int(frame.geometry.isna().sum())
        if missing:
            notes.append(
                ExportNote("rows_without_geometry", {"layer": source.name, "count": missing})
            )
    return frame


def _software() -> str:
    from importlib import metadata

    try:
        return metadata.version("jangkau")
    except metadata.PackageNotFoundError:
        return "unknown"


def export_layer(
    store: Store,
    ws: str,
    name: str,
    path: str | os.PathLike[str],
    fmt: str,
    *,
    wkt: bool = False,
    gettext: Callable[[str], str] | None = None,
    lang: str = "id",
) -> ExportResult:
    """Write one layer of a workspace to a file.

    Parameters
    ----------
    store : Store
        The store.
    ws : str
        Workspace name.
    name : str
        A dataset name (its latest version), or a layer name of
        :func:`workspace_layers` (``score_<profile>``, ``scenario_<name>``).
    path : path
        File to write; written whole or not at all.
    fmt : str
        ``gpkg``; ``geojson`` (RFC 7946: EPSG:4326 longitude/latitude, no ``crs``
        member, counter-clockwise exteriors, coordinates rounded to
        :data:`COORDINATE_DECIMALS` decimals); ``csv`` (UTF-8 with a byte order mark,
        points as ``lon``/``lat`` columns, other geometries left out unless ``wkt``);
        ``xlsx`` (text columns as text cells, points as ``lon``/``lat``, sheet ``about``
        with the source); ``shapefile`` (a zip of ``.shp .shx .dbf .prj .cpg`` and
        ``fields.csv``, field names by :func:`shapefile_field_names`).
    wkt : bool
        CSV only: add the geometry as WKT in a ``wkt`` column.
    gettext : callable, optional
        Translates notes and scenario reasons.
    lang : str
        Locale of numbers inside scenario reasons.

    Raises
    ------
    InputError
        An unknown layer or format, ``wkt`` with another format than CSV, or a folder
        that does not exist.
    NotFoundError
        An unknown workspace.
    """
    fmt = _check_format(fmt)
    if wkt and fmt != "csv":
        raise InputError(
            N_("WKT geometries are written to CSV only, not %(format)s"),
            params={"format": fmt, "setting": "wkt"},
        )
    sources = workspace_layers(store, ws, gettext=gettext, lang=lang)
    source = _find_layer(sources, ws, name)
    notes: list[ExportNote] = []
    frame = _load(source, notes)
    path = Path(path)
    with _atomic(path, EXTENSIONS[fmt]) as partial:
        if fmt == "gpkg":
            _write_gpkg(frame, partial, source.name)
        elif fmt == "geojson":
            _write_geojson(frame, partial, source.name)
        elif fmt == "csv":
            _write_csv(_table_with_coordinates(frame, wkt), partial)
        elif fmt == "xlsx":
            about = [
                ("layer", source.name),
                ("source", source.ref),
                ("exported_at", datetime.now().astimezone().isoformat(timespec="seconds")),
                ("software", f"jangkau {_software()}"),
            ]
            _write_xlsx(
                _table_with_coordinates(frame, False),
                partial,
                source.name,
                {"about": [["key", "value"], *about]},
            )
        else:
            _write_shapefile(frame, partial, source.name, notes)
    return ExportResult(
        path=path,
        size=path.stat().st_size,
        layers=(source.name,),
        notes=tuple(notes),
        rows={source.name: len(frame)},
    )


def export_workspace(
    store: Store,
    ws: str,
    path: str | os.PathLike[str],
    fmt: str = "gpkg",
    *,
    layers: Sequence[str] | None = None,
    lang: str = "id",
    gettext: Callable[[str], str] | None = None,
) -> ExportResult:
    """Write every layer of a workspace (or those named) into one GeoPackage.

    Layers with geometry become feature tables (EPSG:4326), the others attribute tables;
    text columns are ``TEXT`` fields, so codes keep their zeros. A layer that cannot be
    read (a scenario whose villages were deleted) is left out with a note.

    Parameters
    ----------
    store : Store
        The store.
    ws : str
        Workspace name.
    path : path
        File to write; written whole or not at all.
    fmt : str
        ``gpkg`` (the only format that holds several layers).
    layers : sequence of str, optional
        Only these layers (dataset names or :func:`workspace_layers` names).
    lang : str
        Locale of numbers inside scenario reasons.
    gettext : callable, optional
        Translates notes and scenario reasons.

    Raises
    ------
    InputError
        Another format, or an unknown layer.
    NotFoundError
        An unknown workspace.
    """
    _check_format(fmt, ("gpkg",))
    sources = workspace_layers(store, ws, gettext=gettext, lang=lang)
    if layers is not None:
        sources = [_find_layer(sources, ws, name) for name in dict.fromkeys(layers)]
    notes: list[ExportNote] = [
        ExportNote("raster_left_out", {"layer": info.name})
        for info in store.list_datasets(ws)
        if info.kind == "raster" and layers is None
    ]
    written: list[str] = []
    rows: dict[str, int] = {}
    path = Path(path)
    with _atomic(path, ".gpkg") as partial:
        for source in sources:
            try:
                frame = _load(source, notes)
            except (InputError, NotFoundError) as exc:
                if layers is not None:
                    raise
                notes.append(ExportNote("skipped", {"layer": source.name, "reason": str(exc)}))
                continue
            _write_gpkg(frame, partial, source.name)
            written.append(source.name)
            rows[source.name] = len(frame)
        if not written:
            raise InputError(
                N_("workspace %(workspace)s has no layer to export"), params={"workspace": ws}
            )
    return ExportResult(
        path=path,
        size=path.stat().st_size,
        layers=tuple(written),
        notes=tuple(notes),
        rows=rows,
    )


def read_layer(store: Store, ws: str, name: str) -> pd.DataFrame:
    """The frame :func:`export_layer` writes for layer ``name`` (prepared as for files)."""
    return _load(_find_layer(workspace_layers(store, ws), ws, name), [])
