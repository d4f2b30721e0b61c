"""The ``tools`` and ``agents`` sections of the workflow file, and agent steps: applied
idempotently, and refused with line and field when wrong."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import auxot
from auxot.entrypoints.embedded import Auxot
from auxot.entrypoints.workflow_file import WorkflowFileError

FILE = """\
teams:
  - name: support
providers:
  - name: offline
    kind: scripted
tools:
  - name: lookup_customer
    kind: http
    description: Look a customer up.
    url: https://tools.example.com/lookup
    timeout: 5
    parameters:
      type: object
      properties:
        email: {type: string}
agents:
  - name: triager
    team: support
    instructions: You triage tickets.
    provider: offline
    tools: [lookup_customer, priority_of]
workflows:
  - name: Triage
    team: support
    steps:
      - key: triage
        handler: agent
        agent: triager
        prompt: "Triage {{ input.subject }}"
        handoffs:
          - {condition: default, to: complete}
intakes:
  - name: triage
    workflow: Triage
    team: support
"""


def priority_of(plan: str) -> str:
    return plan


@pytest.fixture
def ax() -> Iterator[Auxot]:
    with auxot.connect("memory://", start=False, tools={"priority_of": priority_of}) as ax:
        yield ax


def outcomes(ax: Auxot, text: str) -> list[tuple[str, str, str]]:
    return [(a.kind, a.name, a.outcome) for a in ax.apply(text)]


def test_tools_and_agents_are_created_then_unchanged_then_updated(ax: Auxot) -> None:
    assert outcomes(ax, FILE) == [
        ("team", "support", "created"),
        ("provider", "offline", "created"),
        ("tool", "lookup_customer", "created"),
        ("agent", "triager", "created"),
        ("workflow", "Triage", "created"),
        ("intake", "triage", "created"),
    ]
    assert {o for _, _, o in outcomes(ax, FILE)} == {"unchanged"}
    changed = FILE.replace("You triage tickets.", "You triage tickets politely.").replace(
        "timeout: 5", "timeout: 7"
    )
    assert [(k, o) for k, _, o in outcomes(ax, changed) if o != "unchanged"] == [
        ("tool", "updated"),
        ("agent", "updated"),
    ]


def test_an_agent_step_runs_through_the_embedding_api(ax: Auxot) -> None:
    ax.service.start()
    applied = ax.apply(FILE.replace("    tools: [lookup_customer, priority_of]\n", ""))
    intake = next(a.id for a in applied if a.kind == "intake")
    record = ax.wait(ax.submit(intake, {"subject": "Login"}), timeout=20)
    assert record.status == "completed"
    assert record.output == "Triage Login"
    assert [c["kind"] for c in record.steps[0].calls] == ["model"]


def refusal(ax: Auxot, text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(WorkflowFileError) as raised:
        ax.apply(text, source="agents.yaml")
    assert ax.service.registry.recorder.max_notification_id() in (None, 0)  # nothing saved
    return raised.value.issues


@pytest.mark.parametrize(
    ("old", "new", "line", "path", "message"),
    [
        (
            "    provider: offline\n    tools",
            "    provider: ghost\n    tools",
            20,
            "agents[0].provider",
            "unknown provider 'ghost'",
        ),
        (
            "tools: [lookup_customer, priority_of]",
            "tools: [lookup_customer, ghost_tool]",
            21,
            "agents[0].tools[1]",
            "unknown tool 'ghost_tool'",
        ),
        ("agent: triager", "agent: ghost", 28, "workflows[0].steps[0].agent",
         "unknown agent 'ghost' of team 'support'"),
        (
            "      type: object\n      properties",
            "      type: objekt\n      properties",
            13,
            "tools[0].parameters",
            "not a valid JSON Schema",
        ),
        (
            "      type: object\n      properties",
            "      type: string\n      properties",
            13,
            "tools[0].parameters",
            "must be a JSON Schema with 'type: object'",
        ),
        ("name: lookup_customer\n", "name: priority_of\n", 7, "tools[0].name",
         "'priority_of' is a Python tool registered in this process"),
        ("url: https://tools.example.com/lookup", "url: ftp://tools.example.com/", 7,
         "tools[0]", "url must be an http:// or https:// URL"),
        ("    tools: [lookup_customer, priority_of]\n",
         "    tools: [lookup_customer, priority_of]\n    max_turns: 0\n", 22,
         "agents[0].max_turns", "must be from 1 to 100"),
        ("        agent: triager\n", "        agent: triager\n        provider: offline\n", 29,
         "workflows[0].steps[0].provider", "an agent step takes its provider from its agent"),
        ("        agent: triager\n", "", 26, "workflows[0].steps[0].agent", "is required"),
        ("    instructions: You triage tickets.\n",
         "    instructions: You triage tickets.\n    temperature: 0.3\n", 20,
         "agents[0].temperature", "unknown field"),
        ("    timeout: 5\n", "    timeout: soon\n", 11, "tools[0].timeout",
         "must be a number, not a string"),
    ],
)
def test_mistakes_are_refused_with_line_and_field(
    ax: Auxot, old: str, new: str, line: int, path: str, message: str
) -> None:
    assert old in FILE
    issues = refusal(ax, FILE.replace(old, new, 1))
    assert any(
        (at, where) == (line, path) and message in text for at, where, text in issues
    ), issues
