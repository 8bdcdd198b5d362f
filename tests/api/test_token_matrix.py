"""Every route of the app × every kind of credential (SPEC §6, §0.4, §4.5, §9.2, §9.7 P-14, §B-21).

The routes are read from the app itself (its router tree, cross-checked against the OpenAPI document), so
a new route is in the matrix without anyone adding it here. Only the documented public routes are left
out, and that list is asserted to be exactly what it is, so it cannot grow unnoticed.

Cases, and the answer each one must get (SPEC §6 and §0.4 unless said otherwise):

| case              | who calls                                 | documented answer                                  |
|-------------------|-------------------------------------------|----------------------------------------------------|
| owner             | the owner store, client credentials; GETs | 200 (control: the ids in the paths are real)       |
| no_token          | no Authorization header                   | 401 Unauthorized "Unable to validate access token" |
| no_token_bad_json | no header, a body that is not JSON; writes| 401 as above: the credentials before the body      |
| garbage           | `Bearer not-a-jwt`                        | 401 as above                                       |
| wrong_secret      | the owner's claims signed with another key| 401 as above                                       |
| alg_none          | the owner's claims unsigned (`alg: none`) | 401 as above                                       |
| expired           | a real token of the owner, `exp` passed   | 401 as above (§0.1a: 401, never 403)               |
| implicit          | the owner's implicit (shopper) token      | 200 on the catalog views and currency reads, 403   |
|                   |                                           | Forbidden elsewhere (§6, §4.5, §9.2, P-14, §B-21)  |
| implicit_bad_json | the same, a body that is not JSON; writes | 403 as above                                       |
| other_store       | another store's client credentials on the | 404 Not Found (§0.4 "not visible to the caller"),  |
|                   | owner's ids                               | lists 200; never the owner's ids or names          |
| store_on_org      | the owner store's client credentials on   | reads 200 with the organization's data; writes 403 |
|                   | the organization's ids                    | "entity owned by organization" (§6)                |

Every 401 also carries `WWW-Authenticate: Bearer` (§7.1/§7.2 ask for it on v2; the service sends it
everywhere). On writes the token cases send a body that fails validation or does not parse, so the
credential answer is proven to come before any look at the body. Where a case cannot apply to a route
(a creation naming nothing of anybody's; organization ids in the shopper view, which shows the release the
store's rules pick) the pair is left out by `_applies`, and the tables below say which and why; the
deviations from the rows above (per-store currencies, hierarchy duplication) are in STORE_ON_ORG_SPECIAL.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route

from assortment.app import create_app
from assortment.config import Settings
from assortment.db.migrate import upgrade
from assortment.db.models import ApiKey
from assortment.domain import auth, webhooks
from tests.conftest import Caller, Database, Keys, empty_tables
from tests.helpers import product_body

# --- the routes -------------------------------------------------------------------------------------------

# Public by design: the health probe (api/health.py: "no authentication"), the token endpoint (§6: "Every
# endpoint except /oauth/access_token needs Authorization") and the API description with its viewer.
PUBLIC = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/metrics"),  # SPEC §12.1: no auth unless ASSORTMENT_METRICS_TOKEN is set (tests/api/test_metrics.py)
        ("POST", "/oauth/access_token"),
        ("GET", "/openapi.json"),
        ("HEAD", "/openapi.json"),
        ("GET", "/docs"),
        ("HEAD", "/docs"),
        ("GET", "/docs/oauth2-redirect"),
        ("HEAD", "/docs/oauth2-redirect"),
    }
)


def _walk(routes: Any, prefix: str, found: set[tuple[str, str]], unknown: list[str]) -> None:
    for route in routes:
        if str(getattr(route, "path", "")).startswith("/admin"):
            continue  # the workbench: cookie sessions, not bearer tokens; its own matrix is in tests/web
        if str(getattr(route, "path", "")) == "/docs/assets":
            continue  # Swagger UI's own files for /docs (public, like /docs; tests/api/test_health.py)
        inner = getattr(route, "original_router", None)  # FastAPI 0.165 keeps included routers in the tree
        if inner is not None:
            context = getattr(route, "include_context", None)
            _walk(inner.routes, prefix + str(getattr(context, "prefix", "") or ""), found, unknown)
        elif isinstance(route, APIRoute | Route):
            for method in route.methods or ():
                found.add((method, prefix + route.path))
        else:  # a mount, a websocket…: the matrix would not know how to call it
            unknown.append(repr(route))


def _enumerate() -> tuple[frozenset[tuple[str, str]], frozenset[tuple[str, str]], list[str]]:
    """Every method × path the app serves, the operations of its OpenAPI document, and what is neither."""
    app = create_app(Settings(database_url="sqlite://", secret_key=None, read_cache_bytes=0))
    try:
        found: set[tuple[str, str]] = set()
        unknown: list[str] = []
        _walk(app.routes, "", found, unknown)
        documented = {(method.upper(), path) for path, ops in app.openapi()["paths"].items() for method in ops}
        return frozenset(found), frozenset(documented), unknown
    finally:
        app.state.engine.dispose()


ALL_ROUTES, DOCUMENTED_ROUTES, UNKNOWN_ROUTES = _enumerate()
PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(PARAM.findall(self.path))

    @property
    def is_read(self) -> bool:
        return self.method == "GET"

    @property
    def is_shopper_view(self) -> bool:
        return self.path == "/catalog" or self.path.startswith("/catalog/")

    @property
    def implicit_may_call(self) -> bool:
        return self.is_read and any(pattern.fullmatch(self.path) for pattern in IMPLICIT_READABLE)

    def url(self, ids: dict[str, str]) -> str:
        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            assert name in ids, f"{self.key}: the matrix has no real id for path parameter {{{name}}}"
            return ids[name]

        return PARAM.sub(fill, self.path)


ENDPOINTS = tuple(Endpoint(m, p) for m, p in sorted(ALL_ROUTES - PUBLIC, key=lambda r: (r[1], r[0])))

# What an implicit token may read (§6 "GET on release views and /catalog/* → allowed"; §4.5; P-14 "implicit
# tokens may GET currencies"). Everything else is admin: §6 "any POST/PUT/DELETE → 403; GET on PIM admin
# (/pcm/products, /pcm/hierarchies, /pcm/custom-relationships, /pcm/jobs, catalog/rule config) → 403", §9.2
# "403 for implicit tokens on every /pcm/pricebooks… call". The v2 dialect authenticates API accounts (§7.1),
# never storefront keys, so it is admin too.
# SPEC is silent on two release routes; the implementation's choice is asserted:
# - `GET /pcm/catalogs/{cid}/releases/{rid}` (the release object) is readable: it is the root document of
#   the release view, and the shopper gets the same document from `GET /catalog` (§5);
# - `GET …/releases/{rid}/delta` (the publish delta, §4.2) is not: it is a publishing artefact, not a view.
IMPLICIT_READABLE = (
    re.compile(r"/catalog(/.*)?"),
    re.compile(r"/pcm/catalogs/\{catalog_id\}/releases/\{release_id\}"),
    re.compile(r"/pcm/catalogs/\{catalog_id\}/releases/\{release_id\}/(hierarchies|nodes|products)(/.*)?"),
    re.compile(r"/v2/currencies(/\{currency_id\})?"),
)

# --- request bodies ---------------------------------------------------------------------------------------

Ids = dict[str, str]
BodyOf = Callable[[Ids], Any]


def _product_refs(ids: Ids) -> Any:
    return {"data": [{"type": "product", "id": ids["product2_id"]}]}


# Minimal valid bodies for the writes that name resources in their path: with them the answer can only be
# about the resource (404 when invisible, 403 when owned by the organization), never about the body.
# None: the route takes no body.
WRITE_BODIES: dict[str, BodyOf | None] = {
    "PUT /pcm/products/{product_id}": lambda ids: {
        "data": {"type": "product", "id": ids["product_id"], "attributes": {"name": "renamed"}}
    },
    "DELETE /pcm/products/{product_id}": None,
    "PUT /pcm/hierarchies/{hierarchy_id}": lambda ids: {
        "data": {"type": "hierarchy", "id": ids["hierarchy_id"], "attributes": {"name": "renamed"}}
    },
    "DELETE /pcm/hierarchies/{hierarchy_id}": None,
    "POST /pcm/hierarchies/{hierarchy_id}/relationships/children": lambda ids: {
        "data": [{"type": "node", "id": ids["child_node_id"]}]
    },
    "POST /pcm/hierarchies/{hierarchy_id}/nodes": lambda ids: {"data": {"type": "node", "attributes": {"name": "new"}}},
    "PUT /pcm/hierarchies/{hierarchy_id}/nodes/{node_id}": lambda ids: {
        "data": {"type": "node", "id": ids["node_id"], "attributes": {"name": "renamed"}}
    },
    "DELETE /pcm/hierarchies/{hierarchy_id}/nodes/{node_id}": None,
    "POST /pcm/hierarchies/{hierarchy_id}/nodes/{node_id}/relationships/children": lambda ids: {
        "data": [{"type": "node", "id": ids["sibling_node_id"]}]
    },
    "PUT /pcm/hierarchies/{hierarchy_id}/nodes/{node_id}/relationships/parent": lambda ids: {
        "data": {"type": "node", "id": ids["sibling_node_id"]}
    },
    "DELETE /pcm/hierarchies/{hierarchy_id}/nodes/{node_id}/relationships/parent": None,
    "POST /pcm/hierarchies/{hierarchy_id}/nodes/{node_id}/relationships/products": _product_refs,
    "DELETE /pcm/hierarchies/{hierarchy_id}/nodes/{node_id}/relationships/products": _product_refs,
    "POST /pcm/hierarchies/{hierarchy_id}/duplicate_job": lambda ids: {
        "data": {"type": "hierarchy", "attributes": {"name": "copy"}}
    },
    "PUT /pcm/custom-relationships/{slug}": lambda ids: {
        "data": {"type": "custom-relationship", "id": ids["definition_id"], "attributes": {"name": "renamed"}}
    },
    "DELETE /pcm/custom-relationships/{slug}": None,
    "POST /pcm/products/{product_id}/custom-relationships": lambda ids: {
        "data": [{"type": "custom-relationship", "slug": ids["slug"]}]
    },
    "DELETE /pcm/products/{product_id}/custom-relationships": lambda ids: {
        "data": [{"type": "custom-relationship", "slug": ids["slug"]}]
    },
    "POST /pcm/products/{product_id}/custom-relationships/{slug}": _product_refs,
    "DELETE /pcm/products/{product_id}/custom-relationships/{slug}": _product_refs,
    "PUT /api/v2/product_relationships/{link_id}": lambda ids: {"product_relationship": {"sort_order": 7}},
    "DELETE /api/v2/product_relationships/{link_id}": None,
    "PUT /api/v2/relationships/{type_id}": lambda ids: {"relationship": {"name": "renamed"}},
    "DELETE /api/v2/relationships/{type_id}": None,
    "PUT /pcm/catalogs/rules/{rule_id}": lambda ids: {
        "data": {"type": "catalog_rule", "attributes": {"description": "changed"}}
    },
    "DELETE /pcm/catalogs/rules/{rule_id}": None,
    "PUT /pcm/catalogs/{catalog_id}": lambda ids: {"data": {"type": "catalog", "attributes": {"description": "x"}}},
    "DELETE /pcm/catalogs/{catalog_id}": None,
    "POST /pcm/catalogs/{catalog_id}/releases": None,  # an empty body means {} (§0.1a)
    "DELETE /pcm/catalogs/{catalog_id}/releases": None,
    "DELETE /pcm/catalogs/{catalog_id}/releases/{release_id}": None,
    "POST /pcm/catalogs/{catalog_id}/releases/{release_id}/restore": None,
    "PUT /v2/currencies/{currency_id}": lambda ids: {"data": {"exchange_rate": 2}},
    "DELETE /v2/currencies/{currency_id}": None,
    "PUT /pcm/pricebooks/{pricebook_id}": lambda ids: {
        "data": {"type": "pricebook", "id": ids["pricebook_id"], "attributes": {"description": "x"}}
    },
    "DELETE /pcm/pricebooks/{pricebook_id}": None,
    "POST /pcm/pricebooks/{pricebook_id}/prices": lambda ids: {
        "data": {"type": "product-price", "attributes": {"sku": "NEW-SKU", "currencies": {"USD": {"amount": 1}}}}
    },
    "PUT /pcm/pricebooks/{pricebook_id}/prices/{price_id}": lambda ids: {
        "data": {"type": "product-price", "id": ids["price_id"], "attributes": {"sku": "RENAMED-SKU"}}
    },
    "DELETE /pcm/pricebooks/{pricebook_id}/prices/{price_id}": None,
    **{
        f"{method} {prefix}/{{integration_id}}{rest}": body
        for prefix in ("/v2/integrations", "/integrations")
        for method, rest, body in (
            ("PUT", "", lambda ids: {"data": {"type": "integration", "name": "renamed"}}),
            ("DELETE", "", None),
            ("POST", "/jobs/{integration_job_id}/redeliver", None),
        )
    },
}


@dataclass(frozen=True)
class BodyCase:
    """A write naming no resource in its path, sent with a body naming some other party's resources."""

    body: BodyOf
    status: int
    check: Callable[[Any, Ids], None] | None = None  # more about a 2xx/422 answer


