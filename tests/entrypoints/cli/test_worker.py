"""``auxot worker`` processes: a SIGKILLed worker's steps are taken over once their
lease runs out, nothing accepted is lost, SIGTERM stops a worker cleanly, and two
workers on one PostgreSQL database never both record a step, nor together run more
steps on a provider than its ``max_parallel``."""

from __future__ import annotations

import json
import multiprocessing
import signal
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from typing import Any

import psycopg

from auxot.entrypoints.bootstrap import bootstrap
from auxot.entrypoints.settings import Settings
from tests.entrypoints.cli.procs import Api, Cli, cli_env, intake_id
from tests.support import EXAMPLE_WORKFLOW, wait_until


def with_provider(settings: str, max_parallel: int) -> str:
    """EXAMPLE_WORKFLOW with the scripted provider's settings and limit replaced."""
    text = EXAMPLE_WORKFLOW.replace(
        "    kind: scripted\n    max_parallel: 4\n",
        f"    kind: scripted\n    settings: {settings}\n    max_parallel: {max_parallel}\n",
    )
    assert text != EXAMPLE_WORKFLOW
    return text


# The lease of a claim is the provider's timeout (4 s) plus the grace (0.5 s). The hanging
# call would time out after 4 s: the worker is killed long before that.
TIMEOUT, GRACE = 4.0, 0.5
HANGING = with_provider("{delay: 60, timeout: 4}", max_parallel=2)
ANSWERING = with_provider("{timeout: 4}", max_parallel=2)


def steps(record: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(s["key"], s["status"], s["attempt"]) for s in record["steps"]]


def started(record: dict[str, Any], attempt: int) -> datetime:
    run = next(s for s in record["steps"] if s["key"] == "classify" and s["attempt"] == attempt)
    return datetime.fromisoformat(run["started_at"])


def worker_env(worker_id: str) -> dict[str, str]:
    return cli_env(AUXOT_LEASE_GRACE_SECONDS=str(GRACE), AUXOT_WORKER_ID=worker_id)


def test_a_killed_worker_s_steps_run_again_elsewhere(cli: Cli, db_url: str) -> None:
    triage = intake_id(cli.apply(HANGING, db_url), "triage")
    key = cli.create_key(db_url)["key"]
    _, base_url = cli.serve(db_url, "--no-worker")  # HTTP only: it never claims a step
    doomed = cli.spawn("worker", "--database", db_url, env=worker_env("doomed"))
    doomed.wait_for_line(lambda line: line.startswith("auxot: worker doomed running on "))
    api = Api(base_url, key)
    try:
        work = [api.submit(triage, {"customer": f"Customer {n}"}) for n in range(4)]

        def claimed() -> list[str] | None:
            records = {w: api.record(triage, w) for w in work}
            hanging = [w for w, r in records.items() if steps(r) == [("classify", "running", 1)]]
            waiting = [w for w, r in records.items() if r["status"] == "pending"]
            return hanging if len(hanging) == 2 and len(waiting) == 2 else None

        # Two steps claimed (the provider's max_parallel) and hanging, two items waiting.
        hanging = wait_until(claimed, timeout=15, interval=0.05, what="two claimed steps")
        doomed.kill()
        assert doomed.popen.returncode == -signal.SIGKILL
        assert all(steps(api.record(triage, w)) == [("classify", "running", 1)] for w in hanging)

        # The provider answers now; a new worker takes the abandoned steps over once
        # their leases run out, and runs the waiting items too.
        assert cli.apply(ANSWERING, db_url)["providers"][0]["status"] == "updated"
        rescuer = cli.spawn("worker", "--database", db_url, env=worker_env("rescuer"))
        records = {w: api.wait_done(triage, w, timeout=30) for w in work}
    finally:
        api.close()

    for n, w in enumerate(work):
        assert records[w]["status"] == "completed", records[w]
        assert records[w]["output"] == f"Draft a reply to Customer {n}"
        if w in hanging:
            assert steps(records[w]) == [
                ("classify", "lease_expired", 1),
                ("classify", "succeeded", 2),
                ("draft", "succeeded", 1),
            ]
            waited = (started(records[w], 2) - started(records[w], 1)).total_seconds()
            assert waited >= TIMEOUT + GRACE  # not before the lease ran out
        else:
            assert steps(records[w]) == [("classify", "succeeded", 1), ("draft", "succeeded", 1)]

    rescuer.signal(signal.SIGTERM)
    assert rescuer.wait(timeout=15) == 0
    assert "auxot: worker stopping" in rescuer.text()
    assert "Traceback" not in rescuer.text()


def test_sigterm_lets_a_worker_finish_its_step_and_exit(cli: Cli, sqlite_url: str) -> None:
    triage = intake_id(cli.apply(with_provider("{delay: 1}", 4), sqlite_url), "triage")
    key = cli.create_key(sqlite_url)["key"]
    idle = cli.spawn("worker", "--database", sqlite_url)
    _, base_url = cli.serve(sqlite_url, "--no-worker")
    idle.wait_for_line(lambda line: " running on sqlite:///" in line)
    idle.signal(signal.SIGTERM)
    assert idle.wait(timeout=10) == 0  # idle: at once

    busy = cli.spawn("worker", "--database", sqlite_url)
    api = Api(base_url, key)
    try:
        work_id = api.submit(triage, {"customer": "Initech"})
        api.wait_for(triage, work_id, lambda r: steps(r) == [("classify", "running", 1)])
        busy.signal(signal.SIGINT)
        assert busy.wait(timeout=10) == 0
        # The step in flight was finished and recorded; nothing was started after.
        record = api.wait_for(triage, work_id, lambda r: r["steps"][0]["status"] != "running")
        assert steps(record) == [("classify", "succeeded", 1)]
        assert record["status"] == "running"
        assert record["current_step"] == "draft"
    finally:
        api.close()
    assert "auxot: worker stopping (finishing steps in flight)" in busy.text()


