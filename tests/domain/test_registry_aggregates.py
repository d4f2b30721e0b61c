"""Team, Provider, Intake and ApiKey: small aggregates whose changes are idempotent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.domain import Aggregate

from auxot.domain.api_key import ApiKey
from auxot.domain.intake import Intake
from auxot.domain.provider import Provider
from auxot.domain.team import Team

AT = datetime(2026, 1, 1, tzinfo=UTC)
LATER = AT + timedelta(minutes=5)


def event_types(aggregate: Aggregate) -> list[type[Any]]:
    return [type(e) for e in aggregate.collect_events()]


def replayed(events: list[Any]) -> Any:
    aggregate = None
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


# -- Team -------------------------------------------------------------------------------


def test_team_members_are_a_sorted_set() -> None:
    team = Team.register(uuid4(), "support", AT, ["bo", "al", "bo"])
    assert team.members == ["al", "bo"]
    assert Team.register(uuid4(), "empty", AT).members == []


def test_set_members_records_a_change_only_when_the_set_differs() -> None:
    team = Team.register(uuid4(), "support", AT, ["al", "bo"])
    team.collect_events()
    team.set_members(["bo", "al", "al"], LATER)
    assert team.pending_events == []
    team.set_members(["cy"], LATER)
    team.set_members(["cy"], LATER)
    assert event_types(team) == [Team.MembersChanged]
    assert team.members == ["cy"]


def test_team_replays_to_the_same_members() -> None:
    team = Team.register(uuid4(), "support", AT, ["al"])
    team.set_members(["bo", "al"], LATER)
    events = list(team.collect_events())
    assert replayed(events).members == ["al", "bo"]


# -- Provider ---------------------------------------------------------------------------


def provider(max_parallel: int = 2) -> Provider:
    return Provider.register(uuid4(), "local", "scripted", {"reply": "hi"}, max_parallel, AT)


def test_reconfigure_with_equal_settings_records_nothing() -> None:
    p = provider()
    p.collect_events()
    p.reconfigure("scripted", {"reply": "hi"}, 2, LATER)
    assert p.pending_events == []


@pytest.mark.parametrize(
    ("kind", "settings", "max_parallel"),
    [
        ("openai", {"reply": "hi"}, 2),
        ("scripted", {"reply": "bye"}, 2),
        ("scripted", {"reply": "hi"}, 3),
    ],
)
def test_reconfigure_records_any_difference(
    kind: str, settings: dict[str, Any], max_parallel: int
) -> None:
    p = provider()
    p.collect_events()
    p.reconfigure(kind, settings, max_parallel, LATER)
    assert event_types(p) == [Provider.Reconfigured]
    assert (p.kind, p.settings, p.max_parallel) == (kind, settings, max_parallel)


@pytest.mark.parametrize("max_parallel", [0, -1])
def test_max_parallel_below_one_is_refused(max_parallel: int) -> None:
    with pytest.raises(ValueError, match="max_parallel must be at least 1"):
        provider(max_parallel)
    p = provider()
    p.collect_events()
    with pytest.raises(ValueError, match="max_parallel must be at least 1"):
        p.reconfigure("scripted", {"reply": "hi"}, max_parallel, LATER)
    assert p.pending_events == []
    assert p.max_parallel == 2


# -- Intake -----------------------------------------------------------------------------


def intake() -> Intake:
    return Intake.open(uuid4(), "triage", uuid4(), uuid4(), None, AT)


def test_an_intake_opens_active() -> None:
    assert intake().active


def test_activate_and_deactivate_are_idempotent() -> None:
    i = intake()
    i.collect_events()
    i.activate(LATER)
    assert i.pending_events == []
    i.deactivate(LATER)
    i.deactivate(LATER)
    assert event_types(i) == [Intake.Deactivated]
    assert not i.active
    i.activate(LATER)
    i.activate(LATER)
    assert event_types(i) == [Intake.Activated]
    assert i.active


def test_intake_reconfigure_is_a_no_op_when_equal() -> None:
    i = intake()
    i.collect_events()
    i.reconfigure(i.workflow_id, None, LATER)
    assert i.pending_events == []
    other = uuid4()
    i.reconfigure(other, "https://example.com/hook", LATER)
    assert event_types(i) == [Intake.Reconfigured]
    assert (i.workflow_id, i.callback_url) == (other, "https://example.com/hook")


def test_intake_replays_its_active_flag() -> None:
    i = intake()
    i.deactivate(LATER)
    assert replayed(list(i.collect_events())).active is False


# -- ApiKey -----------------------------------------------------------------------------


def test_a_key_without_expiry_is_usable_until_revoked() -> None:
    key = ApiKey.issue(uuid4(), "team", "support", "hash", at=AT)
    assert key.usable_at(AT + timedelta(days=3650))
    key.collect_events()
    key.revoke(LATER)
    key.revoke(LATER)
    assert event_types(key) == [ApiKey.Revoked]
    assert not key.usable_at(LATER)


def test_a_key_expires_at_its_expiry_time() -> None:
    expires = AT + timedelta(hours=1)
    key = ApiKey.issue(uuid4(), "user", "al", "hash", at=AT, expires_at=expires)
    assert key.usable_at(expires - timedelta(microseconds=1))
    assert not key.usable_at(expires)
    assert not key.usable_at(expires + timedelta(days=1))


def test_a_revoked_key_replays_revoked() -> None:
    key = ApiKey.issue(uuid4(), "team", "support", "hash", at=AT)
    key.revoke(LATER)
    rebuilt = replayed(list(key.collect_events()))
    assert rebuilt.revoked
    assert rebuilt.secret_hash == "hash"
    assert not rebuilt.usable_at(LATER)
