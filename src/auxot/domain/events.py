"""What every Auxot aggregate's events have in common: an actor, and a stable topic.

``AuxotAggregate.Event`` carries ``actor``, the text of the ``Actor`` who caused the
event. The library rebases every event class declared on an aggregate onto the
aggregate's ``Event``, so each event of a ``AuxotAggregate`` subclass gets the field with
no code of its own — new event classes included. The field is keyword-only with a
default, so event classes keep declaring fields without defaults after it, and events
stored before actors existed read back (the mapper restores an event's stored fields
without ``__init__``, so a field missing from old state falls back to the class default).

The domain never decides who acts: commands trigger events with the default, and the
application stamps the acting ``Actor`` on the pending events when it saves them
(``auxot.application.stores``). ``apply()`` must therefore never read ``actor``.

Topics are explicit (``WorkItem.StepStarted``) rather than the class's module path, so
moving or renaming a class never orphans stored history; the module paths earlier
releases stored under stay registered as aliases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import KW_ONLY
from typing import TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate, CanMutateAggregate
from eventsourcing.utils import register_topic

from auxot.domain.actor import UNKNOWN_TEXT

T = TypeVar("T", bound=type[Aggregate])


class AuxotAggregate(Aggregate):
    class Event(Aggregate.Event):
        _: KW_ONLY
        actor: str = UNKNOWN_TEXT


def recorded_as(name: str) -> Callable[[T], T]:
    """Class decorator: the aggregate is stored under the topic ``name`` and each of its
    events under ``name.EventClass``. Names are part of the stored format: never change
    one (register the old one with ``register_topic`` if you must)."""

    def decorate(cls: T) -> T:
        _explicit(cls, name)
        for attr, value in vars(cls).items():
            if (
                attr != "Event"
                and isinstance(value, type)
                and issubclass(value, CanMutateAggregate)
            ):
                _explicit(value, f"{name}.{attr}")
        return cls

    return decorate


E = TypeVar("E", bound=type[CanMutateAggregate[UUID]])


def event_recorded_as(topic: str) -> Callable[[E], E]:
    """Class decorator for an event class declared outside its aggregate's class body
    (e.g. a work item's callback events, in their own module): stored as ``topic``."""

    def decorate(cls: E) -> E:
        _explicit(cls, topic)
        return cls

    return decorate


def _explicit(cls: type, topic: str) -> None:
    register_topic(f"{cls.__module__}:{cls.__qualname__}", cls)  # as earlier releases stored
    register_topic(topic, cls)
    cls.TOPIC = topic  # type: ignore[attr-defined]