def run_on_two_workers(
    cli: Cli,
    postgres_url: str,
    provider: str,
    max_parallel: int,
    items: int,
    **env: str,
) -> tuple[list[dict[str, Any]], list[tuple[Any, dict[str, Any]]]]:
    """``items`` items run by workers "one" and "two" on one PostgreSQL database, with
    the scripted provider's ``settings`` and limit; every item must complete. Returns
    their records and the claims (StepStarted events) of the event log."""
    triage = intake_id(cli.apply(with_provider(provider, max_parallel), postgres_url), "triage")
    key = cli.create_key(postgres_url)["key"]
    _, base_url = cli.serve(postgres_url, "--no-worker")
    workers = cli.workers(postgres_url, "one", "two", AUXOT_LEASE_GRACE_SECONDS=str(GRACE), **env)
    api = Api(base_url, key)
    try:
        work = [api.submit(triage, {"customer": f"C{n}"}) for n in range(items)]
        records = [api.wait_done(triage, w, timeout=60) for w in work]
    finally:
        api.close()
    for n, record in enumerate(records):
        assert record["status"] == "completed", record
        assert record["output"] == f"Draft a reply to C{n}"
        assert steps(record) == [("classify", "succeeded", 1), ("draft", "succeeded", 1)]

    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute(
            "SELECT originator_id, state FROM work_events WHERE topic LIKE %s",
            ("%WorkItem.StepStarted",),
        ).fetchall()
    for worker in workers:
        worker.signal(signal.SIGTERM)
    assert [worker.wait(timeout=15) for worker in workers] == [0, 0]
    return records, [(row[0], json.loads(bytes(row[1]))) for row in rows]


def test_two_workers_share_the_work_and_record_each_step_once(cli: Cli, postgres_url: str) -> None:
    _, claims = run_on_two_workers(cli, postgres_url, "{delay: 0.05}", max_parallel=4, items=30)
    # The event log agrees: one claim per (item, step), and both workers made claims.
    per_step = Counter((item, state["step"]) for item, state in claims)
    assert len(per_step) == 60
    assert set(per_step.values()) == {1}
    by_worker = Counter(state["worker"] for _, state in claims)
    assert set(by_worker) == {"one", "two"}, by_worker


def most_at_once(records: list[dict[str, Any]]) -> int:
    """The most step runs whose [started_at, finished_at] overlap at one instant. A run
    ending at the instant another starts does not overlap it."""
    moments: list[tuple[datetime, int]] = []
    for record in records:
        for run in record["steps"]:
            moments.append((datetime.fromisoformat(run["started_at"]), 1))
            moments.append((datetime.fromisoformat(run["finished_at"]), -1))
    in_flight = most = 0
    for _, change in sorted(moments):  # at equal times, ends (-1) sort before starts
        in_flight += change
        most = max(most, in_flight)
    return most


def test_two_workers_never_run_more_than_max_parallel_steps_at_once(
    cli: Cli, postgres_url: str
) -> None:
    """The provider's limit holds across the worker processes sharing the database: the
    recorded step times never show more than ``max_parallel`` steps in flight.

    Each worker runs one step at a time and the provider allows one: while either runs
    a step the other has a free thread and due work, so only the shared limit keeps the
    two from overlapping (a limit counted per process lets them: two at once)."""
    records, _ = run_on_two_workers(
        cli, postgres_url, "{delay: 0.25}", 1, items=6, AUXOT_STEP_THREADS="1"
    )
    assert most_at_once(records) == 1


def _open_and_close(url: str) -> str:
    """What every ``auxot`` process does first: wire itself to the database."""
    try:
        bootstrap(Settings(database_url=url), run_worker=False).close()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return "ok"


def test_processes_starting_together_on_one_postgresql_database_all_start(
    postgres_url: str,
) -> None:
    """Each process creates the tables it needs as it starts; started together (a deploy,
    a restart of several workers) they must not trip over each other (PostgreSQL says
    "tuple concurrently updated" to concurrent CREATE OR REPLACE FUNCTION)."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(6, mp_context=context) as pool:
        assert list(pool.map(str, range(6))) == [str(n) for n in range(6)]  # warm
        for _ in range(3):  # the first round on an empty database, then on its tables
            assert list(pool.map(_open_and_close, [postgres_url] * 6)) == ["ok"] * 6


def test_a_worker_stuck_in_a_step_stops_within_its_drain_time(cli: Cli, sqlite_url: str) -> None:
    triage = intake_id(cli.apply(HANGING, sqlite_url), "triage")
    key = cli.create_key(sqlite_url)["key"]
    _, base_url = cli.serve(sqlite_url, "--no-worker")
    stuck = cli.spawn(
        "worker",
        "--database",
        sqlite_url,
        env={**worker_env("stuck"), "AUXOT_DRAIN_SECONDS": "0.5"},
    )
    api = Api(base_url, key)
    try:
        work_id = api.submit(triage, {"customer": "Hooli"})
        api.wait_for(triage, work_id, lambda r: steps(r) == [("classify", "running", 1)])
        stuck.signal(signal.SIGTERM)
        # It gives up on the step after the drain time, long before the call would end...
        assert stuck.wait(timeout=TIMEOUT - 1) == 0
        # ...and records nothing for it: the lease will let another worker run it again.
        assert steps(api.record(triage, work_id)) == [("classify", "running", 1)]
    finally:
        api.close()
