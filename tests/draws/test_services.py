"""Draw use cases on both databases: the whole life of a draw, and every refusal."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from draws import services
from draws.models import Draw, DrawCredit, DrawEntrantList
from draws.verify import FAIL, PASS, verify_proof
from rewards.audit.models import Event
from rewards.db import db
from rewards.errors import Conflict, DomainError, NotFound
from tests.draws.conftest import T0, DrawKit, drand_value, kit_verify


def test_full_life_and_verifier_passes(kit: DrawKit) -> None:
    pid = kit.full()
    draw = services.get_draw(db.session, pid)
    assert draw.state == "published" and draw.entrant_count == 20  # responsible + ideal of 40
    bundle = services.auditor_bundle_of(db.session, draw, kit.signer.keyset(), kit.box)
    checks = kit_verify(json.loads(json.dumps(bundle)), kit.signer.keyset())
    assert {c.status for c in checks if c.name != "entropy.beacon"} == {PASS}, [
        c.line() for c in checks if c.status != PASS
    ]
    record = services.public_record_of(db.session, draw, kit.signer.keyset())
    text = json.dumps(record)
    assert all(a not in text for a in bundle["entrants"]["accounts"])
    public_checks = {c.name: c.status for c in kit_verify(record, kit.signer.keyset())}
    assert public_checks["winners"] == PASS and FAIL not in public_checks.values()
    actions = list(db.session.scalars(select(Event.action).where(Event.object_id == pid).order_by(Event.seq)))
    assert actions == ["draw.drafted", "draw.announced", "draw.frozen", "draw.cosigned", "draw.cosigned", "draw.drawn",
                       "draw.published"]
    credits = db.session.scalars(
        select(DrawCredit).where(DrawCredit.draw_id == draw.id).order_by(DrawCredit.prize_index)
    ).all()
    assert [c.amount_kopecks for c in credits] == [400_000, 400_000, 100_000]


def test_secret_is_sealed_and_commitment_public(kit: DrawKit) -> None:
    pid = kit.draft()
    kit.announce(pid)
    draw = services.get_draw(db.session, pid)
    assert draw.secret_sealed and draw.secret_sealed.startswith("v1:")
    secret = kit.box.open(draw.secret_sealed, pid)
    import hashlib

    assert hashlib.sha256(secret).hexdigest() == draw.commitment
    assert secret.hex() not in (draw.announcement or "")
    details = " ".join(db.session.scalars(select(Event.details)))
    assert secret.hex() not in details and draw.secret_sealed not in details


def test_inclusion_proof_for_a_customer(kit: DrawKit) -> None:
    pid = kit.full()
    draw = services.get_draw(db.session, pid)
    record = services.public_record_of(db.session, draw, kit.signer.keyset(), with_weights=False)
    winner = json.loads(draw.result_record or "")["payload"]["winners"][0]
    bundle = services.auditor_bundle_of(db.session, draw, kit.signer.keyset(), kit.box)
    account = bundle["entrants"]["accounts"][winner["entrant_index"]]
    proof = services.inclusion_proof(db.session, draw, account, kit.box)
    checks = verify_proof(record, proof)
    assert checks[-1].status == PASS and "winner of prize 0" in checks[-1].reason
    with pytest.raises(NotFound):
        services.inclusion_proof(db.session, draw, "0000000000", kit.box)


def test_cannot_run_twice_or_out_of_order(kit: DrawKit) -> None:
    pid = kit.draft()
    with pytest.raises(Conflict, match="draft"):
        kit.freeze(pid)
    db.session.rollback()
    kit.announce(pid)
    with pytest.raises(Conflict):
        kit.draw(pid)  # draw before freeze
    db.session.rollback()
    with pytest.raises(Conflict):
        kit.publish(pid)  # publish before draw
    db.session.rollback()
    kit.freeze(pid)
    kit.draw(pid)
    with pytest.raises(Conflict, match="drawn"):
        kit.draw(pid)  # no re-roll
    db.session.rollback()
    assert services.get_draw(db.session, pid).state == "drawn"


def test_stale_transition_is_refused(kit: DrawKit) -> None:
    pid = kit.draft()
    draw = services.get_draw(db.session, pid)
    db.session.execute(Draw.__table__.update().where(Draw.__table__.c.id == draw.id).values(state="cancelled"))
    with pytest.raises(Conflict, match="someone else"):
        services._transition(db.session, draw, "draft", "announced")
    db.session.rollback()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"prizes": [{"amount_kopecks": 400_001, "count": 1}]}, "prizes"),
        ({"prizes": [{"amount_kopecks": 0, "count": 1}]}, "prizes"),
        ({"prizes": [{"amount_kopecks": -5, "count": 1}]}, "prizes"),
        ({"prizes": [{"amount_kopecks": 100, "count": 0}]}, "prizes"),
        ({"tier_weights": {"ideal": -1}}, "tier_weights"),
        ({"tier_weights": {"ideal": 1.5}}, "tier_weights"),
        ({"tier_weights": {"ideal": 0}}, "tier_weights"),
        ({"tier_weights": {"gold": 1}}, "tier_weights"),
        ({"freeze_at": T0 - timedelta(hours=1)}, "freeze_at"),
        ({"entropy": {"type": "coin"}}, "entropy"),
        ({"entropy": {"type": "drand", "chain": "nonet"}}, "entropy"),
        ({"entropy": {"type": "drand", "chain": ["quicknet"]}}, "entropy"),
        ({"entropy": {"type": "rfc3797", "sources": "lottery", "available_after": "2026-07-01T20:00:00Z"}}, "entropy"),
        ({"entropy": {"type": "rfc3797", "sources": ["lottery"], "available_after": "2026-06-21T20:00:00Z"}},
         "entropy"),
        ({"kind": "monthly"}, "kind"),
        ({"snapshot_period": "1999-01"}, "snapshot_period"),
        ({"algorithm": "rfc3797-md5/1"}, "tier_weights"),
    ],
)
def test_bad_drafts_refused_and_nothing_stored(kit: DrawKit, overrides: dict, field: str) -> None:
    with pytest.raises(DomainError) as info:
        kit.draft(**overrides)
    db.session.rollback()
    assert field in info.value.error_details(), info.value.message
    assert db.session.scalar(select(func.count()).select_from(Draw)) == 0


def test_bad_entropy_refused(kit: DrawKit) -> None:
    pid = kit.draft()
    kit.announce(pid)
    kit.freeze(pid)
    good, at = kit.entropy_for(pid)
    for bad in (drand_value(good["round"] + 1), {**good, "randomness": "xyz"}, {**good, "randomness": "00" * 32},
                {"type": "rfc3797", "sources": []}):
        with pytest.raises(DomainError):
            services.run_draw(db.session, pid, bad, actor="m", signer=kit.signer, box=kit.box, now=at)
        db.session.rollback()
    with pytest.raises(DomainError, match="does not exist yet"):
        services.run_draw(db.session, pid, good, actor="m", signer=kit.signer, box=kit.box, now=at - timedelta(hours=2))
    db.session.rollback()
    assert services.get_draw(db.session, pid).state == "frozen"


def test_freeze_timing(kit: DrawKit) -> None:
    pid = kit.draft()
    kit.announce(pid)
    draw = services.get_draw(db.session, pid)
    with pytest.raises(DomainError, match="not yet"):
        services.freeze(db.session, pid, actor="m", signer=kit.signer, box=kit.box, timezone=kit.timezone,
                        now=draw.freeze_at - timedelta(seconds=1))
    db.session.rollback()
    with pytest.raises(DomainError, match="too late"):
        services.freeze(db.session, pid, actor="m", signer=kit.signer, box=kit.box, timezone=kit.timezone,
                        now=draw.freeze_at + timedelta(hours=2))
    db.session.rollback()


def test_empty_list_and_too_many_prizes(kit: DrawKit) -> None:
    pid = kit.draft(tier_weights={"ideal": 1}, prizes=[{"amount_kopecks": 1000, "count": 11}])
    kit.announce(pid)
    with pytest.raises(DomainError, match="11 prizes but only 10"):
        kit.freeze(pid)
    db.session.rollback()
    from tests.support import make_snapshot

    make_snapshot(db.session, "2026-04", {"1": "beginner"})
    db.session.commit()
    pid = kit.draft(snapshot_period="2026-04")
    kit.announce(pid)
    with pytest.raises(DomainError, match="empty"):
        kit.freeze(pid)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(DrawEntrantList)) == 0


def test_exclusions_and_yearly_cap(kit: DrawKit) -> None:
    first = kit.full(prizes=[{"amount_kopecks": 350_000, "count": 3}], reserves=0)
    winners = [c.account for c in db.session.scalars(select(DrawCredit))]
    assert len(winners) == 3
    text = "account\n# staff\n" + "\n".join(winners[:1]) + "\n"
    excluded = services.parse_exclusions(text)
    pid = kit.draft(prizes=[{"amount_kopecks": 100_000, "count": 1}], exclusions=excluded)
    kit.announce(pid)
    kit.freeze(pid)
    draw = services.get_draw(db.session, pid)
    accounts = services.frozen_columns(db.session, draw)[0]
    assert not set(winners) & set(accounts)  # excluded one, and two capped (350,000 + 100,000 > 400,000)
    assert draw.entrant_count == 20 - 3
    assert first != pid
    with pytest.raises(DomainError):
        services.parse_exclusions("ok\n\x01bad\n")


def test_cancel(kit: DrawKit) -> None:
    pid = kit.draft()
    kit.announce(pid)
    with pytest.raises(DomainError, match="reason"):
        services.cancel(db.session, pid, " ", actor="m", signer=kit.signer)
    db.session.rollback()
    services.cancel(db.session, pid, "snapshot was wrong", actor="m", signer=kit.signer, now=T0 + timedelta(days=1))
    db.session.commit()
    draw = services.get_draw(db.session, pid)
    assert draw.state == "cancelled"
    record = json.loads(draw.cancellation or "")
    assert record["payload"]["reason"] == "snapshot was wrong"
    with pytest.raises(Conflict):
        kit.freeze(pid)
    db.session.rollback()


def test_disqualification_passes_prize_to_reserves_in_order(kit: DrawKit) -> None:
    pid = kit.full()
    draw = services.get_draw(db.session, pid)
    result = json.loads(draw.result_record or "")["payload"]
    services.disqualify(db.session, pid, 1, "employee's relative", actor="m", signer=kit.signer,
                        now=T0 + timedelta(days=13))
    db.session.commit()
    services.disqualify(db.session, pid, 1, "duplicate person", actor="m", signer=kit.signer,
                        now=T0 + timedelta(days=13))
    db.session.commit()
    services.disqualify(db.session, pid, 0, "no longer a customer", actor="m", signer=kit.signer,
                        now=T0 + timedelta(days=13))
    db.session.commit()
    credits = db.session.scalars(select(DrawCredit).where(DrawCredit.draw_id == draw.id).order_by(DrawCredit.id)).all()
    pending = [(c.prize_index, c.state) for c in credits]
    assert pending.count((1, "pending")) == 1 and (0, "pending") not in pending  # reserves ran out for prize 0
    bundle = services.auditor_bundle_of(db.session, draw, kit.signer.keyset(), kit.box)
    statuses = {c.name: c.status for c in kit_verify(bundle)}
    assert statuses["disqualifications"] == PASS, statuses
    reserve_accounts = [bundle["entrants"]["accounts"][r["entrant_index"]] for r in result["reserves"]]
    promoted = [c.account for c in credits if c.prize_index == 1 and c.state == "pending"]
    assert promoted == [reserve_accounts[1]]


def test_credits_exported_exactly_once_and_confirmed(kit: DrawKit) -> None:
    kit.full()
    batch = services.export_credits(db.session, actor="m")
    db.session.commit()
    assert batch.count == 3 and batch.total_kopecks == 900_000
    first = services.get_batch(db.session, batch.id).content
    with pytest.raises(DomainError, match="no pending"):
        services.export_credits(db.session, actor="m")
    db.session.rollback()
    assert services.get_batch(db.session, batch.id).content == first  # same file on re-download
    rows = [line.split(",") for line in first.strip().splitlines()[1:]]
    confirmation = "credit_id,account,amount_kopecks,status\n" + "".join(f"{r[0]},{r[3]},{r[4]},posted\n" for r in rows)
    bad = confirmation.replace(rows[0][4] + ",posted", "1,posted", 1)
    with pytest.raises(DomainError) as info:
        services.import_confirmation(db.session, bad, actor="billing")
    db.session.rollback()
    assert info.value.errors
    assert services.import_confirmation(db.session, confirmation, actor="billing") == {"posted": 3, "already_posted": 0}
    db.session.commit()
    assert services.import_confirmation(db.session, confirmation, actor="billing") == {"posted": 0, "already_posted": 3}
    db.session.commit()
    states = set(db.session.scalars(select(DrawCredit.state)))
    assert states == {"posted"}
    pid2 = services.get_draw(db.session, services.list_draws(db.session)[0].public_id).public_id
    with pytest.raises(Conflict, match="already sent"):
        services.disqualify(db.session, pid2, 0, "late", actor="m", signer=kit.signer)
    db.session.rollback()


def test_killed_export_leaves_nothing_exported(kit: DrawKit) -> None:
    kit.full()
    services.export_credits(db.session, actor="m")
    db.session.rollback()  # the process died before commit
    assert set(db.session.scalars(select(DrawCredit.state))) == {"pending"}
    assert services.export_credits(db.session, actor="m").count == 3
    db.session.commit()


def test_rfc3797_mode_end_to_end(kit: DrawKit) -> None:
    pid = kit.draft(
        algorithm="rfc3797-md5/1", tier_weights={"responsible": 1, "ideal": 1},
        entropy={"type": "rfc3797", "sources": ["Gosloto 5/36 draw", "IMOEX close"],
                 "available_after": "2026-07-01T20:00:00Z"},
    )
    kit.announce(pid)
    kit.freeze(pid)
    from datetime import UTC, datetime

    services.run_draw(db.session, pid, {"type": "rfc3797", "sources": [["5", "17", "3", "29", "11"], ["2871.45"]]},
                      actor="m", signer=kit.signer, box=kit.box, now=datetime(2026, 7, 1, 21, 0, tzinfo=UTC))
    db.session.commit()
    kit.publish(pid)
    bundle = services.auditor_bundle_of(db.session, services.get_draw(db.session, pid), kit.signer.keyset(), kit.box)
    assert {c.status for c in kit_verify(bundle, kit.signer.keyset()) if c.name != "entropy.beacon"} == {PASS}


def test_unreadable_files_refused(kit: DrawKit) -> None:
    bad = "$\u0001.x\r\udba1\udcff\u0002\u0083("
    for text in (bad, 'a,"b\n'):
        with pytest.raises(DomainError):
            services.import_confirmation(db.session, text, actor="billing")
    with pytest.raises(DomainError):
        services.parse_exclusions(bad)
    assert services.parse_exclusions("7400000001\r\n7400000002\r\n") == ["7400000001", "7400000002"]


def test_bills_export_carries_every_accounts_check_code(kit: DrawKit) -> None:
    """The snapshot's bills export gains one column per announced draw of that snapshot, with the same
    codes as the cabinet's API and the public check accepts (the snapshots feature never imports draws)."""
    from rewards.snapshots import services as snapshot_services
    from rewards.snapshots.models import Snapshot

    pid = kit.draft()
    kit.announce(pid)
    draw = services.get_draw(db.session, pid)
    with kit.app.test_request_context():
        lines = "".join(snapshot_services.export_lines(db.session, db.session.get(Snapshot, draw.snapshot_id),
                                                       "bills")).splitlines()
    assert lines[0] == f"Лицевой счет;Рейтинг;Код проверки розыгрыша {pid}"
    assert len(lines) == 41  # every account of the snapshot, entrant or not
    account, _tier, code = lines[1].split(";")
    assert code == services.check_code_for(db.session, draw, account, kit.box)


