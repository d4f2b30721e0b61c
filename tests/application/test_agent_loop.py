"""The agent loop against a real local OpenAI-compatible server (tests/fakes), and agent
steps in the engine on the in-memory store."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from auxot.adapters.clock import ManualClock
from auxot.adapters.providers.openai import OpenAIProvider, openai_factory
from auxot.application.agent_loop import MAX_RECORDED_CHARS, AgentLoop, AgentResult
from auxot.application.declarations import (
    AgentDecl,
    Declaration,
    HandoffDecl,
    IntakeDecl,
    ProviderDecl,
    StepDecl,
    TeamDecl,
    WorkflowDecl,
)
from auxot.application.engine import Engine
from auxot.application.ports import Tool, ToolError
from auxot.application.projection import WorkProjection
from auxot.application.records import decode_record
from auxot.application.refs import parse_ref
from auxot.application.tools import PythonTool, Toolbox
from auxot.domain.agent import Agent
from tests.application.builders import ids_of, memory_service
from tests.fakes.openai_server import FakeOpenAI, error, reply, tool_call, tool_calls
from tests.support import wait_until

AT = datetime(2026, 1, 1, tzinfo=UTC)


class Ticks:
    """A monotonic source that moves only when a test (or a tool) moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def make_agent(max_turns: int = 4, tools: tuple[str, ...] = ("priority_of",)) -> Agent:
    return Agent.register(
        uuid.uuid4(), "triager", uuid.uuid4(),
        instructions="You triage tickets.", provider="llm", tools=tools,
        max_turns=max_turns, at=AT,
    )


def run_loop(
    llm: FakeOpenAI,
    tools: dict[str, Tool],
    *,
    agent: Agent | None = None,
    ticks: Ticks | None = None,
    timeout: float = 5.0,
) -> AgentResult:
    provider = OpenAIProvider(
        "llm", {"base_url": llm.base_url, "model": "m", "timeout": timeout}, {}
    )
    try:
        loop = AgentLoop(
            agent=agent or make_agent(tools=tuple(tools)),
            chat=provider.chat,
            tools=tools,
            provider_timeout=timeout,
            monotonic=ticks or Ticks(),
            work_id=uuid.uuid4(),
            step="triage",
            attempt=1,
        )
        return loop.run("Triage: login broken")
    finally:
        provider.close()


def python_tools(ticks: Ticks | None = None) -> dict[str, Tool]:
    def priority_of(plan: str) -> str:
        """The priority a plan gets."""
        if ticks is not None:
            ticks.now += 1.5  # the tool takes 1.5 s, as the injected source tells
        if plan == "unknown":
            raise ValueError("no such plan")
        return "high" if plan == "enterprise" else "normal"

    return {"priority_of": PythonTool("priority_of", priority_of)}


def tool_messages(llm: FakeOpenAI, request: int) -> list[dict[str, Any]]:
    return [m for m in llm.requests[request].json["messages"] if m["role"] == "tool"]


def test_a_tool_call_runs_the_python_tool_and_the_final_answer_is_the_output(
    llm: FakeOpenAI,
) -> None:
    ticks = Ticks()
    llm.script(
        tool_call("priority_of", {"plan": "enterprise"}, usage=(10, 2)),
        reply("priority: high", usage=(15, 3)),
    )
    result = run_loop(llm, python_tools(ticks), ticks=ticks)
    assert (result.output, result.error) == ("priority: high", None)
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (25, 5)
    assert result.calls == (
        {"kind": "model", "turn": 1, "model": "fake-model",
         "tokens": {"prompt": 10, "completion": 2, "total": 12}, "error": None,
         "duration_ms": 0},
        {"kind": "tool", "turn": 1, "tool": "priority_of", "call_id": "call_1",
         "arguments": {"plan": "enterprise"}, "result": "high", "error": None,
         "duration_ms": 1500},
        {"kind": "model", "turn": 2, "model": "fake-model",
         "tokens": {"prompt": 15, "completion": 3, "total": 18}, "error": None,
         "duration_ms": 0},
    )
    first = llm.requests[0].json
    assert first["messages"] == [
        {"role": "system", "content": "You triage tickets."},
        {"role": "user", "content": "Triage: login broken"},
    ]
    assert first["tools"][0]["function"]["parameters"] == {
        "type": "object",
        "properties": {"plan": {"type": "string"}},
        "required": ["plan"],
    }
    assert first["tools"][0]["function"]["description"] == "The priority a plan gets."
    assert tool_messages(llm, 1) == [{"role": "tool", "content": "high", "tool_call_id": "call_1"}]


