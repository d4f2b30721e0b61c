"""SQLite read models: the rebuild support every SQLite view shares, and the work index.

A rebuild writes into ``shadow_``-prefixed copies of a view's tables, tracked under its
own key; the swap, in one ``BEGIN IMMEDIATE`` transaction (the file's write lock, so no
projector writes in between), replaces the live rows with the shadow's and moves the
live position to the shadow's, when the shadow is at or past it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Self
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder

from auxot.adapters.persistence.sqlite_tx import immediate
from auxot.application.ports import IndexRow, Scope, StatsCounts, WorkQuery
from auxot.application.stats import nearest_rank

SHADOW_PREFIX = "shadow_"


class SQLiteRebuildable(SQLiteTrackingRecorder):
    """A view on the tables ``TABLES`` (each prefixed by ``prefix``)."""

    TABLES: ClassVar[tuple[str, ...]] = ()

    def __init__(self, datastore: SQLiteDatastore, *, prefix: str = "", **kwargs: Any) -> None:
        self.prefix = prefix  # first: the base class builds its statements from it
        super().__init__(datastore, **kwargs)

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(self.prefix + table for table in self.TABLES)

    @property
    def _t(self) -> str:
        """The (first) table, prefixed: what a one-table view's statements name."""
        return self.tables[0]

    def shadow(self, *keys: str) -> Self:
        shadow = type(self)(self.datastore, prefix=SHADOW_PREFIX + self.prefix)
        # All under the write lock: the library's create_table reads before it writes,
        # and such a transaction fails at once (no busy wait) if another writer came first.
        with immediate(self.datastore) as c:
            for table in shadow.tables:
                c.execute(f"DROP TABLE IF EXISTS {table}")
            for key in keys:
                c.execute("DELETE FROM tracking WHERE application_name = ?", (key,))
            for statement in shadow.create_table_statements:
                c.execute(statement)
        return shadow

    def swap_in(self, shadow: Self, keys: Mapping[str, str]) -> bool:
        with immediate(self.datastore) as c:
            positions = {live: _position(c, copy) for live, copy in keys.items()}
            if any(at < _position(c, live) for live, at in positions.items()):
                return False
            for live, copy in zip(self.tables, shadow.tables, strict=True):
                c.execute(f"DELETE FROM {live}")  # noqa: S608 - our own table names
                c.execute(f"INSERT INTO {live} SELECT * FROM {copy}")  # noqa: S608
                c.execute(f"DROP TABLE {copy}")
            c.executemany(
                "INSERT INTO tracking VALUES (?, ?) ON CONFLICT (application_name) "
                "DO UPDATE SET notification_id = excluded.notification_id",
                list(positions.items()),
            )
            c.executemany(
                "DELETE FROM tracking WHERE application_name = ?", [(k,) for k in keys.values()]
            )
        return True


def _position(c: Any, key: str) -> int:
    c.execute("SELECT notification_id FROM tracking WHERE application_name = ?", (key,))
    found = c.fetchone()
    return 0 if found is None else int(found[0])


_INDEX_COLUMNS = (
    "work_id, workflow_id, workflow_version, intake_id, status, step, step_since, attempt, "
    "waiting, assignee, team, input_summary, created_at, updated_at, finished_at, duration_ms"
)


