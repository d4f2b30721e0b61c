"""The hash chain over stored events: pure functions, the one definition every recorder
and ``auxot audit verify`` share.

Each stored event gets a **chain hash**: SHA-256 of the previous event's chain hash in
the same stream (``GENESIS`` for a stream's first event) and the event's **digest**, the
SHA-256 of a canonical encoding of exactly what is stored: originator id, version,
topic and state bytes. Changing any stored byte of an event breaks its own link;
removing or reordering events of a stream breaks the link of the event after them.

A **checkpoint** folds the digests of the whole log, in notification order, with each
event's position: it catches what a stream's own chain cannot see (a stream's last
events removed, a stream removed or rewritten as a whole, events moved in the log).

The hashes are not keyed: someone who can write to the database can also compute them.
They prove that history was not edited only against checkpoints kept elsewhere (see the
auditor's guide).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

import attrs

GENESIS = bytes(32)
"""What a stream's first event chains to, and where a checkpoint's fold starts."""

_HEAD = struct.Struct(">16sqI")  # originator id, version, length of the topic
_STATE_LENGTH = struct.Struct(">Q")
_POSITION = struct.Struct(">q")


class StoredLike(Protocol):
    """What the chain reads of an event: the library's StoredEvent fits."""

    @property
    def originator_id(self) -> UUID | str: ...

    @property
    def originator_version(self) -> int: ...

    @property
    def topic(self) -> str: ...

    @property
    def state(self) -> bytes: ...


def as_uuid(originator_id: UUID | str) -> UUID:
    return originator_id if isinstance(originator_id, UUID) else UUID(originator_id)


def event_digest(originator_id: UUID, version: int, topic: str, state: bytes) -> bytes:
    """SHA-256 of the event's canonical encoding: fixed-width id and version, then the
    topic and the state, each after its length (so no two events encode alike)."""
    encoded_topic = topic.encode("utf-8")
    return hashlib.sha256(
        b"".join(
            (
                _HEAD.pack(originator_id.bytes, version, len(encoded_topic)),
                encoded_topic,
                _STATE_LENGTH.pack(len(state)),
                state,
            )
        )
    ).digest()


def link(previous: bytes, digest: bytes) -> bytes:
    """The chain hash of an event whose predecessor's chain hash is ``previous``."""
    return hashlib.sha256(previous + digest).digest()


def fold(cumulative: bytes, position: int, digest: bytes) -> bytes:
    """A checkpoint's running hash after the event at ``position``."""
    return hashlib.sha256(cumulative + _POSITION.pack(position) + digest).digest()


# -- the write path ----------------------------------------------------------------------


def predecessors_needed(events: Sequence[StoredLike]) -> list[tuple[UUID, int]]:
    """(stream, version) of each stream's first event in the batch whose predecessor is
    stored already: every version but 1. A batch of new items (the intake) needs none,
    so it costs no read."""
    if all(event.originator_version == 1 for event in events):
        return []
    seen: set[int] = set()
    needed: list[tuple[UUID, int]] = []
    for event in events:
        stream = as_uuid(event.originator_id)
        if stream.int not in seen:
            seen.add(stream.int)
            if event.originator_version != 1:
                needed.append((stream, event.originator_version))
    return needed


def chain_hashes(
    events: Sequence[StoredLike], predecessors: Mapping[UUID, bytes | None]
) -> list[bytes | None]:
    """The chain hash of each event of a batch, in order.

    ``predecessors`` maps a stream to the stored chain hash of its last event before the
    batch, for the streams ``predecessors_needed`` named; a stream absent from it has no
    stored event yet and starts at ``GENESIS``. A predecessor without a hash (stored
    before chaining, not yet sealed) leaves the stream unchained: None, until
    ``auxot audit seal`` chains the whole stream in order.

    On the intake's write path: streams are keyed by their ids' ints (a UUID's own hash
    is computed in Python), and a version 1 needs no lookup at all.
    """
    stored = {stream.int: h for stream, h in predecessors.items()}
    last: dict[int, bytes | None] = {}
    hashes: list[bytes | None] = []
    for event in events:
        stream = as_uuid(event.originator_id)
        if stream.int in last:
            previous = last[stream.int]
        elif event.originator_version == 1:
            previous = GENESIS
        else:
            previous = stored.get(stream.int, GENESIS)
        chained = (
            None
            if previous is None
            else link(
                previous,
                event_digest(stream, event.originator_version, event.topic, event.state),
            )
        )
        last[stream.int] = chained
        hashes.append(chained)
    return hashes


# -- what verification reads -------------------------------------------------------------


@attrs.frozen
class ChainRow:
    """One stored event as the database holds it, with its position in the log."""

    position: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes
    chain_hash: bytes | None

    def digest(self) -> bytes:
        return event_digest(self.originator_id, self.originator_version, self.topic, self.state)


@attrs.frozen
class Checkpoint:
    """The fold of every event of ``log`` up to ``position`` (``events`` of them), written
    ``at``; None for a copy kept outside the database and handed to verification."""

    log: str
    position: int
    digest: bytes
    events: int
    at: datetime | None
