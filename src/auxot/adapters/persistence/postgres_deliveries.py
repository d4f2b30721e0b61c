"""PostgreSQL: the deliveries view beside the work log's tables, sharing its pool."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore
from psycopg.sql import SQL, Identifier

from auxot.adapters.persistence.views_postgres import PostgresRebuildable
from auxot.application.ports import DeliveryRow

_FIELDS = ("work_id", "webhook_id", "team_id", "status", "scheduled_at", "due_at", "record")
_COLUMNS = SQL(", ").join(Identifier(f) for f in _FIELDS)


class PostgresDeliveryView(PostgresRebuildable):
    TABLES = ("callback_deliveries",)

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        name = self.tables[0]
        self.sql_create_statements.extend(
            [
                SQL(
                    "CREATE TABLE IF NOT EXISTS {0} ("
                    "work_id uuid PRIMARY KEY, webhook_id text NOT NULL, team_id uuid NOT NULL, "
                    "status text NOT NULL, scheduled_at timestamptz NOT NULL, "
                    "due_at timestamptz, record bytea NOT NULL)"
                ).format(self._t),
                SQL(
                    "CREATE INDEX IF NOT EXISTS {0} ON {1} (due_at) WHERE due_at IS NOT NULL"
                ).format(Identifier(f"{name}_due"), self._t),
                SQL(
                    "CREATE INDEX IF NOT EXISTS {0} ON {1} (team_id, status, scheduled_at, work_id)"
                ).format(Identifier(f"{name}_list"), self._t),
            ]
        )

    def save(self, rows: Sequence[DeliveryRow], tracking: Tracking) -> None:
        rows = sorted(rows, key=lambda r: r.work_id)  # one lock order for racing projections
        with self.datastore.transaction(commit=True) as curs:
            if rows:
                curs.executemany(
                    SQL(
                        "INSERT INTO {0} ({1}) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                        "ON CONFLICT (work_id) DO UPDATE SET status = EXCLUDED.status, "
                        "due_at = EXCLUDED.due_at, record = EXCLUDED.record"
                    ).format(self._t, _COLUMNS),
                    [_params(r) for r in rows],
                )
            self._insert_tracking(curs, tracking)

    def due(self, now: datetime, limit: int) -> list[UUID]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL(
                    "SELECT work_id FROM {0} WHERE due_at IS NOT NULL AND due_at <= %s "
                    "ORDER BY due_at, work_id LIMIT %s"
                ).format(self._t),
                (now, limit),
                prepare=True,
            )
            return [r["work_id"] for r in curs.fetchall()]

    def page(
        self,
        teams: Collection[UUID] | None,
        status: str | None,
        limit: int,
        after: tuple[datetime, UUID] | None = None,
    ) -> list[DeliveryRow]:
        position = after or (datetime.min.replace(tzinfo=UTC), UUID(int=0))
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL(
                    "SELECT {1} FROM {0} WHERE (scheduled_at, work_id) > (%s, %s) "
                    "AND (%s::uuid[] IS NULL OR team_id = ANY(%s::uuid[])) "
                    "AND (%s::text IS NULL OR status = %s) "
                    "ORDER BY scheduled_at, work_id LIMIT %s"
                ).format(self._t, _COLUMNS),
                (*position, _teams(teams), _teams(teams), status, status, limit),
            )
            return [_row(r) for r in curs.fetchall()]


def _params(r: DeliveryRow) -> tuple[Any, ...]:
    return (r.work_id, r.webhook_id, r.team_id, r.status, r.scheduled_at, r.due_at, r.record)


def _teams(teams: Collection[UUID] | None) -> list[UUID] | None:
    return None if teams is None else sorted(teams)


def _row(found: Any) -> DeliveryRow:
    fields = {k: found[k] for k in _FIELDS}
    fields["record"] = bytes(fields["record"])
    return DeliveryRow(**fields)
