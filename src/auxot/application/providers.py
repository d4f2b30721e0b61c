"""Provider instances, built from the registry's Provider records by kind."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any

from auxot.application.ports import Provider, ProviderFactory
from auxot.domain.provider import Provider as ProviderRecord

DEFAULT_TIMEOUT_SECONDS = 60.0


class UnknownProviderKindError(ValueError):
    pass


class ProviderPool:
    """One live provider per configured record, rebuilt when the record is reconfigured."""

    def __init__(self, factories: Mapping[str, ProviderFactory]) -> None:
        self._factories = dict(factories)
        self._live: dict[str, tuple[int, Provider]] = {}
        self._lock = threading.Lock()

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self._factories)

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

    def get(self, record: ProviderRecord) -> Provider:
        """The live provider for ``record``, rebuilt when the record is newer. A step
        holding an older record (claimed before a reconfiguration) gets the live one:
        going back would close the newer provider under the steps using it."""
        with self._lock:
            live = self._live.get(record.name)
            if live is not None and live[0] >= record.version:
                return live[1]
            provider = self.build(record.name, record.kind, record.settings)
            self._live[record.name] = (record.version, provider)
        if live is not None:
            live[1].close()
        return provider

    @staticmethod
    def timeout_of(record: ProviderRecord) -> float:
        """The longest one call may take: a step's lease is derived from it."""
        return float(record.settings.get("timeout", DEFAULT_TIMEOUT_SECONDS))

    def close(self) -> None:
        with self._lock:
            live, self._live = self._live, {}
        for _, provider in live.values():
            provider.close()
