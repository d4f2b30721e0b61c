"""Submissions with request options: an idempotency key, a per-request callback URL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from uuid import UUID, uuid4

import attrs
import pytest

from auxot.adapters.clock import ManualClock
from auxot.application.callback_target import CallbackRefusedError, callback_url_for
from auxot.application.declarations import Applied, DeclarationError, IntakeDecl
from auxot.application.errors import NotFoundError
from auxot.application.group_commit import Events, GroupCommitter
from auxot.application.idempotency import (
    IdempotencyKeyInFlightError,
    IdempotencyKeyReusedError,
)
from auxot.application.intake_submission import RequestOptions, submit_with_options
from auxot.application.keys import Caller
from auxot.application.service import Service
from auxot.domain.identity import intake_id, team_id
from auxot.entrypoints.bootstrap import bootstrap
from auxot.entrypoints.settings import Settings
from tests.application.builders import declaration, memory_service

TIMEOUT = 10.0
RECEIVER = "http://127.0.0.1:8123/hook"  # allowed by the allow-list below


def support_key() -> Caller:
    return Caller(uuid4(), "team", "support", frozenset({team_id("support")}))


def apply_intakes(service: Service) -> list[Applied]:
    """Intake ``triage`` (no override), and ``open``, which allows one."""
    base = declaration(intakes=("triage",))
    open_intake = IntakeDecl(
        "open", "triage", "support", callback_url=RECEIVER, allow_callback_override=True
    )
    return service.apply(attrs.evolve(base, intakes=(*base.intakes, open_intake)))


def with_intakes(service: Service) -> Service:
    apply_intakes(service)
    return service


@pytest.fixture
def service(clock: ManualClock) -> Iterator[Service]:
    service = memory_service(clock, url_allow_list=("127.0.0.1",), allow_http_callbacks=True)
    yield with_intakes(service)
    service.close()


TRIAGE, OPEN = intake_id("support", "triage"), intake_id("support", "open")


def keyed(key: str, callback_url: str | None = None) -> RequestOptions:
    return RequestOptions(idempotency_key=key, callback_url=callback_url)


def received_ids(service: Service) -> list[UUID]:
    notifications = service.work.recorder.select_notifications(start=None, limit=10_000)
    return [n.originator_id for n in notifications if n.topic.endswith("Received")]


# -- idempotency ------------------------------------------------------------------------


def test_a_repeat_answers_the_first_item_and_records_nothing(service: Service) -> None:
    caller = support_key()
    first = submit_with_options(service, caller, TRIAGE, {"a": 1, "b": [1, 2]}, keyed("k-1"))
    again = submit_with_options(service, caller, TRIAGE, {"b": [1, 2], "a": 1}, keyed("k-1"))
    assert again == first  # the same request, whatever the order of its keys
    assert received_ids(service) == [first]
    item = service.work.item(first)
    assert (item.idempotency_key, item.input) == ("k-1", {"a": 1, "b": [1, 2]})


def test_the_same_key_for_another_request_is_refused_naming_the_first(service: Service) -> None:
    caller = support_key()
    first = submit_with_options(service, caller, TRIAGE, {"a": 1}, keyed("k"))
    with pytest.raises(IdempotencyKeyReusedError) as refused:
        submit_with_options(service, caller, TRIAGE, {"a": 2}, keyed("k"))
    assert refused.value.work_id == first
    submit_with_options(service, caller, OPEN, {"a": 1}, keyed("k2"))
    with pytest.raises(IdempotencyKeyReusedError):  # another callback URL: another request
        submit_with_options(service, caller, OPEN, {"a": 1}, keyed("k2", RECEIVER))
    assert len(received_ids(service)) == 2


def test_credentials_and_intakes_keep_their_keys_apart(service: Service) -> None:
    ann, bob = support_key(), support_key()
    ids = {
        submit_with_options(service, ann, TRIAGE, {"a": 1}, keyed("k")),
        submit_with_options(service, bob, TRIAGE, {"a": 1}, keyed("k")),
        submit_with_options(service, ann, OPEN, {"a": 1}, keyed("k")),
        submit_with_options(service, None, TRIAGE, {"a": 1}, keyed("k")),  # embedding app
    }
    assert len(ids) == 4
    assert sorted(received_ids(service)) == sorted(ids)


def test_an_unusable_intake_is_not_found_before_any_key_is_looked_at(service: Service) -> None:
    stranger = Caller(uuid4(), "team", "ops", frozenset({team_id("ops")}))
    with pytest.raises(NotFoundError):
        submit_with_options(service, stranger, TRIAGE, {"a": 1}, keyed("k"))
    assert received_ids(service) == []


class HeldWriter:
    """The committer's save, held on its first call until ``release`` is set."""

    def __init__(self, save: Callable[[Events], None]) -> None:
        self._save = save
        self.entered, self.release = threading.Event(), threading.Event()
        self.calls: list[int] = []

    def __call__(self, events: Events) -> None:
        self.calls.append(len(events))
        if len(self.calls) == 1:
            self.entered.set()
            assert self.release.wait(TIMEOUT), "the test never released the writer"
        self._save(events)


