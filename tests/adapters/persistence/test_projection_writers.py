"""Two processes write while a projection runs: it folds every event exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from uuid import UUID, uuid4

from eventsourcing.persistence import Notification

from auxot.adapters.persistence import parse_database_url
from auxot.application.ports import IndexRow, IndexView, WorkQuery
from auxot.application.projection import IndexProjection
from auxot.application.stores import WorkLog
from auxot.application.work_index import index_row_of
from auxot.domain.work_item import WorkItem

ROOT = Path(__file__).resolve().parents[3]
BATCHES, PER_BATCH = 30, 20

WRITER = """
import sys
from datetime import timedelta
from uuid import UUID
from auxot.adapters.persistence import parse_database_url
from auxot.application.stores import WorkLog
from tests.adapters.persistence.history import T0, record_history

url, workflow, day, batches, per_batch = sys.argv[1:]
database = parse_database_url(url)
with database.opening():  # as every Auxot process starts: table creation one at a time
    work = WorkLog(env=database.env("work"))
for n in range(int(batches)):
    start = T0 + timedelta(days=int(day), minutes=n)
    record_history(work, int(per_batch), UUID(workflow), start=start, batch=int(per_batch))
work.close()
"""


class Recording(IndexProjection):
    """Remembers the notification ids of every batch it saved."""

    def __init__(self, work: WorkLog, index: IndexView) -> None:
        super().__init__(work, index, batch=25)
        self.applied: list[int] = []
        self._last: list[int] = []

    def _items(self, notifications: Sequence[Notification]) -> list[WorkItem]:
        self._last = [n.id for n in notifications]
        return super()._items(notifications)

    def catch_up(self) -> int:
        projected = super().catch_up()
        if projected:
            self.applied += self._last
        return projected


def test_two_writing_processes_and_a_projection_no_event_missed_none_twice(
    durable_url: str,
) -> None:
    database = parse_database_url(durable_url)
    work = WorkLog(env=database.env(WorkLog.name))
    index = database.index_view(work)
    projection = Recording(work, index)
    workflow = uuid4()
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    stop = threading.Event()

    def project() -> None:
        while not stop.is_set():
            if not projection.catch_up():
                stop.wait(0.01)  # the projector's poll interval

    runner = threading.Thread(target=project)
    runner.start()
    try:
        writers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    WRITER,
                    durable_url,
                    str(workflow),
                    str(day),
                    str(BATCHES),
                    str(PER_BATCH),
                ],
                cwd=ROOT,
                env=env,
            )
            for day in (1, 2)
        ]
        for writer in writers:
            assert writer.wait(timeout=120) == 0
    finally:
        stop.set()
        runner.join()
    assert projection.applied, "the projection folded nothing while the writers wrote"
    projection.catch_up_fully()

    logged = [n.id for n in work.recorder.select_notifications(start=1, limit=10**6)]
    assert len(logged) > 2 * BATCHES * PER_BATCH  # each item has one to six events
    assert sorted(projection.applied) == logged  # none missed, none twice
    rows = {r.work_id: r for r in _all_rows(index)}
    assert len(rows) == 2 * BATCHES * PER_BATCH
    assert all(row == index_row_of(work.item(work_id)) for work_id, row in rows.items())
    work.close()


def _all_rows(index: IndexView) -> list[IndexRow]:
    rows: list[IndexRow] = []
    before: tuple[datetime, UUID] | None = None
    while page := index.page(WorkQuery(workflows=None), 100, before):
        rows += page
        before = (page[-1].created_at, page[-1].work_id)
    return rows
