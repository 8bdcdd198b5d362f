"""What contract fuzzing found (tests/api/test_contract_fuzz.py), one focused test per defect.

Each of these answered 500 before its fix: a value every validator let through reached a place that
could not take it (the database driver, the JSON encoder, datetime arithmetic). The last ones answered in a
shape the public PXM documents do not allow (found with ASSORTMENT_FUZZ_SPEC).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from assortment.api.middleware import has_lone_surrogate
from assortment.domain.formats import timestamp
from tests.catalogs import link, make_catalog, make_hierarchy, make_node, make_product, publish
from tests.conftest import Caller
from tests.helpers import errors_of

FAR_INSTANTS = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "99999999999999999999"]


def send_json(api: Caller, method: str, url: str, body: Any) -> Any:
    """`json.dumps` writes a lone surrogate as the escape `\\ud800`, as any client may."""
    return api.request(method, url, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})


def make_book(api: Caller, name: str = "Book") -> str:
    response = api.post("/pcm/pricebooks", json={"data": {"type": "pricebook", "attributes": {"name": name}}})
    assert response.status_code == 201, response.text
    book_id: str = response.json()["data"]["id"]
    return book_id


def price_body(sku: str, **attributes: Any) -> dict[str, Any]:
    values = {"sku": sku, "currencies": {"USD": {"amount": 100}}, **attributes}
    return {"data": {"type": "product-price", "attributes": values}}


# --- lone surrogates in JSON bodies ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "lone"),
    [
        (b'{"name": "\\ud800"}', True),
        (b'{"name": "a\\uDFFFb"}', True),
        (b'{"name": "\\ud83d"}', True),  # a high half at the end
        (b'{"name": "\\ud83d\\u0041"}', True),  # a high half followed by something else
        (b'{"\\udc00": 1}', True),  # in a key
        (b'{"name": "\\\\\\ud800"}', True),  # an escaped backslash, then the escape
        (b'{"name": "\\ud83d\\ude00"}', False),  # a pair: U+1F600
        (b'{"name": "\\\\ud800"}', False),  # an escaped backslash followed by the text "ud800"
        (b'{"name": "\\u00e9 \\u0000"}', False),
        (b'{"name": "plain"}', False),
    ],
)
def test_lone_surrogate_detection(body: bytes, lone: bool) -> None:
    assert has_lone_surrogate(body) is lone
    if not lone:
        json.loads(body)


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
def test_lone_surrogates_are_refused_whatever_the_content_type(api: Caller, content_type: str) -> None:
    """The price handlers parse JSON whatever the content type says: the check must not trust it either."""
    body = b'{"data": {"type": "pricebook", "attributes": {"name": "\\ud800"}}}'
    response = api.post("/pcm/pricebooks", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 400, response.text
    errors_of(response)
    assert api.get("/pcm/pricebooks").json()["data"] == []


def test_a_surrogate_pair_is_text_and_is_stored(api: Caller) -> None:
    product = make_product(api)
    response = send_json(
        api, "PUT", f"/pcm/products/{product['id']}", {"data": {"type": "product", "id": product["id"],
                                                                  "attributes": {"description": "😀"}}}
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["data"]["attributes"]["description"] == "😀"


def test_lone_surrogates_are_400_and_write_nothing(api: Caller) -> None:
    """Was: 500 from the driver (PUT product description, price book, price, currency, OAuth client id),
    from PostgreSQL's JSON input (catalog rule lists) or from the error encoder echoing an id (catalog)."""
    product = make_product(api)
    hierarchy = make_hierarchy(api)
    catalog = make_catalog(api, [hierarchy["id"]])
    book = make_book(api)
    surrogate = "a\ud800b"
    requests: list[tuple[str, str, Any]] = [
        (
            "PUT",
            f"/pcm/products/{product['id']}",
            {"data": {"type": "product", "id": product["id"], "attributes": {"description": surrogate}}},
        ),
        (
            "POST",
            "/pcm/catalogs",
            {"data": {"type": "catalog", "attributes": {"name": "C", "hierarchy_ids": [surrogate]}}},
        ),
        (
            "POST",
            "/pcm/catalogs/rules",
            {"data": {"type": "catalog_rule", "attributes": {"name": "r", "catalog_id": catalog["id"],
                                                             "channels": [surrogate]}}},
        ),
        ("POST", "/pcm/pricebooks", {"data": {"type": "pricebook", "attributes": {"name": surrogate}}}),
        ("POST", f"/pcm/pricebooks/{book}/prices", price_body(surrogate)),
        ("POST", f"/pcm/pricebooks/{book}/prices", price_body("S", admin_attributes={surrogate: "x"})),
        (
            "POST",
            "/v2/currencies",
            {"data": {"type": "currency", "code": "EUR", "format": "€{price}" + surrogate, "decimal_point": ",",
                      "thousand_separator": ".", "decimal_places": 2, "exchange_rate": 1, "default": False,
                      "enabled": True}},
        ),
        ("POST", "/oauth/access_token", {"grant_type": "client_credentials", "client_id": surrogate,
                                         "client_secret": "x"}),
    ]  # fmt: skip
    for method, url, body in requests:
        response = send_json(api, method, url, body)
        assert response.status_code == 400, (method, url, response.text)
        [error] = errors_of(response)
        assert "lone UTF-16 surrogate" in error["detail"]
    assert api.get(f"/pcm/products/{product['id']}").json()["data"]["attributes"].get("description") in (None, "")
    assert [c["id"] for c in api.get("/pcm/catalogs").json()["data"]] == [catalog["id"]]
    assert api.get("/pcm/catalogs/rules").json()["data"] == []
    assert [b["id"] for b in api.get("/pcm/pricebooks").json()["data"]] == [book]
    assert api.get(f"/pcm/pricebooks/{book}/prices").json()["data"] == []
    assert [c["code"] for c in api.get("/v2/currencies").json()["data"]] == ["USD"]


