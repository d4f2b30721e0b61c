"""The engine on the in-memory store, driven by hand: no worker threads, a manual clock.

Each test calls the projection's ``catch_up()`` and the engine's ``dispatch()`` itself;
steps run on the engine's executor, so a test waits for ``engine.idle`` before looking.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import OperationalError

from auxot.adapters.clock import ManualClock
from auxot.adapters.persistence.memory import MemoryProviderSlots
from auxot.application.declarations import Declaration, IntakeDecl, ProviderDecl, TeamDecl
from auxot.application.engine import Engine
from auxot.application.ports import Completion, PromptRequest, ProviderSlots
from auxot.application.projection import WorkProjection
from auxot.application.records import WorkRecord, decode_record
from auxot.application.refs import parse_ref
from auxot.application.service import Service
from auxot.domain.actor import SYSTEM as OPERATOR
from auxot.domain.work_item import RunStatus, Status, WorkItem
from tests.application.builders import declaration, ids_of, linear_workflow, memory_service
from tests.support import wait_until

GATE_TIMEOUT = 10.0
HOUR = timedelta(hours=1)


class GatedProvider:
    """A provider whose calls block until the test opens their gate (one call, or all);
    it records the order of calls and the most calls in flight at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gates: dict[tuple[UUID, int], threading.Event] = {}
        self._all_open = False
        self.calls: list[tuple[UUID, int]] = []
        self.in_flight = 0
        self.most_in_flight = 0

    def factory(self, name: str, settings: Mapping[str, Any]) -> GatedProvider:
        return self

    def complete(self, request: PromptRequest) -> Completion:
        call = (request.work_id, request.attempt)
        with self._lock:
            self.calls.append(call)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            gate = self._gate(call)
        try:
            if not gate.wait(GATE_TIMEOUT):
                raise AssertionError(f"the test never released {call}")
            return Completion(text=f"done by attempt {request.attempt}", model="gated")
        finally:
            with self._lock:
                self.in_flight -= 1

    def _gate(self, call: tuple[UUID, int]) -> threading.Event:
        gate = self._gates.setdefault(call, threading.Event())
        if self._all_open:
            gate.set()
        return gate

    def release(self, work_id: UUID, attempt: int = 1) -> None:
        with self._lock:
            self._gate((work_id, attempt)).set()

    def open_all(self) -> None:
        with self._lock:
            self._all_open = True
            for gate in self._gates.values():
                gate.set()

    def called(self, count: int) -> bool:
        with self._lock:
            return len(self.calls) >= count

    def close(self) -> None:
        """Nothing to release: the gates belong to the test."""


class Harness:
    """A service plus the engine and projection a worker thread would run."""

    def __init__(self, service: Service, clock: ManualClock) -> None:
        self.service = service
        self.clock = clock
        self.projection = WorkProjection(service.work, service.view)
        self.engines: list[Engine] = []
        self.engine = self.new_engine("worker-a")

    def new_engine(
        self,
        worker_id: str,
        *,
        threads: int = 4,
        batch: int = 64,
        slots: ProviderSlots | None = None,
    ) -> Engine:
        engine = Engine(
            self.service.work,
            self.service.view,
            self.service.directory,
            self.service.providers,
            self.clock,
            slots=slots or self.service.slots,
            worker_id=worker_id,
            lease_grace=timedelta(seconds=1),
            threads=threads,
            batch=batch,
        )
        self.engines.append(engine)
        return engine

    def submit(self, intake: str, payload: dict[str, Any]) -> UUID:
        intake_id = parse_ref("intake", intake)
        assert intake_id is not None
        work_id, committed = self.service.submit(None, intake_id, payload)
        committed.result(GATE_TIMEOUT)
        return work_id

    def project(self) -> None:
        self.projection.catch_up_fully()

    def settle(self, engine: Engine | None = None) -> None:
        engine = engine or self.engine
        wait_until(lambda: engine.idle, what="the engine's steps to finish")
        self.project()

    def run_to_the_end(self, work_id: UUID, rounds: int = 10) -> WorkRecord:
        for _ in range(rounds):
            self.project()
            self.engine.dispatch()
            self.settle()
            record = self.record(work_id)
            if Status(record.status).terminal:
                return record
        raise AssertionError(f"not terminal after {rounds} rounds: {self.record(work_id)}")

    def record(self, work_id: UUID) -> WorkRecord:
        row = self.service.view.get(work_id)
        assert row is not None
        return decode_record(row.record)

    def item(self, work_id: UUID) -> WorkItem:
        return self.service.work.item(work_id)

    def close(self) -> None:
        for engine in self.engines:
            engine.close()
        self.service.close()


