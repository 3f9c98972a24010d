"""The proposal report: a targeting scenario as a multi-page A4 PDF for partners and funders.

:class:`ProposalReport` writes, with matplotlib (PdfPages; no browser), a cover with a map
of the selected villages (drawn by :class:`~layers.exports.static_map.StaticMap`), the
summary (villages, people reached, people in need reached, cost and share of the budget,
by kecamatan), the table of selected villages with score, rank, cost and reasons (on as
many pages as needed, the header repeated), the selected villages' indicators against the
other villages', service coverage before and (for a siting) after, the method and weights,
and the data sources with their licences. Every page has its number and the footer that
says which data, run and software made it.

>>> ProposalReport(store, "merangin", "gizi-2025", lang="id").render("usulan.pdf")  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from layers.errors import N_, NotFoundError
from layers.exports.map_parts import format_number, translator
from layers.exports.report_parts import Column, TextPage, check_lang, footer, table_pages, write_pdf
from layers.storage import Store

__all__ = ["TEXTS", "ProposalReport", "dataset_rows", "main_type"]

#: Above this many villages the cover map has no kecamatan outlines.
MAX_OUTLINED_VILLAGES = 20_000
#: Characters of a SHA-256 shown in the sources table.
SHA_PREFIX = 12

TEXTS = {
    "page": N_("Page %(page)s of %(pages)s"),
    "proposal": N_("Proposal: %(title)s"),
    "prepared_by": N_("Prepared by %(organisation)s"),
    "prepared_on": N_("Prepared on %(date)s"),
    "summary": N_("Summary"),
    "villages_selected": N_("Villages selected"),
    "new_sites": N_("New sites"),
    "people_reached": N_("People reached"),
    "people_in_need_reached": N_("People in need reached"),
    "cost": N_("Cost"),
    "budget": N_("Budget"),
    "budget_share": N_("Share of the budget"),
    "by_kecamatan": N_("By kecamatan"),
    "kecamatan": N_("Kecamatan"),
    "selected": N_("Selected"),
    "selected_villages": N_("Selected villages"),
    "rank": N_("Rank"),
    "code": N_("Code"),
    "village": N_("Village"),
    "score": N_("Score"),
    "reason": N_("Why"),
    "indicators": N_("Indicators: selected and other villages"),
    "indicators_note": N_(
        "Medians of the scoring profile's indicators in the selected villages and in the other "
        "villages of the workspace."
    ),
    "indicator": N_("Indicator"),
    "unit": N_("Unit"),
    "median_selected": N_("Median, selected"),
    "median_other": N_("Median, other villages"),
    "coverage": N_("Service coverage"),
    "coverage_note": N_(
        "Share of people within the standard distance of a %(type)s (%(distance)s m), from the "
        "score run's indicators."
    ),
    "coverage_all": N_("All villages, before"),
    "coverage_selected": N_("Selected villages, before"),
    "coverage_model_before": N_("Siting model, before the new sites"),
    "coverage_model_after": N_("Siting model, after the new sites"),
    "coverage_none": N_("The score run has no coverage figures for %(type)s."),
    "people": N_("People"),
    "people_within": N_("People within the standard"),
    "share_within": N_("Share within"),
    "method": N_("Method and weights"),
    "profile": N_("Scoring profile"),
    "weight": N_("Weight"),
    "direction": N_("Direction"),
    "normalisation": N_("Normalisation"),
    "missing": N_("Missing values"),
    "classes": N_("%(classes)s need classes by %(classification)s"),
    "settings": N_("Scenario settings"),
    "solver": N_("Solver"),
    "status": N_("Status"),
    "gap": N_("Gap"),
    "rules": N_("Rules"),
    "rule": N_("Rule"),
    "no_rules": N_("No rules limited the choice."),
    "benefit_given_up": N_("Benefit given up"),
    "rule_status": N_("Status without the rule"),
    "sources": N_("Data sources and licences"),
    "dataset": N_("Dataset"),
    "version": N_("Version"),
    "kind": N_("Kind"),
    "file": N_("File"),
    "sha256": N_("SHA-256 (start)"),
    "imported": N_("Imported"),
    "attribution": N_("Attribution"),
    "licence": N_("Licence"),
    "no_attribution": N_("imported by the user; see the file's own terms"),
    "need": N_("need"),
    "better": N_("better"),
}


def main_type(scenario: dict[str, Any], profile: dict[str, Any]) -> str | None:
    """The facility type whose coverage the report shows: a siting's type, else the type of
    the profile's first rule about a facility type."""
    kind_type = (scenario.get("settings") or {}).get("facility_type")
    if scenario.get("kind") == "siting" and kind_type:
        return str(kind_type)
    from layers.schema import FACILITY_TYPES

    for rule in profile.get("rules") or []:
        _group, _, rest = str(rule.get("indicator", "")).partition("__")
        if rest in FACILITY_TYPES:
            return rest
    return None


