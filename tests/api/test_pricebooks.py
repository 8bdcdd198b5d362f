"""Price books and prices: SPEC §9.2, §9.3, §9.4, P-4, P-6, P-7, P-12, P-14."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from tests.conftest import Caller, Keys
from tests.helpers import errors_of

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
MAX_AMOUNT = 2**53 - 1


def book_body(name: Any = "Main", **attributes: Any) -> dict[str, Any]:
    return {"data": {"type": "pricebook", "attributes": {"name": name, **attributes}}}


def make_book(api: Caller, name: str = "Main", **attributes: Any) -> dict[str, Any]:
    response = api.post("/pcm/pricebooks", json=book_body(name, **attributes))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def update_book(api: Caller, book_id: str, attributes: dict[str, Any], body_id: Any = "same") -> Any:
    data: dict[str, Any] = {"type": "pricebook", "attributes": attributes}
    if body_id is not None:
        data["id"] = book_id if body_id == "same" else body_id
    return api.put(f"/pcm/pricebooks/{book_id}", json={"data": data})


def price_body(sku: str = "BS-1", **attributes: Any) -> dict[str, Any]:
    values = {"sku": sku, "currencies": {"USD": {"amount": 100}}, **attributes}
    return {"data": {"type": "product-price", "attributes": values}}


def prices_url(book_id: str) -> str:
    return f"/pcm/pricebooks/{book_id}/prices"


def make_price(api: Caller, book_id: str, sku: str = "BS-1", **attributes: Any) -> dict[str, Any]:
    response = api.post(prices_url(book_id), json=price_body(sku, **attributes))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def update_price(api: Caller, book_id: str, price_id: str, attributes: dict[str, Any], body_id: Any = "same") -> Any:
    data: dict[str, Any] = {"type": "product-price", "attributes": attributes}
    if body_id is not None:
        data["id"] = price_id if body_id == "same" else body_id
    return api.put(f"{prices_url(book_id)}/{price_id}", json={"data": data})


def listed(api: Caller, url: str, **params: str) -> list[dict[str, Any]]:
    response = api.get(url, params={"page[limit]": "100", **params})
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def skus(api: Caller, url: str, **params: str) -> list[str]:
    return [p["attributes"]["sku"] for p in listed(api, url, **params)]


def assert_fails(response: Any, status: int, fragment: str = "") -> list[dict[str, Any]]:
    assert response.status_code == status, response.text
    errors = errors_of(response)
    assert any(fragment in e.get("detail", "") for e in errors), errors
    return errors


# --- price books ------------------------------------------------------------------------------------


def test_create_returns_the_price_book(api: Caller) -> None:
    data = make_book(api, "Main", description="Retail", external_ref="erp:main")
    book_id = data["id"]
    uuid.UUID(book_id)
    attributes = data["attributes"]
    assert TIMESTAMP.match(attributes["created_at"]) and TIMESTAMP.match(attributes["updated_at"])
    assert data == {
        "type": "pricebook",
        "id": book_id,
        "attributes": {
            "name": "Main",
            "description": "Retail",
            "external_ref": "erp:main",
            "created_at": attributes["created_at"],
            "updated_at": attributes["updated_at"],
        },
        "meta": {"owner": "store"},
    }
    # `links` sits beside `data`, not in it (SPEC §9.2).
    self_link = {"self": f"/pcm/pricebooks/{book_id}"}
    assert api.get(f"/pcm/pricebooks/{book_id}").json() == {"data": data, "links": self_link}


def test_optional_attributes_are_absent_when_not_set(api: Caller) -> None:
    assert set(make_book(api)["attributes"]) == {"name", "created_at", "updated_at"}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"data": {"type": "pricebook", "attributes": {}}}, "name"),
        (book_body(""), "name"),
        (book_body(None), "name"),
        (book_body(5), "name"),
        (book_body("x", currency="USD"), "currency"),
        (book_body("x", external_ref="x" * 2049), "external_ref"),
        (book_body("x", description=5), "description"),
        ({"data": {"type": "price-book", "attributes": {"name": "x"}}}, "type"),
        ({"data": {"attributes": {"name": "x"}}}, "type"),
        ({"data": {"type": "pricebook", "attributes": "x"}}, "attributes"),
    ],
)
def test_invalid_price_books_are_422_and_nothing_is_written(api: Caller, body: dict[str, Any], fragment: str) -> None:
    assert_fails(api.post("/pcm/pricebooks", json=body), 422, fragment)
    assert listed(api, "/pcm/pricebooks") == []


def test_external_ref_up_to_2048(api: Caller) -> None:
    assert make_book(api, external_ref="x" * 2048)["attributes"]["external_ref"] == "x" * 2048


def test_name_and_external_ref_are_unique_per_store_409(api: Caller, keys: Keys) -> None:  # P-7
    make_book(api, "Main", external_ref="ref")
    assert_fails(api.post("/pcm/pricebooks", json=book_body("Main")), 409)
    assert_fails(api.post("/pcm/pricebooks", json=book_body("Other", external_ref="ref")), 409)
    make_book(api, "main")  # case-sensitive
    make_book(api, "Third", external_ref="REF")
    assert [b["attributes"]["name"] for b in listed(api, "/pcm/pricebooks")] == ["Main", "main", "Third"]
    other = keys.caller(store_id=keys.store("Other"))
    make_book(other, "Main", external_ref="ref")  # per store


def test_list_is_oldest_first_with_filters(api: Caller) -> None:
    for name, ref in (("A", "ra"), ("B", None), ("C", "rc")):
        make_book(api, name, **({"external_ref": ref} if ref else {}))
    response = api.get("/pcm/pricebooks", params={"page[limit]": "2"})
    body = response.json()
    assert [b["attributes"]["name"] for b in body["data"]] == ["A", "B"]
    assert body["meta"] == {"page": {"limit": 2, "offset": 0, "current": 1, "total": 2}, "results": {"total": 3}}
    assert body["links"]["next"] is not None
    assert [b["attributes"]["name"] for b in listed(api, "/pcm/pricebooks", filter="eq(name,C)")] == ["C"]
    assert [b["attributes"]["name"] for b in listed(api, "/pcm/pricebooks", filter="eq(external_ref,ra)")] == ["A"]
    for bad in ("like(name,*A*)", "eq(description,x)", "eq(name"):
        assert_fails(api.get("/pcm/pricebooks", params={"filter": bad}), 400)


def test_get_unknown_book_is_404(api: Caller) -> None:
    for book_id in (str(uuid.uuid4()), "nope"):
        assert_fails(api.get(f"/pcm/pricebooks/{book_id}"), 404)
        assert update_book(api, book_id, {"name": "x"}).status_code == 404
        assert api.delete(f"/pcm/pricebooks/{book_id}").status_code == 404
        assert api.get(prices_url(book_id)).status_code == 404
        assert api.post(prices_url(book_id), json=price_body()).status_code == 404


def test_include_prices(api: Caller) -> None:
    book = make_book(api)
    other = make_book(api, "Other")
    first = make_price(api, book["id"], "A")
    second = make_price(api, book["id"], "B")
    make_price(api, other["id"], "C")
    response = api.get(f"/pcm/pricebooks/{book['id']}", params={"include": "prices"})
    assert response.status_code == 200
    assert response.json() == {
        "data": book,
        "links": {"self": f"/pcm/pricebooks/{book['id']}"},
        "included": [first, second],
    }
    assert "included" not in api.get(f"/pcm/pricebooks/{book['id']}").json()
    assert (
        api.get(f"/pcm/pricebooks/{other['id']}", params={"include": "prices"}).json()["included"][0]["attributes"][
            "sku"
        ]
        == "C"
    )
    for bad in ("modifiers", "prices,modifiers", ""):
        assert_fails(api.get(f"/pcm/pricebooks/{book['id']}", params={"include": bad}), 400)


def test_put_is_partial(api: Caller) -> None:
    book = make_book(api, "Main", description="d", external_ref="r")
    response = update_book(api, book["id"], {"description": "new"})
    assert response.status_code == 200, response.text
    attributes = response.json()["data"]["attributes"]
    assert (attributes["name"], attributes["description"], attributes["external_ref"]) == ("Main", "new", "r")
    assert attributes["created_at"] == book["attributes"]["created_at"]
    # null clears the optional ones
    response = update_book(api, book["id"], {"description": None, "external_ref": None})
    assert set(response.json()["data"]["attributes"]) == {"name", "created_at", "updated_at"}
    # {} changes nothing
    unchanged = update_book(api, book["id"], {})
    assert unchanged.status_code == 200
    assert unchanged.json()["data"] == api.get(f"/pcm/pricebooks/{book['id']}").json()["data"]
    renamed = update_book(api, book["id"], {"name": "Renamed"})
    assert renamed.json()["data"]["attributes"]["name"] == "Renamed"


def test_put_validation(api: Caller) -> None:
    book = make_book(api, "Main")
    make_book(api, "Taken", external_ref="taken")
    assert_fails(update_book(api, book["id"], {"name": None}), 422, "name")
    assert_fails(update_book(api, book["id"], {"name": ""}), 422, "name")
    assert_fails(update_book(api, book["id"], {"colour": "red"}), 422, "colour")
    assert_fails(update_book(api, book["id"], {"name": "x"}, body_id=None), 422, "id")
    assert_fails(update_book(api, book["id"], {"name": "x"}, body_id=str(uuid.uuid4())), 422, "id")
    assert_fails(update_book(api, book["id"], {"name": "Taken"}), 409)
    assert_fails(update_book(api, book["id"], {"external_ref": "taken"}), 409)
    assert api.get(f"/pcm/pricebooks/{book['id']}").json()["data"] == book
    # keeping its own name and external_ref is not a clash
    assert update_book(api, book["id"], {"name": "Main"}).status_code == 200


def test_delete_takes_the_prices_along(api: Caller) -> None:
    book = make_book(api)
    kept = make_book(api, "Kept")
    price = make_price(api, book["id"])
    make_price(api, kept["id"])
    assert api.delete(f"/pcm/pricebooks/{book['id']}").status_code == 204
    assert api.get(f"/pcm/pricebooks/{book['id']}").status_code == 404
    assert api.get(f"{prices_url(book['id'])}/{price['id']}").status_code == 404
    assert [p["meta"]["pricebook_id"] for p in listed(api, "/pcm/pricebooks/prices")] == [kept["id"]]
    # the name is free again
    make_book(api, "Main")


def test_implicit_tokens_are_403_on_every_pricebook_call(api: Caller, keys: Keys) -> None:  # P-14
    book = make_book(api)
    price = make_price(api, book["id"])
    shopper = keys.caller(grant="implicit")
    base = f"/pcm/pricebooks/{book['id']}"
    for method, url, body in (
        ("GET", "/pcm/pricebooks", None),
        ("POST", "/pcm/pricebooks", book_body("X")),
        ("GET", base, None),
        ("PUT", base, {"data": {"type": "pricebook", "id": book["id"], "attributes": {}}}),
        ("DELETE", base, None),
        ("GET", "/pcm/pricebooks/prices", None),
        ("GET", f"{base}/prices", None),
        ("POST", f"{base}/prices", price_body("X")),
        ("GET", f"{base}/prices/{price['id']}", None),
        (
            "PUT",
            f"{base}/prices/{price['id']}",
            {"data": {"type": "product-price", "id": price["id"], "attributes": {}}},
        ),
        ("DELETE", f"{base}/prices/{price['id']}", None),
    ):
        response = shopper.request(method, url, json=body)
        assert response.status_code == 403, (method, url, response.text)
        errors_of(response)
    assert api.get(f"{base}/prices/{price['id']}").json()["data"] == price


def test_store_tokens_cannot_write_organization_books(api: Caller, keys: Keys) -> None:
    org = keys.caller(organization=True)
    book = make_book(org, "Org book")
    assert book["meta"]["owner"] == "organization"
    price = make_price(org, book["id"])
    assert price["meta"]["owner"] == "organization"
    # a store sees it …
    assert api.get(f"/pcm/pricebooks/{book['id']}").status_code == 200
    assert [p["id"] for p in listed(api, "/pcm/pricebooks/prices")] == [price["id"]]
    # … and the price's owner is the book's, whoever asks
    assert api.get(f"{prices_url(book['id'])}/{price['id']}").json()["data"]["meta"]["owner"] == "organization"
    # … but cannot write it
    assert_fails(update_book(api, book["id"], {"name": "Mine"}), 403, "entity owned by organization")
    assert_fails(api.delete(f"/pcm/pricebooks/{book['id']}"), 403)
    assert_fails(api.post(prices_url(book["id"]), json=price_body("NEW")), 403)
    assert_fails(update_price(api, book["id"], price["id"], {"sku": "X"}), 403)
    assert_fails(api.delete(f"{prices_url(book['id'])}/{price['id']}"), 403)


def test_another_store_cannot_see_the_books(api: Caller, keys: Keys) -> None:
    book = make_book(api)
    price = make_price(api, book["id"])
    other = keys.caller(store_id=keys.store("Other"))
    assert listed(other, "/pcm/pricebooks") == []
    assert listed(other, "/pcm/pricebooks/prices") == []
    assert other.get(f"/pcm/pricebooks/{book['id']}").status_code == 404
    assert other.get(f"{prices_url(book['id'])}/{price['id']}").status_code == 404


def test_modifiers_and_import_are_not_served(api: Caller) -> None:  # §9.2, §9.4
    book = make_book(api)
    assert api.get(f"/pcm/pricebooks/{book['id']}/modifiers").status_code == 404
    assert api.post("/pcm/pricebooks/import", json={}).status_code in (404, 405)


# --- prices -----------------------------------------------------------------------------------------


FULL_PRICE: dict[str, Any] = {
    "sku": "BE-Range-2b2b",
    "currencies": {
        "USD": {"amount": 400, "includes_tax": False, "tiers": {"min_5": {"minimum_quantity": 5, "amount": 150}}},
        "GBP": {"amount": 300, "includes_tax": True, "tiers": {"min_5": {"minimum_quantity": 5, "amount": 120}}},
    },
    "sales": {
        "summer": {
            "schedule": {"valid_from": "2026-06-01T00:00:00.000Z", "valid_to": "2030-01-01T00:00:00.000Z"},
            "currencies": {
                "USD": {
                    "amount": 200,
                    "includes_tax": False,
                    "tiers": {"min_5": {"minimum_quantity": 5, "amount": 100}},
                }
            },
        },
        "bundle": {"bundle_ids": [str(uuid.UUID(int=1))], "currencies": {"GBP": {"amount": 1, "includes_tax": True}}},
    },
    "external_ref": "erp:range",
    "admin_attributes": {"cost": "12"},
    "shopper_attributes": {"badge": "sale"},
}


def test_create_returns_the_price(api: Caller) -> None:
    book = make_book(api)
    response = api.post(prices_url(book["id"]), json={"data": {"type": "product-price", "attributes": FULL_PRICE}})
    assert response.status_code == 201, response.text
    body = response.json()
    data = body["data"]
    price_id = data["id"]
    uuid.UUID(price_id)
    attributes = data["attributes"]
    assert TIMESTAMP.match(attributes["created_at"]) and TIMESTAMP.match(attributes["updated_at"])
    assert data == {
        "type": "product-price",
        "id": price_id,
        "attributes": {**FULL_PRICE, "created_at": attributes["created_at"], "updated_at": attributes["updated_at"]},
        "meta": {"owner": "store", "pricebook_id": book["id"]},
    }
    assert body["links"] == {"self": f"/pcm/pricebooks/{book['id']}/prices/{price_id}"}  # beside data (SPEC §9.3)
    assert api.get(f"{prices_url(book['id'])}/{price_id}").json() == body


def test_defaults_are_filled_and_optional_fields_absent(api: Caller) -> None:
    book = make_book(api)
    data = make_price(api, book["id"], "P", currencies={"USD": {"amount": 0}, "EUR": {"amount": MAX_AMOUNT}})
    assert data["attributes"] == {
        "sku": "P",
        "currencies": {
            "USD": {"amount": 0, "includes_tax": False},
            "EUR": {"amount": MAX_AMOUNT, "includes_tax": False},
        },
        "created_at": data["attributes"]["created_at"],
        "updated_at": data["attributes"]["updated_at"],
    }


def test_schedules_are_stored_in_utc(api: Caller) -> None:
    book = make_book(api)
    sales = {"s": {"schedule": {"valid_from": "2026-06-01T02:00:00+02:00"}, "currencies": {"USD": {"amount": 5}}}}
    data = make_price(api, book["id"], sales=sales)
    assert data["attributes"]["sales"]["s"]["schedule"] == {"valid_from": "2026-06-01T00:00:00.000Z", "valid_to": None}


def usd(amount: Any, **extra: Any) -> dict[str, Any]:
    return {"USD": {"amount": amount, **extra}}


@pytest.mark.parametrize(
    ("attributes", "fragment"),
    [
        ({"sku": ""}, "sku"),
        ({"sku": None}, "sku"),
        ({"sku": 5}, "sku"),
        ({"currencies": {}}, "currencies"),
        ({"currencies": None}, "currencies"),
        ({"currencies": usd(12.5)}, "amount"),
        ({"currencies": usd(100.0)}, "amount"),
        ({"currencies": usd("100")}, "amount"),
        ({"currencies": usd(-1)}, "amount"),
        ({"currencies": usd(None)}, "amount"),
        ({"currencies": usd(MAX_AMOUNT + 1)}, "amount"),
        ({"currencies": usd(1, includes_tax="no")}, "includes_tax"),
        ({"currencies": {"usd": {"amount": 1}}}, "usd"),
        ({"currencies": {"US": {"amount": 1}}}, "US"),
        # P-4: tiers live inside each currency; a top-level `tiers` is an unknown attribute
        ({"tiers": {"min_5": {"minimum_quantity": 5, "price": {"USD": {"amount": 1}}}}}, "tiers"),
        ({"price": 5}, "price"),
        ({"currencies": usd(1, tiers={"t": {"minimum_quantity": 0, "amount": 1}})}, "minimum_quantity"),
        ({"currencies": usd(1, tiers={"t": {"minimum_quantity": 2, "amount": 1.5}})}, "amount"),
        (
            {
                "currencies": usd(
                    1, tiers={"a": {"minimum_quantity": 2, "amount": 1}, "b": {"minimum_quantity": 2, "amount": 2}}
                )
            },
            "minimum_quantity",
        ),
        (
            {
                "currencies": {
                    "USD": {"amount": 1, "tiers": {"t": {"minimum_quantity": 2, "amount": 1}}},
                    "EUR": {"amount": 1, "tiers": {"t": {"minimum_quantity": 3, "amount": 1}}},
                }
            },
            "minimum_quantity",
        ),
        # sales
        ({"sales": {"s": {"currencies": {"EUR": {"amount": 1}}}}}, "EUR"),  # P-12
        ({"sales": {"s": {"currencies": usd(1.5)}}}, "amount"),
        ({"sales": {"s": {}}}, "currencies"),
        (
            {"sales": {"s": {"currencies": usd(1, tiers={"t": {"minimum_quantity": 2, "amount": 1}})}}},
            None,  # fine on its own: the base has no tier `t`
        ),
        (
            {
                "currencies": usd(5, tiers={"t": {"minimum_quantity": 3, "amount": 4}}),
                "sales": {"s": {"currencies": usd(1, tiers={"t": {"minimum_quantity": 2, "amount": 1}})}},
            },
            "minimum_quantity",
        ),
        (
            {
                "sales": {
                    "s": {
                        "schedule": {"valid_from": "2026-02-01T00:00:00Z", "valid_to": "2026-01-01T00:00:00Z"},
                        "currencies": usd(1),
                    }
                }
            },
            "valid_from",
        ),
        ({"sales": {"s": {"schedule": {"valid_to": "soon"}, "currencies": usd(1)}}}, "valid_to"),
        ({"sales": {"a": {"currencies": usd(1)}, "b": {"currencies": usd(2)}}}, "window"),  # P-6
        (
            {
                "sales": {
                    "a": {"schedule": {"valid_to": "2027-01-01T00:00:00Z"}, "currencies": usd(1)},
                    "b": {"schedule": {"valid_to": "2027-01-01T00:00:00.000Z"}, "currencies": usd(2)},
                }
            },
            "window",
        ),
        ({"sales": {"s": {"currencies": usd(1), "bundle_ids": "x"}}}, "bundle_ids"),
        ({"sales": "summer"}, "sales"),
        ({"external_ref": "x" * 2049}, "external_ref"),
        ({"admin_attributes": {"a": 1}}, "admin_attributes"),
        ({"shopper_attributes": {f"k{i}": "v" for i in range(101)}}, "shopper_attributes"),
        ({"shopper_attributes": ["a"]}, "shopper_attributes"),
    ],
)
def test_invalid_prices_are_422_and_nothing_is_written(
    api: Caller, attributes: dict[str, Any], fragment: str | None
) -> None:
    book = make_book(api)
    response = api.post(prices_url(book["id"]), json=price_body(**attributes))
    if fragment is None:
        assert response.status_code == 201, response.text
        return
    assert_fails(response, 422, fragment)
    assert listed(api, prices_url(book["id"])) == []


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"type": "price", "attributes": {"sku": "x", "currencies": usd(1)}}},
        {"data": {"attributes": {"sku": "x", "currencies": usd(1)}}},
        {"data": None},
        [],
    ],
)
def test_the_body_must_be_a_product_price(api: Caller, body: Any) -> None:
    book = make_book(api)
    assert_fails(api.post(prices_url(book["id"]), json=body), 422)


def test_strings_with_nul_are_refused_on_every_database(api: Caller) -> None:
    """PostgreSQL cannot store NUL: refused as invalid on both databases, never a 500."""
    book = make_book(api)
    for attributes in (
        {"sku": "a\x00b"},
        {"external_ref": "r\x00"},
        {"shopper_attributes": {"k": "v\x00"}},
        {"currencies": usd(1, tiers={"t\x00": {"minimum_quantity": 2, "amount": 1}})},
        {"sales": {"s\x00": {"currencies": usd(1)}}},
    ):
        response = api.post(prices_url(book["id"]), json=price_body(**attributes))
        assert response.status_code == 422, (attributes, response.text)
        errors_of(response)
    for attributes in ({"name": "a\x00"}, {"name": "ok", "description": "\x00"}):
        response = api.post("/pcm/pricebooks", json={"data": {"type": "pricebook", "attributes": attributes}})
        assert response.status_code == 422, (attributes, response.text)
    currency = {
        "type": "currency",
        "code": "EUR",
        "format": "€{price}\x00",
        "decimal_point": ",",
        "thousand_separator": ".",
        "decimal_places": 2,
        "exchange_rate": 1,
        "default": False,
        "enabled": True,
    }
    assert api.post("/v2/currencies", json={"data": currency}).status_code == 422
    assert listed(api, prices_url(book["id"])) == []


def test_bundle_sales_do_not_count_for_the_window_rules(api: Caller) -> None:
    book = make_book(api)
    sales = {
        "open": {"currencies": usd(1)},
        "b1": {"bundle_ids": [str(uuid.uuid4())], "currencies": usd(2)},
        "b2": {"bundle_ids": [str(uuid.uuid4())], "currencies": usd(3)},
    }
    assert set(make_price(api, book["id"], sales=sales)["attributes"]["sales"]) == {"open", "b1", "b2"}


def test_one_price_per_sku_and_external_ref_per_book_409(api: Caller) -> None:  # P-7
    book = make_book(api)
    other = make_book(api, "Other")
    make_price(api, book["id"], "BS-1", external_ref="ref")
    assert_fails(api.post(prices_url(book["id"]), json=price_body("BS-1")), 409)
    assert_fails(api.post(prices_url(book["id"]), json=price_body("BS-2", external_ref="ref")), 409)
    make_price(api, book["id"], "bs-1")  # case-sensitive
    make_price(api, other["id"], "BS-1", external_ref="ref")  # per book
    assert skus(api, prices_url(book["id"])) == ["BS-1", "bs-1"]


def test_list_prices_of_a_book_oldest_first_with_filters(api: Caller) -> None:
    book = make_book(api)
    for sku in ("C", "A", "B"):
        make_price(api, book["id"], sku, external_ref=f"ref-{sku}")
    url = prices_url(book["id"])
    assert skus(api, url) == ["C", "A", "B"]
    assert skus(api, url, filter="eq(sku,A)") == ["A"]
    assert skus(api, url, filter="eq(external_ref,ref-B)") == ["B"]
    assert skus(api, url, filter="in(sku,A,B)") == ["A", "B"]
    response = api.get(url, params={"page[limit]": "1", "page[offset]": "1"})
    body = response.json()
    assert [p["attributes"]["sku"] for p in body["data"]] == ["A"]
    assert body["meta"]["results"]["total"] == 3
    for bad in ("eq(amount,1)", "eq(sku"):
        assert_fails(api.get(url, params={"filter": bad}), 400)


def test_a_price_of_another_book_is_404(api: Caller) -> None:
    book = make_book(api)
    other = make_book(api, "Other")
    price = make_price(api, book["id"])
    wrong = f"{prices_url(other['id'])}/{price['id']}"
    assert_fails(api.get(wrong), 404)
    assert update_price(api, other["id"], price["id"], {"sku": "X"}).status_code == 404
    assert api.delete(wrong).status_code == 404
    assert api.get(f"{prices_url(book['id'])}/{price['id']}").json()["data"] == price
    for price_id in (str(uuid.uuid4()), "nope"):
        assert_fails(api.get(f"{prices_url(book['id'])}/{price_id}"), 404)


def test_delete_a_price(api: Caller) -> None:
    book = make_book(api)
    price = make_price(api, book["id"])
    assert api.delete(f"{prices_url(book['id'])}/{price['id']}").status_code == 204
    assert api.get(f"{prices_url(book['id'])}/{price['id']}").status_code == 404
    make_price(api, book["id"])  # the sku is free again


# --- updating a price -------------------------------------------------------------------------------


def test_put_replaces_whole_maps_and_keeps_the_rest(api: Caller) -> None:
    book = make_book(api)
    price = make_price(
        api,
        book["id"],
        "BS-1",
        currencies={"USD": {"amount": 100}, "EUR": {"amount": 90}},
        sales={"s": {"currencies": {"USD": {"amount": 50}}}},
        external_ref="ref",
        shopper_attributes={"a": "1", "b": "2"},
    )
    response = update_price(api, book["id"], price["id"], {"currencies": {"USD": {"amount": 120}}})
    assert response.status_code == 200, response.text
    attributes = response.json()["data"]["attributes"]
    assert attributes["currencies"] == {"USD": {"amount": 120, "includes_tax": False}}  # EUR gone: no deep merge
    assert attributes["sales"] == price["attributes"]["sales"]
    assert attributes["external_ref"] == "ref"
    assert attributes["created_at"] == price["attributes"]["created_at"]

    response = update_price(api, book["id"], price["id"], {"sales": {"t": {"currencies": {"USD": {"amount": 60}}}}})
    assert response.json()["data"]["attributes"]["sales"] == {
        "t": {"currencies": {"USD": {"amount": 60, "includes_tax": False}}}
    }
    # a null custom attribute value removes that key only
    response = update_price(api, book["id"], price["id"], {"shopper_attributes": {"a": None, "c": "3"}})
    assert response.json()["data"]["attributes"]["shopper_attributes"] == {"b": "2", "c": "3"}
    # sales: null removes them all
    response = update_price(api, book["id"], price["id"], {"sales": None})
    assert "sales" not in response.json()["data"]["attributes"]
    # external_ref: null clears it
    response = update_price(api, book["id"], price["id"], {"external_ref": None})
    assert "external_ref" not in response.json()["data"]["attributes"]
    # {} changes nothing
    before = api.get(f"{prices_url(book['id'])}/{price['id']}").json()["data"]
    unchanged = update_price(api, book["id"], price["id"], {})
    assert unchanged.status_code == 200
    assert unchanged.json()["data"] == before


def test_put_rechecks_sales_against_new_currencies_and_tiers(api: Caller) -> None:
    book = make_book(api)
    price = make_price(
        api,
        book["id"],
        currencies={"USD": {"amount": 100}, "EUR": {"amount": 90}},
        sales={"s": {"currencies": {"EUR": {"amount": 50, "tiers": {"t": {"minimum_quantity": 2, "amount": 40}}}}}},
    )
    # dropping EUR leaves the sale outside the base currencies (P-12)
    assert_fails(update_price(api, book["id"], price["id"], {"currencies": {"USD": {"amount": 1}}}), 422, "EUR")
    # a base tier `t` with another minimum_quantity than the sale's
    tiers = {"t": {"minimum_quantity": 3, "amount": 80}}
    assert_fails(
        update_price(
            api, book["id"], price["id"], {"currencies": {"USD": {"amount": 1}, "EUR": {"amount": 90, "tiers": tiers}}}
        ),
        422,
        "minimum_quantity",
    )
    # and a sale sent alone is checked against the stored currencies
    assert_fails(
        update_price(api, book["id"], price["id"], {"sales": {"x": {"currencies": {"GBP": {"amount": 1}}}}}), 422, "GBP"
    )
    assert api.get(f"{prices_url(book['id'])}/{price['id']}").json()["data"] == price


def test_put_sku_rechecks_uniqueness(api: Caller) -> None:
    book = make_book(api)
    first = make_price(api, book["id"], "A", external_ref="ra")
    make_price(api, book["id"], "B", external_ref="rb")
    assert_fails(update_price(api, book["id"], first["id"], {"sku": "B"}), 409)
    assert_fails(update_price(api, book["id"], first["id"], {"external_ref": "rb"}), 409)
    response = update_price(api, book["id"], first["id"], {"sku": "C"})
    assert response.status_code == 200
    assert response.json()["data"]["attributes"]["sku"] == "C"
    assert update_price(api, book["id"], first["id"], {"sku": "C", "external_ref": "ra"}).status_code == 200
    assert skus(api, prices_url(book["id"])) == ["C", "B"]


def test_put_price_needs_the_matching_id_and_type(api: Caller) -> None:
    book = make_book(api)
    price = make_price(api, book["id"])
    assert_fails(update_price(api, book["id"], price["id"], {"sku": "X"}, body_id=None), 422, "id")
    assert_fails(update_price(api, book["id"], price["id"], {"sku": "X"}, body_id=str(uuid.uuid4())), 422, "id")
    response = api.put(
        f"{prices_url(book['id'])}/{price['id']}",
        json={"data": {"type": "pricebook", "id": price["id"], "attributes": {"sku": "X"}}},
    )
    assert_fails(response, 422, "type")
    assert_fails(update_price(api, book["id"], price["id"], {"tiers": {}}), 422, "tiers")
    assert_fails(update_price(api, book["id"], price["id"], {"currencies": usd(1.0)}), 422, "amount")
    assert api.get(f"{prices_url(book['id'])}/{price['id']}").json()["data"] == price


# --- every price the caller can see -----------------------------------------------------------------


def test_all_prices_across_books(api: Caller, keys: Keys) -> None:
    first = make_book(api, "First")
    second = make_book(api, "Second")
    a = make_price(api, first["id"], "A", external_ref="ext-a")
    b = make_price(api, second["id"], "B")
    c = make_price(api, first["id"], "AB", external_ref="ext-c")
    other = keys.caller(store_id=keys.store("Other"))
    make_price(other, make_book(other)["id"], "HIDDEN")

    data = listed(api, "/pcm/pricebooks/prices")
    assert [p["id"] for p in data] == [a["id"], b["id"], c["id"]]  # created_at asc
    assert [p["meta"]["pricebook_id"] for p in data] == [first["id"], second["id"], first["id"]]
    assert data[1] == b
    url = "/pcm/pricebooks/prices"
    assert skus(api, url, filter=f"eq(id,{b['id']})") == ["B"]
    assert skus(api, url, filter=f"in(id,{a['id']},{c['id']})") == ["A", "AB"]
    assert skus(api, url, filter="eq(sku,A)") == ["A"]
    assert skus(api, url, filter="in(sku,A,B)") == ["A", "B"]
    assert skus(api, url, filter="like(sku,A*)") == ["A", "AB"]
    assert skus(api, url, filter="eq(external_ref,ext-c)") == ["AB"]
    assert skus(api, url, filter="like(external_ref,ext-*)") == ["A", "AB"]
    assert skus(api, url, filter=f"ge(created_at,{a['attributes']['created_at']})") == ["A", "B", "AB"]
    assert skus(api, url, filter="lt(updated_at,2000-01-01)") == []
    assert skus(api, url, filter="gt(created_at,2000-01-01T00:00:00Z)") == ["A", "B", "AB"]
    response = api.get(url, params={"page[limit]": "2"})
    body = response.json()
    assert len(body["data"]) == 2
    assert body["meta"]["results"]["total"] == 3
    assert body["links"]["next"] is not None
    for bad in ("eq(currencies,USD)", "like(id,*)", "gt(sku,A)"):
        assert_fails(api.get(url, params={"filter": bad}), 400)
