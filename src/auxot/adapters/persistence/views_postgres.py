"""PostgreSQL read models: the rebuild support every PostgreSQL view shares, and the work
index, beside the work log's tables and on its pool.

A rebuild writes into ``shadow_``-prefixed copies of a view's tables, tracked under its
own key. The swap is one transaction: it locks the live tables (EXCLUSIVE: readers go
on reading the old rows, a projector's write waits), compares positions, replaces the
live rows with the shadow's and moves the live position to the shadow's. A projector
that waited then fails its tracking insert (its batch is behind) and reads on from the
new position.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Self
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg.sql import SQL, Composed, Identifier

from auxot.application.ports import IndexRow, Scope, StatsCounts, WorkQuery
from auxot.application.stats import nearest_rank

SHADOW_PREFIX = "shadow_"


def table(datastore: PostgresDatastore, name: str) -> Composed:
    """The table ``name`` in the datastore's schema."""
    return SQL("{0}.{1}").format(Identifier(datastore.schema or "public"), Identifier(name))


class PostgresRebuildable(PostgresTrackingRecorder):
    """A view on the tables ``TABLES`` (each prefixed by ``prefix``)."""

    TABLES: ClassVar[tuple[str, ...]] = ()

    def __init__(self, datastore: PostgresDatastore, *, prefix: str = "", **kwargs: Any) -> None:
        self.prefix = prefix  # first: the base class builds its statements from it
        super().__init__(datastore, **kwargs)

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(self.prefix + name for name in self.TABLES)

    @property
    def _t(self) -> Composed:
        """The (first) table, prefixed and qualified: what a one-table view's
        statements name."""
        return table(self.datastore, self.tables[0])

    def _sql_tables(self) -> list[Composed]:
        return [table(self.datastore, name) for name in self.tables]

    def shadow(self, *keys: str) -> Self:
        shadow = type(self)(
            self.datastore,
            prefix=SHADOW_PREFIX + self.prefix,
            tracking_table_name=self.tracking_table_name,
        )
        tracking = table(self.datastore, self.tracking_table_name)
        with self.datastore.transaction(commit=True) as curs:
            for name in shadow._sql_tables():
                curs.execute(SQL("DROP TABLE IF EXISTS {0}").format(name))
            curs.execute(
                SQL("DELETE FROM {0} WHERE application_name = ANY(%s)").format(tracking),
                (list(keys),),
            )
        shadow.create_table()
        return shadow

    def swap_in(self, shadow: Self, keys: Mapping[str, str]) -> bool:
        tracking = table(self.datastore, self.tracking_table_name)
        live_tables = self._sql_tables()
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL("LOCK TABLE {0} IN EXCLUSIVE MODE").format(SQL(", ").join(live_tables))
            )
            positions = {live: _position(curs, tracking, copy) for live, copy in keys.items()}
            if any(at < _position(curs, tracking, live) for live, at in positions.items()):
                return False
            for live, copy in zip(live_tables, shadow._sql_tables(), strict=True):
                curs.execute(SQL("DELETE FROM {0}").format(live))
                curs.execute(SQL("INSERT INTO {0} SELECT * FROM {1}").format(live, copy))
                curs.execute(SQL("DROP TABLE {0}").format(copy))
            curs.executemany(
                SQL(
                    "INSERT INTO {0} (application_name, notification_id) VALUES (%s, %s) "
                    "ON CONFLICT (application_name) "
                    "DO UPDATE SET notification_id = EXCLUDED.notification_id"
                ).format(tracking),
                list(positions.items()),
            )
            curs.execute(
                SQL("DELETE FROM {0} WHERE application_name = ANY(%s)").format(tracking),
                (list(keys.values()),),
            )
        return True


def _position(curs: Any, tracking: Composed, key: str) -> int:
    curs.execute(
        SQL("SELECT notification_id FROM {0} WHERE application_name = %s").format(tracking),
        (key,),
    )
    found = curs.fetchone()
    return 0 if found is None else int(found["notification_id"])


_FIELDS = (
    "work_id",
    "workflow_id",
    "workflow_version",
    "intake_id",
    "status",
    "step",
    "step_since",
    "attempt",
    "waiting",
    "assignee",
    "team",
    "input_summary",
    "created_at",
    "updated_at",
    "finished_at",
    "duration_ms",
)
_COLUMNS = SQL(", ").join(Identifier(f) for f in _FIELDS)