def test_public_page_facts_and_the_public_check_rules(kit: DrawKit) -> None:
    """The public page's rules live in the services: never announced is never public; the check needs
    a frozen list and both inputs of sane length; a miss is one answer."""
    pid = kit.draft()
    assert services.public_draw(db.session, pid) is None  # a draft is never public
    kit.announce(pid)
    page = services.public_draw(db.session, pid)
    assert page is not None and "announcement" in page.payloads and not page.show_result
    assert page.late_cancel is None and page.disqualifications == []
    draw = services.get_draw(db.session, pid)
    early = services.public_check(db.session, draw, "7400000000", "AAAAA-AAAAA", kit.box)
    assert (early.refusal, early.status) == ("not_frozen", 409)
    kit.freeze(pid)
    draw = services.get_draw(db.session, pid)
    bad = (("", "AAAAA-AAAAA"), ("7" * 65, "AAAAA-AAAAA"), ("7400000000", ""), ("7400000000", "A" * 33))
    for account, code in bad:
        answer = services.public_check(db.session, draw, account, code, kit.box)
        assert (answer.refusal, answer.status) == ("incomplete", 422)
    miss = services.public_check(db.session, draw, "7400000000", "AAAAA-AAAAA", kit.box)
    assert (miss.refusal, miss.entry, miss.status) == (None, None, 200)
    entrant = services.frozen_columns(db.session, draw)[0][0]
    code = services.check_code_for(db.session, draw, entrant, kit.box)
    hit = services.public_check(db.session, draw, entrant, code, kit.box)
    assert hit.entry is not None and hit.entry.role == "entrant" and hit.status == 200


