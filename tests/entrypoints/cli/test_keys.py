"""``auxot keys create`` and ``auxot keys revoke`` as subprocesses."""

from __future__ import annotations

import json
import re

import pytest

from tests.entrypoints.cli.procs import Cli
from tests.support import EXAMPLE_WORKFLOW

KEY_ID = re.compile(r"^key_[0-9a-f]{32}$")


@pytest.fixture
def database(cli: Cli, sqlite_url: str) -> str:
    """A SQLite database with the team ``support`` (member ``alice``)."""
    cli.apply(
        EXAMPLE_WORKFLOW.replace(
            "  - name: support\n", "  - name: support\n    members: [alice]\n", 1
        ),
        sqlite_url,
    )
    return sqlite_url


def test_team_and_user_keys_are_created_and_revoked(cli: Cli, database: str) -> None:
    team = json.loads(
        cli.ok("keys", "create", "--team", "support", "--json", "--database", database)
    )
    assert set(team) == {"id", "key", "team"}
    assert team["team"] == "support"
    assert KEY_ID.match(team["id"])
    assert team["key"].startswith(f"team.{team['id'].removeprefix('key_')}.")
    assert len(team["key"].split(".")[2]) >= 40  # 32 random bytes

    user = json.loads(cli.ok("keys", "create", "--user", "alice", "--json", "--database", database))
    assert set(user) == {"id", "key", "user"}
    assert user["user"] == "alice"
    assert KEY_ID.match(user["id"])
    assert user["key"].startswith(f"user.{user['id'].removeprefix('key_')}.")
    assert user["id"] != team["id"]

    # Without --json: the key on the first line, then its id.
    plain = cli.ok("keys", "create", "--team", "support", "--database", database).splitlines()
    assert plain[0].startswith("team.")
    assert re.search(r"key id (key_[0-9a-f]{32})", plain[1])

    assert cli.ok("keys", "revoke", team["id"], "--database", database).strip() == (
        f"revoked {team['id']}"
    )
    assert cli.ok("keys", "revoke", user["id"], "--database", database).strip() == (
        f"revoked {user['id']}"
    )


def test_a_key_for_an_unknown_team_is_refused(cli: Cli, database: str) -> None:
    done = cli.run("keys", "create", "--team", "sales", "--json", "--database", database)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == "auxot: no team named 'sales'\n"


@pytest.mark.parametrize(
    "args", [[], ["--team", "support", "--user", "alice"]], ids=["neither", "both"]
)
def test_keys_create_needs_exactly_one_owner(cli: Cli, database: str, args: list[str]) -> None:
    done = cli.run("keys", "create", *args, "--database", database)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "exactly one of --team NAME or --user NAME" in done.stderr


@pytest.mark.parametrize("key_id", ["key_123", "abc", "work_" + "0" * 32, "key_" + "g" * 32])
def test_revoking_a_malformed_key_id_is_a_usage_error(
    cli: Cli, sqlite_url: str, key_id: str
) -> None:
    done = cli.run("keys", "revoke", key_id, "--database", sqlite_url)
    assert done.returncode == 2
    assert f"'{key_id}' is not a key id" in done.stderr
    assert "Traceback" not in done.stderr


def test_revoking_an_unknown_key_fails(cli: Cli, database: str) -> None:
    unknown = "key_" + "0123456789abcdef" * 2
    done = cli.run("keys", "revoke", unknown, "--database", database)
    assert done.returncode == 1
    assert done.stderr == f"auxot: no key {unknown}\n"
    # A team's id is well-formed but names no key either.
    team_id = json.loads(
        cli.ok("apply", str(cli.write("w.yaml", EXAMPLE_WORKFLOW)), "--database", database)
    )["teams"][0]["id"]
    other = "key_" + team_id.removeprefix("team_")
    done = cli.run("keys", "revoke", other, "--database", database)
    assert done.returncode == 1
    assert done.stderr == f"auxot: no key {other}\n"
