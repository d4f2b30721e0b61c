"""Group commit: many concurrent submissions, one transaction.

The event store serialises saves (PostgreSQL takes a table lock per save), so one
transaction per request caps intake throughput at a few hundred a second. A single
writer thread takes everything queued while its previous save ran and saves it as one
batch; each submitter waits on its own future, which resolves only once its events are
durably committed. Under light load a batch is one item and adds no delay; under heavy
load batches grow by themselves.

Submitters on an event loop get an asyncio future, and all of a batch's futures on one
loop are resolved by one wake-up of that loop: a ``concurrent.futures.Future`` per
request, wrapped for asyncio, would cost a lock, a condition and a wake-up each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from uuid import UUID

from eventsourcing.domain import CanMutateAggregate
from eventsourcing.persistence import RecordConflictError

Events = Sequence[CanMutateAggregate[UUID]]
Save = Callable[[Events], None]
Waiter = Future[None] | asyncio.Future[None]
Batch = list[tuple[Events, Waiter]]

_STOP = object()

log = logging.getLogger(__name__)


class GroupCommitter:
    def __init__(
        self,
        save: Save,
        *,
        max_batch: int = 500,
        on_saved: Callable[[], None] = lambda: None,
    ) -> None:
        self._save = save
        self._max_batch = max_batch
        self._on_saved = on_saved
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, events: Events) -> Future[None]:
        """Queue new events (an aggregate's ``collect_events()``, or a new item's first
        event); the future resolves once they are committed."""
        future: Future[None] = Future()
        self._enqueue(events, future)
        return future

    def submit_async(self, events: Events) -> asyncio.Future[None]:
        """Like ``submit``, from a coroutine: await the result on the running loop."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._enqueue(events, future)
        return future

    def _enqueue(self, events: Events, waiter: Waiter) -> None:
        self._ensure_started()
        self._queue.put((events, waiter))

    def stop(self) -> None:
        """Commit what is queued, then stop the writer thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join()

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="auxot-group-commit", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch = [] if first is _STOP else [first]
            stopping = first is _STOP
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stopping = True
                    break
                batch.append(more)
            if batch:
                try:
                    self._commit(batch)  # type: ignore[arg-type]
                except Exception:
                    # Never let the writer die: every later submission would wait forever.
                    log.exception("group commit failed to settle a batch")
            if stopping:
                return

    def _commit(self, batch: Batch) -> None:
        try:
            self._save([event for events, _ in batch for event in events])
        except RecordConflictError as exc:
            if len(batch) == 1:
                _fail(batch, exc)
                return
            # One conflicting aggregate must not fail its neighbours: save each alone.
            for item in batch:
                self._commit([item])
            return
        except Exception as exc:
            # The database is down or refused the transaction: trying each item alone
            # would only repeat the failure N times.
            _fail(batch, exc)
            return
        _settle(batch, None)
        self._on_saved()


def _fail(batch: Batch, exc: Exception) -> None:
    _settle(batch, exc)


def _settle(batch: Batch, exc: Exception | None) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for _, waiter in batch:
        if isinstance(waiter, asyncio.Future):
            by_loop.setdefault(waiter.get_loop(), []).append(waiter)
        elif not waiter.set_running_or_notify_cancel():
            continue  # cancelled by its submitter: its events were saved all the same
        elif exc is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(exc)
    for loop, futures in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_settle_on_loop, futures, exc)


def _settle_on_loop(futures: list[asyncio.Future[None]], exc: Exception | None) -> None:
    for future in futures:
        if future.done():  # cancelled: the client went away
            continue
        if exc is None:
            future.set_result(None)
        else:
            future.set_exception(exc)