def test_an_unknown_tool_is_told_to_the_model_which_can_recover(llm: FakeOpenAI) -> None:
    llm.script(tool_call("ghost", {}), reply("done without it"))
    result = run_loop(llm, python_tools())
    assert result.output == "done without it"
    error_text = "unknown tool 'ghost' (available: priority_of)"
    assert result.calls[1]["error"] == error_text
    assert result.calls[1]["result"] is None
    assert json.loads(tool_messages(llm, 1)[0]["content"]) == {"error": error_text}


def test_a_tool_that_raises_gives_its_error_to_the_model(llm: FakeOpenAI) -> None:
    llm.script(tool_call("priority_of", {"plan": "unknown"}), reply("could not tell"))
    result = run_loop(llm, python_tools())
    assert result.output == "could not tell"
    assert result.calls[1]["error"] == "ValueError: no such plan"
    assert json.loads(tool_messages(llm, 1)[0]["content"]) == {
        "error": "ValueError: no such plan"
    }


def test_a_tool_error_is_given_without_its_type(llm: FakeOpenAI) -> None:
    def refuse() -> None:
        raise ToolError("HTTP 404: no such customer")

    llm.script(tool_call("refuse", {}), reply("ok"))
    result = run_loop(llm, {"refuse": PythonTool("refuse", refuse)})
    assert result.calls[1]["error"] == "HTTP 404: no such customer"


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [("{not json", "the arguments are not valid JSON"), ("[1, 2]", "must be a JSON object")],
)
def test_arguments_that_are_not_a_json_object_are_told_to_the_model(
    llm: FakeOpenAI, arguments: str, problem: str
) -> None:
    llm.script(tool_call("priority_of", arguments), reply("ok"))
    result = run_loop(llm, python_tools())
    assert result.output == "ok"
    assert problem in result.calls[1]["error"]
    assert result.calls[1]["arguments"] == arguments  # recorded verbatim
    assert problem in json.loads(tool_messages(llm, 1)[0]["content"])["error"]


def test_arguments_that_do_not_match_the_schema_are_told_to_the_model_not_the_tool(
    llm: FakeOpenAI,
) -> None:
    llm.script(tool_call("priority_of", {"plan": 3}), reply("ok"))
    result = run_loop(llm, python_tools())
    assert result.output == "ok"
    assert result.calls[1]["error"] == (
        "the arguments do not match the tool's parameters: plan: 3 is not of type 'string'"
    )
    assert result.calls[1]["arguments"] == {"plan": 3}


def test_several_tool_calls_in_one_turn_are_all_answered_in_order(llm: FakeOpenAI) -> None:
    llm.script(
        tool_calls(("priority_of", {"plan": "enterprise"}), ("priority_of", {"plan": "free"})),
        reply("mixed"),
    )
    result = run_loop(llm, python_tools())
    assert result.output == "mixed"
    assert tool_messages(llm, 1) == [
        {"role": "tool", "content": "high", "tool_call_id": "call_1"},
        {"role": "tool", "content": "normal", "tool_call_id": "call_2"},
    ]


