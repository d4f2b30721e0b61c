"""Pause and activate, pinned versions, manual tasks, cancel and re-run, on the in-memory
store with the engine driven by hand (see test_engine.py for the harness)."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import msgspec
import pytest

import auxot
from auxot.adapters.clock import ManualClock
from auxot.application.declarations import (
    Declaration,
    IntakeDecl,
    ProviderDecl,
    TeamDecl,
)
from auxot.application.engine import Engine
from auxot.application.keys import Caller
from auxot.application.lifecycle import ConflictError, Lifecycle
from auxot.application.records import decode_record
from auxot.application.refs import format_ref, parse_ref
from auxot.application.service import NotFoundError
from auxot.domain.actor import SYSTEM as OPERATOR
from auxot.domain.identity import team_id, workflow_id
from auxot.domain.work_item import Status, WorkItem
from tests.application import test_engine
from tests.application.builders import declaration, ids_of, linear_workflow, memory_service
from tests.application.test_engine import GatedProvider, Harness, apply
from tests.support import EXAMPLE_WORKFLOW, wait_until

TRIAGE = workflow_id("support", "triage")

# The engine tests' fixtures: a harness on the in-memory store, with a gated provider.
gated = test_engine.gated
harness = test_engine.harness


def lifecycle(harness: Harness) -> Lifecycle:
    return Lifecycle(harness.service)


def caller(team: str) -> Caller:
    return Caller(key_id=uuid4(), kind="team", owner=team, teams=frozenset({team_id(team)}))


def submit_in_order(harness: Harness, intake: str, count: int) -> list[UUID]:
    """``count`` items, a second apart: their due times are their arrival order."""
    work_ids = []
    for n in range(count):
        work_ids.append(harness.submit(intake, {"n": n}))
        harness.clock.advance(timedelta(seconds=1))
    return work_ids


def start_a_two_step_item(harness: Harness, gated: GatedProvider) -> UUID:
    """An item whose first step has started and waits at its gate."""
    intake = apply(harness, ProviderDecl("offline", "gated"), prompts=("one", "two"))
    work_id = harness.submit(intake, {})
    harness.project()
    assert harness.engine.dispatch() == 1
    wait_until(lambda: gated.called(1), what="step1 to start")
    return work_id


# -- pause and activate -----------------------------------------------------------------


def test_a_paused_workflow_holds_new_items_and_activate_releases_them_in_arrival_order(
    harness: Harness, gated: GatedProvider
) -> None:
    intake = apply(harness, ProviderDecl("offline", "gated", max_parallel=1), prompts=("go",))
    summary = lifecycle(harness).pause(None, TRIAGE)
    assert (summary.status, summary.name, summary.team) == ("paused", "triage", "support")
    work_ids = submit_in_order(harness, intake, 3)
    harness.project()

    assert harness.engine.dispatch() == 0
    assert [harness.record(w).status for w in work_ids] == ["pending"] * 3
    assert gated.calls == []

    assert lifecycle(harness).activate(None, TRIAGE).status == "active"
    for n, work_id in enumerate(work_ids):
        assert harness.engine.dispatch() == 1
        wait_until(lambda n=n: gated.called(n + 1), what=f"step {n + 1} to start")
        gated.release(work_id)
        harness.settle()
        assert harness.record(work_id).status == "completed"
    assert [call[0] for call in gated.calls] == work_ids


def test_items_already_running_keep_going_while_their_workflow_is_paused(
    harness: Harness, gated: GatedProvider
) -> None:
    work_id = start_a_two_step_item(harness, gated)

    lifecycle(harness).pause(None, TRIAGE)
    gated.open_all()
    record = harness.run_to_the_end(work_id)  # step2 starts although the workflow is paused
    assert record.status == "completed"
    assert [s.key for s in record.steps] == ["step1", "step2"]


def test_held_items_are_left_out_of_the_due_query_and_do_not_block_other_workflows(
    clock: ManualClock,
) -> None:
    """More held items than a dispatch reads (one page of two) wait ahead of another
    workflow's item; it starts at once, and the held ones are not even read."""
    service = memory_service(clock)
    harness = Harness(service, clock)
    engine = Engine(
        service.work,
        service.view,
        service.directory,
        service.providers,
        clock,
        slots=service.slots,
        worker_id="one-page",
        batch=2,
        max_pages=1,
    )
    try:
        applied = service.apply(
            Declaration(
                teams=(TeamDecl("support"),),
                providers=(ProviderDecl("offline", "scripted"),),
                workflows=(
                    linear_workflow(name="held", prompts=("go",)),
                    linear_workflow(name="free", prompts=("go",)),
                ),
                intakes=(
                    IntakeDecl("held", "held", "support"),
                    IntakeDecl("free", "free", "support"),
                ),
            ),
            OPERATOR,
        )
        intakes = ids_of(applied, "intake")
        Lifecycle(service).pause(None, workflow_id("support", "held"))
        held = submit_in_order(harness, intakes["held"], 3)
        free = harness.submit(intakes["free"], {})
        harness.project()

        assert service.view.due(clock.now(), 10, 0, service.directory.paused_workflows()) == [free]
        reads: list[UUID] = []
        original = service.work.item

        def counting(work_id: UUID, version: int | None = None) -> WorkItem:
            reads.append(work_id)
            return original(work_id, version)

        service.work.item = counting  # type: ignore[method-assign]
        assert engine.dispatch() == 1
        wait_until(lambda: engine.idle, what="the free item's step")
        assert reads == [free]
        service.work.item = original  # type: ignore[method-assign]
        harness.project()
        assert harness.record(free).status == "completed"
        assert [harness.record(w).status for w in held] == ["pending"] * 3
    finally:
        engine.close()
        harness.close()


