"""Who may do what, through the Flask test client over real SQLite stores: every route with
every kind of visitor, CSRF, signing in, sessions, the first administrator, invitations,
public map links, the audit trail and two editors changing the same program."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest

from tests.geoapp.auth_support import TEST_PASSWORD, TEST_USER
from tests.geoapp.conftest import open_demo_app

WS = "merangin"
OTHER = "kosong"
KODE = "15.02.01.2001"

#: The least each route needs, decided from what the route does (not read from the
#: declarations): ``(level, opens for a public map link)``. A route missing here fails
#: :func:`test_the_table_lists_every_route`.
EXPECTED: dict[str, tuple[str, bool]] = {
    # signing in, invitations, public links: before any account
    "static": ("public", False),
    "auth.login": ("public", False),
    "auth.logout": ("public", False),
    "auth.setup": ("public", False),
    "auth.invite": ("public", False),
    "auth.public_link": ("public", False),
    "basemap.tile": ("public", False),  # background tiles, no workspace data
    "openapi.document": ("public", False),  # the API's description, no data
    # any account
    "pages.index": ("signed_in", False),
    "api.index": ("signed_in", False),
    "api.workspaces": ("signed_in", False),
    "auth.account": ("signed_in", False),
    # installation administrators
    "admin.users": ("superuser", False),
    "admin.all_audit": ("superuser", False),
    # a workspace's administrators: roles, links, settings
    "admin.access": ("admin", False),
    # who changed what in the workspace: editors and up, never viewers
    "admin.workspace_audit": ("editor", False),
    "admin.audit_export": ("editor", False),
    "admin.audit_api": ("editor", False),
    # the map and its read APIs: viewers, and public map links
    "map_page.map_page": ("viewer", True),
    "map_api.values": ("viewer", True),
    "map_api.village_tile": ("viewer", True),
    "map_api.village": ("viewer", True),
    "map_api.search": ("viewer", True),
    "map_api.outlines": ("viewer", True),
    "map_api.points": ("viewer", True),
    "map_api.annotations": ("viewer", True),
    "map_api.presenter": ("viewer", True),
    "map_api.events": ("viewer", True),
    # writing on the map
    "map_api.add_annotation": ("commenter", False),
    "map_api.set_presenter": ("editor", False),
    # reading the workspace
    "pages.workspace": ("viewer", False),
    "pages.dataset": ("viewer", False),
    "pages.report": ("viewer", False),
    "api.workspace": ("viewer", False),
    "api.datasets": ("viewer", False),
    "api.dataset": ("viewer", False),
    "api.report": ("viewer", False),
    "coverage.coverage_page": ("viewer", False),
    "coverage.export": ("viewer", False),
    "coverage.partner": ("viewer", False),
    "coverage_api.coverage": ("viewer", False),
    "coverage_api.timeseries": ("viewer", False),
    "coverage_api.village_needs": ("viewer", False),
    "exports.workspace_gpkg": ("viewer", False),
    "exports.layer": ("viewer", False),
    "exports.html_map": ("viewer", False),
    "map_export.export_map": ("viewer", False),
    "programs.index": ("viewer", False),
    "programs.program": ("viewer", False),
    "programs.export": ("viewer", False),
    "programs_api.programs": ("viewer", False),
    "programs_api.program": ("viewer", False),
    "programs_api.change": ("viewer", False),
    "scenarios.index": ("viewer", False),
    "scenarios.result": ("viewer", False),
    "scenarios.export": ("viewer", False),
    "scenarios.compare": ("viewer", False),
    "scenarios_api.scenarios": ("viewer", False),
    "scenarios_api.scenario": ("viewer", False),
    "scenarios_api.compare": ("viewer", False),
    "report_export.scenario_report": ("viewer", False),
    "report_export.village_profile": ("viewer", False),
    # changing the workspace
    "uploads.import_dataset": ("editor", False),
    "programs_api.import_register": ("editor", False),
    "programs_api.create": ("editor", False),
    "programs_api.update": ("editor", False),
    "programs_api.assign": ("editor", False),
    "programs_api.log_activity": ("editor", False),
    "coverage_api.verify_need": ("editor", False),
    "coverage_api.link_need": ("editor", False),
    "coverage_api.close_need": ("editor", False),
    "scenarios_api.create": ("editor", False),
    "scenarios_api.delete": ("editor", False),
}

#: Each kind of visitor: its account (None: none), installation administrator, roles, and
#: whether merangin lets viewers comment.
ACTORS: dict[str, dict] = {
    "anonymous": {"user": None},
    "public_link": {"user": None, "link": True},
    "viewer": {"user": "vera", "roles": {WS: "viewer"}},
    "viewer_commenting": {"user": "vera", "roles": {WS: "viewer"}, "comment": True},
    "editor": {"user": "edi", "roles": {WS: "editor"}},
    "workspace_admin": {"user": "ada", "roles": {WS: "admin"}},
    "other_editor": {"user": "otto", "roles": {OTHER: "editor"}},
    "superuser": {"user": TEST_USER, "is_admin": True},
}
#: Each actor's role in merangin.
ROLE = {
    "viewer": "viewer",
    "viewer_commenting": "viewer",
    "editor": "editor",
    "workspace_admin": "admin",
    "superuser": "admin",
}
RANK = {None: 0, "viewer": 1, "editor": 2, "admin": 3}
SIGNED_IN = {name for name, actor in ACTORS.items() if actor["user"] is not None}


def expected_allowed(level: str, public_link: bool, actor: str) -> bool:
    """What the table says ``actor`` may do on a merangin route of ``level``."""
    rank = RANK[ROLE.get(actor)]
    if level == "public":
        return True
    if level == "signed_in":
        return actor in SIGNED_IN
    if level == "superuser":
        return actor == "superuser"
    if level == "viewer":
        return rank >= 1 or (public_link and actor == "public_link")
    if level == "commenter":
        return rank >= 2 or (actor == "viewer_commenting")
    if level == "editor":
        return rank >= 2
    if level == "admin":
        return rank >= 3
    raise AssertionError(level)


#: Path values of the sample requests (a 404 or 400 answer is fine: only access matters).
SAMPLE = {
    "workspace": WS,
    "kode": KODE,
    "program_id": "P-none",
    "need_id": "N-none",
    "level": "kecamatan",
    "layer": "facilities",
    "token": "no-such-token",
    "filename": "podes.csv",
    "filename_path": "css/jangkau.css",
    "z": "10",
    "x": "812",
    "y": "519",
}
#: ``<name>`` by endpoint: a dataset or a (made-up) scenario.
NAME = {
    "api.dataset": "villages",
    "api.report": "villages",
    "pages.dataset": "villages",
    "pages.report": "villages",
}
FMT = {"admin.audit_export": "csv", "map_export.export_map": "bmp"}
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def sample_path(rule) -> str:
    """The rule's path with sample values."""

    def value(match: re.Match) -> str:
        converter, name = match.group(1), match.group(2)
        if name == "name":
            return NAME.get(rule.endpoint, "no-such-scenario")
        if name == "fmt":
            return FMT[rule.endpoint]
        if converter == "path":
            return SAMPLE["filename_path"]
        return SAMPLE[name]

    return re.sub(r"<(?:(\w+):)?(\w+)>", value, rule.rule)


