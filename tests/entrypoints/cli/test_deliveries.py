"""Callback delivery across processes: a worker SIGKILLed while a receiver on 127.0.0.1
holds its request open is followed, after restart, by exactly one more request with the
same ``webhook-id``; ``auxot deliveries list`` and ``redeliver`` on the dead letters.

The workers are real ``auxot worker`` processes, allowed to call the receiver's plain
http address on loopback."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from auxot.domain.callback import DeliveryStatus
from auxot.entrypoints.bootstrap import bootstrap
from auxot.entrypoints.settings import Settings
from tests.entrypoints.cli.procs import Cli, Proc, cli_env, intake_id
from tests.fakes.callback_receiver import CallbackReceiver, Reply
from tests.support import EXAMPLE_WORKFLOW, wait_until

ROOT = Path(__file__).resolve().parents[3]
# One attempt may take 5 s; its claim's lease is that plus a 1 s grace. The worker is
# killed long before its request would time out.
TIMEOUT, GRACE = 5, 1


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    with CallbackReceiver() as r:
        yield r


def hooked(url: str) -> str:
    return EXAMPLE_WORKFLOW + f'    callback_url: "{url}"\n'


# The receiver is plain http on loopback: these deployments allow exactly that.
LOOPBACK_HTTP = {"AUXOT_ALLOW_HTTP_CALLBACKS": "1", "AUXOT_URL_ALLOW_LIST": "127.0.0.1/32"}


def start_worker(cli: Cli, db_url: str, name: str, schedule: str = "0,1s,1s") -> Proc:
    env = cli_env(
        AUXOT_DATABASE_URL=db_url,
        AUXOT_WORKER_ID=name,
        AUXOT_CALLBACK_TIMEOUT=str(TIMEOUT),
        AUXOT_LEASE_GRACE_SECONDS=str(GRACE),
        AUXOT_CALLBACK_SCHEDULE=schedule,
        **LOOPBACK_HTTP,
    )
    worker = cli.spawn("worker", env=env)
    worker.wait_for_line(lambda line: line.startswith(f"auxot: worker {name} running"))
    return worker


def submit(db_url: str, intake: str) -> UUID:
    service = bootstrap(Settings(database_url=db_url), run_worker=False)
    try:
        work_id, committed = service.submit(None, UUID(hex=intake[len("intake_") :]), {"n": 1})
        committed.result(10)
    finally:
        service.close()
    return work_id


def attempts(db_url: str, work_id: UUID) -> list[tuple[str, bool, int | None]]:
    """The delivery's attempts as recorded: (deliverer, abandoned, status code)."""
    service = bootstrap(Settings(database_url=db_url), run_worker=False)
    try:
        delivery = service.work.item(work_id).delivery
    finally:
        service.close()
    if delivery is None:
        return []
    return [(a.deliverer, a.abandoned, a.status_code) for a in delivery.attempts]


def delivery_status(db_url: str, work_id: UUID) -> DeliveryStatus | None:
    service = bootstrap(Settings(database_url=db_url), run_worker=False)
    try:
        delivery = service.work.item(work_id).delivery
    finally:
        service.close()
    return None if delivery is None else delivery.status


def test_a_worker_killed_mid_attempt_is_followed_by_one_resend_with_the_same_webhook_id(
    cli: Cli, db_url: str, receiver: CallbackReceiver
) -> None:
    triage = intake_id(
        cli.apply(hooked(receiver.url), db_url, env=cli_env(**LOOPBACK_HTTP)), "triage"
    )
    receiver.script(Reply.hang())  # the first request is held open
    doomed = start_worker(cli, db_url, "doomed")
    work_id = submit(db_url, triage)
    (first,) = receiver.wait_for(1)
    doomed.kill()  # SIGKILL, mid-attempt: claimed and sent, no outcome recorded
    assert doomed.popen.returncode == -signal.SIGKILL
    assert attempts(db_url, work_id) == [("doomed", False, None)]

    start_worker(cli, db_url, "rescuer")  # receiver answers 200 from now on
    _, second = receiver.wait_for(2)
    wait_until(
        lambda: delivery_status(db_url, work_id) is DeliveryStatus.DELIVERED,
        timeout=20,
        what="the resend to be recorded as delivered",
    )
    assert second.headers["webhook-id"] == first.headers["webhook-id"] == f"msg_{work_id.hex}"
    assert second.body == first.body
    assert json.loads(second.body)["status"] == "completed"
    assert attempts(db_url, work_id) == [("doomed", True, None), ("rescuer", False, 200)]
    assert len(receiver.requests) == 2  # delivered: nothing is due any more


def test_dead_letters_are_listed_and_redelivered_from_the_command_line(
    cli: Cli, sqlite_url: str, receiver: CallbackReceiver
) -> None:
    triage = intake_id(
        cli.apply(hooked(receiver.url), sqlite_url, env=cli_env(**LOOPBACK_HTTP)), "triage"
    )
    receiver.script(Reply.status(500), Reply.status(500))
    start_worker(cli, sqlite_url, "worker-a", schedule="0,1s")
    work_id = submit(sqlite_url, triage)
    delivery_id = f"msg_{work_id.hex}"

    def listed(status: str) -> list[dict[str, Any]]:
        out = cli.ok("deliveries", "list", "--status", status, "--database", sqlite_url)
        found: list[dict[str, Any]] = json.loads(out)
        return found

    (dead,) = wait_until(lambda: listed("dead"), timeout=20, what="a dead letter")
    assert dead["delivery_id"] == delivery_id
    assert [a["status_code"] for a in dead["attempts"]] == [500, 500]

    receiver.script(Reply.hang())
    out = cli.ok("deliveries", "redeliver", delivery_id, "--database", sqlite_url)
    assert json.loads(out)["status"] == "pending"
    receiver.wait_for(3)
    refused = cli.run("deliveries", "redeliver", delivery_id, "--database", sqlite_url)
    assert refused.returncode == 1
    assert "pending" in refused.stderr
    receiver.release()
    wait_until(lambda: listed("delivered"), timeout=20, what="the redelivery")
    assert {r.headers["webhook-id"] for r in receiver.requests} == {delivery_id}

    unknown = cli.run("deliveries", "redeliver", f"msg_{'0' * 32}", "--database", sqlite_url)
    assert unknown.returncode == 1
    assert "no callback delivery" in unknown.stderr
