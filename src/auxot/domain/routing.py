"""Routing: which handoff fires after a step, as a pure function of definition and outcome.

A step's output is routed on as JSON: as recorded when the step declares an
``output_schema`` (the engine parsed and validated it), otherwise only when the output
text is a JSON object. The step's reported condition is that JSON object's ``condition``
field, when it is text.
"""

from __future__ import annotations

import json
from typing import Any

from auxot.domain.definition import DEFAULT, Handoff, Step


def json_output(step: Step, output: Any) -> Any:
    """The step's output as JSON for routing, or None when it is not JSON."""
    if step.output_schema is not None or not isinstance(output, str):
        return output
    text = output.strip()
    if not text.startswith("{"):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def reported_condition(step: Step, output: Any) -> str | None:
    """The condition the step's output reports: its JSON object's text ``condition``."""
    value = json_output(step, output)
    condition = value.get("condition") if isinstance(value, dict) else None
    return condition if isinstance(condition, str) else None


def fires(handoff: Handoff, condition: str | None, value: Any) -> bool:
    """Whether a handoff other than the default one fires: its condition (if any) is the
    reported one, and its match (if any) holds over the output's JSON ``value``."""
    if handoff.condition is None and handoff.match is None:
        return False
    if handoff.condition is not None and (
        condition in (None, DEFAULT) or handoff.condition != condition
    ):
        return False
    return handoff.match is None or handoff.match.holds(value)


def is_default(handoff: Handoff) -> bool:
    return handoff.condition == DEFAULT and handoff.match is None


def choose_handoff(step: Step, condition: str | None, output: Any = None) -> Handoff | None:
    """The first handoff, in declared order, whose condition the step reported and whose
    match holds over ``output``; else the step's ``default`` handoff; else None (no
    handoff matched)."""
    value = json_output(step, output)
    for handoff in step.handoffs:
        if not is_default(handoff) and fires(handoff, condition, value):
            return handoff
    for handoff in step.handoffs:
        if is_default(handoff):
            return handoff
    return None
