"""Scenario pages and their JSON API over the bundled demo area (Flask test client)."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
from html import unescape

import pytest

from tests.geoapp.conftest import open_demo_app

SCRIPT_TITLE = "<script>alert(1)</script>"
API = "/api/workspaces/merangin/scenarios"
PAGES = "/workspaces/merangin/scenarios"


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    """The app over the demo area with two saved placement scenarios (top-20 and budget)."""
    with open_demo_app(tmp_path_factory.mktemp("scenarios")) as app:
        client = app.test_client()
        first = client.post(
            API,
            json={
                "name": "top-20",
                "kind": "placement",
                "profile": "health_access",
                "title": SCRIPT_TITLE,
                "author": "ani",
                "settings": {"top_n": 20},
            },
        )
        assert first.status_code == 201, first.get_data(as_text=True)
        second = client.post(
            API,
            json={
                "name": "budget",
                "kind": "placement",
                "profile": "health_access",
                "title": "Anggaran Rp 2 miliar",
                "settings": {
                    "cost": "per_person:25000",
                    "budget": 2_000_000_000,
                    "rules": {"max_per_kecamatan": 2},
                },
            },
        )
        assert second.status_code == 201, second.get_data(as_text=True)
        app.config["SAVED"] = {"top-20": first.get_json(), "budget": second.get_json()}
        yield app


@pytest.fixture
def client(demo_app):
    """A test client of the demo app."""
    return demo_app.test_client()


def page(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:3000]
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def error_of(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"status", "code", "message", "details"}
    assert body["error"]["status"] == status
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def table_rows(html: str, table_id: str) -> list[str]:
    body = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*?)</tbody>', html, re.S)
    assert body, f"no table {table_id}"
    return re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S)


def map_layer_features(html: str) -> dict[str, list[dict]]:
    """GeoJSON features of each named layer of the page's scenario map."""
    script = "".join(re.findall(r"<script>(.*?)</script>", html, re.S))
    registry = re.search(r"window\.jangkauScenarioMap = \{map: \w+, layers: \{(.*?)\}\};", script)
    out = {}
    for key, var in re.findall(r'"(\w+)": (\w+),', registry.group(1)):
        data = re.search(rf"{var}_add\((\{{.*?\}})\);\n", script, re.S)
        out[key] = json.loads(data.group(1))["features"] if data else []
    return out


def expected_top(demo_app, n: int) -> list[str]:
    """The n villages with the most need-weighted people (score / 100 x people), computed
    from the saved run's table: its population column, else the raster's zonal sum."""
    from geoapp.store import get_store
    from layers.score_run import load_run

    with demo_app.app_context():
        table = load_run(get_store(), "merangin", "health_access")["table_frame"]
    people = table["population"].astype(float).fillna(table["population_raster"].astype(float))
    benefit = (table["score"].astype(float) / 100 * people).dropna()
    ordered = sorted(benefit.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return [str(kode) for kode, _ in ordered[:n]]


# --- the API ------------------------------------------------------------------------------


def test_post_saves_the_scenario_and_answers_201_with_links(demo_app):
    saved = demo_app.config["SAVED"]["top-20"]
    assert saved["name"] == "top-20"
    assert saved["version"] == 1
    assert saved["kind"] == "placement"
    assert saved["title"] == SCRIPT_TITLE
    assert saved["links"]["html"] == f"{PAGES}/top-20"
    assert saved["links"]["csv"] == f"{PAGES}/top-20/export.csv"
    # the 20 villages with the most need-weighted people, in rank order
    kode = [row["kode"] for row in saved["result"]["selected"]]
    assert kode == expected_top(demo_app, 20)
    assert saved["summary"]["villages_selected"] == 20


def test_post_again_makes_version_2_and_location_points_at_it(client):
    body = {"name": "again", "kind": "placement", "profile": "health_access"}
    first = client.post(API, json={**body, "settings": {"top_n": 3}})
    assert first.status_code == 201
    assert first.headers["Location"].endswith(f"{API}/again")
    second = client.post(API, json={**body, "settings": {"top_n": 4}, "expected_version": 1})
    assert second.status_code == 201
    assert second.get_json()["version"] == 2
    old = client.get(f"{API}/again?version=1").get_json()
    assert old["version"] == 1
    assert old["summary"]["villages_selected"] == 3
    assert client.get(f"{API}/again").get_json()["summary"]["villages_selected"] == 4


def test_list_and_get(client):
    items = client.get(API).get_json()["scenarios"]
    names = {item["name"] for item in items}
    assert {"top-20", "budget"} <= names
    top = next(item for item in items if item["name"] == "top-20")
    assert top["villages_selected"] == 20
    assert top["links"]["self"] == f"{API}/top-20"
    one = client.get(f"{API}/budget").get_json()
    assert one["settings"]["budget"] == 2_000_000_000
    assert one["summary"]["cost"] <= 2_000_000_000


def test_a_bad_setting_is_a_400_naming_it(client):
    response = client.post(
        API + "?lang=en",
        json={"name": "bad", "kind": "placement", "profile": "health_access",
              "settings": {"top_n": -1}},
    )  # fmt: skip
    error = error_of(response, 400, "bad_request")
    assert error["details"]["setting"] == "top_n"
    assert "top_n" in error["message"]
    assert client.get(f"{API}/bad").status_code == 404  # nothing saved


def test_a_bad_rule_and_a_bad_name_are_named(client):
    response = client.post(
        API,
        json={"name": "rule", "kind": "placement", "profile": "health_access",
              "settings": {"top_n": 5, "rules": {"min_spacing_m": "far"}}},
    )  # fmt: skip
    assert "min_spacing_m" in error_of(response, 400, "bad_request")["details"]["setting"]
    response = client.post(
        API,
        json={"name": "Not A Slug", "kind": "placement", "profile": "health_access",
              "settings": {"top_n": 5}},
    )  # fmt: skip
    assert error_of(response, 400, "bad_request")["details"]["setting"] == "name"


def test_the_name_compare_is_kept_for_the_comparison_page(client):
    response = client.post(
        API,
        json={"name": "compare", "kind": "placement", "profile": "health_access",
              "settings": {"top_n": 2}},
    )  # fmt: skip
    assert error_of(response, 400, "bad_request")["details"]["setting"] == "name"


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ([1, 2], None),
        ({"kind": "placement", "profile": "health_access"}, "name"),
        ({"name": "x", "kind": "placement", "profile": "p", "settings": [1]}, "settings"),
        ({"name": "x", "kind": "placement", "profile": "p", "colour": "red"}, "colour"),
    ],
)
def test_a_malformed_body_is_a_400(client, body, parameter):
    error = error_of(client.post(API, json=body), 400, "bad_request")
    assert error["details"].get("parameter") == parameter


