"""The coverage and partner pages' data, without Flask: one call per page or API answer.

Service coverage and program reach come from :func:`layers.coverage.coverage_table`, the
time series from :func:`layers.coverage.reach_timeseries` and a village's needs from
:func:`layers.programs.needs_status.you_said_we_did`; this module only gathers what a page
shows (tables, classes of the map, the months of the timeline, the program status of each
village on a date) and writes the downloads.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from layers.errors import N_, InputError

if TYPE_CHECKING:
    import pandas as pd

    from layers.storage import Store

#: Service levels, smallest first.
LEVELS: tuple[str, ...] = ("village", "kecamatan", "kabupaten")
#: Classes of the share of people within the standard distance: (upper bound, colour).
SHARE_CLASSES: tuple[tuple[float, str], ...] = (
    (0.2, "#b2182b"),
    (0.4, "#ef8a62"),
    (0.6, "#fddbc7"),
    (0.8, "#92c5de"),
    (1.0, "#2166ac"),
)
#: Colour of a village without people or figures.
NO_VALUE_COLOUR = "#bdbdbd"
#: Program status of a village on a date, and its colour on the map.
PROGRAM_STATUSES: dict[str, str] = {
    "none": "#e0e0e0",
    "planned": "#fdb863",
    "active": "#5e9fd8",
    "completed": "#1a9641",
    "several": "#7b3294",
}
PROGRAM_STATUS_LABELS: dict[str, str] = {
    "none": N_("no program"),
    "planned": N_("planned"),
    "active": N_("active"),
    "completed": N_("completed"),
    "several": N_("several programs"),
}
COLOURINGS: tuple[str, ...] = ("coverage", "programs")


def parse_date(text: str | None, what: str = "as_of") -> date:
    """A ``YYYY-MM-DD`` date (today when blank); InputError otherwise."""
    if text is None or not str(text).strip():
        return date.today()
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise InputError(
            N_("%(what)s must be a date (YYYY-MM-DD), not %(value)r"),
            column=what,
            params={"what": what, "value": text},
        ) from None


def parse_levels(text: str | None, default: Sequence[str] = ("kecamatan",)) -> list[str]:
    """``?level=`` as a list: comma-separated levels, ``none`` for no service table."""
    if text is None or not text.strip():
        return list(default)
    wanted = [part.strip() for part in text.split(",") if part.strip()]
    if wanted == ["none"]:
        return []
    bad = [w for w in wanted if w not in LEVELS]
    if bad:
        raise InputError(
            N_("unknown level %(level)r; expected one of %(levels)s"),
            column="level",
            params={"level": bad[0], "levels": ", ".join((*LEVELS, "none"))},
        )
    return list(dict.fromkeys(wanted))


def _plain(value: Any) -> Any:
    import numpy as np
    import pandas as pd

    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def share_class(share: float | None) -> int | None:
    """Class 1-5 of a share 0-1 (:data:`SHARE_CLASSES`), None without a value."""
    if share is None or not math.isfinite(share):
        return None
    for i, (upper, _) in enumerate(SHARE_CLASSES, start=1):
        if share < upper:
            return i
    return len(SHARE_CLASSES)


def share_legend(translate: Callable[[str], str]) -> list[dict[str, Any]]:
    """The legend of the coverage colouring: class, label, colour."""
    out = []
    lower = 0.0
    for i, (upper, colour) in enumerate(SHARE_CLASSES, start=1):
        if i == len(SHARE_CLASSES):
            label = f"{lower * 100:.0f}–{upper * 100:.0f} %"
        else:
            label = f"{lower * 100:.0f} – <{upper * 100:.0f} %"
        out.append({"class": i, "label": label, "colour": colour})
        lower = upper
    out.append(
        {"class": None, "label": translate(N_("No people or no data")), "colour": NO_VALUE_COLOUR}
    )
    return out


def status_legend(translate: Callable[[str], str]) -> list[dict[str, Any]]:
    """The legend of the program colouring."""
    return [
        {"class": key, "label": translate(PROGRAM_STATUS_LABELS[key]), "colour": colour}
        for key, colour in PROGRAM_STATUSES.items()
    ]


# -- program status of villages on a date ---------------------------------------------------


def _register_dates(tables: Mapping[str, pd.DataFrame]) -> pd.Series:
    import pandas as pd

    parts = [
        tables["programs"]["start"],
        tables["programs"]["end"],
        tables["assignments"]["start"],
        tables["assignments"]["end"],
        tables["activities"]["date"],
    ]
    return pd.to_datetime(pd.concat(parts, ignore_index=True), errors="coerce").dropna()


def timeline_months(tables: Mapping[str, pd.DataFrame], today: date | None = None) -> list[str]:
    """Month ends (``YYYY-MM-DD``) from the register's first date to its last (or today).

    The span runs from the month of the earliest program, assignment or activity date to
    the month of the latest one or today, whichever is later; an empty register gives
    today's month only.
    """
    import pandas as pd

    today = today or date.today()
    dates = _register_dates(tables)
    now = pd.Timestamp(today)
    first = dates.min() if len(dates) else now
    last = max(dates.max(), now) if len(dates) else now
    months = pd.date_range(first.to_period("M").to_timestamp(), last, freq="MS")
    return [(m + pd.offsets.MonthEnd(0)).date().isoformat() for m in months] or [
        (now + pd.offsets.MonthEnd(0)).date().isoformat()
    ]


def status_on(tables: Mapping[str, pd.DataFrame], as_of: date | str) -> pd.DataFrame:
    """Each assignment's status on ``as_of`` (dropped ones left out).

    The register keeps each assignment's current status; on an earlier date an assignment
    counts as ``planned`` before it starts and ``active`` between its start and its end.
    Its start is its own, else its program's (unknown: it counts as started); the same
    for its end. So a village's colour on a past date never shows what had not begun.
    """
    import numpy as np
    import pandas as pd

    stamp = pd.Timestamp(as_of)
    a = tables["assignments"]
    p = tables["programs"].set_index("program_id")
    live = a.loc[(a["status"] != "dropped") & (a["program_id"].map(p["status"]) != "dropped")]
    if live.empty:
        return pd.DataFrame({"kode": [], "program_id": [], "status": []}, dtype=object)
    start = live["start"].fillna(pd.to_datetime(live["program_id"].map(p["start"])))
    end = live["end"].fillna(pd.to_datetime(live["program_id"].map(p["end"])))
    status = live["status"].astype(object).to_numpy().copy()
    not_started = (start > stamp).to_numpy()
    not_ended = (end > stamp).to_numpy()
    status[(status == "completed") & not_ended] = "active"
    status[np.isin(status, ["active", "completed"]) & not_started] = "planned"
    return pd.DataFrame(
        {
            "kode": live["kode"].to_numpy(),
            "program_id": live["program_id"].to_numpy(),
            "status": status,
        }
    )


def village_programs(tables: Mapping[str, pd.DataFrame], as_of: date | str) -> dict[str, dict]:
    """``kode -> {"status", "programs"}`` on ``as_of`` for villages with an assignment.

    ``status`` is the assignment's status on the date (:func:`status_on`), or
    ``several`` when two or more programs are planned, active or completed there.
    """
    rows = status_on(tables, as_of)
    out: dict[str, dict] = {}
    for kode, group in rows.groupby("kode", sort=True):
        ids = sorted(set(group["program_id"]))
        status = "several" if len(ids) > 1 else str(group["status"].iloc[0])
        out[str(kode)] = {"status": status, "programs": ids}
    return out


# -- the coverage API and page --------------------------------------------------------------


def _register_tables(store: Store, workspace: str, version: int | None) -> dict[str, pd.DataFrame]:
    from layers.programs import Register

    return Register.load(store, workspace, version).tables()


def coverage_data(
    store: Store,
    workspace: str,
    *,
    as_of: date,
    levels: Sequence[str],
    profile: str | None = None,
) -> dict[str, Any]:
    """Coverage on a date as JSON: :func:`coverage_json`, the villages' program status, months.

    ``village_programs`` gives each village with an assignment its program status on
    ``as_of`` and ``months`` the timeline's month ends.
    """
    from layers.coverage import coverage_json, coverage_table

    result = coverage_table(store, workspace, as_of=as_of, profile=profile)
    out = coverage_json(result, list(levels))
    tables = _register_tables(store, workspace, result["inputs"]["register"] or None)
    out["village_programs"] = village_programs(tables, as_of)
    out["months"] = timeline_months(tables)
    return out


def _service_rows(frame: pd.DataFrame | None, ftype: str | None) -> list[dict[str, Any]]:
    if frame is None or ftype is None:
        return []
    part = frame.loc[frame["type"] == ftype]
    return [{k: _plain(v) for k, v in r.items()} for r in part.to_dict("records")]


def _map_source(store: Store, workspace: str) -> dict[str, Any] | None:
    """Profile, data version and bounds of the village tiles; None when they cannot be drawn.

    The tiles carry the villages' shapes and codes; the page colours them itself. Any
    profile's tiles will do: the one of the newest score run (no new run is made), else
    the first profile (scored and saved now, as the map page does).
    """
    from layers.errors import JangkauError
    from layers.mapdata import map_values
    from layers.score_run import RUNS, list_profiles

    names = [e.name for e in list_profiles(store, workspace)]
    runs = [r for r in store.list_records(workspace, RUNS) if r.name in names]
    if runs:
        profile = max(runs, key=lambda r: r.created_at).name
    elif names:
        profile = names[0]
    else:
        return None
    try:
        values = map_values(store, workspace, profile, None)
    except JangkauError:
        return None
    name, version = values.villages_ref.split("/", 1)[1].rsplit("@", 1)
    info = store.dataset_info(workspace, name, int(version))
    if info.bounds is None:
        return None
    return {
        "profile": profile,
        "version": values.version,
        "bounds": [float(v) for v in info.bounds],
    }


def coverage_page_data(
    store: Store,
    workspace: str,
    *,
    as_of: date,
    facility_type: str | None,
    colour: str,
    translate: Callable[[str], str],
) -> dict[str, Any]:
    """Everything the coverage page shows on ``as_of`` for one facility type.

    Raises InputError for a facility type the workspace's coverage does not have or an
    unknown colouring, NotFoundError for an unknown workspace or one without villages.
    """
    from geoapp.views.programs_edit import lifecycle_version
    from layers.coverage import coverage_table
    from layers.coverage.reach import reach_timeseries
    from layers.programs.needs_status import needs_layers
    from layers.schema import FACILITY_TYPE_LABELS

    if colour not in COLOURINGS:
        raise InputError(
            N_("colour must be one of %(allowed)s, not %(value)r"),
            column="colour",
            params={"allowed": ", ".join(COLOURINGS), "value": colour},
        )
    ws = store.get_workspace(workspace)
    # First: drawing the map may score the workspace, and coverage uses the newest run.
    map_source = _map_source(store, workspace)
    result = coverage_table(store, workspace, as_of=as_of)
    service = result["service"]
    types = [] if service is None else sorted(set(service["kecamatan"]["type"]))
    if facility_type is not None and facility_type not in types:
        raise InputError(
            N_("no coverage of facility type %(value)r here; types: %(allowed)s"),
            column="type",
            params={"value": facility_type, "allowed": ", ".join(types) or "-"},
        )
    ftype = facility_type or (
        "puskesmas" if "puskesmas" in types else (types[0] if types else None)
    )
    tables = _register_tables(store, workspace, result["inputs"]["register"] or None)
    villages = store.read_dataset(workspace, "villages", geometry=False)
    months = timeline_months(tables)
    series = reach_timeseries(
        tables,
        villages,
        freq="M",
        start=months[0][:8] + "01",
        end=months[-1],
        levels=("sector", "all"),
    )
    village_rows = _service_rows(service["village"] if service else None, ftype)
    shares = {
        r["area_kode"]: {
            "share": r["share_within"],
            "people": r["people"],
            "within": r["people_within"],
            "facilities": r["facilities"],
            "class": share_class(r["share_within"]),
        }
        for r in village_rows
    }
    return {
        "workspace": {"name": ws.name, "title": translate(ws.title)},
        "as_of": result["as_of"],
        "inputs": result["inputs"],
        "types": [{"id": t, "label": translate(FACILITY_TYPE_LABELS.get(t, t))} for t in types],
        "type": ftype,
        "type_label": translate(FACILITY_TYPE_LABELS.get(ftype, ftype)) if ftype else "",
        "colour": colour,
        "kecamatan": _service_rows(service["kecamatan"] if service else None, ftype),
        "kabupaten": _service_rows(service["kabupaten"] if service else None, ftype),
        "village_shares": shares,
        "service_method": result["service_method"],
        "reach": result["reach"],
        "village_programs": village_programs(tables, as_of),
        "months": months,
        "series": series,
        "share_legend": share_legend(translate),
        "status_legend": status_legend(translate),
        "map": map_source,
        "needs_layers": needs_layers(store, workspace),
        "lifecycle_version": lifecycle_version(store, workspace),
    }


def timeseries_data(
    store: Store,
    workspace: str,
    *,
    freq: str,
    start: date | None,
    end: date | None,
    levels: Sequence[str] = ("program", "sector", "kecamatan", "all"),
) -> dict[str, Any]:
    """Reach at every month or quarter end as JSON rows (see :func:`reach_timeseries`)."""
    from layers.coverage.reach import reach_timeseries
    from layers.programs import Register

    store.get_workspace(workspace)
    register = Register.load(store, workspace)
    villages = store.read_dataset(workspace, "villages", geometry=False)
    frame = reach_timeseries(register, villages, freq=freq, start=start, end=end, levels=levels)
    frame = frame.assign(date=frame["date"].dt.date.map(date.isoformat))
    return {
        "workspace": workspace,
        "register": register.version,
        "freq": freq,
        "rows": [{k: _plain(v) for k, v in r.items()} for r in frame.to_dict("records")],
    }


# -- a village's needs ----------------------------------------------------------------------


def village_needs(store: Store, workspace: str, kode: str) -> dict[str, Any]:
    """One village's needs of every needs layer (each with its ``layer``) and the programs
    that address them ("you said, we did"): :func:`~layers.programs.needs_status.you_said_we_did`.
    """
    from layers.programs.needs_status import you_said_we_did

    return you_said_we_did(store, workspace, kode)


# -- downloads ------------------------------------------------------------------------------


def coverage_export(
    store: Store,
    workspace: str,
    *,
    as_of: date,
    level: str,
    fmt: str,
    translate: Callable[[str], str],
) -> bytes:
    """The service coverage table of ``level`` as CSV (UTF-8 with BOM) or XLSX bytes.

    Codes and names are text (an XLSX text cell; in Excel a CSV code can still be read as
    a number, so open CSVs with Data > From Text). The XLSX has a ``method`` sheet: the
    standards, targets and their basis, the data versions and the date.
    """
    from layers.coverage.table import coverage_frame, coverage_table, method_rows
    from layers.exports.data import write_table

    if level not in LEVELS:
        raise InputError(
            N_("unknown level %(level)r; expected one of %(levels)s"),
            column="level",
            params={"level": level, "levels": ", ".join(LEVELS)},
        )
    if fmt not in ("csv", "xlsx"):
        raise InputError(
            N_("unknown format %(value)r; use csv or xlsx"), column="format", params={"value": fmt}
        )
    result = coverage_table(store, workspace, as_of=as_of)
    buffer = io.BytesIO()
    write_table(
        coverage_frame(result, level),
        buffer,
        fmt,
        sheet="coverage",
        sheets={"method": [["item", "value", "basis"], *method_rows(result, translate)]},
    )
    return buffer.getvalue()


def partner_page_data(
    store: Store, workspace: str, *, as_of: date, translate: Callable[[str], str]
) -> dict[str, Any]:
    """The read-only partner page: service tables by kecamatan and kabupaten, method, reach."""
    from layers.coverage import coverage_table
    from layers.coverage.table import method_rows
    from layers.schema import FACILITY_TYPE_LABELS

    ws = store.get_workspace(workspace)
    result = coverage_table(store, workspace, as_of=as_of)
    service = result["service"]

    def rows(level: str) -> list[dict[str, Any]]:
        if service is None:
            return []
        frame = service[level].sort_values(["area_kode", "type"], kind="stable")
        return [{k: _plain(v) for k, v in r.items()} for r in frame.to_dict("records")]

    types = [] if service is None else sorted(set(service["kecamatan"]["type"]))
    return {
        "workspace": {"name": ws.name, "title": translate(ws.title)},
        "as_of": result["as_of"],
        "inputs": result["inputs"],
        "type_labels": {t: translate(FACILITY_TYPE_LABELS.get(t, t)) for t in types},
        "kecamatan": rows("kecamatan"),
        "kabupaten": rows("kabupaten"),
        "service_method": result["service_method"] or {},
        "method_rows": method_rows(result, translate),
        "reach": result["reach"],
    }
