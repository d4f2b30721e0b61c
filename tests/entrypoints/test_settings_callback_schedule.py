"""Callback settings: the retry schedule, the timeout and the sending threads."""

from __future__ import annotations

import pytest

from auxot.domain.callback_schedule import DEFAULT_SCHEDULE
from auxot.entrypoints.settings import Settings, SettingsError


def test_callbacks_default_to_the_documented_schedule_and_timeout() -> None:
    settings = Settings.from_env({})
    assert settings.callback_schedule == DEFAULT_SCHEDULE
    assert (settings.callback_timeout, settings.callback_threads) == (15.0, 8)


def test_the_schedule_and_timeout_are_read_as_durations() -> None:
    settings = Settings.from_env(
        {
            "AUXOT_CALLBACK_SCHEDULE": "0, 2s, 1m",
            "AUXOT_CALLBACK_TIMEOUT": "500ms",
            "AUXOT_CALLBACK_THREADS": "2",
        }
    )
    assert settings.callback_schedule.delays == (0, 2, 60)
    assert (settings.callback_timeout, settings.callback_threads) == (0.5, 2)


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("AUXOT_CALLBACK_SCHEDULE", "0,,5s"),
        ("AUXOT_CALLBACK_SCHEDULE", "soon"),
        ("AUXOT_CALLBACK_TIMEOUT", "-1"),
        ("AUXOT_CALLBACK_THREADS", "many"),
    ],
)
def test_bad_callback_settings_are_refused_by_name(name: str, raw: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: raw})
