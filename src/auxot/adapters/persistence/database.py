"""Database URLs: ``memory://``, ``sqlite:///relative/or//absolute/path``,
``postgresql://user:password@host:port/dbname``.

One URL configures the event stores of both applications and the read models beside
them; the read models always live in the same database as the events they follow.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import attrs

from auxot.application.ports import (
    AuditView,
    ChainedLog,
    DeliveryView,
    IndexView,
    ProviderSlots,
    WorkView,
)
from auxot.application.stores import AuxotApplication

Backend = Literal["memory", "sqlite", "postgres"]


class DatabaseUrlError(ValueError):
    pass


class DatabaseUnavailableError(ConnectionError):
    """The database cannot be reached; the message is the driver's reason, on one line."""


@attrs.frozen
class Database:
    backend: Backend
    path: str = ""
    host: str = ""
    port: int = 5432
    user: str = ""
    password: str = attrs.field(default="", repr=False)
    dbname: str = ""
    pool_size: int = 8

    def env(self, app_name: str) -> dict[str, str]:
        """The eventsourcing settings for the application named ``app_name``."""
        if self.backend == "memory":
            return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
        if self.backend == "sqlite":
            from auxot.adapters.persistence import sqlite

            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": self.path,
                "SQLITE_LOCK_TIMEOUT": "30",
                "APPLICATION_RECORDER_TOPIC": sqlite.events_recorder_topic(app_name),
            }
        from auxot.adapters.persistence import postgres

        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            # The registry is read on a miss and written by `apply`; the work log takes
            # every submission, claim, outcome and projection: size pools to match, so
            # that a process holds a handful of connections, not dozens.
            "POSTGRES_POOL_SIZE": str(self.pool_size if app_name == "work" else 2),
            "POSTGRES_MAX_OVERFLOW": str(self.pool_size if app_name == "work" else 4),
            "POSTGRES_CONNECT_TIMEOUT": "10",
            "POSTGRES_LOCK_TIMEOUT": "30",
            # Ours for both logs: it chains every event it inserts.
            "APPLICATION_RECORDER_TOPIC": postgres.events_recorder_topic(),
        }

    def work_view(self, work: AuxotApplication) -> WorkView:
        """The work status view, sharing the work log's connection pool."""
        if self.backend == "memory":
            from auxot.adapters.persistence.memory import MemoryWorkView

            return work.factory.tracking_recorder(MemoryWorkView)  # type: ignore[return-value]
        if self.backend == "sqlite":
            from auxot.adapters.persistence.sqlite import SQLiteWorkView

            return work.factory.tracking_recorder(SQLiteWorkView)  # type: ignore[return-value]
        from auxot.adapters.persistence.postgres import PostgresWorkView

        return work.factory.tracking_recorder(PostgresWorkView)  # type: ignore[return-value]

    def delivery_view(self, work: AuxotApplication) -> DeliveryView:
        """The callback deliveries view, beside the work view."""
        if self.backend == "memory":
            from auxot.adapters.persistence.memory_deliveries import MemoryDeliveryView

            return work.factory.tracking_recorder(MemoryDeliveryView)  # type: ignore[return-value]
        if self.backend == "sqlite":
            from auxot.adapters.persistence.sqlite_deliveries import SQLiteDeliveryView

            return work.factory.tracking_recorder(SQLiteDeliveryView)  # type: ignore[return-value]
        from auxot.adapters.persistence.postgres_deliveries import PostgresDeliveryView

        return work.factory.tracking_recorder(PostgresDeliveryView)  # type: ignore[return-value]

    def chained_log(self, app: AuxotApplication) -> ChainedLog | None:
        """The application's events with their chain hashes, and its checkpoints, on its
        pool; None for ``memory://``, whose events live and die with the process that
        holds them (no one else can edit them, nor open them to verify)."""
        if self.backend == "memory":
            return None
        factory: Any = app.factory
        if self.backend == "sqlite":
            from auxot.adapters.persistence.sqlite import chained_log

            sqlite_log = chained_log(factory.datastore, app.name)
            if factory.env_create_table():
                sqlite_log.create_table()
            return sqlite_log
        from auxot.adapters.persistence.postgres_chain import PostgresChainedLog

        postgres_log = PostgresChainedLog(factory.datastore, app.name, f"{app.name}_events")
        if factory.env_create_table():
            postgres_log.create_table()
        return postgres_log

    def audit_view(self, work: AuxotApplication) -> AuditView:
        """The audit log, beside the work log and on its connection pool."""
        if self.backend == "memory":
            from auxot.adapters.persistence.audit_memory import MemoryAuditView

            return work.factory.tracking_recorder(MemoryAuditView)  # type: ignore[return-value]
        if self.backend == "sqlite":
            from auxot.adapters.persistence.audit_sqlite import SQLiteAuditView

            return work.factory.tracking_recorder(SQLiteAuditView)  # type: ignore[return-value]
        from auxot.adapters.persistence.audit_postgres import PostgresAuditView

        return work.factory.tracking_recorder(PostgresAuditView)  # type: ignore[return-value]

    def index_view(self, work: AuxotApplication) -> IndexView:
        """The work index (boards, work lists, statistics), sharing the work log's pool."""
        if self.backend == "memory":
            from auxot.adapters.persistence.views_memory import MemoryIndexView

            return work.factory.tracking_recorder(MemoryIndexView)  # type: ignore[return-value]
        if self.backend == "sqlite":
            from auxot.adapters.persistence.views_sqlite import SQLiteIndexView

            return work.factory.tracking_recorder(SQLiteIndexView)  # type: ignore[return-value]
        from auxot.adapters.persistence.views_postgres import PostgresIndexView

        return work.factory.tracking_recorder(PostgresIndexView)  # type: ignore[return-value]

    def provider_slots(self, work: AuxotApplication) -> ProviderSlots:
        """The provider slots, in the work log's database (so shared by every process on
        it) and on its connection pool; in-process for ``memory://``."""
        if self.backend == "memory":
            from auxot.adapters.persistence.memory import MemoryProviderSlots

            return MemoryProviderSlots()
        factory: Any = work.factory
        if self.backend == "sqlite":
            from auxot.adapters.persistence.sqlite import SQLiteProviderSlots

            sqlite_slots = SQLiteProviderSlots(factory.datastore)
            if factory.env_create_table():
                sqlite_slots.create_table()
            return sqlite_slots
        from auxot.adapters.persistence.postgres import PostgresProviderSlots

        postgres_slots = PostgresProviderSlots(factory.datastore)
        if factory.env_create_table():
            postgres_slots.create_table()
        return postgres_slots

    @contextlib.contextmanager
    def opening(self) -> Iterator[None]:
        """Around creating the stores of one process. On PostgreSQL it fails at once, with
        the server's reason, when the database cannot be reached (the connection pool
        would retry for its whole timeout, then say only that it timed out), and it
        holds an advisory lock so that processes starting together create the tables in
        turn: the library's CREATE OR REPLACE FUNCTION and CREATE TABLE IF NOT EXISTS
        fail when run concurrently ("tuple concurrently updated")."""
        if self.backend != "postgres":
            yield
            return
        import psycopg

        params = {"host": self.host, "port": self.port, "dbname": self.dbname}
        params |= {"user": self.user} if self.user else {}
        params |= {"password": self.password} if self.password else {}
        try:
            conn = psycopg.connect(connect_timeout=10, autocommit=True, **params)  # type: ignore[arg-type]
        except psycopg.Error as exc:
            raise DatabaseUnavailableError(" ".join(str(exc).split())) from exc
        with conn:  # closing the session releases its advisory lock
            conn.execute("SELECT pg_advisory_lock(hashtext('auxot:create-tables'))")
            yield

    def describe(self) -> str:
        """The URL without its password, for logs and banners."""
        if self.backend == "memory":
            return "memory://"
        if self.backend == "sqlite":
            return f"sqlite:///{self.path}"
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}"


def parse_database_url(url: str) -> Database:
    parts = urlsplit(url)
    if parts.scheme == "memory":
        return Database("memory")
    if parts.scheme == "sqlite":
        # sqlite:///auxot.db is relative; sqlite:////var/lib/auxot.db is absolute.
        path = unquote(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else ""
        if not path:
            raise DatabaseUrlError(f"'{url}' names no file: use sqlite:///path/to/auxot.db")
        return Database("sqlite", path=path)
    if parts.scheme in ("postgresql", "postgres"):
        dbname = parts.path.lstrip("/")
        if not parts.hostname or not dbname:
            raise DatabaseUrlError(
                f"'{url}' needs a host and a database: postgresql://user@host:5432/dbname"
            )
        try:
            port = parts.port or 5432
        except ValueError as exc:
            raise DatabaseUrlError(f"'{url}' has a bad port") from exc
        return Database(
            "postgres",
            host=parts.hostname,
            port=port,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            dbname=dbname,
        )
    raise DatabaseUrlError(
        f"unsupported database URL '{url}': use memory://, sqlite:///path or postgresql://..."
    )
