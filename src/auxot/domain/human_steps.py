"""Human steps: definition-time rules, and who a waiting step is assigned to.

A human step (``handler: human``) runs no model: the item waits until a person acts, or
its ``timeout`` passes. These are pure rules over the definition; the work item records
the waiting and the acting.
"""

from __future__ import annotations

from auxot.domain.definition import TIMEOUT, Definition, Step

HUMAN = "human"
MAX_TIMEOUT_SECONDS = 366 * 86_400
"""Beyond dates' range soon enough; a person's task waiting a year is a mistake."""
_HUMAN_FIELDS = ("assignee", "team", "timeout", "not_by_actor_of")


def is_human(step: Step) -> bool:
    return step.handler == HUMAN


Problem = tuple[str, str | None, str]
"""``(step key, field or None, message)``."""


def problems(definition: Definition) -> tuple[list[Problem], list[Problem]]:
    """Errors and warnings about the human steps of ``definition`` (and about human-step
    fields given to other steps), as ``(step key, field, message)``."""
    errors: list[Problem] = []
    warnings: list[Problem] = []
    earlier_human: set[str] = set()
    for step in definition.steps:
        if not is_human(step):
            errors += [
                (step.key, field, f"'{field}' is only for human steps (handler: human)")
                for field in _HUMAN_FIELDS
                if getattr(step, field) is not None
            ]
            if step.handler == "prompt":
                errors += [
                    (step.key, field, f"'{field}' is required for a prompt step")
                    for field in ("prompt", "provider")
                    if not getattr(step, field)
                ]
            continue
        errors += [
            (step.key, field, f"a human step takes no '{field}'")
            for field in ("prompt", "provider")
            if getattr(step, field)
        ]
        if step.assignee is not None and step.team is not None:
            errors.append((step.key, "team", "give an 'assignee' (a user) or a 'team', not both"))
        if step.timeout is not None and not 1 <= step.timeout <= MAX_TIMEOUT_SECONDS:
            errors.append((step.key, "timeout", "'timeout' must be from 1 second to 366 days"))
        if step.not_by_actor_of is not None and step.not_by_actor_of not in earlier_human:
            errors.append(
                (
                    step.key,
                    "not_by_actor_of",
                    f"'not_by_actor_of' must name an earlier human step, "
                    f"not '{step.not_by_actor_of}'",
                )
            )
        if not any(h.condition != TIMEOUT for h in step.handoffs):
            # A decision that fires no handoff is refused (the person decides again), so
            # with nothing a person can fire, only a timeout moves the item on.
            message = "has no handoff a person can fire (a condition other than 'timeout')"
            if step.timeout is None:
                errors.append((step.key, "handoffs", f"{message}: an item would wait forever"))
            else:
                warnings.append((step.key, "handoffs", f"{message}: only its timeout ends it"))
        if step.timeout is None and any(h.condition == TIMEOUT for h in step.handoffs):
            warnings.append(
                (step.key, None, f"handoff '{TIMEOUT}' cannot fire: the step has no 'timeout'")
            )
        earlier_human.add(step.key)
    return errors, warnings
