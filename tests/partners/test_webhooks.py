"""The pure core of webhooks: signatures per the Standard Webhooks specification, verification (and the
example in docs/api.md, run as written), rotation's two signatures, the retry schedule."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from pathlib import Path

import pytest

from partners import webhooks as core

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_hmac_signature_is_the_specified_one() -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    body = b'{"type":"code.redeemed"}'
    sig = core.sign(secret, "msg_1", 1700000000, body)
    expected = hmac.new(b"k" * 32, b"msg_1.1700000000." + body, hashlib.sha256).digest()
    assert sig == "v1," + base64.b64encode(expected).decode()


def test_verify_accepts_and_refuses() -> None:
    secret = core.new_secret()
    body = b'{"a":1}'
    h = core.headers([secret], "msg_x", 1000, body)
    core.verify(secret, h, body, now=1000)
    with pytest.raises(core.BadSignature):
        core.verify(secret, h, body + b" ", now=1000)  # body changed
    with pytest.raises(core.BadSignature):
        core.verify(secret, h, body, now=1000 + core.TOLERANCE_SECONDS + 1)  # too old
    with pytest.raises(core.BadSignature):
        core.verify(core.new_secret(), h, body, now=1000)  # another secret
    with pytest.raises(core.BadSignature):
        core.verify(secret, {**h, "webhook-id": "msg_y"}, body, now=1000)  # another id


def test_rotation_sends_both_signatures_and_ed25519() -> None:
    old, new = core.new_secret(core.ED25519), core.new_secret(core.ED25519)
    assert old.startswith("whsk_") and core.public_key(old).startswith("whpk_")  # type: ignore[union-attr]
    h = core.headers([new, old], "msg_r", 5, b"{}")
    assert [s[:4] for s in h["webhook-signature"].split()] == ["v1a,", "v1a,"]
    core.verify(core.public_key(new), h, b"{}", now=5)  # type: ignore[arg-type]
    core.verify(core.public_key(old), h, b"{}", now=5)  # type: ignore[arg-type]
    with pytest.raises(core.BadSignature):
        core.verify(core.public_key(core.new_secret(core.ED25519)), h, b"{}", now=5)  # type: ignore[arg-type]


def test_schedule_spans_more_than_three_days() -> None:
    assert sum(core.SCHEDULE) > 3 * 86400
    assert [core.next_delay(n) for n in (1, 2)] == [5, 300]
    assert core.next_delay(len(core.SCHEDULE) + 1) is None


def test_url_and_event_rules() -> None:
    assert core.check_url(" https://shop.test/hooks ", allow_http=False) == "https://shop.test/hooks"
    for bad in ("http://shop.test/", "https://", "ftp://x", "https://a b", "https://" + "x" * 500):
        with pytest.raises(core.WebhookError):
            core.check_url(bad, allow_http=False)
    assert core.check_url("http://127.0.0.1:9/x", allow_http=True)
    with pytest.raises(core.WebhookError):
        core.check_events(["code.redeemed", "code.nope"])


def test_the_docs_example_verifies_a_real_message() -> None:
    text = DOCS.read_text(encoding="utf-8")
    example = re.search(r"```python\n(import base64, hashlib, hmac, time\n.*?)```", text, re.S)
    assert example, "the verification example is in docs/api.md"
    scope: dict[str, object] = {}
    exec(example.group(1), scope)  # noqa: S102 - our own documentation, run as a partner would
    verify = scope["verify"]
    secret = core.new_secret()
    rotated = core.new_secret()
    import time

    body = b'{"type":"code.redeemed","data":{}}'
    h = core.headers([rotated, secret], "msg_doc", int(time.time()), body)
    verify(secret, h, body)  # type: ignore[operator]
    verify(rotated, h, body)  # type: ignore[operator]
    with pytest.raises(ValueError):
        verify(secret, h, body + b"x")  # type: ignore[operator]
