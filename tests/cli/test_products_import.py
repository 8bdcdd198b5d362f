"""`assortment products import FILE`: JSON lines and CSV, validated like `POST /pcm/products`."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from assortment.db.models import ORGANIZATION_SCOPE, Product
from assortment.db.repositories import products as repo
from assortment.domain import auth
from assortment.domain.product_import import ImportReport, import_products
from assortment.errors import NotFound
from tests.cli.conftest import Cli, write_jsonl
from tests.conftest import Caller, Database, Keys
from tests.helpers import product_body

FULL = {
    "name": "Blue shirt",
    "description": "Cotton, long sleeves",
    "slug": "blue-shirt",
    "sku": "BS-1",
    "status": "live",
    "commodity_type": "physical",
    "upc_ean": "0123456789012",
    "mpn": "MPN-1",
    "external_ref": "erp:1",
    "tags": ["shirts", "blue"],
    "locales": {"fr-FR": {"name": "Chemise bleue", "description": "Coton"}},
}


def good(sku: str, **attributes: Any) -> dict[str, Any]:
    return {"name": f"Product {sku}", "commodity_type": "physical", "sku": sku, **attributes}


def attributes_of(api: Caller, sku: str) -> dict[str, Any] | None:
    """The product's attributes as the API renders them, None when the caller sees no such sku."""
    response = api.get(f"/pcm/products?filter=eq(sku,{sku})")
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert len(data) <= 1
    return data[0]["attributes"] if data else None


def skus_in(db: Database, scope_id: uuid.UUID | None = None) -> set[str | None]:
    with db.sessions() as session:
        query = select(Product.sku)
        if scope_id is not None:
            query = query.where(Product.scope_id == scope_id)
        return set(session.scalars(query))


def default_store_id(db: Database) -> uuid.UUID:
    with db.sessions() as session:
        return auth.default_store(session).id


def load(db: Database, path: Path, **options: Any) -> ImportReport:
    return import_products(db.sessions, path, progress=False, **options)


def messages(report: ImportReport) -> dict[int, str]:
    lines = [line for line, _ in report.errors]
    assert len(lines) == len(set(lines)), report.errors
    return dict(report.errors)


# --- good rows ------------------------------------------------------------------------------------


def test_jsonl_rows_load_with_every_field(cli: Cli, api: Caller, tmp_path: Path) -> None:
    minimal = {"name": "Plain", "commodity_type": "digital", "sku": "PLAIN-1"}
    path = write_jsonl(tmp_path / "products.jsonl", [FULL, minimal])

    result = cli.run("products", "import", path)  # with the progress bar: it must not get in the way

    assert result.code == 0, result.stderr
    assert result.bad_rows() == {}
    assert "imported 2 products, 0 bad rows" in result.stderr
    assert attributes_of(api, "BS-1") == FULL
    assert attributes_of(api, "PLAIN-1") == {**minimal, "status": "draft"}


def test_csv_rows_load_with_every_field_and_comma_separated_tags(
    cli: Cli, api: Caller, tmp_path: Path
) -> None:
    path = tmp_path / "products.csv"
    path.write_text(
        "name,description,slug,sku,status,commodity_type,upc_ean,mpn,external_ref,tags,locales\n"
        '"Blue shirt","Cotton, long sleeves",blue-shirt,BS-1,live,physical,0123456789012,MPN-1,erp:1,'
        '"shirts, blue","{""fr-FR"": {""name"": ""Chemise bleue"", ""description"": ""Coton""}}"\n'
        "Plain,,,PLAIN-1,,digital,,,,,\n",
        encoding="utf-8",
    )

    result = cli.run("products", "import", path, "--quiet")

    assert result.code == 0, result.stderr
    assert "imported 2 products, 0 bad rows" in result.stderr
    assert attributes_of(api, "BS-1") == FULL
    # empty cells are absent attributes, exactly like a JSON row without them
    assert attributes_of(api, "PLAIN-1") == {
        "name": "Plain",
        "commodity_type": "digital",
        "sku": "PLAIN-1",
        "status": "draft",
    }


def test_whole_api_request_bodies_are_accepted_as_lines(cli: Cli, api: Caller, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "bodies.ndjson",
        [
            {"data": {"type": "product", "attributes": FULL}},
            product_body(sku="BODY-2"),
            {"data": {"type": "node", "attributes": good("WRONG-TYPE")}},
            {"data": {"attributes": good("NO-TYPE")}},
            {"data": {"type": "product"}},
            {"data": "product"},
        ],
    )

    result = cli.run("products", "import", path, "--quiet")

    assert result.code == 2
    assert result.bad_rows() == {
        3: "data.type: Input should be 'product'",
        4: "data.type: Field required",
        5: "data.attributes: Field required",
        6: "data: Input should be a valid dictionary or object",
    }
    assert attributes_of(api, "BS-1") == FULL
    assert attributes_of(api, "BODY-2") is not None
    assert skus_in(cli.db) == {"BS-1", "BODY-2"}


