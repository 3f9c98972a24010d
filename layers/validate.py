"""Validate a raw layer into its canonical schema, repairing what is safe and reporting all.

:func:`import_layer` reads a file (:mod:`layers.io`) and returns the canonical layer with
its :class:`~layers.report.ValidationReport`. Nothing here writes anywhere: storing is
:mod:`layers.importer`'s job, and only happens when the caller decides the report is
acceptable. File-level problems (unreadable file, missing required column, no CRS) raise
:class:`~layers.errors.InputError`; row-level problems become findings.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers import codes as codes_mod
from layers.errors import InputError
from layers.io import RawLayer, read_layer
from layers.placement import place_points, swapped_inside
from layers.report import ValidationReport
from layers.schema import FACILITY_TYPES, STORAGE_CRS, VOCABULARIES, LayerSpec, get_spec

__all__ = ["ImportResult", "import_layer", "match_columns", "validate_layer"]

CODE_SYSTEMS = ("kemendagri", "bps")
PERIOD_COLUMNS = ("tahun", "year", "periode", "period")
#: Degrees bounds of Indonesia with a margin: the fallback area for swap detection.
INDONESIA_BOUNDS = (94.0, -12.0, 142.0, 7.0)
_INTERNAL = {"geometry", "_coord_error"}
POINT, MULTIPOINT, POLYGON, MULTIPOLYGON = 0, 4, 3, 6
_TYPE_NAMES = np.array(
    [
        "Point",
        "LineString",
        "LinearRing",
        "Polygon",
        "MultiPoint",
        "MultiLineString",
        "MultiPolygon",
        "GeometryCollection",
    ],
    dtype=object,
)


def _type_names(type_ids: np.ndarray) -> np.ndarray:
    ids = np.asarray(type_ids)
    return np.where(ids >= 0, _TYPE_NAMES[np.clip(ids, 0, 7)], "missing")


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep only the polygonal parts of repaired geometries (make_valid can add lines).

    Returns Polygons where one part remains, MultiPolygons where several do, and empty
    Polygons where none does.
    """
    geoms = np.asarray(geoms, dtype=object)
    out = geoms.copy()
    mixed = ~np.isin(shapely.get_type_id(geoms), (POLYGON, MULTIPOLYGON))
    if not mixed.any():
        return out
    # Flatten collections (and multipolygons inside them) down to single parts.
    parts, owner = shapely.get_parts(geoms[mixed], return_index=True)
    parts, inner = shapely.get_parts(parts, return_index=True)
    owner = owner[inner]
    poly = shapely.get_type_id(parts) == POLYGON
    parts, owner = parts[poly], owner[poly]
    counts = np.bincount(owner, minlength=mixed.sum())
    merged = np.full(mixed.sum(), shapely.Polygon(), dtype=object)
    if len(parts):
        multi = shapely.multipolygons(parts, indices=owner)
        has = np.flatnonzero(counts > 0)
        merged[has] = multi[has]
        one = counts == 1
        if one.any():
            merged[one] = shapely.get_geometry(merged[one], 0)
    out[mixed] = merged
    return out


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


def _norm_name(name: object) -> str:
    text = str(name).strip().lower()
    text = text.rsplit("/", 1)[-1]
    return re.sub(r"[\s\-.]+", "_", text).strip("_")


