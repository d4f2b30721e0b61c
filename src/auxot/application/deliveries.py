"""Callback delivery use cases: list deliveries, show an item's, redeliver one.

Team-scoped like everything else: a delivery of a team the caller may not use is
refused exactly as an unknown one (``NotFoundError``). ``caller`` None is the local CLI
or the embedding application, trusted with every team.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import attrs
from eventsourcing.application import AggregateNotFoundError

from auxot.application.delivery_records import DeliveryRecord, delivery_record
from auxot.application.keys import Caller, actor_of
from auxot.application.lifecycle import ConflictError, Lifecycle
from auxot.application.pagination import MAX_LIMIT, Page, decode_cursor, encode_cursor
from auxot.application.refs import parse_ref
from auxot.application.saving import retrying
from auxot.application.service import NotFoundError, Service
from auxot.domain import callback
from auxot.domain.actor import SYSTEM, Actor
from auxot.domain.callback import CallbackError, DeliveryStatus
from auxot.domain.work_item import WorkItem

STATUSES = tuple(status.value for status in DeliveryStatus)


def delivery_work_id(delivery_id: str) -> UUID | None:
    """The work item a delivery id (its ``webhook-id``, ``msg_<hex>``) belongs to."""
    return parse_ref("msg", delivery_id)


@attrs.frozen
class Deliveries:
    service: Service
    local: Actor = SYSTEM  # who acts for a caller of None (the CLI's user, or system)

    def page(
        self, caller: Caller | None, status: str | None, limit: int, cursor: str | None
    ) -> Page[bytes]:
        """Deliveries (JSON records) of the caller's teams, oldest scheduled first."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        view = self.service.deliveries
        teams = None if caller is None else caller.teams
        rows = view.page(teams, status, limit + 1, _position(cursor))
        more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1] if more else None
        next_cursor = (
            None
            if last is None
            else encode_cursor(f"{last.scheduled_at.isoformat()}|{last.work_id.hex}")
        )
        return Page([row.record for row in rows], next_cursor)

    def of_work(self, caller: Caller | None, work_id: UUID) -> list[DeliveryRecord]:
        """The item's deliveries (none, or one), each with every attempt, read from the
        item itself: what the deliverer last recorded, with no projection lag."""
        Lifecycle(self.service).record(caller, work_id)  # NotFoundError when not visible
        item = self.service.work.item(work_id)
        return [] if item.delivery is None else [delivery_record(item, item.delivery)]

    def redeliver(self, caller: Caller | None, delivery_id: str) -> DeliveryRecord:
        """Send a delivered or dead delivery again, with the same ``webhook-id``;
        ConflictError while it is pending (it goes out anyway) or in flight."""
        work_id = delivery_work_id(delivery_id)
        if work_id is None:
            raise NotFoundError("delivery")
        self._visible_item(caller, work_id)

        actor = actor_of(caller, self.local)

        def attempt() -> WorkItem:
            item = self.service.work.item(work_id)
            try:
                callback.request_redelivery(item, actor.text, self.service.clock.now())
            except CallbackError as exc:
                raise ConflictError(str(exc)) from None
            self.service.work.save(item, actor=actor)
            return item

        item = retrying(attempt)
        self.service.worker.events_recorded()
        assert item.delivery is not None
        return delivery_record(item, item.delivery)

    def _visible_item(self, caller: Caller | None, work_id: UUID) -> WorkItem:
        try:
            item = self.service.work.item(work_id)
        except AggregateNotFoundError:
            raise NotFoundError("delivery") from None
        delivery = item.delivery
        if delivery is None or (caller is not None and not caller.may_use(delivery.team_id)):
            raise NotFoundError("delivery")
        return item


def _position(cursor: str | None) -> tuple[datetime, UUID] | None:
    """The (scheduled_at, work id) a cursor names; ValueError for one not given out."""
    if cursor is None:
        return None
    try:
        stamp, work = decode_cursor(cursor).split("|")
        at = datetime.fromisoformat(stamp)
        return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)), UUID(hex=work)
    except ValueError:
        raise ValueError(f"'{cursor}' is not a cursor this API gave out") from None
