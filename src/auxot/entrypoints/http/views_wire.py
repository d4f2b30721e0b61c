"""Wire types of the views: a workflow's board, the work list, statistics."""

from __future__ import annotations

from datetime import datetime

import msgspec


class Waiting(msgspec.Struct, kw_only=True):
    """Who must act on the human step an item waits on (both null: anyone may)."""

    assignee: str | None
    team: str | None


class Card(msgspec.Struct, kw_only=True):
    work_id: str
    status: str
    step: str
    workflow_version: int
    input_summary: str
    """The input as compact JSON, cut to 120 characters; secret-looking keys hidden."""
    since: datetime
    """When the item reached this step."""
    attempt: int
    """The attempt running or last run at this step (0: not started there yet)."""
    waiting_for: Waiting | None


class Column(msgspec.Struct, kw_only=True):
    step: str | None
    """null: the column of steps that older versions had and the current one has not."""
    count: int
    cards: list[Card]
    """The longest there first, at most 50."""


class Finished(msgspec.Struct, kw_only=True):
    work_id: str
    status: str
    input_summary: str
    created_at: datetime
    finished_at: datetime
    duration_ms: int


class Board(msgspec.Struct, kw_only=True):
    workflow_id: str
    version: int
    columns: list[Column]
    retired: Column
    recently_completed: list[Finished]
    """The last 20 items that ended (completed, failed or cancelled), the latest first."""


class WorkSummary(msgspec.Struct, kw_only=True):
    work_id: str
    workflow_id: str
    workflow_version: int
    intake_id: str | None
    status: str
    current_step: str
    input_summary: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class Stats(msgspec.Struct, kw_only=True):
    """One day (see ``from``/``to``, ``time_zone``): ``runs`` received in it; the others
    ended in it."""

    time_zone: str
    from_: datetime = msgspec.field(name="from")
    to: datetime
    runs: int
    completed: int
    failed: int
    cancelled: int
    success_rate: float | None
    """completed / (completed + failed); null when neither."""
    p50_ms: int | None
    p95_ms: int | None
    """Receipt to end, of the items that completed or failed in the day."""
