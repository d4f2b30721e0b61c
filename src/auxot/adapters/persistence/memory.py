"""The in-memory work view and provider slots, for ``memory://`` (tests, the testing kit,
quick embedding)."""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import Tracking

from auxot.adapters.persistence.views_memory import MemoryRebuildable
from auxot.application.ports import WorkRow


class MemoryWorkView(MemoryRebuildable):
    TABLES = ("work_status", "human_tasks")

    def save(self, rows: Sequence[WorkRow], tracking: Tracking) -> None:
        with self._database_lock:
            self._assert_tracking_uniqueness(tracking)
            for row in rows:
                self._rows[row.work_id] = row
            self._insert_tracking(tracking)

    def get(self, work_id: UUID) -> WorkRow | None:
        return self._rows.get(work_id)

    def due(
        self, now: datetime, limit: int, offset: int = 0, held: Collection[UUID] = ()
    ) -> list[UUID]:
        with self._database_lock:
            due = [
                r
                for r in self._rows.values()
                if r.due_at is not None
                and r.due_at <= now
                and not (r.status == "pending" and r.workflow_id in held)
            ]
        due.sort(key=lambda r: (r.due_at, r.work_id))
        return [r.work_id for r in due[offset : offset + limit]]

    def tasks(
        self,
        user: str,
        teams: Collection[str],
        limit: int,
        after: tuple[datetime, UUID] | None = None,
    ) -> list[WorkRow]:
        with self._database_lock:
            rows = list(self._rows.values())
        waiting = [
            r
            for r in rows
            if r.task is not None
            and r.task.not_by != user
            and (r.task.assignee == user or (r.task.assignee is None and r.task.team in teams))
            and (after is None or (r.task.since, r.work_id) > after)
        ]
        waiting.sort(key=lambda r: (r.task.since, r.work_id))
        return waiting[:limit]


class MemoryProviderSlots:
    """Provider slots within one process: the ``memory://`` store is not shared wider."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, dict[str, datetime]] = {}  # provider -> holder -> lease_until

    def acquire(
        self, provider: str, limit: int, holder: str, lease_until: datetime, now: datetime
    ) -> bool:
        with self._lock:
            held = self._held.setdefault(provider, {})
            for expired in [h for h, until in held.items() if until <= now]:
                del held[expired]
            if len(held) >= limit:
                return False
            held[holder] = lease_until
            return True

    def release(self, provider: str, holder: str) -> None:
        with self._lock:
            self._held.get(provider, {}).pop(holder, None)
