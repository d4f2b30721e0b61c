"""A finished work item's callback delivery: the outbox, kept in the item's own stream.

When an item ends and its intake has a callback URL, ``schedule`` records
``CallbackScheduled`` on the item, saved in the same transaction as the terminal event:
there is no second write that could be lost between them. Every attempt is recorded on
the item too: ``CallbackAttemptStarted`` is saved *before* the POST, under optimistic
concurrency, so that of two deliverers only one sends; its lease lets another deliverer
try again when the first dies mid-attempt (with the same ``webhook-id``). The outcome is
``CallbackAttempted``, then ``CallbackDelivered``, or ``CallbackDead`` when no attempt is
left (or the receiver answered 410 Gone). ``CallbackRedeliveryRequested`` puts an ended
delivery back to pending, with a fresh round of attempts and the same ``webhook-id``.

The state is a frozen value (``Delivery``) on ``WorkItem.delivery``, replaced by each
event. The commands are functions over the item, so the work item itself barely changes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

import attrs
from eventsourcing.domain import Aggregate

from auxot.domain.callback_schedule import CallbackSchedule
from auxot.domain.events import event_recorded_as
from auxot.domain.work_item import WorkItem


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt, or one is in flight
    DELIVERED = "delivered"
    DEAD = "dead"


class CallbackError(Exception):
    """A delivery command that the delivery's state does not allow."""


class StaleCallbackAttemptError(CallbackError):
    """An outcome for an attempt that is no longer the open one (its lease ran out and
    another deliverer started the next attempt)."""


@attrs.frozen
class CallbackAttempt:
    number: int  # 1, 2, ... over the delivery's whole life (redeliveries continue it)
    deliverer: str
    started_at: datetime
    lease_until: datetime
    finished_at: datetime | None = None
    status_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None
    abandoned: bool = False
    """Its deliverer died before recording an outcome; a later attempt took over."""

    @property
    def open(self) -> bool:
        return self.finished_at is None and not self.abandoned


@attrs.frozen
class Delivery:
    webhook_id: str  # the ``webhook-id``: one per delivery, kept by every attempt
    url: str
    team_id: UUID
    record_version: int  # the item's version whose record is the body
    scheduled_at: datetime
    status: DeliveryStatus = DeliveryStatus.PENDING
    next_attempt_at: datetime | None = None  # while pending with no attempt in flight
    attempts: tuple[CallbackAttempt, ...] = ()
    round_start: int = 0
    """Attempts made before the last redelivery request; the schedule starts afresh."""
    dead_reason: str | None = None
    redelivered_by: str | None = None
    # The item's version after the last delivery event, and when the item itself last
    # changed before delivery events followed: the record's ``updated_at`` ignores them.
    touched_version: int = 0
    item_updated_at: datetime | None = None

    @property
    def in_flight(self) -> CallbackAttempt | None:
        if self.attempts and self.attempts[-1].open:
            return self.attempts[-1]
        return None

    @property
    def due_at(self) -> datetime | None:
        """When a deliverer should next act: the next attempt, or the lease of the one
        in flight (its deliverer may have died); None once delivered or dead."""
        if self.status is not DeliveryStatus.PENDING:
            return None
        live = self.in_flight
        return live.lease_until if live is not None else self.next_attempt_at

    def is_due(self, now: datetime) -> bool:
        due = self.due_at
        return due is not None and due <= now

    @property
    def tried(self) -> int:
        """Attempts made in the current round (since scheduling, or the last redelivery)."""
        return len(self.attempts) - self.round_start


# -- events -------------------------------------------------------------------------------


def _delivery(aggregate: Aggregate) -> Delivery:
    assert isinstance(aggregate, WorkItem)
    assert aggregate.delivery is not None
    return aggregate.delivery


def _set(aggregate: Aggregate, delivery: Delivery) -> None:
    """Put the new delivery state on the item (before the library moves its version and
    ``modified_on`` to this event's)."""
    assert isinstance(aggregate, WorkItem)
    prior = aggregate.delivery
    item_updated_at = (
        prior.item_updated_at
        if prior is not None and prior.touched_version == aggregate.version
        else aggregate.modified_on
    )
    aggregate.delivery = attrs.evolve(
        delivery, touched_version=aggregate.version + 1, item_updated_at=item_updated_at
    )