@pytest.fixture
def gated() -> GatedProvider:
    return GatedProvider()


@pytest.fixture
def harness(clock: ManualClock, gated: GatedProvider) -> Iterator[Harness]:
    service = memory_service(clock, providers={"gated": gated.factory})
    h = Harness(service, clock)
    yield h
    gated.open_all()  # never leave a step thread blocked behind a failed test
    h.close()


def apply(harness: Harness, provider: ProviderDecl | None = None, **workflow: Any) -> str:
    applied = harness.service.apply(
        declaration(provider=provider, workflow=linear_workflow(**workflow)), OPERATOR
    )
    return ids_of(applied, "intake")["triage"]


# -- outcomes ---------------------------------------------------------------------------


def test_a_two_step_workflow_completes(harness: Harness) -> None:
    intake = apply(harness)
    work_id = harness.submit(intake, {"subject": "Login broken", "customer": "Acme"})
    record = harness.run_to_the_end(work_id)
    assert record.status == "completed"
    assert record.output == "Reply to Acme"
    assert [(s.key, s.status, s.attempt) for s in record.steps] == [
        ("step1", "succeeded", 1),
        ("step2", "succeeded", 1),
    ]
    assert record.steps[0].output == "Classify Login broken"
    assert record.steps[0].model == "scripted"
    assert record.current_step is None
    assert harness.service.view.get(work_id).due_at is None  # type: ignore[union-attr]


def test_a_failing_provider_fails_the_item_with_its_error(harness: Harness) -> None:
    intake = apply(harness, ProviderDecl("offline", "scripted", settings={"fail": "boom"}))
    work_id = harness.submit(intake, {"subject": "x", "customer": "y"})
    record = harness.run_to_the_end(work_id)
    assert record.status == "failed"
    assert record.error is not None
    assert "boom" in record.error
    assert [(s.key, s.status, s.error) for s in record.steps] == [("step1", "failed", "boom")]


def test_nothing_is_dispatched_before_the_projection_has_seen_the_item(
    harness: Harness,
) -> None:
    intake = apply(harness)
    work_id = harness.submit(intake, {})
    assert harness.engine.dispatch() == 0
    harness.project()
    assert harness.engine.dispatch() == 1
    harness.settle()
    assert harness.record(work_id).steps[0].status == "succeeded"


# -- provider limits --------------------------------------------------------------------


def test_max_parallel_one_runs_one_step_at_a_time_in_arrival_order(
    harness: Harness, clock: ManualClock, gated: GatedProvider
) -> None:
    intake = apply(harness, ProviderDecl("offline", "gated", max_parallel=1), prompts=("go",))
    work_ids = []
    for n in range(3):
        work_ids.append(harness.submit(intake, {"n": n}))
        clock.advance(timedelta(seconds=1))  # arrival order is the order of due times
    harness.project()

    assert harness.engine.dispatch() == 1
    wait_until(lambda: gated.called(1), what="the first step to start")
    assert harness.engine.dispatch() == 0  # full: the others queue, nothing fails
    harness.project()
    assert [harness.record(w).status for w in work_ids] == ["running", "pending", "pending"]

    for n, work_id in enumerate(work_ids):
        assert gated.calls[n] == (work_id, 1)
        gated.release(work_id)
        harness.settle()
        assert harness.record(work_id).status == "completed"
        if n + 1 < len(work_ids):
            assert harness.engine.dispatch() == 1
            wait_until(lambda n=n: gated.called(n + 2), what="the next step to start")

    assert [call[0] for call in gated.calls] == work_ids
    assert gated.most_in_flight == 1


def test_max_parallel_two_runs_two_at_once(harness: Harness, gated: GatedProvider) -> None:
    intake = apply(harness, ProviderDecl("offline", "gated", max_parallel=2), prompts=("go",))
    work_ids = [harness.submit(intake, {"n": n}) for n in range(3)]
    harness.project()
    assert harness.engine.dispatch() == 2
    wait_until(lambda: gated.called(2), what="two steps to start")
    assert harness.engine.dispatch() == 0
    gated.open_all()
    for work_id in work_ids:
        assert harness.run_to_the_end(work_id).status == "completed"
    assert gated.most_in_flight == 2


