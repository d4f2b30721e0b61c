"""The lifecycle routes over a real socket: pause/activate, versions, manual tasks,
cancel, re-run, the synchronous ``?wait=N`` option, and their 401/404 rules."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from auxot.application.refs import format_ref
from auxot.domain.actor import SYSTEM as OPERATOR
from auxot.domain.identity import workflow_id
from tests.entrypoints.http.conftest import Live
from tests.entrypoints.http.helpers import assert_same_404, problem, unauthorized
from tests.support import EXAMPLE_WORKFLOW, wait_until

EXAMPLE = format_ref("workflow", workflow_id("support", "Support Ticket Triage"))
TERMINAL = {"completed", "failed", "cancelled"}

# A second workflow of the same team, and a slow one (each step takes 2 s).
MORE_WORKFLOWS = """\
teams:
  - name: sales
providers:
  - name: slow
    kind: scripted
    settings: {delay: 2}
workflows:
  - name: Other
    team: support
    steps:
      - {key: only, prompt: "other {{ input.n }}", provider: offline,
         handoffs: [{condition: default, to: complete}]}
  - name: Slow
    team: support
    steps:
      - {key: wait, prompt: "slow", provider: slow,
         handoffs: [{condition: default, to: complete}]}
intakes:
  - {name: other, workflow: Other, team: support}
  - {name: slow, workflow: Slow, team: support}
