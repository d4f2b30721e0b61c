"""Definition-time checks: a workflow that cannot run is refused before it is recorded."""

from __future__ import annotations

import attrs

from auxot.domain.definition import COMPLETE, DEFAULT, Definition


@attrs.frozen
class Problem:
    """One thing wrong with a definition; ``step`` is None for whole-workflow problems."""

    message: str
    step: str | None = None
    field: str | None = None
    """The step's field at fault, when one is."""


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
    errors = [*_duplicate_keys(definition), *_unknown_targets(definition)]
    errors += _handler_fields(definition)
    errors += [
        Problem("is unreachable from the entry step", step=key)
        for key in definition.keys
        if key not in _reachable(definition)
    ]
    warnings = [
        Problem("has no handoff: a work item reaching it will fail (dead end)", step=s.key)
        for s in definition.steps
        if not s.handoffs
    ]
    # Prompt steps report no condition of their own yet, so only `default` routes them.
    warnings += [
        Problem(
            f"handoff '{h.condition}' cannot fire: prompt steps report no condition, "
            f"so only 'default' routes them",
            step=s.key,
        )
        for s in definition.steps
        if s.handler in ("prompt", "agent")
        for h in s.handoffs
        if h.condition != DEFAULT
    ]
    return Report(errors=tuple(errors), warnings=tuple(warnings))


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
    """Prompt steps name a provider; agent steps name an agent, which names the provider."""
    problems = []
    for s in definition.steps:
        if s.handler == "agent":
            if not s.agent:
                problems.append(Problem("is required", step=s.key, field="agent"))
            if s.provider:
                problems.append(
                    Problem(
                        "an agent step takes its provider from its agent",
                        step=s.key,
                        field="provider",
                    )
                )
        elif s.handler == "prompt":
            if not s.provider:
                problems.append(Problem("is required", step=s.key, field="provider"))
            if s.agent is not None:
                problems.append(
                    Problem("only agent steps name an agent", step=s.key, field="agent")
                )
    return problems


def _unknown_targets(definition: Definition) -> list[Problem]:
    known = set(definition.keys) | {COMPLETE}
    return [
        Problem(f"handoff '{h.condition}' targets unknown step '{h.to}'", step=s.key)
        for s in definition.steps
        for h in s.handoffs
        if h.to not in known
    ]


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
