"""Replay on every backend: a rebuilt projection (status, work index, audit log,
deliveries) equals the live one row for row, and a rebuild racing live writers and a
live projector hands over with nothing missed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID, uuid4

import attrs
import pytest

from auxot.adapters.clock import ManualClock
from auxot.adapters.persistence import parse_database_url
from auxot.application.audit import AuditProjection
from auxot.application.deliverer import Deliverer
from auxot.application.lifecycle import Lifecycle
from auxot.application.ports import (
    AuditQuery,
    AuditRow,
    DeliveryRow,
    IndexRow,
    IndexView,
    WorkQuery,
    WorkRow,
    WorkView,
)
from auxot.application.projection import IndexProjection, WorkProjection
from auxot.application.records import row_of
from auxot.application.refs import parse_ref
from auxot.application.replay import replay
from auxot.application.service import Service
from auxot.application.stores import WorkLog
from auxot.application.work_index import index_row_of
from auxot.domain.actor import Actor
from auxot.entrypoints.bootstrap import bootstrap
from auxot.entrypoints.settings import Settings
from tests.adapters.persistence.history import T0, record_history
from tests.application.builders import ids_of
from tests.application.test_human_steps import DRAFT, Human, human_declaration, review
from tests.fakes.callback_sender import ScriptedSender, answer
from tests.support import wait_until

ITEMS = 2000
WORKFLOW = uuid4()
INTAKES = (uuid4(), uuid4(), None)


class Opened:
    def __init__(self, url: str) -> None:
        database = parse_database_url(url)
        self.work = WorkLog(env=database.env(WorkLog.name))
        self.view: WorkView = database.work_view(self.work)
        self.index: IndexView = database.index_view(self.work)

    def head(self) -> int:
        return self.work.recorder.max_notification_id() or 0

    def index_rows(self) -> dict[UUID, IndexRow]:
        rows: dict[UUID, IndexRow] = {}
        before = None
        while page := self.index.page(WorkQuery(workflows=None), 100, before):
            rows.update((r.work_id, r) for r in page)
            before = (page[-1].created_at, page[-1].work_id)
        return rows

    def status_rows(self, ids: list[UUID]) -> dict[UUID, WorkRow | None]:
        return {work_id: self.view.get(work_id) for work_id in ids}


@pytest.fixture
def opened(database_url: str) -> Iterator[Opened]:
    it = Opened(database_url)
    yield it
    it.work.close()


def test_a_rebuilt_projection_equals_the_live_one_row_for_row(opened: Opened) -> None:
    ids = record_history(opened.work, ITEMS, WORKFLOW, INTAKES)
    # Live, in small batches: most items are read back from the store, not folded whole.
    status = WorkProjection(opened.work, opened.view, batch=97)
    index = IndexProjection(opened.work, opened.index, batch=97)
    status.catch_up_fully()
    index.catch_up_fully()
    live_status, live_index = opened.status_rows(ids), opened.index_rows()
    assert len(live_index) == ITEMS
    assert {row.status for row in live_index.values()} == {
        "pending",
        "running",
        "completed",
        "failed",
        "cancelled",
    }

    progress: list[tuple[int, int]] = []
    for projection in (status, index):
        done = replay(projection, lambda at, head: progress.append((at, head)))
        assert done.position == opened.head() == projection.position
        assert done.events == opened.head() or opened.head() > done.events  # PG id gaps

    assert opened.status_rows(ids) == live_status
    assert opened.index_rows() == live_index
    assert progress[-1][0] == progress[-1][1] == opened.head()


def test_a_rebuild_racing_writers_and_the_live_projector_misses_nothing(
    opened: Opened,
) -> None:
    ids = record_history(opened.work, 1000, WORKFLOW, INTAKES)
    index = IndexProjection(opened.work, opened.index, batch=50)
    index.catch_up_fully()
    stop = threading.Event()
    written: list[UUID] = []

    def write() -> None:  # more history while the rebuild runs
        for day in range(15, 25):
            if stop.is_set():
                return
            start = T0.replace(day=day)
            written.extend(record_history(opened.work, 30, WORKFLOW, INTAKES, start=start))

    def project() -> None:
        while not stop.is_set():
            if not index.catch_up():
                stop.wait(0.01)  # the live projector's poll interval

    threads = [threading.Thread(target=write), threading.Thread(target=project)]
    for thread in threads:
        thread.start()
    try:
        replay(index)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    index.catch_up_fully()

    expected = {i: index_row_of(opened.work.item(i)) for i in ids + written}
    assert written, "the writer got nothing in while the rebuild ran"
    assert opened.index_rows() == expected
    assert index.position == opened.head()


def test_replaying_an_empty_log_hands_over_at_zero(opened: Opened) -> None:
    index = IndexProjection(opened.work, opened.index)
    assert replay(index).position == 0
    assert index.catch_up() == 0
    record_history(opened.work, 3, WORKFLOW)
    assert index.catch_up_fully() == opened.head()
    assert len(opened.index_rows()) == 3


def test_status_rows_after_a_replay_are_those_of_the_items(opened: Opened) -> None:
    ids = record_history(opened.work, 60, WORKFLOW, INTAKES)
    status = WorkProjection(opened.work, opened.view)
    replay(status)
    assert opened.status_rows(ids) == {i: row_of(opened.work.item(i)) for i in ids}
    assert opened.view.due(T0.replace(year=2030), 1000)  # the queue came over too


HOOK = "https://192.0.32.10/hooks/auxot"  # a global address: URLs are checked when applied
ROOT = Actor.cli("root")


@pytest.fixture
def human(database_url: str) -> Iterator[Human]:
    clock = ManualClock()
    settings = Settings(database_url=database_url, worker_id="worker-a")
    harness = Human(bootstrap(settings, run_worker=False, clock=clock), clock)
    yield harness
    harness.close()


def audited_and_delivered(human: Human) -> None:
    """Administrative changes, submissions by key, a cancel and a human decision; one
    callback delivered, one failed and pending its retry."""
    service = human.service
    base = human_declaration(DRAFT, review(team="support"))
    intake = attrs.evolve(base.intakes[0], callback_url=HOOK)
    applied = service.apply(attrs.evolve(base, intakes=(intake,)), ROOT)
    key = service.create_key("team", "support", ROOT)
    service.revoke_key(service.create_key("team", "legal", ROOT).id, ROOT)
    caller = service.authenticate(key.key)
    assert caller is not None
    intake_id = parse_ref("intake", ids_of(applied, "intake")["triage"])
    assert intake_id is not None
    submitted = []
    for customer in ("a", "b", "c"):  # the last one stays pending
        work_id, committed = service.submit(caller, intake_id, {"customer": customer})
        committed.result(10)
        submitted.append(work_id)
    decided, cancelled = submitted[:2]
    with ThreadPoolExecutor(1) as pool:  # a cancel answers once the status view shows it
        cancelling = pool.submit(Lifecycle(service).cancel, caller, cancelled)
        wait_until(lambda: human.project() or cancelling.done(), what="the cancel")
        cancelling.result()
    human.advance(decided)
    service.complete_step(service.local_user("ann"), decided, "review", condition="approved")
    human.advance(decided)

    deliverer = Deliverer(
        service.work,
        service.deliveries,
        service.registry,
        service.directory,
        ScriptedSender([answer(500)]),
        human.clock,
        deliverer_id="deliverer",
        threads=2,
    )
    try:
        caught_up(service, "deliveries")
        assert deliverer.dispatch() == 2
        assert deliverer.wait_idle(10), "sends did not finish"
    finally:
        deliverer.close(1)


def test_rebuilt_audit_and_deliveries_equal_the_live_ones_row_for_row(human: Human) -> None:
    audited_and_delivered(human)
    service = human.service
    live = {"audit": audit_rows(service), "deliveries": delivery_rows(service)}
    actions = {row.action for row in audit_rows(service)}
    assert {"key.issued", "key.revoked", "work.cancelled", "work.human_acted"} <= actions
    assert sorted(row.status for row in delivery_rows(service)) == ["delivered", "pending"]

    for name in ("audit", "deliveries"):
        projection = service.projections.get(name)
        assert projection is not None
        progress = Progressed()
        done = replay(projection, progress)
        assert done.position == projection.position == projection.head()
        assert progress.last == (projection.head(), projection.head())
        assert (audit_rows if name == "audit" else delivery_rows)(service) == live[name]
        assert projection.catch_up() == 0  # the live one goes on from the rebuilt position


class Progressed:
    def __init__(self) -> None:
        self.last: tuple[int, int] | None = None

    def __call__(self, at: int, head: int) -> None:
        self.last = (at, head)


def caught_up(service: Service, name: str) -> int:
    """Run the projection ``name`` until nothing new is left; how many events it took."""
    projection = service.projections.get(name)
    assert projection is not None
    return sum(iter(projection.catch_up, 0))


def audit_rows(service: Service) -> list[AuditRow]:
    caught_up(service, "audit")
    return service.audit.view.query(AuditQuery(teams=None, limit=1000))


def delivery_rows(service: Service) -> list[DeliveryRow]:
    caught_up(service, "deliveries")
    return service.deliveries.page(None, None, 1000)


def test_an_audit_rebuild_racing_writers_and_the_live_projector_misses_nothing(
    human: Human,
) -> None:
    """Both logs grow while the rebuild reads them; every event is audited once."""
    service = human.service
    audited_and_delivered(human)
    live = AuditProjection(service.registry, service.work, service.audit.view, batch=3)
    live.catch_up_fully()
    stop = threading.Event()
    issued: list[UUID] = []

    def write() -> None:  # registry events (every one audited) until the rebuild is done
        while not stop.is_set() and len(issued) < 200:
            issued.append(service.create_key("team", "support", ROOT).id)

    def project() -> None:
        while not stop.is_set():
            if not live.catch_up():
                stop.wait(0.01)  # the live projector's poll interval

    threads = [threading.Thread(target=write), threading.Thread(target=project)]
    for thread in threads:
        thread.start()
    try:
        replay(AuditProjection(service.registry, service.work, service.audit.view, batch=3))
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    live.catch_up_fully()

    rows = audit_rows(service)
    assert issued, "the writer got nothing in while the rebuild ran"
    assert len({(r.stream, r.version) for r in rows}) == len(rows)
    registry = service.registry.recorder.select_notifications(start=1, limit=10_000)
    assert {(r.stream, r.version) for r in rows if not r.action.startswith("work.")} == {
        (n.originator_id, n.originator_version) for n in registry
    }
    assert live.position == live.head()
