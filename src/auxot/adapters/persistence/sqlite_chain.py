"""SQLite: event tables whose rows carry their chain hash, and the chained log that
``auxot audit verify`` reads (see ``auxot.application.chain``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import NAMESPACE_OID, UUID, uuid5

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteRecorder,
)

from auxot.adapters.persistence.paging import keyset_pages
from auxot.application.chain import ChainRow, Checkpoint, chain_hashes, predecessors_needed

_PAGE = 1000


class ChainedEventsRecorder(SQLiteApplicationRecorder):
    """An application's events table with a ``chain_hash`` column, filled on insert.

    The hashes are computed in Python before the write transaction. Only a batch's
    events whose stream already has stored events need a read (the stored hash of their
    predecessor), so the intake's batches of new items read nothing; the read happens
    before ``BEGIN`` because a deferred SQLite transaction that reads and then writes
    fails at once (it cannot upgrade) when another process wrote in between, where a
    transaction that starts by writing waits for the lock. Reading first is sound: a
    stored event never changes, and the unique (stream, version) key still refuses a
    racing writer's event of the same version.
    """

    def construct_create_table_statements(self) -> list[str]:
        return [
            f"CREATE TABLE IF NOT EXISTS {self.events_table_name} ("
            "originator_id TEXT, originator_version INTEGER, topic TEXT, state BLOB, "
            "chain_hash BLOB, PRIMARY KEY (originator_id, originator_version))"
        ]

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.insert_events_statement = (
            f"INSERT INTO {events_table_name} "  # noqa: S608 - our own table name
            "(originator_id, originator_version, topic, state, chain_hash) VALUES (?, ?, ?, ?, ?)"
        )
        self._predecessor = (
            f"SELECT chain_hash FROM {events_table_name} "  # noqa: S608
            "WHERE originator_id = ? AND originator_version < ? "
            "ORDER BY originator_version DESC LIMIT 1"
        )

    def create_table(self) -> None:
        super().create_table()
        add_chain_hash_column(self.datastore, self.events_table_name)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        found: Mapping[UUID, bytes | None] = {}
        if predecessors_needed(stored_events):
            with self.datastore.transaction(commit=False) as c:
                found = self.predecessors(c, stored_events)
        hashes = chain_hashes(stored_events, found)
        with self.datastore.transaction(commit=True) as c:
            return self._insert_events(c, stored_events, hashes=hashes, **kwargs)

    def _insert_events(
        self,
        c: SQLiteCursor,
        stored_events: Sequence[StoredEvent],
        *,
        hashes: Sequence[bytes | None] = (),
        **_: Any,
    ) -> Sequence[int] | None:
        """A batch in one ``executemany``: the library inserts row by row to read each
        row's id, and every statement hands the GIL back and forth with the event loop
        (the group-commit batches of the intake are hundreds of rows). Within the
        transaction this writer alone inserts, so the rows take consecutive ids after
        the largest: the notification ids are that range. ``hashes`` are the events'
        chain hashes, which ``insert_events`` computed."""
        if not stored_events:
            return []
        c.executemany(
            self.insert_events_statement,
            [
                (_hex(s.originator_id), s.originator_version, s.topic, s.state, h)
                for s, h in zip(stored_events, hashes, strict=True)
            ],
        )
        c.execute(self.select_max_notification_id_statement)
        last = int(c.fetchone()[0])
        return list(range(last - len(stored_events) + 1, last + 1))

    def predecessors(
        self, c: SQLiteCursor, events: Sequence[StoredEvent]
    ) -> dict[UUID, bytes | None]:
        """The stored chain hash before each stream of ``events`` that has one."""
        found: dict[UUID, bytes | None] = {}
        for stream, version in predecessors_needed(events):
            c.execute(self._predecessor, (stream.hex, version))
            row = c.fetchone()
            if row is not None:
                found[stream] = None if row[0] is None else bytes(row[0])
        return found


def add_chain_hash_column(datastore: SQLiteDatastore, table: str) -> None:
    """Tables created before chaining lack the column: add it (their rows stay
    unchained until ``auxot audit seal``). Two processes starting together may both
    try; the second finds it done."""
    with datastore.transaction(commit=True) as c:
        c.execute(f"PRAGMA table_info({table})")
        if any(row["name"] == "chain_hash" for row in c.fetchall()):
            return
        try:
            c.execute(f"ALTER TABLE {table} ADD COLUMN chain_hash BLOB")
        except sqlite3.OperationalError as exc:
            if "duplicate column" not in str(exc):
                raise


def _hex(id: UUID | str) -> str:
    return id.hex if isinstance(id, UUID) else id


_ROW = "rowid, originator_id, originator_version, topic, state, chain_hash"


class SQLiteChainedLog(SQLiteRecorder):
    """The chained events of one application's table, and its checkpoints (in a
    ``chain_checkpoints`` table shared by the applications in the file)."""

    def __init__(self, datastore: SQLiteDatastore, name: str, events_table: str) -> None:
        self._name = name
        self._table = events_table
        super().__init__(datastore)

    @property
    def name(self) -> str:
        return self._name

    def construct_create_table_statements(self) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS chain_checkpoints ("
            "log TEXT NOT NULL, position INTEGER NOT NULL, digest BLOB NOT NULL, "
            "events INTEGER NOT NULL, at REAL NOT NULL, PRIMARY KEY (log, position)) "
            "WITHOUT ROWID"
        ]

    def count(self) -> int:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT count(*) FROM {self._table}")  # noqa: S608
            return int(c.fetchone()[0])

    def by_stream(self, page: int = _PAGE) -> Iterator[ChainRow]:
        select = (
            f"SELECT {_ROW} FROM {self._table} "  # noqa: S608
            "WHERE (originator_id, originator_version) > (?, ?) "
            "ORDER BY originator_id, originator_version LIMIT ?"
        )

        def fetch(after: tuple[str, int], size: int) -> list[Any]:
            with self.datastore.transaction(commit=False) as c:
                c.execute(select, (*after, size))
                return list(c.fetchall())

        # Every stored id sorts after "" (ids are stored as text).
        rows = keyset_pages(
            fetch, lambda r: (r["originator_id"], r["originator_version"]), ("", 0), page
        )
        return (_chain_row(r) for r in rows)

    def by_position(self, after: int = 0, limit: int | None = None) -> Iterator[ChainRow]:
        select = (
            f"SELECT {_ROW} FROM {self._table} WHERE rowid > ? "  # noqa: S608
            "ORDER BY rowid LIMIT ?"
        )

        def fetch(position: int, size: int) -> list[Any]:
            with self.datastore.transaction(commit=False) as c:
                c.execute(select, (position, size))
                return list(c.fetchall())

        rows = keyset_pages(fetch, lambda r: int(r["rowid"]), after, _PAGE, limit)
        return (_chain_row(r) for r in rows)

    def checkpoints(self) -> list[Checkpoint]:
        return self._checkpoints("ORDER BY position")

    def latest_checkpoint(self) -> Checkpoint | None:
        latest = self._checkpoints("ORDER BY position DESC LIMIT 1")
        return latest[0] if latest else None

    def _checkpoints(self, order: str) -> list[Checkpoint]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT position, digest, events, at FROM chain_checkpoints "  # noqa: S608
                f"WHERE log = ? {order}",
                (self._name,),
            )
            return [self._checkpoint(r) for r in c.fetchall()]

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        if checkpoint.at is None:
            raise ValueError("a stored checkpoint says when it was written")
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                "INSERT OR IGNORE INTO chain_checkpoints (log, position, digest, events, at) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    checkpoint.log,
                    checkpoint.position,
                    checkpoint.digest,
                    checkpoint.events,
                    checkpoint.at.timestamp(),
                ),
            )

    def seal(self, hashes: Sequence[tuple[UUID, int, bytes]]) -> int:
        with self.datastore.transaction(commit=True) as c:
            c.executemany(
                f"UPDATE {self._table} SET chain_hash = ? "  # noqa: S608
                "WHERE originator_id = ? AND originator_version = ? AND chain_hash IS NULL",
                [(h, stream.hex, version) for stream, version, h in hashes],
            )
            return int(c.sqlite_cursor.rowcount) if hashes else 0

    def _checkpoint(self, r: Any) -> Checkpoint:
        return Checkpoint(
            log=self._name,
            position=r["position"],
            digest=bytes(r["digest"]),
            events=r["events"],
            at=datetime.fromtimestamp(r["at"], UTC),
        )


def _chain_row(r: Any) -> ChainRow:
    """A row as stored. SQLite keeps any type in any column, and an edited row may hold
    text where bytes were: it is read as the bytes of that text, never refused, so that
    verification reports it rather than fails on it."""
    return ChainRow(
        position=r["rowid"],
        originator_id=_uuid(r["originator_id"]),
        originator_version=r["originator_version"]
        if isinstance(r["originator_version"], int)
        else -1,
        topic=str(r["topic"]),
        state=_blob(r["state"]),
        chain_hash=None if r["chain_hash"] is None else _blob(r["chain_hash"]),
    )


def _blob(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    return b"" if value is None else str(value).encode("utf-8")


def _uuid(value: object) -> UUID:
    """An id that is no UUID (edited) still names a stream: the name-based UUID of it."""
    try:
        return UUID(str(value))
    except ValueError:
        return uuid5(NAMESPACE_OID, repr(value))
