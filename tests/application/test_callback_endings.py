"""Every way an item ends schedules its callback in the same save: the engine (a step's
output completes it, or a failure fails it), a person's decision, a human step's timeout,
and a cancel. Each is checked on the item's own history: ``CallbackScheduled`` is the
event right after the ending."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import attrs
import pytest

from auxot.adapters.clock import ManualClock
from auxot.application.declarations import HandoffDecl, IntakeDecl, StepDecl
from auxot.application.lifecycle import Lifecycle
from auxot.domain.callback import CallbackScheduled
from auxot.domain.work_item import WorkItem
from tests.application.builders import ids_of, memory_service
from tests.application.test_engine import GatedProvider
from tests.application.test_human_steps import DRAFT, Human, human_declaration, review

URL = "https://192.0.32.10/hook"  # a global address: URLs are checked when applied
_ENDINGS = (WorkItem.Completed, WorkItem.Failed, WorkItem.Cancelled)


class Hooked(Human):
    """The human-step harness, its intake calling back."""

    def start(self, *steps: StepDecl, payload: dict[str, Any] | None = None) -> UUID:
        decl = attrs.evolve(
            human_declaration(*steps),
            intakes=(IntakeDecl("triage", "reviewed", "support", callback_url=URL),),
        )
        applied = self.service.apply(decl)
        work_id = self.submit(ids_of(applied, "intake")["triage"], payload or {})
        self.advance(work_id)
        return work_id


@pytest.fixture
def hooked(clock: ManualClock) -> Iterator[Hooked]:
    gated = GatedProvider()
    h = Hooked(memory_service(clock, providers={"gated": gated.factory}), clock)
    yield h
    gated.open_all()
    h.close()


def assert_scheduled_with_its_ending(hooked: Hooked, work_id: UUID, status: str) -> None:
    events = list(hooked.service.work.events.get(work_id))
    endings = [n for n, e in enumerate(events) if isinstance(e, _ENDINGS)]
    scheduled = [n for n, e in enumerate(events) if isinstance(e, CallbackScheduled)]
    assert len(endings) == 1
    assert scheduled == [endings[0] + 1]
    assert hooked.item(work_id).status == status
    delivery = hooked.item(work_id).delivery
    assert delivery is not None
    assert delivery.url == URL


def test_a_persons_decision_that_completes_the_item(hooked: Hooked) -> None:
    work_id = hooked.start(DRAFT, review(assignee="ann"))
    hooked.act(work_id, "ann", "approved")
    assert_scheduled_with_its_ending(hooked, work_id, "completed")


def test_a_human_step_that_times_out_with_no_timeout_handoff(
    hooked: Hooked, clock: ManualClock
) -> None:
    work_id = hooked.start(DRAFT, review(assignee="ann", timeout="1h"))
    clock.advance(timedelta(hours=2))
    hooked.advance(work_id)
    assert_scheduled_with_its_ending(hooked, work_id, "failed")


def test_a_cancel(hooked: Hooked) -> None:
    work_id = hooked.start(DRAFT, review(assignee="ann"))
    Lifecycle(hooked.service).cancel(None, work_id)
    assert_scheduled_with_its_ending(hooked, work_id, "cancelled")


def test_the_engine_completing_an_item(hooked: Hooked) -> None:
    work_id = hooked.start(attrs.evolve(DRAFT, handoffs=(HandoffDecl("default", "complete"),)))
    assert_scheduled_with_its_ending(hooked, work_id, "completed")


def test_the_engine_failing_an_item(hooked: Hooked) -> None:
    # A draft reports no condition, so no handoff matches and the item fails.
    nowhere = attrs.evolve(DRAFT, handoffs=(HandoffDecl("approved", "complete"),))
    work_id = hooked.start(nowhere)
    assert_scheduled_with_its_ending(hooked, work_id, "failed")