def test_a_clean_file_exits_0_and_products_are_drafts_by_default(cli: Cli, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [good(f"S-{i}") for i in range(5)])

    result = cli.run("products", "import", path, "--quiet")

    assert result.code == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("imported 5 products, 0 bad rows")
    with cli.db.sessions() as session:
        products = session.scalars(select(Product)).all()
    assert {p.sku for p in products} == {f"S-{i}" for i in range(5)}
    assert {p.status for p in products} == {"draft"}
    assert {p.scope_id for p in products} == {default_store_id(cli.db)}
    assert {p.version for p in products} == {1}
    assert len({p.id for p in products}) == 5


# --- bad rows -------------------------------------------------------------------------------------


def test_bad_jsonl_rows_are_reported_by_line_and_the_good_ones_load(
    cli: Cli, api: Caller, tmp_path: Path
) -> None:
    path = write_jsonl(
        tmp_path / "mixed.jsonl",
        [
            good("OK-1"),  # 1
            {"commodity_type": "physical", "sku": "NO-NAME"},  # 2
            good("BAD-TYPE", commodity_type="service"),  # 3
            good("BAD-SLUG", slug="has space"),  # 4
            good("TAG-SPACE", tags=["ok", "not ok"]),  # 5
            good("TOO-MANY-TAGS", tags=[f"t{i}" for i in range(21)]),  # 6
            '{"name": "broken", ',  # 7
            "",  # 8: blank lines are skipped, not errors
            good("OK-2", tags=[f"t{i}" for i in range(20)]),  # 9: 20 tags are fine
            "[1, 2]",  # 10
            good("EMPTY-NAME", name=""),  # 11
            good("NULL-STATUS", status=None),  # 12
            good("BAD-LOCALE", locales={"fr-FR": {"description": "no name"}}),  # 13
            good("TAG-COMMA", tags=["a,b"]),  # 14
            good("LONG-REF", external_ref="x" * 2049),  # 15
            {**good("X"), "sku": 12345},  # 16: sku must be a string, as in the API
            good("OK-3", status="live", unknown_attribute="ignored"),  # 17
        ],
    )

    result = cli.run("products", "import", path, "--quiet")

    assert result.code == 2
    bad = result.bad_rows()
    assert set(bad) == {2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 14, 15, 16}, result.stderr
    assert bad[2] == "name: Field required"
    assert bad[3] == "commodity_type: Input should be 'physical' or 'digital'"
    assert bad[4].startswith("slug: String should match pattern")
    assert bad[5].startswith("tags.1: String should match pattern")
    assert bad[6].startswith("tags: List should have at most 20 items")
    assert bad[7] == "not valid JSON"
    assert bad[10] == "each line must be a JSON object"
    assert bad[11].startswith("name: String should have at least 1 character")
    assert bad[12] == "status: can not be null"
    assert bad[13] == "locales.fr-FR.name: Field required"
    assert bad[14].startswith("tags.0: String should match pattern")
    assert bad[15].startswith("external_ref: String should have at most 2048 characters")
    assert bad[16] == "sku: Input should be a valid string"
    assert "imported 3 products, 13 bad rows" in result.stderr
    assert skus_in(cli.db) == {"OK-1", "OK-2", "OK-3"}
    assert attributes_of(api, "OK-3") == {**good("OK-3"), "status": "live"}