# -- leases -----------------------------------------------------------------------------


def test_an_expired_lease_lets_another_worker_run_the_step_and_drops_the_late_outcome(
    harness: Harness, clock: ManualClock, gated: GatedProvider
) -> None:
    provider = ProviderDecl("offline", "gated", settings={"timeout": 5})
    intake = apply(harness, provider, prompts=("go",))
    work_id = harness.submit(intake, {})
    harness.project()

    # Worker A claims the step and then hangs, as a dead worker would.
    assert harness.engine.dispatch() == 1
    wait_until(lambda: gated.called(1), what="worker A's attempt to start")
    harness.project()
    first = harness.item(work_id).runs[-1]
    assert (first.attempt, first.worker) == (1, "worker-a")
    assert first.lease_until == clock.now() + timedelta(seconds=5 + 1)  # timeout + grace

    # Before the lease runs out nobody else may take the step.
    worker_b = harness.new_engine("worker-b")
    clock.advance(timedelta(seconds=5))
    assert worker_b.dispatch() == 0

    # After it, worker B claims attempt 2.
    clock.advance(timedelta(seconds=1))
    assert worker_b.dispatch() == 1
    wait_until(lambda: gated.called(2), what="worker B's attempt to start")
    harness.project()
    item = harness.item(work_id)
    assert [(r.attempt, r.worker, r.status) for r in item.runs] == [
        (1, "worker-a", RunStatus.LEASE_EXPIRED),
        (2, "worker-b", RunStatus.RUNNING),
    ]

    # Worker A's late answer arrives while attempt 2 is live: it is dropped.
    gated.release(work_id, attempt=1)
    harness.settle(harness.engine)
    assert harness.item(work_id).version == item.version
    assert harness.record(work_id).status == "running"

    # Worker B's answer is recorded and ends the item.
    gated.release(work_id, attempt=2)
    harness.settle(worker_b)
    final = harness.item(work_id)
    assert final.status is Status.COMPLETED
    succeeded = [r for r in final.runs if r.status is RunStatus.SUCCEEDED]
    assert [(r.attempt, r.worker, r.output) for r in succeeded] == [
        (2, "worker-b", "done by attempt 2")
    ]
    assert final.output == "done by attempt 2"
    events = harness.service.work.events.get(work_id)
    assert sum(isinstance(e, WorkItem.StepSucceeded) for e in events) == 1


def test_max_parallel_holds_across_workers_sharing_the_store(
    harness: Harness, gated: GatedProvider
) -> None:
    intake = apply(harness, ProviderDecl("offline", "gated", max_parallel=1), prompts=("go",))
    work_ids = [harness.submit(intake, {"n": n}) for n in range(2)]
    harness.project()
    worker_b = harness.new_engine("worker-b")
    started = harness.engine.dispatch() + worker_b.dispatch()
    wait_until(lambda: gated.called(started), what="the claimed steps to start")
    assert started == 1
    assert harness.engine.dispatch() + worker_b.dispatch() == 0  # full for both

    # When the step ends its slot is free again, for whichever worker looks first.
    gated.release(gated.calls[0][0])
    harness.settle()
    assert worker_b.dispatch() == 1
    wait_until(lambda: gated.called(2), what="the second step to start")
    gated.open_all()
    harness.settle(worker_b)
    assert {harness.record(w).status for w in work_ids} == {"completed"}
    assert gated.most_in_flight == 1


class FreedAfterFirstRefusal(MemoryProviderSlots):
    """The in-memory slots, where another worker's step ends just after this engine was
    first told that the provider is full."""

    def __init__(self, other: str) -> None:
        super().__init__()
        self.other = other
        self.freed = False

    def acquire(
        self, provider: str, limit: int, holder: str, lease_until: datetime, now: datetime
    ) -> bool:
        taken = super().acquire(provider, limit, holder, lease_until, now)
        if not taken and not self.freed:
            self.freed = True
            self.release(provider, self.other)
        return taken


