"""Human steps as a state machine: an item reaches human steps, people act on them
(approved, rejected, anything else), timeouts pass, and people try to act twice, on the
wrong step, or as the maker of what they would check.

Whatever happens, every item ends in exactly one terminal status, never routes outside
its definition, and a refused command records nothing.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from auxot.domain.definition import COMPLETE, DEFAULT, TIMEOUT, Definition, Handoff, Step
from auxot.domain.routing import choose_handoff
from auxot.domain.validation import validate
from auxot.domain.work_item import (
    ActorBarredError,
    HumanStatus,
    NotWaitingError,
    ReservedConditionError,
    Status,
    UnroutableDecisionError,
    WorkItem,
    WorkItemError,
)
from tests.domain.strategies import human_definitions
from tests.domain.test_work_item_machine import replay
from tests.domain.test_work_item_machine import state_of as prompt_state_of

START = datetime(2026, 1, 1, tzinfo=UTC)
USERS = ("ann", "bob", "cy")
WORKFLOW_TEAM = "crew"
TERMINAL_EVENTS = (WorkItem.Completed, WorkItem.Failed)


def state_of(item: WorkItem) -> dict[str, Any]:
    return {
        **prompt_state_of(item),
        "human_runs": [attrs.asdict(r) for r in item.human_runs],
        "waiting": None if item.waiting is None else attrs.asdict(item.waiting),
    }


class HumanStepMachine(RuleBasedStateMachine):
    item: WorkItem
    definition: Definition

    @initialize(definition=human_definitions())
    def receive(self, definition: Definition) -> None:
        assert validate(definition).ok, validate(definition).errors
        self.definition = definition
        self.now = START
        self.item = WorkItem.receive(uuid4(), uuid4(), uuid4(), 1, definition, {"n": 1}, START)
        self.events: list[Any] = []
        self.previous_status = self.item.status
        self.collect()

    # -- helpers ------------------------------------------------------------------------

    def collect(self) -> list[Any]:
        new = list(self.item.collect_events())
        self.events.extend(new)
        return new

    def assert_refused(self, error: type[Exception], command: Any) -> None:
        before = copy.deepcopy(state_of(self.item))
        with pytest.raises(error):
            command()
        assert self.item.pending_events == []
        assert state_of(self.item) == before

    @property
    def step(self) -> Step:
        return self.definition.step(self.item.current_step)

    def at_step(self, handler: str) -> bool:
        return (
            not self.item.status.terminal
            and self.item.waiting is None
            and self.step.handler == handler
        )

    def check_route(self, step: Step, condition: str | None, new: list[Any]) -> None:
        """After the decision event, exactly one routing event, following ``step``'s own
        handoffs as ``choose_handoff`` picks them."""
        assert len(new) == 2, new
        expected = choose_handoff(step, condition)
        event = new[1]
        if expected is None:
            assert type(event) is WorkItem.Failed
            assert f"no handoff matched at step '{step.key}'" in event.reason
        elif expected.to == COMPLETE:
            assert type(event) is WorkItem.Completed
        else:
            assert type(event) is WorkItem.Routed
            assert (event.from_step, event.to_step) == (step.key, expected.to)

    def run_prompt_step(self, condition: str | None) -> None:
        step = self.step
        run = self.item.start_step("w", timedelta(seconds=30), self.now)
        self.item.succeed_step(
            run.attempt, self.definition, self.now, output=f"out-{step.key}", condition=condition
        )
        self.check_route(step, condition, self.collect()[1:])

    def wait(self) -> None:
        step = self.step
        waiting = self.item.wait_for_human(step, WORKFLOW_TEAM, self.now)
        assert [type(e) for e in self.collect()] == [WorkItem.WaitingForHuman]
        assert waiting.step == step.key
        assert waiting.since == self.now
        if step.assignee is not None:
            assert (waiting.assignee, waiting.team) == (step.assignee, None)
        else:
            assert (waiting.assignee, waiting.team) == (None, step.team or WORKFLOW_TEAM)
        expected_timeout = (
            None if step.timeout is None else self.now + timedelta(seconds=step.timeout)
        )
        assert waiting.timeout_at == expected_timeout
        makers = [
            r.actor for r in self.item.human_runs if r.key == step.not_by_actor_of and r.actor
        ]
        assert waiting.not_by == (makers[-1] if makers else None)
        assert self.item.status is Status.RUNNING
        assert not self.item.is_runnable(self.now + timedelta(days=365))

    # -- rules --------------------------------------------------------------------------

    @rule(seconds=st.integers(min_value=0, max_value=90))
    def advance_clock(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @precondition(lambda self: self.at_step("prompt"))
    @rule(condition=st.sampled_from([None, DEFAULT, "approved", "escalate"]))
    def a_prompt_step_runs(self, condition: str | None) -> None:
        self.run_prompt_step(condition)

    @precondition(lambda self: self.at_step("human"))
    @rule()
    def the_item_reaches_a_human_step(self) -> None:
        self.wait()

    @precondition(lambda self: self.item.waiting is not None)
    @rule(
        actor=st.sampled_from(USERS),
        condition=st.sampled_from(["approved", "rejected", "escalate", "other", DEFAULT]),
        give_output=st.booleans(),
    )
    def a_person_acts(self, actor: str, condition: str, give_output: bool) -> None:
        waiting = self.item.waiting
        assert waiting is not None
        step = self.definition.step(waiting.step)
        output = {"by": actor} if give_output else None
        act = lambda: self.item.act(  # noqa: E731
            step.key, actor, condition, self.definition, self.now, note="n", output=output
        )
        if actor == waiting.not_by:
            self.assert_refused(ActorBarredError, act)
            return
        if choose_handoff(step, condition, output or self.item.output) is None:
            self.assert_refused(UnroutableDecisionError, act)
            return
        before_output = self.item.output
        act()
        new = self.collect()
        assert type(new[0]) is WorkItem.HumanActed
        assert (new[0].step, new[0].actor, new[0].condition) == (step.key, actor, condition)
        self.check_route(step, condition, new)
        assert self.item.waiting is None
        run = self.item.human_runs[-1]
        assert (run.key, run.status, run.actor) == (step.key, HumanStatus.SUCCEEDED, actor)
        assert self.item.output == (output if give_output else before_output)

    @precondition(lambda self: self.item.waiting is not None)
    @rule()
    def a_person_reports_timeout(self) -> None:
        waiting = self.item.waiting
        assert waiting is not None
        self.assert_refused(
            ReservedConditionError,
            lambda: self.item.act(waiting.step, "zed", TIMEOUT, self.definition, self.now),
        )

    @precondition(lambda self: any(r.actor for r in self.item.human_runs))
    @rule(data=st.data())
    def a_person_acts_twice(self, data: st.DataObject) -> None:
        """Definitions have no cycles, so a step acted on is never waited on again."""
        acted = [r.key for r in self.item.human_runs if r.actor]
        key = data.draw(st.sampled_from(acted), label="step")
        self.assert_refused(
            NotWaitingError,
            lambda: self.item.act(key, "ann", "approved", self.definition, self.now),
        )

    @rule(data=st.data())
    def a_person_acts_on_a_step_not_waited_on(self, data: st.DataObject) -> None:
        waiting = self.item.waiting
        others = [k for k in self.definition.keys if waiting is None or k != waiting.step]
        if not others:
            return
        key = data.draw(st.sampled_from(others), label="step")
        self.assert_refused(
            NotWaitingError,
            lambda: self.item.act(key, "bob", "approved", self.definition, self.now),
        )

    @precondition(lambda self: self.item.waiting is not None)
    @rule(jump=st.booleans())
    def the_timeout_passes(self, jump: bool) -> None:
        waiting = self.item.waiting
        assert waiting is not None
        if jump and waiting.timeout_at is not None:
            self.now = max(self.now, waiting.timeout_at)
        if waiting.timeout_at is None or self.now < waiting.timeout_at:
            self.assert_refused(
                WorkItemError, lambda: self.item.time_out(self.definition, self.now)
            )
            return
        step = self.definition.step(waiting.step)
        self.item.time_out(self.definition, self.now)
        new = self.collect()
        assert type(new[0]) is WorkItem.HumanTimedOut
        assert self.item.human_runs[-1].status is HumanStatus.TIMED_OUT
        if any(h.condition == TIMEOUT for h in step.handoffs):
            self.check_route(step, TIMEOUT, new)
            if type(new[1]) is WorkItem.Routed:
                assert new[1].condition == TIMEOUT
        else:  # never the default handoff: a timeout is not a decision
            assert [type(e) for e in new] == [WorkItem.HumanTimedOut, WorkItem.Failed]
            assert self.item.error is not None
            assert self.item.error.startswith(f"step '{step.key}' timed out after ")
            assert self.item.error.endswith(f"has no '{TIMEOUT}' handoff")

    @precondition(lambda self: not self.item.status.terminal and self.item.waiting is None)
    @rule()
    def waiting_is_refused_off_a_human_step_or_twice(self) -> None:
        if self.step.handler == "human":
            self.wait()
            self.assert_refused(
                WorkItemError,
                lambda: self.item.wait_for_human(self.step, WORKFLOW_TEAM, self.now),
            )
        else:
            self.assert_refused(
                WorkItemError,
                lambda: self.item.wait_for_human(self.step, WORKFLOW_TEAM, self.now),
            )
            human = next((s for s in self.definition.steps if s.handler == "human"), None)
            if human is not None:
                self.assert_refused(
                    WorkItemError,
                    lambda: self.item.wait_for_human(human, WORKFLOW_TEAM, self.now),
                )

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def at_most_one_terminal_event_and_status_never_moves_back(self) -> None:
        ends = [e for e in self.events if isinstance(e, TERMINAL_EVENTS)]
        assert len(ends) <= 1
        assert self.item.status.terminal == bool(ends)
        if self.previous_status.terminal:
            assert self.item.status is self.previous_status
        self.previous_status = self.item.status

    @invariant()
    def routes_stay_inside_the_definition(self) -> None:
        assert self.item.current_step in self.definition.keys
        for event in self.events:
            if isinstance(event, WorkItem.Routed):
                step = self.definition.step(event.from_step)
                assert (event.condition, event.to_step) in {
                    (h.condition, h.to) for h in step.handoffs
                }
            if isinstance(event, WorkItem.WaitingForHuman):
                assert self.definition.step(event.step).handler == "human"

    @invariant()
    def due_at_is_the_timeout_while_waiting(self) -> None:
        waiting = self.item.waiting
        if self.item.status.terminal:
            assert self.item.due_at is None
            assert waiting is None
        elif waiting is not None:
            assert self.item.due_at == waiting.timeout_at
            assert self.item.live_run is None

    @invariant()
    def replaying_the_events_rebuilds_the_same_state(self) -> None:
        assert state_of(replay(self.events)) == state_of(self.item)

    def teardown(self) -> None:
        """Drive the item to its end: it always gets there, through one terminal event."""
        if not hasattr(self, "item"):
            return
        for _ in range(len(self.definition.steps) * 2 + 2):
            if self.item.status.terminal:
                break
            if self.item.waiting is not None:
                waiting = self.item.waiting
                actor = next(u for u in USERS if u != waiting.not_by)
                step = self.definition.step(waiting.step)
                decidable = [h.condition for h in step.handoffs if h.condition != TIMEOUT]
                decision = DEFAULT if DEFAULT in decidable else decidable[0]
                assert decision is not None
                self.item.act(waiting.step, actor, decision, self.definition, self.now)
                self.collect()
            elif self.step.handler == "human":
                self.wait()
            else:
                self.run_prompt_step(None)
        assert self.item.status.terminal
        assert len([e for e in self.events if isinstance(e, TERMINAL_EVENTS)]) == 1


HumanStepMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_human_step_machine = HumanStepMachine.TestCase


def review_definition(**review: Any) -> Definition:
    return Definition(
        steps=(
            Step("draft", "prompt", "draft", "p", (Handoff(DEFAULT, "review"),)),
            Step("review", "human", handoffs=(
                Handoff("approved", COMPLETE), Handoff("rejected", "draft"),
            ), **review),
        )
    )


def test_an_approved_review_completes_with_the_drafts_output() -> None:
    definition = review_definition(assignee="ann")
    item = WorkItem.receive(uuid4(), uuid4(), uuid4(), 1, definition, {}, START)
    run = item.start_step("w", timedelta(seconds=5), START)
    item.succeed_step(run.attempt, definition, START, output="the draft")
    waiting = item.wait_for_human(definition.step("review"), WORKFLOW_TEAM, START)
    assert (waiting.assignee, waiting.team, waiting.timeout_at) == ("ann", None, None)
    assert item.due_at is None
    item.act("review", "ann", "approved", definition, START + timedelta(minutes=3), note="ok")
    assert item.status is Status.COMPLETED
    assert item.output == "the draft"
    with pytest.raises(NotWaitingError, match="nothing left to act on"):
        item.act("review", "ann", "approved", definition, START)


def test_a_timeout_without_a_timeout_handoff_fails_the_item_naming_it() -> None:
    definition = review_definition(timeout=7200)
    item = WorkItem.receive(uuid4(), uuid4(), uuid4(), 1, definition, {}, START)
    run = item.start_step("w", timedelta(seconds=5), START)
    item.succeed_step(run.attempt, definition, START, output="the draft")
    waiting = item.wait_for_human(definition.step("review"), WORKFLOW_TEAM, START)
    assert waiting.team == WORKFLOW_TEAM
    assert item.due_at == START + timedelta(hours=2)
    with pytest.raises(WorkItemError):
        item.time_out(definition, START + timedelta(hours=1))
    item.time_out(definition, START + timedelta(hours=2))
    assert item.status is Status.FAILED
    assert item.error == "step 'review' timed out after 2h and has no 'timeout' handoff"
