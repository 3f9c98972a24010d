"""Coverage and programs pages in Debian's Chromium over the demo area with a small imported
register: move the timeline, switch the colouring, click a village, upload a register."""

from __future__ import annotations

import io

import pytest

from tests.geoapp.browser_support import LocalPage as Watch
from tests.geoapp.conftest import open_demo_app

A, B = "15.02.01.2001", "15.02.01.2002"
BAD_CODE = "15.99.99.2001"

pytestmark = pytest.mark.browser


def register_xlsx(bad: bool = False) -> bytes:
    """Two programs in villages A and B; ``bad`` puts an unknown code on assignments row 4."""
    import openpyxl

    wb = openpyxl.Workbook()
    sheet = wb.active
    sheet.title = "programs"
    sheet.append(["program_id", "name", "sector", "start", "end", "target_group", "status"])
    sheet.append(["P-01", "Posyandu aktif", "kesehatan", "2025-01-01", "2025-12-31", "KK", "aktif"])
    sheet.append(["P-02", "Air bersih", "WASH", "2025-03-01", "2025-06-30", "orang", "selesai"])
    assign = wb.create_sheet("assignments")
    assign.append(["program_id", "kode", "planned", "start", "status"])
    assign.append(["P-01", A, "120", "2025-01-05", "aktif"])
    assign.append(["P-02", A, "300", "", "selesai"])
    assign.append(["P-02", BAD_CODE if bad else B, "200", "", "selesai"])
    log = wb.create_sheet("activities")
    log.append(["program_id", "kode", "date", "figure", "unit", "description"])
    log.append(["P-01", A, "2025-03-31", "80", "KK", "80 KK"])
    log.append(["P-01", A, "2025-06-30", "120", "KK", "120 KK"])
    log.append(["P-02", B, "2025-05-15", "200", "orang", "200 orang"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The app over the bundled demo area with the register above imported."""
    with open_demo_app(tmp_path_factory.mktemp("coverage_browser")) as app:
        got = app.test_client().post(
            "/api/workspaces/merangin/programs/import",
            data={"file": (io.BytesIO(register_xlsx()), "register.xlsx"), "dry_run": "0"},
            content_type="multipart/form-data",
        )
        assert got.status_code == 201, got.get_data(as_text=True)
        yield app


@pytest.fixture
def watch(browser):
    w = Watch(browser)
    yield w
    w.close()


def headline(page, key: str) -> str:
    return page.inner_text(f'#headline dd[data-key="{key}"]').strip()


def test_timeline_refreshes_numbers_tables_and_map(demo, server, watch):
    from playwright.sync_api import expect

    from geoapp.store import get_store
    from layers.coverage import coverage_table

    page = watch.page
    page.goto(f"{server}/workspaces/merangin/coverage?as_of=2025-02-28&lang=en")
    expect(page.locator("#coverage-map canvas").first).to_be_visible(timeout=20000)
    assert headline(page, "villages_reached") == "0"
    assert headline(page, "achieved_households") == "0"
    months = page.evaluate(
        "JSON.parse(document.getElementById('coverage-data').textContent).months"
    )
    slider = page.locator("#timeline")
    slider.focus()
    page.keyboard.press("End")
    last = months[-1]
    expect(page.locator("#coverage-page")).to_have_attribute("data-as-of", last, timeout=15000)
    expect(page.locator("#as-of-label")).to_have_text(last)
    core = coverage_table(get_store(demo), "merangin", as_of=last)["reach"]["totals"]
    assert core["villages_reached"] == 2  # A through P-01's log, B through P-02's
    assert core["achieved_households"] == 200
    expect(page.locator('#headline dd[data-key="villages_reached"]')).to_have_text("2")
    assert headline(page, "achieved_households") == "200"
    assert headline(page, "achieved_persons") == "200"
    program_rows = page.locator("#reach-program tbody tr")
    expect(program_rows).to_have_count(2)
    expect(program_rows.nth(1)).to_contain_text("P-02")
    expect(program_rows.nth(1).locator("td").nth(6)).to_have_text("1")
    assert f"as_of={last}" in page.url
    csv_link = page.get_attribute("#download-kecamatan-csv", "href")
    assert f"as_of={last}" in csv_link
    # Back to March: only P-01's 80 households.
    page.keyboard.press("Home")
    for _ in range(months.index("2025-03-31")):
        page.keyboard.press("ArrowRight")
    expect(page.locator("#coverage-page")).to_have_attribute(
        "data-as-of", "2025-03-31", timeout=15000
    )
    expect(page.locator('#headline dd[data-key="achieved_households"]')).to_have_text("80")
    assert headline(page, "villages_reached") == "1"
    watch.check_clean()


def test_colouring_switches_and_village_click_shows_you_said_we_did(demo, server, watch):
    from playwright.sync_api import expect

    from geoapp.store import get_store

    page = watch.page
    page.goto(f"{server}/workspaces/merangin/coverage?as_of=2025-04-30&lang=en")
    expect(page.locator("#coverage-map canvas").first).to_be_visible(timeout=20000)
    style = "jangkauCoverage.villages.options.vectorTileLayerStyles.villages({kode: '%s'}, 10)"
    data = page.evaluate("JSON.parse(document.getElementById('coverage-data').textContent)")
    share_class = data["village_shares"][A]["class"]
    share_colour = next(e["colour"] for e in data["share_legend"] if e["class"] == share_class)
    assert page.evaluate(style % A + ".fillColor") == share_colour
    expect(page.locator("#legend-coverage")).to_be_visible()
    page.check("input[name='colour'][value='programs']")
    expect(page.locator("#legend-programs")).to_be_visible()
    expect(page.locator("#legend-coverage")).to_be_hidden()
    colours = {e["class"]: e["colour"] for e in data["status_legend"]}
    # On 2025-04-30: A has P-01 and P-02, B has P-02 (active until 2025-06-30).
    assert page.evaluate(style % A + ".fillColor") == colours["several"]
    assert page.evaluate(style % B + ".fillColor") == colours["active"]
    assert page.evaluate(style % "15.02.05.2001" + ".fillColor") == colours["none"]
    assert "colour=programs" in page.url

    villages = get_store(demo).read_dataset("merangin", "villages")
    row = villages.loc[villages["kode"] == A].iloc[0]
    inner = row.geometry.representative_point()
    page.locator("#coverage-map").scroll_into_view_if_needed()
    page.evaluate(f"jangkauCoverage.map.setView([{inner.y}, {inner.x}], 13, {{animate: false}})")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    point = page.evaluate(
        f"(function () {{ var p = jangkauCoverage.map.latLngToContainerPoint([{inner.y}, "
        f"{inner.x}]); return [p.x, p.y]; }})()"
    )
    box = page.locator("#coverage-map").bounding_box()
    page.mouse.click(box["x"] + point[0], box["y"] + point[1])
    panel = page.locator("#village-panel")
    expect(panel).to_be_visible(timeout=10000)
    expect(page.locator("#village-name")).to_have_text(str(row["name"]))
    expect(page.locator("#village-programs li")).to_have_count(2, timeout=10000)
    expect(page.locator("#village-programs")).to_contain_text("P-01 Posyandu aktif")
    expect(page.locator("#village-programs")).to_contain_text("planned 120, achieved 0 households")
    facts = page.inner_text("#village-facts")
    assert A in facts
    assert "several programs" in facts
    needs = page.locator("#village-needs li")
    from geoapp.views.coverage_data import village_needs

    expected = village_needs(get_store(demo), "merangin", A)["needs"]
    expect(needs).to_have_count(len(expected))
    watch.check_clean()


def test_upload_names_the_bad_row_and_imports_on_confirmation(demo, server, watch, tmp_path):
    from playwright.sync_api import expect

    page = watch.page
    page.goto(f"{server}/workspaces/merangin/programs?lang=en")
    expect(page.locator("#programs tbody tr")).to_have_count(2)
    bad = tmp_path / "register-bad.xlsx"
    bad.write_bytes(register_xlsx(bad=True))
    page.set_input_files("#upload-file", str(bad))
    page.click("#check-button")
    problems = page.locator("#problems tbody tr")
    expect(problems).to_have_count(1, timeout=15000)
    cells = problems.first.locator("td")
    expect(cells.nth(0)).to_have_text("assignments")
    expect(cells.nth(1)).to_have_text("4")
    expect(cells.nth(2)).to_have_text("kode")
    expect(cells.nth(3)).to_contain_text(BAD_CODE)
    expect(page.locator("#dry-run-title")).to_contain_text("1 rows were rejected")
    expect(page.locator("#import-button")).to_be_hidden()

    good = tmp_path / "register.xlsx"
    good.write_bytes(register_xlsx())
    page.set_input_files("#upload-file", str(good))
    page.click("#check-button")
    expect(page.locator("#dry-run-title")).to_contain_text("Every row can be imported")
    expect(page.locator("#problems")).to_be_hidden()
    expect(page.locator("#dry-run-messages")).to_contain_text("nothing was written")
    expect(page.locator("#register-version")).to_contain_text("version 1")
    page.click("#import-button")
    expect(page.locator("#dry-run-title")).to_contain_text("version 2", timeout=15000)
    expect(page.locator("#register-version")).to_contain_text("version 2", timeout=15000)
    watch.check_clean()
