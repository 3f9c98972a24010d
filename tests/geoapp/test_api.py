"""The JSON API: workspaces, datasets, versions, reports."""

from __future__ import annotations

import pytest

from tests.geoapp.conftest import SCRIPT_NAME


def test_api_index_links_to_workspaces(client):
    data = client.get("/api/").get_json()
    assert data["links"]["workspaces"] == "/api/workspaces"


def test_workspaces(client):
    response = client.get("/api/workspaces")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    items = response.get_json()["workspaces"]
    assert [w["name"] for w in items] == ["kosong", "merangin"]
    merangin = items[1]
    assert merangin["title"] == "Kabupaten Merangin (demo)"
    assert merangin["description"] == "Demo area"
    assert merangin["created_at"].endswith("+00:00")
    assert merangin["links"]["datasets"] == "/api/workspaces/merangin/datasets"


def test_workspace(client):
    data = client.get("/api/workspaces/merangin").get_json()
    assert data["name"] == "merangin"
    assert data["dataset_count"] == 3


def test_datasets_latest_versions(client):
    data = client.get("/api/workspaces/merangin/datasets").get_json()
    assert data["workspace"] == "merangin"
    assert data["all_versions"] is False
    by_name = {d["name"]: d for d in data["datasets"]}
    assert sorted(by_name) == ["faskes", "podes", "villages"]
    villages = by_name["villages"]
    assert villages["version"] == 2
    assert villages["ref"] == "merangin/villages@2"
    assert villages["kind"] == "villages"
    assert villages["counts"] == {
        "read": 2,
        "accepted": 2,
        "repaired": 1,
        "rejected": 0,
        "warnings": 0,
    }
    assert villages["source_sha256"] == "2" * 64
    assert villages["crs"] == "EPSG:4326"
    assert villages["bounds"] == pytest.approx([101.9, -2.2, 102.1, -2.1])
    assert (
        villages["links"]["report"] == "/api/workspaces/merangin/datasets/villages/report?version=2"
    )
    assert by_name["podes"]["bounds"] is None
    assert by_name["podes"]["source_name"] == SCRIPT_NAME


@pytest.mark.parametrize("flag", ["1", "true", "yes"])
def test_datasets_all_versions(client, flag):
    data = client.get(f"/api/workspaces/merangin/datasets?all_versions={flag}").get_json()
    refs = [d["ref"] for d in data["datasets"]]
    assert refs == ["merangin/faskes@1", "merangin/podes@1", "merangin/villages@1",
                    "merangin/villages@2"]  # fmt: skip


def test_datasets_of_empty_workspace(client):
    assert client.get("/api/workspaces/kosong/datasets").get_json()["datasets"] == []


def test_dataset_latest_and_versions(client):
    data = client.get("/api/workspaces/merangin/datasets/villages").get_json()
    assert data["version"] == 2
    assert data["latest_version"] == 2
    assert [v["version"] for v in data["versions"]] == [1, 2]
    assert data["versions"][0]["counts"]["rejected"] == 1
    assert data["created_by"] == "budi"
    assert data["row_count"] == 2


def test_dataset_earlier_version(client):
    data = client.get("/api/workspaces/merangin/datasets/villages?version=1").get_json()
    assert data["version"] == 1
    assert data["latest_version"] == 2
    assert data["source_name"] == "desa_2024.geojson"
    assert data["counts"]["rejected"] == 1
    assert data["links"]["self"] == "/api/workspaces/merangin/datasets/villages?version=1"


def test_report_of_latest_and_earlier_version(client):
    latest = client.get("/api/workspaces/merangin/datasets/villages/report?lang=en").get_json()
    assert latest["dataset"]["version"] == 2
    assert latest["file"] == "desa_2025.geojson"
    assert latest["findings"] == [
        {
            "action": "repaired",
            "code": "geometry_repaired",
            "row": 2,
            "column": None,
            "params": {"reason": "Self-intersection"},
            "message": "invalid geometry repaired with make_valid (Self-intersection)",
        }
    ]
    first = client.get("/api/workspaces/merangin/datasets/villages/report?version=1").get_json()
    assert first["counts"]["rejected"] == 1
    assert first["findings"][0]["code"] == "code_invalid"


def test_report_messages_follow_the_language(client):
    url = "/api/workspaces/merangin/datasets/villages/report?version=1"
    english = client.get(url + "&lang=en").get_json()["findings"][0]["message"]
    indonesian = client.get(url + "&lang=id").get_json()["findings"][0]["message"]
    assert english == "'15.2' is not a valid Kemendagri code: too few digits"
    assert indonesian == "'15.2' bukan kode Kemendagri yang valid: too few digits"


def test_report_paging_and_filter(client):
    url = "/api/workspaces/merangin/datasets/faskes/report"
    data = client.get(url).get_json()
    assert data["findings_total"] == 17
    assert data["limit"] == 5  # REPORT_PAGE_SIZE of the test app
    assert len(data["findings"]) == 5
    page = client.get(url + "?offset=15&limit=10").get_json()
    assert [f["row"] for f in page["findings"]] == [17, 18]
    warnings = client.get(url + "?action=warning&limit=100").get_json()
    assert warnings["findings_total"] == 4
    assert {f["action"] for f in warnings["findings"]} == {"warning"}


def test_report_limit_is_capped(client):
    data = client.get("/api/workspaces/merangin/datasets/faskes/report?limit=999999").get_json()
    assert data["limit"] == 5000


def test_api_sends_language_header(client):
    response = client.get("/api/workspaces", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert response.headers["Content-Language"] == "en"
    assert "Accept-Language" in response.headers["Vary"]
