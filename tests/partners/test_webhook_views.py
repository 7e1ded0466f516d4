"""The staff page of a partner's webhooks: add an endpoint, rotate its secret, see the delivery log,
replay a delivery; Russian by default; read-only roles see no forms and may not post."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from partners.models import PENDING, WebhookDelivery, WebhookEndpoint
from partners.services import catalog
from partners.webhook_jobs import send_due
from rewards.db import db, utcnow
from tests.partners.webhook_receiver import Receiver

pytestmark = pytest.mark.usefixtures("backend")


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    return app_factory(WEBHOOK_ALLOW_LOCAL=True)


def test_staff_manage_endpoints_and_replay(app: Flask, logged_in: Any, make_partner: Any) -> None:
    gs = make_partner()
    page = logged_in("marketing")
    url = f"/partners/{gs['id']}/webhooks"
    with Receiver() as receiver:
        r = page.post(url, data={"op": "add", "url": receiver.url, "events": ["offer.changed"]})
        assert r.status_code == 302
        with app.app_context():
            endpoint = db.session.scalars(select(WebhookEndpoint)).one()
            assert endpoint.events == "offer.changed" and endpoint.secret.startswith("whsec_")
            first_secret, endpoint_id = endpoint.secret, endpoint.id
            from partners.models import Partner

            catalog.create_offer(db.session, db.session.get(Partner, gs["id"]), title="Offer", discount_kind="percent",
                                 discount_value=5, tiers=["ideal"], valid_from=utcnow(), valid_to=utcnow().replace(
                                     year=utcnow().year + 1), actor="test")
            db.session.commit()
            assert send_due(db.session, app) == 1
        text = page.get(url).get_data(as_text=True)
        assert "Журнал доставки" in text and "offer.changed" in text and "доставлено" in text
        assert first_secret in text
        assert page.post(url, data={"op": "rotate", "endpoint": str(endpoint_id)}).status_code == 302
        with app.app_context():
            rotated = db.session.get(WebhookEndpoint, endpoint_id)
            assert rotated is not None and rotated.previous_secret == first_secret
            delivery_id = db.session.scalars(select(WebhookDelivery.id)).one()
        assert page.post(url, data={"op": "replay", "delivery": str(delivery_id)}).status_code == 302
        with app.app_context():
            assert db.session.get(WebhookDelivery, delivery_id).state == PENDING  # type: ignore[union-attr]
            assert send_due(db.session, app) == 1
        assert [g.id for g in receiver.accepted()] == [receiver.accepted()[0].id] * 2  # the same webhook-id
        r = page.post(url, data={"op": "add", "url": "ftp://nowhere"}, follow_redirects=True)
        assert "https://" in r.get_data(as_text=True)  # the refusal, in Russian, names the rule
        assert page.post(url, data={"op": "disable", "endpoint": str(endpoint_id)}).status_code == 302
        with app.app_context():
            assert db.session.get(WebhookEndpoint, endpoint_id).active is False  # type: ignore[union-attr]


def test_auditor_sees_the_page_without_forms_and_may_not_post(app: Flask, logged_in: Any, make_partner: Any) -> None:
    gs = make_partner()
    page = logged_in("auditor")
    url = f"/partners/{gs['id']}/webhooks"
    r = page.get(url)
    assert r.status_code == 200 and "Добавить адрес" not in r.get_data(as_text=True)
    assert page.post(url, data={"op": "add", "url": "https://x.test/"}).status_code == 403
    assert page.get("/partners/999/webhooks").status_code == 404


def test_staff_link_a_sandbox_key_on_the_partner_page(app: Flask, logged_in: Any, make_partner: Any,
                                                      api_token: Any) -> None:
    from partners.models import PartnerClient
    from partners.services.catalog import PARTNER_SCOPES

    gs = make_partner()
    api_token(*PARTNER_SCOPES, name="gsrv-sandbox")
    page = logged_in("marketing")
    r = page.post(f"/partners/{gs['id']}", data={"op": "link", "client": "gsrv-sandbox", "sandbox": "1"})
    assert r.status_code == 302
    with app.app_context():
        assert [c.sandbox for c in db.session.scalars(select(PartnerClient).order_by(PartnerClient.api_client_id))] \
            == [False, True]
    assert "тестовый ключ: только тестовые коды" in page.get(f"/partners/{gs['id']}").get_data(as_text=True)


@pytest.mark.parametrize(
    ("form", "named"),
    [
        ({"op": "rotate", "endpoint": "abc"}, "Адрес доставки: Введите целое число."),
        ({"op": "disable", "endpoint": "٣"}, "Адрес доставки: Введите целое число."),
        ({"op": "replay", "delivery": ""}, "Доставка:"),
        ({"op": "replay", "delivery": "9999999999"}, "Доставка:"),
        ({"op": "add", "url": ""}, "Адрес:"),
        ({"op": "explode"}, "Неизвестная операция."),
    ],
)
def test_bad_actions_are_named_and_change_nothing(app: Flask, logged_in: Any, make_partner: Any,
                                                  form: dict[str, str], named: str) -> None:
    gs = make_partner()
    page = logged_in("marketing")
    url = f"/partners/{gs['id']}/webhooks"
    assert page.post(url, data={"op": "add", "url": "https://partner.example/hooks"}).status_code == 302
    with app.app_context():
        before = [(e.id, e.secret, e.active) for e in db.session.scalars(select(WebhookEndpoint))]
    text = page.post(url, data=form, follow_redirects=True).get_data(as_text=True)
    assert named in text
    with app.app_context():
        assert [(e.id, e.secret, e.active) for e in db.session.scalars(select(WebhookEndpoint))] == before
