"""``auxot apply`` showing a new intake's secret, ``auxot intakes secret`` and
``auxot intakes rotate-secret`` as subprocesses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from auxot.domain.signing_secrets import secret_key
from tests.entrypoints.cli.procs import Cli
from tests.support import EXAMPLE_WORKFLOW


def test_apply_shows_the_secret_of_a_new_intake_only(cli: Cli, sqlite_url: str) -> None:
    [created] = cli.apply(EXAMPLE_WORKFLOW, sqlite_url)["intakes"]
    assert len(secret_key(created["secret"])) >= 24
    [again] = cli.apply(EXAMPLE_WORKFLOW, sqlite_url)["intakes"]
    assert again["status"] == "unchanged"
    assert "secret" not in again
    shown = json.loads(cli.ok("intakes", "secret", created["id"], "--database", sqlite_url))
    assert shown == {
        "intake_id": created["id"],
        "secret": created["secret"],
        "previous_valid_until": None,
    }


def test_rotate_secret_keeps_the_old_one_for_the_grace_period(cli: Cli, sqlite_url: str) -> None:
    [intake] = cli.apply(EXAMPLE_WORKFLOW, sqlite_url)["intakes"]
    before = datetime.now(UTC)
    rotated = json.loads(
        cli.ok("intakes", "rotate-secret", intake["id"], "--grace", "2h", "--database", sqlite_url)
    )
    assert rotated["secret"] != intake["secret"]
    until = datetime.fromisoformat(rotated["previous_valid_until"])
    assert before + timedelta(hours=2) <= until <= datetime.now(UTC) + timedelta(hours=2)
    shown = json.loads(cli.ok("intakes", "secret", intake["id"], "--database", sqlite_url))
    assert shown == rotated

    default = json.loads(cli.ok("intakes", "rotate-secret", intake["id"], "--database", sqlite_url))
    assert datetime.fromisoformat(default["previous_valid_until"]) >= before + timedelta(hours=24)


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["secret", "triage"], 2, "is not an intake id"),
        (["secret", "intake_" + "0" * 32], 1, "no intake intake_"),
        (["rotate-secret", "intake_" + "0" * 32, "--grace", "soon"], 2, "--grace"),
        (["rotate-secret", "{intake}", "--grace", "8d"], 2, "grace period"),
    ],
)
def test_mistakes_are_refused_saying_why(
    cli: Cli, sqlite_url: str, args: list[str], status: int, message: str
) -> None:
    [intake] = cli.apply(EXAMPLE_WORKFLOW, sqlite_url)["intakes"]
    args = [a.format(intake=intake["id"]) for a in args]
    done = cli.run("intakes", *args, "--database", sqlite_url)
    assert done.returncode == status, done.stderr
    assert message in done.stderr
    assert done.stdout == ""
    shown = json.loads(cli.ok("intakes", "secret", intake["id"], "--database", sqlite_url))
    assert shown["secret"] == intake["secret"]  # nothing rotated
