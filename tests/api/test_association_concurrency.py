"""Custom relationship limits and bi-directional pairs hold when several server processes change one
product's relationships at once (SPEC §3.3–3.4, §6 409, §B-30).

Every request starts at a barrier, alternating between two servers on one database. A response is
either a success or `409 write conflict detected`; what was stored must be exactly what the successful
responses reported, and no limit may be passed.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.conftest import Caller, Database
from tests.helpers import errors_of
from tests.relationships import (
    AT_2000,
    AT_FIVE,
    attach,
    count_edges,
    count_slots,
    insert_products,
    items,
    make_definition,
    make_product,
    refs,
    seed_associations,
    slugs_of,
    stored_edges,
)
from tests.servers import running_servers

pytestmark = pytest.mark.multiprocess

WRITE_CONFLICT = "write conflict detected"


@pytest.fixture(scope="module")
def servers(database: Database) -> Iterator[list[str]]:
    with running_servers(database.settings.database_url, count=2) as urls:
        yield urls


def race(urls: list[str], api: Caller, requests: list[tuple[str, str, Any]]) -> list[httpx.Response]:
    """Send (method, path, body) requests all at once, alternating servers; responses in request order."""
    barrier = threading.Barrier(len(requests))

    def send(index: int) -> httpx.Response:
        method, path, body = requests[index]
        with httpx.Client(base_url=urls[index % len(urls)], headers=api.headers, timeout=60) as client:
            request = client.build_request(method, path, json=body)
            barrier.wait()
            return client.send(request)

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(send, range(len(requests))))


def check_conflict(response: httpx.Response) -> None:
    [error] = errors_of(response)
    assert error["title"] == "Conflict"
    assert error["detail"] == WRITE_CONFLICT


def split(responses: list[httpx.Response], ok: int, *refused: int) -> list[httpx.Response]:
    """The successful responses; the others must be 409 write conflicts or one of `refused`."""
    for response in responses:
        if response.status_code == 409:
            check_conflict(response)
        else:
            assert response.status_code in (ok, *refused), response.text
    return [r for r in responses if r.status_code == ok]


def test_racing_past_2000_stores_exactly_2000(servers: list[str], api: Caller, db: Database) -> None:
    make_definition(api, "related")
    source = make_product(api)
    seed_associations(db, source, "CRP_related", 1990)
    scope = api.key.store_id
    assert scope is not None
    batches = [insert_products(db, scope, 4, f"batch {i}") for i in range(8)]
    path = f"/pcm/products/{source}/custom-relationships/CRP_related"
    responses = race(servers, api, [("POST", path, items(batch)) for batch in batches])
    created = split(responses, 201)
    assert created, "no request succeeded"
    assert count_edges(db, source) == 2000
    associated = [pid for r in created for pid in r.json()["meta"]["associated_products"]]
    assert len(associated) == 10
    stored_new = {t for s, t in stored_edges(db) if s == source} & {p for b in batches for p in b}
    assert set(associated) == stored_new
    for response in created:
        meta = response.json()["meta"]
        batch = batches[responses.index(response)]
        # Each request accounts for every one of its items, in request order, refused ones for the limit.
        assert sorted(meta["associated_products"] + [i["ID"] for i in meta["products_not_associated"]]) == sorted(batch)
        assert {i["Details"] for i in meta["products_not_associated"]} <= {AT_2000}
    # Refused targets were left untouched; associated ones carry the slug.
    for batch in batches:
        for product_id in batch:
            assert count_slots(db, product_id) == (1 if product_id in stored_new else 0)


def test_parallel_appends_lose_nothing(servers: list[str], api: Caller, db: Database) -> None:
    make_definition(api, "related")
    source = make_product(api)
    scope = api.key.store_id
    assert scope is not None
    batches = [insert_products(db, scope, 5, f"batch {i}") for i in range(8)]
    path = f"/pcm/products/{source}/custom-relationships/CRP_related"
    responses = race(servers, api, [("POST", path, items(batch)) for batch in batches])
    created = split(responses, 201)
    reported = {pid for r in created for pid in r.json()["meta"]["associated_products"]}
    for response in created:
        assert response.json()["meta"]["products_not_associated"] == []
    assert {t for s, t in stored_edges(db) if s == source} == reported
    assert len(reported) == 5 * len(created)


def test_racing_slugs_onto_one_product_attach_exactly_five(servers: list[str], api: Caller, db: Database) -> None:
    for i in range(7):
        make_definition(api, f"r{i}")
    product = make_product(api)
    assert attach(api, product, "r0", "r1").status_code == 201
    path = f"/pcm/products/{product}/custom-relationships"
    responses = race(servers, api, [("POST", path, refs([f"r{i}"])) for i in range(2, 7)])
    created = split(responses, 201, 422)
    for response in responses:
        if response.status_code == 422:
            assert errors_of(response)[0]["detail"] == AT_FIVE
    assert count_slots(db, product) == 5
    assert len(created) == 3
    attached = set(slugs_of(api, product))
    assert attached == {"CRP_r0", "CRP_r1"} | {f"CRP_r{i + 2}" for i, r in enumerate(responses) if r in created}


def test_racing_associations_attach_at_most_five_to_the_source(servers: list[str], api: Caller, db: Database) -> None:
    """Each request needs its slug attached to the source automatically."""
    for i in range(7):
        make_definition(api, f"r{i}")
    source = make_product(api)
    assert attach(api, source, "r0", "r1").status_code == 201
    targets = [make_product(api) for _ in range(5)]
    requests = [
        ("POST", f"/pcm/products/{source}/custom-relationships/CRP_r{i + 2}", items([targets[i]])) for i in range(5)
    ]
    responses = race(servers, api, requests)
    created = split(responses, 201, 422)
    assert count_slots(db, source) == 5
    assert len(created) == 3
    assert count_edges(db, source) == 3
    for response in responses:
        if response.status_code == 422:
            assert errors_of(response)[0]["detail"] == AT_FIVE


def test_racing_associations_attach_at_most_five_to_a_target(servers: list[str], api: Caller, db: Database) -> None:
    """Five sources give one target five new slugs at once; it has room for three."""
    for i in range(7):
        make_definition(api, f"r{i}")
    target = make_product(api)
    assert attach(api, target, "r0", "r1").status_code == 201
    sources = [make_product(api) for _ in range(5)]
    requests = [
        ("POST", f"/pcm/products/{sources[i]}/custom-relationships/CRP_r{i + 2}", items([target])) for i in range(5)
    ]
    responses = race(servers, api, requests)
    created = split(responses, 201)
    associated = [r for r in created if r.json()["meta"]["associated_products"] == [target]]
    refused = [
        r for r in created if r.json()["meta"]["products_not_associated"] == [{"ID": target, "Details": AT_FIVE}]
    ]
    assert len(associated) == 3
    assert len(associated) + len(refused) == len(created)
    assert count_slots(db, target) == 5
    assert len(stored_edges(db)) == 3


def test_bi_directional_sides_always_agree(servers: list[str], api: Caller, db: Database) -> None:
    make_definition(api, "pair", bi_directional=True)
    products = [make_product(api) for _ in range(5)]
    pairs = [(a, b) for a in products for b in products if a != b]
    rng = random.Random(2002)

    def request(i: int) -> tuple[str, str, Any]:
        a, b = rng.choice(pairs)
        method = "POST" if i % 2 == 0 else "DELETE"
        return method, f"/pcm/products/{a}/custom-relationships/CRP_pair", items([b])

    for _round in range(2):
        responses = race(servers, api, [request(i) for i in range(12)])
        for response in responses:
            if response.status_code == 409:
                check_conflict(response)
            else:
                assert response.status_code in (201, 204), response.text
        edges = stored_edges(db, "CRP_pair")
        assert edges == {(b, a) for a, b in edges}
    # A last associate of everything with everything ends with every pair on both sides.
    hub = products[0]
    responses = race(
        servers,
        api,
        [("POST", f"/pcm/products/{p}/custom-relationships/CRP_pair", items([hub])) for p in products[1:]],
    )
    split(responses, 201)
    edges = stored_edges(db, "CRP_pair")
    assert edges == {(b, a) for a, b in edges}
    done = {a for a, b in edges if b == hub}
    assert done >= {p for p, r in zip(products[1:], responses, strict=True) if r.status_code == 201}


def test_deleting_products_while_they_are_associated(servers: list[str], api: Caller, db: Database) -> None:
    """A target or source deleted mid-request never leaves an edge behind nor fails with a 500."""
    make_definition(api, "pair", bi_directional=True)
    source = make_product(api)
    for _round in range(3):
        targets = [make_product(api) for _ in range(4)]
        requests: list[tuple[str, str, Any]] = [
            ("POST", f"/pcm/products/{source}/custom-relationships/CRP_pair", items(targets))
        ]
        requests += [("DELETE", f"/pcm/products/{t}", None) for t in targets]
        responses = race(servers, api, requests)
        for response in responses:
            if response.status_code == 409:
                check_conflict(response)
            else:
                assert response.status_code in (201, 204), response.text
        edges = stored_edges(db, "CRP_pair")
        assert edges == {(b, a) for a, b in edges}
        live = {p for p in targets if api.get(f"/pcm/products/{p}").status_code == 200}
        assert {b for a, b in edges if a == source} <= live


def test_deleting_a_definition_while_it_is_being_used(servers: list[str], api: Caller, db: Database) -> None:
    """A definition is deleted only if nothing attached it: never a 204 beside a successful use."""
    for round_ in range(2):
        slug = f"CRP_d{round_}"
        make_definition(api, slug)
        products = [make_product(api) for _ in range(4)]
        requests: list[tuple[str, str, Any]] = [
            ("POST", f"/pcm/products/{products[0]}/custom-relationships/{slug}", items([products[1]])),
            ("POST", f"/pcm/products/{products[2]}/custom-relationships", refs([slug])),
            ("POST", f"/pcm/products/{products[3]}/custom-relationships/{slug}", items([products[0]])),
        ]
        responses = race(servers, api, [*requests, ("DELETE", f"/pcm/custom-relationships/{slug}", None)])
        *uses, deletion = responses
        for response in uses:
            if response.status_code == 409:
                check_conflict(response)
            else:
                assert response.status_code in (201, 404, 422), response.text
        assert deletion.status_code in (204, 400, 409), deletion.text
        used = any(r.status_code == 201 for r in uses)
        exists = api.get(f"/pcm/custom-relationships/{slug}").status_code == 200
        assert exists == (deletion.status_code != 204)
        assert not (used and deletion.status_code == 204)
        if deletion.status_code == 400:
            assert errors_of(deletion)[0]["detail"] == "custom relationship is in use"
            assert used


def test_making_a_definition_bi_directional_while_it_is_being_used(
    servers: list[str], api: Caller, db: Database
) -> None:
    """bi_directional changes only while nothing is associated; a bi-directional definition never ends up
    with one-sided pairs, whichever request wins."""
    for round_ in range(3):
        slug = f"CRP_b{round_}"
        created = make_definition(api, slug)
        target = make_product(api)
        sources = [make_product(api) for _ in range(3)]
        body = {"data": {"type": "custom-relationship", "id": created["id"], "attributes": {"bi_directional": True}}}
        requests: list[tuple[str, str, Any]] = [
            ("POST", f"/pcm/products/{s}/custom-relationships/{slug}", items([target])) for s in sources
        ]
        responses = race(servers, api, [*requests, ("PUT", f"/pcm/custom-relationships/{slug}", body)])
        *uses, change = responses
        for response in responses:
            if response.status_code == 409:
                check_conflict(response)
        assert {r.status_code for r in uses} <= {201, 409}
        assert change.status_code in (200, 422, 409), change.text
        bi = api.get(f"/pcm/custom-relationships/{slug}").json()["data"]["attributes"]["bi_directional"]
        assert bi == (change.status_code == 200)
        edges = stored_edges(db, slug)
        assert {(s, target) for s, r in zip(sources, uses, strict=True) if r.status_code == 201} <= edges
        if bi:
            assert edges == {(b, a) for a, b in edges}
        else:
            assert all(b == target for a, b in edges)
