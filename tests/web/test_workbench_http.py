"""The workbench over plain HTTP (in-process): who may reach what, CSRF, sessions, headers, tenancy."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from assortment.db.models import Product, SignInFailure, UserSession
from assortment.db.types import utcnow
from assortment.domain import users
from assortment.errors import Forbidden, Unauthenticated
from tests.conftest import Caller, Database, Keys
from tests.web.conftest import PASSWORD, People

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def browser_client(app: FastAPI, db: Database) -> Iterator[TestClient]:
    """A cookie-keeping client of its own (the shared `client` must stay cookie-free for API tests)."""
    with TestClient(app, follow_redirects=False) as client:
        yield client


def sign_in(client: TestClient, email: str, password: str = PASSWORD, next_url: str = "") -> tuple[int, str]:
    form = client.get("/admin/login")
    token = CSRF.search(form.text)
    assert token, form.text
    answer = client.post(
        "/admin/login", data={"email": email, "password": password, "csrf_token": token.group(1), "next": next_url}
    )
    return answer.status_code, answer.headers.get("location", answer.text)


def csrf_of(client: TestClient) -> str:
    page = client.get("/admin/products")
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


def admin_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every method × path of the workbench, read from the app's router tree (a new page is covered)."""
    found: list[tuple[str, str]] = []

    def walk(routes: Any, prefix: str) -> None:
        for route in routes:
            inner = getattr(route, "original_router", None)
            if inner is not None:
                context = getattr(route, "include_context", None)
                walk(inner.routes, prefix + str(getattr(context, "prefix", "") or ""))
            elif isinstance(route, APIRoute) and (prefix + route.path).startswith("/admin"):
                found.extend((method, prefix + route.path) for method in sorted(route.methods or ()))

    walk(app.routes, "")
    return found


PUBLIC = {("GET", "/admin/login"), ("POST", "/admin/login")}


def test_every_workbench_route_needs_a_session(app: FastAPI, browser_client: TestClient, api: Caller) -> None:
    product = api.post(
        "/pcm/products", json={"data": {"type": "product", "attributes": {"name": "Kept", "commodity_type": "digital"}}}
    ).json()["data"]["id"]
    routes = admin_routes(app)
    assert ("GET", "/admin/products") in routes
    assert ("POST", "/admin/products/{product_id}/delete") in routes
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        url = re.sub(r"\{product_id\}", product, path)
        url = re.sub(r"\{\w+\}", str(uuid.uuid4()), url)
        answer = browser_client.request(method, url, data={"name": "changed", "commodity_type": "physical"})
        if method == "GET":
            assert answer.status_code == 303, (method, path, answer.status_code)
            assert answer.headers["location"].startswith("/admin/login"), (method, path)
        else:
            assert answer.status_code == 401, (method, path, answer.status_code)
    assert api.get(f"/pcm/products/{product}").json()["data"]["attributes"]["name"] == "Kept"


def test_security_headers_on_every_kind_of_workbench_response(browser_client: TestClient, people: People) -> None:
    answers = [
        browser_client.get("/admin"),  # redirect
        browser_client.get("/admin/login"),  # page
        browser_client.get("/admin/static/workbench.css"),  # asset
        browser_client.get("/admin/static/nothing-here.js"),  # 404
    ]
    sign_in(browser_client, people.create("viewer"))
    answers.append(browser_client.get("/admin/products/" + str(uuid.uuid4())))  # a refused page
    for answer in answers:
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"
    assert answers[3].status_code == 404
    assert answers[4].status_code == 404
    assert "product" in answers[4].text and "not found" in answers[4].text


def test_the_session_cookie_is_http_only_and_same_site(browser_client: TestClient, people: People) -> None:
    form = browser_client.get("/admin/login")
    token = CSRF.search(form.text)
    assert token
    answer = browser_client.post(
        "/admin/login", data={"email": people.create("viewer"), "password": PASSWORD, "csrf_token": token.group(1)}
    )
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and "assortment_session=" in v)
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert "Path=/admin" in cookie
    assert "Secure" not in cookie  # ASSORTMENT_COOKIE_SECURE is off by default (plain HTTP on localhost)


