"""A bad database URL, an unreachable database or a bad setting: every command fails at
once with one clear line on stderr, never a traceback."""

from __future__ import annotations

import time

import pytest

from tests.entrypoints.cli.procs import Cli, cli_env, free_port
from tests.support import EXAMPLE_WORKFLOW

COMMANDS = {
    "serve": ["serve", "--port", str(free_port())],
    "worker": ["worker"],
    "apply": ["apply", "workflow.yaml"],
}


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("auxot: ")
    return lines[0]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_unsupported_database_url_is_refused(cli: Cli, command: str) -> None:
    cli.write("workflow.yaml", EXAMPLE_WORKFLOW)
    done = cli.run(*COMMANDS[command], "--database", "mysql://db.example.org/auxot")
    assert done.returncode == 1
    assert done.stdout == ""
    line = one_line(done.stderr)
    assert "unsupported database URL 'mysql://db.example.org/auxot'" in line
    assert "sqlite:///" in line  # says what would work


@pytest.mark.parametrize(
    "url", ["sqlite://", "postgresql://postgres@127.0.0.1:5432", "postgresql://u@h:99999/db"]
)
def test_an_incomplete_database_url_is_refused(cli: Cli, url: str) -> None:
    done = cli.run("keys", "create", "--team", "support", "--database", url)
    assert done.returncode == 1
    assert f"'{url}'" in one_line(done.stderr)


def test_an_unreachable_postgresql_fails_fast_with_the_reason(cli: Cli) -> None:
    closed = free_port()  # nothing listens there
    url = f"postgresql://postgres:s3cret@127.0.0.1:{closed}/auxot"
    for args in (["worker"], ["keys", "create", "--team", "support"]):
        started = time.monotonic()
        done = cli.run(*args, "--database", url)
        elapsed = time.monotonic() - started
        assert done.returncode == 1
        line = one_line(done.stderr)
        assert f"postgresql://postgres@127.0.0.1:{closed}/auxot" in line
        assert "s3cret" not in line  # the password is never shown
        assert "refused" in line.lower()
        assert elapsed < 8  # not the connection pool's whole timeout


def test_a_missing_postgresql_database_is_named(cli: Cli) -> None:
    url = "postgresql://postgres@127.0.0.1:5432/auxot_no_such_database"
    done = cli.run("apply", str(cli.write("w.yaml", EXAMPLE_WORKFLOW)), "--database", url)
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert 'database "auxot_no_such_database" does not exist' in line


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AUXOT_PORT", "eighty"),
        ("AUXOT_PORT", "99999"),
        ("AUXOT_LEASE_GRACE_SECONDS", "soon"),
        ("AUXOT_POLL_INTERVAL", "0.x"),
    ],
)
def test_a_malformed_setting_in_the_environment_is_named(
    cli: Cli, sqlite_url: str, name: str, value: str
) -> None:
    done = cli.run("worker", "--database", sqlite_url, env=cli_env(**{name: value}))
    assert done.returncode == 1
    assert one_line(done.stderr).startswith(f"auxot: {name}='{value}' is not valid")


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_a_port_out_of_range_is_a_usage_error(cli: Cli, sqlite_url: str, command: str) -> None:
    """Not a server that hangs without a word (what uvicorn does with port 99999)."""
    done = cli.run(command, "--port", "99999", "--database", sqlite_url)
    assert done.returncode == 2
    assert "Invalid value for '--port': 99999 is not in the range" in done.stderr
