"""An agent step end to end through the embedding API: a workflow file with an openai
provider (a real local OpenAI-compatible server), an HTTP tool (a real local server) and
a Python tool; the record shows every model call and tool call."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import auxot
from auxot.application.records import WorkRecord
from tests.fakes.openai_server import FakeOpenAI, reply, tool_call
from tests.fakes.tool_server import ToolServer


def workflow(base_url: str, tool_url: str, max_turns: int = 4) -> str:
    return f"""\
teams:
  - name: support
providers:
  - name: local-llm
    kind: openai
    settings: {{base_url: "{base_url}", model: provider-model, timeout: 5}}
tools:
  - name: lookup_customer
    kind: http
    description: Look a customer up by email.
    url: "{tool_url}"
    timeout: 5
    parameters:
      type: object
      properties:
        email: {{type: string}}
      required: [email]
agents:
  - name: triager
    team: support
    instructions: You triage support tickets.
    provider: local-llm
    model: agent-model
    tools: [lookup_customer, priority_of]
    max_turns: {max_turns}
workflows:
  - name: Triage
    team: support
    steps:
      - key: triage
        handler: agent
        agent: triager
        prompt: "Triage: {{{{ input.subject }}}} from {{{{ input.email }}}}"
        handoffs:
          - {{condition: default, to: complete}}
intakes:
  - name: triage
    workflow: Triage
    team: support
"""


def priority_of(plan: str) -> str:
    """The priority a customer's plan gets."""
    return "high" if plan == "enterprise" else "normal"


@pytest.fixture
def llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def tool_server() -> Iterator[ToolServer]:
    with ToolServer(json_reply={"name": "Ada", "plan": "enterprise"}) as server:
        yield server


def run(
    llm: FakeOpenAI,
    tool_server: ToolServer,
    database_url: str = "memory://",
    allow: tuple[str, ...] = ("127.0.0.1",),
    **input: Any,
) -> WorkRecord:
    with auxot.connect(
        database_url,
        poll_interval=0.05,
        url_allow_list=allow,
        tools={"priority_of": priority_of},
    ) as ax:
        applied = ax.apply(workflow(llm.base_url, tool_server.url))
        intake = next(a.id for a in applied if a.kind == "intake")
        return ax.wait(ax.submit(intake, input), timeout=20)


def test_an_agent_step_calls_an_http_tool_and_a_python_tool_then_answers(
    llm: FakeOpenAI, tool_server: ToolServer, database_url: str
) -> None:
    """On each backend: the agent, tool and recorded calls survive the event store."""
    llm.script(
        tool_call("lookup_customer", {"email": "ada@example.com"}, usage=(10, 5)),
        tool_call("priority_of", {"plan": "enterprise"}, usage=(20, 5)),
        reply("priority: high", model="served-model", usage=(30, 3)),
    )
    record = run(
        llm, tool_server, database_url, subject="Login broken", email="ada@example.com"
    )

    assert record.status == "completed", record.error
    assert record.output == "priority: high"
    [step] = record.steps
    assert step.model == "served-model"
    assert step.tokens == {"prompt": 60, "completion": 13, "total": 73}
    assert [(c["kind"], c["turn"], c.get("tool")) for c in step.calls] == [
        ("model", 1, None),
        ("tool", 1, "lookup_customer"),
        ("model", 2, None),
        ("tool", 2, "priority_of"),
        ("model", 3, None),
    ]
    lookup, priority = step.calls[1], step.calls[3]
    assert lookup["arguments"] == {"email": "ada@example.com"}
    assert lookup["result"] == {"name": "Ada", "plan": "enterprise"}
    assert lookup["error"] is None
    assert priority["result"] == "high"
    assert step.calls[0]["tokens"] == {"prompt": 10, "completion": 5, "total": 15}
    assert all(isinstance(c["duration_ms"], int) for c in step.calls)

    # The HTTP tool got the model's arguments as JSON.
    [posted] = tool_server.requests
    assert posted.method == "POST"
    assert json.loads(posted.body) == {"email": "ada@example.com"}

    # The conversation sent: instructions, task, then each answer and tool result.
    first, second, third = llm.requests
    assert first.json["model"] == "agent-model"
    assert first.json["messages"] == [
        {"role": "system", "content": "You triage support tickets."},
        {"role": "user", "content": "Triage: Login broken from ada@example.com"},
    ]
    assert sorted(t["function"]["name"] for t in first.json["tools"]) == [
        "lookup_customer",
        "priority_of",
    ]
    lookup_spec = next(
        t for t in first.json["tools"] if t["function"]["name"] == "lookup_customer"
    )
    assert lookup_spec == {
        "type": "function",
        "function": {
            "name": "lookup_customer",
            "description": "Look a customer up by email.",
            "parameters": {
                "type": "object",
                "properties": {"email": {"type": "string"}},
                "required": ["email"],
            },
        },
    }
    assert second.json["messages"][2]["tool_calls"][0]["function"] == {
        "name": "lookup_customer",
        "arguments": json.dumps({"email": "ada@example.com"}),
    }
    assert second.json["messages"][3] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": json.dumps({"name": "Ada", "plan": "enterprise"}),
    }
    assert third.json["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "high",
    }


def test_an_agent_that_never_stops_calling_tools_fails_at_its_turn_limit(
    llm: FakeOpenAI, tool_server: ToolServer
) -> None:
    llm.script(*(tool_call("priority_of", {"plan": "free"}) for _ in range(4)))
    record = run(llm, tool_server, subject="Loop", email="x@example.com")
    assert record.status == "failed"
    assert record.error == "step 'triage' failed: agent 'triager' did not finish within 4 turns"
    [step] = record.steps
    assert [c["kind"] for c in step.calls] == ["model", "tool"] * 4
    assert len(llm.requests) == 4


def test_without_an_allowance_the_http_tool_is_refused_and_the_model_told(
    llm: FakeOpenAI, tool_server: ToolServer
) -> None:
    llm.script(tool_call("lookup_customer", {"email": "ada@example.com"}), reply("no data"))
    record = run(llm, tool_server, allow=(), subject="Login", email="ada@example.com")
    assert record.status == "completed"
    lookup = record.steps[0].calls[1]
    assert lookup["tool"] == "lookup_customer"
    assert lookup["error"].startswith("refused: 127.0.0.1 resolves to 127.0.0.1, a loopback")
    assert tool_server.requests == []  # refused before connecting
    told = json.loads(llm.requests[1].json["messages"][-1]["content"])
    assert told == {"error": lookup["error"]}
