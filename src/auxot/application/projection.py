"""The work status projection: follows the work log and keeps ``WorkView`` rows.

Each batch of notifications is folded per item: the item is read at the highest version
the batch holds and its row rewritten, together with the batch's tracking position, in
one transaction. Positions only move forward, so a row never shows an older state than
one shown before. Any process may run it: when two project the same batch, the tracking
insert of the second fails and it simply reads the new position and goes on.
"""

from __future__ import annotations

import logging
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Tracking

from auxot.application.ports import WorkView
from auxot.application.records import row_of
from auxot.application.stores import WorkLog

log = logging.getLogger(__name__)


class WorkProjection:
    def __init__(self, work: WorkLog, view: WorkView, *, batch: int = 500) -> None:
        self._work = work
        self._view = view
        self._batch = batch

    @property
    def position(self) -> int:
        return self._view.max_tracking_id(self._work.name) or 0

    def catch_up(self) -> int:
        """Project the next batch of new events; returns how many were projected."""
        notifications = self._work.recorder.select_notifications(
            start=self.position + 1, limit=self._batch
        )
        if not notifications:
            return 0
        versions: dict[UUID, int] = {}
        for notification in notifications:
            assert isinstance(notification.originator_id, UUID)
            versions[notification.originator_id] = notification.originator_version
        rows = []
        for work_id, version in versions.items():
            rows.append(row_of(self._work.item(work_id, version)))
        try:
            self._view.save(rows, Tracking(self._work.name, notifications[-1].id))
        except IntegrityError:
            log.debug("another process projected up to %s first", notifications[-1].id)
            return 0
        return len(notifications)

    def catch_up_fully(self) -> int:
        """Project until nothing new is left; returns how many events were projected."""
        total = 0
        while projected := self.catch_up():
            total += projected
        return total
