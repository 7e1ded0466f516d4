"""A consumer sending webhooks killed with -9 loses no message, on both engines: redemptions queue
their send task after each commit; a consumer sends (slowly: the receiver takes its time) and is
killed mid-stream; the next consumer sends the rest, and the leases of what the dead one was sending
expire, so those go again with the same ``webhook-id``. Every message arrives, signed."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from partners.models import DELIVERED, WebhookDelivery, WebhookMessage
from partners.services.catalog import PARTNER_SCOPES
from rewards.db import db
from tests.partners.webhook_receiver import Receiver, check_signed
from tests.rewards.jobs.consumers import Consumers, kill_nine, queue_settings
from tests.support import bearer

pytestmark = pytest.mark.slow
CODES = 60
LEASE = 2
SETTINGS = {"WEBHOOK_ALLOW_LOCAL": True, "WEBHOOK_LEASE_SECONDS": LEASE, "WEBHOOK_SENDERS": 2}


@pytest.fixture
def app(app_factory: Callable[..., Flask], tmp_path: Path) -> Flask:
    return app_factory(**queue_settings(tmp_path, **SETTINGS))


@pytest.fixture
def consumers(backend: str, tmp_path: Path) -> Iterator[Consumers]:
    started = Consumers(backend, tmp_path, queue_settings(tmp_path, **SETTINGS))
    yield started
    started.stop_all()


def _delivered(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(WebhookDelivery)
                                     .where(WebhookDelivery.state == DELIVERED)) or 0)


def test_kill_minus_nine_while_sending_loses_nothing(
    app: Flask, client: Any, consumers: Consumers, make_partner: Any, make_offer: Any, add_snapshot: Any,
    issue_codes: Any,
) -> None:
    gs = make_partner(scopes=(*PARTNER_SCOPES, "webhooks:manage"))
    sid = add_snapshot("2026-10", [(f"74{i:08d}", "ideal") for i in range(CODES)])
    codes = issue_codes(make_offer(gs["id"]), sid)
    with Receiver(delay=0.1) as receiver:
        r = client.post("/api/v1/partner/webhooks/endpoints", json={"url": receiver.url, "events": ["code.redeemed"]},
                        headers=bearer(gs["token"]))
        secret = r.get_json()["secret"]
        for i, code in enumerate(codes):
            r = client.post("/api/v1/partner/redemptions", json={"code": code, "order_ref": f"o-{i}"},
                            headers={**bearer(gs["token"]), "Idempotency-Key": f"k-{i}"})
            assert r.status_code == 201
        first = consumers.start()
        deadline = time.monotonic() + 60
        while len(receiver.all()) < CODES // 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        kill_nine(first)
        at_kill = _delivered(app)
        assert 0 < len(receiver.all()) and at_kill < CODES, consumers.log()  # killed mid-stream
        consumers.start()
        time.sleep(LEASE + 0.5)  # the dead consumer's leases end; the next commit's task sends them
        with app.app_context():
            app.extensions["partners.webhooks.task"].task()  # what the next redemption's commit queues
        deadline = time.monotonic() + 90
        while _delivered(app) < CODES and time.monotonic() < deadline:
            time.sleep(0.1)
        got = receiver.accepted()
    assert _delivered(app) == CODES, consumers.log()
    with app.app_context():
        ids = set(db.session.scalars(select(WebhookMessage.public_id)))
    assert len(ids) == CODES
    assert {g.id for g in got} == ids  # none lost; one sent twice at most if it was in flight at the kill
    assert len(got) - len(ids) <= int(SETTINGS["WEBHOOK_SENDERS"])
    for item in got:
        check_signed(item, secret)
