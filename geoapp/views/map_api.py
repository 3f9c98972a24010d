"""The map's JSON API under ``/api/workspaces/<ws>``: values, tiles, details, points, sharing.

Each view parses the request, calls one function of :mod:`layers.mapdata` and renders its
answer. Errors use the one shape of :mod:`geoapp.errors`: the core's
:class:`~layers.errors.InputError` becomes 400 ``bad_request`` and its
:class:`~layers.errors.NotFoundError` 404 ``not_found``, with the message in the request's
language.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask_babel import gettext

from geoapp import catalogue
from geoapp.auth import actor, requires
from geoapp.errors import BadRequestError, handle_app_error
from geoapp.store import get_store
from layers.errors import InputError, JangkauError
from layers.report import N_

if TYPE_CHECKING:
    from layers.mapdata import MapEvent

bp = Blueprint("map_api", __name__, url_prefix="/api")

#: How long one events stream stays open, and how often it asks the store, in seconds.
EVENTS_SECONDS = 25.0
EVENTS_INTERVAL = 1.0
#: How long the browser waits before reconnecting to a closed events stream, in ms.
EVENTS_RETRY_MS = 1000
#: Browser caching of a tile whose URL names the data version (``?v=``), in seconds.
TILE_MAX_AGE = 7 * 24 * 3600


class CoreInputError(BadRequestError):
    """A :class:`~layers.errors.InputError` of the core, as a 400 in the app's shape."""

    def __init__(self, exc: JangkauError) -> None:
        super().__init__(exc.template, details={"reason": str(exc)})
        self.exc = exc

    def render(self, translate: Callable[[str], str]) -> str:
        """The core's message (and where) in the language of ``translate``."""
        return self.exc.render(translate)


@bp.errorhandler(InputError)
def _input_error(exc: InputError) -> Response:
    return handle_app_error(CoreInputError(exc))


def _mapdata():
    """:mod:`layers.mapdata`, imported on first use (it loads geopandas)."""
    from layers import mapdata

    return mapdata


def _required(name: str) -> str:
    value = request.args.get(name, "")
    if not value.strip():
        raise BadRequestError(
            N_("The parameter %(parameter)s is required."),
            details={"parameter": name},
            parameter=name,
        )
    return value


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequestError(
            N_("The request body must be a JSON object (Content-Type: application/json).")
        )
    return data


@bp.get("/workspaces/<workspace>/map/values")
@requires("viewer", public_link=True)
def values(workspace: str):
    """Legend, run and tile key of the villages' values (``?profile=``, ``?indicator=``)."""
    result = _mapdata().map_values(
        get_store(), workspace, _required("profile"), request.args.get("indicator") or None
    )
    return jsonify(result.to_dict(gettext))


@bp.get("/workspaces/<workspace>/tiles/villages/<int:z>/<int:x>/<int:y>.pbf")
@requires("viewer", public_link=True)
def village_tile(workspace: str, z: int, x: int, y: int):
    """A Mapbox Vector Tile of the villages (``?profile=``, ``?indicator=``, ``?v=``)."""
    tile = _mapdata().village_tile(
        get_store(),
        workspace,
        _required("profile"),
        request.args.get("indicator") or None,
        z,
        x,
        y,
        cache_dir=Path(current_app.instance_path) / "tiles",
    )
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        response = Response(tile.gzipped, mimetype="application/x-protobuf")
        response.headers["Content-Encoding"] = "gzip"
        response.set_etag(tile.etag + "-gz")
    else:
        response = Response(tile.data, mimetype="application/x-protobuf")
        response.set_etag(tile.etag)
    response.vary.add("Accept-Encoding")
    if request.args.get("v") == tile.version:  # the URL changes with the data
        response.headers["Cache-Control"] = f"public, max-age={TILE_MAX_AGE}, immutable"
    else:
        response.headers["Cache-Control"] = "no-cache"
    return response.make_conditional(request)


