"""A step's declared retry policy (``retry: {attempts: 3, backoff: 2s}``) and the
durations it is written in."""

from __future__ import annotations

import math
import re

import attrs

from auxot.domain.retry import DEFAULT_MAX_BACKOFF_SECONDS, MAX_ATTEMPTS, RetryPolicy

Duration = str | int | float
"""``"500ms"``, ``"2s"``, ``"1.5m"``, ``"1h"``, or a plain number of seconds."""

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$")


def parse_duration(value: Duration) -> float:
    """Seconds, for a duration as declared; ValueError saying what is expected."""
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 2s, 500ms, 1m or a number of seconds")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        found = _DURATION.match(value)
        if found is None:
            raise ValueError(
                f"'{value}' is not a duration: write a number with a unit "
                "(500ms, 2s, 1.5m, 1h) or a number of seconds"
            )
        seconds = float(found[1]) * _UNITS[found[2]]
    if not 0 <= seconds < math.inf:
        raise ValueError("must be a finite duration, at least 0")
    return seconds


@attrs.frozen
class RetryDecl:
    """``attempts`` counts every run of the step, the first included (3: two retries)."""

    attempts: int
    backoff: Duration = 1.0
    max_backoff: Duration = DEFAULT_MAX_BACKOFF_SECONDS


def retry_issues(retry: RetryDecl) -> list[tuple[str, str]]:
    """What is wrong with ``retry``, as ``(field, message)``; empty when it is valid."""
    issues: list[tuple[str, str]] = []
    if isinstance(retry.attempts, bool) or not 1 <= retry.attempts <= MAX_ATTEMPTS:
        issues.append(("attempts", f"must be from 1 to {MAX_ATTEMPTS} (the first run included)"))
    seconds: dict[str, float] = {}
    for field in ("backoff", "max_backoff"):
        try:
            seconds[field] = parse_duration(getattr(retry, field))
        except ValueError as exc:
            issues.append((field, str(exc)))
    if len(seconds) == 2 and seconds["max_backoff"] < seconds["backoff"]:
        issues.append(("max_backoff", "must be at least backoff"))
    return issues


def retry_policy(retry: RetryDecl | None) -> RetryPolicy | None:
    """The domain's policy for a valid declaration (None for none, or for an invalid one,
    which ``retry_issues`` reports)."""
    if retry is None or retry_issues(retry):
        return None
    return RetryPolicy(
        attempts=retry.attempts,
        backoff_seconds=parse_duration(retry.backoff),
        max_backoff_seconds=parse_duration(retry.max_backoff),
    )
