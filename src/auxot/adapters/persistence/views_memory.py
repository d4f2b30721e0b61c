"""In-memory read models for ``memory://``: the rebuild support every memory view shares,
and the work index."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Self
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.popo import POPOTrackingRecorder

from auxot.application.ports import IndexRow, Scope, StatsCounts, WorkQuery
from auxot.application.stats import nearest_rank


class MemoryRebuildable(POPOTrackingRecorder):
    """Rows by work id; a shadow is a fresh instance, swapped in under both locks."""

    TABLES: ClassVar[tuple[str, ...]] = ()

    def __init__(self, prefix: str = "") -> None:
        super().__init__()
        self._prefix = prefix
        self._rows: dict[Any, Any] = {}

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(self._prefix + table for table in self.TABLES)

    def shadow(self, *keys: str) -> Self:
        return type(self)("shadow_")  # a fresh instance: no rows, no positions

    def swap_in(self, shadow: Self, keys: Mapping[str, str]) -> bool:
        with self._database_lock, shadow._database_lock:
            positions = {live: shadow._max_tracking_ids[copy] or 0 for live, copy in keys.items()}
            if any(at < (self._max_tracking_ids[live] or 0) for live, at in positions.items()):
                return False
            self._rows = dict(shadow._rows)  # readers see the old dict or the new one
            self._max_tracking_ids.update(positions)
            shadow._rows = {}
        return True


class MemoryIndexView(MemoryRebuildable):
    TABLES = ("work_index",)

    def save(self, rows: Sequence[IndexRow], tracking: Tracking) -> None:
        with self._database_lock:
            self._assert_tracking_uniqueness(tracking)
            for row in rows:
                self._rows[row.work_id] = row
            self._insert_tracking(tracking)

    def _all(self) -> list[IndexRow]:
        with self._database_lock:
            return list(self._rows.values())

    def active(self, workflow_id: UUID, per_step: int) -> tuple[list[IndexRow], dict[str, int]]:
        rows = [r for r in self._all() if r.workflow_id == workflow_id and r.finished_at is None]
        rows.sort(key=lambda r: (r.step_since, r.work_id))
        counts: dict[str, int] = {}
        shown = []
        for row in rows:
            counts[row.step] = counts.get(row.step, 0) + 1
            if counts[row.step] <= per_step:
                shown.append(row)
        return shown, counts

    def recent(self, workflow_id: UUID, limit: int) -> list[IndexRow]:
        ended = [r for r in self._all() if r.workflow_id == workflow_id and r.finished_at]
        ended.sort(key=lambda r: (r.finished_at, r.work_id), reverse=True)
        return ended[:limit]

    def page(
        self, query: WorkQuery, limit: int, before: tuple[datetime, UUID] | None
    ) -> list[IndexRow]:
        rows = [
            r
            for r in self._all()
            if _matches(r, query) and (before is None or (r.created_at, r.work_id) < before)
        ]
        rows.sort(key=lambda r: (r.created_at, r.work_id), reverse=True)
        return rows[:limit]

    def stats(
        self, scope: Scope, start: datetime, end: datetime, percentiles: Sequence[int]
    ) -> StatsCounts:
        kind, id = scope
        mine = [
            r for r in self._all() if (r.workflow_id if kind == "workflow" else r.intake_id) == id
        ]
        ended = [r for r in mine if r.finished_at is not None and start <= r.finished_at < end]
        durations = sorted(
            r.duration_ms
            for r in ended
            if r.status in ("completed", "failed") and r.duration_ms is not None
        )
        return StatsCounts(
            runs=sum(1 for r in mine if start <= r.created_at < end),
            completed=sum(1 for r in ended if r.status == "completed"),
            failed=sum(1 for r in ended if r.status == "failed"),
            cancelled=sum(1 for r in ended if r.status == "cancelled"),
            durations={
                p: durations[nearest_rank(p, len(durations))] if durations else None
                for p in percentiles
            },
        )


def _matches(row: IndexRow, q: WorkQuery) -> bool:
    return (
        (q.workflows is None or row.workflow_id in q.workflows)
        and (q.status is None or row.status == q.status)
        and (q.workflow_id is None or row.workflow_id == q.workflow_id)
        and (q.intake_id is None or row.intake_id == q.intake_id)
        and (q.created_from is None or row.created_at >= q.created_from)
        and (q.created_to is None or row.created_at < q.created_to)
    )
