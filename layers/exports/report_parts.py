"""Parts of a printed report: A4 text pages with a heading, tables that continue on as many
pages as needed with their header repeated, the footer with page numbers, and an atomic
multi-page PDF write.

Used by :mod:`layers.exports.report` (the proposal report) and
:mod:`layers.exports.village_profile` (the one-page village profile). Sizes are in
millimetres on the page (``(0, 0)`` is the lower left corner) and type in points.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from layers.exports.map_parts import PAPERS_MM

__all__ = [
    "LANGUAGES",
    "MARGIN_MM",
    "Column",
    "TextPage",
    "check_lang",
    "fit_text",
    "footer",
    "table_pages",
    "write_pdf",
]

#: Languages of a document.
LANGUAGES = ("id", "en")

#: Margins of a text page.
MARGIN_MM = 15.0
#: Height kept for the footer at the bottom of every page.
FOOTER_MM = 22.0
#: Points per millimetre.
PT_PER_MM = 72 / 25.4
#: DejaVu Sans averages about 0.55 of the type size per character.
CHAR_WIDTH = 0.55
HEADER_COLOUR = "#dde6f0"
RULE_COLOUR = "#9aa8b8"


def check_lang(lang: Any) -> str:
    """``lang`` when a document can be written in it, else :class:`InputError`."""
    if lang not in LANGUAGES:
        from layers.errors import N_, InputError

        raise InputError(
            N_("%(name)s must be one of %(allowed)s, not %(value)r"),
            params={"name": "lang", "allowed": ", ".join(LANGUAGES), "value": lang},
        )
    return str(lang)


def fit_text(text: str, width_mm: float, size_pt: float, max_lines: int | None = None) -> str:
    """``text`` wrapped to ``width_mm`` at ``size_pt``; cut with an ellipsis past ``max_lines``."""
    chars = max(4, int(width_mm * PT_PER_MM / (CHAR_WIDTH * size_pt)))
    lines = textwrap.wrap(str(text), chars, break_on_hyphens=False) if text else [""]
    if max_lines is not None and len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(1, chars - 1)].rstrip() + "…"
    return "\n".join(lines)


@dataclass(frozen=True)
class Column:
    """A table column: heading, share of the table's width, alignment and most lines."""

    heading: str
    width: float
    align: str = "left"
    max_lines: int = 1


@dataclass
class TextPage:
    """One A4 portrait page under construction: a matplotlib figure and a cursor.

    ``y`` is the top of the free space in millimetres from the bottom; :meth:`space` says
    how much is left above the footer.
    """

    figure: Any
    heading: str = ""
    y: float = 0.0
    width_mm: float = PAPERS_MM["A4"][0]
    height_mm: float = PAPERS_MM["A4"][1]
    margin: float = MARGIN_MM
    bottom: float = MARGIN_MM + FOOTER_MM

    @classmethod
    def new(cls, heading: str, running_title: str = "") -> TextPage:
        """A blank A4 page with the report's running title and the page's heading."""
        from matplotlib.figure import Figure

        w, h = PAPERS_MM["A4"]
        figure = Figure(figsize=(w / 25.4, h / 25.4))
        figure.patch.set_facecolor("white")
        page = cls(figure=figure, heading=heading, y=h - MARGIN_MM, width_mm=w, height_mm=h)
        if running_title:
            page.text(running_title, size=8, colour="#555555")
            page.y -= 1.5
        if heading:
            page.text(heading, size=15, bold=True)
            page.y -= 2.0
        return page

    @property
    def inner_mm(self) -> float:
        """Width between the margins."""
        return self.width_mm - 2 * self.margin

    def space(self) -> float:
        """Millimetres left above the footer."""
        return self.y - self.bottom

    def _xy(self, x_mm: float, y_mm: float) -> tuple[float, float]:
        return x_mm / self.width_mm, y_mm / self.height_mm

    def text(
        self,
        text: str,
        *,
        size: float = 10,
        bold: bool = False,
        colour: str = "#111111",
        x: float = 0.0,
        width: float | None = None,
        advance: bool = True,
    ) -> float:
        """Write wrapped text at the cursor (``x`` mm right of the margin); return its height."""
        width = self.inner_mm - x if width is None else width
        wrapped = fit_text(text, width, size)
        lines = wrapped.count("\n") + 1
        line_mm = size * 1.3 / PT_PER_MM
        self.figure.text(
            *self._xy(self.margin + x, self.y),
            wrapped,
            fontsize=size,
            fontweight="bold" if bold else "normal",
            color=colour,
            ha="left",
            va="top",
            linespacing=1.3,
        )
        height = lines * line_mm
        if advance:
            self.y -= height
        return height

    def pairs(
        self, rows: Sequence[tuple[str, str]], *, size: float = 10, key_mm: float = 70
    ) -> None:
        """Label and value lines, the values aligned in a second column."""
        line_mm = size * 1.45 / PT_PER_MM
        for key, value in rows:
            key_h = self.text(key, size=size, colour="#333333", width=key_mm - 2, advance=False)
            value_h = self.text(value, size=size, bold=True, x=key_mm, advance=False)
            self.y -= max(line_mm, key_h + 0.35 * line_mm, value_h + 0.35 * line_mm)

    def table(
        self,
        columns: Sequence[Column],
        rows: Sequence[Sequence[str]],
        *,
        size: float = 8,
        x: float = 0.0,
        width: float | None = None,
    ) -> int:
        """Draw the header and as many ``rows`` as fit; return how many were drawn."""
        from matplotlib.patches import Rectangle

        width = self.inner_mm - x if width is None else width
        line_mm = size * 1.3 / PT_PER_MM
        pad = 1.0
        total = sum(c.width for c in columns)
        widths = [c.width / total * width for c in columns]
        lefts = [self.margin + x + sum(widths[:i]) for i in range(len(columns))]

        def cells(values: Sequence[str], max_lines: Callable[[Column], int | None]) -> list[str]:
            return [
                fit_text(str(v), w - 2 * pad, size, max_lines(c))
                for v, w, c in zip(values, widths, columns, strict=True)
            ]

        def draw_row(texts: list[str], *, header: bool) -> None:
            lines = max(t.count("\n") + 1 for t in texts)
            height = lines * line_mm + 2 * pad
            bottom = self.y - height
            if header:
                self.figure.patches.append(
                    Rectangle(
                        self._xy(self.margin + x, bottom),
                        width / self.width_mm,
                        height / self.height_mm,
                        transform=self.figure.transFigure,
                        facecolor=HEADER_COLOUR,
                        edgecolor="none",
                    )
                )
            for text, left, w, column in zip(texts, lefts, widths, columns, strict=True):
                right = column.align == "right"
                self.figure.text(
                    *self._xy(left + (w - pad if right else pad), self.y - pad),
                    text,
                    fontsize=size,
                    fontweight="bold" if header else "normal",
                    ha="right" if right else "left",
                    va="top",
                    linespacing=1.3,
                    color="#111111",
                )
            self.figure.add_artist(
                _hline(self, self.margin + x, self.margin + x + width, bottom, 0.3)
            )
            self.y = bottom

        header = cells([c.heading for c in columns], lambda c: 2)
        head_h = (max(t.count("\n") + 1 for t in header)) * line_mm + 2 * pad
        if self.space() < head_h + line_mm + 2 * pad:
            return 0
        draw_row(header, header=True)
        drawn = 0
        for row in rows:
            texts = cells(row, lambda c: c.max_lines)
            height = max(t.count("\n") + 1 for t in texts) * line_mm + 2 * pad
            if self.space() < height:
                break
            draw_row(texts, header=False)
            drawn += 1
        self.y -= 3.0
        return drawn


