"""Who did what, on the in-memory store: every event names its actor, whichever path
recorded it; a work item's history and its past states; and the audit log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import pytest

from auxot.adapters.clock import ManualClock
from auxot.application.audit import audit_page, cursor_position
from auxot.application.errors import NotFoundError
from auxot.application.history import History
from auxot.application.keys import Caller
from auxot.application.lifecycle import Lifecycle
from auxot.application.ports import AuditQuery
from auxot.application.records import decode_record
from auxot.application.refs import format_ref
from auxot.application.replay import replay
from auxot.application.stores import AuxotApplication, stamped
from auxot.domain.actor import Actor
from auxot.domain.identity import team_id, workflow_id
from tests.application.builders import ids_of, memory_service
from tests.application.test_engine import Harness
from tests.application.test_human_steps import DRAFT, human_declaration, review

ROOT = Actor.cli("root")


class World(Harness):
    """Team ``support`` (ann, bob, cy; admin boss) with a draft-then-review workflow,
    applied from the command line as ``cli:root``; and team ``legal``."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(memory_service(clock), clock)
        applied = self.service.apply(human_declaration(DRAFT, review(team="support")), ROOT)
        self.intake = ids_of(applied, "intake")["triage"]
        self.team_key = self.service.create_key("team", "support", ROOT)
        self.legal_key = self.service.create_key("team", "legal", ROOT)

    def caller(self, key: str) -> Caller:
        caller = self.service.authenticate(key)
        assert caller is not None
        return caller

    def submit_as(self, key: str) -> UUID:
        intake = UUID(hex=self.intake.removeprefix("intake_"))
        work_id, committed = self.service.submit(self.caller(key), intake, {"customer": "Acme"})
        committed.result(10)
        return work_id

    def until_waiting(self, work_id: UUID) -> None:
        for _ in range(4):
            self.project()
            self.engine.dispatch()
            self.settle()
            if self.record(work_id).waiting_for is not None:
                return
        raise AssertionError("the item never reached its human step")

    def history(self) -> History:
        return History(self.service.work, self.service.directory)

    def audit(self, **filters: object) -> list[tuple[str, str, str]]:
        self.service.audit.catch_up_fully()
        query = AuditQuery(teams=None, limit=100, **filters)  # type: ignore[arg-type]
        rows, _ = audit_page(self.service.audit.view, query)
        return [(r.actor, r.action, r.resource) for r in rows]


@pytest.fixture
def world(clock: ManualClock) -> Iterator[World]:
    w = World(clock)
    yield w
    w.close()


def all_actors(app: AuxotApplication) -> list[tuple[str, str]]:
    notifications = app.recorder.select_notifications(start=1, limit=10_000)
    events = [app.mapper.to_domain_event(n) for n in notifications]
    return [(type(e).__name__, e.actor) for e in events]  # type: ignore[attr-defined]


def test_every_event_on_every_path_names_who_caused_it(world: World) -> None:
    key = world.team_key.id
    work_id = world.submit_as(world.team_key.key)
    world.until_waiting(work_id)
    world.service.complete_step(
        world.service.local_user("ann"), work_id, "review", condition="approved"
    )
    world.run_to_the_end(work_id)
    Lifecycle(world.service).rerun(world.caller(world.team_key.key), work_id)
    world.service.revoke_key(world.legal_key.id, ROOT)

    work = all_actors(world.service.work)
    assert work[:3] == [
        ("Received", f"team:support key:{key}"),
        ("StepStarted", "worker:worker-a"),
        ("StepSucceeded", "worker:worker-a"),
    ]
    assert ("HumanActed", "user:ann") in work  # from the command line: no key
    assert ("RerunStarted", f"team:support key:{key}") in work
    registry = all_actors(world.service.registry)
    assert ("Revoked", "cli:root") in registry
    assert {actor for _, actor in registry} == {"cli:root"}
    assert not [e for e in work + registry if e[1] in ("unknown", "system")]


def test_a_manual_task_and_a_cancel_name_the_key_that_asked(world: World) -> None:
    caller = world.caller(world.team_key.key)
    lifecycle = Lifecycle(world.service)
    item = lifecycle.new_task(caller, workflow_id("support", "reviewed"), {"customer": "B"})

    world.service.committer.submit(stamped(item.collect_events(), caller.actor)).result(10)
    lifecycle.cancel(caller, item.id)
    actors = [a for n, a in all_actors(world.service.work) if n in ("Received", "Cancelled")]
    assert actors == [caller.actor.text] * 2


def test_the_history_lists_each_event_with_its_time_actor_and_data(
    world: World, clock: ManualClock
) -> None:
    work_id = world.submit_as(world.team_key.key)
    world.until_waiting(work_id)
    events = world.history().events(world.caller(world.team_key.key), work_id)
    assert [e.version for e in events] == list(range(1, len(events) + 1))
    assert [e.type for e in events][:2] == ["WorkItem.Received", "WorkItem.StepStarted"]
    received = events[0]
    assert received.actor == Actor.team("support", world.team_key.id)
    assert received.data["input"] == {"customer": "Acme"}
    assert received.at == world.service.work.item(work_id, 1).created_on
    assert events[-1].type == "WorkItem.WaitingForHuman"


