"""``GET /v1/intakes/{id}/secret`` and ``POST /v1/intakes/{id}/secret/rotate`` over a real
socket: team admins only, rotation with a bounded grace period."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from auxot.adapters.callbacks.signing import webhook_headers
from auxot.application.refs import parse_ref
from auxot.application.signing_secrets import signing_secrets
from auxot.domain.signing_secrets import secret_key
from tests.entrypoints.http.conftest import Live
from tests.entrypoints.http.helpers import assert_same_404, problem, unauthorized

PEOPLE = """\
teams:
  - name: support
    members: [mel]
    admins: [ada]
  - name: billing
"""


@pytest.fixture
def secrets_live(sqlite_url: str, serve: Callable[..., Live]) -> Live:
    live = serve(sqlite_url)
    live.apply(PEOPLE)
    return live


def key(live: Live, kind: str, owner: str) -> str:
    return live.service.create_key(kind, owner).key  # type: ignore[arg-type]


def call(
    live: Live, method: str, path: str, key: str | None = None, **kwargs: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or live.key}", **kwargs.pop("headers", {})}
    with live.client() as client:
        return client.request(method, path, headers=headers, **kwargs)


def secret_path(live: Live, intake: str | None = None) -> str:
    return f"/v1/intakes/{intake or live.intake_id}/secret"


def signing_now(live: Live) -> tuple[str, ...]:
    intake = live.service.directory.intake(parse_ref("intake", live.intake_id))  # type: ignore[arg-type]
    assert intake is not None
    return signing_secrets(intake, datetime.now(UTC))


def test_the_teams_own_key_and_its_admins_read_the_secret(secrets_live: Live) -> None:
    by_team = call(secrets_live, "GET", secret_path(secrets_live))
    assert by_team.status_code == 200, by_team.text
    body = by_team.json()
    assert body == {
        "intake_id": secrets_live.intake_id,
        "secret": body["secret"],
        "previous_valid_until": None,
    }
    assert len(secret_key(body["secret"])) >= 24
    by_admin = call(
        secrets_live, "GET", secret_path(secrets_live), key(secrets_live, "user", "ada")
    )
    assert by_admin.json() == body
    assert signing_now(secrets_live) == (body["secret"],)  # what callbacks are signed with


def test_a_member_who_is_not_an_admin_is_forbidden(secrets_live: Live) -> None:
    member = key(secrets_live, "user", "mel")
    problem(call(secrets_live, "GET", secret_path(secrets_live), member), 403)
    before = signing_now(secrets_live)
    problem(call(secrets_live, "POST", secret_path(secrets_live) + "/rotate", member), 403)
    assert signing_now(secrets_live) == before


def test_other_teams_intakes_are_the_same_404_as_unknown_ones(secrets_live: Live) -> None:
    billing = key(secrets_live, "team", "billing")
    unknown = "intake_" + "0" * 32
    assert_same_404(
        {
            "other team reads": call(secrets_live, "GET", secret_path(secrets_live), billing),
            "other team rotates": call(
                secrets_live, "POST", secret_path(secrets_live) + "/rotate", billing
            ),
            "unknown intake": call(secrets_live, "GET", secret_path(secrets_live, unknown)),
            "not an intake ref": call(
                secrets_live, "GET", secret_path(secrets_live, "work_" + "0" * 32)
            ),
        }
    )


def test_no_key_is_401(secrets_live: Live) -> None:
    with secrets_live.client() as client:
        unauthorized(client.get(secret_path(secrets_live)))
        unauthorized(client.post(secret_path(secrets_live) + "/rotate"))


def test_a_rotation_signs_with_both_secrets_for_the_grace_period(secrets_live: Live) -> None:
    old = call(secrets_live, "GET", secret_path(secrets_live)).json()["secret"]
    before = datetime.now(UTC)
    response = call(secrets_live, "POST", secret_path(secrets_live) + "/rotate")
    assert response.status_code == 200, response.text
    rotated = response.json()
    assert rotated["secret"] != old
    until = datetime.fromisoformat(rotated["previous_valid_until"])
    assert before + timedelta(hours=24) <= until <= datetime.now(UTC) + timedelta(hours=24)
    assert call(secrets_live, "GET", secret_path(secrets_live)).json() == rotated
    secrets = signing_now(secrets_live)
    assert secrets == (rotated["secret"], old)
    # Receivers holding either secret accept what is signed now.
    headers = webhook_headers(secrets, "msg_1", datetime.now(UTC), b"{}")
    for held in (old, rotated["secret"]):
        Webhook(held).verify(b"{}", headers, json_parse=False)


@pytest.mark.parametrize("grace", ["0", 0, "0s"])
def test_a_rotation_without_grace_ends_the_old_secret_at_once(
    secrets_live: Live, grace: object
) -> None:
    response = call(
        secrets_live, "POST", secret_path(secrets_live) + "/rotate", json={"grace": grace}
    )
    assert response.status_code == 200, response.text
    assert response.json()["previous_valid_until"] is None
    assert signing_now(secrets_live) == (response.json()["secret"],)


def test_a_grace_period_is_a_duration(secrets_live: Live) -> None:
    before = datetime.now(UTC)
    response = call(
        secrets_live, "POST", secret_path(secrets_live) + "/rotate", json={"grace": "1h30m"}
    )
    until = datetime.fromisoformat(response.json()["previous_valid_until"])
    assert before + timedelta(minutes=90) <= until <= datetime.now(UTC) + timedelta(minutes=90)


@pytest.mark.parametrize(
    "body",
    [
        {"grace": "8d"},
        {"grace": -1},
        {"grace": "soon"},
        {"grace": True},
        {"grace": 1e300},
        {"grace": "24h", "also": 1},
        [1],
    ],
    ids=["too long", "negative", "not a duration", "boolean", "overflow", "unknown field", "array"],
)
def test_a_bad_rotation_body_is_422_and_changes_nothing(secrets_live: Live, body: object) -> None:
    before = signing_now(secrets_live)
    response = call(secrets_live, "POST", secret_path(secrets_live) + "/rotate", json=body)
    problem(response, 422)
    assert signing_now(secrets_live) == before


def test_a_rotation_body_that_is_not_json_is_refused(secrets_live: Live) -> None:
    path = secret_path(secrets_live) + "/rotate"
    problem(
        call(
            secrets_live, "POST", path, content=b"{", headers={"Content-Type": "application/json"}
        ),
        400,
    )
    problem(
        call(
            secrets_live, "POST", path, content=b"grace=1h", headers={"Content-Type": "text/plain"}
        ),
        415,
    )
