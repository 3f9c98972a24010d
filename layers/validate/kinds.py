"""Building each canonical layer kind from checked columns and geometries."""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers import codes as codes_mod
from layers.placement import VillageIndex
from layers.schema import FACILITY_TYPES, STORAGE_CRS
from layers.validate.cells import blank, to_number
from layers.validate.checker import RowChecker, check_ids, reject_duplicates
from layers.validate.columns import norm_name
from layers.validate.geometry import check_points, check_polygons
from layers.validate.places import place_in_villages


def kept_rows(frame: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """The rows still kept, renumbered from 0 (no copy when every row is kept)."""
    if keep.all():
        return frame
    return frame.loc[keep].reset_index(drop=True)


def build_villages(v: RowChecker, geom: gpd.GeoSeries, found: dict[str, str]) -> gpd.GeoDataFrame:
    """Canonical villages: codes, derived hierarchy and type, repaired polygons."""
    values = check_polygons(v, geom)
    kode = v.out["kode"]
    reject_duplicates(v, kode, "code_duplicate", found.get("kode"))
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
    return kept_rows(gdf, v.keep)


def village_index(villages: gpd.GeoDataFrame) -> VillageIndex:
    """The index that places points in a canonical villages layer (geometries and codes)."""
    return VillageIndex(villages.geometry.to_numpy(), villages["kode"].to_numpy(dtype=object))


def build_points(
    v: RowChecker,
    geom: gpd.GeoSeries,
    found: dict[str, str],
    villages: gpd.GeoDataFrame | None,
    bridge: codes_mod.CodeBridge | None,
    swap_repair: bool,
    today: date | None,
    index: VillageIndex | None = None,
) -> gpd.GeoDataFrame:
    """Canonical facilities or needs: ids, values, placement in villages, code checks.

    ``index`` is ``villages`` already indexed (:func:`village_index`), if the caller has it.
    """
    spec = v.spec
    if villages is None or not len(villages):
        index = None
    elif index is None:
        index = village_index(villages)
    values, placement = check_points(v, geom, spec.geometry_optional, index, swap_repair)
    n = len(values)
    prefix = "F" if spec.kind == "facilities" else "N"
    check_ids(v, found, prefix)
    given_kode = v.out.get("kode")
    if given_kode is not None and villages is not None and len(villages):
        known = given_kode.isin(set(villages["kode"].to_numpy(dtype=object))).to_numpy()
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
        v.reject(no_place, "geometry_missing", v.geometry_column)
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
        if future.any():  # format only the dates that are reported
            shown = np.full(n, None, dtype=object)
            shown[future] = v.out["reported_date"][future].dt.strftime("%Y-%m-%d").to_numpy()
            v.warn(future, "date_future", found["reported_date"], shown)
    kode = place_in_villages(v, values, villages, given_kode, placement, found.get("kode"))
    columns: dict[str, object] = {}
    for col in spec.columns:
        if col.name == "kode":
            columns["kode"] = kode.reset_index(drop=True).astype("str")
        elif col.name == "sector":
            columns["sector"] = v.out["type"].map(FACILITY_TYPES).to_numpy()
        elif col.name in v.out:
            columns[col.name] = v.out[col.name].reset_index(drop=True)
        elif col.name == "status":
            columns["status"] = np.full(n, "open", dtype=object)
        elif col.dtype in ("float", "int"):
            columns[col.name] = np.full(n, np.nan)
        else:
            columns[col.name] = np.full(n, None, dtype=object)
    if spec.kind == "facilities" and "source_code" not in v.out and "facility_id" in found:
        columns["source_code"] = v.out["facility_id"].to_numpy()
    out = pd.DataFrame(columns, copy=False)
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
    return kept_rows(gdf, v.keep)


def build_indicators(
    v: RowChecker,
    extra: list[str],
    period: str | None,
    villages: gpd.GeoDataFrame | None,
    found: dict[str, str],
) -> pd.DataFrame:
    """Canonical indicator table: code (and period), numeric columns, duplicates."""
    kode = v.out["kode"]
    source = found.get("kode")
    if villages is not None and len(villages):
        unknown = kode.notna().to_numpy() & ~kode.isin(set(villages["kode"])).to_numpy()
        v.reject(unknown, "village_unknown", source, kode.to_numpy())
    out = pd.DataFrame({"kode": kode.to_numpy()})
    keys = kode.astype(str)
    if period:
        values, bad = to_number(v.frame[period])
        v.reject(bad.to_numpy(), "value_not_number", period, v.frame[period])
        out[norm_name(period)] = values.to_numpy()
        keys = keys + "|" + values.astype(str)
    reject_duplicates(v, keys.where(kode.notna(), None), "code_duplicate", source)
    for extra_col in ("kode_bps", "crosswalk_method"):
        if extra_col in v.out:
            out[extra_col] = v.out[extra_col].to_numpy()
    ignored = []
    for col in extra:
        values, bad = to_number(v.frame[col])
        present = blank(v.frame[col]).notna()
        if present.sum() and bad.sum() > 0.5 * present.sum():
            ignored.append(col)
            continue
        v.warn(bad.to_numpy(), "value_not_number", col, v.frame[col])
        out[norm_name(col)] = values.to_numpy()
    if ignored:
        v.report.add("warning", "column_ignored", value=", ".join(ignored))
    return kept_rows(out, v.keep)