def _missing(*names: str) -> Callable[[Any, Ids], None]:
    def check(response: Any, ids: Ids) -> None:
        [error] = response.json()["errors"]
        assert error["meta"]["missing_ids"] == [ids[name] for name in names], error

    return check


def _nothing_done(counter: str) -> Callable[[Any, Ids], None]:
    def check(response: Any, ids: Ids) -> None:
        assert response.json() == {"meta": {counter: 0, "nodes_not_found": [ids["node_id"]]}}

    return check


def _node_selection(ids: Ids) -> Any:
    return {"data": {"filter": f"eq(id,{ids['product_id']})", "node_ids": [ids["node_id"]]}}


def _v2_link(ids: Ids) -> Any:
    """A link that does not exist yet (the reverse of the one built), so nothing but the ids can refuse it."""
    return {
        "product_relationship": {
            "relationship_id": int(ids["type_id"]),
            "parent_product_id": int(ids["product2_pk"]),
            "child_product_id": int(ids["product_pk"]),
        }
    }


def _catalog_of(ids: Ids) -> Any:
    return {"data": {"type": "catalog", "attributes": {"name": "mine", "hierarchy_ids": [ids["hierarchy_id"]]}}}


def _rule_for(ids: Ids) -> Any:
    return {"data": {"type": "catalog_rule", "attributes": {"name": "mine", "catalog_id": ids["catalog_id"]}}}


