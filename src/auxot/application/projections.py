"""Projections: read models kept from the work log, tracked, and rebuildable at will.

A projection follows the log's notifications from its tracked position and writes its
rows and its new position in one transaction, so it never applies an event twice nor
skips one, whichever process runs it and however many do. Any projection that fits the
``Projection`` protocol can be registered in ``Projections`` at the composition root;
the worker keeps each one current and ``auxot replay`` rebuilds it (``replay.py``).

To add one: give it a ``name`` (what ``auxot replay --projection`` takes), the
``tables`` it keeps, a ``position``, ``catch_up()`` (project the next batch,
answer how many events), ``head()`` (where its log ends) and ``rebuild()`` (a
``Rebuild``: the same projection on fresh shadow tables, which ``swap_in`` hands over in
one transaction), then register it in ``bootstrap.py``. A projection whose rows are a
function of one work item's state gets all of it from ``ItemProjection`` (the status,
index and deliveries ones); the audit log (``audit.py``), which follows two logs,
implements the protocol itself, its position and head summed over both. One that
appends a row per event (an audit log) must key its rows by the event (originator id and
version, inserted once): a batch read before a swap may be saved after it, and the
tracking check only refuses batches that end at or before the position.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Generic, Protocol, Self, TypeVar
from uuid import UUID

from eventsourcing.application import project_aggregate
from eventsourcing.persistence import IntegrityError, Notification, Tracking

from auxot.application.stores import WorkLog
from auxot.domain.work_item import WorkItem

log = logging.getLogger(__name__)

R = TypeVar("R")
R_contra = TypeVar("R_contra", contravariant=True)


class Rebuild(Protocol):
    """A projection being rebuilt from scratch into shadow tables, beside the live one."""

    @property
    def position(self) -> int: ...

    def catch_up(self) -> int: ...

    def swap_in(self) -> bool:
        """Hand the shadow over to the live tables in one transaction, when it is at or
        past their position; False, changing nothing, when the live projection has
        moved past it (catch up and try again)."""
        ...


class Projection(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def tables(self) -> tuple[str, ...]: ...

    @property
    def position(self) -> int:
        """The last notification id projected (0: none); over several logs, the sum."""
        ...

    def catch_up(self) -> int:
        """Project the next batch of new events; how many were projected."""
        ...

    def head(self) -> int:
        """The last notification id of the log it follows (for progress reports); over
        several logs, the sum."""
        ...

    def rebuild(self) -> Rebuild:
        """Start a rebuild: empty shadow tables at position 0."""
        ...


class Projections:
    """The projections of one process, by name, in registration order."""

    def __init__(self, projections: Iterable[Projection] = ()) -> None:
        self._by_name: dict[str, Projection] = {}
        for projection in projections:
            self.register(projection)

    def register(self, projection: Projection) -> None:
        if projection.name in self._by_name:
            raise ValueError(f"a projection named '{projection.name}' is registered already")
        self._by_name[projection.name] = projection

    def get(self, name: str) -> Projection | None:
        return self._by_name.get(name)

    @property
    def names(self) -> list[str]:
        return list(self._by_name)

    def __iter__(self) -> Iterator[Projection]:
        return iter(list(self._by_name.values()))


class ItemView(Protocol[R_contra]):
    """What ``ItemProjection`` needs of a view: tracked saves, a shadow, a swap."""

    @property
    def tables(self) -> tuple[str, ...]: ...

    def save(self, rows: Sequence[R_contra], tracking: Tracking) -> None: ...

    def max_tracking_id(self, application_name: str) -> int | None: ...

    def shadow(self, *keys: str) -> Self: ...

    def swap_in(self, shadow: Self, keys: Mapping[str, str]) -> bool: ...


class ItemProjection(Generic[R]):
    """Rows that are a function of one work item's state (``row_of``).

    Each batch of notifications is folded per item: an item whose history starts in the
    batch is folded from the batch itself, any other is read at the highest version the
    batch holds; its row is rewritten together with the batch's position. Positions only
    move forward, so a row never shows an older state than one shown before; when two
    processes project the same batch, the second one's tracking insert fails and it
    simply goes on from the new position.

    With ``topics``, only items the batch records an event of those topics for are read
    (the others' rows cannot change); an item whose ``row_of`` is None has no row.
    """

    def __init__(
        self,
        name: str,
        work: WorkLog,
        view: ItemView[R],
        row_of: Callable[[WorkItem], R | None],
        *,
        tracking_key: str | None = None,
        topics: frozenset[str] | None = None,
        batch: int = 500,
    ) -> None:
        self._name = name
        self._work = work
        self._view = view
        self._row_of = row_of
        self._key = tracking_key or name
        self._topics = topics
        self._batch = batch

    @property
    def name(self) -> str:
        return self._name

    @property
    def tables(self) -> tuple[str, ...]:
        return self._view.tables

    @property
    def position(self) -> int:
        return self._view.max_tracking_id(self._key) or 0

    def catch_up(self) -> int:
        notifications = self._work.recorder.select_notifications(
            start=self.position + 1, limit=self._batch
        )
        if not notifications:
            return 0
        rows = [r for item in self._items(notifications) if (r := self._row_of(item)) is not None]
        try:
            self._view.save(rows, Tracking(self._key, notifications[-1].id))
        except IntegrityError:
            log.debug("another process projected up to %s first", notifications[-1].id)
            return 0
        return len(notifications)

    def head(self) -> int:
        return self._work.recorder.max_notification_id() or 0

    def catch_up_fully(self) -> int:
        """Project until nothing new is left; how many events were projected."""
        total = 0
        while projected := self.catch_up():
            total += projected
        return total

    def rebuild(self) -> ShadowRebuild:
        shadow_key = f"{self._key}:shadow"
        shadow_view = self._view.shadow(shadow_key)
        shadow = ItemProjection(
            self._name,
            self._work,
            shadow_view,
            self._row_of,
            tracking_key=shadow_key,
            topics=self._topics,
            batch=self._batch,
        )
        return ShadowRebuild(
            shadow, lambda: self._view.swap_in(shadow_view, {self._key: shadow_key})
        )

    def _items(self, notifications: Sequence[Notification]) -> list[WorkItem]:
        """Each item the batch touches (with an event of ``topics``, if given), at the
        highest version the batch holds."""
        batches: dict[UUID, list[Notification]] = {}
        for notification in notifications:
            assert isinstance(notification.originator_id, UUID)
            batches.setdefault(notification.originator_id, []).append(notification)
        return [
            self._item(work_id, events)
            for work_id, events in batches.items()
            if self._topics is None or any(n.topic in self._topics for n in events)
        ]

    def _item(self, work_id: UUID, notifications: list[Notification]) -> WorkItem:
        if notifications[0].originator_version != 1:  # its history began before the batch
            return self._work.item(work_id, notifications[-1].originator_version)
        mapper = self._work.mapper
        item = project_aggregate(None, [mapper.to_domain_event(n) for n in notifications])
        assert isinstance(item, WorkItem)
        return item


class Following(Protocol):
    """What a rebuild follows the log with: the same projection, on shadow tables."""

    @property
    def position(self) -> int: ...

    def catch_up(self) -> int: ...


class ShadowRebuild:
    """A ``Rebuild`` of a projection running on a shadow view, and how to swap it in."""

    def __init__(self, shadow: Following, swap_in: Callable[[], bool]) -> None:
        self._shadow = shadow
        self.swap_in = swap_in

    @property
    def position(self) -> int:
        return self._shadow.position

    def catch_up(self) -> int:
        return self._shadow.catch_up()
