"""The whole service on each backend: the same observable behaviour everywhere.

Fifty items submitted at once from fifty threads, through ``bootstrap`` and the example
workflow, must each complete after exactly two steps, leave exactly the expected events in
the work log, and leave the projection exactly at the log's end. On SQLite and PostgreSQL
a second bootstrap on the same database then sees the same records and runs nothing again.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from typing import Any
from uuid import UUID

import attrs
import pytest
from eventsourcing.utils import get_topic

from auxot.adapters.providers.scripted import ScriptedProvider
from auxot.application.chain_verify import verify_log
from auxot.application.ports import Completion, PromptRequest
from auxot.application.records import decode_record
from auxot.application.refs import parse_ref
from auxot.application.service import Service
from auxot.domain.actor import SYSTEM as OPERATOR
from auxot.domain.work_item import Status, WorkItem
from auxot.entrypoints.bootstrap import bootstrap
from auxot.entrypoints.settings import Settings
from auxot.entrypoints.workflow_file import load_declaration
from tests.support import EXAMPLE_WORKFLOW

ITEMS = 50
TIMEOUT = 60.0

EXPECTED_TOPICS = [
    get_topic(cls)
    for cls in (
        WorkItem.Received,
        WorkItem.StepStarted,
        WorkItem.StepSucceeded,
        WorkItem.Routed,
        WorkItem.StepStarted,
        WorkItem.StepSucceeded,
        WorkItem.Completed,
    )
]


class CountingProviders:
    """The scripted provider, counting each call by (work item, step)."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[UUID, str]] = Counter()
        self._lock = threading.Lock()

    def factory(self, name: str, settings: Mapping[str, Any]) -> Any:
        inner = ScriptedProvider(name, settings)
        counts = self

        class Counting:
            def complete(self, request: PromptRequest) -> Completion:
                with counts._lock:
                    counts.calls[(request.work_id, request.step)] += 1
                return inner.complete(request)

            def close(self) -> None:
                inner.close()

        return Counting()


def start(url: str, providers: CountingProviders) -> Service:
    service = bootstrap(
        Settings(database_url=url, poll_interval=0.05),
        providers={"scripted": providers.factory},
    )
    service.start()
    return service


@attrs.frozen
class Outcome:
    intake: UUID
    inputs: dict[UUID, dict[str, str]]
    records: dict[UUID, bytes]


def submit_concurrently(service: Service, intake: UUID, count: int) -> dict[UUID, dict[str, str]]:
    """Submit ``count`` items from ``count`` threads released together."""
    barrier = threading.Barrier(count)
    submitted: dict[UUID, dict[str, str]] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def submit(i: int) -> None:
        payload = {"customer": f"Customer {i}", "subject": f"Ticket {i}"}
        try:
            barrier.wait(TIMEOUT)
            work_id, committed = service.submit(None, intake, payload)  # None: trusted
            committed.result(TIMEOUT)
            with lock:
                submitted[work_id] = payload
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not errors, errors
    assert len(submitted) == count
    return submitted


def run_workload(service: Service) -> Outcome:
    applied = service.apply(load_declaration(EXAMPLE_WORKFLOW), OPERATOR)
    intake = parse_ref("intake", next(a.id for a in applied if a.kind == "intake"))
    assert intake is not None
    inputs = submit_concurrently(service, intake, ITEMS)
    for work_id in inputs:
        assert service.wait_terminal(work_id, TIMEOUT) is Status.COMPLETED, work_id
    records = {}
    for work_id in inputs:
        found = service.find_record(work_id)
        assert found is not None
        assert found[0] == intake
        records[work_id] = found[1]
    return Outcome(intake, inputs, records)