def dataset_rows(store: Store, ws: str, refs: list[str]) -> list[dict[str, Any]]:
    """One row per dataset version ``"ws/name@v"`` of ``refs`` (each once, by name): kind,
    file name, SHA-256 and import date."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for ref in refs:
        for part in str(ref).split(" + "):
            if "@" not in part or "/score_runs/" in part or "/" not in part:
                continue
            name, version = part.split("/", 1)[1].rsplit("@", 1)
            try:
                info = store.dataset_info(ws, name, int(version))
            except (NotFoundError, ValueError):
                continue
            out.setdefault(
                (name, int(version)),
                {
                    "name": name,
                    "version": int(version),
                    "kind": info.kind,
                    "file": info.source_name or "-",
                    "sha256": info.source_sha256 or "",
                    "imported": info.created_at.date().isoformat(),
                },
            )
    return [out[k] for k in sorted(out)]


class ProposalReport:
    """A targeting scenario as a proposal report (multi-page A4 PDF).

    Parameters
    ----------
    store : Store
        The store.
    ws : str
        Workspace name.
    scenario : str
        A saved scenario (its latest version).
    lang : {"id", "en"}
        Language of the texts and numbers.
    title : str, optional
        Title on the cover (default: "Proposal: " and the scenario's title).
    organisation : str, optional
        Who prepares the proposal (on the cover).
    gettext : callable, optional
        Translation function (default: the app's catalogue of ``lang``).
    today : date, optional
        Date printed (default: today).
    """

    def __init__(
        self,
        store: Store,
        ws: str,
        scenario: str,
        *,
        lang: str = "id",
        title: str | None = None,
        organisation: str | None = None,
        gettext: Any = None,
        today: date | None = None,
    ) -> None:
        from layers.targeting.scenarios import load_scenario

        self.store = store
        self.ws = ws
        self.lang = check_lang(lang)
        self.gettext = gettext or translator(self.lang)
        self.today = today or date.today()
        self.scenario = load_scenario(store, ws, scenario)
        self.organisation = (organisation or "").strip() or None
        self.title = (title or "").strip() or self._tr(
            TEXTS["proposal"], title=str(self.scenario.get("title") or scenario)
        )
        self.pages: list[TextPage] = []
        self._map: Any = None
        self._run: dict[str, Any] | None = None

    # --- helpers ----------------------------------------------------------------------------

    def _tr(self, text: str, **params: Any) -> str:
        out = self.gettext(text) if text else text
        return out % params if params else out

    def _n(self, value: Any, decimals: int = 0) -> str:
        if value is None:
            return "-"
        try:
            number = float(value)
        except (TypeError, ValueError):
            return str(value)
        return format_number(number, decimals, self.lang)

    def _setting(self, value: Any) -> str:
        """A setting as text, numbers in the language's format."""
        if isinstance(value, bool) or value is None:
            return str(value)
        if isinstance(value, int | float):
            whole = float(value).is_integer()
            return self._n(value, 0 if whole else 2)
        return _setting_text(value)

    def _median(self, value: Any) -> str:
        if value is None or pd.isna(value):
            return "-"
        return self._n(value, 0 if abs(float(value)) >= 100 else 2)

    def _share(self, value: Any) -> str:
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return "-"
        return f"{format_number(float(value) * 100, 1, self.lang)} %"

    def static_map(self) -> Any:
        """The cover's :class:`StaticMap` (the scenario's villages outlined and named)."""
        if self._map is None:
            self._map = _cover_map_class()(
                self.store,
                self.ws,
                profile=self.scenario.get("profile"),
                scenario=self.scenario["name"],
                title=self.title,
                subtitle=self._cover_subtitle(),
                lang=self.lang,
                labels="selected",
                gettext=self.gettext,
                today=self.today,
            )
        return self._map

    def run(self) -> dict[str, Any]:
        """The score run the scenario used (record body and table)."""
        if self._run is None:
            from layers.score_run import load_run

            ref = (self.scenario.get("inputs") or {}).get("score_run") or ""
            profile, number = ref.split("/", 2)[2].rsplit("@", 1)
            self._run = load_run(self.store, self.ws, profile, int(number))
        return self._run

    def _cover_subtitle(self) -> str:
        from babel.dates import format_date

        parts = []
        if self.organisation:
            parts.append(self._tr(TEXTS["prepared_by"], organisation=self.organisation))
        parts.append(
            self._tr(
                TEXTS["prepared_on"],
                date=format_date(self.today, format="long", locale=self.lang),
            )
        )
        return " · ".join(parts)

    def _new_page(self, heading: str) -> TextPage:
        page = TextPage.new(heading, self.title)
        self.pages.append(page)
        return page

    # --- rendering --------------------------------------------------------------------------

    def figures(self) -> list[Any]:
        """Every page's figure, numbered, with the footer."""
        self.pages = []
        cover = self.static_map().figure("pdf", "A4", "portrait", 150)
        self._summary()
        self._villages()
        self._indicators()
        self._coverage()
        self._method()
        self._sources()
        figures = [cover] + [p.figure for p in self.pages]
        lines = [*self.static_map().reproducibility(None)[:-1], self._printed()]
        total = len(figures)
        for number, figure in enumerate(figures, start=1):
            w, h = (v * 25.4 for v in figure.get_size_inches())
            footer(
                figure,
                [] if number == 1 else lines,  # the cover has the map's own footer
                number,
                total,
                self._tr(TEXTS["page"]),
                width_mm=w,
                height_mm=h,
            )
        return figures

    def _printed(self) -> str:
        line = self.static_map().reproducibility(None)[-1]
        return line.rsplit(";", 1)[0]  # without the projection: these pages have no map

    def render(self, path: str | os.PathLike[str]) -> str | os.PathLike[str]:
        """Write the report to ``path`` (whole or not at all); returns ``path``."""
        figures = self.figures()
        write_pdf(path, figures, {"Title": self.title, "Creator": "Jangkau"})
        return path

    # --- pages ------------------------------------------------------------------------------

    def _summary(self) -> None:
        summary = self.scenario.get("summary") or {}
        page = self._new_page(self._tr(TEXTS["summary"]))
        page.text(str(self.scenario.get("title") or ""), size=11, bold=True)
        page.y -= 2
        rows = [(self._tr(TEXTS["villages_selected"]), self._n(summary.get("villages_selected")))]
        if summary.get("new_sites") is not None:
            rows.append((self._tr(TEXTS["new_sites"]), self._n(summary.get("new_sites"))))
        rows += [
            (self._tr(TEXTS["people_reached"]), self._n(summary.get("people_reached"))),
            (
                self._tr(TEXTS["people_in_need_reached"]),
                self._n(summary.get("people_in_need_reached")),
            ),
        ]
        if summary.get("cost") is not None:
            rows.append((self._tr(TEXTS["cost"]), self._n(summary.get("cost"))))
        if summary.get("budget") is not None:
            rows.append((self._tr(TEXTS["budget"]), self._n(summary.get("budget"))))
            rows.append((self._tr(TEXTS["budget_share"]), self._share(summary.get("budget_share"))))
        page.pairs(rows, size=11, key_mm=90)
        page.y -= 4
        page.text(self._tr(TEXTS["by_kecamatan"]), size=12, bold=True)
        page.y -= 1
        has_cost = summary.get("cost") is not None
        columns = [
            Column(self._tr(TEXTS["kecamatan"]), 3),
            Column(self._tr(TEXTS["code"]), 1.6),
            Column(self._tr(TEXTS["selected"]), 1.4, "right"),
            Column(self._tr(TEXTS["people_reached"]), 2.4, "right", max_lines=2),
        ]
        if has_cost:
            columns.append(Column(self._tr(TEXTS["cost"]), 2.2, "right"))
        rows_k = []
        for item in summary.get("by_kecamatan") or []:
            if not item.get("selected") and not item.get("people_reached"):
                continue
            row = [
                str(item.get("kecamatan") or "-"),
                str(item.get("kecamatan_kode") or ""),
                self._n(item.get("selected")),
                self._n(item.get("people_reached")),
            ]
            if has_cost:
                row.append(self._n(item.get("cost")))
            rows_k.append(row)
        table_pages(
            self.pages,
            columns,
            rows_k,
            lambda: TextPage.new(self._tr(TEXTS["by_kecamatan"]), self.title),
        )

    def village_table(self) -> pd.DataFrame:
        """The selected villages with reasons (:func:`scenario_villages`)."""
        from layers.targeting.scenario_export import scenario_villages

        return scenario_villages(
            self.store, self.ws, self.scenario, gettext=self.gettext, lang=self.lang
        )

    def _villages(self) -> None:
        frame = self.village_table()
        heading = self._tr(TEXTS["selected_villages"])
        self._new_page(heading)
        has_cost = frame["cost"].notna().any()
        columns = [
            Column(self._tr(TEXTS["rank"]), 1.2, "right"),
            Column(self._tr(TEXTS["code"]), 2.0),
            Column(self._tr(TEXTS["village"]), 2.4, max_lines=2),
            Column(self._tr(TEXTS["kecamatan"]), 2.0, max_lines=2),
            Column(self._tr(TEXTS["score"]), 1.0, "right"),
            Column(self._tr(TEXTS["people"]), 1.3, "right"),
        ]
        if has_cost:
            columns.append(Column(self._tr(TEXTS["cost"]), 1.6, "right"))
        columns.append(Column(self._tr(TEXTS["reason"]), 5.4, max_lines=3))
        rows = []
        for row in frame.itertuples(index=False):
            cells = [
                self._n(row.rank),
                str(row.kode or ""),
                str(row.name) if isinstance(row.name, str) else "-",
                str(row.kecamatan) if isinstance(row.kecamatan, str) else "-",
                self._n(None if pd.isna(row.score) else row.score, 1),
                self._n(None if pd.isna(row.people_reached) else row.people_reached),
            ]
            if has_cost:
                cells.append(self._n(None if pd.isna(row.cost) else row.cost))
            cells.append(str(row.reason or ""))
            rows.append(cells)
        table_pages(self.pages, columns, rows, lambda: TextPage.new(heading, self.title), size=7.5)

    def _rule_indicators(self) -> list[tuple[str, str, str]]:
        """(indicator, label, unit label) of each rule of the run's profile."""
        from layers.mapdata.labels import indicator_info, render_label, unit_label

        run = self.run()
        settings = run.get("settings") or {}
        out = []
        for rule in (run.get("profile") or {}).get("rules") or []:
            indicator = str(rule.get("indicator"))
            template, params, unit = indicator_info(indicator, settings)
            out.append(
                (
                    indicator,
                    render_label(template, params, self.gettext),
                    unit_label(unit, self.gettext) or "",
                )
            )
        return out

    def indicator_medians(self) -> pd.DataFrame:
        """Per rule indicator: median in the selected villages and in the others."""
        table = self.run()["table_frame"]
        selected = set((self.scenario.get("summary") or {}).get("villages") or [])
        index = table.index.astype(str)
        mask = np.asarray(index.isin(selected))
        rows = []
        for indicator, label, unit in self._rule_indicators():
            values = (
                pd.to_numeric(table[indicator], errors="coerce")
                if indicator in table
                else pd.Series(np.nan, index=table.index)
            )
            rows.append(
                {
                    "indicator": indicator,
                    "label": label,
                    "unit": unit,
                    "selected": values[mask].median(),
                    "other": values[~mask].median(),
                }
            )
        return pd.DataFrame(rows)

    def _indicators(self) -> None:
        page = self._new_page(self._tr(TEXTS["indicators"]))
        page.text(self._tr(TEXTS["indicators_note"]), size=9.5)
        page.y -= 3
        columns = [
            Column(self._tr(TEXTS["indicator"]), 5, max_lines=2),
            Column(self._tr(TEXTS["unit"]), 1.6, max_lines=2),
            Column(self._tr(TEXTS["median_selected"]), 1.8, "right"),
            Column(self._tr(TEXTS["median_other"]), 1.8, "right"),
        ]
        rows = [
            [
                r.label,
                r.unit,
                self._median(r.selected),
                self._median(r.other),
            ]
            for r in self.indicator_medians().itertuples(index=False)
        ]
        table_pages(
            self.pages,
            columns,
            rows,
            lambda: TextPage.new(self._tr(TEXTS["indicators"]), self.title),
        )

    def coverage(self) -> dict[str, Any] | None:
        """Service coverage of the main type: people and people within the standard, for
        all villages and the selected ones (before), and after a siting's new sites."""
        run = self.run()
        kind = main_type(self.scenario, run.get("profile") or {})
        if kind is None:
            return None
        table = run["table_frame"]
        standard = ((run.get("settings") or {}).get("standards_m") or {}).get(kind)
        people = _people(table)
        beyond_col, dist_col = f"share_beyond__{kind}", f"dist_m__{kind}"
        if beyond_col in table:
            within = (1.0 - pd.to_numeric(table[beyond_col], errors="coerce")).clip(0.0, 1.0)
        elif dist_col in table and standard is not None:
            dist = pd.to_numeric(table[dist_col], errors="coerce")
            within = (dist <= float(standard)).astype(float).where(dist.notna())
        else:
            return {"type": kind, "standard_m": standard, "rows": None}
        known = people.notna() & within.notna()
        selected = np.asarray(
            table.index.astype(str).isin(
                set((self.scenario.get("summary") or {}).get("villages") or [])
            )
        )

        def row(mask: np.ndarray) -> dict[str, float | None]:
            p = float(people[mask & known].sum())
            w = float((people * within)[mask & known].sum())
            return {"people": p, "people_within": w, "share_within": w / p if p > 0 else None}

        rows = {"all": row(np.ones(len(table), dtype=bool)), "selected": row(selected)}
        result = self.scenario.get("result") or {}
        if self.scenario.get("kind") == "siting" and result.get("total_weight"):
            # Before and after as the siting model counted them (its demand points), so
            # that the two numbers compare.
            total = float(result["total_weight"])
            for key in ("before", "after"):
                within_n = float(result.get(f"covered_{key}") or 0.0)
                rows[f"model_{key}"] = {
                    "people": total,
                    "people_within": within_n,
                    "share_within": within_n / total if total > 0 else None,
                }
        return {"type": kind, "standard_m": standard, "rows": rows}

    def _coverage(self) -> None:
        from layers.schema import FACILITY_TYPE_LABELS

        page = self._new_page(self._tr(TEXTS["coverage"]))
        found = self.coverage()
        if found is None:
            return
        kind = self._tr(FACILITY_TYPE_LABELS.get(found["type"], found["type"]))
        if found["rows"] is None:
            page.text(self._tr(TEXTS["coverage_none"], type=kind), size=10)
            return
        page.text(
            self._tr(TEXTS["coverage_note"], type=kind, distance=self._n(found["standard_m"])),
            size=9.5,
        )
        page.y -= 3
        columns = [
            Column("", 3.2),
            Column(self._tr(TEXTS["people"]), 1.6, "right"),
            Column(self._tr(TEXTS["people_within"]), 2.0, "right"),
            Column(self._tr(TEXTS["share_within"]), 1.4, "right"),
        ]
        labels = {
            "all": TEXTS["coverage_all"],
            "selected": TEXTS["coverage_selected"],
            "model_before": TEXTS["coverage_model_before"],
            "model_after": TEXTS["coverage_model_after"],
        }
        rows = [
            [
                self._tr(labels[key]),
                self._n(item["people"]),
                self._n(item["people_within"]),
                self._share(item["share_within"]),
            ]
            for key, item in found["rows"].items()
        ]
        page.table(columns, rows, size=9.5)

    def _method(self) -> None:
        run = self.run()
        profile = run.get("profile") or {}
        page = self._new_page(self._tr(TEXTS["method"]))
        page.text(
            f"{self._tr(TEXTS['profile'])}: {self._tr(str(profile.get('title') or ''))} "
            f"({run.get('profile_ref') or profile.get('name')})",
            size=10,
            bold=True,
        )
        if profile.get("description"):
            page.text(self._tr(str(profile["description"])), size=9)
        page.text(
            self._tr(
                TEXTS["classes"],
                classes=profile.get("classes"),
                classification=profile.get("classification"),
            ),
            size=9,
        )
        page.y -= 2
        labels = {i: (label, unit) for i, label, unit in self._rule_indicators()}
        columns = [
            Column(self._tr(TEXTS["indicator"]), 5, max_lines=2),
            Column(self._tr(TEXTS["weight"]), 1.1, "right"),
            Column(self._tr(TEXTS["direction"]), 1.4),
            Column(self._tr(TEXTS["normalisation"]), 1.6),
            Column(self._tr(TEXTS["missing"]), 1.5),
        ]
        rows = []
        for rule in profile.get("rules") or []:
            indicator = str(rule.get("indicator"))
            direction = str(rule.get("direction") or "")
            rows.append(
                [
                    f"{labels.get(indicator, (indicator, ''))[0]} ({indicator})",
                    self._n(rule.get("weight"), 1),
                    self._tr(TEXTS[direction]) if direction in ("need", "better") else direction,
                    str(rule.get("normalisation") or ""),
                    str(rule.get("missing") or ""),
                ]
            )
        page.table(columns, rows, size=8)
        page.text(self._tr(TEXTS["settings"]), size=11, bold=True)
        page.y -= 1
        settings = self.scenario.get("settings") or {}
        summary = self.scenario.get("summary") or {}
        pairs = [
            (key, self._setting(value))
            for key, value in settings.items()
            if key not in ("rules", "solver") and value not in (None, [], {})
        ]
        pairs += [
            (self._tr(TEXTS["solver"]), str(summary.get("solver") or "-")),
            (self._tr(TEXTS["status"]), str(summary.get("status") or "-")),
            (self._tr(TEXTS["gap"]), self._share(summary.get("gap"))),
        ]
        page.pairs(pairs, size=9, key_mm=45)
        page.y -= 2
        page.text(self._tr(TEXTS["rules"]), size=11, bold=True)
        page.y -= 1
        rules = {
            k: v for k, v in (settings.get("rules") or {}).items() if v not in (None, [], {}, 0)
        }
        costs = {
            str(c.get("rule")): c
            for c in (self.scenario.get("result") or {}).get("rule_costs") or []
        }
        if not rules:
            page.text(self._tr(TEXTS["no_rules"]), size=9)
            return
        columns = [
            Column(self._tr(TEXTS["rule"]), 4),
            Column(self._tr(TEXTS["benefit_given_up"]), 2.4, "right"),
            Column(self._tr(TEXTS["rule_status"]), 2),
        ]
        rows = []
        for name, value in rules.items():
            cost = costs.get(name) or {}
            given = cost.get("benefit_given_up")
            share = cost.get("share")
            rows.append(
                [
                    f"{name}: {self._setting(value)}",
                    "-" if given is None else f"{self._n(given, 1)} ({self._share(share)})",
                    str(cost.get("status") or "-"),
                ]
            )
        table_pages(
            self.pages, columns, rows, lambda: TextPage.new(self._tr(TEXTS["method"]), self.title)
        )

    def sources(self) -> list[dict[str, Any]]:
        """The dataset versions the run and the scenario read, with attribution and licence."""
        from layers.demo import demo_manifest

        refs = list((self.run().get("inputs") or {}).values())
        refs += [v for k, v in (self.scenario.get("inputs") or {}).items() if k != "score_run"]
        by_file = {f.path.name: f for f in demo_manifest()}
        rows = dataset_rows(self.store, self.ws, [str(r) for r in refs])
        for row in rows:
            demo = by_file.get(row["file"])
            row["attribution"] = (
                self._tr(demo.attribution) if demo else self._tr(TEXTS["no_attribution"])
            )
            row["licence"] = demo.licence if demo else "-"
        return rows

    def _sources(self) -> None:
        heading = self._tr(TEXTS["sources"])
        self._new_page(heading)
        rows = self.sources()
        columns = [
            Column(self._tr(TEXTS["dataset"]), 2.2),
            Column(self._tr(TEXTS["version"]), 0.9, "right"),
            Column(self._tr(TEXTS["file"]), 3.0, max_lines=2),
            Column(self._tr(TEXTS["sha256"]), 1.9),
            Column(self._tr(TEXTS["imported"]), 1.6),
        ]
        table_pages(
            self.pages,
            columns,
            [
                [
                    r["name"],
                    str(r["version"]),
                    r["file"],
                    r["sha256"][:SHA_PREFIX] or "-",
                    r["imported"],
                ]
                for r in rows
            ],
            lambda: TextPage.new(heading, self.title),
        )
        columns = [
            Column(self._tr(TEXTS["dataset"]), 2.2),
            Column(self._tr(TEXTS["attribution"]), 6, max_lines=6),
            Column(self._tr(TEXTS["licence"]), 2.4, max_lines=6),
        ]
        table_pages(
            self.pages,
            columns,
            [[r["name"], r["attribution"], r["licence"]] for r in rows],
            lambda: TextPage.new(heading, self.title),
        )


def _cover_map_class() -> type:
    """:class:`StaticMap` without kecamatan outlines above :data:`MAX_OUTLINED_VILLAGES`
    villages: at that scale on a cover they are a grey wash, and dissolving them is most of
    the map's time."""
    from layers.exports.static_map import StaticMap

    class CoverMap(StaticMap):
        def _kecamatan(self, view: tuple, tolerance: float, project: Any) -> Any:
            if len(self.data().villages) > MAX_OUTLINED_VILLAGES:
                return None
            return super()._kecamatan(view, tolerance, project)

    return CoverMap


def _people(table: pd.DataFrame) -> pd.Series:
    """People per village: the population raster's where the village lies on it, else the
    village table's population (as the service coverage counts them)."""
    empty = pd.Series(np.nan, index=table.index)
    raster = pd.to_numeric(table.get("population_raster", empty), errors="coerce")
    listed = pd.to_numeric(table.get("population", empty), errors="coerce")
    return raster.where(raster.notna(), listed)


def _setting_text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_setting_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(str(v) for v in value)
    return str(value)
