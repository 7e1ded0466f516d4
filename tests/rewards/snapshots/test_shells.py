"""Snapshot shells on both databases: API (scopes, streaming body, errors), CLI, staff pages."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from rewards.audit.models import Event
from rewards.db import db
from rewards.snapshots.models import Snapshot
from tests.rewards.rating.helpers import csv_bytes, good_month, row
from tests.support import bearer

CSV = "Лицевой счет;Рейтинг;Баллы\n0002;идеальный;41\n0001;перспективный;12\n".encode("cp1251")
MONTHS = ["2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]


def _behaviour() -> bytes:
    rows = [good_month("0001", m) for m in MONTHS] + [row("0002", "2026-10", "2026-10-27", "app")]
    return csv_bytes(rows)


def test_api_import_compare_export(client: Any, api_token: Any) -> None:
    writer = bearer(api_token("snapshots:write", "snapshots:read"))
    r = client.post(
        "/api/v1/snapshots?period=2026-09&filename=sept.csv",
        data=CSV,
        headers={**writer, "Content-Type": "text/csv"},
    )
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["snapshot"]["row_count"] == 2 and body["replaced"] is None
    assert body["snapshot"]["tier_counts"]["ideal"] == 1 and body["snapshot"]["source_name"] == "sept.csv"
    r = client.post("/api/v1/snapshots?period=2026-09", data=CSV, headers=writer)
    assert r.status_code == 409 and r.get_json()["status"] == "period_taken"
    data = b'{"account": "0001", "tier": "ideal"}\n{"account": "0003", "tier": "beginner"}\n'
    r = client.post("/api/v1/snapshots?period=2026-10&format=jsonl", data=data, headers=writer)
    assert r.status_code == 201
    r = client.get("/api/v1/snapshots/compare?from=2026-09&to=2026-10", headers=writer)
    assert r.status_code == 200
    result = r.get_json()
    assert result["matrix"]["promising"]["ideal"] == 1 and result["left"]["ideal"] == 1
    assert result["joined"]["beginner"] == 1
    snap_id = body["snapshot"]["id"]
    r = client.get(f"/api/v1/snapshots/{snap_id}/export?kind=bills", headers=writer)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.get_data().decode() == "Лицевой счет;Рейтинг\n0001;перспективный\n0002;идеальный\n"
    r = client.get(f"/api/v1/snapshots/{snap_id}/export?kind=bills&encoding=cp1251", headers=writer)
    assert r.get_data().decode("cp1251").endswith("0002;идеальный\n")
    r = client.get("/api/v1/snapshots", headers=writer)
    assert [s["period"] for s in r.get_json()["snapshots"]] == ["2026-10", "2026-09"]


def test_api_rejects_a_bad_file_with_lines(client: Any, api_token: Any) -> None:
    writer = bearer(api_token("snapshots:write"))
    r = client.post(
        "/api/v1/snapshots?period=2026-09", data=b"account;tier\n1;gold\n;ideal\n", headers=writer
    )
    assert r.status_code == 422
    body = r.get_json()
    assert body["status"] == "invalid_file"
    assert [(e["line"], e["kind"]) for e in body["errors"]["shown"]] == [
        (2, "unknown_tier"),
        (3, "empty_account"),
    ]


def test_api_scopes(client: Any, api_token: Any) -> None:
    reader = bearer(api_token("snapshots:read"))
    cabinet = bearer(api_token("cabinet:read"))
    assert client.post("/api/v1/snapshots?period=2026-09", data=CSV, headers=reader).status_code == 403
    assert client.get("/api/v1/snapshots", headers=cabinet).status_code == 403
    assert client.get("/api/v1/accounts/0001/tier", headers=reader).status_code == 403
    assert client.get("/api/v1/snapshots").status_code == 401


def test_api_compute_and_account_tier(client: Any, api_token: Any) -> None:
    writer = bearer(api_token("snapshots:write"))
    cabinet = bearer(api_token("cabinet:read"))
    r = client.post(
        "/api/v1/snapshots/compute?period=2026-10",
        headers=writer,
        content_type="multipart/form-data",
        data={"files": [(io.BytesIO(_behaviour()), "behaviour.csv")]},
    )
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["snapshot"]["rules_version"] == "default-v1"
    r = client.get("/api/v1/accounts/0002/tier?period=2026-10", headers=cabinet)
    assert r.status_code == 200
    doc = r.get_json()
    assert doc["tier"] == "beginner" and doc["explained"] and doc["rules_version"] == "default-v1"
    assert len(doc["months"]) == 6 and doc["months"][0]["data"] is False
    last = {c["criterion"]: c for c in doc["months"][-1]["criteria"]}
    assert "reading on 2026-10-27" in last["reading_on_time"]["reason"]
    assert doc["next_tier"]["tier"] == "promising" and doc["history"][0]["period"] == "2026-10"
    r = client.get("/api/v1/accounts/0002/tier?period=2026-10&lang=ru", headers=cabinet)
    last = {c["criterion"]: c for c in r.get_json()["months"][-1]["criteria"]}
    assert last["reading_on_time"]["reason"].startswith("показания переданы 2026-10-27")
    assert client.get("/api/v1/accounts/9999/tier", headers=cabinet).status_code == 404
    r = client.post(
        "/api/v1/snapshots/compute?period=2026-11",
        headers=writer,
        content_type="multipart/form-data",
        data={"files": [(io.BytesIO(b"account;month\n"), "b.csv")]},
    )
    assert r.status_code == 422


def test_cli_import_replace_compute_export(app: Flask, runner: Any, tmp_path: Path) -> None:
    path = tmp_path / "oct.csv"
    path.write_bytes(CSV)
    result = runner.invoke(args=["snapshots", "import", str(path), "--period", "2026-10"])
    assert result.exit_code == 0, result.output
    assert "imported #1 2026-10: 2 accounts" in result.output
    result = runner.invoke(args=["snapshots", "import", str(path), "--period", "2026-10"])
    assert result.exit_code == 1 and "replace" in result.output
    result = runner.invoke(args=["snapshots", "import", str(path), "--period", "2026-10", "--replace"])
    assert result.exit_code == 0 and "replaced #1" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"account,tier\n1,ideal\n1,ideal\n")
    result = runner.invoke(args=["snapshots", "import", str(bad), "--period", "2026-11"])
    assert result.exit_code == 1 and "line bad.csv:3: duplicate_account" in result.output
    beh = tmp_path / "behaviour.csv"
    beh.write_bytes(_behaviour())
    result = runner.invoke(args=["snapshots", "compute", "--period", "2026-12", str(beh)])
    assert result.exit_code == 1  # the window 2026-07..2026-12 does not hold 2026-05
    result = runner.invoke(args=["snapshots", "compute", "--period", "2026-10", str(beh), "--replace"])
    assert result.exit_code == 0, result.output
    assert "rules default-v1" in result.output
    out = tmp_path / "bills.csv"
    result = runner.invoke(
        args=["snapshots", "export", "--period", "2026-10", "--kind", "bills", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").splitlines()[1] == "0001;идеальный"
    result = runner.invoke(args=["snapshots", "explain", "0001"])
    assert result.exit_code == 0 and json.loads(result.output)["tier"] == "ideal"
    result = runner.invoke(args=["snapshots", "verify", "2026-10"])
    assert result.exit_code == 0 and result.output.startswith("OK")
    result = runner.invoke(args=["snapshots", "list"])
    assert result.output.count("2026-10") == 3
    with app.app_context():
        actions = db.session.scalars(select(Event.action).where(Event.object_type == "snapshot")).all()
        assert actions.count("snapshot.superseded") == 2 and "snapshot.computed" in actions
        assert "snapshot.exported" in actions


def test_pages_upload_error_report_detail_compare_account(app: Flask, logged_in: Any) -> None:
    page = logged_in("marketing")
    r = page.post(
        "/snapshots/upload",
        content_type="multipart/form-data",
        data={"period": "2026-09", "file": (io.BytesIO(b"account;tier\n1;ideal\n2;gold\n"), "s.csv")},
    )
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "unknown_tier" in html and "gold" in html and 'id="problems"' in html
    r = page.post(
        "/snapshots/upload",
        content_type="multipart/form-data",
        data={"period": "2026-09", "file": (io.BytesIO(CSV), "sept.csv")},
    )
    assert r.status_code == 302
    detail = page.get(r.headers["Location"])
    assert detail.status_code == 200 and "sept.csv" in detail.get_data(as_text=True)
    r = page.post(
        "/snapshots/upload",
        content_type="multipart/form-data",
        data={"period": "2026-09", "file": (io.BytesIO(CSV), "again.csv")},
    )
    assert r.status_code == 409
    r = page.post(
        "/snapshots/compute",
        content_type="multipart/form-data",
        data={"period": "2026-10", "files": [(io.BytesIO(_behaviour()), "b.csv")]},
    )
    assert r.status_code == 302
    r = page.get("/snapshots/compare?from=2026-09&to=2026-10")
    assert r.status_code == 200 and 'id="matrix"' in r.get_data(as_text=True)
    r = page.get("/snapshots/account?account=0001")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="criteria"' in html and 'id="history"' in html
    with app.app_context():
        snap = db.session.scalar(select(Snapshot).where(Snapshot.period == "2026-10"))
        snap_id = snap.id
    r = page.get(f"/snapshots/{snap_id}/export/full")
    assert r.status_code == 200 and r.get_data(as_text=True).startswith("account;tier;points\n0001;ideal;")
    assert page.get("/snapshots/").status_code == 200
    assert "Рейтинги по месяцам" in page.get("/snapshots/?lang=ru").get_data(as_text=True)
    assert page.get("/").status_code == 200  # the dashboard panel


def test_auditors_read_but_do_not_load(app: Flask, logged_in: Any) -> None:
    page = logged_in("auditor")
    assert page.get("/snapshots/").status_code == 200
    r = page.post(
        "/snapshots/upload",
        content_type="multipart/form-data",
        data={"period": "2026-09", "file": (io.BytesIO(CSV), "s.csv")},
    )
    assert r.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Snapshot)) == 0


def _ahead() -> str:
    from rewards.snapshots.queries import current_period

    year, month = map(int, current_period().split("-"))
    return f"{year + month // 12}-{month % 12 + 1:02d}"


def test_a_future_period_is_refused_by_api_cli_and_page_unless_confirmed(
    app: Flask, client: Any, api_token: Any, runner: Any, logged_in: Any, tmp_path: Path
) -> None:
    ahead = _ahead()
    writer = bearer(api_token("snapshots:write", "snapshots:read"))
    r = client.post(f"/api/v1/snapshots?period={ahead}", data=CSV, headers=writer)
    assert r.status_code == 422 and r.get_json()["status"] == "future_period"
    assert ahead in r.get_json()["message"]
    r = client.post(f"/api/v1/snapshots/compute?period={ahead}", data={"files": [(io.BytesIO(_behaviour()), "b.csv")]},
                    headers=writer, content_type="multipart/form-data")
    assert r.status_code == 422 and r.get_json()["status"] == "future_period"
    path = tmp_path / "s.csv"
    path.write_bytes(CSV)
    result = runner.invoke(args=["snapshots", "import", str(path), "--period", ahead])
    assert result.exit_code == 1 and ahead in result.output and "future" in result.output
    result = runner.invoke(args=["snapshots", "import", str(path), "--period", ahead, "--background"])
    assert result.exit_code == 1 and ahead in result.output
    page = logged_in("marketing")
    r = page.post("/snapshots/upload?lang=ru", content_type="multipart/form-data",
                  data={"period": ahead, "file": (io.BytesIO(CSV), "s.csv")})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert ahead in html and "будущий месяц" in html
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Snapshot)) == 0
    r = page.post("/snapshots/upload", content_type="multipart/form-data",
                  data={"period": ahead, "future": "1", "file": (io.BytesIO(CSV), "s.csv")})
    assert r.status_code == 302
    result = runner.invoke(args=["snapshots", "import", str(path), "--period", ahead, "--future", "--replace"])
    assert result.exit_code == 0, result.output
    r = client.post(f"/api/v1/snapshots?period={ahead}&future=true&replace=true", data=CSV, headers=writer)
    assert r.status_code == 201
    r = client.get("/api/v1/accounts/0001/tier", headers=bearer(api_token("cabinet:read")))
    assert r.status_code == 404 and r.get_json()["status"] == "no_snapshot"  # the future one is not the latest
