"""Durations as the workflow file writes them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auxot.application.human_steps import timeout_seconds
from auxot.domain.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("written", "seconds"),
    [(90, 90), ("90", 90), (0, 0), (0.5, 0.5), ("45s", 45), ("30m", 1800), ("2h", 7200),
     ("1d", 86400), ("1h30m", 5400), (" 2H ", 7200), ("1d2h3m4s", 93784), ("500ms", 0.5),
     ("1.5m", 90), ("1.5h", 5400), ("2s500ms", 2.5)],
)
def test_durations_parse_to_seconds(written: float | str, seconds: float) -> None:
    assert parse_duration(written) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "written",
    [-5, "-5s", "", "2 hours", "h", "1h1h", "m30", True, "30x", float("inf"), "nan"],
)
def test_anything_else_is_refused(written: float | str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        parse_duration(written)


@pytest.mark.parametrize("written", [0, "0", "0m", "500ms", "367d", "10000000d"])
def test_a_human_step_timeout_is_from_a_second_to_a_year(written: float | str) -> None:
    with pytest.raises(ValueError, match="from 1 second to 366 days"):
        timeout_seconds(written)
    assert timeout_seconds("1.2s") == 2  # rounded up to whole seconds


@given(st.integers(min_value=1, max_value=10**8))
def test_a_formatted_duration_parses_back(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


def test_formats_read_naturally() -> None:
    assert [format_duration(s) for s in (45, 90, 7200, 5400, 86400)] == [
        "45s", "1m30s", "2h", "1h30m", "1d",
    ]
