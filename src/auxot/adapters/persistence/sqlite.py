"""SQLite: per-application event tables, the work view and the provider slots, in one
database file."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import (
    SQLiteDatastore,
    SQLiteRecorder,
)

from auxot.adapters.persistence.rows import loaded_intake, stored_intake
from auxot.adapters.persistence.sqlite_chain import ChainedEventsRecorder, SQLiteChainedLog
from auxot.adapters.persistence.sqlite_tx import immediate
from auxot.adapters.persistence.views_sqlite import SQLiteRebuildable
from auxot.application.ports import HumanTask, WorkRow


class RegistryEventsRecorder(ChainedEventsRecorder):
    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, events_table_name="registry_events")


class WorkEventsRecorder(ChainedEventsRecorder):
    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, events_table_name="work_events")


_RECORDERS = {"registry": RegistryEventsRecorder, "work": WorkEventsRecorder}


def chained_log(datastore: SQLiteDatastore, app_name: str) -> SQLiteChainedLog:
    """The chained log of ``app_name``'s events table."""
    return SQLiteChainedLog(datastore, app_name, f"{app_name}_events")


def events_recorder_topic(app_name: str) -> str:
    """Each application gets its own events table (the library's default is one shared
    ``stored_events`` table, which two applications in one file would both write)."""
    cls = _RECORDERS[app_name]
    return f"{cls.__module__}:{cls.__qualname__}"


_COLUMNS = "work_id, intake_id, workflow_id, status, version, due_at, updated_at, record"
# The human step an item waits on, if any: a row per waiting item, beside its status row.
_TASK_COLUMNS = "step, assignee, team, since, timeout_at, not_by, input"
_SELECT = (
    "SELECT w.work_id, w.intake_id, w.workflow_id, w.status, w.version, w.due_at, "
    "w.updated_at, w.record, t.step, t.assignee, t.team, t.since, t.timeout_at, t.not_by, "
    "t.input FROM {0} w LEFT JOIN {1} t ON t.work_id = w.work_id"
)


class SQLiteWorkView(SQLiteRebuildable):
    TABLES = ("work_status", "human_tasks")

    def construct_create_table_statements(self) -> list[str]:
        status, tasks = self.tables
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {status} ("
            "work_id TEXT PRIMARY KEY, intake_id TEXT NOT NULL, workflow_id TEXT NOT NULL, "
            "status TEXT NOT NULL, version INTEGER NOT NULL, due_at REAL, "
            "updated_at REAL NOT NULL, record BLOB NOT NULL) WITHOUT ROWID",
            f"CREATE INDEX IF NOT EXISTS {status}_due ON {status} (due_at) "
            "WHERE due_at IS NOT NULL",
            f"CREATE TABLE IF NOT EXISTS {tasks} ("
            "work_id TEXT PRIMARY KEY, step TEXT NOT NULL, assignee TEXT, team TEXT, "
            "since REAL NOT NULL, timeout_at REAL, not_by TEXT, input BLOB NOT NULL) "
            "WITHOUT ROWID",
            f"CREATE INDEX IF NOT EXISTS {tasks}_since ON {tasks} (since, work_id)",
        ]

    def save(self, rows: Sequence[WorkRow], tracking: Tracking) -> None:
        status, tasks = self.tables
        with self.datastore.transaction(commit=True) as c:
            c.executemany(
                f"INSERT OR REPLACE INTO {status} ({_COLUMNS}) "  # noqa: S608
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [_params(row) for row in rows],
            )
            c.executemany(
                f"DELETE FROM {tasks} WHERE work_id = ?",  # noqa: S608
                [(row.work_id.hex,) for row in rows],
            )
            c.executemany(
                f"INSERT INTO {tasks} (work_id, {_TASK_COLUMNS}) "  # noqa: S608
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [_task_params(row) for row in rows if row.task is not None],
            )
            self._insert_tracking(c, tracking)

    @property
    def _select(self) -> str:
        return _SELECT.format(*self.tables)

    def get(self, work_id: UUID) -> WorkRow | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"{self._select} WHERE w.work_id = ?", (work_id.hex,))
            found = c.fetchone()
        return None if found is None else _row(found)

    def due(
        self, now: datetime, limit: int, offset: int = 0, held: Collection[UUID] = ()
    ) -> list[UUID]:
        held_hex = [workflow_id.hex for workflow_id in held]
        unheld = (
            f"AND NOT (status = 'pending' AND workflow_id IN ({', '.join('?' * len(held_hex))})) "
            if held_hex
            else ""
        )
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT work_id FROM {self.tables[0]} WHERE due_at IS NOT NULL AND due_at <= ? "  # noqa: S608
                f"{unheld}ORDER BY due_at, work_id LIMIT ? OFFSET ?",
                (now.timestamp(), *held_hex, limit, offset),
            )
            return [UUID(hex=r[0]) for r in c.fetchall()]

    def tasks(
        self,
        user: str,
        teams: Collection[str],
        limit: int,
        after: tuple[datetime, UUID] | None = None,
    ) -> list[WorkRow]:
        teams = sorted(teams)
        in_teams = ", ".join("?" for _ in teams) or "NULL"
        since, work = (after[0].timestamp(), after[1].hex) if after else (float("-inf"), "")
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"{self._select} WHERE (t.assignee = ? OR (t.assignee IS NULL "
                f"AND t.team IN ({in_teams}))) AND (t.not_by IS NULL OR t.not_by != ?) "
                "AND (t.since, t.work_id) > (?, ?) ORDER BY t.since, t.work_id LIMIT ?",
                (user, *teams, user, since, work, limit),
            )
            return [_row(r) for r in c.fetchall()]


