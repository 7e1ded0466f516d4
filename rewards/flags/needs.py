"""The register of needs, the pure part: the declared list of need codes, the checks of a register
entry (needs, end dates, re-verification, consent, nominee) and the bulk file reader.

No Flask, no SQLAlchemy. A *register entry* is a staff flag of reason ``needs`` that carries one or
more need codes of the declared list (``needs-v<N>.json`` in this package: the highest version is
the list in use; a later version keeps every code of the earlier ones). Each need code says:

- ``temporary``: the need must have an end date (``ends_on``, the last day it applies);
- ``reverify``: the need may change, so it carries a re-verification date (``verify_by``; default
  the day of recording plus the setting ``PRIORITY_REVERIFY_YEARS``, 2 years);
- its label and what the call centre should do, in English and Russian.

The customer's consent (date, channel, staff member who took it) is recorded before any need is
stored; a nominee (a person the call centre may speak to) and a call-centre password are optional.
"""

from __future__ import annotations

import io
import json
import re
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from importlib import resources
from typing import Any

from rewards.csvread import N_, Column, HeaderMessage, HeaderProblems, Kind, Table, normalise_name
from rewards.flags.core import NOTE_MAX, BulkFile, FlagInputError, check_account, check_revoke_reason, parse_date

REGISTER_REASON = "needs"
CHANNELS: tuple[str, ...] = ("phone", "office", "written", "online")
CONSENT_SHARED = "shared"  # an export of the register: only entries the customer agreed to share
CONSENT_ANY = "any"  # every entry
CONSENT_BY_MAX = 128
NOMINEE_NAME_MAX = 200
PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()-]{4,30}$")
PASSWORD_MIN, PASSWORD_MAX = 4, 64
_LIST_FILE = re.compile(r"^needs-v([0-9]+)\.json$")


@dataclass(frozen=True)
class NeedDef:
    """One declared need: its code, whether it is temporary / to be re-verified, texts by language."""

    code: str
    temporary: bool
    reverify: bool
    label: dict[str, str]
    action: dict[str, str]

    def text(self, what: str, language: str) -> str:
        """The label or action (``what``) in ``language`` (English when that language is missing)."""
        texts = self.label if what == "label" else self.action
        return texts.get(language) or texts["en"]


@dataclass(frozen=True)
class NeedList:
    """A version of the declared list, codes in the order pages show them."""

    version: int
    needs: dict[str, NeedDef]

    def get(self, code: str) -> NeedDef | None:
        return self.needs.get(code)


def parse_list(data: dict[str, Any]) -> NeedList:
    """A need list from its JSON form; ValueError names what is wrong."""
    version = data.get("version")
    if not isinstance(version, int) or version < 1:
        raise ValueError("a need list needs a positive integer 'version'")
    needs: dict[str, NeedDef] = {}
    for item in data.get("needs", []):
        code = item.get("code", "")
        if not re.match(r"^[a-z_]+(\.[a-z_]+)?$", code) or code in needs:
            raise ValueError(f"need list v{version}: bad or repeated code {code!r}")
        for what in ("label", "action"):
            if not {"en", "ru"} <= set(item.get(what, {})):
                raise ValueError(f"need list v{version}: {code} needs '{what}' in en and ru")
        needs[code] = NeedDef(code, bool(item.get("temporary")), bool(item.get("reverify")), dict(item["label"]),
                              dict(item["action"]))
    if not needs:
        raise ValueError(f"need list v{version} declares no needs")
    return NeedList(version, needs)


@cache
def need_lists() -> dict[int, NeedList]:
    """Every shipped version of the list, by version number (read once)."""
    found: dict[int, NeedList] = {}
    for entry in resources.files(__package__).iterdir():
        m = _LIST_FILE.match(entry.name)
        if m:
            parsed = parse_list(json.loads(entry.read_text(encoding="utf-8")))
            if parsed.version != int(m.group(1)):
                raise ValueError(f"{entry.name} declares version {parsed.version}")
            found[parsed.version] = parsed
    return found


def current_list() -> NeedList:
    """The list in use: the highest version shipped."""
    lists = need_lists()
    return lists[max(lists)]


def need_def(code: str) -> NeedDef | None:
    """A code of any shipped version (stored entries keep the codes of the version they were set with)."""
    for version in sorted(need_lists(), reverse=True):
        found = need_lists()[version].get(code)
        if found is not None:
            return found
    return None