# other_store on writes that name nothing in their path: the owner's ids go in the body, where an id the
# caller cannot see is "missing" (§0.4: references to non-existent ids in the body → 422 meta.missing_ids;
# §B-10), or "not found" for the node selections (§1.3: nodes_not_found; nothing is attached).
OTHER_STORE_BODIES: dict[str, BodyCase] = {
    "POST /pcm/catalogs": BodyCase(_catalog_of, 422, _missing("hierarchy_id")),  # §4.1
    "POST /pcm/catalogs/rules": BodyCase(_rule_for, 422, _missing("catalog_id")),
    "POST /pcm/catalogs/rules/validate": BodyCase(_rule_for, 422, _missing("catalog_id")),
    "POST /pcm/products/attach_nodes": BodyCase(_node_selection, 200, _nothing_done("nodes_attached")),
    "POST /pcm/products/detach_nodes": BodyCase(_node_selection, 200, _nothing_done("nodes_detached")),
    "POST /api/v2/product_relationships": BodyCase(_v2_link, 422),  # §7.2 "not found → 422 (body reference)"
}
# Creations whose body names nobody's resources: another store can only create its own (not applicable).
CREATES_NAMING_NOTHING = frozenset(
    {
        "POST /pcm/products",
        "POST /pcm/hierarchies",
        "POST /pcm/custom-relationships",
        "POST /v2/currencies",
        "POST /pcm/pricebooks",
        "POST /api/v2/relationships",
        "POST /v2/integrations",
        "POST /integrations",
    }
)
# store_on_org on writes that name nothing in their path: the organization's resources in the body.
# - a store's rule may not choose an organization catalog (§5 "Not allowed for organization catalogs"); the
#   implementation answers 422 like any other unusable body reference;
# - linking products to organization nodes writes to organization data (§6) → 403;
# - a v2 link whose parent is an organization product changes that product's relationships (§6) → 403.
STORE_ON_ORG_BODIES: dict[str, BodyCase] = {
    "POST /pcm/catalogs/rules": BodyCase(_rule_for, 422),
    "POST /pcm/catalogs/rules/validate": BodyCase(_rule_for, 422),
    "POST /pcm/products/attach_nodes": BodyCase(_node_selection, 403),
    "POST /pcm/products/detach_nodes": BodyCase(_node_selection, 403),
    "POST /api/v2/product_relationships": BodyCase(_v2_link, 403),
}
# Not applicable for store_on_org: creations that only read the organization's data (a store catalog may
# show organization hierarchies: §4.1 checks ids among the visible ones) or name nothing of it.
STORE_ON_ORG_NOT_APPLICABLE = CREATES_NAMING_NOTHING | {"POST /pcm/catalogs"}

