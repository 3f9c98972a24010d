"""Accounts and the audit trail in the store, on SQLite and PostGIS."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import geopandas as gpd
import pytest
from shapely.geometry import box

from layers.accounts import (
    Accounts,
    LoginFailedError,
    LoginThrottledError,
    RateLimit,
    check_password,
    role_allows,
    role_of,
    token_digest,
    verify_password,
)
from layers.audit import AuditFilters, audit_frame, write_audit
from layers.errors import InputError, NotFoundError, StoreError
from layers.storage.audit import MAX_PATHS, changes
from tests.layers.test_storage import postgis_database, store, store_url  # noqa: F401

PASSWORD = "Sawah-hijau-2026"


@pytest.fixture
def accounts(store):  # noqa: F811
    return Accounts(store, RateLimit(per_user=3, per_address=5, window=timedelta(minutes=15)))


def test_roles_are_ordered():
    assert role_allows("admin", "editor")
    assert role_allows("editor", "editor")
    assert not role_allows("viewer", "editor")
    assert not role_allows(None, "viewer")
    with pytest.raises(StoreError, match="unknown role"):
        role_allows("editor", "boss")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("pendek", "at least 10"),
        ("password123", "too easy"),
        ("aaaaaaaaaaaa", "too easy"),
        ("ani-2026-rahasia", "too easy"),  # contains the user name
    ],
)
def test_weak_passwords_are_refused(password, reason):
    with pytest.raises(InputError, match=reason) as caught:
        check_password(password, "ani")
    assert caught.value.column == "password"


def test_passwords_are_hashed_and_verified(accounts, store):  # noqa: F811
    user = accounts.create_user("ani", PASSWORD, display_name="Ani", is_admin=True)
    stored = store.find_user("ani")
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash
    assert verify_password(stored.password_hash, PASSWORD)
    assert not verify_password(stored.password_hash, PASSWORD + "x")
    assert not verify_password(None, PASSWORD)
    assert "password_hash" not in user.to_dict()


def test_sign_in_and_the_rate_limit(accounts, store):  # noqa: F811
    accounts.create_user("ani", PASSWORD)
    assert accounts.authenticate("ani", PASSWORD, "10.0.0.1").username == "ani"
    # a wrong password and an unknown name give the same message
    with pytest.raises(LoginFailedError) as wrong:
        accounts.authenticate("ani", "salah-sekali-123", "10.0.0.1")
    with pytest.raises(LoginFailedError) as unknown:
        accounts.authenticate("siapa", "salah-sekali-123", "10.0.0.1")
    assert str(wrong.value) == str(unknown.value)
    with pytest.raises(LoginFailedError):
        accounts.authenticate("ani", "salah-lagi-12345", "10.0.0.2")
    with pytest.raises(LoginFailedError):
        accounts.authenticate("ani", "salah-lagi-12345", "10.0.0.3")
    # three failures for "ani": even the right password is refused now
    with pytest.raises(LoginThrottledError) as throttled:
        accounts.authenticate("ani", PASSWORD, "10.0.0.4")
    assert throttled.value.retry_after == 900
    # the address limit counts failures of every name from one address
    for name in ("b1", "b2", "b3", "b4", "b5"):
        with pytest.raises(LoginFailedError):
            accounts.authenticate(name, "salah-sekali-123", "10.0.0.9")
    with pytest.raises(LoginThrottledError):
        accounts.authenticate("lain", "apa-saja-12345", "10.0.0.9")
    # failures older than the window no longer count
    since = datetime.now(UTC) + timedelta(minutes=16)
    assert store.count_login_failures(since=since, username="ani") == 0


def test_success_clears_the_failures(accounts, store):  # noqa: F811
    accounts.create_user("ani", PASSWORD)
    for _ in range(2):
        with pytest.raises(LoginFailedError):
            accounts.authenticate("ani", "salah-sekali-123", "10.0.0.1")
    accounts.authenticate("ani", PASSWORD, "10.0.0.1")
    past = datetime.now(UTC) - timedelta(hours=1)
    assert store.count_login_failures(since=past, username="ani") == 0


def test_inactive_accounts_cannot_sign_in_and_sessions_end(accounts, store):  # noqa: F811
    accounts.create_user("ani", PASSWORD, is_admin=True)
    accounts.create_user("budi", PASSWORD)
    epoch = store.find_user("budi").session_epoch
    store.update_user("budi", changed_by="ani", active=False)
    assert store.find_user("budi").session_epoch == epoch + 1
    with pytest.raises(LoginFailedError):
        accounts.authenticate("budi", PASSWORD, "10.0.0.1")
    with pytest.raises(StoreError, match="last active administrator"):
        store.update_user("ani", changed_by="ani", is_admin=False)
    assert store.find_user("ani").is_admin is True


def test_change_password_needs_the_old_one(accounts, store):  # noqa: F811
    accounts.create_user("ani", PASSWORD)
    with pytest.raises(LoginFailedError):
        accounts.change_password("ani", "bukan-ini-123", "Kopi-jambi-2027")
    changed = accounts.change_password("ani", PASSWORD, "Kopi-jambi-2027")
    assert changed.session_epoch == 1
    assert accounts.authenticate("ani", "Kopi-jambi-2027", "10.0.0.1").username == "ani"


def test_roles_per_workspace(accounts, store):  # noqa: F811
    store.create_workspace("bungo", "Kabupaten Bungo")
    admin = accounts.create_user("ani", PASSWORD, is_admin=True)
    budi = accounts.create_user("budi", PASSWORD)
    assert role_of(admin, "bungo") == "admin"
    assert role_of(budi, "merangin") is None
    store.set_role("budi", "merangin", "editor", granted_by="ani")
    budi = store.find_user("budi")
    assert role_of(budi, "merangin") == "editor"
    assert role_of(budi, "bungo") is None
    assert store.members("merangin") == [("budi", "editor")]
    store.set_role("budi", "merangin", None, granted_by="ani")
    assert store.find_user("budi").roles == {}
    with pytest.raises(NotFoundError):
        store.set_role("budi", "tidak-ada", "viewer", granted_by="ani")
    with pytest.raises(StoreError, match="unknown role"):
        store.set_role("budi", "merangin", "camat", granted_by="ani")


def test_invitations_are_used_once_and_expire(accounts, store):  # noqa: F811
    token, invite = accounts.invite(workspace="merangin", role="viewer", created_by="ani")
    assert invite.token_sha256 == token_digest(token)
    assert token not in json.dumps([e.to_dict() for e in store.list_audit()[0]])
    assert accounts.find_invite(token) is not None
    user = accounts.accept_invite(token, "dinkes", PASSWORD, display_name="Dinas Kesehatan")
    assert user.roles == {"merangin": "viewer"}
    assert accounts.find_invite(token) is None
    with pytest.raises(StoreError, match="used already"):
        accounts.accept_invite(token, "dinkes2", PASSWORD)
    assert store.find_user("dinkes2") is None
    old, _ = accounts.invite(workspace=None, role=None, created_by="ani", days=1)
    store.create_invite(
        token_digest("kedaluwarsa"),
        workspace=None,
        role=None,
        expires_at=datetime.now(UTC) - timedelta(seconds=1),
        created_by="ani",
    )
    with pytest.raises(StoreError, match="expired"):
        accounts.accept_invite("kedaluwarsa", "telat", PASSWORD)
    with pytest.raises(NotFoundError):
        accounts.accept_invite("tidak-ada", "siapa", PASSWORD)
    with pytest.raises(InputError, match="both a workspace and a role"):
        accounts.invite(workspace="merangin", role=None, created_by="ani")
    assert accounts.find_invite(old) is not None


def test_public_links_open_one_workspace_until_revoked(accounts, store):  # noqa: F811
    token, link = accounts.make_public_link("merangin", label="rapat Bappeda", created_by="ani")
    assert accounts.public_workspace(token) == "merangin"
    assert accounts.public_workspace("tebakan") is None
    store.revoke_public_link("merangin", link.id, revoked_by="ani")
    assert accounts.public_workspace(token) is None
    with pytest.raises(NotFoundError):
        store.revoke_public_link("merangin", link.id + 99, revoked_by="ani")
    assert [(l.label, l.active) for l in store.list_public_links("merangin")] == [  # noqa: E741
        ("rapat Bappeda", False)
    ]


# --- audit trail ---------------------------------------------------------------------------


def test_changes_lists_the_paths_that_differ():
    before = {"weights": {"distance": 0.3, "needs": 0.7}, "title": "A", "gone": 1}
    after = {"weights": {"distance": 0.5, "needs": 0.7}, "title": "A", "new": [1, 2]}
    old, new = changes(before, after)
    assert old == {"weights.distance": 0.3, "gone": 1}
    assert new == {"weights.distance": 0.5, "new[0]": 1, "new[1]": 2}
    assert changes(None, {"a": 1}) == (None, {"a": 1})
    assert changes({"a": 1}, None) == ({"a": 1}, None)
    many_old, _ = changes({f"k{i}": i for i in range(300)}, {})
    assert len(many_old) == MAX_PATHS + 1
    assert many_old["\u2026"] == f"{300 - MAX_PATHS} more changes"
    long_list, _ = changes({"villages": list(range(500))}, None)
    assert long_list == {"villages": "[500 items]"}


def _villages():
    return gpd.GeoDataFrame(
        {"kode": ["15.02.01.2001"], "name": ["Renah Kemumu"]},
        geometry=[box(101.9, -2.2, 102.0, -2.1)],
        crs="EPSG:4326",
    )


def test_every_change_is_in_the_audit_trail(store):  # noqa: F811
    store.put_dataset(
        "merangin",
        "villages",
        _villages(),
        source_name="desa.geojson",
        source_sha256="1" * 64,
        report={},
        created_by="ani",
    )
    store.put_dataset(
        "merangin",
        "villages",
        _villages(),
        source_name="desa_2025.geojson",
        source_sha256="2" * 64,
        report={},
        created_by="budi",
    )
    store.put_record("merangin", "profiles", "kesehatan", {"weights": {"jarak": 0.3}},
                     created_by="ani", note="bobot awal")  # fmt: skip
    store.put_record("merangin", "profiles", "kesehatan", {"weights": {"jarak": 0.5}},
                     created_by="budi")  # fmt: skip
    store.delete_record("merangin", "profiles", "kesehatan", deleted_by="ani")
    entries, total = store.list_audit(workspace="merangin")
    assert total == 6
    got = [(e.actor, e.action, e.target_kind, e.target) for e in reversed(entries)]
    assert got == [
        (None, "create", "workspace", "merangin"),
        ("ani", "import", "dataset", "villages@1"),
        ("budi", "import", "dataset", "villages@2"),
        ("ani", "save", "record", "profiles/kesehatan@1"),
        ("budi", "save", "record", "profiles/kesehatan@2"),
        ("ani", "delete", "record", "profiles/kesehatan"),
    ]
    second = entries[3]
    assert second.before["source_name"] == "desa.geojson"
    assert second.after["source_name"] == "desa_2025.geojson"
    assert (second.before["version"], second.after["version"]) == (1, 2)
    assert (entries[1].before, entries[1].after) == (
        {"weights.jarak": 0.3},
        {"weights.jarak": 0.5},
    )
    assert entries[2].summary == "bobot awal"
    assert entries[0].before == {"weights.jarak": 0.5}
    # filters
    assert store.list_audit(workspace="merangin", actor="budi")[1] == 2
    assert store.list_audit(workspace="merangin", target_kind="record", action="save")[1] == 2
    assert store.list_audit(text="DESA_2025")[1] == 1
    future = datetime.now(UTC) + timedelta(hours=1)
    assert store.list_audit(since=future)[1] == 0
    page, total = store.list_audit(workspace="merangin", limit=2, offset=4)
    assert [e.target for e in page] == ["villages@1", "merangin"]


def test_a_refused_change_leaves_no_audit_row(store):  # noqa: F811
    from layers.storage.base import ConflictError

    store.put_record("merangin", "profiles", "p", {"a": 1}, created_by="ani")
    before = store.list_audit()[1]
    with pytest.raises(ConflictError):
        store.put_record("merangin", "profiles", "p", {"a": 2}, expected_version=0)
    assert store.list_audit()[1] == before


def test_deleting_a_workspace_keeps_its_trail(store):  # noqa: F811
    store.delete_workspace("merangin", deleted_by="ani")
    entries, _ = store.list_audit(workspace="merangin")
    assert [(e.action, e.actor) for e in entries] == [("delete", "ani"), ("create", None)]


def test_filters_from_text_and_the_export(store, tmp_path):  # noqa: F811
    store.put_record("merangin", "profiles", "p", {"kode": "15.02.01.2001"}, created_by="ani")
    filters = AuditFilters.from_text(
        {"action": "save", "since": "2020-01-01", "until": ""}, workspace="merangin"
    )
    out = tmp_path / "audit.csv"
    assert write_audit(store, filters, out, "csv") == 1
    text = out.read_text(encoding="utf-8-sig")
    assert '{""kode"": ""15.02.01.2001""}' in text
    frame = audit_frame(store.list_audit(workspace="merangin")[0], "Asia/Jakarta")
    assert frame["at"].str.endswith("+07:00").all()
    with pytest.raises(InputError, match="unknown action") as bad:
        AuditFilters.from_text({"action": "hapus"})
    assert bad.value.column == "action"
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        AuditFilters.from_text({"since": "kemarin"})
    day = AuditFilters.from_text(
        {"since": "2025-06-01", "until": "2025-06-01"}, timezone="Asia/Jakarta"
    )
    assert day.since == datetime(2025, 5, 31, 17, tzinfo=UTC)
    assert day.until == datetime(2025, 6, 1, 17, tzinfo=UTC)


def test_put_datasets_keeps_the_changed_rows_in_the_trail(store):  # noqa: F811
    import pandas as pd

    table = pd.DataFrame({"program_id": ["P-1"], "budget": [900_000.0]})
    store.put_datasets(
        "merangin",
        [("derived", table, "programs", {})],
        created_by="edi",
        changes={
            "programs": (
                {"P-1": {"program_id": "P-1", "budget": 700_000.0}},
                {"P-1": {"program_id": "P-1", "budget": 900_000.0}},
            )
        },
    )
    entry = store.list_audit(workspace="merangin", target_kind="dataset")[0][0]
    assert (entry.actor, entry.action, entry.target) == ("edi", "save", "programs@1")
    assert entry.before == {"values": {"P-1.budget": 700_000.0}}
    assert entry.after["values"] == {"P-1.budget": 900_000.0}
    assert entry.after["rows"] == 1
    assert entry.after["version"] == 1
