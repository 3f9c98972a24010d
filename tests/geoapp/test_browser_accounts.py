"""In Chromium: signing in through the form, roles on the page, a public map link, signing out."""

from __future__ import annotations

import pytest

from tests.geoapp.auth_support import TEST_PASSWORD, TEST_USER, ensure_user
from tests.geoapp.browser_support import LocalPage
from tests.geoapp.conftest import open_demo_app


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo area, with a viewer account for the partner's view."""
    from geoapp.store import get_store

    with open_demo_app(tmp_path_factory.mktemp("accounts_browser")) as app:
        store = get_store(app)
        ensure_user(store)
        ensure_user(store, "dinkes", is_admin=False, roles={"merangin": "viewer"})
        yield app


def Anonymous(browser) -> LocalPage:
    """A local-only page without the test administrator's session."""
    return LocalPage(browser, signed_in=False)


def sign_in(page, server: str, username: str, password: str, target: str) -> None:
    page.goto(f"{server}{target}")
    assert "/login" in page.url  # sent to the sign-in form, coming back afterwards
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_load_state()


def test_sign_in_see_what_the_role_allows_and_sign_out(browser, server):
    watch = Anonymous(browser)
    page = watch.page
    sign_in(page, server, "dinkes", TEST_PASSWORD, "/workspaces/merangin?lang=en")
    assert page.url.endswith("/workspaces/merangin?lang=en")
    assert page.locator("#account-link").inner_text() == "Dinkes"
    # a viewer: no upload form, no audit or access links, no accounts page link
    assert page.locator("#upload-form").count() == 0
    assert page.locator("#audit-link").count() == 0
    assert page.locator("#access-link").count() == 0
    assert page.locator("#admin-link").count() == 0
    forbidden = page.goto(f"{server}/workspaces/merangin/audit?lang=en")
    assert forbidden.status == 403
    page.click("#logout-button")
    page.wait_for_load_state()
    assert "/login" in page.url
    again = page.goto(f"{server}/workspaces/merangin?lang=en")
    assert "/login" in page.url
    assert again.status == 200  # the sign-in form, after the redirect
    watch.close()


def test_wrong_password_then_an_admin_sees_everything(browser, server):
    watch = Anonymous(browser)
    page = watch.page
    sign_in(page, server, TEST_USER, "bukan-kata-sandinya", "/?lang=en")
    assert page.locator("#login-error").inner_text() == (
        "the user name or the password is not correct"
    )
    page.fill("#password", TEST_PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{server}/workspaces/merangin?lang=en")
    assert page.locator("#upload-form").count() == 1
    assert page.locator("#access-link").count() == 1
    page.click("#access-link")
    page.fill("#link-label", "rapat Bappeda <b>")
    page.click("#link-create-form button[type=submit]")
    link = page.locator("#public-link").input_value()
    assert "/p/" in link
    assert page.locator("#links-table").inner_text().count("rapat Bappeda <b>") == 1
    watch.close()

    # the public link opens the map without an account, and nothing else
    visitor = Anonymous(browser)
    shown = visitor.page.goto(link + "?lang=en")
    assert shown.status == 200
    assert "/workspaces/merangin/map" in visitor.page.url
    visitor.page.wait_for_function("() => window.JangkauMap && window.JangkauMap.map")
    visitor.page.goto(f"{server}/workspaces/merangin/programs?lang=en")
    assert "/login" in visitor.page.url
    visitor.check_clean()
    visitor.close()
