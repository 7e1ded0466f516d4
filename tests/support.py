"""Helpers the tests import (fixtures live in conftest.py)."""

from __future__ import annotations

from flask.testing import FlaskClient

FAST_HASH = "scrypt:16384:8:1"  # tests only: the production default (N=2^17) is checked in test_auth
PASSWORD = "correct horse battery"


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> None:
    """Log ``client`` in (fails the test when the login is refused)."""
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}
