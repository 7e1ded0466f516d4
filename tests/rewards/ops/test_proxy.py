"""Behind a reverse proxy the per-address limits count real clients, never the proxy's address."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask, request

from rewards.policy import public

PROXY = "10.0.0.2"  # the reverse proxy's own address: every request reaches the app from it
ALICE, BOB = "203.0.113.5", "198.51.100.7"


def _through_proxy(app: Flask, client_addr: str, path: str, data: dict[str, str],
                   forged: str | None = None) -> int:
    """POST as the proxy does: from its address, appending the client's address to X-Forwarded-For."""
    forwarded = f"{forged}, {client_addr}" if forged else client_addr
    response = app.test_client().post(
        path, data=data, environ_base={"REMOTE_ADDR": PROXY},
        headers={"X-Forwarded-For": forwarded, "X-Forwarded-Proto": "https"},
    )
    return response.status_code


def _fail_login(app: Flask, client_addr: str, attempt: int, forged: str | None = None) -> int:
    # A new user name each time: only the per-address limit (20 a minute) can refuse.
    return _through_proxy(app, client_addr, "/login", {"username": f"nobody{attempt}", "password": "x"}, forged)


def test_one_clients_login_failures_do_not_lock_out_another(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(RATELIMIT_ENABLED=True, TRUSTED_PROXIES=1)
    statuses = [_fail_login(app, ALICE, i) for i in range(21)]
    assert statuses[:20] == [401] * 20
    assert statuses[20] == 429
    assert _fail_login(app, BOB, 99) == 401


def test_forged_forwarded_for_does_not_dodge_the_limit(app_factory: Callable[..., Flask]) -> None:
    """A client writing its own X-Forwarded-For: one trusted hop takes the address the proxy appended."""
    app = app_factory(RATELIMIT_ENABLED=True, TRUSTED_PROXIES=1)
    statuses = [_fail_login(app, ALICE, i, forged=f"192.0.2.{i}") for i in range(21)]
    assert statuses[20] == 429


def test_without_trusted_proxies_every_client_is_the_proxy(app_factory: Callable[..., Flask]) -> None:
    """The default trusts no forwarding header, so behind a proxy all clients share one count."""
    app = app_factory(RATELIMIT_ENABLED=True)
    for i in range(20):
        assert _fail_login(app, ALICE, i) == 401
    assert _fail_login(app, BOB, 99) == 429


def test_public_draw_check_counts_real_clients(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(RATELIMIT_ENABLED=True, TRUSTED_PROXIES=1, DRAW_LOOKUP_LIMIT="3 per minute")
    path, data = "/public/draws/no-such-draw/check", {"account": "1", "code": "x"}
    assert [_through_proxy(app, ALICE, path, data) for _ in range(4)] == [404, 404, 404, 429]
    assert _through_proxy(app, BOB, path, data) == 404


@pytest.mark.parametrize(("hops", "seen"), [(1, f"https {ALICE}"), (0, f"http {PROXY}")])
def test_the_app_sees_the_client_address_and_scheme(app_factory: Callable[..., Flask], hops: int, seen: str) -> None:
    app = app_factory(TRUSTED_PROXIES=hops)
    app.add_url_rule("/_seen", "seen", public(lambda: f"{request.scheme} {request.remote_addr}"))
    response = app.test_client().get("/_seen", environ_base={"REMOTE_ADDR": PROXY},
                                     headers={"X-Forwarded-For": ALICE, "X-Forwarded-Proto": "https"})
    assert response.get_data(as_text=True) == seen


@pytest.mark.parametrize("value", [-1, 11, True])
def test_trusted_proxies_must_be_a_small_count(app_factory: Callable[..., Flask], value: object) -> None:
    from rewards.config import ConfigError

    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        app_factory(TRUSTED_PROXIES=value)
