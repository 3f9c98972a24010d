"""A scenario's selected villages as a table with reasons, and its CSV or XLSX export.

The table (:func:`scenario_villages`) is what a proposal lists: rank, code, name,
kecamatan, score, benefit, cost, people reached and why each village is in it (the
placement's reason, or the new site it holds, then the score indicators that add the most
points). :func:`export_scenario` writes it whole or not at all: to a temporary file next
to the target, renamed over it once complete.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from layers.atomic import replacing
from layers.errors import N_, InputError, NotFoundError
from layers.schema import FACILITY_TYPE_LABELS
from layers.storage import Store
from layers.targeting.placement import REASONS
from layers.targeting.scenarios import HEADLINE_KEYS, load_scenario, village_names

__all__ = ["COLUMNS", "FORMATS", "SITE_COLUMNS", "export_scenario", "scenario_villages"]

#: Columns of the exported table.
COLUMNS = (
    "rank",
    "kode",
    "name",
    "kecamatan",
    "score",
    "benefit",
    "cost",
    "people_reached",
    "reason",
)
#: Further columns of a siting scenario's table (the new site and its lon/lat).
SITE_COLUMNS = ("site_id", "lon", "lat")
FORMATS = ("csv", "xlsx")
#: Score indicators named in a village's reason, at most.
TOP_REASONS = 3

SITE_REASON = N_("new %(type)s site %(site)s")
SITE_REASON_PEOPLE = N_("new %(type)s site %(site)s: %(people)s more people within %(distance)s m")


def _number(value: float, decimals: int, lang: str) -> str:
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=lang)


def _value_text(raw: float, unit: str, lang: str) -> str:
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return "-"
    if unit == "m":
        return f"{_number(raw / 1000, 1, lang)} km"
    if unit == "km":
        return f"{_number(raw, 1, lang)} km"
    if unit == "share":
        return f"{_number(raw * 100, 0, lang)} %"
    if unit in ("count", "people"):
        return _number(raw, 0, lang)
    return _number(raw, 2, lang)


def score_reasons(
    store: Store,
    ws: str,
    run_ref: str | None,
    kode: list[str],
    *,
    gettext: Callable[[str], str] | None = None,
    lang: str = "en",
) -> dict[str, str]:
    """The score indicators that add the most points, as text, for each village of ``kode``.

    ``run_ref`` is the score run a scenario used (``"ws/score_runs/profile@n"``); the run's
    saved table is scored again (scoring is deterministic) for the per-indicator points.
    Returns an empty mapping when the run is no longer stored.
    """
    from layers.mapdata.labels import indicator_info, render_label
    from layers.profiles import ScoringProfile
    from layers.score_run import SCORE_COLUMNS, SENSITIVITY_COLUMNS, load_run
    from layers.scoring import Score

    if not run_ref or not kode:
        return {}
    profile, run = run_ref.split("/", 2)[2].rsplit("@", 1)
    try:
        saved = load_run(store, ws, profile, int(run))
    except NotFoundError:
        return {}
    table = saved["table_frame"]
    if table is None:
        return {}
    skip = set(SCORE_COLUMNS) | set(SENSITIVITY_COLUMNS)
    indicators = [c for c in table.columns if c not in skip]
    score = Score(table.loc[:, indicators], ScoringProfile.from_dict(saved["profile"])).run()
    constant = {n.params.get("indicator") for n in score.notes if n.code == "rule_constant"}
    contrib = score.contributions
    contrib = contrib[contrib["kode"].isin(kode) & contrib["contribution"].notna()]
    contrib = contrib[~contrib["indicator"].astype(str).isin(constant)]
    contrib = contrib[contrib["contribution"] > 0]
    contrib = contrib.sort_values(["kode", "contribution"], ascending=[True, False])
    top = contrib.groupby("kode", sort=False).head(TOP_REASONS)
    settings = saved.get("settings") or {}
    labels: dict[str, tuple[str, str]] = {}
    for indicator in top["indicator"].astype(str).unique():
        template, params, unit = indicator_info(indicator, settings)
        labels[indicator] = (render_label(template, params, gettext), unit)
    texts = [
        f"{labels[str(i)][0]}: {_value_text(raw, labels[str(i)][1], lang)} "
        f"(+{_number(points, 1, lang)})"
        for i, raw, points in zip(top["indicator"], top["raw"], top["contribution"], strict=True)
    ]
    parts = pd.Series(texts, index=top["kode"].to_numpy(), dtype=object)
    return {str(k): "; ".join(v) for k, v in parts.groupby(level=0, sort=False)}


def scenario_villages(
    store: Store,
    ws: str,
    scenario: dict[str, Any] | str,
    *,
    gettext: Callable[[str], str] | None = None,
    lang: str = "en",
) -> pd.DataFrame:
    """The selected villages (placement) or new sites (siting) of a scenario, with reasons.

    Parameters
    ----------
    store : Store
        The store.
    ws : str
        Workspace name.
    scenario : dict or str
        A scenario as :func:`~layers.targeting.scenarios.load_scenario` returns it, or
        its name (latest version).
    gettext : callable, optional
        Translates the reasons (English when omitted).
    lang : str
        Locale of the numbers inside the reasons (``"id"``: ``3,9 km``).

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS` in rank order, codes as text. ``benefit`` is the placement's
        benefit of the village, or for a new site the demand weight it adds (people, or
        need-weighted people, newly covered; distance saved for p-median); ``cost`` is
        empty for sites. A siting table also has :data:`SITE_COLUMNS`; a village with two
        new sites has two rows.
    """
    if isinstance(scenario, str):
        scenario = load_scenario(store, ws, scenario)
    tr = gettext or (lambda text: text)
    result = scenario.get("result") or {}
    inputs = scenario.get("inputs") or {}
    if scenario.get("kind") == "siting":
        sites = pd.DataFrame(result.get("sites") or [])
        frame = pd.DataFrame(
            {
                "rank": sites.get("order", pd.Series(np.arange(1, len(sites) + 1))),
                "kode": sites.get("kode", pd.Series([None] * len(sites), dtype=object)),
                "benefit": sites.get("added_weight", pd.Series([np.nan] * len(sites))),
                "site_id": sites.get("site_id", pd.Series([None] * len(sites), dtype=object)),
                "lon": sites.get("x", pd.Series([np.nan] * len(sites))),
                "lat": sites.get("y", pd.Series([np.nan] * len(sites))),
            }
        )
        frame["cost"] = None
        frame["people_reached"] = _site_people(result, frame["site_id"])
        settings = scenario.get("settings") or {}
        facility_type = settings.get("facility_type") or ""
        kind = tr(FACILITY_TYPE_LABELS.get(facility_type, facility_type))
        distance = settings.get("distance_m")
        first = []
        for site, people in zip(frame["site_id"], frame["people_reached"], strict=True):
            if people is None or (isinstance(people, float) and math.isnan(people)) or not distance:
                first.append(tr(SITE_REASON) % {"type": kind, "site": site})
            else:
                first.append(
                    tr(SITE_REASON_PEOPLE)
                    % {
                        "type": kind,
                        "site": site,
                        "people": _number(people, 0, lang),
                        "distance": _number(distance, 0, lang),
                    }
                )
        frame["reason"] = first
    else:
        selected = pd.DataFrame(result.get("selected") or [])
        if selected.empty:
            selected = pd.DataFrame(columns=["rank", "kode", "benefit", "cost", "reason"])
        frame = selected.loc[:, ["rank", "kode", "benefit", "cost"]].copy()
        if (scenario.get("settings") or {}).get("cost") is None:
            frame["cost"] = None  # no cost was given: the placement counted 0 per village
        frame["people_reached"] = selected.get("population", pd.Series([np.nan] * len(selected)))
        frame["reason"] = [tr(REASONS.get(r, r)) if r else "" for r in selected["reason"]]
    frame = frame.sort_values("rank", kind="stable").reset_index(drop=True)
    kode = [k for k in frame["kode"].tolist() if isinstance(k, str)]
    names = village_names(store, ws, [scenario]).reindex(frame["kode"].to_numpy())
    frame["name"] = names["name"].to_numpy(dtype=object)
    frame["kecamatan"] = names["kecamatan"].to_numpy(dtype=object)
    frame["score"] = _scores(store, ws, inputs.get("score_run"), frame["kode"])
    reasons = score_reasons(store, ws, inputs.get("score_run"), kode, gettext=gettext, lang=lang)
    frame["reason"] = [
        "; ".join(p for p in (first, reasons.get(k, "")) if p)
        for first, k in zip(frame["reason"], frame["kode"], strict=True)
    ]
    columns = list(COLUMNS) + (list(SITE_COLUMNS) if scenario.get("kind") == "siting" else [])
    frame = frame.loc[:, columns]
    frame["kode"] = frame["kode"].astype(object)
    return frame


def _site_people(result: dict[str, Any], site_id: pd.Series) -> list[float | None]:
    """People newly reached per new site, as the scenario saved them with its sites."""
    sites = pd.DataFrame(result.get("sites") or [])
    if "people_reached" not in sites.columns:
        return [None] * len(site_id)
    people = sites.set_index(sites["site_id"].astype(str))["people_reached"]
    return [float(people.get(str(s), np.nan)) for s in site_id]


def _scores(store: Store, ws: str, run_ref: str | None, kode: pd.Series) -> np.ndarray:
    from layers.score_run import load_run

    out = np.full(len(kode), np.nan)
    if not run_ref:
        return out
    profile, run = run_ref.split("/", 2)[2].rsplit("@", 1)
    try:
        table = load_run(store, ws, profile, int(run))["table_frame"]
    except NotFoundError:
        return out
    if table is None or "score" not in table:
        return out
    return table["score"].reindex(kode.to_numpy()).to_numpy(dtype=float)


# --- files -----------------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _flat(prefix: str, value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        out = []
        for key, item in value.items():
            out.extend(_flat(f"{prefix}.{key}" if prefix else str(key), item))
        return out
    if isinstance(value, list):
        return [(prefix, ", ".join("" if v is None else str(v) for v in value))]
    return [(prefix, value)]


def settings_rows(scenario: dict[str, Any]) -> list[tuple[str, Any]]:
    """The settings sheet: who, when, the settings, the data versions, the headline numbers."""
    rows: list[tuple[str, Any]] = [
        (key, scenario.get(key))
        for key in ("name", "title", "kind", "profile", "version", "created_at", "author", "note")
    ]
    rows += _flat("settings", scenario.get("settings") or {})
    rows += _flat("inputs", scenario.get("inputs") or {})
    summary = scenario.get("summary") or {}
    rows += [(f"summary.{key}", summary.get(key)) for key in HEADLINE_KEYS]
    return rows


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(frame.columns)
        for row in frame.itertuples(index=False):
            writer.writerow(["" if _cell(v) is None else _cell(v) for v in row])


def _write_xlsx(path: Path, frame: pd.DataFrame, scenario: dict[str, Any]) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet("villages")
    sheet.append(list(frame.columns))
    text_columns = {"kode", "name", "kecamatan", "reason", "site_id"}
    for row in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, row, strict=True):
            cell = WriteOnlyCell(sheet, value=_cell(value))
            if column in text_columns:
                cell.number_format = "@"  # text: codes keep their zeros and dots
                if cell.value is not None:
                    cell.value = str(cell.value)
                    cell.data_type = "s"
            cells.append(cell)
        sheet.append(cells)
    settings = book.create_sheet("settings")
    settings.append(["setting", "value"])
    for key, value in settings_rows(scenario):
        value = _cell(value)
        if value is not None and not isinstance(value, int | float | bool | str):
            value = str(value)
        cell = WriteOnlyCell(settings, value=value)
        if isinstance(value, str):
            cell.number_format = "@"
        settings.append([key, cell])
    book.save(path)


def export_scenario(
    store: Store,
    ws: str,
    name: str,
    path: Path,
    fmt: str = "csv",
    *,
    gettext: Callable[[str], str] | None = None,
    lang: str = "en",
) -> Path:
    """Write a scenario's selected villages (or new sites) to a CSV or XLSX file.

    Parameters
    ----------
    store : Store
        The store.
    ws : str
        Workspace name.
    name : str
        Scenario name (its latest version).
    path : Path
        File to write; written whole or not at all (a temporary file in the same folder
        is renamed over it).
    fmt : str
        ``"csv"``: one plain table, UTF-8 with a byte order mark so that Excel reads it;
        ``"xlsx"``: the table on sheet ``villages`` (codes as text cells) and a
        ``settings`` sheet with the scenario's settings, data versions and headline
        numbers.
    gettext : callable, optional
        Translates the reasons.
    lang : str
        Locale of the numbers inside the reasons.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        An unknown format.
    NotFoundError
        Unknown workspace or scenario.
    """
    if fmt not in FORMATS:
        raise InputError(
            N_("format must be one of %(allowed)s, not %(found)r"),
            params={"allowed": ", ".join(FORMATS), "found": fmt, "setting": "format"},
        )
    scenario = load_scenario(store, ws, name)
    frame = scenario_villages(store, ws, scenario, gettext=gettext, lang=lang)
    path = Path(path)
    with replacing(path) as partial:
        if fmt == "csv":
            _write_csv(partial, frame)
        else:
            _write_xlsx(partial, frame, scenario)
    return path
