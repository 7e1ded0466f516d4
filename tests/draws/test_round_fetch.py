"""The periodic drand fetch: a frozen draw's due round is fetched from the relays (a local http.server),
verified and stored once; the draw's "fetch" then uses it; a forged answer is never stored; the
setting turns it off."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import select

from draws import rounds, services
from rewards.audit.models import Event
from rewards.config import DEFAULTS
from rewards.db import db, utcnow
from rewards.jobs import registry, runner
from tests.draws.conftest import BEACON, T0, TEST_CHAIN, make_kit
from tests.draws.test_relay import Relays, forged_text, relays  # noqa: F401  (the local relay fixture)
from tests.support import bearer


def _app(app_factory: Callable[..., Flask], relays: Relays, **more: Any) -> Flask:  # noqa: F811
    chain = {**TEST_CHAIN, "relays": [relays.url("down"), relays.url("honest")]}
    return app_factory(**{"DRAND_CHAINS": {**DEFAULTS["DRAND_CHAINS"], "test": chain}, "DRAND_FETCH": True, **more})


def _frozen(app: Flask) -> tuple[str, int]:
    with app.app_context():
        kit = make_kit(app)
        pid = kit.draft()
        kit.announce(pid)
        kit.freeze(pid)
        return pid, json.loads(services.get_draw(db.session, pid).entropy_source)["round"]


def _periodic(app: Flask) -> None:
    [work] = [w for w in registry.periodic(app) if w.name == "draws.fetch_rounds"]
    runner.run_periodic(app, work)  # as the consumer runs it: its own transaction, committed


def test_due_round_is_fetched_verified_stored_once_and_used_by_the_draw(
    app_factory: Callable[..., Flask], relays: Relays, api_token: Any  # noqa: F811
) -> None:
    app = _app(app_factory, relays)
    pid, round_number = _frozen(app)
    with app.app_context():
        assert rounds.due_rounds(db.session, app.config["DRAND_CHAINS"], T0) == []  # not due at the freeze
        assert [d.public_id for d in rounds.due_rounds(db.session, app.config["DRAND_CHAINS"], utcnow())] == [pid]
    relays.serve("honest", BEACON.chain, round_number, json.dumps(BEACON.relay_json(round_number)))
    _periodic(app)
    assert len(relays.asked) == 2  # the first relay is down (404), the second answers
    with app.app_context():
        stored = json.loads(services.get_draw(db.session, pid).entropy_relay)
        assert stored["url"] == f"{relays.url('honest')}/{BEACON.chain.chain_hash}/public/{round_number}"
        [event] = db.session.scalars(select(Event).where(Event.action == "draw.round_fetched")).all()
        assert event.actor == "system:drand" and json.loads(event.details)["round"] == round_number
    _periodic(app)
    assert len(relays.asked) == 2  # fetched once
    client = app.test_client()
    answer = client.post(f"/api/v1/draws/{pid}/draw", json={"fetch": True}, headers=bearer(api_token("draws:write")))
    assert answer.status_code == 200 and answer.get_json()["state"] == "drawn", answer.get_json()
    assert len(relays.asked) == 2  # the draw used the stored round
    with app.app_context():
        draw = services.get_draw(db.session, pid)
        assert json.loads(draw.entropy_relay) == stored  # the record kept with the result is the fetched one


def test_a_forged_round_is_not_stored_and_the_setting_turns_it_off(
    app_factory: Callable[..., Flask], relays: Relays  # noqa: F811
) -> None:
    app = _app(app_factory, relays)
    pid, round_number = _frozen(app)
    relays.serve("honest", BEACON.chain, round_number, forged_text(round_number))
    _periodic(app)
    with app.app_context():
        assert services.get_draw(db.session, pid).entropy_relay is None
    assert len(relays.asked) == 2
    off = _app(app_factory, relays, DRAND_FETCH_CRON="")
    assert "draws.fetch_rounds" not in [w.name for w in registry.periodic(off)]
    no_network = _app(app_factory, relays, DRAND_FETCH=False)
    _periodic(no_network)
    assert len(relays.asked) == 2  # DRAND_FETCH off: no relay is asked


def test_nothing_due_asks_nobody(app_factory: Callable[..., Flask], relays: Relays) -> None:  # noqa: F811
    _periodic(_app(app_factory, relays))
    assert relays.asked == []
