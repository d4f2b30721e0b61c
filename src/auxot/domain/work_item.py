"""The work item: one piece of work moving through its pinned workflow version.

Every method checks its precondition, then records a past-tense event. Routing after a
step is decided here from the pinned definition and the step's outcome, so replaying the
same events always yields the same state.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

import attrs
from eventsourcing.domain import Aggregate

from auxot.domain.definition import COMPLETE, Definition
from auxot.domain.routing import choose_handoff


class Status(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (Status.COMPLETED, Status.FAILED)


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    LEASE_EXPIRED = "lease_expired"


@attrs.define
class StepRun:
    """One attempt at one step, as the item's history shows it."""

    key: str
    attempt: int
    worker: str
    started_at: datetime
    lease_until: datetime
    status: RunStatus = RunStatus.RUNNING
    finished_at: datetime | None = None
    duration_ms: int | None = None
    output: Any = None
    condition: str | None = None
    model: str | None = None
    tokens: dict[str, int] | None = None
    error: str | None = None
    calls: list[dict[str, Any]] = attrs.field(factory=list)
    """An agent step's model and tool calls, in order."""


class WorkItemError(Exception):
    """A command that the item's current state does not allow."""


class StaleAttemptError(WorkItemError):
    """An outcome for an attempt that is no longer the live one (its lease was taken over)."""


