"""``Callback-Url`` on ``POST /v1/intake/{intake_id}``: off unless the intake allows it,
and then held to the same address rule as a saved callback URL."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import httpx
import pytest

from auxot.application.declarations import DeclarationError
from auxot.application.refs import parse_ref
from tests.entrypoints.http.conftest import Live
from tests.entrypoints.http.helpers import problem

RECEIVER = "http://127.0.0.1:8123/hook"
OVERRIDABLE = """\
intakes:
  - name: overridable
    workflow: Support Ticket Triage
    team: support
    callback_url: http://127.0.0.1:8123/default
    allow_callback_override: true
"""


@pytest.fixture(params=["fast-path", "handler-only"])
def local(request: pytest.FixtureRequest, sqlite_url: str, serve: Callable[..., Live]) -> Live:
    """The service allowing http callbacks to 127.0.0.1 (the test's receivers)."""
    return serve(
        sqlite_url,
        settings={"url_allow_list": ("127.0.0.1",), "allow_http_callbacks": True},
        intake_fast_path=request.param == "fast-path",
    )


def post(live: Live, callback_url: str, intake: str | None = None) -> httpx.Response:
    with live.client() as client:
        return client.post(
            f"/v1/intake/{intake or live.intake_id}",
            json={"subject": "s"},
            headers={**live.auth, "Callback-Url": callback_url},
        )


def test_an_intake_that_allows_it_records_the_requests_callback_url(local: Live) -> None:
    intake = local.apply(OVERRIDABLE)["intake:overridable"]
    accepted = post(local, RECEIVER, intake)
    assert accepted.status_code == 202, accepted.text
    work_id = parse_ref("work", accepted.json()["work_id"])
    assert work_id is not None
    assert local.service.work.item(work_id).callback_url == RECEIVER


def test_an_intake_that_does_not_allow_it_answers_422(local: Live) -> None:
    refused = problem(post(local, RECEIVER), 422)
    assert "allow_callback_override" in refused["detail"]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[::1]:8123/hook", "loopback"),
        ("http://10.0.0.1/hook", "private"),
        ("http://[::ffff:a9fe:a9fe]/", "metadata"),  # 169.254.169.254, IPv4-mapped
        ("ftp://1.1.1.1/hook", "only http:// or https://"),
        ("https://nowhere.invalid/hook", "cannot resolve"),
    ],
)
def test_a_callback_url_the_address_rule_refuses_is_422(local: Live, url: str, why: str) -> None:
    intake = local.apply(OVERRIDABLE)["intake:overridable"]
    refused = problem(post(local, url, intake), 422)
    assert why in refused["detail"], refused


def test_http_is_refused_where_the_deployment_does_not_allow_it(
    sqlite_url: str, serve: Callable[..., Live]
) -> None:
    live = serve(sqlite_url, settings={"url_allow_list": ("127.0.0.1",)})
    with pytest.raises(DeclarationError, match="only https://"):
        live.apply(OVERRIDABLE)  # the intake's own http callback URL is refused first
    without = OVERRIDABLE.replace("    callback_url: http://127.0.0.1:8123/default\n", "")
    intake = live.apply(without)["intake:overridable"]
    refused = problem(post(live, RECEIVER, intake), 422)
    assert "AUXOT_ALLOW_HTTP_CALLBACKS" in refused["detail"]


def test_an_unusable_intake_is_the_one_404_before_any_callback_check(local: Live) -> None:
    stranger = attrs.evolve(local, intake_id="intake_" + "0" * 32)
    problem(post(stranger, "http://169.254.169.254/"), 404)


def test_the_header_given_twice_is_400(local: Live) -> None:
    with local.client() as client:
        response = client.post(
            f"/v1/intake/{local.intake_id}",
            json={"subject": "s"},
            headers=[
                ("Authorization", local.auth["Authorization"]),
                ("Callback-Url", RECEIVER),
                ("Callback-Url", RECEIVER),
            ],
        )
    assert "once" in problem(response, 400)["detail"]
