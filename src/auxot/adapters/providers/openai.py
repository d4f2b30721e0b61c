"""The openai provider: any OpenAI-compatible ``/v1/chat/completions`` endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auxot.application.ports import Completion, PromptRequest, ProviderFactory


class OpenAIProvider:
    def __init__(self, name: str, settings: Mapping[str, Any], secrets: Mapping[str, str]) -> None:
        for required in ("base_url", "model"):
            if not settings.get(required):
                raise ValueError(f"openai provider '{name}' needs '{required}'")
        self.name = name

    def complete(self, request: PromptRequest) -> Completion:
        raise NotImplementedError

    def close(self) -> None:
        pass


def openai_factory(secrets: Mapping[str, str]) -> ProviderFactory:
    def build(name: str, settings: Mapping[str, Any]) -> OpenAIProvider:
        return OpenAIProvider(name, settings, secrets)

    return build
