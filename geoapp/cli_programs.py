"""``geoapp programs``, ``geoapp needs`` and ``geoapp coverage``: what was done where, and
whether it reached people.

Thin front doors onto :mod:`layers.programs` (the register, its files, the needs
lifecycle) and :mod:`layers.coverage` (service coverage and program reach).
"""

from __future__ import annotations

import math
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from geoapp.cli_common import EXIT_REJECTED, echo_json, handles_errors, state, table
from layers.report import N_

#: The record collection targeting scenarios are saved in (``layers.targeting.scenarios``).
SCENARIOS = "scenarios"


def _number(value: Any, decimals: int = 0) -> str:
    """``value`` in the output language's number format (Babel: 1.234,5 in Indonesian)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=state().lang)


def _share(value: Any) -> str:
    """A share 0-1 as a percentage with one decimal (Babel)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return _number(100.0 * float(value), 1) + " %"


def _yes_no(value: Any) -> str:
    import pandas as pd

    s = state()
    if value is None or pd.isna(value):
        return "-"
    return s._(N_("yes")) if value else s._(N_("no"))


def _label(labels: dict[str, str], key: Any) -> str:
    if key is None:
        return "-"
    return state()._(labels[key]) if key in labels else str(key)


def _notes(notes: list[Any]) -> None:
    gettext = state().translations.gettext
    for note in notes:
        click.echo(note.render(gettext))


def _problems(exc: Any) -> None:
    """Every rejected row on stderr, then exit with status 2."""
    s = state()
    gettext = s.translations.gettext
    for problem in exc.problems:
        click.echo(problem.render(gettext), err=True)
    click.echo(
        s._(
            N_("%(count)s problems; nothing was written. Correct the file and import it again."),
            count=len(exc.problems),
        ),
        err=True,
    )
    sys.exit(EXIT_REJECTED)


# --- programs ------------------------------------------------------------------------------


@click.group()
def programs() -> None:
    """Keep the program register: programs, the villages they go to, and the activity log.

    \b
    Examples:
      geoapp programs import register.xlsx -w merangin --dry-run
      geoapp programs list -w merangin
      geoapp programs assign P-01 -w merangin --scenario puskesmas_2025
      geoapp programs log P-01 -w merangin --date 2025-03-31 --figure 120 --unit households
      geoapp programs change P-01 -w merangin --profile health_access --baseline 1
    """


@programs.command("import")
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@click.option("--workspace", "-w", required=True, help="Workspace.")
@click.option("--dry-run", is_flag=True, help="Check every row; write nothing.")
@click.option("--user", help="Who imports it (kept with the version).")
@click.option("--note", default="", help="Why (kept with the version).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@handles_errors
def import_register_cmd(
    file: Path, workspace: str, dry_run: bool, user: str | None, note: str, as_json: bool
) -> None:
    """Import a register file (XLSX, zip of CSV files, or programs.csv beside the others).

    The file replaces the whole register as its next version. Every row is checked; when
    any row is rejected, each is printed with its file, sheet, row and column and nothing
    is written (exit status 2).

    \b
    Examples:
      geoapp programs import register.xlsx -w merangin --dry-run
      geoapp programs import register.zip -w merangin --user ani --note "Rapat Bappeda Maret"
      geoapp programs import data/programs.csv -w merangin
    """
    from layers.programs import RegisterImportError, import_register

    s = state()
    try:
        result = import_register(s.store(), workspace, file, dry_run=dry_run, user=user, note=note)
    except RegisterImportError as exc:
        if as_json:
            echo_json({"ok": False, "problems": [p.to_dict() for p in exc.problems]})
            sys.exit(EXIT_REJECTED)
        _problems(exc)
        return
    if as_json:
        echo_json({"ok": True, **result.to_dict()})
        return
    _notes(result.notes)


@programs.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--workspace", "-w", required=True, help="Workspace.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["xlsx", "csv"]),
    help="xlsx (one workbook) or csv (a zip of three files); from the name by default.",
)
@click.option("--version", "version", type=int, help="Register version (latest).")
@handles_errors
def export_register_cmd(file: Path, workspace: str, fmt: str | None, version: int | None) -> None:
    """Write the register to a file partners can check and send back.

    \b
    Examples:
      geoapp programs export register.xlsx -w merangin
      geoapp programs export register.zip -w merangin --format csv --version 3
    """
    from layers.programs import export_register

    s = state()
    written = export_register(s.store(), workspace, file, fmt=fmt, version=version)
    click.echo(s._(N_("Register written to %(path)s"), path=str(written)))


