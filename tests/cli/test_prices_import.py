"""`assortment prices import FILE --pricebook ID`: JSON lines and CSV, checked like
`POST /pcm/pricebooks/{id}/prices` (SPEC §9.3); bad rows reported by line number."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from assortment.domain.bulk_load import ImportReport
from assortment.domain.price_import import import_prices
from assortment.errors import NotFound
from tests.cli.conftest import Cli, write_jsonl
from tests.conftest import Caller, Database, Keys

MAX_AMOUNT = 2**53 - 1


def make_book(api: Caller, name: str = "Main") -> str:
    response = api.post("/pcm/pricebooks", json={"data": {"type": "pricebook", "attributes": {"name": name}}})
    assert response.status_code == 201, response.text
    book_id: str = response.json()["data"]["id"]
    return book_id


def prices_of(api: Caller, book_id: str) -> dict[str, dict[str, Any]]:
    """The book's prices as the API renders them, by sku, without ids and timestamps."""
    response = api.get(f"/pcm/pricebooks/{book_id}/prices", params={"page[limit]": "100"})
    assert response.status_code == 200, response.text
    result = {}
    for price in response.json()["data"]:
        attributes = {k: v for k, v in price["attributes"].items() if k not in ("created_at", "updated_at")}
        assert price["meta"]["pricebook_id"] == book_id
        result[attributes.pop("sku")] = attributes
    return result


def row(sku: str, **attributes: Any) -> dict[str, Any]:
    return {"sku": sku, "currencies": {"USD": {"amount": 100}}, **attributes}


def load(db: Database, path: Path, book_id: str, **options: Any) -> ImportReport:
    return import_prices(db.sessions, path, book_id, progress=False, **options)


def messages(report: ImportReport) -> dict[int, str]:
    lines = [line for line, _ in report.errors]
    assert len(lines) == len(set(lines)), report.errors
    return dict(report.errors)


FULL: dict[str, Any] = {
    "sku": "BE-Range-2b2b",
    "currencies": {
        "USD": {"amount": 400, "includes_tax": False, "tiers": {"min_5": {"minimum_quantity": 5, "amount": 150}}},
        "GBP": {"amount": 300, "includes_tax": True},
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
        }
    },
    "external_ref": "erp:range",
    "admin_attributes": {"cost": "12"},
    "shopper_attributes": {"badge": "sale"},
}


# --- good rows ------------------------------------------------------------------------------------


def test_jsonl_rows_and_request_bodies_load_like_the_api(cli: Cli, api: Caller, tmp_path: Path) -> None:
    book = make_book(api)
    path = write_jsonl(
        tmp_path / "prices.jsonl",
        [
            FULL,
            {"data": {"type": "product-price", "attributes": {"sku": "PLAIN", "currencies": {"EUR": {"amount": 0}}}}},
            row("MAX", currencies={"USD": {"amount": MAX_AMOUNT}}),
        ],
    )

    result = cli.run("prices", "import", path, "--pricebook", book)  # with the progress bar

    assert result.code == 0, result.stderr
    assert result.bad_rows() == {}
    assert "imported 3 prices, 0 bad rows" in result.stderr
    prices = prices_of(api, book)
    assert prices["BE-Range-2b2b"] == {k: v for k, v in FULL.items() if k != "sku"}
    assert prices["PLAIN"] == {"currencies": {"EUR": {"amount": 0, "includes_tax": False}}}
    assert prices["MAX"] == {"currencies": {"USD": {"amount": MAX_AMOUNT, "includes_tax": False}}}
    # the imported prices are ordinary prices: the API sees their uniqueness
    duplicate = {"data": {"type": "product-price", "attributes": row("PLAIN")}}
    assert api.post(f"/pcm/pricebooks/{book}/prices", json=duplicate).status_code == 409


def test_csv_rows_load_with_one_column_per_currency(cli: Cli, api: Caller, tmp_path: Path) -> None:
    book = make_book(api)
    path = tmp_path / "prices.csv"
    path.write_text(
        "sku,external_ref,includes_tax,USD,EUR,JPY\n"
        "BS-1,erp:1,true,47500,41000,\n"  # an empty cell: no price in that currency
        "BS-2,,false,5,,1500\n"
        "BS-3,,,100,,\n",  # includes_tax defaults to false
        encoding="utf-8",
    )

    result = cli.run("prices", "import", path, "--pricebook", book, "--quiet")

    assert result.code == 0, result.stderr
    assert "imported 3 prices, 0 bad rows" in result.stderr
    assert prices_of(api, book) == {
        "BS-1": {
            "currencies": {
                "USD": {"amount": 47500, "includes_tax": True},
                "EUR": {"amount": 41000, "includes_tax": True},
            },
            "external_ref": "erp:1",
        },
        "BS-2": {
            "currencies": {"USD": {"amount": 5, "includes_tax": False}, "JPY": {"amount": 1500, "includes_tax": False}}
        },
        "BS-3": {"currencies": {"USD": {"amount": 100, "includes_tax": False}}},
    }