class PostgresIndexView(PostgresRebuildable):
    TABLES = ("work_index",)

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        name = self.tables[0]
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} ("
                "work_id uuid PRIMARY KEY, workflow_id uuid NOT NULL, "
                "workflow_version integer NOT NULL, intake_id uuid, status text NOT NULL, "
                "step text NOT NULL, step_since timestamptz NOT NULL, attempt integer NOT NULL, "
                "waiting boolean NOT NULL, assignee text, team text, input_summary text NOT NULL, "
                "created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, "
                "finished_at timestamptz, duration_ms bigint)"
            ).format(self._t)
        )
        for suffix, columns in (
            ("created", "created_at, work_id"),
            ("workflow_created", "workflow_id, created_at"),
            ("workflow_finished", "workflow_id, finished_at"),
            ("intake_created", "intake_id, created_at"),
            ("intake_finished", "intake_id, finished_at"),
        ):
            self.sql_create_statements.append(
                SQL("CREATE INDEX IF NOT EXISTS {0} ON {1} ({2})").format(
                    Identifier(f"{name}_{suffix}"), self._t, SQL(columns)
                )
            )

    def save(self, rows: Sequence[IndexRow], tracking: Tracking) -> None:
        # Lock rows in one global order: racing projections would otherwise deadlock.
        rows = sorted(rows, key=lambda r: r.work_id)
        updates = SQL(", ").join(
            SQL("{0} = EXCLUDED.{0}").format(Identifier(f)) for f in _FIELDS[1:]
        )
        with self.datastore.transaction(commit=True) as curs:
            curs.executemany(
                SQL(
                    "INSERT INTO {0} ({1}) VALUES ({2}) ON CONFLICT (work_id) DO UPDATE SET {3}"
                ).format(self._t, _COLUMNS, SQL(", ").join(SQL("%s") for _ in _FIELDS), updates),
                [tuple(getattr(r, f) for f in _FIELDS) for r in rows],
            )
            self._insert_tracking(curs, tracking)

    def _select(self, where: Composed | SQL, params: Sequence[Any]) -> list[IndexRow]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(SQL("SELECT {0} FROM {1} ").format(_COLUMNS, self._t) + where, params)
            return [IndexRow(**r) for r in curs.fetchall()]

    def active(self, workflow_id: UUID, per_step: int) -> tuple[list[IndexRow], dict[str, int]]:
        # One statement, so the cards and the counts come from one snapshot: under READ
        # COMMITTED two reads could straddle a projected batch.
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL(
                    "SELECT {0}, step_count FROM (SELECT {0}, ROW_NUMBER() OVER ("
                    "PARTITION BY step ORDER BY step_since, work_id) AS n, "
                    "COUNT(*) OVER (PARTITION BY step) AS step_count FROM {1} "
                    "WHERE workflow_id = %s AND finished_at IS NULL) AS ranked "
                    "WHERE n <= %s ORDER BY step_since, work_id"
                ).format(_COLUMNS, self._t),
                (workflow_id, per_step),
            )
            fetched = curs.fetchall()
        counts = {r["step"]: int(r.pop("step_count")) for r in fetched}
        return [IndexRow(**r) for r in fetched], counts

    def recent(self, workflow_id: UUID, limit: int) -> list[IndexRow]:
        return self._select(
            SQL(
                "WHERE workflow_id = %s AND finished_at IS NOT NULL "
                "ORDER BY finished_at DESC, work_id DESC LIMIT %s"
            ),
            (workflow_id, limit),
        )

    def page(
        self, query: WorkQuery, limit: int, before: tuple[datetime, UUID] | None
    ) -> list[IndexRow]:
        where, params = _filters(query)
        if before is not None:
            where.append(SQL("(created_at, work_id) < (%s, %s)"))
            params += [before[0], before[1]]
        clause = SQL("WHERE ") + SQL(" AND ").join(where) + SQL(" ") if where else SQL("")
        return self._select(
            clause + SQL("ORDER BY created_at DESC, work_id DESC LIMIT %s"), [*params, limit]
        )

    def stats(
        self, scope: Scope, start: datetime, end: datetime, percentiles: Sequence[int]
    ) -> StatsCounts:
        column = Identifier("workflow_id" if scope[0] == "workflow" else "intake_id")
        span = (scope[1], start, end)
        ended = SQL("FROM {0} WHERE {1} = %s AND finished_at >= %s AND finished_at < %s").format(
            self._t, column
        )
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL(
                    "SELECT count(*) AS n FROM {0} "
                    "WHERE {1} = %s AND created_at >= %s AND created_at < %s"
                ).format(self._t, column),
                span,
            )
            found = curs.fetchone()
            runs = 0 if found is None else int(found["n"])
            by_status_sql = SQL("SELECT status, count(*) AS n {0} GROUP BY status").format(ended)
            curs.execute(by_status_sql, span)
            by_status = {r["status"]: int(r["n"]) for r in curs.fetchall()}
            count = by_status.get("completed", 0) + by_status.get("failed", 0)
            durations: dict[int, int | None] = {}
            for p in percentiles:
                curs.execute(
                    SQL(
                        "SELECT duration_ms {0} AND status IN ('completed', 'failed') "
                        "ORDER BY duration_ms LIMIT 1 OFFSET %s"
                    ).format(ended),
                    (*span, nearest_rank(p, count)),
                )
                row = curs.fetchone()
                durations[p] = None if row is None else int(row["duration_ms"])
        return StatsCounts(
            runs=runs,
            completed=by_status.get("completed", 0),
            failed=by_status.get("failed", 0),
            cancelled=by_status.get("cancelled", 0),
            durations=durations,
        )


def _filters(q: WorkQuery) -> tuple[list[Composed | SQL], list[Any]]:
    where: list[Composed | SQL] = []
    params: list[Any] = []
    if q.workflows is not None:
        where.append(SQL("workflow_id = ANY(%s::uuid[])"))
        params.append(sorted(q.workflows))
    for column, value in (
        ("status", q.status),
        ("workflow_id", q.workflow_id),
        ("intake_id", q.intake_id),
    ):
        if value is not None:
            where.append(SQL("{0} = %s").format(Identifier(column)))
            params.append(value)
    if q.created_from is not None:
        where.append(SQL("created_at >= %s"))
        params.append(q.created_from)
    if q.created_to is not None:
        where.append(SQL("created_at < %s"))
        params.append(q.created_to)
    return where, params
