"""The proposal report and the village profile on the web: GET
/workspaces/<ws>/scenarios/<name>/report.pdf and /workspaces/<ws>/villages/<kode>/profile.pdf,
and the links to them (Flask test client, demo area)."""

from __future__ import annotations

import shutil
import subprocess
from html import unescape

import pytest

from tests.geoapp.conftest import open_demo_app

POPPLER = shutil.which("pdftotext") and shutil.which("pdfinfo")
pytestmark = pytest.mark.skipif(not POPPLER, reason="poppler-utils (pdftotext, pdfinfo) absent")
REPORT = "/workspaces/merangin/scenarios/lima/report.pdf"
KODE = "15.02.05.1002"
PROFILE = f"/workspaces/merangin/villages/{KODE}/profile.pdf"


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    from geoapp.store import get_store
    from layers.score_run import run_score
    from layers.targeting.scenarios import run_scenario

    with open_demo_app(tmp_path_factory.mktemp("report_views")) as app:
        store = get_store(app)
        run_score(store, "merangin", "health_access")
        run_scenario(
            store,
            "merangin",
            "lima",
            kind="placement",
            profile="health_access",
            settings={"top_n": 5},
            title="Lima desa",
        )
        yield app


@pytest.fixture
def client(demo_app):
    return demo_app.test_client()


def pdf_text(response, tmp_path) -> tuple[str, str]:
    path = tmp_path / "got.pdf"
    path.write_bytes(response.data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    return info, " ".join(text.split())


def error_of(response, status: int, mentions: str = "") -> str:
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    assert response.mimetype == "text/html"
    text = unescape(response.get_data(as_text=True))
    assert mentions in text
    return text


@pytest.mark.parametrize(("lang", "words"), [("en", "Selected villages"), ("id", "Halaman 1")])
def test_report_is_a_pdf_attachment(client, demo_app, tmp_path, lang, words):
    from geoapp.store import get_store
    from layers.targeting.scenarios import load_scenario

    response = client.get(f"{REPORT}?lang={lang}")
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    assert response.mimetype == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="merangin-lima-{lang}.pdf"'
    info, text = pdf_text(response, tmp_path)
    assert "595.276 x 841.89 pts (A4)" in info
    assert int(info.split("Pages:", 1)[1].split()[0]) >= 7
    assert words in text
    with demo_app.app_context():
        scenario = load_scenario(get_store(), "merangin", "lima")
    for kode in scenario["summary"]["villages"]:
        assert kode in text
    assert scenario["ref"] in text


def test_village_profile_is_a_one_page_attachment(client, tmp_path):
    response = client.get(f"{PROFILE}?lang=en&profile=health_access")
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="merangin-{KODE}-en.pdf"'
    )
    info, text = pdf_text(response, tmp_path)
    assert "Pages:           1" in info
    assert "Dusun Baru" in text
    assert "You said, we did" in text


def test_unknown_things_are_404_and_bad_language_400(client):
    error_of(
        client.get("/workspaces/merangin/scenarios/tidak-ada/report.pdf?lang=en"), 404, "tidak-ada"
    )
    error_of(
        client.get("/workspaces/tidak-ada/scenarios/lima/report.pdf?lang=en"), 404, "tidak-ada"
    )
    error_of(
        client.get("/workspaces/merangin/villages/99.99.99.9999/profile.pdf?lang=en"),
        404,
        "99.99.99.9999",
    )
    error_of(client.get(f"{PROFILE}?lang=en&profile=tidak-ada"), 404, "tidak-ada")
    error_of(client.get(f"{REPORT}?lang=fr"), 400, "lang must be one of id, en")


def test_scenario_page_links_to_the_report(client):
    response = client.get("/workspaces/merangin/scenarios/lima?lang=en")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Proposal report (PDF)" in html
    link = unescape(html.split('id="download-report"', 1)[1].split('href="', 1)[1].split('"', 1)[0])
    assert link == f"{REPORT}?lang=en"
    assert client.get(link).mimetype == "application/pdf"


def test_coverage_panel_builds_the_profile_link():
    from tests.conftest import REPO

    script = (REPO / "geoapp" / "static" / "js" / "coverage.js").read_text(encoding="utf-8")
    assert "'/villages/' + encodeURIComponent(kode) + '/profile.pdf'" in script
    assert "village-profile-link" in script


def test_cli_writes_the_report_and_the_profile(demo_app, tmp_path):
    import json

    from click.testing import CliRunner

    from geoapp.cli import main

    env = {
        "GEOAPP_DATABASE_URL": demo_app.config["DATABASE_URL"],
        "GEOAPP_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    runner = CliRunner()
    out = tmp_path / "usulan.pdf"
    argv = ["--lang", "en", "export", "report", "lima", "-w", "merangin", "--lang", "id"]
    result = runner.invoke(
        main,
        [*argv, "--organisation", "Yayasan Sehat", "--json", str(out)],
        env=env,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["path"] == str(out)
    assert body["size"] == out.stat().st_size
    assert body["lang"] == "id"
    assert body["scenario"] == "merangin/scenarios/lima@1"
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True).stdout
    assert "Yayasan Sehat" in text
    assert "Halaman 1 dari" in text
    page = tmp_path / "desa.pdf"
    result = runner.invoke(
        main,
        ["--lang", "en", "export", "village", KODE, "-w", "merangin", str(page)],
        env=env,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Wrote {page} (")
    text = subprocess.run(["pdftotext", str(page), "-"], capture_output=True, text=True).stdout
    assert "Page 1 of 1" in text
    result = runner.invoke(
        main, ["export", "village", "1.2.3", "-w", "merangin", str(page)], env=env
    )
    assert result.exit_code == 1
    assert "1.2.3" in result.output


@pytest.fixture(scope="module")
def demo(demo_app):
    """The module's app, under the name the ``server`` fixture serves."""
    return demo_app


@pytest.mark.browser
def test_coverage_panel_links_to_the_village_profile(demo, server, browser):
    from playwright.sync_api import expect

    from geoapp.store import get_store
    from tests.geoapp.browser_support import LocalPage

    watch = LocalPage(browser)
    try:
        page = watch.page
        page.goto(f"{server}/workspaces/merangin/coverage?lang=en")
        expect(page.locator("#coverage-map canvas").first).to_be_visible(timeout=20000)
        villages = get_store(demo).read_dataset("merangin", "villages")
        row = villages.loc[villages["kode"] == KODE].iloc[0]
        inner = row.geometry.representative_point()
        page.locator("#coverage-map").scroll_into_view_if_needed()
        page.evaluate(
            f"jangkauCoverage.map.setView([{inner.y}, {inner.x}], 13, {{animate: false}})"
        )
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(300)
        point = page.evaluate(
            f"(function () {{ var p = jangkauCoverage.map.latLngToContainerPoint([{inner.y}, "
            f"{inner.x}]); return [p.x, p.y]; }})()"
        )
        box = page.locator("#coverage-map").bounding_box()
        page.mouse.click(box["x"] + point[0], box["y"] + point[1])
        link = page.locator("#village-profile-link")
        expect(link).to_be_visible(timeout=10000)
        href = link.get_attribute("href")
        assert href == f"{PROFILE}?lang=en"
        got = page.request.get(f"{server}{href}")
        assert got.status == 200
        assert got.headers["content-type"] == "application/pdf"
        assert got.body()[:5] == b"%PDF-"
        watch.check_clean()
    finally:
        watch.close()
