"""Russian everywhere on Russian pages (issue 14, item 1), in a real browser.

Each role (marketing, admin, auditor, and an anonymous visitor) walks every page it can reach by links
from its start page, and the main error paths (a file refused line by line, a file in the wrong
encoding, a refused form, a missing page, a page the role may not open); each page's visible text must
hold no English sentence: no two Latin words of three letters or more in a row. Identifiers are not
sentences: text in ``<code>``, ``<pre>``, ``<kbd>``, form fields, URLs, ``snake_case`` or dotted names,
hashes and codes, and the names of standards and products (JSON, CSV, drand...). Every page visited is
screenshotted into a temporary folder (its path is printed), so a failure can be looked at.
"""

from __future__ import annotations

import re
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urlsplit

import pytest

from tests.browser.support import snapshot_csv, snapshot_rows, submit_unchecked

pytestmark = pytest.mark.browser

Page = Any
ROLES = ("marketing", "admin", "auditor")
MAX_PAGES = 60  # per role: every kind of page, not every row of every list
# Pages that are not pages: downloads, machine-readable records, the API, language switches, logout.
SKIP = re.compile(
    r"(^/api/|\.csv$|\.json$|\.jsonl$|\.txt$|\.png$|/export|/download|/record|/bundle|/proof|/static/|lang=|/logout"
    r"|[?&]page=)"  # a list's further pages: test_filtered_lists_are_russian visits them
)
# A run of Latin words; it is a sentence when two words of three letters or more follow each other.
RUN = re.compile(r"[A-Za-z]+(?:[ \t,;:'’()-]{1,3}[A-Za-z]+)*")
SENTENCE = re.compile(r"\b[A-Za-z]{3,}[ \t,;:'’()-]{1,3}[A-Za-z]{3,}\b")
# Identifiers and codes: URLs, paths, dotted or snake_case names, anything with a digit, e-mail addresses,
# lists without spaces (account;tier;points) and scopes (codes:redeem).
IDENTIFIER = re.compile(r"https?://\S+|\S*[/_.@=#]\S*|\S*\d\S*|--?[a-z][\w-]*|\S*\w[;:]\w\S*")
# Names of standards, formats and products: proper names in either language.
NAMES = (
    "drand", "JSON", "CSV", "API", "RFC", "UTF", "Windows", "Merkle", "Ed25519", "SHA", "Prometheus",
    "OpenAPI", "ReDoc", "BLS", "Bearer", "Idempotency-Key", "Excel", "KOI8-R", "ISO", "DOS", "UTC", "Unicode",
    "ASCII", "HMAC", "HTTP", "HTTPS", "Huey", "Redis", "PostgreSQL", "SQLite", "Chromium", "Python",
)
# Visible text without identifiers: <code>, <pre>, form fields and the language switch are left out.
VISIBLE_TEXT = """() => {
  const clone = document.body.cloneNode(true);
  clone.querySelectorAll('code, pre, kbd, samp, script, style, textarea, input, select, .lang, dialog:not([open])')
       .forEach(e => e.remove());
  document.body.appendChild(clone);
  clone.style.position = 'absolute'; clone.style.left = '-99999px';
  const text = clone.innerText;
  clone.remove();
  return text;
}"""


def latin_sentences(text: str) -> list[str]:
    """The English sentences in a page's visible text (identifiers and proper names removed first)."""
    for name in NAMES:
        text = re.sub(rf"(?<![A-Za-z]){re.escape(name)}(?![A-Za-z])", " ", text)
    cleaned = " ".join(IDENTIFIER.sub(" ", line) for line in text.splitlines())
    return [run for run in RUN.findall(cleaned) if SENTENCE.search(run)]


def test_the_detector_finds_english_and_spares_identifiers() -> None:
    assert latin_sentences("Розыгрыш объявлен. the freeze time is in the past") == ["the freeze time is in the past"]
    identifiers = "Ключ ed25519-2026-01 · Снимок 2024-03 · статус reading_on_time · python -m draws.verify"
    assert latin_sentences(identifiers) == []
    assert latin_sentences("Файл в кодировке KOI8-R; сохраните его в UTF-8 или Windows-1251") == []
    assert latin_sentences("Столбцы account;tier;points · права codes:redeem codes:validate") == []
    assert latin_sentences("marketing · маркетолог") == [] and latin_sentences("Draft draw") == ["Draft draw"]


@pytest.fixture(scope="module")
def screenshots() -> Iterator[Path]:
    """A temporary folder for the screenshots of every page visited (printed, kept after the run)."""
    folder = Path(tempfile.mkdtemp(prefix="russian-pages-"))
    print(f"\nscreenshots of the Russian pages: {folder}")
    yield folder


