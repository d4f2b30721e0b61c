"""A team owns workflows, intakes and team API keys; its members may use user keys on them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate


class Team(Aggregate):
    class Registered(Aggregate.Created):
        name: str
        members: list[str]

    class MembersChanged(Aggregate.Event):
        members: list[str]

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Team)
            aggregate.members = list(self.members)

    def __init__(self, name: str, members: list[str]) -> None:
        self.name = name
        self.members = list(members)

    @classmethod
    def register(
        cls,
        id: UUID,
        name: str,
        at: datetime,
        members: list[str] | None = None,
    ) -> Team:
        return cls._create(
            cls.Registered, id=id, name=name, members=sorted(set(members or [])), timestamp=at
        )

    def set_members(self, members: list[str], at: datetime) -> None:
        wanted = sorted(set(members))
        if wanted != self.members:
            self.trigger_event(self.MembersChanged, members=wanted, timestamp=at)
