"""The what-if shells on both databases: the command line, the staff pages (drafts, result, account,
compare, publish) and the API."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from rewards.db import db
from rewards.snapshots import services
from rewards.snapshots.models import RulesDraft, RulesVersion
from tests.rewards.rating.helpers import draft_rules, random_behaviour


def _computed(app: Flask, accounts: int = 80) -> int:
    with app.app_context():
        snap = services.compute_snapshot(db.session, [(io.BytesIO(random_behaviour(accounts, seed=5)), "b.csv")],
                                         period="2026-10", actor="tester").snapshot
        db.session.commit()
        return snap.id


def _imported(app: Flask) -> int:
    with app.app_context():
        snap = services.import_snapshot(db.session, io.BytesIO(b"account;tier\n0001;ideal\n"), period="2026-09",
                                        source_name="x.csv", actor="t").snapshot
        db.session.commit()
        return snap.id


def test_cli_what_if_prints_counts_and_writes_the_changed_accounts(app: Flask, runner: Any, tmp_path: Path) -> None:
    snap_id = _computed(app)
    rules = tmp_path / "draft.json"
    rules.write_text(json.dumps(draft_rules(points__paperless=3, tiers__ideal__min_points=46)))
    out = tmp_path / "changed.csv"
    r = runner.invoke(args=["snapshots", "what-if", "2026-10", "--rules", str(rules), "--changed", str(out)])
    assert r.exit_code == 0, r.output
    assert "80 accounts" in r.output and "points.paperless: 1 -> 3" in r.output and "up " in r.output
    lines = out.read_text().splitlines()
    assert lines[0] == "account;old_tier;new_tier;old_points;new_points" and len(lines) > 1
    r = runner.invoke(args=["snapshots", "what-if", str(snap_id), "--rules", str(rules), "--json"])
    result = json.loads(r.output)
    assert result["moved_up"] + result["moved_down"] == len(lines) - 1
    account = lines[1].split(";")[0]
    r = runner.invoke(args=["snapshots", "what-if", "2026-10", "--rules", str(rules), "--account", account])
    doc = json.loads(r.output)
    assert doc["old"]["tier"] == lines[1].split(";")[1] and doc["new"]["tier"] == lines[1].split(";")[2]
    r = runner.invoke(args=["snapshots", "rules", "save-draft", str(rules), "--name", "Paperless x3"])
    assert r.exit_code == 0 and r.output.startswith("draft #1 Paperless x3: draft-v2")
    r = runner.invoke(args=["snapshots", "what-if", "2026-10", "--draft", "1", "--json"])
    assert json.loads(r.output)["after"] == result["after"]
    imported = _imported(app)
    r = runner.invoke(args=["snapshots", "what-if", str(imported), "--rules", str(rules)])
    assert r.exit_code == 1 and "needs month facts" in r.output
    rules.write_text(json.dumps(draft_rules(tiers__promising__min_points=-3)))
    r = runner.invoke(args=["snapshots", "what-if", "2026-10", "--rules", str(rules)])
    assert r.exit_code == 1 and "rules.tiers.promising.min_points" in r.output
    rules.write_text(json.dumps(draft_rules(tiers__ideal__min_points=46)))
    r = runner.invoke(args=["snapshots", "rules", "publish", str(rules), "--from", "2026-11"])
    assert r.exit_code == 0 and "from 2026-11" in r.output
    r = runner.invoke(args=["snapshots", "rules", "versions"])
    assert r.output.startswith("2026-11\tdraft-v2")


def _form(doc: dict[str, Any], name: str) -> dict[str, Any]:
    form: dict[str, Any] = {"name": name, "mode": "form", "version": doc["version"], "title": doc["title"],
                            "window_months": str(doc["window_months"]),
                            "reading_channels": doc["channels"]["reading"],
                            "payment_channels": doc["channels"]["payment"],
                            "reading_day": str(doc["deadlines"]["reading_day"]),
                            "payment_day": str(doc["deadlines"]["payment_day_next_month"]),
                            "plans": doc["hardship"]["plans"],
                            "kept_plan_credits": doc["hardship"]["kept_plan_credits"]}
    for c, n in doc["points"].items():
        form[f"points.{c}"] = str(n)
    for t, rule in doc["tiers"].items():
        form[f"tiers.{t}.min_points"] = str(rule["min_points"])
        form[f"tiers.{t}.every_month"] = rule.get("every_month", [])
    return form


def test_pages_draft_what_if_result_account_compare_publish(app: Flask, logged_in: Any) -> None:
    snap_id = _computed(app)
    staff = logged_in("marketing")
    drafts = _drafts_on_pages(app, staff)
    results = _what_ifs_on_pages(app, staff, drafts, snap_id)
    _refusals_and_publish_on_pages(app, staff, drafts, results, snap_id)
    auditor = logged_in("auditor")
    assert auditor.get(f"/snapshots/rules/what-if/{results[0]}").status_code == 200
    assert auditor.post("/snapshots/rules/what-if", data={"draft_id": drafts["JSON"],
                                                          "snapshot_id": snap_id}).status_code == 403


def _drafts_on_pages(app: Flask, staff: Any) -> dict[str, int]:
    """Bad fields refused and named (nothing stored), then two drafts, by form and as JSON: {name: id}."""
    r = staff.get("/snapshots/rules/drafts/new")
    assert r.status_code == 200 and "draft-form" in r.get_data(as_text=True)
    # A bad field: refused, named, nothing stored.
    r = staff.post("/snapshots/rules/drafts/new", data=_form(draft_rules(tiers__responsible__min_points=12), "bad"))
    assert r.status_code == 422 and "rules.tiers.responsible.min_points" in r.get_data(as_text=True)
    r = staff.post("/snapshots/rules/drafts/new", data=_form(draft_rules(tiers__ideal__min_points="много"), "bad"))
    assert r.status_code == 422 and "rules.tiers.ideal.min_points" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RulesDraft)) == 0
    r = staff.post("/snapshots/rules/drafts/new", data=_form(draft_rules(points__paperless=3), "Бумага x3"))
    assert r.status_code == 302
    r = staff.post("/snapshots/rules/drafts/new", data={"name": "JSON", "mode": "json",
                                                        "json": json.dumps(draft_rules(tiers__ideal__min_points=46))})
    assert r.status_code == 302
    with app.app_context():
        drafts = {d.name: d.id for d in db.session.scalars(select(RulesDraft))}
        assert json.loads(db.session.get(RulesDraft, drafts["Бумага x3"]).content)["points"]["paperless"] == 3
    assert "rules.points" not in staff.get(f"/snapshots/rules/drafts/{drafts['JSON']}").get_data(as_text=True)
    return drafts


def _what_ifs_on_pages(app: Flask, staff: Any, drafts: dict[str, int], snap_id: int) -> list[int]:
    """A what-if of each draft, its result page, its changed accounts, the download, an account side by side and
    the comparison of the two: the what-ifs' job ids."""
    results = []
    for draft_id in drafts.values():
        r = staff.post("/snapshots/rules/what-if", data={"draft_id": draft_id, "snapshot_id": snap_id})
        assert r.status_code == 302 and "/snapshots/rules/what-if/" in r.location, r.location
        results.append(int(r.location.rsplit("/", 1)[1]))
    r = staff.get(f"/snapshots/rules/what-if/{results[0]}")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="matrix"' in page and 'id="what-if-chart"' in page
    with app.app_context():
        from rewards.jobs.models import Job

        result = json.loads(db.session.get(Job, results[0]).result)
    assert result["changed_accounts"] > 0
    r = staff.get(f"/snapshots/rules/what-if/{results[0]}?move=up")
    accounts = re.findall(r"/account\?account=(\d+)", r.get_data(as_text=True))
    assert accounts
    r = staff.get(f"/snapshots/rules/what-if/{results[0]}?q={accounts[0]}")
    assert accounts[0] in r.get_data(as_text=True)
    assert f"/snapshots/rules/what-if/{results[0]}" in staff.get(f"/jobs/{results[0]}").get_data(as_text=True)
    r = staff.get(f"/jobs/{results[0]}/download")
    assert r.status_code == 200 and r.get_data(as_text=True).startswith("account;old_tier;new_tier")
    r = staff.get(f"/snapshots/rules/what-if/{results[0]}/account?account={accounts[0]}")
    assert r.status_code == 200 and 'id="side-by-side"' in r.get_data(as_text=True)
    r = staff.get(f"/snapshots/rules/what-if/compare?a={results[0]}&b={results[1]}")
    assert r.status_code == 200 and "compare-counts" in r.get_data(as_text=True)
    return results


