"""A workflow's definition: steps and their handoffs, as frozen value objects.

A definition is immutable once recorded; a workflow keeps every version so that a work
item can finish on the version it started on.
"""

from __future__ import annotations

from typing import Literal

import attrs

COMPLETE = "complete"
"""The handoff target that ends a work item successfully."""

DEFAULT = "default"
"""The handoff condition that fires when no other handoff of the step does."""

Handler = Literal["prompt", "agent"]


@attrs.frozen
class Handoff:
    """Route to ``to`` (a step key or ``complete``) when ``condition`` holds."""

    condition: str
    to: str


@attrs.frozen
class Step:
    key: str
    handler: Handler
    prompt: str
    provider: str = ""
    handoffs: tuple[Handoff, ...] = ()
    name: str = ""
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
