"""SQLite: the deliveries view, in the work log's database file."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking

from auxot.adapters.persistence.views_sqlite import SQLiteRebuildable
from auxot.application.ports import DeliveryRow

_COLUMNS = "work_id, webhook_id, team_id, status, scheduled_at, due_at, record"


class SQLiteDeliveryView(SQLiteRebuildable):
    TABLES = ("callback_deliveries",)

    def construct_create_table_statements(self) -> list[str]:
        t = self._t
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {t} ("
            "work_id TEXT PRIMARY KEY, webhook_id TEXT NOT NULL, team_id TEXT NOT NULL, "
            "status TEXT NOT NULL, scheduled_at REAL NOT NULL, due_at REAL, "
            "record BLOB NOT NULL) WITHOUT ROWID",
            f"CREATE INDEX IF NOT EXISTS {t}_due ON {t} (due_at) WHERE due_at IS NOT NULL",
            f"CREATE INDEX IF NOT EXISTS {t}_list ON {t} (team_id, status, scheduled_at, work_id)",
        ]

    def save(self, rows: Sequence[DeliveryRow], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.executemany(
                f"INSERT OR REPLACE INTO {self._t} ({_COLUMNS}) "  # noqa: S608
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [_params(row) for row in rows],
            )
            self._insert_tracking(c, tracking)

    def due(self, now: datetime, limit: int) -> list[UUID]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT work_id FROM {self._t} WHERE due_at IS NOT NULL "  # noqa: S608
                "AND due_at <= ? ORDER BY due_at, work_id LIMIT ?",
                (now.timestamp(), limit),
            )
            return [UUID(hex=r[0]) for r in c.fetchall()]

    def page(
        self,
        teams: Collection[UUID] | None,
        status: str | None,
        limit: int,
        after: tuple[datetime, UUID] | None = None,
    ) -> list[DeliveryRow]:
        where, params = ["(scheduled_at, work_id) > (?, ?)"], list[Any]()
        params += [after[0].timestamp(), after[1].hex] if after else [float("-inf"), ""]
        if teams is not None:
            where.append(f"team_id IN ({', '.join('?' for _ in teams) or 'NULL'})")
            params += [team.hex for team in teams]
        if status is not None:
            where.append("status = ?")
            params.append(status)
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT {_COLUMNS} FROM {self._t} WHERE {' AND '.join(where)} "  # noqa: S608
                "ORDER BY scheduled_at, work_id LIMIT ?",
                (*params, limit),
            )
            return [_row(r) for r in c.fetchall()]


def _params(row: DeliveryRow) -> tuple[Any, ...]:
    return (
        row.work_id.hex,
        row.webhook_id,
        row.team_id.hex,
        row.status,
        row.scheduled_at.timestamp(),
        None if row.due_at is None else row.due_at.timestamp(),
        row.record,
    )


def _row(r: Any) -> DeliveryRow:
    return DeliveryRow(
        work_id=UUID(hex=r[0]),
        webhook_id=r[1],
        team_id=UUID(hex=r[2]),
        status=r[3],
        scheduled_at=datetime.fromtimestamp(r[4], UTC),
        due_at=None if r[5] is None else datetime.fromtimestamp(r[5], UTC),
        record=bytes(r[6]),
    )
