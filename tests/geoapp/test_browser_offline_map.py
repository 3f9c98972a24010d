"""The standalone HTML map in Debian's Chromium, opened from disk with the network blocked."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The demo's HTML map (health_access run) and the demo's villages."""
    from layers.demo_load import load_demo
    from layers.exports.html_map import export_html_map
    from layers.mapdata import map_values
    from layers.storage import open_store

    folder = tmp_path_factory.mktemp("offline_map")
    store = open_store(f"sqlite:///{folder / 'demo.sqlite'}")
    store.init()
    load_demo(store)
    path = folder / "peta merangin.html"  # a space: the file URL must be quoted
    result = export_html_map(store, "merangin", path, profile="health_access", lang="id")
    villages = store.read_dataset("merangin", "villages")
    values = map_values(store, "merangin", "health_access").values
    store.close()
    return {"path": path, "result": result, "villages": villages, "values": values}


def test_opened_from_disk_offline_it_draws_every_village_and_a_popup(exported, browser):
    context = browser.new_context(locale="id-ID", viewport={"width": 1280, "height": 900})
    context.set_offline(True)
    page = context.new_page()
    requested: list[str] = []
    blocked: list[str] = []
    problems: list[str] = []

    def guard(route):
        url = route.request.url
        requested.append(url)
        if url.startswith("file://"):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page.route("**/*", guard)
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(exported["path"].as_uri())
    page.wait_for_selector("path.leaflet-interactive")
    drawn = page.locator("path.leaflet-interactive").count()
    assert drawn == len(exported["villages"]) == exported["result"].rows["villages"] == 215

    # the fills are the legend's colours of each village's class
    fills = page.evaluate(
        """() => {
        const out = {};
        window.jangkauMap.villages.eachLayer(l => {
          out[l.feature.properties.k] = l.options.fillColor;
        });
        return out;
      }"""
    )
    legend = {1: "#ffffb2", 2: "#fecc5c", 3: "#fd8d3c", 4: "#f03b20", 5: "#bd0026"}
    want = {
        k: ("#bdbdbd" if str(c) == "<NA>" else legend[int(c)])
        for k, c in exported["values"]["class"].items()
    }
    assert fills == want

    # click the middle of the map: a village's popup opens with its name and code
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector(".leaflet-popup-content .popup")
    opened = page.evaluate("() => window.jangkauMap.map._popup._source.feature.properties")
    text = page.locator(".leaflet-popup-content").inner_text()
    row = exported["villages"].set_index("kode").loc[opened["k"]]
    assert text.splitlines()[0] == row["name"]
    # texts in English (no gettext given), numbers in the page's language (id-ID)
    assert f"Code: {opened['k']}" in text
    assert f"Kecamatan: {row['kecamatan']}" in text
    rank = int(exported["values"].loc[opened["k"], "rank"])
    assert f"Rank: {rank} / 215" in text
    score = round(float(exported["values"].loc[opened["k"], "value"]), 1)
    shown = f"{score:.1f}".replace(".", ",").removesuffix(",0")
    assert f"Score: {shown}" in text

    assert blocked == []
    assert requested
    assert all(u.startswith("file://") for u in requested)
    assert problems == []
    context.close()
