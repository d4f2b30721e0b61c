"""The administration API over a real socket: team scoping, pagination, keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from auxot.domain.actor import SYSTEM as OPERATOR
from tests.entrypoints.http.conftest import Live
from tests.entrypoints.http.helpers import assert_same_404, problem, unauthorized

BILLING = """\
teams:
  - name: billing
  - name: support
    members: [alice]
workflows:
  - name: Invoices
    team: billing
    steps:
      - key: check
        prompt: "Check {{ input.invoice }}"
        provider: offline
        handoffs: [{condition: default, to: complete}]
intakes:
  - {name: invoices, workflow: Invoices, team: billing}
"""


@pytest.fixture
def admin_live(sqlite_url: str, serve: Callable[..., Live]) -> Live:
    live = serve(sqlite_url)
    live.apply(BILLING)
    return live


def _get(live: Live, path: str, key: str | None = None, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or live.key}"}
    with live.client() as client:
        return client.get(path, headers=headers, params=params)


def _post(live: Live, path: str, body: Any = None, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or live.key}"}
    with live.client() as client:
        return client.post(path, headers=headers, json=body)


def _names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


def test_a_team_key_sees_only_its_own_team(admin_live: Live) -> None:
    assert _names(_get(admin_live, "/v1/teams")) == ["support"]
    assert _names(_get(admin_live, "/v1/workflows")) == ["Support Ticket Triage"]
    assert _names(_get(admin_live, "/v1/intakes")) == ["triage"]
    own = _get(admin_live, "/v1/teams").json()["items"][0]
    assert _get(admin_live, f"/v1/teams/{own['id']}").json() == own
    intake = _get(admin_live, f"/v1/intakes/{admin_live.intake_id}").json()
    assert intake["active"] is True
    assert intake["team_id"] == own["id"]


def test_other_teams_resources_are_the_same_404_as_unknown_ones(admin_live: Live) -> None:
    billing_key = admin_live.service.create_key("team", "billing", OPERATOR).key
    billing_team = _get(admin_live, "/v1/teams", key=billing_key).json()["items"][0]["id"]
    billing_intake = _get(admin_live, "/v1/intakes", key=billing_key).json()["items"][0]["id"]
    assert_same_404(
        {
            "other team": _get(admin_live, f"/v1/teams/{billing_team}"),
            "unknown team": _get(admin_live, "/v1/teams/team_" + "0" * 32),
            "not a team ref": _get(admin_live, "/v1/teams/work_" + "0" * 32),
            "other team's intake": _get(admin_live, f"/v1/intakes/{billing_intake}"),
            "unknown intake": _get(admin_live, "/v1/intakes/intake_" + "0" * 32),
        }
    )


def test_lists_page_with_a_cursor(admin_live: Live) -> None:
    many = "intakes:\n" + "".join(
        f"  - {{name: extra-{n}, workflow: Support Ticket Triage, team: support}}\n"
        for n in range(5)
    )
    admin_live.apply(many)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        body = _get(admin_live, "/v1/intakes", **params).json()
        assert len(body["items"]) <= 2
        seen += [item["name"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == sorted(seen)
    assert sorted(seen) == sorted(["triage"] + [f"extra-{n}" for n in range(5)])


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 101}, {"limit": "many"}, {"cursor": "%%%"}]
)
def test_bad_paging_parameters_are_400_problems(admin_live: Live, params: dict[str, Any]) -> None:
    problem(_get(admin_live, "/v1/intakes", **params), 400)


def test_every_admin_route_needs_a_key(admin_live: Live) -> None:
    with admin_live.client() as client:
        for path in ("/v1/teams", "/v1/workflows", "/v1/intakes", "/v1/providers", "/v1/keys"):
            unauthorized(client.get(path))
        unauthorized(client.post("/v1/keys", json={"team": "support"}))


def test_providers_are_listed_for_every_team(admin_live: Live) -> None:
    body = _get(admin_live, "/v1/providers").json()
    assert [(p["name"], p["kind"], p["max_parallel"]) for p in body["items"]] == [
        ("offline", "scripted", 4)
    ]
    one = _get(admin_live, f"/v1/providers/{body['items'][0]['id']}")
    assert one.json() == body["items"][0]


def test_a_team_key_creates_lists_and_revokes_its_teams_keys(admin_live: Live) -> None:
    created = _post(admin_live, "/v1/keys", {"team": "support"})
    assert created.status_code == 201, created.text
    new = created.json()
    assert new["key"].startswith("team.")
    assert new["kind"] == "team"
    assert _get(admin_live, "/v1/teams", key=new["key"]).status_code == 200

    listed = _get(admin_live, "/v1/keys").json()["items"]
    assert new["id"] in {k["id"] for k in listed}
    assert all("key" not in k and "secret_hash" not in k for k in listed)
    assert all(k["owner"] == "support" for k in listed)

    revoked = _post(admin_live, f"/v1/keys/{new['id']}/revoke")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked"] is True
    unauthorized(_get(admin_live, "/v1/teams", key=new["key"]))


def test_key_creation_is_refused_for_what_the_caller_does_not_own(admin_live: Live) -> None:
    problem(_post(admin_live, "/v1/keys", {"team": "billing"}), 404)
    problem(_post(admin_live, "/v1/keys", {"user": "alice"}), 403)
    problem(_post(admin_live, "/v1/keys", {}), 422)
    problem(_post(admin_live, "/v1/keys", {"team": "support", "user": "alice"}), 422)
    problem(_post(admin_live, "/v1/keys", {"team": "support", "role": "root"}), 400)
    billing_key = admin_live.service.create_key("team", "billing", OPERATOR).key
    billing_key_id = _get(admin_live, "/v1/keys", key=billing_key).json()["items"][0]["id"]
    problem(_post(admin_live, f"/v1/keys/{billing_key_id}/revoke"), 404)


def test_a_user_sees_their_teams_and_manages_only_their_own_keys(admin_live: Live) -> None:
    alice = admin_live.service.create_key("user", "alice", OPERATOR).key
    assert _names(_get(admin_live, "/v1/teams", key=alice)) == ["support"]
    problem(_post(admin_live, "/v1/keys", {"team": "support"}, key=alice), 403)
    rotated = _post(admin_live, "/v1/keys", {"user": "alice"}, key=alice)
    assert rotated.status_code == 201, rotated.text
    assert rotated.json()["key"].startswith("user.")
    owners = {k["owner"] for k in _get(admin_live, "/v1/keys", key=alice).json()["items"]}
    assert owners == {"alice"}
    assert len(_get(admin_live, "/v1/keys", key=alice).json()["items"]) == 2


AGENTS = """\
tools:
  - name: lookup_customer
    kind: http
    url: https://1.1.1.1/lookup  # a global address: checked when applied, with no DNS
    description: Find a customer by email.
    parameters: {type: object, properties: {email: {type: string}}, required: [email]}
agents:
  - name: replier
    team: support
    provider: offline
    instructions: Write short replies.
    tools: [lookup_customer]
  - name: collector
    team: billing
    provider: offline
    instructions: Collect.
"""


def test_agents_are_team_scoped_and_tools_shared(admin_live: Live) -> None:
    admin_live.apply(AGENTS)
    agents = _get(admin_live, "/v1/agents").json()["items"]
    assert [(a["name"], a["tools"], a["max_turns"]) for a in agents] == [
        ("replier", ["lookup_customer"], 8)
    ]
    assert _get(admin_live, f"/v1/agents/{agents[0]['id']}").json() == agents[0]
    billing_key = admin_live.service.create_key("team", "billing", OPERATOR).key
    theirs = _get(admin_live, "/v1/agents", key=billing_key).json()["items"][0]["id"]
    assert_same_404(
        {
            "another team's agent": _get(admin_live, f"/v1/agents/{theirs}"),
            "an unknown agent": _get(admin_live, "/v1/agents/agent_" + "0" * 32),
        }
    )
    [tool] = _get(admin_live, "/v1/tools").json()["items"]
    assert (tool["name"], tool["kind"]) == ("lookup_customer", "http")
    assert tool["parameters"]["required"] == ["email"]
