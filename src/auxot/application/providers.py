"""Provider instances, built from the registry's Provider records by kind."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any

from auxot.application.ports import (
    ChatRequest,
    ChatTurn,
    Completion,
    PromptRequest,
    Provider,
    ProviderError,
    ProviderFactory,
)
from auxot.domain.provider import Provider as ProviderRecord

DEFAULT_TIMEOUT_SECONDS = 60.0


class UnknownProviderKindError(ValueError):
    pass


class ProviderPool:
    """One live provider per configured record, rebuilt when the record is reconfigured.

    A provider replaced by a newer configuration is retired, and closed only once the
    last call it was serving has returned: closing it under a running step would fail
    the step for a reason that has nothing to do with the work.
    """

    def __init__(self, factories: Mapping[str, ProviderFactory]) -> None:
        self._factories = dict(factories)
        self._live: dict[str, tuple[int, Provider]] = {}
        self._calls: dict[int, int] = {}  # id(provider) -> calls in flight
        self._retired: dict[int, Provider] = {}
        self._lock = threading.Lock()

    def check(self, name: str, kind: str, settings: Mapping[str, Any]) -> None:
        """Raise ValueError when ``kind`` is unknown or ``settings`` do not suit it."""
        timeout = settings.get("timeout", DEFAULT_TIMEOUT_SECONDS)
        # Every kind's timeout sets the leases of its steps: it must be a real duration.
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            raise ValueError(f"provider '{name}': timeout must be a number of seconds")
        if not 0 < timeout < math.inf:
            raise ValueError(f"provider '{name}': timeout must be above 0 and finite")
        self.build(name, kind, settings).close()

    def build(self, name: str, kind: str, settings: Mapping[str, Any]) -> Provider:
        factory = self._factories.get(kind)
        if factory is None:
            known = ", ".join(sorted(self._factories))
            raise UnknownProviderKindError(f"unknown provider kind '{kind}' (known: {known})")
        return factory(name, settings)

    def complete(self, record: ProviderRecord, request: PromptRequest) -> Completion:
        """Run one call on the live provider for ``record``."""
        provider = self._acquire(record)
        try:
            return provider.complete(request)
        finally:
            self._release(provider)

    def chat(self, record: ProviderRecord, request: ChatRequest) -> ChatTurn:
        """Run one agent turn on the live provider for ``record``; a ProviderError when
        its kind cannot chat with tools."""
        provider = self._acquire(record)
        try:
            chat = getattr(provider, "chat", None)
            if chat is None:
                raise ProviderError(
                    f"provider '{record.name}' (kind {record.kind}) cannot run agents",
                    retryable=False,
                )
            turn: ChatTurn = chat(request)
            return turn
        finally:
            self._release(provider)

    def can_chat(self, name: str, kind: str, settings: Mapping[str, Any]) -> bool:
        """Whether the provider so configured can run agent steps (chat with tools)."""
        provider = self.build(name, kind, settings)
        try:
            return callable(getattr(provider, "chat", None))
        finally:
            provider.close()

    def get(self, record: ProviderRecord) -> Provider:
        """The live provider for ``record``, rebuilt when the record is newer. A step
        holding an older record (claimed before a reconfiguration) gets the live one:
        going back would retire the newer provider."""
        with self._lock:
            provider, idle = self._current(record)
        if idle is not None:
            idle.close()
        return provider

    @staticmethod
    def timeout_of(record: ProviderRecord) -> float:
        """The longest one call may take: a step's lease is derived from it."""
        return float(record.settings.get("timeout", DEFAULT_TIMEOUT_SECONDS))

    def close(self) -> None:
        """Close every provider, busy or not: the process is stopping."""
        with self._lock:
            providers = [p for _, p in self._live.values()] + list(self._retired.values())
            self._live, self._retired = {}, {}
        for provider in providers:
            provider.close()

    def _acquire(self, record: ProviderRecord) -> Provider:
        with self._lock:
            provider, idle = self._current(record)
            self._calls[id(provider)] = self._calls.get(id(provider), 0) + 1
        if idle is not None:
            idle.close()
        return provider

    def _current(self, record: ProviderRecord) -> tuple[Provider, Provider | None]:
        """The live provider for ``record`` (lock held), built when the record is newer;
        and the provider it replaced, when that one is idle and may be closed."""
        live = self._live.get(record.name)
        if live is not None and live[0] >= record.version:
            return live[1], None
        provider = self.build(record.name, record.kind, record.settings)
        self._live[record.name] = (record.version, provider)
        if live is None:
            return provider, None
        self._retired[id(live[1])] = live[1]
        return provider, self._idle_retired(live[1])

    def _release(self, provider: Provider) -> None:
        with self._lock:
            self._calls[id(provider)] -= 1
            if not self._calls[id(provider)]:
                del self._calls[id(provider)]
            retired = self._idle_retired(provider)
        if retired is not None:
            retired.close()

    def _idle_retired(self, provider: Provider) -> Provider | None:
        """``provider``, removed from the retired, when it is retired and idle (lock held)."""
        if id(provider) in self._retired and id(provider) not in self._calls:
            return self._retired.pop(id(provider))
        return None
