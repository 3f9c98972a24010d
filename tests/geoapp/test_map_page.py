"""The map page: parameters, errors, languages, permalinks and its security policy."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html import unescape

import pytest

from tests.geoapp.conftest import open_demo_app


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    """The app over the bundled demo area (Kabupaten Merangin)."""
    with open_demo_app(tmp_path_factory.mktemp("map_page")) as app:
        yield app


@pytest.fixture
def client(demo_app):
    """A test client of the demo app."""
    return demo_app.test_client()


def page(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def json_blob(html: str, element_id: str):
    found = re.search(
        rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S
    )
    return json.loads(found.group(1))


def layer_names(html: str) -> list[str]:
    block = re.search(r"overlays\s*:\s*\{(.*?)\},\s*\};", html, re.S).group(1)
    return [unescape(json.loads(f'"{k}"')) for k in re.findall(r'"((?:[^"\\]|\\.)*)"\s*:', block)]


def test_map_page_of_the_demo_workspace(client, demo_app):
    from layers.mapdata import map_values
    from layers.score_run import list_profiles

    html = page(client, "/workspaces/merangin/map?lang=en")
    assert '<html lang="en">' in html
    with demo_app.app_context():
        from geoapp.store import get_store

        store = get_store()
        profiles = [p.name for p in list_profiles(store, "merangin")]
        values = map_values(store, "merangin", profiles[0])
    options = re.findall(r'<option value="([^"]*)"[^>]*>', html.split('id="profile-select"')[1])
    assert options[: len(profiles)] == profiles
    assert f'<option value="{profiles[0]}" selected>' in html
    # the legend is the run's, colour for colour
    legend = re.findall(r'<li data-class="(\d+)" data-colour="(#[0-9a-f]{6})">', html)
    expected = [(str(e["class"]), e["colour"]) for e in values.legend if e["class"] is not None]
    assert sorted(legend) == sorted(expected)
    # the villages come from the tile route of this run, nothing is embedded
    tiles = re.search(r"L\.vectorGrid\.protobuf\(\s*'([^']*)'", html).group(1)
    assert tiles == (
        f"/api/workspaces/merangin/tiles/villages/{{z}}/{{x}}/{{y}}.pbf"
        f"?profile={profiles[0]}&v={values.version}"
    )
    assert '"coordinates"' not in html
    assert layer_names(html) == [
        "Villages (desa/kelurahan)",
        "Kecamatan outlines",
        "Kabupaten outlines",
        "Facilities",
        "Needs",
        "Needs heat map",
        "Notes on the map",
    ]


def test_page_loads_nothing_from_elsewhere_and_allows_only_its_own_inline_scripts(client):
    response = client.get("/workspaces/merangin/map")
    html = response.get_data(as_text=True)
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert url.startswith(("/", "?", "#")), url
    assert re.findall(r"https?://", html) == []
    csp = response.headers["Content-Security-Policy"]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ")}
    assert directives["default-src"] == ["'self'"]
    assert directives["img-src"] == ["'self'", "data:"]
    inline = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert inline
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in inline
    ]
    assert directives["script-src"] == ["'self'", *hashes]
    assert "'unsafe-inline'" not in directives["script-src"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_osm_basemap_adds_its_tiles_and_nothing_else(demo_app):
    demo_app.config["BASEMAP"] = "osm"
    try:
        response = demo_app.test_client().get("/workspaces/merangin/map")
    finally:
        demo_app.config.pop("BASEMAP")
    html = response.get_data(as_text=True)
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) == {
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    }
    csp = response.headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://tile.openstreetmap.org" in csp


def test_unknown_workspace_is_a_404_page(client):
    html = page(client, "/workspaces/nope/map?lang=en", 404)
    assert "<h1>Not found" in html
    assert "nope" in html


def test_unknown_profile_says_which_profiles_there_are(client):
    html = page(client, "/workspaces/merangin/map?profile=no_such&lang=en", 404)
    message = unescape(re.search(r'<p class="error-message"[^>]*>(.*?)</p>', html, re.S).group(1))
    assert "'no_such'" in message
    for name in ("health_access", "water_sanitation", "education"):
        assert name in message


def test_unknown_indicator_is_a_400_naming_it(client):
    html = page(client, "/workspaces/merangin/map?indicator=shoe_size&lang=en", 400)
    message = unescape(re.search(r'<p class="error-message"[^>]*>(.*?)</p>', html, re.S).group(1))
    assert "'shoe_size'" in message
    assert "dist_m__puskesmas" in message


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("layers=villages,roads", ["'roads'", "kabupaten"]),
        ("z=abc", ["z", "'abc'"]),
        ("z=40", ["z", "'40'"]),
        ("lat=-2.1", ["lat", "lon"]),
        ("lat=95&lon=102", ["lat", "'95'"]),
        ("kec=15.2", ["'15.2'", "15.02.06"]),
        ("kec=<script>", ["'<script>'"]),
    ],
)
def test_bad_view_parameters_are_400_pages(client, query, words):
    html = page(client, f"/workspaces/merangin/map?lang=en&{query}", 400)
    message = unescape(re.search(r'<p class="error-message"[^>]*>(.*?)</p>', html, re.S).group(1))
    for word in words:
        assert word in message
    assert "<script>" not in html.split("<main>")[1]


def test_permalink_parameters_are_reflected(client):
    url = (
        "/workspaces/merangin/map?lang=en&profile=water_sanitation&indicator=dist_m__puskesmas"
        "&layers=needs,villages&kec=15.02.06&z=11&lat=-2.1&lon=102.25"
    )
    html = page(client, url)
    state = json_blob(html, "map-state")
    assert state["profile"] == "water_sanitation"
    assert state["indicator"] == "dist_m__puskesmas"
    assert state["layers"] == ["villages", "needs"]  # the map's order
    assert state["kec"] == "15.02.06"
    assert (state["z"], state["lat"], state["lon"]) == (11, -2.1, 102.25)
    assert '<option value="water_sanitation" selected>' in html
    assert re.search(r'<option value="dist_m__puskesmas"[^>]* selected>', html)
    assert '<option value="15.02.06" selected>15.02.06</option>' in html
    assert 'name="layers" id="layers-input" value="villages,needs"' in html
    tiles = re.search(r"L\.vectorGrid\.protobuf\(\s*'([^']*)'", html).group(1)
    assert "profile=water_sanitation&indicator=dist_m__puskesmas&v=" in tiles
    # the legend is that of the indicator: 5 quantile classes, titled by its label
    title = re.search(r'<h2 class="map-legend-title">(.*?)</h2>', html).group(1)
    assert title == "Distance to the nearest puskesmas (m)"
    assert len(re.findall(r'<li data-class="\d"', html)) == 5
    # the language switch keeps the view
    link = unescape(re.search(r'<a href="([^"]+)"[^>]*data-lang="id"', html).group(1))
    for part in ("indicator=dist_m__puskesmas", "kec=15.02.06", "z=11", "lang=id"):
        assert part in link


def test_no_layers_parameter_gives_the_default_layers(client):
    from geoapp.mapbuild import DEFAULT_LAYERS

    state = json_blob(page(client, "/workspaces/merangin/map"), "map-state")
    assert state["layers"] == list(DEFAULT_LAYERS)
    assert (state["z"], state["lat"], state["lon"], state["kec"]) == (None, None, None, None)
    state = json_blob(page(client, "/workspaces/merangin/map?layers="), "map-state")
    assert state["layers"] == []


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("id", ["Desa/Kelurahan", "Fasilitas", "Kebutuhan", "Akses kesehatan", "Bahasa"]),
        ("en", ["Villages (desa/kelurahan)", "Facilities", "Needs", "Health access", "Language"]),
    ],
)
def test_page_language(client, lang, words):
    response = client.get(f"/workspaces/merangin/map?lang={lang}")
    assert response.headers["Content-Language"] == lang
    html = response.get_data(as_text=True)
    assert f'<html lang="{lang}">' in html
    shown = unescape(html)
    for word in words:
        assert word in shown
    assert json_blob(html, "jangkau-map-config")["lang"] == lang
    strings = json_blob(html, "map-strings")
    assert strings["types"]["sd"] == ("SD" if lang == "id" else "primary school (SD)")
    assert strings["categories"]["water"] == ("air bersih" if lang == "id" else "clean water")
    # the legend's class names come from the catalogue of that language
    legend = unescape(re.search(r'class="map-legend-items">(.*?)</ul>', html).group(1))
    assert ("Kebutuhan sangat tinggi" if lang == "id" else "Very high need") in legend


def test_texts_for_the_script_keep_their_placeholders(client):
    strings = json_blob(page(client, "/workspaces/merangin/map?lang=en"), "map-strings")
    assert strings["rank_of"] == "%(rank)s of %(total)s"
    assert strings["load_error"] == "Could not load the data: %(reason)s"
    assert strings["geoman"]["buttonTitles"]["drawPolyButton"] == "Note on an area"


def test_workspace_page_links_to_the_map(client):
    html = page(client, "/workspaces/merangin?lang=en")
    assert '<a href="/workspaces/merangin/map">Open the map</a>' in html
