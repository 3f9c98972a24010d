"""The one-page village profile: a village on one A4 page for a visit or a meeting.

:class:`VillageProfile` draws, with matplotlib, the map of the village and its neighbours
(by :class:`~layers.exports.static_map.StaticMap`, the village outlined), its score with
the explanation (each indicator of the profile with its value, unit, weight and points),
its reported needs and what happened to each ("you said, we did":
:func:`~layers.programs.needs_status.you_said_we_did`), and the programs in the village.
The footer names the data, the run and the software, as on the printed map.

>>> profile = VillageProfile(store, "merangin", "15.02.05.1002", lang="id")  # doctest: +SKIP
>>> profile.render("desa.pdf")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from datetime import date
from typing import Any

import numpy as np
import shapely

from layers.errors import N_, NotFoundError
from layers.exports.map_parts import Layout, format_number, translator
from layers.exports.report_parts import TextPage, check_lang, footer, write_pdf
from layers.storage import Store

__all__ = ["TEXTS", "VillageProfile"]

#: The map shows the village and this many of its own widths around it (its neighbours).
CONTEXT = 1.5
#: Rows listed at most in the needs and programs tables (the rest counted).
MAX_ROWS = 12

TEXTS = {
    "subtitle": N_("Kecamatan %(kecamatan)s · code %(kode)s · village outlined in dark blue"),
    "score_line": N_("Score %(score)s of 100 · rank %(rank)s of %(ranked)s · %(label)s"),
    "not_scored": N_("Not scored by the profile %(profile)s"),
    "explanation": N_("Why this score (profile %(profile)s)"),
    "indicator": N_("Indicator"),
    "value": N_("Value"),
    "unit": N_("Unit"),
    "weight": N_("Weight"),
    "points": N_("Points"),
    "needs": N_("You said, we did: %(count)s reported needs"),
    "no_needs": N_("No needs reported for this village."),
    "need": N_("Need"),
    "category": N_("Category"),
    "status": N_("Status"),
    "reported": N_("Reported"),
    "programs": N_("Programs in the village: %(count)s"),
    "no_programs": N_("No program in the village in the register."),
    "program": N_("Program"),
    "organisation": N_("Organisation"),
    "more": N_("… and %(count)s more"),
    "open": N_("open"),
    "verified": N_("verified"),
    "in_progress": N_("in progress"),
    "addressed": N_("addressed"),
    "closed": N_("closed"),
    "planned": N_("planned"),
    "active": N_("active"),
    "completed": N_("completed"),
    "cancelled": N_("cancelled"),
    "page": N_("Page %(page)s of %(pages)s"),
}


def _profile_layout() -> Layout:
    """Where the map's parts go on the profile page (A4 portrait, millimetres)."""
    w, h = 210.0, 297.0

    def rect(left: float, bottom: float, width: float, height: float) -> tuple:
        return (left / w, bottom / h, width / w, height / h)

    return Layout(
        width_mm=w,
        height_mm=h,
        scale=1.0,
        title=rect(10, 264, 190, 23),
        map=rect(10, 172, 112, 90),
        legend=rect(126, 214, 74, 48),
        inset=rect(150, 172, 50, 38),
        footer=rect(10, 10, 190, 22),
    )


