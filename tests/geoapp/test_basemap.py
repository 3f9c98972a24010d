"""The local MBTiles basemap served by the app, and the map page using it."""

from __future__ import annotations

import re

from tests.geoapp.test_map_page import demo_app  # noqa: F401 - the module's demo app fixture
from tests.layers.test_mbtiles import PNG, make_mbtiles


def test_map_page_uses_the_local_basemap_and_the_app_serves_its_tiles(demo_app, tmp_path):  # noqa: F811
    path = make_mbtiles(tmp_path / "merangin.mbtiles", {(9, 400, 511 - 260): PNG})
    demo_app.config.update(BASEMAP="mbtiles", BASEMAP_MBTILES=str(path))
    demo_app.extensions.pop("jangkau_basemap", None)
    try:
        client = demo_app.test_client()
        html = client.get("/workspaces/merangin/map").get_data(as_text=True)
        tile = client.get("/api/basemap/9/400/260")
        empty = client.get("/api/basemap/9/401/260")
        bad = client.get("/api/basemap/9/999/260", headers={"Accept": "application/json"})
    finally:
        demo_app.config.update(BASEMAP="none", BASEMAP_MBTILES="")
        demo_app.extensions.pop("jangkau_basemap", None)
    assert "/api/basemap/{z}/{x}/{y}" in html
    assert not re.findall(r"https?://[^\s\"'<>]+", html)  # nothing from elsewhere
    assert tile.status_code == 200
    assert tile.mimetype == "image/png"
    assert tile.data == PNG
    assert empty.status_code == 204
    assert bad.status_code == 400
    assert bad.get_json()["error"]["code"] == "bad_request"


def test_no_local_basemap_configured_is_a_404(demo_app):  # noqa: F811
    response = demo_app.test_client().get(
        "/api/basemap/1/0/0", headers={"Accept": "application/json"}
    )
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