def test_sign_in_without_the_form_token_is_refused(browser_client: TestClient, people: People, db: Database) -> None:
    email = people.create("editor")
    answer = browser_client.post("/admin/login", data={"email": email, "password": PASSWORD})
    assert "assortment_session" not in answer.headers.get("set-cookie", "")
    assert "The sign-in form expired" in answer.text
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(UserSession)) == 0


def test_after_sign_in_only_workbench_paths_are_followed(browser_client: TestClient, people: People) -> None:
    email = people.create("viewer")
    assert sign_in(browser_client, email, next_url="//evil.example/admin") == (303, "/admin/products")
    assert sign_in(browser_client, email, next_url="https://evil.example/") == (303, "/admin/products")
    assert sign_in(browser_client, email, next_url="/admin/hierarchies") == (303, "/admin/hierarchies")


def test_an_idle_session_ends(browser_client: TestClient, people: People, db: Database) -> None:
    sign_in(browser_client, people.create("viewer"))
    assert browser_client.get("/admin/products").status_code == 200
    with db.sessions.begin() as session:
        session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(hours=8, minutes=1)))
    answer = browser_client.get("/admin/products")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/admin/login")


def test_a_used_session_stays_alive(browser_client: TestClient, people: People, db: Database) -> None:
    sign_in(browser_client, people.create("viewer"))
    with db.sessions.begin() as session:
        session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(hours=7)))
    assert browser_client.get("/admin/products").status_code == 200
    with db.sessions() as session:
        seen = session.scalar(select(UserSession.last_seen_at))
    assert seen is not None and utcnow() - seen < timedelta(minutes=1)


def test_sign_out_ends_the_session_and_needs_the_token(browser_client: TestClient, people: People) -> None:
    sign_in(browser_client, people.create("viewer"))
    token = csrf_of(browser_client)
    assert browser_client.post("/admin/logout").status_code == 403
    assert browser_client.get("/admin/products").status_code == 200
    assert browser_client.post("/admin/logout", data={"csrf_token": token}).status_code == 303
    assert browser_client.get("/admin/products").status_code == 303


def test_a_store_user_sees_only_what_a_key_of_that_store_sees(
    browser_client: TestClient, people: People, keys: Keys, api: Caller
) -> None:
    mine = api.post(
        "/pcm/products",
        json={"data": {"type": "product", "attributes": {"name": "Default store hat", "commodity_type": "physical"}}},
    ).json()["data"]["id"]
    other_store = keys.store("Outlet")
    sign_in(browser_client, people.create("editor", store_id=other_store))
    listing = browser_client.get("/admin/products")
    assert "Default store hat" not in listing.text
    assert browser_client.get(f"/admin/products/{mine}").status_code == 404
    token = csrf_of(browser_client)
    changed = browser_client.post(
        f"/admin/products/{mine}", data={"name": "Taken", "commodity_type": "physical", "csrf_token": token}
    )
    assert changed.status_code == 404
    assert api.get(f"/pcm/products/{mine}").json()["data"]["attributes"]["name"] == "Default store hat"


def test_a_store_user_may_read_but_not_change_organization_products(
    browser_client: TestClient, people: People, keys: Keys, db: Database
) -> None:
    organization = keys.caller(organization=True)
    shared = organization.post(
        "/pcm/products",
        json={"data": {"type": "product", "attributes": {"name": "Org wide", "commodity_type": "physical"}}},
    ).json()["data"]["id"]
    sign_in(browser_client, people.create("editor"))
    assert "Org wide" in browser_client.get(f"/admin/products/{shared}").text
    token = csrf_of(browser_client)
    refused = browser_client.post(
        f"/admin/products/{shared}", data={"name": "Mine now", "commodity_type": "physical", "csrf_token": token}
    )
    assert refused.status_code == 403
    assert "entity owned by organization" in refused.text
    not_deleted = browser_client.post(f"/admin/products/{shared}/delete", data={"csrf_token": token})
    assert not_deleted.status_code == 403
    assert "<h1>Not deleted</h1>" in not_deleted.text and "entity owned by organization" in not_deleted.text
    with db.sessions() as session:
        assert session.scalar(select(Product.name).where(Product.id == uuid.UUID(shared))) == "Org wide"
    unknown = uuid.uuid4()
    gone = browser_client.post(f"/admin/products/{unknown}/delete", data={"csrf_token": token})
    assert gone.status_code == 404 and "<h1>Not found</h1>" in gone.text


