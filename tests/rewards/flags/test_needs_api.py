"""The register of needs through the API: set an entry, the look-up answer, the password check, the
declared list, bulk files; personal data never in answers."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from rewards.db import db
from rewards.flags.shell import local_today
from tests.rewards.flags.helpers import store_snapshot
from tests.support import bearer


def test_set_needs_and_look_up(app: Flask, client: FlaskClient, api_token: Callable[..., str]) -> None:
    write = api_token("flags:write", "priority:read", name="crm")
    read = api_token("priority:read", name="callcentre")
    with app.app_context():
        today = local_today().isoformat()
    body = {"needs": [{"code": "medical_equipment"}], "consent_channel": "phone"}
    r = client.post("/api/v1/accounts/0077/needs", json=body, headers=bearer(write))
    assert r.status_code == 422 and "consent_on" in r.json["errors"]["json"]
    body |= {"consent_on": today, "nominee_name": "Пётр", "password": "тайна-1"}
    body["needs"].append({"code": "hardship.income_loss"})
    r = client.post("/api/v1/accounts/0077/needs", json=body, headers=bearer(write))
    assert r.status_code == 422 and "ends_on" in r.json["errors"], r.json
    body["needs"][1]["ends_on"] = "2099-01-31"
    r = client.post("/api/v1/accounts/0077/needs", json=body, headers=bearer(write))
    assert r.status_code == 201 and r.json["status"] == "created", r.json
    assert client.post("/api/v1/accounts/0077/needs", json={**body, "password": None},
                       headers=bearer(write)).json["status"] == "unchanged"
    r = client.get("/api/v1/accounts/0077/priority", headers=bearer(read))
    assert r.status_code == 200
    answer = r.json
    assert answer["priority"] and answer["nominee"] is True and answer["password_set"] is True
    assert [n["code"] for n in answer["needs"]] == ["hardship.income_loss", "medical_equipment"]
    assert answer["needs"][1]["action"]["ru"] and answer["needs"][0]["ends_on"] == "2099-01-31"
    assert "Пётр" not in r.get_data(as_text=True) and "тайна" not in r.get_data(as_text=True)
    # the look-up answers its service's dict without the response wrapper: the same as PrioritySchema's dump
    with app.app_context():
        from rewards.flags import services
        from rewards.flags.schemas import PrioritySchema

        dumped = PrioritySchema().dump(services.priority_now(db.engine, "0077", today=local_today()))
    assert answer == dumped and set(answer["needs"][0]) == set(dumped["needs"][0])
    r = client.post("/api/v1/accounts/0077/priority/password", json={"password": "тайна-1"}, headers=bearer(read))
    assert r.json == {"match": True}
    r = client.post("/api/v1/accounts/0077/priority/password", json={"password": "нет"}, headers=bearer(read))
    assert r.json == {"match": False}
    assert client.post("/api/v1/accounts/0077/needs", json=body, headers=bearer(read)).status_code == 403


def test_password_checks_are_limited_per_account(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(PRIORITY_PASSWORD_LIMIT="2 per minute", RATELIMIT_ENABLED=True)
    with app.app_context():
        from rewards.apikeys.services import create_client

        _client, token = create_client(db.session, "cc", ["priority:read"], actor="t")
        db.session.commit()
    c = app.test_client()
    url = "/api/v1/accounts/0078/priority/password"
    codes = [c.post(url, json={"password": "x"}, headers=bearer(token)).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_need_list_and_bulk(app: Flask, client: FlaskClient, api_token: Callable[..., str]) -> None:
    write = api_token("flags:write", "priority:read", name="crm")
    r = client.get("/api/v1/flags/needs", headers=bearer(write))
    assert r.status_code == 200 and r.json["version"] == 1
    hearing = next(n for n in r.json["needs"] if n["code"] == "disability.hearing")
    assert (hearing["temporary"], hearing["reverify"], hearing["label"]["ru"]) == (False, True, "Инвалидность: слух")
    codes = [n["code"] for n in r.json["needs"]]
    assert "disability.hearing" in codes and "hardship.income_loss" in codes
    with app.app_context():
        store_snapshot(db.session, local_today().strftime("%Y-%m"), {"0101": "beginner"})
        db.session.commit()
        day = local_today().isoformat()
    bad = f"account;needs;consent_on;consent_channel\n0101;pensioner;{day};phone\n0102;pensioner;;phone\n".encode()
    r = client.post("/api/v1/flags/needs/bulk", data=bad, headers=bearer(write) | {"Content-Type": "text/csv"})
    assert r.status_code == 422 and set(r.json["errors"]) == {"line 3"}
    good = bad.splitlines(keepends=True)[0] + bad.splitlines(keepends=True)[1]
    r = client.post("/api/v1/flags/needs/bulk", data=good, headers=bearer(write) | {"Content-Type": "text/csv"})
    assert r.status_code == 200 and r.json["created"] == 1