def item_updated_at(item: WorkItem) -> datetime:
    """When the item last changed, not counting its delivery's events (which change
    nothing in its record): a polled record and its callback body agree."""
    delivery = item.delivery
    if delivery is not None and delivery.touched_version == item.version:
        assert delivery.item_updated_at is not None
        return delivery.item_updated_at
    return item.modified_on


def _replace_last(delivery: Delivery, **changes: Any) -> tuple[CallbackAttempt, ...]:
    return (*delivery.attempts[:-1], attrs.evolve(delivery.attempts[-1], **changes))


@event_recorded_as("WorkItem.CallbackScheduled")
class CallbackScheduled(WorkItem.Event):
    webhook_id: str
    url: str
    team_id: UUID
    record_version: int

    def apply(self, aggregate: Aggregate) -> None:
        _set(
            aggregate,
            Delivery(
                webhook_id=self.webhook_id,
                url=self.url,
                team_id=self.team_id,
                record_version=self.record_version,
                scheduled_at=self.timestamp,
                next_attempt_at=self.timestamp,
            ),
        )


@event_recorded_as("WorkItem.CallbackAttemptStarted")
class CallbackAttemptStarted(WorkItem.Event):
    attempt: int
    deliverer: str
    lease_until: datetime

    def apply(self, aggregate: Aggregate) -> None:
        delivery = _delivery(aggregate)
        attempts = delivery.attempts
        if delivery.in_flight is not None:  # its deliverer was presumed dead
            attempts = _replace_last(delivery, abandoned=True)
        started = CallbackAttempt(self.attempt, self.deliverer, self.timestamp, self.lease_until)
        _set(aggregate, attrs.evolve(delivery, attempts=(*attempts, started), next_attempt_at=None))


@event_recorded_as("WorkItem.CallbackAttempted")
class CallbackAttempted(WorkItem.Event):
    attempt: int
    status_code: int | None
    latency_ms: int
    error: str | None
    next_attempt_at: datetime | None  # None: no retry (delivered, gone or out of attempts)

    def apply(self, aggregate: Aggregate) -> None:
        delivery = _delivery(aggregate)
        attempts = _replace_last(
            delivery,
            finished_at=self.timestamp,
            status_code=self.status_code,
            latency_ms=self.latency_ms,
            error=self.error,
            next_attempt_at=self.next_attempt_at,
        )
        next_at = self.next_attempt_at
        _set(aggregate, attrs.evolve(delivery, attempts=attempts, next_attempt_at=next_at))


@event_recorded_as("WorkItem.CallbackDelivered")
class CallbackDelivered(WorkItem.Event):
    attempt: int

    def apply(self, aggregate: Aggregate) -> None:
        _set(aggregate, attrs.evolve(_delivery(aggregate), status=DeliveryStatus.DELIVERED))


@event_recorded_as("WorkItem.CallbackDead")
class CallbackDead(WorkItem.Event):
    reason: str

    def apply(self, aggregate: Aggregate) -> None:
        delivery = _delivery(aggregate)
        _set(aggregate, attrs.evolve(delivery, status=DeliveryStatus.DEAD, dead_reason=self.reason))


@event_recorded_as("WorkItem.CallbackRedeliveryRequested")
class CallbackRedeliveryRequested(WorkItem.Event):
    by: str

    def apply(self, aggregate: Aggregate) -> None:
        delivery = _delivery(aggregate)
        _set(
            aggregate,
            attrs.evolve(
                delivery,
                status=DeliveryStatus.PENDING,
                next_attempt_at=self.timestamp,
                round_start=len(delivery.attempts),
                dead_reason=None,
                redelivered_by=self.by,
            ),
        )


# -- commands -----------------------------------------------------------------------------


