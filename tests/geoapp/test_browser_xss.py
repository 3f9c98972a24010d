"""Payload data in Debian's Chromium: the workspace, map (a clicked village and its note's
popup), coverage (a clicked village's needs), programs, scenario and audit pages open with a
payload in every text field, and none of it runs: ``window.__xss`` stays undefined and no
dialog opens."""

from __future__ import annotations

import pytest

from tests.geoapp.browser_support import LocalPage, serving
from tests.geoapp.conftest import open_demo_app
from tests.geoapp.test_xss import MARK, WS, build, payload

pytestmark = pytest.mark.browser

#: Alerting, confirming or prompting records it, as does any script setting __xss.
TRAP = """
window.__dialogs = [];
['alert', 'confirm', 'prompt'].forEach(function (name) {
  window[name] = function (m) { window.__dialogs.push(String(m)); };
});
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo area with a payload in every text field."""
    with open_demo_app(tmp_path_factory.mktemp("browser-xss")) as app:
        app.config["XSS"] = build(app)
        yield app


@pytest.fixture(scope="module")
def server(demo):
    with serving(demo, threads=8) as url:
        yield url


@pytest.fixture
def watch(browser):
    w = LocalPage(browser, "en-GB", viewport=(1300, 850))
    w.page.add_init_script(TRAP)
    yield w
    w.close()


def assert_inert(watch: LocalPage, where: str) -> None:
    page = watch.page
    assert page.evaluate("() => typeof window.__xss") == "undefined", where
    assert page.evaluate("() => window.__dialogs") == [], where
    assert watch.dialogs == [], where
    # no element came from the data: no img with onerror, no script of ours
    assert page.locator("img[onerror]").count() == 0, where
    scripts = page.evaluate(
        "() => Array.from(document.scripts).map((s) => s.type + '|' + s.textContent)"
    )
    assert not [s for s in scripts if "__xss" in s and not s.startswith("application/json|")]


PAGES = {
    f"/workspaces/{WS}": "src",
    "/workspaces/xss": "wstitle",
    f"/workspaces/{WS}/programs": "pname",
    f"/workspaces/{WS}/programs/P-XSS": "act",
    f"/workspaces/{WS}/scenarios": "stitle",
    f"/workspaces/{WS}/scenarios/xss-1": "snote",
    f"/workspaces/{WS}/scenarios/compare?name=xss-1&name=xss-2": None,
    f"/workspaces/{WS}/audit": "asum",
    f"/workspaces/{WS}/access": "label",
    f"/workspaces/{WS}/datasets/xss_ind/report": "val",
    "/admin/users": "uname",
}


@pytest.mark.parametrize("path", list(PAGES))
def test_pages_with_payloads_run_none(server, watch, path):
    response = watch.page.goto(f"{server}{path}")
    assert response.status == 200
    watch.page.wait_for_load_state("networkidle")
    tag = PAGES[path]
    if tag:  # the text is on the page, as text
        assert f"{MARK}{tag}" in watch.page.inner_text("body"), tag
        assert payload(tag) in watch.page.inner_text("body"), tag
    assert_inert(watch, path)
    watch.check_clean()


def _pixel(page, script_map: str, lat: float, lon: float, box_selector: str) -> tuple[float, float]:
    point = page.evaluate(
        f"([lat, lon]) => {{ const p = {script_map}.latLngToContainerPoint([lat, lon]);"
        " return [p.x, p.y]; }",
        [lat, lon],
    )
    box = page.locator(box_selector).bounding_box()
    return box["x"] + point[0], box["y"] + point[1]


def test_map_village_panel_and_note_popup_run_none(demo, server, watch):
    page = watch.page
    info = demo.config["XSS"]
    lat, lon = info["point"]
    url = f"{server}/workspaces/{WS}/map?profile=health_access&layers=villages,annotations"
    assert watch.page.goto(url).status == 200
    page.wait_for_selector("#map-page[data-ready='1']", state="attached")
    page.wait_for_function("() => window.JangkauMap.annotationIds().length > 0")
    page.evaluate(
        "([lat, lon]) => window.JangkauMap.map.setView([lat, lon], 13, {animate: false})",
        [lat, lon],
    )
    page.wait_for_load_state("networkidle")
    # the note's marker, clicked: its popup shows the payload as text
    x, y = _pixel(page, "window.JangkauMap.map", lat, lon, ".folium-map")
    page.mouse.click(x, y)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible")
    assert payload("ann") in popup.inner_text()
    assert popup.locator("img, script").count() == 0
    page.mouse.move(x, y)
    assert_inert(watch, "map popup")

    # the village under it, clicked with the notes hidden: the panel opens
    page.evaluate("() => window.JangkauMap.map.closePopup()")
    page.evaluate("() => window.JangkauMap.map.removeLayer(window.JangkauMap.layers.annotations)")
    with page.expect_response(lambda r: f"/villages/{info['kode']}?" in r.url):
        page.mouse.click(x, y)
    page.locator("#village-panel").wait_for(state="visible")
    assert page.locator("#village-panel script, #village-panel img").count() == 0
    assert_inert(watch, "map panel")
    watch.check_clean()


def test_coverage_village_needs_run_none(demo, server, watch):
    from playwright.sync_api import expect

    page = watch.page
    info = demo.config["XSS"]
    lat, lon = info["point"]
    assert page.goto(f"{server}/workspaces/{WS}/coverage?lang=en").status == 200
    expect(page.locator("#coverage-map canvas").first).to_be_visible(timeout=20000)
    page.locator("#coverage-map").scroll_into_view_if_needed()
    page.evaluate(
        "([lat, lon]) => jangkauCoverage.map.setView([lat, lon], 13, {animate: false})",
        [lat, lon],
    )
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    x, y = _pixel(page, "jangkauCoverage.map", lat, lon, "#coverage-map")
    with page.expect_response(lambda r: r.url.split("?")[0].endswith("/needs")):
        page.mouse.click(x, y)
    needs = page.locator("#village-needs")
    expect(needs).to_contain_text(f"{MARK}need", timeout=10000)
    assert payload("need") in needs.inner_text()
    expect(page.locator("#village-programs")).to_contain_text(f"{MARK}pname")
    assert page.locator("#village-panel script, #village-panel img").count() == 0
    assert_inert(watch, "coverage panel")
    watch.check_clean()


def test_the_checks_see_a_payload_that_runs(watch):
    """The same checks on a page (without the app's CSP) where the payload does run."""
    watch.page.set_content('<p>x</p><img src="data:," onerror="window.__xss=1; alert(1)">')
    watch.page.wait_for_function("() => window.__xss === 1")
    with pytest.raises(AssertionError):
        assert_inert(watch, "sample")
    assert watch.dialogs == ["1"]  # the real dialog, seen by the page's handler
