"""The Folium map of the map page: layers, legend, local assets only, no geometry inside."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest

from geoapp.assets import FOLIUM_ASSETS, FOLIUM_SKIPPED
from geoapp.mapbuild import (
    BASEMAPS,
    LABEL_KEYS,
    OVERLAYS,
    basemap_config,
    build_map,
    inline_script_hashes,
)

TILE_URL = "/api/workspaces/merangin/tiles/villages/{z}/{x}/{y}.pbf?profile=health_access"
BOUNDS = (101.54, -2.77, 102.63, -1.65)
LEGEND = [
    {"class": 1, "label": "Very low need", "lower": 15.5, "upper": 33.6, "colour": "#ffffb2"},
    {"class": 2, "label": "Low need", "lower": 33.6, "upper": 59.6, "colour": "#FECC5C"},
    {"class": 3, "label": "High need", "lower": 59.6, "upper": 88.25, "colour": "#f03b20"},
    {"class": None, "label": "No data", "lower": None, "upper": None, "colour": "#bdbdbd"},
]
LABELS = {key: f"Layer {key}" for key in LABEL_KEYS}


def asset_urls() -> dict:
    urls = {name: "/static/" + path for name, path in FOLIUM_ASSETS.items()}
    urls.update({name: None for name in FOLIUM_SKIPPED})
    return urls


def render(**changes) -> str:
    args = {
        "workspace": "merangin",
        "bounds": BOUNDS,
        "tile_url": TILE_URL,
        "values_url": "/api/workspaces/merangin/map/values",
        "detail_url": "/api/workspaces/merangin/villages/{kode}",
        "search_url": "/api/workspaces/merangin/search",
        "outlines_url": "/api/workspaces/merangin/outlines/{level}",
        "points_url": "/api/workspaces/merangin/points/{layer}",
        "annotations_url": "/api/workspaces/merangin/annotations",
        "events_url": "/api/workspaces/merangin/events",
        "presenter_url": "/api/workspaces/merangin/presenter",
        "legend": LEGEND,
        "basemap": BASEMAPS["none"],
        "labels": LABELS,
        "lang": "en",
        "asset_urls": asset_urls(),
    }
    args.update(changes)
    return build_map(**args)


def layer_control_names(html: str) -> list[str]:
    block = re.search(r"overlays\s*:\s*\{(.*?)\},\s*\};", html, re.S).group(1)
    return [json.loads(f'"{key}"') for key in re.findall(r'"((?:[^"\\]|\\.)*)"\s*:', block)]


def legend_items(html: str) -> list[tuple[str, str, str, str]]:
    return re.findall(
        r'<li data-class="(\d*)" data-colour="([^"]+)"><span class="swatch" '
        r'style="background:([^"]+)"></span><span class="legend-label">([^<]*)</span>',
        html,
    )


def test_layer_control_lists_every_overlay_by_its_label_in_order():
    html = render()
    assert layer_control_names(html) == [f"Layer {key}" for key in OVERLAYS]
    # the basemap is not an overlay, and without a basemap there is no tile layer at all
    assert "L.tileLayer" not in html


def test_legend_has_one_entry_per_class_with_its_colour_highest_first():
    html = render()
    items = legend_items(html)
    assert items == [
        ("3", "#f03b20", "#f03b20", "High need"),
        ("2", "#fecc5c", "#fecc5c", "Low need"),
        ("1", "#ffffb2", "#ffffb2", "Very low need"),
        ("", "#bdbdbd", "#bdbdbd", "No data"),
    ]
    assert '<h2 class="map-legend-title">Layer legend_title</h2>' in html
    # ranges in the page's language, one decimal from 10 on (88.25 -> 88.3)
    assert "59.6 – 88.3" in html
    assert "59,6 – 88,3" in render(lang="id")
    wide = [dict(LEGEND[0], lower=1234.5, upper=98765.4), dict(LEGEND[1], lower=0.125, upper=9.5)]
    html = render(legend=wide, lang="id")
    assert "1.235 – 98.765" in html
    assert "0,13 – 9,5" in html  # half up, as Intl.NumberFormat


def test_village_tiles_are_coloured_by_class_with_the_legend_colours():
    html = render()
    state = json.loads(re.search(r"var state = (\{.*?\});\n", html).group(1))
    assert state["colours"] == {"1": "#ffffb2", "2": "#fecc5c", "3": "#f03b20"}
    assert state["noValue"] == "#bdbdbd"
    assert "state.colours[String(p['class'])]" in html
    assert "vectorTileLayerStyles: {villages: style}" in html


def test_tile_url_template_is_given_to_vectorgrid():
    html = render()
    call = re.search(r"L\.vectorGrid\.protobuf\(\s*'([^']*)'", html)
    assert call is not None
    assert call.group(1) == TILE_URL
    config = json.loads(re.search(r'id="jangkau-map-config">(.*?)</script>', html, re.S).group(1))
    assert config["urls"]["tiles"] == TILE_URL
    assert config["urls"]["detail"].endswith("/villages/{kode}")
    assert config["overlays"] == list(OVERLAYS)


def test_a_quote_in_the_tile_url_cannot_end_the_javascript_string():
    html = render(tile_url="/api/workspaces/x'y/tiles/villages/{z}/{x}/{y}.pbf?profile=a\\b")
    call = re.search(r"L\.vectorGrid\.protobuf\(\s*'([^']*)'", html).group(1)
    assert call == "/api/workspaces/x%27y/tiles/villages/{z}/{x}/{y}.pbf?profile=a%5Cb"


def test_map_is_fitted_to_the_bounds():
    html = render()
    fit = re.search(r"\.fitBounds\(\s*(\[\[.*?\]\])", html, re.S).group(1)
    assert json.loads(fit) == [[-2.77, 101.54], [-1.65, 102.63]]
    centre = re.search(r"center: (\[[^\]]*\])", html).group(1)
    assert json.loads(centre) == pytest.approx([(-2.77 - 1.65) / 2, (101.54 + 102.63) / 2])


def test_every_script_and_stylesheet_is_local():
    html = render()
    sources = re.findall(r'<script src="([^"]+)"', html) + re.findall(
        r'<link rel="stylesheet" href="([^"]+)"', html
    )
    assert sources
    assert all(s.startswith("/static/vendor/") for s in sources), sources
    expected = {
        "/static/" + FOLIUM_ASSETS[n]
        for n in ("leaflet", "leaflet_css", "vectorGrid", "markerclusterjs", "leaflet-heat.js")
    }
    assert expected <= set(sources)
    assert re.findall(r"https?://", html) == []


def test_a_folium_resource_without_local_copy_is_refused():
    urls = asset_urls()
    del urls["vectorGrid"]
    with pytest.raises(ValueError, match="vectorGrid"):
        render(asset_urls=urls)


def test_osm_basemap_is_the_only_external_address_when_chosen():
    html = render(basemap=basemap_config("osm"))
    external = re.findall(r"https?://[^\s\"'<>]+", html)
    assert external == ["https://tile.openstreetmap.org/{z}/{x}/{y}.png"]
    assert '"attribution": "\\u00a9 OpenStreetMap contributors"' in html
    assert basemap_config("none") == {"kind": "none"}
    with pytest.raises(ValueError, match="BASEMAP"):
        basemap_config("satellite")


def test_no_geometry_is_embedded():
    import geopandas as gpd
    import shapely

    from layers.demo import DEMO_DIR

    frame = gpd.read_file(DEMO_DIR / "villages.geojson")
    html = render(bounds=tuple(frame.total_bounds))
    assert '"coordinates"' not in html
    assert '"Polygon"' not in html
    assert '"MultiPolygon"' not in html
    assert "L.geoJSON" not in html
    # no vertex of a village appears, at any precision a GeoJSON writer would use
    coords = shapely.get_coordinates(frame.geometry.values)
    sample = coords[:: max(1, len(coords) // 300)]
    numbers = set(re.findall(r"-?\d+\.\d{4,}", html))
    for x, y in sample:
        for digits in (4, 5, 6):
            assert f"{x:.{digits}f}" not in numbers
            assert f"{y:.{digits}f}" not in numbers
    assert len(html) < 40_000


def test_labels_are_escaped():
    script = "<script>alert(1)</script>"
    labels = dict(LABELS, villages=script, legend_title="<b>Skor</b>")
    legend = [dict(LEGEND[0], label=script), *LEGEND[1:]]
    html = render(labels=labels, legend=legend)
    assert script not in html
    assert "<b>Skor</b>" not in html
    assert '<h2 class="map-legend-title">&lt;b&gt;Skor&lt;/b&gt;</h2>' in html
    assert legend_items(html)[-2][3] == "&lt;script&gt;alert(1)&lt;/script&gt;"
    # Leaflet's layer control writes names as HTML: the name it gets is escaped text
    assert layer_control_names(html)[0] == "&lt;script&gt;alert(1)&lt;/script&gt;"
    config = re.search(r'id="jangkau-map-config">(.*?)</script>', html, re.S).group(1)
    assert "<" not in config
    assert json.loads(config)["legend"][0]["label"] == script


def test_template_syntax_in_a_label_is_kept_as_text():
    labels = dict(LABELS, legend_title="{{ 7*7 }} {% if x %}", villages="{{ 7*7 }}")
    legend = [dict(LEGEND[0], label="{# c #}"), *LEGEND[1:]]
    html = render(labels=labels, legend=legend)
    assert "{{ 7*7 }} {% if x %}" in html
    assert legend_items(html)[-2][3] == "{# c #}"
    assert layer_control_names(html)[0] == "&#123;&#123; 7*7 &#125;&#125;"


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="colour"):
        render(legend=[dict(LEGEND[0], colour="red;background:url(x)")])
    with pytest.raises(ValueError, match="bounds"):
        render(bounds=(200, 0, 201, 1))
    with pytest.raises(ValueError, match="labels lacks"):
        render(labels={"villages": "x"})
    with pytest.raises(ValueError, match="lang"):
        render(lang="fr")


def test_inline_script_hashes_are_the_sha256_of_each_inline_script():
    html = render()
    bodies = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(bodies) == 2  # Folium's switches and the map's script
    expected = [
        "'sha256-" + base64.b64encode(hashlib.sha256(b.encode()).digest()).decode() + "'"
        for b in bodies
    ]
    assert inline_script_hashes(html) == expected
    page = '<script src="/x.js"></script><script type="application/json">{}</script>'
    assert inline_script_hashes(page) == []
