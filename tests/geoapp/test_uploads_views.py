"""Importing a layer from the web (POST /api/workspaces/<ws>/datasets), end to end.

The app runs over a seeded SQLite store (``tests/geoapp/conftest.py``); uploads are real
files written with pyogrio, matplotlib and zipfile. A refused upload must leave every table
of the store as it was.
"""

from __future__ import annotations

import io
import sqlite3
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest

from tests.geoapp.auth_support import TEST_USER
from tests.geoapp.conftest import seed
from tests.geoapp.test_error_shape import assert_error_shape

API = "/api/workspaces/merangin/datasets"
LIMIT = 64 * 1024  # MAX_CONTENT_LENGTH of the small app below


@pytest.fixture
def small_app(tmp_path):
    """The seeded app with a request limit of 64 kB."""
    from geoapp import create_app
    from geoapp.store import close_store, get_store

    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'jangkau.sqlite'}",
            "MAX_CONTENT_LENGTH": LIMIT,
        },
        instance_path=str(tmp_path / "instance"),
    )
    app.config["SEEDED"] = seed(get_store(app))
    app.config["DB_PATH"] = tmp_path / "jangkau.sqlite"
    yield app
    close_store(app)


@pytest.fixture
def client(small_app):
    """A signed-in client (see conftest) that has made its first request."""
    client = small_app.test_client()
    assert client.get("/api/workspaces").status_code == 200
    return client


def dump(app) -> list[str]:
    con = sqlite3.connect(app.config["DB_PATH"])
    try:
        return list(con.iterdump())
    finally:
        con.close()


def post(client, data: bytes, filename: str, **fields: str):
    form = {"file": (io.BytesIO(data), filename), **fields}
    return client.post(f"{API}?lang=en", data=form, content_type="multipart/form-data")


def fixture_villages_geojson(app, folder: Path) -> bytes:
    """The seeded villages (version 2) written as GeoJSON by pyogrio."""
    from geoapp.store import get_store

    villages = get_store(app).read_dataset("merangin", "villages")
    path = folder / "desa.geojson"
    pyogrio.write_dataframe(gpd.GeoDataFrame(villages), path)
    return path.read_bytes()


def test_good_geojson_is_stored_as_a_new_version(small_app, client, tmp_path):
    from geoapp.store import get_store

    body = fixture_villages_geojson(small_app, tmp_path)
    got = post(client, body, "desa.geojson", kind="villages", user="ani")
    assert got.status_code == 201, got.get_json()
    answer = got.get_json()
    assert answer["stored"] is True
    assert answer["dataset"]["ref"] == "merangin/villages@3"
    assert answer["dataset"]["source_name"] == "desa.geojson"
    assert answer["dataset"]["created_by"] == TEST_USER  # the signed-in account, not "user"
    assert answer["counts"]["accepted"] == 2
    assert answer["counts"]["rejected"] == 0
    assert answer["dataset"]["links"]["self"] == f"{API}/villages?version=3"
    store = get_store(small_app)
    versions = [d.version for d in store.list_datasets("merangin", all_versions=True)
                if d.name == "villages"]  # fmt: skip
    assert versions == [1, 2, 3]
    stored = store.read_dataset("merangin", "villages", 3)
    assert sorted(stored["kode"]) == ["15.02.01.2001", "15.02.01.2002"]
    # The same file again stores nothing new.
    again = post(client, body, "desa.geojson", kind="villages", user="ani")
    assert again.status_code == 200
    assert again.get_json()["unchanged"] is True
    assert again.get_json()["dataset"]["version"] == 3


def test_dry_run_checks_and_stores_nothing(small_app, client, tmp_path):
    body = fixture_villages_geojson(small_app, tmp_path)
    before = dump(small_app)
    got = post(client, body, "desa.geojson", kind="villages", dry_run="1")
    assert got.status_code == 200
    answer = got.get_json()
    assert answer["dry_run"] is True
    assert answer["stored"] is False
    assert answer["counts"]["accepted"] == 2
    assert dump(small_app) == before


