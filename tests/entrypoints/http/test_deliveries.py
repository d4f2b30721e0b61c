"""Callback deliveries over a real socket, delivered to a real receiver on 127.0.0.1:
the POSTed record, the deliveries lists, an item's attempts, redelivery and its 409,
and the one 404."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from auxot.domain.callback_schedule import CallbackSchedule
from tests.entrypoints.http.conftest import Live
from tests.entrypoints.http.helpers import assert_same_404, problem, unauthorized
from tests.fakes.callback_receiver import CallbackReceiver, Reply
from tests.support import wait_until

HOOKED = """\
teams:
  - name: sales
workflows:
  - name: Hooked
    team: support
    steps:
      - {{key: only, prompt: "hi {{{{ input.n }}}}", provider: offline,
         handoffs: [{{condition: default, to: complete}}]}}
intakes:
  - {{name: hooked, workflow: Hooked, team: support, callback_url: "{url}"}}
"""


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    with CallbackReceiver() as r:
        yield r


@pytest.fixture
def live(sqlite_url: str, receiver: CallbackReceiver, serve: Callable[..., Live]) -> Live:
    return serve(
        sqlite_url,
        settings={
            "callback_schedule": CallbackSchedule.parse("0,1s"),
            "callback_timeout": 5,
            "allow_http_callbacks": True,
            "url_allow_list": ("127.0.0.1/32",),
        },
    )


@pytest.fixture
def hooked(live: Live, receiver: CallbackReceiver) -> str:
    return live.apply(HOOKED.format(url=receiver.url))["intake:hooked"]


@pytest.fixture
def client(live: Live) -> Iterator[httpx.Client]:
    with live.client(headers=live.auth) as c:
        yield c


def submit(client: httpx.Client, intake: str) -> str:
    response = client.post(f"/v1/intake/{intake}", json={"n": 1})
    assert response.status_code == 202, response.text
    return str(response.json()["work_id"])


def deliveries_of(client: httpx.Client, work_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/work/{work_id}/deliveries")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def settled(client: httpx.Client, work_id: str, status: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        found = deliveries_of(client, work_id)
        return found[0] if found and found[0]["status"] == status else None

    return wait_until(probe, timeout=20, what=f"the delivery to be {status}")


def listed(client: httpx.Client, status: str) -> list[dict[str, Any]]:
    response = client.get("/v1/deliveries", params={"status": status})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_an_ended_item_is_posted_to_its_callback_once_as_polled(
    client: httpx.Client, hooked: str, receiver: CallbackReceiver
) -> None:
    work_id = submit(client, hooked)
    (request,) = receiver.wait_for(1)
    delivery = settled(client, work_id, "delivered")
    assert request.headers["webhook-id"] == delivery["delivery_id"] == f"msg_{work_id[5:]}"
    assert request.headers["content-type"] == "application/json"
    secret = client.get(f"/v1/intakes/{hooked}/secret").json()["secret"]
    Webhook(secret).verify(request.body, request.headers)  # the reference verifier agrees
    polled = client.get(f"/v1/work/{work_id}").json()
    assert json.loads(request.body) == polled
    assert polled["status"] == "completed"
    (attempt,) = delivery["attempts"]
    assert (attempt["attempt"], attempt["status_code"], attempt["outcome"]) == (
        1,
        200,
        "delivered",
    )
    assert attempt["latency_ms"] >= 0
    wait_until(lambda: listed(client, "delivered"), what="the list to show it")
    assert [d["delivery_id"] for d in listed(client, "delivered")] == [delivery["delivery_id"]]
    assert len(receiver.requests) == 1


def test_a_dead_delivery_is_listed_and_redelivered_with_the_same_webhook_id(
    client: httpx.Client, hooked: str, receiver: CallbackReceiver
) -> None:
    receiver.script(Reply.status(500), Reply.status(503))
    work_id = submit(client, hooked)
    dead = settled(client, work_id, "dead")
    assert [a["status_code"] for a in dead["attempts"]] == [500, 503]
    assert dead["attempts"][0]["next_attempt_at"] is not None
    assert dead["dead_reason"] == "no attempt left after 2 (HTTP 503)"
    wait_until(lambda: listed(client, "dead"), what="the dead letter to be listed")
    assert listed(client, "pending") == []

    receiver.script(Reply.hang())  # the redelivery's first attempt hangs
    response = client.post(f"/v1/deliveries/{dead['delivery_id']}/redeliver")
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    receiver.wait_for(3)
    again = client.post(f"/v1/deliveries/{dead['delivery_id']}/redeliver")
    assert "pending" in problem(again, 409)["detail"]
    receiver.release()  # dropped without an answer: retried a second later, then 200
    delivered = settled(client, work_id, "delivered")
    assert [a["outcome"] for a in delivered["attempts"]] == [
        "failed",
        "failed",
        "failed",
        "delivered",
    ]
    assert {r.headers["webhook-id"] for r in receiver.requests} == {dead["delivery_id"]}


def test_unknown_foreign_and_malformed_deliveries_are_the_one_404(
    live: Live, client: httpx.Client, hooked: str, receiver: CallbackReceiver
) -> None:
    work_id = submit(client, hooked)
    delivery = settled(client, work_id, "delivered")
    other_key = live.service.create_key("team", "sales").key
    with live.client(headers={"Authorization": f"Bearer {other_key}"}) as other:
        responses = {
            "unknown": client.post(f"/v1/deliveries/msg_{'0' * 32}/redeliver"),
            "malformed": client.post("/v1/deliveries/nothing/redeliver"),
            "a work id": client.post(f"/v1/deliveries/{work_id}/redeliver"),
            "another team's": other.post(f"/v1/deliveries/{delivery['delivery_id']}/redeliver"),
            "another team's item": other.get(f"/v1/work/{work_id}/deliveries"),
            "unknown item": client.get(f"/v1/work/work_{'0' * 32}/deliveries"),
        }
        assert other.get("/v1/deliveries").json()["items"] == []
    assert_same_404(responses)
    problem(client.get("/v1/deliveries", params={"status": "lost"}), 400)
    problem(client.get("/v1/deliveries", params={"cursor": "nonsense!"}), 400)
    problem(client.get("/v1/deliveries", params={"limit": 101}), 400)
    with live.client() as anonymous:
        unauthorized(anonymous.get("/v1/deliveries"))
        unauthorized(anonymous.post(f"/v1/deliveries/{delivery['delivery_id']}/redeliver"))


def test_an_item_of_an_intake_without_a_callback_has_no_deliveries(
    live: Live, client: httpx.Client
) -> None:
    work_id = submit(client, live.intake_id)
    wait_until(
        lambda: client.get(f"/v1/work/{work_id}").json()["status"] == "completed",
        what="the item to complete",
    )
    assert deliveries_of(client, work_id) == []


def test_openapi_lists_the_deliveries_paths(live: Live) -> None:
    with live.client() as anonymous:
        paths = anonymous.get("/schema/openapi.json").json()["paths"]
    assert "get" in paths["/v1/deliveries"]
    assert "get" in paths["/v1/work/{work_id}/deliveries"]
    assert "post" in paths["/v1/deliveries/{delivery_id}/redeliver"]
    status = next(p for p in paths["/v1/deliveries"]["get"]["parameters"] if p["name"] == "status")
    assert "dead" in json.dumps(status)
