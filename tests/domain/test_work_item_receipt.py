"""A new item's first event, built alone for the intake's write path, is the very event
that receiving the item records."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st

from auxot.domain.actor import Actor
from auxot.domain.definition import COMPLETE, DEFAULT, Definition, Handoff, Step
from auxot.domain.work_item import Status, WorkItem

DEFINITION = Definition(steps=(Step("first", "prompt", "p", "p", (Handoff(DEFAULT, COMPLETE),)),))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=8,
)


@given(st.dictionaries(st.text(), json_values), st.integers(min_value=1, max_value=9))
def test_the_receipt_is_the_event_receiving_records(payload: dict, version: int) -> None:
    ids = uuid4(), uuid4(), uuid4()
    at = datetime(2026, 12, 1, tzinfo=UTC)
    actor = Actor.team("support", uuid4()).text
    receipt = WorkItem.received(*ids, version, DEFINITION, payload, at, actor=actor)
    [recorded] = WorkItem.receive(*ids, version, DEFINITION, payload, at).collect_events()
    assert receipt == replace(recorded, actor=actor)  # as the application stamps it
    item = receipt.mutate(None)
    assert isinstance(item, WorkItem)
    assert (item.id, item.version, item.status) == (ids[0], 1, Status.PENDING)
    assert (item.intake_id, item.current_step, item.input) == (ids[1], "first", payload)
