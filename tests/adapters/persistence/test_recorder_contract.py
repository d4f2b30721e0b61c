"""eventsourcing's own recorder contract, run against the recorders Auxot configures.

The library ships abstract unittest cases (``eventsourcing.tests.persistence``); its own
suite subclasses them per backend with a ``create_recorder``. Here ``create_recorder``
builds recorders exactly as an Auxot application does: an ``InfrastructureFactory``
constructed from ``Database.env(app_name)``, then ``application_recorder()`` (the event
logs) or ``tracking_recorder(<our WorkView class>)`` (the status views, which subclass
the library's tracking recorders).

The library's abstract cases are reached through the module (``lib.``) and never bound
to a name here: pytest collects every ``TestCase`` it finds in a test module's
namespace, and would try to run the abstract ones.

``eventsourcing.tests.persistence`` imports ``eventsourcing.cipher``, which needs
pycryptodome: the test extra installs it.
"""

from __future__ import annotations

import importlib
import tempfile
import threading
import unittest
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import (
    ApplicationRecorder,
    InfrastructureFactory,
    IntegrityError,
    StoredEvent,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import Environment

from auxot.adapters.persistence import Database, parse_database_url
from auxot.adapters.persistence.memory import MemoryWorkView
from auxot.adapters.persistence.postgres import PostgresWorkView
from auxot.adapters.persistence.postgres import WorkEventsRecorder as PostgresWorkEventsRecorder
from auxot.adapters.persistence.sqlite import (
    RegistryEventsRecorder,
    SQLiteWorkView,
    WorkEventsRecorder,
)
from tests.adapters.persistence import pgdb

lib: Any = importlib.import_module("eventsourcing.tests.persistence")

PERFORMANCE_SKIP = (
    "prints timings and asserts nothing; throughput is measured in benchmarks/ "
    "against a baseline, and the concurrent contract tests below cover correctness"
)


# -- where the recorders live ---------------------------------------------------------


class _Backend:
    """Per test: a fresh database, and factories built from ``Database.env``."""

    def setUp(self) -> None:
        super().setUp()  # type: ignore[misc]
        self._threads_before = set(threading.enumerate())
        self.factories: list[InfrastructureFactory[Any]] = []
        self.database = self.open_database()

    def tearDown(self) -> None:
        # The library's test_concurrent_no_conflicts sets its readers' stop event but
        # never joins them: closing the SQLite pool under a reader still in a query
        # crashes the interpreter (a segfault inside sqlite3). Let them finish first.
        for thread in set(threading.enumerate()) - self._threads_before:
            if not thread.daemon:
                thread.join(timeout=30)
                assert not thread.is_alive(), f"{thread.name} did not stop"
        for factory in self.factories:
            factory.close()
        self.close_database()
        super().tearDown()  # type: ignore[misc]

    def open_database(self) -> Database:
        raise NotImplementedError

    def close_database(self) -> None:
        """Nothing to close: each case drops its own database in tearDown."""

    def factory(self, app_name: str) -> InfrastructureFactory[Any]:
        env = Environment(app_name, self.database.env(app_name))
        factory = InfrastructureFactory.construct(env)
        self.factories.append(factory)
        return factory


class _Memory(_Backend):
    def open_database(self) -> Database:
        return parse_database_url("memory://")


class _SQLite(_Backend):
    def open_database(self) -> Database:
        self._tmp = tempfile.TemporaryDirectory()
        return parse_database_url(f"sqlite:///{Path(self._tmp.name) / 'auxot.db'}")

    def close_database(self) -> None:
        self._tmp.cleanup()


class _Postgres(_Backend):
    def open_database(self) -> Database:
        self._url = pgdb.create_database()
        return parse_database_url(self._url)

    def close_database(self) -> None:
        pgdb.drop_database(self._url)


# -- the event logs: ApplicationRecorderTestCase ---------------------------------------


class _EventLog:
    app_name: str
    expected_class: type[ApplicationRecorder]

    def create_recorder(self) -> ApplicationRecorder:
        recorder = self.factory(self.app_name).application_recorder()  # type: ignore[attr-defined]
        # The recorder under test is the one Auxot configures, not the library default.
        assert type(recorder) is self.expected_class, type(recorder)
        return recorder  # type: ignore[no-any-return]

    @unittest.skip(PERFORMANCE_SKIP)
    def test_performance(self) -> None:
        """Skipped: see PERFORMANCE_SKIP."""


class TestMemoryWorkLogRecorder(_EventLog, _Memory, lib.ApplicationRecorderTestCase[Any]):
    app_name = "work"
    expected_class = POPOApplicationRecorder


class TestSQLiteRegistryEventsRecorder(
    _EventLog, _SQLite, lib.ApplicationRecorderTestCase[Any]
):
    app_name = "registry"
    expected_class = RegistryEventsRecorder


class TestSQLiteWorkEventsRecorder(_EventLog, _SQLite, lib.ApplicationRecorderTestCase[Any]):
    app_name = "work"
    expected_class = WorkEventsRecorder


@pytest.mark.postgres
class TestPostgresRegistryRecorder(_EventLog, _Postgres, lib.ApplicationRecorderTestCase[Any]):
    app_name = "registry"
    expected_class = PostgresApplicationRecorder


@pytest.mark.postgres
class TestPostgresWorkLogRecorder(_EventLog, _Postgres, lib.ApplicationRecorderTestCase[Any]):
    app_name = "work"
    expected_class = PostgresWorkEventsRecorder


# Two writers racing: each one's events get one contiguous block of notification ids, so
# a reader following the log by position never sees a save half-way.


class TestMemoryWorkLogNonInterleaving(
    _EventLog, _Memory, lib.NonInterleavingNotificationIDsBaseCase
):
    app_name = "work"
    expected_class = POPOApplicationRecorder


class TestSQLiteWorkLogNonInterleaving(
    _EventLog, _SQLite, lib.NonInterleavingNotificationIDsBaseCase
):
    app_name = "work"
    expected_class = WorkEventsRecorder


@pytest.mark.postgres
class TestPostgresWorkLogNonInterleaving(
    _EventLog, _Postgres, lib.NonInterleavingNotificationIDsBaseCase
):
    app_name = "work"
    expected_class = PostgresWorkEventsRecorder


# -- the status views' tracking: TrackingRecorderTestCase -------------------------------


class _ViewTracking:
    view_class: type[TrackingRecorder]

    def create_recorder(self) -> TrackingRecorder:
        factory = self.factory("work")  # type: ignore[attr-defined]
        recorder = factory.tracking_recorder(self.view_class)
        assert type(recorder) is self.view_class
        return recorder  # type: ignore[no-any-return]


class TestMemoryWorkViewTracking(_ViewTracking, _Memory, lib.TrackingRecorderTestCase):
    view_class = MemoryWorkView


class TestSQLiteWorkViewTracking(_ViewTracking, _SQLite, lib.TrackingRecorderTestCase):
    view_class = SQLiteWorkView


@pytest.mark.postgres
class TestPostgresWorkViewTracking(_ViewTracking, _Postgres, lib.TrackingRecorderTestCase):
    view_class = PostgresWorkView


# -- what Auxot adds: two applications, one database ------------------------------------


def _event(topic: str) -> StoredEvent:
    return StoredEvent(originator_id=uuid4(), originator_version=1, topic=topic, state=b"{}")


class _TwoLogsOneDatabase:
    """The registry and the work log share one database but never one log."""

    def test_each_application_has_its_own_log(self) -> None:
        registry = self.factory("registry").application_recorder()  # type: ignore[attr-defined]
        work = self.factory("work").application_recorder()  # type: ignore[attr-defined]

        assert registry.insert_events([_event("registry-1"), _event("registry-2")]) == [1, 2]
        assert work.insert_events([_event("work-1")]) == [1]

        assert [n.topic for n in registry.select_notifications(start=None, limit=10)] == [
            "registry-1",
            "registry-2",
        ]
        assert [n.topic for n in work.select_notifications(start=None, limit=10)] == ["work-1"]
        assert (registry.max_notification_id(), work.max_notification_id()) == (2, 1)
        self.assert_tables()

    def test_the_view_tracks_per_application_beside_the_log(self) -> None:
        factory = self.factory("work")  # type: ignore[attr-defined]
        work = factory.application_recorder()
        view = factory.tracking_recorder(self.view_class)  # type: ignore[attr-defined]
        work.insert_events([_event("work-1")])

        view.insert_tracking(Tracking("work", 1))
        view.insert_tracking(Tracking("registry", 7))
        assert (view.max_tracking_id("work"), view.max_tracking_id("registry")) == (1, 7)
        with pytest.raises(IntegrityError):
            view.insert_tracking(Tracking("work", 1))
        # Tracking a position says nothing about the log itself.
        assert work.max_notification_id() == 1

    def assert_tables(self) -> None:
        """Backends whose table names can be inspected override this; memory has none."""


class TestSQLiteTwoLogsOneFile(_TwoLogsOneDatabase, _SQLite, unittest.TestCase):
    view_class = SQLiteWorkView

    def assert_tables(self) -> None:
        import sqlite3

        with sqlite3.connect(self.database.path) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert {"registry_events", "work_events"} <= tables
        # The library's default single table would be shared by both applications.
        assert "stored_events" not in tables


@pytest.mark.postgres
class TestPostgresTwoLogsOneDatabase(_TwoLogsOneDatabase, _Postgres, unittest.TestCase):
    view_class = PostgresWorkView

    def assert_tables(self) -> None:
        import psycopg

        with psycopg.connect(self._url) as conn:
            tables = {
                r[0]
                for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = 'public'"
                )
            }
        assert {"registry_events", "work_events"} <= tables
        assert "stored_events" not in tables
