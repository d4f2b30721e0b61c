"""Callbacks over HTTPS to a real TLS receiver on 127.0.0.1: the connection goes to the
checked address while the certificate is verified for the URL's host name."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from auxot.adapters.callbacks.httpx_sender import HttpxCallbackSender
from auxot.adapters.net_guard import NetGuard
from auxot.application.ports import Callback
from auxot.domain.signing_secrets import format_secret
from tests.fakes.callback_receiver import CallbackReceiver
from tests.fakes.tls import HAVE_OPENSSL, Certificates, make_certificates

pytestmark = pytest.mark.skipif(not HAVE_OPENSSL, reason="needs the openssl command")

SECRET = format_secret(b"t" * 32)
# The name resolves to the receiver only through this guard: nothing else could reach it.
GUARD = NetGuard(allow=("127.0.0.1/32",), resolve=lambda host, port: ["127.0.0.1"])


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"), "hooks.example")


@pytest.fixture
def receiver(certificates: Certificates) -> Iterator[CallbackReceiver]:
    with CallbackReceiver(tls=certificates.server_context()) as running:
        yield running


def send(receiver: CallbackReceiver, host: str, **options: object) -> tuple[int | None, str | None]:
    sender = HttpxCallbackSender(GUARD, timeout=5.0, **options)  # type: ignore[arg-type]
    callback = Callback(
        "msg_tls", receiver.url_for(host), b'{"ok": true}', (SECRET,), datetime.now(UTC)
    )
    outcome = sender.send(callback)
    return outcome.status_code, outcome.error


def test_https_goes_to_the_checked_address_verified_for_the_name(
    receiver: CallbackReceiver, certificates: Certificates
) -> None:
    # https needs no AUXOT_ALLOW_HTTP_CALLBACKS (allow_http stays False)
    assert send(receiver, "hooks.example", tls=certificates.client_context()) == (200, None)
    [request] = receiver.wait_for(1)
    assert request.headers["host"] == f"hooks.example:{receiver.port}"
    Webhook(SECRET).verify(request.body, request.headers)


def test_a_certificate_for_another_name_is_refused(
    receiver: CallbackReceiver, certificates: Certificates
) -> None:
    status, error = send(receiver, "other.example", tls=certificates.client_context())
    assert status is None
    assert error is not None
    assert error.startswith("no answer: ConnectError")
    assert "certificate verify failed" in error.lower()
    assert receiver.requests == []


def test_a_certificate_from_an_untrusted_ca_is_refused(receiver: CallbackReceiver) -> None:
    status, error = send(receiver, "hooks.example")  # certifi's CAs do not know ours
    assert status is None
    assert error is not None
    assert "certificate verify failed" in error.lower()
    assert receiver.requests == []
