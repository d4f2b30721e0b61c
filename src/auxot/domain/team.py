"""A team owns workflows, intakes and team API keys; its members may use user keys on them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from auxot.domain.events import AuxotAggregate, recorded_as


@recorded_as("Team")
class Team(AuxotAggregate):
    class Registered(Aggregate.Created):
        name: str
        members: list[str]

    class MembersChanged(Aggregate.Event):
        members: list[str]

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Team)
            aggregate.members = list(self.members)

    class AdminsChanged(Aggregate.Event):
        """Admins may act on any human step of the team's workflows."""

        admins: list[str]

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Team)
            aggregate.admins = list(self.admins)

    def __init__(self, name: str, members: list[str]) -> None:
        self.name = name
        self.members = list(members)
        self.admins: list[str] = []

    @classmethod
    def register(
        cls,
        id: UUID,
        name: str,
        at: datetime,
        members: list[str] | None = None,
        admins: list[str] | None = None,
    ) -> Team:
        team = cls._create(
            cls.Registered, id=id, name=name, members=sorted(set(members or [])), timestamp=at
        )
        team.set_admins(admins or [], at)
        return team

    def set_members(self, members: list[str], at: datetime) -> None:
        wanted = sorted(set(members))
        if wanted != self.members:
            self.trigger_event(self.MembersChanged, members=wanted, timestamp=at)

    def set_admins(self, admins: list[str], at: datetime) -> None:
        wanted = sorted(set(admins))
        if wanted != self.admins:
            self.trigger_event(self.AdminsChanged, admins=wanted, timestamp=at)
