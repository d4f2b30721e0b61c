"""PostgreSQL: the chained log that ``auxot audit verify`` reads and the checkpointer
extends (see ``auxot.application.chain``), on the application's pool."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore, PostgresRecorder
from psycopg.sql import SQL, Composed, Identifier

from auxot.adapters.persistence.paging import keyset_pages
from auxot.application.chain import ChainRow, Checkpoint

_PAGE = 1000
_ROW = SQL("notification_id, originator_id, originator_version, topic, state, chain_hash")


def _table(datastore: PostgresDatastore, name: str) -> Composed:
    return SQL("{0}.{1}").format(Identifier(datastore.schema or "public"), Identifier(name))


class PostgresChainedLog(PostgresRecorder):
    """The chained events of one application's table, and its checkpoints (in a
    ``chain_checkpoints`` table shared by the applications in the database)."""

    def __init__(self, datastore: PostgresDatastore, name: str, events_table: str) -> None:
        super().__init__(datastore)
        self._name = name
        self._events = _table(datastore, events_table)
        self._checkpoints = _table(datastore, "chain_checkpoints")
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} ("
                "log text NOT NULL, position bigint NOT NULL, digest bytea NOT NULL, "
                "events bigint NOT NULL, at timestamptz NOT NULL, PRIMARY KEY (log, position))"
            ).format(self._checkpoints)
        )

    @property
    def name(self) -> str:
        return self._name

    def count(self) -> int:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(SQL("SELECT count(*) AS n FROM {0}").format(self._events))
            found = curs.fetchone()
        return int(found["n"]) if found else 0

    def by_stream(self, page: int = _PAGE) -> Iterator[ChainRow]:
        select = SQL(
            "SELECT {0} FROM {1} WHERE (originator_id, originator_version) > (%s, %s) "
            "ORDER BY originator_id, originator_version LIMIT %s"
        ).format(_ROW, self._events)

        def fetch(after: tuple[UUID, int], size: int) -> list[Any]:
            with self.datastore.transaction(commit=False) as curs:
                curs.execute(select, (*after, size))
                return curs.fetchall()

        # The nil UUID at version 0 sorts before every stored event.
        rows = keyset_pages(
            fetch, lambda r: (r["originator_id"], r["originator_version"]), (UUID(int=0), 0), page
        )
        return (_chain_row(r) for r in rows)

    def by_position(self, after: int = 0, limit: int | None = None) -> Iterator[ChainRow]:
        select = SQL(
            "SELECT {0} FROM {1} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(_ROW, self._events)

        def fetch(position: int, size: int) -> list[Any]:
            with self.datastore.transaction(commit=False) as curs:
                curs.execute(select, (position, size))
                return curs.fetchall()

        rows = keyset_pages(fetch, lambda r: int(r["notification_id"]), after, _PAGE, limit)
        return (_chain_row(r) for r in rows)

    def checkpoints(self) -> list[Checkpoint]:
        return self._select_checkpoints(SQL("ORDER BY position"))

    def latest_checkpoint(self) -> Checkpoint | None:
        latest = self._select_checkpoints(SQL("ORDER BY position DESC LIMIT 1"))
        return latest[0] if latest else None

    def _select_checkpoints(self, order: SQL) -> list[Checkpoint]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT position, digest, events, at FROM {0} WHERE log = %s {1}").format(
                    self._checkpoints, order
                ),
                (self._name,),
            )
            return [self._checkpoint(r) for r in curs.fetchall()]

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL(
                    "INSERT INTO {0} (log, position, digest, events, at) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
                ).format(self._checkpoints),
                (
                    checkpoint.log,
                    checkpoint.position,
                    checkpoint.digest,
                    checkpoint.events,
                    checkpoint.at,
                ),
            )

    def seal(self, hashes: Sequence[tuple[UUID, int, bytes]]) -> int:
        if not hashes:
            return 0
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL(
                    "UPDATE {0} e SET chain_hash = h.chain_hash "
                    "FROM unnest(%s::uuid[], %s::bigint[], %s::bytea[]) "
                    "AS h(originator_id, originator_version, chain_hash) "
                    "WHERE e.originator_id = h.originator_id "
                    "AND e.originator_version = h.originator_version AND e.chain_hash IS NULL"
                ).format(self._events),
                ([s for s, _, _ in hashes], [v for _, v, _ in hashes], [h for _, _, h in hashes]),
            )
            return int(curs.rowcount)

    def _checkpoint(self, r: Any) -> Checkpoint:
        return Checkpoint(
            log=self._name,
            position=r["position"],
            digest=bytes(r["digest"]),
            events=r["events"],
            at=r["at"],
        )


def _chain_row(r: Any) -> ChainRow:
    return ChainRow(
        position=r["notification_id"],
        originator_id=r["originator_id"],
        originator_version=r["originator_version"],
        topic=r["topic"] or "",
        state=bytes(r["state"] or b""),  # an edited row may hold NULL: reported, not fatal
        chain_hash=None if r["chain_hash"] is None else bytes(r["chain_hash"]),
    )