FACILITIES = (
    "id,nama,jenis,lintang,bujur\n"
    "F1,Pustu Renah,pustu,-2.15,101.95\n"
    "F2,Dinas,DINAS PROVINSI,-2.15,102.05\n"
    "F3,,pustu,-2.16,102.06\n"
)


def test_bad_csv_names_its_rows_and_stores_nothing(small_app, client):
    before = dump(small_app)
    got = post(client, FACILITIES.encode(), "faskes_baru.csv", kind="facilities", name="baru")
    error = assert_error_shape(got, 400, "rows_rejected")
    assert "2 rows were rejected" in error["message"]
    rows = {(r["row"], r["column"]): r for r in error["details"]["rows"]}
    assert set(rows) == {(3, "jenis"), (4, "nama")}
    assert all(r["file"] == "faskes_baru.csv" for r in rows.values())
    assert "DINAS PROVINSI" in rows[(3, "jenis")]["reason"]
    assert error["details"]["counts"]["accepted"] == 1
    assert error["details"]["counts"]["rejected"] == 2
    assert dump(small_app) == before


def test_rejected_rows_follow_the_request_language(client):
    reasons = {}
    for lang in ("en", "id"):
        got = client.post(
            f"{API}?lang={lang}",
            data={"file": (io.BytesIO(FACILITIES.encode()), "faskes.csv"), "kind": "facilities"},
            content_type="multipart/form-data",
        )
        rows = assert_error_shape(got, 400, "rows_rejected")["details"]["rows"]
        reasons[lang] = {(r["row"], r["column"]): r["reason"] for r in rows}
    assert set(reasons["id"]) == set(reasons["en"])
    for key, english in reasons["en"].items():
        assert reasons["id"][key] != english


def write_pdf(folder: Path) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    path = folder / "peta.pdf"
    Figure(figsize=(1, 1)).savefig(path, format="pdf")
    return path.read_bytes()


def test_renamed_file_is_refused_naming_both(small_app, client, tmp_path):
    before = dump(small_app)
    got = post(client, write_pdf(tmp_path), "faskes.csv", kind="facilities")
    error = assert_error_shape(got, 400, "bad_request")
    assert error["message"].startswith("faskes.csv: ")
    assert "'.csv'" in error["message"]
    assert "PDF" in error["message"]
    assert error["details"]["file"] == "faskes.csv"
    assert error["details"]["parameter"] == "file"
    html = b"<!DOCTYPE html><html><body>Silakan masuk</body></html>"
    page = post(client, html, "podes.xlsx", kind="indicators")
    error = assert_error_shape(page, 400, "bad_request")
    assert "podes.xlsx" in error["message"]
    assert "HTML" in error["message"]
    assert dump(small_app) == before


def test_traversal_zip_is_refused_naming_the_member(small_app, client):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("desa.shp", b"x")
        z.writestr("../../instance/config.py", b"SECRET_KEY = 'x'")
    before = dump(small_app)
    got = post(client, out.getvalue(), "batas.zip", kind="villages")
    error = assert_error_shape(got, 400, "bad_request")
    assert error["message"].startswith("batas.zip: ")
    assert "'../../instance/config.py'" in error["message"]
    assert dump(small_app) == before


