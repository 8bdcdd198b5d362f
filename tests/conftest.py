"""Test databases: one migrated database per engine per run (built with `alembic upgrade head`, never
`create_all`), emptied between tests.

Tests commit for real and the tables are emptied after each test instead of rolling back a wrapping
transaction: the rules under test include what a request's own transaction does on failure ("nothing
is written"), and the multi-process tests need data other connections can see.

PostgreSQL: a throwaway database is created on the server at ASSORTMENT_TEST_PG_URL (default
127.0.0.1:5432, database `test`, trust auth) and dropped at the end. When the server cannot be reached
the PostgreSQL half is skipped with a warning, except under CI=true, where it fails.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, delete, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from assortment.app import create_app
from assortment.config import Settings
from assortment.db.engine import make_engine, make_session_factory
from assortment.db.migrate import upgrade
from assortment.db.models import Base, InstanceSecret, ProductCount, ProductCountDelta, Store
from assortment.domain import auth

PG_ADMIN_URL = os.environ.get("ASSORTMENT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ENGINES = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--databases",
        default=os.environ.get("ASSORTMENT_TEST_DATABASES", ",".join(ENGINES)),
        help="comma-separated engines to run database tests on (sqlite,postgresql)",
    )


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@dataclass
class Database:
    name: str
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]


def _create_pg_database() -> tuple[str, str]:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"assortment_test_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return name, make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(name: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session", params=ENGINES)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    kind: str = request.param
    wanted = [x.strip() for x in str(request.config.getoption("--databases")).split(",")]
    if kind not in wanted:
        pytest.skip(f"{kind} not selected with --databases")
    pg_name = None
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
    else:
        try:
            pg_name, url = _create_pg_database()
        except Exception as exc:
            message = f"PostgreSQL unreachable at {PG_ADMIN_URL}: {exc}"
            if _in_ci():
                pytest.fail(message)
            pytest.skip(message)
    # Webhook deliveries run where a test starts them (tests/api/test_webhooks.py), not in the shared app.
    settings = Settings(database_url=url, secret_key=None, webhook_worker=False)
    upgrade(settings)
    engine = make_engine(settings)
    try:
        yield Database(kind, settings, engine, make_session_factory(engine))
    finally:
        engine.dispose()
        if pg_name:
            _drop_pg_database(pg_name)


COUNT_TABLES = (ProductCount.__tablename__, ProductCountDelta.__tablename__)


def empty_tables(db: Database) -> None:
    """Remove what tests wrote; keep the default store and the signing key."""
    with db.sessions.begin() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name == Store.__tablename__:
                session.execute(delete(Store).where(Store.is_default.is_(False)))
            elif table.name not in (InstanceSecret.__tablename__, *COUNT_TABLES):
                session.execute(table.delete())
        # Last: deleting the products above updated the counts the triggers keep.
        session.execute(delete(ProductCount))
        session.execute(delete(ProductCountDelta))


@pytest.fixture
def db(database: Database) -> Iterator[Database]:
    yield database
    empty_tables(database)


@pytest.fixture(scope="session")
def app(database: Database) -> FastAPI:
    return create_app(database.settings)


@pytest.fixture(scope="session")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@dataclass
class Caller:
    """A client acting with one key's token."""

    client: TestClient
    token: str
    key: auth.IssuedKey

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.request(method, url, headers=headers, **kwargs)

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Any:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Any:
        return self.request("DELETE", url, **kwargs)


class Keys:
    def __init__(self, db: Database, client: TestClient) -> None:
        self.db = db
        self.client = client

    def store(self, name: str = "Another store") -> uuid.UUID:
        with self.db.sessions.begin() as session:
            return auth.create_store(session, name).id

    def key(self, *, store_id: uuid.UUID | None = None, organization: bool = False) -> auth.IssuedKey:
        with self.db.sessions.begin() as session:
            return auth.create_key(session, "test", store_id=store_id, organization=organization)

    def token(self, key: auth.IssuedKey, grant: str = "client_credentials") -> str:
        form = {"grant_type": grant, "client_id": key.client_id}
        if grant == "client_credentials":
            form["client_secret"] = key.client_secret
        response = self.client.post("/oauth/access_token", data=form)
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def caller(
        self,
        *,
        store_id: uuid.UUID | None = None,
        organization: bool = False,
        grant: str = "client_credentials",
    ) -> Caller:
        key = self.key(store_id=store_id, organization=organization)
        return Caller(self.client, self.token(key, grant), key)


@pytest.fixture
def keys(db: Database, client: TestClient) -> Keys:
    return Keys(db, client)


@pytest.fixture
def api(keys: Keys) -> Caller:
    """A caller with a client-credentials token of the default store."""
    return keys.caller()
