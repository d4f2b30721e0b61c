"""Cursor pagination over an ordered collection.

A cursor is the sort key of the last item a page gave, opaque to callers (URL-safe
base64). Paging by key rather than by offset means an item added or removed between two
requests neither repeats nor hides another one.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Generic, TypeVar
from uuid import UUID

import attrs

T = TypeVar("T")

MAX_LIMIT = 100


class BadCursorError(ValueError):
    pass


@attrs.frozen
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def paginate(
    items: Iterable[T], sort_key: Callable[[T], str], limit: int, cursor: str | None
) -> Page[T]:
    """The ``limit`` items after ``cursor`` in ``sort_key`` order (keys must be unique)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    after = None if cursor is None else decode_cursor(cursor)
    ordered = sorted(items, key=sort_key)
    if after is not None:
        ordered = [item for item in ordered if sort_key(item) > after]
    page = ordered[:limit]
    more = len(ordered) > limit
    return Page(page, encode_cursor(sort_key(page[-1])) if more else None)


def encode_cursor(key: str) -> str:
    """A sort key as an opaque cursor."""
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The sort key in a cursor; BadCursorError for one this API did not give out."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursorError(f"'{cursor}' is not a cursor this API gave out") from None


def encode_position(at: datetime, id: UUID) -> str:
    """A cursor for a collection ordered by (time, id)."""
    return encode_cursor(f"{at.isoformat()}|{id.hex}")


def decode_position(cursor: str) -> tuple[datetime, UUID]:
    """The (time, id) in a cursor ``encode_position`` gave; BadCursorError otherwise."""
    at, _, id = decode_cursor(cursor).partition("|")
    try:
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError("naive")
        return moment, UUID(hex=id)
    except ValueError:
        raise BadCursorError(f"'{cursor}' is not a cursor this API gave out") from None
