"""Parts of a printed map: paper sizes, the page layout, geometries as matplotlib paths,
label placement, scale bar, north arrow, text helpers and translations.

Everything here is independent of the store: :mod:`layers.exports.static_map` gathers the
data and draws the page with these parts. Sizes on paper are in millimetres (layout) or
typographic points (text, lines: 1 pt = 1/72 inch).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from matplotlib.path import Path as MplPath

__all__ = [
    "DPIS",
    "FORMATS",
    "ORIENTATIONS",
    "PAPERS_MM",
    "LabelCandidate",
    "Layout",
    "format_number",
    "layout",
    "lines_path",
    "nice_length",
    "page_inches",
    "pixel_size",
    "place_labels",
    "polygons_path",
    "translator",
    "wrap",
]

#: Paper sizes in millimetres, portrait (ISO 216).
PAPERS_MM: dict[str, tuple[float, float]] = {"A4": (210.0, 297.0), "A3": (297.0, 420.0)}
#: Page orientations.
ORIENTATIONS = ("portrait", "landscape")
#: Output formats.
FORMATS = ("png", "pdf")
#: Resolutions offered for PNG output (and for the fills of a large PDF).
DPIS = (150, 300)
#: The repository's message catalogues (``<lang>/LC_MESSAGES/messages.mo``).
TRANSLATIONS_DIR = Path(__file__).resolve().parents[2] / "geoapp" / "translations"
MM_PER_INCH = 25.4


# --- paper -----------------------------------------------------------------------------------


def paper_mm(paper: str, orientation: str) -> tuple[float, float]:
    """Width and height of the page in millimetres."""
    short, long = PAPERS_MM[paper]
    return (short, long) if orientation == "portrait" else (long, short)


def pixel_size(paper: str, orientation: str, dpi: int) -> tuple[int, int]:
    """Width and height of a PNG page in pixels: millimetres at ``dpi``, rounded.

    A4 portrait at 300 dpi is 2480 x 3508 pixels, at 150 dpi 1240 x 1754.
    """
    w, h = paper_mm(paper, orientation)
    return round(w / MM_PER_INCH * dpi), round(h / MM_PER_INCH * dpi)


def page_inches(paper: str, orientation: str, fmt: str, dpi: int) -> tuple[float, float]:
    """Figure size in inches: the exact paper size for PDF; for PNG the rounded pixel size
    over ``dpi`` plus a quarter pixel, because matplotlib truncates ``inches x dpi`` to
    whole pixels (2480 / 300 x 300 may come out as 2479.9999 and become 2479)."""
    if fmt == "pdf":
        w, h = paper_mm(paper, orientation)
        return w / MM_PER_INCH, h / MM_PER_INCH
    px_w, px_h = pixel_size(paper, orientation, dpi)
    return (px_w + 0.25) / dpi, (px_h + 0.25) / dpi


# --- layout ----------------------------------------------------------------------------------

Rect = tuple[float, float, float, float]  # left, bottom, width, height in figure fractions


@dataclass(frozen=True)
class Layout:
    """Where each part of the page goes, as figure fractions ``(left, bottom, width, height)``.

    Attributes
    ----------
    width_mm, height_mm : float
        The page.
    scale : float
        Type and line scale: 1 on A4, about 1.41 on A3.
    title, map, legend, inset, footer : tuple
        Rectangles of the title block, the map, the legend, the locator inset and the
        footer (sources, date, versions).
    """

    width_mm: float
    height_mm: float
    scale: float
    title: Rect
    map: Rect
    legend: Rect
    inset: Rect
    footer: Rect

    def map_mm(self) -> tuple[float, float]:
        """Width and height of the map frame in millimetres."""
        return self.map[2] * self.width_mm, self.map[3] * self.height_mm


def layout(paper: str, orientation: str) -> Layout:
    """The page layout: title on top, footer at the bottom, the map between them with the
    legend and the locator inset below it (portrait) or beside it (landscape)."""
    w, h = paper_mm(paper, orientation)
    s = min(w, h) / PAPERS_MM["A4"][0]
    margin = 10.0 * s
    title_h = 20.0 * s
    footer_h = 24.0 * s
    gap = 4.0 * s

    def rect(left: float, bottom: float, width: float, height: float) -> Rect:
        return (left / w, bottom / h, width / w, height / h)

    inner_w = w - 2 * margin
    top = h - margin - title_h
    title = rect(margin, top, inner_w, title_h)
    footer = rect(margin, margin, inner_w, footer_h)
    base = margin + footer_h + gap
    if orientation == "portrait":
        panel_h = 52.0 * s
        inset_w = panel_h
        map_rect = rect(margin, base + panel_h + gap, inner_w, top - gap - (base + panel_h + gap))
        legend = rect(margin, base, inner_w - inset_w - gap, panel_h)
        inset = rect(w - margin - inset_w, base, inset_w, panel_h)
    else:
        side_w = 68.0 * s
        map_w = inner_w - side_w - gap
        map_rect = rect(margin, base, map_w, top - gap - base)
        inset_h = side_w * 0.8
        inset = rect(w - margin - side_w, base, side_w, inset_h)
        legend = rect(
            w - margin - side_w, base + inset_h + gap, side_w, top - gap - base - inset_h - gap
        )
    return Layout(w, h, s, title, map_rect, legend, inset, footer)


# --- geometries as paths ---------------------------------------------------------------------


def _polygon_parts(geoms: np.ndarray) -> np.ndarray:
    """Every polygon of ``geoms`` (multipolygons and collections taken apart), non-empty,
    exteriors counter-clockwise and holes clockwise (so the non-zero fill rule leaves holes)."""
    geoms = np.asarray(geoms, dtype=object)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if geoms.size == 0:
        return geoms
    parts = shapely.get_parts(geoms)
    nested = shapely.get_type_id(parts) == 7  # a collection from make_valid
    if nested.any():
        parts = np.concatenate([parts[~nested], shapely.get_parts(parts[nested])])
    parts = parts[(shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)]
    return shapely.orient_polygons(parts, exterior_cw=False)


def _rings_path(rings: np.ndarray, *, closed: bool) -> MplPath:
    coords, index = shapely.get_coordinates(rings, return_index=True)
    if coords.size == 0:
        return MplPath(np.zeros((0, 2)))
    codes = np.full(len(coords), MplPath.LINETO, dtype=MplPath.code_type)
    starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
    codes[starts] = MplPath.MOVETO
    if closed:
        ends = np.r_[starts[1:] - 1, len(coords) - 1]
        codes[ends] = MplPath.CLOSEPOLY
    return MplPath(coords, codes)


def polygons_path(geoms: np.ndarray) -> MplPath:
    """One compound path of all polygons in ``geoms``: one fill for many villages.

    Built with array operations (shapely 2, numpy); a village is never visited in Python.
    """
    parts = _polygon_parts(geoms)
    if parts.size == 0:
        return MplPath(np.zeros((0, 2)))
    return _rings_path(shapely.get_rings(parts), closed=True)


def lines_path(geoms: np.ndarray) -> MplPath:
    """One compound path of the boundaries of the polygons in ``geoms`` (for outlines)."""
    parts = _polygon_parts(geoms)
    if parts.size == 0:
        return MplPath(np.zeros((0, 2)))
    return _rings_path(shapely.get_rings(parts), closed=False)


# --- labels ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelCandidate:
    """A label that may be placed: its text, anchor (map units) and priority (lower first)."""

    text: str
    x: float
    y: float
    priority: float


#: Offsets tried for a label, in multiples of its half width and half height: on the
#: anchor, then above, below, right and left of it.
OFFSETS = ((0.0, 0.0), (0.0, 1.6), (0.0, -1.6), (1.15, 0.0), (-1.15, 0.0))


def place_labels(
    candidates: Sequence[LabelCandidate],
    sizes: np.ndarray,
    to_points: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    frame: tuple[float, float, float, float],
    obstacles: Sequence[tuple[float, float, float, float]] = (),
    *,
    padding: float = 1.5,
    limit: int = 400,
) -> list[tuple[int, float, float]]:
    """Choose labels that do not overlap, greedily by priority.

    Parameters
    ----------
    candidates : sequence of LabelCandidate
        The labels to place.
    sizes : numpy.ndarray
        ``(n, 2)`` width and height of each label's text box in points.
    to_points : callable
        Maps anchor x and y arrays (map units) to page points.
    frame : tuple
        ``(x0, y0, x1, y1)``: the map frame in page points; a label must fit inside.
    obstacles : sequence of tuple
        Boxes ``(x0, y0, x1, y1)`` in page points that labels must avoid (scale bar,
        north arrow).
    padding : float
        Free space kept around each label, in points.
    limit : int
        Most labels placed.

    Returns
    -------
    list of tuple
        ``(index of the candidate, x, y)`` of each placed label, its centre in page points.
    """
    n = len(candidates)
    if n == 0:
        return []
    order = np.argsort(np.array([c.priority for c in candidates], dtype=float), kind="stable")
    ax, ay = to_points(
        np.array([c.x for c in candidates], dtype=float),
        np.array([c.y for c in candidates], dtype=float),
    )
    half = np.asarray(sizes, dtype=float) / 2 + padding
    fx0, fy0, fx1, fy1 = frame
    # Boxes of the placed labels and obstacles, grown as labels are placed.
    boxes = np.full((len(obstacles) + min(n, limit), 4), np.nan)
    for i, box in enumerate(obstacles):
        boxes[i] = box
    count = len(obstacles)
    placed: list[tuple[int, float, float]] = []
    offsets = np.array(OFFSETS)
    for i in order:
        if not (np.isfinite(ax[i]) and np.isfinite(ay[i])):
            continue
        hw, hh = half[i]
        cx = ax[i] + offsets[:, 0] * hw
        cy = ay[i] + offsets[:, 1] * hh
        inside = (cx - hw >= fx0) & (cx + hw <= fx1) & (cy - hh >= fy0) & (cy + hh <= fy1)
        if count:
            b = boxes[:count]
            hits = (
                (cx[:, None] - hw < b[None, :, 2])
                & (cx[:, None] + hw > b[None, :, 0])
                & (cy[:, None] - hh < b[None, :, 3])
                & (cy[:, None] + hh > b[None, :, 1])
            ).any(axis=1)
        else:
            hits = np.zeros(len(offsets), dtype=bool)
        free = np.flatnonzero(inside & ~hits)
        if free.size == 0:
            continue
        k = free[0]
        boxes[count] = (cx[k] - hw, cy[k] - hh, cx[k] + hw, cy[k] + hh)
        count += 1
        placed.append((int(i), float(cx[k]), float(cy[k])))
        if len(placed) >= limit:
            break
    return placed


# --- scale bar -------------------------------------------------------------------------------


def nice_length(target: float) -> float:
    """The largest 1, 2 or 5 times a power of ten that is at most ``target`` (> 0)."""
    if not (target > 0 and math.isfinite(target)):
        raise ValueError(f"target must be a positive number, not {target!r}")
    power = 10 ** math.floor(math.log10(target))
    for step in (5, 2, 1):
        if step * power <= target:
            return float(step * power)
    return float(power)


# --- text ------------------------------------------------------------------------------------


def format_number(value: float | None, decimals: int, lang: str) -> str:
    """``value`` in the number format of ``lang`` (Indonesian: ``1.234,5``); ``-`` without."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=lang)


def wrap(text: str, width_pt: float, size_pt: float) -> str:
    """``text`` wrapped to lines that fit ``width_pt`` at ``size_pt`` (DejaVu Sans averages
    0.55 of the size per character; long words are broken)."""
    chars = max(10, int(width_pt / (0.55 * size_pt)))
    return "\n".join(textwrap.wrap(text, chars, break_on_hyphens=False)) if text else ""


def translator(lang: str) -> Callable[[str], str]:
    """The ``gettext`` of ``lang`` from the app's catalogues (English text when absent)."""
    from babel.support import Translations

    translations = Translations.load(str(TRANSLATIONS_DIR), [lang], domain="messages")
    return translations.gettext
