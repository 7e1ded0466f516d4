"""The prize draw end to end in a real browser (issue 7).

A marketing user loads the month's tier snapshot (a file with one bad row is refused with the line named,
then a good file), creates a draw with one witness, announces it, freezes the entrant list, uploads the
witness's cosignature (made by ``draws.witness`` with the real clock), enters the public numbers, runs
and publishes the draw; an anonymous visitor opens the public page, learns nothing about an account
without its check code, and the owner checks their entry with it; an auditor verifies the draw and the
event log.

The draw uses public numbers (RFC 3797) as its entropy, so that nothing is fetched from the network, and
a freeze time a few seconds ahead: the test waits for the real clock, as staff would.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.support import snapshot_rows

pytestmark = pytest.mark.browser

Page = Any
TZ = ZoneInfo("Asia/Yekaterinburg")  # the service's default TIMEZONE (the test instance keeps it)
PERIOD = "2024-03"
ROWS = snapshot_rows(40)  # 10 accounts per tier; 7400000030..39 are ideal, 7400000000..09 beginners
IDEAL_ACCOUNT = "7400000035"
BEGINNER_ACCOUNT = "7400000005"
LEAD = 15.0  # seconds from creating the draft to its freeze time (filling the form takes a while)
ENTROPY_AFTER = 12  # seconds from the freeze time to "public numbers published": time to cosign
def _local(moment: datetime) -> str:
    return moment.astimezone(TZ).strftime("%Y-%m-%dT%H:%M:%S")


def _wait_until(moment: datetime) -> None:
    delay = (moment - datetime.now(TZ)).total_seconds()
    if delay > 0:
        time.sleep(delay + 0.3)


def _step(page: Page, action: str) -> None:
    """Press the button of the draw's next step (the form posting to .../<action>)."""
    page.locator(f"form[action$='/{action}'] button").first.click()
    # Every step is irreversible: the page asks first, naming what cannot be undone (rewards/static/confirm.js).
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".confirm-text")).not_to_be_empty()
    dialog.locator("button[value=yes]").click()


def _state_is(page: Page, state_label: str) -> None:
    expect(page.locator("ol.steps li.current")).to_have_text(re.compile(state_label, re.I))


