"""What every open copy of the map shares: annotations, the presenter's view, and events.

Annotations (a point, line or area drawn on the map with a note) are records of the
``annotations`` collection, one per annotation, named by a random UUID. The presenter's
view is the record ``presenter`` of the ``map_state`` collection; each change is a new
version. :func:`map_events` polls both and yields what changed, for a Server-Sent Events
stream or any other push.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import shapely
import shapely.geometry

from layers.errors import N_, InputError, NotFoundError
from layers.mapdata.cache import check_profile_name, latest_villages
from layers.storage import RecordVersion, Store

__all__ = [
    "ANNOTATIONS",
    "GEOMETRY_TYPES",
    "MAP_STATE",
    "MapEvent",
    "add_annotation",
    "get_presenter_view",
    "list_annotations",
    "map_events",
    "parse_since",
    "set_presenter_view",
]

#: Record collection of the annotations.
ANNOTATIONS = "annotations"
#: Record collection of the shared map state; the presenter's view is record ``presenter``.
MAP_STATE = "map_state"
PRESENTER = "presenter"
#: Geometry types an annotation may have.
GEOMETRY_TYPES = ("Point", "LineString", "Polygon")
#: Longest note, author name and vertex count of an annotation.
MAX_NOTE = 2000
MAX_AUTHOR = 100
MAX_VERTICES = 5000
#: Keys of a presenter view: those required, and all allowed.
VIEW_REQUIRED = ("center", "zoom")
VIEW_KEYS = ("center", "zoom", "profile", "indicator", "layers", "kode", "kec")
MAX_LAYERS = 32
#: Annotations saved up to this long before the newest one seen are looked at again (a
#: save that committed late is not missed; events already sent are not sent twice).
OVERLAP = timedelta(seconds=2)


# --- annotations -------------------------------------------------------------------------


def _geometry(geometry: object) -> dict[str, Any]:
    """A checked GeoJSON geometry in longitude/latitude, two-dimensional."""
    if not isinstance(geometry, dict) or geometry.get("type") not in GEOMETRY_TYPES:
        found = geometry.get("type") if isinstance(geometry, dict) else type(geometry).__name__
        raise InputError(
            N_("an annotation's geometry must be a GeoJSON %(allowed)s, not %(found)r"),
            params={"allowed": ", ".join(GEOMETRY_TYPES), "found": found},
        )
    try:
        shape = shapely.geometry.shape(geometry)
    except Exception as exc:  # shapely raises many kinds for malformed coordinates
        raise InputError(
            N_("the annotation's %(type)s coordinates cannot be read: %(reason)s"),
            params={"type": geometry["type"], "reason": str(exc) or type(exc).__name__},
        ) from None
    coords = shapely.get_coordinates(shape)
    if shape.is_empty or coords.size == 0:
        raise InputError(N_("the annotation's geometry is empty"))
    if len(coords) > MAX_VERTICES:
        raise InputError(
            N_("the annotation has %(count)s points; at most %(maximum)s are allowed"),
            params={"count": len(coords), "maximum": MAX_VERTICES},
        )
    x, y = coords[:, 0], coords[:, 1]
    if not (
        all(math.isfinite(v) for v in (x.min(), x.max(), y.min(), y.max()))
        and x.min() >= -180
        and x.max() <= 180
        and y.min() >= -90
        and y.max() <= 90
    ):
        raise InputError(
            N_(
                "the annotation's coordinates must be longitude -180 to 180 and latitude "
                "-90 to 90 (GeoJSON order: longitude first)"
            )
        )
    if not shape.is_valid:
        raise InputError(
            N_("the annotation's %(type)s is not valid: %(reason)s"),
            params={"type": geometry["type"], "reason": shapely.is_valid_reason(shape)},
        )
    return shapely.geometry.mapping(shapely.force_2d(shape))


def _plain_geometry(mapping: Any) -> Any:
    """Tuples of the shapely mapping as lists, floats as floats (a record holds JSON)."""
    if isinstance(mapping, dict):
        return {k: _plain_geometry(v) for k, v in mapping.items()}
    if isinstance(mapping, list | tuple):
        return [_plain_geometry(v) for v in mapping]
    return float(mapping) if isinstance(mapping, int | float) else mapping


def _annotation(record: RecordVersion) -> dict[str, Any]:
    body = record.body
    return {
        "id": record.name,
        "geometry": body.get("geometry"),
        "note": body.get("note", ""),
        "author": body.get("author"),
        "kode": body.get("kode"),
        "created_at": record.created_at.isoformat(),
    }


def _author(author: object) -> str:
    if not isinstance(author, str) or not author.strip():
        raise InputError(N_("say who you are: the author's name is required"))
    author = author.strip()
    if len(author) > MAX_AUTHOR:
        raise InputError(
            N_("the author's name has %(count)s characters; at most %(maximum)s are allowed"),
            params={"count": len(author), "maximum": MAX_AUTHOR},
        )
    return author


def add_annotation(
    store: Store,
    workspace: str,
    geometry: dict[str, Any],
    note: str,
    author: str,
    kode: str | None = None,
) -> dict[str, Any]:
    """Save an annotation drawn on the map.

    Parameters
    ----------
    store : Store
        The store.
    workspace : str
        Workspace name.
    geometry : dict
        GeoJSON Point, LineString or Polygon in longitude/latitude (EPSG:4326), at most
        :data:`MAX_VERTICES` points; a polygon must be valid (not crossing itself).
    note : str
        Free text, at most :data:`MAX_NOTE` characters (may be empty).
    author : str
        Who drew it (required, at most :data:`MAX_AUTHOR` characters).
    kode : str, optional
        The village it is about (a code of the workspace's latest villages; empty text
        counts as none).

    Returns
    -------
    dict
        ``id`` (UUID text), ``geometry``, ``note``, ``author``, ``kode`` and
        ``created_at`` (ISO, UTC).

    Raises
    ------
    InputError
        For anything above that does not hold.
    NotFoundError
        For an unknown workspace.
    """
    shape = _plain_geometry(_geometry(geometry))
    if not isinstance(note, str):
        raise InputError(
            N_("an annotation's note must be text, not %(found)s"),
            params={"found": type(note).__name__},
        )
    if len(note) > MAX_NOTE:
        raise InputError(
            N_("the note has %(count)s characters; at most %(maximum)s are allowed"),
            params={"count": len(note), "maximum": MAX_NOTE},
        )
    author = _author(author)
    store.get_workspace(workspace)
    kode = kode or None  # a form's empty field
    if kode is not None and (
        not isinstance(kode, str) or kode not in latest_villages(store, workspace).positions
    ):
        raise InputError(
            N_("no village with code %(kode)r in workspace %(workspace)s"),
            params={"kode": kode, "workspace": workspace},
        )
    name = str(uuid.uuid4())
    body = {"geometry": shape, "note": note, "author": author, "kode": kode}
    record = store.put_record(workspace, ANNOTATIONS, name, body, created_by=author)
    return _annotation(record)


def parse_since(since: datetime | str | None) -> datetime | None:
    """``since`` as an aware UTC time (a time without zone counts as UTC).

    Raises
    ------
    InputError
        For text that is not an ISO 8601 date and time.
    """
    if since is None or isinstance(since, datetime):
        when = since
    else:
        text = str(since).strip().replace(" ", "+")  # '+' arrives as a space in a URL
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(
                N_("since must be a date and time like 2025-06-30T10:15:00Z, not %(value)r"),
                params={"value": since},
            ) from None
    if when is not None:
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when


def list_annotations(
    store: Store, workspace: str, since: datetime | str | None = None
) -> list[dict[str, Any]]:
    """The workspace's annotations, oldest first; only those saved after ``since`` if given.

    Parameters
    ----------
    store : Store
        The store.
    workspace : str
        Workspace name.
    since : datetime or str, optional
        Only annotations whose ``created_at`` (UTC) is later than this (ISO text
        accepted; a time without zone counts as UTC).

    Returns
    -------
    list of dict
        As :func:`add_annotation` returns them.

    Raises
    ------
    InputError
        For a ``since`` that is not a date and time.
    NotFoundError
        For an unknown workspace.
    """
    when = parse_since(since)
    records = store.list_records(workspace, ANNOTATIONS)
    if when is not None:
        records = [r for r in records if r.created_at > when]
    records.sort(key=lambda r: (r.created_at, r.name))
    return [_annotation(r) for r in records]


# --- presenter ---------------------------------------------------------------------------


def _number(value: object, what: str, low: float, high: float) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or not low <= float(value) <= high:  # type: ignore[arg-type]
        raise InputError(
            N_("the view's %(what)s must be a number from %(low)s to %(high)s, not %(value)r"),
            params={"what": what, "low": low, "high": high, "value": value},
        )
    return float(value)  # type: ignore[arg-type]


def _optional_name(view: dict[str, Any], key: str) -> str | None:
    value = view.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 128:
        raise InputError(
            N_("the view's %(what)s must be text of at most 128 characters, not %(value)r"),
            params={"what": key, "value": value},
        )
    return value


def _view(view: object) -> dict[str, Any]:
    """A checked presenter view."""
    if not isinstance(view, dict):
        raise InputError(
            N_("the presenter's view must be an object with %(keys)s, not %(found)s"),
            params={"keys": ", ".join(VIEW_KEYS), "found": type(view).__name__},
        )
    unknown = sorted(set(view) - set(VIEW_KEYS))
    missing = [k for k in VIEW_REQUIRED if k not in view]
    if unknown or missing:
        raise InputError(
            N_(
                "the presenter's view needs %(required)s and may have %(keys)s; "
                "missing: %(missing)s; unknown: %(unknown)s"
            ),
            params={
                "required": ", ".join(VIEW_REQUIRED),
                "keys": ", ".join(VIEW_KEYS),
                "missing": ", ".join(missing) or "-",
                "unknown": ", ".join(map(str, unknown)) or "-",
            },
        )
    center = view["center"]
    if not isinstance(center, list | tuple) or len(center) != 2:
        raise InputError(
            N_("the view's center must be [latitude, longitude], not %(value)r"),
            params={"value": center},
        )
    lat = _number(center[0], "latitude", -90, 90)
    lon = _number(center[1], "longitude", -180, 180)
    zoom = _number(view["zoom"], "zoom", 0, 22)
    profile = _optional_name(view, "profile")
    if profile is not None:
        check_profile_name(profile)
    layers = view.get("layers") or []
    if (
        not isinstance(layers, list | tuple)
        or len(layers) > MAX_LAYERS
        or not all(isinstance(x, str) and 0 < len(x) <= 64 for x in layers)
    ):
        raise InputError(
            N_("the view's layers must be a list of at most %(maximum)s names, not %(value)r"),
            params={"maximum": MAX_LAYERS, "value": layers},
        )
    return {
        "center": [lat, lon],
        "zoom": zoom,
        "profile": profile,
        "indicator": _optional_name(view, "indicator"),
        "layers": list(layers),
        "kode": _optional_name(view, "kode"),
        "kec": _optional_name(view, "kec"),
    }


def _presenter(record: RecordVersion) -> dict[str, Any]:
    return {
        "view": record.body.get("view"),
        "author": record.body.get("author"),
        "updated_at": record.created_at.isoformat(),
        "version": record.version,
    }


def set_presenter_view(
    store: Store, workspace: str, view: dict[str, Any], author: str
) -> dict[str, Any]:
    """Save the presenter's view, for every copy of the map that follows the presenter.

    Parameters
    ----------
    store : Store
        The store.
    workspace : str
        Workspace name.
    view : dict
        ``center`` ([latitude, longitude]) and ``zoom`` (0-22), optionally ``profile``,
        ``indicator``, ``layers`` (list of layer names), ``kode`` (the village open in
        the side panel) and ``kec`` (the kecamatan filter).
    author : str
        Who presents.

    Returns
    -------
    dict
        ``view`` (as saved, every key present), ``author``, ``updated_at`` (ISO, UTC) and
        ``version`` (1, 2, ... one per change).

    Raises
    ------
    InputError
        For a view or author that does not hold.
    NotFoundError
        For an unknown workspace.
    """
    checked = _view(view)
    author = _author(author)
    record = store.put_record(
        workspace, MAP_STATE, PRESENTER, {"view": checked, "author": author}, created_by=author
    )
    return _presenter(record)


def _latest_presenter(store: Store, workspace: str) -> RecordVersion | None:
    found = [r for r in store.list_records(workspace, MAP_STATE) if r.name == PRESENTER]
    return found[0] if found else None


def get_presenter_view(store: Store, workspace: str) -> dict[str, Any] | None:
    """The presenter's latest view (as :func:`set_presenter_view` returns it), or None.

    Raises
    ------
    NotFoundError
        For an unknown workspace.
    """
    record = _latest_presenter(store, workspace)
    return None if record is None else _presenter(record)


# --- events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MapEvent:
    """One event for the open copies of the map.

    Attributes
    ----------
    name : str
        ``ready`` (the stream is open), ``annotation`` or ``presenter``.
    id : str
        Cursor after this event: given back (``Last-Event-ID``), the next stream starts
        from here.
    data : dict
        The annotation, the presenter's view, or for ``ready`` the cursor.
    """

    name: str
    id: str
    data: dict[str, Any]


def _cursor_text(since: datetime, presenter: int) -> str:
    return f"{since.isoformat()}|{presenter}"


def _parse_cursor(text: str | None) -> tuple[datetime, int] | None:
    """A cursor given back by a client, or None when it is not one of ours."""
    if not text or "|" not in text:
        return None
    when, _, version = text.rpartition("|")
    try:
        since = parse_since(when)
        presenter = int(version)
    except (InputError, ValueError):
        return None
    return (since, presenter) if since is not None and presenter >= 0 else None


def map_events(
    store: Store,
    workspace: str,
    *,
    last_event_id: str | None = None,
    since: datetime | str | None = None,
    seconds: float = 25.0,
    interval: float = 1.0,
    overlap: timedelta = OVERLAP,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[MapEvent]:
    """New annotations and presenter views, polled from the store for a while.

    The first event, ``ready``, comes at once (after the workspace is checked, so a
    caller can take it before it starts answering); then every ``interval`` seconds the
    store is asked for annotations saved since the cursor and for a presenter view newer
    than the cursor's, until ``seconds`` have passed. A client that reconnects with the
    last event's ``id`` misses nothing; annotations may come twice around a reconnection
    (:data:`OVERLAP`), so clients keep them by ``id``.

    Parameters
    ----------
    store : Store
        The store.
    workspace : str
        Workspace name.
    last_event_id : str, optional
        The ``id`` of the last event the client received (a cursor of this function;
        anything else is ignored).
    since : datetime or str, optional
        Without ``last_event_id``: send annotations saved after this time (default: now).
        The presenter's view is sent when it changes after the start.
    seconds : float
        How long to poll before the iterator ends.
    interval : float
        Seconds between polls.
    overlap : timedelta
        How far before the cursor to look again (:data:`OVERLAP`).
    clock, sleep : callable
        Time source and sleep (for tests).

    Yields
    ------
    MapEvent

    Raises
    ------
    InputError
        For a ``since`` that is not a date and time.
    NotFoundError
        For an unknown workspace (before the first event).
    """
    cursor = _parse_cursor(last_event_id)
    store.get_workspace(workspace)
    if cursor is None:
        start = parse_since(since) or datetime.now(UTC)
        record = _latest_presenter(store, workspace)
        cursor = (start, 0 if record is None else record.version)
    newest, presenter = cursor
    end = clock() + seconds
    yield MapEvent("ready", _cursor_text(newest, presenter), {"cursor": newest.isoformat()})
    sent: dict[str, datetime] = {}
    while True:
        try:
            annotations = store.list_records(workspace, ANNOTATIONS)
            record = _latest_presenter(store, workspace)
        except NotFoundError:  # the workspace was deleted meanwhile
            return
        fresh = sorted(
            (r for r in annotations if r.created_at > newest - overlap and r.name not in sent),
            key=lambda r: (r.created_at, r.name),
        )
        for r in fresh:
            newest = max(newest, r.created_at)
            sent[r.name] = r.created_at
            yield MapEvent("annotation", _cursor_text(newest, presenter), _annotation(r))
        if record is not None and record.version > presenter:
            presenter = record.version
            yield MapEvent("presenter", _cursor_text(newest, presenter), _presenter(record))
        sent = {k: v for k, v in sent.items() if v > newest - overlap}
        if clock() >= end:
            return
        sleep(max(0.0, min(interval, end - clock())))
