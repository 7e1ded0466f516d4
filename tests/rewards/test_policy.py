"""The role x action policy holds for every route of the service."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from rewards import policy

ROLES = ("admin", "marketing", "auditor")


def _routes(app: Flask) -> list[tuple[str, str, str, policy.Rule | None]]:
    rows = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):  # type: ignore[operator]
            found = policy.rule_for(view, method)
            if found is None and rule.endpoint.startswith("api-docs."):
                found = policy.Rule("public")
            rows.append((rule.rule, rule.endpoint, method, found))
    return rows


def _url(rule: str) -> str:
    # Fill path parameters with a value that parses for any converter.
    import re

    return re.sub(r"<(?:[^:>]+:)?[^>]+>", "1", rule)


def test_every_route_declares_its_access(app: Flask) -> None:
    missing = [(r, m) for r, _e, m, found in _routes(app) if found is None]
    assert missing == []
    for _r, _e, _m, found in _routes(app):
        assert found is not None
        if found.kind == "staff":
            assert found.action in policy.ACTIONS


def test_auditors_change_nothing(app: Flask) -> None:  # the app: every feature has declared its rows
    writes = [
        a
        for a, roles in policy.ACTIONS.items()
        if "auditor" in roles and a.split(".")[1] in {"manage", "import", "users", "clients"}
    ]
    assert writes == []


def test_policy_enforced_for_every_staff_route_and_role(app: Flask, logged_in: Callable[[str], FlaskClient]) -> None:
    clients = {role: logged_in(role) for role in ROLES}
    anonymous = app.test_client()
    checked = 0
    for rule, endpoint, method, found in _routes(app):
        assert found is not None
        url = _url(rule)
        if endpoint == "auth.logout":
            continue  # it would end the session the rest of the loop needs; test_auth covers it
        if found.kind == "staff":
            for role, c in clients.items():
                status = c.open(url, method=method).status_code
                if policy.allowed(role, found.action):  # type: ignore[arg-type]
                    assert status not in (401, 403), (role, method, url, status)
                else:
                    assert status == 403, (role, method, url, status)
                checked += 1
            status = anonymous.open(url, method=method).status_code
            assert status in (302, 401), (method, url, status)
        elif found.kind == "api":
            # a staff cookie is no API credential
            for c in clients.values():
                assert c.open(url, method=method).status_code == 401, (method, url)
            assert anonymous.open(url, method=method).status_code == 401
        checked += 1
    assert checked > 20


def test_api_scope_enforced_for_every_api_route(app: Flask, api_token: Callable[..., str]) -> None:
    from tests.support import bearer

    wrong = api_token("priority:read")
    for rule, _endpoint, method, found in _routes(app):
        assert found is not None
        if found.kind != "api" or found.scope is None:
            continue
        token = wrong if found.scope != "priority:read" else api_token("codes:validate")
        status = app.test_client().open(_url(rule), method=method, headers=bearer(token)).status_code
        assert status == 403, (method, rule, status)


def test_every_action_has_roles(app: Flask) -> None:
    assert len(policy.ACTIONS) > 10
    for action, roles in policy.ACTIONS.items():
        assert roles <= set(ROLES) and roles, action
