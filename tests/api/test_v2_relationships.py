"""v2 relationship types (`/api/v2/relationships`): the PXM custom relationship definitions seen as
`{id, name, code}` (SPEC §7.2: code = slug without `CRP_`, id = the definition's integer id)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Caller, Database, Keys
from tests.helpers import errors_of, product_body

TYPES = "/api/v2/relationships"
PXM = "/pcm/custom-relationships"


def wrap(**fields: Any) -> dict[str, Any]:
    return {"relationship": fields}


def create(api: Caller, name: str, code: str) -> dict[str, Any]:
    response = api.post(TYPES, json=wrap(name=name, code=code))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def pxm_create(api: Caller, slug: str, name: str, **attributes: Any) -> dict[str, Any]:
    body = {"data": {"type": "custom-relationship", "attributes": {"name": name, "slug": slug, **attributes}}}
    response = api.post(PXM, json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def listed(api: Caller, **params: Any) -> list[dict[str, Any]]:
    response = api.get(TYPES, params={"per_page": 100, **params})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["entries"]
    return found


def pxm_slugs(api: Caller) -> list[str]:
    response = api.get(PXM)
    assert response.status_code == 200, response.text
    return [d["attributes"]["slug"] for d in response.json()["data"]]


def test_create_answers_201_with_id_name_code(api: Caller) -> None:
    response = api.post(TYPES, json=wrap(name="My Relationship 1", code="my_relationship_1"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "name", "code"}
    assert isinstance(body["id"], int) and not isinstance(body["id"], bool)
    assert (body["name"], body["code"]) == ("My Relationship 1", "my_relationship_1")


def test_a_v2_type_is_a_pxm_definition(api: Caller) -> None:
    made = create(api, "Cross sell", "cross_sell")
    response = api.get(f"{PXM}/CRP_cross_sell")
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["attributes"]["slug"] == "CRP_cross_sell"
    assert data["attributes"]["name"] == "Cross sell"
    assert data["attributes"]["bi_directional"] is False
    assert data["meta"]["owner"] == "store"
    assert api.get(f"{TYPES}/{made['id']}").json() == made


def test_a_pxm_definition_is_a_v2_type(api: Caller) -> None:
    data = pxm_create(api, "up_sell", "Up sell")
    assert data["attributes"]["slug"] == "CRP_up_sell"
    [entry] = listed(api)
    assert (entry["name"], entry["code"]) == ("Up sell", "up_sell")
    assert api.get(f"{TYPES}/{entry['id']}").json() == entry


def test_a_prefixed_code_is_not_prefixed_twice(api: Caller) -> None:
    made = create(api, "Pre", "CRP_pre")
    assert made["code"] == "pre"
    assert pxm_slugs(api) == ["CRP_pre"]
    assert api.post(TYPES, json=wrap(name="Again", code="pre")).status_code == 422


def test_list_pages(api: Caller) -> None:
    made = [create(api, f"Type {i}", f"type_{i}") for i in range(7)]
    body = api.get(TYPES).json()
    assert set(body) == {"page", "per_page", "total_pages", "total_entries", "entries"}
    assert (body["page"], body["per_page"], body["total_pages"], body["total_entries"]) == (1, 50, 1, 7)
    assert sorted(e["id"] for e in body["entries"]) == sorted(m["id"] for m in made)
    seen = []
    for page in (1, 2, 3):
        body = api.get(TYPES, params={"page": page, "per_page": 3}).json()
        assert (body["page"], body["per_page"], body["total_pages"], body["total_entries"]) == (page, 3, 3, 7)
        seen += body["entries"]
    assert sorted(seen, key=lambda e: e["id"]) == sorted(made, key=lambda e: e["id"])
    assert api.get(TYPES, params={"page": "0"}).status_code == 422
    assert api.get(TYPES, params={"per_page": "x"}).status_code == 422


def test_empty_list(api: Caller) -> None:
    assert api.get(TYPES).json() == {"page": 1, "per_page": 50, "total_pages": 0, "total_entries": 0, "entries": []}


def test_put_renames_in_both_dialects(api: Caller) -> None:
    made = create(api, "Old", "renamed")
    response = api.put(f"{TYPES}/{made['id']}", json=wrap(name="New"))
    assert response.status_code == 200, response.text
    assert response.json() == {"id": made["id"], "name": "New", "code": "renamed"}
    assert api.get(f"{PXM}/CRP_renamed").json()["data"]["attributes"]["name"] == "New"
    # the same code (with or without prefix) is accepted; nil and omitted fields are kept
    for body in (wrap(code="renamed"), wrap(code="CRP_renamed"), wrap(code=None), wrap()):
        response = api.put(f"{TYPES}/{made['id']}", json=body)
        assert response.status_code == 200, response.text
        assert response.json() == {"id": made["id"], "name": "New", "code": "renamed"}
    # a PXM rename shows in v2
    response = api.put(
        f"{PXM}/CRP_renamed",
        json={"data": {"type": "custom-relationship", "id": "CRP_renamed", "attributes": {"name": "PXM name"}}},
    )
    assert response.status_code == 200, response.text
    assert api.get(f"{TYPES}/{made['id']}").json()["name"] == "PXM name"


def test_the_code_cannot_change(api: Caller) -> None:
    made = create(api, "Fixed", "fixed")
    response = api.put(f"{TYPES}/{made['id']}", json=wrap(name="Other", code="moved"))
    assert response.status_code == 422
    assert "code" in errors_of(response)[0]["detail"]
    assert api.get(f"{TYPES}/{made['id']}").json() == made
    assert pxm_slugs(api) == ["CRP_fixed"]


def test_delete_removes_the_definition_everywhere(api: Caller) -> None:
    made = create(api, "Gone", "gone")
    response = api.delete(f"{TYPES}/{made['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert api.get(f"{TYPES}/{made['id']}").status_code == 404
    assert api.get(f"{PXM}/CRP_gone").status_code == 404
    assert api.delete(f"{TYPES}/{made['id']}").status_code == 404


def test_a_pxm_delete_removes_the_v2_type(api: Caller) -> None:
    pxm_create(api, "pxm_gone", "Gone")
    [entry] = listed(api)
    assert api.delete(f"{PXM}/CRP_pxm_gone").status_code == 204
    assert api.get(f"{TYPES}/{entry['id']}").status_code == 404
    assert listed(api) == []


def test_a_type_in_use_cannot_be_deleted(api: Caller) -> None:
    made = create(api, "Used", "used")
    ids = []
    for name in ("A", "B"):
        response = api.post("/pcm/products", json=product_body(name=name))
        ids.append(response.json()["data"]["id"])
    response = api.post(
        f"/pcm/products/{ids[0]}/custom-relationships/CRP_used", json={"data": [{"type": "product", "id": ids[1]}]}
    )
    assert response.status_code == 201, response.text
    response = api.delete(f"{TYPES}/{made['id']}")
    assert response.status_code == 400  # SPEC §B-15, as in the PXM dialect
    assert errors_of(response)[0]["detail"] == "custom relationship is in use"
    assert api.get(f"{TYPES}/{made['id']}").json() == made


def test_unknown_ids_in_the_path_are_404(api: Caller) -> None:
    create(api, "Kept", "kept")
    for type_id in ("999999", "0", "-1", "abc", "1.0", "99999999999999999999"):
        for response in (
            api.get(f"{TYPES}/{type_id}"),
            api.put(f"{TYPES}/{type_id}", json=wrap(name="x")),
            api.delete(f"{TYPES}/{type_id}"),
        ):
            assert response.status_code == 404, (type_id, response.text)
            assert errors_of(response)[0]["title"] == "Not Found"
    assert [e["name"] for e in listed(api)] == ["Kept"]


BAD_CREATES: list[Any] = [
    None,  # no body
    {},
    [],
    {"relationship": None},
    {"relationship": "x"},
    {"relationship": []},
    wrap(name="No code"),
    wrap(name="Nil code", code=None),
    wrap(name="Empty code", code=""),
    wrap(code="no_name"),
    wrap(name=None, code="nil_name"),
    wrap(name="", code="empty_name"),
    wrap(name=5, code="int_name"),
    wrap(name="Int code", code=5),
    wrap(name="Bool code", code=True),
    wrap(name="Spaces", code="has spaces"),
    wrap(name="Unicode", code="ünï"),
    wrap(name="Long", code="x" * 300),
    wrap(name="x" * 1001, code="long_name"),
    wrap(name="Nul\x00", code="nul"),
    wrap(name="Nul", code="n\x00l"),
]


def test_invalid_types_are_422_and_nothing_is_written(api: Caller) -> None:
    for body in BAD_CREATES:
        response = api.post(TYPES, json=body) if body is not None else api.post(TYPES)
        assert response.status_code == 422, (body, response.text)
        [error] = errors_of(response)
        assert error["detail"].startswith("relationship"), (body, error)
    assert listed(api) == []


def test_invalid_updates_are_422(api: Caller) -> None:
    made = create(api, "Kept", "kept")
    for body in (
        {},
        {"relationship": "x"},
        wrap(name=None),
        wrap(name=""),
        wrap(name=7),
        wrap(code=7),
        wrap(name="x" * 1001),
        wrap(name="Nul\x00"),
        wrap(code="kept\x00"),
    ):
        response = api.put(f"{TYPES}/{made['id']}", json=body)
        assert response.status_code == 422, (body, response.text)
        assert errors_of(response)[0]["detail"].startswith("relationship"), body
    assert api.get(f"{TYPES}/{made['id']}").json() == made


def test_duplicate_codes_are_422(api: Caller) -> None:
    create(api, "First", "dup")
    for code in ("dup", "CRP_dup"):
        response = api.post(TYPES, json=wrap(name="Second", code=code))
        assert response.status_code == 422
        assert "code" in errors_of(response)[0]["detail"]
    pxm = api.post(PXM, json={"data": {"type": "custom-relationship", "attributes": {"name": "x", "slug": "dup"}}})
    assert pxm.status_code == 422
    assert [e["name"] for e in listed(api)] == ["First"]


# --- tokens ---------------------------------------------------------------------------------------------

ENDPOINTS = [("GET", TYPES), ("POST", TYPES), ("GET", f"{TYPES}/1"), ("PUT", f"{TYPES}/1"), ("DELETE", f"{TYPES}/1")]


def test_without_a_valid_token_401_with_a_challenge(db: Database, client: TestClient) -> None:
    for method, path in ENDPOINTS:
        for header in (None, "Bearer nonsense"):
            headers = {} if header is None else {"Authorization": header}
            response = client.request(method, path, headers=headers, json=wrap(name="x", code="x"))
            assert response.status_code == 401, (method, path, header)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            errors_of(response)


def test_implicit_tokens_are_403(keys: Keys) -> None:
    shopper = keys.caller(grant="implicit")
    for method, path in ENDPOINTS:
        response = shopper.request(method, path, json=wrap(name="x", code="x"))
        assert response.status_code == 403, (method, path)
        errors_of(response)


# --- tenancy --------------------------------------------------------------------------------------------


def test_another_stores_types_are_not_found(api: Caller, keys: Keys) -> None:
    other = keys.caller(store_id=keys.store("Other"))
    theirs = create(other, "Theirs", "theirs")
    path = f"{TYPES}/{theirs['id']}"
    for response in (api.get(path), api.put(path, json=wrap(name="Mine now")), api.delete(path)):
        assert response.status_code == 404
    assert listed(api) == []
    assert other.get(path).json() == theirs
    # each store has its own namespace of codes
    mine = create(api, "Mine", "theirs")
    assert mine["id"] != theirs["id"]


def test_store_reads_organization_types_but_cannot_change_them(api: Caller, keys: Keys) -> None:
    org = keys.caller(organization=True)
    org_type = create(org, "Org type", "org_type")
    assert api.get(f"{PXM}/CRP_org_type").json()["data"]["meta"]["owner"] == "organization"
    assert listed(api) == [org_type]
    assert api.get(f"{TYPES}/{org_type['id']}").json() == org_type
    for response in (
        api.put(f"{TYPES}/{org_type['id']}", json=wrap(name="Stolen")),
        api.put(f"{TYPES}/{org_type['id']}", json=wrap(name="Stolen", code="other")),
        api.delete(f"{TYPES}/{org_type['id']}"),
    ):
        assert response.status_code == 403, response.text
        assert errors_of(response)[0]["detail"] == "entity owned by organization"
    assert org.get(f"{TYPES}/{org_type['id']}").json() == org_type
    mine = create(api, "Mine", "mine")
    assert org.get(f"{TYPES}/{mine['id']}").status_code == 404
    assert listed(org) == [org_type]


def test_an_organization_type_shadowed_by_a_store_type_keeps_its_identity(api: Caller, keys: Keys) -> None:
    """The store's own `shared` and the organization's `shared` are two types; the integer id names one."""
    org = keys.caller(organization=True)
    org_type = create(org, "Org shared", "shared")
    own = create(api, "Own shared", "shared")
    assert sorted(e["id"] for e in listed(api)) == sorted([org_type["id"], own["id"]])
    response = api.put(f"{TYPES}/{org_type['id']}", json=wrap(name="Renamed"))
    assert response.status_code == 403
    assert api.delete(f"{TYPES}/{org_type['id']}").status_code == 403
    assert api.get(f"{TYPES}/{own['id']}").json() == own  # the namesake was not touched either
    assert api.get(f"{TYPES}/{org_type['id']}").json() == org_type
    renamed = api.put(f"{TYPES}/{own['id']}", json=wrap(name="Own renamed"))
    assert renamed.json() == {"id": own["id"], "name": "Own renamed", "code": "shared"}
    assert api.delete(f"{TYPES}/{own['id']}").status_code == 204
    assert listed(api) == [org_type]