def match_columns(
    columns: list[str], spec: LayerSpec, mapping: dict[str, str] | None = None, file: str = ""
) -> dict[str, str]:
    """Match a file's columns to a spec's canonical columns.

    Parameters
    ----------
    columns : list of str
        Column names as read.
    spec : LayerSpec
        The target schema.
    mapping : dict, optional
        ``{canonical: source column}`` chosen by the user; wins over aliases.
    file : str
        File name for error messages.

    Returns
    -------
    dict
        ``{canonical: source column}`` for every column found.

    Raises
    ------
    InputError
        When the mapping names an unknown canonical or source column, or a required
        column is missing (the message lists the accepted names and the file's columns).
    """
    usable = [c for c in columns if c not in _INTERNAL]
    by_norm: dict[str, str] = {}
    for c in usable:
        by_norm.setdefault(_norm_name(c), c)
    found: dict[str, str] = {}
    for canonical, source in (mapping or {}).items():
        if canonical not in spec.column_names:
            raise InputError(
                f"cannot map {canonical!r}: {spec.kind} columns are {', '.join(spec.column_names)}",
                file=file,
            )
        if source not in usable:
            raise InputError(
                f"column {source!r} (mapped to {canonical}) is not in the file; "
                f"columns: {', '.join(usable)}",
                file=file,
            )
        found[canonical] = source
    used = set(found.values())
    for col in spec.columns:
        if col.name in found:
            continue
        for alias in (col.name, *col.aliases):
            source = by_norm.get(alias)
            reusable = spec.kind == "facilities" and col.name == "source_code"
            if source is not None and (source not in used or reusable):
                found[col.name] = source
                used.add(source)
                break
    return found


def _require(spec: LayerSpec, found: dict[str, str], columns: list[str], file: str, geo: bool):
    for col in spec.columns:
        if not col.required or col.name in found:
            continue
        if spec.kind == "needs" and col.name == "kode":
            continue
        shown = ", ".join(c for c in columns if c not in _INTERNAL) or "(none)"
        raise InputError(
            f"required column {col.name!r} not found; name it one of "
            f"{', '.join((col.name, *col.aliases))}, or map it; the file has: {shown}",
            file=file,
        )
    if spec.kind == "needs" and not geo and "kode" not in found:
        raise InputError(
            "needs reports need coordinates or a village code column "
            "(kode, kode_desa, kode_wilayah); found neither",
            file=file,
        )


_EMPTY = ("", "nan", "NaN", "None", "NULL", "null", "-")


def _by_unique(series: pd.Series, func) -> pd.Series:
    """Apply ``func`` to each distinct value once (columns repeat few values many times)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    mapped = np.array([func(u) for u in uniques] + [None], dtype=object)
    return pd.Series(mapped[codes], index=series.index, dtype="object")


def _blank(series: pd.Series) -> pd.Series:
    """Text with surrounding space removed; empty strings become missing (object dtype)."""
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
        return series.astype("object").where(series.notna(), None)
    text = series.astype("string").str.strip()
    text = text.where(~text.isin(_EMPTY))
    return text.astype("object").where(text.notna(), None)


def _to_number(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse numbers written with a decimal point or comma. Returns (values, bad mask)."""
    text = _blank(series)
    present = text.notna()
    if pd.api.types.is_numeric_dtype(series):
        values = pd.to_numeric(series, errors="coerce")
        return values, present & values.isna()
    s = text.astype("string")
    comma_decimal = s.str.fullmatch(r"[-+]?\d{1,3}(\.\d{3})*,\d+|[-+]?\d+,\d+", na=False)
    s = s.where(
        ~comma_decimal, s.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    )
    values = pd.to_numeric(s, errors="coerce").astype("float64")
    return values, present & values.isna()


