"""A callback delivery as the API shows it: a pure function of the work item's
``Delivery``, with every attempt (time, status code, latency, error, next attempt)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from auxot.application.ports import DeliveryRow
from auxot.application.refs import format_ref
from auxot.domain.callback import CallbackAttempt, Delivery
from auxot.domain.work_item import WorkItem


class AttemptRecord(msgspec.Struct, kw_only=True):
    attempt: int
    deliverer: str
    started_at: datetime
    finished_at: datetime | None
    status_code: int | None
    latency_ms: int | None
    error: str | None
    next_attempt_at: datetime | None
    outcome: str
    """``in_flight``, ``delivered``, ``failed`` or ``abandoned`` (its deliverer died)."""


class DeliveryRecord(msgspec.Struct, kw_only=True):
    delivery_id: str  # also the ``webhook-id`` header of every attempt
    work_id: str
    status: str  # pending, delivered, dead
    url: str
    scheduled_at: datetime
    next_attempt_at: datetime | None
    in_flight: bool
    dead_reason: str | None
    redelivered_by: str | None
    attempts: list[AttemptRecord]


_encoder = msgspec.json.Encoder()


def delivery_record(item: WorkItem, delivery: Delivery) -> DeliveryRecord:
    return DeliveryRecord(
        delivery_id=delivery.webhook_id,
        work_id=format_ref("work", item.id),
        status=delivery.status.value,
        url=delivery.url,
        scheduled_at=delivery.scheduled_at,
        next_attempt_at=delivery.next_attempt_at,
        in_flight=delivery.in_flight is not None,
        dead_reason=delivery.dead_reason,
        redelivered_by=delivery.redelivered_by,
        attempts=[_attempt(a) for a in delivery.attempts],
    )


def _attempt(attempt: CallbackAttempt) -> AttemptRecord:
    return AttemptRecord(
        attempt=attempt.number,
        deliverer=attempt.deliverer,
        started_at=attempt.started_at,
        finished_at=attempt.finished_at,
        status_code=attempt.status_code,
        latency_ms=attempt.latency_ms,
        error=attempt.error,
        next_attempt_at=attempt.next_attempt_at,
        outcome=_outcome(attempt),
    )


def _outcome(attempt: CallbackAttempt) -> str:
    if attempt.abandoned:
        return "abandoned"
    if attempt.finished_at is None:
        return "in_flight"
    code = attempt.status_code
    return "delivered" if code is not None and 200 <= code < 300 else "failed"


def delivery_row(item: WorkItem) -> DeliveryRow | None:
    delivery = item.delivery
    if delivery is None:
        return None
    return DeliveryRow(
        work_id=item.id,
        webhook_id=delivery.webhook_id,
        team_id=delivery.team_id,
        status=delivery.status.value,
        scheduled_at=delivery.scheduled_at,
        due_at=delivery.due_at,
        record=_encoder.encode(delivery_record(item, delivery)),
    )


def decode_delivery(data: bytes) -> DeliveryRecord:
    return msgspec.json.decode(data, type=DeliveryRecord)