def _refusals_and_publish_on_pages(app: Flask, staff: Any, drafts: dict[str, int], results: list[int],
                                   snap_id: int) -> None:
    """Bad what-if and publish forms refused in Russian (nothing queued); a what-if of an imported snapshot
    refused; a draft published from 2026-11."""
    for bad in ({"draft_id": "abc", "snapshot_id": snap_id}, {"snapshot_id": snap_id},
                {"draft_id": "٣", "snapshot_id": snap_id}):
        r = staff.post("/snapshots/rules/what-if", data=bad, follow_redirects=True)
        assert "Черновик: " in r.get_data(as_text=True) and "invalid literal" not in r.get_data(as_text=True)
    r = staff.post("/snapshots/rules/publish", data={"draft_id": "x"}, follow_redirects=True)
    assert "Черновик: " in r.get_data(as_text=True)
    with app.app_context():
        from rewards.jobs.models import Job

        assert db.session.scalar(select(func.count()).select_from(Job)) == len(results)  # none queued
        assert db.session.scalars(select(RulesVersion)).all() == []
    imported = _imported(app)
    r = staff.post("/snapshots/rules/what-if", data={"draft_id": drafts["JSON"], "snapshot_id": imported})
    assert r.status_code == 302 and r.location.endswith("/snapshots/rules")
    r = staff.post("/snapshots/rules/publish", data={"draft_id": drafts["JSON"], "effective_from": "2026-11"})
    assert r.status_code == 302
    with app.app_context():
        assert db.session.scalars(select(RulesVersion.effective_from)).all() == ["2026-11"]
    page = staff.get("/snapshots/rules").get_data(as_text=True)
    assert "2026-11" in page and "Бумага x3" in page


