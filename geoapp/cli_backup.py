"""Commands that copy a workspace to one file and back: ``backup`` and ``restore``.

They call :func:`layers.backup.backup_workspace` and :func:`layers.backup.restore_workspace`;
:mod:`geoapp.cli` adds them to the ``geoapp`` group. See ``docs/backup.md``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from geoapp.cli_common import fail, handles_errors, local_time, state, status_note
from layers.report import N_


def file_size(size: int) -> str:
    """A byte count for people: ``512 B``, ``1.5 KB``, ``23.4 MB``, ``1.2 GB``."""
    value = float(size)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--workspace", "-w", help="Workspace to back up (default: DEFAULT_WORKSPACE).")
@click.option("--user", help="Who makes the backup (kept in the file).")
@click.option("--overwrite", is_flag=True, help="Replace FILE when it exists.")
@handles_errors
def backup_command(file: Path, workspace: str | None, user: str | None, overwrite: bool) -> None:
    """Write everything of a workspace into one backup FILE.

    The file holds every version of every dataset (layers, rasters, score tables), every
    record (profiles, score runs, scenarios, programs, ...) and the workspace's audit
    trail; not the user accounts. It is a consistent copy even while others work, and is
    written whole or not at all. Restore it with geoapp restore, on this machine or another
    (SQLite or PostGIS).

    \b
    Examples:
      geoapp backup -w merangin merangin-2025-06-01.jangkau
      geoapp backup -w merangin /media/usb/merangin.jangkau --overwrite --user ani
    """
    from layers.backup import backup_workspace

    s = state()
    if file.exists() and not overwrite:
        fail(s._(N_("%(file)s already exists; choose another name or add --overwrite"), file=file))
    store = s.store()
    workspace = workspace or s.app().config["DEFAULT_WORKSPACE"]
    status_note(s._(N_("Backing up %(workspace)s ..."), workspace=workspace))
    summary = backup_workspace(store, workspace, file, actor=user)
    click.echo(
        s._(
            N_("Backed up workspace %(workspace)s to %(file)s (%(size)s)."),
            workspace=summary.workspace,
            file=summary.path,
            size=file_size(summary.size),
        )
    )
    click.echo(
        s._(
            N_(
                "%(datasets)s dataset versions (%(chunks)s chunks), %(records)s record "
                "versions, %(audit)s audit entries."
            ),
            datasets=summary.datasets,
            chunks=summary.chunks,
            records=summary.records,
            audit=summary.audit,
        )
    )
    click.echo(s._(N_("Content digest: %(digest)s"), digest=summary.digest))


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--as", "as_name", metavar="NAME", help="Restore under this workspace name.")
@click.option(
    "--replace",
    is_flag=True,
    help="Replace the workspace when it exists (in the same transaction; its audit trail stays).",
)
@click.option("--user", help="Who restores (kept in the audit trail).")
@handles_errors
def restore_command(file: Path, as_name: str | None, replace: bool, user: str | None) -> None:
    """Restore a workspace from a backup FILE made with geoapp backup.

    The file is checked first (a Jangkau backup, complete, unchanged since it was
    written). Then everything is restored in one transaction: on any failure the store is
    left exactly as it was. An existing workspace of the same name is only replaced with
    --replace. Creates the store's tables when missing.

    \b
    Examples:
      geoapp restore merangin-2025-06-01.jangkau
      geoapp restore merangin-2025-06-01.jangkau --as merangin_lama
      GEOAPP_DATABASE_URL=postgresql://jangkau@db/jangkau geoapp restore merangin.jangkau
      geoapp restore merangin-2025-06-01.jangkau --replace --user ani
    """
    from layers.backup import restore_workspace

    s = state()
    store = s.store()
    store.init()
    status_note(s._(N_("Checking %(file)s ..."), file=file))
    summary = restore_workspace(store, file, workspace=as_name, replace=replace, actor=user)
    manifest = summary.manifest
    try:
        made = local_time(
            datetime.fromisoformat(manifest["created_at"]), s.app().config["TIMEZONE"]
        )
    except (KeyError, TypeError, ValueError):
        made = str(manifest.get("created_at"))
    click.echo(
        s._(
            N_(
                "Restored workspace %(workspace)s from %(file)s (a backup of %(source)s "
                "made %(when)s)."
            ),
            workspace=summary.workspace,
            file=summary.path,
            source=summary.from_workspace,
            when=made,
        )
    )
    click.echo(
        s._(
            N_(
                "%(datasets)s dataset versions, %(records)s record versions, %(audit)s audit "
                "entries (%(present)s were already in the audit trail)."
            ),
            datasets=summary.datasets,
            records=summary.records,
            audit=summary.audit,
            present=summary.audit_present,
        )
    )
    if summary.replaced:
        click.echo(
            s._(
                N_("The previous content of workspace %(workspace)s was replaced."),
                workspace=summary.workspace,
            )
        )
