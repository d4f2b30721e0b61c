"""Routing: which handoff fires after a step, as a pure function of the reported condition
and the step's output."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import attrs
from hypothesis import given
from hypothesis import strategies as st

from auxot.domain.conditions import parse_match
from auxot.domain.definition import COMPLETE, DEFAULT, Definition, Handoff, Step
from auxot.domain.routing import choose_handoff, reported_condition
from auxot.domain.work_item import Status, WorkItem

CONDITION_NAMES = st.sampled_from(["approve", "reject", "escalate", "spam", DEFAULT])
TARGETS = st.sampled_from(["a", "b", "c", COMPLETE])
handoff_lists = st.lists(st.builds(Handoff, condition=CONDITION_NAMES, to=TARGETS), max_size=6)
reported = st.one_of(st.none(), CONDITION_NAMES, st.text(max_size=8))


def step_with(handoffs: list[Handoff]) -> Step:
    return Step(key="s", handler="prompt", prompt="p", provider="p", handoffs=tuple(handoffs))


def first(handoffs: list[Handoff], condition: str) -> Handoff | None:
    """The first handoff in declared order with ``condition``. Tests compare with ``is``:
    two handoffs may be equal values, and it must be the earlier object that wins."""
    return next((h for h in handoffs if h.condition == condition), None)


@given(handoffs=handoff_lists, condition=reported)
def test_a_named_condition_picks_its_first_handoff_else_the_default(
    handoffs: list[Handoff], condition: str | None
) -> None:
    chosen = choose_handoff(step_with(handoffs), condition)
    named = None if condition in (None, DEFAULT) else first(handoffs, condition)
    expected = named or first(handoffs, DEFAULT)
    assert chosen is expected


@given(handoffs=handoff_lists, condition=st.sampled_from([None, DEFAULT]))
def test_no_condition_or_default_picks_the_default_handoff(
    handoffs: list[Handoff], condition: str | None
) -> None:
    assert choose_handoff(step_with(handoffs), condition) is first(handoffs, DEFAULT)


@given(handoffs=handoff_lists, condition=reported)
def test_the_chosen_handoff_is_one_of_the_steps_own(
    handoffs: list[Handoff], condition: str | None
) -> None:
    chosen = choose_handoff(step_with(handoffs), condition)
    assert chosen is None or any(chosen is h for h in handoffs)
    if chosen is None:
        assert all(h.condition != DEFAULT for h in handoffs)
        assert condition in (None, DEFAULT) or all(h.condition != condition for h in handoffs)


def test_declared_order_wins_between_handoffs_with_the_same_condition() -> None:
    step = step_with([Handoff("approve", "a"), Handoff("approve", "b"), Handoff(DEFAULT, "c")])
    assert choose_handoff(step, "approve") == Handoff("approve", "a")


def test_a_named_handoff_declared_after_the_default_still_beats_it() -> None:
    step = step_with([Handoff(DEFAULT, "c"), Handoff("reject", "b")])
    assert choose_handoff(step, "reject") == Handoff("reject", "b")
    assert choose_handoff(step, "approve") == Handoff(DEFAULT, "c")


def test_no_handoff_matches_without_a_default() -> None:
    step = step_with([Handoff("approve", "a")])
    assert choose_handoff(step, "reject") is None
    assert choose_handoff(step, None) is None
    assert choose_handoff(step, DEFAULT) is None
    assert choose_handoff(step_with([]), "approve") is None


# -- matches over the output ------------------------------------------------------------

SEVERITIES = ["low", "high", "urgent"]
MATCHES = st.sampled_from(
    [
        parse_match({"severity": "high"}),
        parse_match({"severity": {"in": ["high", "urgent"]}}),
        parse_match({"score": {"gte": 0.5}}),
        parse_match({"score": {"lt": 0.2}, "severity": "low"}),
        parse_match({"ticket.id": {"exists": True}}),
        parse_match({"ticket.id": {"exists": False}}),
    ]
)
mixed_handoffs = st.lists(
    st.builds(
        Handoff,
        condition=st.one_of(st.none(), CONDITION_NAMES),
        to=TARGETS,
        match=st.one_of(st.none(), MATCHES),
    ).filter(lambda h: h.condition is not None or h.match is not None),
    max_size=6,
)
outputs = st.fixed_dictionaries(
    {},
    optional={
        "severity": st.sampled_from(SEVERITIES),
        "score": st.floats(min_value=0, max_value=1),
        "ticket": st.fixed_dictionaries({}, optional={"id": st.integers()}),
        "condition": CONDITION_NAMES,
    },
)


def schema_step(handoffs: list[Handoff]) -> Step:
    return attrs.evolve(step_with(handoffs), output_schema={"type": "object"})


def oracle_fires(h: Handoff, condition: str | None, output: dict[str, Any]) -> bool:
    """An independent statement of the rule for one non-default handoff."""
    named = condition not in (None, DEFAULT) and h.condition == condition
    return (h.condition is None or named) and (h.match is None or h.match.holds(output))


def plain_default(h: Handoff) -> bool:
    return h.condition == DEFAULT and h.match is None


def routed(handoffs: list[Handoff], output: dict[str, Any]) -> tuple[str | None, Handoff | None]:
    """The condition the output reports, and the handoff chosen for it."""
    step = schema_step(handoffs)
    condition = reported_condition(step, output)
    return condition, choose_handoff(step, condition, output)


@given(handoffs=mixed_handoffs, output=outputs)
def test_the_first_handoff_in_declared_order_that_fires_wins_else_the_default(
    handoffs: list[Handoff], output: dict[str, Any]
) -> None:
    condition, chosen = routed(handoffs, output)
    firing = [h for h in handoffs if not plain_default(h) and oracle_fires(h, condition, output)]
    defaults = [h for h in handoffs if plain_default(h)]
    expected = firing[0] if firing else (defaults[0] if defaults else None)
    assert chosen is expected


@given(handoffs=mixed_handoffs, output=outputs)
def test_routing_stays_inside_the_step_and_is_deterministic(
    handoffs: list[Handoff], output: dict[str, Any]
) -> None:
    condition, chosen = routed(handoffs, output)
    assert chosen is None or any(chosen is h for h in handoffs)
    assert routed(handoffs, output)[1] is chosen
    assert choose_handoff(schema_step(list(handoffs)), condition, dict(output)) == chosen


@given(handoffs=mixed_handoffs, output=outputs)
def test_the_default_fires_only_when_no_other_handoff_does(
    handoffs: list[Handoff], output: dict[str, Any]
) -> None:
    condition, chosen = routed(handoffs, output)
    others_fire = any(
        oracle_fires(h, condition, output) for h in handoffs if not plain_default(h)
    )
    if chosen is None or plain_default(chosen):
        assert not others_fire
    if chosen is None:
        assert not any(plain_default(h) for h in handoffs)


def test_the_reported_condition_is_the_outputs_text_condition_field() -> None:
    text_step = step_with([])
    assert reported_condition(text_step, '  {"condition": "reject", "n": 1} ') == "reject"
    assert reported_condition(text_step, '{"condition": 3}') is None
    assert reported_condition(text_step, "reject") is None
    assert reported_condition(text_step, '["reject"]') is None
    assert reported_condition(text_step, "{not json") is None
    schema = schema_step([])
    assert reported_condition(schema, {"condition": "approve"}) == "approve"
    # With a schema the output is the parsed JSON: a string is not parsed again.
    assert reported_condition(schema, '{"condition": "approve"}') is None


def test_a_match_on_a_text_step_applies_only_when_the_text_is_a_json_object() -> None:
    step = step_with([Handoff(None, "a", parse_match({"severity": "high"})), Handoff(DEFAULT, "b")])
    assert choose_handoff(step, None, '{"severity": "high"}') == step.handoffs[0]
    assert choose_handoff(step, None, "severity: high") == step.handoffs[1]


def test_a_handoff_with_a_condition_and_a_match_needs_both() -> None:
    both = Handoff("approve", "a", parse_match({"amount": {"lt": 100}}))
    step = schema_step([both, Handoff(DEFAULT, "b")])
    assert choose_handoff(step, "approve", {"amount": 5}) is both
    assert choose_handoff(step, "approve", {"amount": 500}) is step.handoffs[1]
    assert choose_handoff(step, "reject", {"amount": 5}) is step.handoffs[1]


# -- through the work item --------------------------------------------------------------


def test_a_work_item_records_the_reported_condition_and_names_a_match_it_routed_by() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    classify = attrs.evolve(
        schema_step([Handoff(None, "next", parse_match({"severity": "high"}))]), key="classify"
    )
    definition = Definition((classify, Step("next", "prompt", "p", "p")))

    def finish(output: Any) -> WorkItem:
        item = WorkItem.receive(uuid4(), uuid4(), uuid4(), 1, definition, {}, at)
        run = item.start_step("w", timedelta(seconds=5), at)
        item.succeed_step(run.attempt, definition, at, output=output)
        return item

    routed = finish({"severity": "high", "condition": "urgent"})
    event = routed.pending_events[-1]
    assert isinstance(event, WorkItem.Routed)
    assert (event.to_step, event.condition) == ("next", "severity equals 'high'")
    assert routed.runs[0].condition == "urgent"

    stuck = finish({"severity": "low", "condition": "calm"})
    assert stuck.status is Status.FAILED
    assert stuck.error == "no handoff matched at step 'classify' (condition: calm)"
