"""``geoapp scenario``: run, list, show, compare, export and delete saved scenarios.

Thin front doors onto :mod:`layers.targeting.scenarios`: a placement scenario chooses the
villages that get a program within a budget and rules, a siting scenario chooses where new
facilities go; each is saved as a versioned record and can be compared and exported.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from geoapp.cli_common import echo_json, handles_errors, state, table
from geoapp.cli_score import _number
from layers.report import N_

#: Rows of the selected villages printed by ``run`` and ``show``.
SHOWN = 20
#: Options that only a placement or only a siting scenario takes.
PLACEMENT_OPTIONS = (
    "budget",
    "top_n",
    "cost",
    "benefit",
    "min_per_kecamatan",
    "max_per_kecamatan",
    "exclude",
    "must_include",
    "min_spacing_m",
    "add",
    "remove",
)
SITING_OPTIONS = ("model", "facility_type", "distance_m", "k", "candidates", "demand")
#: How a solver's status is printed.
STATUS_LABELS = {
    "optimal": N_("optimal (proven best)"),
    "time_limit": N_("stopped at the time limit"),
    "heuristic": N_("greedy (not proven best)"),
    "no_solution": N_("no solution found in time"),
}


@contextlib.contextmanager
def _solver_output_to_stderr() -> Iterator[None]:
    """Send what solvers print at C level (banners) to stderr, keeping stdout for results."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError, io.UnsupportedOperation):
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def read_codes(values: tuple[str, ...]) -> list[str]:
    """Village codes from ``--exclude``-like options: each a file or codes separated by commas.

    A file holds one code per line, or is a CSV table whose ``kode`` column (or first
    column) holds them; a first line naming the column is skipped.
    """
    codes: list[str] = []
    for value in values:
        path = Path(value)
        if not path.is_file():
            codes += [c for c in re.split(r"[\s,;]+", value) if c]
            continue
        text = path.read_text(encoding="utf-8-sig")
        first = text.splitlines()[0] if text.strip() else ""
        if re.search(r"[,;\t]", first) and re.search(r"kode|code", first, re.I):
            dialect = csv.Sniffer().sniff(first, delimiters=",;\t")
            rows = list(csv.reader(io.StringIO(text), dialect))
            header = [h.strip().lower() for h in rows[0]]
            named = [i for i, h in enumerate(header) if h in ("kode", "kode_desa", "code")]
            column = named[0] if named else 0
            codes += [r[column].strip() for r in rows[1:] if len(r) > column and r[column].strip()]
        else:
            words = [c for c in re.split(r"[\s,;]+", text) if c]
            if words and re.fullmatch(r"(?i)kode|kode_desa|code", words[0]):
                words = words[1:]
            codes += words
    return list(dict.fromkeys(codes))


def _money(value: Any) -> str:
    return "-" if value is None else _number(value, 0)


def _share(value: Any) -> str:
    return "-" if value is None else f"{_number(value * 100, 1)} %"


def _gap(value: Any) -> str:
    return state()._(N_("unknown")) if value is None else f"{_number(value * 100, 2)} %"


def _status(value: Any) -> str:
    label = STATUS_LABELS.get(value)
    return state()._(label) if label else str(value or "")


