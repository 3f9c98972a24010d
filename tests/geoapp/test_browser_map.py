"""The map page in Debian's Chromium: tiles, side panel, layers, shared notes, languages."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.geoapp.auth_support import TEST_USER
from tests.geoapp.browser_support import LocalPage, serving
from tests.geoapp.conftest import open_demo_app

#: The village renamed in the fixture, to show that data is written as text.
SCRIPT_NAME = "<script>alert(1)</script>"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The app over the bundled demo area, one village renamed to a script."""
    from geoapp.store import get_store

    with open_demo_app(tmp_path_factory.mktemp("map")) as app:
        yield _renamed(get_store(app), app)


def _renamed(store, app) -> dict:
    import geopandas as gpd
    import shapely

    villages = store.read_dataset("merangin", "villages")
    metric = villages.to_crs(villages.estimate_utm_crs())
    big = metric.geometry.area.sort_values(ascending=False).index
    renamed, clicked = villages.loc[big[0], "kode"], villages.loc[big[1], "kode"]
    villages.loc[big[0], "name"] = SCRIPT_NAME
    store.put_dataset(
        "merangin",
        "villages",
        gpd.GeoDataFrame(villages, geometry="geometry", crs=villages.crs),
        source_name="villages.geojson",
        source_sha256="5" * 64,
        report={"kind": "villages", "notes": {}},
        created_by="test",
    )
    point = shapely.point_on_surface(villages.loc[big[1], "geometry"])
    return {
        "app": app,
        "renamed": renamed,
        "clicked": clicked,
        "clicked_name": villages.loc[big[1], "name"],
        "point": (point.y, point.x),
    }


@pytest.fixture(scope="module")
def server(demo):
    """The app served on a free local port (threads for two event streams)."""
    if "map_api" not in demo["app"].blueprints:
        pytest.skip("the map's JSON API (blueprint map_api) is not registered")
    with serving(demo["app"], threads=8) as url:
        yield url


class Watch(LocalPage):
    """A local-only page on the map, which also records the village tiles it loads."""

    def __init__(self, browser, locale: str = "id-ID"):
        super().__init__(browser, locale, viewport=(1300, 850), allow_400=False)
        self.tiles: list[tuple[int, str, int]] = []
        self.page.on("response", self._response)

    def _response(self, response):
        if "/tiles/villages/" in response.url:
            size = int(response.headers.get("content-length") or 0)
            self.tiles.append((response.status, response.headers.get("content-type"), size))

    def open(self, url: str):
        response = self.page.goto(url)
        assert response.status == 200
        self.page.wait_for_selector("#map-page[data-ready='1']", state="attached")
        return response

    def js(self, script: str, arg=None):
        return self.page.evaluate(script, arg)


def until_villages_drawn(watch: Watch, view: tuple[float, float, int] | None = None) -> None:
    """Move the map (optional) and wait until every village tile in view has loaded."""
    watch.js(
        """([view]) => new Promise((done) => {
            const layer = window.JangkauMap.layers.villages;
            if (!view && !layer.isLoading()) { done(); return; }
            layer.once('load', () => done());
            if (view) {
                window.JangkauMap.map.setView([view[0], view[1]], view[2], {animate: false});
            }
        })""",
        [list(view) if view else None],
    )


