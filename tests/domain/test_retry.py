"""Retry policies: the pure decision, and a work item retrying a step under one.

The decision never allows more than ``attempts`` attempts, never retries a cause that is
not transient, and waits a backoff that doubles per attempt up to its cap. A work item
under a policy schedules the retry (``RetryScheduled``), is due and runnable again only
once the backoff has passed, and fails with the cause when the policy says no more.
"""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from auxot.application.stores import WorkLog
from auxot.domain.definition import COMPLETE, DEFAULT, Definition, Handoff, Step
from auxot.domain.retry import MAX_ATTEMPTS, RetryPolicy, retry_delay
from auxot.domain.work_item import RunStatus, Status, WorkItem, WorkItemError
from tests.domain.test_work_item_machine import replay, state_of

START = datetime(2026, 1, 1, tzinfo=UTC)

seconds = st.integers(min_value=0, max_value=3_600_000).map(lambda ms: ms / 1000)


@st.composite
def policies(draw: st.DrawFn) -> RetryPolicy:
    backoff = draw(seconds)
    cap = max(backoff, draw(seconds))
    attempts = draw(st.integers(min_value=1, max_value=MAX_ATTEMPTS))
    return RetryPolicy(attempts=attempts, backoff_seconds=backoff, max_backoff_seconds=cap)


# -- the decision -----------------------------------------------------------------------


@given(policy=policies(), attempt=st.integers(min_value=1, max_value=MAX_ATTEMPTS + 5))
def test_a_transient_failure_is_retried_until_the_last_allowed_attempt(
    policy: RetryPolicy, attempt: int
) -> None:
    delay = retry_delay(policy, attempt, retryable=True)
    assert (delay is None) == (attempt >= policy.attempts)


@given(policy=st.none() | policies(), attempt=st.integers(min_value=1, max_value=200))
def test_a_cause_that_is_not_transient_is_never_retried(
    policy: RetryPolicy | None, attempt: int
) -> None:
    assert retry_delay(policy, attempt, retryable=False) is None


@given(attempt=st.integers(min_value=1, max_value=200), retryable=st.booleans())
def test_without_a_policy_nothing_is_retried(attempt: int, retryable: bool) -> None:
    assert retry_delay(None, attempt, retryable=retryable) is None


@given(policy=policies())
def test_backoff_starts_at_the_base_doubles_and_never_passes_the_cap(policy: RetryPolicy) -> None:
    cap = timedelta(seconds=policy.max_backoff_seconds)
    waits = [policy.backoff_after(n) for n in range(1, 80)]
    assert waits[0] == min(timedelta(seconds=policy.backoff_seconds), cap)
    assert all(a <= b for a, b in itertools.pairwise(waits))  # non-decreasing
    assert all(w <= cap for w in waits)
    if policy.backoff_seconds > 0:
        assert waits[-1] == cap  # doubling reaches the cap, and stays there


def test_the_example_from_the_docs() -> None:
    policy = RetryPolicy(attempts=4, backoff_seconds=2, max_backoff_seconds=5)
    assert [retry_delay(policy, n, retryable=True) for n in (1, 2, 3, 4)] == [
        timedelta(seconds=2),
        timedelta(seconds=4),
        timedelta(seconds=5),
        None,
    ]


@pytest.mark.parametrize(
    "fields",
    [
        {"attempts": 0, "backoff_seconds": 1},
        {"attempts": MAX_ATTEMPTS + 1, "backoff_seconds": 1},
        {"attempts": True, "backoff_seconds": 1},
        {"attempts": 2, "backoff_seconds": -1},
        {"attempts": 2, "backoff_seconds": float("inf")},
        {"attempts": 2, "backoff_seconds": 1, "max_backoff_seconds": float("nan")},
    ],
    ids=str,
)
def test_a_policy_out_of_range_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        RetryPolicy(**fields)


# -- a work item retrying ---------------------------------------------------------------


def definition_with(policy: RetryPolicy | None) -> Definition:
    return Definition(
        steps=(
            Step("call", "prompt", "call", "p", (Handoff(DEFAULT, "next"),), retry=policy),
            Step("next", "prompt", "next", "p", (Handoff(DEFAULT, COMPLETE),), retry=policy),
        )
    )


