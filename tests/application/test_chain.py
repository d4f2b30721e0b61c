"""The hash chain's pure functions, and verification over rows built in memory."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import attrs
import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import given
from hypothesis import strategies as st

from auxot.application.chain import (
    GENESIS,
    ChainRow,
    Checkpoint,
    chain_hashes,
    event_digest,
    fold,
    link,
    predecessors_needed,
)
from auxot.application.chain_verify import (
    BROKEN_LINK,
    REMOVED_HASH,
    checkpoint_findings,
    stream_findings,
)

AT = datetime(2026, 1, 1, tzinfo=UTC)

events = st.tuples(
    st.uuids(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.text(),
    st.binary(),
)


@given(events, events)
def test_any_change_to_any_field_changes_the_digest(
    a: tuple[UUID, int, str, bytes], b: tuple[UUID, int, str, bytes]
) -> None:
    assert (event_digest(*a) == event_digest(*b)) == (a == b)


@given(events, st.integers(0, 3), st.data())
def test_changing_one_field_changes_the_digest(
    event: tuple[UUID, int, str, bytes], field: int, data: st.DataObject
) -> None:
    changed = list(event)
    changed[field] = data.draw(
        [st.uuids(), st.integers(-(2**63), 2**63 - 1), st.text(), st.binary()][field].filter(
            lambda v: v != event[field]
        )
    )
    assert event_digest(*changed) != event_digest(*event)


@given(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32))
def test_a_link_depends_on_the_previous_hash_and_the_digest(prev: bytes, digest: bytes) -> None:
    assert link(prev, digest) != link(bytes(32) if prev != bytes(32) else b"\1" * 32, digest)
    assert link(prev, digest) != link(digest, prev) or prev == digest
    assert len(link(prev, digest)) == 32


@given(st.integers(1, 2**62), st.integers(1, 2**62), st.binary(min_size=32, max_size=32))
def test_a_fold_depends_on_the_position(a: int, b: int, digest: bytes) -> None:
    assert (fold(GENESIS, a, digest) == fold(GENESIS, b, digest)) == (a == b)


# -- the write path -------------------------------------------------------------------


def stored(stream: UUID, version: int, state: bytes = b"{}") -> StoredEvent:
    return StoredEvent(originator_id=stream, originator_version=version, topic="t", state=state)


A, B = UUID(int=1), UUID(int=2)


def test_a_batch_of_new_streams_needs_no_read_and_chains_to_genesis() -> None:
    batch = [stored(A, 1), stored(B, 1), stored(A, 2)]
    assert predecessors_needed(batch) == []
    first_a, first_b, second_a = chain_hashes(batch, {})
    assert first_a == link(GENESIS, event_digest(A, 1, "t", b"{}"))
    assert first_b == link(GENESIS, event_digest(B, 1, "t", b"{}"))
    assert second_a == link(first_a, event_digest(A, 2, "t", b"{}"))  # type: ignore[arg-type]


def test_a_stream_continues_from_its_stored_predecessor() -> None:
    batch = [stored(A, 3), stored(A, 4), stored(B, 1)]
    assert predecessors_needed(batch) == [(A, 3)]
    third, fourth, _ = chain_hashes(batch, {A: b"p" * 32})
    assert third == link(b"p" * 32, event_digest(A, 3, "t", b"{}"))
    assert fourth == link(third, event_digest(A, 4, "t", b"{}"))  # type: ignore[arg-type]


def test_a_stream_stored_before_chaining_stays_unchained_until_sealed() -> None:
    assert chain_hashes([stored(A, 5), stored(A, 6), stored(B, 1)], {A: None})[:2] == [None, None]


# -- verification over rows -----------------------------------------------------------


def chained_rows(streams: list[tuple[UUID, int]]) -> list[ChainRow]:
    """Rows of streams (id, number of events), positions interleaved round-robin."""
    rows: list[ChainRow] = []
    hashes: dict[UUID, bytes] = {}
    longest = max(n for _, n in streams)
    for version in range(1, longest + 1):
        for stream, n in streams:
            if version <= n:
                state = f"{stream.int}:{version}".encode()
                h = link(hashes.get(stream, GENESIS), event_digest(stream, version, "t", state))
                hashes[stream] = h
                rows.append(ChainRow(len(rows) + 1, stream, version, "t", state, h))
    return rows


def by_stream(rows: list[ChainRow]) -> list[ChainRow]:
    return sorted(rows, key=lambda r: (r.originator_id, r.originator_version))


def problems(rows: list[ChainRow]) -> list[tuple[int, str]]:
    return [(f.position, f.problem) for f in stream_findings("work", by_stream(rows))]


SHAPES = st.lists(st.integers(1, 6), min_size=1, max_size=5).map(
    lambda ns: [(UUID(int=i + 1), n) for i, n in enumerate(ns)]
)


@given(SHAPES)
def test_an_intact_log_has_no_findings(shape: list[tuple[UUID, int]]) -> None:
    assert problems(chained_rows(shape)) == []


@given(SHAPES, st.data())
def test_an_edited_state_is_named_and_nothing_else(
    shape: list[tuple[UUID, int]], data: st.DataObject
) -> None:
    rows = chained_rows(shape)
    index = data.draw(st.integers(0, len(rows) - 1))
    rows[index] = attrs.evolve(rows[index], state=rows[index].state + b" ")
    assert problems(rows) == [(rows[index].position, BROKEN_LINK)]


@given(SHAPES, st.data())
def test_a_removed_event_is_named_by_the_next_one_of_its_stream(
    shape: list[tuple[UUID, int]], data: st.DataObject
) -> None:
    rows = chained_rows(shape)
    middle = [
        r for r in rows if r.originator_version < dict(shape)[r.originator_id]
    ]  # not a stream's last event
    if not middle:
        return
    gone = data.draw(st.sampled_from(middle))
    rows.remove(gone)
    after = next(
        r
        for r in rows
        if r.originator_id == gone.originator_id
        and r.originator_version == gone.originator_version + 1
    )
    found = stream_findings("work", by_stream(rows))
    assert [(f.position, f.problem) for f in found] == [
        (after.position, f"version {gone.originator_version} is missing before it in its stream")
    ]


def test_swapped_states_name_the_earlier_event() -> None:
    rows = chained_rows([(A, 4)])
    rows[1], rows[2] = (
        attrs.evolve(rows[1], state=rows[2].state),
        attrs.evolve(rows[2], state=rows[1].state),
    )
    assert problems(rows) == [(2, BROKEN_LINK), (3, BROKEN_LINK)]


def test_legacy_streams_are_no_finding_but_a_removed_hash_is() -> None:
    legacy = [attrs.evolve(r, chain_hash=None) for r in chained_rows([(A, 3)])]
    assert problems(legacy) == []
    rows = chained_rows([(B, 3)])
    rows[1] = attrs.evolve(rows[1], chain_hash=None)
    assert problems(rows) == [(2, REMOVED_HASH)]
    rows = chained_rows([(B, 3)])
    rows[0] = attrs.evolve(rows[0], chain_hash=None)
    assert problems(rows) == [(1, REMOVED_HASH)]


# -- checkpoints ----------------------------------------------------------------------


def checkpoint(rows: list[ChainRow], upto: int) -> Checkpoint:
    cumulative = GENESIS
    covered = [r for r in rows if r.position <= upto]
    for row in covered:
        cumulative = fold(cumulative, row.position, row.digest())
    return Checkpoint("work", upto, cumulative, len(covered), AT)


def test_checkpoints_catch_a_removed_stream_tail_and_bound_it() -> None:
    rows = chained_rows([(A, 3), (B, 3)])  # positions 1..6; B's last event is 6
    checkpoints = [checkpoint(rows, 2), checkpoint(rows, 4), checkpoint(rows, 6)]
    assert list(checkpoint_findings("work", rows, checkpoints)) == []
    tail = [r for r in rows if r.position != 6]
    assert problems(tail) == []  # no link shows it
    (finding,) = checkpoint_findings("work", tail, checkpoints)
    assert finding.position == 6
    assert "covered 6 events, 5 are stored" in finding.problem
    assert "after position 4 and up to 6" in finding.problem


@pytest.mark.parametrize("moved", [1, 3])
def test_checkpoints_catch_events_moved_in_the_log(moved: int) -> None:
    rows = chained_rows([(A, 2), (B, 2)])
    checkpoints = [checkpoint(rows, 4)]
    swapped = list(rows)
    swapped[moved - 1], swapped[moved] = (
        attrs.evolve(rows[moved], position=moved),
        attrs.evolve(rows[moved - 1], position=moved + 1),
    )
    assert problems(swapped) == []
    assert [f.position for f in checkpoint_findings("work", swapped, checkpoints)] == [4]


def test_a_version_below_one_is_named() -> None:
    rows = chained_rows([(A, 2)])
    rows[0] = attrs.evolve(rows[0], originator_version=0)
    assert [p for p, _ in problems(rows)] == [1, 2]
    assert problems(rows)[0][1] == "its version is below 1, where every stream starts"