# store_on_org answers that differ from "reads 200, writes 403 entity owned by organization":
# - currencies belong to one scope only (§9.1 "unique per store", "currencies per store", P-9: each store
#   starts with its own USD); a store does not see the organization's → 404, like any invisible id;
# - duplicating an organization hierarchy reads it and writes a copy owned by the store (the job and the
#   copy are the store's, §0.1 "resources created with a store-scoped token are store"): allowed, 201.
STORE_ON_ORG_SPECIAL: dict[str, int] = {
    "GET /v2/currencies/{currency_id}": 404,
    "PUT /v2/currencies/{currency_id}": 404,
    "DELETE /v2/currencies/{currency_id}": 404,
    "POST /pcm/hierarchies/{hierarchy_id}/duplicate_job": 201,
    # A store's event feed holds its own events only (§11.4 "the caller's own events as in §11.1").
    "GET /v2/events/{event_id}": 404,
}
# Lists a store reads that do not include organization entities (per-scope currencies, see above; the
# event feed), with the organization id each must not show.
STORE_LISTS_WITHOUT_ORG = {"GET /v2/currencies": "currency_id", "GET /v2/events": "event_id"}

# A body that is valid JSON but fails every route's validation, and one that is not JSON at all.
INVALID_BODY = b'{"data": "not an object"}'
NOT_JSON = b'{"data": '

