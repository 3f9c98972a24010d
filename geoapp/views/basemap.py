"""The local background map: tiles of the MBTiles file named by ``BASEMAP_MBTILES``."""

from __future__ import annotations

import threading

from flask import Blueprint, Flask, Response, current_app

from geoapp.auth import requires
from geoapp.errors import BadRequestError, ResourceNotFoundError
from layers.errors import N_, InputError

bp = Blueprint("basemap", __name__)

_lock = threading.Lock()


def mbtiles(app: Flask):
    """The app's MBTiles basemap, opened once."""
    from layers.mbtiles import MBTiles

    with _lock:
        source = app.extensions.get("jangkau_basemap")
        if source is None:
            source = MBTiles(app.config["BASEMAP_MBTILES"])
            app.extensions["jangkau_basemap"] = source
    return source


@bp.get("/api/basemap/<int:z>/<int:x>/<int:y>")
@requires("public")
def tile(z: int, x: int, y: int) -> Response:
    """Serve one tile of the local basemap."""
    if current_app.config.get("BASEMAP") != "mbtiles":
        raise ResourceNotFoundError(N_("no local background map is configured (BASEMAP)"))
    source = mbtiles(current_app)
    try:
        data = source.tile(z, x, y)
    except InputError as exc:
        raise BadRequestError(exc.template, details={"reason": str(exc)}, **exc.params) from None
    if data is None:
        return Response(status=204)
    response = Response(data, mimetype=source.content_type)
    response.headers["Cache-Control"] = "max-age=86400"
    return response
