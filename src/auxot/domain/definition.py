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

TIMEOUT = "timeout"
"""The handoff condition a human step takes when its ``timeout`` passes."""

Handler = Literal["prompt", "human", "agent"]


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
    prompt: str = ""
    provider: str = ""
    handoffs: tuple[Handoff, ...] = ()
    name: str = ""
    # A JSON Schema the step's output must satisfy (treated as immutable). With one, the
    # output is asked for as JSON, recorded parsed, and validated; ``repair`` allows one
    # more call, told the errors, when the first answer fails validation.
    output_schema: dict[str, Any] | None = attrs.field(default=None, hash=False)
    repair: bool = False
    retry: RetryPolicy | None = None  # None: a failed attempt fails the item
    # Human steps only (``handler: human``): who may act, and for how long the item waits.
    assignee: str | None = None
    """A user name; None: any member of ``team`` may act."""
    team: str | None = None
    """A team name; None with no assignee: the workflow's own team."""
    timeout: int | None = None
    """Seconds; when they pass, the ``timeout`` handoff fires."""
    not_by_actor_of: str | None = None
    """An earlier human step whose actor may not act on this one (maker is not checker)."""
    agent: str | None = None
    """The agent an ``agent`` step runs (its ``prompt`` is the task); such a step takes
    its provider from the agent."""

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
