"""The work item: one piece of work moving through its pinned workflow version.

Every method checks its precondition, then records a past-tense event. Routing after a
step is decided here from the pinned definition and the step's outcome, so replaying the
same events always yields the same state.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

import attrs
from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from auxot.domain.definition import COMPLETE, TIMEOUT, Definition, Step
from auxot.domain.durations import format_duration
from auxot.domain.events import AuxotAggregate, recorded_as
from auxot.domain.retry import RetryPolicy, retry_delay
from auxot.domain.routing import choose_handoff, reported_condition

if TYPE_CHECKING:
    from auxot.domain.callback import Delivery


class Status(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (Status.COMPLETED, Status.FAILED, Status.CANCELLED)


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    LEASE_EXPIRED = "lease_expired"
    CANCELLED = "cancelled"  # the item was cancelled while this attempt ran


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


class HumanStatus(StrEnum):
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


@attrs.define
class Waiting:
    """The human step an item waits on: who may act, since when, until when."""

    step: str
    assignee: str | None
    team: str | None
    since: datetime
    timeout_at: datetime | None
    not_by: str | None
    """The user barred from acting (they acted on the step named by ``not_by_actor_of``)."""


@attrs.define
class HumanRun:
    """One visit of a human step, as the item's history shows it. ``position`` is how many
    step runs came before it, which places it among them."""

    key: str
    position: int
    started_at: datetime
    status: HumanStatus = HumanStatus.WAITING
    finished_at: datetime | None = None
    actor: str | None = None
    condition: str | None = None
    note: str | None = None
    output: Any = None


class WorkItemError(Exception):
    """A command that the item's current state does not allow."""


class StaleAttemptError(WorkItemError):
    """An outcome for an attempt that is no longer the live one (its lease was taken over)."""


class NotWaitingError(WorkItemError):
    """Acting on a human step the item is not waiting on (acted already, not there yet,
    or the item has ended)."""


class ActorBarredError(WorkItemError):
    """The actor acted on the step this one names in ``not_by_actor_of``: a maker may not
    be their own checker."""


class RefusedDecisionError(WorkItemError):
    """A person's decision that the step cannot take; they may decide again."""


class ReservedConditionError(RefusedDecisionError):
    """A person reported a condition only Auxot may report (``timeout``)."""


class UnroutableDecisionError(RefusedDecisionError):
    """A person reported a condition that fires none of the step's handoffs: refused
    rather than failing the item for a typo ("no handoff matched")."""