def hold_writer(service: Service) -> HeldWriter:
    held = HeldWriter(service.work.put_events)
    service.committer.stop()
    service.committer = GroupCommitter(held)
    return held


def test_a_repeat_while_the_first_is_recorded_is_told_so(service: Service) -> None:
    caller, body = support_key(), {"a": 1}
    held = hold_writer(service)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(submit_with_options, service, caller, TRIAGE, body, keyed("k"))
        assert held.entered.wait(TIMEOUT)
        with pytest.raises(IdempotencyKeyInFlightError):
            submit_with_options(service, caller, TRIAGE, body, keyed("k"))
        with pytest.raises(IdempotencyKeyReusedError):  # known to differ, even in flight
            submit_with_options(service, caller, TRIAGE, {"a": 2}, keyed("k"))
        held.release.set()
        work_id = first.result(TIMEOUT)
    assert submit_with_options(service, caller, TRIAGE, body, keyed("k")) == work_id
    assert received_ids(service) == [work_id]
    assert not service.in_flight.holds(work_id)


def test_a_failed_first_attempt_leaves_the_key_free(service: Service) -> None:
    caller = support_key()

    def down(events: Events) -> None:
        raise ConnectionError("the database is down")

    service.committer.stop()
    service.committer = GroupCommitter(down)
    with pytest.raises(ConnectionError):
        submit_with_options(service, caller, TRIAGE, {"a": 1}, keyed("k"))
    service.committer = GroupCommitter(service.work.put_events)
    work_id = submit_with_options(service, caller, TRIAGE, {"a": 1}, keyed("k"))
    assert received_ids(service) == [work_id]


@pytest.fixture(params=["sqlite", "postgres"])
def shared_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


class CountingCommitter:
    """The service's committer, telling when a submission has been queued."""

    def __init__(self, inner: GroupCommitter) -> None:
        self.inner = inner
        self.queued = threading.Semaphore(0)

    def submit(self, events: Events) -> Future[None]:
        future = self.inner.submit(events)
        self.queued.release()
        return future

    def stop(self) -> None:
        self.inner.stop()


def test_two_processes_racing_with_one_key_record_one_item(shared_url: str) -> None:
    """Process A looks, finds nothing and queues the item behind a held batch; process B
    records the same key meanwhile. A's batch then conflicts: its neighbour is still
    committed, and A answers with the item B recorded."""
    settings = Settings(
        database_url=shared_url, url_allow_list=("127.0.0.1",), allow_http_callbacks=True
    )
    a, b = bootstrap(settings), bootstrap(settings)
    try:
        with_intakes(a)
        b.directory.refresh()
        caller, body = support_key(), {"a": 1}
        held = hold_writer(a)
        counting = CountingCommitter(a.committer)
        a.committer = counting  # type: ignore[assignment]
        blocker = a.submit(None, TRIAGE, {"n": 0})[1]
        assert held.entered.wait(TIMEOUT)
        with ThreadPoolExecutor(1) as pool:
            from_a = pool.submit(submit_with_options, a, caller, TRIAGE, body, keyed("k"))
            assert counting.queued.acquire(timeout=TIMEOUT)  # the blocker
            assert counting.queued.acquire(timeout=TIMEOUT)  # A's keyed item, behind it
            from_b = submit_with_options(b, caller, TRIAGE, body, keyed("k"))
            neighbour, committed = a.submit(None, TRIAGE, {"n": 1})
            held.release.set()
            assert from_a.result(TIMEOUT) == from_b
        blocker.result(TIMEOUT)
        committed.result(TIMEOUT)
        stored = received_ids(a)
        assert stored.count(from_b) == 1
        assert neighbour in stored
        assert held.calls == [1, 2, 1, 1]  # together first, then each alone: one conflicts
    finally:
        a.close()
        b.close()


