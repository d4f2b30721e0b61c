"""The pure parts of idempotency keys: the keyed work id and the request digest."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from auxot.application.idempotency import keyed_work_id, request_digest

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
INPUTS = st.dictionaries(st.text(max_size=6), JSON, max_size=6)
IDS = st.uuids()


@given(INPUTS, st.none() | st.just("https://1.1.1.1/hook"))
def test_the_digest_ignores_the_order_of_keys(input: dict[str, Any], url: str | None) -> None:
    reordered = dict(reversed(list(input.items())))
    assert request_digest(reordered, url) == request_digest(input, url)


@given(INPUTS, INPUTS)
def test_different_inputs_have_different_digests(a: dict[str, Any], b: dict[str, Any]) -> None:
    if a != b:
        assert request_digest(a, None) != request_digest(b, None)


def test_the_callback_url_is_part_of_the_request() -> None:
    assert request_digest({"a": 1}, None) != request_digest({"a": 1}, "https://1.1.1.1/")
    assert request_digest({"a": 1}, None) != request_digest({"a": 1.0}, None)


@given(IDS, IDS, st.text(min_size=1, max_size=20), IDS, IDS, st.text(min_size=1, max_size=20))
def test_keyed_ids_meet_only_for_the_same_intake_credential_and_key(
    i1: UUID, c1: UUID, k1: str, i2: UUID, c2: UUID, k2: str
) -> None:
    same = (i1, c1, k1) == (i2, c2, k2)
    assert (keyed_work_id(i1, c1, k1) == keyed_work_id(i2, c2, k2)) is same
