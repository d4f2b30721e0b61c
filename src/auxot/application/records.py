"""The work item record: what a caller polls, and what the status projection stores.

It is a pure function of the work item's state, so the live projection, the
read-your-writes fallback and (later) point-in-time reads all agree by construction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs
import msgspec

from auxot.application.ports import HumanTask, WorkRow
from auxot.application.refs import format_ref
from auxot.domain.callback import item_updated_at
from auxot.domain.work_item import HumanRun, StepRun, Waiting, WorkItem


class StepRecord(msgspec.Struct, kw_only=True):
    key: str
    status: str
    attempt: int
    started_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    model: str | None
    tokens: dict[str, int] | None
    error: str | None
    output: Any = None
    actor: str | None = None
    """Human steps: who acted."""
    condition: str | None = None
    note: str | None = None
    calls: list[dict[str, Any]] = msgspec.field(default_factory=list)
    """An agent step's model and tool calls: ``kind`` (model or tool), ``turn``,
    ``duration_ms``, and ``model``/``tokens`` or ``tool``/``arguments``/``result``;
    ``error`` when one failed."""


class WaitingFor(msgspec.Struct, kw_only=True):
    """The human step an item waits on."""

    step: str
    assignee: str | None
    team: str | None
    since: datetime
    timeout_at: datetime | None


class WorkRecord(msgspec.Struct, kw_only=True):
    work_id: str
    intake_id: str | None  # None for a manual task
    workflow_id: str
    workflow_version: int
    status: str
    input: dict[str, Any]
    output: Any
    error: str | None
    current_step: str | None
    steps: list[StepRecord]
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    retry_at: datetime | None = None  # while a failed step waits to run again
    cancelled_by: str | None = None
    rerun_of: str | None = None
    reruns: list[str] = msgspec.field(default_factory=list)
    waiting_for: WaitingFor | None = None


_encoder = msgspec.json.Encoder()


def record_of(item: WorkItem) -> WorkRecord:
    return WorkRecord(
        work_id=format_ref("work", item.id),
        intake_id=None if item.intake_id is None else format_ref("intake", item.intake_id),
        workflow_id=format_ref("workflow", item.workflow_id),
        workflow_version=item.workflow_version,
        status=item.status.value,
        input=item.input,
        output=item.output,
        error=item.error,
        current_step=None if item.status.terminal else item.current_step,
        steps=_step_records(item),
        created_at=item.created_on,
        updated_at=item_updated_at(item),
        completed_at=item.finished_at,
        retry_at=item.retry_at,
        cancelled_by=item.cancelled_by,
        rerun_of=None if item.rerun_of is None else format_ref("work", item.rerun_of),
        reruns=[format_ref("work", rerun) for rerun in item.reruns],
        waiting_for=_waiting_for(item),
    )


def _step_records(item: WorkItem) -> list[StepRecord]:
    """Model runs and human steps, in the order the item went through them."""
    records = [_step_record(run) for run in item.runs]
    for human in reversed(item.human_runs):
        records.insert(human.position, _human_record(human))
    return records


def _human_record(run: HumanRun) -> StepRecord:
    duration = None if run.finished_at is None else run.finished_at - run.started_at
    return StepRecord(
        key=run.key,
        status=run.status.value,
        attempt=1,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_ms=None if duration is None else round(duration.total_seconds() * 1000),
        model=None,
        tokens=None,
        error=None,
        output=run.output,
        actor=run.actor,
        condition=run.condition,
        note=run.note,
    )


def _open_waiting(item: WorkItem) -> Waiting | None:
    return None if item.status.terminal else item.waiting


def _waiting_for(item: WorkItem) -> WaitingFor | None:
    waiting = _open_waiting(item)
    if waiting is None:
        return None
    return WaitingFor(
        step=waiting.step,
        assignee=waiting.assignee,
        team=waiting.team,
        since=waiting.since,
        timeout_at=waiting.timeout_at,
    )


def _task_of(item: WorkItem) -> HumanTask | None:
    waiting = _open_waiting(item)
    if waiting is None:
        return None
    return HumanTask(**attrs.asdict(waiting), input=_encoder.encode(item.input))


def _step_record(run: StepRun) -> StepRecord:
    return StepRecord(
        key=run.key,
        status=run.status.value,
        attempt=run.attempt,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_ms=run.duration_ms,
        model=run.model,
        tokens=run.tokens,
        error=run.error,
        output=run.output,
        condition=run.condition,
        calls=run.calls,
    )


def row_of(item: WorkItem) -> WorkRow:
    return WorkRow(
        work_id=item.id,
        intake_id=item.intake_id,
        workflow_id=item.workflow_id,
        status=item.status.value,
        version=item.version,
        due_at=item.due_at,
        updated_at=item_updated_at(item),
        record=encode_record(item),
        task=_task_of(item),
    )


def encode_record(item: WorkItem) -> bytes:
    """The item's record as the JSON document a poll answers."""
    return _encoder.encode(record_of(item))


def decode_record(data: bytes) -> WorkRecord:
    return msgspec.json.decode(data, type=WorkRecord)
