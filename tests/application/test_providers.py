"""The provider pool: one live provider per record, never going back a version."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from auxot.adapters.providers.scripted import ScriptedProvider
from auxot.application.providers import ProviderPool
from auxot.domain.identity import provider_id
from auxot.domain.provider import Provider as ProviderRecord

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Built:
    def __init__(self) -> None:
        self.providers: list[ScriptedProvider] = []
        self.closed: list[ScriptedProvider] = []

    def factory(self, name: str, settings: Mapping[str, Any]) -> ScriptedProvider:
        provider = ScriptedProvider(name, settings)
        original_close = provider.close

        def close() -> None:
            self.closed.append(provider)
            original_close()

        provider.close = close  # type: ignore[method-assign]
        self.providers.append(provider)
        return provider


def test_a_newer_record_replaces_the_live_provider_and_an_older_one_does_not() -> None:
    built = Built()
    pool = ProviderPool({"scripted": built.factory})
    record = ProviderRecord.register(provider_id("p"), "p", "scripted", {}, 2, T0)
    old = pool.get(record)
    before = ProviderRecord.register(provider_id("p"), "p", "scripted", {}, 2, T0)
    record.reconfigure("scripted", {"reply": "new"}, 2, T0)
    new = pool.get(record)
    assert new is not old
    assert built.closed == [old]
    # A step claimed before the change still holds the old record: it gets the live one.
    assert pool.get(before) is new
    assert built.closed == [old]


@pytest.mark.parametrize("timeout", [0, -5, float("inf"), float("nan"), "soon", True])
def test_a_timeout_that_is_not_a_real_duration_is_refused(timeout: object) -> None:
    pool = ProviderPool({"scripted": ScriptedProvider})
    with pytest.raises(ValueError, match="timeout"):
        pool.check("p", "scripted", {"timeout": timeout})
