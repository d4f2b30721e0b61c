"""``Idempotency-Key`` on ``POST /v1/intake/{intake_id}``, over a real socket."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from uuid import UUID

import attrs
import httpx
import pytest

from auxot.application.idempotency import keyed_work_id
from auxot.application.refs import parse_ref
from tests.entrypoints.http.conftest import Live
from tests.entrypoints.http.helpers import problem
from tests.support import wait_until

BODY = {"subject": "Login broken", "customer": "Acme"}


def post(
    live: Live, body: Any = BODY, key: str | None = "k-1", client: httpx.Client | None = None
) -> httpx.Response:
    headers = {**live.auth, **({"Idempotency-Key": key} if key is not None else {})}
    path = f"/v1/intake/{live.intake_id}"
    if client is not None:
        return client.post(path, json=body, headers=headers)
    with live.client() as own:
        return own.post(path, json=body, headers=headers)


def received(live: Live) -> list[UUID]:
    """The ids of every work item recorded, in order."""
    log = live.service.work.recorder.select_notifications(start=None, limit=10_000)
    return [n.originator_id for n in log if n.topic.endswith("Received")]


def work_uuid(response: httpx.Response) -> UUID:
    parsed = parse_ref("work", response.json()["work_id"])
    assert parsed is not None
    return parsed


def test_a_repeat_gets_the_original_answer_and_records_nothing(live: Live) -> None:
    first, again = post(live), post(live)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert received(live) == [work_uuid(first)]
    plain = post(live, key=None)  # without the header, nothing changes
    assert plain.status_code == 202
    assert plain.json() != first.json()
    assert received(live) == [work_uuid(first), work_uuid(plain)]


def test_the_key_may_be_quoted_or_bare_and_json_may_be_reformatted(live: Live) -> None:
    bare = post(live, key="8e03978e-40d5-43e8-bc93-6894a57f9324")
    quoted = post(live, key='"8e03978e-40d5-43e8-bc93-6894a57f9324"')
    reordered = post(
        live, body=dict(reversed(BODY.items())), key="8e03978e-40d5-43e8-bc93-6894a57f9324"
    )
    assert bare.json() == quoted.json() == reordered.json()
    assert len(received(live)) == 1


def test_the_same_key_with_another_body_is_422(live: Live) -> None:
    first = post(live)
    refused = problem(post(live, body={**BODY, "customer": "Other"}), 422)
    assert "Idempotency-Key" in refused["detail"]
    assert first.json()["work_id"] in refused["detail"]
    assert received(live) == [work_uuid(first)]


def test_other_credentials_and_other_intakes_have_keys_of_their_own(live: Live) -> None:
    mine = post(live)
    other_key = live.service.create_key("team", "support").key
    theirs = post(attrs.evolve(live, key=other_key))
    second = live.apply(SECOND_INTAKE)["intake:second"]
    elsewhere = post(attrs.evolve(live, intake_id=second))
    ids = {work_uuid(r) for r in (mine, theirs, elsewhere)}
    assert len(ids) == 3
    assert sorted(received(live)) == sorted(ids)


SECOND_INTAKE = """\
intakes:
  - name: second
    workflow: Support Ticket Triage
    team: support
"""


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "empty"),
        ('""', "empty"),
        ('"unterminated', "not closed"),
        ("two words", "' ' may not appear in a bare key"),
        ("a,b", "',' may not appear"),
        ('"bad \\x escape"', "is not an escape"),
        ('"lone\\"', "not closed"),
        ("k" * 256, "longer than 255"),
        ('"caf\u00e9"', "printable ASCII only"),
    ],
)
def test_a_malformed_key_is_400_saying_why(live: Live, value: str, why: str) -> None:
    with live.client() as client:
        response = client.post(
            f"/v1/intake/{live.intake_id}",
            content=b'{"a": 1}',
            headers=[
                ("Authorization", live.auth["Authorization"]),
                ("Content-Type", "application/json"),
                ("Idempotency-Key", value.encode("latin-1")),  # type: ignore[list-item]
            ],
        )
    assert why in problem(response, 400)["detail"]
    assert received(live) == []


def test_the_key_given_twice_is_400(live: Live) -> None:
    with live.client() as client:
        response = client.post(
            f"/v1/intake/{live.intake_id}",
            json=BODY,
            headers=[
                ("Authorization", live.auth["Authorization"]),
                ("Idempotency-Key", "a"),
                ("Idempotency-Key", "a"),
            ],
        )
    assert "once" in problem(response, 400)["detail"]


def test_an_unusable_intake_is_the_one_404_whatever_the_key(live: Live) -> None:
    response = post(attrs.evolve(live, intake_id="intake_" + "0" * 32))
    problem(response, 404)


def test_a_repeat_while_the_first_is_being_recorded_is_409(
    sqlite_url: str, serve: Callable[..., Live]
) -> None:
    """The first request's save waits on the database file's write lock, held here; the
    repeat arrives meanwhile. Nothing sleeps: each step waits for the one before."""
    live = serve(sqlite_url)
    key_id = UUID(live.key.split(".")[1])
    intake = parse_ref("intake", live.intake_id)
    assert intake is not None
    work_id = keyed_work_id(intake, key_id, "k-1")
    lock = sqlite3.connect(Path(sqlite_url.removeprefix("sqlite:///")), isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # the writer's next save waits for this
    with ThreadPoolExecutor(1) as pool:
        try:
            first = pool.submit(post, live)
            wait_until(lambda: live.service.in_flight.holds(work_id), what="the first request")
            repeat = problem(post(live), 409)
            assert "still being recorded" in repeat["detail"]
            other = problem(post(live, body={"other": True}), 422)
            assert "different request" in other["detail"]
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        assert first.result(timeout=30).status_code == 202
    assert post(live).status_code == 202
    assert received(live) == [work_id]


@pytest.fixture(params=["sqlite", "postgres"])
def file_or_server_url(request: pytest.FixtureRequest) -> str:
    """SQLite and PostgreSQL: the stores that other processes share."""
    return str(request.getfixturevalue(f"{request.param}_url"))


def test_fifty_concurrent_identical_requests_record_one_item(
    file_or_server_url: str, serve: Callable[..., Live]
) -> None:
    live = serve(file_or_server_url)
    start = threading.Barrier(50)

    def one(client: httpx.Client) -> httpx.Response:
        start.wait(timeout=30)
        return post(live, client=client)

    limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
    with live.client(limits=limits) as client, ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(lambda _: one(client), range(50)))
    statuses = {r.status_code for r in responses}
    assert statuses <= {202, 409}, [r.text for r in responses if r.status_code not in (202, 409)]
    accepted = {r.json()["work_id"] for r in responses if r.status_code == 202}
    assert len(accepted) == 1
    assert [f"work_{w.hex}" for w in received(live)] == list(accepted)
    # Once recorded, every repeat is answered with it.
    assert post(live).json()["work_id"] in accepted
