"""Human steps on the in-memory store: the engine records the wait instead of running a
model, people act through the service under the permission rules, timeouts fire on an
injected clock, and the task list follows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from auxot.adapters.clock import ManualClock
from auxot.application.declarations import (
    Declaration,
    DeclarationError,
    HandoffDecl,
    IntakeDecl,
    ProviderDecl,
    StepDecl,
    TeamDecl,
    WorkflowDecl,
)
from auxot.application.keys import Caller
from auxot.application.lifecycle import Lifecycle
from auxot.application.records import WorkRecord, decode_record
from auxot.application.refs import format_ref
from auxot.application.service import NotFoundError
from auxot.domain.actor import SYSTEM as OPERATOR
from auxot.domain.definition import COMPLETE, Definition, Handoff, Step
from auxot.domain.intake import Intake
from auxot.domain.work_item import ActorBarredError, NotWaitingError, ReservedConditionError
from auxot.domain.workflow import Workflow
from tests.application.builders import ids_of, memory_service
from tests.application.test_engine import GatedProvider, Harness

DRAFT = StepDecl(
    key="draft",
    prompt="Draft a reply to {{ input.customer }}",
    provider="offline",
    handoffs=(HandoffDecl("default", "review"),),
)
APPROVE_OR_REDO = (HandoffDecl("approved", "complete"), HandoffDecl("rejected", "draft"))


def review(**fields: Any) -> StepDecl:
    fields.setdefault("handoffs", APPROVE_OR_REDO)
    return StepDecl(key="review", handler="human", **fields)


def human_declaration(*steps: StepDecl) -> Declaration:
    """Team ``support`` (members ann, bob, cy; admin boss), team ``legal`` (member lee),
    a scripted provider, and a workflow of ``steps`` with intake ``triage``."""
    return Declaration(
        teams=(
            TeamDecl("support", ("ann", "bob", "cy"), admins=("boss",)),
            TeamDecl("legal", ("lee",)),
        ),
        providers=(ProviderDecl("offline", "scripted"),),
        workflows=(WorkflowDecl(name="reviewed", team="support", steps=steps),),
        intakes=(IntakeDecl("triage", "reviewed", "support"),),
    )


class Human(Harness):
    def start(self, *steps: StepDecl, payload: dict[str, Any] | None = None) -> UUID:
        applied = self.service.apply(human_declaration(*steps), OPERATOR)
        work_id = self.submit(ids_of(applied, "intake")["triage"], payload or {"customer": "Acme"})
        self.advance(work_id)
        return work_id

    def advance(self, work_id: UUID, rounds: int = 4) -> WorkRecord:
        """Project and dispatch until the item is terminal or waits on a person."""
        for _ in range(rounds):
            self.project()
            self.engine.dispatch()
            self.settle()
            record = self.record(work_id)
            if record.waiting_for is not None or record.status in ("completed", "failed"):
                return record
        return self.record(work_id)

    def user(self, name: str) -> Caller:
        return self.service.local_user(name)

    def act(
        self, work_id: UUID, user: str, condition: str, step: str = "review", **kwargs: Any
    ) -> WorkRecord:
        record = self.service.complete_step(
            self.user(user), work_id, step, condition=condition, **kwargs
        )
        return decode_record(record)

    def tasks(self, user: str) -> list[tuple[UUID, str]]:
        rows = self.service.tasks(self.user(user), 100)
        return [(r.work_id, r.task.step) for r in rows]  # type: ignore[union-attr]


@pytest.fixture
def human(clock: ManualClock) -> Iterator[Human]:
    gated = GatedProvider()
    h = Human(memory_service(clock, providers={"gated": gated.factory}), clock)
    yield h
    gated.open_all()
    h.close()


def test_an_item_at_a_human_step_waits_for_its_assignee(human: Human, clock: ManualClock) -> None:
    work_id = human.start(DRAFT, review(assignee="ann"))
    record = human.record(work_id)
    assert record.status == "running"
    assert record.current_step == "review"
    assert record.waiting_for is not None
    assert (record.waiting_for.step, record.waiting_for.assignee) == ("review", "ann")
    assert (record.waiting_for.team, record.waiting_for.timeout_at) == (None, None)
    assert record.waiting_for.since == clock.now()
    assert [(s.key, s.status) for s in record.steps] == [
        ("draft", "succeeded"),
        ("review", "waiting"),
    ]
    # No model ran for it, no lease was taken, and nothing is due: no worker looks at it.
    assert [r.key for r in human.item(work_id).runs] == ["draft"]
    assert human.service.view.get(work_id).due_at is None  # type: ignore[union-attr]
    clock.advance(timedelta(days=30))
    assert human.engine.dispatch() == 0
    assert human.item(work_id).version == human.service.view.get(work_id).version  # type: ignore[union-attr]
    assert human.tasks("ann") == [(work_id, "review")]
    assert human.tasks("bob") == []


def test_the_assignee_approves_and_the_item_completes_with_the_draft(human: Human) -> None:
    work_id = human.start(DRAFT, review(assignee="ann"))
    record = human.act(work_id, "ann", "approved", note="looks right")
    assert record.status == "completed"
    assert record.output == "Draft a reply to Acme"
    assert record.waiting_for is None
    step = record.steps[-1]
    assert (step.key, step.status, step.actor, step.condition, step.note) == (
        "review",
        "succeeded",
        "ann",
        "approved",
        "looks right",
    )
    human.project()
    assert human.record(work_id).status == "completed"
    assert human.tasks("ann") == []
    with pytest.raises(NotWaitingError, match="nothing left to act on"):
        human.act(work_id, "ann", "approved")


def test_rejected_routes_back_and_the_step_waits_again(human: Human) -> None:
    work_id = human.start(DRAFT, review(assignee="ann"))
    human.act(work_id, "ann", "rejected", output={"why": "too curt"})
    record = human.advance(work_id)
    assert [(s.key, s.status, s.condition) for s in record.steps] == [
        ("draft", "succeeded", None),
        ("review", "succeeded", "rejected"),
        ("draft", "succeeded", None),
        ("review", "waiting", None),
    ]
    assert record.steps[1].output == {"why": "too curt"}
    record = human.act(work_id, "ann", "approved", output={"final": True})
    assert (record.status, record.output) == ("completed", {"final": True})


def test_acting_on_a_step_the_item_is_not_waiting_on_is_refused(human: Human) -> None:
    work_id = human.start(DRAFT, review(assignee="ann"))
    with pytest.raises(NotWaitingError, match="waiting on step 'review', not 'draft'"):
        human.act(work_id, "boss", "approved", step="draft")  # an admin sees the item
    with pytest.raises(ReservedConditionError):
        human.act(work_id, "ann", "timeout")


@pytest.mark.parametrize(
    ("step", "allowed", "refused"),
    [
        (review(assignee="ann"), ["ann", "boss"], ["bob", "lee", "nobody"]),
        (review(), ["ann", "bob", "cy", "boss"], ["lee", "nobody"]),  # the workflow's team
        (review(team="legal"), ["lee", "boss"], ["ann", "nobody"]),
    ],
    ids=["assignee", "workflow team", "other team"],
)
def test_who_may_act(human: Human, step: StepDecl, allowed: list[str], refused: list[str]) -> None:
    work_id = human.start(DRAFT, step)
    for user in refused:
        with pytest.raises(NotFoundError):
            human.act(work_id, user, "approved")
    team_key = Caller(
        key_id=UUID(int=1), kind="team", owner="support", teams=frozenset(human.user("ann").teams)
    )
    with pytest.raises(NotFoundError):
        human.service.complete_step(team_key, work_id, "review", condition="approved")
    assert human.service.tasks(team_key, 10) == []
    listed = [u for u in [*allowed, *refused] if human.tasks(u)]
    assert set(listed) == set(allowed) - {"boss"}  # admins may act; their list is their own
    assert human.act(work_id, allowed[0], "approved").status == "completed"


def test_an_unknown_item_or_step_is_not_found(human: Human) -> None:
    work_id = human.start(DRAFT, review(assignee="ann"))
    with pytest.raises(NotFoundError):
        human.act(UUID(int=7), "ann", "approved")
    with pytest.raises(NotFoundError):
        human.act(work_id, "ann", "approved", step="nope")


def test_maker_is_not_checker(human: Human) -> None:
    work_id = human.start(
        review(handoffs=(HandoffDecl("approved", "check"),)),
        StepDecl(
            key="check",
            handler="human",
            not_by_actor_of="review",
            handoffs=(HandoffDecl("approved", "complete"),),
        ),
    )
    human.act(work_id, "ann", "approved")
    human.advance(work_id)
    assert human.record(work_id).waiting_for.step == "check"  # type: ignore[union-attr]
    assert human.tasks("ann") == []
    assert human.tasks("bob") == [(work_id, "check")]
    with pytest.raises(ActorBarredError, match="'ann' acted on step 'review'"):
        human.act(work_id, "ann", "approved", step="check")
    assert human.act(work_id, "bob", "approved", step="check").status == "completed"


def test_a_timeout_fires_the_timeout_handoff(human: Human, clock: ManualClock) -> None:
    work_id = human.start(
        DRAFT,
        review(
            assignee="ann",
            timeout="2h",
            handoffs=(*APPROVE_OR_REDO, HandoffDecl("timeout", "escalate")),
        ),
        StepDecl(
            key="escalate",
            handler="human",
            assignee="boss",
            handoffs=(HandoffDecl("default", "complete"),),
        ),
    )
    waiting = human.record(work_id).waiting_for
    assert waiting is not None
    assert waiting.timeout_at == clock.now() + timedelta(hours=2)
    assert human.service.view.get(work_id).due_at == waiting.timeout_at  # type: ignore[union-attr]

    clock.advance(timedelta(hours=2) - timedelta(seconds=1))
    assert human.advance(work_id).waiting_for.step == "review"  # type: ignore[union-attr]
    clock.advance(timedelta(seconds=1))
    record = human.advance(work_id)
    assert record.steps[1].status == "timed_out"
    assert record.steps[1].condition == "timeout"
    assert record.waiting_for is not None
    assert (record.waiting_for.step, record.waiting_for.assignee) == ("escalate", "boss")
    with pytest.raises(NotWaitingError):
        human.act(work_id, "ann", "approved")


def test_a_timeout_without_a_timeout_handoff_fails_the_item(
    human: Human, clock: ManualClock
) -> None:
    work_id = human.start(DRAFT, review(assignee="ann", timeout=90))
    clock.advance(timedelta(seconds=90))
    record = human.advance(work_id)
    assert record.status == "failed"
    assert record.error == "step 'review' timed out after 1m30s and has no 'timeout' handoff"


# -- declaring --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "path", "message"),
    [
        (review(prompt="hi"), "steps[1].prompt", "a human step takes no 'prompt'"),
        (review(provider="offline"), "steps[1].provider", "a human step takes no 'provider'"),
        (review(assignee="ann", team="legal"), "steps[1].team", "not both"),
        (review(timeout="2 hours"), "steps[1].timeout", "is not a duration"),
        (review(timeout=0), "steps[1].timeout", "from 1 second to 366 days"),
        (review(team="sales"), "steps[1].team", "unknown team 'sales'"),
        (review(not_by_actor_of="draft"), "steps[1].not_by_actor_of", "an earlier human step"),
        (StepDecl(key="review", provider="offline"), "steps[1].prompt", "is required"),
        (StepDecl(key="review", prompt="x"), "steps[1].provider", "is required"),
        (
            StepDecl(key="review", prompt="x", provider="offline", assignee="ann"),
            "steps[1].assignee",
            "'assignee' is only for human steps",
        ),
    ],
)
def test_a_wrong_human_step_is_refused_with_its_path(
    human: Human, step: StepDecl, path: str, message: str
) -> None:
    with pytest.raises(DeclarationError) as raised:
        human.service.apply(human_declaration(DRAFT, step), OPERATOR)
    issues = [(i.path, i.message) for i in raised.value.issues]
    assert len(issues) == 1, issues  # one problem, said once
    assert issues[0][0] == f"workflows[0].{path}"
    assert message in issues[0][1]


def test_a_timeout_handoff_without_a_timeout_is_a_warning(human: Human) -> None:
    applied = human.service.apply(
        human_declaration(
            DRAFT,
            review(
                handoffs=(HandoffDecl("timeout", "complete"), HandoffDecl("approved", "complete"))
            ),
        ),
        OPERATOR,
    )
    workflow = next(a for a in applied if a.kind == "workflow")
    assert (
        "step 'review': handoff 'timeout' cannot fire: the step has no 'timeout'"
        in (workflow.extra["warnings"])
    )


def test_a_human_step_that_no_person_can_move_on_is_refused(human: Human) -> None:
    declaration = human_declaration(DRAFT, review(handoffs=(HandoffDecl("timeout", "complete"),)))
    with pytest.raises(DeclarationError, match="an item would wait forever"):
        human.service.apply(declaration, OPERATOR)


def test_team_admins_are_declared_and_updated(human: Human) -> None:
    human.service.apply(human_declaration(DRAFT, review()), OPERATOR)
    assert human.service.directory.teams_by_name["support"].admins == ["boss"]
    again = human_declaration(DRAFT, review())
    changed = Declaration(
        teams=(TeamDecl("support", ("ann",), admins=("zoe", "boss")),),
        providers=again.providers,
        workflows=again.workflows,
        intakes=again.intakes,
    )
    assert [a.outcome for a in human.service.apply(changed, OPERATOR) if a.kind == "team"] == [
        "updated"
    ]
    assert human.service.directory.teams_by_name["support"].admins == ["boss", "zoe"]
    assert [a.outcome for a in human.service.apply(changed, OPERATOR) if a.kind == "team"] == [
        "unchanged"
    ]


def test_cancelling_an_item_withdraws_its_waiting_task(human: Human) -> None:
    work_id = human.start(DRAFT, review(assignee="ann"))
    assert human.tasks("ann") == [(work_id, "review")]
    Lifecycle(human.service).cancel(None, work_id)
    human.project()
    record = human.record(work_id)
    assert record.status == "cancelled"
    assert record.waiting_for is None
    assert [(s.key, s.status) for s in record.steps] == [
        ("draft", "succeeded"),
        ("review", "cancelled"),
    ]
    assert human.tasks("ann") == []
    with pytest.raises(NotWaitingError):
        human.act(work_id, "ann", "approved")


def test_an_item_that_cannot_start_fails_alone_and_the_rest_run(
    human: Human, clock: ManualClock
) -> None:
    """A definition recorded before today's limits (here a timeout past the range of
    dates) must not hold up everyone's work: that item fails, saying why."""
    poison = Definition(
        steps=(Step("wait", "human", timeout=10**12, handoffs=(Handoff("approved", COMPLETE),)),)
    )
    registry = human.service.registry
    human.service.apply(human_declaration(DRAFT, review(assignee="ann")), OPERATOR)
    team = human.service.directory.teams_by_name["support"].id
    workflow = Workflow._create(  # the command would refuse it now: bypass it, as history
        Workflow.Registered,
        id=uuid4(),
        name="old",
        team_id=team,
        description="",
        definition=poison,
        timestamp=clock.now(),
    )
    intake = Intake.open(uuid4(), "old", team, workflow.id, None, clock.now())
    registry.save(workflow, intake)
    human.service.directory.refresh()
    stuck = human.submit(format_ref("intake", intake.id), {})
    fine = human.start(DRAFT, review(assignee="ann"))
    record = human.advance(stuck)
    assert record.status == "failed"
    assert record.error is not None
    assert "cannot run" in record.error
    assert human.record(fine).waiting_for is not None