def _params(row: WorkRow) -> tuple[Any, ...]:
    return (
        row.work_id.hex,
        stored_intake(row.intake_id).hex,
        row.workflow_id.hex,
        row.status,
        row.version,
        None if row.due_at is None else row.due_at.timestamp(),
        row.updated_at.timestamp(),
        row.record,
    )


def _task_params(row: WorkRow) -> tuple[Any, ...]:
    task = row.task
    assert task is not None
    return (
        row.work_id.hex,
        task.step,
        task.assignee,
        task.team,
        task.since.timestamp(),
        None if task.timeout_at is None else task.timeout_at.timestamp(),
        task.not_by,
        task.input,
    )


def _instant(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _row(r: Any) -> WorkRow:
    return WorkRow(
        work_id=UUID(hex=r[0]),
        intake_id=loaded_intake(UUID(hex=r[1])),
        workflow_id=UUID(hex=r[2]),
        status=r[3],
        version=r[4],
        due_at=_instant(r[5]),
        updated_at=datetime.fromtimestamp(r[6], UTC),
        record=bytes(r[7]),
        task=None
        if r[8] is None
        else HumanTask(
            step=r[8],
            assignee=r[9],
            team=r[10],
            since=datetime.fromtimestamp(r[11], UTC),
            timeout_at=_instant(r[12]),
            not_by=r[13],
            input=bytes(r[14]),
        ),
    )


class SQLiteProviderSlots(SQLiteRecorder):
    """Provider slots in the database file, shared by every process using it: a table of
    numbered slots per provider, taken and freed in ``BEGIN IMMEDIATE`` transactions
    (the file's write lock serialises them)."""

    def construct_create_table_statements(self) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS provider_slots ("
            "provider TEXT NOT NULL, slot INTEGER NOT NULL, holder TEXT, lease_until REAL, "
            "PRIMARY KEY (provider, slot)) WITHOUT ROWID",
        ]

    def acquire(
        self, provider: str, limit: int, holder: str, lease_until: datetime, now: datetime
    ) -> bool:
        take = (
            "UPDATE provider_slots SET holder = ?, lease_until = ? "
            "WHERE provider = ? AND slot = (SELECT slot FROM provider_slots "
            "WHERE provider = ? AND slot < ? AND (holder IS NULL OR lease_until <= ?) "
            "ORDER BY slot LIMIT 1) "
            # Slots above a lowered limit drain before new claims start.
            "AND NOT EXISTS (SELECT 1 FROM provider_slots WHERE provider = ? AND slot >= ? "
            "AND holder IS NOT NULL AND lease_until > ?)"
        )
        until, at = lease_until.timestamp(), now.timestamp()
        params = (holder, until, provider, provider, limit, at, provider, limit, at)
        with immediate(self.datastore) as c:
            c.execute(take, params)
            if c.rowcount == 1:
                return True
            c.execute(
                "SELECT count(*) FROM provider_slots WHERE provider = ? AND slot < ?",
                (provider, limit),
            )
            if c.fetchone()[0] >= limit:
                return False
            c.executemany(
                "INSERT OR IGNORE INTO provider_slots (provider, slot) VALUES (?, ?)",
                [(provider, n) for n in range(limit)],
            )
            c.execute(take, params)
            return bool(c.rowcount == 1)

    def release(self, provider: str, holder: str) -> None:
        with immediate(self.datastore) as c:
            c.execute(
                "UPDATE provider_slots SET holder = NULL, lease_until = NULL "
                "WHERE provider = ? AND holder = ?",
                (provider, holder),
            )
