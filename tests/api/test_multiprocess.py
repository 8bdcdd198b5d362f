"""Rules hold when several server processes write to one database at once."""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import Database, Keys
from tests.helpers import product_body
from tests.servers import running_servers

pytestmark = pytest.mark.multiprocess


def _token(url: str, client_id: str, client_secret: str) -> str:
    response = httpx.post(
        f"{url}/oauth/access_token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def test_parallel_creates_with_one_sku_make_exactly_one_product(db: Database, keys: Keys) -> None:
    key = keys.key()
    with running_servers(db.settings.database_url, count=2) as urls:
        # A token from one process is accepted by the other.
        token = _token(urls[0], key.client_id, key.client_secret)
        headers = {"Authorization": f"Bearer {token}"}

        def create(i: int) -> int:
            url = urls[i % len(urls)]
            body = product_body(sku="RACE-1", name=f"racer {i}")
            return httpx.post(f"{url}/pcm/products", json=body, headers=headers, timeout=30).status_code

        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = Counter(pool.map(create, range(32)))
        assert statuses == {201: 1, 422: 31}
        listed = httpx.get(f"{urls[1]}/pcm/products?filter=eq(sku,RACE-1)", headers=headers).json()
        assert listed["meta"]["results"]["total"] == 1


def test_parallel_updates_never_fail_with_a_server_error(db: Database, keys: Keys) -> None:
    key = keys.key()
    with running_servers(db.settings.database_url, count=2) as urls:
        headers = {"Authorization": f"Bearer {_token(urls[0], key.client_id, key.client_secret)}"}
        created = httpx.post(f"{urls[0]}/pcm/products", json=product_body(), headers=headers).json()["data"]
        product_id = created["id"]

        def rename(i: int) -> tuple[int, str]:
            url = urls[i % len(urls)]
            name = f"name-{i}-{uuid.uuid4().hex[:6]}"
            body = {"data": {"type": "product", "id": product_id, "attributes": {"name": name}}}
            response = httpx.put(f"{url}/pcm/products/{product_id}", json=body, headers=headers, timeout=30)
            return response.status_code, name

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(rename, range(24)))
        statuses = Counter(status for status, _ in results)
        assert set(statuses) <= {200, 409}, statuses
        final = httpx.get(f"{urls[1]}/pcm/products/{product_id}", headers=headers).json()["data"]
        # The stored name is one that a successful request wrote: nothing was merged or lost silently.
        assert final["attributes"]["name"] in {name for status, name in results if status == 200}