def test_the_turn_limit_fails_a_runaway_loop_with_a_clear_reason(llm: FakeOpenAI) -> None:
    llm.script(*(tool_call("priority_of", {"plan": "free"}) for _ in range(3)))
    result = run_loop(llm, python_tools(), agent=make_agent(max_turns=2))
    assert result.output is None
    assert result.error == "agent 'triager' did not finish within 2 turns"
    assert not result.retryable
    assert len(llm.requests) == 2
    assert [c["kind"] for c in result.calls] == ["model", "tool", "model", "tool"]


def test_a_provider_error_mid_loop_ends_the_step_with_the_calls_so_far(llm: FakeOpenAI) -> None:
    llm.script(tool_call("priority_of", {"plan": "free"}), error(503, "overloaded"))
    result = run_loop(llm, python_tools())
    assert result.output is None
    assert result.error is not None
    assert "HTTP 503" in result.error
    assert result.retryable
    assert [(c["kind"], c["error"] is None) for c in result.calls] == [
        ("model", True), ("tool", True), ("model", False),
    ]


def test_a_step_out_of_its_time_budget_stops_before_the_next_call(llm: FakeOpenAI) -> None:
    """Budget: 2 turns x (5 s provider + 10 s Python tool) = 30 s. A tool that takes
    27 s leaves less than a model call's timeout: no further call is made."""
    ticks = Ticks()

    def slow() -> str:
        ticks.now += 27
        return "late"

    llm.script(tool_call("slow", {}), reply("never asked"))
    tools: dict[str, Tool] = {"slow": PythonTool("slow", slow)}
    result = run_loop(llm, tools, agent=make_agent(max_turns=2, tools=("slow",)), ticks=ticks)
    assert result.error == "agent 'triager' ran out of its time budget (30s)"
    assert result.retryable
    assert len(llm.requests) == 1


def test_results_are_recorded_as_plain_data_and_clipped_when_large(llm: FakeOpenAI) -> None:
    def dated() -> Any:
        return {"when": AT, "pair": (1, 2)}

    def big() -> str:
        return "x" * (MAX_RECORDED_CHARS + 10)

    llm.script(tool_calls(("dated", {}), ("big", {})), reply("ok"))
    result = run_loop(llm, {"dated": PythonTool("dated", dated), "big": PythonTool("big", big)})
    assert result.calls[1]["result"] == {"when": str(AT), "pair": [1, 2]}
    assert len(result.calls[2]["result"]) == MAX_RECORDED_CHARS
    assert len(tool_messages(llm, 1)[1]["content"]) == MAX_RECORDED_CHARS + 10  # model: whole


# -- agent steps in the engine (in-memory store) ----------------------------------------


def agent_declaration(provider: ProviderDecl, max_turns: int = 3) -> Declaration:
    return Declaration(
        teams=(TeamDecl("support"),),
        providers=(provider,),
        agents=(
            AgentDecl(
                name="triager", team="support", instructions="Triage.",
                provider=provider.name, tools=("priority_of",), max_turns=max_turns,
            ),
        ),
        workflows=(
            WorkflowDecl(
                name="triage",
                team="support",
                steps=(
                    StepDecl(
                        key="triage", handler="agent", agent="triager",
                        prompt="Triage {{ input.subject }}",
                        handoffs=(HandoffDecl("default", "complete"),),
                    ),
                ),
            ),
        ),
        intakes=(IntakeDecl("triage", "triage", "support"),),
    )


def run_in_engine(
    declaration: Declaration, payload: dict[str, Any], *, worker_has_tools: bool = True
) -> tuple[Any, Any]:
    clock = ManualClock()
    service = memory_service(clock, providers={"openai": openai_factory({})})
    service.toolbox.register("priority_of", lambda plan: "high")
    engine = Engine(
        service.work, service.view, service.directory, service.providers, clock,
        slots=service.slots, worker_id="worker-a", lease_grace=timedelta(seconds=1),
        toolbox=service.toolbox if worker_has_tools else Toolbox({}),
    )
    projection = WorkProjection(service.work, service.view)
    try:
        intake = parse_ref("intake", ids_of(service.apply(declaration), "intake")["triage"])
        assert intake is not None
        work_id, committed = service.submit(None, intake, payload)
        committed.result(10)
        projection.catch_up_fully()
        assert engine.dispatch() == 1
        wait_until(lambda: engine.idle, what="the agent step to finish")
        projection.catch_up_fully()
        row = service.view.get(work_id)
        assert row is not None
        return decode_record(row.record), service.work.item(work_id)
    finally:
        engine.close()
        service.close()