def _print_scenario(body: dict[str, Any], *, rows: int = SHOWN) -> None:
    """Headline numbers, the selected villages and the kecamatan of a saved scenario."""
    from layers.targeting.scenarios import scenario_villages

    s = state()
    summary = body.get("summary") or {}
    kind = s._(N_("placement")) if body.get("kind") == "placement" else s._(N_("siting"))
    click.echo(
        s._(
            N_("Scenario %(name)s (%(ref)s): %(kind)s, profile %(profile)s, %(title)s."),
            name=body["name"],
            ref=body.get("ref", ""),
            kind=kind,
            profile=body.get("profile"),
            title=body.get("title"),
        )
    )
    if body.get("kind") == "siting":
        settings = body.get("settings") or {}
        click.echo(
            s._(
                N_(
                    "New %(type)s sites: %(sites)s in %(villages)s villages; people newly "
                    "reached within %(distance)s m: %(people)s (in need: %(need)s)."
                ),
                type=settings.get("facility_type"),
                sites=_number(summary.get("new_sites") or 0, 0),
                villages=_number(summary.get("villages_selected") or 0, 0),
                distance=_number(settings.get("distance_m") or 0, 0),
                people=_number(summary.get("people_reached") or 0, 0),
                need=_number(summary.get("people_in_need_reached") or 0, 0),
            )
        )
    else:
        click.echo(
            s._(
                N_(
                    "Villages selected: %(villages)s; people reached: %(people)s (in need: "
                    "%(need)s)."
                ),
                villages=_number(summary.get("villages_selected") or 0, 0),
                people=_number(summary.get("people_reached") or 0, 0),
                need=_number(summary.get("people_in_need_reached") or 0, 0),
            )
        )
        if summary.get("budget") is not None:
            click.echo(
                s._(
                    N_("Cost: %(cost)s of a budget of %(budget)s (%(share)s)."),
                    cost=_money(summary.get("cost")),
                    budget=_money(summary.get("budget")),
                    share=_share(summary.get("budget_share")),
                )
            )
        elif summary.get("cost") is not None:
            click.echo(s._(N_("Cost: %(cost)s."), cost=_money(summary.get("cost"))))
    click.echo(
        s._(
            N_("Solver %(solver)s: %(status)s, gap %(gap)s."),
            solver=summary.get("solver"),
            status=_status(summary.get("status")),
            gap=_gap(summary.get("gap")),
        )
    )
    store = s.store()
    frame = scenario_villages(
        store, _workspace_of(body), body, gettext=s.translations.gettext, lang=s.lang
    )
    frame_rows = []
    for r in frame.head(rows).itertuples(index=False):
        frame_rows.append(
            [
                r.rank,
                r.kode,
                r.name or "",
                r.kecamatan or "",
                _number(r.score),
                _number(r.benefit),
                ""
                if r.cost is None or (isinstance(r.cost, float) and math.isnan(r.cost))
                else _money(r.cost),
                "-" if r.people_reached is None else _number(r.people_reached, 0),
                r.reason,
            ]
        )
    if frame_rows:
        click.echo("")
        headers = [s._(N_("rank")), s._(N_("code")), s._(N_("village")), s._(N_("kecamatan"))]
        headers += [s._(N_("score")), s._(N_("benefit")), s._(N_("cost"))]
        headers += [s._(N_("people")), s._(N_("why"))]
        click.echo(table(headers, frame_rows))
    if len(frame) > rows:
        click.echo(
            s._(
                N_("... and %(count)s more; all of them: geoapp scenario export %(name)s FILE"),
                count=_number(len(frame) - rows, 0),
                name=body["name"],
            )
        )
    kecamatan = [r for r in summary.get("by_kecamatan") or [] if r.get("selected")]
    if kecamatan:
        click.echo("")
        headers = [s._(N_("kecamatan")), s._(N_("selected")), s._(N_("people"))]
        if body.get("kind") == "placement" and summary.get("cost") is not None:
            headers.append(s._(N_("cost")))
        out = []
        for r in kecamatan:
            row = [
                f"{r.get('kecamatan') or ''} ({r['kecamatan_kode']})",
                _number(r["selected"], 0),
                _number(r.get("people_reached") or 0, 0),
            ]
            if len(headers) == 4:
                row.append(_money(r.get("cost")))
            out.append(row)
        click.echo(table(headers, out))
    notes = list((body.get("result") or {}).get("notes") or []) + list(summary.get("notes") or [])
    for note in notes:
        click.echo(s._(N_("Note: %(message)s"), message=note.get("message", "")))


def _workspace_of(body: dict[str, Any]) -> str:
    return body["ref"].split("/", 1)[0]


# --- the group -------------------------------------------------------------------------------


@click.group()
def scenario() -> None:
    """Run, list, show, compare, export and delete scenarios.

    A placement scenario chooses the villages that get a program (the most benefit within
    a budget and the agreed rules); a siting scenario chooses where new facilities of a
    type go (most people within the standard distance, fewest sites to reach everyone, or
    the shortest distances). Each is saved in the workspace under a name; saving again
    makes a new version.

    \b
    Examples:
      geoapp scenario run posyandu-2025 -w merangin --kind placement -p health_access \\
        --budget 2000000000 --cost per_person:25000 --max-per-kecamatan 3
      geoapp scenario run posyandu-baru -w merangin --kind siting -p health_access \\
        --model mclp --type posyandu -k 10
      geoapp scenario list -w merangin
      geoapp scenario compare posyandu-2025 posyandu-hemat -w merangin
      geoapp scenario export posyandu-2025 desa_terpilih.xlsx -w merangin
    """