def rules_of(app) -> list:
    return sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))


def form_token(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def refresh_token(client, page: str = "/login") -> None:
    """Send the CSRF token of the client's current session (it changes on signing in)."""
    got = client.get(page)
    client.environ_base["HTTP_X_CSRFTOKEN"] = form_token(got.get_data(as_text=True))


def anonymous(app, address: str = "127.0.0.1"):
    """An anonymous client holding a session with a CSRF token (sent as the header)."""
    client = app.test_client(user=None)
    client.environ_base["REMOTE_ADDR"] = address
    got = client.get("/login")
    assert got.status_code == 200
    client.environ_base["HTTP_X_CSRFTOKEN"] = form_token(got.get_data(as_text=True))
    return client


def make_link(app, workspace: str = WS, label: str = "kantor camat") -> str:
    from geoapp.store import get_store
    from layers.accounts import Accounts

    token, _ = Accounts(get_store(app)).make_public_link(workspace, label=label, created_by="t")
    return token


def visitor(app, token: str):
    """An anonymous client that opened the public map link ``token``."""
    client = anonymous(app)
    got = client.get(f"/p/{token}")
    assert got.status_code == 302
    assert urlsplit(got.headers["Location"]).path == f"/workspaces/{WS}/map"
    return client


def client_of(app, actor: str, link: str | None = None):
    """A fresh client of ``actor`` (see :data:`ACTORS`), CSRF header included."""
    spec = ACTORS[actor]
    if spec.get("link"):
        return visitor(app, link)
    if spec["user"] is None:
        return anonymous(app)
    client = app.test_client(
        user=spec["user"], is_admin=spec.get("is_admin", False), roles=spec.get("roles")
    )
    client.sign_in()
    return client


def send(client, method: str, path: str):
    """One request as a page or a script would make it (JSON for the API, a form else)."""
    if method == "GET":
        return client.get(path, buffered=False)  # the events stream is not read to its end
    if path.startswith("/api/"):
        return client.open(path, method=method, json={})
    return client.open(path, method=method, data={})


def is_sign_in_redirect(response) -> bool:
    if response.status_code != 302:
        return False
    location = urlsplit(response.headers["Location"])
    return location.path == "/login" and "next" in parse_qs(location.query)


def check_answer(response, allowed: bool, actor: str, path: str) -> str | None:
    """None when ``response`` is the right access answer, else what is wrong."""
    status = response.status_code
    if allowed:
        if status == 401 and path == "/login":  # a wrong password: the form's own answer
            status = 200
        if status in (401, 403) or is_sign_in_redirect(response):
            return f"refused ({status})"
        if status == 400 and "csrf_failed" in response.get_data(as_text=True):
            return "csrf_failed: the walk's token was not sent"
        return None
    if actor in SIGNED_IN:
        if status != 403:
            return f"expected 403, got {status}"
        if path.startswith("/api/") and response.get_json()["error"]["code"] != "forbidden":
            return "403 without code forbidden"
        return None
    if path.startswith("/api/"):
        if status != 401 or response.get_json()["error"]["code"] != "sign_in_required":
            return f"expected 401 sign_in_required, got {status}"
        return None
    if not is_sign_in_redirect(response):
        return f"expected a redirect to /login, got {status}"
    return None


# --- the role matrix --------------------------------------------------------------------


def test_the_table_lists_every_route(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert sorted(endpoints - set(EXPECTED)) == [], "routes missing from EXPECTED"
    assert sorted(set(EXPECTED) - endpoints) == [], "EXPECTED names routes that do not exist"


@pytest.mark.parametrize("actor", list(ACTORS))
def test_every_route_answers_every_actor_as_the_table_says(app, actor):
    from geoapp.store import get_store
    from tests.geoapp.auth_support import ensure_user

    store = get_store(app)
    ensure_user(store)  # an account exists: no detour to /setup
    if ACTORS[actor].get("comment"):
        store.put_record(WS, "settings", "access", {"viewers_may_comment": True}, created_by="t")
    link = make_link(app) if ACTORS[actor].get("link") else None
    wrong = []
    walked = 0
    for rule in rules_of(app):
        level, public_link = EXPECTED[rule.endpoint]
        path = sample_path(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            client = client_of(app, actor, link)
            response = send(client, method, path)
            try:
                problem = check_answer(
                    response, expected_allowed(level, public_link, actor), actor, path
                )
            finally:
                response.close()
            walked += 1
            if problem:
                wrong.append(f"{method} {path} ({rule.endpoint}, {level}): {problem}")
    assert wrong == []
    assert walked >= len(EXPECTED)


def test_the_matrix_would_see_a_wrong_answer(app):
    """The checks themselves: an editor's 403 on an editor's route is reported."""
    client = client_of(app, "viewer")
    got = client.post(f"/api/workspaces/{WS}/scenarios", json={})
    assert got.status_code == 403
    assert check_answer(got, True, "viewer", "/api/x") == "refused (403)"
    assert check_answer(got, False, "viewer", "/api/x") is None


def test_commenting_follows_the_workspace_setting(app):
    """The setting changed through the access page lets a viewer comment, and then not."""
    from geoapp.store import get_store

    note = {"geometry": {"type": "Point", "coordinates": [101.95, -2.15]}, "note": "jembatan"}
    admin = client_of(app, "workspace_admin")
    viewer = client_of(app, "viewer")
    url = f"/api/workspaces/{WS}/annotations"
    assert viewer.post(url, json=note).status_code == 403
    on = admin.post(
        f"/workspaces/{WS}/access", data={"action": "settings", "viewers_may_comment": "1"}
    )
    assert on.status_code == 200
    saved = viewer.post(url, json=note)
    assert saved.status_code == 201, saved.get_data(as_text=True)
    assert saved.get_json()["author"] == "vera"
    off = admin.post(f"/workspaces/{WS}/access", data={"action": "settings"})
    assert off.status_code == 200
    assert viewer.post(url, json=note).status_code == 403
    notes = get_store(app).list_records(WS, "annotations")
    assert len(notes) == 1


# --- CSRF ---------------------------------------------------------------------------------


def counts(store) -> tuple[int, int, int, int]:
    return (
        len(store.list_datasets(WS)),
        sum(len(store.list_records(WS, c)) for c in ("annotations", "scenarios", "settings")),
        store.list_audit(limit=1)[1],
        store.count_users(),
    )


#: Bodies that would change the store if the CSRF check let them through.
BODIES = {
    "map_api.add_annotation": {
        "geometry": {"type": "Point", "coordinates": [101.95, -2.15]},
        "note": "tanpa token",
    },
    "map_api.set_presenter": {"view": {"lat": -2.15, "lon": 101.95, "z": 11}},
    "admin.users": {
        "action": "create",
        "username": "tanpa",
        "password": "Panjang-sekali-99",
        "display_name": "Tanpa Token",
    },
    "admin.access": {"action": "make_link", "label": "tanpa token"},
}


@pytest.mark.parametrize("token", [None, "wrong"])
def test_every_state_changing_route_needs_the_csrf_token(app, token):
    from geoapp.store import get_store

    store = get_store(app)
    client = app.test_client()
    client.sign_in()
    del client.environ_base["HTTP_X_CSRFTOKEN"]
    headers = {} if token is None else {"X-CSRFToken": token}
    before = counts(store)
    checked = []
    for rule in rules_of(app):
        path = sample_path(rule)
        for method in sorted(set(rule.methods) & set(UNSAFE)):
            body = BODIES.get(rule.endpoint, {})
            if path.startswith("/api/"):
                got = client.open(path, method=method, json=body, headers=headers)
                assert got.get_json()["error"]["code"] == "csrf_failed", path
            else:
                form = dict(body, csrf_token=token) if token else body
                got = client.open(path, method=method, data=form, headers=headers)
            assert got.status_code == 400, (method, path, got.status_code)
            checked.append(rule.endpoint)
    assert counts(store) == before
    assert {"map_api.add_annotation", "auth.login", "auth.logout", "admin.users"} <= set(checked)
    # with the token, the same annotation is saved: the check above is the token's doing
    client.environ_base["HTTP_X_CSRFTOKEN"] = client.csrf_token
    got = client.post(f"/api/workspaces/{WS}/annotations", json=BODIES["map_api.add_annotation"])
    assert got.status_code == 201
    assert len(store.list_records(WS, "annotations")) == 1


def test_login_form_without_its_token_is_refused(app):
    from geoapp.store import get_store
    from tests.geoapp.auth_support import ensure_user

    ensure_user(get_store(app))
    client = app.test_client(user=None)
    got = client.post("/login", data={"username": TEST_USER, "password": TEST_PASSWORD})
    assert got.status_code == 400
    assert is_sign_in_redirect(client.get(f"/workspaces/{WS}"))


def test_logout_is_post_only_and_needs_the_token(app):
    client = app.test_client()
    assert client.get("/logout").status_code == 405
    assert client.get(f"/workspaces/{WS}").status_code == 200
    bare = client.post("/logout", headers={"X-CSRFToken": "wrong"})
    assert bare.status_code == 400
    assert client.get(f"/workspaces/{WS}").status_code == 200  # still signed in
    out = client.post("/logout")
    assert out.status_code == 302
    assert is_sign_in_redirect(client.get(f"/workspaces/{WS}"))


# --- signing in ---------------------------------------------------------------------------


def _cookies(response) -> dict[str, str]:
    found = {}
    for header in response.headers.getlist("Set-Cookie"):
        name = header.split("=", 1)[0]
        found[name] = header
    return found


def _login(client, username: str, password: str, **form: str):
    return client.post("/login", data={"username": username, "password": password, **form})


def _error_text(response) -> str:
    found = re.search(r'id="login-error">([^<]*)<', response.get_data(as_text=True))
    assert found, response.get_data(as_text=True)[:400]
    return found.group(1)


@pytest.fixture
def accounts_app(app):
    """The seeded app with a viewer ``vera`` and small sign-in limits."""
    from geoapp.store import get_store
    from tests.geoapp.auth_support import ensure_user

    ensure_user(get_store(app))
    ensure_user(get_store(app), "vera", is_admin=False, roles={WS: "viewer"})
    app.config.update(LOGIN_MAX_FAILURES=3, LOGIN_MAX_FAILURES_PER_ADDRESS=5)
    return app


def test_login_sets_a_protected_session_cookie(accounts_app):
    client = anonymous(accounts_app)
    got = _login(client, "vera", TEST_PASSWORD, next=f"/workspaces/{WS}")
    assert got.status_code == 302
    assert got.headers["Location"] == f"/workspaces/{WS}"
    cookie = _cookies(got)["session"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert client.get(f"/workspaces/{WS}").status_code == 200


def test_wrong_password_and_unknown_user_say_the_same(accounts_app):
    client = anonymous(accounts_app)
    wrong = _login(client, "vera", "Salah-sekali-123")
    unknown = _login(client, "tidakada", "Salah-sekali-123")
    assert wrong.status_code == unknown.status_code == 401
    assert _error_text(wrong) == _error_text(unknown) != ""
    assert is_sign_in_redirect(client.get(f"/workspaces/{WS}"))


def test_after_the_failures_even_the_right_password_is_refused(accounts_app):
    client = anonymous(accounts_app)
    for _ in range(3):
        assert _login(client, "vera", "Salah-sekali-123").status_code == 401
    got = _login(client, "vera", TEST_PASSWORD)
    assert got.status_code == 429
    assert int(got.headers["Retry-After"]) == 15 * 60
    assert is_sign_in_redirect(client.get(f"/workspaces/{WS}"))
    # another account from the same address is not blocked by vera's failures
    assert _login(anonymous(accounts_app), TEST_USER, TEST_PASSWORD).status_code == 302


def test_failures_from_one_address_block_that_address(accounts_app):
    client = anonymous(accounts_app, "192.0.2.7")
    for name in ("a1", "a2", "a3", "a4", "a5"):  # five names, one failure each
        assert _login(client, name, "Salah-sekali-123").status_code == 401
    assert _login(client, "vera", TEST_PASSWORD).status_code == 429
    elsewhere = anonymous(accounts_app, "192.0.2.8")
    assert _login(elsewhere, "vera", TEST_PASSWORD).status_code == 302


def test_a_success_clears_the_users_failures(accounts_app):
    client = anonymous(accounts_app)
    for _ in range(2):
        assert _login(client, "vera", "Salah-sekali-123").status_code == 401
    assert _login(client, "vera", TEST_PASSWORD).status_code == 302
    again = anonymous(accounts_app)
    for _ in range(2):
        assert _login(again, "vera", "Salah-sekali-123").status_code == 401
    # 4 failures in all, but only 2 since the success: still allowed
    assert _login(again, "vera", TEST_PASSWORD).status_code == 302


def browser_host(location: str) -> str:
    """The host a browser would go to from http://localhost/ (tabs and newlines dropped,
    backslashes read as slashes, as browsers do)."""
    cleaned = re.sub(r"[\t\n\r]", "", location).replace("\\", "/")
    return urlsplit(urljoin("http://localhost/login", cleaned)).netloc


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/x",
        "//evil.example/x",
        "/\\evil.example/x",
        "\\\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "http:evil.example",
    ],
)
def test_next_never_leaves_the_site(accounts_app, target):
    client = anonymous(accounts_app)
    got = _login(client, "vera", TEST_PASSWORD, next=target)
    assert got.status_code == 302
    assert browser_host(got.headers["Location"]) == "localhost"
    assert not got.headers["Location"].lower().startswith("javascript")
    # signed in already: the GET form redirects the same way
    again = client.get("/login", query_string={"next": target})
    assert again.status_code == 302
    assert browser_host(again.headers["Location"]) == "localhost"


# --- sessions end -------------------------------------------------------------------------


def test_password_change_signs_out_the_other_sessions(accounts_app):
    first, second = anonymous(accounts_app), anonymous(accounts_app)
    assert _login(first, "vera", TEST_PASSWORD).status_code == 302
    assert _login(second, "vera", TEST_PASSWORD).status_code == 302
    assert second.get(f"/workspaces/{WS}").status_code == 200
    refresh_token(first, "/account")
    changed = first.post(
        "/account",
        data={
            "old_password": TEST_PASSWORD,
            "new_password": "Baru-lebih-kuat-42",
            "confirm": "Baru-lebih-kuat-42",
        },
    )
    assert changed.status_code == 200, changed.get_data(as_text=True)
    assert first.get(f"/workspaces/{WS}").status_code == 200
    assert is_sign_in_redirect(second.get(f"/workspaces/{WS}"))
    assert second.get(f"/api/workspaces/{WS}").status_code == 401
    assert _login(anonymous(accounts_app), "vera", TEST_PASSWORD).status_code == 401
    assert _login(anonymous(accounts_app), "vera", "Baru-lebih-kuat-42").status_code == 302


def test_deactivation_ends_the_session(accounts_app):
    vera = anonymous(accounts_app)
    assert _login(vera, "vera", TEST_PASSWORD).status_code == 302
    admin = accounts_app.test_client()
    got = admin.post("/admin/users", data={"action": "deactivate", "username": "vera"})
    assert got.status_code == 200
    assert vera.get(f"/api/workspaces/{WS}").status_code == 401
    assert _login(anonymous(accounts_app), "vera", TEST_PASSWORD).status_code == 401


# --- the first administrator and invitations ---------------------------------------------


@pytest.fixture
def empty_app(tmp_path):
    """An app over an initialised store without any account."""
    from geoapp import create_app
    from geoapp.store import close_store, get_store

    app = create_app(
        {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite'}"},
        instance_path=str(tmp_path / "instance"),
    )
    get_store(app).init()
    get_store(app).create_workspace(WS, "Merangin")
    yield app
    close_store(app)


def _setup(client, username: str = "kepala"):
    password = "Kuat-sekali-2026"
    return client.post(
        "/setup",
        data={"username": username, "password": password, "confirm": password},
    )


def test_first_administrator_only_from_the_server_and_only_once(empty_app):
    from geoapp.store import get_store

    store = get_store(empty_app)
    remote = empty_app.test_client(user=None)
    remote.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    first = remote.get(f"/workspaces/{WS}")
    assert first.status_code == 302
    assert urlsplit(first.headers["Location"]).path == "/setup"
    assert remote.get("/setup").status_code == 403
    # a form token from the sign-in page does not open /setup from afar either
    page = remote.get("/login")
    remote.environ_base["HTTP_X_CSRFTOKEN"] = form_token(page.get_data(as_text=True))
    assert _setup(remote).status_code == 403
    assert store.count_users() == 0
    # behind a reverse proxy every request comes from 127.0.0.1: not "this computer" then
    proxied = empty_app.test_client(user=None)
    assert proxied.get("/setup", headers={"X-Forwarded-For": "192.0.2.10"}).status_code == 403
    assert proxied.get("/setup", headers={"Forwarded": "for=192.0.2.10"}).status_code == 403

    local = empty_app.test_client(user=None)
    page = local.get("/setup")
    assert page.status_code == 200
    local.environ_base["HTTP_X_CSRFTOKEN"] = form_token(page.get_data(as_text=True))
    made = _setup(local)
    assert made.status_code == 302
    user = store.find_user("kepala")
    assert (user.is_admin, user.active, store.count_users()) == (True, True, 1)
    assert local.get("/admin/users").status_code == 200  # signed in as the new administrator

    again = anonymous(empty_app)
    assert urlsplit(again.get("/setup").headers["Location"]).path == "/login"
    assert urlsplit(_setup(again, "kedua").headers["Location"]).path == "/login"
    assert store.count_users() == 1
    assert store.find_user("kedua") is None


def _accept(client, token: str, username: str):
    password = "Undangan-kuat-77"
    return client.post(
        f"/invite/{token}",
        data={"username": username, "password": password, "confirm": password},
    )


def _invite_token(response) -> str:
    found = re.search(
        r'id="invite-link" value="[^"]*/invite/([^"]+)"', response.get_data(as_text=True)
    )
    assert found, response.get_data(as_text=True)[:500]
    return found.group(1)


def test_invitations_are_made_by_admins_and_accepted_once(app):
    from geoapp.store import get_store

    store = get_store(app)
    form = {"action": "invite", "workspace": WS, "role": "editor", "days": "3", "note": "Desa"}
    assert client_of(app, "editor").post("/admin/users", data=form).status_code == 403
    assert client_of(app, "workspace_admin").post("/admin/users", data=form).status_code == 403
    ws_form = {"action": "invite", "role": "editor", "days": "3"}
    assert (
        client_of(app, "editor").post(f"/workspaces/{WS}/access", data=ws_form).status_code == 403
    )
    made = app.test_client().post("/admin/users", data=form)
    assert made.status_code == 200
    token = _invite_token(made)
    by_ws_admin = client_of(app, "workspace_admin").post(f"/workspaces/{WS}/access", data=ws_form)
    assert by_ws_admin.status_code == 200
    _invite_token(by_ws_admin)

    guest = anonymous(app)
    assert guest.get(f"/invite/{token}").status_code == 200
    accepted = _accept(guest, token, "tamu")
    assert accepted.status_code == 302
    assert urlsplit(accepted.headers["Location"]).path == f"/workspaces/{WS}"
    assert store.find_user("tamu").roles == {WS: "editor"}
    assert guest.get(f"/workspaces/{WS}").status_code == 200  # signed in as the new account
    refresh_token(guest, f"/workspaces/{WS}")
    as_editor = guest.post(f"/api/workspaces/{WS}/scenarios", json={})
    assert as_editor.status_code == 400  # allowed: the body is what is wrong
    assert as_editor.get_json()["error"]["code"] == "bad_request"

    second = anonymous(app)
    assert second.get(f"/invite/{token}").status_code == 404
    assert _accept(second, token, "tamu2").status_code == 404
    assert store.find_user("tamu2") is None


def test_an_expired_invitation_is_refused(app):
    from geoapp.store import get_store
    from layers.accounts import new_token, token_digest

    store = get_store(app)
    token = new_token()
    store.create_invite(
        token_digest(token),
        workspace=WS,
        role="viewer",
        is_admin=False,
        expires_at=datetime.now(UTC) - timedelta(minutes=1),
        created_by=TEST_USER,
        note="",
    )
    guest = anonymous(app)
    assert guest.get(f"/invite/{token}").status_code == 404
    assert _accept(guest, token, "telat").status_code == 404
    assert store.find_user("telat") is None


# --- public map links ---------------------------------------------------------------------


def _make_link_by_page(app) -> tuple[str, int]:
    got = app.test_client().post(
        f"/workspaces/{WS}/access", data={"action": "make_link", "label": "kantor camat"}
    )
    assert got.status_code == 200
    html = got.get_data(as_text=True)
    token = re.search(r'id="public-link" value="[^"]*/p/([^"]+)"', html).group(1)
    link_id = int(re.findall(r'name="link_id" value="(\d+)"', html)[-1])
    return token, link_id


def test_a_public_link_opens_that_workspaces_map_only(app):
    from geoapp.store import get_store

    store = get_store(app)
    token, link_id = _make_link_by_page(app)
    guest = visitor(app, token)
    base = f"/api/workspaces/{WS}"
    for path in (
        f"{base}/annotations",
        f"{base}/presenter",
        f"{base}/search?q=Renah",
        f"{base}/outlines/kecamatan",
    ):
        got = guest.get(path)
        assert got.status_code not in (401, 403), (path, got.status_code)
    assert guest.get(f"{base}/search?q=Renah").get_json()["villages"][0]["kode"] == KODE
    assert not is_sign_in_redirect(guest.get(f"/workspaces/{WS}/map"))
    # not the other pages, not other workspaces, no writing
    assert is_sign_in_redirect(guest.get(f"/workspaces/{WS}/programs"))
    assert is_sign_in_redirect(guest.get(f"/workspaces/{WS}"))
    assert guest.get(f"{base}/programs").status_code == 401
    assert guest.get(f"{base}/datasets").status_code == 401
    assert guest.get(f"/api/workspaces/{OTHER}/annotations").status_code == 401
    assert is_sign_in_redirect(guest.get(f"/workspaces/{OTHER}/map"))
    note = BODIES["map_api.add_annotation"]
    assert guest.post(f"{base}/annotations", json=note).status_code == 401
    assert guest.put(f"{base}/presenter", json=BODIES["map_api.set_presenter"]).status_code == 401
    assert store.list_records(WS, "annotations") == []
    # revoked: the very next request is refused
    revoked = app.test_client().post(
        f"/workspaces/{WS}/access", data={"action": "revoke_link", "link_id": str(link_id)}
    )
    assert revoked.status_code == 200
    assert guest.get(f"{base}/annotations").status_code == 401
    assert is_sign_in_redirect(guest.get(f"/workspaces/{WS}/map"))
    assert anonymous(app).get(f"/p/{token}").status_code == 404


# --- the audit trail ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo area with accounts: an editor ``edi``, a second editor ``eka``, a viewer."""
    from geoapp.store import get_store
    from tests.geoapp.auth_support import ensure_user

    with open_demo_app(tmp_path_factory.mktemp("access-demo")) as app:
        store = get_store(app)
        ensure_user(store, "edi", is_admin=False, roles={WS: "editor"})
        ensure_user(store, "eka", is_admin=False, roles={WS: "editor"})
        ensure_user(store, "vera", is_admin=False, roles={WS: "viewer"})
        yield app


def _client(app, user: str):
    client = app.test_client(user=user, is_admin=user == TEST_USER)
    client.sign_in()
    return client


def _entries(app, **filters) -> list:
    from geoapp.store import get_store

    return get_store(app).list_audit(limit=10_000, **filters)[0]


def _newest(app, **filters):
    found = _entries(app, **filters)
    assert found, filters
    return found[0]


def test_changes_appear_in_the_audit_trail(demo):
    from geoapp.store import get_store
    from layers.profile_store import load_profile, save_profile

    store = get_store(demo)
    edi, admin = _client(demo, "edi"), _client(demo, TEST_USER)
    api = f"/api/workspaces/{WS}"

    # an import: a facilities CSV of two rows
    body = (
        "id,nama,jenis,lintang,bujur\n"
        "F1,Pustu Renah,pustu,-2.15,101.95\n"
        "F2,Pustu Kasri,pustu,-2.16,102.0\n"
    )
    got = edi.post(
        f"{api}/datasets",
        data={
            "file": (io.BytesIO(body.encode()), "pustu_baru.csv"),
            "kind": "facilities",
            "name": "pustu",
        },
        content_type="multipart/form-data",
    )
    assert got.status_code == 201, got.get_data(as_text=True)
    entry = _newest(demo, target_kind="dataset", workspace=WS)
    assert (entry.actor, entry.action, entry.target) == ("edi", "import", "pustu@1")
    assert entry.before is None
    assert (entry.after["rows"], entry.after["source_name"], entry.after["kind"]) == (
        2,
        "pustu_baru.csv",
        "facilities",
    )

    # a profile save (the core's save; the web has no profile form)
    from layers.profiles import ScoringProfile

    profile, ref = load_profile(store, WS, "health_access")
    if ref.startswith("builtin:"):  # saved once as it is, so the next save is a change
        save_profile(store, WS, profile, user="edi")
    old_note = profile.to_dict().get("description")
    changed = profile.to_dict()
    changed["description"] = "Disepakati di musrenbang"
    saved = save_profile(
        store, WS, ScoringProfile.from_dict(changed), user="edi", note="musrenbang"
    )
    entry = _newest(demo, target_kind="record", text="profiles/")
    assert (entry.actor, entry.action) == ("edi", "save")
    assert entry.target == f"profiles/health_access@{saved.version}"
    assert entry.summary == "musrenbang"
    assert entry.after == {"description": "Disepakati di musrenbang"}
    assert entry.before == ({} if old_note is None else {"description": old_note})

    # a scenario
    got = edi.post(
        f"{api}/scenarios",
        json={
            "name": "audit-3",
            "kind": "placement",
            "profile": "health_access",
            "title": "Tiga desa",
            "settings": {"top_n": 3},
        },
    )
    assert got.status_code == 201, got.get_data(as_text=True)
    selected = [row["kode"] for row in got.get_json()["result"]["selected"]]
    entry = _newest(demo, target_kind="record", text="scenarios/audit-3")
    assert (entry.actor, entry.action, entry.target) == ("edi", "save", "scenarios/audit-3@1")
    assert entry.before is None
    assert entry.after["title"] == "Tiga desa"

    # a program, then an edit of it
    program = {
        "program_id": "P-AUD",
        "name": "Air bersih",
        "sector": "water_sanitation",
        "organisation": "Yayasan Air",
        "donor": "APBD",
        "budget": 1_000_000,
        "start": "2025-01-01",
        "end": "2025-12-31",
        "target_group": "persons",
        "status": "planned",
        "note": "",
    }
    register = edi.get(f"{api}/programs").get_json()["version"]
    made = edi.post(f"{api}/programs", json={**program, "base_version": register})
    assert made.status_code == 201, made.get_data(as_text=True)
    version = made.get_json()["version"]
    edit = edi.patch(f"{api}/programs/P-AUD", json={"base_version": version, "budget": 1_500_000})
    assert edit.status_code == 200, edit.get_data(as_text=True)
    entry = _newest(demo, target_kind="dataset", text="programs@")
    assert (entry.actor, entry.action) == ("edi", "save")
    assert entry.target == f"programs@{version + 1}"
    assert (entry.before["version"], entry.before["rows"]) == (version, 1)
    assert (entry.after["version"], entry.after["rows"]) == (version + 1, 1)

    # an assignment of two of the scenario's villages
    version = edit.get_json()["version"]
    assigned = edi.post(
        f"{api}/programs/P-AUD/assignments",
        json={"base_version": version, "kode": selected[:2]},
    )
    assert assigned.status_code == 201, assigned.get_data(as_text=True)
    entry = _newest(demo, target_kind="dataset", text="program_assignments@")
    assert (entry.actor, entry.action) == ("edi", "save")
    assert entry.target == f"program_assignments@{entry.before['version'] + 1}"
    assert (entry.before["rows"], entry.after["rows"]) == (0, 2)

    # an annotation
    note = {"geometry": {"type": "Point", "coordinates": [101.95, -2.15]}, "note": "jembatan putus"}
    got = edi.post(f"{api}/annotations", json=note)
    assert got.status_code == 201, got.get_data(as_text=True)
    entry = _newest(demo, target_kind="record", text="annotations/")
    assert (entry.actor, entry.action) == ("edi", "save")
    assert entry.before is None
    assert entry.after["note"] == "jembatan putus"

    # a role change through the access page
    got = admin.post(
        f"/workspaces/{WS}/access",
        data={"action": "set_role", "username": "vera", "role": "editor"},
    )
    assert got.status_code == 200
    entry = _newest(demo, target_kind="membership")
    assert (entry.actor, entry.action, entry.target, entry.workspace) == (
        TEST_USER,
        "update",
        "vera",
        WS,
    )
    assert (entry.before, entry.after) == ({"role": "viewer"}, {"role": "editor"})
    assert store.find_user("vera").roles[WS] == "editor"

    # an account made by the administrator
    got = admin.post(
        "/admin/users",
        data={
            "action": "create",
            "username": "baru",
            "password": "Sandi-kuat-2026x",
            "display_name": "Akun Baru",
        },
    )
    assert got.status_code == 200
    entry = _newest(demo, target_kind="user", action="create")
    assert (entry.actor, entry.target, entry.workspace) == (TEST_USER, "baru", None)
    assert entry.after == {"display_name": "Akun Baru", "is_admin": False, "active": True}

    # the workspace's trail through its JSON API, filtered
    trail = edi.get(f"{api}/audit?actor=edi&action=save&target_kind=record")
    assert trail.status_code == 200
    listed = trail.get_json()["entries"]
    expected = _entries(demo, workspace=WS, actor="edi", action="save", target_kind="record")
    assert [e["id"] for e in listed] == [e.id for e in expected]
    assert {e["actor"] for e in listed} == {"edi"}
    assert {e["action"] for e in listed} == {"save"}
    targets = {e["target"] for e in listed}
    assert {"scenarios/audit-3@1", f"profiles/health_access@{saved.version}"} <= targets
    assert any(t.startswith("annotations/") for t in targets)
    text = edi.get(f"{api}/audit?text=AUDIT-3").get_json()["entries"]
    assert [e["target"] for e in text] == ["scenarios/audit-3@1"]
    today = datetime.now(UTC).date()
    future = edi.get(f"{api}/audit?since={today + timedelta(days=2)}").get_json()
    assert future["total"] == 0
    bad = edi.get(f"{api}/audit?action=steal")
    assert bad.status_code == 400
    # account changes belong to no workspace: not in the workspace's trail
    assert all(e["target_kind"] != "user" for e in edi.get(f"{api}/audit").get_json()["entries"])


def test_audit_csv_keeps_codes_and_text(demo):
    from geoapp.store import get_store

    store = get_store(demo)
    note = 'Jalan ke desa 15.02.01.2001 "putus", <b>darurat</b>; 007'
    store.put_record(
        WS,
        "annotations",
        "csv-note",
        {"note": note, "kode": "0015.02"},
        created_by="eka",
        note=note,
    )
    got = _client(demo, "eka").get(f"/workspaces/{WS}/audit.csv?actor=eka")
    assert got.status_code == 200
    assert got.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(got.get_data(as_text=True).lstrip("\ufeff"))))
    expected = _entries(demo, workspace=WS, actor="eka")
    assert [r["target"] for r in rows] == [e.target for e in expected]
    row = next(r for r in rows if r["target"].startswith("annotations/csv-note"))
    assert row["summary"] == note
    assert row["actor"] == "eka"
    assert '"kode": "0015.02"' in row["after"]
    assert '\\"putus\\"' in row["after"]


def test_viewers_cannot_see_the_audit(demo):
    from geoapp.store import get_store
    from tests.geoapp.auth_support import ensure_user

    ensure_user(get_store(demo), "vina", is_admin=False, roles={WS: "viewer"})
    viewer = _client(demo, "vina")
    assert viewer.get(f"/workspaces/{WS}/audit").status_code == 403
    assert viewer.get(f"/api/workspaces/{WS}/audit").status_code == 403
    assert viewer.get(f"/workspaces/{WS}/audit.csv").status_code == 403
    assert viewer.get("/admin/audit").status_code == 403
    assert _client(demo, "eka").get("/admin/audit").status_code == 403
    assert _client(demo, "eka").get(f"/workspaces/{WS}/audit").status_code == 200


# --- two editors, one program --------------------------------------------------------------


def test_the_second_editor_gets_a_conflict_naming_the_first_change(demo):
    api = f"/api/workspaces/{WS}"
    edi, eka = _client(demo, "edi"), _client(demo, "eka")
    listed = edi.get(f"{api}/programs").get_json()
    version = listed["version"]
    program = {
        "program_id": "P-KONF",
        "name": "Posyandu",
        "sector": "health",
        "organisation": "Dinkes",
        "donor": "APBN",
        "budget": 500_000,
        "start": "2025-03-01",
        "end": "2025-10-31",
        "target_group": "persons",
        "status": "planned",
        "note": "",
    }
    made = edi.post(f"{api}/programs", json={**program, "base_version": version})
    assert made.status_code == 201, made.get_data(as_text=True)
    base = made.get_json()["version"]
    first = edi.patch(f"{api}/programs/P-KONF", json={"base_version": base, "name": "Posyandu Edi"})
    assert first.status_code == 200, first.get_data(as_text=True)
    second = eka.patch(
        f"{api}/programs/P-KONF", json={"base_version": base, "name": "Posyandu Eka"}
    )
    assert second.status_code == 409, second.get_data(as_text=True)
    error = second.get_json()["error"]
    assert error["code"] == "conflict"
    assert error["details"]["latest_version"] == base + 1
    assert "Posyandu Edi" in str(error["details"]["theirs"])
    shown = edi.get(f"{api}/programs/P-KONF").get_json()
    assert shown["program"]["name"] == "Posyandu Edi"


def test_a_program_edit_records_the_changed_values(demo):
    api = f"/api/workspaces/{WS}"
    eka = _client(demo, "eka")
    version = eka.get(f"{api}/programs").get_json()["version"]
    program = {
        "program_id": "P-NILAI",
        "name": "Jamban sehat",
        "sector": "water_sanitation",
        "organisation": "Yayasan Air",
        "donor": "APBD",
        "budget": 700_000,
        "start": "2025-01-01",
        "end": "2025-12-31",
        "target_group": "persons",
        "status": "planned",
        "note": "",
    }
    made = eka.post(f"{api}/programs", json={**program, "base_version": version})
    assert made.status_code == 201, made.get_data(as_text=True)
    before = len(_entries(demo))
    edit = eka.patch(
        f"{api}/programs/P-NILAI",
        json={"base_version": made.get_json()["version"], "budget": 900_000},
    )
    assert edit.status_code == 200, edit.get_data(as_text=True)
    new = _entries(demo)[: len(_entries(demo)) - before]
    (programs,) = [e for e in new if e.target.startswith("programs@")]
    assert programs.actor == "eka"
    # only the changed field of the edited program, old and new
    assert programs.before["values"] == {"P-NILAI.budget": 700000.0}
    assert programs.after["values"] == {"P-NILAI.budget": 900000.0}


def test_a_need_step_is_audited_under_the_signed_in_account(demo):
    from geoapp.store import get_store
    from geoapp.views.programs_edit import lifecycle_version

    store = get_store(demo)
    need_id = str(store.read_dataset(WS, "needs_kobo")["need_id"].iloc[0])
    got = _client(demo, "edi").post(
        f"/api/workspaces/{WS}/needs/{need_id}/verify",
        json={
            "base_version": lifecycle_version(store, WS),
            "on": "2025-04-01",
            "by": "ani",
            "note": "dicek di lapangan",
            "layer": "needs_kobo",
        },
    )
    assert got.status_code == 201, got.get_data(as_text=True)
    entry = _newest(demo, target_kind="dataset", text="need")
    assert entry.summary.startswith("dicek di lapangan") or "need" in entry.target
    assert entry.actor == "edi"
