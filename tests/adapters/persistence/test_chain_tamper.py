"""Tamper evidence on SQLite and PostgreSQL: real histories written through the service,
then edited behind its back with SQL, in both logs (registry and work). Verification
must name exactly the first event that was changed, removed or reordered."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import psycopg
import pytest

from auxot.adapters.persistence import parse_database_url
from auxot.application.chain_verify import BROKEN_LINK, LogReport, seal_log, verify_log
from auxot.application.checkpoints import Checkpointer
from auxot.application.ports import ChainedLog
from auxot.application.refs import parse_ref
from auxot.application.service import Service
from auxot.domain.work_item import Status
from auxot.entrypoints.bootstrap import bootstrap
from auxot.entrypoints.settings import Settings
from auxot.entrypoints.workflow_file import load_declaration
from tests.support import EXAMPLE_WORKFLOW, wait_until

ITEMS = 3
EVENTS_PER_ITEM = 7  # received, 2 x (started, succeeded), routed, completed
TIMEOUT = 60.0


class Database:
    """Direct SQL on the test database, written with ``?`` placeholders."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.db = parse_database_url(url)
        self.position = "rowid" if self.db.backend == "sqlite" else "notification_id"

    def execute(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        sql = sql.replace("{position}", self.position)
        if self.db.backend == "sqlite":
            with sqlite3.connect(self.db.path) as conn:
                rows = conn.execute(sql, params).fetchall()
            conn.close()
            return rows
        with psycopg.connect(self.url, autocommit=True) as pg:
            cursor = pg.execute(sql.replace("?", "%s"), params)
            return cursor.fetchall() if cursor.description else []

    def stream_id(self, value: Any) -> Any:
        """As the events table stores an id: hex text on SQLite, uuid on PostgreSQL."""
        return value.hex if self.db.backend == "sqlite" else value

    def event(self, table: str, stream: UUID, version: int) -> tuple[int, bytes]:
        ((position, state),) = self.execute(
            f"SELECT {{position}}, state FROM {table} "
            "WHERE originator_id = ? AND originator_version = ?",
            self.stream_id(stream),
            version,
        )
        return position, bytes(state)

    def set_state(self, table: str, stream: UUID, version: int, state: bytes) -> None:
        self.execute(
            f"UPDATE {table} SET state = ? WHERE originator_id = ? AND originator_version = ?",
            state,
            self.stream_id(stream),
            version,
        )

    def delete(self, table: str, stream: UUID, version: int) -> None:
        self.execute(
            f"DELETE FROM {table} WHERE originator_id = ? AND originator_version = ?",
            self.stream_id(stream),
            version,
        )

    def set_version(self, table: str, stream: UUID, old: int, new: int) -> None:
        self.execute(
            f"UPDATE {table} SET originator_version = ? "
            "WHERE originator_id = ? AND originator_version = ?",
            new,
            self.stream_id(stream),
            old,
        )


def settings(url: str, **overrides: Any) -> Settings:
    return Settings(
        **{"database_url": url, "poll_interval": 0.05, "checkpoint_seconds": 0, **overrides}
    )


def write_history(url: str) -> list[UUID]:
    """The example workflow applied, ITEMS items run to completion, and a checkpoint of
    each log; the work ids."""
    service = bootstrap(settings(url))
    service.start()
    try:
        applied = service.apply(load_declaration(EXAMPLE_WORKFLOW))
        intake = parse_ref("intake", next(a.id for a in applied if a.kind == "intake"))
        assert intake is not None
        work_ids = []
        for i in range(ITEMS):
            work_id, committed = service.submit(None, intake, {"customer": f"C{i}", "subject": "s"})
            committed.result(TIMEOUT)
            work_ids.append(work_id)
        for work_id in work_ids:
            assert service.wait_terminal(work_id, TIMEOUT) is Status.COMPLETED
        assert not Checkpointer(service.chains, service.clock).run().behind
        return work_ids
    finally:
        service.close()


def verify(url: str) -> dict[str, LogReport]:
    service = bootstrap(settings(url), run_worker=False)
    try:
        return {log.name: verify_log(log) for log in service.chains}
    finally:
        service.close()


@pytest.fixture
def history(durable_url: str) -> tuple[Database, list[UUID]]:
    return Database(durable_url), write_history(durable_url)


def flip_a_bit(state: bytes, at: int = 5) -> bytes:
    return state[:at] + bytes([state[at] ^ 1]) + state[at + 1 :]


def first_problem(report: LogReport) -> tuple[int, UUID | None, int | None, str]:
    first = report.findings[0]
    return first.position, first.originator_id, first.originator_version, first.problem


def test_an_untouched_history_verifies(history: tuple[Database, list[UUID]]) -> None:
    db, _ = history
    reports = verify(db.url)
    assert reports["work"].ok
    assert reports["registry"].ok
    assert reports["work"].events == ITEMS * EVENTS_PER_ITEM
    assert (reports["work"].checkpoints, reports["registry"].checkpoints) == (1, 1)
    assert reports["work"].latest is not None
    assert reports["work"].latest.events == ITEMS * EVENTS_PER_ITEM


def test_an_edited_state_byte_is_named(history: tuple[Database, list[UUID]]) -> None:
    db, work_ids = history
    stream = work_ids[1]
    position, state = db.event("work_events", stream, 4)
    db.set_state("work_events", stream, 4, flip_a_bit(state))
    report = verify(db.url)["work"]
    assert not report.ok
    assert first_problem(report) == (position, stream, 4, BROKEN_LINK)


def test_an_edited_registry_event_is_named(history: tuple[Database, list[UUID]]) -> None:
    db, _ = history
    ((stream, version, position),) = db.execute(
        "SELECT originator_id, originator_version, {position} FROM registry_events "
        "ORDER BY {position} LIMIT 1"
    )
    stream = UUID(str(stream))
    _, state = db.event("registry_events", stream, version)
    db.set_state("registry_events", stream, version, flip_a_bit(state))
    reports = verify(db.url)
    assert reports["work"].ok
    assert first_problem(reports["registry"]) == (position, stream, version, BROKEN_LINK)


def test_a_deleted_middle_event_is_named_by_the_next_one(
    history: tuple[Database, list[UUID]],
) -> None:
    db, work_ids = history
    stream = work_ids[0]
    db.delete("work_events", stream, 3)
    next_position, _ = db.event("work_events", stream, 4)
    report = verify(db.url)["work"]
    assert first_problem(report) == (
        next_position,
        stream,
        4,
        "version 3 is missing before it in its stream",
    )


def test_a_deleted_stream_tail_is_caught_by_the_checkpoint(
    history: tuple[Database, list[UUID]],
) -> None:
    db, work_ids = history
    stream = work_ids[-1]
    last, _ = db.event("work_events", stream, EVENTS_PER_ITEM)
    db.delete("work_events", stream, EVENTS_PER_ITEM)
    report = verify(db.url)["work"]
    (finding,) = report.findings  # no link shows it; the checkpoint does
    assert finding.originator_id is None
    total = ITEMS * EVENTS_PER_ITEM
    assert f"covered {total} events, {total - 1} are stored" in finding.problem
    assert finding.position >= last
    assert "after position 0 " in finding.problem


def test_swapped_states_name_the_earlier_event(history: tuple[Database, list[UUID]]) -> None:
    db, work_ids = history
    stream = work_ids[2]
    second, second_state = db.event("work_events", stream, 2)
    _, third_state = db.event("work_events", stream, 3)
    db.set_state("work_events", stream, 2, third_state)
    db.set_state("work_events", stream, 3, second_state)
    report = verify(db.url)["work"]
    assert first_problem(report) == (second, stream, 2, BROKEN_LINK)


def test_swapped_versions_name_the_earlier_event(history: tuple[Database, list[UUID]]) -> None:
    db, work_ids = history
    stream = work_ids[0]
    second, _ = db.event("work_events", stream, 2)
    db.set_version("work_events", stream, 2, -1)
    db.set_version("work_events", stream, 3, 2)
    db.set_version("work_events", stream, -1, 3)
    report = verify(db.url)["work"]
    assert first_problem(report) == (second, stream, 3, BROKEN_LINK)


def test_a_removed_chain_hash_is_named(history: tuple[Database, list[UUID]]) -> None:
    db, work_ids = history
    stream = work_ids[0]
    position, _ = db.event("work_events", stream, 5)
    db.execute(
        "UPDATE work_events SET chain_hash = NULL WHERE originator_id = ? "
        "AND originator_version = 5",
        db.stream_id(stream),
    )
    report = verify(db.url)["work"]
    assert first_problem(report)[:3] == (position, stream, 5)
    assert "removed" in report.findings[0].problem


# -- databases created before chaining --------------------------------------------------


def test_events_stored_before_chaining_are_unchained_until_sealed(durable_url: str) -> None:
    write_history(durable_url)
    db = Database(durable_url)
    for table in ("registry_events", "work_events"):  # as an earlier release left them
        db.execute(f"ALTER TABLE {table} DROP COLUMN chain_hash")
    db.execute("DROP TABLE chain_checkpoints")

    reports = verify(durable_url)  # opening the database adds the column back
    assert reports["work"].unchained == ITEMS * EVENTS_PER_ITEM
    assert reports["work"].problems == 0
    assert not reports["work"].ok

    service = bootstrap(settings(durable_url), run_worker=False)
    try:
        sealed = {log.name: seal_log(log) for log in service.chains}
        assert sealed["work"] == ITEMS * EVENTS_PER_ITEM
        assert all(verify_log(log).ok for log in service.chains)
        assert {log.name: seal_log(log) for log in service.chains} == {"registry": 0, "work": 0}
    finally:
        service.close()


# -- the worker's checkpoints -----------------------------------------------------------


@pytest.fixture
def worker(durable_url: str) -> Iterator[Service]:
    service = bootstrap(settings(durable_url, checkpoint_seconds=0.05))
    service.start()
    yield service
    service.close()


def test_the_worker_checkpoints_each_log(worker: Service) -> None:
    worker.apply(load_declaration(EXAMPLE_WORKFLOW))
    registry = next(log for log in worker.chains if log.name == "registry")
    events = registry.count()

    def covered(log: ChainedLog) -> Callable[[], bool]:
        def probe() -> bool:
            latest = log.latest_checkpoint()
            return latest is not None and latest.events == events

        return probe

    wait_until(covered(registry), TIMEOUT, what="a checkpoint covering the registry")
    assert verify_log(registry).ok
