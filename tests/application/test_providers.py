"""The provider pool: one live provider per record, never going back a version."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from auxot.adapters.providers.scripted import ScriptedProvider
from auxot.application.ports import Completion, PromptRequest
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


def test_a_replaced_provider_is_closed_only_after_its_last_call_returns() -> None:
    built = Built()
    pool = ProviderPool({"scripted": built.factory})
    record = ProviderRecord.register(provider_id("p"), "p", "scripted", {}, 2, T0)
    request = PromptRequest(prompt="hi", work_id=uuid4(), step="s", attempt=1)
    entered, release = threading.Event(), threading.Event()
    old = pool.get(record)
    original = old.complete

    def slow(req: PromptRequest) -> Completion:
        entered.set()
        assert release.wait(10)
        return original(req)

    old.complete = slow  # type: ignore[method-assign]
    results: list[Completion] = []
    caller = threading.Thread(target=lambda: results.append(pool.complete(record, request)))
    caller.start()
    assert entered.wait(10)

    newer = ProviderRecord.register(provider_id("p"), "p", "scripted", {}, 2, T0)
    newer.reconfigure("scripted", {"reply": "new"}, 2, T0)
    assert pool.complete(newer, request).text == "new"
    assert built.closed == []  # the old one is still serving a call
    release.set()
    caller.join(10)
    assert [r.text for r in results] == ["hi"]  # the running step was not cut off
    assert built.closed == [old]
    pool.close()
    assert built.closed == [old, built.providers[-1]]