def events_by_item(service: Service) -> dict[UUID, list[tuple[int, str]]]:
    """The work log, read through its notification log, as (version, topic) per item."""
    found: dict[UUID, list[tuple[int, str]]] = defaultdict(list)
    position = 0
    while True:
        page = service.work.recorder.select_notifications(start=position + 1, limit=100)
        if not page:
            return found
        for n in page:
            assert isinstance(n.originator_id, UUID)
            found[n.originator_id].append((n.originator_version, n.topic))
        position = page[-1].id


def assert_contract(service: Service, outcome: Outcome, providers: CountingProviders) -> None:
    # Every record completed after its two steps, with the outputs of those steps.
    for work_id, payload in outcome.inputs.items():
        record = decode_record(outcome.records[work_id])
        assert record.status == "completed"
        assert record.input == payload
        assert [(s.key, s.status, s.attempt) for s in record.steps] == [
            ("classify", "succeeded", 1),
            ("draft", "succeeded", 1),
        ]
        assert record.steps[0].output == f"Classify this ticket: {payload['subject']}"
        assert record.output == f"Draft a reply to {payload['customer']}"
        assert record.current_step is None
        assert record.completed_at is not None

    # Each step ran once: two provider calls per item, no more.
    assert providers.calls == Counter(
        {(w, step): 1 for w in outcome.inputs for step in ("classify", "draft")}
    )

    # The work log holds exactly these items, each with exactly the expected events.
    log = events_by_item(service)
    assert set(log) == set(outcome.inputs)
    for work_id, events in log.items():
        assert events == list(enumerate(EXPECTED_TOPICS, start=1)), work_id

    # The projection stands exactly at the log's end, every row at its item's version.
    assert service.view.max_tracking_id(service.work.name) == (
        service.work.recorder.max_notification_id()
    )
    for work_id in outcome.inputs:
        row = service.view.get(work_id)
        assert row is not None
        assert (row.status, row.version, row.due_at) == ("completed", len(EXPECTED_TOPICS), None)
        assert row.record == outcome.records[work_id]

    # Concurrent submissions and steps left both logs' hash chains whole.
    for log in service.chains:
        assert verify_log(log).ok, log.name


@pytest.fixture
def providers() -> CountingProviders:
    return CountingProviders()


@pytest.fixture
def running(database_url: str, providers: CountingProviders) -> Iterator[Service]:
    service = start(database_url, providers)
    yield service
    service.close()


def test_concurrent_submissions_complete_alike_on_every_backend(
    running: Service, providers: CountingProviders
) -> None:
    outcome = run_workload(running)
    assert_contract(running, outcome, providers)


@pytest.fixture(params=["sqlite", "postgres"])
def durable_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


def test_a_second_bootstrap_sees_the_same_and_runs_nothing_again(durable_url: str) -> None:
    first_providers = CountingProviders()
    first = start(durable_url, first_providers)
    try:
        outcome = run_workload(first)
        assert_contract(first, outcome, first_providers)
        position = first.work.recorder.max_notification_id()
    finally:
        first.close()

    again_providers = CountingProviders()
    again = start(durable_url, again_providers)
    try:
        # Durable: the same records, the projection's position kept.
        for work_id, record in outcome.records.items():
            assert again.find_record(work_id) == (outcome.intake, record)
        assert again.view.max_tracking_id(again.work.name) == position

        # One new item, run to its end. The engine takes due items earliest first, so any
        # old item it wrongly thought runnable would have been claimed before this one.
        late: Future[None]
        work_id, late = again.submit(None, outcome.intake, {"customer": "Late", "subject": "x"})
        late.result(TIMEOUT)
        assert again.wait_terminal(work_id, TIMEOUT) is Status.COMPLETED

        assert again_providers.calls == Counter({(work_id, "classify"): 1, (work_id, "draft"): 1})
        log = events_by_item(again)
        assert set(log) == {*outcome.inputs, work_id}
        assert all(events == list(enumerate(EXPECTED_TOPICS, start=1)) for events in log.values())
        assert again.view.max_tracking_id(again.work.name) == (
            again.work.recorder.max_notification_id()
        )
    finally:
        again.close()
