"""A state machine over callback delivery: items complete and fail, deliverers deliver
(the receiver answers 2xx, 5xx, 410 or times out), crash after claiming an attempt, and
operators redeliver; time passes. Whatever happens, every ended item of an intake with a
callback has exactly one delivery, and once time has run its course every delivery has
ended delivered or dead: none is lost."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from eventsourcing.persistence import RecordConflictError
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from auxot.adapters.clock import ManualClock
from auxot.application.declarations import Declaration, IntakeDecl
from auxot.application.deliverer import Deliverer, DeliveryRunner
from auxot.application.deliveries import Deliveries
from auxot.application.delivery_projection import delivery_projection
from auxot.application.lifecycle import ConflictError
from auxot.application.refs import parse_ref
from auxot.domain import callback
from auxot.domain.callback import CallbackError, CallbackScheduled, DeliveryStatus
from auxot.domain.callback_schedule import CallbackSchedule
from auxot.domain.intake import Intake
from tests.application.builders import declaration, ids_of, linear_workflow, memory_service
from tests.application.test_engine import Harness
from tests.fakes.callback_sender import TIMED_OUT, ScriptedSender, answer

URL = "https://192.0.32.10/hook"  # a global address: URLs are checked when applied
SCHEDULE = CallbackSchedule.parse("0,1s,10s")
LEASE = timedelta(seconds=3)
ANSWERS = {"200": answer(200), "500": answer(500), "410": answer(410), "timeout": TIMED_OUT}


class DeliveryMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.harness = Harness(memory_service(self.clock), self.clock)
        self.service = self.harness.service
        self.sender = ScriptedSender()
        deliveries = self.service.deliveries
        self.runner = DeliveryRunner(delivery_projection(self.service.work, deliveries), None)
        self.deliverer = Deliverer(
            self.service.work,
            deliveries,
            self.service.registry,
            self.service.directory,
            self.sender,
            self.clock,
            deliverer_id="deliverer",
            schedule=SCHEDULE,
            timeout=2,
            lease_grace=LEASE - timedelta(seconds=2),
            threads=2,
            jitter=lambda: 0.5,
        )
        base = declaration(workflow=linear_workflow(prompts=("go",)))
        intakes = (
            IntakeDecl("hooked", "triage", "support", callback_url=URL),
            IntakeDecl("silent", "triage", "support"),
        )
        decl = Declaration(base.teams, base.providers, base.workflows, intakes)
        applied = self.service.apply(decl)
        self.intakes = ids_of(applied, "intake")
        self.ended: dict[UUID, bool] = {}  # work id -> whether its intake called back

    def calls_back(self, intake: str) -> bool:
        """Whether the intake has a live callback URL (none after a 410 Gone)."""
        stored = self.service.registry.get(Intake, _intake_uuid(intake))
        return stored.live_callback_url is not None

    def teardown(self) -> None:
        self.sender.release()
        self.deliverer.close(1)
        self.harness.close()

    # -- rules --------------------------------------------------------------------------

    @rule(hooked=st.booleans())
    def complete(self, hooked: bool) -> None:
        intake = self.intakes["hooked" if hooked else "silent"]
        expected = self.calls_back(intake)
        work_id = self.harness.submit(intake, {})
        self.harness.run_to_the_end(work_id)
        self.ended[work_id] = expected

    @rule(hooked=st.booleans())
    def fail(self, hooked: bool) -> None:
        intake = self.intakes["hooked" if hooked else "silent"]
        expected = self.calls_back(intake)
        work_id = self.harness.submit(intake, {})
        item = self.service.work.item(work_id)
        item.fail("the workflow is gone", self.clock.now())
        self.service.work.save(item)
        self.ended[work_id] = expected

    @rule(answers=st.lists(st.sampled_from(sorted(ANSWERS)), min_size=1, max_size=3))
    def deliver(self, answers: list[str]) -> None:
        self.sender.script(*(ANSWERS[a] for a in answers))
        self.runner.run_once()
        self.deliverer.dispatch()
        assert self.deliverer.wait_idle(10)

    @rule()
    def crash(self) -> None:
        """A deliverer claims the next due attempt and dies before sending."""
        self.runner.run_once()
        due = self.service.deliveries.due(self.clock.now(), 1)
        if not due:
            return
        item = self.service.work.item(due[0])
        try:
            callback.start_attempt(item, "doomed", LEASE, self.clock.now())
            self.service.work.save(item)
        except (CallbackError, RecordConflictError):
            return

    @precondition(lambda self: bool(self.ended))
    @rule(data=st.data())
    def redeliver(self, data: st.DataObject) -> None:
        work_id = data.draw(st.sampled_from(sorted(self.ended)))
        before = self.service.work.item(work_id).delivery
        try:
            Deliveries(self.service).redeliver(None, callback.webhook_id_of(work_id))
        except ConflictError:
            assert before is not None
            assert before.status is DeliveryStatus.PENDING
        except Exception:
            assert before is None  # no delivery: nothing to redeliver
        else:
            assert before is not None
            assert before.status is not DeliveryStatus.PENDING

    @rule(seconds=st.sampled_from([0.5, 1, 3, 10, 60]))
    def wait(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def every_ended_item_of_a_hooked_intake_has_exactly_one_delivery(self) -> None:
        for work_id, hooked in self.ended.items():
            events = self.service.work.events.get(work_id)
            scheduled = [e for e in events if isinstance(e, CallbackScheduled)]
            assert len(scheduled) == (1 if hooked else 0)

    def check_nothing_is_lost(self) -> None:
        """Let time run its course: every delivery ends delivered or dead."""
        for _ in range(3 * SCHEDULE.attempts + 2):
            self.clock.advance(timedelta(minutes=1))
            self.runner.run_once()
            self.deliverer.dispatch()
            assert self.deliverer.wait_idle(10)
        for work_id, hooked in self.ended.items():
            delivery = self.service.work.item(work_id).delivery
            if hooked:
                assert delivery is not None
                assert delivery.status in (DeliveryStatus.DELIVERED, DeliveryStatus.DEAD)
                assert delivery.webhook_id == f"msg_{work_id.hex}"
                assert {c.webhook_id for c in self.sender.sent if c.url == URL} >= {
                    delivery.webhook_id
                }
            else:
                assert delivery is None


def _intake_uuid(ref: str) -> UUID:
    found = parse_ref("intake", ref)
    assert found is not None
    return found


class CompleteMachine(DeliveryMachine):
    def teardown(self) -> None:
        try:
            self.check_nothing_is_lost()
        finally:
            super().teardown()


TestDeliveryMachine = CompleteMachine.TestCase
TestDeliveryMachine.settings = settings(
    max_examples=25,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
