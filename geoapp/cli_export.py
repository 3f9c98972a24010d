"""``geoapp export``: a workspace's data for partners, a standalone HTML map, printed maps.

Thin front doors onto :mod:`layers.exports.data` (GeoPackage, GeoJSON, CSV, XLSX,
Shapefile) and :mod:`layers.exports.html_map`; ``export map`` (printed PNG/PDF maps) comes
from :mod:`geoapp.cli_export_map`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import click

from geoapp.cli_common import echo_json, handles_errors, state
from layers.report import N_

#: Format chosen by a file name's ending when ``--format`` is not given.
FORMAT_BY_SUFFIX: dict[str, str] = {
    ".gpkg": "gpkg",
    ".geojson": "geojson",
    ".json": "geojson",
    ".csv": "csv",
    ".xlsx": "xlsx",
    ".zip": "shapefile",
    ".shp": "shapefile",
}
DATA_FORMATS = ("gpkg", "geojson", "csv", "xlsx", "shapefile")


def size_text(size: int, lang: str) -> str:
    """A file size for people: ``1,4 MB`` in Indonesian, ``1.4 MB`` in English."""
    from babel.numbers import format_decimal

    for unit, factor in (("MB", 1024 * 1024), ("kB", 1024)):
        if size >= factor:
            return f"{format_decimal(size / factor, format='#,##0.0', locale=lang)} {unit}"
    return f"{size} B"


def _echo_result(result: Any, as_json: bool) -> None:
    s = state()
    if as_json:
        echo_json(result.to_dict(s.translations.gettext))
        return
    click.echo(
        s._(
            N_("Wrote %(file)s (%(size)s)."),
            file=str(result.path),
            size=size_text(result.size, s.lang),
        )
    )
    for layer in result.layers:
        click.echo(
            "  " + s._(N_("%(layer)s: %(rows)s rows"), layer=layer, rows=result.rows.get(layer, 0))
        )
    for note in result.notes:
        click.echo("  " + note.render(s.translations.gettext))


@click.group()
def export() -> None:
    """Export a workspace's data, a standalone HTML map or a printed map.

    \b
    Examples:
      geoapp export data -w merangin merangin.gpkg
      geoapp export data -w merangin --layer villages --format shapefile desa.zip
      geoapp export data -w merangin --layer score_health_access --format xlsx skor.xlsx
      geoapp export html -w merangin --profile health_access peta_merangin.html
    """


@export.command("data")
@click.option("--workspace", "-w", required=True, help="Workspace.")
@click.option(
    "--layer",
    "-l",
    "layer_names",
    multiple=True,
    help="Only this layer (repeatable for a GeoPackage; one for the other formats). "
    "A dataset name, score_<profile> or scenario_<name>.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(DATA_FORMATS),
    help="File format (default: from FILE's ending: .gpkg .geojson .csv .xlsx .zip).",
)
@click.option("--wkt", is_flag=True, help="CSV: add each geometry as WKT in a 'wkt' column.")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@handles_errors
def data(
    workspace: str,
    layer_names: tuple[str, ...],
    fmt: str | None,
    wkt: bool,
    as_json: bool,
    file: str,
) -> None:
    """Write a workspace's layers to FILE for QGIS, Excel or another GIS.

    Without --layer every layer goes into one GeoPackage: the datasets (latest
    versions), the latest score run of each profile joined to the village polygons
    (score_<profile>) and each scenario's selection (scenario_<name>). With --layer
    one layer is written in any format: GeoJSON (RFC 7946), CSV (UTF-8, Excel reads
    it), XLSX (codes as text cells) or a zipped Shapefile (field names shortened as
    docs/exports.md lists them, the mapping in fields.csv inside the zip). The file is
    written whole or not at all.

    \b
    Examples:
      geoapp export data -w merangin merangin.gpkg
      geoapp export data -w merangin --layer villages --format geojson desa.geojson
      geoapp export data -w merangin --layer villages --format shapefile desa.zip
      geoapp export data -w merangin --layer needs_kobo --format csv kebutuhan.csv
      geoapp --lang id export data -w merangin -l score_health_access skor.xlsx
    """
    from layers.errors import InputError
    from layers.exports.data import export_layer, export_workspace

    s = state()
    path = Path(file)
    fmt = fmt or FORMAT_BY_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            N_("cannot tell the format from %(file)s; give --format (%(allowed)s)"),
            params={"file": path.name, "allowed": ", ".join(DATA_FORMATS)},
        )
    gettext = s.translations.gettext
    if fmt == "gpkg":
        result = export_workspace(
            s.store(),
            workspace,
            path,
            "gpkg",
            layers=list(layer_names) or None,
            lang=s.lang,
            gettext=gettext,
        )
    elif len(layer_names) != 1:
        raise InputError(
            N_(
                "%(format)s holds one layer: name it with --layer, or write every layer "
                "into a GeoPackage (.gpkg)"
            ),
            params={"format": fmt},
        )
    else:
        result = export_layer(
            s.store(),
            workspace,
            layer_names[0],
            path,
            fmt,
            wkt=wkt,
            gettext=gettext,
            lang=s.lang,
        )
    _echo_result(result, as_json)


@export.command("html")
@click.option("--workspace", "-w", required=True, help="Workspace.")
@click.option(
    "--profile", "-p", help="Scoring profile whose latest run colours the villages (latest run)."
)
@click.option(
    "--tolerance-m",
    type=click.FloatRange(min=0),
    default=25.0,
    show_default=True,
    help="Simplify village outlines to this many metres (0 keeps every vertex).",
)
@click.option("--title", help="Title of the map (default: the workspace's title).")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@handles_errors
def html(
    workspace: str,
    profile: str | None,
    tolerance_m: float,
    title: str | None,
    as_json: bool,
    file: str,
) -> None:
    """Write a standalone HTML map (one file) of the villages by need class.

    The file holds everything it needs (Leaflet, the simplified village outlines, the
    legend, a popup per village) and works opened from disk without internet: send it
    by e-mail or copy it to a flash drive. Texts follow --lang.

    \b
    Examples:
      geoapp export html -w merangin peta.html
      geoapp --lang id export html -w merangin -p health_access --tolerance-m 50 peta.html
    """
    from layers.exports.html_map import export_html_map

    s = state()
    result = export_html_map(
        s.store(),
        workspace,
        Path(file),
        profile=profile,
        tolerance_m=tolerance_m,
        lang=s.lang,
        gettext=s.translations.gettext,
        title=title,
    )
    _echo_result(result, as_json)


# Printed maps (PNG/PDF) are their own module; added when it is present in this tree.
if importlib.util.find_spec("geoapp.cli_export_map") is not None:
    from geoapp.cli_export_map import map_command

    export.add_command(map_command)

from geoapp.cli_export_report import report_command, village_command  # noqa: E402

export.add_command(report_command)
export.add_command(village_command)
