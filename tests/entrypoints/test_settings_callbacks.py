"""The deployment's callback settings, as the composition root wires them into the
sender: https only unless AUXOT_ALLOW_HTTP_CALLBACKS, private receivers only when the
address guard's settings admit them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from auxot.application.ports import Callback
from auxot.domain.signing_secrets import format_secret
from auxot.entrypoints.bootstrap import default_callback_sender
from auxot.entrypoints.settings import Settings, SettingsError
from tests.fakes.callback_receiver import CallbackReceiver


def test_plain_http_callbacks_are_off_unless_the_environment_allows_them() -> None:
    assert Settings.from_env({}).allow_http_callbacks is False
    allowed = Settings.from_env({"AUXOT_ALLOW_HTTP_CALLBACKS": "yes"})
    assert allowed.allow_http_callbacks is True
    with pytest.raises(SettingsError, match="AUXOT_ALLOW_HTTP_CALLBACKS"):
        Settings.from_env({"AUXOT_ALLOW_HTTP_CALLBACKS": "sometimes"})


def send(settings: Settings, receiver: CallbackReceiver) -> str | None:
    callback = Callback(
        "msg_1", receiver.url, b"{}", (format_secret(b"k" * 32),), datetime.now(UTC)
    )
    return default_callback_sender(settings).send(callback).error


@pytest.mark.parametrize(
    ("env", "refusal"),
    [
        ({}, "must be https"),
        ({"AUXOT_ALLOW_HTTP_CALLBACKS": "1"}, "loopback, private"),
        ({"AUXOT_ALLOW_HTTP_CALLBACKS": "1", "AUXOT_URL_ALLOW_LIST": "127.0.0.1/32"}, None),
        ({"AUXOT_ALLOW_HTTP_CALLBACKS": "1", "AUXOT_ALLOW_PRIVATE_URLS": "1"}, None),
    ],
    ids=["default", "http allowed", "allow-listed", "private allowed"],
)
def test_the_sender_follows_the_settings(env: dict[str, str], refusal: str | None) -> None:
    with CallbackReceiver() as receiver:
        error = send(Settings.from_env(env), receiver)
        if refusal is None:
            assert error is None
            assert len(receiver.requests) == 1
        else:
            assert error is not None
            assert refusal in error
            assert receiver.requests == []
