"""Exporting the event history: every event of both logs recorded in a time range, as
plain data, log by log in recorded order (the order a verifier walks them in)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, cast

import attrs
from eventsourcing.domain import DomainEvent

from auxot.application.audit import RESOURCE_KINDS
from auxot.application.history import EventEntry, entry_of
from auxot.application.refs import format_ref
from auxot.application.stores import AuxotApplication

Progress = Callable[[str, int, int], None]
"""Called with a log's name, the position read up to, and the log's last position."""


@attrs.frozen
class Exported:
    log: str
    position: int
    entry: EventEntry

    def as_data(self) -> dict[str, Any]:
        entry = self.entry
        kind = RESOURCE_KINDS.get(entry.type.partition(".")[0], "stream")
        key = entry.actor.key_id
        return {
            "log": self.log,
            "position": self.position,
            "stream": format_ref(kind, entry.stream),
            "version": entry.version,
            "type": entry.type,
            "at": entry.at.isoformat(),
            "actor": entry.actor.principal,
            "key_id": None if key is None else format_ref("key", key),
            "data": entry.data,
        }


def export_events(
    logs: Sequence[AuxotApplication],
    since: datetime | None,
    until: datetime | None,
    progress: Progress = lambda *_: None,
    *,
    page: int = 1000,
) -> Iterator[Exported]:
    """Events with ``since <= at < until`` (either bound optional), log by log."""
    for app in logs:
        last = app.recorder.max_notification_id() or 0
        start = 1
        progress(app.name, 0, last)
        while start <= last:
            notifications = app.recorder.select_notifications(start=start, limit=page, stop=last)
            if not notifications:
                break
            for notification in notifications:
                event = cast(DomainEvent, app.mapper.to_domain_event(notification))
                if (since is None or event.timestamp >= since) and (
                    until is None or event.timestamp < until
                ):
                    yield Exported(app.name, notification.id, entry_of(event))
            start = notifications[-1].id + 1
            progress(app.name, notifications[-1].id, last)