def _program_rows(reg: Any) -> list[dict[str, Any]]:
    """Each program with its number of villages and its planned and achieved totals."""
    from layers.coverage.reach import _plain

    by = reg.assignments.groupby("program_id")
    frame = reg.programs.assign(
        villages=reg.programs["program_id"].map(by.size()).fillna(0).astype(int),
        planned=reg.programs["program_id"].map(by["planned"].sum()).fillna(0).astype(int),
        achieved=reg.programs["program_id"].map(by["achieved"].sum()).fillna(0).astype(int),
    )
    return [{k: _plain(v) for k, v in r.items()} for r in frame.to_dict("records")]


@programs.command("list")
@click.option("--workspace", "-w", required=True, help="Workspace.")
@click.option("--version", "version", type=int, help="Register version (latest).")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@handles_errors
def list_programs(workspace: str, version: int | None, as_json: bool) -> None:
    """List the programs with their villages and beneficiaries.

    \b
    Examples:
      geoapp programs list -w merangin
      geoapp programs list -w merangin --version 2 --json
    """
    from layers.programs import Register
    from layers.programs.model import SECTOR_LABELS, STATUS_LABELS

    s = state()
    reg = Register.load(s.store(), workspace, version)
    rows = _program_rows(reg)
    if as_json:
        echo_json({"version": reg.version, "programs": rows})
        return
    if not rows:
        click.echo(s._(N_("The register has no programs yet.")))
        return
    headers = [
        s._(N_("program")),
        s._(N_("name")),
        s._(N_("sector")),
        s._(N_("status")),
        s._(N_("organisation")),
        s._(N_("villages")),
        s._(N_("planned")),
        s._(N_("achieved")),
    ]
    body = [
        [
            r["program_id"],
            r["name"],
            _label(SECTOR_LABELS, r["sector"]),
            _label(STATUS_LABELS, r["status"]),
            r["organisation"] or "",
            _number(r["villages"]),
            _number(r["planned"]),
            _number(r["achieved"]),
        ]
        for r in rows
    ]
    click.echo(s._(N_("Register version %(version)s"), version=reg.version))
    click.echo(table(headers, body))


