"""Retry policies: whether, and when, a failed step runs again.

The decision is a pure function of the step's policy, the attempt that failed and
whether its cause was transient, so replaying a work item's events always reaches the
same decision.
"""

from __future__ import annotations

import math
from datetime import timedelta

import attrs

DEFAULT_MAX_BACKOFF_SECONDS = 300.0
MAX_ATTEMPTS = 100


def _positive_int(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not 1 <= value <= MAX_ATTEMPTS:
        raise ValueError(f"{attribute.name} must be an integer from 1 to {MAX_ATTEMPTS}")


def _seconds(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0 <= value < math.inf:
        raise ValueError(f"{attribute.name} must be a finite number of seconds, at least 0")


@attrs.frozen
class RetryPolicy:
    """Run a step up to ``attempts`` times in all, the first run included, while it fails
    for a transient cause. After the n-th failed attempt the next one waits
    ``backoff_seconds * 2 ** (n - 1)``, never more than ``max_backoff_seconds``.

    There is no jitter: the retries of many items failing together are spread by their
    provider's ``max_parallel`` (they queue for its slots), not by randomness.
    """

    attempts: int = attrs.field(validator=_positive_int)
    backoff_seconds: float = attrs.field(validator=_seconds)
    max_backoff_seconds: float = attrs.field(
        default=DEFAULT_MAX_BACKOFF_SECONDS, validator=_seconds
    )

    def backoff_after(self, attempt: int) -> timedelta:
        """The wait after the ``attempt``-th failed attempt (1-based)."""
        exponent = min(max(attempt - 1, 0), 64)  # beyond this the cap has long applied
        seconds = min(self.backoff_seconds * 2.0**exponent, self.max_backoff_seconds)
        return timedelta(seconds=seconds)


def retry_delay(policy: RetryPolicy | None, attempt: int, *, retryable: bool) -> timedelta | None:
    """How long to wait before running the step again after its ``attempt``-th attempt
    failed; None when it must not run again (no policy, a cause that is not transient,
    or the last allowed attempt)."""
    if policy is None or not retryable or attempt >= policy.attempts:
        return None
    return policy.backoff_after(attempt)