def test_not_json_at_all_is_a_400(client):
    response = client.post(API, data="name=x", content_type="application/x-www-form-urlencoded")
    error_of(response, 400, "bad_request")


def test_unknown_profile_workspace_and_scenario_are_404(client):
    body = {"name": "x", "kind": "placement", "settings": {"top_n": 2}}
    error_of(client.post(API, json={**body, "profile": "no_such"}), 404, "not_found")
    error_of(
        client.post("/api/workspaces/nope/scenarios", json={**body, "profile": "health_access"}),
        404,
        "not_found",
    )
    error = error_of(client.get(f"{API}/no-such?lang=en"), 404, "not_found")
    assert "no-such" in error["message"]
    error_of(client.get(f"{API}/top-20?version=99"), 404, "not_found")
    error_of(client.get(f"{API}/top-20?version=abc"), 400, "bad_request")


def test_saving_over_a_newer_version_is_a_409(client):
    response = client.post(
        API,
        json={"name": "top-20", "kind": "placement", "profile": "health_access",
              "settings": {"top_n": 5}, "expected_version": 0},
    )  # fmt: skip
    error = error_of(response, 409, "conflict")
    assert error["details"]["latest_version"] >= 1
    assert client.get(f"{API}/top-20").get_json()["summary"]["villages_selected"] == 20


def test_compare_api(client, demo_app):
    result = client.get(f"{API}/compare?name=top-20&name=budget").get_json()
    saved = demo_app.config["SAVED"]
    a = set(saved["top-20"]["summary"]["villages"])
    b = set(saved["budget"]["summary"]["villages"])
    assert {row["kode"] for row in result["differences"]} == a ^ b
    for row in result["differences"]:
        assert row["in"] == (["top-20"] if row["kode"] in a else ["budget"])
    assert result["same"] == len(a & b)
    assert client.get(f"{API}/compare?name=top-20,budget").get_json() == result
    error_of(client.get(f"{API}/compare?name=top-20"), 400, "bad_request")
    error_of(client.get(f"{API}/compare?name=top-20&name=zzz"), 404, "not_found")


def test_delete(client):
    body = {"name": "gone", "kind": "placement", "profile": "health_access"}
    assert client.post(API, json={**body, "settings": {"top_n": 2}}).status_code == 201
    response = client.delete(f"{API}/gone")
    assert response.status_code == 204
    error_of(client.get(f"{API}/gone"), 404, "not_found")
    error_of(client.delete(f"{API}/gone"), 404, "not_found")
    error_of(client.put(f"{API}/top-20"), 405, "method_not_allowed")


