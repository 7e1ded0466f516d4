"""Services of the partners feature on SQLite and PostgreSQL (no HTTP)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from partners import codes as codecore
from partners.models import Code, IssueRun, Offer, Partner, RedemptionEvent
from partners.services import catalog, idempotency, issue, redemption, reports
from partners.services.redemption import PartnerRef, Refused
from rewards.db import db, utcnow
from rewards.errors import DomainError

pytestmark = pytest.mark.usefixtures("backend")

ROWS = [(f"74{i:08d}", t) for i, t in enumerate(["beginner", "promising", "responsible", "ideal"] * 5)]


def ref(p: dict[str, Any]) -> PartnerRef:
    return PartnerRef(p["id"], p["prefix"])


def test_partner_rules(app: Flask, make_partner: Callable[..., dict[str, Any]]) -> None:
    make_partner()
    with app.app_context():
        for name, prefix, field in [("Gorserv", "AB", "name"), ("Other", "gsrv", "prefix"), ("X", "GO", "prefix")]:
            with pytest.raises(DomainError) as info:
                catalog.create_partner(db.session, name, prefix, actor="t")
            assert info.value.field == field
        db.session.rollback()


def test_offer_rules(app: Flask, make_partner: Callable[..., dict[str, Any]]) -> None:
    p = make_partner()
    now = utcnow()
    good = dict(title="t", discount_kind="percent", discount_value=5, tiers=["ideal"], valid_from=now,
                valid_to=now + timedelta(days=1))
    bad = [
        ({"discount_value": 0}, "discount_value"),
        ({"discount_value": 101}, "discount_value"),
        ({"discount_kind": "bogus"}, "discount_kind"),
        ({"tiers": ["gold"]}, "tiers"),
        ({"tiers": []}, "tiers"),
        ({"valid_to": now}, "valid_to"),
        ({"budget": 0}, "budget"),
        ({"title": ""}, "title"),
    ]
    with app.app_context():
        partner = db.session.get(Partner, p["id"])
        for change, field in bad:
            with pytest.raises(DomainError) as info:
                catalog.create_offer(db.session, partner, actor="t", **{**good, **change})
            assert info.value.field == field
        offer = catalog.create_offer(db.session, partner, actor="t", **{**good, "tiers": "ideal,promising"})
        assert offer.tier_list == ["promising", "ideal"]


def test_bulk_issue_is_idempotent_and_respects_tiers(app, make_partner, make_offer, add_snapshot, issue_codes) -> None:
    p = make_partner()
    offer_id = make_offer(p["id"])
    sid = add_snapshot("2026-10", ROWS)
    first = issue_codes(offer_id, sid)
    assert len(first) == 10  # responsible + ideal
    assert all(codecore.parse(c).prefix == "GSRV" for c in first)
    again = issue_codes(offer_id, sid)
    assert again == first  # nothing new, nothing changed
    # a new snapshot where one more account qualifies: only that one is issued
    sid2 = add_snapshot("2026-11", ROWS + [("7499999999", "ideal")])
    third = issue_codes(offer_id, sid2)
    assert len(third) == 11 and set(first) < set(third)
    with app.app_context():
        runs = db.session.scalars(select(IssueRun).order_by(IssueRun.id)).all()
        assert [(r.planned, r.issued, r.state) for r in runs] == [(10, 10, "done"), (0, 0, "done"), (1, 1, "done")]


def test_bulk_issue_in_small_batches_and_budget(app, make_partner, make_offer, add_snapshot) -> None:
    from partners import snapshots

    p = make_partner()
    offer_id = make_offer(p["id"], budget=7, tiers=["beginner", "promising", "responsible", "ideal"])
    sid = add_snapshot("2026-10", ROWS)
    seen: list[int] = []
    with app.app_context():
        offer = db.session.get(Offer, offer_id)
        run = issue.issue_all(db.session, offer, snapshots.SnapshotRef(sid, "2026-10"), actor="t",
                              commit=db.session.commit, progress=lambda r: seen.append(r.issued), batch_size=3)
        assert (run.planned, run.issued, run.skipped_budget) == (7, 7, 13)
        assert seen == [3, 6, 7, 7]
        assert issue.issued_count(db.session, offer_id) == 7


def test_export_lines(app, make_partner, make_offer, add_snapshot, issue_codes) -> None:
    p = make_partner()
    offer_id = make_offer(p["id"])
    codes = issue_codes(offer_id, add_snapshot("2026-10", ROWS))
    with app.app_context():
        text = "".join(issue.export_lines(db.session, db.session.get(Offer, offer_id), batch=3))
    lines = text.split("\r\n")
    assert lines[0] == "account;tier;code;issued_at;state"
    assert sorted(line.split(";")[2] for line in lines[1:-1]) == sorted(codes)


def test_on_demand_issue(app, make_partner, make_offer, add_snapshot) -> None:
    p = make_partner()
    offer_id = make_offer(p["id"], budget=2)
    add_snapshot("2026-09", [("A1", "beginner")])
    add_snapshot("2026-10", [("A1", "ideal"), ("A2", "ideal"), ("A3", "responsible"), ("A4", "beginner")])
    with app.app_context():
        offer = db.session.get(Offer, offer_id)
        code, created = issue.code_for_account(db.session, offer, "A1", actor="t")
        db.session.commit()
        assert created
        again, created2 = issue.code_for_account(db.session, offer, "A1", actor="t")
        assert (again.id, created2) == (code.id, False)
        with pytest.raises(issue.NotQualified):
            issue.code_for_account(db.session, offer, "A4", actor="t")
        with pytest.raises(issue.NotQualified):
            issue.code_for_account(db.session, offer, "nobody", actor="t")
        issue.code_for_account(db.session, offer, "A2", actor="t")
        db.session.commit()
        with pytest.raises(issue.BudgetExhausted):
            issue.code_for_account(db.session, offer, "A3", actor="t")
        db.session.rollback()
        [(c, o, printed)] = issue.codes_of_account(db.session, "A1")
        assert c.id == code.id and codecore.parse(printed).value == code.value


def _one_code(app, make_partner, make_offer, add_snapshot, issue_codes, **offer_kw) -> tuple[dict[str, Any], str, int]:
    p = make_partner()
    offer_id = make_offer(p["id"], **offer_kw)
    [code] = issue_codes(offer_id, add_snapshot("2026-10", [("7400000001", "ideal")]))
    return p, code, offer_id


def test_validate_redeem_rollback_cycle(app, make_partner, make_offer, add_snapshot, issue_codes) -> None:
    p, code, offer_id = _one_code(app, make_partner, make_offer, add_snapshot, issue_codes)
    with app.app_context():
        s, now = db.session, utcnow()
        assert redemption.validate(s.get_bind(), p["client_id"], code.lower().replace("-", " "), now)["valid"] is True
        ev, offer, parsed = redemption.redeem(s, ref(p), code, order_ref="o-1", amount_kopecks=12345, client_id=None,
                                              now=now, actor="t")
        s.commit()
        assert ev.discount_kopecks == 1234 and str(parsed) == code
        answer = redemption.validate(s.get_bind(), p["client_id"], code, now)
        assert (answer["valid"], answer["reason"]) == (False, "already_redeemed")
        with pytest.raises(Refused) as info:
            redemption.redeem(s, ref(p), code, order_ref="o-2", amount_kopecks=None, client_id=None, now=now, actor="t")
        assert info.value.code == "already_redeemed" and info.value.status == 409
        s.rollback()
        redemption.rollback(s, ref(p), ev.public_id, reason="cancelled", client_id=None, now=now, actor="t")
        s.commit()
        with pytest.raises(Refused) as info:
            redemption.rollback(s, ref(p), ev.public_id, reason=None, client_id=None, now=now, actor="t")
        assert info.value.code == "already_rolled_back"
        s.rollback()
        assert redemption.validate(s.get_bind(), p["client_id"], code, now)["valid"] is True
        ev2, _, _ = redemption.redeem(s, ref(p), code, order_ref="o-3", amount_kopecks=None, client_id=None, now=now,
                                      actor="t")
        s.commit()
        # the old redemption cannot be rolled back a second time even though the code is redeemed again
        with pytest.raises(Refused):
            redemption.rollback(s, ref(p), ev.public_id, reason=None, client_id=None, now=now, actor="t")
        s.rollback()
        kinds = s.execute(select(RedemptionEvent.kind, RedemptionEvent.seq).order_by(RedemptionEvent.id)).all()
        assert [tuple(k) for k in kinds] == [("redeem", 1), ("rollback", 2), ("redeem", 3)]
        rep = reports.offer_report(s, s.get(Offer, offer_id), app.config["TIMEZONE"])
        assert rep["totals"] == {"issued": 1, "redeemed": 2, "rolled_back": 1, "net_redeemed": 1}
        assert rep["by_tier"] == [{"tier": "ideal", "issued": 1, "redeemed": 2, "rolled_back": 1}]
        assert len(rep["by_day"]) in (1, 2) and sum(d["redeemed"] for d in rep["by_day"]) == 2


@pytest.mark.parametrize(
    "offer_kw, reason",
    [
        ({"valid_from": utcnow() + timedelta(days=1), "valid_to": utcnow() + timedelta(days=2)}, "not_yet_valid"),
        ({"valid_from": utcnow() - timedelta(days=2), "valid_to": utcnow() - timedelta(days=1)}, "expired"),
    ],
)
def test_validity_window(app, make_partner, make_offer, add_snapshot, offer_kw, reason) -> None:
    p = make_partner()
    now = utcnow()
    offer_id = make_offer(p["id"], valid_from=now - timedelta(hours=1), valid_to=now + timedelta(days=3))
    sid = add_snapshot("2026-10", [("A", "ideal")])
    with app.app_context():
        from partners import snapshots

        offer = db.session.get(Offer, offer_id)
        issue.issue_all(db.session, offer, snapshots.SnapshotRef(sid, "2026-10"), actor="t", commit=db.session.commit)
        offer.valid_from, offer.valid_to = offer_kw["valid_from"], offer_kw["valid_to"]
        db.session.commit()
        code = issue.display("GSRV", db.session.scalars(select(Code)).one())
        assert redemption.validate(db.engine, p["client_id"], code, utcnow())["reason"] == reason
        with pytest.raises(Refused) as info:
            redemption.redeem(db.session, ref(p), code, order_ref="o", amount_kopecks=None, client_id=None,
                              now=utcnow(), actor="t")
        assert info.value.code == reason


def test_revoked_and_withdrawn(app, make_partner, make_offer, add_snapshot, issue_codes) -> None:
    p, code, offer_id = _one_code(app, make_partner, make_offer, add_snapshot, issue_codes)
    with app.app_context():
        catalog.revoke_code(db.session, code, actor="t")
        db.session.commit()
        assert redemption.validate(db.engine, p["client_id"], code, utcnow())["reason"] == "revoked"
        with pytest.raises(DomainError):
            catalog.revoke_code(db.session, code, actor="t")
        db.session.rollback()
        catalog.withdraw_offer(db.session, db.session.get(Offer, offer_id), actor="t")
        db.session.commit()
        assert redemption.validate(db.engine, p["client_id"], code, utcnow())["reason"] == "revoked"


def test_other_partner_and_garbage(app, make_partner, make_offer, add_snapshot, issue_codes) -> None:
    p, code, _ = _one_code(app, make_partner, make_offer, add_snapshot, issue_codes)
    other = make_partner("Teplo", "TPK")
    with app.app_context():
        s = db.session
        # the same body under the other partner's prefix (recomputed check) and the real code: both absent
        body_value = codecore.parse(code).value
        forged = codecore.format_code("TPK", body_value)
        for text in (code, forged, codecore.format_code("TPK", 12345)):
            with pytest.raises(Refused) as info:
                redemption.validate(s.get_bind(), other["client_id"], text, utcnow())
            assert (info.value.code, info.value.status) == ("not_found", 404)
        for text in ("", "GSRV-XXXX", code[:-1] + ("0" if code[-1] != "0" else "1"), None, 42):
            with pytest.raises(Refused) as info:
                redemption.validate(s.get_bind(), p["client_id"], text, utcnow())
            assert info.value.code == "malformed"


def test_unique_constraints_back_the_state_gate(app, make_partner, make_offer, add_snapshot, issue_codes) -> None:
    from sqlalchemy.exc import IntegrityError

    p, code, offer_id = _one_code(app, make_partner, make_offer, add_snapshot, issue_codes)
    with app.app_context():
        s = db.session
        ev, _, _ = redemption.redeem(s, ref(p), code, order_ref="o", amount_kopecks=None, client_id=None, now=utcnow(),
                                     actor="t")
        s.commit()
        dup = RedemptionEvent(public_id="rd_dup", kind="redeem", code_id=ev.code_id, offer_id=offer_id,
                              partner_id=p["id"], seq=ev.seq, order_ref="x", at=utcnow())
        s.add(dup)
        with pytest.raises(IntegrityError):
            s.flush()
        s.rollback()
        existing = s.scalars(select(Code)).one()
        s.add(Code(offer_id=offer_id, value=existing.value, account="other", tier="ideal", issued_at=utcnow()))
        with pytest.raises(IntegrityError):
            s.flush()
        s.rollback()


def test_idempotency_records(app, make_partner) -> None:
    p = make_partner()
    with app.app_context():
        s, now = db.session, utcnow()
        h = idempotency.fingerprint("redeem", {"code": "x"})
        first = idempotency.claim(s, p["id"], "k1", "redeem", h, now)
        s.commit()
        assert not first.replay
        with pytest.raises(idempotency.InFlight):
            idempotency.claim(s, p["id"], "k1", "redeem", h, now)
        with pytest.raises(idempotency.KeyReused):
            idempotency.claim(s, p["id"], "k1", "redeem", idempotency.fingerprint("redeem", {"code": "y"}), now)
        s.rollback()
        idempotency.complete(s, first.record_id, 201, "application/json", b'{"a":1}')
        s.commit()
        again = idempotency.claim(s, p["id"], "k1", "redeem", h, now + timedelta(hours=23))
        assert again.replay and (again.status_code, again.body) == (201, b'{"a":1}')
        # a stale in-flight claim is taken over; an expired record frees the key
        stale = idempotency.claim(s, p["id"], "k2", "redeem", h, now)
        s.commit()
        taken = idempotency.claim(s, p["id"], "k2", "redeem", h, now + timedelta(minutes=2))
        assert taken.record_id == stale.record_id and not taken.replay
        fresh = idempotency.claim(s, p["id"], "k1", "redeem", h, now + timedelta(hours=25))
        assert not fresh.replay
        s.commit()
        assert idempotency.purge(s, now + timedelta(days=3)) == 2
        for bad in (None, "", " ", "x" * 256, "naïve"):
            with pytest.raises(DomainError):
                idempotency.check_key(bad)


def test_run_once_protocol(app, make_partner) -> None:
    """Work runs once per key; a refusal is stored like an answer; any other failure frees the key."""
    from partners.models import IdempotencyRecord

    p = make_partner()
    ok = idempotency.Answer(201, "application/json", b'{"ok":1}')
    runs: list[str] = []

    def work(name: str, result: Any) -> Callable[[], idempotency.Answer]:
        def run() -> idempotency.Answer:
            runs.append(name)
            if isinstance(result, BaseException):
                raise result
            return result
        return run

    def refusal(exc: DomainError) -> idempotency.Answer:
        if exc.code == "over_budget":
            raise RuntimeError("429 instead")
        return idempotency.Answer(exc.status, "application/json", exc.code.encode())

    with app.app_context():
        s, now = db.session, utcnow()
        once = lambda key, w, data=None: idempotency.run_once(  # noqa: E731
            s, s, p["id"], key, "redeem", data or {"code": "x"}, now, w, refusal)
        assert once("a", work("a1", ok)) == ok
        replay = idempotency.Answer(201, "application/json", b'{"ok":1}', replayed=True)
        assert once("a", work("a2", ok)) == replay
        with pytest.raises(idempotency.KeyReused):
            once("a", work("a3", ok), {"code": "y"})
        refused = once("b", work("b1", DomainError("no", code="nope")))
        assert (refused.status, refused.body) == (422, b"nope")
        assert once("b", work("b2", ok)).replayed  # the stored refusal, the work not run again
        for failure in (ValueError("boom"), DomainError("over", code="over_budget")):
            with pytest.raises((ValueError, RuntimeError)):
                once("c", work("c1", failure))
            left = select(func.count()).select_from(IdempotencyRecord).where(IdempotencyRecord.key == "c")
            assert s.scalar(left) == 0
        assert once("c", work("c2", ok)) == ok  # freed: a retry runs afresh
        assert once(None, work("n1", ok)) == ok and once(None, work("n2", ok)) == ok  # no key: each runs
        assert runs == ["a1", "b1", "c1", "c1", "c2", "n1", "n2"]


def test_a_duplicate_while_the_first_runs(app, make_partner, backend) -> None:
    """The claim is in the work's transaction: a duplicate meanwhile gets ``idempotency_in_flight`` on
    PostgreSQL (the key's advisory lock; no committed claim exists) and, SQLite's writers being serial,
    the first's stored answer there; once the first is done every retry gets that answer byte for byte."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from partners.models import IdempotencyRecord

    p = make_partner()
    running, finish = threading.Event(), threading.Event()
    ok = idempotency.Answer(201, "application/json", b'{"first":1}')

    def first_work() -> idempotency.Answer:
        running.set()
        assert finish.wait(30)
        return ok

    def once(work: Callable[[], idempotency.Answer]) -> idempotency.Answer:
        with app.app_context():
            return idempotency.run_once(db.session, db.session, p["id"], "dup", "redeem", {"code": "x"}, utcnow(),
                                        work, lambda exc: pytest.fail(str(exc)))

    def second() -> idempotency.Answer:
        return idempotency.Answer(201, "application/json", b'{"second":1}')

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(once, first_work)
        assert running.wait(30)
        if backend == "postgresql":
            with pytest.raises(idempotency.InFlight):
                once(second)
            with app.app_context():  # the claim is not committed: nothing to see, nothing left if it dies
                assert db.session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0
            finish.set()
        else:
            duplicate = pool.submit(once, second)  # waits for the writer's lock
            finish.set()
            assert duplicate.result(30) == idempotency.Answer(201, "application/json", b'{"first":1}', replayed=True)
        assert first.result(30) == ok
    assert once(second) == idempotency.Answer(201, "application/json", b'{"first":1}', replayed=True)


def test_a_refusal_gives_way_to_a_duplicate_that_ran_after_its_rollback(app, make_partner) -> None:
    """A refusal is stored under the key claimed again after the work's rollback; if a duplicate took
    the key in between, the refused request answers with the duplicate's stored answer, as every retry will."""
    from concurrent.futures import ThreadPoolExecutor

    p = make_partner()
    ok = idempotency.Answer(201, "application/json", b'{"ok":1}')

    def once(work: Callable[[], idempotency.Answer],
             refusal: Callable[[DomainError], idempotency.Answer]) -> idempotency.Answer:
        with app.app_context():
            return idempotency.run_once(db.session, db.session, p["id"], "k", "redeem", {"code": "x"}, utcnow(),
                                        work, refusal)

    def refuse() -> idempotency.Answer:
        raise DomainError("not yet", code="not_yet_valid")

    def refusal_with_a_duplicate_meanwhile(exc: DomainError) -> idempotency.Answer:
        with ThreadPoolExecutor(1) as pool:  # the key is free: the work's transaction was rolled back
            assert pool.submit(once, lambda: ok, pytest.fail).result(30) == ok
        return idempotency.Answer(409, "application/json", exc.code.encode())

    replay = idempotency.Answer(201, "application/json", b'{"ok":1}', replayed=True)
    assert once(refuse, refusal_with_a_duplicate_meanwhile) == replay
    assert once(refuse, pytest.fail) == replay


def test_ledger_counts_only(app, make_partner, make_offer, add_snapshot, issue_codes) -> None:
    """No counter column exists on offers or codes: counts come from rows."""
    cols = {c.name for c in Offer.__table__.columns} | {c.name for c in Code.__table__.columns}
    assert not {"redeemed_count", "redemptions", "issued_count", "uses"} & cols
    p, code, offer_id = _one_code(app, make_partner, make_offer, add_snapshot, issue_codes)
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(RedemptionEvent))
        assert n == 0
