"""Scenario pages in Debian's Chromium: run placements through the form, read the result
and its map, compare two scenarios."""

from __future__ import annotations

import pytest

from tests.geoapp.browser_support import LocalPage as Watch
from tests.geoapp.conftest import open_demo_app

SCRIPT_TITLE = "<script>alert(1)</script>"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The app over the bundled demo area."""
    with open_demo_app(tmp_path_factory.mktemp("scenarios_browser")) as app:
        yield app


def run_through_form(page, name: str, *, title: str = "", top_n: int | None = None, **extra):
    """Fill the placement form and submit it; wait for the scenario's page."""
    page.fill("#f-name", name)
    page.fill("#f-title", title)
    page.check("input[name='kind'][value='placement']")
    if top_n is not None:
        page.fill("#f-top-n", str(top_n))
    else:
        page.fill("#f-top-n", "")
    if extra.get("budget"):
        page.select_option("#f-cost-kind", "per_person")
        page.fill("#f-cost-rate", str(extra["rate"]))
        page.fill("#f-budget", str(extra["budget"]))
    if extra.get("max_per_kecamatan"):
        page.check("#r-max_per_kecamatan-on")
        page.fill("#r-max_per_kecamatan", str(extra["max_per_kecamatan"]))
    with page.expect_navigation(url=f"**/scenarios/{name}", timeout=60_000):
        page.click("#run-button")
    page.wait_for_selector("#scenario-map[data-ready='1']", state="attached", timeout=20_000)


def test_run_read_and_compare_scenarios(browser, server, demo, tmp_path):
    watch = Watch(browser)
    page = watch.page
    response = page.goto(f"{server}/workspaces/merangin?lang=en")
    assert response.status == 200
    page.click("#scenarios-link")
    page.wait_for_selector("#scenario-form")
    assert page.locator("h1").first.inner_text().startswith("Scenarios")
    assert page.locator("#siting-fields").is_hidden()
    page.check("input[name='kind'][value='siting']")
    assert page.locator("#siting-fields").is_visible()
    assert page.locator("#placement-fields").is_hidden()
    page.check("input[name='kind'][value='placement']")
    # a rule's input is off until its switch is on
    assert page.locator("#r-max_per_kecamatan").is_disabled()

    # a bad name: the server's message in the page, the field marked, nothing saved
    page.fill("#f-name", "Bad Name")
    page.fill("#f-top-n", "5")
    page.click("#run-button")
    page.wait_for_selector("#form-error:not([hidden])")
    assert "Bad Name" in page.locator("#form-error").inner_text()
    assert "invalid" in (page.locator("#f-name").get_attribute("class") or "")
    assert page.url.endswith("/workspaces/merangin/scenarios")

    # a top-10 placement with a script-like title
    run_through_form(page, "top-10", title=SCRIPT_TITLE, top_n=10)
    assert page.locator("#scenario-title").inner_text().startswith(SCRIPT_TITLE)
    assert page.locator("table#selected tbody tr").count() == 10
    assert page.locator("#headline dd").first.inner_text() == "10"
    # the map drew the ten villages (plus the kecamatan outlines) with Leaflet
    areas = page.evaluate(
        "() => { var n = 0; window.jangkauScenarioMap.layers.areas.eachLayer(() => n++); "
        "return n; }"
    )
    assert areas == 10
    assert page.locator("#scenario-map path.leaflet-interactive").count() >= 10
    # a village's tooltip names it as text
    first_code = page.locator("table#selected tbody tr").first.locator("code").inner_text()
    first_name = page.locator("table#selected tbody tr").first.locator("td").nth(2).inner_text()
    tip = page.evaluate(
        """(code) => {
            var found = null;
            window.jangkauScenarioMap.layers.areas.eachLayer((l) => {
                if (l.feature.properties.kode === code) { found = l; }
            });
            found.openTooltip(found.getBounds().getCenter());
            return found.getTooltip().getElement().textContent;
        }""",
        first_code,
    )
    assert first_name in tip
    assert first_code in tip
    page.screenshot(path=str(tmp_path / "result.png"), full_page=True)
    # the download links answer with attachments
    csv_href = page.locator("#download-csv").get_attribute("href")
    download = page.request.get(f"{server}{csv_href}")
    assert download.status == 200
    assert "attachment" in download.headers["content-disposition"]
    assert first_code in download.text()

    # a budget placement with at most 2 villages per kecamatan
    page.goto(f"{server}/workspaces/merangin/scenarios?lang=en")
    run_through_form(page, "budget-1m", budget=1_000_000_000, rate=25_000, max_per_kecamatan=2)
    assert page.locator("table#rule-costs tbody tr").count() == 1
    selected = page.locator("table#selected tbody tr").count()
    assert selected > 0

    # a siting: 2 new puskesmas, reach 5 km, among the village centres
    page.goto(f"{server}/workspaces/merangin/scenarios?lang=en")
    page.fill("#f-name", "puskesmas-2")
    page.check("input[name='kind'][value='siting']")
    page.select_option("#f-model", "mclp")
    page.select_option("#f-type", "puskesmas")
    assert page.locator("#f-distance").get_attribute("placeholder") == "5000"
    page.fill("#f-k", "2")
    with page.expect_navigation(url="**/scenarios/puskesmas-2", timeout=60_000):
        page.click("#run-button")
    page.wait_for_selector("#scenario-map[data-ready='1']", state="attached", timeout=20_000)
    assert page.locator("table#sites tbody tr").count() == 2
    sites = page.evaluate(
        "() => { var n = 0; window.jangkauScenarioMap.layers.points.eachLayer(() => n++); "
        "return n; }"
    )
    assert sites == 2
    saved = page.request.get(f"{server}/api/workspaces/merangin/scenarios/puskesmas-2").json()
    assert saved["settings"]["facility_type"] == "puskesmas"
    assert saved["settings"]["distance_m"] == 5000
    assert saved["settings"]["k"] == 2

    # compare the two placements from the list
    page.goto(f"{server}/workspaces/merangin/scenarios?lang=en")
    assert page.locator("table#scenario-list tbody tr").count() == 3
    page.check("#pick-top-10")
    page.check("#pick-budget-1m")
    page.click("#compare-button")
    page.wait_for_selector("#scenario-map[data-ready='1']", state="attached", timeout=20_000)
    api = page.request.get(
        f"{server}/api/workspaces/merangin/scenarios/compare?name=top-10&name=budget-1m"
    ).json()
    differing = {row["kode"] for row in api["differences"]}
    assert page.locator("table#differences tbody tr").count() == len(differing)
    shown = set(page.locator("table#differences tbody tr code").all_inner_texts())
    assert shown == differing
    groups = page.evaluate(
        "() => { var g = {}; window.jangkauScenarioMap.layers.areas.eachLayer((l) => "
        "{ g[l.feature.properties.kode] = l.feature.properties.group; }); return g; }"
    )
    assert {k for k, v in groups.items() if v} == differing
    legend = page.locator(".scenario-legend").inner_text()
    assert "only top-10" in legend
    assert "only budget-1m" in legend
    page.screenshot(path=str(tmp_path / "compare.png"), full_page=True)

    # the Indonesian page keeps working
    page.goto(f"{server}/workspaces/merangin/scenarios?lang=id")
    assert page.locator("html").get_attribute("lang") == "id"
    watch.check_clean()
    watch.context.close()
