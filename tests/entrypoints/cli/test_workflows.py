"""``auxot workflows pause`` / ``activate`` as subprocesses, against a running server on
the same database: the change takes effect there without a restart."""

from __future__ import annotations

import json

from auxot.application.refs import format_ref
from auxot.domain.identity import workflow_id
from tests.entrypoints.cli.procs import Api, Cli, intake_id
from tests.support import EXAMPLE_WORKFLOW, wait_until

OTHER = """\
workflows:
  - name: Other
    team: support
    steps:
      - {key: only, prompt: "other", provider: offline,
         handoffs: [{condition: default, to: complete}]}
intakes:
  - {name: other, workflow: Other, team: support}
"""
NAME = "Support Ticket Triage"


def test_pause_and_activate_take_effect_on_a_running_server(cli: Cli, sqlite_url: str) -> None:
    triage = intake_id(cli.apply(EXAMPLE_WORKFLOW, sqlite_url), "triage")
    other = intake_id(cli.apply(OTHER, sqlite_url, "other.yaml"), "other")
    key = cli.create_key(sqlite_url)["key"]
    _, base_url = cli.serve(sqlite_url)
    api = Api(base_url, key)
    try:
        paused = json.loads(
            cli.ok("workflows", "pause", NAME, "--team", "support", "--database", sqlite_url)
        )
        assert paused == {
            "id": format_ref("workflow", workflow_id("support", NAME)),
            "name": NAME,
            "team": "support",
            "status": "paused",
            "current_version": 1,
        }
        again = cli.ok("workflows", "pause", NAME, "--team", "support", "--database", sqlite_url)
        assert json.loads(again)["status"] == "paused"  # idempotent

        # The server follows within its refresh interval: wait until it reports the pause.
        summary_url = f"/v1/workflows/{paused['id']}"
        wait_until(
            lambda: api.client.get(summary_url).json()["status"] == "paused",
            what="the server to see the pause",
        )
        held = api.submit(triage, {"subject": "s", "customer": "c"})
        later = api.submit(other, {})
        api.wait_done(other, later)
        assert api.record(triage, held)["status"] == "pending"

        activated = cli.ok(
            "workflows", "activate", NAME, "--team", "support", "--database", sqlite_url
        )
        assert json.loads(activated)["status"] == "active"
        assert api.wait_done(triage, held)["status"] == "completed"
    finally:
        api.close()


def test_an_unknown_workflow_is_an_error(cli: Cli, sqlite_url: str) -> None:
    cli.apply(EXAMPLE_WORKFLOW, sqlite_url)
    done = cli.run("workflows", "pause", "Nope", "--team", "support", "--database", sqlite_url)
    assert done.returncode == 1
    assert "no workflow 'Nope' of team 'support'" in done.stderr
    done = cli.run("workflows", "activate", NAME, "--team", "sales", "--database", sqlite_url)
    assert done.returncode == 1
