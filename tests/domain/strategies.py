"""Hypothesis strategies for valid workflow definitions.

A definition built here is valid by construction: keys are unique and never ``complete``,
every handoff targets a later step or ``complete`` (so there are no cycles), and every
step is reachable because each non-entry step is the target of some earlier step's
handoff (a random spanning tree). Steps with no handoff at all are dead ends.
"""

from __future__ import annotations

from hypothesis import strategies as st

from auxot.domain.definition import COMPLETE, DEFAULT, TIMEOUT, Definition, Handoff, Step

NAMED_CONDITIONS = ("approve", "reject", "escalate")
CONDITIONS = (*NAMED_CONDITIONS, DEFAULT)


def step_key(index: int) -> str:
    return f"s{index}"


@st.composite
def definitions(draw: st.DrawFn, max_steps: int = 6) -> Definition:
    n = draw(st.integers(min_value=1, max_value=max_steps))
    keys = [step_key(i) for i in range(n)]
    # Each non-entry step hangs off one earlier step: that keeps every step reachable.
    required: dict[str, list[str]] = {key: [] for key in keys}
    for i in range(1, n):
        parent = draw(st.integers(min_value=0, max_value=i - 1))
        required[keys[parent]].append(keys[i])

    steps = []
    for i, key in enumerate(keys):
        later = [*keys[i + 1 :], COMPLETE]
        extra = draw(st.lists(st.sampled_from(later), max_size=3))
        targets = draw(st.permutations([*required[key], *extra]))
        conditions = draw(
            st.lists(st.sampled_from(CONDITIONS), min_size=len(targets), max_size=len(targets))
        )
        steps.append(
            Step(
                key=key,
                handler="prompt",
                prompt=f"do {key}",
                provider="p",
                handoffs=tuple(Handoff(c, t) for c, t in zip(conditions, targets, strict=True)),
            )
        )
    return Definition(steps=tuple(steps))


HUMAN_CONDITIONS = ("approved", "rejected", "escalate", "timeout", DEFAULT)


@st.composite
def human_definitions(draw: st.DrawFn, max_steps: int = 6) -> Definition:
    """Valid definitions mixing prompt and human steps. Human steps are assigned to a
    user, a team or (neither) the workflow's team, may have a timeout, and may bar the
    actor of an earlier human step."""
    n = draw(st.integers(min_value=1, max_value=max_steps))
    keys = [step_key(i) for i in range(n)]
    required: dict[str, list[str]] = {key: [] for key in keys}
    for i in range(1, n):
        parent = draw(st.integers(min_value=0, max_value=i - 1))
        required[keys[parent]].append(keys[i])

    steps: list[Step] = []
    for i, key in enumerate(keys):
        later = [*keys[i + 1 :], COMPLETE]
        extra = draw(st.lists(st.sampled_from(later), max_size=3))
        targets = draw(st.permutations([*required[key], *extra]))
        human = draw(st.booleans())
        pool = HUMAN_CONDITIONS if human else CONDITIONS
        conditions = draw(
            st.lists(st.sampled_from(pool), min_size=len(targets), max_size=len(targets))
        )
        handoffs = tuple(Handoff(c, t) for c, t in zip(conditions, targets, strict=True))
        if human and all(h.condition == TIMEOUT for h in handoffs):
            handoffs += (Handoff("approved", COMPLETE),)  # a person must be able to decide
        if not human:
            steps.append(Step(key=key, handler="prompt", prompt=f"do {key}", provider="p",
                              handoffs=handoffs))
            continue
        earlier = [s.key for s in steps if s.handler == "human"]
        who = draw(st.sampled_from(["assignee", "team", "workflow team"]))
        steps.append(
            Step(
                key=key,
                handler="human",
                handoffs=handoffs,
                assignee="ann" if who == "assignee" else None,
                team="reviewers" if who == "team" else None,
                timeout=draw(st.none() | st.integers(min_value=1, max_value=120)),
                not_by_actor_of=draw(st.none() | st.sampled_from(earlier)) if earlier else None,
            )
        )
    return Definition(steps=tuple(steps))
