"""The real server (waitress) driven by Debian's Chromium through Playwright."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.geoapp.browser_support import serving

pytestmark = pytest.mark.browser


@pytest.fixture
def server(app):
    """The seeded app served on a free local port."""
    with serving(app, threads=2) as url:
        yield url


def test_workspace_page_in_indonesian_loads_only_local_assets(browser, server, tmp_path):
    from geoapp.assets import vendor_installed

    assert vendor_installed(), "front-end assets missing: run scripts/setup.sh (npm ci)"
    requested: list[str] = []
    blocked: list[str] = []
    problems: list[str] = []

    def guard(route):
        url = route.request.url
        requested.append(url)
        if urlsplit(url).hostname not in ("127.0.0.1", "localhost"):
            blocked.append(url)
            route.abort()
        else:
            route.continue_()

    page = browser.new_page(locale="id-ID")
    page.route("**/*", guard)
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    response = page.goto(f"{server}/workspaces/merangin?lang=id")
    assert response.status == 200
    assert page.locator("h2").first.inner_text() == "Lapisan"
    rows = page.locator("table#layers tbody tr")
    assert rows.count() == 3
    villages = page.locator('table#layers tr[data-dataset="villages"]')
    assert "Desa/Kelurahan" in villages.inner_text()
    assert "v2" in villages.inner_text()
    headers = page.locator("table#layers thead th").all_inner_texts()
    assert {"diterima", "diperbaiki", "ditolak", "peringatan", "Laporan validasi"} <= set(headers)
    # the script-like source name is shown as text, never run
    assert "<script>alert(1)</script>.csv" in page.locator('tr[data-dataset="podes"]').inner_text()
    # the overview map drew with Leaflet served by this app
    page.wait_for_selector("#overview-map[data-ready='1']", timeout=10_000)
    assert page.locator("#overview-map path.leaflet-interactive").count() == 2
    page.screenshot(path=str(tmp_path / "workspace.png"), full_page=True)

    # the language switch leads to the same page in English
    page.click("a[data-lang='en']")
    page.wait_for_load_state()
    assert page.locator("h2").first.inner_text() == "Layers"
    assert "/workspaces/merangin" in page.url

    # a report page from the table
    page.goto(f"{server}/workspaces/merangin/datasets/faskes/report?lang=id")
    assert page.locator("table#findings tbody tr").count() == 5
    assert "ditolak" in page.locator("table#findings tbody tr").first.inner_text()

    assert blocked == []
    assert requested
    assert all(urlsplit(u).hostname == "127.0.0.1" for u in requested)
    assert problems == []
    shot = tmp_path / "workspace.png"
    assert shot.exists()
    assert shot.stat().st_size > 5_000
