"""The two event-sourced applications: the registry of configuration and the work log.

They are separate applications so that each has its own table and notification log:
config lookups never scan work events, and on PostgreSQL (which serialises saves per
table) work submissions do not queue behind configuration changes, nor the reverse.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, TypeVar
from uuid import UUID

import cattrs
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, CanMutateAggregate
from eventsourcing.persistence import JSONTranscoder, Recording, Transcoding
from eventsourcing.utils import Environment

from auxot.domain.actor import Actor
from auxot.domain.definition import Definition
from auxot.domain.work_item import WorkItem

A = TypeVar("A")
Event = CanMutateAggregate[UUID]


def stamped(events: Iterable[Event], actor: Actor) -> list[Event]:
    """``events``, not yet stored, as caused by ``actor``: copies, so that no stored
    event is ever changed. The one place an event's actor is set, for every save."""
    text = actor.text
    return [dataclasses.replace(event, actor=text) for event in events]  # type: ignore[type-var]


_converter = cattrs.Converter()


class AttrsTranscoding(Transcoding):
    """Stores a frozen attrs value object as plain data, via cattrs."""

    def __init__(self, cls: type[Any]) -> None:
        self.type = cls
        self.name = cls.__name__

    def encode(self, obj: Any) -> Any:
        return _converter.unstructure(obj)

    def decode(self, data: Any) -> Any:
        return _converter.structure(data, self.type)


class AuxotApplication(Application[UUID]):
    value_objects: ClassVar[tuple[type[Any], ...]] = (Definition,)

    def construct_env(self, name: str, env: Any = None) -> Environment:
        # The library merges os.environ into its settings; Auxot's configuration comes
        # only from its composition root, so only what is passed in counts.
        return Environment(name, dict(env or {}))

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        for cls in self.value_objects:
            transcoder.register(AttrsTranscoding(cls))

    def save(self, *objs: Any, actor: Actor | None = None, **kwargs: Any) -> list[Recording[UUID]]:
        """Save the aggregates' pending events (or events) as caused by ``actor``.

        Every use case says who acts here, once per save, instead of passing the actor
        through each domain command. ``actor`` is optional only to keep the library's
        signature: without it, events keep the actor they were made with.
        """
        if actor is None:
            return super().save(*objs, **kwargs)
        events: list[Event] = []
        for obj in objs:
            if isinstance(obj, Aggregate):
                events.extend(obj.collect_events())
            elif obj is not None:
                events.append(obj)
        return super().save(*stamped(events, actor), **kwargs)

    def get(self, cls: type[A], id: UUID, version: int | None = None) -> A:
        """The aggregate, which must be a ``cls``; AggregateNotFoundError when absent."""
        aggregate: object = self.repository.get(id, version=version)
        if not isinstance(aggregate, cls):
            raise TypeError(f"{id} is a {type(aggregate).__name__}, not a {cls.__name__}")
        return aggregate


class Registry(AuxotApplication):
    """Teams, API keys, providers, workflows and intakes."""

    name = "registry"


class WorkLog(AuxotApplication):
    """Work items."""

    name = "work"

    def __init__(
        self, env: Any = None, *, on_ending: Callable[[WorkItem], None] | None = None
    ) -> None:
        super().__init__(env)
        self._on_ending = on_ending

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """Save, first letting ``on_ending`` add to each item that ends in this save (its
        callback, application/callbacks.py): whatever path ends an item, what it adds is
        recorded in the same transaction as the ending."""
        if self._on_ending is not None:
            for obj in objs:
                if isinstance(obj, WorkItem) and _ends_now(obj):
                    self._on_ending(obj)
        return super().save(*objs, **kwargs)

    def item(self, work_id: UUID, version: int | None = None) -> WorkItem:
        return self.get(WorkItem, work_id, version)

    def put_events(self, events: Sequence[CanMutateAggregate[UUID]]) -> None:
        """Store already-collected events in one transaction.

        ``save()`` tells events from aggregates with ``isinstance`` checks against the
        library's runtime-checkable Protocols, which cost tens of microseconds per event
        on Python 3.11: too much for the intake's write path, whose events are known.
        This application takes no snapshots and has no ``notify`` hooks, so putting the
        events in the store is all that ``save()`` would do.
        """
        self.events.put(events)


_ENDINGS = (WorkItem.Completed, WorkItem.Failed, WorkItem.Cancelled)


def _ends_now(item: WorkItem) -> bool:
    return any(isinstance(event, _ENDINGS) for event in item.pending_events)
