"""Several processes on one database: racing projections, racing engines, a waiter in
one process woken by another's projection, and PostgreSQL row locks taken in one order.

Each "process" is its own ``bootstrap`` on the same database URL: its own applications,
connection pools and view objects, sharing only the database, as separate processes do.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import attrs
import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.utils import get_topic

from auxot.application.ports import WorkRow
from auxot.application.projection import WorkProjection
from auxot.application.refs import parse_ref
from auxot.application.service import Service
from auxot.domain.actor import SYSTEM as OPERATOR
from auxot.domain.work_item import Status, WorkItem
from auxot.entrypoints.bootstrap import bootstrap
from auxot.entrypoints.settings import Settings
from auxot.entrypoints.workflow_file import load_declaration
from tests.support import EXAMPLE_WORKFLOW, wait_until

TIMEOUT = 60.0
STARTED = get_topic(WorkItem.StepStarted)

POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)


@pytest.fixture
def processes(request: pytest.FixtureRequest) -> Iterator[Callable[..., Service]]:
    """``open(**settings)``: one more bootstrap on the test's database."""
    url = str(request.getfixturevalue(f"{request.param}_url"))
    opened: list[Service] = []

    def open_(*, run_worker: bool = False, worker_id: str = "test") -> Service:
        service = bootstrap(
            Settings(database_url=url, poll_interval=0.05, worker_id=worker_id),
            run_worker=run_worker,
        )
        opened.append(service)
        return service

    yield open_
    for service in reversed(opened):
        service.close()


def apply_example(service: Service) -> UUID:
    applied = service.apply(load_declaration(EXAMPLE_WORKFLOW), OPERATOR)
    intake = parse_ref("intake", next(a.id for a in applied if a.kind == "intake"))
    assert intake is not None
    return intake


def log_of(service: Service) -> list[Any]:
    notifications: list[Any] = []
    while True:
        start = notifications[-1].id + 1 if notifications else 1
        page = service.work.recorder.select_notifications(start=start, limit=500)
        if not page:
            return notifications
        notifications.extend(page)


# -- (a) projections racing -------------------------------------------------------------


def advance(service: Service, work_id: UUID) -> None:
    """Move an item one command on, as an engine would (claim, or record success)."""
    item = service.work.repository.get(work_id)
    assert isinstance(item, WorkItem)
    if item.status.terminal:
        return
    now = service.clock.now()
    live = item.live_run
    if live is None:
        item.start_step("racer", timedelta(minutes=5), now)
    else:
        workflow = service.directory.workflow(item.workflow_id)
        assert workflow is not None
        definition = workflow.definition(item.workflow_version)
        item.succeed_step(live.attempt, definition, now, output="ok")
    service.work.save(item)