def test_marketing_runs_a_draw_and_the_public_and_an_auditor_check_it(
    page: Page,
    new_page: Callable[..., Page],
    login: Callable[..., None],
    shot: Callable[[Page, str], Any],
    load_snapshot: Callable[..., None],
    live_server: Any,
    tmp_path: Path,
) -> None:
    from draws.witness import cosign, generate_key_file, public_entry

    witness_key = generate_key_file(str(tmp_path / "witness.pem"))  # the witness's own key, on their machine
    witness = public_entry(witness_key, "Нотариус Иванова")
    login(page, "marketing")
    load_snapshot(page, PERIOD, ROWS)

    # --- create the draft
    page.locator("header nav").get_by_role("link", name="Розыгрыши").click()
    expect(page.locator("h1")).to_have_text("Розыгрыши призов")
    shot(page, "draws")
    page.locator("a[href$='/draws/new']").first.click()
    expect(page.locator("h1")).to_have_text("Новый розыгрыш")
    freeze_at = datetime.now(TZ).replace(microsecond=0) + timedelta(seconds=LEAD)
    numbers_after = freeze_at + timedelta(seconds=ENTROPY_AFTER)
    form = page.locator("main form")
    form.locator("input[name=name]").fill("Розыгрыш III квартала")
    form.locator("input[name=snapshot_period]").fill(PERIOD)
    form.locator("textarea[name=prizes]").fill("4 000 × 1\n1 000 x 2")  # rubles
    expect(form.locator("select[name=algorithm]")).not_to_be_visible()  # technical choices wait under "advanced"
    form.locator("details.advanced summary").click()
    form.locator("input[name=reserves]").fill("2")
    form.locator("input[name=freeze_at]").fill(_local(freeze_at))
    form.locator("input[name=entropy_type][value=rfc3797]").check()
    form.locator("textarea[name=rfc_sources]").fill("Русское лото, тираж 1600")
    form.locator("input[name=available_after]").fill(_local(numbers_after))
    form.locator("textarea[name=witnesses]").fill(json.dumps(witness, ensure_ascii=False))
    expect(form.locator("input[name=quorum]")).to_have_value("1")  # one cosignature needed: the default
    shot(page, "new-draw")
    form.locator("button[type=submit]").click()
    expect(page.locator(".flash.info")).to_be_visible()
    _state_is(page, "черновик")
    draw_url = page.url
    draw_id = draw_url.rstrip("/").rsplit("/", 1)[-1]
    shot(page, "draft")

    # --- announce: the commitment is published, nothing can change afterwards
    _step(page, "announce")
    _state_is(page, "объявлен")
    expect(page.locator("main")).to_contain_text(re.compile(r"[0-9a-f]{64}"))
    shot(page, "announced")

    # --- freeze, after the freeze time and before the numbers exist
    _wait_until(freeze_at)
    _step(page, "freeze")
    _state_is(page, "список участников зафиксирован")
    expect(page.locator("main")).to_contain_text("20")  # responsible + ideal accounts
    shot(page, "frozen")

    # --- the witness cosigns the frozen list with its own clock; staff upload the cosignature
    package = json.loads(page.request.get(f"/public/draws/{draw_id}/freeze.json").text())
    cosignature = tmp_path / "cosignature.json"
    cosignature.write_text(json.dumps(cosign(package, witness_key, now=int(time.time()))))
    page.locator("form[action$='/cosign'] input[type=file]").set_input_files(str(cosignature))
    page.locator("form[action$='/cosign'] button").click()
    expect(page.locator(".flash.info")).to_be_visible()
    expect(page.locator("main")).to_contain_text("1 / 1")
    shot(page, "cosigned")

    # --- draw with the public numbers
    _wait_until(numbers_after)
    page.locator("textarea[name=numbers]").fill("12 31 45 7 68 3")
    _step(page, "draw")
    _state_is(page, "проведён")
    winners = page.locator("main table.grid tbody tr")
    expect(winners).to_have_count(5)  # 3 prizes + 2 reserves
    shot(page, "drawn")

    # --- publish
    _step(page, "publish")
    _state_is(page, "опубликован")
    shot(page, "published")

    # --- an anonymous visitor: the public page, masked winners, an account check
    visitor = new_page()
    visitor.goto(f"/public/draws/{draw_id}")
    expect(visitor.locator("h1")).to_have_text("Розыгрыш III квартала")
    expect(visitor.locator("header nav")).to_have_count(0)
    body = visitor.locator("main").inner_text()
    assert not re.search(r"74000000\d\d", body), "a full account number on the public page"
    expect(visitor.locator("main table.grid tbody tr")).to_have_count(3)
    expect(visitor.locator("main table.grid tbody tr").first).to_contain_text("******")
    expect(visitor.locator("main")).to_contain_text("python -m draws.verify")
    shot(visitor, "public")
    with visitor.expect_download() as download:
        visitor.locator(f"a[href$='/public/draws/{draw_id}/record.json']").click()
    assert download.value.suggested_filename.endswith(".json")

    expect(visitor.locator("main")).to_contain_text("Нотариус Иванова")  # the witness, named publicly
    codes_file = tmp_path / "codes.csv"
    live_server.flask("draws", "check-codes", draw_id, "--out", str(codes_file))  # what the bills carry
    codes = dict(line.split(";") for line in codes_file.read_text(encoding="utf-8").splitlines()[1:])

    def check_entry(account: str, code: str) -> Any:
        check = visitor.locator("#check")
        check.locator("input[name=account]").fill(account)
        check.locator("input[name=code]").fill(code)
        check.get_by_role("button", name="Проверить").click()
        return visitor.locator("#check")

    for account in (IDEAL_ACCOUNT, BEGINNER_ACCOUNT):  # without the code: the same answer for anyone
        expect(check_entry(account,
                           codes[BEGINNER_ACCOUNT if account == IDEAL_ACCOUNT else IDEAL_ACCOUNT])).to_contain_text(
            "Участие с таким номером лицевого счёта и проверочным кодом не найдено")
    shot(visitor, "entry-not-found")
    check = check_entry(IDEAL_ACCOUNT, codes[IDEAL_ACCOUNT])
    expect(check.locator(".pass")).to_contain_text("******0035 участвовал в этом розыгрыше")
    expect(check.locator("pre")).to_contain_text('"path"')  # the inclusion proof, to check at home
    shot(visitor, "entry-found")

    # --- an auditor verifies the draw and the log
    auditor = new_page()
    login(auditor, "auditor")
    auditor.goto(draw_url)
    expect(auditor.locator("form[action$='/publish']")).to_have_count(0)  # read-only
    auditor.locator(f"a[href$='/draws/{draw_id}/verify']").click()
    checks = auditor.locator("main table.grid tbody tr")
    expect(checks.first).to_be_visible()
    assert checks.count() >= 5
    expect(auditor.locator("main table.grid td.fail")).to_have_count(0)
    expect(auditor.locator("main table.grid td.pass").first).to_be_visible()
    shot(auditor, "draw-verified")

    auditor.goto(f"/audit/?object_id={draw_id}")
    expect(auditor.locator("table.grid tbody tr")).to_have_count(6)  # drafted ... cosigned ... published
    auditor.get_by_role("button", name="Проверить журнал").click()
    expect(auditor.locator("#verify-result")).to_contain_text("Журнал не изменён")
    shot(auditor, "log-verified")
