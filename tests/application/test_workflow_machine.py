"""The whole engine as a state machine: submissions, step outcomes, people acting, timeouts,
cancels, pause and activate, in any order, on the in-memory store with a real engine.

Whatever happens: every item ends in exactly one terminal status and never leaves it,
routes only within its pinned version, and no more steps run on a provider at once than
its ``max_parallel`` — while paused, no pending item starts.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any
from uuid import UUID

from eventsourcing.persistence import RecordConflictError
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from auxot.application.declarations import (
    Declaration,
    HandoffDecl,
    IntakeDecl,
    ProviderDecl,
    StepDecl,
    TeamDecl,
    WorkflowDecl,
)
from auxot.application.lifecycle import Lifecycle
from auxot.domain.actor import SYSTEM as OPERATOR
from auxot.domain.definition import COMPLETE
from auxot.domain.identity import workflow_id
from auxot.domain.work_item import RunStatus, Status, WorkItem, WorkItemError
from tests.application.builders import ManualClock, memory_service
from tests.application.test_engine import GatedProvider, Harness
from tests.support import wait_until

LIMIT = 2
TIMEOUT_SECONDS = 60
TERMINAL = (WorkItem.Completed, WorkItem.Failed, WorkItem.Cancelled)

DESK = Declaration(
    teams=(TeamDecl("support", ("ann",)),),
    # Calls may take an hour: no lease runs out during a run, so every call in flight is
    # a live claim (a call outliving its lease is a presumed-dead worker's, run again).
    providers=(ProviderDecl("gated", "gated", max_parallel=LIMIT, settings={"timeout": 3600}),),
    workflows=(
        WorkflowDecl(
            name="desk",
            team="support",
            steps=(
                StepDecl(
                    key="classify",
                    prompt="classify {{ input.n }}",
                    provider="gated",
                    handoffs=(HandoffDecl("default", "review"),),
                ),
                StepDecl(
                    key="review",
                    handler="human",
                    timeout=TIMEOUT_SECONDS,
                    handoffs=(
                        HandoffDecl("approved", COMPLETE),
                        HandoffDecl("rejected", "classify"),
                        HandoffDecl("timeout", COMPLETE),
                    ),
                ),
            ),
        ),
    ),
    intakes=(IntakeDecl("desk", "desk", "support"),),
)
KEYS = {"classify", "review", COMPLETE}


class WorkflowMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.gated = GatedProvider()
        self.harness = Harness(
            memory_service(self.clock, providers={"gated": self.gated.factory}), self.clock
        )
        applied = self.harness.service.apply(DESK, OPERATOR)
        self.intake = next(a.id for a in applied if a.kind == "intake")
        self.workflow = workflow_id("support", "desk")
        self.lifecycle = Lifecycle(self.harness.service)
        self.items: list[UUID] = []
        self.ended: dict[UUID, Status] = {}
        self.paused = False

    # -- helpers ------------------------------------------------------------------------

    def item(self, work_id: UUID) -> WorkItem:
        return self.harness.item(work_id)

    def events(self, work_id: UUID) -> list[Any]:
        return list(self.harness.service.work.events.get(work_id))

    def in_flight(self) -> list[tuple[UUID, int]]:
        """Claimed steps whose provider call has not been answered yet."""
        found = []
        for work_id in self.items:
            live = self.item(work_id).live_run
            if live is not None and (work_id, live.attempt) in self.gated.calls:
                found.append((work_id, live.attempt))
        return found

    def calls_reached_the_provider(self) -> bool:
        for work_id in self.items:
            live = self.item(work_id).live_run
            if live is not None and (work_id, live.attempt) not in self.gated.calls:
                return False
        return True

    def waiting(self) -> list[UUID]:
        return [w for w in self.items if self.item(w).waiting is not None]

    def open_items(self) -> list[UUID]:
        return [w for w in self.items if not self.item(w).status.terminal]

    # -- rules --------------------------------------------------------------------------

    @rule(count=st.integers(min_value=1, max_value=3))
    def submit(self, count: int) -> None:
        for n in range(count):
            self.items.append(self.harness.submit(self.intake, {"n": n}))

    @rule()
    def dispatch(self) -> None:
        pending = {w for w in self.items if self.item(w).status is Status.PENDING}
        self.harness.project()
        self.harness.engine.dispatch()
        # Every step claimed has reached its provider before the next rule: what the next
        # rules may do must not depend on how fast the step threads are (hypothesis
        # replays sequences and needs the same choices each time).
        wait_until(self.calls_reached_the_provider, what="claimed steps to call")
        if self.paused:
            started = {w for w in pending if self.item(w).runs}
            assert not started, f"pending items started while paused: {started}"

    @precondition(lambda self: bool(self.in_flight()))
    @rule(data=st.data())
    def a_model_answers(self, data: st.DataObject) -> None:
        work_id, attempt = data.draw(st.sampled_from(self.in_flight()), label="call")
        self.gated.release(work_id, attempt)

        def recorded() -> bool:
            live = self.item(work_id).live_run
            finished = live is None or live.attempt != attempt
            return finished and not self.harness.engine.running(work_id)  # slot given back

        wait_until(recorded, what="the answer to be recorded")
        self.harness.project()

    @precondition(lambda self: bool(self.waiting()))
    @rule(data=st.data(), condition=st.sampled_from(["approved", "rejected"]))
    def a_person_decides(self, data: st.DataObject, condition: str) -> None:
        work_id = data.draw(st.sampled_from(self.waiting()), label="item")
        service = self.harness.service
        service.complete_step(service.local_user("ann"), work_id, "review", condition=condition)
        self.harness.project()

    @rule()
    def time_passes(self) -> None:
        self.clock.advance(timedelta(seconds=TIMEOUT_SECONDS + 1))

    @precondition(lambda self: bool(self.open_items()))
    @rule(data=st.data())
    def someone_cancels(self, data: st.DataObject) -> None:
        work_id = data.draw(st.sampled_from(self.open_items()), label="item")
        # The domain command and a save, as Lifecycle.cancel does (which then waits for a
        # projecting worker to show it: there is none here).
        work = self.harness.service.work
        for _ in range(10):
            item = work.item(work_id)
            if item.status.terminal:
                return  # it ended meanwhile
            item.cancel("tester", self.clock.now())
            try:
                work.save(item)
                return
            except RecordConflictError:
                continue  # the engine recorded an outcome first: look again
        raise AssertionError("could not cancel")

    @rule()
    def pause(self) -> None:
        self.lifecycle.pause(None, self.workflow)
        self.harness.service.directory.refresh()
        self.paused = True

    @rule()
    def activate(self) -> None:
        self.lifecycle.activate(None, self.workflow)
        self.harness.service.directory.refresh()
        self.paused = False

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def never_more_calls_at_once_than_the_provider_allows(self) -> None:
        assert self.gated.most_in_flight <= LIMIT
        now = self.clock.now()
        live = [w for w in self.items if (r := self.item(w).live_run) and r.lease_until > now]
        assert len(live) <= LIMIT, live

    @invariant()
    def an_item_ends_once_and_stays_ended(self) -> None:
        for work_id in self.items:
            status = self.item(work_id).status
            if work_id in self.ended:
                assert status is self.ended[work_id], (work_id, self.ended[work_id], status)
            elif status.terminal:
                self.ended[work_id] = status
            terminal = [e for e in self.events(work_id) if isinstance(e, TERMINAL)]
            assert len(terminal) == (1 if status.terminal else 0)

    @invariant()
    def routes_stay_in_the_pinned_version(self) -> None:
        for work_id in self.items:
            item = self.item(work_id)
            assert item.workflow_version == 1
            assert item.current_step in KEYS
            for event in self.events(work_id):
                if isinstance(event, WorkItem.Routed):
                    assert (event.from_step, event.to_step) in {
                        ("classify", "review"),
                        ("review", "classify"),
                    }

    def teardown(self) -> None:
        """Everything open is driven to its end: every item gets there."""
        try:
            if self.paused:
                self.activate()
            self.gated.open_all()
            for _ in range(40):
                if not self.open_items():
                    break
                self.harness.project()
                self.harness.engine.dispatch()
                self.harness.settle()
                for work_id in self.waiting():
                    with contextlib.suppress(WorkItemError):  # it timed out meanwhile
                        self.a_person_decides_on(work_id)
            assert not self.open_items(), [self.item(w).status for w in self.open_items()]
            self.an_item_ends_once_and_stays_ended()
            for work_id in self.items:
                item = self.item(work_id)
                assert all(run.status is not RunStatus.RUNNING for run in item.runs)
        finally:
            self.harness.close()

    def a_person_decides_on(self, work_id: UUID) -> None:
        service = self.harness.service
        service.complete_step(service.local_user("ann"), work_id, "review", condition="approved")


WorkflowMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_workflow_machine = WorkflowMachine.TestCase
