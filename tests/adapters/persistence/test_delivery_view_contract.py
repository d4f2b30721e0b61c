"""The DeliveryView contract, the same on memory, SQLite and PostgreSQL, built as the
composition root builds it (beside the work view, on the work log's pool)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID, uuid4

import attrs
import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from auxot.application.ports import DeliveryRow, DeliveryView
from tests.adapters.persistence import test_work_view_contract as work_view_contract

T0 = datetime(2025, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)
TEAM_A, TEAM_B = uuid4(), uuid4()
NAME = "work.deliveries"


class Opened(work_view_contract.Opened):
    """The work log and its work view, plus the deliveries view beside them."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.deliveries: DeliveryView = self.database.delivery_view(self.work)


@pytest.fixture
def opened(database_url: str) -> Iterator[Opened]:
    it = Opened(database_url)
    yield it
    it.close()


def row(
    *,
    team: UUID = TEAM_A,
    status: str = "pending",
    scheduled_at: datetime = T0,
    due_at: datetime | None = T0,
    record: bytes = b'{"x": 1}\x00\xff',
) -> DeliveryRow:
    work_id = uuid4()
    return DeliveryRow(
        work_id=work_id,
        webhook_id=f"msg_{work_id.hex}",
        team_id=team,
        status=status,
        scheduled_at=scheduled_at,
        due_at=due_at,
        record=record,
    )


def test_rows_read_back_equal_and_a_save_replaces_the_row(opened: Opened) -> None:
    first = row(scheduled_at=T0.astimezone(timezone(timedelta(hours=2))))
    opened.deliveries.save([first], Tracking(NAME, 1))
    assert opened.deliveries.page(None, None, 10) == [first]
    (got,) = opened.deliveries.page(None, None, 10)
    assert got.scheduled_at.utcoffset() is not None
    assert type(got.record) is bytes

    done = attrs.evolve(first, status="delivered", due_at=None, record=b"{}")
    opened.deliveries.save([done], Tracking(NAME, 2))
    assert opened.deliveries.page(None, None, 10) == [done]
    assert opened.deliveries.max_tracking_id(NAME) == 2


def test_a_position_is_projected_once(opened: Opened) -> None:
    opened.deliveries.save([row()], Tracking(NAME, 5))
    with pytest.raises(IntegrityError):
        opened.deliveries.save([row()], Tracking(NAME, 5))
    assert len(opened.deliveries.page(None, None, 10)) == 1


def test_its_position_is_its_own_beside_the_work_views(opened: Opened) -> None:
    opened.view.save([], Tracking("work", 9))
    opened.deliveries.save([], Tracking(NAME, 3))
    assert opened.deliveries.max_tracking_id(NAME) == 3
    assert opened.view.max_tracking_id("work") == 9


def test_due_lists_pending_deliveries_due_by_now_earliest_first(opened: Opened) -> None:
    later = row(due_at=T0 + timedelta(seconds=2))
    sooner = row(due_at=T0 + timedelta(seconds=1))
    future = row(due_at=T0 + timedelta(hours=1))
    ended = row(status="dead", due_at=None)
    opened.deliveries.save([later, sooner, future, ended], Tracking(NAME, 1))
    now = T0 + timedelta(minutes=1)
    assert opened.deliveries.due(now, 10) == [sooner.work_id, later.work_id]
    assert opened.deliveries.due(now, 1) == [sooner.work_id]


def test_pages_filter_by_team_and_status_and_continue_after_a_position(opened: Opened) -> None:
    rows = [
        row(scheduled_at=T0 + timedelta(seconds=n), status="dead" if n % 2 else "delivered")
        for n in range(6)
    ]
    foreign = row(team=TEAM_B, status="dead")
    opened.deliveries.save([*rows, foreign], Tracking(NAME, 1))
    assert opened.deliveries.page({TEAM_A}, None, 10) == rows
    assert opened.deliveries.page({TEAM_A}, "dead", 10) == rows[1::2]
    assert opened.deliveries.page({TEAM_B}, "dead", 10) == [foreign]
    assert opened.deliveries.page(set(), None, 10) == []
    after = (rows[2].scheduled_at, rows[2].work_id)
    assert opened.deliveries.page({TEAM_A}, None, 2, after) == rows[3:5]
    assert len(opened.deliveries.page(None, None, 100)) == 7