# --- the pages ----------------------------------------------------------------------------


def test_list_page_shows_scenarios_escaped_and_the_form(client):
    html = page(client, f"{PAGES}?lang=en")
    assert '<html lang="en">' in html
    assert SCRIPT_TITLE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    rows = table_rows(html, "scenario-list")
    named = {re.search(r'value="([^"]+)"', row).group(1): row for row in rows}
    assert {"top-20", "budget"} <= set(named)
    cells = re.findall(r'<td class="num">([^<]*)</td>', named["top-20"])
    assert cells[0] == "20"
    assert 'id="scenario-form"' in html
    assert f'data-api="{API}"' in html
    for setting in ("rules.min_per_kecamatan", "rules.exclude", "rules.must_include",
                    "rules.min_spacing_m", "budget", "top_n", "model", "facility_type",
                    "distance_m", "k", "candidates", "demand", "weight_by_score"):  # fmt: skip
        assert f'data-setting="{setting}"' in html, setting
    assert 'action="/workspaces/merangin/scenarios/compare"' in html
    # the demo's point datasets can give candidate sites
    for name in ("faskes_kemenkes", "needs_kobo", "needs_musrenbang"):
        assert f'<option value="layer:{name}">' in html, name
    # nothing from elsewhere
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert url.startswith(("/", "?", "#")), url


def test_list_page_in_indonesian_and_an_unknown_workspace(client):
    html = page(client, f"{PAGES}?lang=id")
    assert '<html lang="id">' in html
    assert 'hreflang="en"' in html
    missing = page(client, "/workspaces/kosong/scenarios", 404)
    assert "kosong" in unescape(missing)


def test_result_page_of_a_placement(client, demo_app):
    saved = demo_app.config["SAVED"]["budget"]
    response = client.get(f"{PAGES}/budget?lang=en")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[:2000]
    rows = table_rows(html, "selected")
    kode = [re.search(r"<code>([^<]+)</code>", row).group(1) for row in rows]
    assert kode == [row["kode"] for row in saved["result"]["selected"]]
    headline = re.search(r'<dl class="headline".*?</dl>', html, re.S).group(0)
    assert f"<dd>{len(kode)}</dd>" in headline
    assert 'id="rule-costs"' in html
    assert "At most this many villages per kecamatan" in html
    assert 'id="by-kecamatan"' in html
    assert f'href="{PAGES}/budget/export.csv"' in html
    assert f'href="{PAGES}/budget/export.xlsx"' in html
    # the map draws exactly the selected villages, over the kecamatan outlines
    layers = map_layer_features(html)
    assert sorted(f["properties"]["kode"] for f in layers["areas"]) == sorted(kode)
    assert layers["outlines"]
    names = json.loads(
        re.search(
            r'<script type="application/json" id="scenario-names">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert set(names) == set(kode)


def test_result_page_escapes_the_title_and_allows_only_its_own_scripts(client):
    response = client.get(f"{PAGES}/top-20")
    html = response.get_data(as_text=True)
    assert SCRIPT_TITLE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert re.findall(r"https?://", html) == []
    csp = response.headers["Content-Security-Policy"]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ")}
    inline = re.findall(r"<script>(.*?)</script>", html, re.S)
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in inline
    ]
    assert directives["script-src"] == ["'self'", *hashes]


def test_result_page_errors(client):
    html = page(client, f"{PAGES}/no-such?lang=en", 404)
    assert "no-such" in unescape(html)
    page(client, f"{PAGES}/top-20?version=x", 400)


def test_compare_page(client, demo_app):
    saved = demo_app.config["SAVED"]
    a = set(saved["top-20"]["summary"]["villages"])
    b = set(saved["budget"]["summary"]["villages"])
    html = page(client, f"{PAGES}/compare?name=top-20&name=budget&lang=en")
    rows = table_rows(html, "differences")
    shown = {re.search(r"<code>([^<]+)</code>", row).group(1): row for row in rows}
    assert set(shown) == a ^ b
    for kode, row in shown.items():
        marks = re.findall(r'<td class="in-scenario">(.*?)</td>', row, re.S)
        assert ("✔" in marks[0]) == (kode in a)
        assert ("✔" in marks[1]) == (kode in b)
    # the map colours each village by which scenarios choose it; shared ones grey
    layers = map_layer_features(html)
    groups = {f["properties"]["kode"]: f["properties"]["group"] for f in layers["areas"]}
    assert set(groups) == a | b
    only_a = {groups[k] for k in a - b}
    only_b = {groups[k] for k in b - a}
    assert len(only_a) == 1
    assert len(only_b) == 1
    assert only_a != only_b
    assert {groups[k] for k in a & b} <= {0}
    assert f"{len(a ^ b)} villages are chosen by only some" in html
    side = table_rows(html, "comparison")
    villages = next(r for r in side if "Villages" in r)
    cells = re.findall(r'<td class="num">([^<]*)</td>', villages)
    assert cells == [str(len(a)), str(len(b))]
    page(client, f"{PAGES}/compare?name=top-20", 400)
    page(client, f"{PAGES}/compare?name=top-20&name=zzz", 404)


def test_csv_download(client, demo_app):
    response = client.get(f"{PAGES}/budget/export.csv")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == ('attachment; filename="merangin-budget.csv"')
    assert response.mimetype == "text/csv"
    text = response.data.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    saved = demo_app.config["SAVED"]["budget"]["result"]["selected"]
    assert [r["kode"] for r in rows] == [r["kode"] for r in saved]


def test_xlsx_download_keeps_codes_as_text(client, demo_app):
    from openpyxl import load_workbook

    response = client.get(f"{PAGES}/top-20/export.xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="merangin-top-20.xlsx"'
    )
    book = load_workbook(io.BytesIO(response.data))
    assert "settings" in book.sheetnames
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    column = header.index("kode")
    codes = [row[column] for row in sheet.iter_rows(min_row=2, values_only=True)]
    saved = demo_app.config["SAVED"]["top-20"]["result"]["selected"]
    assert codes == [r["kode"] for r in saved]
    assert all(isinstance(c, str) for c in codes)
    page(client, f"{PAGES}/no-such/export.csv", 404)


def test_navigation_links(client):
    html = page(client, "/workspaces/merangin")
    assert f'href="{PAGES}"' in html
    html = page(client, "/workspaces/merangin/map")
    assert f'href="{PAGES}"' in html
    html = page(client, f"{PAGES}/top-20")
    assert 'href="/workspaces/merangin/scenarios"' in html


def test_every_scenario_route_is_documented(demo_app):
    from tests.conftest import REPO

    doc = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    web = (REPO / "docs" / "scenarios.md").read_text(encoding="utf-8")
    rules = {r.rule for r in demo_app.url_map.iter_rules() if "scenarios" in r.rule}
    assert len(rules) == 9
    for rule in rules:
        documented = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: f"<{m.group(1)}>", rule)
        documented = documented.replace("<workspace>", "<ws>")
        assert f"`{documented}`" in doc, rule
    assert "## On the web" in web


