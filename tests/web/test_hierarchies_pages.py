"""Hierarchy pages without a browser (in-process, same database as the API): forged and CSRF-less writes
change nothing, refused moves show the API's own detail, and drops land where they were dropped."""

from __future__ import annotations

import html
import itertools
import random
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assortment.db.repositories.workbench_tree import Sibling
from assortment.domain.workbench_tree import sort_orders_for
from tests.conftest import Caller
from tests.helpers import product_body
from tests.web.conftest import PASSWORD, People

pytestmark = pytest.mark.usefixtures("db")


class Pages:
    """The workbench through the in-process client, signed in with a session cookie."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.csrf = ""

    def sign_in(self, email: str) -> None:
        page = self.client.get("/admin/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, page.text
        answer = self.client.post(
            "/admin/login",
            data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        found = re.search(r'name="csrf_token" value="([^"]+)"', self.client.get("/admin/hierarchies").text)
        assert found
        self.csrf = found.group(1)

    def post(self, url: str, data: dict[str, Any] | None = None, *, csrf: str | None = None) -> Any:
        form = dict(data or {})
        token = self.csrf if csrf is None else csrf
        if token:
            form["csrf_token"] = token
        return self.client.post(url, data=form, follow_redirects=False)


@pytest.fixture
def pages(client: TestClient) -> Iterator[Pages]:
    client.cookies.clear()
    try:
        yield Pages(client)
    finally:
        client.cookies.clear()


def alerts(page: Any) -> list[str]:
    return [
        html.unescape(re.sub(r"<[^>]+>", "", a)).strip()
        for a in re.findall(r'role="alert">(.*?)</div>', page.text, re.S)
    ]


class Tree:
    """A hierarchy made through the API: Women (Shoes (Boots), Dresses), Men (Shoes) and one product."""

    def __init__(self, api: Caller) -> None:
        self.api = api
        made = api.post("/pcm/hierarchies", json={"data": {"type": "hierarchy", "attributes": {"name": "Apparel"}}})
        assert made.status_code == 201, made.text
        self.id = made.json()["data"]["id"]
        self.ids: dict[str, str] = {}
        self.add("Women")
        self.add("Men")
        self.add("Shoes", "Women")
        self.add("Dresses", "Women")
        self.add("Boots", "Shoes")
        self.add("MensShoes", "Men", name="Shoes")
        answer = api.post("/pcm/products", json=product_body(name="Boot", sku="B-1"))
        assert answer.status_code == 201, answer.text
        self.product = answer.json()["data"]["id"]
        linked = api.post(
            f"/pcm/hierarchies/{self.id}/nodes/{self.ids['Boots']}/relationships/products",
            json={"data": [{"type": "product", "id": self.product}]},
        )
        assert linked.status_code == 201, linked.text

    def add(self, key: str, parent: str | None = None, *, name: str | None = None) -> None:
        data: dict[str, Any] = {"type": "node", "attributes": {"name": name or key}}
        if parent:
            data["relationships"] = {"parent": {"data": {"type": "node", "id": self.ids[parent]}}}
        answer = self.api.post(f"/pcm/hierarchies/{self.id}/nodes", json={"data": data})
        assert answer.status_code == 201, answer.text
        self.ids[key] = answer.json()["data"]["id"]

    def node(self, key: str) -> str:
        return f"/admin/hierarchies/{self.id}/nodes/{self.ids[key]}"

    def state(self) -> Any:
        """Everything a write could change, as the API reports it."""
        hierarchies = self.api.get("/pcm/hierarchies").json()["data"]
        nodes = self.api.get("/pcm/hierarchies/nodes", params={"page[limit]": 100}).json()["data"]
        shape = sorted(
            (
                n["id"],
                n["attributes"]["name"],
                n["attributes"].get("slug"),
                n["attributes"].get("curated_products"),
                n["relationships"].get("parent", {}).get("data", {}).get("id"),
                n["meta"].get("sort_order"),
                n["meta"]["updated_at"],
            )
            for n in nodes
        )
        products = [
            [p["id"] for p in self.api.get(f"/pcm/hierarchies/{self.id}/nodes/{nid}/products").json()["data"]]
            for nid in sorted(self.ids.values())
        ]
        return [(h["id"], h["attributes"], h["meta"]["updated_at"]) for h in hierarchies], shape, products

    def children(self, parent: str | None) -> list[str]:
        url = (
            f"/pcm/hierarchies/{self.id}/children"
            if parent is None
            else f"/pcm/hierarchies/{self.id}/nodes/{self.ids[parent]}/children"
        )
        return [n["attributes"]["name"] for n in self.api.get(url, params={"page[limit]": 100}).json()["data"]]


def writes(tree: Tree) -> list[tuple[str, dict[str, Any]]]:
    """Every state-changing hierarchy page request, with a body that would succeed for an editor."""
    base = f"/admin/hierarchies/{tree.id}"
    return [
        ("/admin/hierarchies", {"name": "Forged"}),
        (base, {"name": "Forged rename", "slug": "forged"}),
        (f"{base}/duplicate", {"name": "Forged copy"}),
        (f"{base}/delete", {}),
        (f"{base}/nodes", {"name": "Forged node"}),
        (f"{tree.node('Dresses')}/rename", {"name": "Forged name"}),
        (f"{tree.node('Dresses')}/move", {"parent": tree.ids["Men"]}),
        (f"{tree.node('Dresses')}/place", {"parent": tree.ids["Women"], "before": tree.ids["Shoes"]}),
        (f"{tree.node('Dresses')}/delete", {}),
        (f"{tree.node('Dresses')}/products", {"product": tree.product}),
        (f"{tree.node('Boots')}/curated", {"product": tree.product, "step": "curate"}),
        (f"{tree.node('Boots')}/products/remove", {"product": tree.product}),
    ]


def test_a_viewers_forged_writes_are_refused_and_change_nothing(pages: Pages, people: People, api: Caller) -> None:
    tree = Tree(api)
    before = tree.state()
    pages.sign_in(people.create("viewer"))
    for url, data in writes(tree):
        answer = pages.post(url, data)
        assert answer.status_code == 403, (url, answer.text)
        assert "editor" in answer.text, url
    assert tree.state() == before


@pytest.mark.parametrize("csrf", ["", "wrong-token"])
def test_writes_without_the_csrf_token_are_refused_and_change_nothing(
    pages: Pages, people: People, api: Caller, csrf: str
) -> None:
    tree = Tree(api)
    before = tree.state()
    pages.sign_in(people.create("editor"))
    for url, data in writes(tree):
        answer = pages.post(url, data, csrf=csrf)
        assert answer.status_code == 403, (url, answer.text)
        assert "CSRF" in answer.text, url
    assert tree.state() == before


def test_the_same_writes_with_the_token_succeed(pages: Pages, people: People, api: Caller) -> None:
    """The refusals above are about the role and the token, not the requests."""
    tree = Tree(api)
    pages.sign_in(people.create("editor"))
    for url, data in writes(tree):
        if url.endswith(f"{tree.id}/delete") or url.endswith("nodes/" + tree.ids["Dresses"] + "/delete"):
            continue
        answer = pages.post(url, data)
        assert answer.status_code == 303, (url, answer.text)
    assert tree.children("Women") == ["Forged name", "Shoes"]  # renamed, moved away and placed back first


def test_editing_a_hierarchy_saves_through_the_api_rules(pages: Pages, people: People, api: Caller) -> None:
    tree = Tree(api)
    pages.sign_in(people.create("editor"))
    form = pages.client.get(f"/admin/hierarchies/{tree.id}/edit")
    assert form.status_code == 200
    assert 'value="Apparel"' in form.text
    refused = pages.post(f"/admin/hierarchies/{tree.id}", {"name": "", "slug": "clothes"})
    assert refused.status_code == 200
    assert alerts(refused) == ["data.attributes.name: String should have at least 1 character"]
    bad_slug = pages.post(f"/admin/hierarchies/{tree.id}", {"name": "Clothes", "slug": "not a slug"})
    assert alerts(bad_slug) and alerts(bad_slug)[0].startswith("data.attributes.slug:")
    assert api.get(f"/pcm/hierarchies/{tree.id}").json()["data"]["attributes"]["name"] == "Apparel"
    saved = pages.post(f"/admin/hierarchies/{tree.id}", {"name": "Clothes", "slug": "clothes", "description": "All"})
    assert saved.status_code == 303
    attributes = api.get(f"/pcm/hierarchies/{tree.id}").json()["data"]["attributes"]
    assert (attributes["name"], attributes["slug"], attributes["description"]) == ("Clothes", "clothes", "All")
    cleared = pages.post(f"/admin/hierarchies/{tree.id}", {"name": "Clothes", "slug": "", "description": ""})
    assert cleared.status_code == 303
    attributes = api.get(f"/pcm/hierarchies/{tree.id}").json()["data"]["attributes"]
    assert "slug" not in attributes or attributes["slug"] is None
    assert "description" not in attributes or attributes["description"] is None


def api_detail(api: Caller, method: str, url: str, body: Any) -> str:
    answer = api.request(method, url, json=body)
    assert answer.status_code == 422, answer.text
    detail: str = answer.json()["errors"][0]["detail"]
    return detail


def test_refused_moves_show_the_apis_detail_and_change_nothing(pages: Pages, people: People, api: Caller) -> None:
    tree = Tree(api)
    pages.sign_in(people.create("editor"))
    before = tree.state()
    parent_url = f"/pcm/hierarchies/{tree.id}/nodes/{tree.ids['Women']}/relationships/parent"

    cycle = api_detail(api, "PUT", parent_url, {"data": {"type": "node", "id": tree.ids["Boots"]}})
    assert cycle == "a node cannot become a child of itself or of one of its descendants"
    answer = pages.post(f"{tree.node('Women')}/move", {"parent": tree.ids["Boots"], "open": tree.ids["Women"]})
    assert answer.status_code == 200
    assert alerts(answer) == [cycle]
    assert 'role="tree"' in answer.text and f'id="node-{tree.ids["Shoes"]}"' in answer.text  # the open tree
    answer = pages.post(f"{tree.node('Women')}/place", {"parent": tree.ids["Shoes"], "after": tree.ids["Boots"]})
    assert alerts(answer) == [cycle]

    itself = api_detail(api, "PUT", parent_url, {"data": {"type": "node", "id": tree.ids["Women"]}})
    assert alerts(pages.post(f"{tree.node('Women')}/move", {"parent": tree.ids["Women"]})) == [itself]
    assert alerts(pages.post(f"{tree.node('Women')}/place", {"parent": tree.ids["Women"]})) == [itself]

    shoes_url = f"/pcm/hierarchies/{tree.id}/nodes/{tree.ids['MensShoes']}/relationships/parent"
    duplicate = api_detail(api, "PUT", shoes_url, {"data": {"type": "node", "id": tree.ids["Women"]}})
    assert duplicate == "name 'Shoes' is already used by a sibling node; names must be unique among siblings"
    mens_shoes = f"/admin/hierarchies/{tree.id}/nodes/{tree.ids['MensShoes']}"
    assert alerts(pages.post(f"{mens_shoes}/move", {"parent": tree.ids["Women"]})) == [duplicate]
    assert alerts(pages.post(f"{mens_shoes}/place", {"parent": tree.ids["Women"], "before": tree.ids["Dresses"]})) == [
        duplicate
    ]
    renamed = pages.post(f"{tree.node('Dresses')}/rename", {"name": "Shoes"})
    assert alerts(renamed) == [duplicate]

    stale = pages.post(f"{tree.node('Dresses')}/place", {"parent": tree.ids["Women"], "before": tree.ids["Men"]})
    assert alerts(stale) == ["the node next to the drop position is no longer there; reload the page and try again"]
    missing = pages.post(f"{tree.node('Dresses')}/move", {"parent": str(uuid.uuid4())})
    assert alerts(missing) == ["nodes must exist in the same hierarchy"]
    assert tree.state() == before


def test_drops_between_siblings_land_where_dropped(pages: Pages, people: People, api: Caller) -> None:
    """Every position among siblings with and without sort orders, checked in the API's child order."""
    made = api.post("/pcm/hierarchies", json={"data": {"type": "hierarchy", "attributes": {"name": "Many"}}})
    hierarchy = made.json()["data"]["id"]
    ids: dict[str, str] = {}
    for index, name in enumerate("ABCDEF"):
        data: dict[str, Any] = {"type": "node", "attributes": {"name": name}}
        if index % 2 == 0:
            data["meta"] = {"sort_order": 10 - index // 2}  # A, C, E ordered; B, D, F not
        answer = api.post(f"/pcm/hierarchies/{hierarchy}/nodes", json={"data": data})
        ids[name] = answer.json()["data"]["id"]
    pages.sign_in(people.create("editor"))

    def order() -> list[str]:
        answer = api.get(f"/pcm/hierarchies/{hierarchy}/children")
        return [n["attributes"]["name"] for n in answer.json()["data"]]

    rng = random.Random(7)
    for _ in range(12):
        current = order()
        moving = rng.choice(current)
        others = [n for n in current if n != moving]
        position = rng.randrange(len(others) + 1)
        form = {"parent": ""}
        if position < len(others):
            form["before"] = ids[others[position]]
        else:
            form["after"] = ids[others[-1]]
        answer = pages.post(f"/admin/hierarchies/{hierarchy}/nodes/{ids[moving]}/place", form)
        assert answer.status_code == 303, alerts(answer)
        assert order() == [*others[:position], moving, *others[position:]]


def arranged(siblings: list[Sibling], index: int) -> list[str]:
    """Apply `sort_orders_for` and sort as the API does (changed nodes are the most recently updated)."""
    new = Sibling(uuid.UUID(int=0), None)
    placed = [*siblings[:index], new, *siblings[index:]]
    changes = sort_orders_for(siblings, index)
    rows = []
    for position, sibling in enumerate(placed):
        value = changes.get(position, sibling.sort_order)
        recency = -1 if position in changes else position  # the API: newest first among equals
        rows.append((value is None, -(value or 0), recency, str(sibling.id)))
    rows.sort()
    return [row[3] for row in rows]


def test_sort_orders_for_every_position() -> None:
    values = [None, 0, 1, 2, 5, -3, 2**31 - 1, -(2**31 - 1)]
    for size in range(5):
        for combo in itertools.islice(itertools.product(values, repeat=size), 400):
            ordered = sorted(combo, key=lambda v: (v is None, -(v or 0)))
            siblings = [Sibling(uuid.UUID(int=i + 1), v) for i, v in enumerate(ordered)]
            for index in range(size + 1):
                expected = [str(s.id) for s in siblings]
                expected.insert(index, str(uuid.UUID(int=0)))
                assert arranged(siblings, index) == expected, (ordered, index)
                assert all(abs(v) <= 2**31 - 1 for v in sort_orders_for(siblings, index).values())