def test_pause_is_refused_like_an_unknown_workflow_to_another_team(harness: Harness) -> None:
    apply(harness)
    for command in (
        lambda: lifecycle(harness).pause(caller("sales"), TRIAGE),
        lambda: lifecycle(harness).activate(caller("sales"), TRIAGE),
        lambda: lifecycle(harness).workflow(caller("sales"), TRIAGE),
        lambda: lifecycle(harness).versions(caller("sales"), TRIAGE),
        lambda: lifecycle(harness).pause(caller("support"), uuid4()),
    ):
        with pytest.raises(NotFoundError):
            command()
    assert lifecycle(harness).workflow(caller("support"), TRIAGE).status == "active"


# -- versions ---------------------------------------------------------------------------


def test_a_running_item_finishes_on_its_version_while_new_items_use_the_newest(
    harness: Harness, gated: GatedProvider
) -> None:
    provider = ProviderDecl("offline", "gated")
    intake = apply(harness, provider, prompts=("v1 first", "v1 second"))
    old = harness.submit(intake, {})
    harness.project()
    assert harness.engine.dispatch() == 1
    wait_until(lambda: gated.called(1), what="the old item's first step")

    # Revised while it runs: one step, with other prompts.
    apply(harness, provider, prompts=("v2 only",))
    versions = lifecycle(harness).versions(None, TRIAGE)
    assert [(v.number, v.steps) for v in versions] == [(1, ("step1", "step2")), (2, ("step1",))]
    new = harness.submit(intake, {})
    gated.open_all()

    old_record = harness.run_to_the_end(old)
    assert old_record.workflow_version == 1
    assert [s.key for s in old_record.steps] == ["step1", "step2"]
    new_record = harness.run_to_the_end(new)
    assert new_record.workflow_version == 2
    assert [s.key for s in new_record.steps] == ["step1"]


# -- manual tasks -----------------------------------------------------------------------


def test_a_manual_task_runs_with_its_input_and_no_intake(harness: Harness) -> None:
    apply(harness)
    item = lifecycle(harness).new_task(caller("support"), TRIAGE, {"subject": "S", "customer": "C"})
    harness.service.committer.submit(item.collect_events()).result(10)
    record = harness.run_to_the_end(item.id)
    assert (record.status, record.intake_id, record.output) == ("completed", None, "Reply to C")
    assert decode_record(lifecycle(harness).record(caller("support"), item.id)) == record
    with pytest.raises(NotFoundError):
        lifecycle(harness).record(caller("sales"), item.id)
    with pytest.raises(NotFoundError):
        lifecycle(harness).new_task(caller("sales"), TRIAGE, {})


def test_a_received_event_recorded_before_reruns_existed_still_reads() -> None:
    """Events stored by earlier releases have no ``rerun_of``."""
    service = memory_service()
    try:
        service.apply(declaration(), OPERATOR)
        workflow = service.directory.workflow(TRIAGE)
        assert workflow is not None
        item = WorkItem.receive(
            uuid4(), uuid4(), TRIAGE, 1, workflow.current, {"n": 1}, ManualClock().now()
        )
        (event,) = item.collect_events()
        mapper = service.work.mapper
        stored = mapper.to_stored_event(event)
        state = msgspec.json.decode(stored.state)
        del state["rerun_of"]
        old = type(stored)(
            originator_id=stored.originator_id,
            originator_version=stored.originator_version,
            topic=stored.topic,
            state=msgspec.json.encode(state),
        )
        rebuilt = mapper.to_domain_event(old).mutate(None)
        assert isinstance(rebuilt, WorkItem)
        assert (rebuilt.rerun_of, rebuilt.reruns, rebuilt.input) == (None, [], {"n": 1})
    finally:
        service.close()


# -- cancel -----------------------------------------------------------------------------