@programs.command("show")
@click.argument("program_id")
@click.option("--workspace", "-w", required=True, help="Workspace.")
@click.option("--version", "version", type=int, help="Register version (latest).")
@click.option("--json", "as_json", is_flag=True, help="Print the program as JSON.")
@handles_errors
def show_program(program_id: str, workspace: str, version: int | None, as_json: bool) -> None:
    """Show a program with its villages and its activity log.

    \b
    Examples:
      geoapp programs show P-01 -w merangin
      geoapp programs show P-01 -w merangin --json
    """
    from layers.coverage.reach import _plain
    from layers.programs import Register
    from layers.programs.model import SECTOR_LABELS, STATUS_LABELS, UNIT_LABELS

    s = state()
    reg = Register.load(s.store(), workspace, version)
    item = reg.program(program_id)
    assignments = [
        {k: _plain(v) for k, v in r.items()} for r in item["assignments"].to_dict("records")
    ]
    activities = [
        {k: _plain(v) for k, v in r.items()} for r in item["activities"].to_dict("records")
    ]
    if as_json:
        echo_json(
            {"program": item["program"], "assignments": assignments, "activities": activities}
        )
        return
    p = item["program"]
    click.echo(f"{p['program_id']}  {p['name']}")
    fields = [
        (N_("sector"), _label(SECTOR_LABELS, p["sector"])),
        (N_("status"), _label(STATUS_LABELS, p["status"])),
        (N_("organisation"), p["organisation"] or "-"),
        (N_("donor"), p["donor"] or "-"),
        (N_("budget (Rp)"), _number(p["budget"])),
        (N_("period"), f"{p['start'] or '?'} - {p['end'] or '?'}"),
        (N_("target group"), _label(UNIT_LABELS, p["target_group"])),
    ]
    for name, value in fields:
        click.echo(f"  {s._(name)}: {value}")
    if assignments:
        click.echo("")
        headers = [
            s._(N_("village")),
            s._(N_("planned")),
            s._(N_("achieved")),
            s._(N_("unit")),
            s._(N_("status")),
            s._(N_("scenario")),
        ]
        click.echo(
            table(
                headers,
                [
                    [
                        a["kode"],
                        _number(a["planned"]),
                        _number(a["achieved"]),
                        _label(UNIT_LABELS, a["unit"]),
                        _label(STATUS_LABELS, a["status"]),
                        a["scenario"] or "",
                    ]
                    for a in assignments
                ],
            )
        )
    if activities:
        click.echo("")
        headers = [
            s._(N_("date")),
            s._(N_("village")),
            s._(N_("figure")),
            s._(N_("unit")),
            s._(N_("description")),
        ]
        click.echo(
            table(
                headers,
                [
                    [
                        a["date"],
                        a["kode"] or "-",
                        _number(a["figure"], 0),
                        _label(UNIT_LABELS, a["unit"]),
                        a["description"] or "",
                    ]
                    for a in activities
                ],
            )
        )


@programs.command("assign")
@click.argument("program_id")
@click.option("--workspace", "-w", required=True, help="Workspace.")
@click.option("--scenario", help="A saved targeting scenario: its villages are assigned.")
@click.option("--kode", multiple=True, help="A village code (repeatable).")
@click.option("--planned", type=click.IntRange(0), help="Planned beneficiaries per village.")
@click.option(
    "--unit",
    type=click.Choice(["persons", "households", "groups"]),
    help="Unit of --planned (the program's target group).",
)
@click.option(
    "--status",
    default="planned",
    show_default=True,
    type=click.Choice(["planned", "active", "completed", "dropped"]),
    help="Status of the new assignments.",
)
@click.option("--user", help="Who assigns (kept with the version).")
@click.option("--note", default="", help="Why (kept with the version).")
@handles_errors
def assign(
    program_id: str,
    workspace: str,
    scenario: str | None,
    kode: tuple[str, ...],
    planned: int | None,
    unit: str | None,
    status: str,
    user: str | None,
    note: str,
) -> None:
    """Assign a program to the villages of a targeting scenario or to given villages.

    Villages already assigned to the program are left as they are (and listed).

    \b
    Examples:
      geoapp programs assign P-01 -w merangin --scenario puskesmas_2025 --planned 100
      geoapp programs assign P-02 -w merangin --kode 15.02.01.2001 --kode 15.02.01.2002
    """
    from layers.programs import assign_from_scenario, assign_villages

    s = state()
    if bool(scenario) == bool(kode):
        raise click.UsageError(s._(N_("give either --scenario NAME or one or more --kode")))
    store = s.store()
    if scenario:
        body = store.get_record(workspace, SCENARIOS, scenario).body
        result = assign_from_scenario(
            store,
            workspace,
            program_id,
            body,
            planned=planned,
            unit=unit,
            status=status,
            user=user,
            note=note,
        )
    else:
        result = assign_villages(
            store,
            workspace,
            program_id,
            list(kode),
            planned=planned,
            unit=unit,
            status=status,
            user=user,
            note=note,
        )
    _notes(result.notes)


