"""A step's declared retry policy (``retry: {attempts: 3, backoff: 2s}``) and the
durations it is written in."""

from __future__ import annotations

import attrs

from auxot.domain.durations import Duration, parse_duration
from auxot.domain.retry import DEFAULT_MAX_BACKOFF_SECONDS, MAX_ATTEMPTS, RetryPolicy

MAX_BACKOFF_SECONDS = 86_400.0


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
    for field, value in seconds.items():
        if value > MAX_BACKOFF_SECONDS:
            issues.append((field, "must be at most 1 day"))
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