def test_redelivering_an_unknown_job_shows_the_not_found_page(browser_client: TestClient, people: People) -> None:
    sign_in(browser_client, people.create("admin"))
    token = csrf_of(browser_client)
    for integration, job in ((uuid.uuid4(), uuid.uuid4()), ("not-an-id", "nor-this")):
        answer = browser_client.post(
            f"/admin/webhooks/{integration}/jobs/{job}/redeliver", data={"csrf_token": token}, follow_redirects=False
        )
        assert answer.status_code == 404, answer.text
        assert "<h1>Not found</h1>" in answer.text


def test_the_lock_out_window(db: Database) -> None:
    """Ten failures within fifteen minutes lock the email for fifteen minutes from the tenth."""
    now = utcnow()
    email = "someone@example.com"
    with db.sessions.begin() as session:
        for minutes in (29, 13, 12, 11, 10, 9, 8, 7, 6):  # nine failures: not yet
            session.add(SignInFailure(email=email, at=now - timedelta(minutes=minutes)))
        session.flush()
        assert users.locked_until(session, email, now) is None
        # a tenth, but the first was more than fifteen minutes before it: still not
        session.add(SignInFailure(email=email, at=now - timedelta(minutes=5)))
        session.flush()
        assert users.locked_until(session, email, now) is None
        # an eleventh: now ten within fifteen minutes (13 … 1 minutes ago), locked for 15 minutes from it
        session.add(SignInFailure(email=email, at=now - timedelta(minutes=1)))
        session.flush()
        until = users.locked_until(session, email, now)
        assert until is not None
        assert abs((until - now) - timedelta(minutes=14)) < timedelta(seconds=1)
        assert users.locked_until(session, email, now + timedelta(minutes=14, seconds=1)) is None
        assert users.locked_until(session, "other@example.com", now) is None


def test_a_locked_email_is_refused_with_the_right_password(db: Database, people: People) -> None:
    email = people.create("viewer")
    for _ in range(10):
        with db.sessions() as session:
            with pytest.raises(Unauthenticated):
                users.sign_in(session, email, "wrong password here")
            session.commit()  # the failure is recorded, as the sign-in page commits it
    with db.sessions() as session, pytest.raises(Forbidden, match="Too many failed sign-in attempts"):
        users.sign_in(session, email, PASSWORD)


def test_browsing_finds_name_or_sku_in_any_case_and_takes_wildcards_literally(db: Database, api: Caller) -> None:
    from assortment.domain.products import ProductService
    from assortment.domain.tenancy import Principal

    for name, sku in [
        ("Blue Shirt", "BS-100"),
        ("Shirt 100% cotton", "SC-1"),
        ("Shirt_long", "SL-1"),
        ("Shirtlong", "SL-2"),
        ("Scarf", "blue-scarf"),
        ("Été hat", "HAT-ÉTÉ"),
    ]:
        body = {"data": {"type": "product", "attributes": {"name": name, "sku": sku, "commodity_type": "physical"}}}
        assert api.post("/pcm/products", json=body).status_code == 201
    principal = Principal(key_id=uuid.uuid4(), store_id=api.key.store_id, grant="client_credentials")
    with db.sessions() as session:
        service = ProductService(session, principal)

        def names(text: str, limit: int = 25, offset: int = 0) -> list[str]:
            return [p.name for p in service.browse(text, limit, offset)[0]]

        assert names("BLUE") == ["Scarf", "Blue Shirt"]  # name or SKU, any case, newest first
        assert names("100%") == ["Shirt 100% cotton"]  # % is a character, not a wildcard
        assert names("t_l") == ["Shirt_long"]  # so is _
        assert names("Été") == ["Été hat"]
        assert names("été") == ["Été hat"]  # case folded beyond ASCII too
        assert names("t_l") == ["Shirt_long"]
        assert names('"x') == []  # a quote is a character, not query syntax
        assert names("BS-100") == ["Blue Shirt"]
        assert names("hA") == ["Été hat"]  # under three characters: no trigram, still any case
        assert names("") == names("", 10)[:10]
        assert len(names("")) == 6
        first, more = service.browse("shirt", 2, 0)
        assert [p.name for p in first] == ["Shirtlong", "Shirt_long"] and more
        rest, more = service.browse("shirt", 2, 2)
        assert [p.name for p in rest] == ["Shirt 100% cotton", "Blue Shirt"] and not more