def test_a_draft_is_edited_until_it_is_announced(kit: DrawKit) -> None:
    from tests.draws.conftest import witness_entries

    pid = kit.draft()
    changed = services.DraftInput(
        name="Autumn draw", kind="semi-annual", tier_weights={"ideal": 1, "responsible": 1},
        prizes=[{"amount_kopecks": 300_000, "count": 3}], reserves=1, freeze_at=T0 + timedelta(days=11, seconds=7),
        entropy={"type": "drand", "chain": "test", "delay_seconds": 600}, snapshot_period="2026-05",
        witnesses=witness_entries()[:1], quorum=1, exclusions=["0000000042"],
    )
    services.update_draft(db.session, pid, changed, actor="marketing", chains=kit.chains, now=T0)
    db.session.commit()
    draw = services.get_draw(db.session, pid)
    assert (draw.name, draw.kind, draw.reserves, draw.exclusions_count) == ("Autumn draw", "semi-annual", 1, 1)
    assert json.loads(draw.prizes) == [{"amount_kopecks": 300_000, "count": 3}]
    assert json.loads(draw.entropy_source)["delay_seconds"] == 600
    assert draw.freeze_at.replace(tzinfo=draw.freeze_at.tzinfo or T0.tzinfo) == T0 + timedelta(days=11, seconds=7)
    event = db.session.scalars(select(Event).where(Event.action == "draw.draft_updated")).one()
    assert event.object_id == pid and event.actor == "marketing"
    assert {"name", "kind", "prizes", "reserves", "exclusions"} <= set(json.loads(event.details)["changed"].split(";"))
    # A refused change leaves the draft as it was.
    with pytest.raises(DomainError) as info:
        services.update_draft(db.session, pid, replace(changed, prizes=[{"amount_kopecks": 400_001, "count": 1}]),
                              actor="marketing", chains=kit.chains, now=T0)
    db.session.rollback()
    assert "prizes" in info.value.error_details()
    assert json.loads(services.get_draw(db.session, pid).prizes) == [{"amount_kopecks": 300_000, "count": 3}]
    # Once announced, nothing changes any more.
    kit.announce(pid)
    with pytest.raises(Conflict) as refused:
        services.update_draft(db.session, pid, changed, actor="marketing", chains=kit.chains, now=T0)
    db.session.rollback()
    assert refused.value.code == "wrong_state"
    assert db.session.scalar(select(func.count()).select_from(Event).where(Event.action == "draw.draft_updated")) == 1


def test_a_draft_edit_loses_to_an_announcement_that_landed_first(kit: DrawKit, monkeypatch: pytest.MonkeyPatch) -> None:
    """The edit's conditional UPDATE finds no draft any more: refused, nothing written."""
    pid = kit.draft()
    draw = services.get_draw(db.session, pid)
    data = services.DraftInput(name="Late edit", kind="quarterly", tier_weights={"ideal": 1},
                               prizes=[{"amount_kopecks": 100, "count": 1}], reserves=0,
                               freeze_at=T0 + timedelta(days=10), entropy={"type": "drand", "chain": "test"},
                               snapshot_period="2026-05", unwitnessed=True)
    original = services._require_state

    def announced_meanwhile(d: Draw, *states: str, doing: str) -> None:
        original(d, *states, doing=doing)
        db.session.execute(Draw.__table__.update().where(Draw.__table__.c.id == draw.id).values(state="announced"))

    monkeypatch.setattr(services, "_require_state", announced_meanwhile)
    with pytest.raises(Conflict, match="someone else"):
        services.update_draft(db.session, pid, data, actor="marketing", chains=kit.chains, now=T0)
    db.session.rollback()
    assert services.get_draw(db.session, pid).name == "Summer draw"
