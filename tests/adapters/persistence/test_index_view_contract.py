"""The IndexView contract, the same on memory, SQLite and PostgreSQL: what the board,
the work list and the statistics read, the shadow and the swap."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import attrs
import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from auxot.adapters.persistence import parse_database_url
from auxot.application.ports import IndexRow, IndexView, WorkQuery
from auxot.application.stores import WorkLog

T0 = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
WORKFLOW, OTHER = uuid4(), uuid4()
INTAKE = uuid4()


@pytest.fixture
def index(database_url: str) -> Iterator[IndexView]:
    database = parse_database_url(database_url)
    work = WorkLog(env=database.env(WorkLog.name))
    yield database.index_view(work)
    work.close()


def row(n: int, **changes: object) -> IndexRow:
    """Item ``n``, received ``n`` seconds after T0, pending at ``classify``."""
    at = T0 + timedelta(seconds=n)
    base = IndexRow(
        work_id=UUID(int=n + 1),
        workflow_id=WORKFLOW,
        workflow_version=1,
        intake_id=INTAKE,
        status="pending",
        step="classify",
        step_since=at,
        attempt=0,
        waiting=False,
        assignee=None,
        team=None,
        input_summary=f'{{"n":{n}}}',
        created_at=at,
        updated_at=at,
        finished_at=None,
        duration_ms=None,
    )
    return attrs.evolve(base, **changes)


def ended(n: int, status: str, duration_ms: int) -> IndexRow:
    at = T0 + timedelta(seconds=n)
    return row(
        n,
        status=status,
        finished_at=at + timedelta(milliseconds=duration_ms),
        duration_ms=duration_ms,
    )


def test_rows_read_back_equal_and_upsert_in_place(index: IndexView) -> None:
    first = row(1, waiting=True, assignee="ann", team="support", attempt=2, intake_id=None)
    index.save([first, row(2)], Tracking("work_index", 1))
    assert index.page(WorkQuery(workflows=None), 10, None) == [row(2), first]
    done = ended(1, "completed", 1500)
    index.save([done], Tracking("work_index", 2))
    assert index.page(WorkQuery(workflows=None), 10, None) == [row(2), done]
    with pytest.raises(IntegrityError):
        index.save([row(3)], Tracking("work_index", 2))
    assert index.max_tracking_id("work_index") == 2


def test_active_caps_cards_per_step_longest_waiting_first(index: IndexView) -> None:
    rows = [row(n) for n in range(5)] + [row(n, step="reply") for n in range(5, 8)]
    rows += [ended(8, "completed", 10), row(9, workflow_id=OTHER)]
    index.save(rows, Tracking("work_index", 1))
    shown, counts = index.active(WORKFLOW, per_step=2)
    assert counts == {"classify": 5, "reply": 3}
    assert shown == [rows[0], rows[1], rows[5], rows[6]]


def test_recent_is_the_latest_ended_first(index: IndexView) -> None:
    rows = [ended(n, "completed" if n % 2 else "failed", 1000 - n) for n in range(30)]
    index.save([*rows, row(40)], Tracking("work_index", 1))
    recent = index.recent(WORKFLOW, 20)
    assert recent == sorted(rows, key=lambda r: r.finished_at or T0, reverse=True)[:20]


def test_page_filters(index: IndexView) -> None:
    rows = [
        row(0),
        ended(1, "completed", 5),
        row(2, intake_id=None),
        row(3, workflow_id=OTHER),
        ended(4, "failed", 5),
    ]
    index.save(rows, Tracking("work_index", 1))

    def ids(**query: object) -> list[int]:
        found = index.page(WorkQuery(**{"workflows": None, **query}), 10, None)  # type: ignore[arg-type]
        return [r.work_id.int - 1 for r in found]

    assert ids() == [4, 3, 2, 1, 0]
    assert ids(workflows=frozenset({WORKFLOW})) == [4, 2, 1, 0]
    assert ids(workflows=frozenset()) == []
    assert ids(status="completed") == [1]
    assert ids(workflow_id=OTHER) == [3]
    assert ids(intake_id=INTAKE) == [4, 3, 1, 0]
    assert ids(created_from=T0 + timedelta(seconds=1), created_to=T0 + timedelta(seconds=4)) == [
        3,
        2,
        1,
    ]


def test_pages_stay_put_under_concurrent_inserts(index: IndexView) -> None:
    """Newest first by (created_at, work_id): an item added between two pages, newer or
    (received earlier, projected late) older, never repeats or hides one of the rest."""
    index.save([row(n) for n in range(0, 100, 2)], Tracking("work_index", 1))
    seen: list[UUID] = []
    before = None
    tracking = 2
    while page := index.page(WorkQuery(workflows=None), 7, before):
        seen += [r.work_id for r in page]
        before = (page[-1].created_at, page[-1].work_id)
        last = page[-1].work_id.int - 1
        late = [row(1000 + tracking)]  # newer than all
        late += [row(last - 1)] if last >= 1 else []  # received just before the last shown
        index.save(late, Tracking("work_index", tracking))
        tracking += 1
    assert len(seen) == len(set(seen))
    assert {UUID(int=n + 1) for n in range(0, 100, 2)} <= set(seen)


def test_same_created_at_pages_by_work_id(index: IndexView) -> None:
    rows = [row(0, work_id=UUID(int=n)) for n in range(1, 26)]
    index.save(rows, Tracking("work_index", 1))
    seen: list[UUID] = []
    before = None
    while page := index.page(WorkQuery(workflows=None), 10, before):
        seen += [r.work_id for r in page]
        before = (page[-1].created_at, page[-1].work_id)
    assert seen == [UUID(int=n) for n in range(25, 0, -1)]


def test_stats_count_a_window_and_rank_durations(index: IndexView) -> None:
    durations = [100 * (n + 1) for n in range(10)]  # 100 .. 1000
    rows = [ended(n, "completed", d) for n, d in enumerate(durations[:8])]
    rows += [ended(8, "failed", durations[8]), ended(9, "failed", durations[9])]
    rows += [ended(10, "cancelled", 1), row(11), row(12, intake_id=None)]
    before = attrs.evolve(row(30), created_at=T0 - timedelta(hours=2))
    rows += [ended(20_000, "completed", 5), before]  # outside the window
    rows += [attrs.evolve(ended(13, "completed", 7), workflow_id=OTHER, intake_id=uuid4())]
    index.save(rows, Tracking("work_index", 1))
    start, end = T0, T0 + timedelta(hours=1)

    stats = index.stats(("workflow", WORKFLOW), start, end, (50, 95))
    assert (stats.runs, stats.completed, stats.failed, stats.cancelled) == (13, 8, 2, 1)
    assert stats.durations == {50: 500, 95: 1000}

    by_intake = index.stats(("intake", INTAKE), start, end, (50,))
    assert by_intake.runs == 12  # not the manual task

    empty = index.stats(("workflow", uuid4()), start, end, (50, 95))
    assert (empty.runs, empty.completed, empty.durations) == (0, 0, {50: None, 95: None})


def test_a_shadow_is_swapped_in_only_at_or_past_the_live_position(index: IndexView) -> None:
    index.save([row(1), row(2)], Tracking("work_index", 5))
    shadow = index.shadow("work_index:shadow")
    assert shadow.tables != index.tables
    shadow.save([ended(1, "completed", 3)], Tracking("work_index:shadow", 4))
    assert not index.swap_in(shadow, {"work_index": "work_index:shadow"})
    assert index.page(WorkQuery(workflows=None), 10, None) == [row(2), row(1)]

    shadow.save([row(3)], Tracking("work_index:shadow", 6))
    assert index.swap_in(shadow, {"work_index": "work_index:shadow"})
    assert index.page(WorkQuery(workflows=None), 10, None) == [row(3), ended(1, "completed", 3)]
    assert index.max_tracking_id("work_index") == 6
    assert not index.max_tracking_id("work_index:shadow")
    index.save([row(4)], Tracking("work_index", 7))  # the live projection goes on


def test_a_new_shadow_starts_empty(index: IndexView) -> None:
    first = index.shadow("work_index:shadow")
    first.save([row(1)], Tracking("work_index:shadow", 3))
    again = index.shadow("work_index:shadow")
    assert not again.max_tracking_id("work_index:shadow")  # a rebuild reads from the start
    again.save([], Tracking("work_index:shadow", 1))
    assert index.swap_in(again, {"work_index": "work_index:shadow"})
    assert index.page(WorkQuery(workflows=None), 10, None) == []
