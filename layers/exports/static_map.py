"""Printed maps: a workspace's villages as a PNG or PDF page for a proposal or a wall.

:class:`StaticMap` draws, server-side with matplotlib (the Agg and PDF backends; no
browser), the villages coloured by need class or by an indicator's classes, with the
classes and colours of the web map (:func:`layers.mapdata.map_values`), kecamatan outlines,
the villages of a scenario highlighted, labels that do not overlap, a title, a legend, a
metric scale bar, a north arrow, a locator inset, the sources and a footer that says
exactly which data, profile, weights and software made the map.

>>> peta = StaticMap(store, "merangin", profile="health_access")  # doctest: +SKIP
>>> peta.render("peta.pdf", "pdf")  # doctest: +SKIP

The page is exactly the paper size: A4 portrait at 300 dpi is 2480 x 3508 pixels, and a
PDF page is 595 x 842 points. The figure is never cropped to its content
(no ``bbox_inches="tight"``): every part is placed in millimetres inside the page.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyproj
import shapely

from layers.atomic import replacing
from layers.errors import N_, InputError, NotFoundError
from layers.exports.map_parts import (
    DPIS,
    FORMATS,
    ORIENTATIONS,
    PAPERS_MM,
    LabelCandidate,
    format_number,
    layout,
    lines_path,
    nice_length,
    page_inches,
    place_labels,
    polygons_path,
    translator,
    wrap,
)
from layers.storage import Store

__all__ = ["LABEL_MODES", "LANGUAGES", "StaticMap"]

#: What the map labels: kecamatan names, the selected villages' names, or nothing.
LABEL_MODES = ("kecamatan", "selected", None)
#: Languages of the page.
LANGUAGES = ("id", "en")
#: Villages labelled with ``labels="selected"`` when no scenario is given: the highest ranks.
TOP_LABELLED = 20
#: Above this many villages in view, village edges are not drawn (they would darken the map).
MAX_EDGED_VILLAGES = 3000
#: Above this many vertices, a PDF's village fills are drawn as an image at the page's dpi
#: (the text and outlines stay vector): keeps a national PDF small and quick to open.
MAX_VECTOR_VERTICES = 400_000
#: Metres per degree of latitude (for a simplification tolerance in degrees).
METRES_PER_DEGREE = 111_320.0
#: Colours of the highlights.
SELECTED_COLOUR = "#08306b"
SITE_COLOUR = "#08306b"
OUTLINE_COLOUR = "#3a3a3a"
CONTEXT_COLOUR = "#d9d9d9"
AREA_COLOUR = "#d7301f"

TEXTS = {
    "scenario": N_("Scenario: %(title)s"),
    "profile": N_("Scoring profile: %(title)s"),
    "selected": N_("Selected in the scenario"),
    "site": N_("New site in the scenario"),
    "kecamatan": N_("Kecamatan boundary"),
    "villages": N_("%(count)s villages"),
    "sources": N_("Sources: %(sources)s"),
    "versions": N_("Data versions: %(versions)s"),
    "run": N_(
        "Score run %(run)s (needs as of %(as_of)s); profile %(profile)s, weights: %(weights)s"
    ),
    "printed": N_("Printed %(date)s with Jangkau %(version)s; projection %(crs)s"),
    "location": N_("Location"),
    "north": N_("N"),
    "basemap": N_("Background map: %(attribution)s"),
    "imported": N_("%(name)s: %(file)s (imported %(date)s)"),
}


@dataclass
class _Data:
    """What the page shows, gathered from the store once per map."""

    title: str
    values: Any  # MapValues
    villages: Any  # GeoDataFrame, EPSG:4326
    bounds: np.ndarray
    run: dict[str, Any]
    run_ref: str
    scenario: dict[str, Any] | None
    selected: list[str] = field(default_factory=list)
    sites: pd.DataFrame | None = None


def _check_choice(name: str, value: Any, allowed: tuple) -> Any:
    if value not in allowed:
        raise InputError(
            N_("%(name)s must be one of %(allowed)s, not %(value)r"),
            params={
                "name": name,
                "allowed": ", ".join("none" if a is None else str(a) for a in allowed),
                "value": value,
            },
        )
    return value


def _check_bbox(bbox: Any) -> tuple[float, float, float, float] | None:
    if bbox is None:
        return None
    try:
        values = tuple(float(v) for v in bbox)
    except (TypeError, ValueError):
        values = ()
    ok = (
        len(values) == 4
        and all(math.isfinite(v) for v in values)
        and -180 <= values[0] < values[2] <= 180
        and -90 <= values[1] < values[3] <= 90
    )
    if not ok:
        raise InputError(
            N_(
                "bbox must be minimum longitude, minimum latitude, maximum longitude, "
                "maximum latitude in degrees, not %(value)r"
            ),
            params={"value": bbox},
        )
    return values  # type: ignore[return-value]


class StaticMap:
    """A printed map of a workspace's villages.

    Parameters
    ----------
    store : Store
        The store.
    ws : str
        Workspace name.
    profile : str, optional
        Scoring profile; its latest saved run colours the villages (computed and saved when
        there is none, as the web map does). Default: the scenario's profile, else the
        workspace's first profile (saved ones first, then built-in ones).
    indicator : str, optional
        Colour by this indicator of the run (5 quantile classes) instead of the need class.
    scenario : str, optional
        A saved scenario whose villages (placement) or new sites (siting) are highlighted.
    title, subtitle : str, optional
        Page title (default: the workspace's title) and subtitle (default: what is shown,
        the profile and the scenario).
    lang : {"id", "en"}
        Language of the page's texts and numbers.
    labels : {"kecamatan", "selected", None}
        Label kecamatan names, the scenario's villages (without a scenario: the
        :data:`TOP_LABELLED` highest-ranked villages in view), or nothing.
    bbox : tuple, optional
        ``(min lon, min lat, max lon, max lat)``: the part to show (default: every village).
    basemap : path, optional
        An MBTiles file of raster tiles to draw under the villages (only when given: the
        app passes its ``BASEMAP_MBTILES`` when ``BASEMAP`` is ``mbtiles``).
    gettext : callable, optional
        Translation function (default: the app's catalogue of ``lang``).
    today : date, optional
        The date printed (default: today).

    Raises
    ------
    InputError
        For a language, label mode or bbox that is not allowed.
    """

    def __init__(
        self,
        store: Store,
        ws: str,
        *,
        profile: str | None = None,
        indicator: str | None = None,
        scenario: str | None = None,
        title: str | None = None,
        subtitle: str | None = None,
        lang: str = "id",
        labels: str | None = "kecamatan",
        bbox: tuple[float, float, float, float] | None = None,
        basemap: str | os.PathLike[str] | None = None,
        gettext: Callable[[str], str] | None = None,
        today: date | None = None,
    ) -> None:
        self.store = store
        self.ws = ws
        self.profile = profile or None
        self.indicator = indicator or None
        self.scenario = scenario or None
        self.title = title
        self.subtitle = subtitle
        self.lang = _check_choice("lang", lang, LANGUAGES)
        self.labels = _check_choice("labels", labels, LABEL_MODES)
        self.bbox = _check_bbox(bbox)
        self.basemap = Path(basemap) if basemap else None
        self.gettext = gettext or translator(self.lang)
        self.today = today or date.today()
        self._data: _Data | None = None

    # --- data --------------------------------------------------------------------------------

    def _tr(self, text: str, **params: Any) -> str:
        out = self.gettext(text) if text else text
        return out % params if params else out

    def data(self) -> _Data:
        """Gather what the page shows (once): values, villages, run, scenario."""
        if self._data is not None:
            return self._data
        from layers.mapdata import map_values
        from layers.mapdata.cache import village_frame
        from layers.score_run import RUNS, list_profiles

        workspace = self.store.get_workspace(self.ws)
        scenario = None
        if self.scenario is not None:
            from layers.targeting.scenarios import load_scenario

            scenario = load_scenario(self.store, self.ws, self.scenario)
        profile = self.profile or (scenario or {}).get("profile")
        if not profile:
            entries = list_profiles(self.store, self.ws)
            if not entries:
                raise NotFoundError(N_("no scoring profile to draw the map with"))
            profile = entries[0].name
        self.profile = profile
        values = map_values(self.store, self.ws, profile, self.indicator)
        run_profile, run_number = values.run_ref.split("/", 2)[2].rsplit("@", 1)
        record = self.store.get_record(self.ws, RUNS, run_profile, int(run_number))
        assert values.villages_written is not None
        frame = village_frame(self.store, self.ws, values.villages_ref, values.villages_written)
        data = _Data(
            title=self._tr(workspace.title) if workspace.title else self.ws,
            values=values,
            villages=frame.frame,
            bounds=frame.bounds,
            run=dict(record.body),
            run_ref=record.ref,
            scenario=scenario,
        )
        if scenario is not None:
            result = scenario.get("result") or {}
            if scenario.get("kind") == "siting":
                sites = pd.DataFrame(result.get("sites") or [])
                data.sites = sites if {"x", "y"} <= set(sites.columns) else None
                data.selected = [str(k) for k in sites.get("kode", []) if isinstance(k, str)]
            else:
                data.selected = [
                    str(row["kode"]) for row in result.get("selected") or [] if row.get("kode")
                ]
        self._data = data
        return data

    # --- drawing -----------------------------------------------------------------------------

    def render(
        self,
        path: str | os.PathLike[str] | IO[bytes],
        fmt: str = "png",
        paper: str = "A4",
        orientation: str = "portrait",
        dpi: int = 150,
    ) -> str | os.PathLike[str] | IO[bytes]:
        """Draw the page and write it to ``path`` (a file path, written whole or not at all
        through a temporary file and a rename, or a binary file object).

        Parameters
        ----------
        path : path or binary file
            Where to write.
        fmt : {"png", "pdf"}
            Output format.
        paper : {"A4", "A3"}
            Paper size.
        orientation : {"portrait", "landscape"}
            Orientation.
        dpi : {150, 300}
            Resolution of a PNG (its size in pixels is the paper's at this resolution) and
            of the village fills of a PDF too large to keep as vectors.

        Returns
        -------
        The ``path`` given.
        """
        _check_choice("format", fmt, FORMATS)
        _check_choice("paper", paper, tuple(PAPERS_MM))
        _check_choice("orientation", orientation, ORIENTATIONS)
        with contextlib.suppress(TypeError, ValueError):
            dpi = int(dpi)
        _check_choice("dpi", dpi, DPIS)
        figure = self.figure(fmt, paper, orientation, dpi)
        metadata = (
            {"Title": self._page_title(), "Creator": "Jangkau"}
            if fmt == "pdf"
            else {"Title": self._page_title(), "Software": "Jangkau"}
        )
        if isinstance(path, str | os.PathLike):
            with replacing(path) as partial, partial.open("wb") as out:
                figure.savefig(out, format=fmt, dpi=dpi, metadata=metadata)
        else:
            figure.savefig(path, format=fmt, dpi=dpi, metadata=metadata)
        return path

    def to_bytes(
        self, fmt: str = "png", paper: str = "A4", orientation: str = "portrait", dpi: int = 150
    ) -> bytes:
        """The page as bytes (see :meth:`render`)."""
        buffer = io.BytesIO()
        self.render(buffer, fmt, paper, orientation, dpi)
        return buffer.getvalue()

    def _page_title(self) -> str:
        return self.title or self.data().title

    def figure(self, fmt: str, paper: str, orientation: str, dpi: int) -> Any:
        """The matplotlib figure of the page (not yet saved)."""
        import matplotlib
        from matplotlib.figure import Figure

        data = self.data()
        page = layout(paper, orientation)
        with matplotlib.rc_context(
            {"pdf.fonttype": 42, "font.family": "DejaVu Sans", "path.simplify": True}
        ):
            figure = Figure(figsize=page_inches(paper, orientation, fmt, dpi), dpi=dpi)
            figure.patch.set_facecolor("white")
            self._draw(figure, data, page, fmt, dpi)
        return figure

    def _draw(self, figure: Any, data: _Data, page: Any, fmt: str, dpi: int) -> None:
        s = page.scale
        # --- the extent, fitted to the map frame, in a metric CRS
        villages = data.villages
        lon0, lat0, lon1, lat1 = self.bbox or bounds_of(data.bounds)
        from layers.crs import metric_crs

        crs = metric_crs((lon0, lat0, lon1, lat1))
        to_metric = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        edge = np.linspace(0, 1, 21)
        lons = np.r_[
            lon0 + (lon1 - lon0) * edge,
            np.full(21, lon1),
            lon0 + (lon1 - lon0) * edge,
            np.full(21, lon0),
        ]
        lats = np.r_[
            np.full(21, lat0),
            lat0 + (lat1 - lat0) * edge,
            np.full(21, lat1),
            lat0 + (lat1 - lat0) * edge,
        ]
        mx, my = to_metric.transform(lons, lats)
        x0, x1, y0, y1 = float(np.min(mx)), float(np.max(mx)), float(np.min(my)), float(np.max(my))
        frame_w_mm, frame_h_mm = page.map_mm()
        width, height = max(x1 - x0, 1.0) * 1.03, max(y1 - y0, 1.0) * 1.03
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        if width / height > frame_w_mm / frame_h_mm:
            height = width * frame_h_mm / frame_w_mm
        else:
            width = height * frame_w_mm / frame_h_mm
        extent = (cx - width / 2, cx + width / 2, cy - height / 2, cy + height / 2)
        metres_per_px = width / (frame_w_mm / 25.4 * dpi)
        # --- villages in view, simplified to half a pixel, projected
        to_lonlat = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        blon, blat = to_lonlat.transform(
            [extent[0], extent[1], extent[1], extent[0]],
            [extent[2], extent[2], extent[3], extent[3]],
        )
        view = (min(blon), min(blat), max(blon), max(blat))
        shown = villages.loc[self._inside(data, view)]
        tolerance = 0.5 * metres_per_px / METRES_PER_DEGREE

        def project(geoms: np.ndarray) -> np.ndarray:
            return shapely.transform(
                geoms, lambda c: np.column_stack(to_metric.transform(c[:, 0], c[:, 1]))
            )

        geoms = shapely.simplify(shown.geometry.to_numpy(), tolerance, preserve_topology=True)
        geoms = project(geoms)
        kode = shown["kode"].astype(object).to_numpy()
        values = data.values.values
        classes = values["class"].reindex(kode).to_numpy(dtype="float64", na_value=np.nan)
        ax = figure.add_axes(page.map)
        ax.set_xlim(extent[0], extent[1])
        ax.set_ylim(extent[2], extent[3])
        ax.set_aspect("equal", adjustable="box")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_linewidth(0.6 * s)
        ax.set_facecolor("#f7fbff" if self.basemap is None else "white")
        basemap_attribution = None
        if self.basemap is not None:
            basemap_attribution = self._draw_basemap(ax, crs, extent, view, dpi, metres_per_px)
        from matplotlib.patches import PathPatch

        vertices = int(shapely.get_num_coordinates(geoms).sum())
        rasterize = fmt == "pdf" and vertices > MAX_VECTOR_VERTICES
        edged = len(shown) <= MAX_EDGED_VILLAGES
        for item in data.values.legend:
            mask = np.isnan(classes) if item["class"] is None else classes == item["class"]
            if not mask.any():
                continue
            patch = PathPatch(
                polygons_path(geoms[mask]),
                facecolor=item["colour"],
                edgecolor="white" if edged else "none",
                linewidth=0.2 * s if edged else 0,
                zorder=2,
            )
            patch.set_rasterized(rasterize)
            ax.add_patch(patch)
        # --- kecamatan outlines
        kecamatan = self._kecamatan(view, tolerance, project)
        self._outlined = kecamatan is not None  # the legend lists the outline only if drawn
        if kecamatan is not None:
            outline = PathPatch(
                lines_path(kecamatan["geometry"]),
                facecolor="none",
                edgecolor=OUTLINE_COLOUR,
                linewidth=(0.25 if len(kecamatan) > 500 else 0.6) * s,
                zorder=3,
            )
            ax.add_patch(outline)
        # --- the scenario
        selected_mask = np.isin(kode, np.array(data.selected, dtype=object))
        placement = data.scenario is not None and data.scenario.get("kind") != "siting"
        if placement and selected_mask.any():
            path = lines_path(geoms[selected_mask])
            ax.add_patch(
                PathPatch(path, facecolor="none", edgecolor="white", linewidth=2.6 * s, zorder=4)
            )
            ax.add_patch(
                PathPatch(
                    path,
                    facecolor="none",
                    edgecolor=SELECTED_COLOUR,
                    linewidth=1.3 * s,
                    zorder=5,
                )
            )
        if data.sites is not None and len(data.sites):
            sx, sy = to_metric.transform(
                data.sites["x"].to_numpy(dtype=float), data.sites["y"].to_numpy(dtype=float)
            )
            ax.scatter(
                sx,
                sy,
                s=(7 * s) ** 2,
                marker="^",
                facecolor=SITE_COLOUR,
                edgecolor="white",
                linewidth=0.8 * s,
                zorder=6,
            )
        # --- scale bar and north arrow, then labels around them
        obstacles = [
            self._scale_bar(ax, figure, extent, page),
            self._north_arrow(ax, figure, extent, page, to_lonlat, to_metric),
        ]
        self._labels(ax, figure, page, shown, geoms, kode, kecamatan, obstacles)
        # --- the rest of the page
        self._title(figure, page)
        self._legend(figure, page, data)
        self._inset(figure, page, data, view)
        self._footer(figure, page, data, crs, basemap_attribution)

    # --- pieces of the map -----------------------------------------------------------------

    def _kecamatan(
        self, view: tuple[float, ...], tolerance: float, project: Callable
    ) -> pd.DataFrame | None:
        """Kecamatan outlines in view (simplified, projected) with names and label points."""
        from layers.mapdata import area_outlines

        try:
            outlines = area_outlines(self.store, self.ws, "kecamatan")
        except (InputError, NotFoundError):
            return None
        features = outlines["features"]
        if not features:
            return None
        geoms = shapely.from_geojson([json.dumps(f["geometry"]) for f in features])
        bounds = shapely.bounds(geoms)
        keep = (
            (bounds[:, 0] <= view[2])
            & (bounds[:, 2] >= view[0])
            & (bounds[:, 1] <= view[3])
            & (bounds[:, 3] >= view[1])
        )
        geoms = project(shapely.simplify(geoms[keep], tolerance, preserve_topology=True))
        chosen = [f for f, k in zip(features, keep, strict=True) if k]
        if not chosen:
            return None
        points = np.array([f["properties"]["label_point"] for f in chosen], dtype=float)
        coords = shapely.get_coordinates(project(shapely.points(points)))
        return pd.DataFrame(
            {
                "name": [f["properties"]["name"] for f in chosen],
                "villages": [f["properties"]["villages"] for f in chosen],
                "x": coords[:, 0] if len(coords) else [],
                "y": coords[:, 1] if len(coords) else [],
                "area": shapely.area(geoms),
                "geometry": geoms,
            }
        )

    def _scale_bar(self, ax: Any, figure: Any, extent: tuple, page: Any) -> tuple:
        """A metric scale bar at the lower left; returns its box in page points."""
        s = page.scale
        width = extent[1] - extent[0]
        height = extent[3] - extent[2]
        length = nice_length(width / 4)
        x = extent[0] + width * 0.04
        y = extent[2] + height * 0.04
        bar_h = height * 0.008
        segments = 4 if length / 4 >= 1 else 2
        step = length / segments
        from matplotlib.patches import Rectangle

        for i in range(segments):
            ax.add_patch(
                Rectangle(
                    (x + i * step, y),
                    step,
                    bar_h,
                    facecolor="black" if i % 2 == 0 else "white",
                    edgecolor="black",
                    linewidth=0.5 * s,
                    zorder=7,
                )
            )
        text = (
            f"{format_number(length / 1000, 0 if length >= 1000 else 1, self.lang)} km"
            if length >= 100
            else f"{format_number(length, 0, self.lang)} m"
        )
        size = 7 * s
        ax.text(x, y + bar_h * 1.8, "0", fontsize=size, ha="center", va="bottom", zorder=7)
        ax.text(
            x + length, y + bar_h * 1.8, text, fontsize=size, ha="center", va="bottom", zorder=7
        )
        left, bottom = self._to_points(ax, figure, x - width * 0.01, y - height * 0.01)
        right, top = self._to_points(ax, figure, x + length + width * 0.04, y + height * 0.045)
        return (left, bottom, right, top)

    def _north_arrow(
        self, ax: Any, figure: Any, extent: tuple, page: Any, to_lonlat: Any, to_metric: Any
    ) -> tuple:
        """A north arrow at the upper right, turned to true north at the map's centre."""
        s = page.scale
        width = extent[1] - extent[0]
        height = extent[3] - extent[2]
        cx, cy = (extent[0] + extent[1]) / 2, (extent[2] + extent[3]) / 2
        lon, lat = to_lonlat.transform(cx, cy)
        nx, ny = to_metric.transform(lon, min(lat + 0.05, 89.9))
        angle = math.atan2(nx - cx, ny - cy)  # clockwise from grid north
        size = height * 0.05
        bx, by = extent[1] - width * 0.06, extent[3] - height * 0.1
        tip = (bx + size * math.sin(angle), by + size * math.cos(angle))
        side = size * 0.35
        left = (bx - side * math.cos(angle), by + side * math.sin(angle))
        right = (bx + side * math.cos(angle), by - side * math.sin(angle))
        from matplotlib.patches import Polygon

        ax.add_patch(
            Polygon(
                [left, tip, (bx, by)],
                closed=True,
                facecolor="black",
                edgecolor="black",
                linewidth=0.5 * s,
                zorder=7,
            )
        )
        ax.add_patch(
            Polygon(
                [(bx, by), tip, right],
                closed=True,
                facecolor="white",
                edgecolor="black",
                linewidth=0.5 * s,
                zorder=7,
            )
        )
        ax.text(
            tip[0],
            tip[1] + height * 0.008,
            self._tr(TEXTS["north"]),
            fontsize=9 * s,
            fontweight="bold",
            ha="center",
            va="bottom",
            zorder=7,
        )
        x0, y0 = self._to_points(ax, figure, bx - size * 0.8, by - size * 0.4)
        x1, y1 = self._to_points(ax, figure, bx + size * 0.8, by + size * 1.8)
        return (x0, y0, x1, y1)

    @staticmethod
    def _inside(data: _Data, view: tuple) -> np.ndarray:
        """Which villages' bounding boxes meet ``view`` (lon/lat)."""
        b = data.bounds
        return (
            np.isfinite(b).all(axis=1)
            & (b[:, 0] <= view[2])
            & (b[:, 2] >= view[0])
            & (b[:, 1] <= view[3])
            & (b[:, 3] >= view[1])
        )

    @staticmethod
    def _to_points(ax: Any, figure: Any, x: Any, y: Any) -> tuple[Any, Any]:
        """Map coordinates to page points (1/72 inch from the lower left)."""
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        left, bottom, w, h = ax.get_position().bounds
        fw, fh = figure.get_size_inches() * 72
        # The axes keep the data's aspect: the map frame was fitted to it beforehand.
        px = (left + (np.asarray(x) - x0) / (x1 - x0) * w) * fw
        py = (bottom + (np.asarray(y) - y0) / (y1 - y0) * h) * fh
        return px, py

    def _labels(
        self,
        ax: Any,
        figure: Any,
        page: Any,
        shown: pd.DataFrame,
        geoms: np.ndarray,
        kode: np.ndarray,
        kecamatan: pd.DataFrame | None,
        obstacles: list[tuple],
    ) -> None:
        """Names that do not overlap each other, the scale bar or the north arrow."""
        if self.labels is None:
            return
        from matplotlib import patheffects
        from matplotlib.font_manager import FontProperties
        from matplotlib.textpath import TextToPath

        s = page.scale
        candidates: list[LabelCandidate] = []
        if self.labels == "kecamatan":
            if kecamatan is None or kecamatan.empty:
                return
            size = 7.0 * s
            weight = "bold"
            for row in kecamatan.itertuples():
                if isinstance(row.name, str) and row.name:
                    candidates.append(LabelCandidate(row.name, row.x, row.y, -float(row.area)))
        else:
            size = 6.5 * s
            weight = "normal"
            data = self.data()
            if data.scenario is not None:
                chosen = np.isin(kode, np.array(data.selected, dtype=object))
                order = {k: i for i, k in enumerate(data.selected)}
                priority = np.array([order.get(k, 0) for k in kode], dtype=float)
            else:
                ranks = data.values.values["rank"].reindex(kode)
                ranks = ranks.to_numpy(dtype="float64", na_value=np.nan)
                chosen = np.isfinite(ranks) & (
                    ranks <= np.sort(ranks[np.isfinite(ranks)])[:TOP_LABELLED].max(initial=0)
                )
                priority = np.nan_to_num(ranks, nan=np.inf)
            points = shapely.point_on_surface(geoms[chosen])
            xy = shapely.get_coordinates(points)
            names = shown["name"].astype(object).to_numpy()[chosen]
            for name, (x, y), p in zip(names, xy, priority[chosen], strict=True):
                if isinstance(name, str) and name:
                    candidates.append(LabelCandidate(name, float(x), float(y), float(p)))
        if not candidates:
            return
        font = FontProperties(family="DejaVu Sans", size=size, weight=weight)
        measure = TextToPath()
        sizes = np.array(
            [
                measure.get_text_width_height_descent(c.text, font, ismath=False)[:2]
                for c in candidates
            ]
        )
        left, bottom, w, h = ax.get_position().bounds
        fw, fh = figure.get_size_inches() * 72
        frame = (left * fw, bottom * fh, (left + w) * fw, (bottom + h) * fh)
        placed = place_labels(
            candidates,
            sizes,
            lambda x, y: self._to_points(ax, figure, x, y),
            frame,
            obstacles,
            padding=1.5 * s,
        )
        halo = [patheffects.withStroke(linewidth=2.2 * s, foreground="white")]
        for i, px, py in placed:
            # The halo is a white copy drawn as a path; the label itself stays text, so a
            # PDF's names can be searched and copied.
            figure.text(
                px / fw,
                py / fh,
                candidates[i].text,
                fontproperties=font,
                color="white",
                ha="center",
                va="center",
                zorder=8,
                path_effects=halo,
            )
            figure.text(
                px / fw,
                py / fh,
                candidates[i].text,
                fontproperties=font,
                ha="center",
                va="center",
                zorder=9,
            )
        self.placed_labels = [candidates[i].text for i, _x, _y in placed]

    def _draw_basemap(
        self, ax: Any, crs: Any, extent: tuple, view: tuple, dpi: int, metres_per_px: float
    ) -> str | None:
        """Tiles of the MBTiles file mosaicked, reprojected to the map's CRS and drawn under
        the villages; returns the file's attribution."""
        from layers.mbtiles import MBTiles

        source = MBTiles(self.basemap)  # InputError for a file that is not MBTiles
        image = basemap_image(source, crs, extent, view, metres_per_px)
        if image is not None:
            ax.imshow(image, extent=extent, origin="upper", zorder=1, interpolation="bilinear")
        return source.attribution or self.basemap.name

    def _title(self, figure: Any, page: Any) -> None:
        s = page.scale
        box = figure.add_axes(page.title)
        box.set_axis_off()
        w_mm = page.title[2] * page.width_mm
        title = self._page_title()
        box.text(
            0,
            1,
            wrap(title, w_mm / 25.4 * 72, 16 * s),
            fontsize=16 * s,
            fontweight="bold",
            ha="left",
            va="top",
            transform=box.transAxes,
        )
        subtitle = self.subtitle if self.subtitle is not None else self._default_subtitle()
        if subtitle:
            box.text(
                0,
                0.05,
                wrap(subtitle, w_mm / 25.4 * 72, 9.5 * s),
                fontsize=9.5 * s,
                ha="left",
                va="bottom",
                color="#333333",
                transform=box.transAxes,
            )

    def _default_subtitle(self) -> str:
        data = self.data()
        shown = data.values.to_dict(self.gettext)
        what = shown["label"] + (f" ({shown['unit_label']})" if shown.get("unit_label") else "")
        profile = (data.run.get("profile") or {}).get("title") or self.profile
        parts = [what, self._tr(TEXTS["profile"], title=self._tr(str(profile)))]
        if data.scenario is not None:
            parts.append(self._tr(TEXTS["scenario"], title=str(data.scenario.get("title") or "")))
        return " · ".join(parts)

    def _legend(self, figure: Any, page: Any, data: _Data) -> None:
        from matplotlib.patches import Rectangle

        s = page.scale
        box = figure.add_axes(page.legend)
        w_mm = page.legend[2] * page.width_mm
        h_mm = page.legend[3] * page.height_mm
        box.set_xlim(0, w_mm)
        box.set_ylim(0, h_mm)
        box.set_axis_off()
        shown = data.values.to_dict(self.gettext)
        heading = shown["label"] + (f" ({shown['unit_label']})" if shown.get("unit_label") else "")
        decimals = 1 if data.values.indicator is None or data.values.unit != "m" else 0
        rows: list[tuple[str, dict[str, Any]]] = []
        for item in shown["legend"]:
            if item["class"] is None and not item["count"]:
                continue
            text = item["label"]
            if item["lower"] is not None and item["upper"] is not None:
                text += (
                    f"  {format_number(item['lower'], decimals, self.lang)}"
                    f" – {format_number(item['upper'], decimals, self.lang)}"
                )
            text += (
                "  ("
                + self._tr(TEXTS["villages"], count=format_number(item["count"], 0, self.lang))
                + ")"
            )
            rows.append((text, {"facecolor": item["colour"], "edgecolor": "#666666"}))
        if data.scenario is not None and data.scenario.get("kind") != "siting" and data.selected:
            rows.append(
                (
                    self._tr(TEXTS["selected"]),
                    {"facecolor": "none", "edgecolor": SELECTED_COLOUR, "linewidth": 1.6 * s},
                )
            )
        if data.sites is not None and len(data.sites):
            rows.append((self._tr(TEXTS["site"]), {"marker": "^"}))
        if getattr(self, "_outlined", True):
            rows.append((self._tr(TEXTS["kecamatan"]), {"line": OUTLINE_COLOUR}))
        size = 7.5 * s
        row_h = 4.4 * s
        top = h_mm - 1.0 * s
        box.text(
            0,
            top,
            wrap(heading, w_mm / 25.4 * 72, 8.5 * s),
            fontsize=8.5 * s,
            fontweight="bold",
            ha="left",
            va="top",
        )
        top -= (heading.count("\n") + 1) * 4.2 * s + 1.5 * s
        fit = max(1, int(top // row_h))
        columns = 1 if len(rows) <= fit else 2
        column_w = w_mm / columns
        swatch_w, swatch_h = 7 * s, 3.2 * s
        for i, (text, style) in enumerate(rows):
            col, row = divmod(i, fit) if columns == 2 else (0, i)
            x = col * column_w
            y = top - row * row_h - swatch_h
            if "marker" in style:
                box.scatter(
                    [x + swatch_w / 2],
                    [y + swatch_h / 2],
                    s=(6 * s) ** 2,
                    marker="^",
                    facecolor=SITE_COLOUR,
                    edgecolor="white",
                )
            elif "line" in style:
                box.plot(
                    [x, x + swatch_w],
                    [y + swatch_h / 2] * 2,
                    color=style["line"],
                    linewidth=0.8 * s,
                )
            else:
                box.add_patch(
                    Rectangle(
                        (x, y),
                        swatch_w,
                        swatch_h,
                        linewidth=style.get("linewidth", 0.4 * s),
                        facecolor=style["facecolor"],
                        edgecolor=style["edgecolor"],
                    )
                )
            box.text(
                x + swatch_w + 2 * s, y + swatch_h / 2, text, fontsize=size, ha="left", va="center"
            )

    def _inset(self, figure: Any, page: Any, data: _Data, view: tuple) -> None:
        """The map's area within its province (bundled outline) or the workspace."""
        from matplotlib.patches import PathPatch, Rectangle

        s = page.scale
        box = figure.add_axes(page.inset)
        box.set_xticks([])
        box.set_yticks([])
        for spine in box.spines.values():
            spine.set_linewidth(0.5 * s)
            spine.set_edgecolor("#888888")
        box.set_facecolor("white")
        context = province_outline(data.villages)
        if context is not None:
            b = shapely.bounds(context)
            bounds = (float(b[0]), float(b[1]), float(b[2]), float(b[3]))
        else:
            bounds = bounds_of(data.bounds)
        area_bounds = self.bbox or bounds_of(data.bounds)
        bounds = (
            min(bounds[0], area_bounds[0]),
            min(bounds[1], area_bounds[1]),
            max(bounds[2], area_bounds[2]),
            max(bounds[3], area_bounds[3]),
        )
        from layers.crs import metric_crs

        crs = metric_crs(bounds)
        tr = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        if context is not None:
            geom = shapely.transform(
                np.array([context]), lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1]))
            )
            box.add_patch(
                PathPatch(
                    polygons_path(geom),
                    facecolor=CONTEXT_COLOUR,
                    edgecolor="#777777",
                    linewidth=0.4 * s,
                )
            )
        else:
            points = shapely.point_on_surface(data.villages.geometry.to_numpy())
            xy = shapely.get_coordinates(points)
            px, py = tr.transform(xy[:, 0], xy[:, 1])
            box.scatter(px, py, s=0.3 * s, color="#9a9a9a", linewidths=0, rasterized=True)
        bx, by = tr.transform([bounds[0], bounds[2]], [bounds[1], bounds[3]])
        pad = 0.05 * max(bx[1] - bx[0], by[1] - by[0])
        xlim = [bx[0] - pad, bx[1] + pad]
        ylim = [by[0] - pad, by[1] + pad]
        # Widen the shorter side so that the inset keeps the data's aspect in its frame.
        frame = (page.inset[2] * page.width_mm) / (page.inset[3] * page.height_mm)
        w, h = xlim[1] - xlim[0], ylim[1] - ylim[0]
        if w / h < frame:
            grow = (h * frame - w) / 2
            xlim = [xlim[0] - grow, xlim[1] + grow]
        else:
            grow = (w / frame - h) / 2
            ylim = [ylim[0] - grow, ylim[1] + grow]
        box.set_xlim(*xlim)
        box.set_ylim(*ylim)
        area = data.villages.geometry.to_numpy()[self._inside(data, area_bounds)]
        if 0 < len(area) <= 5000:
            tolerance = 0.5 * (xlim[1] - xlim[0]) / 600 / METRES_PER_DEGREE
            simple = shapely.simplify(area, tolerance, preserve_topology=True)
            geom = shapely.transform(
                simple, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1]))
            )
            box.add_patch(
                PathPatch(
                    polygons_path(geom),
                    facecolor=AREA_COLOUR,
                    alpha=0.75,
                    edgecolor=AREA_COLOUR,
                    linewidth=0.3 * s,
                )
            )
        else:
            vx, vy = tr.transform(
                [area_bounds[0], area_bounds[2]], [area_bounds[1], area_bounds[3]]
            )
            box.add_patch(
                Rectangle(
                    (vx[0], vy[0]),
                    vx[1] - vx[0],
                    vy[1] - vy[0],
                    facecolor=AREA_COLOUR,
                    alpha=0.3,
                    edgecolor=AREA_COLOUR,
                    linewidth=1.0 * s,
                )
            )
        box.set_title(self._tr(TEXTS["location"]), fontsize=7.5 * s, loc="left", pad=2 * s)

    def _footer(self, figure: Any, page: Any, data: _Data, crs: Any, basemap: str | None) -> None:
        s = page.scale
        box = figure.add_axes(page.footer)
        box.set_axis_off()
        w_pt = page.footer[2] * page.width_mm / 25.4 * 72
        size = 6.0 * s
        lines = [
            self._tr(TEXTS["sources"], sources="; ".join(self.sources())),
        ]
        if basemap:
            lines.append(self._tr(TEXTS["basemap"], attribution=basemap))
        lines += self.reproducibility(crs)
        text = "\n".join(wrap(line, w_pt, size) for line in lines)
        box.text(
            0,
            1,
            text,
            fontsize=size,
            ha="left",
            va="top",
            color="#222222",
            linespacing=1.35,
            transform=box.transAxes,
        )

    # --- texts ------------------------------------------------------------------------------

    def sources(self) -> list[str]:
        """One attribution per input dataset (each text once): the bundled demo files' own
        attribution, else the dataset's name, source file and import date."""
        from layers.demo import demo_manifest

        data = self.data()
        by_file = {f.path.name: f for f in demo_manifest()}
        refs = dict(data.run.get("inputs") or {})
        if data.scenario is not None:
            refs.update(
                {
                    k: v
                    for k, v in (data.scenario.get("inputs") or {}).items()
                    if isinstance(v, str) and "@" in v and "/score_runs/" not in v
                }
            )
        out: dict[str, None] = {}
        for ref in refs.values():
            if not isinstance(ref, str) or "@" not in ref:
                continue
            name, version = ref.split("/", 1)[1].rsplit("@", 1)
            try:
                info = self.store.dataset_info(self.ws, name, int(version))
            except (NotFoundError, ValueError):
                continue
            demo = by_file.get(info.source_name or "")
            if demo is not None:
                out.setdefault(self._tr(demo.attribution), None)
            else:
                out.setdefault(
                    self._tr(
                        TEXTS["imported"],
                        name=name,
                        file=info.source_name or "-",
                        date=info.created_at.date().isoformat(),
                    ),
                    None,
                )
        return list(out)

    def reproducibility(self, crs: Any = None) -> list[str]:
        """The footer's lines: data versions, the run with its profile and weights, the
        date, the software version and the projection."""
        from babel.dates import format_date

        data = self.data()
        refs = dict(data.run.get("inputs") or {})
        versions = ", ".join(ref.split("/", 1)[-1] for _name, ref in sorted(refs.items()))
        profile = data.run.get("profile") or {}
        weights = ", ".join(
            f"{r.get('indicator')} {format_number(float(r.get('weight', 0)), 1, self.lang)}"
            for r in profile.get("rules") or []
        )
        as_of = (data.run.get("settings") or {}).get("as_of") or "-"
        lines = [
            self._tr(TEXTS["versions"], versions=versions),
            self._tr(
                TEXTS["run"],
                run=data.run_ref,
                as_of=as_of,
                profile=str(data.run.get("profile_ref") or profile.get("name") or ""),
                weights=weights,
            ),
        ]
        if data.scenario is not None:
            lines[-1] += f"; {data.scenario.get('ref', '')}"
        crs_name = "-"
        if crs is not None:
            epsg = crs.to_epsg()
            crs_name = f"{crs.name}" + (f" (EPSG:{epsg})" if epsg else "")
        lines.append(
            self._tr(
                TEXTS["printed"],
                date=format_date(self.today, format="long", locale=self.lang),
                version=str(data.run.get("software") or "-"),
                crs=crs_name,
            )
        )
        return lines