def webhook_id_of(work_id: UUID) -> str:
    """The ``webhook-id`` of an item's delivery: deterministic, so it is the same
    whichever process schedules it, and it doubles as the delivery's id in the API."""
    return f"msg_{work_id.hex}"


def schedule(item: WorkItem, url: str, team_id: UUID) -> None:
    """Record that the ended ``item``'s record is to be POSTed to ``url``; once only,
    at the moment it ended. Its body is the record as of that moment."""
    if not item.status.terminal or item.finished_at is None:
        raise CallbackError(f"work item is {item.status}: only an ended item calls back")
    if item.delivery is not None:
        raise CallbackError("the item's callback is already scheduled")
    item.trigger_event(
        CallbackScheduled,
        webhook_id=webhook_id_of(item.id),
        url=url,
        team_id=team_id,
        record_version=item.version,
        timestamp=item.finished_at,
    )


def start_attempt(
    item: WorkItem, deliverer: str, lease: timedelta, now: datetime
) -> CallbackAttempt:
    """Claim the next attempt for ``deliverer`` until ``now + lease``; saved under
    optimistic concurrency before sending, so only one deliverer sends it."""
    delivery = _required(item)
    if not delivery.is_due(now):
        raise CallbackError(f"the delivery is {delivery.status} and not due at {now}")
    item.trigger_event(
        CallbackAttemptStarted,
        attempt=len(delivery.attempts) + 1,
        deliverer=deliverer,
        lease_until=now + lease,
        timestamp=now,
    )
    return _required(item).attempts[-1]


@attrs.frozen
class AttemptResult:
    """What the receiver did, in the domain's terms (the sender's outcome, unpacked)."""

    status_code: int | None
    latency_ms: int
    error: str | None = None
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


GONE = 410


def record_outcome(
    item: WorkItem,
    attempt: int,
    result: AttemptResult,
    schedule: CallbackSchedule,
    jitter: float,
    now: datetime,
) -> None:
    """Record the open attempt's outcome: delivered, retried later, or dead (410 Gone,
    or no attempt left in the schedule)."""
    delivery = _required(item)
    live = delivery.in_flight
    if live is None or live.number != attempt:
        raise StaleCallbackAttemptError(f"callback attempt {attempt} is no longer open")
    wait = None
    if not result.delivered and result.status_code != GONE:
        wait = schedule.wait_after(
            delivery.tried,
            status_code=result.status_code,
            retry_after=result.retry_after,
            jitter=jitter,
        )
    item.trigger_event(
        CallbackAttempted,
        attempt=attempt,
        status_code=result.status_code,
        latency_ms=result.latency_ms,
        error=None if result.delivered else result.error,
        next_attempt_at=None if wait is None else now + timedelta(seconds=wait),
        timestamp=now,
    )
    if result.delivered:
        item.trigger_event(CallbackDelivered, attempt=attempt, timestamp=now)
    elif result.status_code == GONE:
        item.trigger_event(CallbackDead, reason="the receiver answered 410 Gone", timestamp=now)
    elif wait is None:
        reason = f"no attempt left after {delivery.tried} ({result.error or result.status_code})"
        item.trigger_event(CallbackDead, reason=reason, timestamp=now)


def request_redelivery(item: WorkItem, by: str, now: datetime) -> None:
    """Deliver again, with the same ``webhook-id``: only once the delivery has ended
    (dead or delivered); a pending one is already going to be sent."""
    delivery = _required(item)
    if delivery.status is DeliveryStatus.PENDING:
        raise CallbackError("the delivery is pending: it will be attempted without asking")
    item.trigger_event(CallbackRedeliveryRequested, by=by, timestamp=now)


def _required(item: WorkItem) -> Delivery:
    if item.delivery is None:
        raise CallbackError("the item has no callback delivery")
    return item.delivery


# Every event of a delivery: what the deliveries projection follows.
EVENTS: tuple[type[WorkItem.Event], ...] = (
    CallbackScheduled,
    CallbackAttemptStarted,
    CallbackAttempted,
    CallbackDelivered,
    CallbackDead,
    CallbackRedeliveryRequested,
)
