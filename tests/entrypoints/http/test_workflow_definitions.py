"""Defining workflows over HTTP: POST /v1/workflows and PUT /v1/workflows/{id}, over a
real socket."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from auxot.domain.actor import SYSTEM as OPERATOR
from tests.entrypoints.http.conftest import Live
from tests.entrypoints.http.helpers import assert_same_404, problem, unauthorized

TEAMS = """\
teams:
  - {name: support, members: [ann], admins: [lead]}
  - name: billing
"""


def escalation(prompt: str = "Escalate: {{ input.subject }}", **changes: Any) -> dict[str, Any]:
    return {
        "name": "Escalation",
        "team": "support",
        "steps": [
            {
                "key": "escalate",
                "prompt": prompt,
                "provider": "offline",
                "handoffs": [{"condition": "default", "to": "complete"}],
            }
        ],
    } | changes


@pytest.fixture
def admin_live(sqlite_url: str, serve: Callable[..., Live]) -> Live:
    live = serve(sqlite_url)
    live.apply(TEAMS)
    return live


def _send(live: Live, method: str, path: str, body: Any, key: str | None = None) -> httpx.Response:
    with live.client() as client:
        return client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {key or live.key}"}
        )


def test_a_team_defines_a_workflow_then_revises_it(admin_live: Live) -> None:
    created = _send(admin_live, "POST", "/v1/workflows", escalation())
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["name"], body["outcome"], body["version"]) == ("Escalation", "created", 1)
    workflow = body["id"]
    summary = _send(admin_live, "GET", f"/v1/workflows/{workflow}", None).json()
    assert (summary["name"], summary["team"], summary["current_version"]) == (
        "Escalation",
        "support",
        1,
    )

    same = _send(admin_live, "PUT", f"/v1/workflows/{workflow}", escalation())
    assert (same.status_code, same.json()["outcome"], same.json()["version"]) == (
        200,
        "unchanged",
        1,
    )
    changed = _send(admin_live, "PUT", f"/v1/workflows/{workflow}", escalation("Now: {{ x }}"))
    assert (changed.json()["outcome"], changed.json()["version"]) == ("updated", 2)
    versions = _send(admin_live, "GET", f"/v1/workflows/{workflow}/versions", None).json()
    assert [v["version"] for v in versions["versions"]] == [1, 2]

    problem(_send(admin_live, "POST", "/v1/workflows", escalation()), 409)


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        (escalation(steps="none"), "steps", "must be a list"),
        (escalation(colour="blue"), "colour", "unknown field"),
        ({"team": "support", "steps": []}, "name", "is required"),
        (
            escalation(steps=[{"key": "a", "prompt": "x", "provider": "ghost"}]),
            "steps[0].provider",
            "unknown provider 'ghost'",
        ),
        (escalation(prompt="{{ unclosed"), "steps[0].prompt", "unexpected end of template"),
    ],
)
def test_a_bad_workflow_is_a_422_naming_each_field(
    admin_live: Live, body: dict[str, Any], path: str, message: str
) -> None:
    refused = problem(_send(admin_live, "POST", "/v1/workflows", body), 422)
    assert any(e["path"] == path and message in e["message"] for e in refused["errors"]), refused


def test_other_teams_workflows_are_the_one_404(admin_live: Live) -> None:
    billing = admin_live.service.create_key("team", "billing", OPERATOR).key
    theirs = _send(admin_live, "POST", "/v1/workflows", escalation(team="billing"), key=billing)
    assert theirs.status_code == 201, theirs.text
    assert_same_404(
        {
            "another team's workflow": _send(
                admin_live, "PUT", f"/v1/workflows/{theirs.json()['id']}", escalation()
            ),
            "an unknown workflow": _send(
                admin_live, "PUT", "/v1/workflows/workflow_" + "0" * 32, escalation()
            ),
            "another team in the body": _send(
                admin_live, "POST", "/v1/workflows", escalation(team="billing")
            ),
        }
    )


def test_the_body_must_name_the_workflow_it_is_put_to(admin_live: Live) -> None:
    created = _send(admin_live, "POST", "/v1/workflows", escalation()).json()
    renamed = _send(admin_live, "PUT", f"/v1/workflows/{created['id']}", escalation(name="Other"))
    assert "names another resource" in problem(renamed, 409)["detail"]


def test_members_read_but_only_the_team_and_its_admins_define(admin_live: Live) -> None:
    ann = admin_live.service.create_key("user", "ann", OPERATOR).key
    lead = admin_live.service.create_key("user", "lead", OPERATOR).key
    problem(_send(admin_live, "POST", "/v1/workflows", escalation(), key=ann), 403)
    created = _send(admin_live, "POST", "/v1/workflows", escalation(), key=lead)
    assert created.status_code == 201, created.text
    with admin_live.client() as client:
        unauthorized(client.post("/v1/workflows", json=escalation()))


def test_agents_are_defined_like_workflows(admin_live: Live) -> None:
    agent = {
        "name": "replier",
        "team": "support",
        "provider": "offline",
        "instructions": "Be brief.",
    }
    created = _send(admin_live, "POST", "/v1/agents", agent)
    assert (created.status_code, created.json()["outcome"]) == (201, "created"), created.text
    agent_ref = created.json()["id"]
    changed = _send(admin_live, "PUT", f"/v1/agents/{agent_ref}", agent | {"max_turns": 3})
    assert changed.json()["outcome"] == "updated"
    assert _send(admin_live, "GET", f"/v1/agents/{agent_ref}", None).json()["max_turns"] == 3
    bad = problem(
        _send(admin_live, "POST", "/v1/agents", agent | {"name": "x", "provider": "ghost"}), 422
    )
    assert bad["errors"] == [{"path": "provider", "message": "unknown provider 'ghost'"}]
    ann = admin_live.service.create_key("user", "ann", OPERATOR).key
    problem(_send(admin_live, "PUT", f"/v1/agents/{agent_ref}", agent, key=ann), 403)


def test_a_team_changes_its_people(admin_live: Live) -> None:
    team = _send(admin_live, "GET", "/v1/teams", None).json()["items"][0]
    body = {"name": "support", "members": ["ann", "cy"], "admins": ["lead"]}
    changed = _send(admin_live, "PUT", f"/v1/teams/{team['id']}", body)
    assert changed.json()["outcome"] == "updated", changed.text
    after = _send(admin_live, "GET", f"/v1/teams/{team['id']}", None).json()
    assert (after["members"], after["admins"]) == (["ann", "cy"], ["lead"])
    cy = admin_live.service.create_key("user", "cy", OPERATOR).key
    assert (
        _send(admin_live, "GET", "/v1/teams", None, key=cy).json()["items"][0]["name"] == "support"
    )
    renamed = _send(admin_live, "PUT", f"/v1/teams/{team['id']}", body | {"name": "billing"})
    problem(renamed, 404)  # the body names a team this key may not see


def test_only_the_team_or_its_admins_pause_a_workflow(admin_live: Live) -> None:
    created = _send(admin_live, "POST", "/v1/workflows", escalation()).json()
    ann = admin_live.service.create_key("user", "ann", OPERATOR).key
    lead = admin_live.service.create_key("user", "lead", OPERATOR).key
    problem(_send(admin_live, "POST", f"/v1/workflows/{created['id']}/pause", None, key=ann), 403)
    paused = _send(admin_live, "POST", f"/v1/workflows/{created['id']}/pause", None, key=lead)
    assert paused.json()["status"] == "paused", paused.text
    activated = _send(admin_live, "POST", f"/v1/workflows/{created['id']}/activate", None)
    assert activated.json()["status"] == "active"


def test_human_steps_defined_over_http_reach_only_the_callers_people(admin_live: Live) -> None:
    def review(**who: str) -> dict[str, Any]:
        step = {"key": "review", "handler": "human", **who}
        step["handoffs"] = [{"condition": "approved", "to": "complete"}]
        return escalation(name="Reviewed", steps=[step])

    assert_same_404(
        {
            "another team's people": _send(
                admin_live, "POST", "/v1/workflows", review(team="billing")
            ),
            "no such team": _send(admin_live, "POST", "/v1/workflows", review(team="nosuch")),
        }
    )
    stranger = problem(_send(admin_live, "POST", "/v1/workflows", review(assignee="mallory")), 422)
    assert stranger["errors"] == [
        {
            "path": "steps[0].assignee",
            "message": "'mallory' is not a member or admin of team 'support'",
        }
    ]
    ok = _send(admin_live, "POST", "/v1/workflows", review(assignee="ann"))
    assert ok.status_code == 201, ok.text
