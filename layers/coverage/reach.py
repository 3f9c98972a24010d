"""Program reach: villages and people targeted versus reached, gaps, overlaps, time series.

Definitions (also in ``docs/coverage.md``):

- Dropped programs and dropped assignments are left out everywhere.
- *Targeted*: a village with an assignment; ``planned`` beneficiaries by unit.
- *Reached* at a date: the figure of a (program, village, unit) is the larger of the
  assignment's ``achieved`` (counted from the assignment's start, else the program's start;
  at every date when neither is known) and the sum of the activity log's figures dated up
  to that date. A village is reached when that figure is above 0. Activity entries without
  a village count for their program and sector, not for any village or kecamatan.
- *People*: the village table's population of the villages targeted or reached, and the
  beneficiaries by unit (persons, households, groups: never added together).
- *High need*: need classes 4-5 of a score run, or, when only scores are given, the top
  20 % of scores; the rule used is returned with the results.
- *Gap*: a high-need village without an active or completed assignment.
- *Overlap*: a village with planned or active assignments of several programs of one sector.

Reached figures for many dates come from one pass: events sorted by date, cumulative sums,
and a running maximum across the snapshot dates (no query per date).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse

from layers.coverage.areas import village_areas
from layers.errors import N_, InputError
from layers.programs.model import FIELDS, UNITS, canonical

#: Share of villages counted as high need when only scores are given.
TOP_SHARE = 0.2
#: Need classes counted as high need.
HIGH_CLASSES = (4, 5)
#: Levels of the reach tables.
REACH_LEVELS: tuple[str, ...] = ("program", "sector", "kecamatan", "all")
FREQUENCIES: dict[str, str] = {"M": "ME", "Q": "QE"}


def register_tables(register: Any) -> dict[str, pd.DataFrame]:
    """The canonical tables of a :class:`~layers.programs.Register` or a mapping of frames."""
    if hasattr(register, "programs") and hasattr(register, "assignments"):
        given = {
            "programs": register.programs,
            "assignments": register.assignments,
            "activities": register.activities,
        }
    elif isinstance(register, Mapping):
        given = dict(register)
    else:
        raise InputError(
            N_("register must be a Register or its tables by name, not %(type)s"),
            params={"type": type(register).__name__},
        )
    out = {}
    for table in ("programs", "assignments", "activities"):
        frame = given.get(table)
        if frame is None:
            frame = pd.DataFrame(columns=[f.name for f in FIELDS[table]])
        if not isinstance(frame, pd.DataFrame):
            raise InputError(
                N_("the %(table)s table must be a DataFrame, not %(type)s"),
                params={"table": table, "type": type(frame).__name__},
            )
        out[table] = canonical(table, frame)
    return out


def _as_timestamp(value: Any, what: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        stamp = pd.NaT
    if pd.isna(stamp) or not isinstance(value, date | str | pd.Timestamp | np.datetime64):
        raise InputError(
            N_("%(what)s must be a date (YYYY-MM-DD), not %(value)r"),
            params={"what": what, "value": value},
        )
    return stamp.tz_localize(None).normalize() if stamp.tz else stamp.normalize()


def high_need(scores: Any, codes: pd.Index) -> tuple[pd.Series, dict[str, Any]]:
    """Which villages are high need, and the rule used.

    Parameters
    ----------
    scores : pandas.DataFrame, pandas.Series, ScoreRun, dict or None
        A score table by ``kode`` (index or column) with ``need_class`` (classes 4-5 are
        high need) or ``score`` (top 20 %); a Series of scores; a
        :class:`~layers.score_run.ScoreRun`; a :func:`~layers.score_run.load_run` dict.
    codes : pandas.Index
        The villages' codes.

    Returns
    -------
    flags : pandas.Series of bool
        Per code (False for villages without a score).
    rule : dict
        ``rule`` (``need_class`` or ``top_share``) and its parameters.
    """
    if scores is None:
        return pd.Series(False, index=codes), {"rule": "none"}
    if hasattr(scores, "result_table"):
        scores = scores.result_table()
    elif isinstance(scores, Mapping) and "table_frame" in scores:
        scores = scores["table_frame"]
    if isinstance(scores, pd.Series):
        scores = scores.rename("score").to_frame()
    if not isinstance(scores, pd.DataFrame):
        raise InputError(
            N_("scores must be a score table or run, not %(type)s"),
            params={"type": type(scores).__name__},
        )
    if "kode" in scores.columns:
        scores = scores.set_index("kode")
    scores = scores.loc[~scores.index.duplicated()]
    scores.index = scores.index.astype(str)
    if "need_class" in scores.columns:
        cls = pd.to_numeric(scores["need_class"], errors="coerce").reindex(codes)
        flags = cls.isin(HIGH_CLASSES)
        return flags.fillna(False).astype(bool), {
            "rule": "need_class",
            "classes": list(HIGH_CLASSES),
        }
    if "score" not in scores.columns:
        raise InputError(N_("the score table needs a need_class or a score column"), column="score")
    values = pd.to_numeric(scores["score"], errors="coerce").reindex(codes)
    threshold = float(values.quantile(1 - TOP_SHARE)) if values.notna().any() else np.nan
    flags = values >= threshold
    return flags.fillna(False).astype(bool), {
        "rule": "top_share",
        "share": TOP_SHARE,
        "threshold": threshold,
    }


class _Engine:
    """Live assignments and reach events of a register, ready for any set of dates."""

    def __init__(self, tables: dict[str, pd.DataFrame], areas: pd.DataFrame) -> None:
        programs = tables["programs"]
        programs = programs.loc[programs["status"] != "dropped"]
        live = set(programs["program_id"])
        a = tables["assignments"]
        a = a.loc[(a["status"] != "dropped") & a["program_id"].isin(live)]
        unknown = sorted(set(a["kode"]) - set(areas.index))
        if unknown:
            raise InputError(
                N_("assignments name villages that are not in the villages table: %(codes)s"),
                column="kode",
                params={"codes": ", ".join(unknown[:5])},
            )
        act = tables["activities"]
        act = act.loc[act["program_id"].isin(live) & (act["figure"] > 0)]
        self.programs = programs.set_index("program_id")
        self.assignments = a.reset_index(drop=True)
        self.areas = areas
        sector = self.programs["sector"]
        p_start = pd.Series(
            self.programs["start"].reindex(a["program_id"].to_numpy()).to_numpy(),
            index=a.index,
            dtype="datetime64[ns]",
        )
        a_date = a["start"].where(a["start"].notna(), p_start)
        achieved = a["achieved"].astype("float64").fillna(0.0).to_numpy()
        got = achieved > 0
        ev_a = pd.DataFrame(
            {
                "program_id": a["program_id"].to_numpy()[got],
                "kode": a["kode"].to_numpy()[got],
                "unit": a["unit"].to_numpy()[got],
                "date": a_date.to_numpy()[got],
                "value": achieved[got],
            }
        )
        ev_c = pd.DataFrame(
            {
                "program_id": act["program_id"].to_numpy(),
                "kode": act["kode"].where(act["kode"].notna(), "").to_numpy(),
                "unit": act["unit"].to_numpy(),
                "date": act["date"].to_numpy(),
                "value": act["figure"].to_numpy(dtype=np.float64),
            }
        )
        both = pd.concat(
            [ev_a[["program_id", "kode", "unit"]], ev_c[["program_id", "kode", "unit"]]]
        )
        joined = both["program_id"] + "\x1f" + both["kode"] + "\x1f" + both["unit"]
        key, uniques = pd.factorize(joined.to_numpy(dtype=object))
        self.n_keys = len(uniques)
        parts = pd.Series(uniques, dtype="object").str.split("\x1f", expand=True)
        if self.n_keys:
            keys = pd.DataFrame({"program_id": parts[0], "kode": parts[1], "unit": parts[2]})
        else:
            keys = pd.DataFrame({"program_id": [], "kode": [], "unit": []}, dtype="object")
        keys["sector"] = keys["program_id"].map(sector)
        keys["kecamatan_kode"] = keys["kode"].map(areas["kecamatan_kode"])
        self.keys = keys
        self.key_a = key[: len(ev_a)]
        self.key_c = key[len(ev_a) :]
        self.ev_a = ev_a
        # Activity figures as running totals per key, in date order.
        order = np.lexsort((ev_c["date"].to_numpy(), self.key_c))
        self.c_key = self.key_c[order]
        self.c_date = ev_c["date"].to_numpy()[order]
        self.c_cum = (
            pd.Series(ev_c["value"].to_numpy()[order]).groupby(self.c_key).cumsum().to_numpy()
        )

    def reached(self, snapshots: np.ndarray) -> np.ndarray:
        """Reached figure of every key at every snapshot date: a (keys x dates) array."""
        t = len(snapshots)
        out = np.zeros((self.n_keys, t))
        if t == 0 or self.n_keys == 0:
            return out
        # Activity log: the running total of the last entry dated up to each snapshot.
        j = np.searchsorted(snapshots, self.c_date, side="left")
        inside = j < t
        frame = pd.DataFrame({"k": self.c_key[inside], "j": j[inside], "v": self.c_cum[inside]})
        last = frame.drop_duplicates(["k", "j"], keep="last")
        out[last["k"].to_numpy(), last["j"].to_numpy()] = last["v"].to_numpy()
        # Assignment figures count from their date (undated: from the first snapshot).
        dates = self.ev_a["date"].to_numpy()
        ja = np.where(pd.isna(dates), 0, np.searchsorted(snapshots, dates, side="left"))
        ok = ja < t
        assigned = np.zeros_like(out)
        assigned[self.key_a[ok], ja[ok]] = self.ev_a["value"].to_numpy()[ok]
        np.maximum(out, assigned, out=out)
        np.maximum.accumulate(out, axis=1, out=out)
        return out


def _group_codes(labels: pd.Series) -> tuple[np.ndarray, pd.Index]:
    codes, uniques = pd.factorize(labels.to_numpy(dtype=object), sort=True)
    return codes, pd.Index(uniques)


def _levels(engine: _Engine) -> dict[str, pd.Series]:
    keys = engine.keys
    no_village = keys["kode"] == ""
    return {
        "program": keys["program_id"],
        "sector": keys["sector"],
        "kecamatan": keys["kecamatan_kode"].where(~no_village, None),
        "all": pd.Series("all", index=keys.index, dtype="object"),
    }


def _reach_by_group(
    engine: _Engine, values: np.ndarray, level: str, labels: pd.Series
) -> pd.DataFrame:
    """Long table (group, snapshot position) of villages, people and figures reached."""
    t = values.shape[1]
    keys = engine.keys
    valid = labels.notna().to_numpy()
    g, groups = _group_codes(labels[valid])
    idx = np.flatnonzero(valid)
    n_groups = len(groups)
    rows = {}
    if n_groups == 0:
        return pd.DataFrame(
            columns=["group", "pos", "villages_reached", "population_reached"]
            + [f"achieved_{u}" for u in UNITS]
        )
    for u in UNITS:
        sel = keys["unit"].to_numpy()[idx] == u
        m = scipy.sparse.csr_array(
            (np.ones(int(sel.sum())), (g[sel], idx[sel])), shape=(n_groups, engine.n_keys)
        )
        rows[f"achieved_{u}"] = (m @ values).ravel(order="C")
    # Villages: the first snapshot each (group, village) is reached, then running counts.
    has_village = keys["kode"].to_numpy()[idx] != ""
    reached_any = values[idx[has_village]] > 0
    first = np.where(reached_any.any(axis=1), reached_any.argmax(axis=1), t)
    pairs = pd.DataFrame(
        {
            "g": g[has_village],
            "kode": keys["kode"].to_numpy()[idx[has_village]],
            "first": first,
        }
    )
    firsts = pairs.groupby(["g", "kode"], sort=False)["first"].min().reset_index()
    firsts = firsts.loc[firsts["first"] < t]
    pop = firsts["kode"].map(engine.areas["population"]).fillna(0.0).to_numpy()
    flat = firsts["g"].to_numpy() * t + firsts["first"].to_numpy()
    counts = np.bincount(flat, minlength=n_groups * t).reshape(n_groups, t)
    people = np.bincount(flat, weights=pop, minlength=n_groups * t).reshape(n_groups, t)
    rows["villages_reached"] = np.cumsum(counts, axis=1).ravel()
    rows["population_reached"] = np.cumsum(people, axis=1).ravel()
    out = pd.DataFrame(rows)
    out.insert(0, "pos", np.tile(np.arange(t), n_groups))
    out.insert(0, "group", np.repeat(groups.to_numpy(dtype=object), t))
    return out


def reach_timeseries(
    register: Any,
    villages: pd.DataFrame,
    *,
    freq: str = "M",
    start: date | str | None = None,
    end: date | str | None = None,
    levels: Sequence[str] = REACH_LEVELS,
) -> pd.DataFrame:
    """Villages and people reached, cumulative up to each month or quarter end.

    Parameters
    ----------
    register : Register or mapping
        The program register (or its tables).
    villages : pandas.DataFrame
        The villages (``kode``; ``population`` and kecamatan columns used when present).
    freq : {"M", "Q"}
        Snapshots at month ends or quarter ends.
    start, end : date or str, optional
        First and last date covered (default: the register's earliest and latest date).
    levels : sequence of str
        Any of ``program``, ``sector``, ``kecamatan``, ``all``.

    Returns
    -------
    pandas.DataFrame
        One row per snapshot date, level and group: ``date``, ``level``, ``group``,
        ``villages_reached``, ``population_reached``, ``achieved_persons``,
        ``achieved_households``, ``achieved_groups``. Groups without any reach are listed
        with zeros.

    Raises
    ------
    InputError
        Unknown frequency or level, bad dates, end before start.
    """
    if freq not in FREQUENCIES:
        raise InputError(
            N_("unknown frequency %(freq)r; use M (months) or Q (quarters)"),
            params={"freq": freq},
        )
    bad = [lv for lv in levels if lv not in REACH_LEVELS]
    if bad:
        raise InputError(
            N_("unknown levels %(levels)s; expected some of %(known)s"),
            params={"levels": ", ".join(map(str, bad)), "known": ", ".join(REACH_LEVELS)},
        )
    tables = register_tables(register)
    areas = village_areas(villages)
    engine = _Engine(tables, areas)
    dates = pd.concat(
        [
            tables["activities"]["date"],
            tables["assignments"]["start"],
            tables["programs"]["start"],
        ]
    ).dropna()
    first = _as_timestamp(start, "start") if start is not None else None
    last = _as_timestamp(end, "end") if end is not None else None
    if first is None:
        first = dates.min() if len(dates) else pd.Timestamp.today().normalize()
    if last is None:
        last = dates.max() if len(dates) else first
    if last < first:
        raise InputError(
            N_("the end %(end)s is before the start %(start)s"),
            params={"end": last.date().isoformat(), "start": first.date().isoformat()},
        )
    snaps = pd.date_range(first, last, freq=FREQUENCIES[freq])
    if len(snaps) == 0 or snaps[-1] < last:
        snaps = snaps.append(pd.DatetimeIndex([last]))
    snapshots = snaps.to_numpy(dtype="datetime64[ns]")
    # A figure dated d counts at every snapshot on or after d: shift to "end of day".
    values = engine.reached(snapshots + np.timedelta64(1, "D") - np.timedelta64(1, "ns"))
    by_level = _levels(engine)
    parts = []
    for level in levels:
        long = _reach_by_group(engine, values, level, by_level[level])
        long.insert(0, "level", level)
        parts.append(long)
    out = pd.concat(parts, ignore_index=True)
    out.insert(0, "date", snaps[out.pop("pos").to_numpy(dtype=np.int64)])
    return out.reset_index(drop=True)


class ProgramReach:
    """Villages and people targeted versus reached, by program, sector and kecamatan.

    Parameters
    ----------
    register : Register or mapping
        The program register (or its tables).
    villages : pandas.DataFrame
        The villages (``kode``; ``population``, ``name``, kecamatan columns when present).
    scores : score table, ScoreRun or load_run dict, optional
        For high-need villages (see :func:`high_need`).
    as_of : date or str
        The date the figures describe.

    Attributes
    ----------
    by_program, by_sector, by_kecamatan : pandas.DataFrame
        After :meth:`compute`.
    totals : dict
        The same figures for the whole area.
    gaps : pandas.DataFrame
        High-need villages without an active or completed assignment.
    overlaps : pandas.DataFrame
        Villages with planned or active assignments of several programs of one sector.
    high_need_rule : dict
        How high need was decided.
    """

    def __init__(
        self, register: Any, villages: pd.DataFrame, scores: Any = None, *, as_of: date | str
    ) -> None:
        self.as_of = _as_timestamp(as_of, "as_of")
        self.tables = register_tables(register)
        self.areas = village_areas(villages)
        self.high, self.high_need_rule = high_need(scores, self.areas.index)
        self.by_program: pd.DataFrame | None = None
        self.by_sector: pd.DataFrame | None = None
        self.by_kecamatan: pd.DataFrame | None = None
        self.totals: dict[str, Any] = {}
        self.gaps: pd.DataFrame | None = None
        self.overlaps: pd.DataFrame | None = None

    def compute(self) -> ProgramReach:
        """Compute every table; returns ``self``."""
        engine = _Engine(self.tables, self.areas)
        end_of_day = self.as_of + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
        snap = np.array([end_of_day], dtype="datetime64[ns]")
        values = engine.reached(snap)
        levels = _levels(engine)
        a = engine.assignments
        areas = self.areas
        a_levels = {
            "program": a["program_id"],
            "sector": a["program_id"].map(engine.programs["sector"]),
            "kecamatan": a["kode"].map(areas["kecamatan_kode"]),
            "all": pd.Series("all", index=a.index, dtype="object"),
        }
        high_codes = set(self.high.index[self.high.to_numpy()])
        results = {}
        for level in REACH_LEVELS:
            reached = _reach_by_group(engine, values, level, levels[level]).drop(columns="pos")
            reached = reached.set_index("group")
            # Villages reached, listed for the high-need count.
            keys = engine.keys
            hit = (values[:, 0] > 0) & (keys["kode"] != "").to_numpy()
            lab = levels[level]
            reached_pairs = (
                pd.DataFrame({"group": lab.to_numpy()[hit], "kode": keys["kode"].to_numpy()[hit]})
                .dropna()
                .drop_duplicates()
            )
            hn_reached = reached_pairs.loc[reached_pairs["kode"].isin(high_codes)]
            hn_reached = hn_reached.groupby("group").size()
            targeted = pd.DataFrame(
                {"group": a_levels[level].to_numpy(), "kode": a["kode"].to_numpy()}
            ).drop_duplicates()
            targeted["population"] = targeted["kode"].map(areas["population"])
            targeted["high"] = targeted["kode"].isin(high_codes).astype(np.int64)
            t_group = targeted.groupby("group")
            table = pd.DataFrame(
                {
                    "villages_targeted": t_group.size(),
                    "population_targeted": t_group["population"].sum(min_count=1),
                    "high_need_targeted": t_group["high"].sum(),
                }
            )
            for u in UNITS:
                sel = a["unit"] == u
                table[f"planned_{u}"] = (
                    a.loc[sel, "planned"].astype("float64").groupby(a_levels[level][sel]).sum()
                )
            table = table.join(reached, how="outer")
            table["high_need_reached"] = hn_reached
            results[level] = self._finish(level, table, engine)
        self.by_program = results["program"]
        self.by_sector = results["sector"]
        self.by_kecamatan = results["kecamatan"]
        total = results["all"]
        self.totals = (
            {k: _plain(v) for k, v in total.iloc[0].to_dict().items()} if len(total) else {}
        )
        self.gaps = self._gaps(a)
        self.overlaps = self._overlaps(a, engine)
        return self

    def _finish(self, level: str, table: pd.DataFrame, engine: _Engine) -> pd.DataFrame:
        areas = self.areas
        every = {
            "program": engine.programs.index,
            "sector": pd.Index(sorted(set(engine.programs["sector"]))),
            "kecamatan": pd.Index(sorted(set(areas["kecamatan_kode"]))),
            "all": pd.Index(["all"]),
        }[level]
        table = table.reindex(table.index.union(every))
        table.index.name = "group"
        counts = [
            "villages_targeted",
            "villages_reached",
            "high_need_targeted",
            "high_need_reached",
        ]
        for col in counts:
            table[col] = table[col].fillna(0).astype(np.int64) if col in table else 0
        for col in ["population_targeted", "population_reached"] + [
            f"{k}_{u}" for k in ("planned", "achieved") for u in UNITS
        ]:
            table[col] = table[col].fillna(0.0).astype(np.float64) if col in table else 0.0
        if level == "kecamatan":
            high_total = self.high.groupby(areas["kecamatan_kode"]).sum()
            table["high_need_villages"] = table.index.map(high_total).fillna(0).astype(np.int64)
            names = areas.groupby("kecamatan_kode")[["kecamatan", "kabupaten"]].first()
            table.insert(0, "kabupaten", table.index.map(names["kabupaten"]))
            table.insert(0, "name", table.index.map(names["kecamatan"]))
        else:
            table["high_need_villages"] = int(self.high.sum())
        if level == "program":
            programs = self.tables["programs"].set_index("program_id")
            for col in ("sector", "status", "organisation", "name"):
                table.insert(0, col, table.index.map(programs[col]))
        if level == "sector":
            programs = self.tables["programs"]
            live = programs.loc[programs["status"] != "dropped"]
            table.insert(0, "programs", table.index.map(live.groupby("sector").size()))
            table["programs"] = table["programs"].fillna(0).astype(np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            table["share_villages_reached"] = np.where(
                table["villages_targeted"] > 0,
                table["villages_reached"] / table["villages_targeted"],
                np.nan,
            )
            table["share_high_need_reached"] = np.where(
                table["high_need_villages"] > 0,
                table["high_need_reached"] / table["high_need_villages"],
                np.nan,
            )
        return table.reset_index()

    def _gaps(self, a: pd.DataFrame) -> pd.DataFrame:
        served = set(a.loc[a["status"].isin(["active", "completed"]), "kode"])
        high = self.high[self.high].index
        gap = [k for k in high if k not in served]
        out = self.areas.loc[gap, ["name", "kecamatan", "kabupaten", "population"]]
        planned = a.loc[a["kode"].isin(gap)].groupby("kode")["program_id"].agg(", ".join)
        out = out.assign(planned_programs=out.index.map(planned))
        return out.reset_index()

    def _overlaps(self, a: pd.DataFrame, engine: _Engine) -> pd.DataFrame:
        current = a.loc[a["status"].isin(["planned", "active"])]
        current = current.assign(sector=current["program_id"].map(engine.programs["sector"]))
        pairs = current[["kode", "sector", "program_id"]].drop_duplicates()
        counts = pairs.groupby(["kode", "sector"]).size()
        many = counts[counts > 1]
        if many.empty:
            columns = ["kode", "sector", "programs", "program_ids", "name", "kecamatan"]
            return pd.DataFrame(columns=columns)
        keep = pairs.set_index(["kode", "sector"]).index.isin(many.index)
        listed = pairs.loc[keep].sort_values(["kode", "sector", "program_id"])
        ids = listed.groupby(["kode", "sector"])["program_id"].agg(", ".join)
        out = pd.DataFrame({"programs": many, "program_ids": ids}).reset_index()
        out["name"] = out["kode"].map(self.areas["name"])
        out["kecamatan"] = out["kode"].map(self.areas["kecamatan"])
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe results."""

        def records(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
            if frame is None:
                return []
            return json.loads(frame.to_json(orient="records", date_format="iso", date_unit="s"))

        return {
            "as_of": self.as_of.date().isoformat(),
            "high_need_rule": {k: _plain(v) for k, v in self.high_need_rule.items()},
            "totals": self.totals,
            "by_program": records(self.by_program),
            "by_sector": records(self.by_sector),
            "by_kecamatan": records(self.by_kecamatan),
            "gaps": records(self.gaps),
            "overlaps": records(self.overlaps),
        }


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.date().isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value
