"""Currencies: SPEC §9.1 (`/v2/currencies`), P-7, P-8, P-9, P-14, P-17."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.conftest import Caller, Database, Keys
from tests.helpers import errors_of
from tests.servers import running_servers

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

EUR: dict[str, Any] = {
    "code": "EUR",
    "format": "€{price}",
    "decimal_point": ",",
    "thousand_separator": ".",
    "decimal_places": 2,
    "exchange_rate": 0.92,
    "default": False,
    "enabled": True,
}


def currency_body(**fields: Any) -> dict[str, Any]:
    return {"data": {"type": "currency", **EUR, **fields}}


def create(api: Caller, **fields: Any) -> dict[str, Any]:
    response = api.post("/v2/currencies", json=currency_body(**fields))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def update(api: Caller, currency_id: str, **fields: Any) -> Any:
    return api.put(f"/v2/currencies/{currency_id}", json={"data": fields})


def listed(api: Caller) -> list[dict[str, Any]]:
    response = api.get("/v2/currencies", params={"page[limit]": "100"})
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def by_code(api: Caller) -> dict[str, dict[str, Any]]:
    return {c["code"]: c for c in listed(api)}


def defaults(api: Caller) -> list[str]:
    return [c["code"] for c in listed(api) if c["default"]]


def assert_fails(response: Any, status: int, fragment: str = "", title: str | None = None) -> None:
    assert response.status_code == status, response.text
    errors = errors_of(response)
    if title is not None:
        assert errors[0]["title"] == title, errors
    assert fragment in errors[0].get("detail", ""), errors


# --- the seeded USD and the object -------------------------------------------------------------------


def test_a_new_store_starts_with_a_default_usd(api: Caller) -> None:
    currencies = listed(api)
    assert len(currencies) == 1
    usd = currencies[0]
    uuid.UUID(usd["id"])
    assert TIMESTAMP.match(usd["meta"]["timestamps"]["created_at"])
    assert TIMESTAMP.match(usd["meta"]["timestamps"]["updated_at"])
    assert usd == {
        "type": "currency",
        "id": usd["id"],
        "code": "USD",
        "exchange_rate": 1,
        "format": "${price}",
        "decimal_point": ".",
        "thousand_separator": ",",
        "decimal_places": 2,
        "default": True,
        "enabled": True,
        "links": {"self": f"/v2/currencies/{usd['id']}"},
        "meta": {"owner": "store", "timestamps": usd["meta"]["timestamps"]},
    }
    # the seed happens once
    assert listed(api) == [usd]


def test_create_returns_the_v2_object_with_fields_under_data(api: Caller) -> None:
    data = create(api, code="eur", exchange_rate=1.2345)
    assert set(data) == {
        "type",
        "id",
        "code",
        "exchange_rate",
        "format",
        "decimal_point",
        "thousand_separator",
        "decimal_places",
        "default",
        "enabled",
        "links",
        "meta",
    }
    assert data["type"] == "currency"
    assert data["code"] == "EUR"  # stored upper-case
    assert data["exchange_rate"] == 1.2345  # stored and echoed
    assert (data["format"], data["decimal_point"], data["thousand_separator"]) == ("€{price}", ",", ".")
    assert (data["decimal_places"], data["default"], data["enabled"]) == (2, False, True)
    assert data["links"] == {"self": f"/v2/currencies/{data['id']}"}
    assert data["meta"]["owner"] == "store"
    got = api.get(f"/v2/currencies/{data['id']}")
    assert got.status_code == 200
    assert got.json() == {"data": data}  # a single object, not an array
    assert [c["code"] for c in listed(api)] == ["USD", "EUR"]  # created_at asc


def test_unused_or_unknown_fields_like_name_are_ignored(api: Caller) -> None:
    data = create(api, name="Euro", id="ignored")
    assert "name" not in data
    assert data["id"] != "ignored"


def test_codes_need_no_iso_list(api: Caller) -> None:  # P-8
    assert create(api, code="YEN")["code"] == "YEN"
    assert create(api, code="usa")["code"] == "USA"


# --- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field",
    ["code", "format", "decimal_point", "thousand_separator", "decimal_places", "exchange_rate", "default", "enabled"],
)
def test_every_field_is_required_on_create(api: Caller, field: str) -> None:
    body = currency_body()
    del body["data"][field]
    assert_fails(api.post("/v2/currencies", json=body), 422, field, "Failed Validation")
    body["data"][field] = None
    assert_fails(api.post("/v2/currencies", json=body), 422, field)
    assert set(by_code(api)) == {"USD"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("code", "EU"),
        ("code", "EURO"),
        ("code", "E1R"),
        ("code", "€UR"),
        ("code", 123),
        ("format", "€"),
        ("format", "{PRICE}"),
        ("format", 5),
        ("decimal_places", -1),
        ("decimal_places", 9),
        ("decimal_places", 2.5),
        ("decimal_places", "2"),
        ("decimal_places", True),
        ("decimal_point", ""),
        ("decimal_point", "...."),
        ("decimal_point", 1),
        ("thousand_separator", "    "),
        ("thousand_separator", None),
        ("exchange_rate", -0.5),
        ("exchange_rate", "1"),
        ("exchange_rate", True),
        ("default", "true"),
        ("enabled", 1),
    ],
)
def test_bad_field_values_are_422(api: Caller, field: str, value: Any) -> None:
    assert_fails(api.post("/v2/currencies", json=currency_body(**{field: value})), 422, field)
    assert set(by_code(api)) == {"USD"}


@pytest.mark.parametrize("places", [0, 8])
def test_decimal_places_from_0_to_8(api: Caller, places: int) -> None:
    assert create(api, decimal_places=places)["decimal_places"] == places


def test_separators_edges(api: Caller) -> None:
    assert create(api, code="SEK", thousand_separator="", decimal_point=",")["thousand_separator"] == ""
    assert create(api, code="XXX", thousand_separator="'''", decimal_point="::")["decimal_point"] == "::"
    assert create(api, code="ZER", exchange_rate=0)["exchange_rate"] == 0


def test_thousand_separator_must_differ_from_decimal_point(api: Caller) -> None:
    assert_fails(api.post("/v2/currencies", json=currency_body(thousand_separator=",")), 422, "thousand_separator")
    usd = by_code(api)["USD"]
    # also on update, against the stored value
    assert_fails(update(api, usd["id"], decimal_point=","), 422, "thousand_separator")
    assert by_code(api)["USD"]["decimal_point"] == "."


@pytest.mark.parametrize("body", [{"data": {**EUR}}, {"data": {**EUR, "type": "currencies"}}, {"data": []}, {}])
def test_the_body_must_be_a_currency(api: Caller, body: dict[str, Any]) -> None:
    assert_fails(api.post("/v2/currencies", json=body), 422)


def test_malformed_json_is_400(api: Caller) -> None:
    response = api.post("/v2/currencies", content=b"{", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    errors_of(response)


# --- uniqueness and the limit ---------------------------------------------------------------------


def test_a_duplicate_code_is_400_currency_already_exists(api: Caller) -> None:
    create(api)
    for code in ("EUR", "eur", "USD"):
        assert_fails(api.post("/v2/currencies", json=currency_body(code=code)), 400, title="Currency already exists")
    assert [c["code"] for c in listed(api)] == ["USD", "EUR"]


def test_at_most_ten_currencies(api: Caller) -> None:
    codes = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH", "III"]
    for code in codes:
        create(api, code=code)
    assert len(listed(api)) == 10
    assert_fails(api.post("/v2/currencies", json=currency_body(code="JJJ")), 422, title="Currency limit reached")
    assert len(listed(api)) == 10
    # making room lets one in again
    assert api.delete(f"/v2/currencies/{by_code(api)['AAA']['id']}").status_code == 204
    create(api, code="JJJ")


def test_currencies_are_per_store(api: Caller, keys: Keys) -> None:
    create(api)
    other = keys.caller(store_id=keys.store("Other"))
    assert [c["code"] for c in listed(other)] == ["USD"]
    assert by_code(other)["USD"]["id"] != by_code(api)["USD"]["id"]
    assert create(other)["code"] == "EUR"  # the same code in another store is fine
    eur = by_code(api)["EUR"]["id"]
    assert other.get(f"/v2/currencies/{eur}").status_code == 404
    assert update(other, eur, exchange_rate=2).status_code == 404
    assert other.delete(f"/v2/currencies/{eur}").status_code == 404


# --- exactly one default --------------------------------------------------------------------------


def test_creating_a_default_clears_the_previous_default(api: Caller) -> None:
    eur = create(api, default=True)
    assert eur["default"] is True
    assert defaults(api) == ["EUR"]
    assert by_code(api)["USD"]["default"] is False
    gbp = create(api, code="GBP", format="£{price}", decimal_point=".", thousand_separator=",", default=True)
    assert gbp["default"] is True
    assert defaults(api) == ["GBP"]


def test_making_a_currency_default_by_put_clears_the_previous_default(api: Caller) -> None:
    eur = create(api)
    response = update(api, eur["id"], default=True)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["default"] is True
    assert defaults(api) == ["EUR"]
    # and back
    usd = by_code(api)["USD"]
    assert update(api, usd["id"], default=True).status_code == 200
    assert defaults(api) == ["USD"]
    # default: true on the default is a no-op
    assert update(api, usd["id"], default=True).status_code == 200
    assert defaults(api) == ["USD"]


def test_the_default_cannot_be_undefaulted_disabled_or_deleted(api: Caller) -> None:
    usd = by_code(api)["USD"]
    assert_fails(update(api, usd["id"], default=False), 422)
    assert_fails(update(api, usd["id"], enabled=False), 422)
    assert_fails(api.delete(f"/v2/currencies/{usd['id']}"), 422)
    assert by_code(api)["USD"] == usd


def test_a_disabled_currency_cannot_be_the_default(api: Caller) -> None:
    assert_fails(api.post("/v2/currencies", json=currency_body(default=True, enabled=False)), 422)
    assert defaults(api) == ["USD"]
    assert set(by_code(api)) == {"USD"}
    eur = create(api, enabled=False)
    assert_fails(update(api, eur["id"], default=True), 422)  # enabled stays false
    assert_fails(update(api, eur["id"], default=True, enabled=False), 422)
    assert defaults(api) == ["USD"]
    response = update(api, eur["id"], default=True, enabled=True)
    assert response.status_code == 200, response.text
    assert defaults(api) == ["EUR"]


def test_a_non_default_can_be_disabled_and_deleted(api: Caller) -> None:
    eur = create(api)
    response = update(api, eur["id"], enabled=False)
    assert response.status_code == 200
    assert response.json()["data"]["enabled"] is False
    assert update(api, eur["id"], default=False).status_code == 200
    assert api.delete(f"/v2/currencies/{eur['id']}").status_code == 204
    missing = api.get(f"/v2/currencies/{eur['id']}")
    assert_fails(missing, 404, "currency not found", "Not Found")
    assert set(by_code(api)) == {"USD"}
    assert defaults(api) == ["USD"]


# --- update ---------------------------------------------------------------------------------------


def test_put_changes_only_the_fields_sent(api: Caller) -> None:
    eur = create(api)
    response = update(api, eur["id"], format="{price} €", exchange_rate=1.1)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data == {
        **eur,
        "format": "{price} €",
        "exchange_rate": 1.1,
        "meta": {**eur["meta"], "timestamps": data["meta"]["timestamps"]},
    }
    assert data["meta"]["timestamps"]["created_at"] == eur["meta"]["timestamps"]["created_at"]
    assert api.get(f"/v2/currencies/{eur['id']}").json()["data"] == data
    # the type is optional on update, an empty body changes nothing
    assert api.put(f"/v2/currencies/{eur['id']}", json={"data": {}}).json()["data"]["format"] == "{price} €"


def test_put_validates_like_create(api: Caller) -> None:
    eur = create(api)
    for fields in (
        {"decimal_places": 9},
        {"format": "no placeholder"},
        {"code": "GBP"},  # immutable
        {"type": "pricebook"},
        {"thousand_separator": "...."},
    ):
        assert update(api, eur["id"], **fields).status_code == 422, fields
    assert by_code(api)["EUR"] == eur
    # the same code, in any case, is not a change
    assert update(api, eur["id"], code="eur").status_code == 200


def test_unknown_ids_are_404(api: Caller) -> None:
    for currency_id in (str(uuid.uuid4()), "not-a-uuid"):
        assert_fails(api.get(f"/v2/currencies/{currency_id}"), 404, "currency not found")
        assert update(api, currency_id, exchange_rate=1).status_code == 404
        assert api.delete(f"/v2/currencies/{currency_id}").status_code == 404


# --- access ---------------------------------------------------------------------------------------


def test_implicit_tokens_may_read_but_not_write(api: Caller, keys: Keys) -> None:  # P-14
    eur = create(api)
    shopper = keys.caller(grant="implicit")
    assert [c["code"] for c in listed(shopper)] == ["USD", "EUR"]
    assert shopper.get(f"/v2/currencies/{eur['id']}").json()["data"] == eur
    assert_fails(shopper.post("/v2/currencies", json=currency_body(code="GBP")), 403)
    assert_fails(update(shopper, eur["id"], exchange_rate=5), 403)
    assert_fails(shopper.delete(f"/v2/currencies/{eur['id']}"), 403)
    assert by_code(api)["EUR"] == eur


def test_a_token_is_needed(api: Caller) -> None:
    assert api.client.get("/v2/currencies").status_code == 401


def test_the_list_is_paged_catalog_style(api: Caller) -> None:
    for code in ("AAA", "BBB", "CCC"):
        create(api, code=code)
    response = api.get("/v2/currencies", params={"page[limit]": "2", "page[offset]": "2"})
    assert response.status_code == 200
    body = response.json()
    assert [c["code"] for c in body["data"]] == ["BBB", "CCC"]
    assert body["meta"] == {"page": {"limit": 2, "offset": 2, "current": 2, "total": 2}, "results": {"total": 4}}
    assert body["links"]["prev"] is not None
    assert body["links"]["next"] is None
    assert api.get("/v2/currencies", params={"page[limit]": "0"}).status_code == 400


# --- the invariants under concurrent writes ----------------------------------------------------------


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

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(send, range(len(requests))))


@pytest.mark.multiprocess
def test_one_default_and_ten_currencies_at_most_under_concurrent_writes(api: Caller, servers: list[str]) -> None:
    """§9.1: "checked in the transaction of the write". Concurrent writers on two server processes: no
    hang (a write waiting for a lock must not stop its server), no 500, never two defaults or 11 rows."""
    listed(api)  # the store's USD
    codes = [f"{letter * 3}" for letter in "ABCDEFGHIJKL"]
    creates = race(servers, api, [("POST", "/v2/currencies", currency_body(code=c, default=True)) for c in codes])
    assert sorted(r.status_code for r in creates) == [201] * 9 + [422] * 3, [r.text for r in creates]
    assert all(errors_of(r)[0]["title"] == "Currency limit reached" for r in creates if r.status_code == 422)
    currencies = by_code(api)
    assert len(currencies) == 10
    assert len(defaults(api)) == 1

    others = [c for c in currencies.values() if not c["default"]]
    requests: list[tuple[str, str, Any]] = []
    for currency in others:
        url = f"/v2/currencies/{currency['id']}"
        requests += [("PUT", url, {"data": {"default": True}}), ("DELETE", url, None)]
    responses = race(servers, api, requests)
    assert {r.status_code for r in responses} <= {200, 204, 404, 422}, [r.text for r in responses]
    left = listed(api)
    assert [c["code"] for c in left if c["default"]] == defaults(api)
    assert len(defaults(api)) == 1
    # each PUT that won made its currency the default, which the DELETE after it then refused
    assert len(left) == 10 - sum(r.status_code == 204 for r in responses)
