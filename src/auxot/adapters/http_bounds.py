"""Bounds for outgoing HTTP calls that httpx does not give by itself: a deadline over a
whole call, and a cap on how much of a body is read. Shared by the openai provider and
HTTP tools."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

import httpx


class DeadlinePassedError(TimeoutError):
    """The call's deadline passed while its body was being read."""


class Deadline:
    """Bounds a whole call, whatever phase it is in.

    httpx times connecting, sending and each read separately, so a server slow in
    several phases could hold a call for several timeouts: past the step's lease (the
    timeout plus a grace), when another worker would run the step again. Once the call's
    connection is up, a timer shuts its socket down at the deadline, which ends any
    blocking read or write at once. Pass ``trace`` as the request's ``trace`` extension,
    and ``cancel()`` when the call is over.
    """

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.expired = False
        self._timer: threading.Timer | None = None
        self._cancelled = False
        self._lock = threading.Lock()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """An httpcore trace hook: arm the timer when the connection is made."""
        if event != "connection.connect_tcp.complete":
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            if self._cancelled:
                return
            delay = max(0.0, self.at - time.monotonic())
            self._timer = threading.Timer(delay, self._expire, args=(sock,))
            self._timer.daemon = True
            self._timer.start()

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            if self._timer is not None:
                self._timer.cancel()

    def _expire(self, sock: socket.socket) -> None:
        with self._lock:
            if self._cancelled:
                return
            self.expired = True
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def read_bounded(response: httpx.Response, limit: int, deadline: float) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of the body, and whether there was more; raises
    DeadlinePassedError once ``time.monotonic()`` passes ``deadline``."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        return b"", True  # refuse before reading any of it
    body = bytearray()
    # No chunk_size: httpx would buffer until a chunk fills, past the deadline check.
    for chunk in response.iter_bytes():
        if time.monotonic() > deadline:
            raise DeadlinePassedError
        room = limit - len(body)
        if len(chunk) > room:
            body += chunk[:room]
            return bytes(body), True
        body += chunk
    return bytes(body), False


def clip(text: str, limit: int = 300) -> str:
    """``text`` on one line, at most ``limit`` characters: server-provided text that
    lands in records and errors is kept short."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
