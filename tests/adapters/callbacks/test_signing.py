"""Standard Webhooks signatures, checked by the reference implementation
(``standardwebhooks``) as an independent verifier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from standardwebhooks import Webhook, WebhookVerificationError

from auxot.adapters.callbacks.signing import signature, unix_seconds, webhook_headers
from auxot.domain.signing_secrets import format_secret

SECRET = format_secret(bytes(range(32)))
AT = datetime(2021, 2, 25, 15, 2, 10, 750000, tzinfo=UTC)

keys = st.binary(min_size=24, max_size=64)
secret_sets = st.lists(keys, min_size=1, max_size=3, unique=True).map(
    lambda ks: [format_secret(k) for k in ks]
)
webhook_ids = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)
# The verifier refuses timestamps more than 5 minutes from its own clock.
recent = st.integers(min_value=-240, max_value=240).map(
    lambda s: datetime.now(UTC) + timedelta(seconds=s)
)


def test_a_signature_is_the_reference_implementations() -> None:
    body = b'{"test": 2432232314}'
    expected = Webhook(SECRET).sign("msg_p5jXN8AQM9LWM0D4loKWxJek", AT, body)
    assert signature(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", unix_seconds(AT), body) == expected


def test_the_specifications_example_signs_as_published() -> None:
    # The example of the Standard Webhooks specification (and of its libraries' tests).
    assert (
        signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            b'{"test": 2432232314}',
        )
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_the_timestamp_is_whole_unix_seconds() -> None:
    assert unix_seconds(AT) == 1614265330
    headers = webhook_headers([SECRET], "msg_1", AT, b"{}")
    assert headers["webhook-timestamp"] == "1614265330"
    assert headers["webhook-id"] == "msg_1"


def test_each_secret_gives_one_signature_in_order() -> None:
    other = format_secret(b"x" * 24)
    headers = webhook_headers([SECRET, other], "msg_1", AT, b"{}")
    first, second = headers["webhook-signature"].split(" ")
    assert first == signature(SECRET, "msg_1", unix_seconds(AT), b"{}")
    assert second == signature(other, "msg_1", unix_seconds(AT), b"{}")


@given(body=st.binary(max_size=2048), webhook_id=webhook_ids, at=recent, secrets=secret_sets)
def test_every_secret_verifies_with_the_reference_implementation(
    body: bytes, webhook_id: str, at: datetime, secrets: list[str]
) -> None:
    headers = webhook_headers(secrets, webhook_id, at, body)
    for secret in secrets:  # a receiver holding any one of them accepts the message
        Webhook(secret).verify(body, headers, json_parse=False)


@given(
    body=st.binary(min_size=1, max_size=512),
    webhook_id=webhook_ids,
    at=recent,
    secrets=secret_sets,
    data=st.data(),
)
def test_a_flipped_byte_verifies_with_no_secret(
    body: bytes, webhook_id: str, at: datetime, secrets: list[str], data: st.DataObject
) -> None:
    headers = webhook_headers(secrets, webhook_id, at, body)
    index = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
    bit = data.draw(st.integers(min_value=0, max_value=7))
    tampered = bytearray(body)
    tampered[index] ^= 1 << bit
    for secret in secrets:
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(bytes(tampered), headers, json_parse=False)


@given(body=st.binary(max_size=256), at=recent, secrets=secret_sets, stranger=keys)
def test_a_secret_not_signed_with_does_not_verify(
    body: bytes, at: datetime, secrets: list[str], stranger: bytes
) -> None:
    assume(format_secret(stranger) not in secrets)
    headers = webhook_headers(secrets, "msg_1", at, body)
    with pytest.raises(WebhookVerificationError):
        Webhook(format_secret(stranger)).verify(body, headers, json_parse=False)


def test_another_id_or_timestamp_does_not_verify() -> None:
    now = datetime.now(UTC)
    headers = webhook_headers([SECRET], "msg_1", now, b"{}")
    for changed in (
        {**headers, "webhook-id": "msg_2"},
        {**headers, "webhook-timestamp": str(unix_seconds(now) + 1)},
    ):
        with pytest.raises(WebhookVerificationError):
            Webhook(SECRET).verify(b"{}", changed, json_parse=False)
