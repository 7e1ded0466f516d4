"""One name per kind of actor in the event log: API caller, staff user, command line."""

from __future__ import annotations

import getpass
from collections.abc import Callable

from flask import Flask, g
from sqlalchemy import select

from rewards.actor import current_actor
from rewards.apikeys.services import Caller
from rewards.audit.models import Event
from rewards.db import db
from tests.support import login


def test_outside_a_request_the_actor_is_the_command_lines_user(app: Flask) -> None:
    with app.app_context():
        assert current_actor() == f"cli:{getpass.getuser()}"


def test_an_api_caller_is_named_by_its_client(app: Flask) -> None:
    with app.test_request_context("/api/v1/whoami"):
        g.caller = Caller(client_id=1, name="billing", scopes=frozenset(), key_id=1)
        assert current_actor() == "api:billing"


def test_a_page_request_names_the_logged_in_user(app: Flask, make_user: Callable[..., str]) -> None:
    name = make_user("marketing")
    client = app.test_client()
    login(client, name)
    with client:
        client.get("/")
        assert current_actor() == name
    with app.test_request_context("/public/draws/"):
        assert current_actor() == "anonymous"


def test_a_command_records_its_actor(app: Flask) -> None:
    command = ["keys", "create-client", "billing", "--scope", "snapshots:write"]
    result = app.test_cli_runner().invoke(args=command)
    assert result.exit_code == 0, result.output
    with app.app_context():
        actors = db.session.scalars(select(Event.actor).where(Event.action == "apiclient.created")).all()
    assert actors == [f"cli:{getpass.getuser()}"]
