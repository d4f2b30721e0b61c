"""``auxot tasks list`` and ``auxot tasks complete`` as subprocesses, beside a served
Auxot on the same SQLite file: a CLI user acts under the same rules as their key."""

from __future__ import annotations

import json

from tests.entrypoints.cli.procs import Api, Cli, intake_id
from tests.support import EXAMPLE_WORKFLOW

REVIEWED = EXAMPLE_WORKFLOW.replace(
    "  - name: support\n", "  - name: support\n    members: [ann, bob]\n", 1
).replace(
    "          - {condition: default, to: complete}\n",
    "          - {condition: default, to: review}\n"
    "      - key: review\n"
    "        handler: human\n"
    "        assignee: ann\n"
    "        timeout: 2h\n"
    "        handoffs:\n"
    "          - {condition: approved, to: complete}\n",
)


def test_a_cli_user_lists_and_completes_their_task(cli: Cli, sqlite_url: str) -> None:
    assert REVIEWED != EXAMPLE_WORKFLOW
    triage = intake_id(cli.apply(REVIEWED, sqlite_url), "triage")
    key = cli.create_key(sqlite_url)["key"]
    _, base_url = cli.serve(sqlite_url)
    api = Api(base_url, key)
    try:
        work_id = api.submit(triage, {"subject": "Login", "customer": "Acme"})
        api.wait_for(triage, work_id, lambda r: r["waiting_for"] is not None, what="the review")

        (task,) = json.loads(cli.ok("tasks", "list", "--user", "ann", "--database", sqlite_url))
        assert (task["work_id"], task["step"], task["assignee"]) == (work_id, "review", "ann")
        assert task["input"] == {"subject": "Login", "customer": "Acme"}
        assert task["timeout_at"] is not None
        assert json.loads(cli.ok("tasks", "list", "--user", "bob", "--database", sqlite_url)) == []

        complete = ("tasks", "complete", work_id, "review", "--database", sqlite_url)
        refused = cli.run(*complete, "--user", "bob", "--condition", "approved")
        assert refused.returncode == 1
        assert f"no work item {work_id} with a step 'review' that bob may act on" in (
            refused.stderr
        )
        bad = cli.run(*complete, "--user", "ann", "--condition", "approved", "--output", "{x")
        assert bad.returncode == 2
        assert "--output is not valid JSON" in bad.stderr

        record = json.loads(
            cli.ok(*complete, "--user", "ann", "--condition", "approved", "--note", "fine",
                   "--output", '{"reply": "Dear Acme"}')
        )
        assert (record["status"], record["output"]) == ("completed", {"reply": "Dear Acme"})
        review = record["steps"][-1]
        assert (review["actor"], review["condition"], review["note"]) == ("ann", "approved", "fine")

        done = api.wait_done(triage, work_id)
        assert done["status"] == "completed"
        assert done["waiting_for"] is None

        twice = cli.run(*complete, "--user", "ann", "--condition", "approved")
        assert twice.returncode == 1
        assert "nothing left to act on" in twice.stderr
    finally:
        api.close()