@scenario.command("run")
@click.argument("name")
@click.option("--workspace", "-w", required=True, help="Workspace.")
@click.option(
    "--kind",
    type=click.Choice(("placement", "siting")),
    required=True,
    help="placement: which villages get a program; siting: where new facilities go.",
)
@click.option("--profile", "-p", required=True, help="Scoring profile (its latest run is used).")
@click.option("--budget", type=float, help="Placement: most the selection may cost.")
@click.option("--top-n", type=click.IntRange(1), help="Placement: most villages to choose.")
@click.option(
    "--cost",
    help="Placement: cost per village: a number, per_person:RATE, per_household:RATE or a column.",
)
@click.option(
    "--benefit",
    help="Placement: score_x_people (default), people_in_need or a numeric column.",
)
@click.option(
    "--min-per-kecamatan", type=click.IntRange(1), help="Placement: at least N per kecamatan."
)
@click.option(
    "--max-per-kecamatan", type=click.IntRange(0), help="Placement: at most N per kecamatan."
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="FILE|CODES",
    help="Placement: villages that cannot be chosen: a file of codes or codes separated by commas.",
)
@click.option(
    "--must-include",
    multiple=True,
    metavar="FILE|CODES",
    help="Placement: villages that are always chosen (file or codes).",
)
@click.option(
    "--min-spacing-m",
    type=click.FloatRange(min=0, min_open=True),
    help="Placement: no two chosen villages closer than this many metres.",
)
@click.option(
    "--add", multiple=True, metavar="FILE|CODES", help="Placement: add villages after solving."
)
@click.option(
    "--remove",
    multiple=True,
    metavar="FILE|CODES",
    help="Placement: remove villages after solving.",
)
@click.option(
    "--model",
    type=click.Choice(("mclp", "lscp", "pmedian")),
    help="Siting: mclp (most people within reach of k sites, default), lscp (fewest sites "
    "reaching everyone), pmedian (k sites, shortest distances).",
)
@click.option("--type", "facility_type", help="Siting: facility type to place (e.g. posyandu).")
@click.option(
    "--distance-m",
    type=click.FloatRange(min=0, min_open=True),
    help="Siting: reach in metres (default: the type's standard distance).",
)
@click.option("-k", "k", type=click.IntRange(1), help="Siting: number of new sites.")
@click.option(
    "--candidates",
    help=(
        "Siting: where sites may go: villages (default), grid:SPACING_M, or layer:DATASET "
        "(the points of a facilities or needs dataset of the workspace)."
    ),
)
@click.option(
    "--demand",
    type=click.Choice(("villages", "raster")),
    help="Siting: people as one point per village (default) or per populated raster cell.",
)
@click.option(
    "--weight-by-score",
    is_flag=True,
    help="Siting: count each person by the village's score / 100.",
)
@click.option(
    "--time-limit", type=click.FloatRange(min=0, min_open=True), help="Seconds for the solver."
)
@click.option("--solver", type=click.Choice(("highs", "cbc", "greedy")), help="Solver (highs).")
@click.option("--title", help="Title of the scenario (default: its name).")
@click.option("--author", help="Who runs it (kept with the scenario).")
@click.option("--note", default="", help="Why (kept with this version).")
@click.option(
    "--expected-version",
    type=click.IntRange(0),
    help="Refuse if the scenario is no longer at this version (0: it must be new).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the saved scenario as JSON.")
