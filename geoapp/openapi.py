"""The OpenAPI 3.1 description of the JSON API (every route under ``/api``).

:func:`build_document` walks the app's URL map: every rule whose path starts with ``/api/``
is described by its entry in :func:`operations` (keyed by endpoint): the query parameters,
the request body, the success answer and the errors it can give. The summary is the view's
docstring and ``x-access`` the access the view declares (:func:`geoapp.auth.access_of`).
A route without an entry makes the builder fail (:class:`UndescribedRouteError`), so the
description cannot fall behind the routes.

Every error answer has the one shape of :mod:`geoapp.errors`
(``{"error": {"status", "code", "message", "details"}}``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

__all__ = [
    "Operation",
    "UndescribedRouteError",
    "api_rules",
    "build_document",
    "openapi_path",
    "operations",
]

OPENAPI_VERSION = "3.1.0"
#: Methods that change state: they need the session's CSRF token.
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Every error answer's statuses and what they mean.
ERROR_TEXTS = {
    400: "The request cannot be used (a parameter, the body or the CSRF token)",
    401: "Nobody is signed in",
    403: "The signed-in account's role does not allow this",
    404: "The workspace (or what the path names) does not exist",
    409: "Someone changed the data since the version the request is based on",
    413: "The request is larger than MAX_CONTENT_LENGTH",
    429: "Too many attempts",
    503: "The store cannot be read (e.g. before geoapp init)",
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}

#: Store names (workspaces, datasets) and profile names.
NAME = {"type": "string", "pattern": "^[a-z0-9_-]{1,64}$"}
TEXT = {"type": "string"}
INT = {"type": "integer"}
WHOLE = {"type": "integer", "minimum": 0}
POSITIVE = {"type": "integer", "minimum": 1}
BOOL = {"type": "boolean"}
DATE = {"type": "string", "format": "date"}
OBJECT: dict[str, Any] = {"type": "object"}
ARRAY_OF_OBJECTS = {"type": "array", "items": OBJECT}
LINKS = {"type": "object", "additionalProperties": {"type": "string"}}
NULLABLE_TEXT = {"type": ["string", "null"]}
NULLABLE_INT = {"type": ["integer", "null"]}
LEVELS_PATTERN = "^(none|(village|kecamatan|kabupaten)(,(village|kecamatan|kabupaten))*)$"
FLAG = {"type": "string", "enum": ["1", "0", "true", "false", "yes", "no"]}


class UndescribedRouteError(LookupError):
    """An ``/api`` route has no entry in :func:`operations`."""


def obj(required: tuple[str, ...] = (), **members: Any) -> dict[str, Any]:
    """A JSON object schema with ``members`` (other members allowed)."""
    schema: dict[str, Any] = {"type": "object", "properties": members}
    if required:
        schema["required"] = list(required)
    return schema


def closed(required: tuple[str, ...] = (), **members: Any) -> dict[str, Any]:
    """A JSON object schema of exactly ``members`` (others refused)."""
    return {**obj(required, **members), "additionalProperties": False}


@dataclass(frozen=True)
class Param:
    """A query parameter."""

    name: str
    schema: dict[str, Any]
    description: str = ""
    required: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The OpenAPI parameter object."""
        out: dict[str, Any] = {
            "name": self.name,
            "in": "query",
            "required": self.required,
            "schema": self.schema,
        }
        if self.description:
            out["description"] = self.description
        return out


@dataclass(frozen=True)
class Operation:
    """What the description says about one route (one endpoint and its methods).

    ``response`` is the schema of the success answer's JSON (None: no JSON, ``media`` says
    what it is; ``success`` 204: no body). ``errors`` are the error statuses besides those
    every route of its kind gives (401 and 403 unless public, 404 with a workspace in the
    path, 400 for a query parameter, a body or an unsafe method).
    """

    response: dict[str, Any] | None
    success: int = 200
    media: str = "application/json"
    query: tuple[Param, ...] = ()
    body: dict[str, Any] | None = None
    body_media: str = "application/json"
    body_required: bool = True
    errors: tuple[int, ...] = ()
    also: dict[int, str] = field(default_factory=dict)
    path: dict[str, dict[str, Any]] = field(default_factory=dict)


