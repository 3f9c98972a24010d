"""Coverage, programs and partner pages and their JSON API (Flask test client) on a tiny store
whose figures are computed by hand below, and checked against the core's own."""

from __future__ import annotations

import csv
import io
import json
import re
from html import unescape

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from shapely.geometry import Point, box

SCRIPT_NAME = "<script>alert(1)</script>"
A, B, C, D = "15.02.01.2001", "15.02.01.2002", "15.02.02.2001", "15.02.02.2002"
POPULATION = {A: 1500.0, B: 800.0, C: 1600.0, D: 1100.0}
API = "/api/workspaces/merangin"
PAGES = "/workspaces/merangin"


def seed_store(store, needs_name: str = "needs") -> None:
    """Four villages in two kecamatan, a puskesmas in A (5 km standard: A and B are within it,
    C and D about 22 km away are not), a needs layer, and a register of three programs."""
    from layers.programs import save_register
    from layers.programs.needs_status import record_need_action

    store.init()
    store.create_workspace("merangin", "Kabupaten Merangin (uji)")
    lons = {A: 102.00, B: 102.01, C: 102.20, D: 102.21}
    villages = gpd.GeoDataFrame(
        {
            "kode": [A, B, C, D],
            "name": ["Alfa", "Bravo", "Charlie", "Delta"],
            "kecamatan": ["Satu", "Satu", "Dua", "Dua"],
            "kabupaten": ["Merangin"] * 4,
            "population": [POPULATION[k] for k in (A, B, C, D)],
        },
        geometry=[box(lons[k], -2.0, lons[k] + 0.01, -1.99) for k in (A, B, C, D)],
        crs="EPSG:4326",
    )
    store.put_dataset(
        "merangin", "villages", villages, source_name="v", source_sha256=None, report={}
    )
    facilities = gpd.GeoDataFrame(
        {"facility_id": ["F1"], "name": ["Puskesmas Alfa"], "type": ["puskesmas"], "kode": [A]},
        geometry=[Point(102.005, -1.995)],
        crs="EPSG:4326",
    )
    store.put_dataset(
        "merangin",
        "facilities",
        facilities,
        name="faskes",
        source_name="f",
        source_sha256=None,
        report={},
    )
    needs = gpd.GeoDataFrame(
        {
            "need_id": ["N1", "N2"],
            "category": ["health", "water"],
            "severity": np.array([4, 3], dtype=np.int64),
            "reported_date": pd.to_datetime(["2025-01-10", "2025-01-11"]),
            "status": ["open", "open"],
            "description": ["Posyandu <b>jauh</b>", "Sumur kering"],
            "kode": [A, C],
        },
        geometry=gpd.GeoSeries([Point(102.005, -1.995), Point(102.205, -1.995)]),
        crs="EPSG:4326",
    )
    store.put_dataset(
        "merangin", "needs", needs, name=needs_name, source_name="n", source_sha256=None, report={}
    )
    programs = pd.DataFrame(
        {
            "program_id": ["P-01", "P-02", "P-03"],
            "name": ["Posyandu aktif", "Air bersih", SCRIPT_NAME],
            "sector": ["health", "water_sanitation", "health"],
            "organisation": ["Yayasan Sehat", "PMD", None],
            "donor": ["APBD", "Dana Desa", None],
            "budget": [1_500_000.0, 900_000.0, None],
            "start": pd.to_datetime(["2025-01-01", "2025-03-01", None]),
            "end": pd.to_datetime(["2025-12-31", "2025-06-30", None]),
            "target_group": ["households", "persons", "persons"],
            "status": ["active", "completed", "planned"],
        }
    )
    assignments = pd.DataFrame(
        {
            "program_id": ["P-01", "P-02", "P-02", "P-03"],
            "kode": [A, A, C, B],
            "planned": [100, 50, 300, 40],
            "achieved": [0, 0, 0, 0],
            "unit": ["households", "persons", "persons", "persons"],
            "start": pd.to_datetime(["2025-01-05", None, None, None]),
            "status": ["active", "completed", "completed", "planned"],
        }
    )
    activities = pd.DataFrame(
        {
            "activity_id": ["E1", "E2", "E3"],
            "program_id": ["P-01", "P-01", "P-02"],
            "kode": [A, A, C],
            "date": pd.to_datetime(["2025-03-31", "2025-06-30", "2025-05-15"]),
            "figure": [60.0, 90.0, 300.0],
            "unit": ["households", "households", "persons"],
            "description": ["60 KK", "90 KK", "300 orang"],
        }
    )
    save_register(
        store,
        "merangin",
        {"programs": programs, "assignments": assignments, "activities": activities},
    )
    if needs_name == "needs":
        record_need_action(
            store, "merangin", "N1", "linked", on="2025-02-01", by="ani", program_id="P-01"
        )


