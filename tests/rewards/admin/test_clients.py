"""The admin page of API clients refuses bad numbers with 422 (a huge one was a 500) and a negative grace."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from rewards.apikeys import services
from rewards.apikeys.models import ApiClient, ApiKey
from rewards.db import db
from rewards.errors import DomainError, NotFound

pytestmark = pytest.mark.usefixtures("backend")


def _keys(app: Flask) -> list[tuple[int, bool]]:
    with app.app_context():
        return [(k.id, k.expires_at is not None) for k in db.session.scalars(select(ApiKey).order_by(ApiKey.id))]


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"op": "rotate", "name": "cabinet", "grace_days": "9" * 400}, "grace_days"),
        ({"op": "rotate", "name": "cabinet", "grace_days": "99999999999"}, "grace_days"),
        ({"op": "rotate", "name": "cabinet", "grace_days": "-1"}, "grace_days"),
        ({"op": "rotate", "name": "cabinet", "grace_days": "91"}, "grace_days"),
        ({"op": "rotate", "name": "cabinet", "grace_days": "٣"}, "grace_days"),
        ({"op": "revoke-key", "key_id": "9" * 400}, "key_id"),
        ({"op": "revoke-key", "key_id": "2147483648"}, "key_id"),
        ({"op": "revoke-key", "key_id": "-5"}, "key_id"),
        ({"op": "revoke-key", "key_id": ""}, "key_id"),
    ],
)
def test_bad_numbers_are_refused(app: Flask, logged_in: Callable[[str], FlaskClient], api_token: Callable[..., str],
                                 form: dict[str, str], field: str) -> None:
    api_token("cabinet:read", name="cabinet")
    before = _keys(app)
    r = logged_in("admin").post("/admin/clients", data=form)
    assert r.status_code == 422, r.get_data(as_text=True)[:300]
    assert field in r.get_data(as_text=True)
    assert _keys(app) == before  # nothing changed


def test_rotation_within_bounds_still_works(app: Flask, logged_in: Callable[[str], FlaskClient],
                                            api_token: Callable[..., str]) -> None:
    api_token("cabinet:read", name="cabinet")
    admin = logged_in("admin")
    assert admin.post("/admin/clients", data={"op": "rotate", "name": "cabinet", "grace_days": "0"}).status_code == 200
    assert admin.post("/admin/clients", data={"op": "rotate", "name": "cabinet", "grace_days": ""}).status_code == 200
    keys = _keys(app)
    assert len(keys) == 3 and keys[-1] == (keys[-1][0], False)
    assert admin.post("/admin/clients", data={"op": "revoke-key", "key_id": str(keys[0][0])}).status_code == 200


def test_services_refuse_out_of_range(app: Flask, api_token: Callable[..., str]) -> None:
    api_token("cabinet:read", name="cabinet")
    with app.app_context():
        with pytest.raises(DomainError, match="grace"):
            services.rotate_key(db.session, "cabinet", actor="t", grace=timedelta(days=-1))
        with pytest.raises(DomainError, match="grace"):
            services.rotate_key(db.session, "cabinet", actor="t", grace=timedelta(days=services.MAX_GRACE_DAYS + 1))
        with pytest.raises(NotFound):
            services.revoke_key(db.session, 2**63, actor="t")
        db.session.rollback()
        assert db.session.scalar(select(ApiClient.active).where(ApiClient.name == "cabinet")) is True
    result = app.test_cli_runner().invoke(args=["keys", "rotate-client", "cabinet", "--grace-days", "-3"])
    assert result.exit_code != 0 and "grace" in result.output


def test_an_unknown_operation_is_refused_by_name(app: Flask, logged_in: Callable[[str], FlaskClient],
                                                 api_token: Callable[..., str]) -> None:
    api_token("cabinet:read", name="cabinet")
    before = _keys(app)
    r = logged_in("admin").post("/admin/clients", data={"op": "explode", "name": "cabinet"})
    assert r.status_code == 422 and "Неизвестная операция." in r.get_data(as_text=True)
    r = logged_in("admin").post("/admin/clients", data={"op": "rotate", "name": "cabinet", "grace_days": "91"})
    assert r.status_code == 422 and "срок действия старого ключа, дней: " in r.get_data(as_text=True)
    assert _keys(app) == before