# --- request bodies -----------------------------------------------------------------------


def _same(members: dict[str, Any], accepted: tuple[str, ...]) -> None:
    """Fail when a body's described members differ from those its parser accepts."""
    if set(members) != set(accepted):
        raise UndescribedRouteError(
            f"described members {sorted(members)} differ from accepted {sorted(accepted)}"
        )


def _scenario_body() -> dict[str, Any]:
    from geoapp.views.scenarios_api import POST_FIELDS
    from layers.targeting.scenarios import KINDS

    members = {
        "name": NAME,
        "kind": {"type": "string", "enum": list(KINDS)},
        "profile": NAME,
        "settings": {
            "type": "object",
            "description": "setting names and values (see docs/scenarios.md)",
        },
        "title": TEXT,
        "author": {"type": "string", "description": "ignored: the signed-in account is kept"},
        "note": TEXT,
        "expected_version": {
            "type": ["integer", "null"],
            "description": "the latest version the client saw (409 when another was saved)",
        },
    }
    _same(members, POST_FIELDS)
    return closed(("name", "kind", "profile"), **members)


_META = {
    "base_version": {
        "type": "integer",
        "minimum": 0,
        "description": "the register version the page showed (409 when a row changed since)",
    },
    "user": {"type": "string", "description": "ignored: the signed-in account is recorded"},
    "reason": {"type": "string", "description": "why, kept with the version written"},
}
_PROGRAM_TYPES = {
    "program_id": {"type": "string", "minLength": 1},
    "name": {"type": "string", "minLength": 1},
    "sector": {"type": "string", "minLength": 1},
    "budget": {"type": ["number", "null"], "minimum": 0},
    "start": {"type": ["string", "null"], "format": "date"},
    "end": {"type": ["string", "null"], "format": "date"},
}


def _program_members(*, with_id: bool) -> dict[str, Any]:
    from layers.programs.model import columns

    fields = [c for c in columns("programs") if with_id or c != "program_id"]
    return {c: _PROGRAM_TYPES.get(c, NULLABLE_TEXT) for c in fields}


def _program_body() -> dict[str, Any]:
    return closed(
        ("program_id", "name", "sector", "base_version"),
        **_program_members(with_id=True),
        **_META,
    )


def _program_patch() -> dict[str, Any]:
    return {
        **closed(("base_version",), **_program_members(with_id=False), **_META),
        "minProperties": 2,
    }


def _assign_body() -> dict[str, Any]:
    from geoapp.views.programs_edit import ASSIGN_MEMBERS

    members = {
        "scenario": {"type": "string", "description": "a saved scenario's name (or kode)"},
        "version": {"type": ["integer", "null"], "minimum": 1},
        "kode": {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 1,
            "description": "village codes (or scenario)",
        },
        "planned": {"type": ["integer", "null"], "minimum": 0},
        "unit": NULLABLE_TEXT,
        "status": NULLABLE_TEXT,
    }
    _same(members, ASSIGN_MEMBERS)
    return closed(("base_version",), **members, **_META)


def _activity_body() -> dict[str, Any]:
    from geoapp.views.programs_edit import ACTIVITY_MEMBERS

    members = {
        "date": DATE,
        "figure": {"type": ["number", "null"]},
        "unit": NULLABLE_TEXT,
        "kode": {"type": ["string", "null"], "description": "the village (none: the program)"},
        "description": NULLABLE_TEXT,
    }
    _same(members, ACTIVITY_MEMBERS)
    return closed(("base_version", "date"), **members, **_META)


