"""One village's explanation, village search, and kecamatan/kabupaten outlines."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.errors import N_, InputError, NotFoundError
from layers.mapdata.cache import (
    RunData,
    caches,
    latest_run,
    latest_villages,
    read_columns,
    run_score_object,
    run_villages,
    split_ref,
    stamp,
)
from layers.mapdata.labels import indicator_info, render_label, unit_label
from layers.scoring import CLASS_LABELS, REASONS
from layers.storage import Store

__all__ = ["LEVELS", "SIMPLIFY_DEGREES", "area_outlines", "search_villages", "village_detail"]

#: Area levels with outlines: the code column, the name column, and the code's length
#: in a Kemendagri village code ``PP.KK.CC.DDDD`` (used when the code column is empty).
LEVELS: dict[str, tuple[str, str, int]] = {
    "kecamatan": ("kecamatan_kode", "kecamatan", 8),
    "kabupaten": ("kabupaten_kode", "kabupaten", 5),
}
#: Simplification tolerance of the outlines, in degrees (about 20 m and 100 m).
SIMPLIFY_DEGREES: dict[str, float] = {"kecamatan": 0.0002, "kabupaten": 0.001}
#: Precision grid of the dissolve, in degrees (about 10 cm).
GRID_DEGREES = 1e-6
#: Largest number of search results.
MAX_SEARCH = 100


def _text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _number(value: Any) -> float | None:
    if value is None or pd.isna(value):
        return None
    number = float(value)
    return number if np.isfinite(number) else None


# --- counts of facilities and needs ------------------------------------------------------


def _counts(store: Store, workspace: str, run: RunData) -> dict[str, pd.DataFrame]:
    """Facilities by type and needs by category per village, for the run's input layers."""
    facilities, needs = [], []
    for ref in run.inputs.values():
        name, version = split_ref(ref)
        info = store.dataset_info(workspace, name, version)
        if info.kind == "facilities":
            columns = ["kode", "type"]
        elif info.kind == "needs":
            columns = ["kode", "category", "status"]
        else:
            continue
        frame = read_columns(store, workspace, name, version, columns, geometry=False)
        (facilities if info.kind == "facilities" else needs).append(frame)
    out = {}
    for key, frames, column in (("facilities", facilities, "type"), ("needs", needs, "category")):
        if not frames:
            out[key] = pd.DataFrame(index=pd.Index([], dtype=object, name="kode"))
            continue
        frame = pd.concat(frames, ignore_index=True)
        frame = frame[frame["kode"].notna()]
        table = pd.crosstab(frame["kode"].astype(object), frame[column].astype(object))
        if key == "needs":
            still = (
                frame["status"].isin(("open", "verified", "in_progress")) | frame["status"].isna()
            )
            table["__open"] = (
                still.groupby(frame["kode"].astype(object)).sum().reindex(table.index).fillna(0)
            )
        out[key] = table
    return out


def _village_counts(store: Store, workspace: str, run: RunData, kode: str) -> dict[str, Any]:
    counts = caches(store).counts.get(run.key, lambda: _counts(store, workspace, run))
    facilities = counts["facilities"]
    needs = counts["needs"]
    by_type: dict[str, int] = {}
    if kode in facilities.index:
        row = facilities.loc[kode]
        by_type = {str(k): int(v) for k, v in row.items() if v}
    by_category: dict[str, int] = {}
    still_open = 0
    if kode in needs.index:
        row = needs.loc[kode]
        still_open = int(row.get("__open", 0))
        by_category = {str(k): int(v) for k, v in row.items() if v and k != "__open"}
    return {
        "facilities": {"total": sum(by_type.values()), "by_type": by_type},
        "needs": {
            "total": sum(by_category.values()),
            "open": still_open,
            "by_category": by_category,
        },
    }


# --- village detail ----------------------------------------------------------------------