def add_years(day: date, years: int) -> date:
    """``day`` plus whole years (29 February becomes 28 February)."""
    year = day.year + years
    return date(year, day.month, min(day.day, monthrange(year, day.month)[1]))


@dataclass(frozen=True)
class NeedInput:
    """One need of an entry, checked: its code and dates."""

    code: str
    ends_on: date | None
    verify_by: date | None


@dataclass(frozen=True)
class Consent:
    """The customer's consent: when, how, taken by whom, and whether the entry may go to partner
    organisations (network operator, water company)."""

    on: date
    channel: str
    by: str
    share: bool


@dataclass(frozen=True)
class RegisterInput:
    """A checked register entry."""

    account: str
    needs: tuple[NeedInput, ...]
    consent: Consent
    nominee_name: str | None
    nominee_phone: str | None
    password: str | None  # plain text: the service hashes it and never keeps it
    note: str | None
    valid_from: date
    list_version: int


@dataclass(frozen=True)
class NeedRequest:
    """A need as asked for (before checking): code, and its dates when given."""

    code: str
    ends_on: date | None = None
    verify_by: date | None = None


def check_consent(on: date | None, channel: str | None, by: str | None, share: bool, *, today: date) -> Consent:
    """Consent comes first: its date (not in the future), channel and the staff member who took it."""
    if on is None:
        raise FlagInputError(N_("record the customer's consent first: its date (consent_on) is missing"),
                             "consent_on")
    if on > today:
        raise FlagInputError(N_("consent_on %(date)s is in the future"), "consent_on", date=on.isoformat())
    channel = (channel or "").strip()
    if channel not in CHANNELS:
        raise FlagInputError(N_("consent_channel must be one of: %(channels)s"), "consent_channel",
                             channels="/".join(CHANNELS))
    by = (by or "").strip()
    if not by or len(by) > CONSENT_BY_MAX:
        raise FlagInputError(N_("consent_by: name the staff member who took the consent (at most %(limit)s "
                                "characters)"), "consent_by", limit=CONSENT_BY_MAX)
    return Consent(on, channel, by, bool(share))


def check_need(request: NeedRequest, *, today: date, reverify_years: int, needs: NeedList) -> NeedInput:
    """A need's code and dates by its declaration: temporary needs end, changeable ones are re-verified."""
    code = request.code.strip()
    declared = needs.get(code)
    if declared is None:
        raise FlagInputError(N_("unknown need %(need)s; use one of: %(needs)s"), "needs", need=repr(code),
                             needs=", ".join(needs.needs))
    ends_on = request.ends_on
    if declared.temporary:
        if ends_on is None:
            raise FlagInputError(N_("need %(need)s is temporary: give its end date (ends_on)"), "ends_on", need=code)
        if ends_on < today:
            raise FlagInputError(N_("ends_on %(date)s is already past"), "ends_on", date=ends_on.isoformat())
    elif ends_on is not None:
        raise FlagInputError(N_("need %(need)s is not temporary: it takes no end date"), "ends_on", need=code)
    verify_by = None
    if declared.reverify:
        verify_by = request.verify_by or add_years(today, reverify_years)
        if verify_by <= today:
            raise FlagInputError(N_("verify_by %(date)s must be after today"), "verify_by",
                                 date=verify_by.isoformat())
    return NeedInput(code, ends_on, verify_by)


def _checked_needs(requests: list[NeedRequest], *, today: date, reverify_years: int,
                   needs: NeedList) -> list[NeedInput]:
    """At least one need, each declared and with its dates (:func:`check_need`), none twice."""
    if not requests:
        raise FlagInputError(N_("give at least one need"), "needs")
    checked: list[NeedInput] = []
    for req in requests:
        item = check_need(req, today=today, reverify_years=reverify_years, needs=needs)
        if any(c.code == item.code for c in checked):
            raise FlagInputError(N_("need %(need)s is given twice"), "needs", need=item.code)
        checked.append(item)
    return checked