@programs.command("log")
@click.argument("program_id")
@click.option("--workspace", "-w", required=True, help="Workspace.")
@click.option("--date", "on", required=True, help="When, YYYY-MM-DD.")
@click.option("--figure", required=True, type=click.FloatRange(0), help="How many were reached.")
@click.option(
    "--unit",
    required=True,
    type=click.Choice(["persons", "households", "groups"]),
    help="Unit of the figure.",
)
@click.option("--kode", help="The village (leave out for the whole program).")
@click.option("--description", required=True, help='What was done, e.g. "120 KK dijangkau".')
@click.option("--user", help="Who logs it (kept with the version).")
@click.option("--note", default="", help="Why (kept with the version).")
@handles_errors
def log_activity(
    program_id: str,
    workspace: str,
    on: str,
    figure: float,
    unit: str,
    kode: str | None,
    description: str,
    user: str | None,
    note: str,
) -> None:
    """Add an entry to a program's activity log.

    \b
    Examples:
      geoapp programs log P-01 -w merangin --date 2025-03-31 --figure 120 --unit households \\
        --kode 15.02.01.2001 --description "120 KK dijangkau bulan Maret"
      geoapp programs log P-02 -w merangin --date 2025-04-10 --figure 3 --unit groups \\
        --description "Pelatihan kader"
    """
    from layers.programs import Register

    s = state()
    reg = Register.load(s.store(), workspace)
    row = {
        "program_id": program_id,
        "date": on,
        "figure": figure,
        "unit": unit,
        "kode": kode,
        "description": description,
    }
    result = reg.add_activities([row], user=user, note=note)
    _notes(result.notes)


#: Printed columns of the before/after table: (column, header, kind).
CHANGE_COLUMNS = (
    ("measure", N_("measure"), "text"),
    ("selected_villages", N_("program villages"), "int"),
    ("selected_before", N_("before"), "2"),
    ("selected_after", N_("after"), "2"),
    ("selected_change", N_("change"), "2"),
    ("other_villages", N_("other villages"), "int"),
    ("other_before", N_("before"), "2"),
    ("other_after", N_("after"), "2"),
    ("other_change", N_("change"), "2"),
    ("difference_in_differences", N_("difference"), "2"),
)


@programs.command("change")
@click.argument("program_id")
@click.option("--workspace", "-w", required=True, help="Workspace.")
@click.option("--profile", required=True, help="The scoring profile whose runs are compared.")
@click.option("--baseline", required=True, type=click.IntRange(1), help="Baseline run number.")
@click.option("--followup", type=click.IntRange(1), help="Follow-up run number (the latest run).")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
@handles_errors
def change(
    program_id: str,
    workspace: str,
    profile: str,
    baseline: int,
    followup: int | None,
    as_json: bool,
) -> None:
    """Compare the program's villages with the others between two score runs.

    For the score and each indicator: the mean over the program's villages (assigned, not
    dropped) and over the other villages at the baseline and the follow-up run, each
    group's change, and the difference of the changes. This describes what changed; it
    does not prove the program caused it.

    \b
    Examples:
      geoapp programs change P-01 -w merangin --profile health_access --baseline 1
      geoapp programs change P-01 -w merangin --profile health_access --baseline 1 \\
        --followup 3 --json
    """
    from geoapp.views.programs_edit import program_change

    s = state()
    data = program_change(
        s.store(), workspace, program_id, profile=profile, baseline=baseline, followup=followup
    )
    if as_json:
        echo_json(data)
        return
    click.echo(
        s._(
            N_(
                "Program %(program)s: %(count)s villages; runs %(baseline)s and %(followup)s "
                "of profile %(profile)s"
            ),
            program=program_id,
            count=len(data["selected"]),
            baseline=data["baseline"],
            followup=data["followup"],
            profile=profile,
        )
    )
    click.echo(
        table(
            [s._(h) for _, h, _ in CHANGE_COLUMNS],
            [[_cell(r.get(c), k) for c, _, k in CHANGE_COLUMNS] for r in data["rows"]],
        )
    )
    click.echo(
        s._(
            N_(
                "Only villages in both runs with a value at both times count. This describes "
                "what changed; it does not prove the program caused it."
            )
        )
    )


# --- needs ---------------------------------------------------------------------------------


@click.group()
def needs() -> None:
    """Follow reported needs: verify them, link them to a program, close them.

    \b
    Examples:
      geoapp needs verify N-0012 -w merangin --by ani
      geoapp needs link N-0012 -w merangin --program P-01 --by ani
      geoapp needs close N-0012 -w merangin --by budi --note "Posyandu berjalan"
    """


