"""The callback sender: one signed POST of a finished work item's record (httpx).

An attempt is refused before any connection when the URL is plain ``http`` and the
deployment does not allow it (``AUXOT_ALLOW_HTTP_CALLBACKS``), when there is no secret to
sign with (nothing is ever sent unsigned), or when the SSRF guard refuses an address the
host resolves to right now. Otherwise the POST goes to the address just checked, signed
per Standard Webhooks (``signing.py``), bounded by one timeout over the whole call; a
redirect is an answer, never followed; at most ``max_response_bytes`` of the answer are
read (only to say what went wrong). Whatever the receiver or the network does comes back
as a ``CallbackOutcome``: ``send`` never raises.
"""

from __future__ import annotations

import logging
import ssl
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import attrs

from auxot.adapters.callbacks.signing import webhook_headers
from auxot.adapters.checked_call import Answer, CallFailedError, CallTimedOutError, call_checked
from auxot.adapters.clock import SystemClock
from auxot.adapters.http_bounds import clip
from auxot.adapters.net_guard import AddressRefusedError, NetGuard
from auxot.application.ports import Callback, CallbackOutcome, Clock

log = logging.getLogger(__name__)

USER_AGENT = "Auxot-Webhooks/1 (Standard Webhooks v1)"
DEFAULT_TIMEOUT_SECONDS = 15.0
MAX_RESPONSE_BYTES = 4096
_RETRY_AFTER_STATUSES = frozenset({429, 503})


class HttpxCallbackSender:
    def __init__(
        self,
        guard: NetGuard,
        *,
        allow_http: bool = False,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        clock: Clock | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._guard = guard
        self._allow_http = allow_http
        self._timeout = timeout
        self._max_response_bytes = max_response_bytes
        self._clock = clock or SystemClock()  # for a Retry-After given as a date
        self._tls = tls  # None: certifi's CAs

    def send(self, callback: Callback) -> CallbackOutcome:
        started = time.monotonic()
        try:
            outcome = self._attempt(callback)
        except Exception as exc:  # a bug of ours must not stop the deliverer: an outcome
            # Not the URL in the log: it may carry credentials.
            log.exception("callback %s failed", callback.webhook_id)
            outcome = _no_answer(f"internal error: {type(exc).__name__}")
        latency_ms = round((time.monotonic() - started) * 1000)
        return attrs.evolve(outcome, latency_ms=latency_ms)

    def _attempt(self, callback: Callback) -> CallbackOutcome:
        scheme = urlsplit(callback.url).scheme.lower()
        if scheme == "http" and not self._allow_http:
            return _no_answer(
                "refused: callback URLs must be https (AUXOT_ALLOW_HTTP_CALLBACKS allows http)"
            )
        if not callback.secrets:
            return _no_answer("refused: the intake has no signing secret (nothing sent)")
        try:
            target = self._guard.check(callback.url)  # at each attempt: DNS can change
        except AddressRefusedError as exc:
            return _no_answer(f"refused: {exc}")
        headers = webhook_headers(
            callback.secrets, callback.webhook_id, callback.timestamp, callback.body
        )
        headers.update({"content-type": "application/json", "user-agent": USER_AGENT})
        try:
            answer = call_checked(
                target,
                "POST",
                timeout=self._timeout,
                max_body=self._max_response_bytes,
                headers=headers,
                content=callback.body,
                tls=self._tls,
            )
        except CallTimedOutError:
            return _no_answer(f"timed out after {self._timeout:g}s")
        except CallFailedError as exc:
            return _no_answer(f"no answer: {exc}")
        return CallbackOutcome(
            status_code=answer.status_code,
            latency_ms=0,
            error=_error(answer),
            retry_after=self._retry_after(answer),
        )

    def _retry_after(self, answer: Answer) -> float | None:
        if answer.status_code not in _RETRY_AFTER_STATUSES:
            return None
        return retry_after_seconds(answer.headers.get("retry-after"), self._clock.now())


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """A ``Retry-After`` header (RFC 9110: delay-seconds or an HTTP-date) as seconds from
    ``now``, at least 0; None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": HTTP dates are UTC
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _error(answer: Answer) -> str | None:
    status = answer.status_code
    if 200 <= status < 300:
        return None
    if answer.redirect:
        return f"HTTP {status}: redirects are not followed"
    text = clip(answer.body.decode("utf-8", errors="replace"))
    return f"HTTP {status}: {text}" if text else f"HTTP {status}"


def _no_answer(error: str) -> CallbackOutcome:
    return CallbackOutcome(status_code=None, latency_ms=0, error=clip(error))
