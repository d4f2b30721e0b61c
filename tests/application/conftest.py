"""Fixtures for application tests."""

from __future__ import annotations

import pytest

from auxot.adapters.clock import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when the test moves it."""
    return ManualClock()
