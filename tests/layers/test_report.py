"""The proposal report (multi-page PDF) and the one-page village profile on the demo area:
pages, paper size, texts checked against numbers recomputed from the stored records."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date

import pandas as pd
import pytest
from babel.numbers import format_decimal

from layers.errors import InputError, NotFoundError

POPPLER = shutil.which("pdftotext") and shutil.which("pdfinfo")
pytestmark = pytest.mark.skipif(not POPPLER, reason="poppler-utils (pdftotext, pdfinfo) absent")
WS = "merangin"
TODAY = date(2026, 3, 5)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from layers.demo_load import load_demo
    from layers.score_run import run_score
    from layers.storage import open_store
    from layers.targeting.scenarios import run_scenario

    path = tmp_path_factory.mktemp("report") / "jangkau.sqlite"
    s = open_store(f"sqlite:///{path}")
    s.init()
    load_demo(s)
    run_score(s, WS, "health_access")
    run_scenario(
        s,
        WS,
        "lima",
        kind="placement",
        profile="health_access",
        settings={
            "top_n": 5,
            "cost": "per_person:1000",
            "budget": 80_000_000,
            "rules": {"max_per_kecamatan": 1},
        },
        title="Lima desa sehat",
    )
    run_scenario(
        s, WS, "seratus", kind="placement", profile="health_access", settings={"top_n": 100}
    )
    run_scenario(
        s,
        WS,
        "pkm",
        kind="siting",
        profile="health_access",
        settings={"facility_type": "puskesmas", "k": 2},
    )
    yield s
    s.close()


def report(store, name="lima", **kwargs):
    from layers.exports.report import ProposalReport

    kwargs.setdefault("today", TODAY)
    return ProposalReport(store, WS, name, **kwargs)


def pdf_pages(path) -> list[str]:
    """The text of each page, whitespace collapsed (content order: a wrapped cell stays whole)."""
    info = pdf_info(path)
    out = []
    for page in range(1, int(info["Pages"]) + 1):
        text = subprocess.run(
            ["pdftotext", "-raw", "-f", str(page), "-l", str(page), str(path), "-"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        out.append(" ".join(text.split()))
    return out


def pdf_info(path, *extra: str) -> dict[str, str]:
    out = subprocess.run(
        ["pdfinfo", *extra, str(path)], check=True, capture_output=True, text=True
    ).stdout
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in out.splitlines())}


def page_sizes(path) -> list[str]:
    n = pdf_info(path)["Pages"]
    out = subprocess.run(
        ["pdfinfo", "-f", "1", "-l", n, str(path)], check=True, capture_output=True, text=True
    ).stdout
    return re.findall(r"Page\s+\d+ size:\s+([\d.]+ x [\d.]+) pts", out)


def number(value: float, lang: str, decimals: int = 0) -> str:
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=lang)


def village_names(store) -> pd.Series:
    frame = store.read_dataset(WS, "villages", geometry=False)
    return frame.set_index(frame["kode"].astype(str))["name"]


# --- the proposal report -------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["id", "en"])
def test_report_pages_are_a4_and_hold_the_scenario(store, tmp_path, lang):
    from layers.demo import demo_manifest
    from layers.targeting.scenarios import load_scenario

    out = tmp_path / "usulan.pdf"
    rep = report(store, lang=lang, organisation="Yayasan Sehat Jambi")
    assert rep.render(out) == out
    sizes = page_sizes(out)
    pages = pdf_pages(out)
    assert len(sizes) == len(pages) >= 7
    assert set(sizes) == {"595.276 x 841.89"}  # A4 portrait on every page
    text = " ".join(pages)
    scenario = load_scenario(store, WS, "lima")
    summary = scenario["summary"]
    assert "Lima desa sehat" in text
    assert "Yayasan Sehat Jambi" in text
    # the summary's numbers, from the record, in the language's format
    assert summary["villages_selected"] == 5
    for key in ("people_reached", "people_in_need_reached", "cost", "budget"):
        assert number(round(summary[key]), lang) in pages[1], key
    share = number(summary["budget_share"] * 100, lang, 1) + " %"
    assert share in pages[1]
    # every selected village by name, and each kecamatan of the selection
    names = village_names(store)
    for kode in summary["villages"]:
        assert kode in text
        assert names[kode] in text
    for item in summary["by_kecamatan"]:
        if item["selected"]:
            assert item["kecamatan"] in pages[1]
    # the weights of the profile as used
    run = rep.run()
    for rule in run["profile"]["rules"]:
        assert f"({rule['indicator']})" in text
        assert number(rule["weight"], lang, 1) in text
    # the rule and what it cost
    assert "max_per_kecamatan: 1" in text
    # dataset file names, SHA-256 starts and licences
    manifest = {f.path.name: f for f in demo_manifest()}
    for name, ref in run["inputs"].items():
        dataset, version = ref.split("/", 1)[1].rsplit("@", 1)
        info = store.dataset_info(WS, dataset, int(version))
        assert info.source_name in text
        assert info.source_sha256[:12] in text
        assert manifest[info.source_name].licence in text, name
    # page numbers on every page, of the right total
    label = {"id": "Halaman {} dari {}", "en": "Page {} of {}"}[lang]
    for i, page in enumerate(pages, start=1):
        assert label.format(i, len(pages)) in page
    # the reproducibility footer on every page
    for page in pages:
        assert run["record"].ref in page


def test_report_headings_follow_the_language(store, tmp_path):
    from layers.exports.map_parts import translator
    from layers.exports.report import TEXTS

    texts = {}
    for lang in ("id", "en"):
        out = tmp_path / f"{lang}.pdf"
        report(store, lang=lang).render(out)
        texts[lang] = " ".join(pdf_pages(out))
    for key in ("summary", "selected_villages", "coverage", "method", "sources"):
        assert TEXTS[key] in texts["en"]
        assert translator("id")(TEXTS[key]) in texts["id"]
    # words whose Indonesian is in the catalogue already
    assert "Penduduk terjangkau" in texts["id"]
    assert "Penduduk terjangkau" not in texts["en"]
    assert "People reached" in texts["en"]
    assert "Proposal: Lima desa sehat" in texts["en"]


def test_a_long_table_continues_with_its_header(store, tmp_path):
    from layers.targeting.scenarios import load_scenario

    out = tmp_path / "seratus.pdf"
    report(store, "seratus", lang="en").render(out)
    pages = pdf_pages(out)
    kode = load_scenario(store, WS, "seratus")["summary"]["villages"]
    assert len(kode) == 100
    table_pages = [p for p in pages if p.startswith("Proposal: seratus Selected villages")]
    assert len(table_pages) >= 3
    codes_on = [sum(k in p for k in kode) for p in table_pages]
    assert sum(codes_on) == 100
    assert all(codes_on)
    for page in table_pages:
        assert "Rank Code Village Kecamatan Score People Why" in page
    assert len(pages) == int(pdf_info(out)["Pages"])


def test_coverage_before_and_after_a_siting(store, tmp_path):
    from layers.score_run import load_run
    from layers.targeting.scenarios import load_scenario

    rep = report(store, "pkm", lang="en")
    found = rep.coverage()
    assert found["type"] == "puskesmas"
    assert found["standard_m"] == 5000
    table = load_run(store, WS, "health_access")["table_frame"]
    people = table["population_raster"].fillna(table["population"])
    within = people * (1 - table["share_beyond__puskesmas"])
    assert found["rows"]["all"]["people"] == pytest.approx(people.sum())
    assert found["rows"]["all"]["share_within"] == pytest.approx(within.sum() / people.sum())
    result = load_scenario(store, WS, "pkm")["result"]
    after = result["covered_after"] / result["total_weight"]
    before = result["covered_before"] / result["total_weight"]
    assert found["rows"]["model_after"]["share_within"] == pytest.approx(after)
    assert found["rows"]["model_before"]["share_within"] == pytest.approx(before)
    assert after > before
    out = tmp_path / "pkm.pdf"
    rep.render(out)
    text = " ".join(pdf_pages(out))
    assert f"{number(after * 100, 'en', 1)} %" in text
    assert f"{number(before * 100, 'en', 1)} %" in text


def test_indicator_medians_compare_selected_and_other(store):
    from layers.score_run import load_run
    from layers.targeting.scenarios import load_scenario

    medians = report(store, "seratus", lang="en").indicator_medians().set_index("indicator")
    table = load_run(store, WS, "health_access")["table_frame"]
    chosen = table.index.isin(load_scenario(store, WS, "seratus")["summary"]["villages"])
    dist = table["dist_m__puskesmas"]
    assert medians.loc["dist_m__puskesmas", "selected"] == pytest.approx(dist[chosen].median())
    assert medians.loc["dist_m__puskesmas", "other"] == pytest.approx(dist[~chosen].median())


def test_a_failed_write_keeps_the_old_file(store, tmp_path, monkeypatch):
    from matplotlib.backends.backend_pdf import PdfPages

    out = tmp_path / "usulan.pdf"
    out.write_bytes(b"old")
    calls = {"n": 0}
    real = PdfPages.savefig

    def failing(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(PdfPages, "savefig", failing)
    with pytest.raises(OSError, match="disk full"):
        report(store, lang="en").render(out)
    assert out.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["usulan.pdf"]


def test_unknown_scenario_and_language_are_refused(store):
    with pytest.raises(NotFoundError):
        report(store, "tidak-ada")
    with pytest.raises(InputError):
        report(store, lang="fr")


# --- the village profile -------------------------------------------------------------------


def test_village_profile_is_one_a4_page(store, tmp_path):
    from layers.exports.village_profile import VillageProfile
    from layers.score_run import load_run

    kode = "15.02.05.1002"
    out = tmp_path / "desa.pdf"
    VillageProfile(store, WS, kode, lang="en", today=TODAY).render(out)
    assert page_sizes(out) == ["595.276 x 841.89"]
    text = pdf_pages(out)[0]
    assert village_names(store)[kode] in text
    assert kode in text
    table = load_run(store, WS, "health_access")["table_frame"]
    row = table.loc[kode]
    ranked = int(table["rank"].notna().sum())
    assert (
        f"Score {number(row['score'], 'en', 1)} of 100 · rank {int(row['rank'])} of {ranked}"
        in text
    )
    # the needs reported for the village, counted from the needs layers themselves
    count = 0
    descriptions = []
    for layer in ("needs_kobo", "needs_musrenbang"):
        needs = store.read_dataset(WS, layer, geometry=False)
        mine = needs[needs["kode"].astype(str) == kode]
        count += len(mine)
        descriptions += [d for d in mine["description"].dropna().astype(str)]
    assert f"You said, we did: {count} reported needs" in text
    assert count > 0
    for description in descriptions[:3]:
        assert description.split()[0] in text
    assert "Programs in the village: 0" in text
    assert "Page 1 of 1" in text


def test_village_profile_unknown_code(store, tmp_path):
    from layers.exports.village_profile import VillageProfile

    with pytest.raises(NotFoundError, match=r"99\.99"):
        VillageProfile(store, WS, "99.99.99.9999", lang="en").render(tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()