class WorkItem(Aggregate):
    class Received(Aggregate.Created):
        intake_id: UUID
        workflow_id: UUID
        workflow_version: int
        entry_step: str
        input: dict[str, Any]

    class StepStarted(Aggregate.Event):
        step: str
        attempt: int
        worker: str
        lease_until: datetime

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, WorkItem)
            live = aggregate.live_run
            if live is not None:
                live.status = RunStatus.LEASE_EXPIRED
            aggregate.runs.append(
                StepRun(self.step, self.attempt, self.worker, self.timestamp, self.lease_until)
            )
            aggregate.status = Status.RUNNING

    class StepSucceeded(Aggregate.Event):
        step: str
        attempt: int
        output: Any
        condition: str | None
        model: str | None
        tokens: dict[str, int] | None
        duration_ms: int

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, WorkItem)
            run = aggregate.finish_run(self.attempt, RunStatus.SUCCEEDED, self.timestamp)
            run.output, run.condition = self.output, self.condition
            run.model, run.tokens, run.duration_ms = self.model, self.tokens, self.duration_ms
            aggregate.output = self.output

    class StepFailed(Aggregate.Event):
        step: str
        attempt: int
        error: str
        retryable: bool
        duration_ms: int

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, WorkItem)
            run = aggregate.finish_run(self.attempt, RunStatus.FAILED, self.timestamp)
            run.error, run.duration_ms = self.error, self.duration_ms

    class CallsRecorded(Aggregate.Event):
        """The model and tool calls an agent step made (plain data), recorded with the
        attempt's outcome."""

        step: str
        attempt: int
        calls: list[dict[str, Any]]

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, WorkItem)
            run = aggregate.runs[-1]
            assert run.attempt == self.attempt
            run.calls.extend(self.calls)

    class Routed(Aggregate.Event):
        from_step: str
        to_step: str
        condition: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, WorkItem)
            aggregate.current_step = self.to_step

    class Completed(Aggregate.Event):
        output: Any

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, WorkItem)
            aggregate.status = Status.COMPLETED
            aggregate.output = self.output
            aggregate.finished_at = self.timestamp

    class Failed(Aggregate.Event):
        reason: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, WorkItem)
            live = aggregate.live_run
            if live is not None:  # its worker was presumed dead before the item failed
                live.status = RunStatus.LEASE_EXPIRED
            aggregate.status = Status.FAILED
            aggregate.error = self.reason
            aggregate.finished_at = self.timestamp

    def __init__(
        self,
        intake_id: UUID,
        workflow_id: UUID,
        workflow_version: int,
        entry_step: str,
        input: dict[str, Any],
    ) -> None:
        self.intake_id = intake_id
        self.workflow_id = workflow_id
        self.workflow_version = workflow_version
        self.input = input
        self.status = Status.PENDING
        self.current_step = entry_step
        self.runs: list[StepRun] = []
        self.output: Any = None
        self.error: str | None = None
        self.finished_at: datetime | None = None

    # -- commands -----------------------------------------------------------------------

    @classmethod
    def receive(
        cls,
        id: UUID,
        intake_id: UUID,
        workflow_id: UUID,
        workflow_version: int,
        definition: Definition,
        input: dict[str, Any],
        at: datetime,
    ) -> WorkItem:
        return cls._create(
            cls.Received,
            id=id,
            intake_id=intake_id,
            workflow_id=workflow_id,
            workflow_version=workflow_version,
            entry_step=definition.entry.key,
            input=input,
            timestamp=at,
        )

    def start_step(self, worker: str, lease: timedelta, now: datetime) -> StepRun:
        """Claim the current step for ``worker`` until ``now + lease``.

        Saved under optimistic concurrency, so of two workers claiming at once only one
        save succeeds. A claim is allowed when no attempt is live or the live one's lease
        has run out (its worker is presumed dead: steps are at-least-once).
        """
        if not self.is_runnable(now):
            raise WorkItemError(f"work item is {self.status} and not runnable now")
        attempt = 1 + sum(1 for run in self.runs if run.key == self.current_step)
        self.trigger_event(
            self.StepStarted,
            step=self.current_step,
            attempt=attempt,
            worker=worker,
            lease_until=now + lease,
            timestamp=now,
        )
        return self.runs[-1]

    def succeed_step(
        self,
        attempt: int,
        definition: Definition,
        now: datetime,
        *,
        output: Any,
        condition: str | None = None,
        model: str | None = None,
        tokens: dict[str, int] | None = None,
    ) -> None:
        """Record the live attempt's output and route by the step's handoffs."""
        run = self._require_live(attempt)
        self.trigger_event(
            self.StepSucceeded,
            step=run.key,
            attempt=attempt,
            output=output,
            condition=condition,
            model=model,
            tokens=tokens,
            duration_ms=_millis(now - run.started_at),
            timestamp=now,
        )
        self._route(definition, run.key, condition, now)

    def fail_step(self, attempt: int, error: str, now: datetime, *, retryable: bool) -> None:
        """Record the live attempt's failure; without a retry policy the item fails."""
        run = self._require_live(attempt)
        self.trigger_event(
            self.StepFailed,
            step=run.key,
            attempt=attempt,
            error=error,
            retryable=retryable,
            duration_ms=_millis(now - run.started_at),
            timestamp=now,
        )
        self.trigger_event(self.Failed, reason=f"step '{run.key}' failed: {error}", timestamp=now)

    def record_calls(self, attempt: int, calls: list[dict[str, Any]], now: datetime) -> None:
        """Record the live attempt's model and tool calls (before its outcome)."""
        run = self._require_live(attempt)
        if calls:
            self.trigger_event(
                self.CallsRecorded, step=run.key, attempt=attempt, calls=calls, timestamp=now
            )

    def fail(self, reason: str, now: datetime) -> None:
        """End the item as failed for a cause outside any step (its workflow is gone)."""
        if self.status.terminal:
            raise WorkItemError(f"work item is already {self.status}")
        self.trigger_event(self.Failed, reason=reason, timestamp=now)

    # -- queries ------------------------------------------------------------------------

    @property
    def live_run(self) -> StepRun | None:
        """The attempt in progress, if any (its lease may have run out)."""
        if self.runs and self.runs[-1].status is RunStatus.RUNNING:
            return self.runs[-1]
        return None

    def is_runnable(self, now: datetime) -> bool:
        if self.status.terminal:
            return False
        live = self.live_run
        return live is None or live.lease_until <= now

    @property
    def due_at(self) -> datetime | None:
        """When a worker should next look at this item: None once it is terminal."""
        if self.status.terminal:
            return None
        live = self.live_run
        return live.lease_until if live is not None else self.modified_on

    # -- internals ----------------------------------------------------------------------

    def finish_run(self, attempt: int, status: RunStatus, at: datetime) -> StepRun:
        run = self.runs[-1]
        assert run.attempt == attempt
        run.status, run.finished_at = status, at
        return run

    def _require_live(self, attempt: int) -> StepRun:
        live = self.live_run
        if live is None or live.attempt != attempt:
            raise StaleAttemptError(
                f"attempt {attempt} of step '{self.current_step}' is no longer live"
            )
        return live

    def _route(
        self, definition: Definition, step_key: str, condition: str | None, now: datetime
    ) -> None:
        handoff = choose_handoff(definition.step(step_key), condition)
        if handoff is None:
            reason = (
                f"no handoff matched at step '{step_key}' "
                f"(condition: {condition if condition is not None else 'none'})"
            )
            self.trigger_event(self.Failed, reason=reason, timestamp=now)
        elif handoff.to == COMPLETE:
            self.trigger_event(self.Completed, output=self.output, timestamp=now)
        else:
            self.trigger_event(
                self.Routed,
                from_step=step_key,
                to_step=handoff.to,
                condition=handoff.condition,
                timestamp=now,
            )


def _millis(delta: timedelta) -> int:
    return max(0, round(delta.total_seconds() * 1000))
