"""The work item record: what a caller polls, and what the status projection stores.

It is a pure function of the work item's state, so the live projection, the
read-your-writes fallback and (later) point-in-time reads all agree by construction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from auxot.application.ports import WorkRow
from auxot.application.refs import format_ref
from auxot.domain.work_item import StepRun, WorkItem


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
    calls: list[dict[str, Any]] = msgspec.field(default_factory=list)
    """An agent step's model and tool calls: ``kind`` (model or tool), ``turn``,
    ``duration_ms``, and ``model``/``tokens`` or ``tool``/``arguments``/``result``;
    ``error`` when one failed."""


class WorkRecord(msgspec.Struct, kw_only=True):
    work_id: str
    intake_id: str
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


_encoder = msgspec.json.Encoder()


def record_of(item: WorkItem) -> WorkRecord:
    return WorkRecord(
        work_id=format_ref("work", item.id),
        intake_id=format_ref("intake", item.intake_id),
        workflow_id=format_ref("workflow", item.workflow_id),
        workflow_version=item.workflow_version,
        status=item.status.value,
        input=item.input,
        output=item.output,
        error=item.error,
        current_step=None if item.status.terminal else item.current_step,
        steps=[_step_record(run) for run in item.runs],
        created_at=item.created_on,
        updated_at=item.modified_on,
        completed_at=item.finished_at,
    )


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
        updated_at=item.modified_on,
        record=_encoder.encode(record_of(item)),
    )


def decode_record(data: bytes) -> WorkRecord:
    return msgspec.json.decode(data, type=WorkRecord)
