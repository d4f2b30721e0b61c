"""PostgreSQL: the work view and the provider slots beside the work log's tables, sharing
its pool."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent, Tracking
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresRecorder,
)
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier, Literal

from auxot.adapters.persistence.rows import loaded_intake, stored_intake
from auxot.adapters.persistence.views_postgres import PostgresRebuildable
from auxot.adapters.persistence.views_postgres import table as _table
from auxot.application.chain import chain_hashes, predecessors_needed
from auxot.application.ports import HumanTask, WorkRow


class WorkEventsRecorder(PostgresApplicationRecorder):
    """An application's events, inserted the way the intake's group commit needs: a
    batch in one round trip, each row with its chain hash (``auxot.application.chain``).

    The library sends a batch as a pipeline of several statements and a separate
    COMMIT, and builds each statement from ``Composed`` SQL with the rows escaped one by
    one in Python. Every wait on the server hands the GIL back to the event loop and
    waits to get it back, so a commit took several times its own length under load.
    Here one call to a function does what the library's statements do, in the same
    order (lock the table, so notification order is commit order; notify; insert and
    return the ids), in its own transaction: the connections are in autocommit mode.
    The function is named after the table, so two logs in one schema never share it.

    The chain hashes are computed in Python, as on SQLite. A batch whose streams are all
    new (the intake's) reads nothing; otherwise one query first reads the stored hash
    before each stream. That read may precede the insert's transaction: a stored event
    never changes, and the unique (stream, version) key refuses a racing writer's event.
    Both applications use this recorder (the registry's events are chained too).
    """

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        table = _table(datastore, self.events_table_name)
        function = SQL("{0}.{1}").format(
            Identifier(datastore.schema or "public"),
            Identifier(f"auxot_insert_{self.events_table_name}"),
        )
        id_type = Identifier(datastore.originator_id_type)
        self.sql_create_statements.extend(
            [
                # Tables created before chaining: their rows stay unchained until
                # `auxot audit seal`. Checked first, so that a process starting beside
                # running ones takes no ACCESS EXCLUSIVE lock on the log.
                SQL(
                    "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM information_schema.columns "
                    "WHERE table_schema = {schema} AND table_name = {name} "
                    "AND column_name = 'chain_hash') THEN "
                    "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS chain_hash bytea; "
                    "END IF; END $$"
                ).format(
                    schema=Literal(datastore.schema or "public"),
                    name=Literal(self.events_table_name),
                    table=table,
                ),
                # The function's form before chaining, which inserted no hashes.
                SQL("DROP FUNCTION IF EXISTS {0}({1}[], bigint[], text[], bytea[])").format(
                    function, id_type
                ),
                SQL(
                    "CREATE OR REPLACE FUNCTION {function}(ids {id_type}[], "
                    "versions bigint[], topics text[], states bytea[], hashes bytea[]) "
                    "RETURNS SETOF bigint LANGUAGE plpgsql AS $$ BEGIN "
                    "SET LOCAL lock_timeout = '{timeout}s'; "
                    "LOCK TABLE {table} IN EXCLUSIVE MODE; "
                    "NOTIFY {channel}; "
                    "RETURN QUERY INSERT INTO {table} "
                    "(originator_id, originator_version, topic, state, chain_hash) "
                    "SELECT * FROM unnest(ids, versions, topics, states, hashes) "
                    "RETURNING notification_id; "
                    "END $$"
                ).format(
                    function=function,
                    id_type=id_type,
                    timeout=datastore.lock_timeout,
                    table=table,
                    channel=Identifier(self.channel_name),
                ),
            ]
        )
        self._insert = (
            SQL("SELECT notification_id FROM {0}(%s, %s, %s, %s, %s) AS notification_id")
            .format(function)
            .as_bytes(None)
        )
        self._predecessors = (
            SQL(
                "SELECT i.id, p.chain_hash, p.originator_version IS NOT NULL AS found "
                "FROM unnest(%s::{0}[], %s::bigint[]) AS i(id, v) LEFT JOIN LATERAL ("
                "SELECT originator_version, chain_hash FROM {1} "
                "WHERE originator_id = i.id AND originator_version < i.v "
                "ORDER BY originator_version DESC LIMIT 1) p ON true"
            )
            .format(id_type, table)
            .as_bytes(None)
        )

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return []
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            hashes = chain_hashes(stored_events, self._stored_predecessors(curs, stored_events))
            columns = (
                [e.originator_id for e in stored_events],
                [e.originator_version for e in stored_events],
                [e.topic for e in stored_events],
                [e.state for e in stored_events],
                hashes,
            )
            curs.execute(self._insert, columns, prepare=True)
            return [row["notification_id"] for row in curs.fetchall()]

    def _stored_predecessors(
        self, curs: Cursor[DictRow], events: Sequence[StoredEvent]
    ) -> dict[UUID, bytes | None]:
        needed = predecessors_needed(events)
        if not needed:
            return {}
        curs.execute(
            self._predecessors, ([s for s, _ in needed], [v for _, v in needed]), prepare=True
        )
        return {
            r["id"]: None if r["chain_hash"] is None else bytes(r["chain_hash"])
            for r in curs.fetchall()
            if r["found"]
        }


def events_recorder_topic() -> str:
    return f"{WorkEventsRecorder.__module__}:{WorkEventsRecorder.__qualname__}"


_COLUMNS = SQL("work_id, intake_id, workflow_id, status, version, due_at, updated_at, record")
_SELECT = SQL(
    "SELECT w.work_id, w.intake_id, w.workflow_id, w.status, w.version, w.due_at, "
    "w.updated_at, w.record, t.step, t.assignee, t.team, t.since, t.timeout_at, t.not_by, "
    "t.input FROM {0} w LEFT JOIN {1} t ON t.work_id = w.work_id"
)


class PostgresWorkView(PostgresRebuildable):
    TABLES = ("work_status", "human_tasks")

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        status, tasks = self.tables
        self._table = _table(datastore, status)
        # The human step an item waits on, if any: a row per waiting item.
        self._tasks = _table(datastore, tasks)
        self._select = _SELECT.format(self._table, self._tasks)
        self.sql_create_statements.extend(
            [
                SQL(
                    "CREATE TABLE IF NOT EXISTS {0} ("
                    "work_id uuid PRIMARY KEY, intake_id uuid NOT NULL, workflow_id uuid NOT NULL, "
                    "status text NOT NULL, version integer NOT NULL, due_at timestamptz, "
                    "updated_at timestamptz NOT NULL, record bytea NOT NULL)"
                ).format(self._table),
                SQL(
                    "CREATE INDEX IF NOT EXISTS {0} ON {1} (due_at) WHERE due_at IS NOT NULL"
                ).format(Identifier(f"{status}_due"), self._table),
                SQL(
                    "CREATE TABLE IF NOT EXISTS {0} ("
                    "work_id uuid PRIMARY KEY, step text NOT NULL, assignee text, team text, "
                    "since timestamptz NOT NULL, timeout_at timestamptz, not_by text, "
                    "input bytea NOT NULL)"
                ).format(self._tasks),
                SQL("CREATE INDEX IF NOT EXISTS {0} ON {1} (since, work_id)").format(
                    Identifier(f"{tasks}_since"), self._tasks
                ),
            ]
        )

    def save(self, rows: Sequence[WorkRow], tracking: Tracking) -> None:
        # Lock rows in one global order: racing projections save overlapping batches
        # that list shared items in different orders, and would otherwise deadlock.
        rows = sorted(rows, key=lambda r: r.work_id)
        with self.datastore.transaction(commit=True) as curs:
            curs.executemany(
                SQL(
                    "INSERT INTO {0} ({1}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (work_id) DO UPDATE SET status = EXCLUDED.status, "
                    "version = EXCLUDED.version, due_at = EXCLUDED.due_at, "
                    "updated_at = EXCLUDED.updated_at, record = EXCLUDED.record"
                ).format(self._table, _COLUMNS),
                [
                    (
                        r.work_id,
                        stored_intake(r.intake_id),
                        r.workflow_id,
                        r.status,
                        r.version,
                        r.due_at,
                        r.updated_at,
                        r.record,
                    )
                    for r in rows
                ],
            )
            if rows:
                curs.execute(
                    SQL("DELETE FROM {0} WHERE work_id = ANY(%s)").format(self._tasks),
                    ([r.work_id for r in rows],),
                )
            tasks = [(r.work_id, r.task) for r in rows if r.task is not None]
            if tasks:
                curs.executemany(
                    SQL(
                        "INSERT INTO {0} (work_id, step, assignee, team, since, timeout_at, "
                        "not_by, input) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                    ).format(self._tasks),
                    [
                        (w, t.step, t.assignee, t.team, t.since, t.timeout_at, t.not_by, t.input)
                        for w, t in tasks
                    ],
                )
            self._insert_tracking(curs, tracking)

    def get(self, work_id: UUID) -> WorkRow | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("{0} WHERE w.work_id = %s").format(self._select), (work_id,), prepare=True
            )
            found = curs.fetchone()
        return None if found is None else _row(found)

    def due(
        self, now: datetime, limit: int, offset: int = 0, held: Collection[UUID] = ()
    ) -> list[UUID]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL(
                    "SELECT work_id FROM {0} WHERE due_at IS NOT NULL AND due_at <= %s "
                    "AND NOT (status = 'pending' AND workflow_id = ANY(%s::uuid[])) "
                    "ORDER BY due_at, work_id LIMIT %s OFFSET %s"
                ).format(self._table),
                (now, list(held), limit, offset),
                prepare=True,
            )
            return [r["work_id"] for r in curs.fetchall()]

    def tasks(
        self,
        user: str,
        teams: Collection[str],
        limit: int,
        after: tuple[datetime, UUID] | None = None,
    ) -> list[WorkRow]:
        position = after if after is not None else (datetime.min.replace(tzinfo=UTC), UUID(int=0))
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL(
                    "{0} WHERE (t.assignee = %s OR (t.assignee IS NULL AND t.team = ANY(%s))) "
                    "AND (t.not_by IS NULL OR t.not_by <> %s) AND (t.since, t.work_id) > (%s, %s) "
                    "ORDER BY t.since, t.work_id LIMIT %s"
                ).format(self._select),
                (user, sorted(teams), user, position[0], position[1], limit),
            )
            return [_row(r) for r in curs.fetchall()]


_FIELDS = (
    "work_id",
    "intake_id",
    "workflow_id",
    "status",
    "version",
    "due_at",
    "updated_at",
    "record",
)


class PostgresProviderSlots(PostgresRecorder):
    """Provider slots beside the work log, shared by every process on the database: a
    table of numbered slots per provider. A claim takes the lowest free slot (free, or
    its lease run out) with ``FOR UPDATE SKIP LOCKED``, so concurrent claims never wait
    on each other and never take the same slot; a release clears its own slot only."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        super().__init__(datastore)
        self._table = _table(datastore, "provider_slots")
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} ("
                "provider text NOT NULL, slot integer NOT NULL, holder text, "
                "lease_until timestamptz, PRIMARY KEY (provider, slot))"
            ).format(self._table)
        )
        self._take = SQL(
            "UPDATE {0} SET holder = %(holder)s, lease_until = %(until)s "
            "WHERE (provider, slot) = (SELECT provider, slot FROM {0} "
            "WHERE provider = %(provider)s AND slot < %(limit)s "
            "AND (holder IS NULL OR lease_until <= %(now)s) "
            # Slots above a lowered limit drain before new claims start.
            "AND NOT EXISTS (SELECT 1 FROM {0} WHERE provider = %(provider)s "
            "AND slot >= %(limit)s AND holder IS NOT NULL AND lease_until > %(now)s) "
            "ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING slot"
        ).format(self._table)

    def acquire(
        self, provider: str, limit: int, holder: str, lease_until: datetime, now: datetime
    ) -> bool:
        params = {
            "holder": holder,
            "until": lease_until,
            "provider": provider,
            "limit": limit,
            "now": now,
        }
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self._take, params, prepare=True)
            if curs.fetchone() is not None:
                return True
            curs.execute(
                SQL("SELECT count(*) AS n FROM {0} WHERE provider = %s AND slot < %s").format(
                    self._table
                ),
                (provider, limit),
            )
            found = curs.fetchone()
            if found is not None and found["n"] >= limit:
                return False
            curs.execute(
                SQL(
                    "INSERT INTO {0} (provider, slot) SELECT %s, n "
                    "FROM generate_series(0, %s - 1) AS n ON CONFLICT DO NOTHING"
                ).format(self._table),
                (provider, limit),
            )
            curs.execute(self._take, params, prepare=True)
            return curs.fetchone() is not None

    def release(self, provider: str, holder: str) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL(
                    "UPDATE {0} SET holder = NULL, lease_until = NULL "
                    "WHERE provider = %s AND holder = %s"
                ).format(self._table),
                (provider, holder),
                prepare=True,
            )


def _row(found: Any) -> WorkRow:
    task = (
        None
        if found["step"] is None
        else HumanTask(
            step=found["step"],
            assignee=found["assignee"],
            team=found["team"],
            since=found["since"],
            timeout_at=found["timeout_at"],
            not_by=found["not_by"],
            input=bytes(found["input"]),
        )
    )
    fields = {k: found[k] for k in _FIELDS}
    fields["intake_id"] = loaded_intake(fields["intake_id"])
    return WorkRow(**fields, task=task)
