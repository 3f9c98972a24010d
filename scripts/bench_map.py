"""Benchmark the shared map: its page, the village tiles and many partners at once, against
a plain Folium page with every village embedded.

Run ``python scripts/bench_map.py`` (no arguments needed). It makes the synthetic data set
with its population raster when they are missing (:mod:`make_synthetic`, into
``bench-data/``: 84,000 villages, 300,000 facilities, 1,000,000 needs, a 2,200 x 2,200
raster), then:

set-up (not timed)
    imports the four files into a fresh SQLite store in a temporary folder with
    ``layers.importer.import_into_store`` and saves a score run of ``health_access`` with
    ``layers.score_run.run_score``; makes the tile plan (below) from the stored villages.
server
    the production server, waitress serving ``geoapp.create_app(...)`` (the store's
    ``DATABASE_URL``, an instance folder in the temporary folder, ``BASEMAP`` "none", 4
    threads as ``geoapp serve``) on a free port of 127.0.0.1, in a child process. Every round
    (``--repeat``, 3 by default) starts a fresh server process with a new, empty instance
    folder (so an empty tile cache, ``instance/tiles``).
page
    ``GET /workspaces/<ws>/map?profile=<p>``: size of the HTML and, apart, of every
    same-origin file it references (scripts, styles, images, frames, and the fonts and
    images the styles reference); response time of the first request on a fresh server and
    the median of 5 more. Times are measured by the client over the loopback interface, so
    they are the server's time plus well under a millisecond.
tiles
    ``GET /api/workspaces/<ws>/tiles/villages/{z}/{x}/{y}.pbf?profile=<p>`` for a fixed,
    seeded list of tiles on zooms 5-12: on each zoom, tiles holding many villages'
    representative points and a few edge tiles (holding the fewest: coast and the edge of
    the data). Cold: the first request of each tile on a fresh server process with an
    empty tile folder, after one other tile was requested (that first tile request builds
    the tiles object of the key and is reported apart); cached: the second request (the
    bytes must be the same); then a third with ``If-None-Match`` (a browser revalidating).
    Also, when ``layers.tiles`` is there, the same tiles made in one process without HTTP.
concurrent
    20 clients (threads, one keep-alive connection each) start together; each fetches the
    page, the values API (``GET /api/workspaces/<ws>/map/values?profile=<p>``) and 30
    tiles of one of 5 map views, all cached before. Seconds per client session
    (p50/p95) and requests per second, over 3 waves.
naive
    the same villages and scores as a plain Folium page, in its own process:
    ``folium.Choropleth`` of the score over all villages (GeoJSON embedded in the page)
    with tooltips of names, saved to a file; read and build times, size, peak memory.

A route the server does not have is reported as "not available" and the rest still runs.
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = Path(__file__).resolve().parent
for p in (ROOT, SCRIPTS):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bench_import import (  # noqa: E402
    StepError,
    _peak_mb,
    _proc_status_mb,
    _reset_peak,
    run_child,
)
from bench_scoring import FULL_SIZES, QUICK_SIZES  # noqa: E402

STEPS = ("page", "tiles", "concurrent", "naive")
WORKSPACE = "bench"
PROFILE = "health_access"
SEED = 20261127
ZOOMS = tuple(range(5, 13))
#: Server worker threads: the default of ``geoapp serve``.
SERVER_THREADS = 4
#: Tiles per zoom (dense, edge), client sessions and repetitions.
FULL_PLAN = {"dense": 10, "edge": 3, "clients": 20, "views": 5, "waves": 3, "page_repeat": 5}
QUICK_PLAN = {"dense": 4, "edge": 2, "clients": 20, "views": 5, "waves": 1, "page_repeat": 3}
#: Columns x rows of tiles in a client's map view (a projector shows about this many).
VIEW_TILES = (6, 5)
VIEW_ZOOMS = (6, 7, 8, 9, 10)
PAGE_TARGET_MB = 1.0
COLD_TARGET_MS = 100.0
CACHED_TARGET_MS = 10.0
MB = 1_000_000  # sizes in decimal megabytes
HTTP_TIMEOUT = 600.0
REQUEST_HEADERS = {"Accept-Encoding": "gzip", "Accept-Language": "id", "User-Agent": "bench-map"}
#: Status codes of a tile that exists (an empty tile may come as 204).
TILE_OK = (200, 204)


# --- tile arithmetic and the tile plan -------------------------------------------------------


def lonlat_to_tile(lon, lat, z: int):
    """Web Mercator tile columns and rows holding the points (numpy arrays in, arrays out).

    Latitudes are clamped to the Web Mercator limit (85.0511 degrees).
    """
    import numpy as np

    n = 2**z
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.clip(np.asarray(lat, dtype=np.float64), -85.0511287798, 85.0511287798)
    x = np.floor((lon + 180.0) / 360.0 * n)
    rad = np.radians(lat)
    y = np.floor((1.0 - np.arcsinh(np.tan(rad)) / math.pi) / 2.0 * n)
    return np.clip(x, 0, n - 1).astype(np.int64), np.clip(y, 0, n - 1).astype(np.int64)


def plan_tiles(lon, lat, zooms=ZOOMS, dense: int = 10, edge: int = 3, seed: int = SEED):
    """A fixed list of tiles covering the points (villages' representative points).

    On each zoom, the tiles holding at least one point are ranked by how many they hold;
    ``dense`` tiles are drawn (seeded) from the top quarter (at least ``dense`` tiles), and
    ``edge`` tiles from the rest holding the fewest points (the lowest tenth by count, at
    least ``edge`` tiles): coast and the edge of the data.

    Returns
    -------
    list of dict
        ``{"z", "x", "y", "points", "kind"}`` ordered by zoom, then kind (dense first), then
        by number of points, descending; ``kind`` is "dense" or "edge". A zoom with fewer
        tiles than asked gives all its tiles.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    out: list[dict[str, Any]] = []
    for z in zooms:
        n = 2**z
        x, y = lonlat_to_tile(lon, lat, z)
        keys, counts = np.unique(x * n + y, return_counts=True)
        order = np.lexsort((keys, -counts))  # most points first, then by key
        top = order[: max(dense, math.ceil(len(order) * 0.25))]
        chosen = rng.choice(top, size=min(dense, len(top)), replace=False)
        rest = np.setdiff1d(order, chosen)
        rest = rest[np.lexsort((keys[rest], counts[rest]))]  # fewest points first
        low = rest[: max(edge, math.ceil(len(rest) * 0.10))]
        edges = rng.choice(low, size=min(edge, len(low)), replace=False) if len(low) else low
        for kind, picked in (("dense", chosen), ("edge", edges)):
            picked = picked[np.lexsort((keys[picked], -counts[picked]))]
            for i in picked:
                out.append(
                    {
                        "z": int(z),
                        "x": int(keys[i] // n),
                        "y": int(keys[i] % n),
                        "points": int(counts[i]),
                        "kind": kind,
                    }
                )
    return out


def view_tiles(lon: float, lat: float, z: int, size: tuple[int, int] = VIEW_TILES):
    """The ``size`` (columns, rows) block of tiles of a map view centred on a point."""
    cols, rows = size
    x, y = (int(v[0]) for v in lonlat_to_tile([lon], [lat], z))
    n = 2**z
    x0 = min(max(x - cols // 2, 0), max(n - cols, 0))
    y0 = min(max(y - rows // 2, 0), max(n - rows, 0))
    return [
        (z, xx, yy) for yy in range(y0, min(y0 + rows, n)) for xx in range(x0, min(x0 + cols, n))
    ]


def tile_path(ws: str, profile: str, z: int, x: int, y: int) -> str:
    return f"/api/workspaces/{ws}/tiles/villages/{z}/{x}/{y}.pbf?profile={profile}"


def page_path(ws: str, profile: str) -> str:
    return f"/workspaces/{ws}/map?profile={profile}"


def values_path(ws: str, profile: str) -> str:
    return f"/api/workspaces/{ws}/map/values?profile={profile}"


# --- page references ------------------------------------------------------------------------


class _Refs(HTMLParser):
    """Collects the files an HTML page loads: scripts, styles, icons, images, frames."""

    LINK_RELS = ("stylesheet", "icon", "preload", "modulepreload", "manifest")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refs: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v for k, v in attrs if v}
        if tag == "script" and "src" in a:
            self.refs.append(("script", a["src"]))
        elif tag == "link" and "href" in a:
            rel = a.get("rel", "").lower()
            if any(r in rel.split() for r in self.LINK_RELS):
                self.refs.append(("style" if "stylesheet" in rel else "link", a["href"]))
        elif tag in ("img", "source", "embed") and "src" in a:
            self.refs.append(("image", a["src"]))
        elif tag in ("iframe", "frame") and "src" in a:
            self.refs.append(("frame", a["src"]))


def html_refs(html: str, base_url: str) -> tuple[list[tuple[str, str]], list[str]]:
    """Files the page loads: ``([(kind, absolute same-origin URL)], [cross-origin URLs])``.

    ``data:`` and ``blob:`` URIs are left out; each URL appears once, in page order.
    """
    parser = _Refs()
    parser.feed(html)
    return _split_origin(parser.refs, base_url)


# A quoted url() is taken whole, so a url() inside an inline SVG (data URI) is not a file.
_CSS_URL = re.compile(
    r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^'")\s]*))\s*\)|@import\s+(?:"([^"]*)"|'([^']*)')"""
)


def css_refs(css: str, base_url: str) -> tuple[list[tuple[str, str]], list[str]]:
    """Files a style sheet references (``url(...)`` and ``@import``), as :func:`html_refs`."""
    refs = []
    for m in _CSS_URL.finditer(css):
        url, imported = m.group(1, 2, 3), m.group(4, 5)
        if any(v is not None for v in imported):
            refs.append(("import", next(v for v in imported if v is not None)))
        else:
            ref = next((v for v in url if v is not None), "").strip()
            if ref:
                refs.append(("css-url", ref))
    return _split_origin(refs, base_url)


FONT_FORMATS = (".woff2", ".woff", ".ttf", ".otf", ".eot", ".svg")


def one_font_format(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``files`` with each font in one format only: the first of :data:`FONT_FORMATS` found.

    A font is a file under a folder named like ``*font*`` or with a font extension other
    than ``.svg``; its formats share the path without extension. Other files stay.
    """
    best: dict[str, tuple[int, dict[str, Any]]] = {}
    out = []
    for f in files:
        path = f["path"].split("?", 1)[0]
        stem, dot, ext = path.rpartition(".")
        ext = dot + ext.lower()
        is_font = ext in FONT_FORMATS and (ext != ".svg" or "font" in stem.lower())
        if not is_font:
            out.append(f)
            continue
        rank = FONT_FORMATS.index(ext)
        if stem not in best or rank < best[stem][0]:
            best[stem] = (rank, f)
    return out + [f for _, f in best.values()]


def _split_origin(refs, base_url: str) -> tuple[list[tuple[str, str]], list[str]]:
    base = urlsplit(base_url)
    same: list[tuple[str, str]] = []
    cross: list[str] = []
    seen: set[str] = set()
    for kind, ref in refs:
        if ref.startswith(("data:", "blob:", "#", "about:", "javascript:")):
            continue
        url = urljoin(base_url, ref).split("#", 1)[0]
        if url in seen:
            continue
        seen.add(url)
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) == (base.scheme, base.netloc):
            same.append((kind, url))
        else:
            cross.append(url)
    return same, cross


# --- HTTP client ----------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes  # as sent (compressed when the server compressed it)
    seconds: float

    @property
    def text(self) -> str:
        raw = self.body
        if self.headers.get("content-encoding", "") == "gzip":
            raw = gzip.decompress(raw)
        return raw.decode("utf-8", "replace")

    @property
    def raw_size(self) -> int:
        """Size of the body once decompressed."""
        if self.headers.get("content-encoding", "") == "gzip":
            return len(gzip.decompress(self.body))
        return len(self.body)


class Client:
    """One keep-alive HTTP/1.1 connection; ``get`` times a request to the end of its body."""

    def __init__(self, host: str, port: int, timeout: float = HTTP_TIMEOUT) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout)
        self.used = False

    def connect(self) -> None:
        self.conn.connect()

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        hdrs = dict(REQUEST_HEADERS, **(headers or {}))
        for attempt in (0, 1):
            t0 = time.perf_counter()
            try:
                self.conn.request("GET", path, headers=hdrs)
                resp = self.conn.getresponse()
                body = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A kept-alive connection the server closed: open a new one, once.
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                if attempt or not self.used:
                    raise
                continue
            seconds = time.perf_counter() - t0
            self.used = True
            if resp.will_close:
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body, seconds)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


# --- child side -----------------------------------------------------------------------------


def _signed_in_cookie(app) -> str:
    """A session cookie of the benchmark's own administrator account (made when missing)."""
    import secrets

    from geoapp.store import get_store
    from layers.accounts import hash_password

    store = get_store(app)
    store.init()
    if store.find_user("bench") is None:
        store.create_user(
            "bench",
            password_hash=hash_password(secrets.token_urlsafe(16)),
            is_admin=True,
            created_by="bench_map",
        )
    user = store.find_user("bench")
    serializer = app.session_interface.get_signing_serializer(app)
    return serializer.dumps(
        {"user": user.username, "epoch": user.session_epoch, "_permanent": True}
    )


def _open_store(store_dir: str):
    from layers.storage import open_store

    store = open_store(f"sqlite:///{Path(store_dir) / 'jangkau.sqlite'}")
    store.init()
    return store


def _setup(spec: dict[str, Any]) -> dict[str, Any]:
    """Import the data set, save a score run, make the tile plan (not timed in the tables)."""
    import numpy as np
    import shapely

    from layers.importer import import_into_store
    from layers.score_run import run_score

    store = _open_store(spec["store"])
    store.create_workspace(WORKSPACE, "Benchmark")
    t0 = time.perf_counter()
    for kind, path in spec["paths"].items():
        outcome = import_into_store(
            store, WORKSPACE, path, "raster" if kind == "population" else kind
        )
        if not outcome.stored:
            raise RuntimeError(f"import of {kind} stored nothing: {outcome.report.counts()}")
    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    note = ""
    try:
        run = run_score(store, WORKSPACE, PROFILE, user="bench", note="map benchmark")
    except Exception as exc:  # a built-in profile the data cannot serve: the scoring one
        from bench_scoring import _profile

        from layers.schema import NEED_CATEGORIES

        note = f"profile {PROFILE} failed ({type(exc).__name__}: {exc}); used bench's own"
        run = run_score(
            store, WORKSPACE, _profile(tuple(NEED_CATEGORIES)), user="bench", note="map"
        )
    score_s = time.perf_counter() - t0

    villages = store.read_dataset(WORKSPACE, "villages", columns=["kode"])
    points = shapely.point_on_surface(villages.geometry.values)
    lon, lat = shapely.get_x(points), shapely.get_y(points)
    opts = spec["plan"]
    tiles = plan_tiles(lon, lat, ZOOMS, opts["dense"], opts["edge"], SEED)
    chosen = {(t["z"], t["x"], t["y"]) for t in tiles}
    # The tile requested first on each fresh server (it builds the tiles object of the key):
    # the densest zoom-12 tile not in the plan.
    z = ZOOMS[-1]
    x, y = lonlat_to_tile(lon, lat, z)
    keys, counts = np.unique(x * 2**z + y, return_counts=True)
    warm = next(
        (z, int(k // 2**z), int(k % 2**z))
        for k in keys[np.argsort(-counts, kind="stable")]
        if (z, int(k // 2**z), int(k % 2**z)) not in chosen
    )
    rng = np.random.default_rng(SEED + 1)
    views = []
    for i in range(opts["views"]):
        j = int(rng.integers(len(villages)))
        views.append(view_tiles(float(lon[j]), float(lat[j]), VIEW_ZOOMS[i % len(VIEW_ZOOMS)]))
    bounds = [float(v) for v in villages.total_bounds]
    plan = {"tiles": tiles, "warm": list(warm), "views": views, "bounds": bounds}
    Path(spec["plan_file"]).write_text(json.dumps(plan))
    store.close()
    return {
        "import_s": import_s,
        "score_s": score_s,
        "profile": run.profile.name,
        "run": run.ref,
        "villages": len(villages),
        "note": note,
    }


def _serve(spec: dict[str, Any]) -> int:
    """Serve the app with waitress until terminated; write the port and routes when ready."""
    from waitress import create_server
    from werkzeug.exceptions import HTTPException

    from geoapp import create_app

    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{Path(spec['store']) / 'jangkau.sqlite'}",
            "BASEMAP": "none",
            "SECRET_KEY": "bench-map",
        },
        instance_path=spec["instance"],
    )
    cookie = _signed_in_cookie(app)
    adapter = app.url_map.bind("127.0.0.1")
    routes: dict[str, str | None] = {}
    for name, path in spec["probe"].items():
        try:
            endpoint, _ = adapter.match(path.split("?", 1)[0], method="GET")
            routes[name] = str(endpoint)
        except HTTPException:
            routes[name] = None
    server = create_server(app, host="127.0.0.1", port=0, threads=spec["threads"], ident="jangkau")
    ready = Path(spec["ready_file"])
    tmp = ready.with_suffix(".partial")
    tmp.write_text(json.dumps({"port": server.effective_port, "routes": routes, "cookie": cookie}))
    os.replace(tmp, ready)
    server.run()
    return 0


def _inproc(spec: dict[str, Any]) -> dict[str, Any]:
    """The plan's tiles made by ``layers.tiles.VillageTiles`` in this process, without HTTP."""
    try:
        from layers.tiles import VillageTiles
    except ImportError as exc:
        return {"available": False, "reason": f"layers.tiles: {exc}"}
    import pandas as pd

    store = _open_store(spec["store"])
    try:
        from layers.mapdata import map_values

        values = map_values(store, WORKSPACE, spec["profile"]).values
        source = "layers.mapdata.map_values"
    except ImportError:
        from layers.score_run import load_run

        table = load_run(store, WORKSPACE, spec["profile"])["table_frame"]
        values = pd.DataFrame(
            {
                "value": table["score"].astype(float),
                "class": table["need_class"].astype("Int64"),
                "rank": table["rank"].astype("Int64"),
            },
            index=table.index.astype(str),
        )
        source = "the saved run's table"
    villages = store.read_dataset(WORKSPACE, "villages", columns=["kode", "name", "kecamatan"])
    base = _proc_status_mb("VmRSS") or _peak_mb()
    reset = _reset_peak()
    t0 = time.perf_counter()
    tiles = VillageTiles(villages, values)
    build_s = time.perf_counter() - t0
    first, second, sizes = [], [], []
    for t in spec["tiles"]:
        z, x, y = t["z"], t["x"], t["y"]
        t0 = time.perf_counter()
        data = tiles.tile(z, x, y)
        first.append(time.perf_counter() - t0)
        sizes.append(len(data))
    for t in spec["tiles"]:
        t0 = time.perf_counter()
        tiles.tile(t["z"], t["x"], t["y"])
        second.append(time.perf_counter() - t0)
    peak = _peak_mb()
    store.close()
    return {
        "available": True,
        "values": source,
        "build_s": build_s,
        "first_s": first,
        "second_s": second,
        "sizes": sizes,
        "peak_mb": peak,
        "base_mb": base,
        "peak_reset": reset,
    }


def _naive(spec: dict[str, Any]) -> dict[str, Any]:
    """A plain Folium page of every village with a choropleth of the score and tooltips."""
    import folium

    from layers.score_run import load_run

    store = _open_store(spec["store"])
    base = _proc_status_mb("VmRSS") or _peak_mb()
    reset = _reset_peak()
    t0 = time.perf_counter()
    villages = store.read_dataset(WORKSPACE, "villages", columns=["kode", "name", "kecamatan"])
    table = load_run(store, WORKSPACE, spec["profile"])["table_frame"]
    read_s = time.perf_counter() - t0
    store.close()

    t0 = time.perf_counter()
    scores = table[["score"]].reset_index()
    scores["kode"] = scores["kode"].astype(str)
    data = villages.merge(scores, on="kode", how="left")
    minx, miny, maxx, maxy = data.total_bounds
    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=5)
    choropleth = folium.Choropleth(
        geo_data=data,
        data=scores,
        columns=["kode", "score"],
        key_on="feature.properties.kode",
        fill_color="YlOrRd",
        fill_opacity=0.7,
        line_opacity=0.3,
        line_weight=0.5,
        nan_fill_color="lightgrey",
        legend_name="Skor kebutuhan",
        highlight=True,
    ).add_to(m)
    choropleth.geojson.add_child(
        folium.GeoJsonTooltip(
            fields=["name", "kecamatan", "score"], aliases=["Desa", "Kecamatan", "Skor"]
        )
    )
    folium.LayerControl().add_to(m)
    out = Path(spec["out"])
    m.save(str(out))
    build_s = time.perf_counter() - t0
    peak = _peak_mb()
    size = out.stat().st_size
    out.unlink()
    return {
        "read_s": read_s,
        "build_s": build_s,
        "bytes": size,
        "villages": len(data),
        "peak_mb": peak,
        "base_mb": base,
        "peak_reset": reset,
        "folium": folium.__version__,
    }


def _child_main(spec_json: str) -> int:
    spec = json.loads(spec_json)
    step = spec["step"]
    if step == "serve":
        return _serve(spec)
    handlers = {"setup": _setup, "inproc": _inproc, "naive": _naive}
    if step not in handlers:
        raise ValueError(f"unknown step {step!r}")
    print(json.dumps(handlers[step](spec)))
    return 0


# --- the server -----------------------------------------------------------------------------


def _proc_mb(pid: int, field: str) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


class Server:
    """``bench_map.py --child serve`` in a child process: waitress over the store."""

    def __init__(self, work: Path, store: Path, ws: str, profile: str, threads: int) -> None:
        self.work, self.store, self.threads = work, store, threads
        self.instance = work / "instance-0"
        self.starts = 0
        self.ready_file = work / "server-ready.json"
        self.log_file = work / "server.log"
        self.probe = {
            "page": page_path(ws, profile),
            "values": values_path(ws, profile),
            "tiles": tile_path(ws, profile, 5, 25, 15),
        }
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.routes: dict[str, str | None] = {}

    def start(self, timeout: float = 300.0) -> float:
        """Start with a new, empty instance folder; return the seconds until it answered."""
        self.starts += 1
        self.instance = self.work / f"instance-{self.starts}"
        shutil.rmtree(self.instance, ignore_errors=True)
        self.instance.mkdir(parents=True)
        self.ready_file.unlink(missing_ok=True)
        spec = {
            "step": "serve",
            "store": str(self.store),
            "instance": str(self.instance),
            "ready_file": str(self.ready_file),
            "threads": self.threads,
            "probe": self.probe,
        }
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        t0 = time.perf_counter()
        with open(self.log_file, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env=env,
            )
        while not self.ready_file.exists():
            if self.proc.poll() is not None or time.perf_counter() - t0 > timeout:
                self.stop()
                raise StepError(f"server did not start:\n{self.log_tail()}")
            time.sleep(0.05)
        ready = json.loads(self.ready_file.read_text())
        self.port, self.routes = ready["port"], ready["routes"]
        # every request is signed in, as a coordinator's browser is (the access check and
        # the account lookup are part of what is measured)
        REQUEST_HEADERS["Cookie"] = f"session={ready['cookie']}"
        client = Client("127.0.0.1", self.port, timeout=10)
        while True:  # a static file: answering without warming any data
            try:
                client.get("/static/css/jangkau.css")
                break
            except OSError:
                if self.proc.poll() is not None or time.perf_counter() - t0 > timeout:
                    self.stop()
                    raise StepError(f"server does not answer:\n{self.log_tail()}") from None
                time.sleep(0.05)
        client.close()
        return time.perf_counter() - t0

    def memory(self) -> dict[str, float | None]:
        pid = self.proc.pid if self.proc else 0
        return {"peak_mb": _proc_mb(pid, "VmHWM"), "rss_mb": _proc_mb(pid, "VmRSS")}

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def tile_files(self) -> tuple[int, int]:
        """Files and bytes in the server's tile folder (its disk cache)."""
        files = [f for f in (self.instance / "tiles").rglob("*") if f.is_file()]
        return len(files), sum(f.stat().st_size for f in files)


# --- the measured steps ---------------------------------------------------------------------


def _ms(seconds: list[float]) -> list[float]:
    return [s * 1000.0 for s in seconds]


def pct(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (linear interpolation, as numpy's default); None when empty."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def _check(reply: Reply, what: str, ok=(200,)) -> None:
    if reply.status not in ok:
        raise StepError(f"{what}: HTTP {reply.status}: {reply.text[:300]}")


def _measure_page(client: Client, path: str, repeat: int) -> dict[str, Any]:
    first = client.get(path)
    if first.status == 404:
        return {"available": False, "reason": f"GET {path} answered 404"}
    _check(first, f"GET {path}")
    times = []
    for _ in range(repeat):
        r = client.get(path)
        _check(r, f"GET {path}")
        times.append(r.seconds)
    return {
        "available": True,
        "first_s": first.seconds,
        "times_s": times,
        "bytes": first.raw_size,
        "wire_bytes": len(first.body),
        "gzip_bytes": len(gzip.compress(first.text.encode("utf-8"), 6)),
        "encoding": first.headers.get("content-encoding", ""),
        "html": first.text,
    }


def _measure_assets(client: Client, html: str, page_url: str) -> dict[str, Any]:
    """Fetch every same-origin file the page references (frames and styles one level down)."""
    refs, cross = html_refs(html, page_url)
    files: list[dict[str, Any]] = []
    seen = {page_url}
    queue = [(kind, url, "page") for kind, url in refs]
    while queue:
        kind, url, via = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        r = client.get(path)
        entry = {
            "kind": kind,
            "path": path,
            "via": via,
            "status": r.status,
            "bytes": r.raw_size if r.status == 200 else 0,
            "gzip_bytes": len(gzip.compress(r.body, 6)) if r.status == 200 else 0,
            "encoding": r.headers.get("content-encoding", ""),
        }
        files.append(entry)
        if r.status != 200:
            continue
        ctype = r.headers.get("content-type", "")
        if kind == "frame" or "text/html" in ctype:
            more, far = html_refs(r.text, url)
            queue += [(k, u, "frame") for k, u in more]
            cross += far
        elif "text/css" in ctype or path.endswith(".css"):
            more, far = css_refs(r.text, url)
            queue += [(k, u, "css") for k, u in more]
            cross += far
    return {"files": files, "cross_origin": sorted(set(cross))}


def _measure_tiles(
    client: Client, server: Server, ws: str, profile: str, plan: dict[str, Any]
) -> dict[str, Any]:
    wz, wx, wy = plan["warm"]
    warm = client.get(tile_path(ws, profile, wz, wx, wy))
    if warm.status == 404:
        return {"available": False, "reason": f"tile {wz}/{wx}/{wy} answered 404"}
    _check(warm, f"tile {wz}/{wx}/{wy}", TILE_OK)
    files_before, _ = server.tile_files()
    rows, bodies = [], []
    for t in plan["tiles"]:
        r = client.get(tile_path(ws, profile, t["z"], t["x"], t["y"]))
        _check(r, f"tile {t['z']}/{t['x']}/{t['y']}", TILE_OK)
        bodies.append(r.body)
        rows.append(
            {
                **t,
                "cold_s": r.seconds,
                "bytes": len(r.body),
                "gzip_bytes": len(gzip.compress(r.body, 6)) if r.body else 0,
                "encoding": r.headers.get("content-encoding", ""),
            }
        )
    etags = []
    for row, body in zip(rows, bodies, strict=True):
        r = client.get(tile_path(ws, profile, row["z"], row["x"], row["y"]))
        _check(r, f"tile {row['z']}/{row['x']}/{row['y']} (again)", TILE_OK)
        row["cached_s"] = r.seconds
        etags.append(r.headers.get("etag"))
        if r.body != body:
            raise StepError(
                f"tile {row['z']}/{row['x']}/{row['y']}: the cached tile differs from the cold "
                f"one ({len(body)} and {len(r.body)} bytes)"
            )
    # What a browser does with a tile it holds (Cache-Control no-cache or expired).
    for row, etag in zip(rows, etags, strict=True):
        if etag:
            path = tile_path(ws, profile, row["z"], row["x"], row["y"])
            r = client.get(path, {"If-None-Match": etag})
            row["revalidate_s"], row["revalidate_status"] = r.seconds, r.status
    files_after, bytes_after = server.tile_files()
    return {
        "available": True,
        "warm_s": warm.seconds,
        "rows": rows,
        "disk_files_before": files_before,
        "disk_files": files_after,
        "disk_bytes": bytes_after,
        "headers": {
            k: warm.headers.get(k, "")
            for k in ("content-type", "cache-control", "etag", "content-encoding")
        },
    }


def _session(port: int, paths: list[str], barrier: threading.Barrier, out: list, i: int) -> None:
    client = Client("127.0.0.1", port)
    try:
        client.connect()
        barrier.wait()
        t0 = time.perf_counter()
        bad = size = 0
        for path in paths:
            r = client.get(path)
            bad += r.status not in TILE_OK
            size += len(r.body)
        out[i] = {
            "seconds": time.perf_counter() - t0,
            "requests": len(paths),
            "bad": bad,
            "bytes": size,
        }
    except Exception as exc:  # reported, not raised: the other clients go on
        out[i] = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        client.close()


def _measure_concurrent(
    client: Client, port: int, paths: list[list[str]], waves: int
) -> dict[str, Any]:
    for path in {p for session in paths for p in session}:  # warm the caches (not timed)
        client.get(path)
    sessions, rates, walls, errors, sizes = [], [], [], [], []
    by_zoom: dict[int, int] = {}  # bytes a session receives, by the zoom of its view
    for _ in range(waves):
        out: list[Any] = [None] * len(paths)
        barrier = threading.Barrier(len(paths) + 1)
        threads = [
            threading.Thread(target=_session, args=(port, p, barrier, out, i), daemon=True)
            for i, p in enumerate(paths)
        ]
        for t in threads:
            t.start()
        barrier.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        done = [o for o in out if o and "seconds" in o]
        errors += [o["error"] for o in out if o and "error" in o]
        errors += [f"{o['bad']} request(s) not 200" for o in done if o["bad"]]
        sessions += [o["seconds"] for o in done]
        sizes += [o["bytes"] for o in done]
        for session, o in zip(paths, out, strict=True):
            tiles = [p for p in session if ".pbf" in p]
            if tiles and o and "bytes" in o:
                by_zoom[int(tiles[0].split("/")[6])] = o["bytes"]
        walls.append(wall)
        rates.append(sum(o["requests"] for o in done) / wall)
    return {
        "clients": len(paths),
        "requests": len(paths[0]),
        "tiles": sum(1 for p in paths[0] if ".pbf" in p),
        "sessions_s": sessions,
        "session_bytes": sizes,
        "view_bytes": {str(z): b for z, b in sorted(by_zoom.items())},
        "walls_s": walls,
        "rates": rates,
        "errors": errors,
    }


# --- parent side ----------------------------------------------------------------------------


def _round(
    server: Server,
    ws: str,
    profile: str,
    plan: dict[str, Any],
    opts: dict[str, Any],
    steps: tuple[str, ...],
    *,
    first: bool,
    last: bool,
) -> dict[str, Any]:
    """One fresh server: the page, the values API, cold and cached tiles, clients at once."""
    out: dict[str, Any] = {"start_s": server.start()}
    try:
        routes = server.routes
        client = Client("127.0.0.1", server.port)
        base = f"http://127.0.0.1:{server.port}"
        avail = {k: routes.get(k) is not None for k in ("page", "values", "tiles")}
        out["routes"] = routes
        if avail["page"] and ("page" in steps or "concurrent" in steps):
            page = _measure_page(client, page_path(ws, profile), opts["page_repeat"])
            avail["page"] = page["available"]
            if first and page["available"] and "page" in steps:
                page["assets"] = _measure_assets(
                    client, page["html"], base + page_path(ws, profile)
                )
            page.pop("html", None)
            out["page"] = page
        if avail["values"]:
            r = client.get(values_path(ws, profile))
            if r.status == 404:
                avail["values"] = False
                out["values"] = {"available": False, "reason": "GET values answered 404"}
            else:
                _check(r, "GET values")
                times = [client.get(values_path(ws, profile)).seconds for _ in range(3)]
                out["values"] = {
                    "available": True,
                    "first_s": r.seconds,
                    "times_s": times,
                    "bytes": r.raw_size,
                    "keys": sorted(json.loads(r.text)),
                }
        if avail["tiles"] and ("tiles" in steps or "concurrent" in steps):
            tiles = _measure_tiles(client, server, ws, profile, plan)
            avail["tiles"] = tiles["available"]
            out["tiles"] = tiles
        if last and "concurrent" in steps and (avail["page"] or avail["tiles"]):
            session = []
            if avail["page"]:
                session.append(page_path(ws, profile))
            if avail["values"]:
                session.append(values_path(ws, profile))
            paths = []
            for i in range(opts["clients"]):
                view = plan["views"][i % len(plan["views"])]
                tiles_of = [tile_path(ws, profile, *t) for t in view] if avail["tiles"] else []
                paths.append(session + tiles_of)
            out["concurrent"] = _measure_concurrent(client, server.port, paths, opts["waves"])
        client.close()
        out["server"] = server.memory()
        out["available"] = avail
    finally:
        server.stop()
    return out


def run(
    data_dir: Path,
    *,
    quick: bool = False,
    repeat: int = 3,
    steps: tuple[str, ...] = STEPS,
    work_dir: Path | None = None,
    clients: int | None = None,
) -> dict[str, Any]:
    """Make the data and the store, then measure the server rounds and the naive page."""
    from make_synthetic import make_national

    sizes = QUICK_SIZES if quick else FULL_SIZES
    opts = dict(QUICK_PLAN if quick else FULL_PLAN)
    if clients:
        opts["clients"] = clients
    t_start = time.perf_counter()
    paths = {k: str(v) for k, v in make_national(data_dir, **sizes).items()}
    print(f"data: {data_dir} ({', '.join(f'{k} {v:,}' for k, v in sizes.items())})")
    out: dict[str, Any] = {"rounds": [], "errors": [], "notes": [], "opts": opts, "steps": steps}
    if work_dir is not None:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="jangkau-bench-map-", dir=work_dir))
    store = tmp / "store"
    store.mkdir()
    plan_file = tmp / "plan.json"
    server: Server | None = None
    try:
        setup = run_child(
            Path(__file__).resolve(),
            {
                "step": "setup",
                "store": str(store),
                "paths": paths,
                "plan": opts,
                "plan_file": str(plan_file),
            },
        )
        out["setup"] = setup
        profile = setup["profile"]
        if setup["note"]:
            out["notes"].append(setup["note"])
        plan = json.loads(plan_file.read_text())
        out["plan"] = plan
        print(
            f"set-up (not timed): imported {', '.join(paths)} in {setup['import_s']:.1f} s; "
            f"score run {setup['run']} in {setup['score_s']:.1f} s; "
            f"{len(plan['tiles'])} tiles on zooms {ZOOMS[0]}-{ZOOMS[-1]}, "
            f"{len(plan['views'])} map views of {len(plan['views'][0])} tiles",
            flush=True,
        )
        if "tiles" in steps:
            res = run_child(
                Path(__file__).resolve(),
                {"step": "inproc", "store": str(store), "profile": profile, "tiles": plan["tiles"]},
            )
            out["inproc"] = res
            if res["available"]:
                print(
                    f"in process: VillageTiles built in {res['build_s']:.2f} s, tiles p50 "
                    f"{pct(_ms(res['first_s']), 50):.1f} ms p95 {pct(_ms(res['first_s']), 95):.1f}"
                    " ms",
                    flush=True,
                )
            else:
                print(f"in process: not available ({res['reason']})", flush=True)
        if set(steps) & {"page", "tiles", "concurrent"}:
            server = Server(tmp, store, WORKSPACE, profile, SERVER_THREADS)
            try:
                for r in range(repeat):
                    res = _round(
                        server,
                        WORKSPACE,
                        profile,
                        plan,
                        opts,
                        steps,
                        first=r == 0,
                        last=r == repeat - 1,
                    )
                    out["rounds"].append(res)
                    _print_round(r + 1, res)
                    if not any(res["available"].values()):
                        break  # nothing to measure on this server: no more rounds
            except StepError as exc:  # the naive page needs no server: still measure it
                out["errors"].append(str(exc))
                print(f"  {exc}", flush=True)
        if "naive" in steps:
            res = run_child(
                Path(__file__).resolve(),
                {
                    "step": "naive",
                    "store": str(store),
                    "profile": profile,
                    "out": str(tmp / "naive.html"),
                },
            )
            out["naive"] = res
            print(
                f"naive: read {res['read_s']:.2f} s, build {res['build_s']:.2f} s, "
                f"{res['bytes'] / MB:,.1f} MB, peak {res['peak_mb']:,.0f} MB",
                flush=True,
            )
    except StepError as exc:
        out["errors"].append(str(exc))
        print(f"  {exc}", flush=True)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"bench time: {time.perf_counter() - t_start:.0f} s")
    return out


def _print_round(n: int, res: dict[str, Any]) -> None:
    parts = [f"round {n}: server answering in {res['start_s']:.1f} s"]
    page = res.get("page")
    if page and page["available"]:
        parts.append(
            f"page first {page['first_s']:.2f} s, median {statistics.median(page['times_s']):.3f} s"
        )
    tiles = res.get("tiles")
    if tiles and tiles["available"]:
        cold = _ms([r["cold_s"] for r in tiles["rows"]])
        cached = _ms([r["cached_s"] for r in tiles["rows"]])
        parts.append(
            f"first tile {tiles['warm_s']:.2f} s, cold p95 {pct(cold, 95):.1f} ms, cached p95 "
            f"{pct(cached, 95):.1f} ms"
        )
    conc = res.get("concurrent")
    if conc and conc["sessions_s"]:
        parts.append(f"{conc['clients']} clients p95 {pct(conc['sessions_s'], 95):.2f} s")
    missing = [k for k, v in res.get("available", {}).items() if not v]
    if missing:
        parts.append(f"not available: {', '.join(missing)}")
    print("; ".join(parts), flush=True)


# --- report ---------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str = ".1f", none: str = "-") -> str:
    return none if value is None else format(value, spec)


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or not b:
        return "-"
    r = a / b
    return f"{r:.2g}" if r >= 0.01 else f"1/{b / a:,.0f}" if a else "0"


def _report(out: dict[str, Any]) -> dict[str, Any]:
    rounds = out.get("rounds", [])
    steps = out.get("steps", STEPS)
    print()
    metrics: dict[str, Any] = {
        "page_mb": None,
        "naive_page_mb": None,
        "tile_cold_p95_ms": None,
        "tile_cached_p95_ms": None,
        "concurrent_p95_s": None,
    }
    figures: dict[str, Any] = {}

    def not_available(what: str) -> None:
        routes = rounds[0].get("routes", {}) if rounds else {}
        key = {"page": "page", "tiles": "tiles", "concurrent": "page"}[what]
        why = "no server round" if not rounds else f"route of {key}: {routes.get(key)}"
        print(f"{what}: not available ({why})")

    # page
    pages = [r["page"] for r in rounds if r.get("page", {}).get("available")]
    if "page" in steps:
        print("== page: GET /workspaces/<ws>/map?profile=<p> ==")
        if not pages:
            not_available("page")
        else:
            p0 = pages[0]
            firsts = [p["first_s"] for p in pages]
            times = [t for p in pages for t in p["times_s"]]
            metrics["page_mb"] = round(p0["bytes"] / MB, 4)
            figures.update(page_s=statistics.median(times), page_first_s=statistics.median(firsts))
            print(
                "sizes in MB (10^6 bytes); gzip: what gzip -6 makes of it; times: response time "
                "over loopback (server time)"
            )
            print(f"{'what':<34} {'files':>5} {'MB':>9} {'gzip MB':>9}")
            print("-" * 60)
            print(
                f"{'HTML':<34} {1:>5} {p0['bytes'] / MB:9.4f} {p0['gzip_bytes'] / MB:9.4f}"
                + (f"  (sent as {p0['encoding']})" if p0["encoding"] else "")
            )
            assets = p0.get("assets", {"files": [], "cross_origin": []})
            ok = [f for f in assets["files"] if f["status"] == 200]
            view = [f for f in ok if f["via"] != "css"] + one_font_format(
                [f for f in ok if f["via"] == "css"]
            )
            for label, group in (
                ("files the page references", [f for f in ok if f["via"] == "page"]),
                ("files of its frames", [f for f in ok if f["via"] == "frame"]),
                ("files its styles reference", [f for f in ok if f["via"] == "css"]),
                (
                    "  the same, one format per font",
                    one_font_format([f for f in ok if f["via"] == "css"]),
                ),
            ):
                if group:
                    print(
                        f"{label:<34} {len(group):>5} {sum(f['bytes'] for f in group) / MB:9.4f} "
                        f"{sum(f['gzip_bytes'] for f in group) / MB:9.4f}"
                    )
            total = p0["bytes"] + sum(f["bytes"] for f in view)
            total_gz = p0["gzip_bytes"] + sum(f["gzip_bytes"] for f in view)
            figures["first_view_mb"] = total / MB
            print(
                f"{'first view, empty cache (*)':<34} {len(view) + 1:>5} {total / MB:9.4f} "
                f"{total_gz / MB:9.4f}"
            )
            print(
                "(*) HTML, its files, and the styles' files with one format per font (woff2 "
                "first): an upper bound, as a browser fetches only the fonts and images in use"
            )
            largest = sorted(view, key=lambda f: -f["bytes"])[:6]
            if largest:
                print(
                    "largest: "
                    + ", ".join(f"{f['path'].split('?')[0]} {f['bytes'] / MB:.3f}" for f in largest)
                )
            broken = [f for f in assets["files"] if f["status"] != 200]
            for f in broken:
                out["notes"].append(f"page references {f['path']}: HTTP {f['status']}")
            if assets["cross_origin"]:
                out["notes"].append(
                    f"page references {len(assets['cross_origin'])} file(s) on other origins: "
                    + ", ".join(assets["cross_origin"][:5])
                )
            else:
                print("files on other origins (CDN): none")
            print(
                "response time: first request on a fresh server "
                f"{_fmt(figures['page_first_s'], '.3f')} s "
                f"(median of {len(firsts)} server(s): {', '.join(f'{f:.2f}' for f in firsts)}); "
                f"then median {figures['page_s']:.3f} s, min {min(times):.3f}, max "
                f"{max(times):.3f} ({len(times)} requests)"
            )
        values = [r["values"] for r in rounds if r.get("values", {}).get("available")]
        if values:
            v_times = [t for v in values for t in v["times_s"]]
            print(
                f"values API: {values[0]['bytes'] / 1000:.1f} kB ({', '.join(values[0]['keys'])}); "
                f"first {statistics.median(v['first_s'] for v in values):.3f} s, then median "
                f"{statistics.median(v_times) * 1000:.1f} ms"
            )
        elif rounds:
            print(f"values API: not available (route: {rounds[0].get('routes', {}).get('values')})")
        print()

    # tiles
    tile_rounds = [r["tiles"] for r in rounds if r.get("tiles", {}).get("available")]
    inproc = out.get("inproc")
    if "tiles" in steps:
        print("== tiles: GET /api/workspaces/<ws>/tiles/villages/{z}/{x}/{y}.pbf?profile=<p> ==")
        if not tile_rounds:
            not_available("tiles")
        else:
            print(
                f"cold: first request of each tile on a fresh server process with an empty "
                f"instance/tiles, after one other tile (which builds the tiles object of the "
                f"key); cached: its second request; {len(tile_rounds)} server(s), "
                f"{len(tile_rounds[0]['rows'])} tiles each; ms"
            )
            print(
                f"{'zoom':>4} {'tiles':>5} {'points':>7} {'cold p50':>9} {'cold p95':>9} "
                f"{'cached p50':>10} {'cached p95':>10} {'KB med':>7} {'KB max':>7} "
                f"{'gzip med':>8} {'empty':>5}"
            )
            print("-" * 91)
            rows = [row for t in tile_rounds for row in t["rows"]]
            for z in [*ZOOMS, None]:
                sel = [row for row in rows if z is None or row["z"] == z]
                if not sel:
                    continue
                once = [row for row in tile_rounds[0]["rows"] if z is None or row["z"] == z]
                cold = _ms([row["cold_s"] for row in sel])
                cached = _ms([row["cached_s"] for row in sel])
                sizes = [row["bytes"] / 1000 for row in once]
                print(
                    f"{'all' if z is None else z:>4} {len(once):>5} "
                    f"{statistics.median(row['points'] for row in once):>7.0f} "
                    f"{pct(cold, 50):9.1f} {pct(cold, 95):9.1f} {pct(cached, 50):10.1f} "
                    f"{pct(cached, 95):10.1f} {statistics.median(sizes):7.1f} {max(sizes):7.1f} "
                    f"{statistics.median(row['gzip_bytes'] / 1000 for row in once):8.1f} "
                    f"{sum(1 for row in once if row['bytes'] == 0):>5}"
                )
            cold = _ms([row["cold_s"] for row in rows])
            cached = _ms([row["cached_s"] for row in rows])
            metrics["tile_cold_p95_ms"] = round(pct(cold, 95), 2)
            metrics["tile_cached_p95_ms"] = round(pct(cached, 95), 2)
            for kind in ("dense", "edge"):
                sel = [row["cold_s"] * 1000 for row in rows if row["kind"] == kind]
                if sel:
                    print(
                        f"  {kind} tiles: cold p50 {pct(sel, 50):.1f} ms, p95 {pct(sel, 95):.1f} ms"
                    )
            print(
                "first tile request per server (tiles object built for the key + one tile): "
                + ", ".join(f"{t['warm_s']:.2f}" for t in tile_rounds)
                + " s"
            )
            reval = [row for row in rows if "revalidate_s" in row]
            if reval:
                codes: dict[int, int] = {}
                for row in reval:
                    codes[row["revalidate_status"]] = codes.get(row["revalidate_status"], 0) + 1
                r_ms = _ms([row["revalidate_s"] for row in reval])
                print(
                    f"revalidation (If-None-Match with the tile's ETag): p50 {pct(r_ms, 50):.1f} "
                    f"ms, p95 {pct(r_ms, 95):.1f} ms; answers "
                    + ", ".join(f"{n} x HTTP {c}" for c, n in sorted(codes.items()))
                )
            t0 = tile_rounds[0]
            print(
                f"disk cache: {t0['disk_files_before']} file(s) before the cold pass, "
                f"{t0['disk_files']} after ({t0['disk_bytes'] / MB:.2f} MB); headers: "
                + ", ".join(f"{k}: {v or '-'}" for k, v in t0["headers"].items())
            )
            nonempty = sum(1 for row in t0["rows"] if row["bytes"])
            if t0["disk_files"] < nonempty:
                out["notes"].append(
                    f"only {t0['disk_files']} file(s) under instance/tiles for {nonempty} "
                    "non-empty tiles: the disk cache is elsewhere or off; cold tiles are cold "
                    "only if it does not outlive the server process"
                )
        if inproc is not None:
            if inproc.get("available"):
                first = _ms(inproc["first_s"])
                second = _ms(inproc["second_s"])
                print(
                    f"in process, no HTTP (layers.tiles.VillageTiles, values from "
                    f"{inproc['values']}): built in {inproc['build_s']:.2f} s; tile p50 "
                    f"{pct(first, 50):.1f} ms, p95 {pct(first, 95):.1f} ms, max {max(first):.1f}; "
                    f"again p95 {pct(second, 95):.1f} ms; peak {inproc['peak_mb']:,.0f} MB "
                    f"(base {inproc['base_mb']:,.0f})"
                )
                by_zoom: dict[int, list[float]] = {}
                for t, ms in zip(out["plan"]["tiles"], first, strict=True):
                    by_zoom.setdefault(t["z"], []).append(ms)
                print(
                    "  by zoom, first p95 ms: "
                    + ", ".join(f"{z}: {pct(v, 95):.1f}" for z, v in sorted(by_zoom.items()))
                )
            else:
                print(f"in process: not available ({inproc.get('reason')})")
        print()

    # concurrency
    conc = next((r["concurrent"] for r in reversed(rounds) if "concurrent" in r), None)
    if "concurrent" in steps:
        print("== concurrent clients ==")
        if conc is None or not conc["sessions_s"]:
            not_available("concurrent")
        else:
            s = conc["sessions_s"]
            metrics["concurrent_p95_s"] = round(pct(s, 95), 3)
            print(
                f"{conc['clients']} clients at once ({len(conc['walls_s'])} wave(s)), each one "
                f"keep-alive connection: page, values API, {conc['tiles']} cached tiles "
                f"of one of {len(out['plan']['views'])} map views ({conc['requests']} requests); "
                f"server: waitress, {SERVER_THREADS} threads; clients and server share the 2 "
                "cores"
            )
            print(
                f"session s: p50 {pct(s, 50):.2f}, p95 {pct(s, 95):.2f}, max {max(s):.2f}; "
                f"requests per second: {statistics.median(conc['rates']):.0f} (median of waves: "
                f"{', '.join(f'{r:.0f}' for r in conc['rates'])}); a session receives "
                f"{min(conc['session_bytes']) / MB:.2f}-{max(conc['session_bytes']) / MB:.2f} MB"
                + (
                    " (by the zoom of its view: "
                    + ", ".join(f"{z}: {b / MB:.2f}" for z, b in conc["view_bytes"].items())
                    + ")"
                    if conc.get("view_bytes")
                    else ""
                )
            )
            for e in conc["errors"]:
                out["errors"].append(f"concurrent client: {e}")
        mem = [r.get("server", {}) for r in rounds]
        peaks = [m["peak_mb"] for m in mem if m.get("peak_mb")]
        if peaks:
            print(
                f"server process peak memory: {max(peaks):,.0f} MB (VmHWM, largest of the rounds)"
            )
        print()

    # naive and ratios
    naive = out.get("naive")
    if naive:
        metrics["naive_page_mb"] = round(naive["bytes"] / MB, 3)
        print(
            f"== naive: plain Folium page (folium {naive['folium']}), all "
            f"{naive['villages']:,} villages embedded as GeoJSON, choropleth of the score, "
            "tooltips =="
        )
        print(
            f"read {naive['read_s']:.2f} s (villages and scores from the store), build "
            f"{naive['build_s']:.2f} s (choropleth, tooltips, save), size "
            f"{naive['bytes'] / MB:,.1f} MB, peak {naive['peak_mb']:,.0f} MB "
            f"(base {naive['base_mb']:,.0f})"
        )
        print()
    naive_mb = naive["bytes"] / MB if naive else None
    naive_s = naive["build_s"] if naive else None
    if naive or metrics["page_mb"] is not None:
        print("== side by side ==")
        print(f"{'':<30} {'map page':>12} {'naive':>12} {'map / naive':>12}")
    rows = [
        ("first HTML MB", metrics["page_mb"], naive_mb, ".4f"),
        ("first view MB (HTML + files)", figures.get("first_view_mb"), naive_mb, ".3f"),
        ("page build s (median)", figures.get("page_s"), naive_s, ".3f"),
        ("page build s (first request)", figures.get("page_first_s"), naive_s, ".3f"),
    ]
    for label, a, b, spec in rows if naive or metrics["page_mb"] is not None else []:
        print(f"{label:<30} {_fmt(a, spec):>12} {_fmt(b, '.2f'):>12} {_ratio(a, b):>12}")
    if naive or metrics["page_mb"] is not None:
        print()

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    targets = []
    if metrics["page_mb"] is not None:
        targets.append(
            f"first HTML <= {PAGE_TARGET_MB:g} MB ({met(metrics['page_mb'] <= PAGE_TARGET_MB)})"
        )
    else:
        targets.append(f"first HTML <= {PAGE_TARGET_MB:g} MB (not measured)")
    for key, target, what in (
        ("tile_cold_p95_ms", COLD_TARGET_MS, "cold"),
        ("tile_cached_p95_ms", CACHED_TARGET_MS, "cached"),
    ):
        v = metrics[key]
        state = "not measured" if v is None else met(v <= target)
        targets.append(f"tile p95 {what} <= {target:g} ms ({state})")
    print("targets: " + "; ".join(targets))
    for note in out.get("notes", []):
        print(f"note: {note}")
    if out.get("errors"):
        print("\nerrors:")
        for e in out["errors"]:
            print(f"  {e}")
    return metrics


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; see the module docstring."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return _child_main(argv[1])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes (2,000 villages, 5,000 facilities, 20,000 needs, 400 x 400 raster)",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="fresh servers, each with cold tiles (3)"
    )
    parser.add_argument(
        "--steps",
        default=",".join(STEPS),
        help=f"comma-separated steps: {', '.join(STEPS)} (all)",
    )
    parser.add_argument("--clients", type=int, default=None, help="concurrent clients (20)")
    parser.add_argument(
        "--data", default=None, help="data folder (bench-data/, or bench-data/quick with --quick)"
    )
    parser.add_argument("--tmp", default=None, help="folder for the temporary store and server")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    steps = tuple(s.strip() for s in args.steps.split(",") if s.strip())
    if not steps or set(steps) - set(STEPS):
        parser.error(f"--steps takes {', '.join(STEPS)}, not {args.steps!r}")
    from make_synthetic import DEFAULT_DIR

    data_dir = Path(args.data) if args.data else DEFAULT_DIR / ("quick" if args.quick else "")
    try:
        out = run(
            data_dir,
            quick=args.quick,
            repeat=args.repeat,
            steps=steps,
            work_dir=Path(args.tmp) if args.tmp else None,
            clients=args.clients,
        )
    except Exception as exc:  # still end with the JSON line, so callers can parse it
        out = {"rounds": [], "errors": [f"{type(exc).__name__}: {exc}"], "notes": []}
    metrics = _report(out)
    print(json.dumps({"bench": "map", "metrics": metrics}))
    return 1 if out["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
