"""A local HTTP receiver of webhooks for the tests (loopback only): it records every request it gets
(headers and body) and answers 204, or 503 while it is "down"."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from partners import webhooks as core


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Start with ``with Receiver() as r:``; ``r.url`` takes the posts."""

    def __init__(self, delay: float = 0.0) -> None:
        self.got: list[Received] = []
        self.down = False
        self.status = 204  # the answer while up
        self.location = ""  # sent with a 3xx status
        self.delay = delay
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if outer.delay:
                    time.sleep(outer.delay)
                status = 503 if outer.down else outer.status
                with outer.lock:
                    outer.got.append(Received({k.lower(): v for k, v in self.headers.items()}, body, status))
                self.send_response(status)
                if outer.location:
                    self.send_header("location", outer.location)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def accepted(self) -> list[Received]:
        """The posts answered 2xx, in the order they arrived."""
        with self.lock:
            return [r for r in self.got if r.answered < 300]

    def all(self) -> list[Received]:
        with self.lock:
            return list(self.got)


def check_signed(received: Received, key: str) -> None:
    """The post verifies with ``key`` (raises otherwise)."""
    core.verify(key, received.headers, received.body, int(time.time()))
