"""Work items received before requests could carry options still read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from auxot.application.stores import WorkLog
from auxot.domain.definition import COMPLETE, DEFAULT, Definition, Handoff, Step
from auxot.domain.work_item import WorkItem

AT = datetime(2026, 1, 1, tzinfo=UTC)
DEFINITION = Definition(steps=(Step("only", "prompt", "p", "p", (Handoff(DEFAULT, COMPLETE),)),))


@pytest.fixture
def work() -> Iterator[WorkLog]:
    app = WorkLog(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield app
    app.close()


def test_a_received_event_stored_without_the_new_fields_reads_as_a_plain_item(
    work: WorkLog,
) -> None:
    event = WorkItem.received(
        uuid4(), uuid4(), uuid4(), 1, DEFINITION, {"a": 1}, AT, actor="system"
    )
    stored = work.mapper.to_stored_event(event)
    state = json.loads(stored.state)  # the default transcoder: plain JSON
    for field in ("idempotency_key", "request_digest", "callback_url"):
        state.pop(field)
    old = StoredEvent(
        stored.originator_id, stored.originator_version, stored.topic, json.dumps(state).encode()
    )
    work.recorder.insert_events([old])
    item = work.item(event.originator_id)
    assert (item.idempotency_key, item.request_digest, item.callback_url) == (None, None, None)
    assert item.input == {"a": 1}