def _need_step(action: str):
    def command(
        need_id: str,
        workspace: str,
        on: str | None,
        by: str,
        note: str,
        layer: str | None,
        program: str | None = None,
    ) -> None:
        from layers.programs.needs_status import record_need_action

        s = state()
        result = record_need_action(
            s.store(),
            workspace,
            need_id,
            action,
            on=on or date.today().isoformat(),
            by=by,
            note=note,
            program_id=program,
            layer=layer,
        )
        click.echo(result.render(s.translations.gettext))

    return command


def _need_options(func):
    for option in reversed(
        [
            click.argument("need_id"),
            click.option("--workspace", "-w", required=True, help="Workspace."),
            click.option("--date", "on", help="When, YYYY-MM-DD (today)."),
            click.option("--by", required=True, help="Who did it."),
            click.option("--note", default="", help="How or why."),
            click.option(
                "--layer",
                help="The needs layer the need is in (when several hold its id), e.g. needs_kobo.",
            ),
        ]
    ):
        func = option(func)
    return func


@needs.command("verify")
@_need_options
@handles_errors
def verify(
    need_id: str, workspace: str, on: str | None, by: str, note: str, layer: str | None
) -> None:
    """Record that a reported need was verified.

    \b
    Examples:
      geoapp needs verify N-0012 -w merangin --by ani
      geoapp needs verify N-0012 -w merangin --by ani --date 2025-03-02 --note "kunjungan"
      geoapp needs verify K-0007 -w merangin --by ani --layer needs_kobo
    """
    _need_step("verified")(need_id, workspace, on, by, note, layer)


@needs.command("link")
@_need_options
@click.option("--program", required=True, help="The program addressing the need.")
@handles_errors
def link(
    need_id: str,
    workspace: str,
    on: str | None,
    by: str,
    note: str,
    layer: str | None,
    program: str,
) -> None:
    """Link a reported need to the program that addresses it.

    \b
    Examples:
      geoapp needs link N-0012 -w merangin --program P-01 --by ani
      geoapp needs link M-0031 -w merangin --program P-01 --by ani --layer needs_musrenbang
    """
    _need_step("linked")(need_id, workspace, on, by, note, layer, program)


@needs.command("close")
@_need_options
@handles_errors
def close(
    need_id: str, workspace: str, on: str | None, by: str, note: str, layer: str | None
) -> None:
    """Close a reported need (addressed, or no longer relevant: say which in --note).

    \b
    Examples:
      geoapp needs close N-0012 -w merangin --by budi --note "Posyandu berjalan"
      geoapp needs close K-0007 -w merangin --by budi --layer needs_kobo
    """
    _need_step("closed")(need_id, workspace, on, by, note, layer)


# --- coverage ------------------------------------------------------------------------------

#: Printed columns of the service table: (column, header, kind).
SERVICE_COLUMNS = (
    ("area", N_("area"), "text"),
    ("type", N_("type"), "text"),
    ("standard_m", N_("standard (m)"), "int"),
    ("people", N_("people"), "int"),
    ("people_within", N_("within"), "int"),
    ("share_within", N_("share"), "share"),
    ("share_met", N_("target met"), "bool"),
    ("facilities", N_("facilities"), "int"),
    ("per_1000", N_("per 1,000"), "2"),
)
REACH_COLUMNS = (
    ("group", N_("group"), "text"),
    ("villages_targeted", N_("villages targeted"), "int"),
    ("villages_reached", N_("villages reached"), "int"),
    ("population_reached", N_("people in villages reached"), "int"),
    ("achieved_persons", N_("persons reached"), "int"),
    ("achieved_households", N_("households reached"), "int"),
    ("share_high_need_reached", N_("high-need reached"), "share"),
)


def _cell(value: Any, kind: str) -> str:
    if kind == "text":
        return "" if value is None or value != value else str(value)
    if kind == "share":
        return _share(value)
    if kind == "bool":
        return _yes_no(value)
    if kind == "int":
        return _number(value)
    return _number(value, int(kind))


