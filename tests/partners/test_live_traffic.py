"""Partner and cabinet calls tell long jobs that live traffic is being served (``rewards.livetraffic``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from rewards import livetraffic


def test_partner_calls_note_live_traffic(app: Flask, client: Any, make_partner: Callable[..., Any]) -> None:
    partner = make_partner()
    assert not livetraffic.seen(app)
    answer = client.post("/api/v1/partner/codes/validate", json={"code": "GSRV-NOPE-NOPE"},
                         headers={"Authorization": f"Bearer {partner['token']}"})
    assert answer.status_code == 200  # "not valid" is an answer too
    assert livetraffic.seen(app)