def test_api_drafts_what_if_changed_account_and_versions(app: Flask, client: Any, api_token: Any) -> None:
    from tests.support import bearer

    snap_id = _computed(app)
    imported = _imported(app)
    writer = bearer(api_token("rules:write", "snapshots:read"))
    reader = bearer(api_token("snapshots:read"))
    r = client.post("/api/v1/rules/drafts", json={"name": "x", "rules": draft_rules(points__bonus=1)}, headers=writer)
    assert r.status_code == 422 and r.get_json()["status"] == "bad_rules"
    assert "rules.points.bonus" in r.get_json()["errors"]
    r = client.post("/api/v1/rules/drafts", json={"name": "x", "rules": draft_rules()}, headers=reader)
    assert r.status_code == 403
    r = client.post("/api/v1/rules/drafts",
                    json={"name": "Promising 20", "rules": draft_rules(tiers__promising__min_points=20)},
                    headers=writer)
    assert r.status_code == 201, r.get_json()
    draft = r.get_json()
    assert draft["version"] == "draft-v2" and client.get(f"/api/v1/rules/drafts/{draft['id']}",
                                                         headers=reader).get_json()["rules"]["tiers"]["ideal"]
    r = client.post("/api/v1/rules/what-if", json={"snapshot_id": imported, "draft_id": draft["id"]}, headers=writer)
    assert r.status_code == 422 and r.get_json()["status"] == "needs_facts"
    r = client.post("/api/v1/rules/what-if", json={"snapshot_id": snap_id, "draft_id": draft["id"]}, headers=writer)
    assert r.status_code == 200, r.get_json()
    result = r.get_json()
    assert result["accounts"] == 80 and result["moved_down"] > 0 and result["moved_up"] == 0
    assert client.get(f"/api/v1/rules/what-if/{result['job_id']}", headers=reader).get_json() == result
    r = client.get(f"/api/v1/rules/what-if/{result['job_id']}/changed?limit=1", headers=reader)
    changed = r.get_json()
    assert changed["matched"] == result["changed_accounts"] == result["moved_down"]
    row = changed["accounts"][0]
    assert (row["old_tier"], row["new_tier"]) == ("promising", "beginner")
    r = client.get(f"/api/v1/rules/what-if/{result['job_id']}/accounts/{row['account']}?lang=ru", headers=reader)
    doc = r.get_json()
    assert r.status_code == 200 and doc["moved"] == -1 and doc["old"]["tier"] == "promising"
    r = client.post("/api/v1/rules/versions", json={"effective_from": "2026-11", "draft_id": draft["id"]},
                    headers=writer)
    assert r.status_code == 201 and r.get_json()["sha256"] == draft["sha256"]
    r = client.post("/api/v1/rules/versions", json={"effective_from": "2026-11", "rules": draft_rules()},
                    headers=writer)
    assert r.status_code == 409 and r.get_json()["status"] == "version_taken"
    r = client.get("/api/v1/rules/versions", headers=reader)
    assert [v["effective_from"] for v in r.get_json()["versions"]] == ["2026-11"]


