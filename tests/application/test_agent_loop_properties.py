"""The agent loop as a property, offline: any scripted sequence of model turns (tool calls
to good, failing and unknown tools, bad arguments, final answers) on the scripted
provider ends as the turn limit and the first final answer say, with every model call
and tool call recorded."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auxot.adapters.providers.scripted import ScriptedProvider
from auxot.application.agent_loop import AgentLoop
from auxot.application.ports import Tool
from auxot.application.tools import PythonTool
from auxot.domain.agent import Agent

TASK = "Triage: login broken"


def echo(x: int) -> int:
    return x


def boom(x: int) -> int:
    raise RuntimeError(f"boom {x}")


TOOLS: dict[str, Tool] = {"echo": PythonTool("echo", echo), "boom": PythonTool("boom", boom)}

calls = st.fixed_dictionaries(
    {
        "tool": st.sampled_from(["echo", "boom", "ghost"]),
        "arguments": st.one_of(
            st.fixed_dictionaries({"x": st.integers(0, 99)}), st.just("{bad"), st.just({})
        ),
    }
)
turns = st.one_of(
    st.fixed_dictionaries({"reply": st.text(max_size=10)}),
    st.fixed_dictionaries({"calls": st.lists(calls, min_size=1, max_size=3)}),
)


def expected_tool_outcome(call: dict[str, Any]) -> tuple[bool, Any]:
    """(failed, result) for one scripted call."""
    arguments = call["arguments"]
    if call["tool"] == "ghost" or not isinstance(arguments, dict) or "x" not in arguments:
        return True, None
    if call["tool"] == "boom":
        return True, None
    return False, arguments["x"]


@settings(max_examples=150, deadline=None)
@given(script=st.lists(turns, max_size=6), max_turns=st.integers(1, 5))
def test_the_loop_ends_as_the_script_and_turn_limit_say_and_records_every_call(
    script: list[dict[str, Any]], max_turns: int
) -> None:
    provider = ScriptedProvider("offline", {"turns": {"triage": script}})
    agent = Agent.register(
        uuid.uuid4(), "triager", uuid.uuid4(), instructions="Triage.", provider="offline",
        tools=("echo", "boom"), max_turns=max_turns, at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    result = AgentLoop(
        agent=agent, chat=provider.chat, tools=TOOLS, provider_timeout=5.0,
        monotonic=lambda: 0.0, work_id=uuid.uuid4(), step="triage", attempt=1,
    ).run(TASK)

    # The first final answer: a scripted reply, or the task once the script runs out.
    final = next((n for n, t in enumerate(script) if "reply" in t), len(script))
    taken = script[: min(final + 1, max_turns)]
    if final < max_turns:
        answer = script[final]["reply"] if final < len(script) else TASK
        assert (result.output, result.error) == (answer, None)
    else:
        assert result.output is None
        assert result.error == f"agent 'triager' did not finish within {max_turns} turns"

    expected: list[tuple[str, int, bool, Any]] = []
    for turn, entry in enumerate(taken, start=1):
        expected.append(("model", turn, False, None))
        for call in entry.get("calls", []):
            failed, value = expected_tool_outcome(call)
            expected.append(("tool", turn, failed, value))
    if final == len(script) and final < max_turns:
        expected.append(("model", final + 1, False, None))  # the unscripted final turn
    recorded = [
        (c["kind"], c["turn"], c["error"] is not None, c.get("result")) for c in result.calls
    ]
    assert recorded == expected
    assert sum(c["kind"] == "model" for c in result.calls) <= max_turns


def test_malformed_scripted_turns_are_refused_when_the_provider_is_built() -> None:
    malformed: tuple[Any, ...] = (
        ["not a mapping"],
        {"triage": [{"reply": "a", "calls": []}]},
        {"triage": [{"calls": []}]},
        {"triage": [{"calls": [{"arguments": {}}]}]},
    )
    for turns_setting in malformed:
        with pytest.raises(ValueError, match="scripted provider"):
            ScriptedProvider("offline", {"turns": turns_setting})