def _hline(page: TextPage, x0: float, x1: float, y: float, width_pt: float) -> Any:
    from matplotlib.lines import Line2D

    return Line2D(
        [x0 / page.width_mm, x1 / page.width_mm],
        [y / page.height_mm, y / page.height_mm],
        transform=page.figure.transFigure,
        color=RULE_COLOUR,
        linewidth=width_pt,
    )


def table_pages(
    pages: list[TextPage],
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    new_page: Callable[[], TextPage],
    *,
    size: float = 8,
) -> None:
    """Draw ``rows`` on the last page of ``pages`` and on as many new pages as needed, the
    header repeated on each."""
    rows = list(rows)
    start = 0
    page = pages[-1]
    while True:
        drawn = page.table(columns, rows[start:], size=size)
        start += drawn
        if start >= len(rows) and (drawn or not rows):
            return
        page = new_page()
        pages.append(page)
        if page.space() <= 0:  # pragma: no cover - a page always holds a header and a row
            raise RuntimeError("a table row does not fit on an empty page")


def footer(
    page: Any,
    lines: Sequence[str],
    number: int,
    total: int,
    page_label: str,
    *,
    width_mm: float,
    height_mm: float,
) -> None:
    """The reproducibility lines and ``page_label`` (e.g. ``Page 2 of 7``) at the foot."""
    size = 6.0
    wrapped = "\n".join(fit_text(line, width_mm - 2 * MARGIN_MM - 30, size) for line in lines)
    page.text(
        MARGIN_MM / width_mm,
        (MARGIN_MM + FOOTER_MM - 4) / height_mm,
        wrapped,
        fontsize=size,
        color="#333333",
        ha="left",
        va="top",
        linespacing=1.3,
    )
    page.text(
        (width_mm - MARGIN_MM) / width_mm,
        (MARGIN_MM - 6) / height_mm,
        page_label % {"page": number, "pages": total},
        fontsize=8,
        color="#333333",
        ha="right",
        va="bottom",
    )


def write_pdf(
    path: str | os.PathLike[str], figures: Sequence[Any], metadata: dict[str, str]
) -> None:
    """Write ``figures`` as the pages of one PDF, whole or not at all (a temporary file in
    the same folder, renamed over ``path`` once complete)."""
    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages

    from layers.atomic import replacing

    with (
        replacing(path) as partial,
        partial.open("wb") as out,
        matplotlib.rc_context({"pdf.fonttype": 42, "font.family": "DejaVu Sans"}),
        PdfPages(out, metadata=metadata) as pdf,
    ):
        for figure in figures:
            pdf.savefig(figure)
