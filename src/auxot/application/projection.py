"""The projections of work items: the status (``WorkView`` rows: the record a poll
answers, the due queue, the human task list) and the work index (``IndexView`` rows:
boards, work lists, statistics).

Both are ``ItemProjection``s (see ``projections.py``): each batch folded per item, the
rows and the batch's position written in one transaction, positions only forward. The
status position is tracked under the work log's own name, as it always was.
"""

from __future__ import annotations

from auxot.application.ports import IndexRow, IndexView, WorkRow, WorkView
from auxot.application.projections import ItemProjection
from auxot.application.records import row_of
from auxot.application.stores import WorkLog
from auxot.application.work_index import index_row_of

STATUS = "status"
WORK_INDEX = "work_index"


class WorkProjection(ItemProjection[WorkRow]):
    def __init__(self, work: WorkLog, view: WorkView, *, batch: int = 500) -> None:
        super().__init__(STATUS, work, view, row_of, tracking_key=work.name, batch=batch)


class IndexProjection(ItemProjection[IndexRow]):
    def __init__(self, work: WorkLog, view: IndexView, *, batch: int = 500) -> None:
        super().__init__(WORK_INDEX, work, view, index_row_of, batch=batch)
