"""Actors: their stored text round-trips, every event of every aggregate carries one, and
events stored before actors (or under the old class paths) still read back."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import CanMutateAggregate
from eventsourcing.persistence import (
    DatetimeAsISO,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    UUIDAsHex,
)
from eventsourcing.utils import get_topic
from hypothesis import given
from hypothesis import strategies as st

from auxot.domain.actor import SYSTEM, UNKNOWN, Actor, ActorError
from auxot.domain.agent import Agent
from auxot.domain.api_key import ApiKey
from auxot.domain.intake import Intake
from auxot.domain.provider import Provider
from auxot.domain.team import Team
from auxot.domain.tool import Tool
from auxot.domain.work_item import WorkItem
from auxot.domain.workflow import Workflow

AGGREGATES = (Team, ApiKey, Provider, Workflow, Agent, Tool, Intake, WorkItem)
names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)


@given(
    st.sampled_from(["user", "team", "cli", "worker"]),
    names,
    st.none() | st.uuids(),
)
def test_an_actor_reads_back_from_its_text(kind: str, name: str, key: UUID | None) -> None:
    actor = Actor(kind, name, key)  # type: ignore[arg-type]
    assert Actor.parse(actor.text) == actor


def test_the_text_names_the_principal_then_the_key() -> None:
    key = UUID(int=5)
    assert Actor.user("ann", key).text == f"user:ann key:{key}"
    assert Actor.worker("host:12").principal == "worker:host:12"
    assert (SYSTEM.text, UNKNOWN.text) == ("system", "unknown")


@pytest.mark.parametrize("text", ["", "ann", "robot:x", "user:", "key:abc"])
def test_text_that_names_no_actor_is_refused(text: str) -> None:
    with pytest.raises(ActorError):
        Actor.parse(text)


def events_of(aggregate: type) -> list[type]:
    return [
        value
        for name, value in vars(aggregate).items()
        if name != "Event" and isinstance(value, type) and issubclass(value, CanMutateAggregate)
    ]


@pytest.mark.parametrize("aggregate", AGGREGATES, ids=lambda a: a.__name__)
def test_every_event_has_an_actor_and_an_explicit_topic(aggregate: type) -> None:
    for event in events_of(aggregate):
        assert "actor" in {f.name for f in dataclasses.fields(event)}, event
        assert get_topic(event) == f"{aggregate.__name__}.{event.__name__}"


def test_a_new_event_class_gets_an_actor_with_no_code_of_its_own() -> None:
    from auxot.domain.events import AuxotAggregate

    class Thing(AuxotAggregate):
        class Made(AuxotAggregate.Created):
            name: str

        class Poked(AuxotAggregate.Event):
            times: int

            def apply(self, aggregate: object) -> None:
                assert isinstance(aggregate, Thing)
                aggregate.times = self.times

    thing = Thing._create(Thing.Made, id=uuid4(), name="x")
    thing.trigger_event(Thing.Poked, times=2)
    assert thing.times == 2  # an ordinary event in every other way
    made, poked = thing.collect_events()
    assert (made.actor, poked.actor) == ("unknown", "unknown")  # the application stamps it
    stamped = dataclasses.replace(poked, actor="cli:root")
    assert (stamped.actor, stamped.times) == ("cli:root", 2)


def stored(topic: str, state: dict[str, object], version: int = 2) -> StoredEvent:
    return StoredEvent(
        originator_id=uuid4(),
        originator_version=version,
        topic=topic,
        state=json.dumps(state).encode(),
    )


def _transcoder() -> JSONTranscoder:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


MAPPER: Mapper[UUID] = Mapper(transcoder=_transcoder())
AT = {"timestamp": {"_type_": "datetime_iso", "_data_": "2026-01-01T00:00:00+00:00"}}


def test_an_event_stored_before_actors_reads_back_as_unknown() -> None:
    """As version 0.x stored it: under the module path, with no actor field."""
    state = {**AT, "step": "triage", "attempt": 1, "worker": "w", "lease_until": AT["timestamp"]}
    event = MAPPER.to_domain_event(
        stored("auxot.domain.work_item:WorkItem.StepStarted", state)
    )
    assert type(event) is WorkItem.StepStarted
    assert (event.actor, event.step) == ("unknown", "triage")  # type: ignore[attr-defined]


def test_a_human_decision_stored_as_version_1_is_upcast() -> None:
    """Version 1 named the person ``actor``; version 2 calls them ``person`` and keeps
    ``actor`` for who caused the event — that same user, whose key was not recorded."""
    state = {**AT, "step": "review", "actor": "ann", "condition": "approved"}
    state |= {"note": None, "output": None}
    event = MAPPER.to_domain_event(stored("auxot.domain.work_item:WorkItem.HumanActed", state))
    assert isinstance(event, WorkItem.HumanActed)
    assert (event.person, event.actor) == ("ann", "user:ann")


def test_a_new_event_is_stored_under_its_explicit_topic_and_reads_back() -> None:
    event = WorkItem.HumanActed(  # type: ignore[call-arg]
        originator_id=uuid4(),
        originator_version=3,
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        actor="user:ann key:00000000-0000-0000-0000-000000000005",
        step="review",
        person="ann",
        condition="approved",
        note=None,
        output=None,
    )
    record = MAPPER.to_stored_event(event)
    assert record.topic == "WorkItem.HumanActed"
    assert MAPPER.to_domain_event(record) == event
