"""Sending webhooks from the job consumer (the shell of ``partners.services.webhooks``).

After a transaction that wrote to the outbox commits, the web worker puts one small task on the job
queue (``partners.webhooks.send``); a consumer runs :func:`send_due`, which makes the deliveries of
new messages (``fan_out``), claims due deliveries (a lease, committed), posts them in parallel threads
outside any transaction, and records each attempt. The same work runs every minute as periodic work
(the retries, and anything whose task was lost with the queue). Under ``JOBS_URL = memory://`` (tests)
nothing is queued: call :func:`send_due`.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from partners import webhooks as core
from partners.services import issue
from partners.services import webhooks as hooks
from rewards.db import db, reset_read_only, set_read_only, utcnow
from rewards.jobs import store

log = logging.getLogger(__name__)
SEND_TASK = "partners.webhooks.send"
_TASK = "partners.webhooks.task"
KICK_INTERVAL = 0.2  # seconds: at most this many send tasks per second and web process


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 3xx is the answer (a failed attempt), never followed: it could lead anywhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


class LocalAddress(OSError):
    """The endpoint's host resolves to an address of our own network (refused outside tests)."""


def check_host(url: str) -> None:
    """Refuse a host that resolves to a loopback, private, link-local, multicast or reserved address."""
    host = urllib.parse.urlsplit(url).hostname or ""
    for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP):
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            raise LocalAddress(f"{host} resolves to {address}, not a public address")


def post(out: hooks.Outgoing, timeout: float, allow_local: bool = False) -> tuple[int | None, str | None, int]:
    """POST one signed message; (status code or None, error or None, latency in ms)."""
    stamp = int(time.time())
    request = urllib.request.Request(out.url, data=out.body, method="POST",
                                     headers={**core.headers(out.secrets, out.msg_id, stamp, out.body),
                                              "user-agent": "rewards-webhooks/1"})
    started = time.monotonic()
    try:
        if not allow_local:
            check_host(out.url)
        with _OPENER.open(request, timeout=timeout) as answer:
            answer.read(4096)
            status, error = int(answer.status), None
    except urllib.error.HTTPError as exc:
        status, error = int(exc.code), None
    except (OSError, ValueError) as exc:  # refused, timed out, DNS, TLS, a local address
        status, error = None, f"{type(exc).__name__}: {exc}"[:200]
    return status, error, int((time.monotonic() - started) * 1000)


def send_due(session: Session, app: Flask, *, max_seconds: float = 50.0) -> int:
    """Send every due delivery (a batch per round, as many as there are sender threads, until none is due
    or ``max_seconds`` passed); commits its own steps. Returns how many attempts were made."""
    lease = timedelta(seconds=float(app.config["WEBHOOK_LEASE_SECONDS"]))
    timeout = float(app.config["WEBHOOK_TIMEOUT_SECONDS"])
    allow_local = bool(app.config["WEBHOOK_ALLOW_LOCAL"])
    started, made, size = time.monotonic(), 0, int(app.config["WEBHOOK_SENDERS"])
    # one claim per sender thread: a batch takes at most one timeout, well inside the lease
    with ThreadPoolExecutor(max_workers=size) as pool:
        while time.monotonic() - started < max_seconds:
            now = utcnow()
            hooks.fan_out(session)  # the messages committed since the last round get their deliveries
            claimed = [c for c in (hooks.claim(session, d, now, lease) for d in hooks.due(session, now, size)) if c]
            session.commit()
            if not claimed:
                return made
            results = list(pool.map(lambda out: post(out, timeout, allow_local), claimed))
            for out, (status, error, latency) in zip(claimed, results, strict=True):
                hooks.settle(session, out.delivery_id, status=status, error=error, latency_ms=latency, now=utcnow())
            session.commit()
            made += len(claimed)
    return made


def periodic_send(session: Session) -> str | None:
    """Periodic work: retries that fell due, and anything whose queued task was lost."""
    made = send_due(session, current_app._get_current_object())  # type: ignore[attr-defined]
    return f"{made} webhook attempt(s)" if made else None


def periodic_expiring(session: Session) -> str | None:
    """Periodic work: ``code.expiring`` for the codes whose offer ends within WEBHOOK_EXPIRING_DAYS."""
    made = hooks.emit_expiring(session, utcnow(), int(current_app.config["WEBHOOK_EXPIRING_DAYS"]), issue.display)
    return f"{made} code.expiring message(s)" if made else None


def periodic_purge(session: Session) -> str | None:
    """Periodic work: forget the delivery log older than WEBHOOK_KEEP_DAYS (nothing still pending)."""
    days = int(current_app.config["WEBHOOK_KEEP_DAYS"])
    gone = hooks.purge(session, utcnow() - timedelta(days=days))
    return f"{gone} old webhook message(s) purged" if gone else None


def _run(app: Flask) -> None:
    with app.app_context():
        token = set_read_only(False)
        try:
            send_due(db.session, app)
        except Exception:  # noqa: BLE001 - logged; the periodic run tries again
            db.session.rollback()
            log.exception("webhook sending failed")
        finally:
            db.session.remove()
            reset_read_only(token)


def bind(app: Flask, huey: Any = None) -> None:
    """Give the app's queue (``huey``, or the app's own) the sending task (a feature's own Huey task: one
    per commit that wrote to the outbox, no job record) and queue it after each such commit. Binding an
    app twice changes nothing."""
    if app.config["JOBS_URL"] == "memory://" or _TASK in app.extensions:
        return
    huey = huey if huey is not None else store.instance(app)

    @huey.task(name=SEND_TASK)
    def send() -> None:
        _run(app)

    app.extensions[_TASK] = _Kicker(send)


class _Kicker:
    """Queues the send task from a thread of its own, so a commit only sets an event: the API call
    never waits for the queue, and the commits of one ``KICK_INTERVAL`` share one task (the task sends
    everything due; a commit during a task's run wakes the thread again, so none is left behind). A
    process killed before its thread queued the task leaves it to the periodic run."""

    def __init__(self, task: Any) -> None:
        self.task, self.wake, self.pid, self.lock = task, threading.Event(), 0, threading.Lock()

    def kick(self) -> None:
        if self.pid != os.getpid():  # first use in this process (a forked worker has no thread yet)
            with self.lock:
                if self.pid != os.getpid():
                    self.wake = threading.Event()
                    threading.Thread(target=self._run, name="webhook-kicker", daemon=True).start()
                    self.pid = os.getpid()
        self.wake.set()

    def _run(self) -> None:
        while True:
            self.wake.wait()
            self.wake.clear()
            try:
                self.task()
            except Exception:  # noqa: BLE001 - the queue is down: the periodic run sends it within a minute
                log.warning("webhook send task not queued", exc_info=True)
                time.sleep(1)
            time.sleep(KICK_INTERVAL)  # the commits of the next moment share the next task


def _after_commit(session: Session) -> None:
    if not session.info.pop(hooks.PENDING_FLAG, False):
        return
    try:
        kicker: Any = current_app.extensions.get(_TASK)
    except RuntimeError:  # no app context: a script; the periodic run sends it
        return
    if kicker is not None:
        kicker.kick()


def _after_rollback(session: Session) -> None:
    session.info.pop(hooks.PENDING_FLAG, None)


if not event.contains(Session, "after_commit", _after_commit):
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_rollback", _after_rollback)
