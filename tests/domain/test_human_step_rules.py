"""Human steps at definition time, and team admins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given

from auxot.domain.definition import COMPLETE, DEFAULT, Definition, Handoff, Step
from auxot.domain.team import Team
from auxot.domain.validation import validate
from tests.domain.strategies import human_definitions

AT = datetime(2026, 1, 1, tzinfo=UTC)
DONE = (Handoff("approved", COMPLETE),)


def draft() -> Step:
    return Step("draft", "prompt", "draft it", "p", (Handoff(DEFAULT, "review"),))


def human(key: str = "review", handoffs: tuple[Handoff, ...] = DONE, **fields: Any) -> Step:
    return Step(key, "human", handoffs=handoffs, **fields)


@given(human_definitions())
def test_generated_human_definitions_are_valid(definition: Definition) -> None:
    assert validate(definition).ok, validate(definition).errors


def test_a_plain_human_step_is_valid_and_quiet() -> None:
    report = validate(Definition((draft(), human(assignee="ann", timeout=60))))
    assert report.errors == ()
    assert report.warnings == ()


@pytest.mark.parametrize(
    ("step", "field", "message"),
    [
        (human(prompt="x"), "prompt", "a human step takes no 'prompt'"),
        (human(provider="p"), "provider", "a human step takes no 'provider'"),
        (human(assignee="ann", team="t"), "team", "not both"),
        (human(timeout=0), "timeout", "from 1 second to 366 days"),
        (human(not_by_actor_of="draft"), "not_by_actor_of", "must name an earlier human step"),
        (human(not_by_actor_of="review"), "not_by_actor_of", "must name an earlier human step"),
        (Step("review", "prompt", "", "p", DONE), "prompt", "'prompt' is required"),
        (Step("review", "prompt", "x", "", DONE), "provider", "'provider' is required"),
        (Step("review", "prompt", "x", "p", DONE, timeout=5), "timeout", "only for human steps"),
    ],
)
def test_a_wrong_step_is_an_error_naming_its_field(step: Step, field: str, message: str) -> None:
    (problem,) = validate(Definition((draft(), step))).errors
    assert (problem.step, problem.field) == ("review", field)
    assert message in problem.message


def test_not_by_actor_of_must_come_later_than_the_step_it_names() -> None:
    first = human("check", handoffs=(Handoff("approved", "review"),), not_by_actor_of="review")
    (problem,) = validate(Definition((first, human()))).errors
    assert problem.step == "check"
    ok = (human(handoffs=(Handoff("approved", "check"),)), human("check", not_by_actor_of="review"))
    assert validate(Definition(ok)).ok


def test_a_timeout_handoff_without_a_timeout_is_a_warning() -> None:
    step = human(handoffs=(*DONE, Handoff("timeout", COMPLETE)))
    report = validate(Definition((draft(), step)))
    assert report.ok
    assert [w.message for w in report.warnings] == [
        "handoff 'timeout' cannot fire: the step has no 'timeout'"
    ]
    assert validate(Definition((draft(), human(handoffs=step.handoffs, timeout=5)))).warnings == ()


def test_team_admins_are_a_sorted_set_changed_only_when_different() -> None:
    team = Team.register(uuid4(), "support", AT, ["ann"], ["zoe", "boss", "zoe"])
    assert team.admins == ["boss", "zoe"]
    events = list(team.collect_events())
    assert [type(e) for e in events] == [Team.Registered, Team.AdminsChanged]
    team.set_admins(["zoe", "boss"], AT)
    assert team.pending_events == []
    team.set_admins([], AT + timedelta(minutes=1))
    events += list(team.collect_events())
    replayed = None
    for event in events:
        replayed = event.mutate(replayed)
    assert isinstance(replayed, Team)
    assert (replayed.admins, replayed.members) == ([], ["ann"])
    assert Team.register(uuid4(), "plain", AT).admins == []