@recorded_as("WorkItem")
class WorkItem(AuxotAggregate):
    class Received(Aggregate.Created):
        intake_id: UUID | None  # None: a manual task, created with no intake
        workflow_id: UUID
        workflow_version: int
        entry_step: str
        input: dict[str, Any]
        rerun_of: UUID | None = None  # absent from events recorded before re-runs existed
        # The request's Idempotency-Key and a digest of what it asked for (None without
        # a key), and its per-request callback URL: absent from events recorded earlier.
        idempotency_key: str | None = None
        request_digest: str | None = None
        callback_url: str | None = None

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
            aggregate.retry_at = None

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

    class RetryScheduled(Aggregate.Event):
        """The failed ``attempt`` of ``step`` will be followed by another, from ``at``."""

        step: str
        attempt: int
        at: datetime

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, WorkItem)
            aggregate.retry_at = self.at

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
            aggregate.entered_step_at = self.timestamp

    class WaitingForHuman(Aggregate.Event):
        step: str
        assignee: str | None
        team: str | None
        timeout_at: datetime | None
        not_by: str | None

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, WorkItem)
            aggregate.waiting = Waiting(
                self.step, self.assignee, self.team, self.timestamp, self.timeout_at, self.not_by
            )
            aggregate.human_runs.append(HumanRun(self.step, len(aggregate.runs), self.timestamp))
            aggregate.status = Status.RUNNING

    class HumanActed(Aggregate.Event):
        """``person`` decided ``condition`` on the human step ``step``. Version 1 named
        the person ``actor``, before every event had an actor of its own."""

        class_version = 2

        step: str
        person: str
        condition: str
        note: str | None
        output: Any

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["person"] = state["actor"]
            state["actor"] = f"user:{state['person']}"  # the key they used was not kept

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, WorkItem)
            run = aggregate.finish_human_run(HumanStatus.SUCCEEDED, self.timestamp)
            run.actor, run.condition, run.note = self.person, self.condition, self.note
            if self.output is not None:
                run.output = aggregate.output = self.output

    class HumanTimedOut(Aggregate.Event):
        step: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, WorkItem)
            run = aggregate.finish_human_run(HumanStatus.TIMED_OUT, self.timestamp)
            run.condition = TIMEOUT

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

    class Cancelled(Aggregate.Event):
        """Someone cancelled the item: it ends here. A step in flight is not interrupted,
        but it is no longer the live attempt, so its outcome is never recorded."""

        by: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, WorkItem)
            live = aggregate.live_run
            if live is not None:
                live.status = RunStatus.CANCELLED
                live.finished_at = self.timestamp
            if aggregate.waiting is not None:  # the person's task is withdrawn
                aggregate.finish_human_run(HumanStatus.CANCELLED, self.timestamp)
            aggregate.status = Status.CANCELLED
            aggregate.cancelled_by = self.by
            aggregate.finished_at = self.timestamp

    class RerunStarted(Aggregate.Event):
        """A new item was started with this item's input (recorded on the old item)."""

        work_id: UUID

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, WorkItem)
            aggregate.reruns.append(self.work_id)

    def __init__(
        self,
        intake_id: UUID | None,
        workflow_id: UUID,
        workflow_version: int,
        entry_step: str,
        input: dict[str, Any],
        rerun_of: UUID | None = None,
        idempotency_key: str | None = None,
        request_digest: str | None = None,
        callback_url: str | None = None,
    ) -> None:
        self.intake_id = intake_id
        self.rerun_of = rerun_of
        self.idempotency_key = idempotency_key
        self.request_digest = request_digest
        self.callback_url = callback_url  # overrides the intake's, when set
        self.reruns: list[UUID] = []
        self.cancelled_by: str | None = None
        self.workflow_id = workflow_id
        self.workflow_version = workflow_version
        self.input = input
        self.status = Status.PENDING
        self.current_step = entry_step
        self.entered_step_at: datetime | None = None  # None: at the entry step since receipt
        self.runs: list[StepRun] = []
        self.output: Any = None
        self.error: str | None = None
        self.finished_at: datetime | None = None
        self.retry_at: datetime | None = None  # when a scheduled retry may start
        self.waiting: Waiting | None = None
        self.human_runs: list[HumanRun] = []
        self.delivery: Delivery | None = None  # its callback, once ended (domain/callback.py)

    # -- commands -----------------------------------------------------------------------

    @classmethod
    def receive(
        cls,
        id: UUID,
        intake_id: UUID | None,
        workflow_id: UUID,
        workflow_version: int,
        definition: Definition,
        input: dict[str, Any],
        at: datetime,
        *,
        rerun_of: UUID | None = None,
    ) -> WorkItem:
        """A new item; ``intake_id`` None for a manual task, ``rerun_of`` the item it
        re-runs."""
        fields = _received_fields(
            intake_id, workflow_id, workflow_version, definition, input, rerun_of
        )
        return cls._create(cls.Received, id=id, timestamp=at, **fields)

    @classmethod
    def received(
        cls,
        id: UUID,
        intake_id: UUID,
        workflow_id: UUID,
        workflow_version: int,
        definition: Definition,
        input: dict[str, Any],
        at: datetime,
        *,
        actor: str,
        idempotency_key: str | None = None,
        request_digest: str | None = None,
        callback_url: str | None = None,
    ) -> WorkItem.Received:
        """The same item's first event, without building the item, caused by ``actor``
        (an ``Actor``'s text). The intake's write path stores just this event: building
        the aggregate only to take the event back out costs as much again, and so would
        stamping the actor on a copy afterwards (benchmarks/README.md)."""
        fields = _received_fields(intake_id, workflow_id, workflow_version, definition, input)
        fields.update(
            actor=actor,
            idempotency_key=idempotency_key,
            request_digest=request_digest,
            callback_url=callback_url,
        )
        return cls.Received(
            originator_id=id, originator_version=1, timestamp=at, originator_topic=_TOPIC, **fields
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
        """Record the live attempt's output and route by the step's handoffs. Without an
        explicit ``condition``, the one the output reports (its JSON ``condition``) counts."""
        run = self._require_live(attempt)
        if condition is None:
            condition = reported_condition(definition.step(run.key), output)
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

    def fail_step(
        self,
        attempt: int,
        error: str,
        now: datetime,
        *,
        retryable: bool,
        retry: RetryPolicy | None = None,
    ) -> None:
        """Record the live attempt's failure. The step runs again after a backoff when
        ``retry`` (the step's policy) allows another attempt for a ``retryable`` cause;
        otherwise the item fails with the cause."""
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
        tried = self._attempts_this_visit()
        delay = retry_delay(retry, tried, retryable=retryable)
        if delay is not None:
            self.trigger_event(
                self.RetryScheduled, step=run.key, attempt=attempt, at=now + delay, timestamp=now
            )
            return
        after = f" after {tried} attempts" if retry is not None and tried > 1 else ""
        self.trigger_event(
            self.Failed, reason=f"step '{run.key}' failed{after}: {error}", timestamp=now
        )

    def wait_for_human(self, step: Step, workflow_team: str, now: datetime) -> Waiting:
        """Record that the item now waits on the human step ``step`` (its current step).

        A step with no assignee and no team is assigned to ``workflow_team``. With
        ``not_by_actor_of``, the user who last acted on that step is barred from this one.
        """
        if self.status.terminal or self.waiting is not None or self.live_run is not None:
            raise WorkItemError(f"work item is {self.status} and cannot wait on a person now")
        if step.key != self.current_step:
            raise WorkItemError(f"work item is at step '{self.current_step}', not '{step.key}'")
        if step.handler != "human":
            raise WorkItemError(f"step '{step.key}' is a {step.handler} step, not a human step")
        self.trigger_event(
            self.WaitingForHuman,
            step=step.key,
            assignee=step.assignee,
            team=None if step.assignee is not None else (step.team or workflow_team),
            timeout_at=None if step.timeout is None else now + timedelta(seconds=step.timeout),
            not_by=self._last_actor(step.not_by_actor_of),
            timestamp=now,
        )
        assert self.waiting is not None
        return self.waiting

    def act(
        self,
        step_key: str,
        person: str,
        condition: str,
        definition: Definition,
        now: datetime,
        *,
        note: str | None = None,
        output: Any = None,
    ) -> None:
        """Record ``person``'s decision on the human step the item waits on, and route by
        the step's handoffs. ``output``, when given, becomes the item's output."""
        waiting = self.waiting
        if self.status.terminal or waiting is None or waiting.step != step_key:
            raise NotWaitingError(self._not_waiting_reason(step_key))
        if condition == TIMEOUT:
            raise ReservedConditionError(
                f"'{TIMEOUT}' is reported by Auxot when a step's timeout passes, not by a person"
            )
        step = definition.step(step_key)
        if waiting.not_by is not None and waiting.not_by == person:
            raise ActorBarredError(
                f"'{person}' acted on step '{step.not_by_actor_of}' "
                f"and may not also act on step '{step_key}'"
            )
        if choose_handoff(step, condition, self.output if output is None else output) is None:
            names = sorted({h.condition for h in step.handoffs if h.condition} - {TIMEOUT})
            raise UnroutableDecisionError(
                f"condition '{condition}' fires no handoff of step '{step_key}'; "
                f"it takes: {', '.join(names) or 'nothing a person can report'}"
            )
        self.trigger_event(
            self.HumanActed,
            step=step_key,
            person=person,
            condition=condition,
            note=note,
            output=output,
            timestamp=now,
        )
        self._route(definition, step_key, condition, now)

    def time_out(self, definition: Definition, now: datetime) -> None:
        """The waiting step's timeout has passed: take its ``timeout`` handoff, or fail."""
        waiting = self.waiting
        if self.status.terminal or waiting is None or waiting.timeout_at is None:
            raise WorkItemError("work item is not waiting on a step with a timeout")
        if now < waiting.timeout_at:
            raise WorkItemError(f"step '{waiting.step}' times out at {waiting.timeout_at}")
        self.trigger_event(self.HumanTimedOut, step=waiting.step, timestamp=now)
        step = definition.step(waiting.step)
        if any(h.condition == TIMEOUT for h in step.handoffs):
            self._route(definition, step.key, TIMEOUT, now)
        else:
            after = format_duration(round((waiting.timeout_at - waiting.since).total_seconds()))
            reason = f"step '{step.key}' timed out after {after} and has no '{TIMEOUT}' handoff"
            self.trigger_event(self.Failed, reason=reason, timestamp=now)

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

    def cancel(self, by: str, now: datetime) -> None:
        """End the item as cancelled by ``by``; refused once it has ended."""
        if self.status.terminal:
            raise WorkItemError(f"work item is already {self.status}")
        self.trigger_event(self.Cancelled, by=by, timestamp=now)

    def rerun(
        self, new_id: UUID, workflow_version: int, definition: Definition, now: datetime
    ) -> WorkItem:
        """A new item with this one's input on ``workflow_version`` of the same workflow,
        linked both ways. Only an item that has ended is re-run (cancel it first)."""
        if not self.status.terminal:
            raise WorkItemError(f"work item is {self.status}: only an ended item is re-run")
        self.trigger_event(self.RerunStarted, work_id=new_id, timestamp=now)
        return WorkItem.receive(
            id=new_id,
            intake_id=self.intake_id,
            workflow_id=self.workflow_id,
            workflow_version=workflow_version,
            definition=definition,
            input=self.input,
            at=now,
            rerun_of=self.id,
        )

    # -- queries ------------------------------------------------------------------------

    @property
    def live_run(self) -> StepRun | None:
        """The attempt in progress, if any (its lease may have run out)."""
        if self.runs and self.runs[-1].status is RunStatus.RUNNING:
            return self.runs[-1]
        return None

    def is_runnable(self, now: datetime) -> bool:
        if self.status.terminal or self.waiting is not None:
            return False
        if self.retry_at is not None and now < self.retry_at:
            return False  # backing off before the next attempt
        live = self.live_run
        return live is None or live.lease_until <= now

    @property
    def due_at(self) -> datetime | None:
        """When a worker should next look at this item: None once it is terminal."""
        if self.status.terminal:
            return None
        if self.waiting is not None:  # only its timeout, if any, needs a worker
            return self.waiting.timeout_at
        live = self.live_run
        if live is not None:
            return live.lease_until
        return self.retry_at if self.retry_at is not None else self.modified_on

    # -- internals ----------------------------------------------------------------------

    def finish_run(self, attempt: int, status: RunStatus, at: datetime) -> StepRun:
        run = self.runs[-1]
        assert run.attempt == attempt
        run.status, run.finished_at = status, at
        return run

    def _attempts_this_visit(self) -> int:
        """The attempts at the current step since the item last came to it: a step that
        the item comes back to later gets its retries afresh."""
        tried = 0
        for run in reversed(self.runs):
            if run.key != self.current_step or run.status is RunStatus.SUCCEEDED:
                break
            tried += 1
        return tried

    def finish_human_run(self, status: HumanStatus, at: datetime) -> HumanRun:
        run = self.human_runs[-1]
        run.status, run.finished_at = status, at
        self.waiting = None
        return run

    def _last_actor(self, step_key: str | None) -> str | None:
        acted = [r.actor for r in self.human_runs if r.key == step_key and r.actor is not None]
        return acted[-1] if acted else None

    def _not_waiting_reason(self, step_key: str) -> str:
        if self.status.terminal:
            return f"work item is {self.status}: there is nothing left to act on"
        if self.waiting is not None:
            return f"work item is waiting on step '{self.waiting.step}', not '{step_key}'"
        ended = [r.status for r in self.human_runs if r.key == step_key]
        if ended:
            what = "timed out" if ended[-1] is HumanStatus.TIMED_OUT else "was already acted on"
            return f"step '{step_key}' {what}; the item is not waiting on it"
        return f"work item is not waiting on a person (it is at step '{self.current_step}')"

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
        handoff = choose_handoff(definition.step(step_key), condition, self.output)
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
                condition=handoff.label,
                timestamp=now,
            )


def _millis(delta: timedelta) -> int:
    return max(0, round(delta.total_seconds() * 1000))


def _received_fields(
    intake_id: UUID | None,
    workflow_id: UUID,
    workflow_version: int,
    definition: Definition,
    input: dict[str, Any],
    rerun_of: UUID | None = None,
) -> dict[str, Any]:
    return {
        "intake_id": intake_id,
        "workflow_id": workflow_id,
        "workflow_version": workflow_version,
        "entry_step": definition.entry.key,
        "input": input,
        "rerun_of": rerun_of,
    }


_TOPIC = get_topic(WorkItem)
