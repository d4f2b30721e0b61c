"""A workflow whose provider is ``kind: openai``, end to end through the embedding API,
against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import auxot
from auxot.application.records import WorkRecord
from tests.fakes.openai_server import FakeOpenAI, error, reply


def workflow(base_url: str, retry: str = "") -> str:
    """One step on a local OpenAI-compatible server; ``retry`` is the step's policy."""
    policy = f"\n        retry: {retry}" if retry else ""
    return f"""\
teams:
  - name: support
providers:
  - name: local-llm
    kind: openai
    max_parallel: 2
    settings:
      base_url: {base_url}
      model: test-model
      api_key_env: LLM_API_KEY
      timeout: 5
      system: You triage support tickets.
workflows:
  - name: Triage
    team: support
    steps:
      - key: classify
        prompt: "Classify this ticket: {{{{ input.subject }}}}"
        provider: local-llm{policy}
        handoffs:
          - {{condition: default, to: complete}}
intakes:
  - name: triage
    workflow: Triage
    team: support
"""


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def run(server: FakeOpenAI, subject: str, retry: str = "") -> WorkRecord:
    with auxot.connect(
        "memory://", poll_interval=0.05, secrets={"LLM_API_KEY": "sk-test"}
    ) as ax:
        applied = ax.apply(workflow(server.base_url, retry))
        intake = next(a.id for a in applied if a.kind == "intake")
        work_id = ax.submit(intake, {"subject": subject})
        return ax.wait(work_id, timeout=20)


def test_a_step_on_an_openai_provider_records_output_model_and_tokens(
    server: FakeOpenAI,
) -> None:
    server.script(reply("category: login", model="served-model-v2", usage=(21, 4)))
    record = run(server, "Login broken")
    assert record.status == "completed"
    assert record.error is None
    assert record.output == "category: login"
    [step] = record.steps
    assert (step.key, step.status, step.output) == ("classify", "succeeded", "category: login")
    assert step.model == "served-model-v2"
    assert step.tokens == {"prompt": 21, "completion": 4, "total": 25}
    [sent] = server.requests
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.json["model"] == "test-model"
    assert sent.json["messages"] == [
        {"role": "system", "content": "You triage support tickets."},
        {"role": "user", "content": "Classify this ticket: Login broken"},
    ]


def test_a_server_error_fails_the_item_naming_the_status(server: FakeOpenAI) -> None:
    server.script(error(500, "model crashed"))
    record = run(server, "Login broken")
    assert record.status == "failed"
    [step] = record.steps
    assert step.status == "failed"
    assert step.error is not None
    assert "HTTP 500" in step.error
    assert "model crashed" in step.error
    assert record.error is not None
    assert "HTTP 500" in record.error
    assert step.error in record.error
    assert step.tokens is None
    assert len(server.requests) == 1  # no retry policy: a retryable failure ends it


SCHEMA_STEP = """\
        output_schema:
          type: object
          properties:
            severity: {{type: string, enum: [low, high]}}
          required: [severity]
        repair: true
        handoffs:
          - match: {{severity: high}}
            to: complete
          - {{condition: default, to: complete}}
"""


def test_a_step_with_an_output_schema_asks_for_json_and_is_repaired(server: FakeOpenAI) -> None:
    """The engine, the openai adapter and a real HTTP exchange: JSON is asked for with
    ``response_format``, a reply that fails the schema is repaired by a second request."""
    text = workflow(server.base_url).replace(
        "        handoffs:\n          - {condition: default, to: complete}\n",
        SCHEMA_STEP.format(),  # unescapes the doubled braces
    )
    server.script(reply('{"severity": "urgent"}', usage=(10, 3)), reply('{"severity": "high"}'))
    with auxot.connect(
        "memory://", poll_interval=0.05, secrets={"LLM_API_KEY": "sk-test"}
    ) as ax:
        applied = ax.apply(text)
        intake = next(a.id for a in applied if a.kind == "intake")
        record = ax.wait(ax.submit(intake, {"subject": "Site down"}), timeout=20)
    assert record.status == "completed", record.error
    assert record.output == {"severity": "high"}
    first, second = server.requests
    assert first.json["response_format"] == second.json["response_format"] == {
        "type": "json_object"
    }
    assert "Reply with only a JSON value" in first.json["messages"][1]["content"]
    repair = second.json["messages"][1]["content"]
    assert "$.severity: 'urgent' is not one of ['low', 'high']" in repair


def test_a_retry_policy_runs_a_step_again_after_a_server_error(server: FakeOpenAI) -> None:
    server.script(error(503, "overloaded"), reply("category: login"))
    record = run(server, "Login broken", retry="{attempts: 3, backoff: 200ms}")
    assert record.status == "completed", record
    assert record.output == "category: login"
    first, second = record.steps
    assert (first.attempt, first.status) == (1, "failed")
    assert first.error is not None
    assert "HTTP 503" in first.error
    assert "overloaded" in first.error
    assert (second.attempt, second.status, second.output) == (2, "succeeded", "category: login")
    assert first.finished_at is not None
    assert (second.started_at - first.finished_at).total_seconds() >= 0.2  # the backoff
    assert len(server.requests) == 2


def test_a_retry_policy_does_not_retry_a_client_error(server: FakeOpenAI) -> None:
    server.script(error(400, "bad request"), reply("never sent"))
    record = run(server, "Login broken", retry="{attempts: 3, backoff: 10ms}")
    assert record.status == "failed"
    assert [s.status for s in record.steps] == ["failed"]
    assert len(server.requests) == 1