def test_costs_of_the_demo_draw_and_offers(app: Flask, runner: Any) -> None:
    """The draws and partners features answer the cost hook: entrants and weight of the latest draw, and the
    accounts qualifying for each live offer (the demo has both), before and after."""
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        from draws.models import Draw
        from partners.models import Offer
        from rewards.snapshots import whatif

        before = {"beginner": 10, "promising": 20, "responsible": 30, "ideal": 40}
        after = {"beginner": 0, "promising": 30, "responsible": 30, "ideal": 40}
        costs = whatif.costs(db.session, "2026-10", before, after)
        draw = db.session.scalars(select(Draw).where(Draw.state != "cancelled")
                                  .order_by(Draw.created_at.desc(), Draw.id.desc())).first()
        weights = json.loads(draw.tier_weights)
        by = {(c["source"], c["measure"]): c for c in costs}
        assert by[("draws", "entrants")]["item"] == draw.name
        assert by[("draws", "total_weight")]["before"] == sum(n * weights.get(t, 0) for t, n in before.items())
        assert by[("draws", "total_weight")]["after"] == sum(n * weights.get(t, 0) for t, n in after.items())
        offers = [c for c in costs if c["source"] == "partners"]
        live = db.session.scalars(select(Offer).where(Offer.withdrawn_at.is_(None))).all()
        assert offers and len(offers) <= len(live)
        for cost in offers:
            offer = next(o for o in live if cost["item"].endswith(o.title))
            assert cost["before"] == sum(before[t] for t in offer.tier_list)
            assert cost["after"] == sum(after[t] for t in offer.tier_list)


def test_a_what_if_job_leaves_other_writers_free_while_it_reads(app: Flask) -> None:
    """While the what-if job reads (here: at its cost hook, after the pass, its reading transaction still
    open), another client saves a draft and commits: the job holds no write lock (on SQLite its own
    transaction, begun IMMEDIATE, is ended before the pass)."""
    import threading

    from rewards.jobs.models import Job
    from rewards.jobs.start import start
    from rewards.snapshots import jobs as snapshot_jobs
    from rewards.snapshots import whatif
    from rewards.snapshots.signals import what_if_costs

    snap_id = _computed(app, accounts=30)
    outcome: dict[str, Any] = {}

    def other_writer() -> None:
        try:
            with app.app_context():
                whatif.save_draft(db.session, json.dumps(draft_rules()).encode(), name="meanwhile", actor="other")
                db.session.commit()
                outcome["saved"] = True
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcome["error"] = repr(exc)

    def receiver(_session: Any, **_: Any) -> list[dict[str, Any]]:
        thread = threading.Thread(target=other_writer)
        thread.start()
        thread.join()
        return []

    what_if_costs.connect(receiver)
    try:
        with app.test_request_context():
            job = start(snapshot_jobs.WHAT_IF, {"snapshot_id": snap_id, "rules": json.dumps(draft_rules()),
                                                "label": "t", "draft_id": None}, title="t", actor="tester")
            job_id = job.id
    finally:
        what_if_costs.disconnect(receiver)
    assert outcome == {"saved": True}
    with app.app_context():
        assert db.session.get(Job, job_id).state == "done"
        assert db.session.scalars(select(RulesDraft.name)).all() == ["meanwhile"]
