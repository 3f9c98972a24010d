"""``geoapp export map``: a printed map (PNG or PDF) of a workspace's villages.

A thin front door onto :class:`layers.exports.static_map.StaticMap`; the ``geoapp export``
group (:mod:`geoapp.cli_export`) adds it as its ``map`` subcommand.
"""

from __future__ import annotations

from pathlib import Path

import click

from geoapp.cli_common import echo_json, handles_errors, state
from layers.report import N_

#: Format chosen by the file name's ending when ``--format`` is not given.
MAP_FORMAT_BY_SUFFIX = {".png": "png", ".pdf": "pdf"}


def basemap_file(app) -> str | None:
    """The configured MBTiles basemap file, when ``BASEMAP`` is ``mbtiles``; else None."""
    if app.config.get("BASEMAP") == "mbtiles" and app.config.get("BASEMAP_MBTILES"):
        return str(app.config["BASEMAP_MBTILES"])
    return None


@click.command("map")
@click.option("--workspace", "-w", required=True, help="Workspace.")
@click.option("--profile", "-p", help="Scoring profile (default: the workspace's first).")
@click.option("--indicator", "-i", help="Colour by this indicator instead of the need class.")
@click.option("--scenario", "-s", help="Highlight the villages or new sites of this scenario.")
@click.option("--title", "-t", help="Title (default: the workspace's title).")
@click.option("--subtitle", help="Subtitle (default: what is shown, profile and scenario).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["png", "pdf"]),
    help="Output format (default: from the file name, else pdf).",
)
@click.option(
    "--paper", type=click.Choice(["A4", "A3"]), default="A4", show_default=True, help="Paper size."
)
@click.option("--landscape", is_flag=True, help="Landscape page (default portrait).")
@click.option(
    "--dpi",
    type=click.Choice(["150", "300"]),
    default="300",
    show_default=True,
    help="Resolution of a PNG (and of a large PDF's village fills).",
)
@click.option(
    "--labels",
    type=click.Choice(["kecamatan", "selected", "none"]),
    default="kecamatan",
    show_default=True,
    help="Label kecamatan, the scenario's villages (else the top 20), or nothing.",
)
@click.option("--bbox", help="Only this part: MIN_LON,MIN_LAT,MAX_LON,MAX_LAT in degrees.")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@handles_errors
def map_command(
    workspace: str,
    profile: str | None,
    indicator: str | None,
    scenario: str | None,
    title: str | None,
    subtitle: str | None,
    fmt: str | None,
    paper: str,
    landscape: bool,
    dpi: str,
    labels: str,
    bbox: str | None,
    as_json: bool,
    file: str,
) -> None:
    """Draw a printed map (PNG or PDF) of a workspace's villages for a proposal.

    Villages are coloured by need class (or an indicator) with the web map's classes and
    colours, with kecamatan outlines, a legend, scale bar, north arrow, locator inset,
    sources and a footer naming the data versions, profile, weights and software version.
    Texts follow --lang.

    \b
    Examples:
      geoapp export map -w merangin -p health_access peta_merangin.pdf
      geoapp export map -w merangin -p health_access --scenario gizi-2025 --labels selected \\
          --paper A3 --landscape usulan_gizi.pdf
      geoapp export map -w merangin -i dist_m__puskesmas --dpi 150 jarak_puskesmas.png
      geoapp --lang en export map -w merangin --title "Health access" map_en.png
    """
    from layers.exports.map_parts import page_inches
    from layers.exports.static_map import StaticMap

    s = state()
    path = Path(file)
    chosen = fmt or MAP_FORMAT_BY_SUFFIX.get(path.suffix.lower(), "pdf")
    box = None
    if bbox:
        try:
            box = tuple(float(v) for v in bbox.split(","))
        except ValueError:
            raise click.BadParameter(
                s._(N_("expected four numbers separated by commas, not %(value)r"), value=bbox),
                param_hint="--bbox",
            ) from None
    orientation = "landscape" if landscape else "portrait"
    static = StaticMap(
        s.store(),
        workspace,
        profile=profile,
        indicator=indicator,
        scenario=scenario,
        title=title,
        subtitle=subtitle,
        lang=s.lang,
        labels=None if labels == "none" else labels,
        bbox=box,
        basemap=basemap_file(s.app()),
        gettext=s.translations.gettext,
    )
    static.render(path, chosen, paper, orientation, int(dpi))
    size = path.stat().st_size
    from geoapp.cli_export import size_text

    if as_json:
        w, h = page_inches(paper, orientation, chosen, int(dpi))
        echo_json(
            {
                "path": str(path),
                "format": chosen,
                "size": size,
                "paper": paper,
                "orientation": orientation,
                "dpi": int(dpi),
                "page_inches": [round(w, 4), round(h, 4)],
                "profile": static.profile,
                "run": static.data().run_ref,
            }
        )
        return
    click.echo(s._(N_("Wrote %(file)s (%(size)s)."), file=str(path), size=size_text(size, s.lang)))
