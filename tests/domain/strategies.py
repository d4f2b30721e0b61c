"""Hypothesis strategies for valid workflow definitions.

A definition built here is valid by construction: keys are unique and never ``complete``,
every handoff targets a later step or ``complete`` (so there are no cycles), and every
step is reachable because each non-entry step is the target of some earlier step's
handoff (a random spanning tree). Steps with no handoff at all are dead ends.
"""

from __future__ import annotations

from hypothesis import strategies as st

from auxot.domain.definition import COMPLETE, DEFAULT, Definition, Handoff, Step

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
