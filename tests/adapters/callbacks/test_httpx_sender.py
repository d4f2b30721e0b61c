"""The httpx callback sender against a real receiver on 127.0.0.1: signing, every kind
of answer, and every way an attempt can fail without an answer."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from auxot.adapters.callbacks.httpx_sender import (
    MAX_RESPONSE_BYTES,
    USER_AGENT,
    HttpxCallbackSender,
    retry_after_seconds,
)
from auxot.adapters.clock import ManualClock
from auxot.adapters.net_guard import NetGuard
from auxot.application.ports import Callback
from auxot.domain.signing_secrets import format_secret
from tests.fakes.callback_receiver import CallbackReceiver, Reply

SECRET = format_secret(b"s" * 32)
OLD_SECRET = format_secret(b"o" * 32)
BODY = b'{"work_id": "work_0123", "status": "completed", "output": {"ok": true}}'
LOCAL = NetGuard(allow=("127.0.0.1/32",))  # the test suite's allow-list for its receivers


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    with CallbackReceiver() as running:
        yield running


def sender(guard: NetGuard = LOCAL, **options: object) -> HttpxCallbackSender:
    options.setdefault("allow_http", True)
    options.setdefault("timeout", 5.0)
    return HttpxCallbackSender(guard, **options)  # type: ignore[arg-type]


def callback(url: str, *secrets: str, at: datetime | None = None) -> Callback:
    return Callback(
        webhook_id="msg_2f1c0e7e9b3a4d5c",
        url=url,
        body=BODY,
        secrets=secrets or (SECRET,),
        timestamp=at or datetime.now(UTC),
    )


def test_a_2xx_is_delivered_signed_as_standard_webhooks_says(receiver: CallbackReceiver) -> None:
    at = datetime.now(UTC)
    outcome = sender().send(callback(receiver.url, at=at))
    assert outcome.delivered
    assert (outcome.status_code, outcome.error, outcome.retry_after) == (200, None, None)
    assert outcome.latency_ms >= 0
    [request] = receiver.wait_for(1)
    assert (request.method, request.path, request.body) == ("POST", "/hook", BODY)
    headers = request.headers
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == USER_AGENT
    assert headers["webhook-id"] == "msg_2f1c0e7e9b3a4d5c"
    assert headers["webhook-timestamp"] == str(int(at.timestamp()))
    assert Webhook(SECRET).verify(request.body, headers) == {
        "work_id": "work_0123",
        "status": "completed",
        "output": {"ok": True},
    }


def test_during_a_rotation_receivers_with_either_secret_verify(receiver: CallbackReceiver) -> None:
    assert sender().send(callback(receiver.url, SECRET, OLD_SECRET)).delivered
    [request] = receiver.wait_for(1)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(SECRET).verify(request.body, request.headers)  # a receiver already switched
    Webhook(OLD_SECRET).verify(request.body, request.headers)  # one not yet switched
    with pytest.raises(WebhookVerificationError):
        Webhook(format_secret(b"x" * 32)).verify(request.body, request.headers)


def test_every_attempt_keeps_the_id_and_has_its_own_timestamp(receiver: CallbackReceiver) -> None:
    first = datetime.now(UTC)
    later = first + timedelta(seconds=30)
    sender().send(callback(receiver.url, at=first))
    sender().send(callback(receiver.url, at=later))
    one, two = receiver.wait_for(2)
    assert one.headers["webhook-id"] == two.headers["webhook-id"]
    assert int(two.headers["webhook-timestamp"]) - int(one.headers["webhook-timestamp"]) == 30


def test_a_5xx_is_a_failure_with_its_answer_on_one_line(receiver: CallbackReceiver) -> None:
    receiver.script(Reply.status(500, b"database\n  is down"))
    outcome = sender().send(callback(receiver.url))
    assert not outcome.delivered
    assert (outcome.status_code, outcome.error) == (500, "HTTP 500: database is down")
    assert outcome.retry_after is None


def test_410_says_gone(receiver: CallbackReceiver) -> None:
    receiver.script(Reply.status(410))
    outcome = sender().send(callback(receiver.url))
    assert outcome.gone
    assert not outcome.delivered
    assert outcome.error == "HTTP 410"


@pytest.mark.parametrize("code", [429, 503])
def test_retry_after_in_seconds_is_reported(receiver: CallbackReceiver, code: int) -> None:
    receiver.script(Reply.retry_after("120", code=code))
    outcome = sender().send(callback(receiver.url))
    assert (outcome.status_code, outcome.retry_after) == (code, 120.0)


def test_retry_after_as_a_date_is_seconds_from_now(receiver: CallbackReceiver) -> None:
    clock = ManualClock(datetime(2026, 5, 1, 12, 0, tzinfo=UTC))
    receiver.script(Reply.retry_after(format_datetime(clock.now() + timedelta(minutes=3), True)))
    outcome = sender(clock=clock).send(callback(receiver.url))
    assert (outcome.status_code, outcome.retry_after) == (429, 180.0)


def test_retry_after_is_only_heeded_on_429_and_503(receiver: CallbackReceiver) -> None:
    receiver.script(Reply.status(500, headers={"Retry-After": "60"}))
    assert sender().send(callback(receiver.url)).retry_after is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        (" 30 ", 30.0),
        ("Fri, 01 May 2026 12:00:10 GMT", 10.0),
        ("Fri, 01 May 2026 11:00:00 GMT", 0.0),  # in the past: at once
        ("soon", None),
        ("-5", None),
        ("1.5", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_values(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, datetime(2026, 5, 1, 12, 0, tzinfo=UTC)) == seconds


def test_a_redirect_is_a_failure_and_is_not_followed(receiver: CallbackReceiver) -> None:
    with CallbackReceiver() as elsewhere:
        receiver.script(Reply.redirect(elsewhere.url))
        outcome = sender().send(callback(receiver.url))
        assert (outcome.status_code, outcome.delivered) == (302, False)
        assert outcome.error == "HTTP 302: redirects are not followed"
        # send() returns only after the whole exchange: a followed redirect would be here
        assert elsewhere.requests == []


def test_a_receiver_hanging_past_the_timeout_is_a_timeout(receiver: CallbackReceiver) -> None:
    receiver.script(Reply.hang())
    outcome = sender(timeout=0.5).send(callback(receiver.url))
    assert (outcome.status_code, outcome.error) == (None, "timed out after 0.5s")
    assert len(receiver.wait_for(1)) == 1


@pytest.mark.parametrize("reply", [Reply.drop(), Reply.reset()], ids=["closed", "reset"])
def test_a_connection_ended_without_an_answer_is_no_answer(
    receiver: CallbackReceiver, reply: Reply
) -> None:
    receiver.script(reply)
    outcome = sender().send(callback(receiver.url))
    assert outcome.status_code is None
    assert outcome.error is not None
    assert outcome.error.startswith("no answer: ")
    assert "\n" not in outcome.error


def test_a_refused_connection_is_no_answer() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    outcome = sender().send(callback(f"http://127.0.0.1:{port}/hook"))
    assert outcome.status_code is None
    assert outcome.error is not None
    assert outcome.error.startswith("no answer: ConnectError")


def test_a_refused_address_is_never_contacted(receiver: CallbackReceiver) -> None:
    outcome = sender(NetGuard()).send(callback(receiver.url))  # loopback, not allowed
    assert outcome.status_code is None
    assert outcome.error is not None
    assert outcome.error.startswith("refused: 127.0.0.1 resolves to 127.0.0.1")
    assert receiver.requests == []


def test_an_address_is_checked_at_each_attempt(receiver: CallbackReceiver) -> None:
    answers = iter([["127.0.0.1"], ["10.1.2.3"]])  # the name is rebound between attempts
    guard = NetGuard(allow=("127.0.0.1/32",), resolve=lambda host, port: next(answers))
    url = receiver.url_for("hooks.example")
    assert sender(guard).send(callback(url)).delivered
    second = sender(guard).send(callback(url))
    assert second.status_code is None
    assert second.error is not None
    assert second.error.startswith("refused: hooks.example resolves to 10.1.2.3")
    assert len(receiver.requests) == 1


def test_the_connection_goes_to_the_checked_address(receiver: CallbackReceiver) -> None:
    # "hooks.example" resolves nowhere but in this guard: the request arriving proves
    # the connection went to the address checked, with the name as Host.
    guard = NetGuard(allow=("127.0.0.1/32",), resolve=lambda host, port: ["127.0.0.1"])
    outcome = sender(guard).send(callback(receiver.url_for("hooks.example")))
    assert outcome.delivered
    [request] = receiver.wait_for(1)
    assert request.headers["host"] == f"hooks.example:{receiver.port}"


def test_a_name_that_does_not_resolve_is_no_answer(receiver: CallbackReceiver) -> None:
    def fail(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    outcome = sender(NetGuard(resolve=fail)).send(callback(receiver.url_for("nowhere.invalid")))
    assert outcome.status_code is None
    assert outcome.error is not None
    assert outcome.error.startswith("refused: cannot resolve nowhere.invalid")


def test_plain_http_is_refused_unless_the_deployment_allows_it(receiver: CallbackReceiver) -> None:
    outcome = sender(allow_http=False).send(callback(receiver.url))
    assert outcome.status_code is None
    assert outcome.error is not None
    assert "must be https" in outcome.error
    assert receiver.requests == []


def test_nothing_is_sent_unsigned(receiver: CallbackReceiver) -> None:
    unsigned = Callback("msg_1", receiver.url, BODY, (), datetime.now(UTC))
    outcome = sender().send(unsigned)
    assert (outcome.status_code, outcome.error) == (
        None,
        "refused: the intake has no signing secret (nothing sent)",
    )
    assert receiver.requests == []


def test_a_long_answer_is_read_only_up_to_the_cap(receiver: CallbackReceiver) -> None:
    receiver.script(Reply.status(500, b"x" * (MAX_RESPONSE_BYTES * 100)))
    outcome = sender().send(callback(receiver.url))
    assert outcome.status_code == 500
    assert outcome.error is not None
    assert len(outcome.error) <= 300


def test_send_never_raises(receiver: CallbackReceiver) -> None:
    broken = Callback("msg_1", receiver.url, BODY, ("whsec_!!",), datetime.now(UTC))
    outcome = sender().send(broken)
    assert (outcome.status_code, outcome.error) == (None, "internal error: SecretError")
    assert receiver.requests == []
