"""A workflow's definition: steps and their handoffs, as frozen value objects.

A definition is immutable once recorded; a workflow keeps every version so that a work
item can finish on the version it started on.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from auxot.domain.conditions import Match
from auxot.domain.retry import RetryPolicy

COMPLETE = "complete"
"""The handoff target that ends a work item successfully."""

DEFAULT = "default"
"""The handoff condition that fires when no other handoff of the step does."""

Handler = Literal["prompt"]


@attrs.frozen
class Handoff:
    """Route to ``to`` (a step key or ``complete``) when the step reported ``condition``
    and its output satisfies ``match``; a handoff has a condition, a match, or both.
    ``condition: default`` (with no match) fires only when no other handoff does."""

    condition: str | None
    to: str
    match: Match | None = None

    @property
    def label(self) -> str:
        """How events and messages name this handoff: its condition, else its match."""
        if self.condition is not None:
            return self.condition
        return self.match.describe() if self.match is not None else "(nothing)"


@attrs.frozen
class Step:
    key: str
    handler: Handler
    prompt: str
    provider: str
    handoffs: tuple[Handoff, ...] = ()
    name: str = ""
    # A JSON Schema the step's output must satisfy (treated as immutable). With one, the
    # output is asked for as JSON, recorded parsed, and validated; ``repair`` allows one
    # more call, told the errors, when the first answer fails validation.
    output_schema: dict[str, Any] | None = attrs.field(default=None, hash=False)
    repair: bool = False
    retry: RetryPolicy | None = None  # None: a failed attempt fails the item

    @property
    def title(self) -> str:
        return self.name or self.key


@attrs.frozen
class Definition:
    """The ordered steps of one workflow version. The first step is the entry step."""

    steps: tuple[Step, ...]

    @property
    def entry(self) -> Step:
        return self.steps[0]

    def step(self, key: str) -> Step:
        for step in self.steps:
            if step.key == key:
                return step
        raise KeyError(key)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(step.key for step in self.steps)
