"""The WorkView contract, the same on memory, SQLite and PostgreSQL.

Each view is built as production builds it: ``WorkLog(env=db.env("work"))`` and then
``db.work_view(work)``, so it shares the work log's database and connection pool.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID, uuid4

import attrs
import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from auxot.adapters.persistence import parse_database_url
from auxot.application.ports import HumanTask, WorkRow, WorkView
from auxot.application.stores import WorkLog

T0 = datetime(2025, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))
# Not valid UTF-8 and not JSON: the view stores bytes, whatever they hold.
ODD_BYTES = b'{"status": "running"}\x00\xff\xfe'


class Opened:
    """A work log and its view, as the composition root wires them."""

    def __init__(self, url: str) -> None:
        self.database = parse_database_url(url)
        self.work = WorkLog(env=self.database.env(WorkLog.name))
        self.view: WorkView = self.database.work_view(self.work)

    def close(self) -> None:
        self.work.close()


@pytest.fixture
def opened(database_url: str) -> Iterator[Opened]:
    it = Opened(database_url)
    yield it
    it.close()


def row(
    work_id: UUID | None = None,
    *,
    status: str = "pending",
    version: int = 1,
    due_at: datetime | None = T0,
    updated_at: datetime = T0,
    record: bytes = b"{}",
) -> WorkRow:
    return WorkRow(
        work_id=work_id or uuid4(),
        intake_id=uuid4(),
        workflow_id=uuid4(),
        status=status,
        version=version,
        due_at=due_at,
        updated_at=updated_at,
        record=record,
    )


def assert_same_row(got: WorkRow | None, expected: WorkRow) -> None:
    assert got == expected  # datetimes compare as instants, whatever their zone
    assert got is not None
    for field in ("due_at", "updated_at"):
        value = getattr(got, field)
        assert value is None or value.utcoffset() is not None, f"{field} came back naive"
    assert type(got.record) is bytes
    assert type(got.work_id) is UUID


# -- save and get -----------------------------------------------------------------------


def test_saved_rows_read_back_equal_field_by_field(opened: Opened) -> None:
    rows = [
        row(
            status="running",
            version=7,
            due_at=T0 + timedelta(minutes=5),
            updated_at=T0,
            record=ODD_BYTES,
        ),
        # Another zone: stored and read back as the same instant.
        row(status="pending", version=1, due_at=T0.astimezone(PLUS_TWO), updated_at=T0),
        row(status="completed", version=2**31 - 1, due_at=None, record=b""),
    ]
    opened.view.save(rows, Tracking("work", 3))

    for expected in rows:
        assert_same_row(opened.view.get(expected.work_id), expected)
    assert opened.view.get(uuid4()) is None


def test_microseconds_survive(opened: Opened) -> None:
    saved = row(due_at=T0 + timedelta(microseconds=1), updated_at=T0 - timedelta(microseconds=1))
    opened.view.save([saved], Tracking("work", 1))
    got = opened.view.get(saved.work_id)
    assert got is not None
    assert got.due_at == T0 + timedelta(microseconds=1)
    assert got.updated_at == T0 - timedelta(microseconds=1)


def test_save_upserts_a_row_in_place(opened: Opened) -> None:
    first = row(status="pending", version=1, due_at=T0, record=b'{"v": 1}')
    opened.view.save([first], Tracking("work", 1))

    later = attrs.evolve(
        first,
        status="completed",
        version=5,
        due_at=None,
        updated_at=T0 + timedelta(seconds=3),
        record=b'{"v": 5}',
    )
    opened.view.save([later], Tracking("work", 2))

    assert_same_row(opened.view.get(first.work_id), later)
    assert opened.view.due(T0 + timedelta(days=1), 10) == []  # no stale queue entry


def test_one_save_may_hold_many_rows_and_none(opened: Opened) -> None:
    rows = [row() for _ in range(250)]
    opened.view.save(rows, Tracking("work", 10))
    opened.view.save([], Tracking("work", 11))  # a batch of events for no projected item
    assert all(opened.view.get(r.work_id) == r for r in rows)
    assert opened.view.max_tracking_id("work") == 11


# -- due ------------------------------------------------------------------------------


def test_due_returns_what_is_due_earliest_first_then_by_work_id(opened: Opened) -> None:
    now = T0 + timedelta(seconds=10)
    low, high = UUID(int=0x10 << 120), UUID(int=0xF0 << 120)  # high sorts after low
    early = row(due_at=T0)
    # A tie on due_at, saved in the reverse of the expected order.
    tie_high = row(high, due_at=T0 + timedelta(seconds=1))
    tie_low = row(low, due_at=(T0 + timedelta(seconds=1)).astimezone(PLUS_TWO))
    # One microsecond apart: the order must hold at the clock's resolution.
    micro_a = row(due_at=T0 + timedelta(seconds=2))
    micro_b = row(due_at=T0 + timedelta(seconds=2, microseconds=1))
    at_now = row(due_at=now)  # due_at == now is due
    future = row(due_at=now + timedelta(microseconds=1))
    terminal = row(status="completed", due_at=None)
    opened.view.save(
        [future, micro_b, terminal, tie_high, at_now, micro_a, tie_low, early],
        Tracking("work", 1),
    )

    expected = [early, tie_low, tie_high, micro_a, micro_b, at_now]
    assert opened.view.due(now, 100) == [r.work_id for r in expected]
    assert opened.view.due(now, 3) == [r.work_id for r in expected[:3]]
    assert opened.view.due(now, 1) == [early.work_id]
    assert opened.view.due(now, 2, offset=2) == [r.work_id for r in expected[2:4]]
    assert opened.view.due(now, 100, offset=5) == [expected[5].work_id]
    assert opened.view.due(now, 100, offset=6) == []
    assert opened.view.due(T0 - timedelta(microseconds=1), 100) == []
    # ``now`` in another zone means the same instant.
    assert opened.view.due(now.astimezone(PLUS_TWO), 100) == [r.work_id for r in expected]


def test_due_is_empty_without_rows(opened: Opened) -> None:
    assert opened.view.due(T0, 10) == []


# -- tracking ---------------------------------------------------------------------------


@pytest.mark.parametrize("position", [5, 4, 1], ids=["same", "lower", "much-lower"])
def test_a_save_not_above_the_tracked_position_fails_and_writes_nothing(
    opened: Opened, position: int
) -> None:
    kept = row(status="running", version=3, record=b'{"v": 3}')
    opened.view.save([kept], Tracking("work", 5))

    newcomer = row()
    overwrite = attrs.evolve(kept, status="completed", version=9, due_at=None, record=b"x")
    with pytest.raises(IntegrityError):
        opened.view.save([newcomer, overwrite], Tracking("work", position))

    assert opened.view.get(newcomer.work_id) is None
    assert_same_row(opened.view.get(kept.work_id), kept)
    assert opened.view.due(T0, 10) == [kept.work_id]
    assert opened.view.max_tracking_id("work") == 5
    # The failed save left the view usable.
    opened.view.save([newcomer], Tracking("work", 6))
    assert opened.view.get(newcomer.work_id) == newcomer


def test_max_tracking_id_follows_saves_per_application(opened: Opened) -> None:
    view = opened.view
    assert view.max_tracking_id("work") is None

    view.save([row()], Tracking("work", 3))
    assert view.max_tracking_id("work") == 3

    view.save([], Tracking("other", 40))
    assert (view.max_tracking_id("work"), view.max_tracking_id("other")) == (3, 40)

    view.save([row()], Tracking("work", 17))  # gaps are normal (PostgreSQL burns ids)
    assert (view.max_tracking_id("work"), view.max_tracking_id("other")) == (17, 40)
    assert view.max_tracking_id("registry") is None


# -- durability -------------------------------------------------------------------------


def test_a_view_opened_again_sees_the_same_rows(durable_url: str) -> None:
    rows = [row(due_at=T0 + timedelta(seconds=i), record=ODD_BYTES) for i in range(3)]
    terminal = row(status="failed", due_at=None)
    first = Opened(durable_url)
    try:
        first.view.save([*rows, terminal], Tracking("work", 42))
    finally:
        first.close()

    again = Opened(durable_url)
    try:
        for expected in [*rows, terminal]:
            assert_same_row(again.view.get(expected.work_id), expected)
        assert again.view.max_tracking_id("work") == 42
        assert again.view.due(T0 + timedelta(hours=1), 10) == [r.work_id for r in rows]
        with pytest.raises(IntegrityError):
            again.view.save([row()], Tracking("work", 42))
    finally:
        again.close()


def test_two_views_on_one_database_see_each_others_saves(durable_url: str) -> None:
    one, two = Opened(durable_url), Opened(durable_url)
    try:
        saved = row()
        one.view.save([saved], Tracking("work", 1))
        assert two.view.get(saved.work_id) == saved
        assert two.view.max_tracking_id("work") == 1
        # The position is shared: the second process cannot record the same batch.
        with pytest.raises(IntegrityError):
            two.view.save([row()], Tracking("work", 1))
        two.view.save([], Tracking("work", 2))
        assert one.view.max_tracking_id("work") == 2
    finally:
        one.close()
        two.close()


# -- human tasks ------------------------------------------------------------------------


def waiting(
    since: datetime,
    *,
    assignee: str | None = None,
    team: str | None = None,
    not_by: str | None = None,
    timeout_at: datetime | None = None,
    work_id: UUID | None = None,
) -> WorkRow:
    task = HumanTask(
        step="review",
        assignee=assignee,
        team=team,
        since=since,
        timeout_at=timeout_at,
        not_by=not_by,
        input=b'{"customer": "Acme"}',
    )
    return attrs.evolve(row(work_id, status="running", due_at=timeout_at), task=task)


def test_a_waiting_task_reads_back_with_its_row(opened: Opened) -> None:
    saved = waiting(
        T0.astimezone(PLUS_TWO), assignee="ann", not_by="bob",
        timeout_at=T0 + timedelta(hours=2, microseconds=1),
    )
    opened.view.save([saved], Tracking("work", 1))
    assert_same_row(opened.view.get(saved.work_id), saved)
    got = opened.view.get(saved.work_id)
    assert got is not None
    assert got.task is not None
    assert type(got.task.input) is bytes
    assert got.task.since.utcoffset() is not None

    # The item moves on: its task is gone, from the row and from every list.
    moved = attrs.evolve(saved, task=None, status="completed", due_at=None, version=2)
    opened.view.save([moved], Tracking("work", 2))
    assert_same_row(opened.view.get(saved.work_id), moved)
    assert opened.view.tasks("ann", [], 10) == []


def test_tasks_are_those_of_the_user_or_their_teams_oldest_first(opened: Opened) -> None:
    low, high = UUID(int=0x10 << 120), UUID(int=0xF0 << 120)
    mine = waiting(T0 + timedelta(seconds=3), assignee="ann")
    team = waiting(T0 + timedelta(seconds=1), team="support")
    tie_high = waiting(T0 + timedelta(seconds=2), team="support", work_id=high)
    tie_low = waiting(T0 + timedelta(seconds=2), assignee="ann", work_id=low)
    micro = waiting(T0 + timedelta(seconds=3, microseconds=1), team="legal")
    others = [
        waiting(T0, assignee="bob"),  # someone else's
        waiting(T0, team="sales"),  # a team ann is not in
        waiting(T0, assignee="bob", team="support"),  # assigned to bob within the team
        waiting(T0, team="support", not_by="ann"),  # ann made what this checks
        row(status="running"),  # not waiting at all
    ]
    opened.view.save([micro, *others, mine, tie_high, team, tie_low], Tracking("work", 1))

    expected = [team.work_id, low, high, mine.work_id, micro.work_id]
    listed = opened.view.tasks("ann", ["support", "legal"], 100)
    assert [r.work_id for r in listed] == expected
    assert all(r.task is not None for r in listed)
    assert [r.work_id for r in opened.view.tasks("ann", [], 100)] == [low, mine.work_id]
    assert [r.work_id for r in opened.view.tasks("zed", ["legal"], 100)] == [micro.work_id]

    # Paging by (since, work id): every task once, in order, whatever the page size.
    for size in (1, 2, 3):
        seen: list[UUID] = []
        after = None
        while page := opened.view.tasks("ann", {"support", "legal"}, size, after):
            assert len(page) <= size
            seen += [r.work_id for r in page]
            last = page[-1]
            assert last.task is not None
            after = (last.task.since, last.work_id)
        assert seen == expected
