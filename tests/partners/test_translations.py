"""The partner pages are Russian by default: every text of the package has a Russian translation."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "partners" / "translations" / "ru" / "LC_MESSAGES" / "messages.po"


def _extracted() -> set[str]:
    method_map, options_map = parse_mapping_cfg((ROOT / "babel.cfg").open())
    keywords = {"_": None, "gettext": None, "lazy_gettext": None, "_l": None, "ngettext": (1, 2)}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT / "partners"), method_map, options_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _catalogue():  # type: ignore[no-untyped-def]
    with PO.open("rb") as fh:
        return read_po(fh, locale="ru")


def test_every_partner_text_has_a_russian_translation() -> None:
    catalogue = _catalogue()
    texts = _extracted()
    assert len(texts) > 50
    missing = sorted(t for t in texts if t not in catalogue or not catalogue[t].string)
    assert missing == []
    fuzzy = sorted(m.id for m in catalogue if m.id and m.fuzzy)
    assert fuzzy == []
    for message in catalogue:
        if not message.id:
            continue
        assert re.findall(r"%\(\w+\)s", message.id) == re.findall(r"%\(\w+\)s", message.string), message.id
        if re.search("[A-Za-z]{4,}", message.id) and not re.search("[a-z]+:[a-z]+", message.id):
            assert re.search("[А-Яа-яЁё]", message.string), message.id


def _compile() -> None:
    """What tasks.py does before tests and runs (the .mo files are not kept in git)."""
    from babel.messages.mofile import write_mo

    mo = PO.with_suffix(".mo")
    if mo.exists() and mo.stat().st_mtime >= PO.stat().st_mtime:
        return
    tmp = mo.with_name(f".{mo.name}.{os.getpid()}")
    with tmp.open("wb") as fh:
        write_mo(fh, _catalogue(), use_fuzzy=False)
    os.replace(tmp, mo)


@pytest.mark.usefixtures("backend")
def test_pages_are_russian_by_default(logged_in, make_partner, make_offer) -> None:
    _compile()
    p = make_partner()
    offer_id = make_offer(p["id"])
    c = logged_in("marketing")
    index = c.get("/partners/").get_data(as_text=True)
    assert "Партнёры" in index and "Новый партнёр" in index
    offer = c.get(f"/partners/offers/{offer_id}").get_data(as_text=True)
    assert "Выдать коды" in offer and "Скачать коды" in offer and "Откаты" in offer
    partner = c.get(f"/partners/{p['id']}").get_data(as_text=True)
    assert "Новое предложение" in partner and "Скидка" in partner
    assert "New offer" in c.get(f"/partners/{p['id']}?lang=en").get_data(as_text=True)
