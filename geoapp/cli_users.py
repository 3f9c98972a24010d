"""``geoapp user ...``: accounts and roles from the command line (the server's owner).

The same functions as the web's accounts pages (:class:`layers.accounts.Accounts`). The
changes are kept in the audit trail with ``--by`` as who made them (none: the command line).
See ``docs/accounts.md``.
"""

from __future__ import annotations

import sys

import click

from geoapp.cli_common import echo_json, handles_errors, state, table
from layers.report import N_

ROLE_CHOICES = ("viewer", "editor", "admin", "none")


def _password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt(
        state()._(N_("Password")), hide_input=True, confirmation_prompt=True, err=True
    )


@click.group("user")
def user() -> None:
    """Accounts: add, list, give roles, invite, reset passwords, deactivate.

    \b
    Examples:
      geoapp user add ani --admin --name "Ani Rahma"
      geoapp user role budi editor -w merangin
      geoapp user invite -w merangin --role viewer
      geoapp user list
    """


@user.command("add")
@click.argument("username")
@click.option("--admin", "is_admin", is_flag=True, help="An administrator of the installation.")
@click.option("--name", "display_name", default="", help="The name shown to others.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@click.option("--by", "by", default=None, help="Who adds it (for the audit trail).")
@handles_errors
def add(username: str, is_admin: bool, display_name: str, password_stdin: bool, by: str) -> None:
    """Add an account; the password is asked twice (or read with --password-stdin).

    \b
    Examples:
      geoapp user add ani --admin --name "Ani Rahma"
      printf '%s\\n' "$PASSWORD" | geoapp user add budi --password-stdin
    """
    from layers.accounts import Accounts

    s = state()
    store = s.store()
    store.init()
    created = Accounts(store).create_user(
        username,
        _password(password_stdin),
        display_name=display_name,
        is_admin=is_admin,
        created_by=by,
    )
    click.echo(s._(N_("Account %(user)s created."), user=created.username))


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@handles_errors
def list_users(as_json: bool) -> None:
    """List the accounts with their roles.

    \b
    Examples:
      geoapp user list
      geoapp user list --json
    """
    s = state()
    users = s.store().list_users()
    if as_json:
        echo_json({"users": [u.to_dict() for u in users]})
        return
    headers = [s._(N_("user")), s._(N_("name")), s._(N_("administrator")), s._(N_("roles"))]
    rows = [
        (
            u.username + ("" if u.active else " (" + s._(N_("deactivated")) + ")"),
            u.display_name,
            s._(N_("yes")) if u.is_admin else "",
            ", ".join(f"{ws}: {role}" for ws, role in u.roles.items()),
        )
        for u in users
    ]
    click.echo(table(headers, rows))


@user.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLE_CHOICES))
@click.option("--workspace", "-w", required=True, help="The workspace.")
@click.option("--by", "by", default=None, help="Who gives it (for the audit trail).")
@handles_errors
def role(username: str, role: str, workspace: str, by: str | None) -> None:
    """Give USERNAME a ROLE in a workspace (none takes it away).

    \b
    Examples:
      geoapp user role budi editor -w merangin
      geoapp user role dinkes viewer -w merangin
      geoapp user role budi none -w merangin
    """
    s = state()
    s.store().set_role(username, workspace, None if role == "none" else role, granted_by=by)
    click.echo(
        s._(
            N_("%(user)s now has the role %(role)s in %(workspace)s."),
            user=username,
            role=role,
            workspace=workspace,
        )
    )


