"""Editing the register and the needs lifecycle from the web, and before/after, through the
Flask test client on the tiny store of test_coverage_views: every answer is read back from
the store, conflicts name the other person's change, figures are computed by hand."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from tests.geoapp.auth_support import TEST_USER
from tests.geoapp.test_coverage_views import (
    API,
    PAGES,
    SCRIPT_NAME,
    A,
    B,
    C,
    D,
    make_app,
    store_of,
    table_rows,
)

#: Two score runs of profile "akses": score and one indicator per village (by hand below).
RUNS = {
    1: {"score": [40.0, 50.0, 70.0, 90.0], "distance_km": [2.0, 3.0, 9.0, 11.0]},
    2: {"score": [30.0, 35.0, 66.0, 88.0], "distance_km": [1.0, 2.0, 9.0, 10.0]},
}


def add_score_runs(store) -> None:
    """Two saved runs of profile ``akses`` as ``geoapp score`` saves them (table + record)."""
    for run, values in RUNS.items():
        table = pd.DataFrame({"kode": [A, B, C, D], "rank": [4, 3, 2, 1], **values})
        saved = store.put_dataset(
            "merangin",
            "derived",
            table,
            name="score-akses",
            source_name="score run of profile akses",
            source_sha256=None,
            report={},
        )
        record = store.put_record("merangin", "score_runs", "akses", {"table": saved.ref})
        assert record.version == run


@pytest.fixture
def app(tmp_path):
    from geoapp.store import close_store

    app = make_app(tmp_path)
    add_score_runs(store_of(app))
    yield app
    close_store(app)


@pytest.fixture
def client(app):
    return app.test_client()


def register(app):
    from layers.programs import Register

    return Register.load(store_of(app), "merangin")


def error_of(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"status", "code", "message", "details"}
    assert (error["status"], error["code"]) == (status, code)
    return error


NEW = {
    "program_id": "P-10",
    "name": "Sanitasi sekolah",
    "sector": "water_sanitation",
    "organisation": "Yayasan Air",
    "donor": "APBD",
    "budget": 2_500_000,
    "start": "2025-02-01",
    "end": "2025-11-30",
    "target_group": "persons",
    "status": "active",
    "note": "baru",
}


# --- new program, changed program ----------------------------------------------------------


def test_new_program_is_saved_as_sent(app, client):
    got = client.post(f"{API}/programs?lang=en", json={**NEW, "base_version": 1, "user": "ani"})
    assert got.status_code == 201, got.get_data(as_text=True)
    body = got.get_json()
    assert body["version"] == 2
    assert body["base_version"] == 1
    assert body["rebased"] is False
    assert body["counts"]["programs"] == 4
    assert "saved as version 2 of the register" in body["messages"]
    assert body["links"]["html"] == f"{PAGES}/programs/P-10"
    assert got.headers["Location"] == f"{API}/programs/P-10"
    saved = register(app).program("P-10")["program"]
    assert saved == {**NEW, "budget": 2_500_000.0}
    info = store_of(app).dataset_info("merangin", "programs")
    # the signed-in account, whatever the body's "user" said
    assert (info.version, info.created_by) == (2, TEST_USER)


@pytest.mark.parametrize(
    ("change", "parameter"),
    [
        ({"sector": "space"}, "sector"),
        ({"start": "kemarin"}, "start"),
        ({"budget": -5}, "budget"),
        ({"colour": "red"}, "colour"),
        ({"base_version": None}, "base_version"),
        ({"base_version": "satu"}, "base_version"),
        ({"base_version": 9}, "base_version"),
        ({"program_id": "P-01"}, "program_id"),  # already exists
    ],
)
def test_new_program_refused_names_the_field(app, client, change, parameter):
    body = {**NEW, "base_version": 1, **change}
    error = error_of(client.post(f"{API}/programs?lang=en", json=body), 400, "bad_request")
    assert error["details"]["parameter"] == parameter
    assert register(app).version == 1  # nothing written


def test_edit_request_errors(client):
    error = error_of(client.post(f"{API}/programs", data="not json"), 400, "bad_request")
    assert error["details"]["parameter"] == "body"
    nope = client.post("/api/workspaces/nope/programs", json={**NEW, "base_version": 0})
    error_of(nope, 404, "not_found")
    error_of(client.patch(f"{API}/programs/P-99", json={"name": "x", "base_version": 1}),
             404, "not_found")  # fmt: skip
    error = error_of(client.patch(f"{API}/programs/P-01", json={"base_version": 1}), 400,
                     "bad_request")  # fmt: skip
    assert error["details"]["parameter"] == "body"


def test_change_a_program_and_conflict_with_the_others_change(app, client):
    first = client.patch(
        f"{API}/programs/P-01", json={"status": "completed", "base_version": 1, "user": "ani"}
    )
    assert first.status_code == 200, first.get_data(as_text=True)
    assert first.get_json()["version"] == 2
    assert register(app).program("P-01")["program"]["status"] == "completed"
    # Budi's page still shows version 1: P-01 changed since, so his edit is refused ...
    late = client.patch(
        f"{API}/programs/P-01?lang=en", json={"budget": 9, "base_version": 1, "user": "budi"}
    )
    error = error_of(late, 409, "conflict")
    assert "P-01" in error["message"]
    assert error["details"]["latest_version"] == 2
    assert error["details"]["table"] == "programs"
    assert error["details"]["theirs"]["status"] == "completed"
    assert error["details"]["theirs"]["budget"] == 1_500_000.0
    assert register(app).program("P-01")["program"]["budget"] == 1_500_000.0
    # ... while his change to another program is applied on top of version 2.
    other = client.patch(f"{API}/programs/P-02", json={"donor": "BAZNAS", "base_version": 1})
    assert other.status_code == 200
    assert other.get_json()["rebased"] is True
    reg = register(app)
    assert reg.version == 3
    assert reg.program("P-02")["program"]["donor"] == "BAZNAS"
    assert reg.program("P-01")["program"]["status"] == "completed"


# --- assignments ---------------------------------------------------------------------------


def test_assign_villages_by_code(app, client):
    got = client.post(
        f"{API}/programs/P-03/assignments?lang=en",
        json={"kode": [C, D, B], "planned": 25, "base_version": 1},
    )
    assert got.status_code == 201, got.get_data(as_text=True)
    body = got.get_json()
    assert body["version"] == 2
    assert body["added"] == 2  # B was already assigned to P-03
    assert any("1 villages were already assigned to P-03" in m for m in body["messages"])
    a = register(app).program("P-03")["assignments"].set_index("kode")
    assert sorted(a.index) == [B, C, D]
    assert int(a.loc[C, "planned"]) == 25
    assert a.loc[D, "status"] == "planned"
    bad = client.post(
        f"{API}/programs/P-03/assignments", json={"kode": ["15.02.09.9999"], "base_version": 2}
    )
    assert error_of(bad, 400, "bad_request")["details"]["parameter"] == "kode"
    both = client.post(
        f"{API}/programs/P-03/assignments",
        json={"kode": [A], "scenario": "x", "base_version": 2},
    )
    error_of(both, 400, "bad_request")
    nothing = client.post(f"{API}/programs/P-03/assignments", json={"base_version": 2})
    assert error_of(nothing, 400, "bad_request")["details"]["parameter"] == "scenario"
    missing = client.post(f"{API}/programs/P-77/assignments", json={"kode": [A], "base_version": 2})
    error_of(missing, 404, "not_found")
    assert register(app).version == 2


def test_assign_a_saved_scenario_s_villages(app, client):
    store = store_of(app)
    store.put_record("merangin", "scenarios", "puskesmas-2025",
                     {"name": "puskesmas-2025", "summary": {"villages": [B]}})  # fmt: skip
    store.put_record("merangin", "scenarios", "puskesmas-2025",
                     {"name": "puskesmas-2025", "summary": {"villages": [C, D]}})  # fmt: skip
    got = client.post(
        f"{API}/programs/P-01/assignments",
        json={"scenario": "puskesmas-2025", "version": 2, "planned": 10, "base_version": 1},
    )
    assert got.status_code == 201, got.get_data(as_text=True)
    body = got.get_json()
    assert (body["added"], body["scenario"], body["scenario_version"]) == (2, "puskesmas-2025", 2)
    a = register(app).program("P-01")["assignments"].set_index("kode")
    assert sorted(a.index) == [A, C, D]
    assert set(a.loc[[C, D], "scenario"]) == {"puskesmas-2025"}
    assert list(a.loc[[C, D], "unit"]) == ["households", "households"]  # P-01's target group
    older = client.post(
        f"{API}/programs/P-02/assignments",
        json={"scenario": "puskesmas-2025", "version": 1, "base_version": 2},
    )
    assert older.status_code == 201
    assert [k for k in register(app).program("P-02")["assignments"]["kode"]] == [A, C, B]
    unknown = client.post(
        f"{API}/programs/P-01/assignments", json={"scenario": "tidak-ada", "base_version": 3}
    )
    error_of(unknown, 404, "not_found")


def test_two_people_assign_the_same_village(app, client):
    first = client.post(f"{API}/programs/P-03/assignments", json={"kode": [D], "base_version": 1})
    assert first.status_code == 201
    second = client.post(
        f"{API}/programs/P-03/assignments?lang=en", json={"kode": [D], "base_version": 1}
    )
    error = error_of(second, 409, "conflict")
    assert error["details"]["key"] == f"P-03|{D}"
    assert error["details"]["theirs"]["kode"] == D
    assert error["details"]["latest_version"] == 2
    assert register(app).version == 2


# --- activities ----------------------------------------------------------------------------


def test_log_an_activity(app, client):
    entry = {"date": "2025-07-15", "figure": 45, "unit": "households", "kode": A,
             "description": "45 KK <b>dikunjungi</b>"}  # fmt: skip
    got = client.post(f"{API}/programs/P-01/activities", json={**entry, "base_version": 1})
    assert got.status_code == 201, got.get_data(as_text=True)
    body = got.get_json()
    assert body["version"] == 2
    log = register(app).program("P-01")["activities"]
    row = log.loc[log["activity_id"] == body["activity_id"]].iloc[0]
    assert row["date"] == pd.Timestamp("2025-07-15")
    assert row["figure"] == 45.0
    assert (row["unit"], row["kode"], row["description"]) == (
        "households", A, entry["description"]
    )  # fmt: skip
    # The coverage API counts it on its date: 60 + 90 + 45 households by the end of July.
    totals = client.get(f"{API}/coverage?as_of=2025-07-31&level=none").get_json()["reach"]
    assert totals["totals"]["achieved_households"] == 60 + 90 + 45
    bad = client.post(
        f"{API}/programs/P-01/activities", json={**entry, "date": "31/31/2025", "base_version": 2}
    )
    assert error_of(bad, 400, "bad_request")["details"]["parameter"] == "date"
    no_figure = {k: v for k, v in entry.items() if k != "figure"}
    bad = client.post(f"{API}/programs/P-01/activities", json={**no_figure, "base_version": 2})
    assert error_of(bad, 400, "bad_request")["details"]["parameter"] == "figure"
    error_of(client.post(f"{API}/programs/P-99/activities", json={**entry, "base_version": 2}),
             404, "not_found")  # fmt: skip


# --- needs ---------------------------------------------------------------------------------


def test_need_steps_and_conflict(app, client):
    from layers.programs.needs_status import current_status, lifecycle_log

    store = store_of(app)
    assert len(lifecycle_log(store, "merangin")) == 1  # the seed linked N1 to P-01
    got = client.post(
        f"{API}/needs/N2/verify?lang=en",
        json={"on": "2025-03-01", "by": "ani", "note": "kunjungan", "base_version": 1},
    )
    assert got.status_code == 201, got.get_data(as_text=True)
    body = got.get_json()
    assert (body["status"], body["version"], body["action"]) == ("verified", 2, "verified")
    assert "need N2 verified on 2025-03-01" in body["message"]
    last = lifecycle_log(store, "merangin").iloc[-1]
    assert (last["layer"], last["need_id"], last["action"], last["by"], last["note"]) == (
        "needs", "N2", "verified", "ani", "kunjungan"
    )  # fmt: skip
    assert last["date"] == pd.Timestamp("2025-03-01")
    # Someone still on version 1 closes N2: refused with the step they did not see.
    late = client.post(
        f"{API}/needs/N2/close?lang=en", json={"on": "2025-03-02", "by": "budi", "base_version": 1}
    )
    error = error_of(late, 409, "conflict")
    assert error["details"]["latest_version"] == 2
    assert [s["action"] for s in error["details"]["theirs"]] == ["verified"]
    assert error["details"]["theirs"][0]["by"] == "ani"
    # Another need from the same old page is fine.
    ok = client.post(f"{API}/needs/N1/close", json={"on": "2025-03-02", "by": "budi",
                                                    "base_version": 1})  # fmt: skip
    assert ok.status_code == 201
    link = client.post(f"{API}/needs/N2/link", json={"on": "2025-03-03", "by": "ani",
                                                     "base_version": 3})  # fmt: skip
    assert error_of(link, 400, "bad_request")["details"]["parameter"] == "program_id"
    linked = client.post(
        f"{API}/needs/N2/link",
        json={"on": "2025-03-03", "by": "ani", "program_id": "P-02", "base_version": 3},
    )
    assert linked.status_code == 201
    status = current_status(store, "merangin").set_index("need_id")
    assert status.loc["N2", "status"] == "in_progress"
    assert status.loc["N2", "linked_programs"] == "P-02"
    assert status.loc["N1", "status"] == "closed"
    no_date = client.post(f"{API}/needs/N2/close", json={"by": "ani", "base_version": 4})
    assert error_of(no_date, 400, "bad_request")["details"]["parameter"] == "on"
    unknown = client.post(f"{API}/needs/N9/verify", json={"on": "2025-03-03", "by": "a",
                                                          "base_version": 4})  # fmt: skip
    assert error_of(unknown, 400, "bad_request")["details"]["parameter"] == "need_id"
    assert client.post(f"{API}/needs/N2/reopen", json={}).status_code in (404, 405)


def test_need_of_two_layers_needs_the_layer(app, client):
    import geopandas as gpd
    from shapely.geometry import Point

    store = store_of(app)
    other = gpd.GeoDataFrame(
        {
            "need_id": ["N2"],
            "category": ["road"],
            "severity": [2],
            "reported_date": pd.to_datetime(["2025-02-01"]),
            "status": ["open"],
            "kode": [D],
        },
        geometry=[Point(102.215, -1.995)],
        crs="EPSG:4326",
    )
    store.put_dataset("merangin", "needs", other, name="needs_musrenbang", source_name="m",
                      source_sha256=None, report={})  # fmt: skip
    which = client.post(f"{API}/needs/N2/verify?lang=en",
                        json={"on": "2025-04-01", "by": "ani", "base_version": 1})  # fmt: skip
    error = error_of(which, 400, "bad_request")
    assert error["details"]["parameter"] == "layer"
    assert "needs_musrenbang" in error["message"]
    done = client.post(f"{API}/needs/N2/verify", json={"on": "2025-04-01", "by": "ani",
                                                       "layer": "needs_musrenbang",
                                                       "base_version": 1})  # fmt: skip
    assert done.status_code == 201
    needs = client.get(f"{API}/villages/{D}/needs").get_json()["needs"]
    assert [(n["layer"], n["need_id"], n["status"]) for n in needs] == [
        ("needs_musrenbang", "N2", "verified")
    ]
    village_c = client.get(f"{API}/villages/{C}/needs").get_json()["needs"]
    assert [(n["layer"], n["status"]) for n in village_c] == [("needs", "open")]


# --- before and after ------------------------------------------------------------------------


def test_change_api_equals_before_after_and_the_hand_computed_figures(app, client):
    from layers.coverage import before_after
    from layers.score_run import load_run

    # P-02's villages: A and C (completed). Others: B and D.
    got = client.get(f"{API}/programs/P-02/change?profile=akses&baseline=1&followup=2")
    assert got.status_code == 200, got.get_data(as_text=True)
    body = got.get_json()
    assert body["selected"] == [A, C]
    assert (body["baseline"], body["followup"]) == (1, 2)
    assert body["baseline_ref"] == "merangin/score_runs/akses@1"
    rows = {r["measure"]: r for r in body["rows"]}
    assert list(rows) == ["score", "distance_km"]  # rank is not a measure
    score = rows["score"]
    assert score["selected_villages"] == 2
    assert score["selected_before"] == pytest.approx((40 + 70) / 2)
    assert score["selected_after"] == pytest.approx((30 + 66) / 2)
    assert score["other_before"] == pytest.approx((50 + 90) / 2)
    assert score["other_after"] == pytest.approx((35 + 88) / 2)
    assert score["difference_in_differences"] == pytest.approx((48 - 55) - (61.5 - 70))
    assert rows["distance_km"]["selected_change"] == pytest.approx((1 + 9) / 2 - (2 + 9) / 2)
    store = store_of(app)
    core = before_after(
        load_run(store, "merangin", "akses", 1), load_run(store, "merangin", "akses", 2), [A, C]
    )
    assert body["rows"] == core.to_dict("records")
    # The follow-up is the latest run by default.
    assert (
        client.get(f"{API}/programs/P-02/change?profile=akses&baseline=1").get_json()["rows"]
        == body["rows"]
    )


def test_change_api_errors(client):
    base = f"{API}/programs/P-02/change"
    error = error_of(client.get(f"{base}?profile=akses"), 400, "bad_request")
    assert error["details"]["parameter"] == "baseline"
    error = error_of(client.get(f"{base}?profile=akses&baseline=7"), 400, "bad_request")
    assert error["details"]["parameter"] == "baseline"
    error = error_of(client.get(f"{base}?profile=akses&baseline=2"), 400, "bad_request")
    assert error["details"]["parameter"] == "followup"
    error_of(client.get(f"{base}?profile=lain&baseline=1"), 404, "not_found")
    error = error_of(client.get(f"{base}?baseline=1"), 400, "bad_request")
    assert error["details"]["parameter"] == "profile"
    error_of(client.get(f"{API}/programs/P-99/change?profile=akses&baseline=1"), 404, "not_found")


# --- pages -----------------------------------------------------------------------------------


def test_a_program_named_script_is_shown_as_text(app, client):
    got = client.post(
        f"{API}/programs",
        json={"program_id": "X-1", "name": SCRIPT_NAME, "sector": "health", "base_version": 1,
              "organisation": "<b>org</b>"},
    )  # fmt: skip
    assert got.status_code == 201
    assert register(app).program("X-1")["program"]["name"] == SCRIPT_NAME
    for path in ("/programs?lang=en", "/programs/X-1?lang=en"):
        html = client.get(f"{PAGES}{path}").get_data(as_text=True)
        assert SCRIPT_NAME not in html
        assert "<b>org</b>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    rows = {r[0]: r for r in table_rows(client.get(f"{PAGES}/programs").get_data(as_text=True),
                                        "programs")}  # fmt: skip
    assert rows["X-1"][1] == SCRIPT_NAME


def test_programs_page_has_the_new_program_form(client):
    html = client.get(f"{PAGES}/programs?lang=en").get_data(as_text=True)
    form = re.search(r'<form id="new-program-form"[^>]*>', html).group(0)
    assert f'data-api="{API}/programs"' in form
    assert 'data-base-version="1"' in form
    for name in ("program_id", "name", "sector", "organisation", "donor", "budget", "start",
                 "end", "target_group", "status"):  # fmt: skip
        assert f'name="{name}"' in html, name


def test_program_page_has_the_forms_and_the_runs(app, client):
    store_of(app).put_record(
        "merangin",
        "scenarios",
        "desa-prioritas",
        {
            "name": "desa-prioritas",
            "title": "Desa <i>prioritas</i>",
            "kind": "placement",
            "summary": {"villages": [D], "villages_selected": 1},
        },
    )
    html = client.get(f"{PAGES}/programs/P-01?lang=en").get_data(as_text=True)
    assert f'data-api="{API}/programs/P-01/activities"' in html
    assert f'data-api="{API}/programs/P-01/assignments"' in html
    assert f'data-api="{API}/programs/P-01/change"' in html
    assert '<option value="desa-prioritas" data-version="1">' in html
    assert "Desa &lt;i&gt;prioritas&lt;/i&gt;" in html
    match = re.search(r'<script type="application/json" id="program-data">(.*?)</script>', html)
    import json

    data = json.loads(match.group(1))
    assert data["version"] == 1
    assert [r["run"] for r in data["score_runs"]["akses"]] == [1, 2]
    assert 'id="change-table"' in html


def test_coverage_page_carries_the_lifecycle_version(client):
    from tests.geoapp.test_coverage_views import page_json

    html = client.get(f"{PAGES}/coverage?as_of=2025-04-30").get_data(as_text=True)
    data = page_json(html, "coverage-data")
    assert data["lifecycle_version"] == 1
    assert data["needs_layers"] == ["needs"]
    assert data["need_action_api"] == f"{API}/needs/NEED_ID/ACTION"
    assert 'id="need-by"' in html
