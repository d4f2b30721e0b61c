"""Statistics per intake and per workflow, over one day.

"Today" is the calendar day in UTC unless the caller names an IANA time zone: the day
that holds ``now`` there, from its midnight to the next (23 or 25 hours long on the days
clocks change). ``runs`` counts the items received in that day; ``completed``,
``failed`` and ``cancelled`` the items that ended in it; the success rate is completed
over completed and failed (cancellations are nobody's success or failure; None when
neither happened); the durations (receipt to end) are nearest-rank percentiles of the
items that completed or failed in it.
"""

from __future__ import annotations

import math
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import attrs

from auxot.application.ports import StatsCounts

PERCENTILES = (50, 95)


@attrs.frozen
class Stats:
    start: datetime
    end: datetime
    time_zone: str
    runs: int
    completed: int
    failed: int
    cancelled: int
    success_rate: float | None
    p50_ms: int | None
    p95_ms: int | None


def nearest_rank(percentile: int, count: int) -> int:
    """The index, in ``count`` sorted values, of the nearest-rank ``percentile``."""
    return max(0, math.ceil(percentile / 100 * count) - 1)


def day_of(now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The calendar day holding ``now`` in ``zone``: [its midnight, the next midnight)."""
    local = now.astimezone(zone).date()
    start = datetime.combine(local, time(), tzinfo=zone)
    end = datetime.combine(local + timedelta(days=1), time(), tzinfo=zone)
    return start, end


def stats_of(counts: StatsCounts, start: datetime, end: datetime, zone: str) -> Stats:
    decided = counts.completed + counts.failed
    return Stats(
        start=start,
        end=end,
        time_zone=zone,
        runs=counts.runs,
        completed=counts.completed,
        failed=counts.failed,
        cancelled=counts.cancelled,
        success_rate=None if decided == 0 else round(counts.completed / decided, 4),
        p50_ms=counts.durations.get(50),
        p95_ms=counts.durations.get(95),
    )
