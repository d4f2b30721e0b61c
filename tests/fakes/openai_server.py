"""A scriptable OpenAI-compatible chat-completions server on 127.0.0.1, for tests.

It is a real HTTP/1.1 server (stdlib ``ThreadingHTTPServer`` on an ephemeral port, in a
thread), so clients go through their whole network stack::

    with FakeOpenAI(reply("Hello", usage=(3, 2)), error(503, "overloaded")) as server:
        settings = {"base_url": server.base_url, "model": "m"}   # http://127.0.0.1:PORT/v1
        ...                                                     # two requests
        assert server.requests[0].path == "/v1/chat/completions"
        assert server.requests[0].json["model"] == "m"

Each request, whatever its method and path, is recorded (``requests``) and then answered
by the next scripted behaviour; ``script()`` appends more. Once the script is used up the
``default`` behaviour answers every request (unless given, a 500 saying nothing was
scripted, so an unexpected request fails loudly).

Behaviours, built by the functions below:
  reply(text, model=, usage=)        a chat completion;
  tool_call(name, arguments, ...)    a completion whose message asks for a tool call
                                     (``tool_calls(...)`` for several in one turn);
  error(status, message, headers=)   an error status, with an OpenAI ``{"error": ...}`` body;
  redirect(location, status=)        a 3xx;
  malformed(body) / raw(body, ...)   any body; ``content_length=False`` delimits it by
                                     closing the connection instead;
  close_connection()                 drop the connection without answering;
  hang(gate=, then=)                 hold the request until ``gate`` is set (or
                                     ``server.release()``), then run ``then`` (or drop);
  trickle(interval, size)            a 200 whose body comes one byte per ``interval``.

Closing the server never hangs: it releases every hanging request, shuts every open
connection (including idle keep-alive ones) and joins the handler threads. A released
hang whose server is closing drops its connection rather than answering.

``wait_for_requests(n)`` blocks (with a deadline) until ``n`` requests have arrived: e.g.
that a request is now hanging.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

__all__ = [
    "Behaviour",
    "FakeOpenAI",
    "RecordedRequest",
    "close_connection",
    "error",
    "hang",
    "malformed",
    "raw",
    "redirect",
    "reply",
    "tool_call",
    "tool_calls",
    "trickle",
]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Exchange:
    """One request being answered: what a behaviour uses to respond."""

    def __init__(self, handler: _Handler, request: RecordedRequest, closing: threading.Event):
        self._handler = handler
        self.request = request
        self.closing = closing  # set once the server is shutting down

    def send(
        self,
        status: int,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        content_length: bool = True,
    ) -> None:
        """A whole response. Without ``content_length`` the body ends when the connection
        closes (HTTP/1.0 style), so the client cannot know its size in advance."""
        self.send_head(status, headers, length=len(body) if content_length else None)
        self.write(body)

    def send_head(
        self, status: int, headers: Mapping[str, str] | None = None, *, length: int | None
    ) -> None:
        handler = self._handler
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        if length is None:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        else:
            handler.send_header("Content-Length", str(length))
        handler.end_headers()

    def write(self, data: bytes) -> None:
        self._handler.wfile.write(data)
        self._handler.wfile.flush()

    def drop(self) -> None:
        """Close the connection without (further) answer."""
        self._handler.close_connection = True


class Behaviour(Protocol):
    def respond(self, exchange: Exchange) -> None: ...


# -- behaviours --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Send:
    status: int
    body: bytes
    headers: Mapping[str, str]
    content_length: bool = True

    def respond(self, exchange: Exchange) -> None:
        exchange.send(self.status, self.body, self.headers, content_length=self.content_length)


@dataclass(frozen=True)
class _Drop:
    def respond(self, exchange: Exchange) -> None:
        exchange.drop()


@dataclass(frozen=True)
class _Hang:
    gate: threading.Event
    then: Behaviour | None

    def respond(self, exchange: Exchange) -> None:
        self.gate.wait()
        if self.then is None or exchange.closing.is_set():
            exchange.drop()
        else:
            self.then.respond(exchange)

    def release(self) -> None:
        self.gate.set()


@dataclass(frozen=True)
class _Trickle:
    interval: float
    size: int

    def respond(self, exchange: Exchange) -> None:
        exchange.send_head(200, {"Content-Type": "application/json"}, length=self.size)
        for _ in range(self.size):
            # Waiting on `closing` paces the bytes and still stops at once on close.
            if exchange.closing.wait(self.interval):
                exchange.drop()
                return
            exchange.write(b" ")


def reply(
    text: str,
    *,
    model: str | None = "fake-model",
    usage: tuple[int, int] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Behaviour:
    """A chat completion of ``text``. ``model=None`` leaves the model out; ``usage`` is
    ``(prompt_tokens, completion_tokens)`` (left out when None); ``extra`` adds fields."""
    message = {"role": "assistant", "content": text}
    return _json(200, _completion(message, "stop", model, usage) | dict(extra or {}))


def _completion(
    message: dict[str, Any], finish_reason: str, model: str | None, usage: tuple[int, int] | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "system_fingerprint": "fp_fake",  # real servers add fields clients do not know
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
    }
    if model is not None:
        body["model"] = model
    if usage is not None:
        prompt, completion = usage
        body["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
    return body


def tool_calls(
    *calls: tuple[str, Mapping[str, Any] | str],
    model: str | None = "fake-model",
    usage: tuple[int, int] | None = None,
    content: str | None = None,
) -> Behaviour:
    """A chat completion asking for ``calls``, each ``(name, arguments)``; arguments are
    JSON-encoded unless given as text (verbatim: e.g. deliberately invalid JSON). The
    calls get ids ``call_1``, ``call_2``, ..."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": content,
        "tool_calls": [
            {
                "id": f"call_{n}",
                "type": "function",
                "function": {
                    "name": name,
                    "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
                },
            }
            for n, (name, arguments) in enumerate(calls, start=1)
        ],
    }
    return _json(200, _completion(message, "tool_calls", model, usage))