def test_map_loads_tiles_and_explains_a_clicked_village(browser, server, demo, tmp_path):
    from babel.numbers import format_decimal

    watch = Watch(browser)
    watch.open(f"{server}/workspaces/merangin/map?lang=id&layers=villages")
    until_villages_drawn(watch)
    # tiles came from this app as Mapbox Vector Tiles, some with villages in them
    assert watch.tiles
    assert {status for status, _, _ in watch.tiles} <= {200, 304}
    assert {kind for status, kind, _ in watch.tiles if status == 200} == {"application/x-protobuf"}
    assert any(size > 0 for _, _, size in watch.tiles)
    # the legend shows the run's classes in Indonesian
    assert "Kebutuhan sangat tinggi" in watch.page.inner_text(".map-legend")

    lat, lon = demo["point"]
    until_villages_drawn(watch, (lat, lon, 12))
    box = watch.page.locator(".folium-map").bounding_box()
    with watch.page.expect_response(
        lambda r: "/villages/" in r.url and "/tiles/" not in r.url
    ) as r:
        watch.page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    detail = r.value.json()
    assert detail["kode"] == demo["clicked"]
    panel = watch.page.locator("#village-panel")
    panel.wait_for(state="visible")
    assert watch.page.inner_text("#village-name") == demo["clicked_name"]
    facts = watch.page.inner_text("#village-facts")
    assert demo["clicked"] in facts
    score = format_decimal(detail["score"], format="0.0", locale="id")
    assert f"{score} / 100" in facts  # Indonesian decimal comma
    rows = watch.page.locator("#village-indicators tbody tr")
    assert rows.count() == len(detail["indicators"])
    first = detail["indicators"][0]
    assert rows.first.get_attribute("data-indicator") == first["id"]
    points = format_decimal(first["contribution"], format="0.0", locale="id")
    assert rows.first.locator("td").nth(2).inner_text() == points

    # a village whose name is a script is shown as text, found by its code
    watch.page.fill("#search-input", demo["renamed"])
    result = watch.page.locator(f"button.search-result[data-kode='{demo['renamed']}']")
    result.click()
    watch.page.wait_for_function(
        "(k) => document.getElementById('village-panel').dataset.kode === k", arg=demo["renamed"]
    )
    assert watch.page.inner_text("#village-name") == SCRIPT_NAME
    assert watch.page.locator("#village-panel script").count() == 0
    watch.page.screenshot(path=str(tmp_path / "map.png"))
    watch.check_clean()
    watch.context.close()


def test_layers_toggle_and_the_url_keeps_the_view(browser, server):
    watch = Watch(browser)
    watch.open(f"{server}/workspaces/merangin/map?lang=id&layers=villages,kecamatan")
    control = watch.page.locator(".leaflet-control-layers-overlays label")
    needs = control.filter(has_text="Kebutuhan").first
    with watch.page.expect_response(lambda r: "/points/needs" in r.url):
        needs.locator("input").check()
    watch.page.wait_for_function("() => window.JangkauMap.layers.needs.getLayers().length > 0")
    watch.page.wait_for_function("() => location.search.includes('needs')")
    query = parse_qs(urlsplit(watch.js("() => location.href")).query)
    assert query["layers"] == ["villages,kecamatan,needs"]
    villages = control.filter(has_text="Desa/Kelurahan").first.locator("input")
    villages.uncheck()
    shown = "() => window.JangkauMap.map.hasLayer(window.JangkauMap.layers.villages)"
    assert watch.js(shown) is False
    watch.page.wait_for_function("() => !location.search.includes('villages')")

    # the view goes into the URL; opening that URL restores it
    watch.js("() => window.JangkauMap.map.setView([-2.2, 102.1], 11, {animate: false})")
    watch.page.wait_for_function("() => new URLSearchParams(location.search).get('z') === '11'")
    permalink = watch.js("() => location.href")
    query = parse_qs(urlsplit(permalink).query)
    assert query["lat"] == ["-2.20000"]
    assert query["lon"] == ["102.10000"]
    assert query["layers"] == ["kecamatan,needs"]
    again = Watch(browser)
    again.open(permalink)
    state = again.js("() => window.JangkauMap.state()")
    assert state["view"]["zoom"] == 11
    assert state["view"]["center"] == pytest.approx([-2.2, 102.1], abs=1e-4)
    assert state["layers"] == ["kecamatan", "needs"]

    # the language switch keeps the view and changes the page's words
    assert "Lapisan" not in again.page.inner_text(".leaflet-control-layers")
    assert "Kebutuhan" in again.page.inner_text(".leaflet-control-layers")
    again.page.click("a[data-lang='en']")
    again.page.wait_for_selector("#map-page[data-ready='1']", state="attached")
    assert again.page.locator("html").get_attribute("lang") == "en"
    assert "Needs" in again.page.inner_text(".leaflet-control-layers")
    assert "Kecamatan outlines" in again.page.inner_text(".leaflet-control-layers")
    assert again.page.inner_text("#profile-select option[selected]") == "Health access"
    query = parse_qs(urlsplit(again.js("() => location.href")).query)
    assert query["z"] == ["11"]
    assert query["layers"] == ["kecamatan,needs"]
    watch.check_clean()
    again.check_clean()
    watch.context.close()
    again.context.close()