def test_csv_with_only_sku_and_a_currency(db: Database, api: Caller, tmp_path: Path) -> None:
    book = make_book(api)
    path = tmp_path / "p.csv"
    path.write_bytes(b"\xef\xbb\xbfsku,GBP\nA,1\nB,2\n")  # with a byte order mark, as Excel writes it

    report = load(db, path, book)

    assert (report.imported, report.errors) == (2, [])
    assert prices_of(api, book)["B"] == {"currencies": {"GBP": {"amount": 2, "includes_tax": False}}}


# --- bad rows -------------------------------------------------------------------------------------


def test_bad_jsonl_rows_are_reported_by_line_and_the_good_ones_load(cli: Cli, api: Caller, tmp_path: Path) -> None:
    book = make_book(api)
    path = write_jsonl(
        tmp_path / "mixed.jsonl",
        [
            row("OK-1"),  # 1
            row("FLOAT", currencies={"USD": {"amount": 12.5}}),  # 2
            row("WHOLE-FLOAT", currencies={"USD": {"amount": 100.0}}),  # 3
            row("STRING", currencies={"USD": {"amount": "100"}}),  # 4
            row("NEGATIVE", currencies={"USD": {"amount": -1}}),  # 5
            row("TOO-BIG", currencies={"USD": {"amount": MAX_AMOUNT + 1}}),  # 6
            {"currencies": {"USD": {"amount": 1}}},  # 7: no sku
            {"sku": "NO-CURRENCIES"},  # 8
            row("TOP-TIERS", tiers={"min_5": {"minimum_quantity": 5}}),  # 9: P-4
            row("SALE-EUR", sales={"s": {"currencies": {"EUR": {"amount": 1}}}}),  # 10: P-12
            '{"sku": "broken", ',  # 11
            "",  # 12: blank lines are skipped
            "[1, 2]",  # 13
            {"data": {"type": "pricebook", "attributes": row("WRONG-TYPE")}},  # 14
            row("LOWER", currencies={"usd": {"amount": 1}}),  # 15
            row("NUL\x00SKU"),  # 16: refused on every database, as the API does
            row(
                "OK-2",
                sales={"s": {"schedule": {"valid_to": "2030-01-01T00:00:00Z"}, "currencies": {"USD": {"amount": 1}}}},
            ),  # 17
        ],
    )

    result = cli.run("prices", "import", path, "--pricebook", book, "--quiet")

    assert result.code == 2
    bad = result.bad_rows()
    assert set(bad) == {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16}, result.stderr
    for line in (2, 3, 4, 5, 6):
        assert bad[line].startswith("currencies.USD.amount: must be an integer amount"), bad[line]
    assert bad[7].startswith("sku:")
    assert bad[8].startswith("currencies:")
    assert "tiers" in bad[9]
    assert bad[10].startswith("sales.s.currencies:") and "EUR" in bad[10]
    assert bad[11] == "not valid JSON"
    assert bad[13] == "each line must be a JSON object"
    assert bad[14] == "data.type: Input should be 'product-price'"
    assert "usd" in bad[15]
    assert "NUL" in bad[16]
    assert "imported 2 prices, 14 bad rows" in result.stderr
    assert set(prices_of(api, book)) == {"OK-1", "OK-2"}


def test_bad_csv_rows_are_reported_by_line_and_the_good_ones_load(cli: Cli, api: Caller, tmp_path: Path) -> None:
    book = make_book(api)
    path = tmp_path / "mixed.csv"
    path.write_text(
        "sku,includes_tax,USD,EUR\n"  # 1
        "OK-1,,100,\n"  # 2
        "DECIMAL,,12.5,\n"  # 3
        "NEGATIVE,,-1,\n"  # 4
        "WORD,,ten,\n"  # 5
        "TAX,yes,1,\n"  # 6
        ",,1,\n"  # 7: no sku
        "NOTHING,,,\n"  # 8: no currency at all
        "EXTRA,,1,2,3\n"  # 9
        "\n"  # 10: blank
        "SUPERSCRIPT,,²,\n"  # 11: a "digit" int() cannot read
        f"TOO-BIG,,{MAX_AMOUNT + 1},\n"  # 12
        "SPACE,, 5,\n"  # 13
        "OK-2,true,,7\n",  # 14
        encoding="utf-8",
    )

    result = cli.run("prices", "import", path, "--pricebook", book, "--quiet")

    assert result.code == 2, result.stderr
    bad = result.bad_rows()
    assert set(bad) == {3, 4, 5, 6, 7, 8, 9, 11, 12, 13}, result.stderr
    for line in (3, 4, 5, 11, 13):
        assert bad[line] == "USD: amounts are whole numbers in minor units", (line, bad[line])
    assert bad[6] == "includes_tax: must be true or false"
    assert bad[7].startswith("sku:")
    assert bad[8].startswith("currencies:")
    assert bad[9] == "more cells than header columns (5 > 4)"
    assert bad[12].startswith("currencies.USD.amount: must be an integer amount")
    assert prices_of(api, book) == {
        "OK-1": {"currencies": {"USD": {"amount": 100, "includes_tax": False}}},
        "OK-2": {"currencies": {"EUR": {"amount": 7, "includes_tax": True}}},
    }


