"""HTML pages: every route with good and bad input, escaping, versions, report paging."""

from __future__ import annotations

import re

import pytest

from tests.geoapp.conftest import SCRIPT_NAME


def text(response) -> str:
    return response.get_data(as_text=True)


def rows_of(html: str, table_id: str) -> list[str]:
    """The <tr> elements of the body of the table with ``table_id``."""
    match = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*?)</tbody>', html, re.S)
    assert match, f"no table {table_id}"
    return re.findall(r"<tr.*?</tr>", match.group(1), re.S)


def test_index_lists_workspaces_with_layer_counts(client):
    html = text(client.get("/?lang=en"))
    rows = rows_of(html, "workspaces")
    assert len(rows) == 2
    merangin = next(r for r in rows if "/workspaces/merangin" in r)
    assert re.search(r'class="num">3<', merangin)  # villages, faskes, podes
    empty = next(r for r in rows if "/workspaces/kosong" in r)
    assert re.search(r'class="num">0<', empty)


def test_index_without_workspaces_says_how_to_start(tmp_path):
    from geoapp import create_app
    from geoapp.store import close_store, get_store

    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 's.sqlite'}"})
    get_store(app).init()
    html = text(app.test_client().get("/?lang=en"))
    close_store(app)
    assert "<code>geoapp init</code>" in html
    assert 'id="workspaces"' not in html


def test_uninitialised_store_is_a_503_page_not_a_traceback(tmp_path):
    from geoapp import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'new.sqlite'}"})
    response = app.test_client().get("/?lang=en")
    assert response.status_code == 503
    assert "text/html" in response.content_type
    assert "Service unavailable" in text(response)


def test_workspace_page_lists_latest_version_of_each_layer(client, app):
    html = text(client.get("/workspaces/merangin?lang=en"))
    rows = rows_of(html, "layers")
    by_name = {re.search(r'data-dataset="([^"]+)"', r).group(1): r for r in rows}
    assert sorted(by_name) == ["faskes", "podes", "villages"]
    villages = by_name["villages"]
    assert "v2" in villages
    assert "v1" not in villages
    assert "desa_2025.geojson" in villages
    assert "Villages (desa/kelurahan)" in villages
    assert f'title="{"2" * 64}">{"2" * 12}</code>' in villages
    assert "budi" in villages
    assert "earlier versions" in villages
    assert "/workspaces/merangin/datasets/villages/report?version=2" in villages
    faskes = by_name["faskes"]
    assert "earlier versions" not in faskes
    assert re.search(r'class="num bad">13<', faskes)  # rejected count highlighted
    # counts: read is not a column; accepted, repaired, rejected, warnings are
    assert re.findall(r'<td class="num[^"]*">(\d+)</td>', faskes) == ["1", "1", "0", "13", "4"]


def test_workspace_page_has_overview_map_from_local_leaflet(client):
    html = text(client.get("/workspaces/merangin"))
    assert 'id="overview-map"' in html
    assert 'src="/static/vendor/leaflet/leaflet.js"' in html
    assert 'href="/static/vendor/leaflet/leaflet.css"' in html
    data = re.search(r'<script type="application/json" id="overview-data">(.*?)</script>', html)
    import json

    extents = json.loads(data.group(1))
    assert {e["name"] for e in extents} == {"villages", "faskes"}  # podes has no geometry


def test_empty_workspace_page_says_how_to_import(client):
    html = text(client.get("/workspaces/kosong?lang=en"))
    assert 'id="layers"' not in html
    assert "geoapp import villages desa.geojson --workspace kosong" in html
    assert 'id="overview-map"' not in html


def test_dataset_page_lists_every_version_newest_first(client):
    html = text(client.get("/workspaces/merangin/datasets/villages?lang=en"))
    rows = rows_of(html, "versions")
    assert len(rows) == 2
    assert "v2" in rows[0]
    assert "latest" in rows[0]
    assert "desa_2025.geojson" in rows[0]
    assert "v1" in rows[1]
    assert "desa_2024.geojson" in rows[1]
    assert "ani" in rows[1]
    assert "report?version=1" in rows[1]
    assert 'class="selected"' in rows[0]
    # a translatable stored note is shown in the page's language
    assert "215 desa/kelurahan polygons" in rows[0]


def test_dataset_page_selects_an_earlier_version(client):
    html = text(client.get("/workspaces/merangin/datasets/villages?version=1"))
    rows = rows_of(html, "versions")
    assert 'class="selected"' in rows[1]
    assert 'class="selected"' not in rows[0]


def test_report_page_shows_counts_and_translated_findings(client):
    html = text(client.get("/workspaces/merangin/datasets/villages/report?version=1&lang=en"))
    counts = rows_of(html, "counts")[0]
    assert re.findall(r">(\d+)<", counts) == ["3", "2", "0", "1", "0"]
    findings = rows_of(html, "findings")
    assert len(findings) == 1
    assert "rejected" in findings[0]
    assert ">4<" in findings[0]
    assert "kode" in findings[0]
    assert "&#39;15.2&#39; is not a valid Kemendagri code: too few digits" in findings[0]
    html_id = text(client.get("/workspaces/merangin/datasets/villages/report?version=1&lang=id"))
    finding_id = rows_of(html_id, "findings")[0]
    assert "ditolak" in finding_id
    assert "bukan kode Kemendagri yang valid" in finding_id


