"""A stand-in ``CallbackSender`` for tests until the real adapter (httpx, Standard
Webhooks signing, address guard: adapters/callbacks/) is merged: it POSTs the body with
the ``webhook-id`` and ``webhook-timestamp`` headers, unsigned, follows no redirects and
reports the outcome as the port describes. Not for production: it checks no address.
"""

from __future__ import annotations

import time

import httpx

from auxot.application.ports import Callback, CallbackOutcome


class PlainHttpSender:
    def __init__(self, timeout: float = 15.0) -> None:
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    def send(self, callback: Callback) -> CallbackOutcome:
        started = time.monotonic()
        headers = {
            "content-type": "application/json",
            "webhook-id": callback.webhook_id,
            "webhook-timestamp": str(int(callback.timestamp.timestamp())),
        }
        try:
            response = self._client.post(callback.url, content=callback.body, headers=headers)
        except httpx.HTTPError as exc:
            return CallbackOutcome(None, _since(started), f"{type(exc).__name__}: {exc}")
        code = response.status_code
        retry_after = response.headers.get("retry-after")
        return CallbackOutcome(
            code,
            _since(started),
            None if 200 <= code < 300 else f"HTTP {code}",
            float(retry_after) if retry_after and retry_after.isdigit() else None,
        )

    def close(self) -> None:
        self._client.close()


def _since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