def village_detail(
    store: Store,
    workspace: str,
    profile: str,
    kode: str,
    *,
    gettext: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """Everything the map's side panel shows about one village under a profile's latest run.

    Parameters
    ----------
    store : Store
        The store.
    workspace : str
        Workspace name.
    profile : str
        Profile name; its latest saved run is explained (computed and saved when none).
    kode : str
        Village code.
    gettext : callable, optional
        Translation function. Without it, ``label``, ``class_name`` and ``unit_label`` are
        English templates; with it, texts in its language (``params`` stay given).

    Returns
    -------
    dict
        ``kode``, ``name``, ``codes`` (``kode``, ``kecamatan_kode``, ``kabupaten_kode``,
        ``provinsi_kode``), ``kecamatan``, ``kabupaten``, ``provinsi``, ``bounds``,
        ``profile``, ``profile_title``, ``run``, ``villages``, ``score``, ``rank``,
        ``ranked``, ``need_class``, ``classes``, ``class_label`` (id), ``class_name``,
        ``weight_used``, ``reason`` and ``reason_text`` (why there is no score),
        ``indicators`` (per indicator ``id``, ``label``, ``params``, ``unit``,
        ``unit_label``, ``raw``, ``value``, ``status``, ``normalised``, ``weight``,
        ``effective_weight``, ``contribution``; largest contribution first, as
        :meth:`layers.scoring.Score.explain`: the contributions sum to the score),
        ``left_out`` (rules left out of the run, and why), and counts of
        ``facilities`` (``total``, ``by_type``) and ``needs`` (``total``, ``open``,
        ``by_category``) placed in the village, from the run's input layers.

    Raises
    ------
    NotFoundError
        For an unknown workspace, profile or village code.
    InputError
        As :func:`layers.mapdata.map_values`.
    """
    run = latest_run(store, workspace, profile)
    if not isinstance(kode, str) or kode not in run.table.index:
        raise NotFoundError(
            N_("no village with code %(kode)r in run %(run)s"),
            params={"kode": kode, "run": run.ref},
        )
    tr = gettext or (lambda text: text)
    explanation = run_score_object(run, store).explain(kode)
    villages = run_villages(store, workspace, run)
    attrs: dict[str, Any] = {}
    bounds = None
    if kode in villages.positions:
        i = int(villages.positions.get_loc(kode))
        row = villages.frame.iloc[i]
        attrs = {c: _text(row[c]) for c in villages.frame.columns if c != "geometry"}
        bounds = [float(v) for v in villages.bounds[i]]
    indicators = []
    for part in explanation.indicators:
        label, params, unit = indicator_info(part.indicator, run.settings)
        indicators.append(
            {
                "id": part.indicator,
                "label": render_label(label, params, gettext) if gettext else label,
                "params": params,
                "unit": unit,
                "unit_label": unit_label(unit, gettext),
                "raw": part.raw,
                "value": part.value,
                "status": part.status,
                "normalised": part.normalised,
                "weight": part.weight,
                "effective_weight": part.effective_weight,
                "contribution": part.contribution,
            }
        )
    return {
        "kode": kode,
        "name": attrs.get("name"),
        "codes": {
            "kode": kode,
            "kecamatan_kode": attrs.get("kecamatan_kode"),
            "kabupaten_kode": attrs.get("kabupaten_kode"),
            "provinsi_kode": attrs.get("provinsi_kode"),
        },
        "kecamatan": attrs.get("kecamatan"),
        "kabupaten": attrs.get("kabupaten"),
        "provinsi": attrs.get("provinsi"),
        "bounds": bounds,
        "profile": run.profile.name,
        "profile_title": tr(run.profile.title) if run.profile.title else run.profile.name,
        "run": run.ref,
        "villages": run.villages_ref,
        "score": explanation.score,
        "rank": explanation.rank,
        "ranked": explanation.ranked,
        "need_class": explanation.need_class,
        "classes": explanation.classes,
        "class_label": explanation.class_label,
        "class_name": tr(CLASS_LABELS[explanation.class_label]),
        "weight_used": explanation.weight_used,
        "reason": explanation.reason,
        "reason_text": tr(REASONS[explanation.reason]) if explanation.reason else None,
        "indicators": indicators,
        "left_out": [
            {"code": n.code, "params": dict(n.params), "message": n.render(gettext)}
            for n in explanation.left_out
        ],
        **_village_counts(store, workspace, run, kode),
        "notes": _village_notes(store, workspace, kode),
    }


#: Most notes a village's detail lists (newest first).
MAX_VILLAGE_NOTES = 20


def _village_notes(store: Store, workspace: str, kode: str) -> list[dict[str, Any]]:
    """The notes drawn on the map for this village (newest first)."""
    from layers.mapdata.shared import list_annotations

    mine = [a for a in list_annotations(store, workspace) if a.get("kode") == kode]
    return mine[::-1][:MAX_VILLAGE_NOTES]


# --- search ------------------------------------------------------------------------------


def _is_code(text: str) -> bool:
    return bool(text) and all(ch.isdigit() or ch in ". " for ch in text)


def search_villages(store: Store, workspace: str, q: str, limit: int = 20) -> list[dict[str, Any]]:
    """Villages of the latest villages layer whose code starts with, or name contains, ``q``.

    Parameters
    ----------
    store : Store
        The store.
    workspace : str
        Workspace name.
    q : str
        A code prefix (``15.02.01`` or ``150201``: digits are compared without dots) or
        part of a name (any case).
    limit : int
        At most this many results (1 to :data:`MAX_SEARCH`).

    Returns
    -------
    list of dict
        ``kode``, ``name``, ``kecamatan``, ``kabupaten`` and ``bounds`` (minx, miny, maxx,
        maxy): code matches first (by code), then names that start with ``q``, then names
        that contain it (by name, then code).

    Raises
    ------
    InputError
        For an empty ``q`` or a ``limit`` out of range.
    NotFoundError
        For an unknown workspace, or one without villages.
    """
    if not isinstance(q, str) or not q.strip():
        raise InputError(N_("give a village name or code to search for"))
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_SEARCH:
        raise InputError(
            N_("the number of results must be a whole number from 1 to %(maximum)s, not %(value)r"),
            params={"maximum": MAX_SEARCH, "value": limit},
        )
    q = q.strip()
    villages = latest_villages(store, workspace)
    kodes = villages.frame["kode"].astype(str).to_numpy(dtype=str)
    n = kodes.size
    code_hit = np.zeros(n, dtype=bool)
    if _is_code(q):
        digits = q.replace(".", "").replace(" ", "")
        code_hit = np.char.startswith(kodes, q)
        if digits:
            code_hit |= np.char.startswith(villages.digits, digits)
    folded = q.casefold()
    starts = np.char.startswith(villages.folded_names, folded)
    contains = np.char.find(villages.folded_names, folded) >= 0
    tier = np.where(code_hit, 0, np.where(starts, 1, np.where(contains, 2, 3)))
    hits = np.flatnonzero(tier < 3)
    by_name = np.where(tier[hits] == 0, "", villages.folded_names[hits])  # codes by code
    order = hits[np.lexsort((kodes[hits], by_name, tier[hits]))][:limit]
    frame = villages.frame
    return [
        {
            "kode": str(kodes[i]),
            "name": _text(frame["name"].iat[i]),
            "kecamatan": _text(frame["kecamatan"].iat[i]),
            "kabupaten": _text(frame["kabupaten"].iat[i]),
            "bounds": [float(v) for v in villages.bounds[i]],
        }
        for i in order
    ]


# --- outlines ----------------------------------------------------------------------------


def _valid_polygons(frame: gpd.GeoDataFrame) -> np.ndarray:
    """The villages' geometries, invalid ones repaired."""
    geoms = frame.geometry.to_numpy().copy()
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    return geoms


def _outlines(frame: gpd.GeoDataFrame, level: str, coverage: bool) -> dict[str, Any]:
    """Dissolve ``frame`` by area; ``coverage``: the villages overlap nowhere."""
    code_column, name_column, length = LEVELS[level]
    kode = frame["kode"].astype(object)
    codes = frame[code_column].astype(object)
    codes = codes.where(codes.notna() & (codes.astype(str) != ""), kode.str.slice(0, length))
    names = frame[name_column].astype(object)
    parts = gpd.GeoDataFrame(
        {
            "area": codes.to_numpy(dtype=object),
            "name": names.where(names.notna(), None).to_numpy(dtype=object),
            "villages": np.ones(len(frame), dtype=np.int64),
        },
        geometry=_valid_polygons(frame),
        crs=frame.crs,
    )
    parts = parts[parts["area"].notna()]
    aggregate = {"name": "first", "villages": "sum"}
    if coverage:
        # Villages that meet edge to edge: GEOS's coverage union, ten times faster than an
        # overlay union at national scale. Snapping the areas to a grid of GRID_DEGREES
        # afterwards closes the hairline gaps that float noise leaves between neighbours.
        dissolved = parts.dissolve(by="area", aggfunc=aggregate, sort=True, method="coverage")
        geoms = shapely.set_precision(dissolved.geometry.to_numpy(), GRID_DEGREES)
    else:  # overlapping villages: an overlay union on the same grid
        dissolved = parts.dissolve(by="area", aggfunc=aggregate, sort=True, grid_size=GRID_DEGREES)
        geoms = dissolved.geometry.to_numpy()
    geoms = shapely.simplify(geoms, SIMPLIFY_DEGREES[level], preserve_topology=True)
    single = (shapely.get_type_id(geoms) == 6) & (shapely.get_num_geometries(geoms) == 1)
    geoms[single] = shapely.get_geometry(geoms[single], 0)
    inside = shapely.point_on_surface(geoms)
    texts = shapely.to_geojson(geoms)
    features = []
    for area, name, count, text, x, y in zip(
        dissolved.index,
        dissolved["name"],
        dissolved["villages"],
        texts,
        shapely.get_x(inside),
        shapely.get_y(inside),
        strict=True,
    ):
        features.append(
            {
                "type": "Feature",
                "geometry": json.loads(text),
                "properties": {
                    "kode": str(area),
                    "name": _text(name) or str(area),
                    "villages": int(count),
                    "label_point": [float(x), float(y)],
                },
            }
        )
    return {
        "type": "FeatureCollection",
        "level": level,
        "method": "coverage" if coverage else "union",
        "features": features,
    }


def area_outlines(store: Store, workspace: str, level: str) -> dict[str, Any]:
    """Kecamatan or kabupaten outlines: the latest villages dissolved by area code.

    Parameters
    ----------
    store : Store
        The store.
    workspace : str
        Workspace name.
    level : {"kecamatan", "kabupaten"}
        Which areas. An area is identified by the villages' ``kecamatan_kode`` /
        ``kabupaten_kode`` (or, where empty, the first 8 / 5 characters of the village
        code) and named by the first village's ``kecamatan`` / ``kabupaten`` name.

    Returns
    -------
    dict
        GeoJSON FeatureCollection (EPSG:4326) with ``level`` and ``method``
        (``coverage`` when no two villages overlap, so a coverage union was used, else
        ``union``); per area ``kode``, ``name``
        (the code when no village names it), ``villages`` (how many) and ``label_point``
        (lon, lat inside the area). Outlines are simplified (:data:`SIMPLIFY_DEGREES`)
        and kept in memory per villages version.

    Raises
    ------
    InputError
        For an unknown level.
    NotFoundError
        For an unknown workspace, or one without villages.
    """
    if level not in LEVELS:
        raise InputError(
            N_("unknown area level %(level)r; use one of %(allowed)s"),
            params={"level": level, "allowed": ", ".join(LEVELS)},
        )
    villages = latest_villages(store, workspace)
    version = (villages.ref, stamp(villages.written))
    memo = caches(store).outlines
    coverage = memo.get(
        (*version, "coverage"),
        lambda: bool(shapely.coverage_is_valid(_valid_polygons(villages.frame))),
    )
    return memo.get((*version, level), lambda: _outlines(villages.frame, level, coverage))