def _checked_nominee(nominee_name: str | None, nominee_phone: str | None) -> tuple[str | None, str | None]:
    """The nominee's name and phone, trimmed (empty is none); a phone needs a name."""
    name = (nominee_name or "").strip() or None
    phone = (nominee_phone or "").strip() or None
    if name is not None and len(name) > NOMINEE_NAME_MAX:
        raise FlagInputError(N_("the nominee's name is longer than %(limit)s characters"), "nominee_name",
                             limit=NOMINEE_NAME_MAX)
    if phone is not None and not PHONE_RE.match(phone):
        raise FlagInputError(N_("nominee_phone %(value)s is not a phone number"), "nominee_phone", value=repr(phone))
    if phone is not None and name is None:
        raise FlagInputError(N_("a nominee's phone needs the nominee's name"), "nominee_name")
    return name, phone


def check_register(
    account: str | None,
    requests: list[NeedRequest],
    consent: Consent | None,
    *,
    nominee_name: str | None = None,
    nominee_phone: str | None = None,
    password: str | None = None,
    note: str | None = None,
    valid_from: date | None = None,
    today: date,
    reverify_years: int,
    needs: NeedList | None = None,
) -> RegisterInput:
    """Validate a register entry; the first problem raises FlagInputError naming its field.

    ``consent`` is checked first (by :func:`check_consent`): no need is stored without it.
    """
    acct = check_account(account)
    if consent is None:
        raise FlagInputError(N_("record the customer's consent first: its date (consent_on) is missing"),
                             "consent_on")
    needs = needs or current_list()
    checked = _checked_needs(requests, today=today, reverify_years=reverify_years, needs=needs)
    name, phone = _checked_nominee(nominee_name, nominee_phone)
    if password is not None and password != "" and not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise FlagInputError(N_("the call-centre password must have %(low)s to %(high)s characters"), "password",
                             low=PASSWORD_MIN, high=PASSWORD_MAX)
    note = (note or "").strip() or None
    if note is not None and len(note) > NOTE_MAX:
        raise FlagInputError(N_("the note is longer than %(limit)s characters"), "note", limit=NOTE_MAX)
    return RegisterInput(acct, tuple(checked), consent, name, phone, password or None, note, valid_from or today,
                         needs.version)


def requests_of(codes: str | list[str], ends_on: date | None, verify_by: date | None,
                needs: NeedList | None = None) -> list[NeedRequest]:
    """Needs given as codes (a comma-separated text or a list) with one end date for the temporary ones
    and one re-verification date for the changeable ones (forms, the CLI and bulk files)."""
    needs = needs or current_list()
    items = [c.strip() for c in (codes.split(",") if isinstance(codes, str) else codes) if c.strip()]
    out = []
    for code in items:
        declared = needs.get(code)
        out.append(NeedRequest(code, ends_on if declared is None or declared.temporary else None,
                               verify_by if declared is not None and declared.reverify else None))
    return out


def due_reason(ends_on: date | None, verify_by: date | None, *, today: date, within_days: int) -> str | None:
    """``ends`` when a temporary need ends within ``within_days`` (or has ended), ``reverify`` when its
    re-verification date falls within them; None otherwise."""
    horizon = today + timedelta(days=within_days)
    if ends_on is not None and ends_on <= horizon:
        return "ends"
    if verify_by is not None and verify_by <= horizon:
        return "reverify"
    return None


# --- the bulk file -------------------------------------------------------------------------------

BULK_COLUMNS: tuple[Column, ...] = (
    Column.of("account", "лицевой счет", "лс"),
    Column.of("needs", "потребности"),
    Column.of("ends_on", "окончание", required=False),
    Column.of("verify_by", "перепроверить до", required=False),
    Column.of("consent_on", "дата согласия", required=False),
    Column.of("consent_channel", "канал согласия", required=False),
    Column.of("consent_by", "согласие принял", required=False),
    Column.of("share", "передавать партнерам", required=False),
    Column.of("nominee_name", "доверенное лицо", required=False),
    Column.of("nominee_phone", "телефон доверенного лица", required=False),
    Column.of("note", "примечание", "комментарий", required=False),
    Column.of("action", "действие", required=False),
)
_EXPECTED = "account;needs;ends_on;verify_by;consent_on;consent_channel;consent_by;share;nominee_name;" \
            "nominee_phone;note;action"
YES = frozenset({"1", "yes", "y", "true", "да", "д"})
NO = frozenset({"", "0", "no", "n", "false", "нет", "н"})
ACTIONS = {"": "set", "set": "set", "установить": "set", "revoke": "revoke", "снять": "revoke"}