@click.command()
@click.option("--workspace", "-w", required=True, help="Workspace.")
@click.option("--as-of", "as_of", required=True, help="The date the figures describe, YYYY-MM-DD.")
@click.option(
    "--level",
    default="kecamatan",
    show_default=True,
    type=click.Choice(["village", "kecamatan", "kabupaten"]),
    help="Areas of the service table.",
)
@click.option("--profile", help="Score runs of this profile give the high-need villages.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print as JSON (the service table of --level, the reach tables, the inputs).",
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the service table of --level to this CSV file.",
)
@handles_errors
def coverage(
    workspace: str,
    as_of: str,
    level: str,
    profile: str | None,
    as_json: bool,
    csv_path: Path | None,
) -> None:
    """Print service coverage and program reach: people within reach of each facility
    type against its target, and villages and people programs targeted and reached.

    \b
    Examples:
      geoapp coverage -w merangin --as-of 2025-06-30
      geoapp coverage -w merangin --as-of 2025-06-30 --level village --csv cakupan.csv
      geoapp coverage -w merangin --as-of 2025-12-31 --profile health_access --json
    """

    from layers.atomic import replacing
    from layers.coverage import coverage_json, coverage_table
    from layers.coverage.table import coverage_frame
    from layers.exports.data import write_table

    s = state()
    data = coverage_table(s.store(), workspace, as_of=as_of, profile=profile)
    if csv_path is not None:  # the same file as the coverage page's CSV download
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        with replacing(csv_path) as partial:
            write_table(coverage_frame(data, level), partial, "csv")
    if as_json:
        echo_json(coverage_json(data, [level]))
        return
    click.echo(
        s._(N_("Coverage of %(workspace)s on %(date)s"), workspace=workspace, date=data["as_of"])
    )
    if data["service"] is None:
        click.echo(s._(N_("No facilities layer: service coverage cannot be computed.")))
    else:
        click.echo("")
        click.echo(s._(N_("Service coverage by %(level)s"), level=s._(_LEVELS[level])))
        rows = data["service"][level].to_dict("records")
        click.echo(
            table(
                [s._(h) for _, h, _ in SERVICE_COLUMNS],
                [[_cell(r.get(c), k) for c, _, k in SERVICE_COLUMNS] for r in rows],
            )
        )
    reach = data["reach"]
    for key, title in (
        ("by_program", N_("Reach by program")),
        ("by_sector", N_("Reach by sector")),
        ("by_kecamatan", N_("Reach by kecamatan")),
    ):
        rows = reach[key]
        if not rows:
            continue
        click.echo("")
        click.echo(s._(title))
        click.echo(
            table(
                [s._(h) for _, h, _ in REACH_COLUMNS],
                [[_cell(r.get(c), k) for c, _, k in REACH_COLUMNS] for r in rows],
            )
        )
    rule = reach["high_need_rule"]
    if rule.get("rule") == "need_class":
        click.echo(
            s._(
                N_("High need: need classes 4-5 of %(run)s."),
                run=data["inputs"].get("score_run", ""),
            )
        )
    elif rule.get("rule") == "top_share":
        click.echo(
            s._(
                N_("High need: the top 20 %% of scores of %(run)s."),
                run=data["inputs"].get("score_run", ""),
            )
        )
    else:
        click.echo(s._(N_("No score run yet: high-need figures are left out.")))
    if reach["gaps"]:
        codes = ", ".join(g["kode"] for g in reach["gaps"][:10])
        click.echo(
            s._(
                N_("High-need villages without an active program: %(count)s (%(codes)s)"),
                count=len(reach["gaps"]),
                codes=codes,
            )
        )
    if reach["overlaps"]:
        click.echo(
            s._(
                N_("Villages with several programs of one sector: %(count)s"),
                count=len(reach["overlaps"]),
            )
        )


_LEVELS = {"village": N_("village"), "kecamatan": N_("kecamatan"), "kabupaten": N_("kabupaten")}