def tool_call(
    name: str,
    arguments: Mapping[str, Any] | str,
    *,
    model: str | None = "fake-model",
    usage: tuple[int, int] | None = None,
) -> Behaviour:
    """A chat completion asking for one call of tool ``name`` (id ``call_1``)."""
    return tool_calls((name, arguments), model=model, usage=usage)


def error(
    status: int,
    message: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
) -> Behaviour:
    """An error status. The body is OpenAI's ``{"error": {"message": ...}}`` when a
    message is given, ``body`` verbatim when given, else empty."""
    if body is not None:
        return _Send(status, body, {"Content-Type": "text/plain", **(headers or {})})
    if message is None:
        return _Send(status, b"", dict(headers or {}))
    payload = {"error": {"message": message, "type": "fake_error", "code": status}}
    return _json(status, payload, headers)


def redirect(location: str = "http://127.0.0.1:9/elsewhere", status: int = 302) -> Behaviour:
    return _Send(status, b"", {"Location": location})


def raw(
    body: bytes | str,
    *,
    status: int = 200,
    content_type: str = "application/json",
    headers: Mapping[str, str] | None = None,
    content_length: bool = True,
) -> Behaviour:
    data = body.encode() if isinstance(body, str) else body
    return _Send(status, data, {"Content-Type": content_type, **(headers or {})}, content_length)


def malformed(body: bytes | str = b'{"choices": [', *, status: int = 200) -> Behaviour:
    """A body that is not a chat completion (by default, truncated JSON)."""
    return raw(body, status=status)


def close_connection() -> Behaviour:
    return _Drop()


def hang(gate: threading.Event | None = None, then: Behaviour | None = None) -> _Hang:
    """Hold the request until ``gate`` is set (``.release()``, ``server.release()`` or the
    server closing), then answer with ``then``, or drop the connection without it."""
    return _Hang(gate if gate is not None else threading.Event(), then)


def trickle(interval: float = 0.05, size: int = 1024) -> Behaviour:
    """A 200 announcing ``size`` bytes and sending one every ``interval`` seconds."""
    return _Trickle(interval, size)


