"""The complete example of docs/designing-workflows.md, applied and run as written: an
urgent ticket is classified, escalated to a person, drafted by an agent and approved by a
second person (not the first: maker is not checker)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import auxot
from auxot.application.errors import NotFoundError
from auxot.application.records import WorkRecord
from auxot.domain.work_item import ActorBarredError
from tests.support import wait_until

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "support-desk.yaml"


@pytest.fixture
def desk() -> Iterator[auxot.Auxot]:
    with auxot.connect("memory://", poll_interval=0.02) as ax:
        yield ax


def waiting_on(ax: auxot.Auxot, work_id: str, step: str) -> WorkRecord:
    def probe() -> WorkRecord | None:
        record = ax.get(work_id)
        waiting = record.waiting_for
        return record if waiting is not None and waiting.step == step else None

    return wait_until(probe, timeout=10, what=f"{work_id} to wait on {step}")


def test_the_example_applies_cleanly_and_idempotently(desk: auxot.Auxot) -> None:
    first = desk.apply(EXAMPLE.read_text(), str(EXAMPLE))
    assert {(a.kind, a.outcome) for a in first} == {
        ("team", "created"),
        ("provider", "created"),
        ("agent", "created"),
        ("workflow", "created"),
        ("intake", "created"),
    }
    [workflow] = [a for a in first if a.kind == "workflow"]
    assert workflow.extra["warnings"] == []
    again = desk.apply(EXAMPLE.read_text(), str(EXAMPLE))
    assert {a.outcome for a in again} == {"unchanged"}


def test_an_urgent_ticket_goes_through_escalation_drafting_and_review(
    desk: auxot.Auxot,
) -> None:
    applied = desk.apply(EXAMPLE.read_text(), str(EXAMPLE))
    intake = next(a.id for a in applied if a.kind == "intake")
    work_id = desk.submit(intake, {"subject": "Charged twice", "customer": "Acme Corp"})

    escalated = waiting_on(desk, work_id, "escalate")
    assert escalated.status == "running"
    assert escalated.steps[0].output == {"category": "billing", "severity": "high"}
    with pytest.raises(NotFoundError):  # not a member of the team
        desk.complete_step(work_id, "escalate", user="mallory", condition="approved")
    desk.complete_step(work_id, "escalate", user="ann", condition="approved", note="urgent")

    reviewed = waiting_on(desk, work_id, "review")
    draft = next(s for s in reviewed.steps if s.key == "draft")
    assert draft.output == "Dear Acme Corp, about your billing question"
    with pytest.raises(ActorBarredError):  # ann escalated it: she may not also review it
        desk.complete_step(work_id, "review", user="ann", condition="approved")
    desk.complete_step(work_id, "review", user="bob", condition="approved")

    done = desk.wait(work_id, timeout=10)
    assert done.status == "completed"
    assert done.output == "Dear Acme Corp, about your billing question"
    assert [s.key for s in done.steps] == ["classify", "escalate", "draft", "review"]
    assert [s.actor for s in done.steps if s.actor] == ["ann", "bob"]
