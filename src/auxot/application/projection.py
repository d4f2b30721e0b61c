"""The work status projection: follows the work log and keeps ``WorkView`` rows (the
record a poll answers, the due queue, the human task list).

It is an ``ItemProjection`` (see ``projections.py``): each batch folded per item, the
rows and the batch's position written in one transaction, positions only forward. Its
position is tracked under the work log's own name, as it always was.
"""

from __future__ import annotations

from auxot.application.ports import WorkRow, WorkView
from auxot.application.projections import ItemProjection
from auxot.application.records import row_of
from auxot.application.stores import WorkLog

STATUS = "status"


class WorkProjection(ItemProjection[WorkRow]):
    def __init__(self, work: WorkLog, view: WorkView, *, batch: int = 500) -> None:
        super().__init__(STATUS, work, view, row_of, tracking_key=work.name, batch=batch)
