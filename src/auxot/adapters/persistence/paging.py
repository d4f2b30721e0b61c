"""Reading a large table in pages by key, each page in its own short transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

K = TypeVar("K")
R = TypeVar("R")


def keyset_pages(
    fetch: Callable[[K, int], Sequence[R]],
    key: Callable[[R], K],
    start: K,
    page: int = 1000,
    limit: int | None = None,
) -> Iterator[R]:
    """Rows ``fetch(after, size)`` returns, page after page, each page after the key of
    the last row of the one before, until a short page (or ``limit`` rows)."""
    after, remaining = start, limit
    while remaining is None or remaining > 0:
        size = page if remaining is None else min(page, remaining)
        rows = fetch(after, size)
        yield from rows
        if len(rows) < size:
            return
        after = key(rows[-1])
        remaining = None if remaining is None else remaining - len(rows)
