"""Editing in Debian's Chromium over the demo area: create a program, assign a scenario's
villages to it from the scenario's page, see them on the program's page, log an activity,
and verify a need from the coverage page's village panel. Every result is read back from
the store."""

from __future__ import annotations

import pytest

from tests.geoapp.browser_support import LocalPage as Watch
from tests.geoapp.conftest import open_demo_app

pytestmark = pytest.mark.browser

SCENARIO = "desa-prioritas"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo area with a saved placement of five villages."""
    with open_demo_app(tmp_path_factory.mktemp("programs_edit_browser")) as app:
        got = app.test_client().post(
            "/api/workspaces/merangin/scenarios",
            json={"name": SCENARIO, "kind": "placement", "profile": "health_access",
                  "settings": {"top_n": 5}},
        )  # fmt: skip
        assert got.status_code == 201, got.get_data(as_text=True)
        yield app


@pytest.fixture
def watch(browser):
    w = Watch(browser)
    yield w
    w.close()


def test_create_assign_log_and_verify(demo, server, watch):
    from playwright.sync_api import expect

    from geoapp.store import get_store
    from layers.programs import Register
    from layers.programs.needs_status import current_status, lifecycle_log
    from layers.targeting.scenarios import load_scenario

    store = get_store(demo)
    page = watch.page

    # 1. A new program from the programs page: it opens the program's page.
    page.goto(f"{server}/workspaces/merangin/programs?lang=en")
    page.fill("#np-program_id", "P-20")
    page.fill("#np-name", "Posyandu <keliling>")
    page.select_option("#np-sector", "health")
    page.fill("#np-organisation", "Yayasan Sehat")
    page.fill("#np-start", "2025-01-01")
    page.select_option("#np-target_group", "households")
    page.select_option("#np-status", "active")
    page.fill("#np-user", "ani")
    with page.expect_navigation(url="**/programs/P-20", timeout=20_000):
        page.click("#new-program-button")
    expect(page.locator("h1")).to_contain_text("Posyandu <keliling>")
    program = Register.load(store, "merangin").program("P-20")["program"]
    assert (program["name"], program["sector"], program["status"]) == (
        "Posyandu <keliling>", "health", "active"
    )  # fmt: skip

    # 2. Its villages from the scenario's page.
    page.goto(f"{server}/workspaces/merangin/scenarios/{SCENARIO}?lang=en")
    page.wait_for_selector("#scenario-assign-form[data-ready='1']", state="attached",
                           timeout=20_000)  # fmt: skip
    page.select_option("#assign-program", "P-20")
    page.fill("#assign-planned", "40")
    page.fill("#assign-user", "ani")
    page.click("#assign-button")
    expect(page.locator("#assign-status")).to_contain_text("5 villages assigned", timeout=20_000)
    chosen = load_scenario(store, "merangin", SCENARIO)["summary"]["villages"]
    assert len(chosen) == 5

    # 3. The program's page lists them.
    with page.expect_navigation(url="**/programs/P-20"):
        page.click("#assign-program-link")
    rows = page.locator("table#assignments tbody tr")
    expect(rows).to_have_count(5)
    codes = [rows.nth(i).locator("td").first.inner_text().strip() for i in range(5)]
    assert sorted(codes) == sorted(chosen)
    assert [rows.nth(i).locator("td").nth(3).inner_text() for i in range(5)] == ["40"] * 5

    # 4. Log an activity in the first village.
    page.fill("#log-date", "2025-03-31")
    page.fill("#log-figure", "35")
    page.select_option("#log-unit", "households")
    page.select_option("#log-kode", chosen[0])
    page.fill("#log-description", "35 KK dikunjungi")
    page.fill("#log-user", "ani")
    page.click("#log-button")
    expect(page.locator("#log-status")).to_contain_text("Logged as entry", timeout=20_000)
    page.wait_for_load_state("load")
    expect(page.locator("table#activities tbody tr")).to_have_count(1, timeout=20_000)
    expect(page.locator("table#activities")).to_contain_text("35 KK dikunjungi")
    log = Register.load(store, "merangin").program("P-20")["activities"]
    assert (log["kode"].tolist(), log["figure"].tolist()) == ([chosen[0]], [35.0])

    # 5. Verify an open need from the coverage page's village panel.
    status = current_status(store, "merangin")
    open_needs = status.loc[status["status"] == "open"]
    need = open_needs.iloc[0]
    villages = store.read_dataset("merangin", "villages")
    row = villages.loc[villages["kode"] == need["kode"]].iloc[0]
    inner = row.geometry.representative_point()
    page.goto(f"{server}/workspaces/merangin/coverage?lang=en")
    expect(page.locator("#coverage-map canvas").first).to_be_visible(timeout=20_000)
    page.locator("#coverage-map").scroll_into_view_if_needed()
    page.evaluate(f"jangkauCoverage.map.setView([{inner.y}, {inner.x}], 14, {{animate: false}})")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    point = page.evaluate(
        f"(function () {{ var p = jangkauCoverage.map.latLngToContainerPoint([{inner.y}, "
        f"{inner.x}]); return [p.x, p.y]; }})()"
    )
    box = page.locator("#coverage-map").bounding_box()
    page.mouse.click(box["x"] + point[0], box["y"] + point[1])
    item = page.locator(
        f'#village-needs li[data-need="{need["need_id"]}"][data-layer="{need["layer"]}"]'
    )
    expect(item).to_have_attribute("data-status", "open", timeout=20_000)
    page.fill("#need-by", "budi")
    page.fill("#need-on", "2025-04-02")
    item.locator("button[data-action='verify']").click()
    expect(page.locator("#need-status")).to_contain_text("verified", timeout=20_000)
    expect(item).to_have_attribute("data-status", "verified", timeout=20_000)
    last = lifecycle_log(store, "merangin").iloc[-1]
    assert (last["layer"], last["need_id"], last["action"], last["by"]) == (
        need["layer"], need["need_id"], "verified", "budi"
    )  # fmt: skip
    watch.check_clean()
