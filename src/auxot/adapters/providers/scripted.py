"""The scripted provider: offline and deterministic, for the demo and for tests.

Settings (all optional):
  reply:   fixed reply text (a Jinja template over ``prompt`` and ``step``);
  replies: per-step replies, ``{step_key: text}``, taking precedence over ``reply``;
  fail:    an error message: every call fails with it (``retryable: true`` marks it
           transient);
  delay:   seconds each call takes; a delay beyond ``timeout`` (default 60) fails the
           call as a retryable timeout once ``timeout`` has passed;
  model:   the model name to report (default ``scripted``).
With no reply configured it answers with the rendered prompt itself.

It can run agent steps too (``chat``), answering the task (the last user message) as it
answers a prompt, without ever asking for a tool: agents on it finish in one turn.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any

from auxot.application.ports import (
    ChatMessage,
    ChatRequest,
    ChatTurn,
    Completion,
    PromptRequest,
    ProviderError,
    Usage,
)
from auxot.application.prompts import render
from auxot.application.providers import DEFAULT_TIMEOUT_SECONDS

_KNOWN = {"reply", "replies", "fail", "retryable", "delay", "model", "timeout"}


class ScriptedProvider:
    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        unknown = set(settings) - _KNOWN
        if unknown:
            raise ValueError(f"unknown scripted provider settings: {', '.join(sorted(unknown))}")
        self.name = name
        self._reply = settings.get("reply")
        self._replies: Mapping[str, str] = settings.get("replies") or {}
        self._fail = settings.get("fail")
        self._retryable = bool(settings.get("retryable", False))
        self._delay = float(settings.get("delay", 0))
        self._model = str(settings.get("model", "scripted"))
        self._timeout = float(settings.get("timeout", DEFAULT_TIMEOUT_SECONDS))
        if not isinstance(self._replies, Mapping):
            raise ValueError("scripted provider: replies must map step keys to replies")
        if not (0 <= self._delay < math.inf and 0 < self._timeout < math.inf):
            raise ValueError("scripted provider: delay must be >= 0 and timeout > 0, finite")
        self._closed = threading.Event()

    def complete(self, request: PromptRequest) -> Completion:
        if self._delay:
            # An interruptible stand-in for model latency, bounded like a real call.
            if self._closed.wait(min(self._delay, self._timeout)):
                raise ProviderError(f"provider '{self.name}' was closed", retryable=True)
            if self._delay > self._timeout:
                raise ProviderError(f"timed out after {self._timeout:g}s", retryable=True)
        if self._fail:
            raise ProviderError(str(self._fail), retryable=self._retryable)
        template = self._replies.get(request.step, self._reply)
        text = (
            request.prompt
            if template is None
            else render(str(template), {"prompt": request.prompt, "step": request.step})
        )
        usage = Usage(
            prompt_tokens=len(request.prompt.split()), completion_tokens=len(text.split())
        )
        return Completion(text=text, model=self._model, usage=usage)

    def chat(self, request: ChatRequest) -> ChatTurn:
        task = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        completion = self.complete(
            PromptRequest(
                prompt=task or "", work_id=request.work_id, step=request.step,
                attempt=request.attempt,
            )
        )
        message = ChatMessage(role="assistant", content=completion.text)
        return ChatTurn(message=message, model=completion.model, usage=completion.usage)

    def close(self) -> None:
        self._closed.set()
