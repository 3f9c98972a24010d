"""The map benchmark: tile arithmetic, the tile plan, what it measures over HTTP, a --quick run."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading

import numpy as np
import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
import bench_map
from bench_map import (
    Client,
    css_refs,
    html_refs,
    lonlat_to_tile,
    pct,
    plan_tiles,
    view_tiles,
)


def _bounds(z, x, y):
    """Lon/lat bounds of a Web Mercator tile, from the inverse formula."""
    n = 2**z

    def lat(row):
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)


def test_lonlat_to_tile_finds_the_tile_holding_each_point():
    rng = np.random.default_rng(1)
    lon = rng.uniform(-179.9, 179.9, 500)
    lat = rng.uniform(-84, 84, 500)
    for z in (0, 3, 5, 12):
        x, y = lonlat_to_tile(lon, lat, z)
        for i in range(0, 500, 7):
            w, s, e, n = _bounds(z, int(x[i]), int(y[i]))
            assert w <= lon[i] < e
            assert s < lat[i] <= n
    x, y = lonlat_to_tile([0.0, 180.0, -180.0], [0.0, 89.0, -89.0], 1)
    assert x.tolist() == [1, 1, 0]  # lon 180 clamped into the last column
    assert y.tolist() == [1, 0, 1]  # poles clamped to the Mercator limit


def _points():
    rng = np.random.default_rng(7)
    town = np.column_stack([rng.normal(106.8, 0.05, 800), rng.normal(-6.2, 0.05, 800)])
    far = np.column_stack([rng.uniform(95, 141, 60), rng.uniform(-10, 5, 60)])
    pts = np.vstack([town, far])
    return pts[:, 0], pts[:, 1]


def test_tile_plan_is_seeded_and_holds_dense_and_edge_tiles():
    lon, lat = _points()
    plan = plan_tiles(lon, lat, zooms=(5, 8, 12), dense=4, edge=2, seed=3)
    assert plan == plan_tiles(lon, lat, zooms=(5, 8, 12), dense=4, edge=2, seed=3)
    keys = [(t["z"], t["x"], t["y"]) for t in plan]
    assert len(keys) == len(set(keys))
    for z in (5, 8, 12):
        tiles = [t for t in plan if t["z"] == z]
        dense = [t for t in tiles if t["kind"] == "dense"]
        edge = [t for t in tiles if t["kind"] == "edge"]
        assert len(dense) == 4
        assert len(edge) == 2
        for t in tiles:  # the count is the number of points in the tile's bounds
            w, s, e, n = _bounds(z, t["x"], t["y"])
            inside = (lon >= w) & (lon < e) & (lat > s) & (lat <= n)
            assert t["points"] == int(inside.sum()) > 0
        assert min(t["points"] for t in dense) >= max(t["points"] for t in edge)
    # on zoom 12 the town's tiles are the dense ones, single far points the edge ones
    z12 = [t for t in plan if t["z"] == 12]
    for t in z12:
        if t["kind"] == "dense":
            w, s, e, n = _bounds(12, t["x"], t["y"])
            assert 106.5 < w < e < 107.1
            assert -6.5 < s < n < -5.9
    assert all(t["points"] == 1 for t in z12 if t["kind"] == "edge")


def test_a_zoom_with_few_tiles_gives_all_of_them():
    lon, lat = np.array([100.0, 100.1, 120.0]), np.array([0.0, 0.1, -5.0])
    plan = plan_tiles(lon, lat, zooms=(3,), dense=10, edge=3)
    assert sorted(t["points"] for t in plan) == [1, 2]


def test_view_tiles_is_a_block_around_the_point_inside_the_world():
    tiles = view_tiles(106.8, -6.2, 8)
    x, y = (int(v[0]) for v in lonlat_to_tile([106.8], [-6.2], 8))
    assert len(tiles) == 30
    assert (8, x, y) in tiles
    assert {t[1] for t in tiles} == set(range(x - 3, x + 3))
    assert {t[2] for t in tiles} == set(range(y - 2, y + 3))
    corner = view_tiles(-179.9, 85.0, 4)
    assert len(corner) == 30
    assert min(t[1] for t in corner) == 0
    assert min(t[2] for t in corner) == 0


def test_page_and_style_references_split_by_origin():
    html = """<html><head>
    <link rel="stylesheet" href="/static/a.css"><link rel="icon" href="favicon.ico">
    <link rel="alternate" href="/feed"><script src="/static/a.js"></script>
    <script src="https://cdn.example.org/x.js"></script><script>var a = "<img src=no.png>";</script>
    </head><body><img src="data:image/png;base64,AAAA"><img src="/static/a.js">
    <iframe src="frame.html"></iframe></body></html>"""
    same, cross = html_refs(html, "http://127.0.0.1:5000/workspaces/w/map?profile=p")
    assert same == [
        ("style", "http://127.0.0.1:5000/static/a.css"),
        ("link", "http://127.0.0.1:5000/workspaces/w/favicon.ico"),
        ("script", "http://127.0.0.1:5000/static/a.js"),
        ("frame", "http://127.0.0.1:5000/workspaces/w/frame.html"),
    ]
    assert cross == ["https://cdn.example.org/x.js"]
    css = """@import "more.css"; .a{background:url(img/x.png)} .b{src:url('../f.woff2?v=1#x')}
    .c{background:url("data:image/svg+xml;utf8,<svg/>")} .d{src:url(//fonts.example.com/f)}
    .e{background:url('data:image/svg+xml,<svg><g filter="url(%23shadow)"/></svg>')}
    .f{background:url( "../img/y.png" )}"""
    same, cross = css_refs(css, "http://127.0.0.1:5000/static/css/a.css")
    assert same == [
        ("import", "http://127.0.0.1:5000/static/css/more.css"),
        ("css-url", "http://127.0.0.1:5000/static/css/img/x.png"),
        ("css-url", "http://127.0.0.1:5000/static/f.woff2?v=1"),
        ("css-url", "http://127.0.0.1:5000/static/img/y.png"),
    ]
    assert cross == ["http://fonts.example.com/f"]


def test_one_font_format_keeps_the_format_a_browser_picks():
    files = [
        {"path": f"/static/vendor/fa/webfonts/{name}"}
        for name in ("fa-solid.ttf", "fa-solid.woff2", "fa-brands.ttf", "fa-regular.eot")
    ]
    files += [{"path": "/static/img/marker.png"}, {"path": "/static/img/icon.svg"}]
    files += [{"path": "/static/fonts/x.woff?v=2"}, {"path": "/static/fonts/x.svg"}]
    kept = sorted(f["path"] for f in bench_map.one_font_format(files))
    assert kept == [
        "/static/fonts/x.woff?v=2",
        "/static/img/icon.svg",
        "/static/img/marker.png",
        "/static/vendor/fa/webfonts/fa-brands.ttf",
        "/static/vendor/fa/webfonts/fa-regular.eot",
        "/static/vendor/fa/webfonts/fa-solid.woff2",
    ]


def test_percentiles_match_numpy():
    rng = np.random.default_rng(2)
    values = rng.exponential(10, 101).tolist()
    for q in (0, 50, 95, 100):
        assert pct(values, q) == pytest.approx(np.percentile(values, q))
    assert pct([], 95) is None
    assert pct([3.0], 95) == 3.0


# --- the HTTP measurements against a small server of known answers --------------------------

JS = b"x" * 1234
FONT = b"f" * 4321
CSS = b".a{src:url(f.woff2)} .b{background:url(data:image/png;base64,AA)}"
PAGE = (
    b'<html><head><link rel="stylesheet" href="/static/s.css"><script src="/static/a.js">'
    b'</script><script src="https://cdn.example.org/x.js"></script><script src="/missing.js">'
    b"</script></head><body>map</body></html>"
)


@pytest.fixture
def known_server():
    """A WSGI app with the map's routes answering known bodies, served by waitress."""
    from waitress import create_server

    seen: list[str] = []
    lock = threading.Lock()

    def app(environ, start_response):
        path = environ["PATH_INFO"]
        with lock:
            seen.append(path)
        body, ctype, status = None, "text/plain", "200 OK"
        if path == "/workspaces/w/map":
            body, ctype = PAGE, "text/html; charset=utf-8"
        elif path == "/static/s.css":
            body, ctype = CSS, "text/css"
        elif path == "/static/a.js":
            body, ctype = JS, "text/javascript"
        elif path == "/static/f.woff2":
            body, ctype = FONT, "font/woff2"
        elif path == "/api/workspaces/w/map/values":
            body, ctype = (
                json.dumps({"run": "r", "legend": [], "key": "k"}).encode(),
                "application/json",
            )
        elif path.startswith("/api/workspaces/w/tiles/villages/"):
            z = int(path.split("/")[-3])
            body, ctype = b"t" * (100 * z), "application/x-protobuf"
        if body is None:
            body, status = b"not found", "404 NOT FOUND"
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
        return [body]

    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield server.effective_port, seen
    server.close()


class _Folder:
    def tile_files(self):
        return 0, 0


def test_page_and_its_files_are_measured(known_server):
    port, _ = known_server
    client = Client("127.0.0.1", port)
    page = bench_map._measure_page(client, "/workspaces/w/map?profile=p", 3)
    assert page["available"]
    assert page["bytes"] == len(PAGE)
    assert len(page["times_s"]) == 3
    assets = bench_map._measure_assets(
        client, page["html"], f"http://127.0.0.1:{port}/workspaces/w/map?profile=p"
    )
    sizes = {f["path"]: (f["status"], f["bytes"], f["via"]) for f in assets["files"]}
    assert sizes == {
        "/static/s.css": (200, len(CSS), "page"),
        "/static/a.js": (200, len(JS), "page"),
        "/missing.js": (404, 0, "page"),
        "/static/f.woff2": (200, len(FONT), "css"),
    }
    assert assets["cross_origin"] == ["https://cdn.example.org/x.js"]
    gone = bench_map._measure_page(client, "/workspaces/w/nomap", 1)
    assert gone == {"available": False, "reason": "GET /workspaces/w/nomap answered 404"}


def test_tiles_are_requested_cold_then_cached_and_clients_run_at_once(known_server):
    port, seen = known_server
    client = Client("127.0.0.1", port)
    plan = {
        "warm": [12, 1, 1],
        "tiles": [{"z": z, "x": 3, "y": 4, "points": 5, "kind": "dense"} for z in (5, 7, 9)],
    }
    res = bench_map._measure_tiles(client, _Folder(), "w", "p", plan)
    assert res["available"]
    assert [r["bytes"] for r in res["rows"]] == [500, 700, 900]
    assert all(r["cold_s"] > 0 and r["cached_s"] > 0 for r in res["rows"])
    tiles = [p for p in seen if ".pbf" in p]
    assert tiles[0].endswith("/12/1/1.pbf")  # the first tile, before the cold pass
    assert tiles[1:4] == tiles[4:7]  # each tile twice: cold, then cached
    assert bench_map._measure_tiles(client, _Folder(), "x", "p", plan)["available"] is False

    seen.clear()
    session = ["/workspaces/w/map?profile=p", "/api/workspaces/w/map/values?profile=p"]
    session += [bench_map.tile_path("w", "p", 8, x, 1) for x in range(5)]
    conc = bench_map._measure_concurrent(client, port, [session] * 4, waves=2)
    assert len(conc["sessions_s"]) == 8
    assert conc["errors"] == []
    assert (conc["requests"], conc["tiles"]) == (7, 5)
    values = json.dumps({"run": "r", "legend": [], "key": "k"}).encode()
    assert conc["session_bytes"] == [len(PAGE) + len(values) + 5 * 800] * 8
    assert conc["view_bytes"] == {"8": len(PAGE) + len(values) + 5 * 800}
    assert len(seen) == 7 + 2 * 4 * 7  # warmed once, then 2 waves of 4 clients
    for rate, wall in zip(conc["rates"], conc["walls_s"], strict=True):
        assert rate == pytest.approx(4 * 7 / wall)


def test_quick_run_ends_with_its_json_line(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "bench_map.py"),
            "--quick",
            "--repeat",
            "1",
            "--clients",
            "4",
            "--data",
            str(tmp_path / "data"),
            "--tmp",
            str(tmp_path / "work"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    last = json.loads(lines[-1])
    assert last["bench"] == "map"
    assert set(last["metrics"]) == {
        "page_mb",
        "naive_page_mb",
        "tile_cold_p95_ms",
        "tile_cached_p95_ms",
        "concurrent_p95_s",
    }
    assert last["metrics"]["naive_page_mb"] > 0.5  # 2,000 villages embedded
    assert any(line.startswith("targets: ") for line in lines)
    if last["metrics"]["page_mb"] is not None:
        assert 0 < last["metrics"]["page_mb"] < last["metrics"]["naive_page_mb"]
    assert not list((tmp_path / "work").iterdir())  # the temporary store is removed
