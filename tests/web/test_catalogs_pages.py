"""Release pages without a browser (in-process, same database as the API): a comparison's pages read from
what was kept of it are the pages found from scratch."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update

from assortment.db.models import ReleaseChange, ReleaseComparison
from tests.catalogs import link, make_catalog, make_hierarchy, make_node, make_product, publish, set_product, unlink
from tests.conftest import Caller, Database
from tests.web.conftest import PASSWORD, People

PER_KIND = 25  # entries of each kind on one page of a comparison (web/catalogs.py CHANGES_SHOWN)


@pytest.fixture
def signed_in(client: TestClient, people: People) -> Iterator[TestClient]:
    client.cookies.clear()
    form = client.get("/admin/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, form.text
    answer = client.post(
        "/admin/login",
        data={"email": people.create("viewer"), "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    try:
        yield client
    finally:
        client.cookies.clear()


def page_text(client: TestClient, url: str) -> str:
    answer = client.get(url)
    assert answer.status_code == 200, answer.text
    return re.sub(r'"X-CSRF-Token": "[^"]+"', '"X-CSRF-Token": ""', answer.text)  # the session's own token


def forget(db: Database) -> None:
    with db.sessions.begin() as session:
        session.execute(delete(ReleaseComparison))


def kept_fields(db: Database) -> list[str | None]:
    with db.sessions() as session:
        return list(session.scalars(select(ReleaseChange.fields)))


def _two_releases(api: Caller) -> tuple[str, str, list[str]]:
    """A catalog whose second release has more than a page of each kind of change: 30 products renamed,
    27 added, 26 gone (and their node's product list changed). Returns the catalog, the second release and
    the renamed products."""
    hierarchy = make_hierarchy(api, name="Hardware")["id"]
    node = make_node(api, hierarchy, "Tools")["id"]
    renamed = [make_product(api, name=f"Tool {i:02}", sku=f"T-{i:02}", status="live")["id"] for i in range(30)]
    gone = [make_product(api, name=f"Old {i:02}", sku=f"O-{i:02}", status="live")["id"] for i in range(26)]
    link(api, hierarchy, node, *renamed, *gone)
    catalog = make_catalog(api, [hierarchy], name="Hardware shop")["id"]
    publish(api, catalog)
    for i, product in enumerate(renamed):
        set_product(api, product, name=f"Tool {i:02} mark II")
    unlink(api, hierarchy, node, *gone)
    added = [make_product(api, name=f"New {i:02}", sku=f"N-{i:02}", status="live")["id"] for i in range(27)]
    link(api, hierarchy, node, *added)
    second: str = publish(api, catalog)["id"]
    return catalog, second, renamed


def test_a_kept_comparison_shows_the_pages_found_from_scratch(signed_in: TestClient, api: Caller, db: Database) -> None:
    catalog, second, renamed = _two_releases(api)
    url = f"/admin/catalogs/{catalog}/releases/{second}/compare"
    pages = [url, f"{url}?page=2", f"{url}?page=3"]  # the third past the end
    fresh: list[str] = []
    for page in pages:  # each found from scratch (and kept, then forgotten)
        fresh.append(page_text(signed_in, page))
        forget(db)
    assert "<strong>27</strong> created, <strong>31</strong> updated, <strong>26</strong> deleted" in fresh[0]
    assert 'rel="next"' in fresh[0] and 'rel="next"' not in fresh[1] and fresh[2].count("None.") == 3
    assert fresh[0].count('<span class="badge field">name</span>') == PER_KIND - 1  # the node's first
    assert fresh[1].count('<span class="badge field">name</span>') == 30 - (PER_KIND - 1)

    page_text(signed_in, pages[0])  # kept: its first page's fields with it
    assert len([f for f in kept_fields(db) if f is not None]) == PER_KIND
    assert [page_text(signed_in, page) for page in pages] == fresh  # the other pages named, and kept
    assert len([f for f in kept_fields(db) if f is not None]) == 31
    assert [page_text(signed_in, page) for page in pages] == fresh  # every page read from what was kept

    # The pages read what was kept (made up here, to tell it from fields found again).
    shown_first = next(product for product in renamed if product in fresh[0])  # the list is in id order
    with db.sessions.begin() as session:
        session.execute(
            update(ReleaseChange).where(ReleaseChange.entity_id == uuid.UUID(shown_first)).values(fields='["kept"]')
        )
    shown = page_text(signed_in, pages[0]).splitlines()
    differ = [(a, b) for a, b in zip(fresh[0].splitlines(), shown, strict=True) if a != b]
    assert len(differ) == 1 and shown_first in differ[0][1]
    assert '<span class="badge field">kept</span>' in differ[0][1]
    assert '<span class="badge field">name</span>' in differ[0][0]
