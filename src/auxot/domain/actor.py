"""Who caused an event: an API key (with the user or team it stands for), a user at the
command line, a worker, or Auxot itself.

An event stores its actor as text (``Actor.text``): it is cheap to write on the intake's
hot path, plain in an export, and read back with ``Actor.parse``. The text never holds a
secret: a key is named by its id, never by the key or its hash.
"""

from __future__ import annotations

import functools
from typing import Literal
from uuid import UUID

import attrs

ActorKind = Literal["user", "team", "cli", "worker", "system", "unknown"]
KINDS: frozenset[str] = frozenset(("user", "team", "cli", "worker", "system", "unknown"))

UNKNOWN_TEXT = "unknown"
"""The actor of events recorded before events named their actor."""

_KEY = " key:"


class ActorError(ValueError):
    """Text that names no actor."""


@attrs.frozen(slots=False)  # a __dict__, for the cached text
class Actor:
    kind: ActorKind
    name: str = ""
    key_id: UUID | None = None
    """The API key the actor used, when it used one."""

    @classmethod
    def user(cls, name: str, key_id: UUID | None = None) -> Actor:
        return cls("user", name, key_id)

    @classmethod
    def team(cls, name: str, key_id: UUID | None = None) -> Actor:
        return cls("team", name, key_id)

    @classmethod
    def cli(cls, os_user: str) -> Actor:
        return cls("cli", os_user)

    @classmethod
    def worker(cls, worker_id: str) -> Actor:
        return cls("worker", worker_id)

    @property
    def principal(self) -> str:
        """Whom the actor stands for, without the key: ``user:alice``, ``system``."""
        return f"{self.kind}:{self.name}" if self.name else self.kind

    @functools.cached_property
    def text(self) -> str:
        """The stored form: the principal, then the key's id when there is one."""
        return self.principal if self.key_id is None else f"{self.principal}{_KEY}{self.key_id}"

    def __str__(self) -> str:
        return self.text

    @classmethod
    def parse(cls, text: str) -> Actor:
        principal, sep, key = text.rpartition(_KEY)
        key_id = None
        if sep:
            try:
                key_id = UUID(key)
            except ValueError:
                principal, key_id = text, None
        else:
            principal = text
        kind, _, name = principal.partition(":")
        if kind not in KINDS or (not name and kind not in ("system", "unknown")):
            raise ActorError(f"'{text}' names no actor")
        return cls(kind, name, key_id)  # type: ignore[arg-type]


SYSTEM = Actor("system")
UNKNOWN = Actor("unknown")