class VillageProfile:
    """A one-page A4 PDF profile of a village.

    Parameters
    ----------
    store : Store
        The store.
    ws : str
        Workspace name.
    kode : str
        The village's code.
    profile : str, optional
        Scoring profile of the score and its explanation (default: the workspace's first,
        as on the printed map); its latest run is used (computed and saved when none).
    lang : {"id", "en"}
        Language of the texts and numbers.
    gettext : callable, optional
        Translation function (default: the app's catalogue of ``lang``).
    today : date, optional
        Date printed.

    Raises
    ------
    NotFoundError
        The code is not a village of the workspace (on :meth:`render`).
    """

    def __init__(
        self,
        store: Store,
        ws: str,
        kode: str,
        *,
        profile: str | None = None,
        lang: str = "id",
        gettext: Any = None,
        today: date | None = None,
    ) -> None:

        self.store = store
        self.ws = ws
        self.kode = str(kode)
        self.profile = profile or None
        self.lang = check_lang(lang)
        self.gettext = gettext or translator(self.lang)
        self.today = today or date.today()

    def _tr(self, text: str, **params: Any) -> str:
        out = self.gettext(text) if text else text
        return out % params if params else out

    # --- data -------------------------------------------------------------------------------

    def village(self) -> dict[str, Any]:
        """The village's name, kecamatan and geometry; NotFoundError for an unknown code."""
        from layers.mapdata.cache import village_frame

        latest = {d.name: d for d in self.store.list_datasets(self.ws)}
        villages = latest.get("villages")
        if villages is None:
            raise NotFoundError(
                N_("workspace %(workspace)r has no villages layer; import villages first"),
                params={"workspace": self.ws},
            )
        frame = village_frame(self.store, self.ws, villages.ref, villages.created_at).frame
        match = frame.loc[frame["kode"].astype(str) == self.kode]
        if match.empty:
            raise NotFoundError(
                N_("unknown village code %(value)r: it is not in the workspace's villages"),
                params={"value": self.kode},
            )
        row = match.iloc[0]
        return {
            "name": row.get("name"),
            "kecamatan": row.get("kecamatan"),
            "geometry": row.geometry,
        }

    def explanation(self, run_ref: str) -> tuple[Any, dict[str, Any]]:
        """The score's explanation for the village (:meth:`Score.explain`, None when the run
        has no row for it) and the saved run."""
        from layers.profiles import ScoringProfile
        from layers.score_run import SCORE_COLUMNS, SENSITIVITY_COLUMNS, load_run
        from layers.scoring import Score

        profile, number = run_ref.split("/", 2)[2].rsplit("@", 1)
        saved = load_run(self.store, self.ws, profile, int(number))
        table = saved["table_frame"]
        if table is None or self.kode not in table.index:
            return None, saved
        skip = set(SCORE_COLUMNS) | set(SENSITIVITY_COLUMNS)
        indicators = [c for c in table.columns if c not in skip]
        score = Score(table.loc[:, indicators], ScoringProfile.from_dict(saved["profile"])).run()
        return score.explain(self.kode), saved

    # --- rendering --------------------------------------------------------------------------

    def figure(self) -> Any:
        """The page's matplotlib figure."""
        import matplotlib
        from matplotlib.figure import Figure

        village = self.village()
        bounds = shapely.bounds(village["geometry"])
        dx = max(bounds[2] - bounds[0], 0.01) * CONTEXT
        dy = max(bounds[3] - bounds[1], 0.01) * CONTEXT
        bbox = (
            max(-180.0, bounds[0] - dx),
            max(-90.0, bounds[1] - dy),
            min(180.0, bounds[2] + dx),
            min(90.0, bounds[3] + dy),
        )
        name = village["name"] if isinstance(village["name"], str) else self.kode
        kecamatan = village["kecamatan"] if isinstance(village["kecamatan"], str) else "-"
        static = _village_map_class()(
            self.store,
            self.ws,
            profile=self.profile,
            title=name,
            subtitle=self._tr(TEXTS["subtitle"], kecamatan=kecamatan, kode=self.kode),
            lang=self.lang,
            labels="kecamatan",
            bbox=bbox,
            gettext=self.gettext,
            today=self.today,
        )
        static.highlight = village["geometry"]
        layout = _profile_layout()
        with matplotlib.rc_context(
            {"pdf.fonttype": 42, "font.family": "DejaVu Sans", "path.simplify": True}
        ):
            figure = Figure(figsize=(layout.width_mm / 25.4, layout.height_mm / 25.4))
            figure.patch.set_facecolor("white")
            static.draw_page(figure, layout)
            self.profile = static.profile
            page = TextPage(
                figure=figure,
                y=166.0,
                width_mm=layout.width_mm,
                height_mm=layout.height_mm,
                margin=10.0,
                bottom=36.0,
            )
            self._score(page, static.data().run_ref)
            self._needs_and_programs(page)
            footer(
                figure,
                [],
                1,
                1,
                self._tr(TEXTS["page"]),
                width_mm=layout.width_mm,
                height_mm=layout.height_mm,
            )
        return figure

    def render(self, path: str | os.PathLike[str]) -> str | os.PathLike[str]:
        """Write the page as a PDF to ``path`` (whole or not at all); returns ``path``."""
        figure = self.figure()
        write_pdf(path, [figure], {"Title": self.kode, "Creator": "Jangkau"})
        return path

    def _score(self, page: TextPage, run_ref: str) -> None:
        from layers.exports.report_parts import Column
        from layers.mapdata.labels import indicator_info, render_label, unit_label

        explained, saved = self.explanation(run_ref)
        profile = saved.get("profile") or {}
        title = self._tr(str(profile.get("title") or profile.get("name") or ""))
        if explained is None or explained.score is None:
            page.text(self._tr(TEXTS["not_scored"], profile=title), size=10, bold=True)
            page.y -= 2
            return
        page.text(
            self._tr(
                TEXTS["score_line"],
                score=format_number(explained.score, 1, self.lang),
                rank=format_number(explained.rank, 0, self.lang) if explained.rank else "-",
                ranked=format_number(explained.ranked, 0, self.lang),
                label=self._tr(str(explained.label or explained.class_label or "")),
            ),
            size=11,
            bold=True,
        )
        page.text(self._tr(TEXTS["explanation"], profile=title), size=8.5, colour="#333333")
        page.y -= 1
        settings = saved.get("settings") or {}
        columns = [
            Column(self._tr(TEXTS["indicator"]), 6, max_lines=2),
            Column(self._tr(TEXTS["value"]), 1.4, "right"),
            Column(self._tr(TEXTS["unit"]), 2.0),
            Column(self._tr(TEXTS["weight"]), 1.1, "right"),
            Column(self._tr(TEXTS["points"]), 1.2, "right"),
        ]
        rows = []
        for part in explained.indicators:
            template, params, unit = indicator_info(part.indicator, settings)
            raw = part.raw
            decimals = 0 if raw is not None and abs(raw) >= 100 else 2
            rows.append(
                [
                    render_label(template, params, self.gettext),
                    format_number(raw, decimals, self.lang) if raw is not None else "-",
                    unit_label(unit, self.gettext) or "",
                    format_number(part.weight, 1, self.lang),
                    format_number(part.contribution, 1, self.lang)
                    if part.contribution is not None
                    else "-",
                ]
            )
        page.table(columns, rows, size=7.5)

    def _needs_and_programs(self, page: TextPage) -> None:
        from layers.exports.report_parts import Column
        from layers.programs.needs_status import you_said_we_did
        from layers.schema import NEED_CATEGORY_LABELS

        said = you_said_we_did(self.store, self.ws, self.kode)
        needs = sorted(
            said["needs"],
            key=lambda n: (str(n.get("reported_date") or ""), str(n.get("need_id"))),
            reverse=True,
        )
        top = page.y
        half = (page.inner_mm - 4) / 2
        page.text(self._tr(TEXTS["needs"], count=len(needs)), size=9.5, bold=True, width=half)
        if not needs:
            page.text(self._tr(TEXTS["no_needs"]), size=8.5, width=half)
        else:
            rows = [
                [
                    str(n.get("description") or n.get("need_id") or ""),
                    self._tr(
                        NEED_CATEGORY_LABELS.get(str(n.get("category")), str(n.get("category")))
                    ),
                    self._status(n.get("status")),
                    str(n.get("reported_date") or "-"),
                ]
                for n in needs[:MAX_ROWS]
            ]
            drawn = page.table(
                [
                    Column(self._tr(TEXTS["need"]), 4.0, max_lines=2),
                    Column(self._tr(TEXTS["category"]), 2.0, max_lines=2),
                    Column(self._tr(TEXTS["status"]), 2.0, max_lines=2),
                    Column(self._tr(TEXTS["reported"]), 1.9),
                ],
                rows,
                size=6.5,
                width=half,
            )
            if len(needs) > drawn:
                page.text(self._tr(TEXTS["more"], count=len(needs) - drawn), size=7, width=half)
        page.y = top
        x = half + 4
        programs = said["programs"]
        page.text(
            self._tr(TEXTS["programs"], count=len(programs)), size=9.5, bold=True, x=x, width=half
        )
        if not programs:
            page.text(self._tr(TEXTS["no_programs"]), size=8.5, x=x, width=half)
            return
        rows = [
            [
                str(p.get("name") or p.get("program_id") or ""),
                str(p.get("organisation") or "-"),
                self._status(p.get("status")),
            ]
            for p in programs[:MAX_ROWS]
        ]
        drawn = page.table(
            [
                Column(self._tr(TEXTS["program"]), 4.0, max_lines=2),
                Column(self._tr(TEXTS["organisation"]), 3.0, max_lines=2),
                Column(self._tr(TEXTS["status"]), 1.8),
            ],
            rows,
            size=6.5,
            x=x,
            width=half,
        )
        if len(programs) > drawn:
            page.text(self._tr(TEXTS["more"], count=len(programs) - drawn), size=7, x=x, width=half)

    def _status(self, status: Any) -> str:
        key = str(status or "")
        return self._tr(TEXTS[key]) if key in TEXTS and key != "page" else (key or "-")


