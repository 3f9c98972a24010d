"""``geoapp user ...`` and ``geoapp audit``: accounts, roles, invitations, the audit trail."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from geoapp.cli import main

PASSWORD = "Sawah-hijau-2026"


@pytest.fixture
def run(tmp_path):
    """Run the command line in-process over a fresh instance folder, output in English."""
    env = {
        "GEOAPP_INSTANCE_PATH": str(tmp_path / "instance"),
        "GEOAPP_DATABASE_URL": "",
        "GEOAPP_LOCALE": "en",
        "LC_ALL": "",
        "LANG": "C.UTF-8",
    }

    def invoke(*args: str, stdin: str | None = None):
        return CliRunner().invoke(main, [str(a) for a in args], env=env, input=stdin)

    assert invoke("init", "-w", "merangin").exit_code == 0
    return invoke


def _store(tmp_path):
    from layers.storage import open_store

    return open_store(f"sqlite:///{tmp_path / 'instance' / 'jangkau.sqlite'}")


def test_add_list_role_and_sign_in_with_the_password(run, tmp_path):
    from layers.accounts import Accounts

    added = run("user", "add", "ani", "--admin", "--name", "Ani", "--password-stdin",
                stdin=PASSWORD + "\n")  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "Account ani created." in added.output
    assert run("user", "add", "budi", "--password-stdin", stdin=PASSWORD + "\n").exit_code == 0
    given = run("user", "role", "budi", "editor", "-w", "merangin", "--by", "ani")
    assert given.exit_code == 0
    assert "editor" in given.output
    listed = run("user", "list", "--json")
    users = {u["username"]: u for u in json.loads(listed.output)["users"]}
    assert users["ani"]["is_admin"] is True
    assert users["budi"]["roles"] == {"merangin": "editor"}
    assert "password" not in listed.output  # no hash ever printed
    store = _store(tmp_path)
    assert Accounts(store).authenticate("budi", PASSWORD, "127.0.0.1").username == "budi"
    taken = run("user", "role", "budi", "none", "-w", "merangin")
    assert taken.exit_code == 0
    assert store.find_user("budi").roles == {}


def test_bad_input_is_one_error_line(run):
    short = run("user", "add", "ani", "--password-stdin", stdin="pendek\n")
    assert short.exit_code == 1
    assert "at least 10 characters" in short.output
    bad_name = run("user", "add", "Ani Rahma", "--password-stdin", stdin=PASSWORD + "\n")
    assert bad_name.exit_code == 1
    assert "user name" in bad_name.output
    unknown = run("user", "role", "siapa", "viewer", "-w", "merangin")
    assert unknown.exit_code == 1
    assert "siapa" in unknown.output
    assert run("user", "role", "x", "boss", "-w", "merangin").exit_code != 0


def test_invite_link_works_once(run, tmp_path):
    from layers.accounts import Accounts

    made = run("user", "invite", "-w", "merangin", "--role", "viewer", "--base-url",
               "http://192.168.1.10:5000/")  # fmt: skip
    assert made.exit_code == 0, made.output
    link = made.stdout.strip().splitlines()[0]
    assert link.startswith("http://192.168.1.10:5000/invite/")
    token = link.rsplit("/", 1)[1]
    accounts = Accounts(_store(tmp_path))
    user = accounts.accept_invite(token, "dinkes", PASSWORD)
    assert user.roles == {"merangin": "viewer"}
    from layers.errors import StoreError

    with pytest.raises(StoreError, match="used already"):
        accounts.accept_invite(token, "dinkes2", PASSWORD)


def test_password_reset_and_deactivation_end_sessions(run, tmp_path):
    run("user", "add", "ani", "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    run("user", "add", "budi", "--password-stdin", stdin=PASSWORD + "\n")
    store = _store(tmp_path)
    epoch = store.find_user("budi").session_epoch
    reset = run("user", "password", "budi", "--password-stdin", stdin="Kopi-jambi-2027\n")
    assert reset.exit_code == 0
    assert store.find_user("budi").session_epoch == epoch + 1
    off = run("user", "deactivate", "budi")
    assert off.exit_code == 0
    assert store.find_user("budi").active is False
    last = run("user", "deactivate", "ani")
    assert last.exit_code == 1
    assert "last active administrator" in last.output
    assert store.find_user("ani").active is True


def test_audit_lists_and_writes_the_changes(run, tmp_path):
    run("user", "add", "ani", "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    run("user", "add", "budi", "--password-stdin", stdin=PASSWORD + "\n")
    run("user", "role", "budi", "editor", "-w", "merangin", "--by", "ani")
    shown = run("audit", "-w", "merangin")
    assert shown.exit_code == 0, shown.output
    assert "membership" in shown.output
    assert "budi" in shown.output
    assert "2 of 2 changes." in shown.output  # the workspace made by init, and the role
    out = tmp_path / "audit.csv"
    written = run("audit", "-w", "merangin", "--kind", "membership", "--csv", out)
    assert written.exit_code == 0
    with out.open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert [(r["actor"], r["action"], r["target"]) for r in rows] == [("ani", "update", "budi")]
    assert rows[0]["before"] == '{"role": null}'
    assert rows[0]["after"] == '{"role": "editor"}'
    bad = run("audit", "--since", "kemarin")
    assert bad.exit_code == 1
    assert "YYYY-MM-DD" in bad.output
