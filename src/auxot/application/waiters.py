"""Coroutines that wait for the status projection, without a thread each.

``Worker.wait_projected`` blocks a thread per waiter; an HTTP request that waits for its
item (``POST /v1/intake/{id}?wait=N``) would pin one of the event loop's worker threads
for up to N seconds. These waiters cost nothing while they wait: the projection thread
wakes them, one ``call_soon_threadsafe`` per event loop and batch projected.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable


class ProjectionWaiters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[asyncio.AbstractEventLoop, set[asyncio.Event]] = {}

    def notify(self) -> None:
        """Wake every waiter: the projection moved. Thread-safe; cheap with none."""
        with self._lock:
            if not self._waiting:
                return
            by_loop = [(loop, list(events)) for loop, events in self._waiting.items()]
        for loop, events in by_loop:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(_set_all, events)

    async def wait_until(
        self, check: Callable[[], Awaitable[bool]], timeout: float, poll: float
    ) -> bool:
        """Await ``check()`` until it holds (True) or ``timeout`` seconds pass (False).

        It is checked again after each batch this process projects, and at least every
        ``poll`` seconds: another process sharing the database may project first.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        woken = asyncio.Event()
        with self._lock:
            self._waiting.setdefault(loop, set()).add(woken)
        try:
            while True:
                woken.clear()  # before checking: a batch projected during the check counts
                if await check():
                    return True
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), min(remaining, poll))
        finally:
            with self._lock:
                events = self._waiting.get(loop)
                if events is not None:
                    events.discard(woken)
                    if not events:
                        del self._waiting[loop]


def _set_all(events: list[asyncio.Event]) -> None:
    for event in events:
        event.set()