def _need_body(*, link: bool = False) -> dict[str, Any]:
    from geoapp.views.programs_edit import NEED_MEMBERS

    members = {
        "on": DATE,
        "by": {"type": "string", "description": "who did it (the signed-in account by default)"},
        "note": TEXT,
        "program_id": TEXT,
        "layer": {"type": "string", "description": "the needs layer, when several hold the id"},
        "base_version": {
            "type": "integer",
            "minimum": 0,
            "description": "the needs lifecycle version the page showed",
        },
        "user": {
            "type": ["string", "null"],
            "description": "ignored: the step is recorded under the signed-in account",
        },
    }
    _same(members, NEED_MEMBERS)
    required = ("on", "base_version", "program_id") if link else ("on", "base_version")
    return closed(required, **members)


def _annotation_body() -> dict[str, Any]:
    from layers.mapdata.shared import GEOMETRY_TYPES, MAX_NOTE

    geometry = obj(
        ("type", "coordinates"),
        type={"type": "string", "enum": list(GEOMETRY_TYPES)},
        coordinates={"type": "array"},
    )
    return obj(
        ("geometry",),
        geometry={**geometry, "description": "GeoJSON in longitude/latitude (EPSG:4326)"},
        note={"type": "string", "maxLength": MAX_NOTE},
        kode={"type": ["string", "null"], "description": "a village code of the workspace"},
    )


def _presenter_body() -> dict[str, Any]:
    from layers.mapdata.shared import MAX_LAYERS

    view = closed(
        ("center", "zoom"),
        center={
            "type": "array",
            "prefixItems": [
                {"type": "number", "minimum": -90, "maximum": 90},
                {"type": "number", "minimum": -180, "maximum": 180},
            ],
            "minItems": 2,
            "maxItems": 2,
            "description": "[latitude, longitude]",
        },
        zoom={"type": "number", "minimum": 0, "maximum": 22},
        profile={"type": ["string", "null"]},
        indicator={"type": ["string", "null"]},
        layers={
            "type": ["array", "null"],
            "maxItems": MAX_LAYERS,
            "items": {"type": "string", "minLength": 1, "maxLength": 64},
        },
        kode={"type": ["string", "null"]},
        kec={"type": ["string", "null"]},
    )
    return obj(("view",), view=view)


def _upload_body() -> dict[str, Any]:
    from layers.uploads import UPLOAD_KINDS
    from layers.validate import CODE_SYSTEMS

    return closed(
        ("file", "kind"),
        file={"type": "string", "contentMediaType": "application/octet-stream"},
        kind={"type": "string", "enum": list(UPLOAD_KINDS)},
        name=NAME,
        code_system={"type": "string", "enum": list(CODE_SYSTEMS)},
        dry_run=FLAG,
        user=TEXT,
    )


def _register_upload_body() -> dict[str, Any]:
    return closed(
        ("file", "dry_run"),
        file={"type": "string", "contentMediaType": "application/octet-stream"},
        dry_run=FLAG,
        note=TEXT,
        user=TEXT,
    )


# --- answers --------------------------------------------------------------------------------

