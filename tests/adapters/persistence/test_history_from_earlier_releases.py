"""History written by the release before actors and explicit topics reads back on every
backend: stored under module-path topics, with no ``actor``, and a human decision in
``HumanActed`` version 1 (the person under ``actor``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from auxot.adapters.persistence import parse_database_url
from auxot.application.history import entry_of
from auxot.application.stores import WorkLog
from auxot.domain.definition import COMPLETE, Definition, Handoff, Step
from auxot.domain.work_item import WorkItem

AT = datetime(2025, 6, 1, tzinfo=UTC)
REVIEW = Step("review", "human", handoffs=(Handoff("approved", COMPLETE),))
DEFINITION = Definition(steps=(REVIEW,))


@pytest.fixture
def work(database_url: str) -> Iterator[WorkLog]:
    log = WorkLog(env=parse_database_url(database_url).env(WorkLog.name))
    yield log
    log.close()


def as_stored_before(work: WorkLog, event: object) -> StoredEvent:
    """The event as the earlier release stored it."""
    stored = work.mapper.to_stored_event(event)  # type: ignore[arg-type]
    state = json.loads(stored.state)
    state.pop("actor", None)
    if "originator_topic" in state:
        state["originator_topic"] = "auxot.domain.work_item:WorkItem"
    if type(event) is WorkItem.HumanActed:
        state["actor"] = state.pop("person")
        state.pop("class_version")
    return StoredEvent(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=f"auxot.domain.work_item:WorkItem.{type(event).__name__}",
        state=json.dumps(state).encode(),
    )


def test_an_item_recorded_before_actors_reads_back_whole(work: WorkLog) -> None:
    item = WorkItem.receive(uuid4(), uuid4(), uuid4(), 1, DEFINITION, {"n": 1}, AT)
    item.wait_for_human(REVIEW, "support", AT)
    item.act("review", "ann", "approved", DEFINITION, AT + timedelta(minutes=5))
    events = item.collect_events()
    work.recorder.insert_events([as_stored_before(work, e) for e in events])

    read = work.item(item.id)
    assert (read.status, read.version, read.human_runs[-1].actor) == ("completed", 4, "ann")
    entries = [entry_of(e) for e in work.events.get(item.id)]
    assert [e.type for e in entries] == [
        "WorkItem.Received",
        "WorkItem.WaitingForHuman",
        "WorkItem.HumanActed",
        "WorkItem.Completed",
    ]
    assert [e.actor.text for e in entries] == ["unknown", "unknown", "user:ann", "unknown"]
    assert entries[2].data["person"] == "ann"