class Walk:
    """Visits pages, screenshots each and collects the English sentences found, by page."""

    def __init__(self, page: Page, role: str, folder: Path) -> None:
        self.page, self.role, self.folder = page, role, folder
        self.found: dict[str, list[str]] = {}
        self.count = 0

    def check(self, label: str) -> None:
        """Check the page as it is now (after a navigation or a refused form)."""
        self.count += 1
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{self.role}-{self.count:03d}-{label}").strip("-")[:120]
        self.page.screenshot(path=str(self.folder / f"{name}.png"), full_page=True)
        assert self.page.locator("html").get_attribute("lang") == "ru", f"{label}: not a Russian page"
        sentences = latin_sentences(self.page.evaluate(VISIBLE_TEXT))
        if sentences:
            self.found[f"{self.role} {label}"] = sorted(set(sentences))

    def assert_russian(self) -> None:
        """Fail naming every English sentence found, by page (the screenshots are in the folder)."""
        report = "\n".join(f"{where}: {sentences}" for where, sentences in self.found.items())
        assert not self.found, f"English on Russian pages (screenshots in {self.folder}):\n{report}"

    def crawl(self, start: str) -> None:
        """Every page reachable by same-site links from ``start`` (up to ``MAX_PAGES``), each checked once."""
        origin = urlsplit(self.page.url or "http://x").netloc
        queue, seen = deque([start]), {start}
        shapes: set[str] = set()
        while queue and len(seen) <= MAX_PAGES:
            path = queue.popleft()
            response = self.page.goto(path)
            if response is None or "text/html" not in (response.headers.get("content-type") or ""):
                continue
            self.check(path)
            for href in self.page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
                url, _ = urldefrag(href)
                parts = urlsplit(url)
                if parts.netloc != origin:
                    continue
                target = parts.path + (f"?{parts.query}" if parts.query else "")
                shape = re.sub(r"\d+", "N", parts.path)  # one page of each kind: /draws/N, not all of them
                if target in seen or SKIP.search(target) or (shape in shapes and shape != parts.path):
                    continue
                shapes.add(shape)
                seen.add(target)
                queue.append(target)


@pytest.mark.parametrize("role", ROLES)
def test_every_page_a_role_reaches_is_russian(
    new_page: Callable[..., Page], login: Callable[..., None], screenshots: Path, role: str
) -> None:
    page = new_page()
    login(page, role)
    walk = Walk(page, role, screenshots)
    walk.crawl("/")
    assert walk.count > 3, f"{role} reached only {walk.count} pages"
    walk.assert_russian()


def test_public_pages_and_missing_pages_are_russian(new_page: Callable[..., Page], screenshots: Path) -> None:
    page = new_page()
    walk = Walk(page, "anonymous", screenshots)
    for path in ("/login", "/public/draws/", "/no-such-page"):
        page.goto(path)
        walk.check(path)
    walk.crawl("/public/draws/")
    walk.assert_russian()


