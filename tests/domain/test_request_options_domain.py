"""What a request may add to the domain: an intake's consent to per-request callback
URLs, and a work item's idempotency key, request digest and callback URL."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st

from auxot.domain.definition import COMPLETE, DEFAULT, Definition, Handoff, Step
from auxot.domain.intake import Intake
from auxot.domain.work_item import WorkItem

AT = datetime(2026, 1, 1, tzinfo=UTC)
DEFINITION = Definition(steps=(Step("only", "prompt", "p", "p", (Handoff(DEFAULT, COMPLETE),)),))


def intake() -> Intake:
    return Intake.open(uuid4(), "triage", uuid4(), uuid4(), "https://1.1.1.1/hook", AT)


def test_an_intake_takes_no_callback_url_per_request_until_allowed() -> None:
    i = intake()
    assert i.allow_callback_override is False
    i.collect_events()
    i.set_callback_override(False, AT)
    assert i.pending_events == []  # no change, no event
    i.set_callback_override(True, AT)
    events = list(i.collect_events())
    assert [type(e) for e in events] == [Intake.CallbackOverrideSet]
    assert i.allow_callback_override is True


@given(st.lists(st.booleans(), max_size=6))
def test_the_consent_replays_to_the_last_setting(settings: list[bool]) -> None:
    i = intake()
    for allowed in settings:
        i.set_callback_override(allowed, AT)
    events = list(i.collect_events())
    replayed = None
    for event in events:
        replayed = event.mutate(replayed)
    assert isinstance(replayed, Intake)
    assert replayed.allow_callback_override is (settings[-1] if settings else False)


def received(**options: str | None) -> WorkItem.Received:
    return WorkItem.received(
        uuid4(), uuid4(), uuid4(), 1, DEFINITION, {"a": 1}, AT, actor="system", **options
    )


def test_a_received_item_keeps_what_its_request_asked_for() -> None:
    item = received(
        idempotency_key="k", request_digest="d" * 64, callback_url="https://1.1.1.1/mine"
    ).mutate(None)
    assert isinstance(item, WorkItem)
    assert (item.idempotency_key, item.request_digest) == ("k", "d" * 64)
    assert item.callback_url == "https://1.1.1.1/mine"


def test_a_plain_item_has_none_of_them() -> None:
    item = received().mutate(None)
    assert isinstance(item, WorkItem)
    assert (item.idempotency_key, item.request_digest, item.callback_url) == (None, None, None)
