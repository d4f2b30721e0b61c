"""Checkpoints: the worker periodically folds each log's new events into the running hash
of the whole log (``auxot.application.chain.fold``) and stores it with the position.

A checkpoint continues from the latest stored one rather than from the start: the fold
is the same either way while the log is intact, and ``auxot audit verify`` recomputes
every checkpoint from the start, so one computed from an edited predecessor still fails
there. Two workers may both write one; at the same position the first stays, and at
different positions both are correct. Events up to a checkpoint's position are final:
both backends hand out positions in commit order (PostgreSQL under the table lock,
SQLite under the file's write lock), so no event can later appear below it.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from auxot.application.chain import GENESIS, Checkpoint, fold
from auxot.application.ports import ChainedLog, Clock


@attrs.frozen
class CheckpointRun:
    made: tuple[Checkpoint, ...]
    behind: bool
    """Some log had more new events than one run folds: run again at once."""


class Checkpointer:
    def __init__(self, logs: Sequence[ChainedLog], clock: Clock, max_events: int = 100_000) -> None:
        self._logs = logs
        self._clock = clock
        self._max_events = max_events

    def run(self) -> CheckpointRun:
        """A checkpoint for each log with events past its latest, over at most
        ``max_events`` of them."""
        made: list[Checkpoint] = []
        behind = False
        for log in self._logs:
            checkpoint, full = self._extend(log)
            if checkpoint is not None:
                log.add_checkpoint(checkpoint)
                made.append(checkpoint)
            behind = behind or full
        return CheckpointRun(tuple(made), behind)

    def _extend(self, log: ChainedLog) -> tuple[Checkpoint | None, bool]:
        latest = log.latest_checkpoint()
        after = latest.position if latest else 0
        cumulative = latest.digest if latest else GENESIS
        count, position = 0, after
        for row in log.by_position(after, limit=self._max_events):
            cumulative = fold(cumulative, row.position, row.digest())
            count, position = count + 1, row.position
        if not count:
            return None, False
        checkpoint = Checkpoint(
            log=log.name,
            position=position,
            digest=cumulative,
            events=(latest.events if latest else 0) + count,
            at=self._clock.now(),
        )
        return checkpoint, count == self._max_events