# --- instants outside datetime's range once in UTC ---------------------------------------------------


@pytest.mark.parametrize("url", ["/pcm/products", "/pcm/hierarchies", "/pcm/hierarchies/nodes"])
@pytest.mark.parametrize("instant", FAR_INSTANTS)
def test_filters_on_far_instants_are_400(api: Caller, url: str, instant: str) -> None:
    """Was: 500, OverflowError converting the bound value to UTC (or OSError for the milliseconds)."""
    for op in ("gt", "lt", "eq"):
        response = api.get(url, params={"filter": f"{op}(created_at,{instant})"})
        assert response.status_code == 400, response.text
        errors_of(response)


def test_filters_on_the_last_and_first_instants_still_work(api: Caller) -> None:
    make_product(api)
    assert api.get("/pcm/products", params={"filter": "lt(created_at,9999-12-31T23:59:59Z)"}).json()["data"]
    assert api.get("/pcm/products", params={"filter": "gt(created_at,0001-01-01T00:00:00-01:00)"}).json()["data"]


@pytest.mark.parametrize("name", ["created_time_from", "updated_time_to"])
@pytest.mark.parametrize("instant", FAR_INSTANTS)
def test_v2_time_bounds_out_of_range_are_422(api: Caller, name: str, instant: str) -> None:
    response = api.get("/api/v2/product_relationships", params={name: instant})
    assert response.status_code == 422, response.text
    [error] = errors_of(response)
    assert error["detail"] == f"{name}: must be an ISO 8601 time"


@pytest.mark.parametrize("instant", FAR_INSTANTS)
def test_catalog_rule_schedules_out_of_range_are_422_and_write_nothing(api: Caller, instant: str) -> None:
    catalog = make_catalog(api, [make_hierarchy(api)["id"]])
    body = {"data": {"type": "catalog_rule", "attributes": {"name": "r", "catalog_id": catalog["id"],
                                                            "schedules": [{"valid_from": instant}]}}}  # fmt: skip
    for url in ("/pcm/catalogs/rules", "/pcm/catalogs/rules/validate"):
        response = api.post(url, json=body)
        assert response.status_code == 422, response.text
        errors_of(response)
    assert api.get("/pcm/catalogs/rules").json()["data"] == []


@pytest.mark.parametrize("instant", FAR_INSTANTS[:2])
def test_price_sale_schedules_out_of_range_are_422_and_write_nothing(api: Caller, instant: str) -> None:
    """Was: 500, OverflowError rendering the instant in UTC."""
    book = make_book(api)
    sale = {"s": {"schedule": {"valid_from": instant}, "currencies": {"USD": {"amount": 50}}}}
    response = api.post(f"/pcm/pricebooks/{book}/prices", json=price_body("S", sales=sale))
    assert response.status_code == 422, response.text
    assert errors_of(response)[0]["detail"] == "data.attributes.sales.s.schedule.valid_from: must be an RFC 3339 time"
    assert api.get(f"/pcm/pricebooks/{book}/prices").json()["data"] == []


# --- years before 1000 ---------------------------------------------------------------------------------


def test_timestamps_pad_the_year() -> None:
    assert timestamp(datetime(999, 6, 1, tzinfo=UTC)) == "0999-06-01T00:00:00.000Z"
    assert timestamp(datetime(1, 1, 1, 0, 0, 0, 5000, tzinfo=UTC)) == "0001-01-01T00:00:00.005Z"