# --- module helpers ------------------------------------------------------------------------------


def bounds_of(bounds: np.ndarray) -> tuple[float, float, float, float]:
    """The total of per-village bounds ``(n, 4)``; InputError when no village has any."""
    valid = np.isfinite(bounds).all(axis=1)
    if not valid.any():
        raise InputError(N_("the villages have no geometry to draw"))
    b = bounds[valid]
    return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max()))


def province_outline(villages: Any) -> Any | None:
    """The bundled outline of the villages' province (the demo's Jambi), or None.

    The province is the villages' ``provinsi_kode`` (else the first two digits of their
    codes) when all of them share one; only provinces with a bundled outline are known.
    """
    from layers.demo import demo_files

    path = demo_files().get("provinsi")
    if path is None or not Path(path).exists():
        return None
    codes = villages["provinsi_kode"].astype(object)
    codes = codes.where(codes.notna(), villages["kode"].astype(str).str.slice(0, 2))
    unique = pd.unique(codes.astype(str))
    if len(unique) != 1:
        return None
    import pyogrio

    outline = pyogrio.read_dataframe(path)
    match = outline[outline["kode"].astype(str) == str(unique[0])]
    if match.empty:
        return None
    geom = match.geometry.to_numpy()[0]
    return shapely.make_valid(geom) if not shapely.is_valid(geom) else geom


