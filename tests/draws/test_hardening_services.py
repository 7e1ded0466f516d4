"""Hardening of the draw services on both databases: no re-roll by cancelling, the yearly cap across
unpublished draws, clean refusals instead of errors, the stored drand relay answer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from draws import services, wiring
from draws.engine import entropy_available_at
from draws.models import DrawCredit
from draws.verify import FAIL, PASS
from rewards.db import db
from rewards.errors import Conflict, DomainError
from tests.draws.conftest import T0, DrawKit, forged_drand_value, kit_verify


def _entropy_time(pid: str) -> datetime:
    source = json.loads(services.get_draw(db.session, pid).entropy_source)
    return datetime.fromtimestamp(entropy_available_at(source), UTC)


# ---------------------------------------------------------------------------- item 1: no re-roll
def test_frozen_draw_cannot_be_cancelled_once_the_entropy_exists(kit: DrawKit) -> None:
    pid = kit.draft()
    kit.announce(pid)
    kit.freeze(pid)
    at = _entropy_time(pid)
    for moment in (at, at + timedelta(days=1)):
        with pytest.raises(Conflict, match="cannot be cancelled"):
            services.cancel(db.session, pid, "we do not like it", actor="m", signer=kit.signer, now=moment)
        db.session.rollback()
    assert services.get_draw(db.session, pid).state == "frozen"
    kit.draw(pid)  # only the draw step is possible
    assert services.get_draw(db.session, pid).state == "drawn"


def test_cancellation_before_the_entropy_is_signed_with_its_time(kit: DrawKit) -> None:
    pid = kit.draft()
    kit.announce(pid)
    kit.freeze(pid)
    at = _entropy_time(pid)
    services.cancel(db.session, pid, "snapshot was wrong", actor="m", signer=kit.signer, now=at - timedelta(seconds=1))
    db.session.commit()
    draw = services.get_draw(db.session, pid)
    payload = json.loads(draw.cancellation or "")["payload"]
    assert payload["entropy_available_at"] == at.strftime("%Y-%m-%dT%H:%M:%SZ")
    record = services.public_record_of(db.session, draw, kit.signer.keyset())
    checks = {c.name: c.status for c in kit_verify(record, kit.signer.keyset())}
    assert checks["cancellation.timing"] == PASS and FAIL not in checks.values(), checks


def test_verifier_flags_a_late_cancellation_of_a_frozen_draw(kit: DrawKit, app: Any) -> None:
    pid = kit.draft()
    kit.announce(pid)
    kit.freeze(pid)
    at = _entropy_time(pid)
    # what the old code allowed: a cancellation after the entropy existed (signed by the service's key)
    draw = services.get_draw(db.session, pid)
    announcement = json.loads(draw.announcement or "")["payload"]
    from draws.engine import payload_digest

    late = kit.signer.sign({
        "type": "draw.cancellation", "version": 2, "draw_id": pid, "announcement_digest": payload_digest(announcement),
        "reason": "re-roll", "state_before": "frozen",
        "cancelled_at": (at + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "entropy_available_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "reason_code": "staff", "cosignatures": [],
    })
    draw.state, draw.cancellation = "cancelled", json.dumps(late)
    db.session.commit()
    record = services.public_record_of(db.session, draw, kit.signer.keyset())
    checks = {c.name: c for c in kit_verify(record, kit.signer.keyset())}
    assert checks["cancellation.timing"].status == FAIL
    assert "could know the winners" in checks["cancellation.timing"].reason
    page = app.test_client().get(f"/public/draws/{pid}?lang=en").get_data(as_text=True)
    assert "after its entropy existed" in page


def test_missing_quorum_cancels_the_draw_publicly_and_verifies(kit: DrawKit) -> None:
    """One of two witnesses cosigned in time: the draw step cannot run, so it cancels the draw with that
    reason and the cosignatures it held; the verifier accepts that late cancellation, and would not
    if the listed cosignatures reached the quorum."""
    pid = kit.draft()
    kit.announce(pid)
    kit.freeze(pid, cosign=False)
    services.add_cosignature(db.session, pid, kit.cosignatures(pid)[0], actor="m",
                             now=services.get_draw(db.session, pid).frozen_at + timedelta(minutes=2))
    db.session.commit()
    value, at = kit.entropy_for(pid)
    draw = services.run_draw(db.session, pid, value, actor="m", signer=kit.signer, box=kit.box, now=at)
    db.session.commit()
    assert draw.state == "cancelled" and "1 of 2" in (draw.cancel_reason or "")
    cancellation = json.loads(draw.cancellation or "")["payload"]
    assert cancellation["reason_code"] == "witness_quorum_not_reached" and len(cancellation["cosignatures"]) == 1
    record = services.public_record_of(db.session, draw, kit.signer.keyset())
    checks = {c.name: c for c in kit_verify(record, kit.signer.keyset())}
    assert checks["cancellation.timing"].status == PASS, checks["cancellation.timing"].reason
    assert services.late_cancellation({k: v["payload"] for k, v in services.envelopes(draw).items()}) is None
    with pytest.raises(Conflict):
        services.add_cosignature(db.session, pid, kit.cosignatures(pid)[1], actor="m", now=at)


def test_late_cosignature_is_refused_with_the_rule(kit: DrawKit) -> None:
    pid = kit.draft()
    kit.announce(pid)
    kit.freeze(pid, cosign=False)
    _value, at = kit.entropy_for(pid)
    late = kit.cosignatures(pid, at=at)[0]  # the witness's clock says the entropy already existed
    with pytest.raises(DomainError, match="not before the entropy existed"):
        services.add_cosignature(db.session, pid, late, actor="m", now=at)
    db.session.rollback()
    stranger = kit.cosignatures(pid)[0]
    stranger["signature"]["kid"] = "0" * 16
    with pytest.raises(DomainError, match="not a witness of this draw"):
        services.add_cosignature(db.session, pid, stranger, actor="m")


def test_announced_draw_can_still_be_cancelled_after_its_entropy_time(kit: DrawKit) -> None:
    pid = kit.draft()
    kit.announce(pid)  # never frozen: freeze is refused now, so cancelling is the only way out
    at = _entropy_time(pid)
    services.cancel(db.session, pid, "missed the freeze", actor="m", signer=kit.signer, now=at + timedelta(hours=1))
    db.session.commit()
    record = services.public_record_of(db.session, services.get_draw(db.session, pid), kit.signer.keyset())
    checks = {c.name: c.status for c in kit_verify(record, kit.signer.keyset())}
    assert checks["cancellation.timing"] == PASS


# ------------------------------------------------------------------- item 2: drand, relay answer
def test_unsigned_drand_value_is_refused(kit: DrawKit) -> None:
    pid = kit.draft()
    kit.announce(pid)
    kit.freeze(pid)
    value, at = kit.entropy_for(pid)
    del value["signature"]
    with pytest.raises(DomainError, match="signature") as info:
        services.run_draw(db.session, pid, value, actor="m", signer=kit.signer, box=kit.box, now=at)
    db.session.rollback()
    assert "entropy" in info.value.error_details()


def test_fetched_relay_answer_is_stored(kit: DrawKit) -> None:
    """The service asks the chain's relays in order: a forged round is skipped, the next verifies."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    pid = kit.draft()
    kit.announce(pid)
    kit.freeze(pid)
    value, at = kit.entropy_for(pid)
    good = json.dumps({"round": value["round"], "randomness": value["randomness"], "signature": value["signature"]})
    forged = json.dumps(forged_drand_value(value["round"]))

    class Relay(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = (forged if self.path.startswith("/forged/") else good).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Relay)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        kit.app.config["DRAND_FETCH"] = True
        kit.app.config["DRAND_CHAINS"] = {**kit.chains,
                                          "test": {**kit.chains["test"], "relays": [f"{base}/forged", base]}}
        with kit.app.test_request_context():
            fetched, relay = wiring.fetch_drand("test", value["round"])
    finally:
        server.shutdown()
    assert fetched == value and relay["response"] == good and relay["url"].startswith(base + "/")
    services.run_draw(db.session, pid, fetched, actor="m", signer=kit.signer, box=kit.box, now=at, relay=relay)
    db.session.commit()
    stored = json.loads(services.get_draw(db.session, pid).entropy_relay or "{}")
    assert stored["response"] == good and stored["url"] == relay["url"]


