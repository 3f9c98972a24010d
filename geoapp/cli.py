"""The ``geoapp`` command line: set up a store, import and check files, list, report, score,
serve.

Each command is a thin front door onto the same functions the web app uses
(:mod:`layers.importer`, :mod:`layers.validate`, :mod:`geoapp.catalogue`). Heavy modules
(geopandas, the store) load inside the commands, so ``geoapp --help`` stays fast.

Exit status: 0 success; 1 an error (unreadable file, unknown workspace, store problem),
printed as one ``error: ...`` line on stderr; 2 rows were rejected (``import``,
``validate``); 64 the command was used wrongly (unknown option, missing argument).
Output follows ``--lang``, then ``GEOAPP_LOCALE``, then ``LC_ALL``/``LC_MESSAGES``/``LANG``
(Indonesian or English), then English. See ``docs/cli.md``.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

from geoapp.cli_backup import backup_command, restore_command
from geoapp.cli_common import (
    CODE_SYSTEMS,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    LIMIT_HELP,
    STATE_KEY,
    State,
    counts_line,
    echo_json,
    finding_lines,
    handles_errors,
    local_time,
    state,
    table,
)
from geoapp.cli_export import export
from geoapp.cli_import import demo, import_, validate
from geoapp.cli_programs import coverage, needs, programs
from geoapp.cli_scenarios import scenario
from geoapp.cli_score import hotspots, profiles, rerun, score
from geoapp.cli_users import audit, user
from geoapp.config import LANGUAGES
from geoapp.labels import ACTION_LABELS, COUNT_LABELS, KIND_LABELS, label
from layers.report import N_

if TYPE_CHECKING:
    from layers.storage import DatasetVersion

__all__ = [
    "CODE_SYSTEMS",
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_REJECTED",
    "EXIT_USAGE",
    "main",
]


class Group(click.Group):
    """A click group whose usage errors exit with 64, keeping 2 for rejected rows."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            exc.exit_code = EXIT_USAGE
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            exc.exit_code = EXIT_USAGE
            raise


# --- the group -----------------------------------------------------------------------------


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--lang",
    type=click.Choice(LANGUAGES),
    default=None,
    help="Output language (default: GEOAPP_LOCALE, then LANG, then English).",
)
@click.version_option(package_name="jangkau", prog_name="geoapp")
@click.pass_context
def main(ctx: click.Context, lang: str | None) -> None:
    """Jangkau: village needs mapping for community development coordinators.

    \b
    Typical session:
      geoapp init
      geoapp demo
      geoapp validate --kind facilities sekolah.xlsx
      geoapp import needs kobo_export.csv --workspace merangin
      geoapp layers --workspace merangin
      geoapp serve

    Settings (store location, default language ...) come from instance/config.py and
    GEOAPP_* environment variables; see docs/configuration.md.
    """
    ctx.meta[STATE_KEY] = State(lang)


# --- init ----------------------------------------------------------------------------------


@main.command()
@click.option("--workspace", "-w", help="Default workspace to create (DEFAULT_WORKSPACE).")
@handles_errors
def init(workspace: str | None) -> None:
    """Create the instance folder, the store's tables and the default workspace.

    Safe to run again: what exists is kept.

    \b
    Examples:
      geoapp init
      GEOAPP_DATABASE_URL=sqlite:////srv/jangkau/jangkau.sqlite geoapp init
    """
    from layers.errors import NotFoundError

    s = state()
    app = s.app()
    os.makedirs(app.instance_path, exist_ok=True)
    store = s.store()
    store.init()
    name = workspace or app.config["DEFAULT_WORKSPACE"]
    try:
        store.get_workspace(name)
        created = False
    except NotFoundError:
        store.create_workspace(name, title=N_("Default workspace") if not workspace else name)
        created = True
    click.echo(s._(N_("Store ready: %(url)s"), url=_safe_url(app.config["DATABASE_URL"])))
    if created:
        click.echo(s._(N_("Workspace %(workspace)s created."), workspace=name))
    else:
        click.echo(s._(N_("Workspace %(workspace)s already exists."), workspace=name))


