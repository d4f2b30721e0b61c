"""Idempotency keys on intake submissions (the IETF httpapi draft "The Idempotency-Key
HTTP Header Field").

A keyed submission's work id is not random: it is derived from the intake, the
credential (API key) and the key. A repeat of the request therefore names the same work
item, and the event store — which refuses a second version 1 of any aggregate, in every
process sharing the database — is the record of which keys were used. No table, lock or
expiry job is needed, and two processes racing with one key cannot both record an item.
What the first request asked for is kept as a digest on the item's ``Received`` event,
so that a repeat can be told apart from a different request reusing the key.

The consequence, documented in docs/http-api.md: a key is never forgotten. It is kept
as long as its work item (at least the 24 hours the draft asks for; in practice for
ever), and repeating it any time later answers with the original item.

Within one process, a repeat that arrives while the first request is still being
recorded is answered at once (409 over HTTP) by ``InFlight``; across processes the
database serialises the two saves, so the later one always finds the first recorded.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID, uuid5

# Part of the stored format: changing it would make every key already used unknown.
_NAMESPACE = UUID("6f1d3a2c-58e4-4b0e-9d7a-2b9c0f6e41a7")

MAX_KEY_LENGTH = 255
NO_CREDENTIAL = UUID(int=0)
"""The credential of the embedding application itself, which presents no key."""


class IdempotencyKeyInFlightError(Exception):
    """The same request, with the same key, is still being recorded."""


class IdempotencyKeyReusedError(ValueError):
    """The key was used before for a different request."""

    def __init__(self, work_id: UUID) -> None:
        self.work_id = work_id
        super().__init__(
            "this Idempotency-Key was used for a different request (its body or "
            "Callback-Url differ); use a new key for a new request"
        )


def key_problem(key: str) -> str | None:
    """What is wrong with ``key`` as an idempotency key; None when nothing is."""
    if not key:
        return "it is empty"
    if len(key) > MAX_KEY_LENGTH:
        return f"it is longer than {MAX_KEY_LENGTH} characters"
    if not all(" " <= c <= "~" for c in key):
        return "it holds a character that is not printable ASCII"
    return None


def keyed_work_id(intake_id: UUID, credential_id: UUID, key: str) -> UUID:
    """The work id of the submission to ``intake_id`` by ``credential_id`` with ``key``:
    the same for every repeat, different for another intake or credential."""
    return uuid5(_NAMESPACE, f"{intake_id.hex}:{credential_id.hex}:{key}")


def request_digest(input: dict[str, Any], callback_url: str | None) -> str:
    """A digest of what a submission asks for: its input (as canonical JSON, so that
    whitespace and key order do not count) and its callback URL."""
    canonical = json.dumps(
        [input, callback_url], sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class InFlight:
    """The keyed submissions this process is recording right now, by work id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._digests: dict[UUID, str] = {}

    @contextmanager
    def hold(self, work_id: UUID, digest: str) -> Iterator[None]:
        """Hold ``work_id`` while its submission is recorded. A second hold of it raises
        IdempotencyKeyInFlightError for the same request, IdempotencyKeyReusedError for
        a different one."""
        with self._lock:
            held = self._digests.get(work_id)
            if held is None:
                self._digests[work_id] = digest
        if held is not None:
            if held != digest:
                raise IdempotencyKeyReusedError(work_id)
            raise IdempotencyKeyInFlightError(
                "a request with this Idempotency-Key is still being recorded; "
                "repeat it once that one is answered"
            )
        try:
            yield
        finally:
            with self._lock:
                del self._digests[work_id]

    def holds(self, work_id: UUID) -> bool:
        with self._lock:
            return work_id in self._digests
