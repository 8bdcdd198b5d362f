"""Catalog rules (CRUD, validate) and the shopper /catalog view chosen by them: SPEC §5, §4.5, §6, §B-21."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from assortment.db.models import CatalogRule
from tests.catalogs import (
    curate,
    ids,
    link,
    make_catalog,
    make_hierarchy,
    make_node,
    make_product,
    publish,
    view,
)
from tests.conftest import Caller, Database, Keys
from tests.helpers import ORIGIN, errors_of
from tests.relationships import associate, make_definition

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def rule_body(name: str = "rule", **attributes: Any) -> dict[str, Any]:
    return {"data": {"type": "catalog_rule", "attributes": {"name": name, **attributes}}}


def make_rule(api: Caller, catalog_id: str, name: str = "rule", **attributes: Any) -> dict[str, Any]:
    response = api.post("/pcm/catalogs/rules", json=rule_body(name, catalog_id=catalog_id, **attributes))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def count_rules(db: Database) -> int:
    with db.sessions() as session:
        return session.query(CatalogRule).count()


def published_catalog(api: Caller, name: str) -> tuple[str, str]:
    """A catalog of one hierarchy (named after it) with one live product; (catalog id, release id)."""
    hid = make_hierarchy(api, name=name)["id"]
    nid = make_node(api, hid, f"{name} node")["id"]
    link(api, hid, nid, make_product(api, status="live", name=f"{name} product")["id"])
    catalog = make_catalog(api, [hid], name=name)["id"]
    return catalog, publish(api, catalog)["id"]


def shown(api: Caller, **headers: str) -> str:
    """The name of the catalog whose release GET /catalog serves with these headers."""
    response = api.get("/catalog", headers=headers)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["type"] == "catalog-release"
    name: str = data["attributes"]["name"]
    return name


def instant(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# --- choosing the catalog -------------------------------------------------------------------------------


def test_nothing_published_is_404(api: Caller, keys: Keys) -> None:
    hid = make_hierarchy(api)["id"]
    catalog = make_catalog(api, [hid])["id"]
    make_rule(api, catalog)
    shopper = keys.caller(grant="implicit")
    for url in (
        "/catalog",
        "/catalog/products",
        "/catalog/hierarchies",
        "/catalog/nodes",
        f"/catalog/hierarchies/{hid}",
    ):
        for caller in (api, shopper):
            response = caller.get(url)
            assert response.status_code == 404, url
            assert errors_of(response)[0]["title"] == "Not Found"


def test_without_rules_the_oldest_published_catalog_is_served(api: Caller) -> None:
    hid = make_hierarchy(api)["id"]
    make_catalog(api, [hid], name="Never published")
    first, first_release = published_catalog(api, "First")
    published_catalog(api, "Second")
    response = api.get("/catalog")
    assert response.json()["data"]["id"] == first_release
    assert response.json()["data"]["attributes"]["catalog_id"] == first
    # Its latest release.
    newer = publish(api, first)["id"]
    assert api.get("/catalog").json()["data"]["id"] == newer


def test_rules_choose_by_channel_and_tag(api: Caller) -> None:
    published_catalog(api, "Default")
    web, _ = published_catalog(api, "Web")
    vip, _ = published_catalog(api, "Vip")
    web_vip, _ = published_catalog(api, "WebVip")
    make_rule(api, web, "web", channels=["web", "app"])
    make_rule(api, vip, "vip", tags=["vip"])
    make_rule(api, web_vip, "web-vip", channels=["web"], tags=["vip"])

    assert shown(api) == "Default"  # no match: the oldest published catalog
    assert shown(api, **{"EP-Channel": "web"}) == "Web"
    assert shown(api, **{"EP-Channel": "app"}) == "Web"
    assert shown(api, **{"EP-Channel": "kiosk"}) == "Default"
    assert shown(api, **{"EP-Context-Tag": "vip"}) == "Vip"
    assert shown(api, **{"EP-Context-Tag": "vip", "EP-Channel": "kiosk"}) == "Vip"
    # The rule matching the most criteria wins.
    assert shown(api, **{"EP-Context-Tag": "vip", "EP-Channel": "web"}) == "WebVip"
    assert shown(api, **{"EP-Context-Tag": "vip", "EP-Channel": "app"}) == "Web"  # tie → first created
    assert shown(api, **{"EP-Context-Tag": "other", "EP-Channel": "web"}) == "Web"


def test_ties_go_to_the_rule_created_first(api: Caller) -> None:
    published_catalog(api, "Default")
    second, _ = published_catalog(api, "Second")
    first, _ = published_catalog(api, "First")
    make_rule(api, first, "first", channels=["web"])
    make_rule(api, second, "second", channels=["web"])
    assert shown(api, **{"EP-Channel": "web"}) == "First"


def test_a_rule_without_criteria_is_the_default_rule(api: Caller) -> None:
    published_catalog(api, "Oldest")
    chosen, _ = published_catalog(api, "Chosen")
    web, _ = published_catalog(api, "Web")
    make_rule(api, chosen, "default")
    make_rule(api, web, "web", channels=["web"])
    assert shown(api) == "Chosen"
    assert shown(api, **{"EP-Channel": "web"}) == "Web"


def test_schedules_are_honoured(api: Caller) -> None:
    published_catalog(api, "Default")
    web, _ = published_catalog(api, "Web")
    past, _ = published_catalog(api, "Past")
    future, _ = published_catalog(api, "Future")
    now, _ = published_catalog(api, "Now")
    hour = timedelta(hours=1)
    make_rule(api, web, "web", channels=["web"])
    make_rule(
        api, past, "past", channels=["web"], schedules=[{"valid_from": instant(-2 * hour), "valid_to": instant(-hour)}]
    )
    make_rule(api, future, "future", channels=["web"], schedules=[{"valid_from": instant(hour)}])
    assert shown(api, **{"EP-Channel": "web"}) == "Web"  # neither scheduled rule applies now
    # A schedule that holds counts as one more criterion.
    make_rule(api, now, "now", channels=["web"], schedules=[{"valid_from": instant(-hour), "valid_to": instant(hour)}])
    assert shown(api, **{"EP-Channel": "web"}) == "Now"
    assert shown(api) == "Default"


def test_open_ended_schedules(api: Caller) -> None:
    published_catalog(api, "Default")
    since, _ = published_catalog(api, "Since")
    make_rule(api, since, "since", schedules=[{"valid_from": instant(-timedelta(days=1))}])
    assert shown(api) == "Since"
    until, _ = published_catalog(api, "Until")
    make_rule(api, until, "until", channels=["web"], schedules=[{"valid_to": instant(timedelta(days=1))}])
    assert shown(api, **{"EP-Channel": "web"}) == "Until"


def test_stores_see_only_their_own_catalogs(api: Caller, keys: Keys) -> None:
    published_catalog(api, "Mine")
    other = keys.caller(store_id=keys.store("Elsewhere"))
    assert other.get("/catalog").status_code == 404
    published_catalog(other, "Theirs")
    assert shown(other) == "Theirs"
    assert shown(api) == "Mine"


# --- the shopper view ---------------------------------------------------------------------------------


def test_the_shopper_view_serves_the_release_under_catalog(api: Caller, keys: Keys) -> None:
    hid = make_hierarchy(api, name="Shop")["id"]
    top = make_node(api, hid, "Top")["id"]
    child = make_node(api, hid, "Child", parent=top)["id"]
    a, b = (make_product(api, status="live", sku=s)["id"] for s in ("a", "b"))
    hidden = make_product(api, sku="draft")["id"]
    link(api, hid, top, a, b, hidden)
    link(api, hid, child, b)
    curate(api, hid, top, b)
    make_definition(api, "related")
    associate(api, a, "CRP_related", [b])
    catalog = make_catalog(api, [hid])["id"]
    release = publish(api, catalog)["id"]
    shopper = keys.caller(grant="implicit")
    pcm = f"/pcm/catalogs/{catalog}/releases/{release}"

    pairs = {
        "/hierarchies": "/hierarchies",
        f"/hierarchies/{hid}": f"/hierarchies/{hid}",
        f"/hierarchies/{hid}/nodes": f"/hierarchies/{hid}/nodes",
        f"/hierarchies/{hid}/children": f"/hierarchies/{hid}/children",
        f"/hierarchies/{hid}/products": f"/hierarchies/{hid}/products",
        "/nodes": "/nodes",
        f"/nodes/{top}": f"/nodes/{top}",
        f"/nodes/{top}/relationships/children": f"/nodes/{top}/relationships/children",
        f"/nodes/{top}/relationships/products": f"/nodes/{top}/relationships/products",
        "/products": "/products",
        f"/products/{a}": f"/products/{a}",
        f"/products/{a}/relationships/CRP_related/products": f"/products/{a}/relationships/CRP_related/products",
    }
    for shopper_path, release_path in pairs.items():
        for caller in (shopper, api):
            response = caller.get("/catalog" + shopper_path)
            assert response.status_code == 200, (shopper_path, response.text)
            body = response.json()
            assert "/pcm/catalogs" not in response.text, shopper_path  # links moved to /catalog
            expected = view(api, pcm + release_path)
            if isinstance(body["data"], list):
                assert ids(body) == ids(expected), shopper_path
                assert body["meta"] == expected["meta"]
                assert body["links"]["first"].startswith(f"{ORIGIN}/catalog{shopper_path}?")
            else:
                assert body["data"]["id"] == expected["data"]["id"]
    assert ids(view(shopper, f"/catalog/nodes/{top}/relationships/products")) == [b, a]
    curated = view(shopper, f"/catalog/nodes/{top}/relationships/products")["data"][0]
    assert curated["attributes"]["curated_product"] is True
    node = view(shopper, f"/catalog/nodes/{child}")["data"]
    assert node["relationships"]["products"]["links"]["related"] == f"/catalog/nodes/{child}/relationships/products"
    product = view(shopper, f"/catalog/products/{a}")["data"]
    assert product["relationships"]["custom_relationships"]["links"]["CRP_related"] == (
        f"/catalog/products/{a}/relationships/CRP_related/products"
    )
    # Drafts are never visible.
    assert hidden not in ids(view(shopper, "/catalog/products"))
    assert shopper.get(f"/catalog/products/{hidden}").status_code == 404
    assert shopper.get(f"/catalog/nodes/{uuid.uuid4()}").status_code == 404
    # Filters and paging as in the release view.
    assert ids(view(shopper, "/catalog/products", filter="eq(sku,a)")) == [a]
    assert shopper.get("/catalog/products", params={"filter": "like(sku,a)"}).status_code == 400
    paged = view(shopper, "/catalog/products", **{"page[limit]": "1"})
    assert paged["meta"]["page"] == {"limit": 1, "offset": 0, "current": 1, "total": 2}
    assert paged["links"]["next"] == f"{ORIGIN}/catalog/products?page[offset]=1&page[limit]=1"


def test_the_shopper_view_has_etags(api: Caller) -> None:
    published_catalog(api, "Shop")
    first = api.get("/catalog/products")
    etag = first.headers["ETag"]
    again = api.get("/catalog/products")
    assert again.content == first.content and again.headers["ETag"] == etag
    assert api.get("/catalog/products", headers={"If-None-Match": etag}).status_code == 304


def test_the_shopper_view_follows_a_new_publish(api: Caller) -> None:
    catalog, _ = published_catalog(api, "Shop")
    before = ids(view(api, "/catalog/products"))
    hid = api.get(f"/pcm/catalogs/{catalog}").json()["data"]["attributes"]["hierarchy_ids"][0]
    nid = view(api, f"/pcm/hierarchies/{hid}/nodes")["data"][0]["id"]
    newcomer = make_product(api, status="live")["id"]
    link(api, hid, nid, newcomer)
    assert ids(view(api, "/catalog/products")) == before  # not published yet
    publish(api, catalog)
    assert newcomer in ids(view(api, "/catalog/products"))


def test_implicit_tokens_are_read_only_and_reach_only_the_views(api: Caller, keys: Keys) -> None:
    catalog, release = published_catalog(api, "Shop")
    rule = make_rule(api, catalog)["id"]
    product = make_product(api)["id"]
    shopper = keys.caller(grant="implicit")
    assert shopper.get("/catalog").status_code == 200
    assert shopper.get(f"/pcm/catalogs/{catalog}/releases/latest/products").status_code == 200
    assert shopper.get(f"/pcm/catalogs/{catalog}/releases/{release}").status_code == 200
    for method, url in (
        ("GET", "/pcm/products"),
        ("GET", f"/pcm/products/{product}"),
        ("GET", "/pcm/hierarchies"),
        ("GET", "/pcm/custom-relationships"),
        ("GET", "/pcm/jobs"),
        ("GET", "/pcm/catalogs"),
        ("GET", f"/pcm/catalogs/{catalog}"),
        ("GET", f"/pcm/catalogs/{catalog}/releases"),
        ("POST", f"/pcm/catalogs/{catalog}/releases"),
        ("DELETE", f"/pcm/catalogs/{catalog}/releases/{release}"),
        ("GET", "/pcm/catalogs/rules"),
        ("GET", f"/pcm/catalogs/rules/{rule}"),
        ("POST", "/pcm/catalogs/rules"),
        ("POST", "/pcm/catalogs/rules/validate"),
        ("PUT", f"/pcm/catalogs/rules/{rule}"),
        ("DELETE", f"/pcm/catalogs/rules/{rule}"),
        ("POST", "/pcm/products"),
    ):
        body = rule_body(catalog_id=catalog) if "rules" in url and method != "DELETE" else None
        response = shopper.request(method, url, json=body)
        assert response.status_code == 403, (method, url, response.text)
        assert errors_of(response)[0]["title"] == "Forbidden"
    assert api.get(f"/pcm/catalogs/{catalog}/releases/{release}").status_code == 200  # nothing was deleted


# --- catalog rules CRUD -------------------------------------------------------------------------------


def test_create_returns_the_rule_object(api: Caller) -> None:
    catalog = make_catalog(api, [])["id"]
    schedule = {"valid_from": "2030-01-01T00:00:00.000Z", "valid_to": "2031-01-01T00:00:00.000Z"}
    data = make_rule(
        api,
        catalog,
        "storefront",
        description="The web shop",
        channels=["web"],
        tags=["vip", "b2b"],
        customer_ids=["c1"],
        account_ids=["a1"],
        schedules=[schedule],
    )
    uuid.UUID(data["id"])
    assert data["type"] == "catalog_rule"
    attributes = data["attributes"]
    assert TIMESTAMP.match(attributes["created_at"]) and TIMESTAMP.match(attributes["updated_at"])
    assert attributes == {
        "created_at": attributes["created_at"],
        "updated_at": attributes["updated_at"],
        "name": "storefront",
        "description": "The web shop",
        "catalog_id": catalog,
        "channels": ["web"],
        "tags": ["vip", "b2b"],
        "customer_ids": ["c1"],
        "account_ids": ["a1"],
        "schedules": [schedule],
    }
    assert data["meta"] == {"owner": "store"}
    assert api.get(f"/pcm/catalogs/rules/{data['id']}").json()["data"] == data


@pytest.mark.parametrize(
    ("attributes", "fragment"),
    [
        ({"name": "has space"}, "name"),
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"catalog_id": None}, "catalog_id"),
        ({"channels": "web"}, "channels"),
        ({"schedules": [{"valid_from": "2031-01-01T00:00:00Z", "valid_to": "2030-01-01T00:00:00Z"}]}, "schedules"),
        ({"schedules": [{"valid_from": "next tuesday"}]}, "schedules"),
        ({"pricebook_ids": [{"id": str(uuid.uuid4()), "priority": i} for i in range(6)]}, "pricebook_ids"),
    ],
)
def test_invalid_rules_are_refused_and_nothing_is_written(
    api: Caller, db: Database, attributes: dict[str, Any], fragment: str
) -> None:
    catalog = make_catalog(api, [])["id"]
    values = {"name": "ok", "catalog_id": catalog, **attributes}
    values = {k: v for k, v in values.items() if v is not None}
    body = {"data": {"type": "catalog_rule", "attributes": values}}
    for url in ("/pcm/catalogs/rules", "/pcm/catalogs/rules/validate"):
        response = api.post(url, json=body)
        assert response.status_code == 422, (url, response.text)
        assert any(fragment in e.get("detail", "") for e in errors_of(response)), response.text
    assert count_rules(db) == 0


def test_an_unknown_catalog_is_listed_in_missing_ids(api: Caller, db: Database) -> None:
    unknown = str(uuid.uuid4())
    for url in ("/pcm/catalogs/rules", "/pcm/catalogs/rules/validate"):
        response = api.post(url, json=rule_body(catalog_id=unknown))
        assert response.status_code == 422
        assert errors_of(response)[0]["meta"]["missing_ids"] == [unknown]
    assert count_rules(db) == 0


def test_validate_writes_nothing(api: Caller, db: Database) -> None:
    catalog = make_catalog(api, [])["id"]
    response = api.post("/pcm/catalogs/rules/validate", json=rule_body(catalog_id=catalog, channels=["web"]))
    assert response.status_code == 200, response.text
    assert count_rules(db) == 0


def test_rules_are_listed_and_filtered(api: Caller) -> None:
    one, two = make_catalog(api, [], name="One")["id"], make_catalog(api, [], name="Two")["id"]
    web = make_rule(api, one, "web", channels=["web"], tags=["a"])["id"]
    app = make_rule(api, one, "app", channels=["app"], tags=["b"], customer_ids=["c1"])["id"]
    other = make_rule(api, two, "other", tags=["a", "b"], account_ids=["x1"])["id"]

    def found(expression: str | None = None, **params: str) -> list[str]:
        if expression is not None:
            params["filter"] = expression
        response = api.get("/pcm/catalogs/rules", params=params)
        assert response.status_code == 200, response.text
        return ids(response.json())

    assert found() == [web, app, other]
    assert found(f"eq(catalog_id,{one})") == [web, app]
    assert found(f"eq(catalog_id,{two})") == [other]
    assert found("eq(channels,web)") == [web]
    assert found("in(channels,web,app)") == [web, app]
    assert found("eq(tags,b)") == [app, other]
    assert found("in(tags,a)") == [web, other]
    assert found("eq(customer_ids,c1)") == [app]
    assert found("eq(account_ids,x1)") == [other]
    assert found(f"eq(id,{app})") == [app]
    assert found(f"in(id,{other},{web})") == [web, other]
    assert found("eq(tags,a):eq(channels,web)") == [web]
    page = api.get("/pcm/catalogs/rules", params={"page[limit]": "2"}).json()
    assert page["meta"] == {"page": {"limit": 2, "offset": 0, "current": 1, "total": 2}, "results": {"total": 3}}
    assert page["links"]["next"] == f"{ORIGIN}/pcm/catalogs/rules?page[offset]=2&page[limit]=2"
    assert page["links"]["prev"] is None
    assert api.get("/pcm/catalogs/rules", params={"filter": "like(name,w*)"}).status_code == 400


def test_update_is_partial_and_validated(api: Caller) -> None:
    one, two = make_catalog(api, [], name="One")["id"], make_catalog(api, [], name="Two")["id"]
    data = make_rule(api, one, "web", channels=["web"], tags=["a"])
    url = f"/pcm/catalogs/rules/{data['id']}"

    def put(**attributes: Any) -> Any:
        return api.put(url, json={"data": {"type": "catalog_rule", "id": data["id"], "attributes": attributes}})

    response = put(catalog_id=two, tags=None)
    assert response.status_code == 200, response.text
    attributes = response.json()["data"]["attributes"]
    assert without_timestamps(attributes) == {"name": "web", "catalog_id": two, "channels": ["web"]}
    for bad in ({"name": "with space"}, {"name": None}, {"catalog_id": None}, {"catalog_id": str(uuid.uuid4())}):
        refused = put(**bad)
        assert refused.status_code == 422, bad
        errors_of(refused)
    mismatch = api.put(url, json={"data": {"type": "catalog_rule", "id": str(uuid.uuid4()), "attributes": {}}})
    assert mismatch.status_code == 422
    assert api.get(url).json()["data"]["attributes"] == attributes
    unchanged = put()
    assert unchanged.status_code == 200
    assert without_timestamps(unchanged.json()["data"]["attributes"]) == without_timestamps(attributes)


def without_timestamps(attributes: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in attributes.items() if name not in ("created_at", "updated_at")}


def test_delete_and_unknown_rules(api: Caller) -> None:
    catalog = make_catalog(api, [])["id"]
    rule = make_rule(api, catalog)["id"]
    assert api.delete(f"/pcm/catalogs/rules/{rule}").status_code == 204
    for rule_id in (rule, str(uuid.uuid4()), "not-an-id"):
        for response in (
            api.get(f"/pcm/catalogs/rules/{rule_id}"),
            api.delete(f"/pcm/catalogs/rules/{rule_id}"),
            api.put(f"/pcm/catalogs/rules/{rule_id}", json={"data": {"type": "catalog_rule", "attributes": {}}}),
        ):
            assert response.status_code == 404, response.text
            errors_of(response)


def test_rules_are_private_to_their_store(api: Caller, keys: Keys) -> None:
    catalog = make_catalog(api, [])["id"]
    rule = make_rule(api, catalog)["id"]
    other = keys.caller(store_id=keys.store("Elsewhere"))
    assert other.get(f"/pcm/catalogs/rules/{rule}").status_code == 404
    assert other.get("/pcm/catalogs/rules").json()["data"] == []
    response = other.post("/pcm/catalogs/rules", json=rule_body(catalog_id=catalog))
    assert response.status_code == 422
    assert errors_of(response)[0]["meta"]["missing_ids"] == [catalog]
