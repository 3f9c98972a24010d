"""Commands that read files: ``import``, ``validate`` and ``demo``.

They call :func:`layers.importer.import_into_store`, :func:`layers.validate.import_layer`
and :func:`layers.demo_load.load_demo`; :mod:`geoapp.cli` adds them to the ``geoapp`` group.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from geoapp.cli_common import (
    CODE_SYSTEMS,
    EXIT_OK,
    EXIT_REJECTED,
    LIMIT_HELP,
    MAP_HELP,
    code_bridge,
    counts_line,
    echo_json,
    fail,
    finding_lines,
    handles_errors,
    parse_mapping,
    report_data,
    state,
    status_note,
    table,
)
from geoapp.labels import COUNT_LABELS, KIND_LABELS, label
from layers.report import N_
from layers.schema import IMPORT_KINDS

if TYPE_CHECKING:
    from layers.storage import Store


# --- import --------------------------------------------------------------------------------


def reading_options(command):
    """The options that say how to read a file, shared by ``import`` and ``validate``."""
    options = [
        click.option(
            "--code-system",
            type=click.Choice(CODE_SYSTEMS),
            default="kemendagri",
            show_default=True,
            help="Code system of the file's village codes.",
        ),
        click.option(
            "--bridge",
            type=click.Path(file_okay=False, exists=True, path_type=Path),
            help="Folder with the BPS-Kemendagri bridge (default: the bundled Merangin tables).",
        ),
        click.option(
            "--crs", help="CRS of the coordinates when the file has none, e.g. EPSG:32748."
        ),
        click.option(
            "--swap-repair", is_flag=True, help="Swap latitude/longitude where clearly swapped."
        ),
        click.option("--layer", help="Layer to read from a GeoPackage with several layers."),
        click.option("--sheet", help="Sheet to read from a workbook."),
        click.option("--map", "mapping", multiple=True, callback=parse_mapping, help=MAP_HELP),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.command("import")
@click.argument("kind", type=click.Choice(IMPORT_KINDS), metavar="KIND")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--workspace", "-w", help="Target workspace (default: DEFAULT_WORKSPACE).")
@click.option("--name", help="Dataset name (default: the kind). Versions count per name.")
@reading_options
@click.option(
    "--skip-rejected",
    is_flag=True,
    help="Store the accepted rows even when some are rejected (exit status is still 2).",
)
@click.option("--user", help="Who is importing (stored with the version).")
@click.option("--note", default="", help="Free text stored with the version.")
@click.option("--limit", default=100, show_default=True, help=LIMIT_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@handles_errors
def import_(
    kind: str,
    file: Path,
    workspace: str | None,
    name: str | None,
    code_system: str,
    bridge: Path | None,
    crs: str | None,
    swap_repair: bool,
    skip_rejected: bool,
    user: str | None,
    note: str,
    layer: str | None,
    sheet: str | None,
    mapping: dict[str, str] | None,
    limit: int,
    as_json: bool,
) -> None:
    """Validate FILE as a layer of KIND and store it as a new dataset version.

    KIND is villages, facilities, needs, indicators or raster (a population GeoTIFF,
    people per cell). By default nothing is stored when
    any row is rejected: the report is printed and the exit status is 2. With
    --skip-rejected the accepted rows are stored with the report (exit status still 2).
    Importing the same file with the same options again stores nothing new.

    \b
    Examples:
      geoapp import villages desa.geojson --workspace merangin
      geoapp import needs kobo_export.csv -w merangin --user ani
      geoapp import indicators podes.csv -w merangin --code-system bps --skip-rejected
      geoapp import facilities puskesmas.csv -w merangin --crs EPSG:4326 --swap-repair
      geoapp import raster penduduk.tif -w merangin --name population
    """
    from tqdm import tqdm

    from layers.importer import import_into_store

    s = state()
    store = s.store()
    workspace = workspace or s.app().config["DEFAULT_WORKSPACE"]

    stage_labels = {
        "read": s._(N_("reading")),
        "validate": s._(N_("validating")),
        "store": s._(N_("storing")),
    }
    bar = tqdm(total=3, file=sys.stderr, disable=None, leave=False, desc=file.name)

    def progress(stage: str, done: int, total: int) -> None:
        bar.n = done
        bar.set_postfix_str(stage_labels.get(stage, stage))
        bar.refresh()

    try:
        outcome = import_into_store(
            store,
            workspace,
            file,
            kind,
            name=name,
            code_system=code_system,
            bridge=code_bridge(code_system, bridge, kind),
            crs=crs,
            mapping=mapping,
            swap_repair=swap_repair,
            skip_rejected=skip_rejected,
            user=user,
            layer=layer,
            sheet=sheet,
            note=note,
            progress=progress,
        )
    finally:
        bar.close()
    report = outcome.report
    if as_json:
        from geoapp.catalogue import dataset_json

        echo_json(
            {
                "stored": outcome.stored,
                "unchanged": outcome.unchanged,
                "dataset": dataset_json(outcome.version) if outcome.version else None,
                "report": report_data(report, limit),
                "notes": [note.to_dict() for note in outcome.notes],
            }
        )
    else:
        click.echo(f"{report.file}: {counts_line(report.counts())}")
        for line in finding_lines(report, limit):
            click.echo(line)
        if outcome.stored and outcome.version is not None:
            click.echo(s._(N_("Stored %(ref)s."), ref=outcome.version.ref))
            for note in outcome.notes:
                click.echo(note.render(s._))
        elif outcome.unchanged and outcome.version is not None:
            click.echo(
                s._(
                    N_("Nothing new: %(ref)s already holds this file with the same options."),
                    ref=outcome.version.ref,
                )
            )
        else:
            click.echo(
                s._(
                    N_(
                        "Nothing was stored: %(rejected)s rows were rejected. Fix them, or "
                        "import with --skip-rejected to store the %(accepted)s accepted rows."
                    ),
                    rejected=report.counts()["rejected"],
                    accepted=report.counts()["accepted"],
                ),
                err=True,
            )
    sys.exit(EXIT_OK if report.ok else EXIT_REJECTED)


# --- validate ------------------------------------------------------------------------------


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--kind", "-k", type=click.Choice(IMPORT_KINDS), required=True, help="Layer kind.")
@click.option(
    "--workspace",
    "-w",
    help="Check village codes and locations against this workspace's villages.",
)
@reading_options
@click.option("--limit", default=100, show_default=True, help=LIMIT_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@handles_errors
def validate(
    file: Path,
    kind: str,
    workspace: str | None,
    code_system: str,
    bridge: Path | None,
    crs: str | None,
    swap_repair: bool,
    layer: str | None,
    sheet: str | None,
    mapping: dict[str, str] | None,
    limit: int,
    as_json: bool,
) -> None:
    """Check FILE as a layer of --kind and print the report; writes nothing.

    Exit status 0 when no row was rejected, 2 when some were, 1 when the file cannot be
    used at all. Without --workspace no store is opened.

    \b
    Examples:
      geoapp validate --kind facilities sekolah.xlsx
      geoapp validate -k facilities dinkes.csv --map type=JENIS_SARANA --map name=NAMA
      geoapp validate --kind needs kobo_export.csv --workspace merangin --json
      geoapp validate -k indicators podes.csv --code-system bps --limit 0
      geoapp validate -k raster penduduk.tif --workspace merangin
    """
    from layers.importer import check_file

    s = state()
    villages = None
    if workspace and kind != "villages":
        villages = _workspace_villages(s.store(), workspace)
    if not file.exists():
        fail(f"{file}: " + s._(N_("file not found")))
    status_note(s._(N_("Validating %(file)s ..."), file=str(file)))
    result = check_file(
        file,
        kind,
        workspace_villages=villages,
        bridge=code_bridge(code_system, bridge, kind),
        code_system=code_system,
        crs=crs,
        mapping=mapping,
        swap_repair=swap_repair,
        layer=layer,
        sheet=sheet,
    )
    report = result.report
    if as_json:
        data = report_data(report, limit)
        data["source_sha256"] = result.source_sha256
        echo_json(data)
    else:
        click.echo(f"{report.file}: {counts_line(report.counts())}")
        for line in finding_lines(report, limit):
            click.echo(line)
    sys.exit(EXIT_OK if report.ok else EXIT_REJECTED)


def _workspace_villages(store: Store, workspace: str):
    """The latest villages of ``workspace``, or None when it has none (404 when unknown)."""
    from geoapp.catalogue import get_workspace
    from layers.errors import NotFoundError

    get_workspace(store, workspace)
    try:
        return store.read_dataset(workspace, "villages")
    except NotFoundError:
        return None


# --- demo ----------------------------------------------------------------------------------


@click.command()
@click.option(
    "--workspace", "-w", default="merangin", show_default=True, help="Workspace to load into."
)
@click.option("--user", help="Recorded as the importer.")
@handles_errors
def demo(workspace: str, user: str | None) -> None:
    """Load the bundled demo area (Kabupaten Merangin, Jambi) into a workspace.

    Initialises the store when needed and creates the workspace. Safe to run again:
    files already stored as the latest version are skipped. Rows the bundled files are
    known to reject are kept in their reports.

    \b
    Examples:
      geoapp demo
      geoapp demo --workspace latihan
    """
    from tqdm import tqdm

    from layers.demo_load import load_demo

    s = state()
    store = s.store()
    store.init()
    bar = None

    def progress(name: str, done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, file=sys.stderr, disable=None, unit="file", leave=False)
        bar.n = done
        bar.set_postfix_str(name)
        bar.refresh()

    try:
        outcomes = load_demo(store, workspace, progress=progress, user=user)
    finally:
        if bar is not None:
            bar.close()
    rows = []
    stored = 0
    for outcome in outcomes:
        info = outcome.version
        if outcome.stored:
            stored += 1
            result = s._(N_("stored"))
        elif outcome.unchanged:
            result = s._(N_("unchanged"))
        else:
            result = s._(N_("not stored"))
        counts = outcome.report.counts()
        rows.append(
            [
                info.ref if info else outcome.report.file,
                s._(label(KIND_LABELS, outcome.report.kind)),
                result,
                *(counts[k] for k in ("accepted", "repaired", "rejected", "warnings")),
            ]
        )
    click.echo(
        table(
            [
                s._(N_("dataset")),
                s._(N_("kind")),
                s._(N_("result")),
                *(s._(COUNT_LABELS[k]) for k in ("accepted", "repaired", "rejected", "warnings")),
            ],
            rows,
        )
    )
    click.echo(
        s._(
            N_("%(stored)s of %(total)s datasets stored in workspace %(workspace)s."),
            stored=stored,
            total=len(outcomes),
            workspace=workspace,
        )
    )
    for outcome in outcomes:
        for note in outcome.notes:
            click.echo(note.render(s._))