def test_a_note_drawn_in_one_browser_appears_in_another_without_reload(browser, server):
    viewer = Watch(browser)
    viewer.open(f"{server}/workspaces/merangin/map?lang=en&layers=villages,annotations")
    author = Watch(browser)
    author.open(f"{server}/workspaces/merangin/map?lang=en&layers=villages,annotations")
    page = author.page
    # the note is saved under the signed-in account, whose name the form shows, read-only
    assert page.locator("#author-input").input_value() == TEST_USER
    assert page.locator("#author-input").get_attribute("readonly") is not None
    page.click(".leaflet-pm-icon-marker")
    box = page.locator(".folium-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.45)
    page.locator("#annotation-form").wait_for(state="visible")
    note = "Jalan rusak <img src=x onerror=alert(1)>"
    page.fill("#annotation-note", note)
    with page.expect_response(
        lambda r: r.url.endswith("/annotations") and r.request.method == "POST"
    ) as r:
        page.click("#annotation-save")
    assert r.value.status == 201
    saved = r.value.json()
    assert saved["note"] == note
    assert saved["geometry"]["type"] == "Point"
    assert page.locator("#annotation-form").is_hidden()

    # the other browser shows it within a few seconds, as text
    viewer.page.wait_for_function(
        "(id) => window.JangkauMap.annotationIds().includes(id)", arg=saved["id"], timeout=8_000
    )
    shown = viewer.js(
        """(id) => {
            const group = window.JangkauMap.layers.annotations;
            const layer = group.getLayers().find((l) => l.annotationId === id);
            layer.openPopup();
            layer.openTooltip();
            return document.querySelector('.leaflet-popup-content').innerText
                + ' | ' + document.querySelector('.leaflet-tooltip').innerText;
        }""",
        saved["id"],
    )
    assert note in shown
    assert saved["author"] == TEST_USER
    assert TEST_USER in shown
    assert shown.count(note) == 2  # in the popup and in the tooltip
    assert viewer.page.locator(".leaflet-popup-content img, .leaflet-tooltip img").count() == 0

    # a line posted through the page's own interface arrives the same way
    line = {"type": "LineString", "coordinates": [[102.0, -2.1], [102.1, -2.15]]}
    second = author.js(
        "([g]) => window.JangkauMap.postAnnotation(g, 'Rute survei', 'Budi')", [line]
    )
    viewer.page.wait_for_function(
        "(id) => window.JangkauMap.annotationIds().includes(id)", arg=second["id"], timeout=8_000
    )

    # presenter mode: the follower's map goes where the presenter's goes
    viewer.page.check("#follow-toggle")
    page.click("#present-toggle")
    author.js("() => window.JangkauMap.map.setView([-2.05, 102.3], 12, {animate: false})")
    viewer.page.wait_for_function(
        "() => { const v = window.JangkauMap.state().view;"
        " return v.zoom === 12 && Math.abs(v.center[0] + 2.05) < 1e-3"
        " && Math.abs(v.center[1] - 102.3) < 1e-3; }",
        timeout=8_000,
    )
    viewer.check_clean()
    author.check_clean()
    viewer.context.close()
    author.context.close()
