"""Settings for the SSRF guard: which private addresses outgoing calls may reach."""

from __future__ import annotations

import pytest

from auxot.entrypoints.settings import Settings, SettingsError


def test_private_addresses_are_refused_unless_the_environment_allows_them() -> None:
    default = Settings.from_env({})
    assert (default.allow_private_urls, default.url_allow_list) == (False, ())
    allowed = Settings.from_env(
        {
            "AUXOT_ALLOW_PRIVATE_URLS": "true",
            "AUXOT_URL_ALLOW_LIST": " 10.8.0.0/16, tools.internal ,,",
        }
    )
    assert allowed.allow_private_urls is True
    assert allowed.url_allow_list == ("10.8.0.0/16", "tools.internal")
    assert Settings.from_env({"AUXOT_ALLOW_PRIVATE_URLS": "0"}).allow_private_urls is False


def test_a_flag_that_is_not_a_boolean_is_refused_by_name() -> None:
    with pytest.raises(SettingsError, match="AUXOT_ALLOW_PRIVATE_URLS"):
        Settings.from_env({"AUXOT_ALLOW_PRIVATE_URLS": "maybe"})