def test_an_agent_step_on_a_scripted_provider_finishes_in_one_turn() -> None:
    provider = ProviderDecl("offline", "scripted", settings={"model": "script-1", "timeout": 7})
    record, item = run_in_engine(agent_declaration(provider), {"subject": "Login"})
    assert record.status == "completed"
    assert record.output == "Triage Login"
    [step] = record.steps
    assert [c["kind"] for c in step.calls] == ["model"]
    assert step.calls[0]["model"] == "script-1"
    # The lease covers the whole loop: 3 turns x (7 s + 10 s for a Python tool) + 1 s.
    run = item.runs[0]
    assert run.lease_until - run.started_at == timedelta(seconds=3 * (7 + 10) + 1)


def test_an_agent_step_on_a_real_server_records_its_calls_with_the_outcome(
    llm: FakeOpenAI,
) -> None:
    llm.script(tool_call("priority_of", {"plan": "x"}), reply("high"))
    provider = ProviderDecl("llm", "openai", settings={"base_url": llm.base_url, "model": "m"})
    record, item = run_in_engine(agent_declaration(provider), {"subject": "Login"})
    assert record.status == "completed"
    assert [(c["kind"], c.get("result")) for c in record.steps[0].calls] == [
        ("model", None), ("tool", "high"), ("model", None),
    ]
    assert item.runs[0].calls == record.steps[0].calls


def test_an_agent_step_that_fails_records_its_calls_too(llm: FakeOpenAI) -> None:
    llm.script(*(tool_call("priority_of", {"plan": "x"}) for _ in range(2)))
    provider = ProviderDecl("llm", "openai", settings={"base_url": llm.base_url, "model": "m"})
    record, _ = run_in_engine(agent_declaration(provider, max_turns=2), {"subject": "Login"})
    assert record.status == "failed"
    assert record.error == "step 'triage' failed: agent 'triager' did not finish within 2 turns"
    assert len(record.steps[0].calls) == 4


def test_a_worker_without_one_of_the_agents_tools_fails_the_step_without_a_call(
    llm: FakeOpenAI,
) -> None:
    provider = ProviderDecl("llm", "openai", settings={"base_url": llm.base_url, "model": "m"})
    record, _ = run_in_engine(
        agent_declaration(provider), {"subject": "Login"}, worker_has_tools=False
    )
    assert record.status == "failed"
    assert record.error == (
        "step 'triage' failed: agent 'triager' cannot run: "
        "tool 'priority_of' is not registered in this process"
    )
    assert llm.requests == []


class PromptOnly:
    """A provider kind that runs prompts but cannot chat with tools."""

    def __init__(self, name: str, settings: Any) -> None:
        self.name = name

    def complete(self, request: Any) -> Any:
        raise AssertionError("not called")

    def close(self) -> None:
        """Holds nothing."""


def test_an_agent_on_a_provider_that_cannot_chat_is_refused_when_applied() -> None:
    from auxot.application.declarations import DeclarationError, Issue

    service = memory_service(providers={"plain": PromptOnly})
    service.toolbox.register("priority_of", lambda plan: "high")
    try:
        with pytest.raises(DeclarationError) as raised:
            service.apply(agent_declaration(ProviderDecl("basic", "plain")))
        assert raised.value.issues == [
            Issue(
                "agents[0].provider",
                "provider 'basic' (kind plain) cannot run agents (function calling)",
            )
        ]
    finally:
        service.close()