@handles_errors
def run(
    name: str,
    workspace: str,
    kind: str,
    profile: str,
    title: str | None,
    author: str | None,
    note: str,
    expected_version: int | None,
    time_limit: float | None,
    solver: str | None,
    as_json: bool,
    **options: Any,
) -> None:
    """Run a scenario and save it under NAME (a new version when NAME exists).

    \b
    Examples:
      geoapp scenario run posyandu-2025 -w merangin --kind placement -p health_access \\
        --budget 2000000000 --cost per_person:25000 --min-per-kecamatan 1 \\
        --max-per-kecamatan 3 --exclude pkh_desa.csv --min-spacing-m 5000
      geoapp scenario run top-20 -w merangin --kind placement -p health_access --top-n 20
      geoapp scenario run posyandu-baru -w merangin --kind siting -p health_access \\
        --model mclp --type posyandu -k 10 --demand raster --weight-by-score
      geoapp scenario run air-semua -w merangin --kind siting -p water_sanitation \\
        --model lscp --type water_point --candidates grid:1000 --json
    """
    from layers.targeting.scenarios import run_scenario

    s = state()
    wrong = SITING_OPTIONS if kind == "placement" else PLACEMENT_OPTIONS
    given = [o for o in wrong if options.get(o) not in (None, (), "")]
    if kind == "placement" and options.get("weight_by_score"):
        given.append("weight_by_score")
    if given:
        flag = "--" + given[0].replace("_", "-") if given[0] != "k" else "-k"
        if given[0] == "facility_type":
            flag = "--type"
        raise click.UsageError(
            s._(N_("%(option)s is not an option of a %(kind)s scenario"), option=flag, kind=kind)
        )
    settings: dict[str, Any] = {}
    if kind == "placement":
        for key in ("budget", "top_n", "cost", "benefit", "add", "remove"):
            value = options.get(key)
            if isinstance(value, tuple):
                value = read_codes(value)
            if value not in (None, []):
                settings[key] = value
        rules: dict[str, Any] = {}
        for key in ("min_per_kecamatan", "max_per_kecamatan", "min_spacing_m"):
            if options.get(key) is not None:
                rules[key] = options[key]
        for key in ("exclude", "must_include"):
            codes = read_codes(options.get(key) or ())
            if codes:
                rules[key] = codes
        if rules:
            settings["rules"] = rules
    else:
        for key in SITING_OPTIONS:
            if options.get(key) is not None:
                settings[key] = options[key]
        if options.get("weight_by_score"):
            settings["weight_by_score"] = True
    if time_limit is not None:
        settings["time_limit"] = time_limit
    if solver is not None:
        settings["solver"] = solver
    with _solver_output_to_stderr():
        body = run_scenario(
            s.store(),
            workspace,
            name,
            kind=kind,
            profile=profile,
            settings=settings,
            title=title,
            author=author,
            note=note,
            expected_version=expected_version,
        )
    if as_json:
        echo_json(body)
        return
    click.echo(s._(N_("Saved scenario %(ref)s."), ref=body["ref"]))
    _print_scenario(body)


@scenario.command("list")
@click.option("--workspace", "-w", required=True, help="Workspace.")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@handles_errors
def list_(workspace: str, as_json: bool) -> None:
    """List the saved scenarios of a workspace, newest first.

    \b
    Examples:
      geoapp scenario list -w merangin
      geoapp --lang id scenario list -w merangin --json
    """
    from geoapp.cli_common import local_time
    from layers.targeting.scenarios import list_scenarios

    s = state()
    items = list_scenarios(s.store(), workspace)
    if as_json:
        echo_json(items)
        return
    if not items:
        click.echo(s._(N_("No scenarios yet. Run one with: geoapp scenario run NAME ...")))
        return
    from datetime import datetime

    timezone = s.app().config["TIMEZONE"]
    headers = [s._(N_("name")), s._(N_("title")), s._(N_("kind")), s._(N_("profile"))]
    headers += [s._(N_("version")), s._(N_("by")), s._(N_("saved at")), s._(N_("villages"))]
    headers += [s._(N_("people reached")), s._(N_("cost")), s._(N_("budget share"))]
    rows = []
    for item in items:
        kind = s._(N_("placement")) if item["kind"] == "placement" else s._(N_("siting"))
        rows.append(
            [
                item["name"],
                item["title"],
                kind,
                item["profile"],
                item["version"],
                item.get("author") or "",
                local_time(datetime.fromisoformat(item["created_at"]), timezone),
                _number(item.get("villages_selected") or 0, 0),
                _number(item.get("people_reached") or 0, 0),
                _money(item.get("cost")),
                _share(item.get("budget_share")),
            ]
        )
    click.echo(table(headers, rows))


@scenario.command("show")
@click.argument("name")
@click.option("--workspace", "-w", required=True, help="Workspace.")
@click.option("--version", "version", type=click.IntRange(1), help="Version (latest).")
@click.option("--json", "as_json", is_flag=True, help="Print the scenario as JSON.")
@handles_errors
def show(name: str, workspace: str, version: int | None, as_json: bool) -> None:
    """Print a saved scenario: headline numbers, selected villages with reasons, kecamatan.

    \b
    Examples:
      geoapp scenario show posyandu-2025 -w merangin
      geoapp scenario show posyandu-2025 -w merangin --version 1 --json
    """
    from layers.targeting.scenarios import load_scenario

    body = load_scenario(state().store(), workspace, name, version)
    if as_json:
        echo_json(body)
        return
    _print_scenario(body)


