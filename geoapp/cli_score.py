"""``geoapp score`` and ``geoapp profiles``: scoring villages and managing scoring profiles.

Thin front doors onto :mod:`layers.score_run` (runs, saved profiles) and
:mod:`layers.profiles` (built-in profiles, JSON form).
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import Any

import click

from geoapp.cli_common import EXIT_REJECTED, echo_json, handles_errors, state, table
from layers.report import N_


def _standards(values: tuple[str, ...]) -> dict[str, float] | None:
    if not values:
        return None
    from layers.indicators import DEFAULT_STANDARDS_M

    out = dict(DEFAULT_STANDARDS_M)
    for item in values:
        kind, _, metres = item.partition("=")
        try:
            out[kind.strip()] = float(metres)
        except ValueError:
            raise click.BadParameter(
                state()._(
                    N_("expected TYPE=METRES, e.g. puskesmas=5000, not %(value)r"), value=item
                ),
                param_hint="--standard",
            ) from None
    return out


def _number(value: float, decimals: int = 1) -> str:
    """``value`` in the output language's number format (Babel: 1.234,5 in Indonesian)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=state().lang)


def _value(raw: float, unit: str) -> str:
    """A raw indicator value with its unit, in the output language's number format."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return "-"
    if unit == "m":
        return f"{_number(raw / 1000, 1)} km"
    if unit == "share":
        return f"{_number(raw * 100, 0)} %"
    if unit in ("count", "people"):
        return _number(raw, 0)
    return _number(raw, 2)


def _reasons(run: Any, reasons: list[tuple[str, float, float]]) -> str:
    gettext = state().translations.gettext
    labels = run.indicators.labels(gettext)
    units = run.indicators.catalogue.set_index("id")["unit"]
    parts = []
    for indicator, raw, points in reasons:
        value = _value(raw, str(units.get(indicator, "")))
        parts.append(f"{labels.get(indicator, indicator)}: {value} (+{_number(points)})")
    return "; ".join(parts)


@click.command()
@click.option("--workspace", "-w", required=True, help="Workspace to score.")
@click.option("--profile", "-p", required=True, help="Scoring profile (saved or built in).")
@click.option("--profile-version", type=int, help="Version of a saved profile (latest).")
@click.option(
    "--top", default=10, show_default=True, type=click.IntRange(1), help="Villages to show."
)
@click.option("--as-of", help="Reference date of the needs, YYYY-MM-DD (today).")
@click.option("--half-life", type=click.FloatRange(min=0, min_open=True), help="Needs decay, days.")
@click.option(
    "--standard",
    multiple=True,
    metavar="TYPE=METRES",
    help="Standard distance for a facility type (repeatable; defaults in docs/indicators.md).",
)
@click.option(
    "--sensitivity",
    "check_weights",
    is_flag=True,
    help="Also perturb the weights (seeded Monte Carlo) and flag rankings that depend on them.",
)
@click.option("--runs", default=500, show_default=True, type=click.IntRange(1), help="Draws.")
@click.option(
    "--spread",
    default=0.2,
    show_default=True,
    type=click.FloatRange(0, 0.9),
    help="Each weight varies by up to this share (0.2 = +/-20%).",
)
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0), help="Random seed.")
@click.option("--no-save", is_flag=True, help="Compute and print only; store nothing.")
@click.option("--user", help="Who runs it (kept with the run).")
@click.option("--note", default="", help="Why (kept with the run).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@handles_errors
def score(
    workspace: str,
    profile: str,
    profile_version: int | None,
    top: int,
    as_of: str | None,
    half_life: float | None,
    standard: tuple[str, ...],
    check_weights: bool,
    runs: int,
    spread: float,
    seed: int,
    no_save: bool,
    user: str | None,
    note: str,
    as_json: bool,
) -> None:
    """Score every village of a workspace and print the most underserved with reasons.

    The run (profile, dataset versions, settings, software version) and its table of
    scores and indicators are saved in the workspace, unless --no-save.

    \b
    Examples:
      geoapp score -w merangin -p health_access
      geoapp score -w merangin -p kesehatan_2025 --top 20 --half-life 180 --sensitivity
      geoapp score -w merangin -p education --standard sd=2000 --as-of 2025-06-30 --json
    """
    from layers.indicators import IndicatorSettings
    from layers.score_run import run_score, settings_from_dict

    s = state()
    settings = settings_from_dict({"as_of": as_of}) if as_of else IndicatorSettings()
    changes: dict[str, Any] = {}
    if half_life is not None:
        changes["half_life_days"] = half_life
    standards = _standards(standard)
    if standards is not None:
        changes["standards_m"] = standards
    if changes:
        settings = dataclasses.replace(settings, **changes)
    run = run_score(
        s.store(),
        workspace,
        profile,
        settings=settings,
        profile_version=profile_version,
        sensitivity={"runs": runs, "spread": spread, "top_n": top, "seed": seed}
        if check_weights
        else None,
        user=user,
        note=note,
        save=not no_save,
    )
    best = run.top(top)
    checked = run.sensitivity.results if run.sensitivity is not None else None
    gettext = s.translations.gettext
    class_names = run.score.class_labels(gettext)
    if as_json:
        body = run.to_record()
        body["run"] = run.ref
        body["top"] = [
            {
                "rank": int(r.rank),
                "kode": r.kode,
                "name": r.name,
                "kecamatan": r.kecamatan,
                "score": float(r.score),
                "need_class": int(r.need_class),
                "class": class_names.get(int(r.need_class), ""),
                **(
                    {
                        "rank_p05": int(checked.at[r.kode, "rank_p05"]),
                        "rank_p95": int(checked.at[r.kode, "rank_p95"]),
                        "share_top_n": float(checked.at[r.kode, "share_top_n"]),
                        "fragile": bool(checked.at[r.kode, "fragile"]),
                    }
                    if checked is not None
                    else {}
                ),
                "reasons": [
                    {"indicator": i, "value": None if math.isnan(v) else v, "points": p}
                    for i, v, p in r.reasons
                ],
            }
            for r in best.itertuples()
        ]
        echo_json(body)
        return
    summary = run.to_record()["summary"]
    click.echo(
        s._(
            N_(
                "Profile %(profile)s (%(ref)s), as of %(as_of)s: %(scored)s of %(villages)s "
                "villages scored."
            ),
            profile=run.profile.name,
            ref=run.profile_ref,
            as_of=run.settings.as_of.isoformat(),
            scored=_number(summary["scored"], 0),
            villages=_number(summary["villages"], 0),
        )
    )
    if run.ref:
        click.echo(s._(N_("Saved as run %(ref)s."), ref=run.ref))
    headers = [s._(N_("rank")), s._(N_("code")), s._(N_("village")), s._(N_("kecamatan"))]
    headers += [s._(N_("score")), s._(N_("need class"))]
    if checked is not None:
        headers += [s._(N_("rank 5-95%")), s._(N_("in top %(n)s"), n=top)]
    headers.append(s._(N_("main reasons")))
    rows = []
    for r in best.itertuples():
        row = [int(r.rank), r.kode, r.name, r.kecamatan, _number(r.score)]
        row.append(class_names.get(int(r.need_class), ""))
        if checked is not None:
            c = checked.loc[r.kode]
            share = f"{_number(c['share_top_n'] * 100, 0)} %"
            if c["fragile"]:
                share += " " + s._(N_("(depends on weights)"))
            row += [f"{int(c['rank_p05'])}-{int(c['rank_p95'])}", share]
        row.append(_reasons(run, r.reasons))
        rows.append(row)
    click.echo(table(headers, rows))
    if checked is not None:
        summary = run.sensitivity.summary
        click.echo(
            s._(
                N_(
                    "Weights varied by up to %(spread)s %% in %(runs)s draws (seed %(seed)s): "
                    "for %(fragile)s villages, being in the top %(n)s depends on the weights."
                ),
                spread=_number(spread * 100, 0),
                runs=runs,
                seed=seed,
                fragile=summary["fragile"],
                n=top,
            )
        )


# --- profiles ------------------------------------------------------------------------------


@click.group()
def profiles() -> None:
    """List, show, export, import and copy scoring profiles.

    \b
    Examples:
      geoapp profiles list -w merangin
      geoapp profiles copy health_access kesehatan_2025 -w merangin --note "Musrenbang"
      geoapp profiles export kesehatan_2025 -w merangin -o kesehatan_2025.json
      geoapp profiles import kesehatan_2025.json -w merangin --expected-version 1
    """


@profiles.command("list")
@click.option("--workspace", "-w", required=True, help="Workspace.")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@handles_errors
def list_(workspace: str, as_json: bool) -> None:
    """List the profiles a workspace can use (saved ones first, then built-in ones)."""
    from layers.score_run import list_profiles

    s = state()
    entries = list_profiles(s.store(), workspace)
    if as_json:
        echo_json([e.__dict__ for e in entries])
        return
    source = {"saved": s._(N_("saved")), "builtin": s._(N_("built in"))}
    headers = [s._(N_("name")), s._(N_("title")), s._(N_("source")), s._(N_("version"))]
    headers += [s._(N_("by")), s._(N_("note"))]
    rows = []
    for e in entries:
        title = s._(e.title) if e.source == "builtin" else e.title
        rows.append([e.name, title, source[e.source], e.version or "", e.created_by or "", e.note])
    click.echo(table(headers, rows))


@profiles.command("show")
@click.argument("name")
@click.option("--workspace", "-w", required=True, help="Workspace.")
@click.option("--version", "version", type=int, help="Version of a saved profile (latest).")
@handles_errors
def show(name: str, workspace: str, version: int | None) -> None:
    """Print a profile as JSON (the form ``profiles import`` reads)."""
    from layers.score_run import load_profile

    profile, _ref = load_profile(state().store(), workspace, name, version)
    echo_json(profile.to_dict())


@profiles.command("export")
@click.argument("name")
@click.option("--workspace", "-w", required=True, help="Workspace.")
@click.option("--version", "version", type=int, help="Version of a saved profile (latest).")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, writable=True), help="File (stdout)."
)
@handles_errors
def export(name: str, workspace: str, version: int | None, output: str | None) -> None:
    """Write a profile as JSON to a file, to share it or edit it."""
    from layers.score_run import load_profile

    s = state()
    profile, _ref = load_profile(s.store(), workspace, name, version)
    text = json.dumps(profile.to_dict(), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    path = Path(output)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)  # never a half-written file
    click.echo(s._(N_("Wrote %(file)s."), file=str(path)))


@profiles.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--workspace", "-w", required=True, help="Workspace.")
@click.option("--name", help="Save under this name instead of the one in the file.")
@click.option("--user", help="Who agreed or saved it.")
@click.option("--note", default="", help="Why: e.g. the meeting that agreed the weights.")
@click.option(
    "--expected-version",
    type=int,
    help="Refuse if the saved profile is no longer at this version (someone changed it).",
)
@handles_errors
def import_profile(
    file: str,
    workspace: str,
    name: str | None,
    user: str | None,
    note: str,
    expected_version: int | None,
) -> None:
    """Save a profile from a JSON file as a new version in the workspace."""
    from layers.errors import InputError
    from layers.profiles import ScoringProfile
    from layers.score_run import save_profile

    s = state()
    try:
        data = json.loads(Path(file).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        raise InputError(
            N_("not a JSON profile: %(reason)s"), file=file, row=line, params={"reason": str(exc)}
        ) from None
    try:
        profile = ScoringProfile.from_dict(data)
    except InputError as exc:
        exc.file = file
        raise
    if name:
        profile = profile.copy(name=name)
    rec = save_profile(
        s.store(), workspace, profile, user=user, note=note, expected_version=expected_version
    )
    click.echo(s._(N_("Saved profile %(ref)s."), ref=rec.ref))


@profiles.command("copy")
@click.argument("source")
@click.argument("name")
@click.option("--workspace", "-w", required=True, help="Workspace.")
@click.option("--title", help="Title of the copy.")
@click.option("--user", help="Who made the copy.")
@click.option("--note", default="", help="Why.")
@handles_errors
def copy(
    source: str, name: str, workspace: str, title: str | None, user: str | None, note: str
) -> None:
    """Copy a profile (e.g. a built-in one) under a new name, to edit it."""
    from layers.score_run import load_profile, save_profile

    s = state()
    profile, _ref = load_profile(s.store(), workspace, source)
    changes = {"title": title} if title else {}
    rec = save_profile(
        s.store(), workspace, profile.copy(name=name, **changes), user=user, note=note
    )
    click.echo(s._(N_("Saved profile %(ref)s."), ref=rec.ref))


@click.command()
@click.option("--workspace", "-w", required=True, help="Workspace.")
@click.option("--profile", "-p", required=True, help="Profile of the score run.")
@click.option("--run", "run_number", type=int, help="Run number (latest).")
@click.option(
    "--permutations",
    default=999,
    show_default=True,
    type=click.IntRange(0),
    help="Permutations per village (0: normal approximation, much faster).",
)
@click.option("--alpha", default=0.05, show_default=True, type=click.FloatRange(0, 1))
@click.option("--no-fdr", is_flag=True, help="Do not correct for testing every village.")
@click.option("--seed", default=20240917, show_default=True, type=click.IntRange(0))
@click.option("--top", default=10, show_default=True, type=click.IntRange(0), help="Villages.")
@click.option("--json", "as_json", is_flag=True, help="Print every village as JSON.")
@handles_errors
def hotspots(
    workspace: str,
    profile: str,
    run_number: int | None,
    permutations: int,
    alpha: float,
    no_fdr: bool,
    seed: int,
    top: int,
    as_json: bool,
) -> None:
    """Find clusters of high need (hot spots) in a saved score run.

    Getis-Ord Gi* and local Moran's I over neighbouring villages (islands get their
    nearest villages), with permutation p-values corrected for testing every village.

    \b
    Examples:
      geoapp hotspots -w merangin -p health_access
      geoapp hotspots -w merangin -p health_access --run 3 --permutations 0 --json
    """
    from layers.hotspots import LABELS
    from layers.score_run import run_hotspots

    s = state()
    result = run_hotspots(
        s.store(),
        workspace,
        profile,
        run_number,
        permutations=permutations,
        alpha=alpha,
        fdr=not no_fdr,
        seed=seed,
    )
    frame = result.result
    if as_json:
        echo_json(
            [
                {"kode": k, **{c: _plain(v) for c, v in row.items()}}
                for k, row in frame.to_dict(orient="index").items()
            ]
        )
        return
    counts = result.counts()
    headers = [s._(N_("class")), s._(N_("villages"))]
    click.echo(table(headers, [[s._(LABELS[k]), _number(v, 0)] for k, v in counts.items()]))
    high = frame[frame["label"] == "high_cluster"].sort_values("gi_z", ascending=False)
    if top and len(high):
        names = result.villages.set_index("kode")["name"]
        click.echo("")
        click.echo(s._(N_("Villages at the heart of high-need clusters:")))
        headers = [s._(N_("code")), s._(N_("village")), s._(N_("score")), "Gi* z"]
        rows = [
            [k, names.get(k, ""), _number(r["value"]), _number(r["gi_z"], 2)]
            for k, r in high.head(top).iterrows()
        ]
        click.echo(table(headers, rows))


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


@click.command()
@click.option("--workspace", "-w", required=True, help="Workspace.")
@click.option("--profile", "-p", required=True, help="Profile of the score run.")
@click.option("--run", "run_number", type=int, help="Run number (latest).")
@handles_errors
def rerun(workspace: str, profile: str, run_number: int | None) -> None:
    """Compute a saved score run again from the same data versions and check the numbers.

    Reads exactly the dataset versions, profile and settings the run recorded (later
    imports do not change it) and compares scores and ranks with the saved ones. Exit
    status 0 when they are the same, 2 when they differ.

    \b
    Examples:
      geoapp rerun -w merangin -p health_access
      geoapp rerun -w merangin -p kesehatan_2025 --run 2
    """
    from layers.score_run import rerun as rerun_run

    s = state()
    check = rerun_run(s.store(), workspace, profile, run_number)
    ref = f"{workspace}/score_runs/{profile}" + (f"@{run_number}" if run_number else "")
    if check.same:
        click.echo(s._(N_("%(ref)s computed again: the same scores and ranks."), ref=ref))
        return
    click.echo(
        s._(
            N_(
                "%(ref)s computed again: scores differ by up to %(difference)s points and "
                "%(changes)s ranks changed."
            ),
            ref=ref,
            difference=_number(check.max_score_difference, 6),
            changes=check.rank_changes,
        )
    )
    sys.exit(EXIT_REJECTED)
