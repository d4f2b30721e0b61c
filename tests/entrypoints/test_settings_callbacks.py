"""``AUXOT_ALLOW_HTTP_CALLBACKS``: callback and tool URLs are https-only unless set."""

from __future__ import annotations

import pytest

from auxot.entrypoints.settings import Settings, SettingsError


def test_http_callbacks_are_off_unless_the_environment_allows_them() -> None:
    assert Settings.from_env({}).allow_http_callbacks is False
    assert Settings.from_env({"AUXOT_ALLOW_HTTP_CALLBACKS": "true"}).allow_http_callbacks
    assert not Settings.from_env({"AUXOT_ALLOW_HTTP_CALLBACKS": "off"}).allow_http_callbacks
    with pytest.raises(SettingsError, match="AUXOT_ALLOW_HTTP_CALLBACKS"):
        Settings.from_env({"AUXOT_ALLOW_HTTP_CALLBACKS": "sometimes"})
