"""Defining intakes over the API: a team's own callback URL, checked where it is saved."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.entrypoints.http.conftest import Live
from tests.entrypoints.http.helpers import problem

RECEIVER = "http://127.0.0.1:8123/hook"
WORKFLOW = "Support Ticket Triage"


@pytest.fixture
def local(sqlite_url: str, serve: Callable[..., Live]) -> Live:
    return serve(
        sqlite_url, settings={"url_allow_list": ("127.0.0.1",), "allow_http_callbacks": True}
    )


def send(live: Live, method: str, path: str, body: Any, key: str | None = None) -> httpx.Response:
    with live.client() as client:
        return client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {key or live.key}"}
        )


def intake(name: str = "hooks", **fields: Any) -> dict[str, Any]:
    return {"name": name, "workflow": WORKFLOW, "team": "support", **fields}


def test_a_team_defines_an_intake_with_its_callback_and_changes_it(local: Live) -> None:
    created = send(local, "POST", "/v1/intakes", intake(callback_url=RECEIVER))
    assert created.status_code == 201, created.text
    assert created.json()["outcome"] == "created"
    ref = created.json()["id"]
    # Its signing secret is shown on creation, and is the one an admin reads later.
    secret = send(local, "GET", f"/v1/intakes/{ref}/secret", None).json()["secret"]
    assert created.json()["secret"] == secret
    assert secret.startswith("whsec_")
    shown = send(local, "GET", f"/v1/intakes/{ref}", None).json()
    assert (shown["callback_url"], shown["allow_callback_override"]) == (RECEIVER, False)
    changed = send(
        local, "PUT", f"/v1/intakes/{ref}", intake(callback_url=None, allow_callback_override=True)
    )
    assert changed.json()["outcome"] == "updated"
    assert "secret" not in changed.json()  # shown only when created
    shown = send(local, "GET", f"/v1/intakes/{ref}", None).json()
    assert (shown["callback_url"], shown["allow_callback_override"]) == (None, True)
    accepted = send(local, "POST", f"/v1/intake/{ref}", {"subject": "s"})
    assert accepted.status_code == 202


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[::1]:8123/hook", "loopback"),
        ("http://100.64.0.1/hook", "private"),
        ("https://nowhere.invalid/hook", "cannot resolve"),
    ],
)
def test_a_callback_url_auxot_may_not_call_is_422_and_nothing_saved(
    local: Live, url: str, why: str
) -> None:
    refused = problem(send(local, "POST", "/v1/intakes", intake(callback_url=url)), 422)
    [error] = refused["errors"]
    assert error["path"] == "callback_url"
    assert why in error["message"]
    names = [i["name"] for i in send(local, "GET", "/v1/intakes", None).json()["items"]]
    assert names == ["triage"]


def test_changing_another_teams_intake_is_the_one_404(local: Live) -> None:
    local.apply("teams:\n  - name: billing\n")
    billing_key = local.service.create_key("team", "billing").key
    body = intake("triage", callback_url=RECEIVER)
    problem(send(local, "PUT", f"/v1/intakes/{local.intake_id}", body, key=billing_key), 404)


def test_an_intake_of_an_unknown_workflow_is_422(local: Live) -> None:
    refused = problem(send(local, "POST", "/v1/intakes", intake(workflow="Nope")), 422)
    assert refused["errors"][0]["path"] == "workflow"
