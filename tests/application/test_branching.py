"""Branching on output and output schemas, through the engine on the in-memory store with
the scripted provider: a step's JSON output picks the handoff, a schema violation fails
the step with its errors, a repair gets one more call, and an item no handoff matches
fails rather than waiting forever."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from auxot.adapters.clock import ManualClock
from auxot.adapters.providers.scripted import ScriptedProvider
from auxot.application.declarations import (
    DeclarationError,
    HandoffDecl,
    ProviderDecl,
    StepDecl,
    WorkflowDecl,
)
from auxot.application.ports import Completion, PromptRequest
from auxot.application.records import WorkRecord
from auxot.domain.actor import SYSTEM as OPERATOR
from auxot.domain.work_item import WorkItem
from tests.application.builders import declaration, ids_of, memory_service
from tests.application.test_engine import Harness

SEVERITY = {
    "type": "object",
    "properties": {
        "severity": {"type": "string", "enum": ["low", "high"]},
        "summary": {"type": "string"},
    },
    "required": ["severity"],
}


class RecordingScripted:
    """The scripted provider, keeping every request it was sent (for call counts and
    what a repair call was told)."""

    def __init__(self) -> None:
        self.requests: list[PromptRequest] = []
        self._lock = threading.Lock()

    def factory(self, name: str, settings: Mapping[str, Any]) -> RecordingScripted.Provider:
        return RecordingScripted.Provider(self, ScriptedProvider(name, settings))

    class Provider:
        def __init__(self, log: RecordingScripted, inner: ScriptedProvider) -> None:
            self._log, self._inner = log, inner

        def complete(self, request: PromptRequest) -> Completion:
            with self._log._lock:
                self._log.requests.append(request)
            return self._inner.complete(request)

        def close(self) -> None:
            self._inner.close()


@pytest.fixture
def recording() -> RecordingScripted:
    return RecordingScripted()


@pytest.fixture
def harness(clock: ManualClock, recording: RecordingScripted) -> Iterator[Harness]:
    h = Harness(memory_service(clock, providers={"recording": recording.factory}), clock)
    yield h
    h.close()


def classify_then_route(
    *handoffs: HandoffDecl,
    schema: dict[str, Any] | None = SEVERITY,
    repair: bool = False,
) -> WorkflowDecl:
    """``classify`` (with ``schema``) routing by ``handoffs`` to ``escalate`` or
    ``draft``, each of which completes."""
    return WorkflowDecl(
        name="triage",
        team="support",
        steps=(
            StepDecl(
                "classify",
                "{{ input.text }}",
                "offline",
                handoffs,
                output_schema=schema,
                repair=repair,
            ),
            StepDecl(
                "escalate",
                "Escalate {{ steps.classify.output.summary }}",
                "offline",
                (HandoffDecl("default", "complete"),),
            ),
            StepDecl(
                "draft",
                "Draft for {{ steps.classify.output.severity }}",
                "offline",
                (HandoffDecl("default", "complete"),),
            ),
        ),
    )


HIGH_TO_ESCALATE = HandoffDecl(None, "escalate", match={"severity": "high"})
DEFAULT_TO_DRAFT = HandoffDecl("default", "draft")


def run(
    harness: Harness,
    workflow: WorkflowDecl,
    replies: dict[str, Any],
    payload: dict[str, Any] | None = None,
) -> WorkRecord:
    provider = ProviderDecl("offline", "recording", settings={"replies": replies})
    applied = harness.service.apply(declaration(provider=provider, workflow=workflow), OPERATOR)
    work_id = harness.submit(ids_of(applied, "intake")["triage"], payload or {"text": "t"})
    return harness.run_to_the_end(work_id)


def routed(harness: Harness, record: WorkRecord) -> list[tuple[str, str, str]]:
    work_id = UUID(hex=record.work_id.removeprefix("work_"))
    return [
        (e.from_step, e.to_step, e.condition)
        for e in harness.service.work.events.get(work_id)
        if isinstance(e, WorkItem.Routed)
    ]


# -- branching --------------------------------------------------------------------------


def test_a_match_on_an_output_field_picks_the_branch(harness: Harness) -> None:
    workflow = classify_then_route(HIGH_TO_ESCALATE, DEFAULT_TO_DRAFT)
    # The classify reply is the first line of its prompt, i.e. the item's input text.
    reply = '{"severity": "{{ prompt.splitlines()[0] }}", "summary": "login"}'
    high = run(harness, workflow, {"classify": reply}, {"text": "high"})
    low = run(harness, workflow, {"classify": reply}, {"text": "low"})

    assert high.status == low.status == "completed"
    assert [s.key for s in high.steps] == ["classify", "escalate"]
    assert [s.key for s in low.steps] == ["classify", "draft"]
    # Under a schema the output is recorded as parsed JSON, which later prompts can use.
    assert high.steps[0].output == {"severity": "high", "summary": "login"}
    assert high.output == "Escalate login"
    assert low.output == "Draft for low"
    # Reaching ``complete`` is no route: only the step-to-step one is a Routed event.
    assert routed(harness, high) == [("classify", "escalate", "severity equals 'high'")]
    assert routed(harness, low) == [("classify", "draft", "default")]


def test_the_condition_field_of_the_output_is_the_reported_condition(harness: Harness) -> None:
    schema = {"type": "object", "properties": {"condition": {"enum": ["spam", "ham"]}}}
    workflow = classify_then_route(
        HandoffDecl("spam", "complete"),
        HandoffDecl("urgent", "escalate"),
        DEFAULT_TO_DRAFT,
        schema=schema,
    )
    spam = run(harness, workflow, {"classify": {"condition": "spam"}})
    ham = run(harness, workflow, {"classify": {"condition": "ham"}})
    assert (spam.status, [s.key for s in spam.steps]) == ("completed", ["classify"])
    assert spam.output == {"condition": "spam"}
    assert spam.steps[0].condition == "spam"
    assert [s.key for s in ham.steps] == ["classify", "draft"]
    assert ham.steps[0].condition == "ham"
    assert routed(harness, ham)[0] == ("classify", "draft", "default")


def test_without_a_schema_a_json_object_reply_is_routed_on_but_recorded_as_text(
    harness: Harness, recording: RecordingScripted
) -> None:
    workflow = classify_then_route(HIGH_TO_ESCALATE, DEFAULT_TO_DRAFT, schema=None)
    record = run(harness, workflow, {"classify": '{"severity": "high"}'})
    assert [s.key for s in record.steps] == ["classify", "escalate"]
    assert record.steps[0].output == '{"severity": "high"}'
    assert recording.requests[0].json_schema is None
    assert recording.requests[0].prompt == "t"  # no JSON instruction without a schema

    plain = run(harness, workflow, {"classify": "severity: high"})
    assert [s.key for s in plain.steps] == ["classify", "draft"]


def test_no_handoff_matched_fails_the_item_naming_step_and_condition(harness: Harness) -> None:
    schema = {"type": "object"}
    workflow = classify_then_route(HIGH_TO_ESCALATE, HandoffDecl("spam", "draft"), schema=schema)
    record = run(harness, workflow, {"classify": {"severity": "low", "condition": "ham"}})
    assert record.status == "failed"
    assert record.error == "no handoff matched at step 'classify' (condition: ham)"
    assert record.current_step is None
    assert [(s.key, s.status) for s in record.steps] == [("classify", "succeeded")]

    silent = run(harness, workflow, {"classify": {"severity": "low"}})
    assert silent.error == "no handoff matched at step 'classify' (condition: none)"


# -- schemas ----------------------------------------------------------------------------


def test_a_schema_violation_fails_the_step_with_its_errors(
    harness: Harness, recording: RecordingScripted
) -> None:
    workflow = classify_then_route(HIGH_TO_ESCALATE, DEFAULT_TO_DRAFT)
    record = run(harness, workflow, {"classify": {"severity": "urgent", "summary": 3}})
    assert record.status == "failed"
    [step] = record.steps
    assert (step.key, step.status) == ("classify", "failed")
    assert step.error is not None
    assert step.error.startswith("output does not match the output_schema: ")
    assert "$.severity: 'urgent' is not one of ['low', 'high']" in step.error
    assert "$.summary: 3 is not of type 'string'" in step.error
    assert 'the reply was: {"severity": "urgent", "summary": 3}' in step.error
    assert record.error == f"step 'classify' failed: {step.error}"
    # One call, no repair; the provider was asked for JSON and told the schema.
    [request] = recording.requests
    assert request.json_schema == SEVERITY
    assert "Reply with only a JSON value" in request.prompt
    assert '"enum": ["low", "high"]' in request.prompt


def test_a_reply_that_is_not_json_fails_the_step(harness: Harness) -> None:
    workflow = classify_then_route(HIGH_TO_ESCALATE, DEFAULT_TO_DRAFT)
    record = run(harness, workflow, {"classify": "It is high."})
    assert record.status == "failed"
    assert record.steps[0].error is not None
    assert "not valid JSON: Expecting value: line 1 column 1" in record.steps[0].error


def test_repair_succeeds_on_the_second_call_told_the_errors(
    harness: Harness, recording: RecordingScripted
) -> None:
    workflow = classify_then_route(HIGH_TO_ESCALATE, DEFAULT_TO_DRAFT, repair=True)
    replies = {"classify": ["severity is high", {"severity": "high", "summary": "fixed"}]}
    record = run(harness, workflow, replies)
    assert record.status == "completed"
    assert [(s.key, s.status, s.attempt) for s in record.steps] == [
        ("classify", "succeeded", 1),
        ("escalate", "succeeded", 1),
    ]
    assert record.steps[0].output == {"severity": "high", "summary": "fixed"}
    first, second, _escalate = recording.requests
    assert (first.step, second.step, first.attempt, second.attempt) == (
        "classify",
        "classify",
        1,
        1,
    )
    assert second.json_schema == SEVERITY
    assert second.prompt.startswith(first.prompt)
    assert "Your previous reply was:\nseverity is high" in second.prompt
    assert "not valid JSON" in second.prompt
    # Tokens of both calls count.
    tokens = record.steps[0].tokens
    assert tokens is not None
    assert tokens["prompt"] == len(first.prompt.split()) + len(second.prompt.split())


def test_a_failed_repair_fails_the_step_with_the_repairs_errors(
    harness: Harness, recording: RecordingScripted
) -> None:
    workflow = classify_then_route(HIGH_TO_ESCALATE, DEFAULT_TO_DRAFT, repair=True)
    record = run(harness, workflow, {"classify": ["nope", {"severity": "medium"}]})
    assert record.status == "failed"
    assert len(recording.requests) == 2
    error = record.steps[0].error
    assert error is not None
    assert "$.severity: 'medium' is not one of ['low', 'high']" in error
    assert "not valid JSON" not in error


def test_a_first_reply_that_passes_needs_no_repair(
    harness: Harness, recording: RecordingScripted
) -> None:
    workflow = classify_then_route(HIGH_TO_ESCALATE, DEFAULT_TO_DRAFT, repair=True)
    record = run(harness, workflow, {"classify": [{"severity": "low"}, "never sent"]})
    assert [s.key for s in record.steps] == ["classify", "draft"]
    assert [r.step for r in recording.requests] == ["classify", "draft"]


def test_a_step_that_may_repair_gets_a_lease_for_two_calls(
    harness: Harness, clock: ManualClock
) -> None:
    provider = ProviderDecl("offline", "recording", settings={"timeout": 5})
    workflow = classify_then_route(HIGH_TO_ESCALATE, DEFAULT_TO_DRAFT, repair=True)
    applied = harness.service.apply(declaration(provider=provider, workflow=workflow), OPERATOR)
    work_id = harness.submit(ids_of(applied, "intake")["triage"], {"text": "t"})
    harness.project()
    started = clock.now()
    assert harness.engine.dispatch() == 1
    harness.settle()
    first = harness.item(work_id).runs[0]
    assert first.lease_until == started + timedelta(seconds=2 * 5 + 1)  # 2 calls + grace


# -- declaring --------------------------------------------------------------------------


def test_a_workflow_with_matches_and_a_schema_reapplies_unchanged(harness: Harness) -> None:
    workflow = classify_then_route(
        HandoffDecl(None, "escalate", match={"severity": {"in": ["high"]}, "n": {"gte": 2}}),
        HandoffDecl("spam", "complete", match={"summary": {"exists": True}}),
        DEFAULT_TO_DRAFT,
        repair=True,
    )
    decl = declaration(workflow=workflow)
    harness.service.apply(decl, OPERATOR)
    again = harness.service.apply(decl, OPERATOR)
    assert {a.outcome for a in again} == {"unchanged"}
    warnings = next(a for a in again if a.kind == "workflow").extra["warnings"]
    assert warnings == []


def test_bad_schemas_and_matches_are_refused_with_their_paths(harness: Harness) -> None:
    workflow = classify_then_route(
        HandoffDecl(None, "escalate", match={"severity": {"equal": "high"}}),
        HandoffDecl(None, "draft", match={"score": {"gt": "x"}}),
        schema={"type": "object", "properties": {"severity": {"type": "strin"}}},
    )
    with pytest.raises(DeclarationError) as raised:
        harness.service.apply(declaration(workflow=workflow), OPERATOR)
    at = "workflows[0].steps[0]"
    assert [(i.path, i.message) for i in raised.value.issues] == [
        (
            f"{at}.output_schema.properties.severity.type",
            "not a valid JSON Schema: 'strin' is not valid under any of the given schemas",
        ),
        (
            f"{at}.handoffs[0].match.severity.equal",
            "unknown operator 'equal' (known: equals, in, exists, gt, gte, lt, lte)",
        ),
        (f"{at}.handoffs[1].match.score.gt", "'gt' needs a number"),
    ]


def test_routing_mistakes_are_refused_naming_the_step(harness: Harness) -> None:
    workflow = WorkflowDecl(
        name="triage",
        team="support",
        steps=(
            StepDecl(
                "classify",
                "go",
                "offline",
                (
                    HandoffDecl(None, "nowhere", match={"severity": "high"}),
                    HandoffDecl("default", "complete", match={"severity": "low"}),
                ),
                repair=True,
            ),
        ),
    )
    with pytest.raises(DeclarationError) as raised:
        harness.service.apply(declaration(workflow=workflow), OPERATOR)
    assert [(i.path, i.message) for i in raised.value.issues] == [
        (
            "workflows[0].steps[0]",
            "handoff 'severity equals 'high'' targets unknown step 'nowhere'",
        ),
        (
            "workflows[0].steps[0]",
            "the default handoff to 'complete' cannot have a match: it fires when no "
            "other handoff does",
        ),
        ("workflows[0].steps[0]", "repair needs an output_schema to repair against"),
    ]


def test_apply_warns_about_a_step_that_can_dead_end(harness: Harness) -> None:
    workflow = classify_then_route(HIGH_TO_ESCALATE, HandoffDecl("spam", "draft"))
    applied = harness.service.apply(declaration(workflow=workflow), OPERATOR)
    warnings = next(a for a in applied if a.kind == "workflow").extra["warnings"]
    assert warnings == [
        "step 'classify': can dead-end: it has no 'default' handoff, so a work item whose "
        "output fires none of its handoffs fails with 'no handoff matched'"
    ]


def test_patterns_are_matched_with_a_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pattern that takes Python's ``re`` exponential time on a crafted output (the
    model's output is steered by whoever submits) fails the step instead of hanging."""
    from auxot.application import output_schema
    from auxot.application.output_schema import InvalidOutput, check

    schema = {"type": "object", "properties": {"r": {"type": "string", "pattern": "^(a|aa)+$"}}}
    crafted = '{"r": "' + "a" * 40 + '!"}'  # with re: hours
    with pytest.raises(InvalidOutput, match="does not match"):
        check(crafted, schema)
    assert check('{"r": "aaaa"}', schema) == {"r": "aaaa"}
    keyed = {"type": "object", "patternProperties": {"^x_": {"type": "integer"}}}
    with pytest.raises(InvalidOutput, match=r"\$\.x_a"):
        check('{"x_a": "not a number", "y": "free"}', keyed)
    monkeypatch.setattr(output_schema, "PATTERN_SECONDS", 1e-9)  # no match can finish
    with pytest.raises(InvalidOutput, match="took over"):
        check(crafted, schema)
