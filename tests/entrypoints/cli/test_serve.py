"""``auxot serve`` as a subprocess: the README walk-through over HTTP, and changes made
by other ``auxot`` processes (keys, revocations, intakes) taking effect without a
restart, on SQLite and on PostgreSQL."""

from __future__ import annotations

import signal
from pathlib import Path

import auxot
from auxot.entrypoints.bootstrap import bootstrap
from auxot.entrypoints.settings import Settings
from tests.entrypoints.cli.procs import Api, Cli, intake_id
from tests.support import EXAMPLE_WORKFLOW, wait_until

ORDER = {"pending": 0, "running": 1, "completed": 2, "failed": 2}
TICKET = {"ticket_id": "SUP-1042", "customer": "Acme Corp", "subject": "Cannot log in"}
# Each step takes a little while, so that polling sees the item before it completes.
SLOW_WORKFLOW = EXAMPLE_WORKFLOW.replace(
    "    kind: scripted\n", "    kind: scripted\n    settings: {delay: 0.2}\n"
)
SECOND_INTAKE = "  - name: escalations\n    workflow: Support Ticket Triage\n    team: support\n"


def test_serve_walkthrough_and_changes_from_other_processes(cli: Cli, db_url: str) -> None:
    server, base_url = cli.serve(db_url)  # on an empty database

    # Configured and keyed by other processes while it runs: no restart needed.
    triage = intake_id(cli.apply(SLOW_WORKFLOW, db_url), "triage")
    first = cli.create_key(db_url)
    api = Api(base_url, first["key"])
    try:
        work_id = api.submit(triage, TICKET)
        seen = [api.record(triage, work_id)]  # right after the 202: never a 404
        assert seen[0]["work_id"] == work_id
        assert seen[0]["intake_id"] == triage

        def finished() -> bool:
            seen.append(api.record(triage, work_id))
            return seen[-1]["status"] in ("completed", "failed")

        wait_until(finished, timeout=20, interval=0.05, what=f"{work_id} to finish")
        ranks = [ORDER[r["status"]] for r in seen]
        assert ranks == sorted(ranks), [r["status"] for r in seen]  # never backwards
        record = seen[-1]
        assert record["status"] == "completed", record
        assert record["output"] == "Draft a reply to Acme Corp"
        assert record["input"] == TICKET
        assert [(s["key"], s["status"], s["attempt"]) for s in record["steps"]] == [
            ("classify", "succeeded", 1),
            ("draft", "succeeded", 1),
        ]
        assert record["steps"][0]["output"] == "Classify this ticket: Cannot log in"

        # Revoked by another process: refused within a few refresh intervals.
        cli.ok("keys", "revoke", first["id"], "--database", db_url)
        wait_until(
            lambda: api.get(triage, work_id).status_code == 401,
            timeout=5,
            interval=0.02,
            what="the revoked key to be refused",
        )
        refused = api.post(triage, TICKET)
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.headers["www-authenticate"].startswith("Bearer")
    finally:
        api.close()

    # A second intake, applied while the server runs, is usable at once (with a new key).
    applied = cli.apply(SLOW_WORKFLOW + SECOND_INTAKE, db_url)
    assert [(i["name"], i["status"]) for i in applied["intakes"]] == [
        ("triage", "unchanged"),
        ("escalations", "created"),
    ]
    escalations = intake_id(applied, "escalations")
    api = Api(base_url, cli.create_key(db_url)["key"])
    try:
        escalated = api.submit(escalations, {"customer": "Globex", "subject": "Outage"})
        record = api.wait_done(escalations, escalated)
        assert record["status"] == "completed"
        assert record["output"] == "Draft a reply to Globex"
        assert record["intake_id"] == escalations
        # An item is only visible through its own intake.
        assert api.get(triage, escalated).status_code == 404
        assert api.record(triage, work_id)["status"] == "completed"
    finally:
        api.close()

    # SIGTERM: uvicorn shuts down gracefully, and the process exits 0.
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=15) == 0
    assert "Traceback" not in server.text()


def test_serve_without_a_worker_accepts_but_does_not_run(cli: Cli, sqlite_url: str) -> None:
    triage = intake_id(cli.apply(EXAMPLE_WORKFLOW, sqlite_url), "triage")
    key = cli.create_key(sqlite_url)["key"]
    server, base_url = cli.serve(sqlite_url, "--no-worker")
    assert "serving http://127.0.0.1:" in server.text()
    api = Api(base_url, key)
    try:
        work_id = api.submit(triage, TICKET)
        # The HTTP-only server projects statuses but never claims a step: still pending
        # after another process (many poll intervals long) has come and gone.
        other = Api(base_url, cli.create_key(sqlite_url)["key"])
        try:
            record = other.record(triage, work_id)
        finally:
            other.close()
        assert (record["status"], record["steps"]) == ("pending", [])
        worker = cli.spawn("worker", "--database", sqlite_url)
        assert api.wait_done(triage, work_id)["status"] == "completed"
    finally:
        api.close()
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=15) == 0
    server.signal(signal.SIGINT)  # Ctrl+C: a clean stop
    assert server.wait(timeout=15) == 0
    assert "Aborted" not in server.text()
    assert "Traceback" not in server.text()


def test_a_key_created_elsewhere_just_after_a_refresh_is_accepted(tmp_path: Path) -> None:
    """The throttle on refresh-on-miss must not refuse a key that another process saved
    just after this one refreshed its directory (what `auxot keys create` followed at
    once by a request does, when it lands just after the server's periodic refresh)."""
    url = f"sqlite:///{tmp_path / 'auxot.db'}"
    with auxot.connect(url, start=False) as admin:
        admin.apply(EXAMPLE_WORKFLOW)
        server = bootstrap(Settings(database_url=url), run_worker=False)
        try:
            for _ in range(3):
                server.directory.refresh()  # the server's periodic refresh...
                key = admin.create_key("team", "support").key  # ...then a key, elsewhere
                caller = server.authenticate(key)
                assert caller is not None
                assert caller.owner == "support"
        finally:
            server.close()
