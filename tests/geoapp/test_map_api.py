"""The map's JSON API: every route with good and bad parameters, tiles, and live events.

The app serves the five-village workspace of ``tests/layers/test_score_run.py`` with one
saved ``musrenbang`` run (hand-checked there and in ``tests/layers/test_mapdata.py``).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from geoapp.views import map_api
from layers.indicators import IndicatorSettings
from layers.score_run import run_score
from tests.geoapp.auth_support import TEST_USER, signed_headers
from tests.geoapp.test_error_shape import assert_error_shape
from tests.layers.test_score_run import AS_OF, KODES, WS, build_workspace, musrenbang_profile

BASE = f"/api/workspaces/{WS}"
POINT = {"type": "Point", "coordinates": [102.51, -2.0]}
VIEW = {"center": [-2.0, 102.55], "zoom": 13, "profile": "musrenbang", "layers": ["villages"]}


@pytest.fixture
def app(tmp_path):
    """The app over a store holding the five villages and a saved ``musrenbang`` run."""
    from geoapp import create_app
    from geoapp.store import close_store

    store, _refs = build_workspace(tmp_path)
    run_score(store, WS, musrenbang_profile(), settings=IndicatorSettings(as_of=AS_OF))
    store.close()
    app = create_app(
        {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'store.sqlite'}"},
        instance_path=str(tmp_path / "instance"),
    )
    yield app
    close_store(app)


@pytest.fixture
def client(app):
    return app.test_client()


def test_the_blueprint_is_registered(app):
    assert "map_api" in app.blueprints
    assert app.blueprints["map_api"].url_prefix == "/api"


# --- values --------------------------------------------------------------------------------


def test_values_in_english_and_indonesian(client):
    response = client.get(f"{BASE}/map/values?profile=musrenbang&lang=en")
    assert response.status_code == 200
    data = response.get_json()
    assert data["run"] == f"{WS}/score_runs/musrenbang@1"
    assert data["villages"] == f"{WS}/villages@1"
    assert data["indicator"] is None
    assert data["unit"] is None
    assert data["key"].startswith(f"{WS}/villages@1|{WS}/score_runs/musrenbang@1|score|")
    assert [item["label"] for item in data["legend"]][-2:] == ["Very high need", "No data"]
    assert [item["count"] for item in data["legend"]] == [1, 1, 1, 1, 1, 0]
    assert data["legend"][0]["colour"] == "#ffffb2"
    indonesian = client.get(f"{BASE}/map/values?profile=musrenbang&lang=id").get_json()
    assert indonesian["legend"][4]["label"] == "Kebutuhan sangat tinggi"
    assert indonesian["legend"][4]["label_id"] == "very_high"
    assert indonesian["key"] == data["key"]


def test_values_of_an_indicator(client):
    response = client.get(
        f"{BASE}/map/values?profile=musrenbang&indicator=needs_per_1000__health&lang=en"
    )
    assert response.status_code == 200
    data = response.get_json()
    assert data["indicator"] == "needs_per_1000__health"
    assert data["unit"] == "per 1,000 people"
    assert data["label"] == "Severity-weighted needs per 1,000 people: health"
    assert [item["count"] for item in data["legend"]] == [1, 2, 0, 1, 1, 0]
    assert [item["upper"] for item in data["legend"][:5]] == pytest.approx([1.7, 2, 2.6, 3.6, 4])


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("", 400, "bad_request"),
        ("?profile=", 400, "bad_request"),
        ("?profile=nope", 404, "not_found"),
        ("?profile=Bad%20Name", 400, "bad_request"),
        ("?profile=musrenbang&indicator=nope", 400, "bad_request"),
        ("?profile=musrenbang&indicator=score", 400, "bad_request"),
    ],
)
def test_values_with_bad_parameters(client, query, status, code):
    assert_error_shape(client.get(f"{BASE}/map/values{query}"), status, code)


def test_values_of_an_unknown_workspace(client):
    error = assert_error_shape(
        client.get("/api/workspaces/tidak-ada/map/values?profile=musrenbang"), 404, "not_found"
    )
    assert "tidak-ada" in error["message"]


def test_a_missing_parameter_is_named_in_the_request_language(client):
    error = assert_error_shape(client.get(f"{BASE}/map/values?lang=en"), 400, "bad_request")
    assert error["details"] == {"parameter": "profile"}
    assert "profile" in error["message"]


# --- tiles ---------------------------------------------------------------------------------


def tile_url(z=11, query="profile=musrenbang"):
    from layers.tiles import lonlat_to_tile

    x, y = lonlat_to_tile(102.55, -2.0, z)
    return f"{BASE}/tiles/villages/{z}/{x}/{y}.pbf?{query}"


def test_a_tile_decodes_and_a_second_answer_is_the_same(client):
    pytest.importorskip("layers.tiles")
    mvt = pytest.importorskip("mapbox_vector_tile")
    first = client.get(tile_url())
    assert first.status_code == 200
    assert first.mimetype == "application/x-protobuf"
    features = mvt.decode(first.data)["villages"]["features"]
    props = {f["properties"]["kode"]: f["properties"] for f in features}
    assert sorted(props) == KODES
    assert [props[k]["class"] for k in KODES] == [3, 4, 5, 2, 1]
    assert [props[k]["rank"] for k in KODES] == [3, 2, 1, 4, 5]
    assert props[KODES[2]]["name"] == "Tiga"
    etag = first.headers["ETag"]
    assert etag
    assert first.headers["Cache-Control"] == "no-cache"
    second = client.get(tile_url())
    assert second.status_code == 200
    assert second.data == first.data
    assert second.headers["ETag"] == etag
    unchanged = client.get(tile_url(), headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.data == b""
    # The tile is on disk under instance/tiles.
    assert list((Path(client.application.instance_path) / "tiles").rglob("*.pbf"))


def test_a_tile_goes_gzipped_to_clients_that_take_gzip(client):
    import gzip

    plain = client.get(tile_url())
    packed = client.get(tile_url(), headers={"Accept-Encoding": "gzip, deflate"})
    assert packed.status_code == 200
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert "Content-Encoding" not in plain.headers
    assert gzip.decompress(packed.data) == plain.data
    assert len(packed.data) < len(plain.data)
    assert packed.headers["ETag"] != plain.headers["ETag"]


def test_a_tile_url_naming_the_data_version_is_cached_for_long(client):
    pytest.importorskip("layers.tiles")
    version = client.get(f"{BASE}/map/values?profile=musrenbang").get_json()["version"]
    named = client.get(tile_url(query=f"profile=musrenbang&v={version}"))
    assert named.status_code == 200
    assert "immutable" in named.headers["Cache-Control"]
    assert "max-age=604800" in named.headers["Cache-Control"]
    stale = client.get(tile_url(query="profile=musrenbang&v=0123456789abcdef"))
    assert stale.headers["Cache-Control"] == "no-cache"
    assert stale.data == named.data


def test_tiles_by_indicator_differ(client):
    pytest.importorskip("layers.tiles")
    mvt = pytest.importorskip("mapbox_vector_tile")
    by_score = client.get(tile_url())
    by_health = client.get(tile_url(query="profile=musrenbang&indicator=needs_per_1000__health"))
    assert by_health.status_code == 200
    assert by_health.headers["ETag"] != by_score.headers["ETag"]
    features = mvt.decode(by_health.data)["villages"]["features"]
    classes = {f["properties"]["kode"]: f["properties"]["class"] for f in features}
    assert [classes[k] for k in KODES] == [5, 4, 2, 1, 2]


def test_an_empty_tile_is_an_empty_answer(client):
    pytest.importorskip("layers.tiles")
    response = client.get(f"{BASE}/tiles/villages/5/0/0.pbf?profile=musrenbang")
    assert response.status_code == 200
    assert response.data == b""


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("23/0/0.pbf?profile=musrenbang", 400, "bad_request"),
        ("3/8/0.pbf?profile=musrenbang", 400, "bad_request"),
        ("3/0/8.pbf?profile=musrenbang", 400, "bad_request"),
        ("3/-1/0.pbf?profile=musrenbang", 404, "not_found"),
        ("3/0/0.png?profile=musrenbang", 404, "not_found"),
        ("3/0/0.pbf", 400, "bad_request"),
        ("3/0/0.pbf?profile=nope", 404, "not_found"),
        ("3/0/0.pbf?profile=musrenbang&indicator=nope", 400, "bad_request"),
    ],
)
def test_tiles_with_bad_parameters(client, path, status, code):
    pytest.importorskip("layers.tiles")
    assert_error_shape(client.get(f"{BASE}/tiles/villages/{path}"), status, code)


# --- village detail ------------------------------------------------------------------------


def test_village_detail_in_indonesian(client):
    response = client.get(f"{BASE}/villages/{KODES[2]}?profile=musrenbang&lang=id")
    assert response.status_code == 200
    data = response.get_json()
    assert data["name"] == "Tiga"
    assert data["codes"]["kecamatan_kode"] == "15.02.01"
    assert data["rank"] == 1
    assert data["class_name"] == "Kebutuhan sangat tinggi"
    first = data["indicators"][0]
    assert first["id"] == "dist_m__puskesmas"
    assert first["label"] == "Jarak ke puskesmas terdekat"
    assert first["contribution"] == pytest.approx(200 / 3)
    assert sum(i["contribution"] for i in data["indicators"]) == pytest.approx(data["score"])
    english = client.get(f"{BASE}/villages/{KODES[2]}?profile=musrenbang&lang=en").get_json()
    assert english["indicators"][0]["label"] == "Distance to the nearest puskesmas"
    assert english["score"] == data["score"]  # numbers stay raw


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        (f"villages/{KODES[0]}", 400, "bad_request"),
        ("villages/15.02.01.9999?profile=musrenbang", 404, "not_found"),
        (f"villages/{KODES[0]}?profile=nope", 404, "not_found"),
    ],
)
def test_village_detail_with_bad_parameters(client, path, status, code):
    assert_error_shape(client.get(f"{BASE}/{path}"), status, code)


# --- search and outlines -------------------------------------------------------------------


def test_search(client):
    found = client.get(f"{BASE}/search?q=ti").get_json()["villages"]
    assert [v["name"] for v in found] == ["Tiga"]
    found = client.get(f"{BASE}/search?q=15.02.01&limit=2").get_json()["villages"]
    assert [v["kode"] for v in found] == KODES[:2]
    assert found[0]["bounds"] == pytest.approx([102.5, -2.01, 102.52, -1.99])


@pytest.mark.parametrize("query", ["", "?q=", "?q=%20", "?q=ti&limit=x", "?q=ti&limit=0",
                                   "?q=ti&limit=101"])  # fmt: skip
def test_search_with_bad_parameters(client, query):
    assert_error_shape(client.get(f"{BASE}/search{query}"), 400, "bad_request")


def test_outlines(client):
    data = client.get(f"{BASE}/outlines/kecamatan").get_json()
    assert data["type"] == "FeatureCollection"
    assert [f["properties"]["kode"] for f in data["features"]] == ["15.02.01"]
    assert data["features"][0]["properties"]["name"] == "Bangko"
    kabupaten = client.get(f"{BASE}/outlines/kabupaten").get_json()
    assert [f["properties"]["kode"] for f in kabupaten["features"]] == ["15.02"]
    assert_error_shape(client.get(f"{BASE}/outlines/desa"), 400, "bad_request")
    assert_error_shape(client.get("/api/workspaces/tidak-ada/outlines/kecamatan"), 404, "not_found")


# --- points --------------------------------------------------------------------------------


def test_points(client):
    data = client.get(f"{BASE}/points/facilities?bbox=102.5,-2.01,102.54,-1.99").get_json()
    assert data["total"] == 3
    assert sorted(f["properties"]["facility_id"] for f in data["features"]) == [
        "F0000002", "F0000004", "F0000005",
    ]  # fmt: skip
    needs = client.get(f"{BASE}/points/needs?bbox=102.4,-2.1,102.7,-1.9&limit=5").get_json()
    assert needs["total"] == 9
    assert needs["truncated"] is True
    assert len(needs["features"]) == 5


@pytest.mark.parametrize(
    "query",
    ["", "?bbox=", "?bbox=1,2,3", "?bbox=a,b,c,d", "?bbox=3,0,1,1", "?bbox=0,1,1,0",
     "?bbox=0,-95,1,0", "?bbox=-200,0,1,1", "?bbox=0,0,1,1&limit=0", "?bbox=0,0,1,1&limit=x",
     "?bbox=0,0,1,1&limit=20001"],
)  # fmt: skip
def test_points_with_bad_parameters(client, query):
    assert_error_shape(client.get(f"{BASE}/points/needs{query}"), 400, "bad_request")


def test_points_of_an_unknown_layer(client):
    error = assert_error_shape(
        client.get(f"{BASE}/points/roads?bbox=0,0,1,1&lang=en"), 400, "bad_request"
    )
    assert "roads" in error["message"]


# --- annotations ---------------------------------------------------------------------------


def test_annotations_are_posted_and_listed(client):
    assert client.get(f"{BASE}/annotations").get_json()["annotations"] == []
    body = {"geometry": POINT, "note": "<script>alert(1)</script>", "author": "ani"}
    first = client.post(f"{BASE}/annotations", json=body)
    assert first.status_code == 201
    saved = first.get_json()
    assert saved["note"] == "<script>alert(1)</script>"  # data, kept as it was written
    assert saved["author"] == TEST_USER  # the signed-in account, not what the body claims
    assert saved["geometry"] == POINT
    second = client.post(
        f"{BASE}/annotations", json={**body, "note": "kedua", "kode": KODES[1]}
    ).get_json()
    listed = client.get(f"{BASE}/annotations").get_json()["annotations"]
    assert [a["id"] for a in listed] == [saved["id"], second["id"]]
    newer = client.get(f"{BASE}/annotations", query_string={"since": saved["created_at"]})
    assert [a["id"] for a in newer.get_json()["annotations"]] == [second["id"]]
    assert second["kode"] == KODES[1]


@pytest.mark.parametrize(
    "body",
    [
        {"geometry": {"type": "Circle", "coordinates": [0, 0]}, "note": "", "author": "ani"},
        {"geometry": {"type": "Point", "coordinates": [0, 100]}, "note": "", "author": "ani"},
        {"geometry": POINT, "note": "x" * 2001, "author": "ani"},
        {"geometry": POINT, "note": "catatan", "author": "ani", "kode": "15.99"},
        {"note": "catatan", "author": "ani"},
    ],
)
def test_bad_annotations_are_refused(client, body):
    assert_error_shape(client.post(f"{BASE}/annotations", json=body), 400, "bad_request")
    assert client.get(f"{BASE}/annotations").get_json()["annotations"] == []


NOT_OBJECTS = [
    ("not json", "application/json"),
    ("[1, 2]", "application/json"),
    ("geometry=x", "application/x-www-form-urlencoded"),
]


def test_annotation_bodies_that_are_not_json_objects(client):
    for data, kind in NOT_OBJECTS:
        response = client.post(f"{BASE}/annotations", data=data, content_type=kind)
        assert_error_shape(response, 400, "bad_request")
    assert_error_shape(client.get(f"{BASE}/annotations?since=kemarin"), 400, "bad_request")
    body = {"geometry": POINT, "note": "", "author": "ani"}
    unknown = client.post("/api/workspaces/tidak-ada/annotations", json=body)
    assert_error_shape(unknown, 404, "not_found")
    assert_error_shape(client.delete(f"{BASE}/annotations"), 405, "method_not_allowed")


# --- presenter -----------------------------------------------------------------------------


def test_presenter_round_trip(client):
    assert client.get(f"{BASE}/presenter").get_json() == {"presenter": None}
    saved = client.put(f"{BASE}/presenter", json={"view": VIEW, "author": "camat"})
    assert saved.status_code == 200
    data = saved.get_json()
    assert data["version"] == 1
    assert data["view"]["center"] == [-2.0, 102.55]
    assert data["view"]["zoom"] == 13
    assert client.get(f"{BASE}/presenter").get_json() == {"presenter": data}


@pytest.mark.parametrize(
    "body",
    [
        {"view": {"center": [-2.0, 102.5]}, "author": "camat"},
        {"view": {**VIEW, "zoom": 40}, "author": "camat"},
        {"view": "here", "author": "camat"},
    ],
)
def test_bad_presenter_views_are_refused(client, body):
    assert_error_shape(client.put(f"{BASE}/presenter", json=body), 400, "bad_request")
    assert client.get(f"{BASE}/presenter").get_json() == {"presenter": None}
    assert_error_shape(client.post(f"{BASE}/presenter", json=body), 405, "method_not_allowed")


# --- events --------------------------------------------------------------------------------


def parse_sse(text: str) -> list[dict]:
    """Events of a Server-Sent Events text: id, event and the JSON data."""
    events = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            events.append(
                {
                    "id": fields.get("id"),
                    "event": fields["event"],
                    "data": json.loads(fields["data"]),
                }
            )
    return events


def test_events_stream_a_new_annotation(client, monkeypatch):
    monkeypatch.setattr(map_api, "EVENTS_SECONDS", 2.0)
    monkeypatch.setattr(map_api, "EVENTS_INTERVAL", 0.2)
    response = client.get(f"{BASE}/events", buffered=False)
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    chunks = iter(response.response)
    first = next(chunks)
    first = first.decode() if isinstance(first, bytes) else first
    assert first.startswith("retry: 1000\n")
    assert parse_sse(first)[0]["event"] == "ready"
    added = client.post(
        f"{BASE}/annotations", json={"geometry": POINT, "note": "baru", "author": "ani"}
    ).get_json()
    presented = client.put(f"{BASE}/presenter", json={"view": VIEW, "author": "camat"}).get_json()
    started = time.monotonic()
    rest = "".join(c.decode() if isinstance(c, bytes) else c for c in chunks)
    assert time.monotonic() - started < 5
    events = parse_sse(rest)
    assert [e["event"] for e in events] == ["annotation", "presenter"]
    assert events[0]["data"] == added
    assert events[1]["data"] == presented
    response.close()

    # Reconnecting with the last id: nothing is sent again.
    again = client.get(f"{BASE}/events", headers={"Last-Event-ID": events[-1]["id"]})
    assert [e["event"] for e in parse_sse(again.get_data(as_text=True))] in (
        ["ready"],
        ["ready", "annotation"],  # within the look-back overlap, kept once by id
    )


def test_events_of_an_unknown_workspace_or_bad_since(client):
    assert_error_shape(client.get("/api/workspaces/tidak-ada/events"), 404, "not_found")
    assert_error_shape(client.get(f"{BASE}/events?since=kemarin"), 400, "bad_request")


def test_events_reach_a_browser_through_waitress_within_two_seconds(app, monkeypatch):
    from waitress import create_server

    monkeypatch.setattr(map_api, "EVENTS_SECONDS", 6.0)
    monkeypatch.setattr(map_api, "EVENTS_INTERVAL", 1.0)
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    port = server.effective_port
    headers = signed_headers(app)
    try:
        stream = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        stream.request("GET", f"{BASE}/events", headers=headers)
        response = stream.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Type").startswith("text/event-stream")
        lines = []

        def read_until(predicate, deadline):
            while time.monotonic() < deadline:
                line = response.readline().decode()
                if not line:
                    return False
                lines.append(line)
                if predicate(line):
                    return True
            return False

        assert read_until(lambda line: line.startswith("event: ready"), time.monotonic() + 5)
        body = json.dumps({"geometry": POINT, "note": "lewat waitress", "author": "ani"})
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{BASE}/annotations",
            data=body.encode(),
            headers={"Content-Type": "application/json", **headers},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as posted:
            saved = json.load(posted)
        posted_at = time.monotonic()
        assert read_until(lambda line: line.startswith("event: annotation"), posted_at + 4)
        data_line = response.readline().decode()
        arrived = time.monotonic() - posted_at
        assert json.loads(data_line.split(": ", 1)[1])["id"] == saved["id"]
        assert arrived < 2.5, f"the event took {arrived:.1f} s"
        stream.close()
    finally:
        server.close()
        thread.join(timeout=10)
