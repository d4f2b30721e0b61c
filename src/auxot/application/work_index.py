"""The work index: a row per work item for the board, the work list and the statistics,
a pure function of the item's state (as the status record is), so a rebuilt index equals
the live one by construction.

The row is folded from the item's state, not from a switch over event types: an event
type this code does not know (added by a later release) changes the row only through
the state it leaves, and is never an error here.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from auxot.application.ports import IndexRow
from auxot.domain.work_item import WorkItem

SUMMARY_CHARS = 120
"""The longest input summary, in characters (the last one an ellipsis when cut)."""

_HIDDEN = "***"
# Keys whose values a board card never shows, whatever the caller sent under them.
_SECRET_KEY = re.compile(r"pass|secret|token|auth|key|credential|cookie|session", re.I)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_encoder = msgspec.json.Encoder()


def index_row_of(item: WorkItem) -> IndexRow:
    since = item.entered_step_at or item.created_on
    last = item.runs[-1] if item.runs else None
    at_step = last is not None and last.key == item.current_step and last.started_at >= since
    waiting = None if item.status.terminal else item.waiting
    finished = item.finished_at
    return IndexRow(
        work_id=item.id,
        workflow_id=item.workflow_id,
        workflow_version=item.workflow_version,
        intake_id=item.intake_id,
        status=item.status.value,
        step=item.current_step,
        step_since=since,
        attempt=last.attempt if at_step and last is not None else 0,
        waiting=waiting is not None,
        assignee=None if waiting is None else waiting.assignee,
        team=None if waiting is None else waiting.team,
        input_summary=summarize(item.input),
        created_at=item.created_on,
        updated_at=item.modified_on,
        finished_at=finished,
        duration_ms=None
        if finished is None
        else round((finished - item.created_on).total_seconds() * 1000),
    )


def summarize(data: dict[str, Any], limit: int = SUMMARY_CHARS) -> str:
    """A short, safe one-line view of an input: compact JSON with the values of
    secret-looking keys hidden and control characters dropped, cut to ``limit``."""
    text = _CONTROL.sub("", _encoder.encode(_redacted(data)).decode())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _HIDDEN if _SECRET_KEY.search(str(k)) else _redacted(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return value
