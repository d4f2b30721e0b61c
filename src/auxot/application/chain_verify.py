"""Verifying a chained log, and sealing events stored before chaining.

Verification reads the log twice. Stream by stream, it recomputes every event's link
from the stored hash of the event before it: a changed event breaks its own link, a
removed or reordered one the link after it (or leaves a gap in the versions). In
position order, it folds every event into the running checkpoint hash and compares it
with each stored checkpoint: that catches what no link can, a stream's last events or a
whole stream removed, or events moved in the log. Each link is checked on its own, so
one edited event is named once and the events after it still verify.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from uuid import UUID

import attrs

from auxot.application.chain import GENESIS, ChainRow, Checkpoint, fold, link
from auxot.application.ports import ChainedLog

Progress = Callable[[int], None]
"""Told how many more events were read."""

KEPT_FINDINGS = 20


@attrs.frozen
class Finding:
    """Something wrong at ``position`` of ``log``: an event, or a checkpoint."""

    position: int
    log: str
    problem: str
    originator_id: UUID | None = None
    originator_version: int | None = None

    def describe(self) -> str:
        if self.originator_id is None:
            return f"{self.log} log: {self.problem}"
        return (
            f"{self.log} event at position {self.position} (stream {self.originator_id}, "
            f"version {self.originator_version}): {self.problem}"
        )


@attrs.frozen
class LogReport:
    log: str
    events: int
    unchained: int
    """Events without a chain hash that nothing shows was removed: stored before chaining."""
    problems: int
    findings: tuple[Finding, ...]
    """The earliest problems, by position (at most ``KEPT_FINDINGS``)."""
    checkpoints: int
    latest: Checkpoint | None
    kept: int = 0
    """Checkpoints kept outside the database that were checked too."""

    @property
    def ok(self) -> bool:
        return self.problems == 0 and self.unchained == 0


def _event_finding(row: ChainRow, problem: str, log: str) -> Finding:
    return Finding(row.position, log, problem, row.originator_id, row.originator_version)


BROKEN_LINK = (
    "its stored bytes do not match its chain hash: it was changed, or the event before "
    "it in its stream was changed, removed or reordered"
)
REMOVED_HASH = "its chain hash was removed (other events of its stream have theirs)"


def stream_findings(log: str, rows: Iterable[ChainRow]) -> Iterator[Finding]:
    """Problems in ``rows`` (stream by stream, each in version order): broken links,
    missing versions, removed hashes. A stream whose events all lack a hash was stored
    before chaining, and is no finding (the report counts it as unchained)."""
    stream: UUID | None = None
    expected = 1
    previous: bytes | None = GENESIS
    first_unchained: ChainRow | None = None
    chained = reported_unchained = False
    for row in rows:
        if row.originator_id != stream:
            stream, expected, previous = row.originator_id, 1, GENESIS
            first_unchained, chained, reported_unchained = None, False, False
        if row.originator_version > expected:
            missing = _versions(expected, row.originator_version - 1)
            yield _event_finding(row, f"{missing} missing before it in its stream", log)
        elif row.originator_version < expected:  # only below 1, where streams start
            yield _event_finding(row, "its version is below 1, where every stream starts", log)
        elif row.chain_hash is None:
            if chained:
                yield _event_finding(row, REMOVED_HASH, log)
            else:
                first_unchained = first_unchained or row
        elif previous is None:
            if first_unchained is not None and not reported_unchained:
                reported_unchained = True
                yield _event_finding(first_unchained, REMOVED_HASH, log)
        elif link(previous, row.digest()) != row.chain_hash:
            yield _event_finding(row, BROKEN_LINK, log)
        chained = chained or row.chain_hash is not None
        previous = row.chain_hash
        expected = row.originator_version + 1


def _versions(first: int, last: int) -> str:
    return f"version {first} is" if first == last else f"versions {first} to {last} are"


def checkpoint_findings(
    log: str, rows: Iterable[ChainRow], checkpoints: Sequence[Checkpoint]
) -> Iterator[Finding]:
    """The first checkpoint that the events (in position order) no longer fold to.
    Checkpoints are cumulative, so every later one fails with it: only the first says
    something, and it bounds where the change lies."""
    pending = sorted(checkpoints, key=lambda c: c.position)
    cumulative, count, good, index = GENESIS, 0, 0, 0

    def check(checkpoint: Checkpoint) -> Finding | None:
        nonlocal good
        if checkpoint.digest == cumulative and checkpoint.events == count:
            good = checkpoint.position
            return None
        return Finding(
            checkpoint.position,
            log,
            f"the checkpoint at position {checkpoint.position} ({origin(checkpoint)}) "
            "does not match: it covered "
            f"{checkpoint.events} events, {count} are stored up to it; an event after "
            f"position {good} and up to {checkpoint.position} was changed, removed or "
            "reordered",
        )

    for row in rows:
        while index < len(pending) and pending[index].position < row.position:
            if (finding := check(pending[index])) is not None:
                yield finding
                return
            index += 1
        cumulative, count = fold(cumulative, row.position, row.digest()), count + 1
    for checkpoint in pending[index:]:
        if (finding := check(checkpoint)) is not None:
            yield finding
            return


def origin(checkpoint: Checkpoint) -> str:
    """Where a checkpoint comes from, for people."""
    if checkpoint.at is None:
        return "kept outside the database"
    return f"written {checkpoint.at:%Y-%m-%d %H:%M:%S %Z}"


class _Counted:
    """Rows passed through, counted, with progress told every ``every`` rows."""

    def __init__(self, rows: Iterable[ChainRow], progress: Progress, every: int = 1000) -> None:
        self._rows, self._progress, self._every = rows, progress, every
        self.total = self.unchained = 0

    def __iter__(self) -> Iterator[ChainRow]:
        told = 0
        for row in self._rows:
            self.total += 1
            self.unchained += row.chain_hash is None
            if self.total - told >= self._every:
                self._progress(self.total - told)
                told = self.total
            yield row
        self._progress(self.total - told)


class _Earliest:
    """The ``keep`` earliest findings by position, and how many there were in all."""

    def __init__(self, keep: int = KEPT_FINDINGS) -> None:
        self._heap: list[tuple[int, int, Finding]] = []  # a max-heap by position
        self._keep = keep
        self.count = self.removed_hashes = 0

    def add(self, findings: Iterable[Finding]) -> None:
        for finding in findings:
            self.count += 1
            self.removed_hashes += finding.problem == REMOVED_HASH
            heapq.heappush(self._heap, (-finding.position, -self.count, finding))
            if len(self._heap) > self._keep:
                heapq.heappop(self._heap)

    def earliest(self) -> tuple[Finding, ...]:
        return tuple(sorted((f for _, _, f in self._heap), key=lambda f: f.position))


def verify_log(
    log: ChainedLog, progress: Progress = lambda _: None, kept: Sequence[Checkpoint] = ()
) -> LogReport:
    """Check every link and every checkpoint of ``log``, the stored ones and those
    ``kept`` outside the database (which catch a log rewritten together with its stored
    checkpoints). Reads the log twice: ``progress`` is told twice ``log.count()`` in all."""
    checkpoints = log.checkpoints()
    found = _Earliest()
    by_stream = _Counted(log.by_stream(), progress)
    found.add(stream_findings(log.name, by_stream))
    every = [*checkpoints, *kept]
    found.add(checkpoint_findings(log.name, _Counted(log.by_position(), progress), every))
    return LogReport(
        log=log.name,
        events=by_stream.total,
        unchained=by_stream.unchained - found.removed_hashes,
        problems=found.count,
        findings=found.earliest(),
        checkpoints=len(checkpoints),
        latest=checkpoints[-1] if checkpoints else None,
        kept=len(kept),
    )


def seal_log(log: ChainedLog, progress: Progress = lambda _: None, batch: int = 1000) -> int:
    """Give every event without a chain hash one, in stream order, trusting the log as
    it stands: run it once after upgrading, before the log could have been edited. An
    event appended to an unchained stream while sealing stays unchained: run it again."""
    sealed = 0
    pending: list[tuple[UUID, int, bytes]] = []
    stream: UUID | None = None
    previous = GENESIS
    for row in _Counted(log.by_stream(), progress):
        if row.originator_id != stream:
            stream, previous = row.originator_id, GENESIS
        if row.chain_hash is None:
            previous = link(previous, row.digest())
            pending.append((row.originator_id, row.originator_version, previous))
        else:
            previous = row.chain_hash
        if len(pending) >= batch:
            sealed += log.seal(pending)
            pending.clear()
    return sealed + log.seal(pending)