def test_a_cancelled_pending_item_never_starts(harness: Harness, gated: GatedProvider) -> None:
    intake = apply(harness, ProviderDecl("offline", "gated"), prompts=("go",))
    work_id = harness.submit(intake, {})
    who = caller("support")
    record = decode_record(lifecycle(harness).cancel(who, work_id))
    assert (record.status, record.cancelled_by, record.current_step) == (
        "cancelled",
        who.actor.text,
        None,
    )
    assert record.completed_at is not None
    harness.project()
    assert harness.engine.dispatch() == 0
    assert gated.calls == []
    assert harness.service.view.get(work_id).due_at is None  # type: ignore[union-attr]


def test_cancel_stops_an_item_at_its_step_boundary_and_drops_the_late_outcome(
    harness: Harness, gated: GatedProvider
) -> None:
    work_id = start_a_two_step_item(harness, gated)

    record = decode_record(lifecycle(harness).cancel(None, work_id))
    assert record.status == "cancelled"
    assert [(s.key, s.status) for s in record.steps] == [("step1", "cancelled")]

    gated.release(work_id)
    harness.settle()  # the step's answer comes back: dropped, nothing routes further
    harness.engine.dispatch()
    harness.settle()
    final = harness.item(work_id)
    assert final.status is Status.CANCELLED
    assert [(r.key, r.status.value) for r in final.runs] == [("step1", "cancelled")]
    assert gated.calls == [(work_id, 1)]


def test_cancelling_an_ended_item_is_a_conflict(harness: Harness) -> None:
    intake = apply(harness)
    work_id = harness.submit(intake, {})
    harness.run_to_the_end(work_id)
    with pytest.raises(ConflictError, match="already completed"):
        lifecycle(harness).cancel(None, work_id)
    with pytest.raises(NotFoundError):
        lifecycle(harness).cancel(caller("sales"), work_id)
    with pytest.raises(NotFoundError):
        lifecycle(harness).cancel(None, uuid4())


# -- re-run -----------------------------------------------------------------------------


def test_a_rerun_starts_the_same_input_on_the_newest_version_linked_both_ways(
    harness: Harness,
) -> None:
    intake = apply(harness, prompts=("v1",))
    old = harness.submit(intake, {"subject": "S"})
    harness.run_to_the_end(old)
    apply(harness, prompts=("v2 {{ input.subject }}",))

    new = lifecycle(harness).rerun(caller("support"), old)
    events = harness.service.work.events.get(old)
    assert [type(e) for e in events][-1] is WorkItem.RerunStarted
    new_record = harness.run_to_the_end(new)
    old_record = harness.record(old)
    assert new_record.rerun_of == format_ref("work", old)
    assert old_record.reruns == [format_ref("work", new)]
    assert (new_record.input, new_record.intake_id) == ({"subject": "S"}, old_record.intake_id)
    assert (new_record.workflow_version, new_record.output) == (2, "v2 S")

    again = lifecycle(harness).rerun(None, old)
    harness.project()
    assert harness.record(old).reruns == [format_ref("work", new), format_ref("work", again)]


def test_a_rerun_saves_both_items_or_neither(harness: Harness) -> None:
    intake = apply(harness)
    old = harness.submit(intake, {})
    harness.run_to_the_end(old)
    saved: list[tuple[UUID, ...]] = []
    original = harness.service.work.save

    def spy(*aggregates: WorkItem, **kwargs: object) -> object:
        saved.append(tuple(a.id for a in aggregates))
        return original(*aggregates, **kwargs)  # type: ignore[arg-type]

    harness.service.work.save = spy  # type: ignore[assignment,method-assign]
    new = lifecycle(harness).rerun(None, old)
    assert saved == [(old, new)]  # one save: one transaction


def test_only_an_ended_item_is_rerun(harness: Harness, gated: GatedProvider) -> None:
    intake = apply(harness, ProviderDecl("offline", "gated"), prompts=("go",))
    work_id = harness.submit(intake, {})
    with pytest.raises(ConflictError, match="only an ended item"):
        lifecycle(harness).rerun(None, work_id)
    with pytest.raises(NotFoundError):
        lifecycle(harness).rerun(caller("sales"), work_id)


def test_the_embedded_wait_returns_once_an_item_is_cancelled() -> None:
    """``cancelled`` is terminal for the embedding API too: wait() does not time out."""
    with auxot.connect("memory://", poll_interval=0.05) as ax:
        applied = ax.apply(EXAMPLE_WORKFLOW)
        Lifecycle(ax.service).pause(None, workflow_id("support", "Support Ticket Triage"))
        work_id = ax.submit(next(a.id for a in applied if a.kind == "intake"), {})
        work = parse_ref("work", work_id)
        assert work is not None
        Lifecycle(ax.service).cancel(None, work)
        assert ax.wait(work_id, timeout=20).status == "cancelled"
