"""The WorkView contract for the lifecycle: rows of manual tasks (no intake), and due
items held back because their workflow is paused — on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from uuid import uuid4

import attrs
import pytest
from eventsourcing.persistence import Tracking

from tests.adapters.persistence.test_work_view_contract import T0, Opened, assert_same_row, row


@pytest.fixture
def opened(database_url: str) -> Iterator[Opened]:
    it = Opened(database_url)
    yield it
    it.close()


def test_a_row_with_no_intake_reads_back_with_none(opened: Opened) -> None:
    task = attrs.evolve(row(), intake_id=None)
    opened.view.save([task], Tracking("work", 1))
    assert_same_row(opened.view.get(task.work_id), task)


def test_due_leaves_out_pending_items_of_held_workflows_only(opened: Opened) -> None:
    paused, other = uuid4(), uuid4()
    at = [T0 + timedelta(seconds=n) for n in range(4)]
    held = attrs.evolve(row(due_at=at[0]), workflow_id=paused)
    running = attrs.evolve(row(due_at=at[1], status="running"), workflow_id=paused)
    free = attrs.evolve(row(due_at=at[2]), workflow_id=other)
    held_too = attrs.evolve(row(due_at=at[3]), workflow_id=paused)
    opened.view.save([held, running, free, held_too], Tracking("work", 1))
    now = T0 + timedelta(minutes=1)

    everything = [held.work_id, running.work_id, free.work_id, held_too.work_id]
    assert opened.view.due(now, 10) == everything
    assert opened.view.due(now, 10, 0, ()) == everything
    assert opened.view.due(now, 10, 0, [paused]) == [running.work_id, free.work_id]
    assert opened.view.due(now, 1, 1, {paused, uuid4()}) == [free.work_id]
    assert opened.view.due(now, 10, 0, [other]) == [held.work_id, running.work_id, held_too.work_id]