def test_a_csv_column_that_is_not_a_known_field_or_currency_code(db: Database, api: Caller, tmp_path: Path) -> None:
    book = make_book(api)
    path = tmp_path / "p.csv"
    path.write_text("sku,usd\nA,1\n", encoding="utf-8")  # currency columns are upper-case codes

    report = load(db, path, book)

    assert report.imported == 0
    assert list(messages(report)) == [2]
    assert "usd" in messages(report)[2]


# --- uniqueness -----------------------------------------------------------------------------------


def test_duplicates_in_the_file_and_in_the_book_are_reported(cli: Cli, api: Caller, tmp_path: Path) -> None:
    book = make_book(api)
    other_book = make_book(api, "Other")
    existing = {"data": {"type": "product-price", "attributes": row("OLD", external_ref="old-ref")}}
    assert api.post(f"/pcm/pricebooks/{book}/prices", json=existing).status_code == 201
    path = write_jsonl(
        tmp_path / "dups.jsonl",
        [
            row("A", external_ref="ref-a"),  # 1
            row("A", external_ref="ref-1"),  # 2: sku of line 1
            row("B", external_ref="ref-a"),  # 3: external_ref of line 1
            row("OLD"),  # 4: in the database
            row("C", external_ref="old-ref"),  # 5: in the database
            row("ref-1", external_ref="ref-1"),  # 6: a rejected line claims nothing
        ],
    )

    result = cli.run("prices", "import", path, "--pricebook", book, "--quiet")

    assert result.code == 2
    assert result.bad_rows() == {
        2: "sku: already priced in this price book (line 1 has it)",
        3: "external_ref: already priced in this price book (line 1 has it)",
        4: "sku: already priced in this price book (a price in the database has it)",
        5: "external_ref: already priced in this price book (a price in the database has it)",
    }
    assert set(prices_of(api, book)) == {"OLD", "A", "ref-1"}
    # another book is another namespace
    report = load(cli.db, path, other_book)
    assert report.imported == 4
    assert set(messages(report)) == {2, 3}


def test_importing_twice_loads_nothing_the_second_time(db: Database, api: Caller, tmp_path: Path) -> None:
    book = make_book(api)
    path = write_jsonl(tmp_path / "p.jsonl", [row(f"S-{i}") for i in range(3)])

    first = load(db, path, book)
    second = load(db, path, book)

    assert (first.imported, first.errors) == (3, [])
    assert second.imported == 0
    assert [line for line, _ in second.errors] == [1, 2, 3]


def test_rows_span_several_batches(db: Database, api: Caller, tmp_path: Path) -> None:
    book = make_book(api)
    rows: list[dict[str, Any] | str] = [row(f"S-{i}") for i in range(11)]
    rows[4] = row("BAD", currencies={"USD": {"amount": 1.5}})
    path = write_jsonl(tmp_path / "p.jsonl", rows)

    report = load(db, path, book, batch_size=3)

    assert report.imported == 10
    assert [line for line, _ in report.errors] == [5]
    assert len(prices_of(api, book)) == 10


# --- which price book -----------------------------------------------------------------------------


def test_an_unknown_price_book_fails_before_anything_is_written(
    cli: Cli, api: Caller, keys: Keys, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [row("X")])
    missing = str(uuid.uuid4())
    foreign = make_book(keys.caller(store_id=keys.store("Other")), "Foreign")

    result = cli.run("prices", "import", path, "--pricebook", missing, "--quiet")
    assert result.code == 1, result.stderr
    assert f"price book {missing} not found" in " ".join(result.stderr.split())
    for book_id in (missing, "not-a-uuid", foreign):  # another store's book is not found either
        with pytest.raises(NotFound, match=f"price book {book_id} not found"):
            load(cli.db, path, book_id)
    assert api.get("/pcm/pricebooks/prices").json()["data"] == []


def test_store_and_organization_options(db: Database, api: Caller, keys: Keys, tmp_path: Path) -> None:
    store_id = keys.store("Second store")
    other = keys.caller(store_id=store_id)
    theirs = make_book(other, "Theirs")
    org_book = make_book(keys.caller(organization=True), "Org")
    path = write_jsonl(tmp_path / "p.jsonl", [row("X")])

    assert load(db, path, theirs, store_id=store_id).imported == 1
    assert set(prices_of(other, theirs)) == {"X"}
    with pytest.raises(NotFound):
        load(db, path, org_book)  # the default store's books only
    assert load(db, path, org_book, organization=True).imported == 1
    response = api.get(f"/pcm/pricebooks/{org_book}/prices")
    assert [p["meta"]["owner"] for p in response.json()["data"]] == ["organization"]


def test_an_unknown_file_extension_fails_with_a_clear_message(cli: Cli, api: Caller, tmp_path: Path) -> None:
    book = make_book(api)
    path = tmp_path / "prices.xlsx"
    path.write_text("sku,USD\nA,1\n")

    result = cli.run("prices", "import", path, "--pricebook", book, "--quiet")

    assert result.code == 1
    assert "unknown file type '.xlsx'" in " ".join(result.stderr.split())
    assert prices_of(api, book) == {}