def test_report_page_defaults_to_latest_version(client):
    html = text(client.get("/workspaces/merangin/datasets/villages/report?lang=en"))
    assert "merangin/villages@2" in html
    assert "desa_2025.geojson" in html


def test_report_page_is_paged(client):
    url = "/workspaces/merangin/datasets/faskes/report?lang=en"
    first = text(client.get(url))
    assert len(rows_of(first, "findings")) == 5
    assert "Showing findings 1 to 5 of 17." in first
    assert "Page 1 of 4" in first
    assert 'rel="next"' in first
    assert 'rel="prev"' not in first
    last = text(client.get(url + "&page=4"))
    assert len(rows_of(last, "findings")) == 2
    assert "Showing findings 16 to 17 of 17." in last
    assert 'rel="prev"' in last
    assert 'rel="next"' not in last
    beyond = text(client.get(url + "&page=9"))
    assert 'id="findings"' not in beyond or rows_of(beyond, "findings") == []


def test_report_page_filters_by_action(client):
    html = text(client.get("/workspaces/merangin/datasets/faskes/report?action=warning&lang=en"))
    rows = rows_of(html, "findings")
    assert len(rows) == 4
    assert all('class="action-warning"' in r for r in rows)
    assert "Showing findings 1 to 4 of 4." in html


def test_report_page_without_findings(client):
    html = text(client.get("/workspaces/merangin/datasets/podes/report?lang=en"))
    assert "No findings: every row was accepted as it was." in html


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/workspaces/nope", 404),
        ("/workspaces/merangin/datasets/nope", 404),
        ("/workspaces/merangin/datasets/villages?version=7", 404),
        ("/workspaces/merangin/datasets/villages?version=abc", 400),
        ("/workspaces/merangin/datasets/villages?version=0", 400),
        ("/workspaces/merangin/datasets/villages/report?version=-1", 400),
        ("/workspaces/merangin/datasets/villages/report?version=3", 404),
        ("/workspaces/nope/datasets/villages/report", 404),
        ("/workspaces/merangin/datasets/villages/report?page=0", 400),
        ("/workspaces/merangin/datasets/villages/report?action=deleted", 400),
        ("/no/such/page", 404),
    ],
)
def test_bad_page_requests_get_an_html_error_page(client, url, status):
    response = client.get(url + ("&" if "?" in url else "?") + "lang=en")
    assert response.status_code == status
    assert response.content_type.startswith("text/html")
    html = text(response)
    assert "Back to the workspaces" in html
    assert ('data-code="not_found"' in html) == (status == 404)
    assert 'class="lang-switch"' in html


def test_page_error_message_is_escaped(client):
    html = text(client.get("/workspaces/merangin/datasets/villages?version=<b>x</b>&lang=en"))
    assert "<b>x</b>" not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html


def test_script_in_source_name_and_user_is_escaped_everywhere(client):
    pages = [
        "/workspaces/merangin",
        "/workspaces/merangin/datasets/podes",
        "/workspaces/merangin/datasets/podes/report",
    ]
    for url in pages:
        html = text(client.get(url))
        assert SCRIPT_NAME not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;.csv" in html, url
    html = text(client.get("/workspaces/merangin"))
    assert "<i>tamu</i>" not in html
    assert "&lt;i&gt;tamu&lt;/i&gt;" in html


def test_finding_parameters_are_escaped(client):
    html = text(client.get("/workspaces/merangin/datasets/faskes/report?page=4&lang=en"))
    assert "<b>klinik</b>" not in html
    assert "&lt;b&gt;klinik&lt;/b&gt;" in html


def test_pages_send_security_headers_and_load_nothing_from_elsewhere(client):
    response = client.get("/workspaces/merangin")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'self'" in csp
    assert "object-src 'none'" in csp
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # the session cookie: not readable by scripts, not sent along from other sites
    cookie = response.headers.get("Set-Cookie", "")
    if cookie:
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
    html = text(response)
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert url.startswith(("/", "?", "#")), url


def test_static_css_and_overview_script_are_served(client):
    assert client.get("/static/css/jangkau.css").status_code == 200
    assert client.get("/static/js/overview_map.js").status_code == 200


def test_population_raster_is_listed_with_its_kind(client, app, tmp_path):
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    from geoapp.store import get_store
    from layers.importer import import_into_store

    path = tmp_path / "penduduk.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=2,
        width=2,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=from_origin(101.9, -2.1, 0.1, 0.05),
        nodata=-1,
    ) as ds:
        ds.write(np.array([[5, 6], [7, 8]], dtype="float32"), 1)
    with app.app_context():
        outcome = import_into_store(get_store(app), "merangin", path, "raster")
    assert outcome.stored
    rows = rows_of(text(client.get("/workspaces/merangin?lang=id")), "layers")
    raster = next(r for r in rows if 'data-dataset="population"' in r)
    assert "Raster penduduk" in raster
    assert "penduduk.tif" in raster
    data = client.get("/api/workspaces/merangin/datasets/population").get_json()
    assert data["kind"] == "raster"
    assert data["crs"] == "EPSG:4326"
    report = client.get("/workspaces/merangin/datasets/population/report?lang=en")
    assert report.status_code == 200
