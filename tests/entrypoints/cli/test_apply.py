"""``auxot apply FILE`` as a subprocess: what it prints, idempotence, and broken files
refused with file, line and field, leaving the database untouched."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.entrypoints.cli.procs import Cli, cli_env
from tests.support import EXAMPLE_WORKFLOW


def registry_events(sqlite_url: str) -> int:
    """How many registry events the SQLite file holds (0 when it has no tables yet)."""
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    if not path.exists():
        return 0
    with sqlite3.connect(path) as conn:
        found = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'registry_events'"
        ).fetchone()[0]
        if not found:
            return 0
        return int(conn.execute("SELECT count(*) FROM registry_events").fetchone()[0])


def statuses(applied: dict[str, list[dict[str, object]]]) -> dict[str, list[object]]:
    return {kind: [entry["status"] for entry in entries] for kind, entries in applied.items()}


def test_apply_creates_then_is_idempotent_then_updates(cli: Cli, sqlite_url: str) -> None:
    first = cli.apply(EXAMPLE_WORKFLOW, sqlite_url)
    assert list(first) == ["teams", "providers", "workflows", "intakes"]
    assert statuses(first) == {
        "teams": ["created"],
        "providers": ["created"],
        "workflows": ["created"],
        "intakes": ["created"],
    }
    (team,) = first["teams"]
    assert team["name"] == "support"
    assert team["id"].startswith("team_")
    (provider,) = first["providers"]
    assert (provider["name"], provider["id"][:9]) == ("offline", "provider_")
    (workflow,) = first["workflows"]
    assert workflow["name"] == "Support Ticket Triage"
    assert workflow["id"].startswith("workflow_")
    assert (workflow["version"], workflow["warnings"]) == (1, [])
    (intake,) = first["intakes"]
    assert intake["name"] == "triage"
    assert intake["id"].startswith("intake_")
    assert intake["workflow"] == "Support Ticket Triage"
    assert intake["team"] == "support"
    events = registry_events(sqlite_url)
    assert events >= 4

    again = cli.apply(EXAMPLE_WORKFLOW, sqlite_url)
    assert statuses(again) == {
        "teams": ["unchanged"],
        "providers": ["unchanged"],
        "workflows": ["unchanged"],
        "intakes": ["unchanged"],
    }
    assert [e["id"] for k in again for e in again[k]] == [e["id"] for k in first for e in first[k]]
    assert again["workflows"][0]["version"] == 1
    assert registry_events(sqlite_url) == events  # nothing recorded the second time

    changed = EXAMPLE_WORKFLOW.replace("Draft a reply to", "Write a friendly reply to")
    updated = cli.apply(changed, sqlite_url)
    assert statuses(updated) == {
        "teams": ["unchanged"],
        "providers": ["unchanged"],
        "workflows": ["updated"],
        "intakes": ["unchanged"],
    }
    assert updated["workflows"][0]["version"] == 2
    assert updated["workflows"][0]["id"] == workflow["id"]
    assert updated["workflows"][0]["warnings"] == []
    assert registry_events(sqlite_url) > events

    # A dead end (a step without handoffs) is allowed, with a warning.
    dead_end = changed.replace(
        "        handoffs:\n          - {condition: default, to: complete}\n", ""
    )
    warned = cli.apply(dead_end, sqlite_url)["workflows"][0]
    assert (warned["status"], warned["version"]) == ("updated", 3)
    assert len(warned["warnings"]) == 1
    assert "'draft'" in warned["warnings"][0]


# Each broken variant of EXAMPLE_WORKFLOW (whose team and provider are fine): the text to
# replace, its replacement, and the line and field path the error must name.
BROKEN = {
    "yaml syntax": (
        "      - key: draft\n",
        "      - key: draft: oops\n",
        16,
        "$",
        "not valid YAML",
    ),
    "unknown field": (
        "        provider: offline\n        handoffs:\n          - {condition: default, to: draft}",
        "        provider: offline\n        retries: 3\n        handoffs:\n"
        "          - {condition: default, to: draft}",
        14,
        "workflows[0].steps[0].retries",
        "unknown field",
    ),
    "missing field": (
        '        prompt: "Draft a reply to {{ input.customer }}"\n        provider: offline\n',
        '        prompt: "Draft a reply to {{ input.customer }}"\n',
        16,
        "workflows[0].steps[1].provider",
        "is required",
    ),
    "wrong type": (
        "max_parallel: 4",
        "max_parallel: four",
        6,
        "providers[0].max_parallel",
        "must be an integer, not a string",
    ),
    "unknown provider": (
        '{{ input.customer }}"\n        provider: offline',
        '{{ input.customer }}"\n        provider: offlin',
        18,
        "workflows[0].steps[1].provider",
        "unknown provider 'offlin'",
    ),
    "unknown workflow": (
        "    workflow: Support Ticket Triage",
        "    workflow: Ticket Triage",
        23,
        "intakes[0].workflow",
        "unknown workflow 'Ticket Triage'",
    ),
    "bad template": (
        "{{ input.subject }}",
        "{{ input.subject ",
        12,
        "workflows[0].steps[0].prompt",
        "template",
    ),
    "unknown step in a handoff": (
        "to: draft}",
        "to: drat}",
        11,
        "workflows[0].steps[0]",
        "drat",
    ),
    "a scalar where a list belongs": (
        "  - name: support\nproviders",
        "  - name: support\n    members: alice\nproviders",
        3,
        "teams[0].members",
        "must be a list, not a string",
    ),
    "a string where a boolean belongs": (
        "intakes:\n  - name: triage\n",
        "intakes:\n  - name: triage\n    active: 'false'\n",
        23,
        "intakes[0].active",
        "must be true or false, not a string",
    ),
    "a retry policy out of range": (
        "        provider: offline\n        handoffs:\n          - {condition: default, to: draft}",
        "        provider: offline\n        retry: {attempts: 0}\n        handoffs:\n"
        "          - {condition: default, to: draft}",
        14,
        "workflows[0].steps[0].retry.attempts",
        "must be from 1 to 100",
    ),
    "a retry backoff that is not a duration": (
        "        provider: offline\n        handoffs:\n          - {condition: default, to: draft}",
        "        provider: offline\n        retry:\n          attempts: 3\n"
        "          backoff: soon\n        handoffs:\n          - {condition: default, to: draft}",
        16,
        "workflows[0].steps[0].retry.backoff",
        "'soon' is not a duration",
    ),
    "a retry backoff of the wrong type": (
        "        provider: offline\n        handoffs:\n          - {condition: default, to: draft}",
        "        provider: offline\n        retry: {attempts: 3, backoff: [2s]}\n"
        "        handoffs:\n          - {condition: default, to: draft}",
        14,
        "workflows[0].steps[0].retry.backoff",
        "must be a duration such as 2s",
    ),
    "a fraction where an integer belongs": (
        "max_parallel: 4",
        "max_parallel: 2.5",
        6,
        "providers[0].max_parallel",
        "must be an integer",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_file_is_refused_with_line_and_field_and_changes_nothing(
    cli: Cli, sqlite_url: str, case: str
) -> None:
    old, new, line, path, message = BROKEN[case]
    assert old in EXAMPLE_WORKFLOW
    cli.write("workflows.yaml", EXAMPLE_WORKFLOW.replace(old, new, 1))
    done = cli.run("apply", "workflows.yaml", "--database", sqlite_url)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("auxot: workflows.yaml ")
    assert f"\nworkflows.yaml:{line}: {path}: " in done.stderr, done.stderr
    assert message in done.stderr
    assert registry_events(sqlite_url) == 0  # not even the good team was recorded


def test_a_broken_declaration_does_not_create_its_good_team(cli: Cli, sqlite_url: str) -> None:
    broken = EXAMPLE_WORKFLOW.replace("  - name: support\n", "  - name: support\n  - name: ops\n")
    broken = broken.replace(
        "provider: offline\n        handoffs:\n          - {condition: default, to: complete}",
        "provider: ghost\n        handoffs:\n          - {condition: default, to: complete}",
    )
    cli.write("broken.yaml", broken)
    done = cli.run("apply", "broken.yaml", "--database", sqlite_url)
    assert done.returncode == 2
    assert "was not applied (nothing changed)" in done.stderr
    assert "broken.yaml:19: workflows[0].steps[1].provider: unknown provider 'ghost'" in (
        done.stderr
    )
    # The team "ops" does not exist: a key for it is refused, and a file that only
    # refers to it is refused too.
    key = cli.run("keys", "create", "--team", "ops", "--database", sqlite_url)
    assert key.returncode == 1
    assert key.stderr.strip() == "auxot: no team named 'ops'"
    refers = EXAMPLE_WORKFLOW.replace("teams:\n  - name: support\n", "").replace(
        "team: support", "team: ops"
    )
    cli.write("refers.yaml", refers)
    done = cli.run("apply", "refers.yaml", "--database", sqlite_url)
    assert done.returncode == 2
    assert "workflows[0].team: unknown team 'ops'" in done.stderr
    assert registry_events(sqlite_url) == 0
    # Fixed, the same file applies.
    assert cli.apply(EXAMPLE_WORKFLOW, sqlite_url)["teams"][0]["status"] == "created"


def test_apply_of_a_missing_file_is_a_usage_error(cli: Cli, sqlite_url: str) -> None:
    done = cli.run("apply", "nowhere.yaml", "--database", sqlite_url)
    assert done.returncode == 2
    assert "Usage: auxot apply" in done.stderr
    assert "'nowhere.yaml' does not exist" in done.stderr
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()


def test_apply_reads_the_database_from_the_environment(cli: Cli) -> None:
    sqlite_url = f"sqlite:///{cli.cwd / 'elsewhere.db'}"
    cli.write("workflows.yaml", EXAMPLE_WORKFLOW)
    done = cli.run("apply", "workflows.yaml", env=cli_env(AUXOT_DATABASE_URL=sqlite_url))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["teams"][0]["status"] == "created"
    assert registry_events(sqlite_url) > 0
    assert not (cli.cwd / "auxot.db").exists()  # not the default database
