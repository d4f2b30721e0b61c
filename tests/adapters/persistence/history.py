"""A varied work history, generated fast: items built with the domain's own commands
and saved many at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from auxot.application.stores import WorkLog
from auxot.domain.definition import COMPLETE, Definition, Handoff, Step
from auxot.domain.work_item import WorkItem

T0 = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
DEFINITION = Definition(
    steps=(
        Step("classify", "prompt", "c", "p", (Handoff("default", "reply"),)),
        Step("reply", "prompt", "r", "p", (Handoff("default", COMPLETE),)),
    )
)


def item_at(kind: int, workflow: UUID, intake: UUID | None, at: datetime) -> WorkItem:
    """An item in one of six states: pending, running, at its second step, completed,
    failed, cancelled (``kind`` modulo 6)."""
    item = WorkItem.receive(uuid4(), intake, workflow, 1, DEFINITION, {"n": kind}, at)
    kind %= 6
    if kind == 5:
        item.cancel("someone", at + timedelta(seconds=1))
        return item
    if kind >= 1:
        run = item.start_step("w", LEASE, at + timedelta(seconds=1))
        if kind == 4:
            item.fail_step(run.attempt, "boom", at + timedelta(seconds=2), retryable=False)
            return item
        if kind >= 2:
            item.succeed_step(run.attempt, DEFINITION, at + timedelta(seconds=2), output={})
    if kind == 3:
        run = item.start_step("w", LEASE, at + timedelta(seconds=3))
        item.succeed_step(run.attempt, DEFINITION, at + timedelta(seconds=3 + kind), output={})
    return item


def record_history(
    work: WorkLog,
    count: int,
    workflow: UUID,
    intakes: tuple[UUID | None, ...] = (None,),
    *,
    start: datetime = T0,
    batch: int = 500,
) -> list[UUID]:
    """``count`` items of every kind, received a millisecond apart from ``start``, saved
    ``batch`` at a time; their ids."""
    ids: list[UUID] = []
    for first in range(0, count, batch):
        items = [
            item_at(n, workflow, intakes[n % len(intakes)], start + timedelta(milliseconds=n))
            for n in range(first, min(first + batch, count))
        ]
        work.save(*items)
        ids += [i.id for i in items]
    return ids
