"""A work item's history, and the item as it stood at a past moment.

Both are read from the item's own events, the same events every view is projected from:
the history lists them, and a past state is the item folded up to one of them
(``repository.get(id, version=n)``), so it agrees with what was current then by
construction. Both are scoped like the item's record: a caller sees the items of its
teams' workflows, and anything else is the one ``NotFoundError``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import attrs
import msgspec
from eventsourcing.domain import DomainEvent
from eventsourcing.utils import get_topic

from auxot.application.directory import Directory
from auxot.application.errors import NotFoundError
from auxot.application.keys import Caller
from auxot.application.records import encode_record
from auxot.application.stores import WorkLog
from auxot.domain.actor import Actor
from auxot.domain.work_item import WorkItem

_ENVELOPE = frozenset(
    ("originator_id", "originator_version", "timestamp", "originator_topic", "actor")
)
_SECRET = "secret"  # noqa: S105 - a field-name pattern: no such field ever leaves


@attrs.frozen
class EventEntry:
    """One recorded event, as an auditor reads it."""

    stream: UUID
    version: int
    type: str
    """The event's stable topic, e.g. ``WorkItem.StepStarted``."""
    at: datetime
    actor: Actor
    data: Mapping[str, Any]
    """The event's own fields as plain JSON data, secrets left out."""


def entry_of(event: DomainEvent) -> EventEntry:
    fields = dataclasses.fields(event)
    data = {
        f.name: getattr(event, f.name)
        for f in fields
        if f.name not in _ENVELOPE and _SECRET not in f.name
    }
    return EventEntry(
        stream=event.originator_id,
        version=event.originator_version,
        type=get_topic(type(event)),
        at=event.timestamp,
        actor=Actor.parse(getattr(event, "actor", "unknown")),
        data=msgspec.to_builtins(data),
    )


class PointInTimeError(ValueError):
    """``at`` is neither a time nor a version."""


def parse_point(text: str) -> datetime | int:
    """``?at=``: a version (a positive whole number) or an ISO 8601 time with a zone."""
    if text.isdigit():
        version = int(text)
        if version < 1:
            raise PointInTimeError("a version counts from 1")
        return version
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise PointInTimeError(
            f"'{text}' is neither a version nor an ISO 8601 time (2026-12-01T09:30:00Z)"
        ) from None
    if moment.tzinfo is None:
        raise PointInTimeError(f"'{text}' has no time zone: add Z or +00:00")
    return moment


@attrs.frozen
class History:
    work: WorkLog
    directory: Directory

    def events(self, caller: Caller | None, work_id: UUID) -> list[EventEntry]:
        """The item's events in the order they were recorded."""
        return [entry_of(event) for event in self._visible_events(caller, work_id)]

    def record_at(self, caller: Caller | None, work_id: UUID, point: datetime | int) -> bytes:
        """The item's record (JSON) as it stood at ``point``: after its ``point``-th event
        for a version, after the last event recorded at or before it for a time.
        NotFoundError for a version it never had or a time before it existed."""
        events = self._visible_events(caller, work_id)
        if isinstance(point, int):
            version = point if point <= len(events) else None
        else:
            version = _version_at(events, point)
        if version is None:
            raise NotFoundError("work")
        return encode_record(self.work.item(work_id, version))

    def _visible_events(self, caller: Caller | None, work_id: UUID) -> Sequence[DomainEvent]:
        events = cast(list[DomainEvent], list(self.work.events.get(work_id)))
        received = events[0] if events else None
        if not isinstance(received, WorkItem.Received) or not self._may_see(caller, received):
            self.directory.refresh_soon()  # the same path whatever the reason
            raise NotFoundError("work")
        return events

    def _may_see(self, caller: Caller | None, received: WorkItem.Received) -> bool:
        if caller is None:
            return True
        workflow = self.directory.workflow(received.workflow_id)
        if workflow is None:
            self.directory.refresh_soon()
            workflow = self.directory.workflow(received.workflow_id)
        return workflow is not None and caller.may_use(workflow.team_id)


def _version_at(events: Sequence[DomainEvent], moment: datetime) -> int | None:
    version = None
    for event in events:
        if event.timestamp > moment:
            break
        version = event.originator_version
    return version
