"""Third-party front-end files the app serves, and where they come from.

The files are installed from npm (``package.json``/``package-lock.json``) and copied into
``geoapp/static/vendor/`` by ``scripts/install_assets.py``; nothing is ever loaded from a
CDN. Templates refer to them with ``url_for('static', filename=VENDOR[...])``.
"""

from __future__ import annotations

from pathlib import Path

#: Folder the vendor files are copied into (gitignored; made at setup).
VENDOR_DIR = Path(__file__).resolve().parent / "static" / "vendor"

#: (npm package, file or folder inside the package, destination under ``static/vendor/``).
VENDOR_FILES: tuple[tuple[str, str, str], ...] = (
    ("leaflet", "dist/leaflet.js", "leaflet/leaflet.js"),
    ("leaflet", "dist/leaflet.css", "leaflet/leaflet.css"),
    ("leaflet", "dist/images", "leaflet/images"),
    ("leaflet", "LICENSE", "leaflet/LICENSE"),
    ("jquery", "dist/jquery.min.js", "jquery/jquery.min.js"),
    ("jquery", "LICENSE.txt", "jquery/LICENSE.txt"),
    ("bootstrap", "dist/js/bootstrap.bundle.min.js", "bootstrap/bootstrap.bundle.min.js"),
    ("bootstrap", "dist/css/bootstrap.min.css", "bootstrap/bootstrap.min.css"),
    ("bootstrap", "LICENSE", "bootstrap/LICENSE"),
    ("@fortawesome/fontawesome-free", "css/all.min.css", "fontawesome/css/all.min.css"),
    ("@fortawesome/fontawesome-free", "webfonts", "fontawesome/webfonts"),
    ("@fortawesome/fontawesome-free", "LICENSE.txt", "fontawesome/LICENSE.txt"),
    (
        "leaflet.awesome-markers",
        "dist/leaflet.awesome-markers.js",
        "leaflet.awesome-markers/leaflet.awesome-markers.js",
    ),
    (
        "leaflet.awesome-markers",
        "dist/leaflet.awesome-markers.css",
        "leaflet.awesome-markers/leaflet.awesome-markers.css",
    ),
    ("leaflet.awesome-markers", "dist/images", "leaflet.awesome-markers/images"),
    ("leaflet.awesome-markers", "LICENSE", "leaflet.awesome-markers/LICENSE"),
    (
        "leaflet.markercluster",
        "dist/leaflet.markercluster.js",
        "leaflet.markercluster/leaflet.markercluster.js",
    ),
    (
        "leaflet.markercluster",
        "dist/MarkerCluster.css",
        "leaflet.markercluster/MarkerCluster.css",
    ),
    (
        "leaflet.markercluster",
        "dist/MarkerCluster.Default.css",
        "leaflet.markercluster/MarkerCluster.Default.css",
    ),
    ("leaflet.markercluster", "MIT-LICENCE.txt", "leaflet.markercluster/MIT-LICENCE.txt"),
    (
        "leaflet.vectorgrid",
        "dist/Leaflet.VectorGrid.bundled.min.js",
        "leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js",
    ),
    # The package has no licence file: its README holds the licence text.
    ("leaflet.vectorgrid", "README.md", "leaflet.vectorgrid/README.md"),
    ("leaflet.heat", "dist/leaflet-heat.js", "leaflet.heat/leaflet-heat.js"),
    ("leaflet.heat", "LICENSE", "leaflet.heat/LICENSE"),
    (
        "@geoman-io/leaflet-geoman-free",
        "dist/leaflet-geoman.min.js",
        "leaflet-geoman/leaflet-geoman.min.js",
    ),
    (
        "@geoman-io/leaflet-geoman-free",
        "dist/leaflet-geoman.css",
        "leaflet-geoman/leaflet-geoman.css",
    ),
    ("@geoman-io/leaflet-geoman-free", "LICENSE", "leaflet-geoman/LICENSE"),
)

#: Static paths (under ``static/``) of the vendor files pages use, by short name.
VENDOR: dict[str, str] = {
    "leaflet_js": "vendor/leaflet/leaflet.js",
    "leaflet_css": "vendor/leaflet/leaflet.css",
    "jquery_js": "vendor/jquery/jquery.min.js",
    "bootstrap_js": "vendor/bootstrap/bootstrap.bundle.min.js",
    "bootstrap_css": "vendor/bootstrap/bootstrap.min.css",
    "fontawesome_css": "vendor/fontawesome/css/all.min.css",
    "awesome_markers_js": "vendor/leaflet.awesome-markers/leaflet.awesome-markers.js",
    "awesome_markers_css": "vendor/leaflet.awesome-markers/leaflet.awesome-markers.css",
    "markercluster_js": "vendor/leaflet.markercluster/leaflet.markercluster.js",
    "markercluster_css": "vendor/leaflet.markercluster/MarkerCluster.css",
    "markercluster_default_css": "vendor/leaflet.markercluster/MarkerCluster.Default.css",
    "vectorgrid_js": "vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js",
    "heat_js": "vendor/leaflet.heat/leaflet-heat.js",
    "geoman_js": "vendor/leaflet-geoman/leaflet-geoman.min.js",
    "geoman_css": "vendor/leaflet-geoman/leaflet-geoman.css",
}

#: Folium's resource names (``folium.Map.default_js/default_css`` and plugins) mapped to the
#: local copies above, for map pages that render Folium without a CDN.
FOLIUM_ASSETS: dict[str, str] = {
    "leaflet": VENDOR["leaflet_js"],
    "leaflet_css": VENDOR["leaflet_css"],
    "jquery": VENDOR["jquery_js"],
    "bootstrap": VENDOR["bootstrap_js"],
    "bootstrap_css": VENDOR["bootstrap_css"],
    "awesome_markers": VENDOR["awesome_markers_js"],
    "awesome_markers_css": VENDOR["awesome_markers_css"],
    "awesome_markers_font_css": VENDOR["fontawesome_css"],
    "markerclusterjs": VENDOR["markercluster_js"],
    "markerclustercss": VENDOR["markercluster_css"],
    "markerclusterdefaultcss": VENDOR["markercluster_default_css"],
    "vectorGrid": VENDOR["vectorgrid_js"],
    "leaflet-heat.js": VENDOR["heat_js"],
    "leaflet_geoman_js": VENDOR["geoman_js"],
    "leaflet_geoman_css": VENDOR["geoman_css"],
}

#: Folium resources deliberately not served, and why (drop them from rendered maps).
FOLIUM_SKIPPED: dict[str, str] = {
    "glyphicons_css": "Bootstrap 3 icon font; Font Awesome icons are used instead",
    "awesome_rotate_css": "only rotates marker icons; markers are drawn unrotated",
}


def vendor_installed() -> bool:
    """True when every vendor file pages use is present under ``static/``."""
    static = VENDOR_DIR.parent
    return all((static / path).is_file() for path in VENDOR.values())