# -------------------------------------------------------------------------- item 4: yearly cap
def test_cap_counts_winners_of_drawn_but_unpublished_draws(kit: DrawKit) -> None:
    first = kit.draft(prizes=[{"amount_kopecks": 350_000, "count": 3}], reserves=0)
    kit.announce(first)
    kit.freeze(first)
    kit.draw(first)  # drawn, not published: no credits yet
    assert db.session.scalar(select(DrawCredit.id)) is None
    winners = [row.account for row in db.session.scalars(select(services.DrawWinner))]
    second = kit.draft(prizes=[{"amount_kopecks": 100_000, "count": 1}], freeze_at=T0 + timedelta(days=20))
    kit.announce(second)
    kit.freeze(second)
    accounts = services.frozen_columns(db.session, services.get_draw(db.session, second))[0]
    assert len(winners) == 3 and not set(winners) & set(accounts)
    assert len(accounts) == 20 - 3


def test_freeze_refused_while_another_draw_of_the_year_is_frozen(kit: DrawKit) -> None:
    first = kit.draft()
    kit.announce(first)
    second = kit.draft(freeze_at=T0 + timedelta(days=10, minutes=10))
    kit.announce(second)
    kit.freeze(first)
    with pytest.raises(Conflict, match=f"draw {first} .* is frozen but not drawn yet"):
        kit.freeze(second)
    db.session.rollback()
    assert services.get_draw(db.session, second).state == "announced"
    other_year = kit.draft(freeze_at=datetime(2027, 1, 10, 12, 0, tzinfo=UTC))
    kit.announce(other_year)
    kit.freeze(other_year)  # another calendar year: not blocked
    assert services.get_draw(db.session, other_year).state == "frozen"


