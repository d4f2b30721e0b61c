"""An in-process ``CallbackSender`` for application tests: each attempt answers the next
scripted outcome (200 once the script runs out) and is recorded, so a test sees what it
was asked to send. ``hold()`` makes sends block until ``release()``, to catch a
deliverer mid-attempt."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from auxot.application.ports import Callback, CallbackOutcome

OK = CallbackOutcome(status_code=200, latency_ms=5)
HOLD_TIMEOUT = 10.0


def answer(status: int, retry_after: float | None = None) -> CallbackOutcome:
    error = None if 200 <= status < 300 else f"HTTP {status}"
    return CallbackOutcome(status, latency_ms=5, error=error, retry_after=retry_after)


TIMED_OUT = CallbackOutcome(None, latency_ms=15_000, error="timed out after 15s")


class ScriptedSender:
    def __init__(self, outcomes: Iterable[CallbackOutcome] = ()) -> None:
        self._lock = threading.Lock()
        self._script = list(outcomes)
        self.sent: list[Callback] = []
        self._gate = threading.Event()
        self._gate.set()

    def script(self, *outcomes: CallbackOutcome) -> None:
        """The next attempts answer these, in order (replacing what is left of the last
        script); 200 after them."""
        with self._lock:
            self._script = list(outcomes)

    def hold(self) -> None:
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    def send(self, callback: Callback) -> CallbackOutcome:
        with self._lock:
            self.sent.append(callback)
            outcome = self._script.pop(0) if self._script else OK
        if not self._gate.wait(HOLD_TIMEOUT):
            raise AssertionError("the test never released a held callback")
        return outcome

    def count(self) -> int:
        with self._lock:
            return len(self.sent)
