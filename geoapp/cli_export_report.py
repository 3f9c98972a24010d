"""``geoapp export report`` and ``geoapp export village``: the proposal report of a scenario
(multi-page PDF) and the one-page profile of a village (PDF).

Thin front doors onto :class:`layers.exports.report.ProposalReport` and
:class:`layers.exports.village_profile.VillageProfile`; the ``geoapp export`` group
(:mod:`geoapp.cli_export`) adds them.
"""

from __future__ import annotations

from pathlib import Path

import click

from geoapp.cli_common import echo_json, handles_errors, state
from layers.report import N_

LANG_OPTION = click.option(
    "--lang",
    "lang",
    type=click.Choice(["id", "en"]),
    help="Language of the document (default: that of the command line, --lang before export).",
)


def _language(lang: str | None) -> tuple[str, object]:
    """The document's language and its gettext (the command line's unless given)."""
    from geoapp import i18n

    s = state()
    if lang is None or lang == s.lang:
        return s.lang, s.translations.gettext
    return lang, i18n.cli_translations(lang).gettext


def _written(path: Path, as_json: bool, extra: dict) -> None:
    from geoapp.cli_export import size_text

    s = state()
    size = path.stat().st_size
    if as_json:
        echo_json({"path": str(path), "size": size, **extra})
        return
    click.echo(s._(N_("Wrote %(file)s (%(size)s)."), file=str(path), size=size_text(size, s.lang)))


@click.command("report")
@click.argument("scenario")
@click.option("--workspace", "-w", required=True, help="Workspace.")
@LANG_OPTION
@click.option(
    "--title", "-t", help='Title on the cover (default: "Proposal: " and the scenario\'s title).'
)
@click.option(
    "--organisation", "-o", help="Organisation that prepares the proposal (on the cover)."
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@handles_errors
def report_command(
    scenario: str,
    workspace: str,
    lang: str | None,
    title: str | None,
    organisation: str | None,
    as_json: bool,
    file: str,
) -> None:
    """Write the proposal report of a saved scenario as a multi-page A4 PDF.

    Cover with a map of the selected villages, summary by kecamatan, the selected villages
    with score, rank, cost and reasons, indicators of the selected and other villages,
    service coverage, method and weights, data sources and licences; page numbers and the
    data versions on every page.

    \b
    Examples:
      geoapp export report gizi-2025 -w merangin usulan_gizi.pdf
      geoapp export report gizi-2025 -w merangin --lang en --organisation "Yayasan Sehat" \\
          proposal.pdf
    """
    from layers.exports.report import ProposalReport

    chosen, gettext = _language(lang)
    path = Path(file)
    report = ProposalReport(
        state().store(),
        workspace,
        scenario,
        lang=chosen,
        title=title,
        organisation=organisation,
        gettext=gettext,
    )
    report.render(path)
    _written(
        path,
        as_json,
        {"scenario": report.scenario["ref"], "lang": chosen, "title": report.title},
    )


@click.command("village")
@click.argument("kode")
@click.option("--workspace", "-w", required=True, help="Workspace.")
@click.option("--profile", "-p", help="Scoring profile (default: the workspace's first).")
@LANG_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@handles_errors
def village_command(
    kode: str,
    workspace: str,
    profile: str | None,
    lang: str | None,
    as_json: bool,
    file: str,
) -> None:
    """Write the one-page profile of a village (A4 PDF).

    The map of the village and its neighbours, its score explained indicator by indicator,
    its reported needs and what happened to each, and the programs in the village.

    \b
    Examples:
      geoapp export village 15.02.05.1002 -w merangin desa_dusun_baru.pdf
      geoapp export village 15.02.05.1002 -w merangin -p health_access --lang en village.pdf
    """
    from layers.exports.village_profile import VillageProfile

    chosen, gettext = _language(lang)
    path = Path(file)
    page = VillageProfile(
        state().store(), workspace, kode, profile=profile, lang=chosen, gettext=gettext
    )
    page.render(path)
    _written(path, as_json, {"kode": str(kode), "profile": page.profile, "lang": chosen})