def test_calendar_year_is_the_local_one(kit: DrawKit) -> None:
    # 2026-12-31T20:00Z is already 2027-01-01 in Yekaterinburg (UTC+5): a 2027 draw
    late = kit.draft(freeze_at=datetime(2026, 12, 31, 20, 0, tzinfo=UTC))
    kit.announce(late)
    kit.freeze(late)
    nxt = kit.draft(freeze_at=datetime(2027, 3, 1, 12, 0, tzinfo=UTC))
    kit.announce(nxt)
    with pytest.raises(Conflict, match="of 2027"):
        kit.freeze(nxt)
    db.session.rollback()


# --------------------------------------------------------------------- item 7: clean refusals
@pytest.mark.parametrize("value", [[1, 2], "x", 5, None])
def test_entropy_that_is_not_an_object_is_refused(kit: DrawKit, value: Any) -> None:
    pid = kit.draft()
    kit.announce(pid)
    kit.freeze(pid)
    _good, at = kit.entropy_for(pid)
    with pytest.raises(DomainError) as info:
        services.run_draw(db.session, pid, value, actor="m", signer=kit.signer, box=kit.box, now=at)
    db.session.rollback()
    assert "entropy" in info.value.error_details()


def _exported(kit: DrawKit) -> list[list[str]]:
    kit.full()
    batch = services.export_credits(db.session, actor="m")
    db.session.commit()
    return [line.split(",") for line in batch.content.strip().splitlines()[1:]]


@pytest.mark.parametrize(
    ("cid", "amount"),
    [("²", None), ("1²", None), ("12345678901234567890123", None), (None, "12345678901234567890123"), (None, "٣"),
     ("-1", None), ("2147483648", None)],
)
def test_confirmation_numbers_refused_by_line(kit: DrawKit, cid: str | None, amount: str | None) -> None:
    rows = _exported(kit)
    lines = [f"{r[0]},{r[3]},{r[4]},posted" for r in rows]
    first = rows[0]
    lines[1] = f"{cid or first[0]},{first[3]},{amount or first[4]},posted"
    with pytest.raises(DomainError) as info:
        services.import_confirmation(db.session, "credit_id,account,amount_kopecks,status\n" + "\n".join(lines) + "\n",
                                     actor="billing")
    db.session.rollback()
    assert set(info.value.error_details()) == {"line 3"}, info.value.error_details()
    assert set(db.session.scalars(select(DrawCredit.state))) == {"exported"}


def test_confirmation_mismatch_is_keyed_by_line(kit: DrawKit) -> None:
    rows = _exported(kit)
    text = (
        "credit_id,account,amount_kopecks,status\n"
        + f"{rows[0][0]},{rows[0][3]},{rows[0][4]},posted\n"
        + f"{rows[1][0]},{rows[1][3]},1,posted\n"
        + "999999,x,1,posted\n"
    )
    with pytest.raises(DomainError) as info:
        services.import_confirmation(db.session, text, actor="billing")
    db.session.rollback()
    assert set(info.value.error_details()) == {"line 3", "line 4"}

