"""Cursor pagination: paging through any collection gives every item once, in order."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auxot.application.pagination import MAX_LIMIT, BadCursorError, paginate


@given(
    items=st.sets(st.text(max_size=8)),
    limit=st.integers(min_value=1, max_value=MAX_LIMIT),
)
def test_paging_through_gives_every_item_once_in_order(items: set[str], limit: int) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        page = paginate(items, lambda s: s, limit, cursor)
        assert len(page.items) <= limit
        seen += page.items
        if page.next_cursor is None:
            break
        assert len(page.items) == limit
        cursor = page.next_cursor
    assert seen == sorted(items)


@given(st.lists(st.text(max_size=4), unique=True, min_size=3), st.data())
def test_an_item_removed_between_pages_shifts_nothing_else(
    items: list[str], data: st.DataObject
) -> None:
    first = paginate(items, lambda s: s, 2, None)
    assert first.next_cursor is not None
    gone = data.draw(st.sampled_from(items))
    rest = paginate([i for i in items if i != gone], lambda s: s, MAX_LIMIT, first.next_cursor)
    assert rest.items == [i for i in sorted(items)[2:] if i != gone]


@pytest.mark.parametrize("cursor", ["%%%", "not base64!", "gA"])
def test_a_cursor_this_api_did_not_give_is_refused(cursor: str) -> None:
    with pytest.raises(BadCursorError):
        paginate(["a"], lambda s: s, 10, cursor)


@pytest.mark.parametrize("limit", [0, MAX_LIMIT + 1])
def test_limits_outside_the_range_are_refused(limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        paginate(["a"], lambda s: s, limit, None)
