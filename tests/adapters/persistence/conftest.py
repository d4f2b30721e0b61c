"""Fixtures for persistence adapter tests."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", "postgres"])
def durable_url(request: pytest.FixtureRequest) -> str:
    """The backends that keep data once closed, each on a fresh database."""
    return str(request.getfixturevalue(f"{request.param}_url"))