"""


@pytest.fixture
def more(live: Live) -> dict[str, str]:
    return live.apply(MORE_WORKFLOWS)


@pytest.fixture
def client(live: Live) -> Iterator[httpx.Client]:
    with live.client(headers=live.auth) as c:
        yield c


def submit(client: httpx.Client, intake: str, body: dict[str, Any] | None = None) -> str:
    response = client.post(f"/v1/intake/{intake}", json=body or {"subject": "s", "customer": "c"})
    assert response.status_code == 202, response.text
    return str(response.json()["work_id"])


def record(client: httpx.Client, work_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/work/{work_id}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    found: dict[str, Any] = response.json()
    return found


def wait_for(client: httpx.Client, work_id: str, status: str | set[str]) -> dict[str, Any]:
    wanted = {status} if isinstance(status, str) else status

    def probe() -> dict[str, Any] | None:
        found = record(client, work_id)
        return found if found["status"] in wanted else None

    return wait_until(probe, timeout=20, interval=0.02, what=f"{work_id} to be {wanted}")


# -- pause and activate -----------------------------------------------------------------


def test_pause_and_activate_answer_the_summary_and_are_idempotent(
    live: Live, client: httpx.Client
) -> None:
    expected = {
        "id": EXAMPLE,
        "name": "Support Ticket Triage",
        "team": "support",
        "status": "active",
        "current_version": 1,
    }
    assert client.get(f"/v1/workflows/{EXAMPLE}").json() == expected
    for _ in range(2):
        response = client.post(f"/v1/workflows/{EXAMPLE}/pause")
        assert response.status_code == 200, response.text
        assert response.json() == {**expected, "status": "paused"}
    assert client.get(f"/v1/workflows/{EXAMPLE}").json()["status"] == "paused"
    for _ in range(2):
        response = client.post(f"/v1/workflows/{EXAMPLE}/activate")
        assert response.status_code == 200, response.text
        assert response.json() == expected


def test_a_paused_workflow_accepts_work_that_waits_until_it_is_activated(
    live_any: Live,
) -> None:
    """On each backend: the due query leaves held items out in SQL."""
    more = live_any.apply(MORE_WORKFLOWS)
    with live_any.client(headers=live_any.auth) as client:
        assert client.post(f"/v1/workflows/{EXAMPLE}/pause").status_code == 200
        held = [submit(client, live_any.intake_id) for _ in range(2)]
        # Work for another workflow, submitted after the held items, goes through.
        later = submit(client, more["intake:other"], {"n": 1})
        assert wait_for(client, later, "completed")["output"] == "other 1"
        assert [record(client, w)["status"] for w in held] == ["pending", "pending"]

        assert client.post(f"/v1/workflows/{EXAMPLE}/activate").status_code == 200
        done = [wait_for(client, w, "completed") for w in held]
        assert done[0]["steps"][0]["started_at"] <= done[1]["steps"][0]["started_at"]


# -- versions ---------------------------------------------------------------------------


def test_versions_list_every_definition_oldest_first(live: Live, client: httpx.Client) -> None:
    revised = EXAMPLE_WORKFLOW.replace(
        "    steps:\n", "    description: one step now\n    steps:\n", 1
    ).replace("to: draft}", "to: complete}")
    revised = revised[: revised.index("      - key: draft")] + revised[revised.index("intakes:") :]
    assert live.apply(revised)
    response = client.get(f"/v1/workflows/{EXAMPLE}/versions")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["workflow_id"] == EXAMPLE
    assert [(v["version"], v["steps"], v["description"]) for v in body["versions"]] == [
        (1, ["classify", "draft"], ""),
        (2, ["classify"], "one step now"),
    ]
    first, second = (v["created_at"] for v in body["versions"])
    assert first <= second
    assert client.get(f"/v1/workflows/{EXAMPLE}").json()["current_version"] == 2


# -- manual tasks -----------------------------------------------------------------------


def test_a_manual_task_is_a_work_item_with_no_intake(live: Live, client: httpx.Client) -> None:
    body = {"subject": "by hand", "customer": "Acme"}
    response = client.post(f"/v1/workflows/{EXAMPLE}/tasks", json=body)
    assert response.status_code == 202, response.text
    work_id = response.json()["work_id"]
    assert response.headers["location"] == f"/v1/work/{work_id}"
    done = wait_for(client, work_id, "completed")
    assert (done["intake_id"], done["workflow_id"], done["input"]) == (None, EXAMPLE, body)
    assert done["output"] == "Draft a reply to Acme"
    # It belongs to no intake: the intake's poll does not show it.
    problem(client.get(f"/v1/intake/{live.intake_id}/work/{work_id}"), 404)


def test_a_manual_task_needs_a_json_object(client: httpx.Client) -> None:
    url = f"/v1/workflows/{EXAMPLE}/tasks"
    problem(client.post(url, json=[1]), 422)
    problem(client.post(url, content=b"{", headers={"content-type": "application/json"}), 400)
    problem(client.post(url, content=b"{}", headers={"content-type": "text/plain"}), 415)


# -- cancel and re-run ------------------------------------------------------------------


def test_cancel_ends_a_running_item_and_a_second_cancel_is_a_conflict(
    live: Live, client: httpx.Client, more: dict[str, str]
) -> None:
    work_id = submit(client, more["intake:slow"])
    wait_for(client, work_id, "running")
    response = client.post(f"/v1/work/{work_id}/cancel")
    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert (cancelled["status"], cancelled["current_step"]) == ("cancelled", None)
    assert cancelled["cancelled_by"].startswith("team:support key:")
    assert [s["status"] for s in cancelled["steps"]] == ["cancelled"]
    assert record(client, work_id)["status"] == "cancelled"  # never older than the answer

    body = problem(client.post(f"/v1/work/{work_id}/cancel"), 409)
    assert "already cancelled" in body["detail"]


def test_a_rerun_is_linked_both_ways_and_only_an_ended_item_is_rerun(
    live: Live, client: httpx.Client, more: dict[str, str]
) -> None:
    old = submit(client, live.intake_id, {"subject": "again", "customer": "Initech"})
    wait_for(client, old, "completed")
    response = client.post(f"/v1/work/{old}/rerun")
    assert response.status_code == 202, response.text
    new = response.json()["work_id"]
    assert new != old
    assert response.headers["location"] == f"/v1/work/{new}"
    new_record = wait_for(client, new, "completed")
    assert new_record["rerun_of"] == old
    assert new_record["input"] == {"subject": "again", "customer": "Initech"}
    assert record(client, old)["reruns"] == [new]
    assert record(client, new)["reruns"] == []

    running = submit(client, more["intake:slow"])
    body = problem(client.post(f"/v1/work/{running}/rerun"), 409)
    assert "only an ended item" in body["detail"]


# -- ?wait=N ----------------------------------------------------------------------------


def test_wait_answers_200_with_the_record_when_the_item_ends_in_time(
    live: Live, client: httpx.Client
) -> None:
    response = client.post(
        f"/v1/intake/{live.intake_id}?wait=10", json={"subject": "s", "customer": "Acme"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "completed"
    assert body["output"] == "Draft a reply to Acme"
    assert response.headers["location"] == f"/v1/intake/{live.intake_id}/work/{body['work_id']}"


def test_wait_answers_202_when_the_item_is_still_running(
    live: Live, client: httpx.Client, more: dict[str, str]
) -> None:
    response = client.post(f"/v1/intake/{more['intake:slow']}?wait=0.3", json={})
    assert response.status_code == 202, response.text
    assert record(client, response.json()["work_id"])["status"] in {"pending", "running"}


@pytest.mark.parametrize(
    "query",
    [
        "wait=0",
        "wait=-1",
        "wait=30.5",
        "wait=abc",
        "wait=nan",
        "wait=inf",
        "wait=",
        "wait=1&wait=2",
    ],
)
def test_an_invalid_wait_is_a_problem(live: Live, client: httpx.Client, query: str) -> None:
    body = problem(client.post(f"/v1/intake/{live.intake_id}?{query}", json={}), 400)
    assert "wait" in body["detail"]


def test_other_query_parameters_leave_the_answer_a_202(live: Live, client: httpx.Client) -> None:
    assert client.post(f"/v1/intake/{live.intake_id}?trace=1", json={}).status_code == 202


# -- who may see what -------------------------------------------------------------------


def test_every_route_answers_another_teams_key_exactly_like_an_unknown_resource(
    live: Live, client: httpx.Client, more: dict[str, str]
) -> None:
    work_id = submit(client, live.intake_id)
    wait_for(client, work_id, "completed")
    sales = {"Authorization": f"Bearer {live.service.create_key('team', 'sales', OPERATOR).key}"}
    unknown_workflow = format_ref("workflow", workflow_id("support", "nope"))
    unknown_work = "work_" + "0" * 32
    routes = [
        ("GET", "/v1/workflows/{}", EXAMPLE, unknown_workflow),
        ("GET", "/v1/workflows/{}/versions", EXAMPLE, unknown_workflow),
        ("POST", "/v1/workflows/{}/pause", EXAMPLE, unknown_workflow),
        ("POST", "/v1/workflows/{}/activate", EXAMPLE, unknown_workflow),
        ("POST", "/v1/workflows/{}/tasks", EXAMPLE, unknown_workflow),
        ("GET", "/v1/work/{}", work_id, unknown_work),
        ("POST", "/v1/work/{}/cancel", work_id, unknown_work),
        ("POST", "/v1/work/{}/rerun", work_id, unknown_work),
    ]
    with live.client() as anyone:
        for method, path, real, unknown in routes:
            responses = {
                "another team": anyone.request(method, path.format(real), headers=sales, json={}),
                "unknown": anyone.request(method, path.format(unknown), headers=live.auth, json={}),
                "malformed": anyone.request(method, path.format("x"), headers=live.auth, json={}),
            }
            assert_same_404(responses)
            unauthorized(anyone.request(method, path.format(real), json={}))
    # Nothing was changed by the refused calls.
    assert client.get(f"/v1/workflows/{EXAMPLE}").json()["status"] == "active"
    assert record(client, work_id)["reruns"] == []


def test_waiting_requests_hold_no_thread_of_the_server(live: Live, client: httpx.Client) -> None:
    """More requests wait than the server has threads for blocking calls (40): other
    requests that need one (here /health) are still answered at once."""
    assert client.post(f"/v1/workflows/{EXAMPLE}/pause").status_code == 200  # never ends
    waiters = 45
    recorded_before = live.service.work.recorder.max_notification_id() or 0

    async def scenario() -> tuple[list[int], int]:
        limits = httpx.Limits(max_connections=waiters + 5)
        async with httpx.AsyncClient(base_url=live.base_url, timeout=30, limits=limits) as ac:
            url = f"/v1/intake/{live.intake_id}?wait=3"
            posts = [
                asyncio.create_task(ac.post(url, json={"n": n}, headers=live.auth))
                for n in range(waiters)
            ]
            # Every item is recorded: each request is now waiting for its item to end.
            while (live.service.work.recorder.max_notification_id() or 0) < (
                recorded_before + waiters
            ):
                await asyncio.sleep(0.01)  # polling a condition, bounded by the test timeout
            health = await ac.get("/health")
            # Answered while every waiter still waits (each for up to 3 s): /health did
            # not queue behind them. No clock is read: the order of events is the proof.
            still_waiting = sum(not post.done() for post in posts)
            statuses = [(await post).status_code for post in posts]
            assert health.status_code == 200
            return statuses, still_waiting

    statuses, still_waiting = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert still_waiting == waiters
    assert statuses == [202] * waiters
