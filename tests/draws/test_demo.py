"""The demo draws: a published draw whose bundle verifies, an announced one, and idempotence."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from draws import demo, wiring
from draws.models import Draw
from draws.services import auditor_bundle_of, get_draw
from draws.verify import verify_bundle
from rewards.db import db
from rewards.signing.keystore import KeyStore
from tests.support import make_snapshot


def _load(app: Flask) -> demo.DemoDraws:
    with app.test_request_context():
        made = demo.load(
            db.session,
            signer=wiring.signer(),
            box=wiring.box(),
            chains=wiring.chains(),
            timezone=wiring.timezone(),
            yearly_cap_kopecks=wiring.yearly_cap(),
            keys_dir=app.config["KEYS_DIR"],
        )
        db.session.commit()
        return made


def test_demo_draws_verify_and_load_once(app: Flask) -> None:
    tiers = {f"74{i:08d}": ("ideal", "responsible", "promising", "beginner")[i % 4] for i in range(200)}
    with app.app_context():
        make_snapshot(db.session, "2026-10", tiers)
        db.session.commit()
    made = _load(app)
    assert made.published and made.announced
    with app.test_request_context():
        published = get_draw(db.session, made.published)
        assert published.state == "published"
        assert get_draw(db.session, made.announced).state == "announced"
        keyset = KeyStore(app.config["KEYS_DIR"]).keyset()
        bundle = auditor_bundle_of(db.session, published, keyset, wiring.box())
        witness, _key = demo.demo_witness(app.config["KEYS_DIR"])
        checks = verify_bundle(bundle, keyset, witnesses=[witness])
        assert [c.line() for c in checks if c.status not in ("PASS", "SKIP")] == []
        named = {c.name: c for c in checks}
        assert named["winners"].status == "PASS" and "1 of 1" in named["witnesses"].reason
        assert "Демо-свидетель" in named["witnesses"].reason  # the demo's own witness, named as such
    again = _load(app)
    assert again.published is None and again.announced is None
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Draw)) == 2


def test_demo_draws_need_a_snapshot(app: Flask) -> None:
    made = _load(app)
    assert made.published is None and "no tier snapshot" in made.note