def basemap_image(
    source: Any, crs: Any, extent: tuple, view: tuple, metres_per_px: float
) -> np.ndarray | None:
    """RGBA image of the map frame from an MBTiles file's raster tiles, or None.

    The zoom is the one whose pixel is nearest the page's (within the file's zooms); the
    tiles covering ``view`` (lon/lat) are mosaicked in Web Mercator and reprojected to
    ``crs`` over ``extent`` with :func:`rasterio.warp.reproject` (bilinear).
    """
    from PIL import Image
    from rasterio.transform import from_bounds
    from rasterio.warp import Resampling, reproject

    from layers.tiles import lonlat_to_tile, tile_bounds

    low, high = source.zooms
    world = 2 * 20037508.342789244
    zoom = round(math.log2(world / (256 * max(metres_per_px, 0.01))))
    zoom = max(low, min(high, zoom, 22))
    x0, y0 = lonlat_to_tile(view[0], view[3], zoom)
    x1, y1 = lonlat_to_tile(view[2], view[1], zoom)
    if (x1 - x0 + 1) * (y1 - y0 + 1) > 400:  # a file without the zoom needed: keep it small
        return None
    mosaic = np.zeros(((y1 - y0 + 1) * 256, (x1 - x0 + 1) * 256, 4), dtype=np.uint8)
    found = False
    for tx in range(x0, x1 + 1):
        for ty in range(y0, y1 + 1):
            data = source.tile(zoom, tx, ty)
            if not data:
                continue
            tile = np.asarray(Image.open(io.BytesIO(data)).convert("RGBA").resize((256, 256)))
            mosaic[(ty - y0) * 256 : (ty - y0 + 1) * 256, (tx - x0) * 256 : (tx - x0 + 1) * 256] = (
                tile
            )
            found = True
    if not found:
        return None
    left, _b, _r, top = tile_bounds(zoom, x0, y0)
    _l, bottom, right, _t = tile_bounds(zoom, x1, y1)
    src_transform = from_bounds(left, bottom, right, top, mosaic.shape[1], mosaic.shape[0])
    width = int(min(3000, max(16, (extent[1] - extent[0]) / metres_per_px)))
    height = round(width * (extent[3] - extent[2]) / (extent[1] - extent[0]))
    dst = np.zeros((4, height, width), dtype=np.uint8)
    reproject(
        np.moveaxis(mosaic, 2, 0),
        dst,
        src_transform=src_transform,
        src_crs="EPSG:3857",
        dst_transform=from_bounds(extent[0], extent[2], extent[1], extent[3], width, height),
        dst_crs=crs,
        resampling=Resampling.bilinear,
    )
    return np.moveaxis(dst, 0, 2)
