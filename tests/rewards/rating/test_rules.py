"""The rules file: shipped default, its hash, and validation errors that name the field."""

from __future__ import annotations

import copy
import hashlib
import json

import pytest

from rewards.rating.rules import RulesError, default_rules, default_rules_bytes, load_rules, parse_rules


def _doc() -> dict:
    return json.loads(default_rules_bytes())


def test_default_rules_follow_the_announcement():
    rules = default_rules()
    assert rules.version == "default-v1"
    assert rules.sha256 == hashlib.sha256(default_rules_bytes()).hexdigest()
    assert rules.timezone == "Asia/Yekaterinburg"
    assert rules.window_months == 6
    assert rules.reading_day == 25 and rules.payment_day == 10
    assert rules.reading_channels == {"cabinet", "app"}
    assert rules.payment_channels == {"cabinet", "app", "autopay"}
    assert [t.tier for t in rules.tiers] == ["beginner", "promising", "responsible", "ideal"]
    assert set(rules.tier_rule("ideal").every_month) == {"reading_on_time", "payment_on_time", "paperless"}
    assert rules.kept_plan_credits == {"payment_on_time", "payment_early"}
    assert rules.points["payment_early"] > 0


def test_load_from_disk_hashes_the_exact_bytes(tmp_path):
    path = tmp_path / "rules.json"
    path.write_bytes(default_rules_bytes() + b"\n")
    rules = load_rules(path)
    assert rules.sha256 == hashlib.sha256(default_rules_bytes() + b"\n").hexdigest()
    assert rules.sha256 != default_rules().sha256


def _set(doc: dict, path: str, value: object) -> dict:
    doc = copy.deepcopy(doc)
    keys = path.split(".")
    target = doc
    for key in keys[:-1]:
        target = target[key]
    if value is KeyError:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return doc


@pytest.mark.parametrize(
    "path,value,message",
    [
        ("format", "other/1", "rules.format"),
        ("version", "", "rules.version"),
        ("version", KeyError, "rules.version: is required"),
        ("timezone", "Mars/Olympus", "rules.timezone"),
        ("window_months", 0, "rules.window_months"),
        ("window_months", "6", "rules.window_months"),
        ("channels.reading", ["cabinet", "pigeon"], "rules.channels.reading[1]"),
        ("channels.payment", "cabinet", "rules.channels.payment"),
        ("deadlines.reading_day", 31, "rules.deadlines.reading_day"),
        ("deadlines.payment_day_next_month", True, "rules.deadlines.payment_day_next_month"),
        ("points.paperless", -1, "rules.points.paperless"),
        ("points.paperless", KeyError, "rules.points.paperless: is required"),
        ("points.bonus", 1, "rules.points.bonus: unknown field"),
        ("hardship.plans", ["moratorium"], "rules.hardship.plans[0]"),
        ("hardship.kept_plan_credits", ["payment_early"], "rules.hardship.kept_plan_credits"),
        ("tiers.ideal.min_points", 10, "rules.tiers.ideal.min_points"),
        ("tiers.ideal.every_month", ["on_time"], "rules.tiers.ideal.every_month[0]"),
        ("tiers.gold", {"min_points": 1}, "rules.tiers.gold: unknown field"),
        ("tiers.promising", KeyError, "rules.tiers.promising: is required"),
        ("extra", 1, "rules.extra: unknown field"),
    ],
)
def test_validation_names_the_field(path, value, message):
    data = json.dumps(_set(_doc(), path, value)).encode()
    with pytest.raises(RulesError) as info:
        parse_rules(data)
    assert message in str(info.value)


def test_not_json_and_unreadable_files(tmp_path):
    with pytest.raises(RulesError, match="not valid UTF-8 JSON"):
        parse_rules(b"{")
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "missing.json")
    with pytest.raises(RulesError, match="rules: must be an object"):
        parse_rules(b"[]")


def test_higher_tiers_inherit_lower_requirements():
    doc = _set(_doc(), "tiers.responsible.every_month", ["registered"])
    rules = parse_rules(json.dumps(doc).encode())
    assert "registered" in rules.tier_rule("ideal").every_month
