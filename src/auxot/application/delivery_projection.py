"""The deliveries projection: follows the work log and keeps ``DeliveryView`` rows.

Like the status projection (projection.py), it folds a batch per item and writes the
rows with its tracked position in one transaction; its position is tracked under its own
name, so the two advance independently. Only notifications of callback events touch a
delivery, so only those items are read.
"""

from __future__ import annotations

import logging
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.utils import get_topic

from auxot.application.delivery_records import delivery_row
from auxot.application.ports import DeliveryView
from auxot.application.stores import WorkLog
from auxot.domain import callback

log = logging.getLogger(__name__)

_CALLBACK_TOPICS = frozenset(get_topic(cls) for cls in callback.EVENTS)


class DeliveryProjection:
    def __init__(self, work: WorkLog, view: DeliveryView, *, batch: int = 500) -> None:
        self._work = work
        self._view = view
        self._batch = batch
        self.name = f"{work.name}.deliveries"

    @property
    def position(self) -> int:
        return self._view.max_tracking_id(self.name) or 0

    def catch_up(self) -> int:
        """Project the next batch of new events; returns how many were read."""
        notifications = self._work.recorder.select_notifications(
            start=self.position + 1, limit=self._batch
        )
        if not notifications:
            return 0
        versions: dict[UUID, int] = {}
        for notification in notifications:
            if notification.topic in _CALLBACK_TOPICS:
                assert isinstance(notification.originator_id, UUID)
                versions[notification.originator_id] = notification.originator_version
        rows = [delivery_row(self._work.item(w, v)) for w, v in versions.items()]
        try:
            self._view.save(
                [row for row in rows if row is not None],
                Tracking(self.name, notifications[-1].id),
            )
        except IntegrityError:
            log.debug("another process projected deliveries up to %s", notifications[-1].id)
            return 0
        return len(notifications)

    def catch_up_fully(self) -> int:
        total = 0
        while projected := self.catch_up():
            total += projected
        return total