def _village_map_class() -> type:
    """:class:`StaticMap` drawn into a given layout with one village outlined."""
    from layers.exports.static_map import SELECTED_COLOUR, StaticMap

    class VillageMap(StaticMap):
        highlight: Any = None

        def draw_page(self, figure: Any, page: Layout) -> None:
            """Draw the map's parts into ``figure`` where ``page`` puts them."""
            self._draw(figure, self.data(), page, "pdf", 150)
            if self.highlight is None:
                return
            import pyproj
            from matplotlib.patches import PathPatch

            from layers.crs import metric_crs
            from layers.exports.map_parts import lines_path

            ax = figure.axes[0]  # the map: the first axes drawn on a new figure
            to_metric = pyproj.Transformer.from_crs(
                "EPSG:4326", metric_crs(self.bbox), always_xy=True
            )
            geom = shapely.transform(
                np.array([self.highlight]),
                lambda c: np.column_stack(to_metric.transform(c[:, 0], c[:, 1])),
            )
            path = lines_path(geom)
            s = page.scale
            ax.add_patch(
                PathPatch(path, facecolor="none", edgecolor="white", linewidth=3.2 * s, zorder=5)
            )
            ax.add_patch(
                PathPatch(
                    path, facecolor="none", edgecolor=SELECTED_COLOUR, linewidth=1.8 * s, zorder=5
                )
            )

    return VillageMap
