"""The tree rules hold when two server processes change one hierarchy at once (SPEC §2.3 R1, R4, R5)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import httpx
import pytest

from tests.conftest import Database, Keys
from tests.servers import running_servers

pytestmark = pytest.mark.multiprocess

ROUNDS = 20


@pytest.fixture(scope="module")
def urls(database: Database) -> Iterator[list[str]]:
    """Two server processes on the test database, shared by this module's tests (tables are emptied
    between tests by the `db` fixture)."""
    with running_servers(database.settings.database_url, count=2) as started:
        yield started


def _headers(url: str, keys: Keys) -> dict[str, str]:
    key = keys.key()
    response = httpx.post(
        f"{url}/oauth/access_token",
        data={"grant_type": "client_credentials", "client_id": key.client_id, "client_secret": key.client_secret},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def _is_refusal(response: httpx.Response) -> bool:
    """A 422 with the error body of SPEC §0.4, never anything else."""
    assert response.status_code == 422, (response.status_code, response.text)
    [error] = response.json()["errors"]
    assert error["status"] == "422"
    assert error["title"] == "Failed Validation"
    return True


def _race(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Start every call at (nearly) the same moment."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], httpx.Response]) -> httpx.Response:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def test_parallel_sibling_creates_with_one_slug_make_exactly_one_node(
    db: Database, keys: Keys, urls: list[str]
) -> None:
    headers = _headers(urls[0], keys)
    client = httpx.Client(headers=headers, timeout=30)
    hid = _created(
        client.post(f"{urls[0]}/pcm/hierarchies", json={"data": {"type": "hierarchy", "attributes": {"name": "H"}}})
    )["id"]
    top = _created(
        client.post(
            f"{urls[1]}/pcm/hierarchies/{hid}/nodes",
            json={"data": {"type": "node", "attributes": {"name": "Top"}}},
        )
    )["id"]

    def create(i: int, parent: str | None) -> httpx.Response:
        data: dict[str, Any] = {"type": "node", "attributes": {"name": f"racer {i}", "slug": "race"}}
        if parent is not None:
            data["relationships"] = {"parent": {"data": {"type": "node", "id": parent}}}
        return client.post(f"{urls[i % 2]}/pcm/hierarchies/{hid}/nodes", json={"data": data})

    for parent in (None, top):  # top-level siblings, then children of one node
        responses = _race([partial(create, i, parent) for i in range(24)])
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {201: 1, 422: 23}, statuses
        assert all(_is_refusal(r) for r in responses if r.status_code != 201)
        children_url = (
            f"{urls[1]}/pcm/hierarchies/{hid}/children"
            if parent is None
            else f"{urls[1]}/pcm/hierarchies/{hid}/nodes/{parent}/children"
        )
        listed = client.get(children_url, params={"filter": "eq(slug,race)"}).json()
        assert listed["meta"]["results"]["total"] == 1
    client.close()


def _parents(client: httpx.Client, url: str, hid: str) -> dict[str, str | None]:
    body = client.get(f"{url}/pcm/hierarchies/{hid}/nodes", params={"page[limit]": "100"}).json()
    assert body["meta"]["results"]["total"] <= 100
    result: dict[str, str | None] = {}
    for node in body["data"]:
        parent = node["relationships"].get("parent")
        result[node["id"]] = None if parent is None else parent["data"]["id"]
    return result


def _assert_no_cycle(parents: dict[str, str | None]) -> None:
    for start in parents:
        seen = {start}
        current = parents[start]
        while current is not None:
            assert current not in seen, f"cycle through {current}"
            assert current in parents, f"parent {current} is not a node of the hierarchy"
            seen.add(current)
            current = parents[current]


def test_crossing_moves_never_make_a_cycle(db: Database, keys: Keys, urls: list[str]) -> None:
    client = httpx.Client(headers=_headers(urls[0], keys), timeout=30)
    hid = _created(
        client.post(f"{urls[0]}/pcm/hierarchies", json={"data": {"type": "hierarchy", "attributes": {"name": "H"}}})
    )["id"]
    base = f"/pcm/hierarchies/{hid}/nodes"

    def node(name: str) -> str:
        body = {"data": {"type": "node", "attributes": {"name": name}}}
        return str(_created(client.post(f"{urls[0]}{base}", json=body))["id"])

    def put_parent(url: str, child: str, parent: str) -> httpx.Response:
        return client.put(f"{url}{base}/{child}/relationships/parent", json={"data": {"type": "node", "id": parent}})

    def adopt(url: str, parent: str, child: str) -> httpx.Response:
        return client.post(
            f"{url}{base}/{parent}/relationships/children", json={"data": [{"type": "node", "id": child}]}
        )

    outcomes: Counter[tuple[int, ...]] = Counter()
    for round_ in range(ROUNDS):
        a, b = node(f"A{round_}"), node(f"B{round_}")
        if round_ % 2 == 0:
            # PUT …/relationships/parent: A under B and B under A.
            responses = _race([partial(put_parent, urls[0], a, b), partial(put_parent, urls[1], b, a)])
            success = 204
        else:
            # POST …/relationships/children: B's children = [A] and A's children = [B].
            responses = _race([partial(adopt, urls[0], b, a), partial(adopt, urls[1], a, b)])
            success = 200
        statuses = tuple(sorted(r.status_code for r in responses))
        outcomes[statuses] += 1
        assert statuses == tuple(sorted((success, 422))), [r.text for r in responses]
        assert all(_is_refusal(r) for r in responses if r.status_code != success)
        parents = _parents(client, urls[1], hid)
        _assert_no_cycle(parents)
        # Exactly one of the two moves happened.
        assert (parents[a] == b) != (parents[b] == a)
    assert sum(outcomes.values()) == ROUNDS
    _assert_no_cycle(_parents(client, urls[0], hid))
    client.close()


def test_parallel_moves_into_one_parent_keep_sibling_names_unique(db: Database, keys: Keys, urls: list[str]) -> None:
    """Nodes named alike under different parents race into one parent: exactly one arrives."""
    client = httpx.Client(headers=_headers(urls[0], keys), timeout=30)
    hid = _created(
        client.post(f"{urls[0]}/pcm/hierarchies", json={"data": {"type": "hierarchy", "attributes": {"name": "H"}}})
    )["id"]
    base = f"/pcm/hierarchies/{hid}/nodes"

    def node(name: str, parent: str | None = None) -> str:
        data: dict[str, Any] = {"type": "node", "attributes": {"name": name}}
        if parent is not None:
            data["relationships"] = {"parent": {"data": {"type": "node", "id": parent}}}
        return str(_created(client.post(f"{urls[0]}{base}", json={"data": data}))["id"])

    target = node("Target")
    movers = [node("Twin", parent=node(f"Holder {i}")) for i in range(8)]

    def move(i: int, mover: str) -> httpx.Response:
        return client.put(
            f"{urls[i % 2]}{base}/{mover}/relationships/parent", json={"data": {"type": "node", "id": target}}
        )

    responses = _race([partial(move, i, mover) for i, mover in enumerate(movers)])
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {204: 1, 422: 7}, statuses
    assert all(_is_refusal(r) for r in responses if r.status_code != 204)
    listed = client.get(f"{urls[1]}{base}/{target}/children").json()
    assert [n["attributes"]["name"] for n in listed["data"]] == ["Twin"]
    client.close()
