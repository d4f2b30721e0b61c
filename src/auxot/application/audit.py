"""The audit log: who changed what, and when. A projection of both logs.

Every registry event is an administrative change (teams, keys, providers, tools, agents,
workflows, intakes) and is audited. A work-log event is audited when a person, a key,
the command line or the embedding application caused it (submissions, manual tasks,
human decisions, cancels, re-runs), and not when a worker did (steps, routing): the
actor decides, so an event class added later is audited by the same rule with no code
of its own.

Like the status projection, each batch's rows and its tracking position are written in
one transaction, and any number of processes may run it. Its positions are tracked
under names of its own (``audit.work``, ``audit.registry``), so it shares the tracking
table of the database with other projections of the same logs without colliding.

It is a ``Projection`` (projections.py) of two logs: its ``position`` and ``head`` are
the sums of the two logs' (how many notification ids it has come through, of how many),
which is what replay's progress needs; ``positions`` tells them apart. A rebuild follows
both logs into shadow tables under shadow keys and swaps both positions in at once.
Rows are keyed by event (stream, version) and inserted once, so a batch read before a
swap and saved after it adds nothing.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import cast
from uuid import UUID

import attrs
import msgspec
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import IntegrityError, Tracking

from auxot.application.history import EventEntry, entry_of
from auxot.application.pagination import BadCursorError, decode_cursor, encode_cursor
from auxot.application.ports import AuditQuery, AuditRow, AuditView
from auxot.application.projections import ShadowRebuild
from auxot.application.refs import format_ref
from auxot.application.stores import AuxotApplication, Registry, WorkLog
from auxot.domain.api_key import ApiKey
from auxot.domain.identity import team_id
from auxot.domain.team import Team
from auxot.domain.work_item import WorkItem

log = logging.getLogger(__name__)

RESOURCE_KINDS = {
    "WorkItem": "work",
    "ApiKey": "key",
    "Team": "team",
    "Workflow": "workflow",
    "Intake": "intake",
    "Provider": "provider",
    "Agent": "agent",
    "Tool": "tool",
}
_NOT_AUDITED_ON_WORK = frozenset(("worker", "unknown"))
_BULKY = frozenset(("input", "output", "definition", "calls"))


def resource_of(entry: EventEntry) -> str:
    """The resource an event is about, as its public reference: ``workflow_<hex>``."""
    aggregate = entry.type.partition(".")[0]
    return format_ref(RESOURCE_KINDS.get(aggregate, aggregate.lower()), entry.stream)


def action_of(entry: EventEntry) -> str:
    """``workflow.paused``, ``key.issued``, ``work.human_acted``."""
    aggregate, _, event = entry.type.partition(".")
    kind = RESOURCE_KINDS.get(aggregate, aggregate.lower())
    return f"{kind}.{re.sub(r'(?<!^)(?=[A-Z])', '_', event).lower()}"


class AuditProjection:
    name = "audit"

    def __init__(
        self,
        registry: Registry,
        work: WorkLog,
        view: AuditView,
        *,
        batch: int = 500,
        key_suffix: str = "",
    ) -> None:
        self._registry = registry
        self._work = work
        self.view = view
        self._batch = batch
        self._suffix = key_suffix  # the shadow's keys: ``audit.work:shadow``
        self._teams: dict[UUID, UUID | None] = {}  # stream -> team, which never changes

    def tracked_name(self, app: AuxotApplication) -> str:
        return f"{self.name}.{app.name}{self._suffix}"

    @property
    def tables(self) -> tuple[str, ...]:
        return self.view.tables

    @property
    def positions(self) -> dict[str, int]:
        """How far each log has been projected (notification ids)."""
        return {
            app.name: self.view.max_tracking_id(self.tracked_name(app)) or 0 for app in self._apps
        }

    @property
    def position(self) -> int:
        """The sum of both logs' positions."""
        return sum(self.positions.values())

    def head(self) -> int:
        """The sum of both logs' last notification ids."""
        return sum(app.recorder.max_notification_id() or 0 for app in self._apps)

    def catch_up(self) -> int:
        """Project the next batch of each log; returns how many events were read."""
        return self._catch_up(self._registry) + self._catch_up(self._work)

    def catch_up_fully(self) -> int:
        total = 0
        while projected := self.catch_up():
            total += projected
        return total

    def rebuild(self) -> ShadowRebuild:
        """An audit projection on fresh shadow tables, positions at 0 under shadow keys."""
        suffix = ":shadow"
        keys = {self.tracked_name(app): f"{self.tracked_name(app)}{suffix}" for app in self._apps}
        shadow_view = self.view.shadow(*keys.values())
        shadow = AuditProjection(
            self._registry, self._work, shadow_view, batch=self._batch, key_suffix=suffix
        )
        return ShadowRebuild(shadow, lambda: self.view.swap_in(shadow_view, keys))

    @property
    def _apps(self) -> tuple[AuxotApplication, AuxotApplication]:
        return (self._registry, self._work)

    def _catch_up(self, app: AuxotApplication) -> int:
        tracked = self.tracked_name(app)
        start = (self.view.max_tracking_id(tracked) or 0) + 1
        notifications = app.recorder.select_notifications(start=start, limit=self._batch)
        if not notifications:
            return 0
        rows = []
        for notification in notifications:
            event = cast(DomainEvent, app.mapper.to_domain_event(notification))
            row = self._row_of(app, event)
            if row is not None:
                rows.append(row)
        try:
            self.view.save(rows, Tracking(tracked, notifications[-1].id))
        except IntegrityError:
            log.debug("another process projected %s up to %s first", tracked, notifications[-1].id)
            return 0
        return len(notifications)

    def _row_of(self, app: AuxotApplication, event: DomainEvent) -> AuditRow | None:
        if app is self._work and _kind_of(event) in _NOT_AUDITED_ON_WORK:
            return None  # decided before the event's data is converted: most are workers'
        entry = entry_of(event)
        details = {k: v for k, v in entry.data.items() if k not in _BULKY}
        return AuditRow(
            stream=entry.stream,
            version=entry.version,
            at=entry.at,
            actor=entry.actor.principal,
            key_id=entry.actor.key_id,
            team_id=self._team_of(app, entry.stream),
            resource=resource_of(entry),
            action=action_of(entry),
            details=msgspec.json.encode(details),
        )

    def _team_of(self, app: AuxotApplication, stream: UUID) -> UUID | None:
        if stream not in self._teams:
            self._teams[stream] = self._find_team(app, stream)
        return self._teams[stream]

    def _find_team(self, app: AuxotApplication, stream: UUID) -> UUID | None:
        """The team a stream belongs to, from its first state (a team never changes)."""
        try:
            first: object = app.repository.get(stream, version=1)
            if isinstance(first, WorkItem):
                first = self._registry.repository.get(first.workflow_id, version=1)
        except AggregateNotFoundError:
            return None
        if isinstance(first, Team):
            return first.id
        if isinstance(first, ApiKey):
            return team_id(first.owner) if first.owner_kind == "team" else None
        found = getattr(first, "team_id", None)
        return found if isinstance(found, UUID) else None


def _kind_of(event: DomainEvent) -> str:
    return str(getattr(event, "actor", "unknown")).partition(":")[0]


Position = tuple[datetime, UUID, int]


def audit_page(view: AuditView, query: AuditQuery) -> tuple[list[AuditRow], str | None]:
    """A page of the rows ``query`` asks for, in time order, and the cursor of the next
    page (None on the last). Rows are paged by position (time, stream, version), so rows
    projected between two requests neither repeat nor shift the pages."""
    rows = view.query(attrs.evolve(query, limit=query.limit + 1))
    page = rows[: query.limit]
    more = len(rows) > query.limit
    return page, encode_cursor(_key(page[-1].position)) if more and page else None


def cursor_position(cursor: str) -> Position:
    """The position a cursor of ``audit_page`` holds; BadCursorError for any other."""
    at, _, rest = decode_cursor(cursor).partition("|")
    stream, _, version = rest.partition("|")
    try:
        return datetime.fromisoformat(at), UUID(hex=stream), int(version)
    except ValueError:
        raise BadCursorError(f"'{cursor}' is not a cursor this API gave out") from None


def _key(position: Position) -> str:
    at, stream, version = position
    return f"{at.isoformat()}|{stream.hex}|{version}"
