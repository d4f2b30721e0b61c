"""Fixtures for driving the ``auxot`` command line as real subprocesses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.entrypoints.cli.procs import Cli


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    """``auxot`` in a scratch directory; every process it starts is killed at teardown."""
    runner = Cli(tmp_path)
    try:
        yield runner
    finally:
        runner.close()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh SQLite file or PostgreSQL database, in turn."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))
