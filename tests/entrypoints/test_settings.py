"""Settings: the one reader of the environment."""

from __future__ import annotations

import pytest

from auxot.entrypoints.settings import Settings, SettingsError


def test_only_api_key_variables_reach_providers() -> None:
    settings = Settings.from_env(
        {
            "OPENAI_API_KEY": "sk-1",
            "AUXOT_DATABASE_URL": "postgresql://u:pw@h/db",
            "AWS_SECRET_ACCESS_KEY": "x",
        }
    )
    assert dict(settings.secrets) == {"OPENAI_API_KEY": "sk-1"}
    assert settings.database_url == "postgresql://u:pw@h/db"
    assert "sk-1" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "raw"), [("AUXOT_PORT", "0"), ("AUXOT_PORT", "http"), ("AUXOT_POLL_INTERVAL", "soon")]
)
def test_bad_values_are_refused_by_name(name: str, raw: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: raw})
