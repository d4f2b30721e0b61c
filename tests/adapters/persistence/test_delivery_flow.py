"""The outbox on each real backend: an item ends, its delivery is projected, claimed,
retried, dead-lettered and redelivered through SQLite's and PostgreSQL's views."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from eventsourcing.persistence import RecordConflictError

from auxot.adapters.clock import ManualClock
from auxot.adapters.providers.scripted import ScriptedProvider
from auxot.application.deliveries import Deliveries
from auxot.application.delivery_records import decode_delivery
from auxot.domain import callback
from auxot.entrypoints.bootstrap import bootstrap
from auxot.entrypoints.settings import Settings
from tests.application.test_callbacks import Outbox
from tests.application.test_engine import Harness
from tests.fakes.callback_sender import ScriptedSender, answer


@pytest.fixture
def outbox(database_url: str) -> Iterator[Outbox]:
    clock = ManualClock()
    service = bootstrap(
        Settings(database_url=database_url, worker_id="worker-a"),
        clock=clock,
        providers={"scripted": ScriptedProvider},
    )
    sender = ScriptedSender()
    box = Outbox(Harness(service, clock), sender)
    yield box
    sender.release()
    for deliverer in box.deliverers:
        deliverer.close(1)
    box.harness.close()


def test_retried_dead_and_redelivered_through_the_backends_views(outbox: Outbox) -> None:
    work_id = outbox.completed_item(outbox.apply())
    outbox.sender.script(answer(500), answer(503), answer(500))
    for wait in (0, 5, 300):
        outbox.advance(wait)
        assert outbox.deliver() == 1
    deliveries = Deliveries(outbox.service)
    (dead,) = deliveries.page(None, "dead", 10, None).items
    assert decode_delivery(dead).delivery_id == f"msg_{work_id.hex}"
    assert [a.status_code for a in decode_delivery(dead).attempts] == [500, 503, 500]

    deliveries.redeliver(None, f"msg_{work_id.hex}")
    assert outbox.deliver() == 1
    assert deliveries.page(None, "dead", 10, None).items == []
    (delivered,) = deliveries.page(None, "delivered", 10, None).items
    assert decode_delivery(delivered).attempts[-1].status_code == 200
    assert [c.webhook_id for c in outbox.sender.sent] == [f"msg_{work_id.hex}"] * 4


def test_of_two_deliverers_claiming_at_once_the_database_lets_one_win(outbox: Outbox) -> None:
    """Both read the item before either saves its claim: optimistic concurrency refuses
    the second claim, so only one deliverer sends the attempt."""
    work_id = outbox.completed_item(outbox.apply())
    work = outbox.service.work
    first, second = work.item(work_id), work.item(work_id)
    now = outbox.harness.clock.now()
    callback.start_attempt(first, "deliverer-a", timedelta(seconds=30), now)
    callback.start_attempt(second, "deliverer-b", timedelta(seconds=30), now)
    work.save(first)
    with pytest.raises(RecordConflictError):
        work.save(second)
    delivery = work.item(work_id).delivery
    assert delivery is not None
    assert [a.deliverer for a in delivery.attempts] == ["deliverer-a"]