def _safe_url(url: str) -> str:
    """The store URL with any password hidden."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


for _command in (
    import_,
    validate,
    demo,
    score,
    profiles,
    rerun,
    hotspots,
    scenario,
    programs,
    needs,
    coverage,
    export,
    user,
    audit,
):
    main.add_command(_command)
main.add_command(backup_command)
main.add_command(restore_command)


# --- layers --------------------------------------------------------------------------------


@main.command()
@click.option("--workspace", "-w", help="Only this workspace (default: all).")
@click.option("--all-versions", is_flag=True, help="Every version, not only the latest.")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@handles_errors
def layers(workspace: str | None, all_versions: bool, as_json: bool) -> None:
    """List the stored datasets with their versions and validation counts.

    \b
    Examples:
      geoapp layers
      geoapp layers --workspace merangin --all-versions
    """
    from geoapp import catalogue

    s = state()
    store = s.store()
    if workspace:
        datasets = catalogue.list_datasets(store, workspace, all_versions=all_versions)
    else:
        datasets = store.list_datasets(all_versions=all_versions)
    if as_json:
        echo_json([catalogue.dataset_json(d) for d in datasets])
        return
    if not datasets:
        click.echo(s._(N_("No datasets yet. Import one with: geoapp import KIND FILE")))
        return
    timezone = s.app().config["TIMEZONE"]
    click.echo(table(_layer_headers(s), (_layer_row(s, d, timezone) for d in datasets)))


def _layer_headers(s: State) -> list[str]:
    return [
        s._(N_("dataset")),
        s._(N_("kind")),
        s._(N_("rows")),
        *(s._(COUNT_LABELS[k]) for k in ("accepted", "repaired", "rejected", "warnings")),
        s._(N_("source file")),
        "sha256",
        s._(N_("imported at")),
        s._(N_("by")),
    ]


def _layer_row(s: State, d: DatasetVersion, timezone: str) -> list[Any]:
    from geoapp.catalogue import short_sha

    return [
        d.ref,
        s._(label(KIND_LABELS, d.kind)),
        d.row_count,
        *(d.counts.get(k, 0) for k in ("accepted", "repaired", "rejected", "warnings")),
        d.source_name or "",
        short_sha(d.source_sha256),
        local_time(d.created_at, timezone),
        d.created_by or "",
    ]


# --- report --------------------------------------------------------------------------------


@main.command()
@click.argument("dataset")
@click.option("--workspace", "-w", help="Workspace, when DATASET has none.")
@click.option(
    "--action",
    type=click.Choice(tuple(ACTION_LABELS)),
    help="Only findings of this action.",
)
@click.option("--limit", default=100, show_default=True, help=LIMIT_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@handles_errors
def report(
    dataset: str, workspace: str | None, action: str | None, limit: int, as_json: bool
) -> None:
    """Print the validation report stored with a dataset version.

    DATASET is workspace/name, workspace/name@version, or name with --workspace.

    \b
    Examples:
      geoapp report merangin/needs_kobo
      geoapp report merangin/villages@1 --action rejected
      geoapp report podes2019 --workspace merangin --json --limit 0
    """
    from geoapp import catalogue

    s = state()
    ws, name, version = catalogue.parse_ref(dataset, workspace)
    view = catalogue.get_report(
        s.store(), ws, name, version, limit=limit or sys.maxsize, action=action
    )
    if as_json:
        data = catalogue.report_json(view, s.translations.gettext)
        data["limit"] = limit or None
        echo_json(data)
        return
    info = view.info
    click.echo(
        f"{info.ref}  {s._(label(KIND_LABELS, info.kind))}  {info.source_name or ''}  "
        f"sha256 {catalogue.short_sha(info.source_sha256)}"
    )
    click.echo(counts_line(view.report.counts()))
    lines = finding_lines(view.report, limit, action)
    if lines:
        click.echo("")
    for line in lines:
        click.echo(line)


# --- serve ---------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--threads",
    default=24,
    show_default=True,
    type=int,
    help="Worker threads (every open map holds one for its live updates).",
)
@handles_errors
def serve(host: str, port: int, threads: int) -> None:
    """Serve the web app with waitress (a production WSGI server).

    Creates the store's tables when missing. Use --host 0.0.0.0 to serve other machines
    on the office network.

    \b
    Examples:
      geoapp serve
      geoapp serve --port 8080 --threads 8
    """
    import logging

    from waitress import serve as waitress_serve

    s = state()
    app = s.app()
    store = s.store()
    store.init()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    click.echo(
        s._(
            N_("Serving Jangkau on http://%(host)s:%(port)s (Ctrl+C to stop)"), host=host, port=port
        )
    )
    if store.count_users() == 0:
        click.echo(
            s._(
                N_(
                    "No account yet: open http://127.0.0.1:%(port)s on this computer to create "
                    "the first administrator (or run geoapp user add NAME --admin)."
                ),
                port=port,
            )
        )
    waitress_serve(app, host=host, port=port, threads=threads, ident="jangkau")
