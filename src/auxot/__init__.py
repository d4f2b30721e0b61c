"""Auxot: an event-sourced workflow engine.

The embedding API lives in :mod:`auxot.entrypoints.embedded`; ``auxot.connect`` is the
usual way in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["connect"]

if TYPE_CHECKING:
    from auxot.entrypoints.embedded import Auxot


def connect(database_url: str = "memory://", **settings: Any) -> Auxot:
    """Build an embedded Auxot on the given store.

    See :func:`auxot.entrypoints.embedded.connect`.
    """
    from auxot.entrypoints.embedded import connect as _connect

    return _connect(database_url, **settings)