TOKEN_CASES = ("no_token", "garbage", "wrong_secret", "alg_none", "expired")
CASES = (
    "owner",
    *TOKEN_CASES[:1],
    "no_token_bad_json",
    *TOKEN_CASES[1:],
    "implicit",
    "implicit_bad_json",
    "other_store",
    "store_on_org",
)

TITLES = {200: None, 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 422: "Failed Validation"}
INVALID_TOKEN = "Unable to validate access token"  # §6, §0.4
ORGANIZATION_OWNED = "entity owned by organization"  # §6


def _applies(endpoint: Endpoint, case: str) -> bool:
    if case == "owner":
        return endpoint.is_read
    if case.endswith("_bad_json"):
        return not endpoint.is_read
    if case == "store_on_org":
        # The shopper view shows the release the caller's catalog rules pick (§5); organization ids in its
        # paths are not "organization data a store acts on" but entries of that release or nothing.
        return not endpoint.is_shopper_view and endpoint.key not in STORE_ON_ORG_NOT_APPLICABLE
    if case == "other_store":
        return endpoint.key not in CREATES_NAMING_NOTHING
    return True


PAIRS = [(endpoint, case) for endpoint in ENDPOINTS for case in CASES if _applies(endpoint, case)]
MATRIX = [pytest.param(endpoint, case, id=f"{endpoint.key} [{case}]") for endpoint, case in PAIRS]

# --- the world the matrix runs in -------------------------------------------------------------------------


@dataclass
class World:
    client: TestClient
    owner: Ids  # the default store's resources (path parameter names, plus a few body-only ids)
    org: Ids  # the same set, owned by the organization
    owner_marker: str
    org_marker: str
    tokens: dict[str, str]

    def leaks(self, response: Any, sent: str) -> list[str]:
        """The owner's ids and names found in an answer to someone else. What the caller sent itself (the
        ids in its URL and body) is taken out first: echoing them in a 404 detail reveals nothing."""
        text = response.text
        for value in sorted(self.owner.values(), key=len, reverse=True):
            if value in sent:
                text = text.replace(value, "")
        uuids = [v for k, v in self.owner.items() if "-" in v and not k.endswith("_pk")]
        return [s for s in (self.owner_marker, *uuids) if s in text]


