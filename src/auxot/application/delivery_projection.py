"""The deliveries projection: follows the work log and keeps ``DeliveryView`` rows.

A delivery row is a function of one work item's state, so this is an ``ItemProjection``
(projections.py) like the status and index ones: batches folded per item, rows written
with the tracked position in one transaction, rebuildable by ``auxot replay``. Only
notifications of callback events touch a delivery, so only those items are read. Its
position keeps the tracking name it always had (``work.deliveries``).
"""

from __future__ import annotations

from eventsourcing.utils import get_topic

from auxot.application.delivery_records import delivery_row
from auxot.application.ports import DeliveryRow, DeliveryView
from auxot.application.projections import ItemProjection
from auxot.application.stores import WorkLog
from auxot.domain import callback

_CALLBACK_TOPICS = frozenset(get_topic(cls) for cls in callback.EVENTS)


def delivery_projection(
    work: WorkLog, view: DeliveryView, *, batch: int = 500
) -> ItemProjection[DeliveryRow]:
    return ItemProjection(
        "deliveries",
        work,
        view,
        delivery_row,
        tracking_key=f"{work.name}.deliveries",
        topics=_CALLBACK_TOPICS,
        batch=batch,
    )
