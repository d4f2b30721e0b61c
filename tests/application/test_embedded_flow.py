"""The embedding API end to end on every backend: apply, submit, wait."""

from __future__ import annotations

import auxot
from tests.support import EXAMPLE_WORKFLOW


def test_example_workflow_completes_on_each_backend(database_url: str) -> None:
    with auxot.connect(database_url, poll_interval=0.05) as ax:
        applied = ax.apply(EXAMPLE_WORKFLOW)
        intake = next(a.id for a in applied if a.kind == "intake")
        work_id = ax.submit(intake, {"customer": "Acme Corp", "subject": "Login broken"})
        assert ax.get(work_id).status in ("pending", "running", "completed")
        record = ax.wait(work_id, timeout=20)
    assert record.status == "completed"
    assert record.output == "Draft a reply to Acme Corp"
    assert [(s.key, s.status) for s in record.steps] == [
        ("classify", "succeeded"),
        ("draft", "succeeded"),
    ]
    assert record.steps[0].output == "Classify this ticket: Login broken"


def test_input_that_is_not_plain_data_is_refused_to_its_caller_alone() -> None:
    from datetime import date

    import pytest

    with auxot.connect("memory://", poll_interval=0.05) as ax:
        applied = ax.apply(EXAMPLE_WORKFLOW)
        intake = next(a.id for a in applied if a.kind == "intake")
        with pytest.raises(TypeError, match="plain JSON data"):
            ax.submit(intake, {"due": date(2026, 1, 1)})
        assert ax.wait(ax.submit(intake, {"customer": "Acme"}), timeout=20).status == "completed"


def test_an_idempotency_key_makes_a_repeated_submission_return_the_first_item() -> None:
    import pytest

    from auxot.application.idempotency import IdempotencyKeyReusedError

    with auxot.connect("memory://", start=False) as ax:
        applied = ax.apply(EXAMPLE_WORKFLOW)
        intake = next(a.id for a in applied if a.kind == "intake")
        first = ax.submit(intake, {"customer": "Acme"}, idempotency_key="order-17")
        assert ax.submit(intake, {"customer": "Acme"}, idempotency_key="order-17") == first
        assert ax.submit(intake, {"customer": "Acme"}) != first  # no key: a new item
        with pytest.raises(IdempotencyKeyReusedError):
            ax.submit(intake, {"customer": "Other"}, idempotency_key="order-17")
        with pytest.raises(ValueError, match="longer than 255"):
            ax.submit(intake, {"customer": "Acme"}, idempotency_key="k" * 256)
