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

It can run agent steps too (``chat``). ``turns`` scripts an agent step's turns, per step
key: each turn either asks for tool calls or gives the final answer::

    turns:
      triage:
        - calls: [{tool: lookup_customer, arguments: {email: a@example.com}}]
        - reply: "priority: high"

Turns past the script (or with none) answer the task (the last user message) as a prompt
is answered, without asking for a tool.
"""

from __future__ import annotations

import json
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
    ToolCall,
    Usage,
)
from auxot.application.prompts import render
from auxot.application.providers import DEFAULT_TIMEOUT_SECONDS

_KNOWN = {"reply", "replies", "fail", "retryable", "delay", "model", "timeout", "turns"}


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
        self._turns = _turns(settings.get("turns") or {})
        if not (0 <= self._delay < math.inf and 0 < self._timeout < math.inf):
            raise ValueError("scripted provider: delay must be >= 0 and timeout > 0, finite")
        self._closed = threading.Event()

    def complete(self, request: PromptRequest) -> Completion:
        self._wait_or_fail()
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
        turn = sum(1 for m in request.messages if m.role == "assistant")
        script = self._turns.get(request.step, ())
        if turn < len(script):
            self._wait_or_fail()
            message = script[turn]
            words = sum(len((m.content or "").split()) for m in request.messages)
            usage = Usage(prompt_tokens=words, completion_tokens=len(message.tool_calls) or 1)
            return ChatTurn(message=message, model=self._model, usage=usage)
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

    def _wait_or_fail(self) -> None:
        if self._delay:
            # An interruptible stand-in for model latency, bounded like a real call.
            if self._closed.wait(min(self._delay, self._timeout)):
                raise ProviderError(f"provider '{self.name}' was closed", retryable=True)
            if self._delay > self._timeout:
                raise ProviderError(f"timed out after {self._timeout:g}s", retryable=True)
        if self._fail:
            raise ProviderError(str(self._fail), retryable=self._retryable)


def _turns(value: Any) -> dict[str, tuple[ChatMessage, ...]]:
    """``turns`` as each step's scripted assistant messages."""
    wrong = (
        "scripted provider: turns must map step keys to lists of "
        "{calls: [...]} or {reply: text}"
    )
    if not isinstance(value, Mapping):
        raise ValueError(wrong)
    scripts: dict[str, tuple[ChatMessage, ...]] = {}
    for step, turns in value.items():
        if not isinstance(turns, list) or not all(isinstance(t, Mapping) for t in turns):
            raise ValueError(wrong)
        scripts[str(step)] = tuple(_turn(n, t, wrong) for n, t in enumerate(turns, start=1))
    return scripts


def _turn(number: int, turn: Mapping[str, Any], wrong: str) -> ChatMessage:
    if set(turn) == {"reply"} and isinstance(turn["reply"], str):
        return ChatMessage(role="assistant", content=turn["reply"])
    calls = turn.get("calls")
    if set(turn) != {"calls"} or not isinstance(calls, list) or not calls:
        raise ValueError(wrong)
    tool_calls = []
    for n, call in enumerate(calls, start=1):
        if not isinstance(call, Mapping) or not isinstance(call.get("tool"), str):
            raise ValueError(f"scripted provider: each call needs a 'tool' name ({call!r})")
        arguments = call.get("arguments", {})
        tool_calls.append(
            ToolCall(
                id=f"call_{number}_{n}",
                name=call["tool"],
                arguments_json=arguments if isinstance(arguments, str) else json.dumps(arguments),
            )
        )
    return ChatMessage(role="assistant", content=None, tool_calls=tuple(tool_calls))