def test_a_waiting_item_is_not_overtaken_when_a_slot_frees_during_a_dispatch(
    harness: Harness, clock: ManualClock, gated: GatedProvider
) -> None:
    intake = apply(harness, ProviderDecl("offline", "gated", max_parallel=1), prompts=("go",))
    first = harness.submit(intake, {"n": 1})
    clock.advance(timedelta(seconds=1))
    second = harness.submit(intake, {"n": 2})
    harness.project()
    slots = FreedAfterFirstRefusal(other="another-worker")
    assert slots.acquire("offline", 1, "another-worker", clock.now() + HOUR, clock.now())
    engine = harness.new_engine("fifo", slots=slots)

    # The first item finds the provider full; the slot frees before the second item is
    # looked at, but the second must not start ahead of the first.
    assert engine.dispatch() == 0
    assert slots.freed
    assert engine.dispatch() == 1
    wait_until(lambda: gated.called(1), what="a step to start")
    assert gated.calls == [(first, 1)]
    gated.open_all()
    harness.settle(engine)
    assert engine.dispatch() == 1
    harness.settle(engine)
    assert [call[0] for call in gated.calls] == [first, second]


def test_items_waiting_for_a_full_provider_do_not_hold_back_another_provider(
    clock: ManualClock, gated: GatedProvider
) -> None:
    """More items wait for the full provider than one page of due items holds; an item
    for a free provider behind them still starts in the same dispatch."""
    service = memory_service(clock, providers={"gated": gated.factory})
    harness = Harness(service, clock)
    engine = harness.new_engine("paging", batch=2)
    try:
        slow = linear_workflow(name="slow", provider="slow", prompts=("wait",))
        fast = linear_workflow(name="fast", provider="offline", prompts=("go",))
        applied = service.apply(
            Declaration(
                teams=(TeamDecl("support"),),
                providers=(
                    ProviderDecl("slow", "gated", max_parallel=1),
                    ProviderDecl("offline", "scripted"),
                ),
                workflows=(slow, fast),
                intakes=(
                    IntakeDecl("slow", "slow", "support"),
                    IntakeDecl("fast", "fast", "support"),
                ),
            ),
            OPERATOR,
        )
        intakes = ids_of(applied, "intake")
        blocked = []
        for n in range(5):
            blocked.append(harness.submit(intakes["slow"], {"n": n}))
            clock.advance(timedelta(seconds=1))
        last = harness.submit(intakes["fast"], {"n": "fast"})
        harness.project()

        assert engine.dispatch() == 2  # the first slow item, and the fast one behind 4 waiting
        wait_until(lambda: engine.idle is False and gated.called(1), what="the slow step")
        wait_until(
            lambda: service.work.item(last).status is Status.COMPLETED,
            what="the fast item to complete",
        )
        harness.project()
        assert [harness.record(w).status for w in blocked] == ["running", *["pending"] * 4]
        assert gated.most_in_flight == 1
    finally:
        gated.open_all()
        harness.close()


def test_a_claim_the_database_refuses_does_not_keep_the_provider_slot(
    harness: Harness, gated: GatedProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    intake = apply(harness, ProviderDecl("offline", "gated", max_parallel=1), prompts=("go",))
    work_id = harness.submit(intake, {"n": 1})
    harness.project()

    def down(*args: object, **kwargs: object) -> None:
        raise OperationalError("database down")  # what the library raises for it

    with monkeypatch.context() as patched:
        patched.setattr(harness.service.work, "save", down)
        with pytest.raises(OperationalError, match="database down"):
            harness.engine.dispatch()
    # The database is back: the one slot is free, so the step starts.
    assert harness.engine.dispatch() == 1
    gated.release(work_id)
    harness.settle()
    assert harness.record(work_id).status == "completed"


def test_no_step_is_claimed_without_a_step_thread_to_run_it(
    clock: ManualClock, gated: GatedProvider
) -> None:
    """A claim starts its lease: claiming with every step thread busy would let the lease
    run out while the step waits in a queue."""
    service = memory_service(clock, providers={"gated": gated.factory})
    harness = Harness(service, clock)
    engine = harness.new_engine("one-thread", threads=1)
    try:
        intake = apply(harness, ProviderDecl("offline", "gated", max_parallel=3), prompts=("go",))
        work_ids = [harness.submit(intake, {"n": n}) for n in range(3)]
        harness.project()
        assert engine.dispatch() == 1  # three provider slots, but one thread
        wait_until(lambda: gated.called(1), what="the first step")
        assert engine.dispatch() == 0
        gated.release(gated.calls[0][0])
        harness.settle(engine)
        assert engine.dispatch() == 1
    finally:
        gated.open_all()
        harness.close()
    assert len(work_ids) == 3