@dataclass(frozen=True)
class BulkEntry:
    """One checked line: an entry to store (``entry``) or an account whose entry is revoked (``why``)."""

    line: int
    account: str
    entry: RegisterInput | None
    why: str | None


@dataclass
class BulkNeeds(BulkFile):
    """What a bulk needs file holds: the good lines, and every problem by line."""

    lines: list[BulkEntry] = field(default_factory=list)


def _header_messages(problems: HeaderProblems) -> list[HeaderMessage]:
    out: list[HeaderMessage] = []
    if problems.missing:
        out.append((N_("missing column(s): %(columns)s (expected %(expected)s)"),
                    {"columns": ", ".join(c.key for c in problems.missing), "expected": _EXPECTED}))
    if problems.unknown:
        out.append((N_("unknown column(s): %(columns)s (expected %(expected)s)"),
                    {"columns": ", ".join(raw for _p, raw in problems.unknown), "expected": _EXPECTED}))
    if problems.twice:
        out.append((N_("column(s) given twice: %(columns)s (expected %(expected)s)"),
                    {"columns": ", ".join(problems.twice), "expected": _EXPECTED}))
    return out


def _yes_no(text: str | None) -> bool:
    value = normalise_name(text or "")
    if value in YES:
        return True
    if value in NO:
        return False
    raise FlagInputError(N_("share must be yes or no, not %(value)s"), "share", value=repr(text))


def _check_line(line_no: int, values: dict[str, str], *, today: date, reverify_years: int, actor: str,
                needs: NeedList) -> BulkEntry:
    action = ACTIONS.get(normalise_name(values.get("action", "")))
    if action is None:
        raise FlagInputError(N_("action must be set or revoke, not %(value)s"), "action",
                             value=repr(values.get("action")))
    account = check_account(values.get("account"))
    if action == "revoke":
        return BulkEntry(line_no, account, None, check_revoke_reason(values.get("note")))
    consent = check_consent(parse_date(values.get("consent_on"), "consent_on"), values.get("consent_channel"),
                            values.get("consent_by") or actor, _yes_no(values.get("share")), today=today)
    requests = requests_of(values.get("needs", ""), parse_date(values.get("ends_on"), "ends_on"),
                           parse_date(values.get("verify_by"), "verify_by"), needs)
    entry = check_register(account, requests, consent, nominee_name=values.get("nominee_name"),
                           nominee_phone=values.get("nominee_phone"), note=values.get("note"), today=today,
                           reverify_years=reverify_years, needs=needs)
    return BulkEntry(line_no, account, entry, None)


def read_bulk(data: bytes, *, today: date, reverify_years: int, actor: str) -> BulkNeeds:
    """Read a bulk needs file: one line per account, every line checked, every problem reported by line.

    Columns (English or Russian names, any order): ``account`` and ``needs`` (comma-separated codes)
    required; ``ends_on`` (for the temporary needs), ``verify_by``, ``consent_on``, ``consent_channel``,
    ``consent_by`` (default: who uploads), ``share`` (yes/no), ``nominee_name``, ``nominee_phone``,
    ``note``, ``action`` (``set``, the default, or ``revoke``: ``note`` is then the reason). No
    passwords in files: a call-centre password is set on the page, the API or the command line.
    """
    report = BulkNeeds()
    table = Table(io.BytesIO(data), BULK_COLUMNS, report.log, header_messages=_header_messages)
    report.encoding = "utf-8-sig" if table.lines.bom else table.lines.encoding
    if not table.ok:
        return report
    needs = current_list()
    seen: dict[str, int] = {}
    for line_no, values in table.records():
        try:
            entry = _check_line(line_no, values, today=today, reverify_years=reverify_years, actor=actor,
                                needs=needs)
        except FlagInputError as exc:
            report.add_error(line_no, exc.template, "bad_value", exc.field, **exc.params)
            continue
        if entry.account in seen:
            report.add_error(line_no, N_("account %(account)s already on line %(other_line)s"), "duplicate_line",
                             account=entry.account, other_line=seen[entry.account])
            continue
        seen[entry.account] = line_no
        report.lines.append(entry)
    if not report.lines and not report.log:
        report.add_error(0, N_("the file has a header but no lines"), Kind.EMPTY_FILE)
    return report