WORKSPACE = obj(("name", "title", "created_at"), name=TEXT, title=TEXT, created_at=TEXT)
DATASET = obj(
    ("workspace", "name", "version", "kind", "created_at", "counts"),
    workspace=TEXT,
    name=TEXT,
    version=POSITIVE,
    kind=TEXT,
    created_at=TEXT,
    counts=OBJECT,
    links=LINKS,
)
FEATURES = obj(
    ("type", "features"),
    type={"const": "FeatureCollection"},
    features=ARRAY_OF_OBJECTS,
)
ANNOTATION = obj(
    ("id", "geometry", "note", "author", "created_at"),
    id=TEXT,
    geometry=OBJECT,
    note=TEXT,
    author=TEXT,
    kode=NULLABLE_TEXT,
    created_at=TEXT,
)
PRESENTER = obj(
    ("view", "author", "updated_at", "version"),
    view=OBJECT,
    author=TEXT,
    updated_at=TEXT,
    version=POSITIVE,
)
EDIT = obj(("program_id", "messages"), program_id=TEXT, messages={"type": "array"}, links=LINKS)
NEED_STEP = obj(
    ("need_id", "action", "status", "version", "message"),
    need_id=TEXT,
    action={"type": "string", "enum": ["verified", "linked", "closed"]},
    status=TEXT,
    version=INT,
    message=TEXT,
)
#: One Server-Sent Event as schemathesis and browsers read it (``data`` is JSON text).
SSE_EVENT = obj(
    ("event", "data"),
    event={"type": "string", "enum": ["ready", "annotation", "presenter"]},
    data={"type": "string", "contentMediaType": "application/json"},
    id=TEXT,
    retry=WHOLE,
)
PROFILE = Param("profile", NAME, "a scoring profile's name", required=True)
INDICATOR = Param("indicator", TEXT, "colour by this indicator instead of the score")
VERSION = Param("version", POSITIVE, "a version (the latest by default)")
AS_OF = Param("as_of", DATE, "the date (today by default)")


