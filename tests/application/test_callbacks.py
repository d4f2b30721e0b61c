"""Callback delivery on the in-memory store, driven by hand with a manual clock: the
outbox (scheduled with the terminal event), the schedule, dead letters, redelivery, and
crash recovery. The sender is scripted (tests/fakes/callback_sender.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import attrs
import msgspec
import pytest

from auxot.adapters.clock import ManualClock
from auxot.application.declarations import IntakeDecl, ProviderDecl
from auxot.application.deliverer import Deliverer, DeliveryRunner
from auxot.application.deliveries import Deliveries
from auxot.application.delivery_projection import delivery_projection
from auxot.application.delivery_records import DeliveryRecord, decode_delivery
from auxot.application.lifecycle import ConflictError, Lifecycle
from auxot.application.records import decode_record
from auxot.application.refs import format_ref, parse_ref
from auxot.application.service import NotFoundError
from auxot.domain.callback import DeliveryStatus
from auxot.domain.callback_schedule import CallbackSchedule
from auxot.domain.intake import Intake
from auxot.domain.work_item import WorkItem
from tests.application.builders import declaration, ids_of, linear_workflow, memory_service
from tests.application.test_engine import Harness
from tests.application.test_lifecycle import caller
from tests.fakes.callback_sender import TIMED_OUT, ScriptedSender, answer

URL = "https://192.0.32.10/hooks/auxot"  # a global address: URLs are checked when applied
SCHEDULE = CallbackSchedule.parse("0,5s,5m")
TIMEOUT = 15.0
GRACE = timedelta(seconds=5)
LEASE = timedelta(seconds=TIMEOUT) + GRACE


class Outbox:
    """A harness (engine, projection) plus a deliverer driven by hand."""

    def __init__(self, harness: Harness, sender: ScriptedSender) -> None:
        self.harness = harness
        self.sender = sender
        self.service = harness.service
        self.deliverers: list[Deliverer] = []
        self.deliverer = self.new_deliverer("deliverer-a")
        self.runner = DeliveryRunner(
            delivery_projection(self.service.work, self.service.deliveries), None
        )

    def new_deliverer(self, name: str) -> Deliverer:
        deliverer = Deliverer(
            self.service.work,
            self.service.deliveries,
            self.service.registry,
            self.service.directory,
            self.sender,
            self.harness.clock,
            deliverer_id=name,
            schedule=SCHEDULE,
            timeout=TIMEOUT,
            lease_grace=GRACE,
            threads=4,
            jitter=lambda: 0.5,  # no spread: waits are exactly the schedule's
        )
        self.deliverers.append(deliverer)
        return deliverer

    def apply(self, callback_url: str | None = URL) -> str:
        workflow = linear_workflow(prompts=("Reply to {{ input.customer }}",))
        base = declaration(workflow=workflow, provider=ProviderDecl("offline", "scripted"))
        intake = IntakeDecl("triage", "triage", "support", callback_url=callback_url)
        decl = attrs.evolve(base, intakes=(intake,))
        return ids_of(self.service.apply(decl), "intake")["triage"]

    def completed_item(self, intake: str) -> UUID:
        work_id = self.harness.submit(intake, {"customer": "Acme"})
        self.harness.run_to_the_end(work_id)
        return work_id

    def deliver(self, deliverer: Deliverer | None = None) -> int:
        """Project, send what is due, and wait for the sends to be recorded."""
        deliverer = deliverer or self.deliverer
        self.runner.run_once()
        started = deliverer.dispatch()
        assert deliverer.wait_idle(10), "sends did not finish"
        self.runner.run_once()
        return started

    def advance(self, seconds: float) -> None:
        self.harness.clock.advance(timedelta(seconds=seconds))

    def item(self, work_id: UUID) -> WorkItem:
        return self.service.work.item(work_id)

    def record(self, work_id: UUID) -> DeliveryRecord:
        (record,) = Deliveries(self.service).of_work(None, work_id)
        return record


@pytest.fixture
def sender() -> ScriptedSender:
    return ScriptedSender()


@pytest.fixture
def outbox(clock: ManualClock, sender: ScriptedSender) -> Iterator[Outbox]:
    harness = Harness(memory_service(clock), clock)
    box = Outbox(harness, sender)
    yield box
    sender.release()
    for deliverer in box.deliverers:
        deliverer.close(1)
    harness.close()


def test_a_completed_item_is_delivered_once_with_its_polled_record(outbox: Outbox) -> None:
    work_id = outbox.completed_item(outbox.apply())
    item = outbox.item(work_id)
    assert item.delivery is not None
    # Scheduled in the very save that ended the item: the next event after Completed.
    events = outbox.service.work.events.get(work_id)
    names = [type(e).__name__ for e in events]
    assert names[names.index("Completed") + 1] == "CallbackScheduled"

    assert outbox.deliver() == 1
    (sent,) = outbox.sender.sent
    assert sent.webhook_id == f"msg_{work_id.hex}"
    assert sent.url == URL
    polled = outbox.service.view.get(work_id)
    assert polled is not None
    assert decode_record(sent.body) == decode_record(polled.record)
    assert decode_record(sent.body).status == "completed"
    record = outbox.record(work_id)
    assert record.status == "delivered"
    assert [(a.attempt, a.status_code, a.outcome) for a in record.attempts] == [
        (1, 200, "delivered")
    ]
    assert outbox.deliver() == 0  # nothing more is due, ever
    assert outbox.sender.count() == 1


def test_an_intake_without_a_callback_url_schedules_nothing(outbox: Outbox) -> None:
    work_id = outbox.completed_item(outbox.apply(callback_url=None))
    assert outbox.item(work_id).delivery is None
    assert outbox.deliver() == 0


def test_failed_and_cancelled_items_call_back_too(outbox: Outbox) -> None:
    intake = outbox.apply()
    cancelled = outbox.harness.submit(intake, {"customer": "Acme"})
    Lifecycle(outbox.service).cancel(None, cancelled)
    outbox.deliver()
    (sent,) = outbox.sender.sent
    assert sent.webhook_id == f"msg_{cancelled.hex}"
    assert decode_record(sent.body).status == "cancelled"


def test_500_then_200_retries_after_the_scheduled_wait(outbox: Outbox) -> None:
    work_id = outbox.completed_item(outbox.apply())
    outbox.sender.script(answer(500))
    outbox.deliver()
    record = outbox.record(work_id)
    assert (record.status, record.attempts[0].status_code) == ("pending", 500)
    assert record.attempts[0].error == "HTTP 500"
    first = record.attempts[0].finished_at
    assert first is not None
    assert record.next_attempt_at == first + timedelta(seconds=5)

    outbox.advance(4.9)
    assert outbox.deliver() == 0  # not before its time
    outbox.advance(0.1)
    assert outbox.deliver() == 1
    record = outbox.record(work_id)
    assert record.status == "delivered"
    assert [a.status_code for a in record.attempts] == [500, 200]
    assert {c.webhook_id for c in outbox.sender.sent} == {f"msg_{work_id.hex}"}


def test_after_the_last_attempt_the_delivery_is_dead_and_listed(outbox: Outbox) -> None:
    work_id = outbox.completed_item(outbox.apply())
    outbox.sender.script(TIMED_OUT, answer(502), answer(500))
    for wait in (0, 5, 300):
        outbox.advance(wait)
        assert outbox.deliver() == 1
    record = outbox.record(work_id)
    assert record.status == "dead"
    assert record.dead_reason == "no attempt left after 3 (HTTP 500)"
    assert [a.error for a in record.attempts] == ["timed out after 15s", "HTTP 502", "HTTP 500"]
    assert record.attempts[0].status_code is None
    outbox.advance(10**6)
    assert outbox.deliver() == 0

    page = Deliveries(outbox.service).page(None, "dead", 10, None)
    assert [decode_delivery(r).delivery_id for r in page.items] == [f"msg_{work_id.hex}"]
    assert Deliveries(outbox.service).page(None, "pending", 10, None).items == []


def test_429_with_retry_after_waits_as_asked(outbox: Outbox) -> None:
    work_id = outbox.completed_item(outbox.apply())
    outbox.sender.script(answer(429, retry_after=120))
    outbox.deliver()
    record = outbox.record(work_id)
    finished = record.attempts[0].finished_at
    assert finished is not None
    assert record.next_attempt_at == finished + timedelta(seconds=120)  # not 5 s
    outbox.advance(119)
    assert outbox.deliver() == 0
    outbox.advance(1)
    assert outbox.deliver() == 1
    assert outbox.record(work_id).status == "delivered"


def test_410_gone_kills_the_delivery_and_disables_the_intakes_callback(outbox: Outbox) -> None:
    intake = outbox.apply()
    first = outbox.completed_item(intake)
    outbox.sender.script(answer(410))
    outbox.deliver()
    record = outbox.record(first)
    assert (record.status, record.dead_reason) == ("dead", "the receiver answered 410 Gone")
    assert len(record.attempts) == 1

    intake_uuid = parse_ref("intake", intake)
    assert intake_uuid is not None
    stored = outbox.service.registry.get(Intake, intake_uuid)
    assert stored.live_callback_url is None
    later = outbox.completed_item(intake)
    assert outbox.item(later).delivery is None  # no more callbacks to that URL

    outbox.apply(callback_url=URL + "/v2")  # a new URL enables callbacks again
    outbox.service.directory.refresh()
    again = outbox.completed_item(intake)
    delivery = outbox.item(again).delivery
    assert delivery is not None
    assert delivery.url == URL + "/v2"


def test_redelivery_sends_a_dead_delivery_again_with_the_same_webhook_id(outbox: Outbox) -> None:
    work_id = outbox.completed_item(outbox.apply())
    outbox.sender.script(answer(410))
    outbox.deliver()
    delivery_id = f"msg_{work_id.hex}"
    record = Deliveries(outbox.service).redeliver(None, delivery_id)
    assert (record.status, record.redelivered_by) == ("pending", "system")  # no caller: embedded
    with pytest.raises(ConflictError):  # pending: it goes out anyway
        Deliveries(outbox.service).redeliver(None, delivery_id)

    assert outbox.deliver() == 1
    assert [c.webhook_id for c in outbox.sender.sent] == [delivery_id, delivery_id]
    assert outbox.record(work_id).status == "delivered"


def test_redeliver_refuses_unknown_and_foreign_deliveries(outbox: Outbox) -> None:
    work_id = outbox.completed_item(outbox.apply())
    outbox.deliver()
    deliveries = Deliveries(outbox.service)
    for unknown in ("msg_nothing", f"msg_{UUID(int=7).hex}", format_ref("work", work_id)):
        with pytest.raises(NotFoundError):
            deliveries.redeliver(None, unknown)
    with pytest.raises(NotFoundError):
        deliveries.redeliver(caller("another-team"), f"msg_{work_id.hex}")
    assert deliveries.redeliver(caller("support"), f"msg_{work_id.hex}").status == "pending"
    assert deliveries.page(caller("another-team"), None, 10, None).items == []


def test_two_deliverers_never_send_the_same_attempt(outbox: Outbox) -> None:
    work_id = outbox.completed_item(outbox.apply())
    other = outbox.new_deliverer("deliverer-b")
    outbox.runner.run_once()
    outbox.sender.hold()
    assert outbox.deliverer.dispatch() == 1
    assert other.dispatch() == 0  # the view still says due, but the claim is taken
    outbox.sender.release()
    assert outbox.deliverer.wait_idle(10)
    assert outbox.sender.count() == 1
    assert outbox.record(work_id).status == "delivered"


def test_a_deliverer_that_dies_mid_attempt_is_followed_by_one_resend(outbox: Outbox) -> None:
    work_id = outbox.completed_item(outbox.apply())
    outbox.runner.run_once()
    outbox.sender.hold()
    assert outbox.deliverer.dispatch() == 1  # claimed and sending; then it "dies"
    rescuer = outbox.new_deliverer("deliverer-b")
    outbox.runner.run_once()
    outbox.advance(LEASE.total_seconds() - 1)
    assert rescuer.dispatch() == 0  # the lease still holds
    outbox.advance(1)
    assert rescuer.dispatch() == 1  # the lease ran out: the next attempt goes out
    outbox.sender.release()  # and the presumed-dead deliverer's late answer is dropped
    assert outbox.deliverer.wait_idle(10)
    assert rescuer.wait_idle(10)
    outbox.runner.run_once()
    record = outbox.record(work_id)
    assert [(a.deliverer, a.outcome) for a in record.attempts] == [
        ("deliverer-a", "abandoned"),
        ("deliverer-b", "delivered"),
    ]
    assert [c.webhook_id for c in outbox.sender.sent] == [f"msg_{work_id.hex}"] * 2
    assert outbox.deliver(rescuer) == 0


def test_the_delivery_record_is_plain_json(outbox: Outbox) -> None:
    work_id = outbox.completed_item(outbox.apply())
    outbox.deliver()
    page = Deliveries(outbox.service).page(None, None, 10, None)
    (raw,) = page.items
    data = msgspec.json.decode(raw)
    assert data["delivery_id"] == f"msg_{work_id.hex}"
    assert data["work_id"] == format_ref("work", work_id)
    assert data["attempts"][0]["status_code"] == 200
    assert DeliveryStatus(data["status"]) is DeliveryStatus.DELIVERED


def test_deliveries_page_by_cursor(outbox: Outbox) -> None:
    intake = outbox.apply()
    work_ids = []
    for _ in range(5):
        work_ids.append(outbox.completed_item(intake))
        outbox.advance(1)
    assert outbox.deliver() == 4  # as many as it has threads
    assert outbox.deliver() == 1
    seen, cursor = [], None
    while True:
        page = Deliveries(outbox.service).page(None, "delivered", 2, cursor)
        seen += [decode_delivery(r).delivery_id for r in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [f"msg_{w.hex}" for w in work_ids]
    with pytest.raises(ValueError):  # noqa: PT011
        Deliveries(outbox.service).page(None, "lost", 2, None)
