"""Administration: what a caller may see and change of teams, workflows, intakes,
providers and keys.

Reads come from the directory, in memory. A caller sees the resources of the teams it
may use (``Caller.may_use``), and changes them only where it administers the team
(``Caller.may_administer``). Anything it may not see is ``NotFoundError``, whether it
exists or not; ``ForbiddenError`` only for a change to something it can already see.
Providers belong to no team: every caller may read them, and only workflow files
(``auxot apply``) change them.
"""

from __future__ import annotations

from typing import Literal, TypeVar
from uuid import UUID

from auxot.application.directory import Directory
from auxot.application.errors import ForbiddenError, NotFoundError
from auxot.application.keys import Caller, IssuedKey, issue_key, revoke_key
from auxot.application.ports import Clock, Ids
from auxot.application.stores import Registry
from auxot.domain.agent import Agent
from auxot.domain.api_key import ApiKey
from auxot.domain.identity import team_id
from auxot.domain.intake import Intake
from auxot.domain.provider import Provider
from auxot.domain.team import Team
from auxot.domain.tool import Tool

A = TypeVar("A")


class Admin:
    def __init__(self, registry: Registry, directory: Directory, clock: Clock, ids: Ids) -> None:
        self._registry = registry
        self._directory = directory
        self._clock = clock
        self._ids = ids

    # -- reads --------------------------------------------------------------------------

    def teams(self, caller: Caller) -> list[Team]:
        return [t for t in self._directory.all(Team) if caller.may_use(t.id)]

    def team(self, caller: Caller, id: UUID) -> Team:
        return _visible(self._directory.team(id), caller.may_use(id))

    def intakes(self, caller: Caller) -> list[Intake]:
        return [i for i in self._directory.all(Intake) if caller.may_use(i.team_id)]

    def intake(self, caller: Caller, id: UUID) -> Intake:
        intake = self._directory.intake(id)
        return _visible(intake, intake is not None and caller.may_use(intake.team_id))

    def providers(self, caller: Caller) -> list[Provider]:
        return self._directory.all(Provider)

    def provider(self, caller: Caller, id: UUID) -> Provider:
        found = [p for p in self._directory.all(Provider) if p.id == id]
        return _visible(found[0] if found else None, True)

    def agents(self, caller: Caller) -> list[Agent]:
        return [a for a in self._directory.all(Agent) if caller.may_use(a.team_id)]

    def agent(self, caller: Caller, id: UUID) -> Agent:
        found = next((a for a in self._directory.all(Agent) if a.id == id), None)
        return _visible(found, found is not None and caller.may_use(found.team_id))

    def tools(self, caller: Caller) -> list[Tool]:
        """Declared tools (shared by all teams, like providers)."""
        return self._directory.all(Tool)

    def keys(self, caller: Caller) -> list[ApiKey]:
        return [k for k in self._directory.all(ApiKey) if _manages(caller, k)]

    # -- changes ------------------------------------------------------------------------

    def create_key(self, caller: Caller, kind: Literal["team", "user"], owner: str) -> IssuedKey:
        """A team key for a team the caller administers, or a user key for the calling
        user itself (to rotate it): nobody mints credentials for somebody else."""
        if kind == "team":
            team = self._directory.teams_by_name.get(owner)
            if team is None or not caller.may_use(team.id):
                raise NotFoundError(f"team '{owner}'")
            if not caller.may_administer(team.id):
                raise ForbiddenError(f"only team '{owner}' itself may create its keys")
        elif not (caller.kind == "user" and caller.owner == owner):
            raise ForbiddenError("a user key can only be created by that user's own key")
        issued = issue_key(
            self._registry,
            self._directory,
            self._clock,
            self._ids,
            kind=kind,
            owner=owner,
            actor=caller.actor,
        )
        self._directory.refresh()
        return issued

    def revoke_key(self, caller: Caller, id: UUID) -> ApiKey:
        key = self._directory.key(id)
        key = _visible(key, key is not None and _manages(caller, key))
        revoke_key(self._registry, self._clock, id, caller.actor)
        self._directory.refresh()
        revoked = self._directory.key(id)
        assert revoked is not None
        return revoked


def _manages(caller: Caller, key: ApiKey) -> bool:
    """A team's own key manages the team's keys; a user manages their own keys."""
    if key.owner_kind == "team":
        return caller.may_administer(team_id(key.owner))
    return caller.kind == "user" and caller.owner == key.owner


def _visible(found: A | None, allowed: bool) -> A:
    if found is None or not allowed:
        raise NotFoundError("not found")
    return found
