"""Replay: rebuild a projection from the whole event log, beside the live one, and hand
over without a gap.

The live projection keeps running (in this process or any other) while its rebuild
reads the log from the first event into shadow tables. Then the shadow is caught up to
the head of the log and swapped in, in one transaction, if it is at or past the live
position; when the live projection moved on meanwhile (new events arrived), the shadow
catches up again and the swap is tried again. Readers see the old rows until the swap
commits and the rebuilt ones after it; no event is skipped or applied twice, since the
shadow's position becomes the live one.

Run one replay of a projection at a time: a second one would empty the first one's
shadow tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import attrs

from auxot.application.projections import Projection

SWAP_ATTEMPTS = 100
"""How often the swap is tried: each failed try means the log grew while the shadow
caught up, so only a log that outgrows the rebuild's reading every time exhausts it."""


class ReplayError(RuntimeError):
    pass


@attrs.frozen
class Replayed:
    name: str
    events: int
    """Events the rebuild folded."""
    position: int
    """The notification id the rebuilt projection took over at."""
    seconds: float


Progress = Callable[[int, int], None]
"""Called after each batch with (the rebuild's position, the log's head)."""


def replay(
    projection: Projection,
    progress: Progress | None = None,
    *,
    monotonic: Callable[[], float] = time.monotonic,
) -> Replayed:
    """Rebuild ``projection`` from scratch and swap it in."""
    started = monotonic()
    rebuild = projection.rebuild()
    events = 0
    for _ in range(SWAP_ATTEMPTS):
        while projected := rebuild.catch_up():
            events += projected
            if progress is not None:
                progress(rebuild.position, projection.head())
        position = rebuild.position  # the shadow's, gone once swapped in
        if rebuild.swap_in():
            return Replayed(projection.name, events, position, monotonic() - started)
    raise ReplayError(
        f"the {projection.name} projection moved past its rebuild {SWAP_ATTEMPTS} times; "
        "replay again when the log grows more slowly"
    )
