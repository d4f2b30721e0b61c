"""A callback receiver on 127.0.0.1 for tests: it records every request (method, path,
headers, body) and answers each with the next scripted reply (200 once the script runs
out)::

    with CallbackReceiver() as receiver:
        receiver.script(Reply(500), Reply(200))
        ...  # point an intake's callback_url at receiver.url
        receiver.wait_for(2)

``Reply(hold=True)`` keeps the request open until ``release()`` or the server closing,
then drops the connection without an answer (a receiver that hangs, or one a killed
sender abandoned).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import attrs

WAIT_TIMEOUT = 30.0


@attrs.frozen
class Reply:
    status: int = 200
    headers: Mapping[str, str] = attrs.field(factory=dict)
    hold: bool = False


@attrs.frozen
class Received:
    method: str
    path: str
    headers: Mapping[str, str]  # names lower-cased
    body: bytes


class CallbackReceiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._script: list[Reply] = []
        self._arrived = threading.Condition()
        self._gate = threading.Event()
        self._httpd = _Server(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/hooks/auxot"

    def script(self, *replies: Reply) -> None:
        """The next requests get these replies, in order; then 200."""
        with self._arrived:
            self._script = list(replies)

    def release(self) -> None:
        """Let held requests go (their connections are dropped unanswered)."""
        self._gate.set()

    def wait_released(self) -> None:
        self._gate.wait(WAIT_TIMEOUT)

    def count(self) -> int:
        with self._arrived:
            return len(self.requests)

    def wait_for(self, count: int, timeout: float = WAIT_TIMEOUT) -> list[Received]:
        """Block until ``count`` requests have arrived; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"{len(self.requests)} callbacks arrived in {timeout}s, not {count}"
                    )
                self._arrived.wait(remaining)
            return list(self.requests)

    def take(self, request: Received) -> Reply:
        """Record ``request``; the reply it gets."""
        with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()
            return self._script.pop(0) if self._script else Reply()

    def __enter__(self) -> CallbackReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, receiver: CallbackReceiver) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.receiver = receiver


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        receiver = self.server.receiver
        reply = receiver.take(Received("POST", self.path, headers, body))
        if reply.hold:
            receiver.wait_released()
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""
