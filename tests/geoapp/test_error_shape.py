"""Every JSON error has one shape: {"error": {"status", "code", "message", "details"}}."""

from __future__ import annotations

import pytest

from geoapp.auth import requires


def assert_error_shape(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.content_type == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"status", "code", "message", "details"}
    assert error["status"] == status
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["details"], dict)
    return error


@pytest.mark.parametrize(
    ("method", "path", "status", "code", "details"),
    [
        ("GET", "/api/nope", 404, "not_found", {"path": "/api/nope"}),
        ("GET", "/api/workspaces/merangin/datasets/villages/report/x", 404, "not_found", {}),
        ("GET", "/api/workspaces/nope", 404, "not_found",
         {"workspace": "nope", "available": ["kosong", "merangin"]}),
        ("GET", "/api/workspaces/nope/datasets", 404, "not_found", {"workspace": "nope"}),
        ("GET", "/api/workspaces/merangin/datasets/nope", 404, "not_found",
         {"dataset": "nope", "available": ["faskes", "podes", "villages"]}),
        ("GET", "/api/workspaces/merangin/datasets/villages?version=9", 404, "not_found",
         {"version": 9, "available": [1, 2]}),
        ("GET", "/api/workspaces/merangin/datasets/villages/report?version=9", 404, "not_found",
         {"version": 9}),
        ("GET", "/api/workspaces/nope/datasets/villages/report", 404, "not_found",
         {"workspace": "nope"}),
        ("GET", "/api/workspaces/merangin/datasets/villages?version=abc", 400, "bad_request",
         {"parameter": "version", "value": "abc"}),
        ("GET", "/api/workspaces/merangin/datasets/villages?version=0", 400, "bad_request",
         {"parameter": "version", "value": "0"}),
        ("GET", "/api/workspaces/merangin/datasets/villages?version=1.5", 400, "bad_request",
         {"parameter": "version"}),
        ("GET", "/api/workspaces/merangin/datasets/villages/report?version=x", 400,
         "bad_request", {"parameter": "version"}),
        ("GET", "/api/workspaces/merangin/datasets/villages/report?limit=0", 400,
         "bad_request", {"parameter": "limit"}),
        ("GET", "/api/workspaces/merangin/datasets/villages/report?offset=-3", 400,
         "bad_request", {"parameter": "offset"}),
        ("GET", "/api/workspaces/merangin/datasets/villages/report?action=oops", 400,
         "bad_request", {"parameter": "action", "allowed": ["repaired", "rejected", "warning"]}),
        ("GET", "/api/workspaces/merangin/datasets?all_versions=maybe", 400, "bad_request",
         {"parameter": "all_versions"}),
        ("POST", "/api/workspaces", 405, "method_not_allowed", {}),
        ("DELETE", "/api/workspaces/merangin/datasets/villages", 405, "method_not_allowed", {}),
    ],
)  # fmt: skip
def test_error_shape(client, method, path, status, code, details):
    error = assert_error_shape(client.open(path, method=method), status, code)
    for key, value in details.items():
        assert error["details"][key] == value


def test_405_names_the_allowed_methods(client):
    response = client.post("/api/workspaces")
    error = assert_error_shape(response, 405, "method_not_allowed")
    assert "GET" in error["details"]["allowed"]
    assert "GET" in response.headers["Allow"]
    assert "POST" in error["message"]


def test_500_is_in_the_shape_and_leaks_nothing(app, client):
    @requires("signed_in")
    def broken():
        raise RuntimeError("secret internals")

    app.add_url_rule("/api/broken", "broken", broken)
    app.add_url_rule("/broken", "broken_page", broken)
    error = assert_error_shape(client.get("/api/broken?lang=en"), 500, "internal_error")
    assert "secret" not in error["message"]
    assert error["details"] == {}
    page = client.get("/broken?lang=en")
    assert page.status_code == 500
    assert page.content_type.startswith("text/html")
    assert "secret" not in page.get_data(as_text=True)


def test_store_not_initialised_is_503_in_the_shape(tmp_path):
    from geoapp import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'new.sqlite'}"})
    error = assert_error_shape(app.test_client().get("/api/workspaces"), 503, "store_unavailable")
    assert "not initialised" in error["details"]["reason"]


def test_error_messages_are_translated(client):
    url = "/api/workspaces/nope"
    english = client.get(url + "?lang=en").get_json()["error"]["message"]
    indonesian = client.get(url + "?lang=id").get_json()["error"]["message"]
    assert english == "There is no workspace 'nope'."
    assert indonesian == "Tidak ada ruang kerja 'nope'."
    unknown = client.get("/api/nope?lang=id").get_json()["error"]["message"]
    assert unknown == "Tidak ada apa pun di alamat ini."


def test_html_pages_do_not_answer_in_json(client):
    response = client.get("/workspaces/nope")
    assert response.status_code == 404
    assert response.content_type.startswith("text/html")


def test_unknown_workspace_404_in_indonesian(client):
    error = assert_error_shape(client.get("/api/workspaces/nope?lang=id"), 404, "not_found")
    assert error["message"] == "Tidak ada ruang kerja 'nope'."
    error = assert_error_shape(
        client.get("/api/workspaces/nope/datasets?lang=id"), 404, "not_found"
    )
    assert "ruang kerja" in error["message"]


def test_store_errors_reaching_the_handlers_are_translated(app, client):
    from geoapp.store import get_store
    from layers.errors import N_, StoreError

    @requires("signed_in")
    def missing():
        get_store(app).get_workspace("jambi")

    @requires("signed_in")
    def broken():
        raise StoreError(
            N_("the store could not complete the operation: %(reason)s"),
            params={"reason": "disk I/O error"},
        )

    app.add_url_rule("/api/missing", "missing", missing)
    app.add_url_rule("/missing", "missing_page", missing)
    app.add_url_rule("/api/broken-store", "broken_store", broken)

    error = assert_error_shape(client.get("/api/missing?lang=id"), 404, "not_found")
    assert (
        error["message"] == "tidak ada ruang kerja 'jambi'; ruang kerja yang ada: kosong, merangin"
    )
    assert error["details"]["reason"] == "no workspace 'jambi'; workspaces: kosong, merangin"
    english = assert_error_shape(client.get("/api/missing?lang=en"), 404, "not_found")
    assert english["message"] == "no workspace 'jambi'; workspaces: kosong, merangin"
    page = client.get("/missing?lang=id")
    assert page.status_code == 404
    assert "tidak ada ruang kerja" in page.get_data(as_text=True)

    error = assert_error_shape(client.get("/api/broken-store?lang=id"), 503, "store_unavailable")
    assert error["message"] == (
        "Penyimpanan data tidak dapat dibaca: "
        "penyimpanan data tidak dapat menyelesaikan operasi: disk I/O error"
    )
    assert (
        error["details"]["reason"] == "the store could not complete the operation: disk I/O error"
    )
