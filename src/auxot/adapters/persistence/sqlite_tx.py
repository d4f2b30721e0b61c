"""SQLite write transactions that take the file's write lock at once."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

from eventsourcing.persistence import OperationalError, PersistenceError
from eventsourcing.sqlite import SQLiteDatastore


@contextlib.contextmanager
def immediate(datastore: SQLiteDatastore) -> Iterator[sqlite3.Cursor]:
    """A write transaction that takes the file's write lock at once (``BEGIN
    IMMEDIATE``): a deferred one that reads first could not upgrade while another
    process writes."""
    try:
        with datastore.get_connection(commit=True) as conn, conn.cursor() as c:
            c.execute("BEGIN IMMEDIATE")
            try:
                yield c
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
    # As the library's own transactions do: callers tell a database that is busy or
    # down (try again later) from a defect by these types alone.
    except sqlite3.OperationalError as exc:
        raise OperationalError(str(exc)) from exc
    except sqlite3.Error as exc:
        raise PersistenceError(str(exc)) from exc
