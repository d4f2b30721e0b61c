"""Routing: which handoff fires after a step, as a pure function of definition and outcome."""

from __future__ import annotations

from auxot.domain.definition import DEFAULT, Handoff, Step


def choose_handoff(step: Step, condition: str | None) -> Handoff | None:
    """The first handoff, in declared order, whose condition the step reported; else the
    step's ``default`` handoff; else None (no handoff matched)."""
    if condition is not None and condition != DEFAULT:
        for handoff in step.handoffs:
            if handoff.condition == condition:
                return handoff
    for handoff in step.handoffs:
        if handoff.condition == DEFAULT:
            return handoff
    return None
