"""Definition-time checks: a workflow that cannot run is refused before it is recorded."""

from __future__ import annotations

import attrs

from auxot.domain import human_steps
from auxot.domain.definition import COMPLETE, DEFAULT, Definition, Step
from auxot.domain.routing import is_default


@attrs.frozen
class Problem:
    """One thing wrong with a definition; ``step`` is None for whole-workflow problems."""

    message: str
    step: str | None = None
    field: str | None = None
    """The step's field the problem is about, when it is about one."""


@attrs.frozen
class Report:
    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


class InvalidDefinitionError(ValueError):
    def __init__(self, workflow: str, errors: tuple[Problem, ...]) -> None:
        self.workflow = workflow
        self.errors = errors
        details = "; ".join(
            f"step '{p.step}'{f' {p.field}' if p.field else ''}: {p.message}"
            if p.step
            else p.message
            for p in errors
        )
        super().__init__(f"workflow '{workflow}' is invalid: {details}")


def validate(definition: Definition) -> Report:
    """Check a definition; errors make it unusable, warnings are worth telling the author."""
    if not definition.steps:
        return Report(errors=(Problem("a workflow needs at least one step"),), warnings=())
    errors = [
        *_duplicate_keys(definition),
        *_unknown_targets(definition),
        *_malformed_routing(definition),
    ]
    errors += _handler_fields(definition)
    errors += [
        Problem("is unreachable from the entry step", step=key)
        for key in definition.keys
        if key not in _reachable(definition)
    ]
    human_errors, warnings = _human_step_problems(definition)
    errors += human_errors
    warnings += [
        Problem("has no handoff: a work item reaching it will fail (dead end)", step=s.key)
        for s in definition.steps
        if not s.handoffs
    ]
    warnings += [
        Problem(
            "can dead-end: it has no 'default' handoff, so a work item whose output fires "
            "none of its handoffs fails with 'no handoff matched'",
            step=s.key,
        )
        for s in definition.steps
        # A person's decision that fires no handoff is refused, so they choose again.
        if s.handler != "human"
        and s.handoffs
        and not any(is_default(h) for h in s.handoffs)
        and not _covered(s)
    ]
    # Without a schema the output is routed on only when its text is a JSON object.
    warnings += [
        Problem(
            "routes on its output (a condition or match) but declares no output_schema: "
            "its handoffs fire only when the reply is a JSON object",
            step=s.key,
        )
        for s in definition.steps
        if s.handler in ("prompt", "agent")
        and s.output_schema is None
        and any(not is_default(h) for h in s.handoffs)
    ]
    return Report(errors=tuple(errors), warnings=tuple(warnings))


def _human_step_problems(definition: Definition) -> tuple[list[Problem], list[Problem]]:
    errors, warnings = human_steps.problems(definition)
    return (
        [Problem(message, step=key, field=field) for key, field, message in errors],
        [Problem(message, step=key, field=field) for key, field, message in warnings],
    )


def _duplicate_keys(definition: Definition) -> list[Problem]:
    seen: set[str] = set()
    problems = []
    for key in definition.keys:
        if key in seen:
            problems.append(Problem("duplicate step key", step=key))
        seen.add(key)
    if COMPLETE in seen:
        problems.append(Problem(f"'{COMPLETE}' is reserved as a handoff target", step=COMPLETE))
    return problems


def _handler_fields(definition: Definition) -> list[Problem]:
    """Agent steps name an agent, which names the provider, and give it a task (prompt
    and human steps' own fields are checked with the human-step rules)."""
    problems = []
    for s in definition.steps:
        if s.handler != "agent":
            if s.agent is not None:
                problems.append(
                    Problem("only agent steps name an agent", step=s.key, field="agent")
                )
            continue
        if not s.agent:
            problems.append(Problem("is required", step=s.key, field="agent"))
        if not s.prompt:
            problems.append(Problem("is required (the agent's task)", step=s.key, field="prompt"))
        if s.provider:
            problems.append(
                Problem(
                    "an agent step takes its provider from its agent", step=s.key, field="provider"
                )
            )
        if s.repair:
            problems.append(
                Problem(
                    "is for prompt steps: an agent's answer is checked against the "
                    "output_schema once",
                    step=s.key,
                    field="repair",
                )
            )
    return problems


def _unknown_targets(definition: Definition) -> list[Problem]:
    known = set(definition.keys) | {COMPLETE}
    return [
        Problem(f"handoff '{h.label}' targets unknown step '{h.to}'", step=s.key)
        for s in definition.steps
        for h in s.handoffs
        if h.to not in known
    ]


def _covered(step: Step) -> bool:
    """Whether the step's output schema requires a ``condition`` from a fixed list
    (``enum``) and each of those conditions has a handoff without a match: then some
    handoff always fires, and the step cannot dead-end."""
    schema = step.output_schema or {}
    properties = schema.get("properties")
    spec = properties.get("condition") if isinstance(properties, dict) else None
    allowed = spec.get("enum") if isinstance(spec, dict) else None
    required = schema.get("required")
    if not (isinstance(allowed, list) and isinstance(required, list) and allowed):
        return False
    routed = {h.condition for h in step.handoffs if h.match is None}
    return (
        schema.get("type") == "object"
        and "condition" in required
        and all(isinstance(c, str) and c != DEFAULT and c in routed for c in allowed)
    )


def _malformed_routing(definition: Definition) -> list[Problem]:
    problems = []
    for s in definition.steps:
        for h in s.handoffs:
            if h.condition is None and h.match is None:
                problems.append(
                    Problem(f"the handoff to '{h.to}' needs a condition or a match", step=s.key)
                )
            elif h.condition == DEFAULT and h.match is not None:
                problems.append(
                    Problem(
                        f"the default handoff to '{h.to}' cannot have a match: it fires "
                        "when no other handoff does",
                        step=s.key,
                    )
                )
        if s.repair and s.output_schema is None:
            problems.append(Problem("repair needs an output_schema to repair against", step=s.key))
    return problems


def _reachable(definition: Definition) -> set[str]:
    by_key = {s.key: s for s in definition.steps}
    seen: set[str] = set()
    frontier = [definition.entry.key]
    while frontier:
        key = frontier.pop()
        if key in seen or key not in by_key:
            continue
        seen.add(key)
        frontier.extend(h.to for h in by_key[key].handoffs)
    return seen