@functools.cache
def operations() -> dict[str, Operation]:
    """The declaration table: what the description says of each ``/api`` endpoint (built once;
    it imports the views' parsers and the core's constants)."""
    from layers.audit import ACTIONS as AUDIT_ACTIONS
    from layers.audit import TARGET_KINDS
    from layers.report import ACTIONS

    return {
        "openapi.document": Operation(obj(("openapi", "info", "paths"))),
        "api.index": Operation(obj(("name", "links"), name=TEXT, links=LINKS)),
        "api.workspaces": Operation(
            obj(("workspaces",), workspaces={"type": "array", "items": WORKSPACE})
        ),
        "api.workspace": Operation(
            {**WORKSPACE, "required": [*WORKSPACE["required"], "dataset_count"]}
        ),
        "api.datasets": Operation(
            obj(
                ("workspace", "all_versions", "datasets"),
                workspace=TEXT,
                all_versions=BOOL,
                datasets={"type": "array", "items": DATASET},
            ),
            query=(Param("all_versions", FLAG, "every version, not only the latest"),),
        ),
        "api.dataset": Operation(
            obj(
                ("version", "latest_version", "versions", "links"),
                version=POSITIVE,
                latest_version=POSITIVE,
                versions=ARRAY_OF_OBJECTS,
                links=LINKS,
            ),
            query=(VERSION,),
            path={"name": NAME},
        ),
        "api.report": Operation(
            obj(
                ("dataset", "kind", "counts", "findings_total", "offset", "limit", "findings"),
                dataset=DATASET,
                kind=TEXT,
                counts=OBJECT,
                findings_total=WHOLE,
                offset=WHOLE,
                limit=POSITIVE,
                action={"type": ["string", "null"]},
                findings=ARRAY_OF_OBJECTS,
            ),
            query=(
                VERSION,
                Param("offset", WHOLE, "the first finding (0 by default)"),
                Param("limit", POSITIVE, "findings in the answer (at most 5000)"),
                Param("action", {"type": "string", "enum": list(ACTIONS)}, "only these"),
            ),
            path={"name": NAME},
        ),
        "uploads.import_dataset": Operation(
            obj(
                ("workspace", "file", "kind", "dry_run", "stored", "unchanged", "counts"),
                workspace=TEXT,
                file=TEXT,
                kind=TEXT,
                dry_run=BOOL,
                stored=BOOL,
                unchanged=BOOL,
                counts=OBJECT,
                dataset={"anyOf": [DATASET, {"type": "null"}]},
                messages={"type": "array", "items": TEXT},
            ),
            success=201,
            also={200: "a dry run, or the same file is already the latest version"},
            body=_upload_body(),
            body_media="multipart/form-data",
            errors=(413,),
        ),
        "admin.audit_api": Operation(
            obj(
                ("workspace", "total", "page", "per_page", "entries"),
                workspace=TEXT,
                total=WHOLE,
                page=POSITIVE,
                per_page=POSITIVE,
                entries=ARRAY_OF_OBJECTS,
            ),
            query=(
                Param("page", POSITIVE, "the page (1 by default)"),
                Param("actor", TEXT, "changes by this account"),
                Param("action", {"type": "string", "enum": list(AUDIT_ACTIONS)}),
                Param("target_kind", {"type": "string", "enum": list(TARGET_KINDS)}),
                Param("text", TEXT, "changes mentioning this text"),
                Param("since", DATE, "from this day"),
                Param("until", DATE, "to this day (included)"),
            ),
        ),
        # -- the map
        "map_api.values": Operation(
            obj(("profile", "legend"), profile=TEXT, legend=ARRAY_OF_OBJECTS),
            query=(PROFILE, INDICATOR),
        ),
        "map_api.village_tile": Operation(
            None,
            media="application/x-protobuf",
            query=(PROFILE, INDICATOR, Param("v", TEXT, "the data version (cached for long)")),
            also={304: "not modified (If-None-Match)"},
        ),
        "map_api.village": Operation(obj(("kode",), kode=TEXT), query=(PROFILE,)),
        "map_api.search": Operation(
            obj(("workspace", "villages"), workspace=TEXT, villages=ARRAY_OF_OBJECTS),
            query=(
                Param("q", {"type": "string", "minLength": 1}, "code or name", required=True),
                Param("limit", {"type": "integer", "minimum": 1}, "at most 100 are returned"),
            ),
        ),
        "map_api.outlines": Operation(
            FEATURES, path={"level": {"type": "string", "enum": ["kecamatan", "kabupaten"]}}
        ),
        "map_api.points": Operation(
            FEATURES,
            query=(
                Param(
                    "bbox",
                    {"type": "string", "pattern": r"^-?[0-9.]+(,-?[0-9.]+){3}$"},
                    "minx,miny,maxx,maxy in longitude/latitude",
                    required=True,
                ),
                Param("limit", {"type": "integer", "minimum": 1, "maximum": 20000}),
            ),
            path={"layer": {"type": "string", "enum": ["facilities", "needs"]}},
        ),
        "map_api.annotations": Operation(
            obj(
                ("workspace", "annotations"),
                workspace=TEXT,
                annotations={"type": "array", "items": ANNOTATION},
            ),
            query=(Param("since", {"type": "string", "format": "date-time"}, "newer only"),),
        ),
        "map_api.add_annotation": Operation(ANNOTATION, success=201, body=_annotation_body()),
        "map_api.presenter": Operation(
            obj(("presenter",), presenter={"anyOf": [PRESENTER, {"type": "null"}]})
        ),
        "map_api.set_presenter": Operation(PRESENTER, body=_presenter_body()),
        "map_api.events": Operation(
            SSE_EVENT,
            media="text/event-stream",
            query=(Param("since", {"type": "string", "format": "date-time"}, "newer only"),),
        ),
        "basemap.tile": Operation(
            None,
            media="application/octet-stream",
            also={204: "the background map has no tile there"},
        ),
        # -- scenarios
        "scenarios_api.scenarios": Operation(
            obj(("workspace", "scenarios"), workspace=TEXT, scenarios=ARRAY_OF_OBJECTS)
        ),
        "scenarios_api.create": Operation(
            obj(("links",), links=LINKS), success=201, body=_scenario_body(), errors=(409,)
        ),
        "scenarios_api.compare": Operation(
            OBJECT,
            query=(
                Param(
                    "name",
                    {"type": "array", "items": NAME, "minItems": 2},
                    "two or more scenarios (?name=a&name=b)",
                    required=True,
                ),
            ),
        ),
        "scenarios_api.scenario": Operation(obj(("links",), links=LINKS), query=(VERSION,)),
        "scenarios_api.delete": Operation(None, success=204),
        # -- coverage and programs
        "coverage_api.coverage": Operation(
            OBJECT,
            query=(
                AS_OF,
                Param(
                    "level",
                    {"type": "string", "pattern": LEVELS_PATTERN},
                    "comma-separated levels, or none",
                ),
                Param("profile", NAME, "the score runs that give high need"),
            ),
        ),
        "coverage_api.timeseries": Operation(
            obj(("rows",), rows=ARRAY_OF_OBJECTS),
            query=(
                Param("freq", {"type": "string", "enum": ["M", "Q"]}, "month or quarter ends"),
                Param("start", DATE),
                Param("end", DATE),
            ),
        ),
        "coverage_api.village_needs": Operation(OBJECT),
        "coverage_api.verify_need": Operation(
            NEED_STEP, success=201, body=_need_body(), errors=(409,)
        ),
        "coverage_api.link_need": Operation(
            NEED_STEP, success=201, body=_need_body(link=True), errors=(409,)
        ),
        "coverage_api.close_need": Operation(
            NEED_STEP, success=201, body=_need_body(), errors=(409,)
        ),
        "programs_api.programs": Operation(
            obj(("programs",), programs=ARRAY_OF_OBJECTS), query=(AS_OF, VERSION)
        ),
        "programs_api.create": Operation(EDIT, success=201, body=_program_body(), errors=(409,)),
        "programs_api.program": Operation(obj(("links",), links=LINKS), query=(AS_OF, VERSION)),
        "programs_api.update": Operation(EDIT, body=_program_patch(), errors=(409,)),
        "programs_api.assign": Operation(
            obj(("added",), added=WHOLE, program_id=TEXT, links=LINKS),
            success=201,
            body=_assign_body(),
            errors=(409,),
        ),
        "programs_api.log_activity": Operation(
            obj(("activity_id",), activity_id=TEXT, program_id=TEXT, links=LINKS),
            success=201,
            body=_activity_body(),
            errors=(409,),
        ),
        "programs_api.change": Operation(
            OBJECT,
            query=(
                Param("profile", NAME, required=True),
                Param("baseline", POSITIVE, "the score run before", required=True),
                Param("followup", POSITIVE, "the score run after (the latest by default)"),
            ),
        ),
        "programs_api.import_register": Operation(
            obj(("links",), links=LINKS),
            success=201,
            also={200: "a dry run: the counts, nothing written"},
            body=_register_upload_body(),
            body_media="multipart/form-data",
            errors=(409, 413),
        ),
    }


