"""The lists of staff users and API clients: search, filters, pages, bad filters (both databases)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from rewards.apikeys.models import ApiClient
from rewards.auth.models import User
from rewards.db import db
from tests.lists import check_list, get, rows


def test_the_user_list(app: Flask, logged_in: Any) -> None:
    admin = logged_in("admin")  # one user already: the admin looking
    with app.app_context():
        for n in range(59):
            db.session.add(User(username="anna.petrova" if n == 8 else f"user{n:02d}", password_hash="-",
                                role="auditor" if n % 3 == 0 else "marketing", active=n != 4))
        db.session.commit()
    check_list(admin, "/admin/users", "users", total=60, search=("q=PETROVA", "anna.petrova"),
               filters=("role=auditor", 20), bad="role=owner")
    assert len(rows(get(admin, "/admin/users?state=disabled"), "users")) == 1


def test_the_client_list(app: Flask, logged_in: Any) -> None:
    admin = logged_in("admin")
    with app.app_context():
        for n in range(60):
            scopes = "cabinet:read codes:validate" if n % 10 == 0 else "priority:read"
            db.session.add(ApiClient(name="gorserv-site" if n == 17 else f"client-{n:02d}", scopes=scopes,
                                     active=n % 20 != 0))
        db.session.commit()
    check_list(admin, "/admin/clients", "clients", total=60, search=("q=gorserv", "gorserv-site"),
               filters=("scope=codes:validate", 6), bad="scope=everything")
    assert len(rows(get(admin, "/admin/clients?scope=cabinet:read&state=disabled"), "clients")) == 3
