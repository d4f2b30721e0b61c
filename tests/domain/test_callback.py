"""A work item's callback delivery, in the domain: scheduling once the item ends, claims
with leases, outcomes, dead letters and redelivery. Pure: no clock, no store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from auxot.domain import callback
from auxot.domain.callback import (
    AttemptResult,
    CallbackError,
    DeliveryStatus,
    StaleCallbackAttemptError,
)
from auxot.domain.callback_schedule import CallbackSchedule
from auxot.domain.definition import COMPLETE, DEFAULT, Definition, Handoff, Step
from auxot.domain.work_item import WorkItem

START = datetime(2026, 1, 1, tzinfo=UTC)
LEASE = timedelta(seconds=30)
TEAM = uuid4()
URL = "https://receiver.example/hook"
SCHEDULE = CallbackSchedule((0, 5, 60))
DEFINITION = Definition(steps=(Step("only", "prompt", "go", "p", (Handoff(DEFAULT, COMPLETE),)),))


def ended_item() -> WorkItem:
    item = WorkItem.receive(uuid4(), uuid4(), uuid4(), 1, DEFINITION, {"n": 1}, START)
    item.cancel("someone", START)
    return item


def scheduled_item() -> WorkItem:
    item = ended_item()
    callback.schedule(item, URL, TEAM)
    return item


def replayed(item: WorkItem) -> Any:
    rebuilt = None
    for event in item.collect_events():
        rebuilt = event.mutate(rebuilt)
    assert isinstance(rebuilt, WorkItem)
    return rebuilt.delivery


def attempt(item: WorkItem, result: AttemptResult, at: datetime, jitter: float = 0.5) -> None:
    started = callback.start_attempt(item, "deliverer-a", LEASE, at)
    callback.record_outcome(item, started.number, result, SCHEDULE, jitter, at)


def test_an_ended_item_schedules_one_delivery_of_its_record_as_it_ended() -> None:
    item = scheduled_item()
    delivery = item.delivery
    assert delivery is not None
    assert delivery.webhook_id == f"msg_{item.id.hex}"
    assert (delivery.url, delivery.team_id, delivery.record_version) == (URL, TEAM, 2)
    assert delivery.status is DeliveryStatus.PENDING
    assert delivery.due_at == START
    with pytest.raises(CallbackError):
        callback.schedule(item, URL, TEAM)


def test_an_item_that_has_not_ended_schedules_nothing() -> None:
    item = WorkItem.receive(uuid4(), uuid4(), uuid4(), 1, DEFINITION, {}, START)
    with pytest.raises(CallbackError):
        callback.schedule(item, URL, TEAM)


def test_a_2xx_delivers_and_leaves_nothing_due() -> None:
    item = scheduled_item()
    attempt(item, AttemptResult(204, 12), START)
    delivery = item.delivery
    assert delivery is not None
    assert delivery.status is DeliveryStatus.DELIVERED
    assert delivery.due_at is None
    assert delivery.attempts[0].status_code == 204
    assert replayed(item) == delivery


def test_failures_follow_the_schedule_then_the_delivery_is_dead() -> None:
    item = scheduled_item()
    at = START
    for wait in (5, 60):
        attempt(item, AttemptResult(500, 3, "HTTP 500"), at)
        assert item.delivery is not None
        assert item.delivery.due_at == at + timedelta(seconds=wait)  # jitter 0.5: none
        at += timedelta(seconds=wait)
    attempt(item, AttemptResult(None, 15_000, "timed out"), at)
    delivery = item.delivery
    assert delivery is not None
    assert delivery.status is DeliveryStatus.DEAD
    assert delivery.dead_reason == "no attempt left after 3 (timed out)"
    assert [a.error for a in delivery.attempts] == ["HTTP 500", "HTTP 500", "timed out"]
    assert replayed(item) == delivery


def test_410_gone_is_dead_at_once() -> None:
    item = scheduled_item()
    attempt(item, AttemptResult(410, 3, "HTTP 410"), START)
    assert item.delivery is not None
    assert item.delivery.status is DeliveryStatus.DEAD
    assert item.delivery.dead_reason == "the receiver answered 410 Gone"


def test_an_attempt_is_claimed_once_until_its_lease_runs_out() -> None:
    item = scheduled_item()
    first = callback.start_attempt(item, "deliverer-a", LEASE, START)
    with pytest.raises(CallbackError):
        callback.start_attempt(item, "deliverer-b", LEASE, START + LEASE / 2)
    second = callback.start_attempt(item, "deliverer-b", LEASE, START + LEASE)
    assert (first.number, second.number) == (1, 2)
    with pytest.raises(StaleCallbackAttemptError):  # deliverer-a was presumed dead
        callback.record_outcome(item, 1, AttemptResult(200, 1), SCHEDULE, 0.5, START + LEASE)
    delivery = item.delivery
    assert delivery is not None
    assert delivery.attempts[0].abandoned
    assert delivery.webhook_id == f"msg_{item.id.hex}"
    assert replayed(item) == delivery


def test_redelivery_starts_a_fresh_round_with_the_same_webhook_id() -> None:
    item = scheduled_item()
    attempt(item, AttemptResult(410, 3, "HTTP 410"), START)
    later = START + timedelta(days=1)
    callback.request_redelivery(item, "user alice", later)
    delivery = item.delivery
    assert delivery is not None
    assert (delivery.status, delivery.due_at, delivery.tried) == (
        DeliveryStatus.PENDING,
        later,
        0,
    )
    assert delivery.redelivered_by == "user alice"
    with pytest.raises(CallbackError):  # pending already
        callback.request_redelivery(item, "user alice", later)
    attempt(item, AttemptResult(200, 3), later)
    assert item.delivery is not None
    assert item.delivery.status is DeliveryStatus.DELIVERED
    assert [a.number for a in item.delivery.attempts] == [1, 2]
    assert replayed(item) == item.delivery


def test_delivery_events_leave_the_items_own_updated_at_alone() -> None:
    item = scheduled_item()
    ended_at = item.modified_on
    later = START + timedelta(minutes=5)
    attempt(item, AttemptResult(500, 3, "HTTP 500"), later)
    assert item.modified_on == later
    assert callback.item_updated_at(item) == ended_at
    item.rerun(uuid4(), 1, DEFINITION, later)  # a change to the item itself counts
    assert callback.item_updated_at(item) == later
    attempt(item, AttemptResult(200, 3), later + timedelta(minutes=1))
    assert callback.item_updated_at(item) == later
