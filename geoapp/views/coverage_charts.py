"""The coverage page's charts as SVG made on the server: no chart library, no script.

:func:`kecamatan_bars` draws the share of people within the standard distance of each
kecamatan with the target as a line; :func:`reach_lines` draws beneficiaries reached at
each month end, one line per sector and the total, with a marker on the chosen date that
``static/js/coverage.js`` moves along the months. Large type, for a projector. Every text
(names, labels) is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from layers.errors import N_

if TYPE_CHECKING:
    import pandas as pd

#: Colours of the sector lines (colour-blind safe, Okabe-Ito), in order.
LINE_COLOURS: tuple[str, ...] = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#cc79a7",
    "#d55e00",
    "#56b4e9",
    "#f0e442",
    "#999999",
)
#: Measures the reach chart can draw, in order of preference, with their labels.
MEASURES: dict[str, str] = {
    "achieved_persons": N_("Persons reached"),
    "achieved_households": N_("Households reached"),
    "population_reached": N_("People living in the villages reached"),
    "villages_reached": N_("Villages reached"),
}
FONT = 18


def _number(value: float, lang: str, decimals: int = 0) -> str:
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=lang)


def _attrs(**attrs: Any) -> str:
    return " ".join(
        f'{k.rstrip("_").replace("_", "-")}="{escape(str(v))}"' for k, v in attrs.items()
    )


def kecamatan_bars(
    rows: Sequence[dict[str, Any]], *, title: str, lang: str, target_label: str
) -> str:
    """Horizontal bars of ``share_within`` per kecamatan (lowest first), target as a line."""
    items = [r for r in rows if r.get("share_within") is not None]
    items.sort(key=lambda r: (r["share_within"], str(r.get("area") or "")))
    label_w, bar_w, value_w, row_h, top = 260, 560, 110, 34, 56
    width = label_w + bar_w + value_w
    height = top + row_h * max(len(items), 1) + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="chart-kecamatan" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'font-size="{FONT}" font-family="system-ui, sans-serif">',
        f"<title>{escape(title)}</title>",
    ]
    for frac in (0, 0.5, 1):
        x = label_w + bar_w * frac
        out.append(
            f'<line x1="{x:.1f}" y1="{top - 8}" x2="{x:.1f}" y2="{height - 36}" '
            'stroke="#d5dde2" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{x:.1f}" y="{top - 16}" text-anchor="middle" fill="#5b6b76">'
            f"{_number(frac * 100, lang)} %</text>"
        )
    for i, r in enumerate(items):
        y = top + i * row_h
        share = max(0.0, float(r["share_within"]))
        met = bool(r.get("share_met"))
        colour = "#2166ac" if met else "#b2182b"
        name = str(r.get("area") or r.get("area_kode") or "")
        out.append(
            f'<g class="bar" data-kode="{escape(str(r.get("area_kode") or ""))}" '
            f'data-share="{share:.6f}">'
            f'<text x="{label_w - 10}" y="{y + row_h * 0.68:.1f}" text-anchor="end">'
            f"{escape(name)}</text>"
            f'<rect x="{label_w}" y="{y + 5}" width="{bar_w * max(0.0, min(share, 1.0)):.1f}" '
            f'height="{row_h - 10}" fill="{colour}"/>'
            f'<text x="{label_w + bar_w + 10}" y="{y + row_h * 0.68:.1f}" class="value">'
            f"{_number(share * 100, lang, 1)} %</text></g>"
        )
    targets = {r.get("target_share") for r in items if r.get("target_share") is not None}
    if len(targets) == 1:
        target = float(targets.pop())
        x = label_w + bar_w * target
        out.append(
            f'<line class="target" x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" '
            f'y2="{height - 36}" stroke="#1d2a33" stroke-width="3" stroke-dasharray="8 5"/>'
        )
        out.append(
            f'<text x="{x:.1f}" y="{height - 12}" text-anchor="middle" font-weight="600">'
            f"{escape(target_label)} {_number(target * 100, lang)} %</text>"
        )
    out.append("</svg>")
    return "".join(out)


def pick_measures(series: pd.DataFrame) -> list[str]:
    """The people measures with figures in the series (units are never added together);
    ``villages_reached`` when none has any."""
    total = series.loc[series["level"] == "all"]
    found = [
        m
        for m in MEASURES
        if m != "villages_reached" and m in total and float(total[m].max() or 0) > 0
    ]
    return found or ["villages_reached"]


def reach_charts(
    series: pd.DataFrame,
    months: Sequence[str],
    *,
    as_of: str,
    lang: str,
    translate: Callable[[str], str],
    sector_labels: dict[str, str],
) -> list[str]:
    """One chart of :func:`reach_lines` per measure of :func:`pick_measures`."""
    return [
        reach_lines(
            series,
            months,
            measure=m,
            as_of=as_of,
            lang=lang,
            translate=translate,
            sector_labels=sector_labels,
        )
        for m in pick_measures(series)
    ]


def reach_lines(
    series: pd.DataFrame,
    months: Sequence[str],
    *,
    measure: str,
    as_of: str,
    lang: str,
    translate: Callable[[str], str],
    sector_labels: dict[str, str],
) -> str:
    """Lines of a reach measure at each month end, per sector and in total."""
    title = translate(MEASURES[measure])
    frame = series.assign(day=series["date"].dt.strftime("%Y-%m-%d"))
    frame = frame.loc[frame["day"].isin(set(months))]
    left, right, top, plot_h, plot_w = 110, 40, 50, 330, 780
    width = left + plot_w + right
    legend_groups = sorted(set(frame.loc[frame["level"] == "sector", "group"]))
    height = top + plot_h + 70 + 30 * math.ceil((len(legend_groups) + 1) / 3)
    peak = float(frame[measure].max()) if len(frame) else 0.0
    ymax = _nice(peak)
    n = len(months)
    dx = plot_w / max(n - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return left + i * dx, top + plot_h - (v / ymax) * plot_h

    index = {m: i for i, m in enumerate(months)}
    pos = index.get(as_of, n - 1)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-reach" id="chart-{measure}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'font-size="{FONT}" font-family="system-ui, sans-serif" '
        f'data-measure="{measure}" data-x0="{left}" data-dx="{dx:.4f}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{left}" y="{top - 22}" font-weight="600">{escape(title)}</text>',
    ]
    for k in range(5):
        v = ymax * k / 4
        _, y = xy(0, v)
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#d5dde2"/>'
            f'<text x="{left - 8}" y="{y + 6:.1f}" text-anchor="end" fill="#5b6b76">'
            f"{_number(v, lang)}</text>"
        )
    step = max(1, math.ceil(n / 8))
    for i, m in enumerate(months):
        last_alone = i == n - 1 and (n - 1) % step >= step / 2
        if i % step and not last_alone:
            continue
        x, _ = xy(i, 0)
        out.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 26}" text-anchor="middle" fill="#5b6b76">'
            f"{escape(m[:7])}</text>"
        )
    lines = [
        ("sector", g, LINE_COLOURS[j % len(LINE_COLOURS)], 3) for j, g in enumerate(legend_groups)
    ]
    lines.append(("all", "all", "#1d2a33", 5))
    for level, group, colour, stroke in lines:
        part = frame.loc[(frame["level"] == level) & (frame["group"] == group)]
        values = dict(zip(part["day"], part[measure].astype(float), strict=False))
        points = " ".join(
            "{:.1f},{:.1f}".format(*xy(i, values.get(m, 0.0))) for i, m in enumerate(months)
        )
        dash = ' stroke-dasharray="10 6"' if level == "all" else ""
        out.append(
            f'<polyline class="line" data-group="{escape(str(group))}" fill="none" '
            f'stroke="{colour}" stroke-width="{stroke}"{dash} points="{points}"/>'
        )
    x, _ = xy(pos, 0)
    out.append(
        f'<line class="asof-marker" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" '
        'stroke="#b3261e" stroke-width="3"/>'
    )
    ly = top + plot_h + 60
    names = [(sector_labels.get(g, g), c) for _, g, c, _ in lines[:-1]]
    names.append((translate(N_("Total")), "#1d2a33"))
    for j, (name, colour) in enumerate(names):
        lx = left + (j % 3) * 270
        yy = ly + (j // 3) * 30
        out.append(
            f'<rect x="{lx}" y="{yy - 14}" width="28" height="8" fill="{colour}"/>'
            f'<text x="{lx + 36}" y="{yy - 4}">{escape(name)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _nice(peak: float) -> float:
    if peak <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(peak))
    for m in (1, 2, 2.5, 5, 10):
        if peak <= m * exp:
            return m * exp
    return 10 * exp