def test_the_record_at_a_version_or_a_time_is_the_item_as_it_stood(
    world: World, clock: ManualClock
) -> None:
    before = clock.now() - timedelta(seconds=1)
    work_id = world.submit_as(world.team_key.key)
    received_at = clock.now()
    clock.advance(timedelta(minutes=1))
    world.until_waiting(work_id)
    caller, history = world.caller(world.team_key.key), world.history()

    first = decode_record(history.record_at(caller, work_id, 1))
    assert (first.status, first.steps) == ("pending", [])
    assert decode_record(history.record_at(caller, work_id, received_at)) == first
    now = decode_record(history.record_at(caller, work_id, clock.now()))
    assert now == world.record(work_id)
    assert now.waiting_for is not None
    with pytest.raises(NotFoundError):
        history.record_at(caller, work_id, before)  # before it existed
    with pytest.raises(NotFoundError):
        history.record_at(caller, work_id, 99)  # a version it never had


def test_another_teams_key_sees_neither_history_nor_past_states(world: World) -> None:
    work_id = world.submit_as(world.team_key.key)
    legal = world.caller(world.legal_key.key)
    with pytest.raises(NotFoundError):
        world.history().events(legal, work_id)
    with pytest.raises(NotFoundError):
        world.history().record_at(legal, work_id, 1)
    with pytest.raises(NotFoundError):
        world.history().events(legal, UUID(int=1))


def test_the_audit_log_has_every_administrative_change_and_human_action(world: World) -> None:
    caller = world.caller(world.team_key.key)
    key = world.team_key.id
    work_id = world.submit_as(world.team_key.key)
    world.until_waiting(work_id)
    world.service.complete_step(
        world.service.local_user("ann"), work_id, "review", condition="approved"
    )
    Lifecycle(world.service).pause(caller, workflow_id("support", "reviewed"))
    world.service.revoke_key(world.legal_key.id, ROOT)

    rows = world.audit()
    for expected in (
        ("cli:root", "workflow.registered"),
        ("cli:root", "intake.opened"),
        ("cli:root", "key.issued"),
        ("cli:root", "key.revoked"),
        ("team:support", "work.received"),
        ("user:ann", "work.human_acted"),
        ("team:support", "workflow.paused"),
    ):
        assert expected in [(a, b) for a, b, _ in rows], expected
    assert not [r for r in rows if r[1] in ("work.step_started", "work.routed")]  # workers
    # Filters: by key, by resource, by action, and time.
    by_key = world.audit(actor=f"key:{key}")
    assert {a for a, _, _ in by_key} == {"team:support"}
    assert {b for _, b, _ in by_key} == {"work.received", "workflow.paused"}
    work_ref = format_ref("work", work_id)
    # The decision's routing (here: completing the item) is the person's doing too.
    assert [b for _, b, r in world.audit(resource=work_ref)] == [
        "work.received",
        "work.human_acted",
        "work.completed",
    ]
    assert len(world.audit(action="key.issued")) == 2
    assert world.audit(since=world.clock.now() + timedelta(seconds=1)) == []


def test_the_audit_log_is_team_scoped_and_pages_without_repeats(world: World) -> None:
    world.service.audit.catch_up_fully()
    support = frozenset({team_id("support")})
    seen, cursor = [], None
    while True:
        query = AuditQuery(
            teams=support, limit=2, after=None if cursor is None else cursor_position(cursor)
        )
        rows, cursor = audit_page(world.service.audit.view, query)
        seen.extend(rows)
        if cursor is None:
            break
    everything, _ = audit_page(world.service.audit.view, AuditQuery(teams=support, limit=100))
    assert seen == everything
    assert {r.team_id for r in seen} == {team_id("support")}
    legal = audit_page(
        world.service.audit.view, AuditQuery(teams=frozenset({team_id("legal")}), limit=100)
    )[0]
    assert sorted(r.action for r in legal) == ["key.issued", "team.registered"]
    # A user key's and a provider's rows belong to no team: only the operator sees them.
    operator, _ = audit_page(world.service.audit.view, AuditQuery(teams=None, limit=100))
    assert {r.resource.split("_")[0] for r in operator if r.team_id is None} == {"provider"}


def test_audit_details_leave_out_secrets_and_bulky_payloads(world: World) -> None:
    world.submit_as(world.team_key.key)
    world.service.audit.catch_up_fully()
    rows, _ = audit_page(world.service.audit.view, AuditQuery(teams=None, limit=100))
    issued = [json.loads(r.details) for r in rows if r.action == "key.issued"]
    assert issued
    assert all("secret_hash" not in d for d in issued)
    received = [json.loads(r.details) for r in rows if r.action == "work.received"]
    assert received
    assert all("input" not in d for d in received)


def test_a_replayed_audit_projection_has_the_same_rows(world: World) -> None:
    world.submit_as(world.team_key.key)
    projection = world.service.audit
    projection.catch_up_fully()
    before, _ = audit_page(projection.view, AuditQuery(teams=None, limit=100))
    positions = projection.positions
    replay(projection)
    assert projection.positions == positions
    assert audit_page(projection.view, AuditQuery(teams=None, limit=100))[0] == before
