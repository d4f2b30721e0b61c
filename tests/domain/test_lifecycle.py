"""Cancel and re-run in the work item's state machine; pause, activate and version
history on the workflow. Pure: no clock, no store but the in-memory one for replay."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from auxot.domain.definition import COMPLETE, DEFAULT, Definition, Handoff, Step
from auxot.domain.work_item import RunStatus, Status, WorkItem, WorkItemError
from auxot.domain.workflow import VersionInfo, Workflow, WorkflowStatus
from tests.domain.test_work_item_machine import START, WorkItemMachine, replay, state_of

_ENDINGS = (WorkItem.Completed, WorkItem.Failed, WorkItem.Cancelled)


class CancellableMachine(WorkItemMachine):
    """The work item machine, plus cancel and re-run at any point of its history."""

    @rule(by=st.sampled_from(["key_a (team support)", "local"]))
    def cancel(self, by: str) -> None:
        if self.item.status.terminal:
            self.assert_refused(WorkItemError, lambda: self.item.cancel(by, self.now))
            return
        live = self.item.live_run
        self.item.cancel(by, self.now)
        assert [type(e) for e in self.collect()] == [WorkItem.Cancelled]
        assert self.item.status is Status.CANCELLED
        assert self.item.cancelled_by == by
        assert self.item.finished_at == self.now
        if live is not None:  # the attempt in flight is no longer live: its outcome is refused
            assert self.item.runs[-1].status is RunStatus.CANCELLED
            assert self.item.live_run is None

    @rule()
    def rerun(self) -> None:
        new_id = uuid4()
        if not self.item.status.terminal:
            self.assert_refused(
                WorkItemError, lambda: self.item.rerun(new_id, 7, self.definition, self.now)
            )
            return
        before = list(self.item.reruns)
        new = self.item.rerun(new_id, 7, self.definition, self.now)
        assert [type(e) for e in self.collect()] == [WorkItem.RerunStarted]
        assert self.item.reruns == [*before, new_id]
        assert (new.id, new.rerun_of, new.input) == (new_id, self.item.id, self.item.input)
        assert (new.workflow_id, new.workflow_version) == (self.item.workflow_id, 7)
        assert (new.status, new.current_step) == (Status.PENDING, self.definition.entry.key)
        assert state_of(replay(list(new.collect_events()))) == state_of(new)

    @invariant()
    def exactly_one_ending_once_terminal(self) -> None:
        endings = [e for e in self.events if isinstance(e, _ENDINGS)]
        assert len(endings) == (1 if self.item.status.terminal else 0)
        if endings:
            assert (
                self.item.status
                is {
                    WorkItem.Completed: Status.COMPLETED,
                    WorkItem.Failed: Status.FAILED,
                    WorkItem.Cancelled: Status.CANCELLED,
                }[type(endings[0])]
            )
            # Nothing but re-run links is recorded after the ending.
            after = self.events[self.events.index(endings[0]) + 1 :]
            assert all(isinstance(e, WorkItem.RerunStarted) for e in after)

    @invariant()
    def reruns_only_of_an_ended_item(self) -> None:
        if self.item.reruns:
            assert self.item.status.terminal


CancellableMachine.TestCase.settings = WorkItemMachine.TestCase.settings
test_cancellable_machine = CancellableMachine.TestCase


def one_step() -> Definition:
    return Definition(steps=(Step("only", "prompt", "go", "p", (Handoff(DEFAULT, COMPLETE),)),))


def received(**kwargs: Any) -> WorkItem:
    return WorkItem.receive(
        uuid4(), kwargs.pop("intake_id", uuid4()), uuid4(), 1, one_step(), {"n": 1}, START, **kwargs
    )


def test_a_cancelled_item_is_terminal_and_no_longer_due() -> None:
    item = received()
    assert item.due_at == START
    item.cancel("local", START + timedelta(seconds=1))
    assert item.status.terminal
    assert item.due_at is None
    assert not item.is_runnable(START + timedelta(days=1))


def test_the_outcome_of_a_step_running_when_the_item_was_cancelled_is_refused() -> None:
    item = received()
    run = item.start_step("w", timedelta(seconds=30), START)
    item.cancel("local", START + timedelta(seconds=1))
    with pytest.raises(WorkItemError):
        item.succeed_step(run.attempt, one_step(), START + timedelta(seconds=2), output="late")
    assert [(r.status, r.finished_at) for r in item.runs] == [
        (RunStatus.CANCELLED, START + timedelta(seconds=1))
    ]


def test_a_manual_task_has_no_intake() -> None:
    item = received(intake_id=None)
    assert item.intake_id is None
    assert state_of(replay(list(item.collect_events())))["intake_id"] is None


# -- workflows ---------------------------------------------------------------------------


def workflow() -> Workflow:
    return Workflow.register(uuid4(), "triage", uuid4(), "first", one_step(), START)


def test_pause_and_activate_are_idempotent() -> None:
    wf = workflow()
    assert wf.status is WorkflowStatus.ACTIVE
    assert wf.activate(START) is False
    assert wf.pause(START) is True
    assert wf.pause(START) is False
    assert wf.status is WorkflowStatus.PAUSED
    assert wf.activate(START) is True
    assert wf.activate(START) is False
    events = list(wf.collect_events())
    assert [type(e) for e in events] == [Workflow.Registered, Workflow.Paused, Workflow.Activated]
    rebuilt = None
    for event in events[:2]:
        rebuilt = event.mutate(rebuilt)
    assert isinstance(rebuilt, Workflow)
    assert rebuilt.paused


def test_every_version_keeps_when_and_with_what_description_it_was_recorded() -> None:
    wf = workflow()
    two = Definition(
        steps=(
            Step("first", "prompt", "go", "p", (Handoff(DEFAULT, "second"),)),
            Step("second", "prompt", "go", "p", (Handoff(DEFAULT, COMPLETE),)),
        )
    )
    wf.pause(START + timedelta(minutes=1))  # not a version
    wf.revise("second", two, START + timedelta(hours=1))
    wf.revise("second", two, START + timedelta(hours=2))  # unchanged: no version
    assert wf.history == [
        VersionInfo(1, START, "first"),
        VersionInfo(2, START + timedelta(hours=1), "second"),
    ]
    assert wf.definition(2).keys == ("first", "second")
    assert wf.paused  # a new version does not change whether it is paused