@pytest.mark.parametrize("processes", ["sqlite", POSTGRES], indirect=True)
def test_racing_projections_leave_every_row_at_its_items_version(
    processes: Callable[..., Service],
) -> None:
    # Two processes, each projecting; the first also submits, from a third thread. (Not
    # a third process: each bootstrap holds 20 PostgreSQL connections at least.)
    racers = [processes(), processes()]
    writer = racers[0]
    intake = apply_example(writer)
    # Small batches: many rounds, and items whose events span several batches.
    projections = [WorkProjection(r.work, r.view, batch=5) for r in racers]

    submissions = 120
    errors: list[BaseException] = []
    projected = [0, 0]
    submitted: list[UUID] = []

    def race() -> None:
        done_writing = threading.Event()
        go = threading.Barrier(3)

        def write() -> None:
            rng = random.Random(7)
            try:
                go.wait(TIMEOUT)
                for i in range(submissions):
                    work_id, committed = writer.submit(None, intake, {"customer": f"c{i}"})
                    committed.result(TIMEOUT)
                    submitted.append(work_id)
                    # Move older items on too, so one item's events span many batches.
                    for _ in range(2):
                        advance(writer, rng.choice(submitted))
            except BaseException as exc:
                errors.append(exc)
            finally:
                done_writing.set()

        def project(n: int) -> None:
            projection, work = projections[n], racers[n].work
            try:
                go.wait(TIMEOUT)
                while True:
                    finished = done_writing.is_set()
                    projected[n] += projection.catch_up()
                    if finished and projection.position >= (
                        work.recorder.max_notification_id() or 0
                    ):
                        return
            except BaseException as exc:
                errors.append(exc)

        threads = [
            threading.Thread(target=write),
            threading.Thread(target=project, args=(0,)),
            threading.Thread(target=project, args=(1,)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT)
        assert not any(t.is_alive() for t in threads), "a thread did not finish"

    # Which projector wins each batch is the scheduler's choice: on a loaded machine one
    # can win them all, and then there was no race to check. Race again (more items on
    # the same log) until both have projected some.
    for _ in range(3):
        race()
        if all(projected):
            break
    assert not errors, errors

    log = log_of(writer)
    assert len(submitted) % submissions == 0
    assert {n.originator_id for n in log} == set(submitted)
    # Between them the two projected everything, and each did part of the work.
    assert projected[0] + projected[1] >= len(log)
    assert projected[0] > 0
    assert projected[1] > 0
    versions = Counter(n.originator_id for n in log)
    assert max(versions.values()) > 2  # some items did move on across batches
    for view in (racers[0].view, racers[1].view):
        assert view.max_tracking_id("work") == log[-1].id
        for work_id in submitted:
            row = view.get(work_id)
            item = writer.work.repository.get(work_id)
            assert row is not None, work_id
            assert row.version == item.version == versions[work_id], work_id
            assert row.status == item.status.value


# -- (b) engines racing -----------------------------------------------------------------


@pytest.mark.parametrize("processes", ["sqlite", POSTGRES], indirect=True)
def test_two_engines_claim_each_step_attempt_exactly_once(
    processes: Callable[..., Service],
) -> None:
    first = processes(run_worker=True, worker_id="worker-1")
    intake = apply_example(first)
    second = processes(run_worker=True, worker_id="worker-2")

    items = 40
    submitted = []
    for i in range(items):
        work_id, committed = first.submit(None, intake, {"customer": f"c{i}", "subject": "s"})
        committed.result(TIMEOUT)
        submitted.append(work_id)
    # All 40 due before either engine looks: both see the same queue at once.
    projection = WorkProjection(first.work, first.view)
    projection.catch_up_fully()
    assert len(first.view.due(first.clock.now(), 100)) == items

    starters = [threading.Thread(target=s.start) for s in (first, second)]
    for thread in starters:
        thread.start()
    for thread in starters:
        thread.join(TIMEOUT)

    for work_id in submitted:
        assert first.wait_terminal(work_id, TIMEOUT) is Status.COMPLETED, work_id

    log = log_of(first)
    started = [first.work.mapper.to_domain_event(n) for n in log if n.topic == STARTED]
    claims = Counter((event.originator_id, event.step) for event in started)
    assert claims == Counter({(w, s): 1 for w in submitted for s in ("classify", "draft")})
    # Both engines took part (each runs at most 4 steps at once: neither can take all).
    workers = Counter(event.worker for event in started)
    assert set(workers) == {"worker-1", "worker-2"}, workers
    for work_id in submitted:
        item = second.work.repository.get(work_id)
        assert [(r.key, r.attempt, r.status.value) for r in item.runs] == [
            ("classify", 1, "succeeded"),
            ("draft", 1, "succeeded"),
        ]


# -- (c) what one process projected, another process's waiters see ----------------------


class _Spy:
    """Wraps a view; sets ``asked`` once ``get`` was called for ``work_id``."""

    def __init__(self, view: Any, work_id: UUID) -> None:
        self._view = view
        self._work_id = work_id
        self.asked = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._view, name)

    def get(self, work_id: UUID) -> Any:
        found = self._view.get(work_id)
        if work_id == self._work_id:
            self.asked.set()
        return found


