"""What a scenario reads: the village table of a score run and its checked settings.

:func:`placement_table` joins the latest score run of a profile with the villages it
scored (names, kecamatan, population, households, people in need, metric x/y).
:func:`placement_settings` and :func:`siting_settings` check a scenario's settings (as a
web form or the command line sends them) and fill in the defaults, each error naming the
setting that was wrong.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from layers.crs import metric_crs
from layers.errors import N_, InputError
from layers.mapdata.cache import Memo, RunData, latest_run, run_villages, stamp
from layers.storage import Store
from layers.targeting.rules import RULE_NAMES

__all__ = [
    "HOUSEHOLD_COLUMNS",
    "MAX_GRID_CANDIDATES",
    "MODELS",
    "PLACEMENT_SETTINGS",
    "SITING_SETTINGS",
    "codes_setting",
    "normalise_codes",
    "placement_settings",
    "placement_table",
    "siting_settings",
    "table_for_run",
]

#: Settings of a placement scenario and their defaults.
PLACEMENT_SETTINGS: dict[str, Any] = {
    "benefit": "score_x_people",
    "cost": None,
    "budget": None,
    "top_n": None,
    "rules": {},
    "add": [],
    "remove": [],
    "time_limit": 30.0,
    "solver": "highs",
}
#: Settings of a siting scenario and their defaults (``None``: required or derived).
SITING_SETTINGS: dict[str, Any] = {
    "model": "mclp",
    "facility_type": None,
    "distance_m": None,
    "k": None,
    "candidates": "villages",
    "demand": "villages",
    "weight_by_score": False,
    "time_limit": 60.0,
    "engine": "auto",
    "solver": "highs",
}
#: Siting models: which need a number of sites (``k``) and which a distance.
MODELS: dict[str, dict[str, bool]] = {
    "mclp": {"k": True, "distance": True},
    "lscp": {"k": False, "distance": True},
    "pmedian": {"k": True, "distance": False},
}
ENGINES = ("auto", "own", "spopt")
SITING_SOLVERS = ("highs", "cbc")
PLACEMENT_SOLVERS = ("highs", "cbc", "greedy")
#: Most grid candidates a siting scenario may ask for (each is a column of the model).
MAX_GRID_CANDIDATES = 20_000
#: Indicator-table columns read as the number of households (the part after ``<table>__``).
HOUSEHOLD_COLUMNS = (
    "households",
    "rumah_tangga",
    "jumlah_rumah_tangga",
    "jumlah_kk",
    "jml_kk",
    "kk",
    "keluarga",
    "jumlah_keluarga",
    "families",
)
#: Kemendagri village code: the kecamatan code is its first eight characters.
KODE_PATTERN = re.compile(r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$")


# --- the village table -------------------------------------------------------------------


def placement_table(store: Store, ws: str, profile: str) -> pd.DataFrame:
    """The villages of the latest score run of ``profile``, ready for a placement.

    The run is computed and saved with :func:`layers.score_run.run_score` when the profile
    has none yet.

    Parameters
    ----------
    store : Store
        The store.
    ws : str
        Workspace name.
    profile : str
        Profile name (saved in the workspace or built in).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``kode`` (text), in the run's order: ``score``, ``rank``,
        ``need_class``, ``reason`` (from the run); ``name``, ``kecamatan_kode``,
        ``kecamatan`` (from the villages the run scored; ``kecamatan_kode`` from the code
        where the layer lacks it); ``population`` (the villages layer's people, else the
        population raster's zonal sum, else missing); ``households`` (only when an
        indicator table has a households column, see :data:`HOUSEHOLD_COLUMNS`);
        ``people_in_need`` (population x score / 100: need-weighted people, so a village
        scoring 100 counts all its people and one scoring 40 counts 40 %); ``x``, ``y``
        (the village's representative point, metres in :func:`layers.crs.metric_crs` of
        the villages, whose WKT is in ``attrs["crs"]``). ``attrs`` also holds ``run``
        (the score run's reference) and ``inputs`` (the run's dataset references).

    Raises
    ------
    InputError
        For a name that cannot name a profile, or data the profile cannot score.
    NotFoundError
        For an unknown workspace or profile.
    """
    run = latest_run(store, ws, profile)
    return table_for_run(store, ws, run)


def table_for_run(store: Store, ws: str, run: RunData) -> pd.DataFrame:
    """:func:`placement_table` of a given run (see there)."""
    scores = run.table
    index = pd.Index(scores.index.to_numpy(dtype=object), name="kode", dtype=object)
    table = pd.DataFrame(index=index)
    for column in ("score", "rank", "need_class", "reason"):
        if column in scores.columns:
            table[column] = scores[column].to_numpy()
    villages = run_villages(store, ws, run).frame
    attrs = villages.drop(columns="geometry").set_index("kode")
    for column in ("name", "kecamatan_kode", "kecamatan"):
        values = attrs[column] if column in attrs.columns else pd.Series(dtype=object)
        table[column] = values.reindex(index).to_numpy(dtype=object)
    kode = index.to_numpy(dtype=object)
    derived = np.array([k[:8] if KODE_PATTERN.match(k) else None for k in kode], dtype=object)
    missing = pd.isna(table["kecamatan_kode"]).to_numpy()
    table.loc[missing, "kecamatan_kode"] = derived[missing]

    population = _column(scores, "population")
    raster = _column(scores, "population_raster")
    table["population"] = np.where(np.isnan(population), raster, population)
    households = _households(scores)
    if households is not None:
        table["households"] = households
    table["people_in_need"] = table["population"].to_numpy() * _column(scores, "score") / 100.0

    key = (id(store), run.villages_ref, stamp(run.villages_written))
    crs, xy = _POINTS.get(key, lambda: _metric_points(villages))
    xy = xy.reindex(index)
    table["x"], table["y"] = xy["x"].to_numpy(), xy["y"].to_numpy()
    table.attrs.update({"crs": crs.to_wkt(), "run": run.ref, "inputs": dict(run.inputs)})
    return table


#: Representative points of the villages versions used lately (3 s for 84,000 villages).
_POINTS = Memo(4)


def _metric_points(villages: Any) -> tuple[Any, pd.DataFrame]:
    """The metric CRS of the villages and their representative points in it, by code."""
    crs = metric_crs(villages)
    points = villages.to_crs(crs).representative_point()
    index = pd.Index(villages["kode"].to_numpy(dtype=object), name="kode")
    xy = pd.DataFrame({"x": points.x.to_numpy(), "y": points.y.to_numpy()}, index=index)
    return crs, xy[~xy.index.duplicated()]


def _column(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _households(scores: pd.DataFrame) -> np.ndarray | None:
    """The first indicator-table column (by name) that holds households, or None."""
    for column in sorted(str(c) for c in scores.columns):
        table, sep, name = column.partition("__")
        if sep and table and name.lower() in HOUSEHOLD_COLUMNS:
            values = _column(scores, column)
            if np.isfinite(values).any():
                return values
    return None


# --- codes ---------------------------------------------------------------------------------


def codes_setting(value: Any, setting: str) -> list[str]:
    """Village codes from a list of text, or one text separated by commas, spaces or lines."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [c for c in re.split(r"[\s,;]+", value) if c]
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        items = list(value)
        if all(isinstance(c, str) for c in items):
            return [c.strip() for c in items if c.strip()]
    raise InputError(
        N_("setting %(setting)s must be a list of village codes (text), not %(found)r"),
        params={"setting": setting, "found": value},
    )


