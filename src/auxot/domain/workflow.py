"""A workflow: a named, team-owned process with immutable definition versions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

import attrs
from eventsourcing.domain import Aggregate

from auxot.domain.definition import Definition
from auxot.domain.events import AuxotAggregate, recorded_as
from auxot.domain.validation import InvalidDefinitionError, validate


class WorkflowStatus(StrEnum):
    """``paused`` holds new work: its items wait as pending until the workflow is
    activated again; items already running keep going."""

    ACTIVE = "active"
    PAUSED = "paused"


@attrs.frozen
class VersionInfo:
    """When a definition version was recorded, and the description it came with."""

    number: int
    created_at: datetime
    description: str


@recorded_as("Workflow")
class Workflow(AuxotAggregate):
    class Registered(Aggregate.Created):
        name: str
        team_id: UUID
        description: str
        definition: Definition

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Workflow)
            aggregate.history.append(VersionInfo(1, self.timestamp, self.description))

    class Revised(Aggregate.Event):
        """A new definition version; running work keeps the version it started on."""

        description: str
        definition: Definition

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Workflow)
            aggregate.description = self.description
            aggregate.versions.append(self.definition)
            aggregate.history.append(
                VersionInfo(len(aggregate.versions), self.timestamp, self.description)
            )

    class Paused(Aggregate.Event):
        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Workflow)
            aggregate.status = WorkflowStatus.PAUSED

    class Activated(Aggregate.Event):
        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Workflow)
            aggregate.status = WorkflowStatus.ACTIVE

    def __init__(self, name: str, team_id: UUID, description: str, definition: Definition) -> None:
        self.name = name
        self.team_id = team_id
        self.description = description
        self.versions: list[Definition] = [definition]
        self.history: list[VersionInfo] = []  # one per version, in order
        self.status = WorkflowStatus.ACTIVE

    @classmethod
    def register(
        cls,
        id: UUID,
        name: str,
        team_id: UUID,
        description: str,
        definition: Definition,
        at: datetime,
    ) -> Workflow:
        _require_valid(name, definition)
        return cls._create(
            cls.Registered,
            id=id,
            name=name,
            team_id=team_id,
            description=description,
            definition=definition,
            timestamp=at,
        )

    @property
    def current_version(self) -> int:
        """Versions are numbered from 1."""
        return len(self.versions)

    @property
    def current(self) -> Definition:
        return self.versions[-1]

    def definition(self, version: int) -> Definition:
        return self.versions[version - 1]

    def revise(self, description: str, definition: Definition, at: datetime) -> None:
        """Record a new version, unless nothing changed (re-applying is idempotent)."""
        if definition == self.current and description == self.description:
            return
        _require_valid(self.name, definition)
        self.trigger_event(
            self.Revised, description=description, definition=definition, timestamp=at
        )

    @property
    def paused(self) -> bool:
        return self.status is WorkflowStatus.PAUSED

    def pause(self, at: datetime) -> bool:
        """Hold new work; False (and nothing recorded) when already paused."""
        if self.paused:
            return False
        self.trigger_event(self.Paused, timestamp=at)
        return True

    def activate(self, at: datetime) -> bool:
        """Release held work; False (and nothing recorded) when already active."""
        if not self.paused:
            return False
        self.trigger_event(self.Activated, timestamp=at)
        return True


def _require_valid(name: str, definition: Definition) -> None:
    report = validate(definition)
    if not report.ok:
        raise InvalidDefinitionError(name, report.errors)
