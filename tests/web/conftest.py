"""The workbench under test: a real `assortment serve` process per database, users made through the
domain, and Playwright driving Debian's Chromium (never a downloaded browser build).

`page` fails the test on any console error or uncaught page error, so every page a test visits is
checked for them (CSP violations are console errors too).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from assortment.domain import users
from tests.conftest import Database
from tests.servers import running_servers

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
PASSWORD = "correct horse battery staple"
DOCS = Path(__file__).resolve().parents[2] / "docs"


def chromium_path() -> str:
    for candidate in (os.environ.get("ASSORTMENT_CHROMIUM"), *CHROMIUM_CANDIDATES):
        if candidate and Path(candidate).exists():
            return candidate
    found = shutil.which("chromium")
    if found:
        return found
    message = "Debian's chromium is not installed (`make test` installs it with apt-get)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def server(database: Database) -> Iterator[str]:
    """One server process on the test database for the whole run (its tables are emptied between tests). It
    delivers webhooks to loopback addresses, where the webhook tests' receivers listen."""
    with ExitStack() as stack:
        with pytest.MonkeyPatch.context() as patch:  # the process's environment only, not this one's
            patch.setenv("ASSORTMENT_WEBHOOK_ALLOW_PRIVATE_URLS", "true")
            urls = stack.enter_context(running_servers(database.settings.database_url, count=1))
        yield urls[0]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Watched:
    """A page whose console errors and page errors are collected."""

    page: Any
    base: str
    engine: str
    problems: list[str] = field(default_factory=list)

    def go(self, path: str) -> Any:
        return self.page.goto(self.base + path)


@pytest.fixture
def web(browser: Any, server: str, db: Database) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=server)
    page = context.new_page()
    page.set_default_timeout(10_000)
    watched = Watched(page, server, db.name)
    page.on("console", lambda m: watched.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: watched.problems.append(f"page error: {e}"))
    try:
        yield watched
    finally:
        context.close()
    assert not watched.problems, watched.problems


@dataclass
class People:
    db: Database

    def create(
        self,
        role: str = "editor",
        *,
        email: str | None = None,
        store_id: uuid.UUID | None = None,
        organization: bool = False,
    ) -> str:
        address = email or f"{role}-{uuid.uuid4().hex[:8]}@example.com"
        with self.db.sessions.begin() as session:
            users.create_user(session, address, role, PASSWORD, store_id=store_id, organization=organization)
        return address


@pytest.fixture
def people(db: Database) -> People:
    return People(db)


def sign_in(web: Watched, email: str, password: str = PASSWORD) -> None:
    page = web.page
    web.go("/admin/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/admin/(?!login).*"))


class Http:
    """Plain HTTP against the running server with a session cookie (for forged and CSRF-less requests)."""

    def __init__(self, base: str) -> None:
        self.client = httpx.Client(base_url=base, follow_redirects=False, timeout=30)

    def sign_in(self, email: str, password: str = PASSWORD) -> str:
        """Sign in; returns the session's CSRF token (as the pages carry it)."""
        page = self.client.get("/admin/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, page.text
        answer = self.client.post(
            "/admin/login", data={"email": email, "password": password, "csrf_token": token.group(1)}
        )
        assert answer.status_code == 303, answer.text
        products = self.client.get("/admin/products")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', products.text)
        assert csrf, products.text
        return csrf.group(1)


@pytest.fixture
def http(server: str) -> Iterator[Http]:
    plain = Http(server)
    try:
        yield plain
    finally:
        plain.client.close()


def screenshot(web: Watched, name: str) -> None:
    """Keep a picture of the page for the README (docs/), taken on the SQLite run only."""
    if web.engine != "sqlite":
        return
    DOCS.mkdir(exist_ok=True)
    web.page.screenshot(path=str(DOCS / name), full_page=False)
