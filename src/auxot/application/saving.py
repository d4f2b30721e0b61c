"""Saving a change to an aggregate that others may be changing at the same time."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from eventsourcing.persistence import RecordConflictError

T = TypeVar("T")

SAVE_ATTEMPTS = 10
"""How often a command is re-read and retried when a concurrent save (a worker recording
a step, an ``apply``) got in first."""


def retrying(attempt: Callable[[], T]) -> T:
    """Run ``attempt`` (which re-reads what it changes) until its save is not beaten by a
    concurrent one."""
    for _ in range(SAVE_ATTEMPTS - 1):
        try:
            return attempt()
        except RecordConflictError:
            continue
    return attempt()