def test_bad_csv_rows_are_reported_by_line_and_the_good_ones_load(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text(
        "name,commodity_type,sku,slug,tags,locales\n"  # 1
        "One,physical,OK-1,,,\n"  # 2
        ",physical,NO-NAME,,,\n"  # 3
        "Two,service,BAD-TYPE,,,\n"  # 4
        "Three,physical,BAD-SLUG,bad/slug,,\n"  # 5
        'Four,physical,TAG-SPACE,,"fine, not fine",\n'  # 6
        "Five,physical,EXTRA,,,,surplus\n"  # 7
        "Six,physical,BAD-LOCALES,,,{not json}\n"  # 8
        "\n"  # 9: blank
        f'Seven,physical,TOO-MANY-TAGS,,"{",".join(f"t{i}" for i in range(21))}",\n'  # 10
        '"Eight\nsecond line",physical,OK-2,,,\n'  # 11-12: a quoted cell over two lines
        "Nine,physical,BAD-AFTER-MULTILINE,a b,,\n"  # 13
        "Ten,physical,OK-3\n",  # 14: missing trailing cells are absent attributes
        encoding="utf-8",
    )

    result = cli.run("products", "import", path, "--quiet")

    assert result.code == 2
    bad = result.bad_rows()
    assert set(bad) == {3, 4, 5, 6, 7, 8, 10, 13}, result.stderr
    assert bad[3] == "name: Field required"
    assert bad[4] == "commodity_type: Input should be 'physical' or 'digital'"
    assert bad[5].startswith("slug: String should match pattern")
    assert bad[6].startswith("tags.1: String should match pattern")
    assert bad[7] == "more cells than header columns (7 > 6)"
    assert bad[8] == "locales: not valid JSON"
    assert bad[10].startswith("tags: List should have at most 20 items")
    assert bad[13].startswith("slug: String should match pattern")
    assert skus_in(cli.db) == {"OK-1", "OK-2", "OK-3"}
    with cli.db.sessions() as session:
        assert session.scalar(select(Product.name).where(Product.sku == "OK-2")) == "Eight\nsecond line"


def test_csv_with_a_byte_order_mark_and_a_row_that_is_not_utf8(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(
        b"\xef\xbb\xbfname,commodity_type,sku\n"
        b"Caf\xc3\xa9,physical,OK-1\n"
        b"Caf\xe9,physical,LATIN-1\n"
        b"Other,digital,OK-2\n"
    )

    report = load(db, path)

    assert messages(report) == {3: "not valid UTF-8"}
    assert report.imported == 2
    with db.sessions() as session:
        assert session.scalar(select(Product.name).where(Product.sku == "OK-1")) == "Café"
    assert skus_in(db) == {"OK-1", "OK-2"}


def test_jsonl_line_that_is_not_utf8(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_bytes(
        json.dumps(good("OK-1")).encode() + b"\n" + b'{"name": "Caf\xe9", "commodity_type": "physical"}\n'
    )

    report = load(db, path)

    assert messages(report) == {2: "not valid UTF-8"}
    assert skus_in(db) == {"OK-1"}


def test_nul_characters_are_refused_like_the_api_does_without_stopping_the_others(
    db: Database, tmp_path: Path
) -> None:
    # PostgreSQL cannot store NUL, so the API refuses it on every database; the import checks rows the
    # same way, and the other rows load.
    path = write_jsonl(
        tmp_path / "p.jsonl",
        [good("OK-1"), good("NUL-NAME", name="a\x00b"), good("NUL-LOCALE", locales={"fr": {"name": "\x00"}})],
    )

    report = load(db, path)

    assert set(messages(report)) == {2, 3}
    assert all("NUL" in m for m in messages(report).values())
    assert skus_in(db) == {"OK-1"}


# --- uniqueness -----------------------------------------------------------------------------------


def test_duplicates_within_the_file_are_reported_and_only_the_first_loads(cli: Cli, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "dups.jsonl",
        [
            good("A", slug="a", external_ref="ref-a"),  # 1
            good("A", slug="other-1", external_ref="ref-1"),  # 2: sku of line 1
            good("B", slug="a", external_ref="ref-2"),  # 3: slug of line 1
            good("C", slug="c", external_ref="ref-a"),  # 4: external_ref of line 1
            good("D"),  # 5
            good("other-1", slug="other-1"),  # 6: a rejected line claims nothing: free
        ],
    )

    result = cli.run("products", "import", path, "--quiet")

    assert result.code == 2
    assert result.bad_rows() == {
        2: "sku: Must be unique amongst products. (line 1 has it)",
        3: "slug: Must be unique amongst products. (line 1 has it)",
        4: "external_ref: Must be unique amongst products. (line 1 has it)",
    }
    assert skus_in(cli.db) == {"A", "D", "other-1"}


def test_duplicates_of_products_already_in_the_database_are_reported(
    cli: Cli, api: Caller, tmp_path: Path
) -> None:
    response = api.post("/pcm/products", json=product_body(sku="OLD", slug="old", external_ref="old-ref"))
    assert response.status_code == 201, response.text
    path = write_jsonl(
        tmp_path / "dups.jsonl",
        [
            good("OLD"),
            good("NEW-1", slug="old"),
            good("NEW-2", external_ref="old-ref"),
            good("NEW-3", slug="new", external_ref="new-ref"),
        ],
    )

    result = cli.run("products", "import", path, "--quiet")

    assert result.code == 2
    assert result.bad_rows() == {
        1: "sku: Must be unique amongst products. (a product in the database has it)",
        2: "slug: Must be unique amongst products. (a product in the database has it)",
        3: "external_ref: Must be unique amongst products. (a product in the database has it)",
    }
    assert skus_in(cli.db) == {"OLD", "NEW-3"}
    assert attributes_of(api, "OLD") == {
        **good("OLD", name="A product"),
        "slug": "old",
        "external_ref": "old-ref",
        "status": "draft",
    }


def test_importing_the_same_file_twice_loads_nothing_the_second_time(db: Database, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [good(f"S-{i}", slug=f"s-{i}") for i in range(3)])

    first = load(db, path)
    second = load(db, path)

    assert (first.imported, first.errors) == (3, [])
    assert second.imported == 0
    assert [line for line, _ in second.errors] == [1, 2, 3]
    assert skus_in(db) == {"S-0", "S-1", "S-2"}


def test_rows_taken_by_another_writer_during_the_import_are_reported(
    db: Database, api: Caller, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database constraint is the last word: a sku inserted after the import looked is reported
    for its row alone, and the rest of its batch still loads."""
    assert api.post("/pcm/products", json=product_body(sku="RACE")).status_code == 201
    # The import reads the existing values before the first batch: pretend they were not there yet.
    monkeypatch.setattr(repo, "existing_unique_values", lambda session, scope: (set(), set(), set()))
    path = write_jsonl(tmp_path / "p.jsonl", [good("FIRST"), good("RACE"), good("LAST"), good("NEXT-BATCH")])

    report = load(db, path, batch_size=3)

    assert messages(report) == {
        2: "sku: Must be unique amongst products. (another writer took it during the import)"
    }
    assert report.imported == 3
    assert skus_in(db) == {"RACE", "FIRST", "LAST", "NEXT-BATCH"}


def test_rows_span_several_batches(db: Database, tmp_path: Path) -> None:
    rows: list[dict[str, Any] | str] = [good(f"S-{i}") for i in range(11)]
    rows[4] = good("BAD", commodity_type="nope")
    path = write_jsonl(tmp_path / "p.jsonl", rows)

    report = load(db, path, batch_size=3)

    assert report.imported == 10
    assert [line for line, _ in report.errors] == [5]
    assert len(skus_in(db)) == 10


# --- where products go ----------------------------------------------------------------------------


def test_store_option_loads_into_that_store(cli: Cli, api: Caller, keys: Keys, tmp_path: Path) -> None:
    created = cli.run("stores", "create", "--name", "Second store", "--json")
    assert created.code == 0, created.stderr
    store_id = uuid.UUID(created.json()["id"])
    # the same sku in the default store does not clash: uniqueness is per store
    assert api.post("/pcm/products", json=product_body(sku="SHARED")).status_code == 201
    path = write_jsonl(tmp_path / "p.jsonl", [good("SHARED"), good("ONLY-THERE")])

    result = cli.run("products", "import", path, "--store", str(store_id), "--quiet")

    assert result.code == 0, result.stderr
    assert skus_in(cli.db, store_id) == {"SHARED", "ONLY-THERE"}
    assert skus_in(cli.db, default_store_id(cli.db)) == {"SHARED"}
    other = keys.caller(store_id=store_id)
    assert attributes_of(other, "ONLY-THERE") is not None
    assert attributes_of(api, "ONLY-THERE") is None


def test_organization_option_loads_organization_products(db: Database, api: Caller, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [good("ORG-1")])

    report = load(db, path, organization=True)

    assert (report.imported, report.errors) == (1, [])
    assert skus_in(db, ORGANIZATION_SCOPE) == {"ORG-1"}
    response = api.get("/pcm/products?filter=eq(sku,ORG-1)")
    assert response.status_code == 200
    assert [p["meta"]["owner"] for p in response.json()["data"]] == ["organization"]


def test_an_unknown_store_fails_before_anything_is_read(cli: Cli, db: Database, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [good("X")])
    missing = uuid.uuid4()

    with pytest.raises(NotFound):
        load(db, path, store_id=missing)
    result = cli.run("products", "import", path, "--store", str(missing), "--quiet")

    assert result.code == 1
    assert f"store {missing} does not exist" in result.stderr
    assert skus_in(db) == set()


def test_an_unknown_file_extension_fails_with_a_clear_message(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "products.xlsx"
    path.write_text(json.dumps(good("X")) + "\n")

    result = cli.run("products", "import", path, "--quiet")

    assert result.code == 1
    message = " ".join(result.stderr.split())
    assert "unknown file type '.xlsx'" in message
    assert ".jsonl" in message
    assert ".csv" in message
    assert "importing" not in message  # it fails before starting
    assert skus_in(cli.db) == set()
