"""The deliverer: sends due callbacks, recording each attempt on the work item.

It takes due deliveries from the deliveries view (``due_at``: the next attempt, or the
lease of an attempt whose deliverer may have died), claims each by saving
``CallbackAttemptStarted`` under optimistic concurrency (of two deliverers, one wins),
and only then POSTs. A deliverer killed between the claim and the outcome leaves the
lease to run out; the next attempt then goes out with the same ``webhook-id``. Deliveries
are therefore at-least-once, and a receiver deduplicates by ``webhook-id``.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import RecordConflictError

from auxot.application.directory import Directory
from auxot.application.ports import (
    Callback,
    CallbackOutcome,
    CallbackSender,
    Clock,
    DeliveryRow,
    DeliveryView,
)
from auxot.application.projections import ItemProjection
from auxot.application.records import encode_record
from auxot.application.refs import format_ref
from auxot.application.signing_secrets import signing_secrets
from auxot.application.step_threads import StepThreads
from auxot.application.stores import Registry, WorkLog
from auxot.domain import callback
from auxot.domain.actor import Actor
from auxot.domain.callback import AttemptResult, CallbackAttempt, CallbackError
from auxot.domain.callback_schedule import DEFAULT_SCHEDULE, CallbackSchedule
from auxot.domain.intake import Intake
from auxot.domain.work_item import WorkItem

log = logging.getLogger(__name__)

_RECORD_TRIES = 5


class Deliverer:
    def __init__(
        self,
        work: WorkLog,
        view: DeliveryView,
        registry: Registry,
        directory: Directory,
        sender: CallbackSender,
        clock: Clock,
        *,
        deliverer_id: str,
        schedule: CallbackSchedule = DEFAULT_SCHEDULE,
        timeout: float = 15.0,
        lease_grace: timedelta = timedelta(seconds=30),
        threads: int = 8,
        jitter: Callable[[], float] = random.random,
        on_recorded: Callable[[], None] = lambda: None,
        signed_intake: Callable[[UUID], Intake | None] | None = None,
    ) -> None:
        self._work = work
        self._view = view
        self._registry = registry
        self._directory = directory
        self._sender = sender
        self._clock = clock
        self.deliverer_id = deliverer_id
        self._actor = Actor.worker(deliverer_id)  # whose events the deliverer's are
        self._schedule = schedule
        # The claim outlives the longest a send may take (its timeout) by a grace.
        self._lease = timedelta(seconds=timeout) + lease_grace
        self._jitter = jitter
        self._on_recorded = on_recorded
        # Where an intake's signing secrets come from: by default the directory's copy;
        # the composition root passes one that first issues a secret to an intake
        # recorded before secrets existed, so that no callback goes out unsigned.
        self._signed_intake = signed_intake or self._directory.intake
        self._threads = StepThreads(threads, name="auxot-callback")
        self._thread_count = threads
        self._lock = threading.Lock()
        self._finished = threading.Condition(self._lock)
        self._sending: set[UUID] = set()
        self._closing = False

    def dispatch(self) -> int:
        """Claim and start sending what is due, as threads allow; returns how many."""
        with self._lock:
            if self._closing or len(self._sending) >= self._thread_count:
                return 0
        started = 0
        # Deliveries being sent are not due (their lease runs): one thread's worth each.
        for work_id in self._view.due(self._clock.now(), self._thread_count):
            with self._lock:
                if self._closing or len(self._sending) >= self._thread_count:
                    break
                if work_id in self._sending:
                    continue
                self._sending.add(work_id)
            try:
                claimed = self._claim(work_id)
            except BaseException:  # the database failed: no claim, try again next pass
                self._leave(work_id)
                raise
            if claimed is None:
                self._leave(work_id)
                continue
            item, attempt = claimed
            self._threads.submit(functools.partial(self._send, item, attempt))
            started += 1
        return started

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no send is in flight; False when ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._sending and (remaining := deadline - time.monotonic()) > 0:
                self._finished.wait(remaining)
            return not self._sending

    def close(self, drain_seconds: float = 10.0) -> bool:
        """Stop claiming and wait for sends in flight; the rest are left to their leases."""
        with self._lock:
            self._closing = True
        drained = self.wait_idle(drain_seconds)
        self._threads.stop()
        return drained

    def _claim(self, work_id: UUID) -> tuple[WorkItem, CallbackAttempt] | None:
        try:
            item = self._work.item(work_id)
            attempt = callback.start_attempt(
                item, self.deliverer_id, self._lease, self._clock.now()
            )
            self._work.save(item, actor=self._actor)
        except (AggregateNotFoundError, CallbackError):
            return None  # the view is behind: delivered, or not due any more
        except RecordConflictError:
            return None  # another deliverer claimed it first
        self._on_recorded()
        return item, attempt

    def _send(self, item: WorkItem, attempt: CallbackAttempt) -> None:
        try:
            outcome = self._sender.send(self._callback(item, attempt))
            self._record(item.id, attempt.number, outcome)
        except Exception:
            log.exception("delivering the callback of %s failed", format_ref("work", item.id))
        finally:
            self._leave(item.id)
            self._on_recorded()

    def _callback(self, item: WorkItem, attempt: CallbackAttempt) -> Callback:
        delivery = item.delivery
        assert delivery is not None
        record = encode_record(self._work.item(item.id, delivery.record_version))
        intake = None if item.intake_id is None else self._signed_intake(item.intake_id)
        secrets = signing_secrets(intake, attempt.started_at) if intake is not None else ()
        return Callback(
            webhook_id=delivery.webhook_id,
            url=delivery.url,
            body=record,
            secrets=secrets,
            timestamp=attempt.started_at,
        )

    def _record(self, work_id: UUID, attempt: int, outcome: CallbackOutcome) -> None:
        """Record the outcome, re-reading the item when something else was saved on it
        meanwhile (a re-run's link); dropped when the attempt is no longer open."""
        result = AttemptResult(
            outcome.status_code, outcome.latency_ms, outcome.error, outcome.retry_after
        )
        for _ in range(_RECORD_TRIES):
            item = self._work.item(work_id)
            try:
                callback.record_outcome(
                    item, attempt, result, self._schedule, self._jitter(), self._clock.now()
                )
                self._work.save(item, actor=self._actor)
            except callback.StaleCallbackAttemptError:
                log.warning("dropped a late callback outcome for %s", format_ref("work", work_id))
                return
            except RecordConflictError:
                continue
            if outcome.gone:
                self._disable(item)
            return
        log.warning("could not record a callback outcome for %s", format_ref("work", work_id))

    def _disable(self, item: WorkItem) -> None:
        """The receiver answered 410 Gone: the intake calls it no more."""
        delivery, intake_id = item.delivery, item.intake_id
        assert delivery is not None
        assert intake_id is not None
        for _ in range(_RECORD_TRIES):
            try:
                intake = self._registry.get(Intake, intake_id)
                intake.disable_callback(delivery.url, self._clock.now())
                self._registry.save(intake, actor=self._actor)
            except RecordConflictError:
                continue
            except AggregateNotFoundError:
                return
            self._directory.refresh()
            return

    def _leave(self, work_id: UUID) -> None:
        with self._lock:
            self._sending.discard(work_id)
            self._finished.notify_all()


class DeliveryRunner:
    """One pass of the worker's delivery loop: bring the deliveries view up to date,
    then send what is due. Without a deliverer (no sender wired) it only projects, so
    that the deliveries can still be listed."""

    def __init__(
        self, projection: ItemProjection[DeliveryRow], deliverer: Deliverer | None
    ) -> None:
        self.projection = projection
        self.deliverer = deliverer

    def run_once(self) -> int:
        projected = self.projection.catch_up_fully()
        return projected + (self.deliverer.dispatch() if self.deliverer is not None else 0)

    def close(self, drain_seconds: float) -> None:
        if self.deliverer is not None:
            self.deliverer.close(drain_seconds)