def test_a_sale_from_before_year_1000_renders_and_publishes(api: Caller) -> None:
    """Was: stored as "999-06-01T00:00:00.000Z" (strftime does not pad), so the release view, reading it
    back, failed with a 500."""
    product = make_product(api, sku="SKU-1", status="live")
    hierarchy = make_hierarchy(api)
    node = make_node(api, hierarchy["id"], "Node")
    link(api, hierarchy["id"], node["id"], product["id"])
    book = make_book(api)
    sale = {"old": {"schedule": {"valid_from": "0999-06-01T00:00:00Z"}, "currencies": {"USD": {"amount": 50}}}}
    response = api.post(f"/pcm/pricebooks/{book}/prices", json=price_body("SKU-1", sales=sale))
    assert response.status_code == 201, response.text
    assert response.json()["data"]["attributes"]["sales"]["old"]["schedule"]["valid_from"] == "0999-06-01T00:00:00.000Z"
    catalog = make_catalog(api, [hierarchy["id"]], pricebook_id=book)
    publish(api, catalog["id"])
    view = api.get(f"/pcm/catalogs/{catalog['id']}/releases/latest/products")
    assert view.status_code == 200, view.text
    assert [p["id"] for p in view.json()["data"]] == [product["id"]]


# --- column lengths ------------------------------------------------------------------------------------


def test_renaming_a_price_book_past_1000_characters_is_422(api: Caller) -> None:
    """Was: 500 on PostgreSQL (value too long for varchar(1000)); create already checked the length."""
    book = make_book(api, "Book")

    def rename(name: str) -> Any:
        body = {"data": {"type": "pricebook", "id": book, "attributes": {"name": name}}}
        return api.put(f"/pcm/pricebooks/{book}", json=body)

    response = rename("n" * 1001)
    assert response.status_code == 422, response.text
    errors_of(response)
    assert api.get(f"/pcm/pricebooks/{book}").json()["data"]["attributes"]["name"] == "Book"
    assert rename("n" * 1000).status_code == 200


@pytest.mark.parametrize(
    "expression",
    ['eq(locales.fr"x.name,a)', "eq(locales.fr-FR.colour,a)", "eq(breadcrumbs.locales.x_y.name,a)"],
)
def test_locale_filters_take_only_language_tags_and_known_fields(api: Caller, expression: str) -> None:
    response = api.get("/pcm/hierarchies/nodes", params={"filter": expression})
    assert response.status_code == 400
    errors_of(response)


# --- shapes of the public documents ------------------------------------------------------------------------


def test_price_books_and_prices_carry_their_self_link_beside_data(api: Caller) -> None:
    """Was: `links` inside the price book and price objects, which the public price-books document does not
    allow there (`additionalProperties: false`); SPEC §9.2 and §9.3 put it beside `data`."""
    book = make_book(api)
    book_link = {"self": f"/pcm/pricebooks/{book}"}
    created = api.post(f"/pcm/pricebooks/{book}/prices", json=price_body("S-1"))
    assert created.status_code == 201, created.text
    price = created.json()["data"]["id"]
    price_link = {"self": f"/pcm/pricebooks/{book}/prices/{price}"}
    rename = {"data": {"type": "pricebook", "id": book, "attributes": {"name": "Renamed"}}}
    reprice = {"data": {"type": "product-price", "id": price, "attributes": {"sku": "S-2"}}}
    singles = [
        (created, price_link),
        (api.get(f"/pcm/pricebooks/{book}"), book_link),
        (api.get(f"/pcm/pricebooks/{book}", params={"include": "prices"}), book_link),
        (api.put(f"/pcm/pricebooks/{book}", json=rename), book_link),
        (api.get(f"/pcm/pricebooks/{book}/prices/{price}"), price_link),
        (api.put(f"/pcm/pricebooks/{book}/prices/{price}", json=reprice), price_link),
    ]
    for response, links in singles:
        assert response.status_code in (200, 201), response.text
        body = response.json()
        assert body["links"] == links, body
        assert "links" not in body["data"], body
        assert all("links" not in item for item in body.get("included", [])), body
    for url in ("/pcm/pricebooks", "/pcm/pricebooks/prices", f"/pcm/pricebooks/{book}/prices"):
        listed = api.get(url).json()
        assert listed["data"], url
        assert all("links" not in item for item in listed["data"]), listed


def test_catalog_rules_carry_their_timestamps_as_attributes(api: Caller) -> None:
    """Was: `created_at`/`updated_at` in the rule's meta; the public catalogs document requires them among
    its attributes."""
    catalog = make_catalog(api, [make_hierarchy(api)["id"]])
    body = {"data": {"type": "catalog_rule", "attributes": {"name": "r", "catalog_id": catalog["id"]}}}
    created = api.post("/pcm/catalogs/rules", json=body)
    assert created.status_code == 201, created.text
    rule = created.json()["data"]
    url = f"/pcm/catalogs/rules/{rule['id']}"
    renamed = {"data": {"type": "catalog_rule", "id": rule["id"], "attributes": {"name": "s"}}}
    documents = [
        rule,
        api.get(url).json()["data"],
        api.put(url, json=renamed).json()["data"],
        *api.get("/pcm/catalogs/rules").json()["data"],
    ]
    for document in documents:
        attributes = document["attributes"]
        assert attributes["created_at"] == rule["attributes"]["created_at"], document
        assert attributes["updated_at"] >= attributes["created_at"], document
        assert timestamp(datetime.fromisoformat(attributes["created_at"])) == attributes["created_at"]
        assert document["meta"] == {"owner": "store"}, document