def _ok(response: Any, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _created(response: Any) -> str:
    created: str = _ok(response)["data"]["id"]
    return created


def _build(caller: Caller, marker: str, *, full: bool = True) -> Ids:
    """Real resources of every kind the routes name, owned by the caller's scope; names carry `marker`.
    `full=False`: only what a published catalog needs (the other store's own shopper view)."""
    post = caller.post
    ids: Ids = {}
    if full:  # first, so that the products created next give it a job (delivered once, below: a log)
        hook = {
            "type": "integration",
            "name": f"{marker} hook",
            "integration_type": "webhook",
            "enabled": True,
            "observes": ["product.created"],
            "configuration": {"url": "https://93.184.215.14/hook", "secret_key": f"{marker}-secret"},
        }
        ids["integration_id"] = _created(post("/v2/integrations", json={"data": hook}))
    for key, sku in (("product_id", f"{marker}-1"), ("product2_id", f"{marker}-2")):
        ids[key] = _created(post("/pcm/products", json=product_body(name=f"{marker} {sku}", sku=sku, status="live")))
    tree = {"data": {"type": "hierarchy", "attributes": {"name": f"{marker} tree"}}}
    hid = ids["hierarchy_id"] = _created(post("/pcm/hierarchies", json=tree))

    def node(name: str, parent: str | None = None) -> str:
        data: dict[str, Any] = {"type": "node", "attributes": {"name": f"{marker} {name}"}}
        if parent is not None:
            data["relationships"] = {"parent": {"data": {"type": "node", "id": parent}}}
        return _created(post(f"/pcm/hierarchies/{hid}/nodes", json={"data": data}))

    nid = ids["node_id"] = node("node")
    ids["child_node_id"] = node("child", nid)
    ids["sibling_node_id"] = node("sibling")
    products = {"data": [{"type": "product", "id": ids["product_id"]}, {"type": "product", "id": ids["product2_id"]}]}
    _ok(post(f"/pcm/hierarchies/{hid}/nodes/{nid}/relationships/products", json=products))
    if full:
        _build_the_rest(caller, marker, ids)
    attributes: dict[str, Any] = {"name": f"{marker} catalog", "hierarchy_ids": [hid]}
    if "pricebook_id" in ids:
        attributes["pricebook_id"] = ids["pricebook_id"]
    cid = ids["catalog_id"] = _created(
        post("/pcm/catalogs", json={"data": {"type": "catalog", "attributes": attributes}})
    )
    ids["release_id"] = _created(post(f"/pcm/catalogs/{cid}/releases", content=b""))
    if full:
        # A criterion no request of the matrix meets: the rule exists but never picks the shopper catalog.
        rule = {"name": f"{marker}-rule", "catalog_id": cid, "channels": [f"{marker}-channel"]}
        ids["rule_id"] = _created(
            post("/pcm/catalogs/rules", json={"data": {"type": "catalog_rule", "attributes": rule}})
        )
    ids["event_id"] = _ok(caller.get("/v2/events?page[limit]=1"), 200)["data"][0]["id"]
    if full:
        jobs = _ok(caller.get(f"/v2/integrations/{ids['integration_id']}/jobs"), 200)["data"]
        ids["integration_job_id"] = jobs[0]["id"]
    return ids


def _attempt_every_job(database: Database) -> None:
    """One (failed, never sent) attempt per job through the delivery code's own claim and finish, so that
    the integration logs hold rows of each owner."""
    claimed = webhooks.claim_due(database.sessions, limit=1000)
    outcomes = [webhooks.Outcome(False, error_detail="not sent by the token matrix") for _ in claimed]
    webhooks.finish(database.sessions, database.settings, list(zip(claimed, outcomes, strict=True)))


def _build_the_rest(caller: Caller, marker: str, ids: Ids) -> None:
    post = caller.post
    slug = ids["slug"] = f"CRP_{marker}_related"
    definition = {"type": "custom-relationship", "attributes": {"name": f"{marker} related", "slug": slug}}
    ids["definition_id"] = _created(post("/pcm/custom-relationships", json={"data": definition}))
    attach = {"data": [{"type": "custom-relationship", "slug": slug}]}
    _ok(post(f"/pcm/products/{ids['product_id']}/custom-relationships", json=attach))
    associated = _ok(post(f"/pcm/products/{ids['product_id']}/custom-relationships/{slug}", json=_product_refs(ids)))
    assert associated["meta"]["associated_products"] == [ids["product2_id"]], associated
    # The v2 dialect names the same association and definition by their integer ids (§7.2).
    entries = _ok(caller.get("/api/v2/product_relationships"), 200)["entries"]
    [link] = [e for e in entries if e["parent_product"]["code"] == f"{marker}-1"]
    ids["link_id"] = str(link["id"])
    ids["type_id"] = str(link["relationship"]["id"])
    ids["product_pk"] = str(link["parent_product"]["id"])
    ids["product2_pk"] = str(link["child_product"]["id"])
    job = {"type": "hierarchy", "attributes": {"name": f"{marker} copy"}}
    ids["job_id"] = _created(post(f"/pcm/hierarchies/{ids['hierarchy_id']}/duplicate_job", json={"data": job}))
    currency = {
        "type": "currency",
        "code": "EUR",
        "format": "€{price}",
        "decimal_point": ",",
        "thousand_separator": ".",
        "decimal_places": 2,
        "exchange_rate": 1,
        "default": False,
        "enabled": True,
    }
    ids["currency_id"] = _created(post("/v2/currencies", json={"data": currency}))
    book = {"type": "pricebook", "attributes": {"name": f"{marker} book"}}
    bid = ids["pricebook_id"] = _created(post("/pcm/pricebooks", json={"data": book}))
    price = {"type": "product-price", "attributes": {"sku": f"{marker}-1", "currencies": {"USD": {"amount": 100}}}}
    ids["price_id"] = _created(post(f"/pcm/pricebooks/{bid}/prices", json={"data": price}))


def _b64(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def world(database: Database, client: TestClient, app: FastAPI) -> Iterator[World]:
    """Built once per engine: the owner (the default store), another store and the organization. The
    shopper view of a store is its oldest published catalog (§5): the stores publish before the
    organization, so each store's `/catalog` is its own."""
    empty_tables(database)
    keys = Keys(database, client)
    try:
        owner_key = keys.key()
        owner = Caller(client, keys.token(owner_key), owner_key)
        other = keys.caller(store_id=keys.store("Other store"))
        org = keys.caller(organization=True)
        owner_ids = _build(owner, "ownerzz")
        _build(other, "otherzz", full=False)
        org_ids = _build(org, "orgzz")
        _attempt_every_job(database)

        claims = jwt.decode(owner.token, options={"verify_signature": False})
        with database.sessions() as session:
            row = session.query(ApiKey).filter_by(client_id=owner_key.client_id).one()
            signing_key: str = app.state.context.signing_key()
            expired = auth.issue_token(row, "client_credentials", signing_key, ttl_seconds=-60).access_token
        assert (
            jwt.decode(expired, signing_key, algorithms=["HS256"], options={"verify_exp": False})["exp"] < time.time()
        )
        unsigned = (
            _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode()) + "." + _b64(json.dumps(claims).encode()) + "."
        )
        tokens = {
            "owner": owner.token,
            "implicit": keys.token(owner_key, grant="implicit"),
            "other_store": other.token,
            "garbage": "not-a-jwt",
            "wrong_secret": jwt.encode(claims, "another-signing-key-" + "x" * 40, algorithm="HS256"),
            "alg_none": unsigned,
            "expired": expired,
        }
        yield World(client, owner_ids, org_ids, "ownerzz", "orgzz", tokens)
    finally:
        empty_tables(database)


# --- assertions -------------------------------------------------------------------------------------------


def _send(
    world: World, endpoint: Endpoint, url: str, token: str | None, body: Any = None, raw: bytes | None = None
) -> Any:
    # Every SDK call carries Content-Type: application/json, bodiless GET/DELETE included (§0.1a).
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    content = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    return world.client.request(endpoint.method, url, headers=headers, content=content)


def _assert_error(response: Any, status: int, detail: str | None = None) -> dict[str, Any]:
    """The §0.4 error document: exactly one error object with the status as a string and its title."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text[:400]}"
    body = response.json()
    assert set(body) == {"errors"}, body
    [error] = body["errors"]
    assert set(error) <= {"status", "title", "detail", "request_id", "meta"}, error
    assert error["status"] == str(status), error
    assert error["title"] == TITLES[status], error
    if detail is not None:
        assert error.get("detail") == detail, error
    if "request_id" in error:
        assert response.headers.get("x-request-id") == error["request_id"]
    if status == 401:
        assert response.headers.get("www-authenticate") == "Bearer"
    result: dict[str, Any] = error
    return result


def _warm(world: World, endpoint: Endpoint, url: str, token: str) -> None:
    """Read the page once as its owner first: the release view keeps rendered pages in memory, and the
    answers below must not come from that copy."""
    response = _send(world, endpoint, url, token)
    assert response.status_code == 200, f"the owner cannot read {url}: {response.text[:400]}"


@pytest.mark.parametrize(("endpoint", "case"), MATRIX)
def test_token_matrix(world: World, endpoint: Endpoint, case: str) -> None:
    owner_url = endpoint.url(world.owner)
    if endpoint.is_read and case not in ("owner", "store_on_org"):
        _warm(world, endpoint, owner_url, world.tokens["owner"])

    if case == "owner":
        response = _send(world, endpoint, owner_url, world.tokens["owner"])
        assert response.status_code == 200, response.text[:400]
    elif case in ("no_token", "no_token_bad_json", *TOKEN_CASES):
        token = None if case.startswith("no_token") else world.tokens[case]
        raw = None if endpoint.is_read else (NOT_JSON if case == "no_token_bad_json" else INVALID_BODY)
        _assert_error(_send(world, endpoint, owner_url, token, raw=raw), 401, INVALID_TOKEN)
    elif case in ("implicit", "implicit_bad_json"):
        raw = None if endpoint.is_read else (NOT_JSON if case == "implicit_bad_json" else INVALID_BODY)
        response = _send(world, endpoint, owner_url, world.tokens["implicit"], raw=raw)
        if endpoint.implicit_may_call:
            assert response.status_code == 200, response.text[:400]
        else:
            _assert_error(response, 403)
    elif case == "other_store":
        _other_store(world, endpoint, owner_url)
    else:
        _store_on_org(world, endpoint)


def _other_store(world: World, endpoint: Endpoint, owner_url: str) -> None:
    token = world.tokens["other_store"]
    sent: Any = None
    if endpoint.params:
        body_of = None if endpoint.is_read else _body_for(endpoint)
        sent = None if body_of is None else body_of(world.owner)
        response = _send(world, endpoint, owner_url, token, sent)
        _assert_error(response, 404)  # §0.4 "404: … does not exist (or is not visible to the caller)"
    elif endpoint.is_read:
        # A list (or the other store's own shopper catalog): its own entries, none of the owner's.
        response = _send(world, endpoint, owner_url, token)
        assert response.status_code == 200, response.text[:400]
    else:
        case = OTHER_STORE_BODIES.get(endpoint.key)
        assert case is not None, f"{endpoint.key}: say how another store's ids in the body are answered"
        sent = case.body(world.owner)
        response = _send(world, endpoint, owner_url, token, sent)
        if case.status >= 400:
            _assert_error(response, case.status)
        else:
            assert response.status_code == case.status, response.text[:400]
        if case.check is not None:
            case.check(response, world.owner)
    leaked = world.leaks(response, owner_url + json.dumps(sent))
    assert not leaked, f"another store was shown the owner's data {leaked}: {response.text[:400]}"


def _store_on_org(world: World, endpoint: Endpoint) -> None:
    """The owner store's own client-credentials token on the organization's resources."""
    token = world.tokens["owner"]
    url = endpoint.url(world.org)
    special = STORE_ON_ORG_SPECIAL.get(endpoint.key)
    if endpoint.is_read:
        response = _send(world, endpoint, url, token)
        if special is not None:
            _assert_error(response, special)
            return
        assert response.status_code == 200, response.text[:400]  # §6 "Store tokens may read org-owned entities"
        shows_org = world.org_marker in response.text or any(v in response.text for v in world.org.values() if "-" in v)
        if endpoint.key in STORE_LISTS_WITHOUT_ORG:
            assert world.org[STORE_LISTS_WITHOUT_ORG[endpoint.key]] not in response.text, response.text[:400]
        else:
            assert shows_org, f"the organization's data is missing: {response.text[:400]}"
        return
    if not endpoint.params:
        case = STORE_ON_ORG_BODIES.get(endpoint.key)
        assert case is not None, f"{endpoint.key}: say how organization ids in the body are answered"
        response = _send(world, endpoint, url, token, case.body(world.org))
        detail = ORGANIZATION_OWNED if case.status == 403 else None
        _assert_error(response, case.status, detail)
        return
    body_of = _body_for(endpoint)
    response = _send(world, endpoint, url, token, None if body_of is None else body_of(world.org))
    if special is None:
        _assert_error(response, 403, ORGANIZATION_OWNED)  # §6, §0.4
    elif special >= 400:
        _assert_error(response, special)
    else:
        assert response.status_code == special, response.text[:400]


def _body_for(endpoint: Endpoint) -> BodyOf | None:
    assert endpoint.key in WRITE_BODIES, f"{endpoint.key}: add a minimal valid body to WRITE_BODIES"
    return WRITE_BODIES[endpoint.key]


# --- the matrix is complete -------------------------------------------------------------------------------


def test_the_public_routes_are_exactly_the_documented_ones() -> None:
    assert not UNKNOWN_ROUTES, "routes the matrix cannot call"
    assert PUBLIC <= ALL_ROUTES, sorted(PUBLIC - ALL_ROUTES)
    # Every route outside PUBLIC is in the matrix, and every documented operation is a route of the walk
    # (so the walk over the router tree cannot silently miss a router).
    assert DOCUMENTED_ROUTES <= ALL_ROUTES, sorted(DOCUMENTED_ROUTES - ALL_ROUTES)
    assert {(e.method, e.path) for e in ENDPOINTS} == ALL_ROUTES - PUBLIC
    assert {(endpoint.method, endpoint.path) for endpoint, _ in PAIRS} == ALL_ROUTES - PUBLIC


@pytest.mark.parametrize(("method", "path"), sorted(PUBLIC), ids=[f"{m} {p}" for m, p in sorted(PUBLIC)])
def test_the_public_routes_answer_without_a_token(
    database: Database, client: TestClient, method: str, path: str
) -> None:
    """The other side of PUBLIC: these really need no token (the token endpoint judges its form instead)."""
    response = client.request(method, path)
    if path == "/oauth/access_token":
        _assert_error(response, 422)  # §6: missing grant_type → 422
    else:
        assert response.status_code == 200, response.text[:400]


def test_every_write_is_classified() -> None:
    """A new write route must say which body proves its tenancy answer (the token cases need none)."""
    writes = {e.key for e in ENDPOINTS if not e.is_read}
    with_ids = {e.key for e in ENDPOINTS if not e.is_read and e.params}
    assert set(WRITE_BODIES) == with_ids
    assert set(OTHER_STORE_BODIES) | CREATES_NAMING_NOTHING == writes - with_ids
    assert set(STORE_ON_ORG_BODIES) | STORE_ON_ORG_NOT_APPLICABLE == writes - with_ids
    assert set(STORE_ON_ORG_SPECIAL) <= {e.key for e in ENDPOINTS}


def test_a_fresh_database_answers_bad_tokens_on_writes_with_401(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Before any token was ever issued there is no signing key yet; a write with a bearer token must still
    get 401, not wait on the write lock its own request took before looking at the token (SQLite)."""
    if "sqlite" not in str(request.config.getoption("--databases")):
        pytest.skip("sqlite not selected with --databases")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'fresh.db'}", secret_key=None)
    upgrade(settings)
    app = create_app(settings)
    try:
        with TestClient(app) as client:
            for method, path in (("POST", "/pcm/products"), ("DELETE", "/pcm/products/x"), ("GET", "/pcm/products")):
                headers = {"Authorization": "Bearer not-a-jwt", "Content-Type": "application/json"}
                response = client.request(method, path, headers=headers, content=json.dumps(product_body()))
                _assert_error(response, 401, INVALID_TOKEN)
    finally:
        app.state.engine.dispose()
