"""The Agent and Tool aggregates, and agent steps in workflow definitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auxot.domain.agent import DEFAULT_MAX_TURNS, Agent
from auxot.domain.definition import COMPLETE, DEFAULT, Definition, Handoff, Step
from auxot.domain.tool import Tool
from auxot.domain.validation import Problem, validate
from auxot.domain.work_item import WorkItem
from tests.domain.test_registry_aggregates import replayed

AT = datetime(2026, 1, 1, tzinfo=UTC)
LATER = AT + timedelta(minutes=5)
TEAM = uuid4()

names = st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=8)
fields = st.fixed_dictionaries(
    {
        "instructions": st.text(max_size=20),
        "provider": names,
        "model": st.none() | names,
        "tools": st.lists(names, unique=True, max_size=3),
        "max_turns": st.integers(min_value=1, max_value=20),
    }
)


def agent(**overrides: Any) -> Agent:
    values: dict[str, Any] = {"instructions": "Triage tickets.", "provider": "llm"}
    return Agent.register(uuid4(), "triager", TEAM, **(values | overrides), at=AT)


def state(a: Agent) -> tuple[Any, ...]:
    return (a.instructions, a.provider, a.model, a.tools, a.max_turns)


# -- Agent ------------------------------------------------------------------------------


def test_an_agent_defaults_to_no_model_override_no_tools_and_eight_turns() -> None:
    a = agent()
    assert (a.name, a.team_id, a.model, a.tools, a.max_turns) == (
        "triager", TEAM, None, (), DEFAULT_MAX_TURNS
    )
    assert DEFAULT_MAX_TURNS == 8


@given(first=fields, second=fields)
def test_revise_records_exactly_the_changes_and_replays_to_the_same_agent(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    a = Agent.register(uuid4(), "triager", TEAM, **first, at=AT)
    a.revise(**first, at=LATER)  # re-applying the same declaration
    a.revise(**second, at=LATER)
    a.revise(**second, at=LATER)
    events = list(a.collect_events())
    expected = [Agent.Registered] + ([Agent.Revised] if first != second else [])
    assert [type(e) for e in events] == expected
    assert state(a) == (
        second["instructions"], second["provider"], second["model"],
        tuple(second["tools"]), second["max_turns"],
    )
    assert state(replayed(events)) == state(a)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"max_turns": 0}, "max_turns must be at least 1"),
        ({"provider": ""}, "needs a provider"),
        ({"tools": ["a", "a"]}, "must not repeat"),
    ],
)
def test_invalid_agents_are_refused_on_register_and_revise(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        agent(**overrides)
    a = agent()
    a.collect_events()
    with pytest.raises(ValueError, match=message):
        a.revise(**({"instructions": "x", "provider": "llm"} | overrides), at=LATER)
    assert a.pending_events == []


# -- Tool -------------------------------------------------------------------------------


def test_a_tool_is_reconfigured_only_when_something_differs() -> None:
    schema = {"type": "object"}
    settings = {"url": "https://tools.example.com/lookup", "method": "POST", "timeout": 5.0}
    tool = Tool.register(uuid4(), "lookup", "http", "Look up.", schema, settings, AT)
    tool.collect_events()
    tool.reconfigure("http", "Look up.", dict(schema), dict(settings), LATER)
    assert tool.pending_events == []
    tool.reconfigure("http", "Look a customer up.", schema, settings, LATER)
    events = list(tool.collect_events())
    assert [type(e) for e in events] == [Tool.Reconfigured]
    assert tool.description == "Look a customer up."


# -- agent steps in definitions ---------------------------------------------------------


def agent_step(key: str = "a", **overrides: Any) -> Step:
    values: dict[str, Any] = {
        "key": key,
        "handler": "agent",
        "prompt": "Triage {{ input.subject }}",
        "agent": "triager",
        "handoffs": (Handoff(DEFAULT, COMPLETE),),
    }
    return Step(**(values | overrides))


def test_an_agent_step_naming_its_agent_is_valid() -> None:
    report = validate(Definition(steps=(agent_step(),)))
    assert report.ok, report.errors


@pytest.mark.parametrize(
    ("step", "problem"),
    [
        (agent_step(agent=None), Problem("is required", step="a", field="agent")),
        (
            agent_step(provider="llm"),
            Problem("an agent step takes its provider from its agent", step="a", field="provider"),
        ),
        (
            Step(key="a", handler="prompt", prompt="p", handoffs=(Handoff(DEFAULT, COMPLETE),)),
            Problem("'provider' is required for a prompt step", step="a", field="provider"),
        ),
        (
            Step(
                key="a", handler="prompt", prompt="p", provider="llm", agent="triager",
                handoffs=(Handoff(DEFAULT, COMPLETE),),
            ),
            Problem("only agent steps name an agent", step="a", field="agent"),
        ),
    ],
)
def test_handler_fields_are_checked(step: Step, problem: Problem) -> None:
    assert validate(Definition(steps=(step,))).errors == (problem,)


def test_a_named_condition_on_an_agent_step_is_warned_about() -> None:
    step = agent_step(handoffs=(Handoff("approve", COMPLETE), Handoff(DEFAULT, COMPLETE)))
    [warning] = validate(Definition(steps=(step,))).warnings
    assert warning.step == "a"
    assert "routes on its output" in warning.message
    assert "no output_schema" in warning.message


# -- recorded calls ---------------------------------------------------------------------


def test_calls_are_recorded_on_the_live_attempt_and_replayed() -> None:
    definition = Definition(steps=(agent_step(),))
    item = WorkItem.receive(uuid4(), uuid4(), uuid4(), 1, definition, {}, AT)
    run = item.start_step("w", timedelta(minutes=1), AT)
    calls = [
        {"kind": "model", "turn": 1, "model": "m", "tokens": None, "error": None,
         "duration_ms": 3},
        {"kind": "tool", "turn": 1, "tool": "t", "arguments": {}, "result": 1, "error": None,
         "duration_ms": 1},
    ]
    item.record_calls(run.attempt, calls, LATER)
    item.record_calls(run.attempt, [], LATER)  # nothing to record: no event
    item.succeed_step(run.attempt, definition, LATER, output="done")
    events = list(item.collect_events())
    assert WorkItem.CallsRecorded in [type(e) for e in events]
    assert [type(e) for e in events].count(WorkItem.CallsRecorded) == 1
    assert replayed(events).runs[0].calls == calls