@scenario.command("compare")
@click.argument("names", nargs=-1, required=True)
@click.option("--workspace", "-w", required=True, help="Workspace.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@handles_errors
def compare(names: tuple[str, ...], workspace: str, as_json: bool) -> None:
    """Compare two or more saved scenarios side by side.

    Prints the headline numbers of each, the villages chosen per kecamatan, and the
    villages that only some of them choose.

    \b
    Examples:
      geoapp scenario compare posyandu-2025 posyandu-hemat -w merangin
      geoapp scenario compare a b c -w merangin --json
    """
    from layers.targeting.scenarios import compare_scenarios

    s = state()
    result = compare_scenarios(s.store(), workspace, list(names))
    if as_json:
        echo_json(result)
        return
    rows_by = result["scenarios"]
    labels = [
        (
            N_("kind"),
            lambda r: s._(N_("placement")) if r["kind"] == "placement" else s._(N_("siting")),
        ),
        (N_("profile"), lambda r: r["profile"]),
        (N_("version"), lambda r: r["version"]),
        (N_("villages"), lambda r: _number(r.get("villages_selected") or 0, 0)),
        (
            N_("new sites"),
            lambda r: "-" if r.get("new_sites") is None else _number(r["new_sites"], 0),
        ),
        (N_("people reached"), lambda r: _number(r.get("people_reached") or 0, 0)),
        (N_("people in need reached"), lambda r: _number(r.get("people_in_need_reached") or 0, 0)),
        (N_("cost"), lambda r: _money(r.get("cost"))),
        (N_("budget"), lambda r: _money(r.get("budget"))),
        (N_("budget share"), lambda r: _share(r.get("budget_share"))),
        (N_("status"), lambda r: _status(r.get("status"))),
        (N_("gap"), lambda r: _gap(r.get("gap"))),
    ]
    headers = [""] + [r["name"] for r in rows_by]
    click.echo(table(headers, [[s._(label)] + [f(r) for r in rows_by] for label, f in labels]))
    if result["kecamatan"]:
        click.echo("")
        headers = [s._(N_("kecamatan"))] + [r["name"] for r in rows_by]
        click.echo(
            table(
                headers,
                (
                    [f"{k.get('kecamatan') or ''} ({k['kecamatan_kode']})"]
                    + [_number(k["selected"][n], 0) for n in names]
                    for k in result["kecamatan"]
                ),
            )
        )
    click.echo("")
    click.echo(
        s._(
            N_("%(same)s villages are in every scenario; %(count)s are in only some of them."),
            same=_number(result["same"], 0),
            count=_number(len(result["differences"]), 0),
        )
    )
    if result["differences"]:
        headers = [s._(N_("code")), s._(N_("village")), s._(N_("kecamatan")), s._(N_("in"))]
        click.echo(
            table(
                headers,
                (
                    [d["kode"], d.get("name") or "", d.get("kecamatan") or "", ", ".join(d["in"])]
                    for d in result["differences"]
                ),
            )
        )


@scenario.command("export")
@click.argument("name")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@click.option("--workspace", "-w", required=True, help="Workspace.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("csv", "xlsx")),
    help="File format (default: from FILE's extension, else csv).",
)
@handles_errors
def export(name: str, file: str, workspace: str, fmt: str | None) -> None:
    """Write a scenario's selected villages (or new sites) with reasons to CSV or XLSX.

    The file is written whole or not at all. CSV is UTF-8 with a byte order mark (Excel
    reads it); XLSX keeps codes as text and adds a "settings" sheet with the settings
    and data versions.

    \b
    Examples:
      geoapp scenario export posyandu-2025 desa_terpilih.xlsx -w merangin
      geoapp --lang id scenario export posyandu-2025 desa_terpilih.csv -w merangin
      geoapp scenario export posyandu-baru lokasi.txt -w merangin --format csv
    """
    from layers.targeting.scenarios import export_scenario

    s = state()
    path = Path(file)
    fmt = fmt or ("xlsx" if path.suffix.lower() == ".xlsx" else "csv")
    export_scenario(
        s.store(),
        workspace,
        name,
        path,
        fmt,
        gettext=s.translations.gettext,
        lang=s.lang,
    )
    click.echo(s._(N_("Wrote %(file)s."), file=str(path)))


@scenario.command("delete")
@click.argument("name")
@click.option("--workspace", "-w", required=True, help="Workspace.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@handles_errors
def delete(name: str, workspace: str, yes: bool) -> None:
    """Delete a saved scenario with all its versions.

    \b
    Examples:
      geoapp scenario delete uji-coba -w merangin
      geoapp scenario delete uji-coba -w merangin --yes
    """
    from layers.targeting.scenarios import delete_scenario, load_scenario

    s = state()
    store = s.store()
    body = load_scenario(store, workspace, name)
    if not yes:
        click.confirm(
            s._(
                N_("Delete scenario %(name)s and its %(count)s versions?"),
                name=name,
                count=body["version"],
            ),
            abort=True,
        )
    delete_scenario(store, workspace, name)
    click.echo(s._(N_("Deleted scenario %(name)s."), name=name))
