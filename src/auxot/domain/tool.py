"""A declared tool: something an agent may call, described to the model by a name, a
description and a JSON Schema of its arguments.

Only tools declared in a workflow file are recorded (``kind: http``: a URL the arguments
are POSTed to); Python callables are registered in-process by an embedding application
and never stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from auxot.domain.events import AuxotAggregate, recorded_as


@recorded_as("Tool")
class Tool(AuxotAggregate):
    class Registered(Aggregate.Created):
        name: str
        kind: str
        description: str
        parameters: dict[str, Any]
        settings: dict[str, Any]

    class Reconfigured(Aggregate.Event):
        kind: str
        description: str
        parameters: dict[str, Any]
        settings: dict[str, Any]

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Tool)
            aggregate.kind = self.kind
            aggregate.description = self.description
            aggregate.parameters = self.parameters
            aggregate.settings = self.settings

    def __init__(
        self,
        name: str,
        kind: str,
        description: str,
        parameters: dict[str, Any],
        settings: dict[str, Any],
    ) -> None:
        self.name = name
        self.kind = kind
        self.description = description
        self.parameters = parameters
        self.settings = settings

    @classmethod
    def register(
        cls,
        id: UUID,
        name: str,
        kind: str,
        description: str,
        parameters: dict[str, Any],
        settings: dict[str, Any],
        at: datetime,
    ) -> Tool:
        return cls._create(
            cls.Registered,
            id=id,
            name=name,
            kind=kind,
            description=description,
            parameters=parameters,
            settings=settings,
            timestamp=at,
        )

    def reconfigure(
        self,
        kind: str,
        description: str,
        parameters: dict[str, Any],
        settings: dict[str, Any],
        at: datetime,
    ) -> None:
        """Record a change; a no-op when nothing differs, so re-applying is idempotent."""
        if (kind, description, parameters, settings) == (
            self.kind,
            self.description,
            self.parameters,
            self.settings,
        ):
            return
        self.trigger_event(
            self.Reconfigured,
            kind=kind,
            description=description,
            parameters=parameters,
            settings=settings,
            timestamp=at,
        )