def test_fifty_threads_with_one_key_record_one_item(service: Service) -> None:
    caller = support_key()
    outcomes: list[Any] = []

    def once() -> None:
        try:
            outcomes.append(submit_with_options(service, caller, TRIAGE, {"a": 1}, keyed("k")))
        except IdempotencyKeyInFlightError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=once) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    ids = {o for o in outcomes if isinstance(o, UUID)}
    assert len(outcomes) == 50
    assert len(ids) == 1
    assert received_ids(service) == list(ids)


# -- the callback override --------------------------------------------------------------


def test_an_intake_that_allows_it_takes_the_requests_callback_url(service: Service) -> None:
    other = "http://127.0.0.1:9000/elsewhere"
    work_id = submit_with_options(
        service, support_key(), OPEN, {"a": 1}, RequestOptions(callback_url=other)
    )
    item, intake = service.work.item(work_id), service.directory.intake(OPEN)
    assert item.callback_url == other
    assert callback_url_for(item, intake) == other
    plain, committed = service.submit(None, OPEN, {"a": 1})
    committed.result(TIMEOUT)
    assert callback_url_for(service.work.item(plain), intake) == RECEIVER
    assert callback_url_for(service.work.item(plain), None) is None  # a manual task


def test_an_intake_that_does_not_allow_it_refuses_the_request(service: Service) -> None:
    with pytest.raises(CallbackRefusedError, match="allow_callback_override"):
        submit_with_options(
            service, support_key(), TRIAGE, {"a": 1}, RequestOptions(callback_url=RECEIVER)
        )
    assert received_ids(service) == []


@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/latest", "http://[::1]:8123/", "http://10.0.0.1/", "ftp://1.1.1.1/"],
)
def test_a_callback_url_the_address_rule_refuses_is_refused(service: Service, url: str) -> None:
    with pytest.raises(CallbackRefusedError, match="refused"):
        submit_with_options(service, support_key(), OPEN, {}, RequestOptions(callback_url=url))
    assert received_ids(service) == []


def test_http_callbacks_need_the_deployments_allowance(clock: ManualClock) -> None:
    service = memory_service(clock, url_allow_list=("127.0.0.1",))
    try:
        with pytest.raises(DeclarationError, match="only https://"):
            with_intakes(service)
    finally:
        service.close()


def test_apply_refuses_a_callback_url_it_may_not_call_and_saves_nothing(
    service: Service,
) -> None:
    before = service.registry.recorder.max_notification_id()
    hostile = attrs.evolve(
        declaration(intakes=()),
        intakes=(IntakeDecl("x", "triage", "support", callback_url="http://[::1]/"),),
    )
    with pytest.raises(DeclarationError) as refused:
        service.apply(hostile)
    [issue] = refused.value.issues
    assert issue.path == "intakes[0].callback_url"
    assert "::1" in issue.message
    assert "loopback" in issue.message
    assert service.registry.recorder.max_notification_id() == before


def test_the_override_setting_is_applied_and_reapplied_idempotently(service: Service) -> None:
    intake = service.directory.intake(OPEN)
    assert intake is not None
    assert intake.allow_callback_override is True
    triage = service.directory.intake(TRIAGE)
    assert triage is not None
    assert triage.allow_callback_override is False
    assert {a.outcome for a in apply_intakes(service)} == {"unchanged"}
