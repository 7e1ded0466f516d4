"""The rating engine: deadlines across the time-zone boundary, hardship, missing months, errors."""

from __future__ import annotations

import json

import pytest

from rewards.rating.engine import explain
from rewards.rating.rules import default_rules_bytes, parse_rules
from tests.rewards.rating.helpers import PERIOD, csv_bytes, good_month, rate, row

MONTHS = ["2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]


def six_good(account: str = "0001") -> list[tuple[str, ...]]:
    return [good_month(account, m) for m in MONTHS]


def with_last(last: tuple[str, ...], account: str = "0001") -> list[tuple[str, ...]]:
    return six_good(account)[:5] + [last]


def test_six_good_months_are_ideal_with_full_points():
    out, errors, _ = rate([csv_bytes(six_good())])
    assert not errors
    assert out[0][:3] == ("0001", "ideal", 48)


@pytest.mark.parametrize(
    "paid,counts",
    [
        ("2026-11-10T18:30:00Z", True),  # 23:30 local (UTC+5) on the 10th
        ("2026-11-10T23:30:00+05:00", True),
        ("2026-11-10T18:59:59Z", True),  # 23:59:59 local
        ("2026-11-10T19:00:00Z", False),  # 00:00 local on the 11th
        ("2026-11-10T19:30:00Z", False),  # 00:30 local on the 11th
        ("2026-11-11T00:30:00+05:00", False),
        ("2026-11-10T22:30:00+03:00", False),  # the same instant as 00:30 local, written in Moscow time
        ("2026-11-10T21:30:00+03:00", True),  # 23:30 local, written in Moscow time
        ("2026-11-10", True),  # a bare date is the local date
        ("2026-11-11", False),
    ],
)
def test_payment_deadline_is_the_local_date(paid, counts):
    out, errors, engine = rate(
        [csv_bytes(with_last(row("0001", "2026-10", "2026-10-20T10:00:00Z", "cabinet", paid, "cabinet")))]
    )
    assert not errors
    months = engine.decode(out[0][3])
    _, _, masks = engine.rate_facts(months)
    assert bool(masks[-1] & engine.PAY) is counts
    assert out[0][1] == ("ideal" if counts else "responsible")


@pytest.mark.parametrize(
    "read,counts",
    [
        ("2026-10-25T18:59:00Z", True),  # 23:59 local on the 25th
        ("2026-10-25T19:00:00Z", False),  # 00:00 local on the 26th
        ("2026-10-25", True),
        ("2026-10-26T04:59:00+05:00", False),
        ("2026-10-01T00:00:00+05:00", True),
    ],
)
def test_reading_deadline_is_the_local_date(read, counts):
    out, errors, engine = rate(
        [csv_bytes(with_last(row("0001", "2026-10", read, "app", "2026-11-05T10:00:00Z", "app")))]
    )
    assert not errors
    _, _, masks = engine.rate_facts(engine.decode(out[0][3]))
    assert bool(masks[-1] & engine.READ) is counts


@pytest.mark.parametrize(
    "paid,early",
    [
        ("2026-10-31T18:59:00Z", True),  # 23:59 local on the 31st
        ("2026-10-31T19:00:00Z", False),  # 00:00 local on 1 November
    ],
)
def test_early_bonus_before_the_first_local(paid, early):
    out, _, engine = rate(
        [csv_bytes(with_last(row("0001", "2026-10", "2026-10-20", "app", paid, "autopay")))]
    )
    _, _, masks = engine.rate_facts(engine.decode(out[0][3]))
    assert bool(masks[-1] & engine.EARLY) is early


def test_time_zone_comes_from_the_rules_file():
    doc = json.loads(default_rules_bytes())
    doc["timezone"] = "Europe/Moscow"
    moscow = parse_rules(json.dumps(doc).encode())
    data = csv_bytes(with_last(row("0001", "2026-10", "2026-10-20", "app", "2026-11-10T19:30:00Z", "app")))
    assert rate([data])[0][0][1] == "responsible"  # 00:30 on the 11th in Chelyabinsk
    assert rate([data], moscow)[0][0][1] == "ideal"  # 22:30 on the 10th in Moscow


@pytest.mark.parametrize(
    "channel,counts",
    [
        ("cabinet", True),
        ("app", True),
        ("autopay", True),
        ("Автоплатёж", True),
        ("Личный кабинет", True),
        ("bank", False),
        ("post", False),
        ("agent", False),
        ("Банк", False),
    ],
)
def test_payment_channels(channel, counts):
    out, errors, engine = rate(
        [csv_bytes(with_last(row("0001", "2026-10", "2026-10-20", "app", "2026-11-05", channel)))]
    )
    assert not errors
    _, _, masks = engine.rate_facts(engine.decode(out[0][3]))
    assert bool(masks[-1] & engine.PAY) is counts


def test_kept_hardship_plan_counts_as_paid_on_time_and_a_broken_one_does_not():
    late = dict(payment="2026-12-20T10:00:00Z", payment_channel="bank")
    kept = rate(
        [
            csv_bytes(
                with_last(row("0001", "2026-10", "2026-10-20", "app", plan="рассрочка", kept="да", **late))
            )
        ]
    )[0][0]
    broken = rate(
        [csv_bytes(with_last(row("0001", "2026-10", "2026-10-20", "app", plan="deferral", kept="0", **late)))]
    )[0][0]
    unpaid_kept = rate(
        [csv_bytes(with_last(row("0001", "2026-10", "2026-10-20", "app", plan="deferral", kept="1")))]
    )[0][0]
    assert kept[1] == "ideal" and kept[2] == 48
    assert unpaid_kept[1] == "ideal"
    assert broken[1] == "responsible" and broken[2] == 44


def test_a_missing_month_earns_nothing_and_blocks_ideal():
    out, errors, engine = rate([csv_bytes(six_good()[1:])])
    assert not errors
    assert out[0][1:3] == ("responsible", 40)
    assert engine.decode(out[0][3])[0] is None


def test_accounts_come_out_in_order_with_facts_that_explain_the_same_tier():
    rows = six_good("0001") + six_good("0002")[2:] + [row("0003", "2026-10")]
    out, errors, engine = rate([csv_bytes(rows)])
    assert not errors
    assert [o[0] for o in out] == ["0001", "0002", "0003"]
    for _account, tier, points, facts in out:
        assert engine.rate_facts(engine.decode(facts))[:2] == (tier, points)
        assert engine.encode(engine.decode(facts)) == facts
    assert out[2][1:3] == ("beginner", 2)


def test_one_file_per_month_gives_the_same_result_as_one_file():
    rows = six_good("0001") + six_good("0002")[1:] + six_good("0003")
    whole = rate([csv_bytes(rows)])[0]
    by_month = rate([csv_bytes([r for r in rows if r[1] == m]) for m in MONTHS])[0]
    assert whole == by_month


def test_errors_by_line_in_behaviour_files():
    rows = [
        good_month("0001", "2026-10"),  # 2 ok
        good_month("0001", "2026-10"),  # 3 duplicate month
        row("0002", "2026-13"),  # 4 bad month
        row("0002", "2026-11"),  # 5 outside the window
        row("0002", "2026-10", "2026-10-20 10:00:00", "app"),  # 6 no offset
        row("0002", "2026-09", "2026-10-20", "pigeon"),  # 7 unknown channel
        row("0002", "2026-08", "2026-10-20", ""),  # 8 date without channel
        row("0002", "2026-07", "", "app"),  # 9 channel without date
        row("0002", "2026-06", registered="maybe"),  # 10 bad flag
        row("0002", "2026-05", plan="moratorium"),  # 11 bad plan
        row("0002", "2026-05", plan="deferral", kept="?"),  # 12 bad plan_kept
        row("0001", "2026-09"),  # 13 unsorted
        row("x1", "2026-09"),  # 14 malformed account
        ("0003", "2026-09"),  # 15 wrong column count
        row("0004", "2026-09", payment="2026-10-32T10:00:00Z", payment_channel="app"),  # 16 bad date
    ]
    out, errors, _ = rate([csv_bytes(rows)])
    got = [(e.line, e.kind) for e in errors.details]
    assert got == [
        (3, "duplicate_month"),
        (4, "bad_month"),
        (5, "bad_month"),
        (6, "bad_date"),
        (7, "bad_channel"),
        (8, "bad_channel"),
        (9, "bad_channel"),
        (10, "bad_flag"),
        (11, "bad_plan"),
        (12, "bad_flag"),
        (13, "unsorted"),
        (14, "malformed_account"),
        (15, "wrong_column_count"),
        (16, "bad_date"),
    ]
    assert all(e.source == "f0.csv" for e in errors.details)


def test_duplicate_month_across_files_is_an_error():
    a = csv_bytes([good_month("0001", "2026-09")])
    b = csv_bytes([good_month("0001", "2026-09"), good_month("0001", "2026-10")])
    out, errors, _ = rate([a, b])
    assert [(e.line, e.kind, e.source) for e in errors.details] == [(2, "duplicate_month", "f1.csv")]


@pytest.mark.parametrize(
    "data,kind",
    [
        (b"", "empty_file"),
        (csv_bytes([]), "empty_file"),
        (b"account;month\n1;2026-10\n", "bad_header"),
    ],
)
def test_file_level_errors(data, kind):
    out, errors, _ = rate([data])
    assert out == [] and errors.details[0].kind == kind


def test_russian_headers_in_windows_1251():
    header = (
        "Лицевой счёт",
        "Месяц",
        "Дата показаний",
        "Канал показаний",
        "Дата оплаты",
        "Канал оплаты",
        "Зарегистрирован",
        "Email подтвержден",
        "Электронная квитанция",
        "План",
        "График соблюден",
    )
    rows = [
        (a, m, r, "ЛК", p, "Мобильное приложение", "да", "да", "да", "нет", "")
        for a, m, r, _, p, *_ in six_good()
    ]
    out, errors, _ = rate([csv_bytes(rows, ";", header, "cp1251")])
    assert not errors and out[0][1] == "ideal"


def test_explanation_says_why_month_by_month_and_what_is_missing():
    rows = with_last(
        row(
            "0001",
            "2026-10",
            "2026-10-27T10:00:00Z",
            "cabinet",
            "2026-11-11T10:00:00Z",
            "bank",
            paperless="0",
        )
    )
    out, _, engine = rate([csv_bytes(rows)])
    account, tier, points, facts = out[0]
    doc = explain(engine, account, engine.decode(facts))
    assert (doc["tier"], doc["points"], doc["tier_label"]) == (tier, points, "ответственный")
    assert doc["rules_version"] == "default-v1" and len(doc["rules_sha256"]) == 64
    last = {c["criterion"]: c for c in doc["months"][-1]["criteria"]}
    assert not last["reading_on_time"]["met"]
    assert (
        "reading on 2026-10-27" in last["reading_on_time"]["reason"]
        and "after the 25th" in last["reading_on_time"]["reason"]
    )
    assert "paid on 2026-11-11" in last["payment_on_time"]["reason"]
    assert last["registered"]["met"] and not last["paperless"]["met"]
    nxt = doc["next_tier"]
    assert nxt["tier"] == "ideal" and nxt["points_missing"] == max(0, 40 - points)
    missing = {m["criterion"]: m for m in nxt["requirements_missing"]}
    assert missing["reading_on_time"]["months"] == ["2026-10"]
    assert missing["reading_on_time"]["clears_with_period"] == "2027-04"
    assert {a["criterion"] for a in nxt["advice"]} >= {"reading_on_time", "payment_on_time", "paperless"}
    json.dumps(doc)  # JSON-ready


def test_explanation_of_the_top_tier_has_no_next_tier_and_missing_months_say_so():
    out, _, engine = rate([csv_bytes(six_good())])
    assert explain(engine, "0001", engine.decode(out[0][3]))["next_tier"] is None
    out, _, engine = rate([csv_bytes(six_good()[1:])])
    doc = explain(engine, "0001", engine.decode(out[0][3]))
    assert doc["months"][0]["data"] is False
    assert "no data for 2026-05" in doc["months"][0]["criteria"][0]["reason"]


def test_period_window():
    _, _, engine = rate([csv_bytes(six_good())], period=PERIOD)
    assert engine.months == MONTHS
    assert rate([csv_bytes([])], period="2027-02")[2].months[0] == "2026-09"


def test_columns_in_another_order_and_extra_fields():
    order = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    from tests.rewards.rating.helpers import HEADER

    rows = [tuple(r[i] for i in order) for r in six_good()]
    out, errors, _ = rate([csv_bytes(rows, ";", [HEADER[i] for i in order])])
    assert not errors and out[0][1:3] == ("ideal", 48)
    extra = six_good()
    extra[2] = extra[2] + ("x",)
    extra[3] = extra[3][:8]
    out, errors, _ = rate([csv_bytes(extra)])
    assert [(e.line, e.kind, e.message) for e in errors.details] == [
        (4, "wrong_column_count", "12 columns, the header has 11"),
        (5, "wrong_column_count", "8 columns, the header has 11"),
    ]
    blank = six_good()
    blank.insert(1, ("",) * 11)
    out, errors, _ = rate([csv_bytes(blank)])
    assert not errors and out[0][1] == "ideal"


def test_files_with_different_accounts_merge_in_account_order():
    a = csv_bytes([good_month("0001", m) for m in MONTHS] + [good_month("0005", "2026-10")])
    b = csv_bytes([good_month("0000", "2026-10")] + [good_month("0003", m) for m in MONTHS])
    c = csv_bytes([good_month("0003", "2026-05")[:1] + ("2026-05",) + good_month("0003", "2026-05")[2:]])
    out, errors, _ = rate([a, b])
    assert not errors
    assert [(o[0], o[1]) for o in out] == [
        ("0000", "beginner"),
        ("0001", "ideal"),
        ("0003", "ideal"),
        ("0005", "beginner"),
    ]
    out, errors, _ = rate([a, b, c])
    assert [(e.kind, e.source) for e in errors.details] == [("duplicate_month", "f2.csv")]


def test_explanation_in_russian():
    rows = with_last(
        row(
            "0001",
            "2026-10",
            "2026-10-27T10:00:00Z",
            "cabinet",
            "2026-11-11T10:00:00Z",
            "bank",
            plan="рассрочка",
            kept="нет",
        )
    )
    out, _, engine = rate([csv_bytes(rows)])
    doc = explain(engine, "0001", engine.decode(out[0][3]), lang="ru")
    last = {c["criterion"]: c["reason"] for c in doc["months"][-1]["criteria"]}
    assert (
        last["reading_on_time"]
        == "показания переданы 2026-10-27 через личный кабинет, позже 25-го числа (2026-10-25)"
    )
    assert (
        last["payment_on_time"]
        == "оплачено 2026-11-11 через банк, позже 2026-11-10; график (рассрочка) не соблюдён"
    )
    assert doc["next_tier"]["advice"][0]["text"].startswith(
        "передавайте показания через мобильное приложение или"
    )
    with pytest.raises(ValueError):
        explain(engine, "0001", engine.decode(out[0][3]), lang="de")