def test_request_over_max_content_length_is_413_in_the_one_shape(small_app, client):
    before = dump(small_app)
    big = b"kode,nama\n" + b"1502012001,Desa Satu\n" * (LIMIT // 20 + 10)
    assert len(big) > LIMIT
    got = post(client, big, "desa.csv", kind="indicators")
    error = assert_error_shape(got, 413, "too_large")
    assert error["message"] == "The request is too large."
    # The register upload has no limit of its own any more: the same one applies.
    register = client.post(
        "/api/workspaces/merangin/programs/import?lang=en",
        data={"file": (io.BytesIO(big), "register.xlsx"), "dry_run": "1"},
        content_type="multipart/form-data",
    )
    assert register.status_code == 413
    assert register.get_json()["error"]["code"] == "too_large"
    assert dump(small_app) == before


def test_request_over_max_content_length_outside_the_api_is_the_error_page(small_app):
    from flask import request

    from geoapp.auth import requires

    @requires("viewer")
    def form_page():
        return str(len(request.form))

    small_app.add_url_rule("/form-page", "form_page", form_page, methods=["POST"])
    client = small_app.test_client()
    small = client.post("/form-page", data={"a": "b"})
    assert small.status_code in (200, 400)  # reached the page (400: no CSRF token)
    got = client.post("/form-page?lang=en", data={"a": "x" * (LIMIT + 10)})
    assert got.status_code == 413
    assert got.content_type.startswith("text/html")
    assert "Request too large" in got.get_data(as_text=True)


def test_request_errors_name_the_field(client):
    csv = b"kode_desa,jumlah_kk\n1502012001,10\n"
    no_kind = post(client, csv, "kk.csv")
    assert assert_error_shape(no_kind, 400, "bad_request")["details"]["parameter"] == "kind"
    raster = post(client, csv, "kk.csv", kind="raster")
    assert assert_error_shape(raster, 400, "bad_request")["details"]["parameter"] == "kind"
    system = post(client, csv, "kk.csv", kind="indicators", code_system="dukcapil")
    assert assert_error_shape(system, 400, "bad_request")["details"]["parameter"] == "code_system"
    flag = post(client, csv, "kk.csv", kind="indicators", dry_run="maybe")
    assert assert_error_shape(flag, 400, "bad_request")["details"]["parameter"] == "dry_run"
    name = post(client, csv, "kk.csv", kind="indicators", name="KK Baru!")
    assert assert_error_shape(name, 400, "bad_request")["details"]["parameter"] == "name"
    no_file = client.post(API, data={"kind": "indicators"}, content_type="multipart/form-data")
    assert assert_error_shape(no_file, 400, "bad_request")["details"]["parameter"] == "file"
    nowhere = client.post(
        "/api/workspaces/tidak-ada/datasets",
        data={"file": (io.BytesIO(csv), "kk.csv"), "kind": "indicators"},
        content_type="multipart/form-data",
    )
    assert_error_shape(nowhere, 404, "not_found")


def test_workspace_page_has_the_upload_form(client):
    html = client.get("/workspaces/merangin?lang=en").get_data(as_text=True)
    assert 'id="upload-form"' in html
    assert f'data-api="{API}"' in html
    assert "js/upload.js" in html
    assert 'name="kind"' in html
    script = (Path(__file__).parents[2] / "geoapp" / "static" / "js" / "upload.js").read_text()
    assert "innerHTML" not in script
    assert "X-CSRFToken" in script


def test_upload_form_in_the_browser(small_app, browser, tmp_path):
    from playwright.sync_api import expect

    from tests.geoapp.browser_support import LocalPage, serving

    bad = tmp_path / "faskes.csv"
    bad.write_text(FACILITIES.replace("DINAS PROVINSI", "<b>DINAS</b>"), encoding="utf-8")
    good = tmp_path / "desa.geojson"
    good.write_bytes(fixture_villages_geojson(small_app, tmp_path))
    with serving(small_app) as url:
        local = LocalPage(browser)
        page = local.page
        page.goto(f"{url}/workspaces/merangin?lang=en")
        page.set_input_files("#upload-file", str(bad))
        page.select_option("#upload-kind", "facilities")
        page.click("#upload-check")
        expect(page.locator("#upload-status")).to_contain_text("2 rows were rejected")
        expect(page.locator("#upload-rows tbody tr")).to_have_count(2)
        expect(page.locator("#upload-rows tbody")).to_contain_text("<b>DINAS</b>")  # as text
        assert page.locator("#upload-rows tbody b").count() == 0
        page.set_input_files("#upload-file", str(good))
        page.select_option("#upload-kind", "villages")
        page.click("#upload-import")
        expect(page.locator("#upload-status")).to_contain_text("merangin/villages@3")
        assert local.problems == []
