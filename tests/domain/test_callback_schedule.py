"""The callback retry schedule: a plain function of attempts made, answer and jitter."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auxot.domain.callback_schedule import DEFAULT_SCHEDULE, JITTER, CallbackSchedule

jitters = st.floats(min_value=0, max_value=1, exclude_max=True)


def test_the_default_schedule_is_at_once_then_5s_5m_30m_2h_5h_10h_10h() -> None:
    assert DEFAULT_SCHEDULE.delays == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    assert DEFAULT_SCHEDULE.attempts == 8


def test_a_schedule_is_parsed_from_durations() -> None:
    assert CallbackSchedule.parse("0, 1.5s,2m,1h30m").delays == (0, 1.5, 120, 5400)


@pytest.mark.parametrize("text", ["", "5s,,5m", "5x", "-1", "1s,inf"])
def test_a_malformed_schedule_is_refused(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - any of parse_duration's messages
        CallbackSchedule.parse(text)


@given(tried=st.integers(1, 7), jitter=jitters, code=st.sampled_from([None, 500, 404, 302]))
def test_a_retry_waits_the_scheduled_time_give_or_take_the_jitter(
    tried: int, jitter: float, code: int | None
) -> None:
    wait = DEFAULT_SCHEDULE.wait_after(tried, status_code=code, retry_after=None, jitter=jitter)
    scheduled = DEFAULT_SCHEDULE.delays[tried]
    assert wait is not None
    assert scheduled * (1 - JITTER) <= wait <= scheduled * (1 + JITTER)


@given(tried=st.integers(8, 100), jitter=jitters, retry_after=st.none() | st.floats(0, 1e6))
def test_no_attempt_follows_the_last(tried: int, jitter: float, retry_after: float | None) -> None:
    wait = DEFAULT_SCHEDULE.wait_after(
        tried, status_code=429, retry_after=retry_after, jitter=jitter
    )
    assert wait is None


@given(
    tried=st.integers(1, 7),
    code=st.sampled_from([429, 503]),
    retry_after=st.floats(0, 1e9),
    jitter=jitters,
)
def test_retry_after_on_429_and_503_sets_the_wait_capped_at_the_longest_scheduled(
    tried: int, code: int, retry_after: float, jitter: float
) -> None:
    wait = DEFAULT_SCHEDULE.wait_after(
        tried, status_code=code, retry_after=retry_after, jitter=jitter
    )
    assert wait == min(retry_after, 36000)


def test_retry_after_counts_only_on_429_and_503() -> None:
    wait = DEFAULT_SCHEDULE.wait_after(1, status_code=500, retry_after=3600, jitter=0.5)
    assert wait == 5


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=20), jitters)
def test_every_wait_is_finite_and_never_negative(delays: list[float], jitter: float) -> None:
    schedule = CallbackSchedule(tuple(delays))
    for tried in range(1, len(delays)):
        wait = schedule.wait_after(tried, status_code=None, retry_after=None, jitter=jitter)
        assert wait is not None
        assert 0 <= wait < float("inf")
