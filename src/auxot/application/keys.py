"""API keys: issuing them, and resolving a presented key to the caller it stands for.

A key reads ``<kind>.<key id hex>.<secret>``: the id finds the record without a scan, the
secret (32 random bytes) is checked against its stored SHA-256 in constant time. A slow
password hash buys nothing for 256 bits of randomness and would cost every request.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from datetime import datetime
from typing import Literal
from uuid import UUID

import attrs
from eventsourcing.application import AggregateNotFoundError

from auxot.application.directory import Directory
from auxot.application.ports import Clock, Ids
from auxot.application.stores import Registry
from auxot.domain.actor import Actor
from auxot.domain.api_key import ApiKey
from auxot.domain.identity import team_id

SECRET_BYTES = 32
LOCAL_KEY = UUID(int=0)
"""The key id of a caller with no key: a user at the command line."""


@attrs.frozen(slots=False)  # a __dict__, for the cached actor
class Caller:
    """Who is calling: the key's id, and the teams whose resources it may use."""

    key_id: UUID
    kind: Literal["team", "user"]
    owner: str
    teams: frozenset[UUID]
    expires_at: datetime | None = None
    administers: frozenset[UUID] = frozenset()
    """User keys: the teams that list the user under ``admins``."""

    @functools.cached_property
    def actor(self) -> Actor:
        """Who the events this caller causes name: worked out once, as callers are
        reused on the intake's hot path."""
        return Actor(self.kind, self.owner, None if self.key_id == LOCAL_KEY else self.key_id)

    def may_use(self, team: UUID) -> bool:
        return team in self.teams

    def may_administer(self, team: UUID) -> bool:
        """Change the team's resources (its keys, its workflows): the team's own key, or
        a user key of one of its admins."""
        if self.kind == "team":
            return team in self.teams
        return team in self.administers


@attrs.frozen
class IssuedKey:
    id: UUID
    key: str
    kind: str
    owner: str


class UnknownTeamError(LookupError):
    pass


def actor_of(caller: Caller | None, local: Actor) -> Actor:
    """Who acts: the caller's key, or ``local`` (the CLI's user, or the embedding
    application) for a caller of None."""
    return local if caller is None else caller.actor


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_key(
    registry: Registry,
    directory: Directory,
    clock: Clock,
    ids: Ids,
    *,
    kind: Literal["team", "user"],
    owner: str,
    actor: Actor,
) -> IssuedKey:
    """Create a key, as ``actor``; the full key is returned once and never stored."""
    if kind == "team":
        directory.refresh()
        if directory.team(team_id(owner)) is None:
            raise UnknownTeamError(f"no team named '{owner}'")
    key_id, secret = ids.new_id(), ids.secret(SECRET_BYTES)
    key = ApiKey.issue(key_id, kind, owner, hash_secret(secret), at=clock.now())
    registry.save(key, actor=actor)
    return IssuedKey(id=key_id, key=f"{kind}.{key_id.hex}.{secret}", kind=kind, owner=owner)


def revoke_key(registry: Registry, clock: Clock, key_id: UUID, actor: Actor) -> bool:
    """Revoke a key, as ``actor``; False when there is no such key."""
    try:
        key = registry.get(ApiKey, key_id)
    except (AggregateNotFoundError, TypeError):
        return False
    key.revoke(at=clock.now())
    registry.save(key, actor=actor)
    return True


def authenticate(
    directory: Directory, clock: Clock, presented: str, *, refresh: bool = True
) -> Caller | None:
    """The caller a presented key stands for, or None (malformed, unknown, revoked,
    expired). The secret comparison is constant-time. With ``refresh``, an unknown key
    id makes the directory look for keys created since (by another process, maybe)."""
    parsed = _parse(presented)
    if parsed is None:
        return None
    kind, key_id, secret = parsed
    key = directory.key(key_id)
    if key is None and refresh:
        directory.refresh_soon()
        key = directory.key(key_id)
    if key is None or key.owner_kind != kind:
        return None
    if not hmac.compare_digest(key.secret_hash, hash_secret(secret)):
        return None
    if not key.usable_at(clock.now()):
        return None
    if kind == "user":
        return user_caller(directory, key.owner, key_id, key.expires_at)
    teams = frozenset({team_id(key.owner)})
    return Caller(key_id=key_id, kind=kind, owner=key.owner, teams=teams, expires_at=key.expires_at)


def user_caller(
    directory: Directory, user: str, key_id: UUID, expires_at: datetime | None = None
) -> Caller:
    """A user: the teams it is a member or an admin of, and those it administers."""
    administers = directory.teams_administered_by(user)
    return Caller(
        key_id=key_id,
        kind="user",
        owner=user,
        teams=directory.teams_of_user(user) | administers,
        expires_at=expires_at,
        administers=administers,
    )


class Authenticator:
    """``authenticate``, remembering recent answers: the intake's hot path.

    A remembered caller is reused only while the directory is unchanged since it was
    worked out (any registry change, such as a revoked key or a new team member,
    forgets them all) and its key has not expired. Answers are filed under a hash of the
    presented key, never the key itself, and only keys that authenticated are kept, at
    most ``capacity``: random keys cannot fill memory.
    """

    def __init__(self, directory: Directory, clock: Clock, capacity: int = 10_000) -> None:
        self._directory = directory
        self._clock = clock
        self._capacity = capacity
        self._known: dict[bytes, tuple[int, Caller]] = {}

    def __call__(self, presented: str, *, refresh: bool = True) -> Caller | None:
        digest = hashlib.sha256(presented.encode()).digest()
        position = self._directory.position
        known = self._known.get(digest)
        if known is not None and known[0] == position and self._unexpired(known[1]):
            return known[1]
        caller = authenticate(self._directory, self._clock, presented, refresh=refresh)
        if caller is not None:
            if len(self._known) >= self._capacity:
                self._known.clear()
            self._known[digest] = (position, caller)
        return caller

    def _unexpired(self, caller: Caller) -> bool:
        return caller.expires_at is None or self._clock.now() < caller.expires_at


def _parse(presented: str) -> tuple[Literal["team", "user"], UUID, str] | None:
    parts = presented.split(".")
    if len(parts) != 3 or parts[0] not in ("team", "user") or len(parts[1]) != 32:
        return None
    try:
        key_id = UUID(hex=parts[1])
    except ValueError:
        return None
    kind: Literal["team", "user"] = "team" if parts[0] == "team" else "user"
    return kind, key_id, parts[2]
