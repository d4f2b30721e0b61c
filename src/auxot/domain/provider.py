"""A provider is a configured model endpoint that steps run on."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from auxot.domain.events import AuxotAggregate, recorded_as


@recorded_as("Provider")
class Provider(AuxotAggregate):
    """``kind`` selects the adapter (``scripted``, ``openai``); ``settings`` are its own
    (endpoint, model, timeout, ...). ``max_parallel`` bounds concurrent steps on it."""

    class Registered(Aggregate.Created):
        name: str
        kind: str
        settings: dict[str, Any]
        max_parallel: int

    class Reconfigured(Aggregate.Event):
        kind: str
        settings: dict[str, Any]
        max_parallel: int

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Provider)
            aggregate.kind = self.kind
            aggregate.settings = self.settings
            aggregate.max_parallel = self.max_parallel

    def __init__(self, name: str, kind: str, settings: dict[str, Any], max_parallel: int) -> None:
        self.name = name
        self.kind = kind
        self.settings = settings
        self.max_parallel = max_parallel

    @classmethod
    def register(
        cls,
        id: UUID,
        name: str,
        kind: str,
        settings: dict[str, Any],
        max_parallel: int,
        at: datetime,
    ) -> Provider:
        _check_max_parallel(max_parallel)
        return cls._create(
            cls.Registered,
            id=id,
            name=name,
            kind=kind,
            settings=settings,
            max_parallel=max_parallel,
            timestamp=at,
        )

    def reconfigure(
        self, kind: str, settings: dict[str, Any], max_parallel: int, at: datetime
    ) -> None:
        """Record a change; a no-op when nothing differs, so re-applying is idempotent."""
        _check_max_parallel(max_parallel)
        if (kind, settings, max_parallel) == (self.kind, self.settings, self.max_parallel):
            return
        self.trigger_event(
            self.Reconfigured,
            kind=kind,
            settings=settings,
            max_parallel=max_parallel,
            timestamp=at,
        )


def _check_max_parallel(max_parallel: int) -> None:
    if max_parallel < 1:
        raise ValueError("max_parallel must be at least 1")
