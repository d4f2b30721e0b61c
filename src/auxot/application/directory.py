"""The directory: an in-process read model of the registry (keys, teams, intakes, ...).

Every request needs its API key and intake; reading them from the event store each time
would put two queries on the hot path. The directory follows the registry's notification
log instead and holds the latest aggregates in memory. Changes from other processes
(``auxot apply``, ``auxot keys revoke``) are picked up by ``refresh()``, which the runtime
calls on a short interval and which callers call on a miss.
"""

from __future__ import annotations

import threading
import time
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from auxot.application.stores import Registry
from auxot.domain.agent import Agent
from auxot.domain.api_key import ApiKey
from auxot.domain.intake import Intake
from auxot.domain.provider import Provider
from auxot.domain.team import Team
from auxot.domain.tool import Tool
from auxot.domain.workflow import Workflow

A = TypeVar("A", bound=Aggregate)


class Directory:
    def __init__(self, registry: Registry, batch: int = 1000) -> None:
        self._registry = registry
        self._batch = batch
        self._position = 0
        self._lock = threading.Lock()
        self._refreshed_at = 0.0
        self._by_id: dict[UUID, Aggregate] = {}
        self.teams_by_name: dict[str, Team] = {}
        self.providers_by_name: dict[str, Provider] = {}
        self._paused: frozenset[UUID] = frozenset()
        self.tools_by_name: dict[str, Tool] = {}
        self.agents_by_team: dict[tuple[UUID, str], Agent] = {}

    @property
    def position(self) -> int:
        """How far into the registry's log this directory is: it changes whenever
        anything in the registry has."""
        return self._position

    def refresh(self) -> int:
        """Fold in what was recorded since the last refresh; returns how many events."""
        with self._lock:
            return self._refresh()

    def refresh_soon(self, min_interval: float = 0.05) -> None:
        """Make sure what was recorded before this call is folded in, refreshing at most
        once per ``min_interval`` seconds: callers refresh on a miss, and a flood of
        unknown keys must not become a flood of queries. A refresh that began after this
        call serves it; otherwise it waits out the interval and refreshes itself (so a
        key created elsewhere just after the last refresh is never refused)."""
        asked = time.monotonic()
        with self._lock:
            if self._refreshed_at >= asked:
                return
            pause = self._refreshed_at + min_interval - time.monotonic()
            if pause > 0:
                time.sleep(pause)  # pacing, under the lock: concurrent misses share one
            self._refresh()

    def _refresh(self) -> int:
        self._refreshed_at = time.monotonic()
        seen = 0
        while True:
            notifications = self._registry.recorder.select_notifications(
                start=self._position + 1, limit=self._batch
            )
            if not notifications:
                return seen
            for originator_id in dict.fromkeys(n.originator_id for n in notifications):
                assert isinstance(originator_id, UUID)
                self._put(self._registry.repository.get(originator_id))
            self._position = notifications[-1].id
            seen += len(notifications)

    def _put(self, aggregate: Aggregate) -> None:
        self._by_id[aggregate.id] = aggregate
        if isinstance(aggregate, Team):
            self.teams_by_name[aggregate.name] = aggregate
        elif isinstance(aggregate, Provider):
            self.providers_by_name[aggregate.name] = aggregate
        elif isinstance(aggregate, Workflow):
            # Replaced, not changed in place: the engine reads it without the lock.
            if aggregate.paused:
                self._paused = self._paused | {aggregate.id}
            else:
                self._paused = self._paused - {aggregate.id}
        elif isinstance(aggregate, Tool):
            self.tools_by_name[aggregate.name] = aggregate
        elif isinstance(aggregate, Agent):
            self.agents_by_team[(aggregate.team_id, aggregate.name)] = aggregate

    def _get(self, cls: type[Any], id: UUID) -> Any:
        found = self._by_id.get(id)
        return found if isinstance(found, cls) else None

    def get(self, id: UUID) -> Aggregate | None:
        """Whatever the registry holds under ``id``."""
        return self._by_id.get(id)

    def all(self, cls: type[A]) -> list[A]:
        """Every known aggregate of type ``cls``."""
        # A copy: the refresh thread may add aggregates while a request reads them.
        return [a for a in list(self._by_id.values()) if isinstance(a, cls)]

    def key(self, id: UUID) -> ApiKey | None:
        return self._get(ApiKey, id)  # type: ignore[no-any-return]

    def intake(self, id: UUID) -> Intake | None:
        return self._get(Intake, id)  # type: ignore[no-any-return]

    def workflow(self, id: UUID) -> Workflow | None:
        return self._get(Workflow, id)  # type: ignore[no-any-return]

    def team(self, id: UUID) -> Team | None:
        return self._get(Team, id)  # type: ignore[no-any-return]

    def provider(self, name: str) -> Provider | None:
        return self.providers_by_name.get(name)

    def paused_workflows(self) -> frozenset[UUID]:
        """The workflows that hold their new work (their pending items wait)."""
        return self._paused

    def tool(self, name: str) -> Tool | None:
        return self.tools_by_name.get(name)

    def agent(self, team_id: UUID, name: str) -> Agent | None:
        """The team's agent of that name (agent steps name agents of their team)."""
        return self.agents_by_team.get((team_id, name))

    def teams_of_user(self, user: str) -> frozenset[UUID]:
        # A copy: the refresh thread may add teams while a request reads them.
        teams = list(self.teams_by_name.values())
        return frozenset(t.id for t in teams if user in t.members)

    def teams_administered_by(self, user: str) -> frozenset[UUID]:
        teams = list(self.teams_by_name.values())
        return frozenset(t.id for t in teams if user in t.admins)
