"""Retry policies on the in-memory store: the scripted provider fails the first calls
(transiently or not), a manual clock moves the backoff along, and the engine runs the
step again only once the item is due again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import attrs
import pytest

from auxot.adapters.clock import ManualClock
from auxot.application.declarations import ProviderDecl
from auxot.application.records import WorkRecord
from auxot.application.retry_declarations import RetryDecl
from auxot.domain.actor import SYSTEM as OPERATOR
from auxot.domain.identity import workflow_id
from auxot.domain.retry import RetryPolicy
from auxot.entrypoints.workflow_file import load_declaration
from tests.application.builders import declaration, ids_of, linear_workflow, memory_service
from tests.application.test_engine import Harness

SECOND = timedelta(seconds=1)


@pytest.fixture
def harness(clock: ManualClock) -> Iterator[Harness]:
    h = Harness(memory_service(clock), clock)
    yield h
    h.close()


def apply(
    harness: Harness, settings: dict[str, object], retry: RetryDecl | None, max_parallel: int = 4
) -> str:
    workflow = linear_workflow(prompts=("go",))
    steps = tuple(attrs.evolve(step, retry=retry) for step in workflow.steps)
    provider = ProviderDecl("offline", "scripted", max_parallel, settings)
    applied = harness.service.apply(
        declaration(provider=provider, workflow=attrs.evolve(workflow, steps=steps)), OPERATOR
    )
    return ids_of(applied, "intake")["triage"]


def dispatch(harness: Harness) -> int:
    """Project, dispatch, and wait for what was started to be recorded and projected."""
    harness.project()
    started = harness.engine.dispatch()
    harness.settle()
    return started


def attempts(record: WorkRecord) -> list[tuple[int, str, str | None]]:
    return [(s.attempt, s.status, s.error) for s in record.steps]


def test_a_transient_failure_runs_again_after_a_doubling_backoff(
    harness: Harness, clock: ManualClock
) -> None:
    flaky = {"fail_first": 2, "retryable": True, "reply": "fine"}
    intake = apply(harness, flaky, RetryDecl(attempts=3, backoff="2s"))
    work_id = harness.submit(intake, {})
    failed_at = clock.now()

    assert dispatch(harness) == 1
    record = harness.record(work_id)
    assert attempts(record) == [(1, "failed", "scripted failure 1 of 2")]
    assert record.status == "running"  # not failed: it will run again
    assert record.retry_at == failed_at + 2 * SECOND
    assert harness.service.view.get(work_id).due_at == failed_at + 2 * SECOND  # type: ignore[union-attr]

    clock.advance(2 * SECOND - timedelta(microseconds=1))
    assert dispatch(harness) == 0  # backing off
    clock.advance(timedelta(microseconds=1))
    assert dispatch(harness) == 1
    record = harness.record(work_id)
    assert attempts(record)[1] == (2, "failed", "scripted failure 2 of 2")
    assert record.retry_at == clock.now() + 4 * SECOND  # the backoff doubled

    clock.advance(3 * SECOND)
    assert dispatch(harness) == 0
    clock.advance(SECOND)
    assert dispatch(harness) == 1
    record = harness.record(work_id)
    assert record.status == "completed"
    assert record.output == "fine"
    assert record.retry_at is None
    assert attempts(record)[2] == (3, "succeeded", None)


def test_the_last_attempt_fails_the_item_with_the_cause(
    harness: Harness, clock: ManualClock
) -> None:
    intake = apply(harness, {"fail": "503", "retryable": True}, RetryDecl(attempts=2, backoff=1))
    work_id = harness.submit(intake, {})
    assert dispatch(harness) == 1
    clock.advance(SECOND)
    assert dispatch(harness) == 1
    record = harness.record(work_id)
    assert record.status == "failed"
    assert record.error == "step 'step1' failed after 2 attempts: 503"
    assert attempts(record) == [(1, "failed", "503"), (2, "failed", "503")]
    clock.advance(timedelta(hours=1))
    assert dispatch(harness) == 0  # never a third


def test_a_failure_that_is_not_transient_is_not_retried(harness: Harness) -> None:
    intake = apply(harness, {"fail": "bad request"}, RetryDecl(attempts=5, backoff="1s"))
    work_id = harness.submit(intake, {})
    assert dispatch(harness) == 1
    record = harness.record(work_id)
    assert record.status == "failed"
    assert record.error == "step 'step1' failed: bad request"
    assert len(record.steps) == 1


def test_without_a_policy_a_transient_failure_fails_the_item(harness: Harness) -> None:
    intake = apply(harness, {"fail_first": 1, "retryable": True}, retry=None)
    work_id = harness.submit(intake, {})
    assert dispatch(harness) == 1
    record = harness.record(work_id)
    assert record.status == "failed"
    assert record.error == "step 'step1' failed: scripted failure 1 of 1"


def test_an_item_backing_off_leaves_its_provider_slot_to_others(
    harness: Harness, clock: ManualClock
) -> None:
    """The provider is full with one step; the failing item waits for its retry without
    holding the slot, so the item behind it runs meanwhile."""
    flaky = {"fail_first": 1, "retryable": True, "reply": "ok"}
    intake = apply(harness, flaky, RetryDecl(attempts=2, backoff="1m"), max_parallel=1)
    first = harness.submit(intake, {"n": 1})
    clock.advance(SECOND)
    second = harness.submit(intake, {"n": 2})
    assert dispatch(harness) == 1  # the first fails; the second waited for the slot
    assert dispatch(harness) == 1  # the second runs while the first backs off
    assert [harness.record(w).status for w in (first, second)] == ["running", "completed"]
    clock.advance(timedelta(minutes=1))
    assert dispatch(harness) == 1
    assert harness.record(first).status == "completed"


def run_to_the_end(harness: Harness, work_id: UUID, clock: ManualClock) -> WorkRecord:
    for _ in range(10):
        dispatch(harness)
        record = harness.record(work_id)
        if record.status in ("completed", "failed"):
            return record
        clock.advance(timedelta(minutes=10))
    raise AssertionError(f"not terminal: {harness.record(work_id)}")


WORKFLOW_FILE = """\
teams:
  - name: support
providers:
  - name: flaky
    kind: scripted
    settings: {fail_first: 3, retryable: true, reply: done}
workflows:
  - name: triage
    team: support
    steps:
      - key: call
        prompt: go
        provider: flaky
        retry: {attempts: 4, backoff: 500ms, max_backoff: 1s}
        handoffs:
          - {condition: default, to: complete}
intakes:
  - name: triage
    workflow: triage
    team: support
"""


def test_the_workflow_file_form_of_a_policy(harness: Harness, clock: ManualClock) -> None:
    applied = harness.service.apply(load_declaration(WORKFLOW_FILE), OPERATOR)
    work_id = harness.submit(ids_of(applied, "intake")["triage"], {})
    record = run_to_the_end(harness, work_id, clock)
    assert record.status == "completed"
    assert [s.status for s in record.steps] == ["failed"] * 3 + ["succeeded"]
    workflow = harness.service.directory.workflow(workflow_id("support", "triage"))
    assert workflow is not None
    assert workflow.current.step("call").retry == RetryPolicy(
        attempts=4, backoff_seconds=0.5, max_backoff_seconds=1.0
    )