def normalise_codes(codes: Iterable[str], known: pd.Index) -> list[str]:
    """``codes`` written as the table writes them: ``1502012001`` becomes ``15.02.01.2001``.

    A code already in ``known`` stays; another one whose digits are those of exactly one
    known code becomes that code; any other stays as given (the placement then names it).
    """
    codes = list(dict.fromkeys(codes))
    have = set(known)
    todo = [c for c in codes if c not in have]
    if not todo:
        return codes
    digits = pd.Series(known.to_numpy(dtype=object), index=known.str.replace(r"\D", "", regex=True))
    digits = digits[~digits.index.duplicated(keep=False)]
    out = []
    for code in codes:  # a user's short list, not the villages
        if code in have:
            out.append(code)
            continue
        key = re.sub(r"\D", "", code)
        out.append(str(digits[key]) if key and key in digits.index else code)
    return list(dict.fromkeys(out))


# --- settings ------------------------------------------------------------------------------


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number(value: Any, setting: str, *, positive: bool = True) -> float:
    number = math.nan
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().replace("_", ""))
        except ValueError:
            number = math.nan
    if not math.isfinite(number) or (positive and number <= 0) or number < 0:
        template = (
            N_("setting %(setting)s must be a number above 0, not %(found)r")
            if positive
            else N_("setting %(setting)s must be a number of 0 or more, not %(found)r")
        )
        raise InputError(template, params={"setting": setting, "found": value})
    return number


