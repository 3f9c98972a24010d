"""The OpenAPI description of the JSON API, and a schemathesis fuzz run against it."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from flask import Blueprint, jsonify

from geoapp.auth import access_of, requires
from geoapp.openapi import UndescribedRouteError, build_document, openapi_path, operations
from tests.geoapp.auth_support import signed_headers

METHODS = {"get", "put", "post", "delete", "patch"}


def served(app) -> dict[str, Any]:
    """The document as an anonymous client gets it."""
    response = app.test_client(user=None).get("/api/openapi.json")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type == "application/json"
    return response.get_json()


def api_routes(app) -> set[tuple[str, str]]:
    """Every (method, OpenAPI path) of the app's /api rules, read from the URL map here."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            found |= {(m.lower(), path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return found


def described(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


def walk_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in walk_refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in walk_refs(value)]
    return []


def schemas_in(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Every JSON Schema of the document: parameters, bodies, answers, components."""
    out = list(document["components"]["schemas"].values())
    for item in document["paths"].values():
        for op in item.values():
            out += [p["schema"] for p in op.get("parameters", [])]
            for part in [op.get("requestBody", {}), *op["responses"].values()]:
                out += [media["schema"] for media in part.get("content", {}).values()]
    return out


# --- the document ----------------------------------------------------------------------------


def test_document_is_public_and_is_valid_openapi_3_1(app):
    import jsonschema_rs
    from schemathesis.specs.openapi.definitions import OPENAPI_31  # the official 3.1 schema

    document = served(app)
    assert document["openapi"] == "3.1.0"
    errors = [str(e) for e in jsonschema_rs.validator_for(OPENAPI_31).iter_errors(document)]
    assert errors == []
    for schema in schemas_in(document):  # each a valid JSON Schema 2020-12
        jsonschema_rs.meta.validate(schema)
    operation_ids = [op["operationId"] for i in document["paths"].values() for op in i.values()]
    assert len(operation_ids) == len(set(operation_ids))
    components = document["components"]
    for ref in walk_refs(document):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in components["schemas"], ref
    for path, item in document["paths"].items():
        for method, op in item.items():
            in_path = set(re.findall(r"\{(\w+)\}", path))
            declared = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert declared == in_path, (method, path)
            assert all(p["required"] for p in op["parameters"] if p["in"] == "path")
            assert len({(p["name"], p["in"]) for p in op["parameters"]}) == len(op["parameters"])
            assert op["responses"], (method, path)
            assert all(re.fullmatch(r"[1-5]\d\d", status) for status in op["responses"])
            for requirement in op["security"]:
                assert set(requirement) <= set(components["securitySchemes"])


def test_the_validity_check_refuses_a_broken_document(app):
    import jsonschema_rs
    from schemathesis.specs.openapi.definitions import OPENAPI_31

    validator = jsonschema_rs.validator_for(OPENAPI_31)
    document = served(app)
    broken = {**document, "paths": {"/api/x": {"get": {"responses": {"200": {}}}}}}
    assert not validator.is_valid(broken)  # a response needs its description
    assert not validator.is_valid({**document, "openapi": 3.1})


def test_every_api_route_is_described_and_nothing_else(app):
    document = served(app)
    assert described(document) == api_routes(app)
    assert ("get", "/api/openapi.json") in described(document)
    assert ("get", "/api/workspaces/{workspace}/tiles/villages/{z}/{x}/{y}.pbf") in described(
        document
    )
    assert not any(path.startswith("/workspaces") for path in document["paths"])


def test_declared_access_matches_the_views(app):
    document = served(app)
    by_endpoint = {r.endpoint: r for r in app.url_map.iter_rules() if r.rule.startswith("/api/")}
    assert len(by_endpoint) >= 40
    for endpoint, rule in by_endpoint.items():
        level, public_link = app.view_functions[endpoint].access
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            op = document["paths"][openapi_path(rule.rule)][method.lower()]
            assert op["x-access"] == {"level": level, "public_link": public_link}, endpoint
            assert access_of(app, endpoint) == (level, public_link)
            if level == "public":
                assert op["security"] == []
                assert "401" not in op["responses"]
            else:
                expected = ["session", "csrf"] if method != "GET" else ["session"]
                assert [sorted(r) for r in op["security"]] == [sorted(expected)], endpoint
                assert {"401", "403"} <= set(op["responses"])
    levels = {
        op["x-access"]["level"] for item in document["paths"].values() for op in item.values()
    }
    assert levels == {"public", "signed_in", "viewer", "commenter", "editor"}


def test_summaries_are_the_views_docstrings(app):
    document = served(app)
    op = document["paths"]["/api/workspaces/{workspace}/scenarios/{name}"]["delete"]
    assert op["summary"] == "Delete a scenario and all its versions."
    op = document["paths"]["/api/workspaces"]["get"]
    assert op["summary"] == "List the workspaces."


def test_request_bodies_follow_the_parsers(app):
    from geoapp.views.programs_edit import NEED_MEMBERS
    from geoapp.views.scenarios_api import POST_FIELDS
    from layers.programs.model import columns

    paths = served(app)["paths"]

    def body(path, method, media="application/json"):
        return paths[path][method]["requestBody"]["content"][media]["schema"]

    scenario = body("/api/workspaces/{workspace}/scenarios", "post")
    assert set(scenario["properties"]) == set(POST_FIELDS)
    assert scenario["required"] == ["name", "kind", "profile"]
    assert scenario["properties"]["kind"]["enum"] == ["placement", "siting"]
    assert scenario["additionalProperties"] is False
    program = body("/api/workspaces/{workspace}/programs", "post")
    assert set(program["properties"]) == {*columns("programs"), "base_version", "user", "reason"}
    assert set(program["required"]) == {"program_id", "name", "sector", "base_version"}
    patch = body("/api/workspaces/{workspace}/programs/{program_id}", "patch")
    assert "program_id" not in patch["properties"]
    link = body("/api/workspaces/{workspace}/needs/{need_id}/link", "post")
    assert set(link["properties"]) == set(NEED_MEMBERS)
    assert "program_id" in link["required"]
    verify = body("/api/workspaces/{workspace}/needs/{need_id}/verify", "post")
    assert "program_id" not in verify["required"]
    upload = body("/api/workspaces/{workspace}/datasets", "post", "multipart/form-data")
    assert upload["required"] == ["file", "kind"]
    assert upload["properties"]["kind"]["enum"] == ["villages", "facilities", "needs", "indicators"]
    assert upload["properties"]["code_system"]["enum"] == ["kemendagri", "bps"]


def test_error_answers_share_the_one_shape(app):
    document = served(app)
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert error["properties"]["error"]["required"] == ["status", "code", "message", "details"]
    statuses = set()
    for item in document["paths"].values():
        for op in item.values():
            for status, answer in op["responses"].items():
                if int(status) >= 400:
                    statuses.add(int(status))
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}
    assert {400, 401, 403, 404, 409, 413} <= statuses
    # and a real error answer has it
    import jsonschema_rs

    got = app.test_client().get("/api/workspaces/nope/datasets")
    assert got.status_code == 404
    jsonschema_rs.validate(error, got.get_json())


def test_a_route_without_a_description_fails_the_build(app):
    extra = Blueprint("extra", __name__)

    @extra.get("/api/extra")
    @requires("signed_in")
    def undescribed():
        """Not in the table."""
        return jsonify({})

    app.register_blueprint(extra)
    with pytest.raises(UndescribedRouteError, match=r"extra\.undescribed"):
        build_document(app)
    table = dict(operations())
    table["extra.undescribed"] = table["api.index"]
    assert ("get", "/api/extra") in described(build_document(app, table))


# --- fuzzing -----------------------------------------------------------------------------------

#: Examples per operation and generation mix; about 15-25 s for the 40 operations on 2 cores.
MAX_EXAMPLES = 40


def test_fuzzing_every_json_route_finds_no_server_error(app, monkeypatch):
    """schemathesis over every operation, signed in as the administrator with the CSRF token:
    no 5xx, documented statuses, content types and schemas."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    from geoapp.views import map_api

    monkeypatch.setattr(map_api, "EVENTS_SECONDS", 0.02)  # an events stream ends at once
    signed = signed_headers(app)
    cookies = {"session": signed["Cookie"].split("=", 1)[1]}
    headers = {"X-CSRFToken": signed["X-CSRFToken"]}
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    schema.config.generation.update(with_security_parameters=False)
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    real = {"workspace": "merangin"}
    seen: dict[str, set[int]] = {}

    def fuzz_one(operation: Any) -> None:
        query = {"profile": "health_access"} if "profile" in str(operation.definition) else None
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE, path_parameters=real, query=query),
            operation.as_strategy(GenerationMode.POSITIVE, path_parameters=real),
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=real),
        )
        statuses = seen.setdefault(operation.label, set())

        @given(case=cases)
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            response = case.call(headers=headers, cookies=cookies)
            statuses.add(response.status_code)
            case.validate_response(response, checks=checks)

        fuzz()

    started = time.monotonic()
    for result in schema.get_all_operations():
        fuzz_one(result.ok())
    elapsed = time.monotonic() - started
    # every operation but the document itself (schemathesis leaves out where it read it)
    expected = {f"{m.upper()} {p}" for m, p in api_routes(app)} - {"GET /api/openapi.json"}
    assert set(seen) == expected
    assert elapsed < 90, f"the fuzz run took {elapsed:.0f} s"
    # the run reached the data, not only the access check
    assert 200 in seen["GET /api/workspaces/{workspace}/datasets"]
    assert 200 in seen["PUT /api/workspaces/{workspace}/presenter"]
    assert not any(status in (401, 403) for s in seen.values() for status in s)


# --- server errors the fuzz run found outside the description --------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/workspaces/merangin/datasets/villages?version=%C2%B2",
        "/api/workspaces/merangin/datasets/villages/report?offset=%C2%B2",
        "/api/workspaces/merangin/scenarios/x?version=%C2%B2",
        "/api/workspaces/merangin/programs?version=%C2%B2",
        "/api/workspaces/merangin/programs/P/change?profile=a&baseline=%C2%B2",
    ],
)
def test_a_unicode_digit_is_a_bad_request(client, url):
    assert client.get(url).status_code == 400


def test_a_unicode_digit_base_version_is_a_bad_request(client):
    body = {"base_version": "²", "date": "2025-01-01"}
    response = client.post("/api/workspaces/merangin/programs/P/activities", json=body)
    assert response.status_code == 400


def test_a_huge_audit_page_is_a_bad_request(client):
    assert client.get("/api/workspaces/merangin/audit?page=99999999999999999999").status_code < 500


def test_a_form_part_without_a_name_is_a_bad_request(client):
    body = b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n"
    response = client.post(
        "/api/workspaces/merangin/datasets",
        data=body,
        content_type="multipart/form-data; boundary=b",
    )
    assert response.status_code == 400