class RetryingItem(RuleBasedStateMachine):
    """Start, fail (transient or not), succeed and wait, in any order, under a random
    policy: the item keeps the policy's promises at every point."""

    @initialize(policy=policies())
    def receive(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.definition = definition_with(policy)
        self.now = START
        self.item = WorkItem.receive(uuid4(), uuid4(), uuid4(), 1, self.definition, {}, START)
        self.events: list[Any] = list(self.item.collect_events())
        self.store = WorkLog(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.store.save(*self.events)

    def collect(self) -> list[Any]:
        new = list(self.item.collect_events())
        self.events.extend(new)
        self.store.save(*new)
        return new

    def attempts_this_visit(self) -> int:
        return sum(1 for run in self.item.runs if run.key == self.item.current_step)

    @rule(wait=st.floats(min_value=0, max_value=7200, allow_nan=False))
    def advance_clock(self, wait: float) -> None:
        self.now += timedelta(seconds=wait)

    @precondition(lambda self: not self.item.status.terminal and self.item.live_run is None)
    @rule()
    def wait_until_due(self) -> None:
        due = self.item.due_at
        assert due is not None
        self.now = max(self.now, due)

    @precondition(lambda self: not self.item.status.terminal)
    @rule()
    def start(self) -> None:
        if not self.item.is_runnable(self.now):
            before = copy.deepcopy(state_of(self.item))
            with pytest.raises(WorkItemError):
                self.item.start_step("w", timedelta(seconds=30), self.now)
            assert state_of(self.item) == before
            return
        assert self.item.retry_at is None or self.item.retry_at <= self.now
        self.item.start_step("w", timedelta(seconds=30), self.now)
        self.collect()
        assert self.item.retry_at is None

    @precondition(lambda self: self.item.live_run is not None)
    @rule(retryable=st.booleans())
    def fail(self, retryable: bool) -> None:
        run = self.item.live_run
        assert run is not None
        tried = self.attempts_this_visit()
        self.item.fail_step(run.attempt, "down", self.now, retryable=retryable, retry=self.policy)
        new = self.collect()
        assert type(new[0]) is WorkItem.StepFailed
        if retryable and tried < self.policy.attempts:
            assert [type(e) for e in new] == [WorkItem.StepFailed, WorkItem.RetryScheduled]
            wait = self.policy.backoff_after(tried)
            assert (new[1].step, new[1].attempt, new[1].at) == (
                run.key,
                run.attempt,
                self.now + wait,
            )
            assert self.item.status is Status.RUNNING
            assert self.item.due_at == self.item.retry_at == self.now + wait
            if wait:
                assert not self.item.is_runnable(self.now + wait - timedelta(microseconds=1))
            assert self.item.is_runnable(self.now + wait)
        else:
            assert [type(e) for e in new] == [WorkItem.StepFailed, WorkItem.Failed]
            assert self.item.status is Status.FAILED
            assert self.item.error is not None
            assert self.item.error.endswith(": down")
            assert self.item.due_at is None

    @precondition(lambda self: self.item.live_run is not None)
    @rule()
    def succeed(self) -> None:
        run = self.item.live_run
        assert run is not None
        self.item.succeed_step(run.attempt, self.definition, self.now, output="ok")
        self.collect()

    @invariant()
    def never_more_failed_attempts_than_the_policy_allows(self) -> None:
        # Runs whose lease ran out (a worker presumed dead) are not failures: steps are
        # at-least-once, so a crash may add a run beyond the policy's count.
        per_step: dict[str, int] = {}
        for run in self.item.runs:
            if run.status is RunStatus.FAILED:
                per_step[run.key] = per_step.get(run.key, 0) + 1
        assert all(n <= self.policy.attempts for n in per_step.values()), per_step

    @invariant()
    def a_failure_that_is_not_retried_ends_the_item(self) -> None:
        last = self.item.runs[-1] if self.item.runs else None
        if last is not None and last.status is RunStatus.FAILED:
            assert self.item.status is Status.FAILED or self.item.retry_at is not None

    @invariant()
    def replaying_and_storing_rebuild_the_same_state(self) -> None:
        expected = {**state_of(self.item), "retry_at": self.item.retry_at}
        replayed = replay(self.events)
        assert {**state_of(replayed), "retry_at": replayed.retry_at} == expected
        stored = self.store.repository.get(self.item.id)
        assert isinstance(stored, WorkItem)
        assert {**state_of(stored), "retry_at": stored.retry_at} == expected


RetryingItem.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_retrying_item = RetryingItem.TestCase


def test_the_last_attempt_fails_the_item_saying_how_many_were_made() -> None:
    definition = definition_with(RetryPolicy(attempts=2, backoff_seconds=10))
    item = WorkItem.receive(uuid4(), uuid4(), uuid4(), 1, definition, {}, START)
    first = item.start_step("w", timedelta(seconds=30), START)
    item.fail_step(first.attempt, "503", START, retryable=True, retry=definition.entry.retry)
    assert item.due_at == START + timedelta(seconds=10)
    assert not item.is_runnable(START + timedelta(seconds=9))
    later = START + timedelta(seconds=10)
    second = item.start_step("w", timedelta(seconds=30), later)
    assert second.attempt == 2
    item.fail_step(second.attempt, "503", later, retryable=True, retry=definition.entry.retry)
    assert item.status is Status.FAILED
    assert item.error == "step 'call' failed after 2 attempts: 503"


def test_without_a_policy_a_transient_failure_fails_the_item_as_before() -> None:
    definition = definition_with(None)
    item = WorkItem.receive(uuid4(), uuid4(), uuid4(), 1, definition, {}, START)
    run = item.start_step("w", timedelta(seconds=30), START)
    item.fail_step(run.attempt, "503", START, retryable=True)
    assert item.status is Status.FAILED
    assert item.error == "step 'call' failed: 503"