def _count(value: Any, setting: str, least: int) -> int:
    whole = (
        (isinstance(value, int | np.integer) and not isinstance(value, bool))
        or (isinstance(value, float) and value.is_integer())
        or (isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value) is not None)
    )
    number = int(value) if whole else None
    if number is None or number < least:
        raise InputError(
            N_("setting %(setting)s must be a whole number of at least %(least)s, not %(found)r"),
            params={"setting": setting, "least": least, "found": value},
        )
    return number


def _choice(value: Any, setting: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise InputError(
            N_("setting %(setting)s must be one of %(allowed)s, not %(found)r"),
            params={"setting": setting, "allowed": ", ".join(allowed), "found": value},
        )
    return value


def _flag(value: Any, setting: str) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on", "ya"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off", "tidak"):
        return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise InputError(
        N_("setting %(setting)s must be true or false, not %(found)r"),
        params={"setting": setting, "found": value},
    )


def _known_keys(settings: Any, allowed: Iterable[str], kind: str, prefix: str = "") -> dict:
    if settings is None:
        return {}
    if not isinstance(settings, Mapping):
        raise InputError(
            N_("the settings of a scenario must be a mapping of names to values, not %(found)s"),
            params={"found": type(settings).__name__},
        )
    allowed = tuple(allowed)
    for key in settings:
        if key not in allowed:
            raise InputError(
                N_("unknown setting %(setting)s for a %(kind)s scenario; settings: %(allowed)s"),
                params={"setting": f"{prefix}{key}", "kind": kind, "allowed": ", ".join(allowed)},
            )
    return dict(settings)


def placement_settings(settings: Mapping[str, Any] | None, known: pd.Index) -> dict[str, Any]:
    """Checked settings of a placement scenario with the defaults filled in.

    Parameters
    ----------
    settings : mapping
        ``benefit``, ``cost``, ``budget``, ``top_n``, ``rules`` (a mapping of
        :class:`~layers.targeting.Rules` fields), ``add``, ``remove``, ``time_limit``,
        ``solver``. ``None`` or empty text leaves a setting at its default; numbers may
        be given as text (as a web form sends them); codes as a list or one text
        separated by commas, spaces or lines, with or without dots.
    known : pandas.Index
        The codes of the village table (to write given codes the table's way).

    Raises
    ------
    InputError
        Naming the setting: unknown names, numbers that are not numbers, an unknown solver.
    """
    given = _known_keys(settings, PLACEMENT_SETTINGS, "placement")
    out = {k: v for k, v in PLACEMENT_SETTINGS.items()}
    out["rules"], out["add"], out["remove"] = {}, [], []
    benefit = given.get("benefit")
    if not _absent(benefit):
        if not isinstance(benefit, str):
            raise InputError(
                N_("setting %(setting)s must be a benefit name or a column name, not %(found)r"),
                params={"setting": "benefit", "found": benefit},
            )
        out["benefit"] = benefit.strip()
    cost = given.get("cost")
    if not _absent(cost):
        if isinstance(cost, str) and not re.fullmatch(r"\s*[\d_.]+\s*", cost):
            out["cost"] = cost.strip()
        else:
            out["cost"] = _number(cost, "cost", positive=False)
    if not _absent(given.get("budget")):
        out["budget"] = _number(given["budget"], "budget")
    if not _absent(given.get("top_n")):
        out["top_n"] = _count(given["top_n"], "top_n", 1)
    if out["budget"] is None and out["top_n"] is None:
        raise InputError(
            N_("give the setting budget or top_n: how many villages can be chosen?"),
            params={"setting": "budget"},
        )
    if out["budget"] is not None and out["cost"] is None:
        raise InputError(
            N_("the setting budget needs the setting cost (a cost per village)"),
            params={"setting": "cost"},
        )
    if not _absent(given.get("time_limit")):
        out["time_limit"] = _number(given["time_limit"], "time_limit")
    if not _absent(given.get("solver")):
        out["solver"] = _choice(given["solver"], "solver", PLACEMENT_SOLVERS)
    for name in ("add", "remove"):
        out[name] = normalise_codes(codes_setting(given.get(name), name), known)
    rules = _known_keys(given.get("rules"), RULE_NAMES, "placement", "rules.")
    checked: dict[str, Any] = {}
    for name in ("min_per_kecamatan", "max_per_kecamatan"):
        if not _absent(rules.get(name)):
            least = 1 if name == "min_per_kecamatan" else 0
            checked[name] = _count(rules[name], f"rules.{name}", least)
    for name in ("exclude", "must_include"):
        codes = normalise_codes(codes_setting(rules.get(name), f"rules.{name}"), known)
        if codes:
            checked[name] = codes
    if not _absent(rules.get("min_spacing_m")):
        checked["min_spacing_m"] = _number(rules["min_spacing_m"], "rules.min_spacing_m")
    out["rules"] = checked
    return out