@pytest.mark.parametrize("processes", ["sqlite", POSTGRES], indirect=True)
def test_a_waiter_wakes_when_another_process_projected_the_item(
    processes: Callable[..., Service],
) -> None:
    waiting_side = processes()  # poll_interval 0.05 s
    waiting_side.start()
    other = processes()
    work_id = uuid4()
    spy = _Spy(waiting_side.view, work_id)
    waiting_side.view = spy

    outcome: list[Any] = []
    waiter = threading.Thread(
        target=lambda: outcome.append(waiting_side.wait_terminal(work_id, timeout=8))
    )
    waiter.start()
    assert spy.asked.wait(TIMEOUT)  # the waiter found no row yet and is waiting

    # Another process projects the item to its end (here, straight into the view, at a
    # position past the log's end: this process's own projection has nothing to do).
    other.view.save([terminal_row(work_id)], Tracking("work", 1_000))

    # It wakes within a few poll intervals, not at its timeout.
    waiter.join(timeout=2)
    slept_on = waiter.is_alive()
    waiter.join(TIMEOUT)  # (to its timeout, when it failed: it must not outlive the test)
    assert not slept_on, "the waiter slept on although the item is completed"
    assert outcome == [Status.COMPLETED]


def terminal_row(work_id: UUID) -> WorkRow:
    now = datetime.now(UTC)
    return WorkRow(
        work_id=work_id,
        intake_id=uuid4(),
        workflow_id=uuid4(),
        status="completed",
        version=7,
        due_at=None,
        updated_at=now,
        record=b"{}",
    )


# -- (d) PostgreSQL: overlapping projection batches must not deadlock -------------------


@pytest.mark.postgres
def test_overlapping_view_saves_do_not_deadlock(postgres_url: str) -> None:
    """Two processes saving batches that share items take the row locks in one order.

    Batches overlap whenever projections race (one item's events fall in several
    batches), and each batch lists its items in the order their events appear, so two
    batches can list two shared items in opposite orders. Locking rows in list order
    then deadlocks; PostgreSQL aborts one save after ``deadlock_timeout``.
    """
    ids = [UUID(int=i) for i in range(1, 5)]
    x, y, z1, z2 = ids
    one = bootstrap(Settings(database_url=postgres_url), run_worker=False)
    two = bootstrap(Settings(database_url=postgres_url), run_worker=False)
    try:
        one.view.save([_row(i, version=1) for i in ids], Tracking("work", 1))

        # A third session holds z1 and z2, so that each save stops after its first row.
        blocker = psycopg.connect(postgres_url)
        try:
            blocker.execute(
                "SELECT 1 FROM work_status WHERE work_id = ANY(%s) FOR UPDATE", ([z1, z2],)
            )
            errors: dict[str, BaseException] = {}

            def save(name: str, service: Service, rows: list[WorkRow], position: int) -> None:
                try:
                    service.view.save(rows, Tracking("work", position))
                except BaseException as exc:
                    errors[name] = exc

            newer = threading.Thread(
                target=save,
                args=("newer", one, [_row(y, 3), _row(z1, 3), _row(x, 3)], 3),
            )
            older = threading.Thread(
                target=save,
                args=("older", two, [_row(x, 2), _row(z2, 2), _row(y, 2)], 2),
            )
            newer.start()
            wait_until(lambda: _lock_waiters(postgres_url) >= 1, what="first save blocked")
            older.start()
            wait_until(lambda: _lock_waiters(postgres_url) >= 2, what="second save blocked")
            blocker.commit()
            newer.join(TIMEOUT)
            older.join(TIMEOUT)
        finally:
            blocker.close()

        assert "newer" not in errors, errors
        # The older batch either went first and was overwritten, or found the position
        # taken: either way nothing but a tracking conflict may stop it.
        assert set(errors) <= {"older"}
        assert all(isinstance(e, IntegrityError) for e in errors.values()), errors
        assert one.view.max_tracking_id("work") == 3
        for work_id in (x, y, z1):
            row = one.view.get(work_id)
            assert row is not None
            assert row.version == 3
    finally:
        one.close()
        two.close()


def _row(work_id: UUID, version: int) -> WorkRow:
    return attrs.evolve(terminal_row(work_id), status="running", version=version)


def _lock_waiters(url: str) -> int:
    with psycopg.connect(url) as conn:
        found = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    assert found is not None
    return int(found[0])