@user.command("invite")
@click.option("--workspace", "-w", default=None, help="The workspace the invitation is for.")
@click.option(
    "--role", type=click.Choice(("viewer", "editor", "admin")), default=None, help="Its role."
)
@click.option("--admin", "is_admin", is_flag=True, help="Invite an installation administrator.")
@click.option("--days", type=int, default=7, show_default=True, help="Days it stays valid.")
@click.option(
    "--base-url",
    default="http://127.0.0.1:5000",
    show_default=True,
    help="The address people open the app at.",
)
@click.option("--by", "by", default=None, help="Who invites (for the audit trail).")
@handles_errors
def invite(
    workspace: str | None,
    role: str | None,
    is_admin: bool,
    days: int,
    base_url: str,
    by: str | None,
) -> None:
    """Print an invitation link (shown once; no e-mail needed).

    \b
    Examples:
      geoapp user invite -w merangin --role viewer --base-url "$JANGKAU_URL"
      geoapp user invite --admin --days 2
    """
    from layers.accounts import Accounts

    s = state()
    token, made = Accounts(s.store()).invite(
        workspace=workspace, role=role, is_admin=is_admin, created_by=by, days=days
    )
    click.echo(f"{base_url.rstrip('/')}/invite/{token}")
    click.echo(
        s._(N_("Valid until %(day)s; it works once."), day=made.expires_at.date().isoformat()),
        err=True,
    )


@user.command("password")
@click.argument("username")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@click.option("--by", "by", default=None, help="Who changes it (for the audit trail).")
@handles_errors
def password(username: str, password_stdin: bool, by: str | None) -> None:
    """Set a new password for USERNAME (its open sessions end).

    \b
    Examples:
      geoapp user password ani
    """
    from layers.accounts import Accounts

    s = state()
    Accounts(s.store()).reset_password(username, _password(password_stdin), changed_by=by)
    click.echo(s._(N_("The password of %(user)s was changed."), user=username))


@user.command("deactivate")
@click.argument("username")
@click.option("--activate", is_flag=True, help="Let the account sign in again.")
@click.option("--by", "by", default=None, help="Who does it (for the audit trail).")
@handles_errors
def deactivate(username: str, activate: bool, by: str | None) -> None:
    """Stop USERNAME from signing in (its sessions end), or --activate it again.

    \b
    Examples:
      geoapp user deactivate budi
      geoapp user deactivate budi --activate
    """
    s = state()
    s.store().update_user(username, changed_by=by, active=activate)
    click.echo(s._(N_("Account %(user)s changed."), user=username))


@click.command("audit")
@click.option("--workspace", "-w", default=None, help="Only this workspace's changes.")
@click.option("--actor", default=None, help="Only changes by this account.")
@click.option("--action", default=None, help="Only this action (create, import, save, ...).")
@click.option("--kind", "target_kind", default=None, help="Only this kind (dataset, record, ...).")
@click.option("--since", default=None, help="From this day (YYYY-MM-DD).")
@click.option("--until", default=None, help="Up to and including this day (YYYY-MM-DD).")
@click.option("--limit", type=int, default=50, show_default=True, help="Entries to show.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Write them as CSV.")
@handles_errors
def audit(
    workspace: str | None,
    actor: str | None,
    action: str | None,
    target_kind: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    csv_path: str | None,
) -> None:
    """Show who changed what and when (newest first), or write it as CSV.

    \b
    Examples:
      geoapp audit -w merangin --since 2025-06-01
      geoapp audit -w merangin --kind record --csv perubahan.csv
    """
    from layers.atomic import replacing
    from layers.audit import AuditFilters, audit_frame, write_audit

    s = state()
    timezone = s.app().config["TIMEZONE"]
    filters = AuditFilters.from_text(
        {
            "actor": actor or "",
            "action": action or "",
            "target_kind": target_kind or "",
            "since": since or "",
            "until": until or "",
        },
        workspace=workspace,
        timezone=timezone,
    )
    store = s.store()
    if csv_path:
        with replacing(csv_path, ".csv") as tmp:
            count = write_audit(store, filters, tmp, "csv", timezone=timezone)
        click.echo(s._(N_("%(count)s changes written to %(file)s."), count=count, file=csv_path))
        return
    entries, total = store.list_audit(**filters.query(), limit=max(1, limit))
    frame = audit_frame(entries, timezone)
    rows = frame[["at", "actor", "workspace", "action", "target_kind", "target", "summary"]]
    click.echo(table(list(rows.columns), rows.itertuples(index=False)))
    click.echo(s._(N_("%(shown)s of %(total)s changes."), shown=len(entries), total=total))
