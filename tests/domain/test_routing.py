"""Routing: which handoff fires after a step, as a pure function of the reported condition."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from auxot.domain.definition import COMPLETE, DEFAULT, Handoff, Step
from auxot.domain.routing import choose_handoff

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
