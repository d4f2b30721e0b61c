"""``auxot audit verify``, ``audit checkpoint`` and ``audit seal`` as subprocesses."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
from pathlib import Path

import psycopg

from auxot.adapters.persistence import parse_database_url
from tests.entrypoints.cli.procs import AUXOT, Cli, cli_env
from tests.support import EXAMPLE_WORKFLOW

CHECKPOINT = re.compile(r"^registry: position (\d+), (\d+) events, sha256:([0-9a-f]{64})$", re.M)


def tamper_first_registry_event(url: str) -> int:
    """Flip a bit in the state of the registry's first event; its position."""
    database = parse_database_url(url)
    update = (
        "UPDATE registry_events SET state = {0} WHERE {1} = (SELECT min({1}) FROM registry_events)"
    )
    if database.backend == "sqlite":
        with sqlite3.connect(database.path) as conn:
            conn.execute(update.format("CAST('tampered' AS BLOB)", "rowid"))
            return int(conn.execute("SELECT min(rowid) FROM registry_events").fetchone()[0])
    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute(update.format("'tampered'::bytea", "notification_id"))
        found = pg.execute("SELECT min(notification_id) FROM registry_events").fetchone()
        assert found is not None
        return int(found[0])


def test_verify_passes_a_clean_log_and_names_the_first_edited_event(cli: Cli, db_url: str) -> None:
    cli.apply(EXAMPLE_WORKFLOW, db_url)
    cli.create_key(db_url)

    checkpoint = cli.ok("audit", "checkpoint", "--database", db_url)
    found = CHECKPOINT.search(checkpoint)
    assert found, checkpoint
    position, events, digest = found.groups()

    clean = cli.run("audit", "verify", "--database", db_url)
    assert clean.returncode == 0, clean.stderr
    assert f"registry: {events} events, 1 checkpoint: verified" in clean.stdout
    assert "work: 0 events, 0 checkpoints: verified" in clean.stdout
    # The latest checkpoint, to keep elsewhere, is printed by verify too.
    assert f"latest checkpoint: position {position}, {events} events, sha256:{digest}" in (
        clean.stdout
    )
    # Progress goes to stderr: a line per tenth where it is no terminal.
    assert "verifying the registry log: 0%\n" in clean.stderr
    assert "verifying the registry log: 100%\n" in clean.stderr

    edited = tamper_first_registry_event(db_url)
    tampered = cli.run("audit", "verify", "--database", db_url)
    assert tampered.returncode == 1
    assert "registry: " in tampered.stdout
    assert "NOT VERIFIED" in tampered.stdout
    first = next(line for line in tampered.stdout.splitlines() if "first problem" in line)
    assert f"registry event at position {edited} " in first
    assert "do not match its chain hash" in first
    assert "work: 0 events, 0 checkpoints: verified" in tampered.stdout


def test_memory_has_no_log_to_verify(cli: Cli) -> None:
    done = cli.run("audit", "verify", "--database", "memory://")
    assert done.returncode == 2
    assert "memory:// keeps its events in the process that holds them" in done.stderr


def test_seal_chains_what_an_earlier_release_stored(cli: Cli, sqlite_url: str) -> None:
    cli.apply(EXAMPLE_WORKFLOW, sqlite_url)
    path = parse_database_url(sqlite_url).path
    with sqlite3.connect(path) as conn:  # as a release before chaining left the table
        conn.execute("UPDATE registry_events SET chain_hash = NULL")
        events = conn.execute("SELECT count(*) FROM registry_events").fetchone()[0]
    unsealed = cli.run("audit", "verify", "--database", sqlite_url)
    assert unsealed.returncode == 1
    assert f"{events} events have no chain hash" in unsealed.stdout
    assert "`auxot audit seal`" in unsealed.stdout

    assert f"registry: {events} events chained" in cli.ok("audit", "seal", "--database", sqlite_url)
    assert cli.run("audit", "verify", "--database", sqlite_url).returncode == 0


GUIDE = Path(__file__).resolve().parents[3] / "docs" / "auditors-guide.md"


def guide_commands(section: str) -> list[str]:
    """The ``auxot`` command lines of the guide's ``sh`` blocks under ``## {section}``."""
    text = GUIDE.read_text(encoding="utf-8")
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", body, re.S)
    return [line for block in blocks for line in block.splitlines() if line.startswith("auxot ")]


def test_the_guide_s_verify_commands_run_as_written(cli: Cli) -> None:
    commands = guide_commands("Verify")
    assert len(commands) == 3
    cli.apply(EXAMPLE_WORKFLOW, "sqlite:///auxot.db")  # the guide's database, in cli.cwd
    env = cli_env(PATH=f"{Path(AUXOT).parent}{os.pathsep}{os.environ['PATH']}")
    for line in commands:
        done = subprocess.run(  # a shell, as a reader would type it
            ["bash", "-c", line], cwd=cli.cwd, env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, (line, done.stderr)
        assert re.match(r"registry: (position|\d+ events)", done.stdout), done.stdout


def test_a_kept_checkpoint_catches_a_log_rewritten_with_its_stored_checkpoints(
    cli: Cli, sqlite_url: str
) -> None:
    cli.apply(EXAMPLE_WORKFLOW, sqlite_url)
    found = CHECKPOINT.search(cli.ok("audit", "checkpoint", "--database", sqlite_url))
    assert found
    kept = found.group(0)
    assert cli.run("audit", "verify", "--expect", kept, "--database", sqlite_url).returncode == 0

    # Someone with write access removes the registry's last event (no link shows that)
    # and recomputes the stored checkpoints (the hashes are public): they match again.
    path = parse_database_url(sqlite_url).path
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM chain_checkpoints")
        conn.execute(
            "DELETE FROM registry_events WHERE rowid = (SELECT max(rowid) FROM registry_events)"
        )
    cli.ok("audit", "checkpoint", "--database", sqlite_url)
    assert cli.run("audit", "verify", "--database", sqlite_url).returncode == 0

    caught = cli.run("audit", "verify", "--expect", kept, "--database", sqlite_url)
    assert caught.returncode == 1
    assert "1 checkpoint (and 1 kept outside): NOT VERIFIED" in caught.stdout
    assert (
        f"the checkpoint at position {found.group(1)} (kept outside the database) does not match"
        in caught.stdout
    )

    bad = cli.run("audit", "verify", "--expect", "work: 12", "--database", sqlite_url)
    assert bad.returncode == 2
    assert "is not a checkpoint as `auxot audit checkpoint` prints it" in bad.stderr

    unknown = kept.replace("registry:", "nolog:")
    refused = cli.run("audit", "verify", "--expect", unknown, "--database", sqlite_url)
    assert refused.returncode == 2
    assert "--expect names no log here: nolog" in refused.stderr