def siting_settings(
    settings: Mapping[str, Any] | None, standards_m: Mapping[str, float]
) -> dict[str, Any]:
    """Checked settings of a siting scenario with the defaults filled in.

    Parameters
    ----------
    settings : mapping
        ``model`` (``mclp``, ``lscp`` or ``pmedian``; default ``mclp``),
        ``facility_type`` (required), ``distance_m`` (default: the standard distance of
        the type), ``k`` (required for ``mclp`` and ``pmedian``; not used by ``lscp``),
        ``candidates`` (``villages``, ``grid:<spacing_m>`` or ``layer:<dataset>``: the
        points of a facilities or needs dataset of the workspace), ``demand`` (``villages``
        or ``raster``), ``weight_by_score``, ``time_limit``, ``engine``, ``solver``.
    standards_m : mapping
        Standard distance in metres per facility type (the score run's settings).

    Raises
    ------
    InputError
        Naming the setting.
    """
    from layers.schema import FACILITY_TYPES

    given = _known_keys(settings, SITING_SETTINGS, "siting")
    out = dict(SITING_SETTINGS)
    if not _absent(given.get("model")):
        out["model"] = _choice(given["model"], "model", MODELS)
    model = MODELS[out["model"]]
    if _absent(given.get("facility_type")):
        raise InputError(
            N_("setting %(setting)s is required: which facility type is to be placed?"),
            params={"setting": "facility_type"},
        )
    out["facility_type"] = _choice(given["facility_type"], "facility_type", FACILITY_TYPES)
    if not _absent(given.get("distance_m")):
        out["distance_m"] = _number(given["distance_m"], "distance_m")
    elif out["facility_type"] in standards_m:
        out["distance_m"] = float(standards_m[out["facility_type"]])
    elif model["distance"]:
        raise InputError(
            N_("setting %(setting)s is required: facility type %(type)s has no standard distance"),
            params={"setting": "distance_m", "type": out["facility_type"]},
        )
    if model["k"]:
        if _absent(given.get("k")):
            raise InputError(
                N_("setting %(setting)s is required by the %(model)s model: how many sites?"),
                params={"setting": "k", "model": out["model"]},
            )
        out["k"] = _count(given["k"], "k", 1)
    else:
        out["k"] = None  # the fewest sites is what lscp finds
    candidates = given.get("candidates")
    if not _absent(candidates):
        if isinstance(candidates, str) and candidates.startswith("grid:"):
            spacing = _number(candidates[5:], "candidates")
            out["candidates"] = f"grid:{spacing:g}"
        elif isinstance(candidates, str) and candidates.startswith("layer:"):
            name = candidates[6:].strip()
            if not re.fullmatch(r"[a-z0-9_-]{1,64}", name):
                raise InputError(
                    N_(
                        "setting %(setting)s: %(value)r is not a dataset name "
                        "(layer:<name of a facilities or needs dataset>)"
                    ),
                    params={"setting": "candidates", "value": name},
                )
            out["candidates"] = f"layer:{name}"
        else:
            out["candidates"] = _choice(
                candidates, "candidates", ("villages", "grid:<spacing_m>", "layer:<dataset>")
            )
    if not _absent(given.get("demand")):
        out["demand"] = _choice(given["demand"], "demand", ("villages", "raster"))
    if not _absent(given.get("weight_by_score")):
        out["weight_by_score"] = _flag(given["weight_by_score"], "weight_by_score")
    if not _absent(given.get("time_limit")):
        out["time_limit"] = _number(given["time_limit"], "time_limit")
    if not _absent(given.get("engine")):
        out["engine"] = _choice(given["engine"], "engine", ENGINES)
    if not _absent(given.get("solver")):
        out["solver"] = _choice(given["solver"], "solver", SITING_SOLVERS)
    return out