def test_siting_scenario_page_draws_sites_their_reach_and_existing_facilities(client):
    from pyproj import Geod

    response = client.post(
        API,
        json={
            "name": "puskesmas-3",
            "kind": "siting",
            "profile": "health_access",
            "settings": {"model": "mclp", "facility_type": "puskesmas", "distance_m": 5000,
                         "k": 3},
        },
    )  # fmt: skip
    assert response.status_code == 201, response.get_data(as_text=True)[:2000]
    sites = {str(s["site_id"]): s for s in response.get_json()["result"]["sites"]}
    assert len(sites) == 3
    html = page(client, f"{PAGES}/puskesmas-3?lang=en")
    rows = table_rows(html, "sites")
    assert {re.search(r"<code>([^<]+)</code>", row).group(1) for row in rows} == set(sites)
    layers = map_layer_features(html)
    points = {f["properties"]["site_id"]: f["geometry"]["coordinates"] for f in layers["points"]}
    assert set(points) == set(sites)
    for site_id, (x, y) in points.items():
        assert x == pytest.approx(sites[site_id]["x"], abs=1e-5)
        assert y == pytest.approx(sites[site_id]["y"], abs=1e-5)
    # each site's reach is a circle of 5 km on the ground (checked on the ellipsoid)
    geod = Geod(ellps="WGS84")
    assert len(layers["reach"]) == 3
    for feature in layers["reach"]:
        x, y = points[feature["properties"]["site_id"]]
        ring = feature["geometry"]["coordinates"][0]
        lons = [p[0] for p in ring]
        lats = [p[1] for p in ring]
        distances = geod.inv([x] * len(ring), [y] * len(ring), lons, lats)[2]
        assert min(distances) == pytest.approx(5000, rel=0.01)
        assert max(distances) == pytest.approx(5000, rel=0.01)
    # the 18 existing puskesmas of the demo's facilities are drawn as fixed
    assert len(layers["existing"]) == 18
    compare = page(client, f"{PAGES}/compare?name=puskesmas-3&name=top-20&lang=en")
    assert "puskesmas-3" in compare
