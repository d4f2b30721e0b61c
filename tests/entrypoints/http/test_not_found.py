"""The one 404: unknown, malformed, deactivated and other teams' resources all answer
the same bytes, so a caller learns nothing about what exists beyond its reach."""

from __future__ import annotations

import uuid

import httpx

from auxot.domain.actor import SYSTEM as OPERATOR
from tests.entrypoints.http.conftest import Live
from tests.entrypoints.http.helpers import assert_same_404

BODY = {"customer": "Nobody", "subject": "404"}

# The example's team, with two more intakes on the same workflow, and a second team
# with a workflow and intake of its own.
TWO_TEAMS = """\
teams:
  - name: support
  - name: billing
providers:
  - name: offline
    kind: scripted
workflows:
  - name: Support Ticket Triage
    team: support
    steps:
      - key: classify
        prompt: "Classify this ticket: {{ input.subject }}"
        provider: offline
        handoffs:
          - {condition: default, to: draft}
      - key: draft
        prompt: "Draft a reply to {{ input.customer }}"
        provider: offline
        handoffs:
          - {condition: default, to: complete}
  - name: Invoices
    team: billing
    steps:
      - key: answer
        prompt: "Invoice for {{ input.customer }}"
        provider: offline
        handoffs:
          - {condition: default, to: complete}
intakes:
  - name: triage
    workflow: Support Ticket Triage
    team: support
  - name: escalations
    workflow: Support Ticket Triage
    team: support
  - name: retired
    workflow: Support Ticket Triage
    team: support
    active: RETIRED_ACTIVE
  - name: invoices
    workflow: Invoices
    team: billing
"""


def _declare(live: Live, *, retired_active: bool) -> dict[str, str]:
    return live.apply(TWO_TEAMS.replace("RETIRED_ACTIVE", str(retired_active).lower()))


def test_every_kind_of_absence_is_the_same_404(live: Live) -> None:
    refs = _declare(live, retired_active=True)
    triage, escalations = refs["intake:triage"], refs["intake:escalations"]
    retired, invoices = refs["intake:retired"], refs["intake:invoices"]
    assert triage == live.intake_id
    billing = {
        "Authorization": f"Bearer {live.service.create_key('team', 'billing', OPERATOR).key}"
    }
    auth = live.auth

    with live.client() as client:

        def post(intake: str, headers: dict[str, str] = auth) -> httpx.Response:
            return client.post(f"/v1/intake/{intake}", json=BODY, headers=headers)

        def get(intake: str, work: str, headers: dict[str, str] = auth) -> httpx.Response:
            return client.get(f"/v1/intake/{intake}/work/{work}", headers=headers)

        def accepted(intake: str, headers: dict[str, str] = auth) -> str:
            response = post(intake, headers)
            assert response.status_code == 202, response.text
            return str(response.json()["work_id"])

        # Controls: everything below exists and works for its rightful caller.
        on_triage = accepted(triage)
        on_escalations = accepted(escalations)
        on_retired = accepted(retired)
        on_invoices = accepted(invoices, billing)
        for intake, work, headers in [
            (triage, on_triage, auth),
            (escalations, on_escalations, auth),
            (retired, on_retired, auth),
            (invoices, on_invoices, billing),
        ]:
            assert get(intake, work, headers).status_code == 200

        _declare(live, retired_active=False)
        unknown_intake = f"intake_{uuid.uuid4().hex}"
        unknown_work = f"work_{uuid.uuid4().hex}"
        responses = {
            "POST unknown intake": post(unknown_intake),
            "POST malformed intake": post("intake_not-hex"),
            "POST intake id of the wrong kind": post(f"work_{uuid.UUID(triage[7:]).hex}"),
            "POST intake id with a bad length": post(triage + "0"),
            "POST deactivated intake": post(retired),
            "POST another team's intake": post(invoices),
            "GET unknown work": get(triage, unknown_work),
            "GET malformed work id": get(triage, "work_xyz"),
            "GET a work id of the wrong kind": get(triage, triage),
            "GET work of another intake of the team": get(escalations, on_triage),
            "GET work on an unknown intake": get(unknown_intake, on_triage),
            "GET work on a malformed intake": get("garbage", on_triage),
            "GET work of a deactivated intake": get(retired, on_retired),
            "GET work of another team": get(invoices, on_invoices),
            "GET another team's work through own intake": get(triage, on_invoices),
        }
        assert_same_404(responses)

        # The absences are not the server's: the rightful callers are still served.
        assert get(triage, on_triage).status_code == 200
        assert get(escalations, on_escalations).status_code == 200
        assert get(invoices, on_invoices, billing).status_code == 200
        assert post(invoices, billing).status_code == 202


def test_a_reactivated_intake_serves_again(live: Live) -> None:
    """Deactivation hides, it does not delete: the same 404 while inactive, then back."""
    _declare(live, retired_active=True)
    retired = _declare(live, retired_active=False)["intake:retired"]
    with live.client() as client:
        inactive = client.post(f"/v1/intake/{retired}", json=BODY, headers=live.auth)
        unknown = client.post(f"/v1/intake/intake_{uuid.uuid4().hex}", json=BODY, headers=live.auth)
        assert_same_404({"unknown": unknown, "inactive": inactive})
        _declare(live, retired_active=True)
        active = client.post(f"/v1/intake/{retired}", json=BODY, headers=live.auth)
        assert active.status_code == 202, active.text
