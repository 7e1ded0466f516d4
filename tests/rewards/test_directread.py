"""Direct reads: rows as a session would type them, committed data only, connections back in the pool."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError

from rewards.apikeys.models import ApiClient, ApiKey
from rewards.db import db
from rewards.directread import DirectRead, SessionWrite

pytestmark = pytest.mark.usefixtures("backend")

_K, _C = ApiKey.__table__.c, ApiClient.__table__.c
KEY_OF_CLIENT = DirectRead(
    select(_C.name, _K.id, _K.expires_at, _K.revoked_at)
    .join_from(ApiClient.__table__, ApiKey.__table__, _K.client_id == _C.id)
    .where(_C.name == bindparam("name"))
    .order_by(_K.id)
)


def test_rows_are_typed_and_named_like_a_sessions(app: Flask, api_token) -> None:  # noqa: ANN001
    api_token("priority:read", name="reader")
    expiry = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    with app.app_context():
        key = db.session.scalar(select(ApiKey))
        key.expires_at = expiry
        db.session.commit()
        row = KEY_OF_CLIENT.first(db.engine, {"name": "reader"})
        assert row is not None
        assert (row.name, row.id, row.expires_at, row.revoked_at) == ("reader", key.id, expiry, None)
        assert row.expires_at.tzinfo is not None  # UTCDateTime's processing, on both engines
        assert KEY_OF_CLIENT.first(db.engine, {"name": "nobody"}) is None
        assert KEY_OF_CLIENT.all(db.engine, {"name": "nobody"}) == []


def test_it_sees_committed_data_only_and_returns_its_connection(app: Flask, api_token) -> None:  # noqa: ANN001
    api_token("priority:read", name="reader")
    with app.app_context():
        pool = db.engine.pool
        key = db.session.scalar(select(ApiKey))
        key.revoked_at = datetime.now(UTC)
        db.session.flush()  # written in the session's transaction, not committed
        assert KEY_OF_CLIENT.first(db.engine, {"name": "reader"}).revoked_at is None
        db.session.rollback()
        for _ in range(20):
            KEY_OF_CLIENT.first(db.engine, {"name": "reader"})
        assert pool.checkedout() == 0  # type: ignore[attr-defined]
        if db.engine.dialect.name == "postgresql":
            # the autocommit switch is undone before the connection goes back to the pool
            conn = db.engine.raw_connection()
            try:
                assert conn.driver_connection.autocommit is False  # type: ignore[union-attr]
            finally:
                conn.close()


def test_parameters_are_converted_by_their_type(app: Flask, api_token) -> None:  # noqa: ANN001
    api_token("priority:read", name="reader")
    read = DirectRead(select(_K.id).where(_K.created_at > bindparam("when", type_=_K.created_at.type)))
    with app.app_context():  # UTCDateTime converts what it binds (to naive UTC text on SQLite)
        assert len(read.all(db.engine, {"when": datetime(2020, 1, 1, tzinfo=UTC)})) == 1
        assert read.all(db.engine, {"when": datetime(2999, 1, 1, tzinfo=UTC)}) == []
        with pytest.raises(ValueError, match="naive"):
            read.all(db.engine, {"when": datetime(2020, 1, 1)})


_INSERT_CLIENT = SessionWrite(
    insert(ApiClient.__table__).values(name=bindparam("name"), scopes=bindparam("scopes"), active=True,
                                       created_at=bindparam("created_at"))
)


def test_a_session_write_is_part_of_the_sessions_transaction(app: Flask) -> None:
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    with app.app_context():
        _INSERT_CLIENT.execute(db.session, {"name": "gone", "scopes": "", "created_at": when})
        assert db.session.scalar(select(ApiClient.name).where(ApiClient.name == "gone")) == "gone"
        db.session.rollback()  # the write goes with the transaction it was made in
        assert db.session.scalar(select(ApiClient.name).where(ApiClient.name == "gone")) is None
        _INSERT_CLIENT.execute(db.session, {"name": "kept", "scopes": "a b", "created_at": when})
        db.session.commit()
        row = db.session.execute(select(ApiClient.scopes, ApiClient.created_at).where(ApiClient.name == "kept")).one()
        assert row == ("a b", when)  # UTCDateTime's binding on both engines


def test_a_session_write_raises_as_sqlalchemy_would(app: Flask) -> None:
    when = datetime(2030, 1, 2, tzinfo=UTC)
    with app.app_context():
        _INSERT_CLIENT.execute(db.session, {"name": "twice", "scopes": "", "created_at": when})
        with pytest.raises(IntegrityError):  # the unique name
            _INSERT_CLIENT.execute(db.session, {"name": "twice", "scopes": "", "created_at": when})
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(ApiClient)) == 0


def test_a_session_write_refuses_a_column_whose_default_python_computes(app: Flask) -> None:
    # ApiClient.active and created_at have Python-side defaults: left out, they would be written as NULL
    write = SessionWrite(insert(ApiClient.__table__).values(name=bindparam("name"), scopes=bindparam("scopes")))
    with app.app_context():
        with pytest.raises(ValueError, match="active, created_at"):
            write.execute(db.session, {"name": "x", "scopes": ""})
        db.session.rollback()