class SQLiteIndexView(SQLiteRebuildable):
    TABLES = ("work_index",)

    def construct_create_table_statements(self) -> list[str]:
        t = self._t
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {t} ("
            "work_id TEXT PRIMARY KEY, workflow_id TEXT NOT NULL, "
            "workflow_version INTEGER NOT NULL, intake_id TEXT, status TEXT NOT NULL, "
            "step TEXT NOT NULL, step_since REAL NOT NULL, attempt INTEGER NOT NULL, "
            "waiting INTEGER NOT NULL, assignee TEXT, team TEXT, input_summary TEXT NOT NULL, "
            "created_at REAL NOT NULL, updated_at REAL NOT NULL, finished_at REAL, "
            "duration_ms INTEGER) WITHOUT ROWID",
            f"CREATE INDEX IF NOT EXISTS {t}_created ON {t} (created_at, work_id)",
            f"CREATE INDEX IF NOT EXISTS {t}_workflow_created ON {t} (workflow_id, created_at)",
            f"CREATE INDEX IF NOT EXISTS {t}_workflow_finished ON {t} (workflow_id, finished_at)",
            f"CREATE INDEX IF NOT EXISTS {t}_intake_created ON {t} (intake_id, created_at)",
            f"CREATE INDEX IF NOT EXISTS {t}_intake_finished ON {t} (intake_id, finished_at)",
        ]

    def save(self, rows: Sequence[IndexRow], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.executemany(
                f"INSERT OR REPLACE INTO {self._t} ({_INDEX_COLUMNS}) "  # noqa: S608
                f"VALUES ({', '.join('?' * 16)})",
                [_params(row) for row in rows],
            )
            self._insert_tracking(c, tracking)

    def _select(self, where: str, params: Sequence[Any]) -> list[IndexRow]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT {_INDEX_COLUMNS} FROM {self._t} {where}", params)  # noqa: S608
            return [_row(r) for r in c.fetchall()]

    def active(self, workflow_id: UUID, per_step: int) -> tuple[list[IndexRow], dict[str, int]]:
        # One statement, so the cards and the counts come from one snapshot: two reads
        # could straddle a projected batch and show a count without its card.
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT {_INDEX_COLUMNS}, step_count FROM ("  # noqa: S608
                f"SELECT {_INDEX_COLUMNS}, ROW_NUMBER() OVER ("
                "PARTITION BY step ORDER BY step_since, work_id) AS n, "
                f"COUNT(*) OVER (PARTITION BY step) AS step_count FROM {self._t} "
                "WHERE workflow_id = ? AND finished_at IS NULL) "
                "WHERE n <= ? ORDER BY step_since, work_id",
                (workflow_id.hex, per_step),
            )
            fetched = c.fetchall()
        shown = [_row(r) for r in fetched]
        counts = {row.step: int(r[-1]) for row, r in zip(shown, fetched, strict=True)}
        return shown, counts

    def recent(self, workflow_id: UUID, limit: int) -> list[IndexRow]:
        return self._select(
            "WHERE workflow_id = ? AND finished_at IS NOT NULL "
            "ORDER BY finished_at DESC, work_id DESC LIMIT ?",
            (workflow_id.hex, limit),
        )

    def page(
        self, query: WorkQuery, limit: int, before: tuple[datetime, UUID] | None
    ) -> list[IndexRow]:
        where, params = _filters(query)
        if before is not None:
            where.append("(created_at, work_id) < (?, ?)")
            params += [before[0].timestamp(), before[1].hex]
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        return self._select(
            f"{clause}ORDER BY created_at DESC, work_id DESC LIMIT ?", [*params, limit]
        )

    def stats(
        self, scope: Scope, start: datetime, end: datetime, percentiles: Sequence[int]
    ) -> StatsCounts:
        column = "workflow_id" if scope[0] == "workflow" else "intake_id"
        span = (scope[1].hex, start.timestamp(), end.timestamp())
        ended = f"FROM {self._t} WHERE {column} = ? AND finished_at >= ? AND finished_at < ?"
        decided = f"{ended} AND status IN ('completed', 'failed')"
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT count(*) FROM {self._t} "  # noqa: S608
                f"WHERE {column} = ? AND created_at >= ? AND created_at < ?",
                span,
            )
            runs = int(c.fetchone()[0])
            c.execute(f"SELECT status, count(*) {ended} GROUP BY status", span)
            by_status = {status: int(n) for status, n in c.fetchall()}
            count = by_status.get("completed", 0) + by_status.get("failed", 0)
            durations: dict[int, int | None] = {}
            for p in percentiles:
                c.execute(
                    f"SELECT duration_ms {decided} ORDER BY duration_ms LIMIT 1 OFFSET ?",
                    (*span, nearest_rank(p, count)),
                )
                found = c.fetchone()
                durations[p] = None if found is None else int(found[0])
        return StatsCounts(
            runs=runs,
            completed=by_status.get("completed", 0),
            failed=by_status.get("failed", 0),
            cancelled=by_status.get("cancelled", 0),
            durations=durations,
        )


def _filters(q: WorkQuery) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if q.workflows is not None:
        ids = sorted(w.hex for w in q.workflows)
        where.append(f"workflow_id IN ({', '.join('?' * len(ids)) or 'NULL'})")
        params += ids
    for column, value in (
        ("status", q.status),
        ("workflow_id", None if q.workflow_id is None else q.workflow_id.hex),
        ("intake_id", None if q.intake_id is None else q.intake_id.hex),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if q.created_from is not None:
        where.append("created_at >= ?")
        params.append(q.created_from.timestamp())
    if q.created_to is not None:
        where.append("created_at < ?")
        params.append(q.created_to.timestamp())
    return where, params


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _at(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _params(r: IndexRow) -> tuple[Any, ...]:
    return (
        r.work_id.hex,
        r.workflow_id.hex,
        r.workflow_version,
        None if r.intake_id is None else r.intake_id.hex,
        r.status,
        r.step,
        r.step_since.timestamp(),
        r.attempt,
        int(r.waiting),
        r.assignee,
        r.team,
        r.input_summary,
        r.created_at.timestamp(),
        r.updated_at.timestamp(),
        _ts(r.finished_at),
        r.duration_ms,
    )


def _row(r: Any) -> IndexRow:
    return IndexRow(
        work_id=UUID(hex=r[0]),
        workflow_id=UUID(hex=r[1]),
        workflow_version=r[2],
        intake_id=None if r[3] is None else UUID(hex=r[3]),
        status=r[4],
        step=r[5],
        step_since=datetime.fromtimestamp(r[6], UTC),
        attempt=r[7],
        waiting=bool(r[8]),
        assignee=r[9],
        team=r[10],
        input_summary=r[11],
        created_at=datetime.fromtimestamp(r[12], UTC),
        updated_at=datetime.fromtimestamp(r[13], UTC),
        finished_at=_at(r[14]),
        duration_ms=r[15],
    )
