"""The worker: background threads that keep projections current and the engine busy.

Threads wait on events with a short timeout: an in-process save wakes them at once, and
the timeout picks up writes made by other processes (SQLite has no LISTEN/NOTIFY).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from auxot.application.checkpoints import Checkpointer
from auxot.application.deliverer import DeliveryRunner
from auxot.application.directory import Directory
from auxot.application.engine import Engine
from auxot.application.projection import WorkProjection
from auxot.application.waiters import ProjectionWaiters

log = logging.getLogger(__name__)


class Follower(Protocol):
    """A projection the worker keeps current at its own pace (the work index, the audit
    log): all the worker needs of one."""

    @property
    def name(self) -> str: ...

    def catch_up(self) -> int: ...


class Worker:
    def __init__(
        self,
        projection: WorkProjection | None,
        directory: Directory,
        engine: Engine | None,
        *,
        deliveries: DeliveryRunner | None = None,
        poll_interval: float = 0.2,
        refresh_interval: float = 0.5,
        drain_seconds: float = 10.0,
        checkpointer: Checkpointer | None = None,
        checkpoint_interval: float = 60.0,
        views: Sequence[Follower] = (),
    ) -> None:
        self._projection = projection
        # Projections other than the status one, on a thread of their own: the status
        # view, which polls and the engine wait on, never waits on them.
        self._views = list(views) if projection is not None else []
        self._views_due = threading.Event()
        self._directory = directory
        self._engine = engine
        self._deliveries = deliveries
        self._deliveries_due = threading.Event()
        self._poll = poll_interval
        self._refresh = refresh_interval
        self._drain = drain_seconds
        self._checkpointer = checkpointer if checkpoint_interval > 0 else None
        self._checkpoint_interval = checkpoint_interval
        self._stopping = threading.Event()
        self._events_recorded = threading.Event()
        self._work_due = threading.Event()
        self._projected = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._waiters = ProjectionWaiters()

    def events_recorded(self) -> None:
        """Tell the worker that new work events were saved in this process."""
        self._events_recorded.set()
        self._deliveries_due.set()
        self._views_due.set()

    def start(self) -> None:
        loops: list[tuple[str, Callable[[], None]]] = [("directory", self._refresh_loop)]
        if self._projection is not None:
            loops.append(("project", self._project_loop))
        if self._views:
            loops.append(("views", self._views_loop))
        if self._engine is not None:
            loops.append(("dispatch", self._dispatch_loop))
        if self._deliveries is not None:
            loops.append(("deliver", self._deliver_loop))
        if self._checkpointer is not None:
            loops.append(("checkpoint", self._checkpoint_loop))
        for name, loop in loops:
            thread = threading.Thread(target=loop, name=f"auxot-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stopping.set()
        self._events_recorded.set()
        self._views_due.set()
        self._work_due.set()
        self._deliveries_due.set()
        for thread in self._threads:
            thread.join()
        self._threads.clear()
        if self._engine is not None:
            self._engine.close(self._drain)
        if self._deliveries is not None:
            self._deliveries.close(self._drain)
        self._project_remaining()

    def _project_remaining(self) -> None:
        """Project what the drained steps recorded, so that pollers see their outcomes
        even when no other process projects (HTTP-only servers do not)."""
        if self._projection is None:
            return
        followers: list[Follower] = [self._projection, *self._views]
        for projection in followers:
            try:
                while projection.catch_up():
                    pass
            except Exception:
                log.exception(
                    "final %s projection failed; the next worker will catch up", projection.name
                )

    def wait_projected(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until ``predicate()`` holds, re-checking after each batch this process
        projects and at least every poll interval: another process sharing the database
        may project the batch first, and then this process's projection has nothing to
        do and notifies no one."""
        deadline = time.monotonic() + timeout
        with self._projected:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._projected.wait(min(remaining, self._poll))
            return True

    async def wait_projected_async(
        self, predicate: Callable[[], Awaitable[bool]], timeout: float
    ) -> bool:
        """``wait_projected`` for a coroutine: it holds no thread while it waits."""
        return await self._waiters.wait_until(predicate, timeout, self._poll)

    def _project_loop(self) -> None:
        assert self._projection is not None
        while not self._stopping.is_set():
            try:
                projected = self._projection.catch_up()
            except Exception:
                log.exception("projection failed; retrying")
                projected = 0
            if projected:
                self._work_due.set()
                with self._projected:
                    self._projected.notify_all()
                self._waiters.notify()
                continue
            self._events_recorded.wait(self._poll)
            self._events_recorded.clear()

    def _views_loop(self) -> None:
        while not self._stopping.is_set():
            projected = 0
            for projection in self._views:
                try:
                    projected += projection.catch_up()
                except Exception:
                    log.exception("%s projection failed; retrying", projection.name)
            if not projected:
                self._views_due.wait(self._poll)
                self._views_due.clear()

    def _dispatch_loop(self) -> None:
        assert self._engine is not None
        while not self._stopping.is_set():
            try:
                self._engine.dispatch()
            except Exception:
                log.exception("dispatch failed; retrying")
            self._work_due.wait(self._poll)
            self._work_due.clear()

    def _deliver_loop(self) -> None:
        assert self._deliveries is not None
        while not self._stopping.is_set():
            try:
                self._deliveries.run_once()
            except Exception:
                log.exception("delivering callbacks failed; retrying")
            self._deliveries_due.wait(self._poll)
            self._deliveries_due.clear()
    def _checkpoint_loop(self) -> None:
        assert self._checkpointer is not None
        behind = False
        while not self._stopping.wait(0 if behind else self._checkpoint_interval):
            try:
                behind = self._checkpointer.run().behind
            except Exception:
                log.exception("checkpoint failed; retrying")
                behind = False

    def _refresh_loop(self) -> None:
        while not self._stopping.wait(self._refresh):
            try:
                self._directory.refresh()
            except Exception:
                log.exception("directory refresh failed; retrying")
