"""An intake: the authenticated webhook through which work arrives for a workflow."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from auxot.domain.events import AuxotAggregate, recorded_as


@recorded_as("Intake")
class Intake(AuxotAggregate):
    class Opened(Aggregate.Created):
        name: str
        team_id: UUID
        workflow_id: UUID
        callback_url: str | None

    class Reconfigured(Aggregate.Event):
        workflow_id: UUID
        callback_url: str | None

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Intake)
            aggregate.workflow_id = self.workflow_id
            aggregate.callback_url = self.callback_url

    class Deactivated(Aggregate.Event):
        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Intake)
            aggregate.active = False

    class Activated(Aggregate.Event):
        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Intake)
            aggregate.active = True

    def __init__(
        self, name: str, team_id: UUID, workflow_id: UUID, callback_url: str | None
    ) -> None:
        self.name = name
        self.team_id = team_id
        self.workflow_id = workflow_id
        self.callback_url = callback_url
        self.active = True

    @classmethod
    def open(
        cls,
        id: UUID,
        name: str,
        team_id: UUID,
        workflow_id: UUID,
        callback_url: str | None,
        at: datetime,
    ) -> Intake:
        return cls._create(
            cls.Opened,
            id=id,
            name=name,
            team_id=team_id,
            workflow_id=workflow_id,
            callback_url=callback_url,
            timestamp=at,
        )

    def reconfigure(self, workflow_id: UUID, callback_url: str | None, at: datetime) -> None:
        if (workflow_id, callback_url) == (self.workflow_id, self.callback_url):
            return
        self.trigger_event(
            self.Reconfigured, workflow_id=workflow_id, callback_url=callback_url, timestamp=at
        )

    def deactivate(self, at: datetime) -> None:
        if self.active:
            self.trigger_event(self.Deactivated, timestamp=at)

    def activate(self, at: datetime) -> None:
        if not self.active:
            self.trigger_event(self.Activated, timestamp=at)
