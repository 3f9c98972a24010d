"""What the browser tests share: Debian's Chromium under Playwright, the app served by
waitress on a free local port, and a page that may only reach this machine and whose errors
are collected. (The app over the demo area: :func:`tests.geoapp.conftest.open_demo_app`.)"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def chromium(*, assets: bool = True) -> Iterator[object]:
    """Debian's Chromium under Playwright; the test is skipped where either is missing.

    With ``assets`` the front-end files the app serves must have been installed.
    """
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is not installed"
    )
    if assets:
        from geoapp.assets import vendor_installed

        assert vendor_installed(), "front-end assets missing: run scripts/setup.sh (npm ci)"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


#: Session cookies signing the test administrator in, by the base URL of each served app.
SESSION_COOKIES: dict[str, str] = {}


@contextmanager
def serving(app, *, threads: int = 4, signed_in: bool = True) -> Iterator[str]:
    """``app`` served by waitress on a free local port in a thread; yields its base URL.

    With ``signed_in``, pages of a :class:`SigningBrowser` open it signed in as the test
    administrator (the account is made in the app's store when missing).
    """
    from waitress import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=threads)
    url = f"http://127.0.0.1:{server.effective_port}"
    if signed_in:
        from geoapp.store import get_store
        from tests.geoapp.auth_support import ensure_user, session_cookie

        SESSION_COOKIES[url] = session_cookie(app, ensure_user(get_store(app)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        SESSION_COOKIES.pop(url, None)
        server.close()
        thread.join(timeout=10)


class SigningBrowser:
    """A Playwright browser whose new contexts and pages carry the session cookies of the
    apps being served (:data:`SESSION_COOKIES`); anything else goes to the browser."""

    def __init__(self, browser) -> None:
        self.browser = browser

    def new_context(self, *, signed_in: bool = True, **kwargs):
        """A context signed in to every served app (unless ``signed_in`` is false)."""
        context = self.browser.new_context(**kwargs)
        if signed_in and SESSION_COOKIES:
            context.add_cookies(
                [
                    {"name": "session", "value": value, "url": url, "httpOnly": True}
                    for url, value in SESSION_COOKIES.items()
                ]
            )
        return context

    def new_page(self, *, signed_in: bool = True, **kwargs):
        """A page in its own signed-in context (closed with the browser)."""
        return self.new_context(signed_in=signed_in, **kwargs).new_page()

    def __getattr__(self, name: str):
        return getattr(self.browser, name)


class LocalPage:
    """A page whose requests stay on this machine and whose errors are collected.

    Console errors are problems except Chromium's request for ``/favicon.ico`` (the app has
    none) and, where ``allow_400`` is set, the resource error Chromium logs for a 400
    answer a test provokes on purpose.
    """

    def __init__(
        self,
        browser,
        locale: str = "en-GB",
        *,
        viewport: tuple[int, int] = (1280, 900),
        allow_400: bool = True,
        signed_in: bool = True,
    ) -> None:
        width, height = viewport
        options = {"locale": locale, "viewport": {"width": width, "height": height}}
        if isinstance(browser, SigningBrowser):
            options["signed_in"] = signed_in
        self.context = browser.new_context(**options)
        self.page = self.context.new_page()
        self.allow_400 = allow_400
        self.requested: list[str] = []
        self.blocked: list[str] = []
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        self.page.route("**/*", self._guard)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def _guard(self, route) -> None:
        url = route.request.url
        self.requested.append(url)
        if urlsplit(url).hostname != "127.0.0.1":
            self.blocked.append(url)
            route.abort()
        else:
            route.continue_()

    def _console(self, message) -> None:
        url = message.location.get("url", "")
        expected = url.endswith("/favicon.ico") or (
            self.allow_400 and "status of 400" in message.text
        )
        if message.type == "error" and not expected:
            self.problems.append(message.text)

    def check_clean(self) -> None:
        """Nothing left this machine, nothing went wrong, no dialog opened."""
        assert self.blocked == []
        assert self.requested
        assert all(urlsplit(u).hostname == "127.0.0.1" for u in self.requested)
        assert self.problems == []
        assert self.dialogs == []

    def close(self) -> None:
        self.context.close()