# --- the document ---------------------------------------------------------------------------


def openapi_path(rule: str) -> str:
    """A werkzeug rule as an OpenAPI path: ``<int:z>`` becomes ``{z}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def api_rules(app: Flask) -> list[tuple[str, str, str]]:
    """Every ``(METHOD, rule, endpoint)`` of the JSON API, in path order."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, rule.rule, rule.endpoint))
    return sorted(found, key=lambda item: (item[1], item[0]))


def _path_parameters(rule: str, overrides: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for converter, name in re.findall(r"<(?:([^:<>]+):)?([^<>]+)>", rule):
        if converter == "int":
            schema: dict[str, Any] = {"type": "integer", "minimum": 0}
        elif name == "workspace":
            schema = NAME
        else:
            schema = {"type": "string", "pattern": "^[^/]+$"}
        out.append(
            {"name": name, "in": "path", "required": True, "schema": overrides.get(name, schema)}
        )
    return out


def _summary(app: Flask, endpoint: str) -> tuple[str, str]:
    """The view's docstring: its first line and the rest."""
    doc = (app.view_functions[endpoint].__doc__ or "").strip()
    if not doc:
        raise UndescribedRouteError(f"the view of {endpoint} has no docstring")
    first, _, rest = doc.partition("\n\n")
    return " ".join(first.split()), rest.strip()


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _operation(app: Flask, method: str, rule: str, endpoint: str, op: Operation) -> dict[str, Any]:
    from geoapp.auth import access_of

    declared = access_of(app, endpoint)
    if declared is None:
        raise UndescribedRouteError(f"{endpoint} declares no access")
    level, public_link = declared
    summary, description = _summary(app, endpoint)
    parameters = _path_parameters(rule, op.path) + [p.to_dict() for p in op.query]
    out: dict[str, Any] = {
        "operationId": f"{endpoint}.{method.lower()}",
        "summary": summary,
        "tags": [endpoint.split(".", 1)[0]],
        "x-access": {"level": level, "public_link": public_link},
        "parameters": parameters,
    }
    if description:
        out["description"] = description
    if op.body is not None:
        out["requestBody"] = {
            "required": op.body_required,
            "content": {op.body_media: {"schema": op.body}},
        }
    if level == "public":
        out["security"] = []
    elif method in UNSAFE:
        out["security"] = [{"session": [], "csrf": []}]
    else:
        out["security"] = [{"session": []}]
    responses: dict[str, Any] = {}
    if op.success == 204:
        responses["204"] = {"description": "Done; no content"}
    elif op.response is not None:
        content = {op.media: {"schema": op.response}}
        responses[str(op.success)] = {"description": "Success", "content": content}
    else:
        responses[str(op.success)] = {
            "description": "Success",
            "content": {op.media: {"schema": {"type": "string"}}},
        }
    for status, text in op.also.items():
        if status in (200, 201) and op.response is not None:
            content = {op.media: {"schema": op.response}}
            responses[str(status)] = {"description": text, "content": content}
        else:
            responses[str(status)] = {"description": text}
    errors = set(op.errors)
    if level != "public":
        errors |= {401, 403, 503}
    if "<workspace>" in rule or any(p["in"] == "path" for p in parameters):
        errors.add(404)
    if op.query or op.body is not None or method in UNSAFE or parameters:
        errors.add(400)
    for status in sorted(errors):
        responses[str(status)] = {"description": ERROR_TEXTS[status], "content": _json(ERROR_REF)}
    out["responses"] = responses
    return out


def _components(app: Flask) -> dict[str, Any]:
    return {
        "schemas": {
            "Error": closed(
                ("error",),
                error=closed(
                    ("status", "code", "message", "details"),
                    status={"type": "integer", "minimum": 400, "maximum": 599},
                    code={"type": "string", "description": "stable, machine-readable"},
                    message={"type": "string", "description": "in the request's language"},
                    details={"type": "object"},
                ),
            )
        },
        "securitySchemes": {
            "session": {
                "type": "apiKey",
                "in": "cookie",
                "name": app.config.get("SESSION_COOKIE_NAME") or "session",
                "description": "the signed session cookie set at /auth/login",
            },
            "csrf": {
                "type": "apiKey",
                "in": "header",
                "name": "X-CSRFToken",
                "description": "the session's CSRF token, needed by POST, PUT, PATCH, DELETE",
            },
        },
    }


def build_document(app: Flask, table: dict[str, Operation] | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every ``/api`` route of ``app``.

    ``table`` (:func:`operations` by default) describes each endpoint; a route whose
    endpoint has no entry raises :class:`UndescribedRouteError`.
    """
    from layers import __version__

    table = operations() if table is None else table
    paths: dict[str, dict[str, Any]] = {}
    missing = sorted({endpoint for _, _, endpoint in api_rules(app)} - set(table))
    if missing:
        raise UndescribedRouteError(
            "these /api routes have no entry in geoapp.openapi: " + ", ".join(missing)
        )
    for method, rule, endpoint in api_rules(app):
        item = paths.setdefault(openapi_path(rule), {})
        item[method.lower()] = _operation(app, method, rule, endpoint, table[endpoint])
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Jangkau JSON API",
            "version": __version__,
            "description": (
                "Workspaces, datasets, the map, scenarios, programs and coverage. Every error "
                'has one shape: {"error": {"status", "code", "message", "details"}}. '
                "See docs/api.md."
            ),
        },
        "paths": paths,
        "components": _components(app),
    }
