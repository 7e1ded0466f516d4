"""Staff login, sessions that end everywhere on logout, password hashing, CSRF."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from rewards.db import db
from tests.support import FAST_HASH, PASSWORD, login


def test_login_and_logout_end_every_session(app: Flask, make_user: Callable[..., str]) -> None:
    name = make_user("marketing")
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, name)
    login(phone, name)
    assert laptop.get("/").status_code == 200
    assert phone.get("/").status_code == 200
    stolen_cookie = phone.get_cookie("session").value
    assert laptop.post("/logout").status_code == 302
    # the other device, and a copy of its cookie, are logged out too
    assert phone.get("/").status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", stolen_cookie)
    assert thief.get("/").status_code == 302


def test_disabling_a_user_ends_their_sessions(app: Flask, make_user: Callable[..., str]) -> None:
    name = make_user("marketing")
    c = app.test_client()
    login(c, name)
    result = app.test_cli_runner().invoke(args=["users", "disable", name])
    assert result.exit_code == 0, result.output
    assert c.get("/").status_code == 302
    assert c.post("/login", data={"username": name, "password": PASSWORD}).status_code == 401


def test_wrong_password_and_unknown_user_look_alike(app: Flask, make_user: Callable[..., str]) -> None:
    name = make_user("auditor")
    c = app.test_client()
    a = c.post("/login", data={"username": name, "password": "wrong password"})
    b = c.post("/login", data={"username": "nobody", "password": "wrong password"})
    assert a.status_code == b.status_code == 401
    # The typed user name is kept in the form (what the person typed, nothing more): left out of the comparison.
    strip = lambda r: re.sub(r'(name="csrf_token"|name="username" required type="text") value="[^"]*"', "",  # noqa: E731
                             r.get_data(as_text=True))
    assert strip(a) == strip(b)
    assert f'value="{name}"' in a.get_data(as_text=True)
    assert "Wrong user name or password" in strip(a) or "Неверн" in strip(a)


def test_cli_create_user_reads_password_from_stdin(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "olga", "--role", "auditor", "--password-stdin"],
                           input="long enough pw\n")
    assert result.exit_code == 0, result.output
    login(app.test_client(), "olga", "long enough pw")
    bad = runner.invoke(args=["users", "create", "ivan", "--role", "boss", "--password-stdin"],
                        input="long enough pw\n")
    assert bad.exit_code != 0
    short = runner.invoke(args=["users", "create", "ivan", "--role", "auditor", "--password-stdin"], input="short\n")
    assert short.exit_code == 1 and "at least 10" in short.output


def test_production_hash_is_scrypt_2_17(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(PASSWORD_HASH_METHOD="scrypt:131072:8:1")
    from rewards.auth.models import User
    from rewards.auth.services import create_user

    with app.app_context():
        user: User = create_user(db.session, "strong", PASSWORD, "admin", method=app.config["PASSWORD_HASH_METHOD"],
                                 actor="t")
        assert user.password_hash.startswith("scrypt:131072:8:1$")
        assert PASSWORD not in user.password_hash


def test_csrf_is_required_on_page_forms(app_factory: Callable[..., Flask], make_user: Callable[..., str]) -> None:
    app = app_factory(WTF_CSRF_ENABLED=True)
    from rewards.auth.services import create_user
    from tests.support import FAST_HASH

    with app.app_context():
        create_user(db.session, "csrf-user", PASSWORD, "marketing", method=FAST_HASH, actor="t")
        db.session.commit()
    c: FlaskClient = app.test_client()
    # no token: refused
    assert c.post("/login", data={"username": "csrf-user", "password": PASSWORD}).status_code == 400
    page = c.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    empty = c.post("/login?lang=en", data={"username": "csrf-user", "password": "", "csrf_token": token})
    assert empty.status_code == 422 and 'id="password-errors"' in empty.get_data(as_text=True)  # the form's own check
    ok = c.post("/login", data={"username": "csrf-user", "password": PASSWORD, "csrf_token": token})
    assert ok.status_code == 302
    # A page form (WTForms) is refused without the token before it is read, and read with it (the login
    # started a new session: a new token).
    page = c.get("/partners/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert c.post("/partners/", data={"name": "Gorserv", "prefix": "GSRV"}).status_code == 400
    bad = c.post("/partners/?lang=en", data={"name": "Gorserv", "prefix": "I", "csrf_token": token})
    assert bad.status_code == 422 and 'id="prefix-errors"' in bad.get_data(as_text=True)
    assert c.post("/partners/", data={"name": "Gorserv", "prefix": "GSRV", "csrf_token": token}).status_code == 302
    assert c.post("/logout").status_code == 400  # logout without a token is refused too


def test_session_cookie_flags(app: Flask, make_user: Callable[..., str]) -> None:
    c = app.test_client()
    name = make_user("auditor")
    response = c.post("/login", data={"username": name, "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_login_redirect_stays_on_site(app: Flask, make_user: Callable[..., str]) -> None:
    name = make_user("auditor")
    c = app.test_client()
    r = c.post("/login?next=//evil.example/x", data={"username": name, "password": PASSWORD})
    assert r.headers["Location"] == "/"
    r = c.post("/login?next=/audit/", data={"username": name, "password": PASSWORD})
    assert r.headers["Location"] == "/audit/"


def test_unknown_user_check_costs_the_same_as_a_real_one() -> None:
    from rewards.auth.services import _dummy_hash

    assert _dummy_hash("scrypt:131072:8:1").startswith("scrypt:131072:8:1$")
    assert _dummy_hash(FAST_HASH).startswith(FAST_HASH + "$")


def test_login_attempts_are_throttled(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(RATELIMIT_ENABLED=True)
    c = app.test_client()
    statuses = [c.post("/login", data={"username": "victim", "password": f"guess {i}"}).status_code for i in range(12)]
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]
    # another user name from the same address is still allowed (the per-address limit is higher)
    assert c.post("/login", data={"username": "someone", "password": "guess"}).status_code == 401
