"""Prepared reads (db/prepared.py) fail as SQLAlchemy's own reads do: driver errors come out as SQLAlchemy's
(the API's handlers turn a lost database into 503), and a connection the database dropped is marked invalid."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, bindparam, select, text
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from assortment.db.models import Store
from assortment.db.prepared import Prepared
from tests.conftest import Database

_STORES = Prepared(select(Store.__table__.c.name).where(Store.__table__.c.is_default == bindparam("default")))
_MISSING = Prepared(select(Table("no_such_table", MetaData(), Column("x", Integer)).c.x))


def test_rows_are_read_and_decoded(db: Database) -> None:
    with db.engine.connect() as connection:
        assert _STORES.rows(connection, {"default": True}) == [
            [connection.execute(select(Store.name).where(Store.is_default.is_(True))).scalar_one()]
        ]


def test_a_driver_error_is_sqlalchemys(db: Database) -> None:
    with db.engine.connect() as connection:
        with pytest.raises((OperationalError, ProgrammingError)) as raised:
            _MISSING.rows(connection, {})
        assert isinstance(raised.value, DBAPIError) and not raised.value.connection_invalidated
        assert not connection.invalidated


def test_a_dropped_connection_is_marked_invalid(db: Database) -> None:
    with db.engine.connect() as connection:
        if db.name == "postgresql":  # the server ends the session
            backend = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
            connection.commit()
            with db.engine.connect() as killer:
                killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
                killer.commit()
        else:  # the file's connection is closed underneath
            driver = connection.connection.driver_connection
            assert driver is not None
            driver.close()
        with pytest.raises(DBAPIError) as raised:
            _STORES.rows(connection, {"default": True})
        assert raised.value.connection_invalidated
        assert connection.invalidated
