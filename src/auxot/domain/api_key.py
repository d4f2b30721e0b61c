"""An API key: a credential for a team or a user. Only a hash of its secret is kept."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from eventsourcing.domain import Aggregate

from auxot.domain.events import AuxotAggregate, recorded_as

OwnerKind = Literal["team", "user"]


@recorded_as("ApiKey")
class ApiKey(AuxotAggregate):
    class Issued(Aggregate.Created):
        owner_kind: str
        owner: str
        secret_hash: str
        expires_at: datetime | None

    class Revoked(Aggregate.Event):
        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, ApiKey)
            aggregate.revoked = True

    def __init__(
        self, owner_kind: str, owner: str, secret_hash: str, expires_at: datetime | None
    ) -> None:
        self.owner_kind = owner_kind
        self.owner = owner
        self.secret_hash = secret_hash
        self.expires_at = expires_at
        self.revoked = False

    @classmethod
    def issue(
        cls,
        id: UUID,
        owner_kind: OwnerKind,
        owner: str,
        secret_hash: str,
        at: datetime,
        expires_at: datetime | None = None,
    ) -> ApiKey:
        """``owner`` is the team's name for a team key, the user's name for a user key."""
        return cls._create(
            cls.Issued,
            id=id,
            owner_kind=owner_kind,
            owner=owner,
            secret_hash=secret_hash,
            expires_at=expires_at,
            timestamp=at,
        )

    def revoke(self, at: datetime) -> None:
        if not self.revoked:
            self.trigger_event(self.Revoked, timestamp=at)

    def usable_at(self, now: datetime) -> bool:
        return not self.revoked and (self.expires_at is None or now < self.expires_at)
