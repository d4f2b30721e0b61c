"""Bearer authentication: every way of not presenting a usable key is the same 401
problem with a ``WWW-Authenticate`` challenge; a user key reaches its teams only."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

import httpx
import pytest

from auxot.application.keys import hash_secret
from auxot.domain.actor import SYSTEM as OPERATOR
from auxot.domain.api_key import ApiKey
from tests.entrypoints.http.conftest import Live
from tests.entrypoints.http.helpers import assert_same_404, unauthorized
from tests.support import EXAMPLE_WORKFLOW, wait_until

BODY = {"customer": "Auth", "subject": "keys"}

ALICE_IN_SUPPORT = EXAMPLE_WORKFLOW.replace(
    "  - name: support\n", "  - name: support\n    members: [alice]\n", 1
)
assert ALICE_IN_SUPPORT != EXAMPLE_WORKFLOW


def _post(client: httpx.Client, live: Live, headers: dict[str, str]) -> httpx.Response:
    return client.post(f"/v1/intake/{live.intake_id}", json=BODY, headers=headers)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _issue(live: Live, *, expires_in: timedelta) -> str:
    """A team key for ``support`` expiring ``expires_in`` from now (negative: expired)."""
    key_id, secret = uuid.uuid4(), secrets.token_urlsafe(32)
    now = live.service.clock.now()
    live.service.registry.save(
        ApiKey.issue(
            key_id, "team", "support", hash_secret(secret), at=now, expires_at=now + expires_in
        )
    )
    live.service.directory.refresh()
    return f"team.{key_id.hex}.{secret}"


def test_a_valid_team_key_is_accepted(live: Live) -> None:
    """The control for every refusal below."""
    with live.client() as client:
        response = _post(client, live, live.auth)
        assert response.status_code == 202, response.text
        polled = client.get(response.headers["location"], headers=live.auth)
        assert polled.status_code == 200, polled.text


def test_unusable_credentials_are_401_problems(live: Live) -> None:
    kind, key_id, secret = live.key.split(".")
    user_key = live.service.create_key("user", "bob", OPERATOR).key
    _, user_key_id, user_secret = user_key.split(".")
    cases: dict[str, dict[str, str]] = {
        "missing header": {},
        "basic scheme": {"Authorization": "Basic dXNlcjpwYXNz"},
        "key without scheme": {"Authorization": live.key},
        "bearer, no token": {"Authorization": "Bearer"},
        "malformed: one part": _bearer("not-a-key"),
        "malformed: two parts": _bearer(f"team.{key_id}"),
        "malformed: four parts": _bearer(f"{live.key}.extra"),
        "malformed: short id": _bearer(f"team.{key_id[:16]}.{secret}"),
        "malformed: id not hex": _bearer(f"team.{'z' * 32}.{secret}"),
        "malformed: unknown kind": _bearer(f"admin.{key_id}.{secret}"),
        "unknown key": _bearer(f"team.{uuid.uuid4().hex}.{secrets.token_urlsafe(32)}"),
        "wrong secret": _bearer(f"team.{key_id}.{secrets.token_urlsafe(32)}"),
        "empty secret": _bearer(f"team.{key_id}."),
        "team key as user key": _bearer(f"user.{key_id}.{secret}"),
        "user key as team key": _bearer(f"team.{user_key_id}.{user_secret}"),
        "expired key": _bearer(_issue(live, expires_in=timedelta(minutes=-1))),
    }
    assert kind == "team"
    with live.client() as client:
        work_id = _post(client, live, live.auth).json()["work_id"]
        for case, headers in cases.items():
            posted = _post(client, live, headers)
            assert posted.status_code == 401, (case, posted.status_code, posted.text)
            unauthorized(posted)
            polled = client.get(f"/v1/intake/{live.intake_id}/work/{work_id}", headers=headers)
            assert polled.status_code == 401, (case, polled.status_code, polled.text)
            unauthorized(polled)
            assert work_id not in polled.text


def test_authentication_comes_before_existence(live: Live) -> None:
    """Without a key, an unknown intake is not told apart from a real one."""
    with live.client() as client:
        real = client.post(f"/v1/intake/{live.intake_id}", json=BODY)
        unknown = client.post(f"/v1/intake/intake_{uuid.uuid4().hex}", json=BODY)
        malformed = client.post("/v1/intake/garbage", json=BODY)
    for response in (real, unknown, malformed):
        unauthorized(response)
    assert real.content == unknown.content == malformed.content


def test_a_key_not_yet_expired_works(live: Live) -> None:
    with live.client() as client:
        response = _post(client, live, _bearer(_issue(live, expires_in=timedelta(hours=1))))
    assert response.status_code == 202, response.text


def test_a_revoked_key_is_refused(live: Live) -> None:
    issued = live.service.create_key("team", "support", OPERATOR)
    with live.client() as client:
        assert _post(client, live, _bearer(issued.key)).status_code == 202
        work_id = _post(client, live, _bearer(issued.key)).json()["work_id"]
        assert live.service.revoke_key(issued.id, OPERATOR)
        wait_until(
            lambda: _post(client, live, _bearer(issued.key)).status_code == 401,
            timeout=5,
            what="the server to refuse the revoked key",
        )
        # ... and it stays refused, for submitting and for polling alike.
        for _ in range(3):
            unauthorized(_post(client, live, _bearer(issued.key)))
        unauthorized(
            client.get(f"/v1/intake/{live.intake_id}/work/{work_id}", headers=_bearer(issued.key))
        )
        # Other keys of the team are not affected.
        assert _post(client, live, live.auth).status_code == 202


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_user_key_reaches_only_the_teams_that_list_the_user(live: Live, method: str) -> None:
    alice = _bearer(live.service.create_key("user", "alice", OPERATOR).key)
    with live.client() as client:
        work_id = _post(client, live, live.auth).json()["work_id"]

        def call(headers: dict[str, str]) -> httpx.Response:
            if method == "POST":
                return _post(client, live, headers)
            return client.get(f"/v1/intake/{live.intake_id}/work/{work_id}", headers=headers)

        unknown = {"Authorization": live.auth["Authorization"]}
        reference = (
            client.post(f"/v1/intake/intake_{uuid.uuid4().hex}", json=BODY, headers=unknown)
            if method == "POST"
            else client.get(
                f"/v1/intake/{live.intake_id}/work/work_{uuid.uuid4().hex}", headers=unknown
            )
        )
        not_member = call(alice)
        assert_same_404({"unknown resource": reference, "alice, not a member": not_member})

        live.apply(ALICE_IN_SUPPORT)
        member = call(alice)
        assert member.status_code == (202 if method == "POST" else 200), member.text

        live.apply(EXAMPLE_WORKFLOW)  # alice leaves the team
        removed = call(alice)
        assert_same_404({"unknown resource": reference, "alice, removed": removed})
