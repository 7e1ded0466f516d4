"""The register of needs on both engines: entries with consent, the look-up answer, what is due,
the daily end of lapsed temporary needs, the full-state export, bulk files, and old flags."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from rewards.audit.models import Event
from rewards.db import db
from rewards.errors import DomainError
from rewards.flags import services
from rewards.flags.models import FlagClosure, FlagConsent, FlagNeed, PriorityFlag
from rewards.flags.needs import NeedRequest
from tests.rewards.flags.helpers import TODAY, store_snapshot

CONSENT = {"consent_on": TODAY, "consent_channel": "phone"}
FAST = "pbkdf2:sha256:1000"  # the tests' password hash method (the setting's default is scrypt)


@pytest.fixture
def ctx(app: Flask) -> Any:
    with app.app_context():
        yield db.session
        db.session.rollback()


def _set(session: Any, account: str, *requests: NeedRequest, **kw: Any) -> services.Change:
    args = {**CONSENT, **kw}
    change = services.set_needs(session, account, list(requests), actor="op", today=TODAY, password_method=FAST,
                                **args)
    session.commit()
    return change


def test_needs_need_consent_first_and_nothing_is_stored_without_it(ctx: Any) -> None:
    with pytest.raises(DomainError) as exc:
        services.set_needs(ctx, "740000000001", [NeedRequest("pensioner")], consent_on=None, consent_channel="phone",
                           actor="op", today=TODAY)
    assert exc.value.field == "consent_on"
    ctx.rollback()
    with pytest.raises(DomainError) as exc:
        services.set_needs(ctx, "740000000001", [NeedRequest("hardship.income_loss")], actor="op", today=TODAY,
                           **CONSENT)
    assert exc.value.field == "ends_on"
    ctx.rollback()
    assert ctx.scalar(select(PriorityFlag.id)) is None


def test_entry_with_needs_answers_the_call_centre(ctx: Any, app: Flask) -> None:
    store_snapshot(ctx, "2026-02", {"740000000001": "ideal"})
    ctx.commit()
    services.apply_latest_snapshot(ctx, actor="t", tiers=("ideal",), grace_months=1)
    change = _set(ctx, "740000000001", NeedRequest("disability.hearing"),
                  NeedRequest("hardship.income_loss", ends_on=date(2026, 6, 30)), nominee_name="Анна Петрова",
                  nominee_phone="+7 912 000-00-00", password="секрет-42")
    assert change.status == "created"
    for answer in (services.priority_now(db.engine, "740000000001", today=TODAY),
                   services.priority_of(ctx, "740000000001", today=TODAY)):
        assert answer["priority"] and answer["tier_reason"] == "tier:ideal"
        assert [n["code"] for n in answer["needs"]] == ["disability.hearing", "hardship.income_loss"]
        hearing = answer["needs"][0]
        assert hearing["verify_by"] == date(2028, 3, 15) and hearing["action"]["ru"] and hearing["action"]["en"]
        assert answer["needs"][1]["ends_on"] == date(2026, 6, 30) and answer["needs"][1]["temporary"]
        assert answer["nominee"] is True and answer["password_set"] is True
        assert "Анна" not in repr(answer) and "секрет" not in repr(answer)
    stored = ctx.scalar(select(FlagConsent.password_hash))
    assert stored and "секрет" not in stored
    assert services.check_password(ctx, "740000000001", "секрет-42")
    assert not services.check_password(ctx, "740000000001", "wrong-one")
    event = ctx.scalars(select(Event).where(Event.action == "flags.needs_set")).one()
    assert "Анна" not in event.details and "секрет" not in event.details and "+7" not in event.details


def test_same_values_change_nothing_and_a_change_keeps_the_password_and_history(ctx: Any) -> None:
    first = _set(ctx, "740000000002", NeedRequest("pensioner"), password="1234")
    assert _set(ctx, "740000000002", NeedRequest("pensioner")).status == "unchanged"
    second = _set(ctx, "740000000002", NeedRequest("pensioner"), NeedRequest("language"))
    assert second.status == "replaced" and second.closed_id == first.flag_id
    assert services.check_password(ctx, "740000000002", "1234")
    old_needs = ctx.scalars(select(FlagNeed.need).where(FlagNeed.flag_id == first.flag_id)).all()
    assert old_needs == ["pensioner"]  # the history keeps the old entry's needs
    register = services.register_of(ctx, "740000000002", today=TODAY, personal=False)
    assert register is not None and [n["code"] for n in register["needs"]] == ["language", "pensioner"]


def test_personal_data_only_for_the_personal_role(ctx: Any) -> None:
    _set(ctx, "740000000003", NeedRequest("pensioner"), nominee_name="Олег", nominee_phone="+79120000000")
    hidden = services.register_of(ctx, "740000000003", today=TODAY, personal=False)
    shown = services.register_of(ctx, "740000000003", today=TODAY, personal=True)
    assert hidden is not None and "nominee_name" not in hidden and hidden["nominee"] is True
    assert shown is not None and shown["nominee_name"] == "Олег" and shown["nominee_phone"] == "+79120000000"


def test_due_list_and_daily_end_of_lapsed_temporary_needs(ctx: Any) -> None:
    both = _set(ctx, "740000000004", NeedRequest("pensioner"),
                NeedRequest("young_children", ends_on=TODAY + timedelta(days=3)))
    only = _set(ctx, "740000000005", NeedRequest("hardship.income_loss", ends_on=TODAY + timedelta(days=10)))
    _set(ctx, "740000000006", NeedRequest("disability.sight", verify_by=TODAY + timedelta(days=20)))
    _set(ctx, "740000000007", NeedRequest("disability.sight"))  # due in two years
    due = services.due_needs(ctx, today=TODAY, within_days=30)
    assert [(d["account"], d["need"], d["due"]) for d in due] == [
        ("740000000004", "young_children", "ends"), ("740000000005", "hardship.income_loss", "ends"),
        ("740000000006", "disability.sight", "reverify")]

    # within the grace period nothing ends; the look-up marks the need lapsed
    later = TODAY + timedelta(days=15)
    assert services.end_lapsed_needs(ctx, today=later, grace_days=14).needs_ended == 0
    answer = services.priority_of(ctx, "740000000004", today=later)
    assert [(n["code"], n["lapsed"]) for n in answer["needs"]] == [("pensioner", False), ("young_children", True)]

    result = services.end_lapsed_needs(ctx, today=TODAY + timedelta(days=40), grace_days=14)
    ctx.commit()
    assert (result.needs_ended, result.entries_replaced, result.entries_closed) == (2, 1, 1)
    answer = services.priority_of(ctx, "740000000004", today=TODAY + timedelta(days=40))
    assert [n["code"] for n in answer["needs"]] == ["pensioner"]
    assert not services.priority_of(ctx, "740000000005", today=TODAY + timedelta(days=40))["priority"]
    closures = {c.flag_id: c.kind for c in ctx.scalars(select(FlagClosure))}
    assert closures == {both.flag_id: "replaced", only.flag_id: "revoked"}
    assert ctx.scalar(select(FlagNeed.need).where(FlagNeed.flag_id == only.flag_id)) == "hardship.income_loss"
    events = ctx.scalars(select(Event.action).where(Event.action == "flags.needs_lapsed")).all()
    assert len(events) == 2
    assert services.end_lapsed_needs(ctx, today=TODAY + timedelta(days=41), grace_days=14).needs_ended == 0


def test_full_state_export_with_consent_filter_and_personal_columns(ctx: Any) -> None:
    _set(ctx, "740000000008", NeedRequest("medical_equipment"), share=True, nominee_name='Ли "Ким"; мл.')
    _set(ctx, "740000000009", NeedRequest("pensioner"), share=False)
    services.set_flag(ctx, "740000000010", "pensioner", actor="op", today=TODAY)  # an old flag: no needs
    ctx.commit()
    shared = "".join(services.export_needs_csv(ctx, today=TODAY)).splitlines()
    assert shared[0] == "account;needs;ends_on;verify_by;consent_on;consent_channel;share"
    assert shared[1:] == ["740000000008;medical_equipment;;medical_equipment=2028-03-15;2026-03-15;phone;yes"]
    every = "".join(services.export_needs_csv(ctx, today=TODAY, consent="any", personal=True)).splitlines()
    assert every[0].endswith(";nominee_name;nominee_phone")
    assert every[1] == '740000000008;medical_equipment;;medical_equipment=2028-03-15;2026-03-15;phone;yes;' \
                       '"Ли ""Ким""; мл.";'
    assert every[2].startswith("740000000009;pensioner;") and len(every) == 3
    with pytest.raises(DomainError):
        list(services.export_needs_csv(ctx, today=TODAY, consent="nobody"))


def test_old_staff_flags_stay_valid_beside_entries(ctx: Any) -> None:
    services.set_flag(ctx, "740000000011", "disability", actor="op", today=TODAY)
    ctx.commit()
    _set(ctx, "740000000011", NeedRequest("disability.mobility"))
    answer = services.priority_of(ctx, "740000000011", today=TODAY)
    assert {r["reason"] for r in answer["reasons"]} == {"disability", "needs"}
    assert [n["code"] for n in answer["needs"]] == ["disability.mobility"]
    plain = services.priority_of(ctx, "740000000012", today=TODAY)
    assert plain["needs"] == [] and plain["nominee"] is False and plain["tier_reason"] is None


def test_bulk_needs_file_all_or_nothing(ctx: Any) -> None:
    store_snapshot(ctx, "2026-02", {f"74000000002{i}": "beginner" for i in range(5)})
    ctx.commit()
    good = (b"account;needs;ends_on;consent_on;consent_channel;share\n"
            b"740000000020;pensioner,language;;2026-03-01;phone;yes\n"
            b"740000000021;hardship.income_loss;2026-08-31;2026-03-01;office;no\n")
    bad = good + b"740000000099;pensioner;;2026-03-01;phone;no\n740000000022;pensioner;;;phone;no\n"
    with pytest.raises(DomainError) as exc:
        services.apply_needs_bulk(ctx, bad, actor="op", today=TODAY)
    assert set(exc.value.error_details()) == {"line 4", "line 5"}
    ctx.rollback()
    assert ctx.scalar(select(PriorityFlag.id)) is None
    result = services.apply_needs_bulk(ctx, good, actor="op", today=TODAY)
    ctx.commit()
    assert (result.lines, result.created) == (2, 2)
    again = services.apply_needs_bulk(ctx, good, actor="op", today=TODAY)
    assert again.unchanged == 2
    revoke = b"account;needs;action;note\n740000000020;;revoke;moved out\n740000000023;;revoke;x\n"
    with pytest.raises(DomainError) as exc:
        services.apply_needs_bulk(ctx, revoke, actor="op", today=TODAY)
    assert set(exc.value.error_details()) == {"line 3"}
    ctx.rollback()
    result = services.apply_needs_bulk(ctx, revoke.splitlines(keepends=True)[0] + revoke.splitlines(keepends=True)[1],
                                       actor="op", today=TODAY)
    ctx.commit()
    assert result.revoked == 1 and not services.priority_of(ctx, "740000000020", today=TODAY)["priority"]


def test_concurrent_entries_for_one_account_leave_exactly_one_open(app: Flask) -> None:
    """Six clients record an entry for one account at once (each its own connection and transaction):
    the changes are serialised, so exactly one was ``created``, the others replaced it in turn, and one
    entry is open at the end."""
    import threading

    codes = ["pensioner", "language", "disability.hearing", "disability.sight", "large_family", "medical_equipment"]
    barrier = threading.Barrier(len(codes))
    results: list[str] = []
    lock = threading.Lock()

    def run(code: str) -> None:
        with app.app_context():
            barrier.wait()
            try:
                change = services.set_needs(db.session, "740000000050", [NeedRequest(code)], actor="op", today=TODAY,
                                            **CONSENT)
                db.session.commit()
                outcome = change.status
            except DomainError as exc:
                db.session.rollback()
                outcome = f"refused {exc.code}"
            finally:
                db.session.remove()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(code,)) for code in codes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("created") == 1, results
    assert all(r in ("created", "replaced", "refused flag_changed") for r in results), results
    with app.app_context():
        open_entries = db.session.scalars(
            select(PriorityFlag.id).where(PriorityFlag.account == "740000000050",
                                          ~select(FlagClosure.flag_id).where(FlagClosure.flag_id == PriorityFlag.id)
                                          .exists())).all()
        assert len(open_entries) == 1
        assert len(db.session.scalars(select(FlagNeed.need).where(FlagNeed.flag_id == open_entries[0])).all()) == 1
