"""Front-end assets come from npm and are served locally: no CDN anywhere."""

from __future__ import annotations

import json
import re

import pytest

from geoapp.assets import FOLIUM_ASSETS, FOLIUM_SKIPPED, VENDOR, VENDOR_FILES
from tests.conftest import REPO

GEOAPP = REPO / "geoapp"
#: Addresses allowed in the app's own files: this machine, XML namespaces of inline SVG.
#: The one outside address, used only when BASEMAP = "osm": OpenStreetMap's tiles.
OPTIONAL_REMOTE = {
    (GEOAPP / "mapbuild.py", "https://tile.openstreetmap.org/{z}/{x}/{y}.png"),
    (GEOAPP / "mapbuild.py", "https://tile.openstreetmap.org"),
}
LOCAL = re.compile(r"https?://(?:127\.0\.0\.1|localhost|%\(host|www\.w3\.org/)")


def own_files():
    for path in sorted(GEOAPP.rglob("*")):
        if path.is_file() and "vendor" not in path.parts and path.suffix in (
            ".py", ".html", ".js", ".css"
        ):  # fmt: skip
            yield path


def test_no_remote_address_in_the_apps_own_files():
    offenders = []
    for path in own_files():
        for url in re.findall(r"https?://[^\s\"'<>)]*", path.read_text(encoding="utf-8")):
            if not LOCAL.match(url) and (path, url) not in OPTIONAL_REMOTE:
                offenders.append(f"{path.relative_to(REPO)}: {url}")
    assert offenders == []


def test_templates_load_scripts_and_styles_through_url_for():
    for path in (GEOAPP / "templates").glob("*.html"):
        html = path.read_text(encoding="utf-8")
        for attr in re.findall(r'(?:src|href)="([^"]*\.(?:js|css))"', html):
            pytest.fail(f"{path.name}: literal asset path {attr}; use url_for('static', ...)")


def test_package_json_pins_exact_versions_matching_the_lock():
    package = json.loads((REPO / "package.json").read_text())
    lock = json.loads((REPO / "package-lock.json").read_text())
    deps = package["dependencies"]
    assert "leaflet" in deps
    for name, version in deps.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} {version} is not exact"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    assert {p for p, _, _ in VENDOR_FILES} <= set(deps)


def test_every_page_asset_is_copied_from_npm():
    destinations = {dest for _, _, dest in VENDOR_FILES}
    for path in VENDOR.values():
        assert path.removeprefix("vendor/") in destinations


def test_folium_resources_all_have_a_local_copy_or_a_reason():
    folium = pytest.importorskip("folium")
    from folium.plugins import MarkerCluster

    names = {name for name, _ in folium.folium._default_js + folium.folium._default_css}
    names |= {name for name, _ in MarkerCluster.default_js + MarkerCluster.default_css}
    assert names <= set(FOLIUM_ASSETS) | set(FOLIUM_SKIPPED)
    assert set(FOLIUM_ASSETS.values()) <= set(VENDOR.values())


def test_install_assets_is_up_to_date_when_node_modules_exist():
    if not (REPO / "node_modules").is_dir():
        pytest.skip("node_modules/ absent: run `npm ci` (scripts/setup.sh does)")
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "install_assets.py"), "--check"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_vendor_files_are_served(client):
    from geoapp.assets import vendor_installed

    if not vendor_installed():
        pytest.skip("vendor assets not installed: run scripts/setup.sh")
    response = client.get("/static/" + VENDOR["leaflet_js"])
    assert response.status_code == 200
    assert b"Leaflet" in response.data[:2000]
