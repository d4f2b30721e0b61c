"""The AuditView contract, the same on memory, SQLite and PostgreSQL: rows in time order,
each filter, team scoping, positions for paging, idempotent saves, tracking and the
shadow swap. Each view is built as production builds it, beside the work log and on its pool."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import attrs
import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from auxot.adapters.persistence import parse_database_url
from auxot.application.ports import AuditQuery, AuditRow, AuditView, WorkView
from auxot.application.stores import WorkLog

T0 = datetime(2025, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)
TEAM_A, TEAM_B = UUID(int=0xA), UUID(int=0xB)
KEY = UUID(int=0xC)


class Opened:
    def __init__(self, url: str) -> None:
        database = parse_database_url(url)
        self.work = WorkLog(env=database.env(WorkLog.name))
        self.view: AuditView = database.audit_view(self.work)
        self.work_view: WorkView = database.work_view(self.work)

    def close(self) -> None:
        self.work.close()


@pytest.fixture
def opened(database_url: str) -> Iterator[Opened]:
    it = Opened(database_url)
    yield it
    it.close()


def row(n: int, **fields: object) -> AuditRow:
    values: dict[str, object] = {
        "stream": UUID(int=n),
        "version": 1,
        "at": T0 + timedelta(seconds=n),
        "actor": "user:ann",
        "key_id": None,
        "team_id": TEAM_A,
        "resource": f"workflow_{UUID(int=n).hex}",
        "action": "workflow.paused",
        "details": b'{"n": %d}' % n,
    }
    values.update(fields)
    return AuditRow(**values)  # type: ignore[arg-type]


def query(**fields: object) -> AuditQuery:
    fields.setdefault("teams", None)
    fields.setdefault("limit", 100)
    return AuditQuery(**fields)  # type: ignore[arg-type]


def test_rows_read_back_whole_in_time_order(opened: Opened) -> None:
    rows = [row(3, key_id=KEY, team_id=None), row(1), row(2, version=7)]
    opened.view.save(rows, Tracking("audit.work", 1))
    assert opened.view.query(query()) == sorted(rows, key=lambda r: r.position)


def test_times_keep_their_microseconds_and_compare_across_zones(opened: Opened) -> None:
    plus_two = T0.astimezone(timezone(timedelta(hours=2)))
    opened.view.save([row(0, at=plus_two)], Tracking("audit.work", 1))
    [found] = opened.view.query(query(since=T0, until=T0 + timedelta(microseconds=1)))
    assert found.at == T0


def test_each_filter_narrows_the_rows(opened: Opened) -> None:
    opened.view.save(
        [
            row(1),
            row(2, actor="team:support", key_id=KEY, action="key.revoked"),
            row(3, team_id=TEAM_B, resource="intake_x"),
            row(4, team_id=None, actor="cli:root"),
        ],
        Tracking("audit.registry", 1),
    )

    def streams(**fields: object) -> list[int]:
        return [r.stream.int for r in opened.view.query(query(**fields))]

    assert streams() == [1, 2, 3, 4]
    assert streams(teams=frozenset({TEAM_A})) == [1, 2]
    assert streams(teams=frozenset({TEAM_A, TEAM_B})) == [1, 2, 3]
    assert streams(teams=frozenset()) == []
    assert streams(actor="team:support") == [2]
    assert streams(actor=f"key:{KEY}") == [2]
    assert streams(actor=f"key_{KEY.hex}") == [2]
    assert streams(actor="key:not-a-uuid") == []
    assert streams(actor="cli:root") == [4]
    assert streams(action="key.revoked") == [2]
    assert streams(resource="intake_x") == [3]
    assert streams(since=T0 + timedelta(seconds=2), until=T0 + timedelta(seconds=4)) == [2, 3]
    assert streams(after=row(2).position) == [3, 4]
    assert streams(limit=2) == [1, 2]


def test_rows_at_the_same_instant_page_by_stream_then_version(opened: Opened) -> None:
    rows = [row(n % 3, version=1 + n // 3, at=T0) for n in range(9)]
    opened.view.save(rows, Tracking("audit.work", 1))
    paged: list[AuditRow] = []
    after = None
    while page := opened.view.query(query(limit=2, after=after)):
        paged.extend(page)
        after = page[-1].position
    assert paged == sorted(rows, key=lambda r: r.position)


def test_a_row_saved_again_is_kept_as_first_saved(opened: Opened) -> None:
    opened.view.save([row(1)], Tracking("audit.work", 1))
    opened.view.save([attrs.evolve(row(1), actor="team:x")], Tracking("audit.work", 2))
    assert [r.actor for r in opened.view.query(query())] == ["user:ann"]


def test_a_position_is_recorded_once_per_log(opened: Opened) -> None:
    opened.view.save([row(1)], Tracking("audit.work", 5))
    opened.view.save([], Tracking("audit.registry", 5))  # another log, its own positions
    with pytest.raises(IntegrityError):
        opened.view.save([row(2)], Tracking("audit.work", 5))
    assert [r.stream.int for r in opened.view.query(query())] == [1]  # nothing half-saved
    assert opened.view.max_tracking_id("audit.work") == 5
    assert opened.view.max_tracking_id("audit.registry") == 5


def test_its_positions_do_not_collide_with_the_status_views(opened: Opened) -> None:
    """Both follow the work log and share the database's tracking table."""
    opened.view.save([row(1)], Tracking("audit.work", 3))
    opened.work_view.save([], Tracking("work", 3))
    assert opened.work_view.max_tracking_id("work") == 3


def test_a_shadow_swaps_in_both_positions_and_leaves_other_positions(opened: Opened) -> None:
    opened.view.save([row(1)], Tracking("audit.work", 3))
    opened.work_view.save([], Tracking("work", 7))
    keys = {"audit.work": "audit.work:shadow", "audit.registry": "audit.registry:shadow"}
    shadow = opened.view.shadow(*keys.values())
    shadow.save([row(1), row(2)], Tracking("audit.work:shadow", 2))
    shadow.save([], Tracking("audit.registry:shadow", 4))
    assert not opened.view.swap_in(shadow, keys)  # its work position is behind the live one
    assert len(opened.view.query(query())) == 1
    shadow.save([], Tracking("audit.work:shadow", 3))
    assert opened.view.swap_in(shadow, keys)
    assert len(opened.view.query(query())) == 2
    assert opened.view.max_tracking_id("audit.work") == 3
    assert opened.view.max_tracking_id("audit.registry") == 4
    assert opened.view.max_tracking_id("audit.work:shadow") is None
    assert opened.work_view.max_tracking_id("work") == 7
