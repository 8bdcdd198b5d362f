"""`assortment users create|list|delete|set-password`: the operational contract of DESIGN.md (§13.1)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from assortment.db.models import User, UserSession
from assortment.domain import users
from tests.cli.conftest import Cli

PASSWORD = "a long enough passphrase"


def test_create_prints_the_user_as_json_and_stores_an_argon2id_hash(cli: Cli) -> None:
    result = cli.run(
        "users",
        "create",
        "--email",
        " Ann@Example.COM ",
        "--role",
        "editor",
        "--password-stdin",
        "--json",
        stdin=PASSWORD + "\n",
    )
    assert result.code == 0, result.stderr
    document = result.json()
    assert set(document) == {"id", "email", "role", "owner", "store_id"}
    assert (document["email"], document["role"], document["owner"]) == ("ann@example.com", "editor", "store")
    with cli.db.sessions() as session:
        user = session.get(User, uuid.UUID(document["id"]))
        assert user is not None
        assert str(user.store_id) == document["store_id"]
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        token, signed = users.sign_in(session, "ANN@example.com", PASSWORD)
        assert token and signed.role == "editor"


def test_organization_and_store_users(cli: Cli) -> None:
    store = cli.run("stores", "create", "--name", "Outlet", "--json").json()["id"]
    org = cli.run(
        "users",
        "create",
        "--email",
        "org@example.com",
        "--role",
        "admin",
        "--organization",
        "--password-stdin",
        "--json",
        stdin=PASSWORD,
    )
    assert org.code == 0, org.stderr
    assert (org.json()["owner"], org.json()["store_id"]) == ("organization", None)
    outlet = cli.run(
        "users",
        "create",
        "--email",
        "shop@example.com",
        "--role",
        "viewer",
        "--store",
        store,
        "--password-stdin",
        "--json",
        stdin=PASSWORD,
    )
    assert outlet.code == 0, outlet.stderr
    assert (outlet.json()["owner"], outlet.json()["store_id"]) == ("store", store)
    listed = cli.run("users", "list", "--json")
    assert listed.code == 0
    assert {(u["email"], u["role"]) for u in listed.json()} == {
        ("org@example.com", "admin"),
        ("shop@example.com", "viewer"),
    }


def test_bad_users_are_refused_and_nothing_is_written(cli: Cli) -> None:
    cases = [
        (["--email", "short@example.com", "--role", "editor"], "short", "at least 12 characters"),
        (["--email", "role@example.com", "--role", "owner"], PASSWORD, "role: must be one of viewer, editor, admin"),
        (["--email", "not-an-email", "--role", "viewer"], PASSWORD, "is not an email address"),
        (["--email", "x@example.com", "--role", "viewer", "--store", str(uuid.uuid4())], PASSWORD, "does not exist"),
        (["--email", "y@example.com", "--role", "viewer", "--store", "nope"], PASSWORD, "--store must be a store id"),
    ]
    for args, password, message in cases:
        result = cli.run("users", "create", *args, "--password-stdin", "--json", stdin=password)
        assert result.code == 1, (args, result.stdout)
        assert message in result.stderr, (args, result.stderr)
    with cli.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 0


def test_an_email_is_taken_once_whatever_its_case(cli: Cli) -> None:
    first = cli.run(
        "users", "create", "--email", "dup@example.com", "--role", "viewer", "--password-stdin", stdin=PASSWORD
    )
    again = cli.run(
        "users", "create", "--email", "DUP@example.com", "--role", "admin", "--password-stdin", stdin=PASSWORD
    )
    assert first.code == 0, first.stderr
    assert again.code == 1
    assert "already exists" in again.stderr


def test_set_password_signs_the_user_out_and_delete_removes_them(cli: Cli) -> None:
    cli.run("users", "create", "--email", "bo@example.com", "--role", "viewer", "--password-stdin", stdin=PASSWORD)
    with cli.db.sessions() as session:
        users.sign_in(session, "bo@example.com", PASSWORD)
        session.commit()
    changed = cli.run(
        "users", "set-password", "--email", "bo@example.com", "--password-stdin", stdin="another long passphrase"
    )
    assert changed.code == 0, changed.stderr
    with cli.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(UserSession)) == 0
        users.sign_in(session, "bo@example.com", "another long passphrase")
        session.commit()
    too_short = cli.run("users", "set-password", "--email", "bo@example.com", "--password-stdin", stdin="short")
    assert too_short.code == 1
    deleted = cli.run("users", "delete", "--email", "bo@example.com", "--json")
    assert deleted.code == 0, deleted.stderr
    assert deleted.json() == {"deleted": "bo@example.com"}
    with cli.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 0
        assert session.scalar(select(func.count()).select_from(UserSession)) == 0
    missing = cli.run("users", "delete", "--email", "bo@example.com")
    assert missing.code == 1
    assert "no user with the email" in missing.stderr
