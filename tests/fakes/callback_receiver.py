"""A real HTTP server on 127.0.0.1 standing in for an integrator's callback endpoint.

It records every request (method, path, headers, body, arrival time) and answers each
with the next scripted reply, or with the default one (200) when the script has run
out::

    with CallbackReceiver() as receiver:
        receiver.script(Reply.status(500), Reply.retry_after("7"), Reply.ok())
        ...  # POST to receiver.url three times
        first, second, third = receiver.wait_for(3)

Replies: ``ok()``, ``status(code, body, headers)``, ``retry_after(value, status=429)``,
``redirect(to, status=302)``, ``hang()`` (answer nothing until ``release()`` or the
receiver closes, then drop the connection), ``drop()`` (close the connection without a
word) and ``reset()`` (abort it with a TCP reset). With ``tls`` (a server SSLContext) it speaks
HTTPS. Tests wait for requests on a
condition with a deadline (``wait_for``), never by sleeping.
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal

import attrs

from tests.fakes.local_http import LocalHTTPServer

HANG_LIMIT_SECONDS = 60.0  # a hanging reply lets go by itself after this, whatever happens


@attrs.frozen
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    at: datetime  # arrival, UTC


@attrs.frozen
class Reply:
    kind: Literal["answer", "hang", "drop", "reset"] = "answer"
    code: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = attrs.field(factory=dict)

    @classmethod
    def ok(cls, body: bytes = b"") -> Reply:
        return cls(code=200, body=body)

    @classmethod
    def status(
        cls, code: int, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> Reply:
        return cls(code=code, body=body, headers=dict(headers or {}))

    @classmethod
    def retry_after(cls, value: str, code: int = 429) -> Reply:
        return cls(code=code, body=b"slow down", headers={"Retry-After": value})

    @classmethod
    def redirect(cls, to: str, code: int = 302) -> Reply:
        return cls(code=code, headers={"Location": to})

    @classmethod
    def hang(cls) -> Reply:
        return cls(kind="hang")

    @classmethod
    def drop(cls) -> Reply:
        return cls(kind="drop")

    @classmethod
    def reset(cls) -> Reply:
        return cls(kind="reset")


class CallbackReceiver:
    def __init__(
        self, default: Reply | None = None, path: str = "/hook", tls: ssl.SSLContext | None = None
    ) -> None:
        self.default = default or Reply.ok()
        self.path = path
        self.scheme = "https" if tls is not None else "http"
        self.requests: list[Received] = []
        self._script: deque[Reply] = deque()
        self._arrived = threading.Condition()
        self._released = threading.Event()
        self._httpd = _Server(self, _Handler)
        if tls is not None:  # the handshake runs on accept, on the serving thread
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)

    @property
    def port(self) -> int:
        return self._httpd.port

    @property
    def url(self) -> str:
        return self.url_for("127.0.0.1")

    def url_for(self, host: str) -> str:
        """This receiver's URL under another host name (that resolves to 127.0.0.1)."""
        return f"{self.scheme}://{host}:{self.port}{self.path}"

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, in order."""
        with self._arrived:
            self._script.extend(replies)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The first ``count`` requests, once they have arrived; AssertionError when
        they have not within ``timeout`` seconds."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(
                    f"{len(self.requests)} of {count} callbacks arrived within {timeout}s"
                )
            return list(self.requests[:count])

    def release(self) -> None:
        """Let every hanging reply go (its connection is dropped)."""
        self._released.set()

    def __enter__(self) -> CallbackReceiver:
        self._httpd.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self._httpd.stop()

    def _record(self, request: Received) -> Reply:
        with self._arrived:
            self.requests.append(request)
            reply = self._script.popleft() if self._script else self.default
            self._arrived.notify_all()
        return reply

    def _hang(self) -> None:
        self._released.wait(HANG_LIMIT_SECONDS)


class _Server(LocalHTTPServer[CallbackReceiver]):
    def __init__(self, receiver: CallbackReceiver, handler: type[BaseHTTPRequestHandler]) -> None:
        self.resetting: set[socket.socket] = set()
        super().__init__(receiver, handler)

    def shutdown_request(self, request: Any) -> None:
        """As the stdlib's, but a connection to reset is closed at once: its usual
        ``shutdown(SHUT_WR)`` would send a FIN before the reset."""
        if request in self.resetting:
            self.resetting.discard(request)
            self.close_request(request)
        else:
            super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        receiver = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        reply = receiver._record(
            Received(
                method=self.command,
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
                at=datetime.now(UTC),
            )
        )
        if reply.kind == "hang":
            receiver._hang()
        if reply.kind != "answer":
            self._abandon(reset=reply.kind == "reset")
            return
        self.send_response(reply.code)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

    def _abandon(self, *, reset: bool) -> None:
        """Close the connection without answering; with ``reset``, abortively (RST)."""
        self.close_connection = True
        if reset:  # linger on with a zero timeout: close() sends a reset, not a FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.server.resetting.add(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the stdlib logs every request to stderr; tests read ``requests``."""