def make_app(tmp_path, needs_name: str = "needs"):
    from geoapp import create_app
    from geoapp.store import get_store

    app = create_app(
        {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'jangkau.sqlite'}"},
        instance_path=str(tmp_path / "instance"),
    )
    seed_store(get_store(app), needs_name)
    return app


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The app over the tiny store; read-only tests share it."""
    from geoapp.store import close_store

    app = make_app(tmp_path_factory.mktemp("coverage"))
    yield app
    close_store(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def fresh(tmp_path):
    """A client of its own store, for tests that write."""
    from geoapp.store import close_store

    app = make_app(tmp_path)
    yield app.test_client()
    close_store(app)


def store_of(app):
    from geoapp.store import get_store

    return get_store(app)


def page_json(html: str, element_id: str) -> dict:
    match = re.search(
        rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S
    )
    assert match, element_id
    return json.loads(match.group(1))


def table_rows(html: str, table_id: str) -> list[list[str]]:
    match = re.search(rf'<table class="data big" id="{table_id}">(.*?)</table>', html, re.S)
    assert match, table_id
    body = match.group(1).split("<tbody>", 1)[1]
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
        rows.append([unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells])
    return rows


# --- the coverage API ------------------------------------------------------------------------


def test_coverage_api_equals_the_core_and_the_hand_computed_figures(app, client):
    from layers.coverage import coverage_json, coverage_table

    got = client.get(f"{API}/coverage?as_of=2025-04-30&level=kecamatan,kabupaten&lang=en")
    assert got.status_code == 200
    body = got.get_json()
    core = coverage_json(
        coverage_table(store_of(app), "merangin", as_of="2025-04-30"), ["kecamatan", "kabupaten"]
    )
    assert body["service"] == core["service"]
    assert body["reach"] == core["reach"]
    kec = {r["area_kode"]: r for r in body["service"]["kecamatan"] if r["type"] == "puskesmas"}
    assert kec["15.02.01"]["people"] == pytest.approx(1500 + 800)
    assert kec["15.02.01"]["people_within"] == pytest.approx(1500 + 800)
    assert kec["15.02.01"]["share_within"] == pytest.approx(1.0)
    assert kec["15.02.02"]["people_within"] == pytest.approx(0.0)
    assert kec["15.02.02"]["share_within"] == pytest.approx(0.0)
    (kab,) = body["service"]["kabupaten"]
    assert kab["share_within"] == pytest.approx(2300 / 5000)
    # On 2025-04-30 only P-01's 60 households in A (logged 2025-03-31) have been reached.
    totals = body["reach"]["totals"]
    assert totals["villages_targeted"] == 3  # A, B, C
    assert totals["villages_reached"] == 1
    assert totals["achieved_households"] == 60
    assert totals["achieved_persons"] == 0
    assert body["inputs"]["register"] == 1


def test_coverage_api_reach_changes_with_the_date(client):
    body = client.get(f"{API}/coverage?as_of=2025-07-31&level=none").get_json()
    assert body["service"] == {}
    totals = body["reach"]["totals"]
    assert totals["villages_reached"] == 2  # A and C
    assert totals["achieved_households"] == 60 + 90
    assert totals["achieved_persons"] == 300
    assert body["months"][0] == "2025-01-31"
    assert body["months"][:3] == ["2025-01-31", "2025-02-28", "2025-03-31"]


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        ("2025-02-15", {A: "several", B: "planned", C: "planned"}),
        ("2025-04-30", {A: "several", B: "planned", C: "active"}),
        ("2025-08-31", {A: "several", B: "planned", C: "completed"}),
    ],
)
def test_village_program_status_on_a_date(client, as_of, expected):
    body = client.get(f"{API}/coverage?as_of={as_of}&level=none").get_json()
    got = {k: v["status"] for k, v in body["village_programs"].items()}
    assert got == expected  # D has no program
    assert body["village_programs"][A]["programs"] == ["P-01", "P-02"]


def test_coverage_api_errors_have_the_one_shape(client):
    bad = client.get(f"{API}/coverage?as_of=31-12-2025&lang=en")
    assert bad.status_code == 400
    error = bad.get_json()["error"]
    assert error["code"] == "bad_request"
    assert error["details"]["parameter"] == "as_of"
    assert "YYYY-MM-DD" in error["message"]
    level = client.get(f"{API}/coverage?level=desa").get_json()["error"]
    assert level["details"]["parameter"] == "level"
    missing = client.get("/api/workspaces/nope/coverage")
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "not_found"
    freq = client.get(f"{API}/coverage/timeseries?freq=W")
    assert freq.status_code == 400
    assert freq.get_json()["error"]["code"] == "bad_request"


def test_timeseries_api_equals_reach_timeseries(app, client):
    from layers.coverage import reach_timeseries
    from layers.programs import Register

    got = client.get(f"{API}/coverage/timeseries?freq=M&start=2025-01-01&end=2025-07-31")
    assert got.status_code == 200
    rows = got.get_json()["rows"]
    store = store_of(app)
    core = reach_timeseries(
        Register.load(store, "merangin"),
        store.read_dataset("merangin", "villages", geometry=False),
        freq="M",
        start="2025-01-01",
        end="2025-07-31",
    )
    assert len(rows) == len(core)
    total = {r["date"]: r for r in rows if r["level"] == "all"}
    assert total["2025-02-28"]["achieved_households"] == 0
    assert total["2025-03-31"]["achieved_households"] == 60
    assert total["2025-06-30"]["achieved_households"] == 150
    assert total["2025-06-30"]["achieved_persons"] == 300
    assert total["2025-07-31"]["villages_reached"] == 2
    quarters = client.get(f"{API}/coverage/timeseries?freq=Q&start=2025-01-01&end=2025-12-31")
    dates = sorted({r["date"] for r in quarters.get_json()["rows"]})
    assert dates == ["2025-03-31", "2025-06-30", "2025-09-30", "2025-12-31"]


def test_village_needs_you_said_we_did(app, client):
    from layers.programs.needs_status import you_said_we_did

    got = client.get(f"{API}/villages/{A}/needs")
    assert got.status_code == 200
    body = got.get_json()
    assert body == json.loads(json.dumps(you_said_we_did(store_of(app), "merangin", A)))
    (need,) = body["needs"]
    assert need["need_id"] == "N1"
    assert need["status"] == "in_progress"  # linked to P-01
    ids = [p["program_id"] for p in body["programs"]]
    assert ids == ["P-01", "P-02"]
    assert body["programs"][0]["addresses"] == ["N1"]
    unknown = client.get(f"{API}/villages/15.02.09.9999/needs")
    assert unknown.status_code == 400
    assert unknown.get_json()["error"]["code"] == "bad_request"


def test_village_needs_from_needs_layers_of_other_names(tmp_path):
    """A workspace whose needs layer is not called 'needs' (like the demo) still answers."""
    from geoapp.store import close_store

    app = make_app(tmp_path, needs_name="needs_kobo")
    try:
        body = app.test_client().get(f"{API}/villages/{C}/needs").get_json()
    finally:
        close_store(app)
    assert [n["need_id"] for n in body["needs"]] == ["N2"]
    assert body["needs"][0]["status"] == "open"
    assert body["needs"][0]["layer"] == "needs_kobo"
    assert [p["program_id"] for p in body["programs"]] == ["P-02"]


# --- the programs API --------------------------------------------------------------------


def test_programs_api_lists_the_register(client):
    body = client.get(f"{API}/programs?as_of=2025-07-31").get_json()
    assert body["version"] == 1
    rows = {p["program_id"]: p for p in body["programs"]}
    assert rows["P-02"]["villages_planned"] == 2
    assert rows["P-02"]["villages_reached"] == 1  # C through the log; A never
    assert rows["P-02"]["planned"] == 350
    assert rows["P-01"]["villages_reached"] == 1
    assert rows["P-03"]["name"] == SCRIPT_NAME
    assert rows["P-01"]["links"]["html"] == f"{PAGES}/programs/P-01"


def test_program_api_and_not_found(client):
    body = client.get(f"{API}/programs/P-01?as_of=2025-04-30").get_json()
    assert body["program"]["name"] == "Posyandu aktif"
    assert [a["kode"] for a in body["assignments"]] == [A]
    assert [a["figure"] for a in body["activities"]] == [60.0, 90.0]
    assert body["reach"]["achieved_households"] == 60
    missing = client.get(f"{API}/programs/P-99?lang=en")
    assert missing.status_code == 404
    error = missing.get_json()["error"]
    assert error["code"] == "not_found"
    assert "P-99" in error["message"]
    bad = client.get(f"{API}/programs?version=abc")
    assert bad.status_code == 400
    assert bad.get_json()["error"]["details"]["parameter"] == "version"


def register_xlsx(bad: bool = False) -> bytes:
    wb = openpyxl.Workbook()
    sheet = wb.active
    sheet.title = "programs"
    sheet.append(["program_id", "name", "sector", "start", "end", "status"])
    sheet.append(["Q-01", "Posyandu", "kesehatan", "2025-01-01", "2025-12-31", "aktif"])
    sheet.append(["Q-02", "Sumur", "air bersih", "2025-05-01", "2025-01-01" if bad else "", ""])
    assign = wb.create_sheet("assignments")
    assign.append(["program_id", "kode", "planned"])
    assign.append(["Q-01", A, "10"])
    assign.append(["Q-01", "15.02.09.2001" if bad else B, "5"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def upload(client, body: bytes, dry_run: str, name: str = "register.xlsx"):
    return client.post(
        f"{API}/programs/import?lang=en",
        data={"file": (io.BytesIO(body), name), "dry_run": dry_run, "user": "ani"},
        content_type="multipart/form-data",
    )


def test_import_names_every_rejected_row_and_writes_nothing(fresh):
    got = upload(fresh, register_xlsx(bad=True), "0")
    assert got.status_code == 400
    error = got.get_json()["error"]
    assert error["code"] == "rows_rejected"
    problems = {(p["sheet"], p["row"], p["column"]): p for p in error["details"]["problems"]}
    assert set(problems) == {("programs", 3, "end"), ("assignments", 3, "kode")}
    assert "15.02.09.2001" in problems[("assignments", 3, "kode")]["reason"]
    assert "2 problems" in error["message"]
    assert fresh.get(f"{API}/programs").get_json()["version"] == 1


def test_import_dry_run_then_import(fresh):
    checked = upload(fresh, register_xlsx(), "1")
    assert checked.status_code == 200
    body = checked.get_json()
    assert body["version"] is None
    assert body["dry_run"] is True
    assert body["counts"] == {"programs": 2, "assignments": 2, "activities": 0}
    assert fresh.get(f"{API}/programs").get_json()["version"] == 1
    done = upload(fresh, register_xlsx(), "0")
    assert done.status_code == 201
    assert done.get_json()["version"] == 2
    listed = fresh.get(f"{API}/programs").get_json()
    assert [p["program_id"] for p in listed["programs"]] == ["Q-01", "Q-02"]


def test_import_request_errors(fresh):
    no_flag = upload(fresh, register_xlsx(), "")
    assert no_flag.status_code == 400
    assert no_flag.get_json()["error"]["details"]["parameter"] == "dry_run"
    wrong = upload(fresh, b"hello", "1", name="register.pdf")
    assert wrong.status_code == 400
    assert wrong.get_json()["error"]["details"]["parameter"] == "file"
    no_file = fresh.post(f"{API}/programs/import", data={"dry_run": "1"})
    assert no_file.status_code == 400
    assert no_file.get_json()["error"]["details"]["parameter"] == "file"
    unreadable = upload(fresh, b"not a workbook", "1")
    assert unreadable.status_code == 400
    assert set(unreadable.get_json()["error"]) == {"status", "code", "message", "details"}


# --- pages -------------------------------------------------------------------------------


def test_coverage_page_shows_the_core_figures(app, client):
    from layers.coverage import coverage_table

    got = client.get(f"{PAGES}/coverage?as_of=2025-04-30&lang=en")
    assert got.status_code == 200
    html = got.get_data(as_text=True)
    core = coverage_table(store_of(app), "merangin", as_of="2025-04-30")
    kec = core["service"]["kecamatan"]
    rows = table_rows(html, "service-kecamatan")
    assert [r[0] for r in rows] == list(kec["area_kode"])
    assert rows[0][3:6] == ["2,300", "2,300", "100.0 %"]
    assert rows[1][3:6] == ["2,700", "0", "0.0 %"]
    # One puskesmas for 2,300 people; the target is one per 30,000.
    assert rows[0][7:12] == ["yes", "1", f"{1000 / 2300:.3f}", f"{1000 / 30000:.3f}", "yes"]
    assert rows[1][7:12] == ["no", "0", "0.000", "0.033", "no"]
    assert 'id="h-service">46.0 %</dd>' in html  # 2300 of 5000 people
    assert 'data-key="villages_reached" data-kind="int">1</dd>' in html
    assert 'data-key="achieved_households" data-kind="int">60</dd>' in html
    program_rows = {r[0]: r for r in table_rows(html, "reach-program")}
    assert program_rows["P-01"][6] == "1"  # villages reached
    assert program_rows["P-02"][6] == "0"
    data = page_json(html, "coverage-data")
    assert data["as_of"] == "2025-04-30"
    assert data["village_shares"][A]["share"] == pytest.approx(1.0)
    assert data["village_shares"][C]["class"] == 1
    assert data["village_shares"][A]["class"] == 5
    assert data["village_programs"][C]["status"] == "active"
    assert data["months"][3] == "2025-04-30"
    slider = re.search(r'<input type="range" id="timeline"[^>]*>', html).group(0)
    assert f'max="{len(data["months"]) - 1}"' in slider
    assert 'value="3"' in slider
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="chart-kecamatan"' in html
    bars = dict(re.findall(r'data-kode="([\d.]+)" data-share="([\d.]+)"', html))
    assert float(bars["15.02.01"]) == pytest.approx(1.0)
    assert float(bars["15.02.02"]) == pytest.approx(0.0)
    assert 'id="chart-achieved_households"' in html
    assert 'id="chart-achieved_persons"' in html
    assert "cdn" not in html.lower()
    assert "https://" not in html


def test_coverage_page_escapes_program_names(client):
    html = client.get(f"{PAGES}/coverage?as_of=2025-04-30").get_data(as_text=True)
    assert SCRIPT_NAME not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_coverage_page_parameters(client):
    assert client.get(f"{PAGES}/coverage?type=hospital").status_code == 400
    assert client.get(f"{PAGES}/coverage?colour=rainbow").status_code == 400
    assert client.get(f"{PAGES}/coverage?as_of=yesterday").status_code == 400
    assert client.get("/workspaces/nope/coverage").status_code == 404
    html = client.get(f"{PAGES}/coverage?colour=programs").get_data(as_text=True)
    assert page_json(html, "coverage-data")["colour"] == "programs"
    assert re.search(r'id="legend-coverage"\s+hidden', html)


def test_coverage_downloads_keep_codes_as_text(app, client):
    from layers.coverage import coverage_table

    core = coverage_table(store_of(app), "merangin", as_of="2025-04-30")["service"]["kecamatan"]
    got = client.get(f"{PAGES}/coverage/export.csv?level=kecamatan&as_of=2025-04-30")
    assert got.status_code == 200
    assert got.headers["Content-Type"].startswith("text/csv")
    assert got.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(got.data.decode("utf-8-sig"))))
    assert [r["area_kode"] for r in rows] == list(core["area_kode"])
    assert [float(r["people_within"]) for r in rows] == pytest.approx(list(core["people_within"]))
    xlsx = client.get(f"{PAGES}/coverage/export.xlsx?level=village")
    book = openpyxl.load_workbook(io.BytesIO(xlsx.data))
    sheet = book["coverage"]
    header = [c.value for c in sheet[1]]
    codes = [row[header.index("area_kode")] for row in sheet.iter_rows(min_row=2)]
    assert {c.value for c in codes} == {A, B, C, D}
    assert all(c.data_type == "s" for c in codes)
    method = {r[0].value: r[1].value for r in book["method"].iter_rows(min_row=2)}
    assert "5000" in method.values()
    assert client.get(f"{PAGES}/coverage/export.csv?level=desa").status_code == 400


def test_partner_page_is_read_only_with_its_method(app, client):
    got = client.get(f"{PAGES}/partner?as_of=2025-04-30&lang=en")
    assert got.status_code == 200
    html = got.get_data(as_text=True)
    main = html.split("<main>", 1)[1].split("</main>", 1)[0]
    for tag in ("<form", "<input", "<button", "<select", "<textarea", 'method="post"'):
        assert tag not in main.lower(), tag
    assert "contenteditable" not in main
    kab = table_rows(html, "partner-kabupaten")
    assert kab[0][0] == "puskesmas"
    assert kab[0][4:7] == ["5,000", "2,300", "46.0 %"]
    kec = table_rows(html, "partner-kecamatan")
    assert [r[1] for r in kec] == ["15.02.01", "15.02.02"]
    method = table_rows(html, "method-table")
    standard = [r for r in method if "standard distance of puskesmas" in r[0]]
    assert standard
    assert standard[0][1] == "5000"
    assert any("target share" in r[0] and r[1] == "80 %" for r in method)
    villages = store_of(app).dataset_info("merangin", "villages").ref
    assert [villages, ""] in [r[1:] for r in method]
    assert "export.xlsx?level=kecamatan" in html
    assert "programs/export.xlsx" in html


def test_programs_page_lists_the_register(client):
    html = client.get(f"{PAGES}/programs?as_of=2025-07-31&lang=en").get_data(as_text=True)
    rows = {r[0]: r for r in table_rows(html, "programs")}
    assert set(rows) == {"P-01", "P-02", "P-03"}
    assert rows["P-01"][1:5] == ["Posyandu aktif", "Yayasan Sehat", "APBD", "Health"]
    assert rows["P-01"][5] == "1,500,000"
    assert rows["P-02"][9:13] == ["2", "1", "350", "0"]
    assert SCRIPT_NAME not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'id="upload-form"' in html
    assert 'data-api="/api/workspaces/merangin/programs/import"' in html
    assert f'href="{PAGES}/programs/export.xlsx"' in html


def test_program_page_and_register_download(client):
    html = client.get(f"{PAGES}/programs/P-01?as_of=2025-04-30&lang=en").get_data(as_text=True)
    assert [r[0] for r in table_rows(html, "assignments")] == [A]
    assert [r[3] for r in table_rows(html, "activities")] == ["60", "90"]
    assert client.get(f"{PAGES}/programs/P-03").status_code == 200
    assert SCRIPT_NAME not in client.get(f"{PAGES}/programs/P-03").get_data(as_text=True)
    assert client.get(f"{PAGES}/programs/P-99").status_code == 404
    xlsx = client.get(f"{PAGES}/programs/export.xlsx")
    assert xlsx.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(xlsx.data))
    ids = [r[0].value for r in book["programs"].iter_rows(min_row=2)]
    assert ids == ["P-01", "P-02", "P-03"]


@pytest.mark.parametrize("path", ["", "/map", "/scenarios", "/coverage", "/programs", "/partner"])
def test_navigation_links(client, path):
    got = client.get(f"{PAGES}{path}")
    if got.status_code != 200:
        pytest.skip(f"{path or 'workspace'} page needs data this store lacks")
    html = got.get_data(as_text=True)
    for target in ("coverage", "programs", "partner"):
        if path == f"/{target}":
            continue
        assert f'href="{PAGES}/{target}"' in html, target


def test_pages_of_a_workspace_without_facilities_or_register(tmp_path):
    from geoapp import create_app
    from geoapp.store import close_store, get_store

    app = create_app(
        {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'j.sqlite'}"},
        instance_path=str(tmp_path / "instance"),
    )
    store = get_store(app)
    store.init()
    store.create_workspace("baru", "Baru")
    villages = gpd.GeoDataFrame(
        {"kode": [A], "name": ["Alfa"]}, geometry=[box(102, -2, 102.01, -1.99)], crs="EPSG:4326"
    )
    store.put_dataset("baru", "villages", villages, source_name="v", source_sha256=None, report={})
    client = app.test_client()
    try:
        page = client.get("/workspaces/baru/coverage?lang=en")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "No facilities layer: service coverage cannot be computed." in html
        assert table_rows(html, "reach-program") == []
        body = client.get("/api/workspaces/baru/coverage").get_json()
        assert body["village_programs"] == {}
        assert body["service"] is None
        assert body["reach"]["totals"]["villages_targeted"] == 0
        assert client.get("/workspaces/baru/partner").status_code == 200
        programs = client.get("/api/workspaces/baru/programs").get_json()
        assert programs["version"] == 0
        assert programs["programs"] == []
    finally:
        close_store(app)
