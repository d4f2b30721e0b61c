"""``auxot audit WORK_ID``, ``--at`` and ``auxot audit export`` as subprocesses, on the
SQLite file a served Auxot writes: who did what, in order, from the command line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.entrypoints.cli.procs import Api, Cli, cli_env, intake_id
from tests.support import EXAMPLE_WORKFLOW

AS_AUDITOR = cli_env(USER="auditor", LOGNAME="auditor")


def served_item(cli: Cli, database: str) -> tuple[str, str, str]:
    """The example applied and a key made as OS user ``auditor``; one item run through a
    served Auxot. Returns the work id, the key's id and the item's intake."""
    triage = intake_id(cli.apply(EXAMPLE_WORKFLOW, database), "triage")
    created = json.loads(
        cli.ok(
            "keys", "create", "--team", "support", "--json", "--database", database, env=AS_AUDITOR
        )
    )
    _, base_url = cli.serve(database)
    api = Api(base_url, created["key"])
    try:
        work_id = api.submit(triage, {"subject": "Login", "customer": "Acme"})
        api.wait_done(triage, work_id)
    finally:
        api.close()
    return work_id, created["id"], triage


def test_the_timeline_names_who_caused_each_event(cli: Cli, sqlite_url: str) -> None:
    work_id, key_id, _ = served_item(cli, sqlite_url)
    lines = cli.ok("audit", work_id, "--database", sqlite_url).splitlines()
    assert lines[0].split()[0] == "1"
    assert "WorkItem.Received" in lines[0]
    assert f"team:support key:{key_id.removeprefix('key_')}" not in lines[0]  # a UUID, not hex
    events = [
        json.loads(line)
        for line in cli.ok("audit", work_id, "--json", "--database", sqlite_url).splitlines()
    ]
    assert [e["version"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "WorkItem.Received"
    assert events[0]["actor"].startswith("team:support key:")
    assert events[0]["data"]["input"] == {"subject": "Login", "customer": "Acme"}
    assert events[-1]["type"] == "WorkItem.Completed"
    assert {e["actor"].split(":")[0] for e in events[1:]} == {"worker"}


def test_the_record_at_a_point_is_the_item_as_it_stood(cli: Cli, sqlite_url: str) -> None:
    work_id, _, _ = served_item(cli, sqlite_url)
    first = json.loads(cli.ok("audit", work_id, "--at", "1", "--database", sqlite_url))
    assert (first["work_id"], first["status"], first["steps"]) == (work_id, "pending", [])
    now = datetime.now(UTC).isoformat()
    assert (
        json.loads(cli.ok("audit", work_id, "--at", now, "--database", sqlite_url))["status"]
        == "completed"
    )
    before = cli.run("audit", work_id, "--at", "2001-01-01T00:00:00Z", "--database", sqlite_url)
    assert before.returncode == 1
    assert "nothing recorded by then" in before.stderr
    bad = cli.run("audit", work_id, "--at", "yesterday", "--database", sqlite_url)
    assert (bad.returncode, "Traceback" in bad.stderr) == (2, False)
    unknown = cli.run("audit", "work_" + "0" * 32, "--database", sqlite_url)
    assert (unknown.returncode, unknown.stderr.strip()) == (
        1,
        f"auxot: no work item work_{'0' * 32}",
    )


def test_the_export_writes_json_lines_with_progress_on_stderr(cli: Cli, sqlite_url: str) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    work_id, key_id, _ = served_item(cli, sqlite_url)
    pause = ("workflows", "pause", "Support Ticket Triage", "--team", "support")
    cli.ok(*pause, "--database", sqlite_url, env=AS_AUDITOR)
    out = cli.cwd / "history.jsonl"
    done = cli.run(
        "audit",
        "export",
        "--from",
        start.isoformat(),
        "--to",
        (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
        "-o",
        str(out),
        "--database",
        sqlite_url,
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert "registry log:" in done.stderr
    assert "work log:" in done.stderr
    assert f"exported {len(events)} events" in done.stderr
    assert [e["log"] for e in events] == sorted(
        (e["log"] for e in events), key=["registry", "work"].index
    )
    issued = [e for e in events if e["type"] == "ApiKey.Issued"]
    assert [(e["stream"], e["actor"]) for e in issued] == [(key_id, "cli:auditor")]
    assert "secret_hash" not in issued[0]["data"]
    paused = [e for e in events if e["type"] == "Workflow.Paused"]
    assert [e["actor"] for e in paused] == ["cli:auditor"]
    mine = [e for e in events if e["stream"] == work_id]
    assert mine[0]["key_id"] == key_id
    assert mine[-1]["type"] == "WorkItem.Completed"
    later = cli.run("audit", "export", "--from", "2999-01-01T00:00:00Z", "--database", sqlite_url)
    assert (later.returncode, later.stdout) == (0, "")
