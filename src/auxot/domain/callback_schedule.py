"""When a failed callback attempt is tried again: a plain function of how many attempts
were made, what the receiver answered, and a jitter value the caller draws.

The schedule lists the wait before each attempt, the first usually 0 (at once); its
length is the number of attempts a delivery gets before it is dead. Waits are spread by
up to ``JITTER`` either way, so that receivers coming back from an outage are not hit by
every delivery at the same instant. A ``Retry-After`` on 429 or 503 replaces the
scheduled wait (the receiver named its time), capped at the schedule's longest wait.
"""

from __future__ import annotations

import attrs

from auxot.domain.durations import parse_duration

DEFAULT_SCHEDULE_TEXT = "0,5s,5m,30m,2h,5h,10h,10h"
JITTER = 0.2
"""Scheduled waits vary by up to this fraction, either way."""
RETRY_AFTER_CODES = frozenset({429, 503})


def _delays(value: tuple[float, ...]) -> tuple[float, ...]:
    if not value:
        raise ValueError("a callback schedule needs at least one attempt")
    if any(not 0 <= delay < float("inf") for delay in value):
        raise ValueError("callback schedule waits must be finite and at least 0")
    return tuple(float(delay) for delay in value)


@attrs.frozen
class CallbackSchedule:
    delays: tuple[float, ...] = attrs.field(converter=_delays)
    """Seconds to wait before each attempt, counted from the previous one's outcome."""

    @classmethod
    def parse(cls, text: str) -> CallbackSchedule:
        """``"0,5s,5m,30m"``: comma-separated durations (domain/durations.py)."""
        parts = [part.strip() for part in text.split(",")]
        if any(not part for part in parts):
            raise ValueError(f"'{text}' has an empty wait: use e.g. {DEFAULT_SCHEDULE_TEXT}")
        return cls(tuple(parse_duration(part) for part in parts))

    @property
    def attempts(self) -> int:
        return len(self.delays)

    def wait_after(
        self,
        tried: int,
        *,
        status_code: int | None,
        retry_after: float | None,
        jitter: float,
    ) -> float | None:
        """Seconds before the next attempt once ``tried`` attempts have failed, or None
        when none is left (the delivery is dead). ``jitter`` is drawn from [0, 1)."""
        if tried >= self.attempts:
            return None
        if retry_after is not None and status_code in RETRY_AFTER_CODES:
            return min(max(retry_after, 0.0), max(self.delays))
        spread = 1 + JITTER * (2 * jitter - 1)
        return self.delays[tried] * spread


DEFAULT_SCHEDULE = CallbackSchedule.parse(DEFAULT_SCHEDULE_TEXT)