def _parse_dates(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse dates: ISO first (the calendar date as written, time and zone dropped, so a
    KoboToolbox ``2024-03-05T06:00+07:00`` stays 5 March), then day-first as Indonesians
    write them (``05/03/2024``)."""
    text = _blank(series)
    present = text.notna()
    if pd.api.types.is_datetime64_any_dtype(series):
        naive = series.dt.tz_localize(None) if series.dt.tz else series
        return naive.dt.normalize().astype("datetime64[ns]"), present & series.isna()
    s = text.astype("string")
    iso_day = s.str.extract(r"^(\d{4}-\d{2}-\d{2})(?:[T ].*)?$", expand=False)
    parsed = pd.to_datetime(iso_day, format="%Y-%m-%d", errors="coerce")
    rest = present & parsed.isna() & iso_day.isna()
    if rest.any():
        parsed.loc[rest] = pd.to_datetime(s[rest], dayfirst=True, errors="coerce", format="mixed")
    parsed = parsed.dt.normalize().astype("datetime64[ns]")
    return parsed, present & parsed.isna()


class _Validator:
    """One validation run: holds the frame, the keep mask and the report."""

    def __init__(self, raw: RawLayer, spec: LayerSpec, report: ValidationReport) -> None:
        self.raw = raw
        self.spec = spec
        self.report = report
        self.frame = raw.frame
        self.rows = np.asarray(raw.rows)
        self.keep = np.ones(len(self.frame), dtype=bool)
        self.repaired = np.zeros(len(self.frame), dtype=bool)
        self.out: dict[str, pd.Series] = {}

    def _record(self, action, mask, code, column, values, per_row, params) -> np.ndarray:
        mask = np.asarray(mask, dtype=bool) & self.keep
        if mask.any():
            vals = None if values is None else np.asarray(values, dtype=object)[mask]
            extra = {k: np.asarray(a, dtype=object)[mask] for k, a in (per_row or {}).items()}
            self.report.add_rows(action, code, self.rows[mask], column, vals, extra, **params)
        return mask

    def reject(self, mask, code, column=None, values=None, per_row=None, **params) -> None:
        """Reject the rows in ``mask`` (still kept) with one finding each."""
        self.keep &= ~self._record("rejected", mask, code, column, values, per_row, params)

    def repair(self, mask, code, column=None, values=None, per_row=None, **params) -> None:
        """Record a repair for the rows in ``mask`` (the caller changes the values)."""
        self.repaired |= self._record("repaired", mask, code, column, values, per_row, params)

    def warn(self, mask, code, column=None, values=None, per_row=None, **params) -> None:
        """Record a warning for the rows in ``mask``; they stay as they are."""
        self._record("warning", mask, code, column, values, per_row, params)


def _check_values(v: _Validator, found: dict[str, str]) -> None:
    """Parse and check every mapped attribute column by its dtype."""
    spec = v.spec
    for col in spec.columns:
        source = found.get(col.name)
        if source is None:
            continue
        raw = v.frame[source]
        if col.dtype == "text":
            values = _blank(raw)
            if col.required:
                v.reject(values.isna().to_numpy(), "value_required", source)
            v.out[col.name] = values
        elif col.dtype == "category":
            values = _blank(raw)
            vocab = VOCABULARIES.get((spec.kind, col.name), {a: a for a in col.allowed})
            # Kobo exports answer names (``air_bersih``); people type labels ("Air Bersih").
            mapped = _by_unique(
                values, lambda t, vocab=vocab: vocab.get(re.sub(r"[\s_]+", " ", t.lower()))
            )
            missing = values.isna()
            if col.required:
                v.reject(missing.to_numpy(), "value_required", source)
            unknown = (~missing & mapped.isna()).to_numpy()
            v.reject(unknown, "value_not_allowed", source, values, allowed=", ".join(col.allowed))
            v.out[col.name] = mapped.astype("object")
        elif col.dtype in ("int", "float"):
            values, bad = _to_number(raw)
            v.reject(bad.to_numpy(), "value_not_number", source, raw)
            if col.required:
                v.reject(values.isna().to_numpy(), "value_required", source)
            if col.dtype == "int":
                frac = values.notna() & (values != np.round(values))
                v.reject(frac.to_numpy(), "value_not_number", source, raw)
            v.reject((values < 0).fillna(False).to_numpy(), "value_negative", source, values)
            v.out[col.name] = values
        elif col.dtype == "date":
            values, bad = _parse_dates(raw)
            v.reject(bad.to_numpy(), "date_invalid", source, raw)
            if col.required:
                v.reject(values.isna().to_numpy(), "value_required", source)
            v.out[col.name] = values


def _check_ids(v: _Validator, found: dict[str, str], prefix: str) -> None:
    """Generate missing ids and reject later duplicates of an id."""
    id_col = v.spec.id_column
    if id_col is None or id_col == "kode":
        return
    ids = v.out.get(id_col)
    if ids is None:
        ids = pd.Series([None] * len(v.frame), index=v.frame.index, dtype="object")
    missing = ids.isna().to_numpy() & v.keep
    if missing.any():
        generated = [f"{prefix}{r:07d}" for r in v.rows[missing]]
        ids = ids.copy()
        ids[missing] = generated
        v.report.add(
            "repaired",
            "id_generated",
            column=found.get(id_col),
            value=f"{int(missing.sum())} ids ({generated[0]} ...)",
        )
    v.out[id_col] = ids
    _reject_duplicates(v, ids, "id_duplicate", found.get(id_col))


def _reject_duplicates(v: _Validator, keys: pd.Series, code: str, column: str | None) -> None:
    live = pd.Series(keys.to_numpy(), dtype="object").where(v.keep)
    dup = live.duplicated(keep="first") & live.notna()
    if not dup.any():
        return
    first_pos = pd.Series(np.arange(len(live))).groupby(live.to_numpy()).transform("min")
    for value, idx in pd.Series(np.flatnonzero(dup.to_numpy())).groupby(live[dup].to_numpy()):
        first_row = int(v.rows[int(first_pos.iloc[idx.iloc[0]])])
        mask = np.zeros(len(live), dtype=bool)
        mask[idx.to_numpy()] = True
        vals = np.full(len(live), value, dtype=object)
        v.reject(mask, code, column, vals, first=first_row)


def _check_crs(raw: RawLayer, crs: str | None, report: ValidationReport) -> gpd.GeoSeries:
    """Return the geometries in EPSG:4326, assuming WGS 84 only when that is safe."""
    geom = raw.frame.geometry
    if crs is not None and raw.frame.crs is not None and raw.crs_from_file:
        given = gpd.GeoSeries([], crs=crs).crs
        if given != raw.frame.crs:
            raise InputError(
                f"the file says its CRS is {raw.frame.crs.to_string()} but "
                f"{given.to_string()} was given; remove the option or fix the file",
                file=raw.source,
            )
    if raw.frame.crs is None or not raw.crs_from_file:
        if crs is not None:
            geom = gpd.GeoSeries(geom.values, index=geom.index, crs=crs)
        else:
            present = geom[~(geom.isna() | geom.is_empty)]
            if len(present):
                minx, miny, maxx, maxy = present.total_bounds
                if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
                    raise InputError(
                        "the file has no coordinate reference system and its coordinates "
                        f"(x {minx:.0f} to {maxx:.0f}, y {miny:.0f} to {maxy:.0f}) are not "
                        "degrees; give the CRS (e.g. --crs EPSG:32748) or add a .prj file",
                        file=raw.source,
                    )
                report.add("warning", "crs_assumed")
            geom = gpd.GeoSeries(geom.values, index=geom.index, crs=STORAGE_CRS)
    if geom.crs is not None and not geom.crs.equals(gpd.GeoSeries([], crs=STORAGE_CRS).crs):
        report.add("repaired", "crs_transformed", source=geom.crs.to_string())
        geom = geom.to_crs(STORAGE_CRS)
    return geom


def _check_polygons(v: _Validator, geom: gpd.GeoSeries) -> np.ndarray:
    values = geom.to_numpy(dtype=object).copy()
    missing = shapely.is_missing(values)
    v.reject(missing, "geometry_missing", "geometry")
    safe = np.where(missing, shapely.Point(), values)
    v.reject(~missing & shapely.is_empty(safe), "geometry_empty", "geometry")
    type_ids = shapely.get_type_id(safe)
    wrong = ~np.isin(type_ids, (POLYGON, MULTIPOLYGON))
    v.reject(
        wrong,
        "geometry_wrong_type",
        "geometry",
        per_row={"found": _type_names(type_ids)},
        expected="Polygon",
    )
    live = np.flatnonzero(v.keep)
    invalid_pos = live[~shapely.is_valid(values[live])]
    if len(invalid_pos) == 0:
        return values
    reasons = np.full(len(values), None, dtype=object)
    reasons[invalid_pos] = shapely.is_valid_reason(values[invalid_pos])
    rebuilt = _polygonal(shapely.make_valid(values[invalid_pos]))
    failed = shapely.is_empty(rebuilt)
    repaired = np.zeros(len(values), dtype=bool)
    repaired[invalid_pos[~failed]] = True
    v.repair(repaired, "geometry_repaired", "geometry", per_row={"reason": reasons})
    values[invalid_pos[~failed]] = rebuilt[~failed]
    lost = np.zeros(len(values), dtype=bool)
    lost[invalid_pos[failed]] = True
    v.reject(lost, "geometry_empty", "geometry")
    return values


def _check_points(
    v: _Validator,
    geom: gpd.GeoSeries,
    optional: bool,
    area: gpd.GeoDataFrame | None,
    swap_repair: bool,
) -> np.ndarray:
    values = geom.to_numpy(dtype=object).copy()
    if "_coord_error" in v.frame.columns:
        err = _blank(v.frame["_coord_error"])
        bad = err.notna().to_numpy()
        # Name the column that holds the bad value; fall back to all coordinate columns.
        for column in v.raw.coordinate_columns:
            if column in v.frame.columns:
                holds = (_blank(v.frame[column]) == err).fillna(False).to_numpy()
                v.reject(bad & holds, "coordinate_invalid", column, err)
        col = ",".join(v.raw.coordinate_columns) or "coordinates"
        v.reject(bad, "coordinate_invalid", col, err)
    missing = shapely.is_missing(values)
    if not optional:
        v.reject(missing, "geometry_missing", "geometry")
    present = ~missing & v.keep
    empty = present & shapely.is_empty(np.where(missing, shapely.Point(), values))
    if optional:
        values[empty] = None
    else:
        v.reject(empty, "geometry_empty", "geometry")
    present = ~shapely.is_missing(values) & v.keep
    types = shapely.get_type_id(np.where(present, values, shapely.Point()))
    one_multi = (
        present
        & (types == 4)
        & (shapely.get_num_geometries(np.where(present, values, shapely.Point())) == 1)
    )
    if one_multi.any():
        values[one_multi] = shapely.get_geometry(values[one_multi], 0)
        v.repair(one_multi, "geometry_collection_reduced", "geometry", kept="Point")
    types = shapely.get_type_id(np.where(present, values, shapely.Point()))
    names = _type_names(types)
    v.reject(
        present & (types != POINT),
        "geometry_wrong_type",
        "geometry",
        per_row={"found": names},
        expected="Point",
    )
    present = ~shapely.is_missing(values) & v.keep
    x = shapely.get_x(np.where(present, values, shapely.Point(0, 0)))
    y = shapely.get_y(np.where(present, values, shapely.Point(0, 0)))
    # Swapped latitude/longitude: outside the area, inside once swapped.
    if area is not None and len(area):
        swap = np.zeros(len(values), dtype=bool)
        swap[present] = swapped_inside(values[present], area.geometry.to_numpy())
    else:
        x0, y0, x1, y1 = INDONESIA_BOUNDS
        inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        inside_sw = (y >= x0) & (y <= x1) & (x >= y0) & (x <= y1)
        swap = present & ~inside & inside_sw
    if swap.any():
        col = ",".join(v.raw.coordinate_columns) or "geometry"
        if swap_repair:
            values[swap] = shapely.points(y[swap], x[swap])
            x[swap], y[swap] = y[swap], x[swap].copy()
            v.repair(swap, "latlon_swapped", col)
        else:
            v.warn(swap, "latlon_swapped_suggested", col)
    bad = present & ~swap & ((np.abs(y) > 90) | (np.abs(x) > 180) | ~np.isfinite(x + y))
    coords = np.array([f"{a:g}, {b:g}" for a, b in zip(y[bad], x[bad], strict=True)], dtype=object)
    vals = np.full(len(values), None, dtype=object)
    vals[bad] = coords
    v.reject(bad, "coordinate_out_of_range", ",".join(v.raw.coordinate_columns) or "geometry", vals)
    return values


def _place(
    v: _Validator,
    values: np.ndarray,
    villages: gpd.GeoDataFrame | None,
    given_kode: pd.Series | None,
) -> pd.Series:
    """Assign village codes from points; warn about outside, overlap and disagreement."""
    kode = pd.Series([None] * len(values), dtype="object")
    if villages is None or len(villages) == 0:
        if given_kode is not None:
            kode = given_kode.reset_index(drop=True)
        v.report.notes["placement"] = "no villages in the workspace: points were not placed"
        return kode
    village_geoms = villages.geometry.to_numpy()
    village_codes = villages["kode"].to_numpy(dtype=object)
    live = v.keep & ~shapely.is_missing(values)
    placement = place_points(np.where(live, values, None), village_geoms, village_codes)
    chosen = placement.village
    placed = chosen >= 0
    kode[placed] = village_codes[chosen[placed]]
    v.warn(live & ~placed, "point_outside_villages", "geometry")
    if len(placement.overlaps):
        pts = placement.overlaps["point"].to_numpy()
        mask = np.zeros(len(values), dtype=bool)
        mask[pts] = True
        cand = np.full(len(values), None, dtype=object)
        cand[pts] = [
            ", ".join(village_codes[c] for c in cs) for cs in placement.overlaps["candidates"]
        ]
        chosen_code = np.full(len(values), None, dtype=object)
        chosen_code[pts] = village_codes[chosen[pts]]
        count = np.zeros(len(values), dtype=np.int64)
        count[pts] = [len(c) for c in placement.overlaps["candidates"]]
        v.warn(
            mask,
            "point_in_overlap",
            "geometry",
            per_row={"codes": cand, "chosen": chosen_code, "count": count},
        )
    if given_kode is not None:
        given = given_kode.reset_index(drop=True).to_numpy(dtype=object)
        has_given = pd.notna(given)
        without_point = ~live & has_given
        kode[without_point] = given[without_point]
        found_codes = kode.to_numpy(dtype=object)
        differs = placed & has_given & (given != found_codes)
        v.warn(
            differs,
            "code_disagrees_with_location",
            "kode",
            per_row={"expected": given, "found": found_codes},
        )
    return kode


def _village_codes(
    v: _Validator, found: dict[str, str], code_system: str, bridge: codes_mod.CodeBridge | None
) -> pd.Series | None:
    """Normalise the layer's village code column (translating BPS codes by crosswalk)."""
    source = found.get("kode")
    if source is None:
        return None
    raw = _blank(v.frame[source])
    if code_system == "bps":
        if bridge is None:
            raise InputError(
                "BPS codes can only be joined through the BPS-Kemendagri bridge and village "
                "crosswalk; give the bridge folder (--bridge)",
                file=v.raw.source,
            )
        result = bridge.villages_to_kemendagri(raw)
        unmatched = (raw.notna() & result.kode.isna()).to_numpy()
        v.reject(
            unmatched, "code_unmatched", source, raw, system="BPS", table="the village crosswalk"
        )
        v.report.unmatched_codes.update(result.unmatched)
        fuzzy = result.method.str.startswith("fuzzy").to_numpy() & ~unmatched
        v.warn(fuzzy, "crosswalk_fuzzy", source, raw, per_row={"mapped": result.kode})
        v.out["kode_bps"] = raw
        v.out["crosswalk_method"] = result.method
        kode = result.kode
    else:
        kode, errors = codes_mod.normalize_kemendagri_series(raw)
        bad = (raw.notna() & kode.isna()).to_numpy()
        v.reject(bad, "code_invalid", source, raw, per_row={"reason": errors}, system="Kemendagri")
        unmatched = {}
        if v.spec.kind == "indicators":
            unmatched = raw[bad].value_counts().to_dict()
        v.report.unmatched_codes.update({str(k): int(n) for k, n in unmatched.items()})
    required = v.spec.column("kode").required
    if required:
        v.reject(raw.isna().to_numpy(), "value_required", source)
    return kode


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

    Returns
    -------
    ImportResult
    """
    spec = get_spec(kind)
    if code_system not in CODE_SYSTEMS:
        raise ValueError(
            f"code_system must be one of {', '.join(CODE_SYSTEMS)}, not {code_system!r}"
        )
    if workspace_villages is not None and "kode" not in workspace_villages.columns:
        raise ValueError("workspace_villages must be a canonical villages layer with 'kode'")
    report = ValidationReport(kind=kind, file=raw.source, rows_read=len(raw.frame))
    report.notes.update({"format": raw.format, "code_system": code_system})
    if raw.notes:
        report.notes["reader"] = list(raw.notes)
    if len(raw.frame) == 0:
        raise InputError("the file has no rows", file=raw.source)
    columns = [str(c) for c in raw.frame.columns]
    found = match_columns(columns, spec, mapping, raw.source)
    geo = bool(raw.coordinate_columns) or (
        "geometry" in raw.frame.columns and bool(raw.frame.geometry.notna().any())
    )
    _require(spec, found, columns, raw.source, bool(geo))
    v = _Validator(raw, spec, report)

    used = set(found.values()) | set(raw.coordinate_columns)
    period = next((c for c in columns if _norm_name(c) in PERIOD_COLUMNS), None)
    if spec.kind == "indicators" and period:
        used.add(period)
    extra = [c for c in columns if c not in used and c not in _INTERNAL]

    kode = _village_codes(v, found, code_system, bridge)
    if kode is not None:
        v.out["kode"] = kode
    _check_values(v, found)
    if kode is not None:
        v.out["kode"] = kode  # _check_values must not overwrite the normalised codes

    if spec.kind == "indicators":
        data = _indicators(v, extra, period, workspace_villages)
    else:
        if extra:
            report.add("warning", "column_ignored", value=", ".join(extra))
        geom = _check_crs(raw, crs, report) if spec.geometry else None
        if spec.kind == "villages":
            data = _villages(v, geom, found)
        else:
            data = _points(v, geom, found, workspace_villages, bridge, swap_repair, today)
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


def _villages(v: _Validator, geom: gpd.GeoSeries, found: dict[str, str]) -> gpd.GeoDataFrame:
    values = _check_polygons(v, geom)
    kode = v.out["kode"]
    _reject_duplicates(v, kode, "code_duplicate", v.spec.column("kode").name)
    text = kode.fillna("").astype(str)
    out = pd.DataFrame(index=range(len(kode)))
    out["kode"] = kode.to_numpy()
    out["name"] = v.out["name"].to_numpy()
    out["kecamatan_kode"] = text.str[:8].where(kode.notna(), None).to_numpy()
    out["kecamatan"] = v.out.get("kecamatan", pd.Series([None] * len(kode))).to_numpy()
    out["kabupaten_kode"] = text.str[:5].where(kode.notna(), None).to_numpy()
    out["kabupaten"] = v.out.get("kabupaten", pd.Series([None] * len(kode))).to_numpy()
    out["provinsi_kode"] = text.str[:2].where(kode.notna(), None).to_numpy()
    out["provinsi"] = v.out.get("provinsi", pd.Series([None] * len(kode))).to_numpy()
    derived = np.where(text.str[9] == "1", "kelurahan", "desa")
    given = v.out.get("village_type")
    if given is not None:
        differs = given.notna().to_numpy() & (given.to_numpy() != derived)
        v.warn(
            differs,
            "village_type_differs",
            found.get("village_type"),
            given.to_numpy(),
            per_row={"kode": kode.to_numpy(), "derived": derived},
        )
    out["village_type"] = derived
    out["population"] = v.out.get("population", pd.Series([np.nan] * len(kode))).to_numpy()
    gdf = gpd.GeoDataFrame(out, geometry=values, crs=STORAGE_CRS)
    return gdf.loc[v.keep].reset_index(drop=True)


def _points(
    v: _Validator,
    geom: gpd.GeoSeries,
    found: dict[str, str],
    villages: gpd.GeoDataFrame | None,
    bridge: codes_mod.CodeBridge | None,
    swap_repair: bool,
    today: date | None,
) -> gpd.GeoDataFrame:
    spec = v.spec
    values = _check_points(v, geom, spec.geometry_optional, villages, swap_repair)
    n = len(values)
    prefix = "F" if spec.kind == "facilities" else "N"
    _check_ids(v, found, prefix)
    given_kode = v.out.get("kode")
    if given_kode is not None and villages is not None and len(villages):
        known = given_kode.isin(set(villages["kode"])).to_numpy()
        no_point = shapely.is_missing(values)
        v.reject(
            no_point & given_kode.notna().to_numpy() & ~known,
            "village_unknown",
            found.get("kode"),
            given_kode.to_numpy(),
        )
    if spec.kind == "needs":
        no_place = shapely.is_missing(values) & (
            given_kode.isna().to_numpy() if given_kode is not None else np.ones(n, dtype=bool)
        )
        v.reject(no_place, "geometry_missing", "geometry")
        sev = v.out["severity"]
        v.reject(
            ((sev < 1) | (sev > 5)).fillna(False).to_numpy(),
            "value_out_of_range",
            found["severity"],
            sev.to_numpy(),
            low=1,
            high=5,
        )
        ref = pd.Timestamp(today or date.today())
        future = (v.out["reported_date"] > ref).fillna(False).to_numpy()
        v.warn(
            future,
            "date_future",
            found["reported_date"],
            v.out["reported_date"].dt.strftime("%Y-%m-%d").to_numpy(),
        )
    kode = _place(v, values, villages, given_kode)
    out = pd.DataFrame(index=range(n))
    for col in spec.columns:
        if col.name == "kode":
            out["kode"] = kode.to_numpy()
        elif col.name == "sector":
            out["sector"] = v.out["type"].map(FACILITY_TYPES).to_numpy()
        elif col.name in v.out:
            out[col.name] = v.out[col.name].to_numpy()
        elif col.name == "status":
            out["status"] = "open"
        elif col.dtype in ("float", "int"):
            out[col.name] = np.nan
        else:
            out[col.name] = None
    if spec.kind == "facilities" and "source_code" not in v.out and "facility_id" in found:
        out["source_code"] = v.out["facility_id"].to_numpy()
    if spec.kind == "needs":
        out["severity"] = pd.array(out["severity"].where(v.keep).round(), dtype="Int64")
        out["status"] = out["status"].fillna("open")
    if spec.kind == "facilities" and bridge is not None and villages is not None and len(villages):
        implied = bridge.kemenkes_regency(out["source_code"])
        where = pd.Series(kode.to_numpy(), dtype="object").str[:5]
        differs = implied.notna() & where.notna() & (implied != where)
        column = found.get("source_code") or found.get("facility_id")
        v.warn(
            differs.to_numpy(),
            "code_disagrees_with_location",
            column,
            per_row={"expected": implied.to_numpy(), "found": where.to_numpy()},
        )
    gdf = gpd.GeoDataFrame(out, geometry=values, crs=STORAGE_CRS)
    return gdf.loc[v.keep].reset_index(drop=True)


def _indicators(
    v: _Validator, extra: list[str], period: str | None, villages: gpd.GeoDataFrame | None
) -> pd.DataFrame:
    kode = v.out["kode"]
    source = v.spec.column("kode").name
    if villages is not None and len(villages):
        unknown = kode.notna().to_numpy() & ~kode.isin(set(villages["kode"])).to_numpy()
        v.reject(unknown, "village_unknown", source, kode.to_numpy())
    out = pd.DataFrame({"kode": kode.to_numpy()})
    keys = kode.astype(str)
    if period:
        values, bad = _to_number(v.frame[period])
        v.reject(bad.to_numpy(), "value_not_number", period, v.frame[period])
        out[_norm_name(period)] = values.to_numpy()
        keys = keys + "|" + values.astype(str)
    _reject_duplicates(v, keys.where(kode.notna(), None), "code_duplicate", source)
    for extra_col in ("kode_bps", "crosswalk_method"):
        if extra_col in v.out:
            out[extra_col] = v.out[extra_col].to_numpy()
    ignored = []
    for col in extra:
        values, bad = _to_number(v.frame[col])
        present = _blank(v.frame[col]).notna()
        if present.sum() and bad.sum() > 0.5 * present.sum():
            ignored.append(col)
            continue
        v.warn(bad.to_numpy(), "value_not_number", col, v.frame[col])
        out[_norm_name(col)] = values.to_numpy()
    if ignored:
        v.report.add("warning", "column_ignored", value=", ".join(ignored))
    return out.loc[v.keep].reset_index(drop=True)


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
