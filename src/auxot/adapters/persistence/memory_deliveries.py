"""The in-memory deliveries view, for ``memory://``."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import Tracking

from auxot.adapters.persistence.views_memory import MemoryRebuildable
from auxot.application.ports import DeliveryRow


class MemoryDeliveryView(MemoryRebuildable):
    TABLES = ("callback_deliveries",)

    def save(self, rows: Sequence[DeliveryRow], tracking: Tracking) -> None:
        with self._database_lock:
            self._assert_tracking_uniqueness(tracking)
            for row in rows:
                self._rows[row.work_id] = row
            self._insert_tracking(tracking)

    def due(self, now: datetime, limit: int) -> list[UUID]:
        with self._database_lock:
            due: list[DeliveryRow] = [
                r for r in self._rows.values() if r.due_at is not None and r.due_at <= now
            ]
        due.sort(key=lambda r: (r.due_at, r.work_id))
        return [r.work_id for r in due[:limit]]

    def page(
        self,
        teams: Collection[UUID] | None,
        status: str | None,
        limit: int,
        after: tuple[datetime, UUID] | None = None,
    ) -> list[DeliveryRow]:
        with self._database_lock:
            rows: list[DeliveryRow] = list(self._rows.values())
        chosen = [
            r
            for r in rows
            if (teams is None or r.team_id in teams)
            and (status is None or r.status == status)
            and (after is None or (r.scheduled_at, r.work_id) > after)
        ]
        chosen.sort(key=lambda r: (r.scheduled_at, r.work_id))
        return chosen[:limit]
