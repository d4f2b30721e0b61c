"""The auditor's HTTP API over a real socket: a work item's history, its record at a
past point, and the audit log with its filters, pages and team scoping."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest

from auxot.application.refs import format_ref
from auxot.domain.actor import SYSTEM as OPERATOR
from auxot.domain.identity import team_id, workflow_id
from tests.entrypoints.http.conftest import Live
from tests.entrypoints.http.helpers import assert_same_404, problem, unauthorized
from tests.support import wait_until

EXAMPLE = format_ref("workflow", workflow_id("support", "Support Ticket Triage"))
LEGAL = "teams:\n  - name: legal\n"


def key_uuid(key: str) -> UUID:
    return UUID(hex=key.split(".")[1])


@pytest.fixture
def client(live: Live) -> Iterator[httpx.Client]:
    with live.client(headers=live.auth) as c:
        yield c


def finished(client: httpx.Client, live: Live) -> str:
    response = client.post(
        f"/v1/intake/{live.intake_id}", json={"subject": "Login", "customer": "Acme"}
    )
    assert response.status_code == 202, response.text
    work_id: str = response.json()["work_id"]

    def done() -> bool:
        return client.get(f"/v1/work/{work_id}").json()["status"] == "completed"

    wait_until(done, timeout=20, what=f"{work_id} to complete")
    return work_id


def test_the_history_lists_every_event_in_order_with_its_actor(
    live: Live, client: httpx.Client
) -> None:
    """On the intake's fast path and off it: the receipt names the key that sent it."""
    work_id = finished(client, live)
    response = client.get(f"/v1/work/{work_id}/events")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["work_id"] == work_id
    events = body["events"]
    assert [e["version"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "WorkItem.Received"
    assert events[-1]["type"] == "WorkItem.Completed"
    received = events[0]
    assert (received["actor"], received["key_id"]) == (
        "team:support",
        format_ref("key", key_uuid(live.key)),
    )
    assert received["data"]["input"] == {"subject": "Login", "customer": "Acme"}
    assert {e["actor"].split(":")[0] for e in events[1:]} == {"worker"}
    assert all(e["key_id"] is None for e in events[1:])
    times = [datetime.fromisoformat(e["at"]) for e in events]
    assert times == sorted(times)


def test_the_record_at_a_point_is_the_item_as_it_stood(live: Live, client: httpx.Client) -> None:
    work_id = finished(client, live)
    events = client.get(f"/v1/work/{work_id}/events").json()["events"]
    first = client.get(f"/v1/work/{work_id}", params={"at": "1"}).json()
    assert (first["work_id"], first["status"], first["steps"]) == (work_id, "pending", [])
    at_receipt = client.get(f"/v1/work/{work_id}", params={"at": events[0]["at"]})
    assert at_receipt.json() == first
    now = client.get(f"/v1/work/{work_id}", params={"at": datetime.now(UTC).isoformat()})
    assert now.json() == client.get(f"/v1/work/{work_id}").json()
    last = client.get(f"/v1/work/{work_id}", params={"at": str(len(events))})
    assert last.json()["status"] == "completed"
    before = datetime.fromisoformat(events[0]["at"]) - timedelta(microseconds=1)
    assert_same_404(
        {
            "before it existed": client.get(
                f"/v1/work/{work_id}", params={"at": before.isoformat()}
            ),
            "a version it never had": client.get(f"/v1/work/{work_id}", params={"at": "999"}),
            "no such item": client.get(f"/v1/work/work_{'0' * 32}", params={"at": "1"}),
        }
    )
    for bad in ("yesterday", "0", "2026-12-01T09:30:00"):
        problem(client.get(f"/v1/work/{work_id}", params={"at": bad}), 400)


def test_another_teams_key_finds_no_history(live: Live, client: httpx.Client) -> None:
    work_id = finished(client, live)
    live.apply(LEGAL)
    legal = live.service.create_key("team", "legal", OPERATOR).key
    with live.client(headers={"Authorization": f"Bearer {legal}"}) as other:
        assert_same_404(
            {
                "another team's history": other.get(f"/v1/work/{work_id}/events"),
                "another team's past": other.get(f"/v1/work/{work_id}", params={"at": "1"}),
                "an unknown item": other.get(f"/v1/work/work_{'0' * 32}/events"),
                "not a work id": other.get("/v1/work/intake_x/events"),
            }
        )

        def legal_rows() -> list[dict[str, Any]] | None:
            rows = audit_rows(other)
            return (
                rows if {r["action"] for r in rows} == {"team.registered", "key.issued"} else None
            )

        rows = wait_until(legal_rows, timeout=20, what="team legal's audit rows")
        assert not {work_id, EXAMPLE} & {r["resource"] for r in rows}
    with live.client() as anonymous:
        unauthorized(anonymous.get(f"/v1/work/{work_id}/events"))
        unauthorized(anonymous.get("/v1/audit"))


def audit_rows(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/audit", params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_cursor"] is None
    rows: list[dict[str, Any]] = body["items"]
    return rows


def test_the_audit_log_shows_what_keys_did_and_filters(live_any: Live) -> None:
    live = live_any
    key_ref = format_ref("key", key_uuid(live.key))
    with live.client(headers=live.auth) as client:
        work_id = finished(client, live)
        assert client.post(f"/v1/workflows/{EXAMPLE}/pause").status_code == 200
        assert client.post(f"/v1/workflows/{EXAMPLE}/activate").status_code == 200
        expected = {
            ("team:support", "work.received", work_id),
            ("team:support", "workflow.paused", EXAMPLE),
            ("team:support", "workflow.activated", EXAMPLE),
        }

        def by_key() -> list[dict[str, Any]] | None:
            rows = audit_rows(client, actor=key_ref)
            return (
                rows
                if {(r["actor"], r["action"], r["resource"]) for r in rows} == expected
                else None
            )

        rows = wait_until(by_key, timeout=20, what="the audit rows of the key")
        assert {r["key_id"] for r in rows} == {key_ref}
        assert [r["action"] for r in rows][-2:] == ["workflow.paused", "workflow.activated"]
        assert audit_rows(client, actor=f"key:{key_uuid(live.key)}") == rows
        everything = audit_rows(client)
        assert {"team.registered", "workflow.registered", "intake.opened", "key.issued"} <= {
            r["action"] for r in everything
        }
        assert {r["actor"] for r in everything if r["action"] == "key.issued"} == {"system"}
        assert all("secret_hash" not in r["details"] for r in everything)
        assert [r["action"] for r in audit_rows(client, action="workflow.paused")] == [
            "workflow.paused"
        ]
        assert {r["resource"] for r in audit_rows(client, resource=EXAMPLE)} == {EXAMPLE}
        paused_at = next(r["at"] for r in rows if r["action"] == "workflow.paused")
        window = audit_rows(client, actor=key_ref, **{"from": paused_at})
        assert [r["action"] for r in window] == ["workflow.paused", "workflow.activated"]
        window = audit_rows(client, actor=key_ref, to=paused_at)
        assert [r["action"] for r in window] == ["work.received"]


def test_the_audit_log_pages_without_repeats_or_gaps(live: Live, client: httpx.Client) -> None:
    wait_until(lambda: len(audit_rows(client)) >= 4, timeout=20, what="the audit rows")
    everything = audit_rows(client)
    paged: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1}
        if cursor is not None:
            params["cursor"] = cursor
        page = client.get("/v1/audit", params=params).json()
        paged.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == everything


def test_bad_audit_queries_are_problems(client: httpx.Client) -> None:
    problem(client.get("/v1/audit", params={"cursor": "nonsense!"}), 400)
    problem(client.get("/v1/audit", params={"from": "2026-12-01T09:30:00"}), 400)  # no zone
    problem(client.get("/v1/audit", params={"to": "soon"}), 400)
    problem(client.get("/v1/audit", params={"limit": 0}), 400)
    problem(client.get("/v1/audit", params={"limit": 101}), 400)


def test_changes_made_over_the_admin_api_name_the_key_that_made_them(
    live: Live, client: httpx.Client
) -> None:
    key_ref = format_ref("key", key_uuid(live.key))
    created = client.post("/v1/keys", json={"team": "support"})
    assert created.status_code == 201, created.text
    new = created.json()["id"]
    assert client.post(f"/v1/keys/{new}/revoke").status_code == 200
    team = format_ref("team", team_id("support"))
    assert (
        client.put(f"/v1/teams/{team}", json={"name": "support", "members": ["ann"]}).status_code
        == 200
    )
    expected = [("key.issued", new), ("key.revoked", new), ("team.members_changed", team)]

    def mine() -> list[dict[str, Any]] | None:
        rows = [r for r in audit_rows(client, actor=key_ref) if r["action"] != "work.received"]
        return rows if [(r["action"], r["resource"]) for r in rows] == expected else None

    rows = wait_until(mine, timeout=20, what="the admin API's audit rows")
    assert {(r["actor"], r["key_id"]) for r in rows} == {("team:support", key_ref)}
    assert rows[-1]["details"] == {"members": ["ann"]}


def test_openapi_describes_the_auditors_routes(live: Live) -> None:
    with live.client() as anonymous:
        response = anonymous.get("/schema/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "get" in paths["/v1/work/{work_id}/events"]
    audit = {p["name"] for p in paths["/v1/audit"]["get"]["parameters"]}
    assert {"actor", "resource", "action", "from", "to", "limit", "cursor"} <= audit
    record = {p["name"] for p in paths["/v1/work/{work_id}"]["get"]["parameters"]}
    assert "at" in record