def _json(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Behaviour:
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return _Send(status, json.dumps(payload).encode(), all_headers)


# -- the server --------------------------------------------------------------------------


class FakeOpenAI:
    """See the module docstring. A context manager; ``start()``/``close()`` also work."""

    def __init__(self, *behaviours: Behaviour, default: Behaviour | None = None) -> None:
        self._cond = threading.Condition()
        self._script: deque[Behaviour] = deque()
        self._requests: list[RecordedRequest] = []
        self._hangs: list[_Hang] = []
        self._open: dict[_Handler, threading.Thread] = {}
        self._closing = threading.Event()
        self._default = default or error(500, "fake server: no behaviour scripted for this request")
        self._note_hang(self._default)
        self._httpd: _HTTPServer | None = None
        self._serving: threading.Thread | None = None
        self.script(*behaviours)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        httpd = _HTTPServer(self)
        self._httpd = httpd
        # A short poll interval makes `shutdown()` return promptly.
        self._serving = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.01},
            name="fake-openai", daemon=True,
        )
        self._serving.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        httpd = self._httpd
        if httpd is None or self._closing.is_set():
            return
        self._closing.set()
        self.release()
        httpd.shutdown()
        with self._cond:
            handlers = dict(self._open)
        for handler in handlers:
            _shut(handler.connection)  # wakes handlers blocked reading a keep-alive socket
        httpd.server_close()
        deadline = time.monotonic() + timeout
        for thread in [t for t in (self._serving,) if t is not None] + list(handlers.values()):
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- addresses -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._httpd is not None, "the server is not started"
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The API root to configure a client with (``.../v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting and inspection ----------------------------------------------------------

    def script(self, *behaviours: Behaviour) -> None:
        """Append behaviours for the next requests, in order."""
        with self._cond:
            for behaviour in behaviours:
                self._note_hang(behaviour)
                self._script.append(behaviour)

    def release(self) -> None:
        """Release every hanging request (past, present and scripted)."""
        with self._cond:
            hangs = list(self._hangs)
        for hung in hangs:
            hung.release()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._cond:
            return list(self._requests)

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> list[RecordedRequest]:
        """Block until ``count`` requests have arrived; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"fake openai server: {len(self._requests)} of {count} requests "
                        f"arrived within {timeout}s"
                    )
                self._cond.wait(left)
            return list(self._requests)

    # -- used by the handler -------------------------------------------------------------

    def _take(self, request: RecordedRequest) -> Behaviour:
        with self._cond:
            self._requests.append(request)
            self._cond.notify_all()
            return self._script.popleft() if self._script else self._default

    def _opened(self, handler: _Handler) -> None:
        with self._cond:
            self._open[handler] = threading.current_thread()
        if self._closing.is_set():
            _shut(handler.connection)  # accepted while closing: close() may not see it

    def _closed(self, handler: _Handler) -> None:
        with self._cond:
            self._open.pop(handler, None)

    def _note_hang(self, behaviour: Behaviour) -> None:
        # Every hang must be releasable by close(), including one nested in another's `then`.
        while isinstance(behaviour, _Hang):
            self._hangs.append(behaviour)
            if self._closing.is_set():
                behaviour.release()
            if behaviour.then is None:
                return
            behaviour = behaviour.then


def _shut(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the other side
        connection.shutdown(socket.SHUT_RDWR)


class _HTTPServer(ThreadingHTTPServer):
    # Daemon threads never block interpreter exit; close() joins them itself, with a deadline.
    daemon_threads = True

    def __init__(self, fake: FakeOpenAI) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do and httpx expects
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.fake._opened(self)

    def finish(self) -> None:
        try:
            with contextlib.suppress(OSError):  # the client went away
                super().finish()
        finally:
            self.server.fake._closed(self)

    def do_POST(self) -> None:
        self._serve()

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
        )
        fake = self.server.fake
        behaviour = fake._take(request)
        try:
            behaviour.respond(Exchange(self, request, fake._closing))
        except OSError:
            self.close_connection = True  # the client hung up mid-answer: nothing to do

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean
