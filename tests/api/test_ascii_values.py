"""Numbers and ids in paths and query strings are read in ASCII only (SPEC §12.5).

`"²".isdigit()` holds and `int("²")` raises, so these answered 500; `int("١٠")` is 10 and `uuid.UUID()`
reads Arabic-Indic digits, so those were silently taken as other values. Each is now a 4xx in the error
format, and never names an existing resource.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_v2_product_relationships import LINKS, by_ids, create, make_kind
from tests.api.test_v2_product_relationships import make_product as make_v2_product
from tests.catalogs import make_catalog, publish, view_url
from tests.conftest import Caller, Database
from tests.helpers import errors_of
from tests.trees import make_hierarchy, make_node, make_product

# ASCII digit → the same digit in Arabic-Indic script (int() and uuid.UUID() read these).
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
NON_ASCII_NUMBERS = ["²", "³", "٣", "١٠", "1²", "¹⁰", "５", "10\u00a0"]

PIM_LISTS = [
    "/pcm/products",
    "/pcm/hierarchies",
    "/pcm/hierarchies/nodes",
    "/pcm/custom-relationships",
    "/pcm/jobs",
    "/pcm/catalogs",
    "/pcm/catalogs/rules",
    "/pcm/pricebooks",
    "/v2/currencies",
]


def arabic(text: str) -> str:
    return text.translate(ARABIC_INDIC)


def bad_request(response: Any, status: int = 400) -> list[dict[str, Any]]:
    assert response.status_code == status, response.text
    return errors_of(response)


@pytest.mark.parametrize("url", PIM_LISTS)
@pytest.mark.parametrize("name", ["page[limit]", "page[offset]"])
@pytest.mark.parametrize("value", NON_ASCII_NUMBERS)
def test_paging_values_are_ascii(api: Caller, url: str, name: str, value: str) -> None:
    errors = bad_request(api.get(url, params={name: value}))
    assert errors[0]["detail"] == f"{name} must be an integer"


@pytest.mark.parametrize("name", ["page[limit]", "page[offset]"])
def test_ascii_paging_still_works(api: Caller, name: str) -> None:
    for _ in range(3):
        make_product(api)
    response = api.get("/pcm/products", params={name: "1"})
    assert response.status_code == 200, response.text
    assert len(response.json()["data"]) == (1 if name == "page[limit]" else 2)


def test_release_view_paging_is_ascii(api: Caller) -> None:
    hierarchy = make_hierarchy(api, name="H")
    node = make_node(api, hierarchy["id"], "N")
    catalog = make_catalog(api, [hierarchy["id"]])
    publish(api, catalog["id"])
    base = view_url(catalog["id"])
    for path in ("/products", "/hierarchies", f"/nodes/{node['id']}/relationships/children", "/nodes"):
        for value in ("²", "٣", "١٠"):
            bad_request(api.get(base + path, params={"page[limit]": value}))
            bad_request(api.get(base + path, params={"page[offset]": value}))
        assert api.get(base + path, params={"page[limit]": "10"}).status_code == 200


def test_ids_with_non_ascii_digits_name_nothing(api: Caller) -> None:
    """An id spelled with Arabic-Indic digits is not the id it would read as."""
    product = make_product(api, name="Spelled")
    spelled = arabic(product["id"])
    assert spelled != product["id"]
    bad_request(api.get(f"/pcm/products/{spelled}"), 404)
    hierarchy = make_hierarchy(api, name="H")
    bad_request(api.get(f"/pcm/hierarchies/{arabic(hierarchy['id'])}"), 404)
    # In a filter an id that is not an id is a bad filter.
    errors = bad_request(api.get("/pcm/products", params={"filter": f"eq(id,{spelled})"}))
    assert errors[0]["detail"] == "Could not parse the supplied filter"
    assert (
        api.get("/pcm/products", params={"filter": f"eq(id,{product['id']})"}).json()["meta"]["results"]["total"] == 1
    )


@pytest.mark.parametrize("value", ["١٧٠٠٠٠٠٠٠٠٠٠٠", "²", "٢٠٢٤-01-01"])
def test_filter_instants_are_ascii(api: Caller, value: str) -> None:
    errors = bad_request(api.get("/pcm/products", params={"filter": f"gt(created_at,{value})"}))
    assert errors[0]["detail"] == "Could not parse the supplied filter"


# --- the v2 dialect -----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["²", "³", "٣", "1²"])
def test_v2_path_ids_are_ascii(api: Caller, raw: str) -> None:
    for method in ("GET", "DELETE"):
        errors = bad_request(api.request(method, f"{LINKS}/{raw}"), 404)
        assert errors[0]["detail"] == f"product relationship {raw} not found"
        bad_request(api.request(method, f"/api/v2/relationships/{raw}"), 404)
    body = {"product_relationship": {"sort_order": 1}}
    bad_request(api.put(f"{LINKS}/{raw}", json=body), 404)
    bad_request(api.put(f"/api/v2/relationships/{raw}", json={"relationship": {"name": "x"}}), 404)


def test_v2_ids_in_arabic_indic_digits_are_not_the_link(api: Caller, db: Database) -> None:
    kind = make_kind(api, db, "ARABIC")
    parent, child = make_v2_product(api, db, "P", "P-1"), make_v2_product(api, db, "C", "C-1")
    link = create(api, by_ids(kind, parent, child))
    assert api.get(f"{LINKS}/{link['id']}").status_code == 200
    bad_request(api.get(f"{LINKS}/{arabic(str(link['id']))}"), 404)
    bad_request(api.get(f"/api/v2/relationships/{arabic(str(kind.pk))}"), 404)
    bad_request(api.delete(f"{LINKS}/{arabic(str(link['id']))}"), 404)
    assert api.get(f"{LINKS}/{link['id']}").status_code == 200
    errors = bad_request(api.get(LINKS, params={"id": arabic(str(link["id"]))}), 422)
    assert errors[0]["detail"] == "id: must be a positive Integer"


@pytest.mark.parametrize("url", [LINKS, "/api/v2/relationships"])
@pytest.mark.parametrize("name", ["page", "per_page"])
@pytest.mark.parametrize("value", ["²", "٣", "١٠"])
def test_v2_paging_is_ascii(api: Caller, url: str, name: str, value: str) -> None:
    errors = bad_request(api.get(url, params={name: value}), 422)
    assert errors[0]["detail"] == f"{name}: must be a positive Integer"


@pytest.mark.parametrize("value", ["١٧٠٠٠٠٠٠٠٠٠٠٠", "²"])
def test_v2_time_filters_are_ascii(api: Caller, value: str) -> None:
    errors = bad_request(api.get(LINKS, params={"created_time_from": value}), 422)
    assert errors[0]["detail"] == "created_time_from: must be an ISO 8601 time"