def test_error_paths_are_russian(
    new_page: Callable[..., Page],
    login: Callable[..., None],
    upload_snapshot: Callable[..., Any],
    screenshots: Path,
    tmp_path: Path,
) -> None:
    page = new_page()
    login(page, "marketing")
    walk = Walk(page, "errors", screenshots)

    # A snapshot file with problems on some lines: refused, each line named.
    bad = snapshot_csv(snapshot_rows(8)) + "7400009999;золото;10\nabc;ideal;5\n7400000001;ideal;-3\n".encode()
    upload_snapshot(page, "2023-01", bad, name="bad-lines.csv")
    walk.check("snapshot-bad-lines")
    # A KOI8-R file: the same "wrong encoding" hint as UTF-16.
    koi8 = "account;tier\n7400000001;идеальный клиент\n7400000002;начинающий клиент\n".encode("koi8-r")
    upload_snapshot(page, "2023-02", koi8, name="koi8.csv")
    assert "KOI8-R" in page.locator("main").inner_text()
    walk.check("snapshot-koi8r")
    upload_snapshot(page, "2023-03", "account;tier\n".encode("utf-16"), name="utf16.csv")
    walk.check("snapshot-utf16")
    # A rules file that is not valid: refused, the field named, in Russian.
    behaviour = tmp_path / "behaviour.csv"
    behaviour.write_text("account;month;reading_at;reading_channel;payment_at;payment_channel;registered;"
                         "email_confirmed;paperless;plan;plan_kept\n", encoding="utf-8")
    rules = tmp_path / "rules.json"
    rules.write_text('{"format": "nonsense"}', encoding="utf-8")
    page.goto("/snapshots/")
    compute = page.locator("#compute-form")
    compute.locator("input[name=period]").fill("2023-04")
    compute.locator("input[name=files]").set_input_files(str(behaviour))
    compute.locator("input[name=rules]").set_input_files(str(rules))
    with page.expect_event("framenavigated"):
        compute.locator("button[type=submit]").click()
    page.wait_for_load_state()
    walk.check("rules-refused")
    # A flag file with bad lines.
    path = tmp_path / "flags.csv"
    path.write_text("account;reason;valid_from\nabc;nonsense;2024-13-45\n", encoding="utf-8")
    page.goto("/flags/bulk")
    if page.locator("#bulk-upload").count():
        page.locator("#bulk-upload input[type=file]").set_input_files(str(path))
        page.locator("#bulk-upload button").first.click()
        page.wait_for_load_state()
        walk.check("flags-bulk-bad")
    # A needs file with bad lines, and needs recorded without consent: refused, each field named.
    path = tmp_path / "needs.csv"
    path.write_text("account;needs;ends_on;consent_on;consent_channel\n740000000007;astronaut;;2024-01-01;phone\n"
                    "740000000011;hardship.income_loss;;2024-01-01;fax\n", encoding="utf-8")
    page.goto("/flags/needs/bulk")
    if page.locator("#needs-bulk-upload").count():
        page.locator("#needs-bulk-upload input[type=file]").set_input_files(str(path))
        page.locator("#needs-bulk-upload button").first.click()
        page.wait_for_load_state()
        walk.check("needs-bulk-bad")
    page.goto("/flags/?account=740000000042")
    walk.check("flags-register-entry")
    if page.locator("#set-needs").count():
        page.locator("#set-needs button[type=submit]").click()
        page.wait_for_load_state()
        walk.check("needs-without-consent")
    # A draw form with impossible values (the service refuses them).
    page.goto("/draws/new")
    form = page.locator("main form").first
    if form.count():
        form.locator("input[name=name]").fill("Проверка ошибок")
        submit_unchecked(page, form)
        walk.check("draw-refused")
        # Every kind of field error of the draft form (issue 14, item 2): amounts, numbers, months, times.
        form = page.locator("#draft-form")
        form.locator("textarea[name=prizes]").fill("4 000,001 × 2\nмного")
        form.locator("input[name=reserves]").fill("-1")
        form.locator("input[name=snapshot_period]").fill("2024-13")
        form.locator("input[name=weight_ideal]").fill("-2")
        submit_unchecked(page, form)
        assert page.locator(".field-errors li").count() >= 5, page.locator("main").inner_text()
        walk.check("draw-field-errors")
    # A partner's offer with a bad amount in rubles and dates in the wrong order.
    page.goto("/partners/")
    page.locator("#partner-form input[name=name]").fill("Проверка языка")
    page.locator("#partner-form input[name=prefix]").fill("IO")  # refused: I and O are not in the alphabet
    page.locator("#partner-form button[type=submit]").click()
    page.wait_for_load_state()
    walk.check("partner-field-errors")
    page.locator("#partner-form input[name=prefix]").fill("RW")
    page.locator("#partner-form button[type=submit]").click()
    page.wait_for_load_state()
    if page.locator("#offer-form").count():  # (a partner "RW" may exist from an earlier run of this instance)
        offer = page.locator("#offer-form")
        offer.locator("select[name=kind]").select_option("fixed")
        offer.locator("input[name=amount]").fill("10,555")
        offer.locator("input[name=first]").fill("2026-03-01")
        offer.locator("input[name=last]").fill("2026-02-01")
        submit_unchecked(page, offer)
        walk.check("offer-field-errors")
    # A billing confirmation with bad lines: refused, each problem in Russian.
    path = tmp_path / "confirm.csv"
    path.write_text("credit_id,account,amount_kopecks,status\nx,7400000001,abc,nope\n999999,7400000001,100,posted\n")
    page.goto("/draws/credits")
    form = page.locator("form[action$='/confirm']")
    if form.count():
        form.locator("input[type=file]").set_input_files(str(path))
        form.locator("button").click()
        page.wait_for_load_state()
        assert page.locator(".flash.error").count(), page.locator("main").inner_text()
        walk.check("credits-confirmation-bad")
    # Tier explanations name the criteria in words; an unknown account is refused in Russian.
    for account in ("740000000007", "740000000042", "0000000001"):
        page.goto(f"/snapshots/account?account={account}")
        walk.check(f"account-{account}")
    # The partner's webhooks: an address refused, then one added, with its secret and empty log.
    page.goto("/partners/")
    page.locator("main td a[href*='/partners/']").first.click()  # the first partner's page
    page.wait_for_load_state()
    page.locator("a[href$='/webhooks']").click()
    page.wait_for_load_state()
    add = page.locator("form:has(input[name=op][value=add])")
    add.locator("input[name=url]").fill("ftp://partner.example/hooks")
    submit_unchecked(page, add)
    assert page.locator(".flash.error").count(), page.locator("main").inner_text()
    walk.check("webhook-refused")
    add = page.locator("form:has(input[name=op][value=add])")
    add.locator("input[name=url]").fill("https://partner.example/hooks")
    add.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "whsec_" in page.locator("main").inner_text()
    walk.check("webhooks")
    # Rules: a draft refused with its field named, then a what-if, its result and one account old vs new.
    page.goto("/snapshots/rules/drafts/new")
    form = page.locator("#draft-form")
    form.locator("input[name=name]").fill("Проверка")
    form.locator("input[name='tiers.responsible.min_points']").fill("12")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("#bad-field").count(), page.locator("main").inner_text()
    walk.check("rules-draft-refused")
    page.goto("/snapshots/rules")
    page.locator("#what-if-form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("#matrix").count(), page.locator("main").inner_text()
    walk.check("what-if-result")
    changed = page.locator("#changed-accounts a").first
    if changed.count():
        changed.click()
        page.wait_for_load_state()
        walk.check("what-if-account")
    # A missing object and a forbidden page.
    page.goto("/draws/20990101-deadbeef")
    walk.check("draw-missing")
    page.goto("/admin/users")
    walk.check("admin-forbidden")
    assert walk.count >= 13
    walk.assert_russian()


# Every staff list filtered, on a later page and with a value that does not fit (issue 14 item 5).
LISTS = {
    "marketing": ("/snapshots/?q=20&status=active&source=import", "/snapshots/?status=gone",
                  "/draws/?q=розыгрыш&state=draft", "/draws/?kind=yearly", "/partners/?q=гор&state=active",
                  "/partners/offers?state=open&tier=ideal", "/partners/offers?state=forever",
                  "/partners/codes?state=issued", "/partners/codes?page=2", "/partners/codes?code=XX-1",
                  "/flags/list?source=staff", "/flags/list?reason=vip", "/flags/list?account=abc"),
    "auditor": ("/audit/?action=draw.&from=2020-01-01&to=2099-12-31", "/audit/?page=2", "/audit/?from=yesterday",
                "/audit/?page=x"),
    "admin": ("/admin/users?q=a&role=marketing&state=active", "/admin/users?role=owner",
              "/admin/clients?scope=codes:validate&state=active", "/admin/clients?scope=everything"),
}


@pytest.mark.parametrize("role", sorted(LISTS))
def test_filtered_lists_are_russian(
    new_page: Callable[..., Page], login: Callable[..., None], screenshots: Path, role: str
) -> None:
    page = new_page()
    login(page, role)
    walk = Walk(page, f"lists-{role}", screenshots)
    for path in LISTS[role]:
        response = page.goto(path)
        assert response is not None and response.status in (200, 400), (path, response and response.status)
        if response.status == 400:
            assert page.locator(".flash.error").count(), path  # the refused value is named, the list shown
        assert page.locator("form.filters").count() == 1, path
        walk.check(path)
    walk.assert_russian()


@pytest.mark.parametrize("role", ROLES)
def test_the_customer_card_is_russian(
    new_page: Callable[..., Page], login: Callable[..., None], screenshots: Path, role: str
) -> None:
    page = new_page()
    login(page, role)
    walk = Walk(page, f"{role} card", screenshots)
    page.goto("/public/draws/")
    page.locator("main a[href*='/public/draws/']").first.click()
    draw_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    page.goto(f"/draws/{draw_id}")
    winners = page.locator("main a.account")
    if winners.count():  # the published demo draw: its winner's card has every section
        winners.first.click()
        page.wait_for_load_state()
        walk.check("card of a winner")
    page.goto("/")
    page.locator("#account-q-top").fill("74 0000 0000-07")
    page.locator("#account-q-top").press("Enter")
    page.wait_for_load_state()
    assert page.url.endswith("/accounts/740000000007")
    walk.check("card of a flagged account")
    for path in ("/accounts/123", "/accounts/?q=12ab"):
        page.goto(path)
        walk.check(path)
    walk.assert_russian()
