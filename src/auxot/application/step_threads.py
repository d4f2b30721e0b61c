"""Daemon threads that run steps.

Daemon, unlike ``ThreadPoolExecutor``'s (which the interpreter joins at exit): a worker
asked to stop must not be held hostage by a model call that hangs. The engine drains for
a bounded time; a step still running after that is abandoned with the process, and its
lease runs out so that another worker runs it again.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

Task = Callable[[], None]


class StepThreads:
    def __init__(self, size: int, name: str = "auxot-step") -> None:
        self._tasks: queue.SimpleQueue[Task | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._serve, name=f"{name}-{n}", daemon=True)
            for n in range(size)
        ]
        self._started = False
        self._lock = threading.Lock()

    def submit(self, task: Task) -> None:
        with self._lock:
            if not self._started:
                for thread in self._threads:
                    thread.start()
                self._started = True
        self._tasks.put(task)

    def stop(self) -> None:
        """Let idle threads end; busy ones end after their task (or with the process)."""
        for _ in self._threads:
            self._tasks.put(None)

    def _serve(self) -> None:
        while (task := self._tasks.get()) is not None:
            try:
                task()
            except Exception:
                log.exception("a step task raised")