@bp.get("/workspaces/<workspace>/villages/<kode>")
@requires("viewer", public_link=True)
def village(workspace: str, kode: str):
    """One village's score explained, with its codes and counts (``?profile=``)."""
    detail = _mapdata().village_detail(
        get_store(), workspace, _required("profile"), kode, gettext=gettext
    )
    return jsonify(detail)


@bp.get("/workspaces/<workspace>/search")
@requires("viewer", public_link=True)
def search(workspace: str):
    """Villages by code prefix or part of the name (``?q=``, ``?limit=`` up to 100)."""
    limit = catalogue.parse_positive_int("limit", request.args.get("limit")) or 20
    found = _mapdata().search_villages(get_store(), workspace, _required("q"), limit)
    return jsonify({"workspace": workspace, "villages": found})


@bp.get("/workspaces/<workspace>/outlines/<level>")
@requires("viewer", public_link=True)
def outlines(workspace: str, level: str):
    """Kecamatan or kabupaten outlines as GeoJSON."""
    return jsonify(_mapdata().area_outlines(get_store(), workspace, level))


@bp.get("/workspaces/<workspace>/points/<layer>")
@requires("viewer", public_link=True)
def points(workspace: str, layer: str):
    """Facilities or needs in ``?bbox=minx,miny,maxx,maxy`` as GeoJSON (``?limit=``)."""
    limit = catalogue.parse_positive_int("limit", request.args.get("limit"))
    options = {} if limit is None else {"limit": limit}
    found = _mapdata().points_geojson(get_store(), workspace, layer, _required("bbox"), **options)
    return jsonify(found)


@bp.get("/workspaces/<workspace>/annotations")
@requires("viewer", public_link=True)
def annotations(workspace: str):
    """The annotations, oldest first; ``?since=`` (ISO time) for the newer ones only."""
    found = _mapdata().list_annotations(get_store(), workspace, request.args.get("since") or None)
    return jsonify({"workspace": workspace, "annotations": found})


@bp.post("/workspaces/<workspace>/annotations")
@requires("commenter")
def add_annotation(workspace: str):
    """Save an annotation by the signed-in account: JSON ``geometry``, ``note``, ``kode``."""
    body = _body()
    saved = _mapdata().add_annotation(
        get_store(),
        workspace,
        body.get("geometry"),
        body.get("note", ""),
        actor(),  # the signed-in account, whatever the body says
        body.get("kode"),
    )
    return jsonify(saved), 201


@bp.get("/workspaces/<workspace>/presenter")
@requires("viewer", public_link=True)
def presenter(workspace: str):
    """The presenter's latest view, or null."""
    return jsonify({"presenter": _mapdata().get_presenter_view(get_store(), workspace)})


@bp.put("/workspaces/<workspace>/presenter")
@requires("editor")
def set_presenter(workspace: str):
    """Save the presenter's view (JSON ``view``) as the signed-in account's."""
    body = _body()
    saved = _mapdata().set_presenter_view(get_store(), workspace, body.get("view"), actor())
    return jsonify(saved)


def _sse(event: MapEvent) -> str:
    data = json.dumps(event.data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event.id}\nevent: {event.name}\ndata: {data}\n\n"


@bp.get("/workspaces/<workspace>/events")
@requires("viewer", public_link=True)
def events(workspace: str):
    """Server-Sent Events: new annotations and presenter views for about 25 seconds."""
    stream = _mapdata().map_events(
        get_store(),
        workspace,
        last_event_id=request.headers.get("Last-Event-ID"),
        since=request.args.get("since") or None,
        seconds=EVENTS_SECONDS,
        interval=EVENTS_INTERVAL,
    )
    first = next(stream)  # checks the workspace and ``since`` before the answer starts

    def body() -> Iterator[str]:
        yield f"retry: {EVENTS_RETRY_MS}\n" + _sse(first)
        for event in stream:
            yield _sse(event)

    return Response(
        body(),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
