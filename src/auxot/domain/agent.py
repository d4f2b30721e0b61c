"""An agent: a model with its own job description and tools, that agent steps run.

An agent belongs to a team; a workflow's agent steps name agents of the workflow's team.
Its ``provider`` must be a chat-capable one (``openai``); ``model`` optionally overrides
the provider's model; ``tools`` names the tools it may call (HTTP tools declared in a
workflow file, or Python callables registered by the embedding application);
``max_turns`` bounds the model calls of one step, so a runaway loop ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from auxot.domain.events import AuxotAggregate, recorded_as

DEFAULT_MAX_TURNS = 8


@recorded_as("Agent")
class Agent(AuxotAggregate):
    class Registered(Aggregate.Created):
        name: str
        team_id: UUID
        instructions: str
        provider: str
        model: str | None
        tools: list[str]
        max_turns: int

    class Revised(Aggregate.Event):
        instructions: str
        provider: str
        model: str | None
        tools: list[str]
        max_turns: int

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Agent)
            aggregate.instructions = self.instructions
            aggregate.provider = self.provider
            aggregate.model = self.model
            aggregate.tools = tuple(self.tools)
            aggregate.max_turns = self.max_turns

    def __init__(
        self,
        name: str,
        team_id: UUID,
        instructions: str,
        provider: str,
        model: str | None,
        tools: list[str],
        max_turns: int,
    ) -> None:
        self.name = name
        self.team_id = team_id
        self.instructions = instructions
        self.provider = provider
        self.model = model
        self.tools: tuple[str, ...] = tuple(tools)
        self.max_turns = max_turns

    @classmethod
    def register(
        cls,
        id: UUID,
        name: str,
        team_id: UUID,
        *,
        instructions: str,
        provider: str,
        model: str | None = None,
        tools: Sequence[str] = (),
        max_turns: int = DEFAULT_MAX_TURNS,
        at: datetime,
    ) -> Agent:
        _check(provider, tools, max_turns)
        return cls._create(
            cls.Registered,
            id=id,
            name=name,
            team_id=team_id,
            instructions=instructions,
            provider=provider,
            model=model,
            tools=list(tools),
            max_turns=max_turns,
            timestamp=at,
        )

    def revise(
        self,
        *,
        instructions: str,
        provider: str,
        model: str | None = None,
        tools: Sequence[str] = (),
        max_turns: int = DEFAULT_MAX_TURNS,
        at: datetime,
    ) -> None:
        """Record a change; a no-op when nothing differs, so re-applying is idempotent."""
        _check(provider, tools, max_turns)
        now = (self.instructions, self.provider, self.model, self.tools, self.max_turns)
        if now == (instructions, provider, model, tuple(tools), max_turns):
            return
        self.trigger_event(
            self.Revised,
            instructions=instructions,
            provider=provider,
            model=model,
            tools=list(tools),
            max_turns=max_turns,
            timestamp=at,
        )


def _check(provider: str, tools: Sequence[str], max_turns: int) -> None:
    if not provider:
        raise ValueError("an agent needs a provider")
    if max_turns < 1:
        raise ValueError("max_turns must be at least 1")
    if len(set(tools)) != len(tools):
        raise ValueError("an agent's tools must not repeat")
