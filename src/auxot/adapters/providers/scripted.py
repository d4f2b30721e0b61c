"""The scripted provider: offline and deterministic, for the demo and for tests.

Settings (all optional):
  reply:   fixed reply text (a Jinja template over ``prompt`` and ``step``);
  replies: per-step replies, ``{step_key: reply}``, taking precedence over ``reply``.
           A reply that is a mapping is sent as its JSON text (handy for steps with an
           output schema); a list is a sequence: the n-th call for that step of one work
           item gets the n-th entry (text or mapping), and the last one repeats — so a
           step can fail its schema once and then be repaired, or loop and then move on;
  fail:    an error message: every call fails with it (``retryable: true`` marks it
           transient);
  fail_first: a count N: only the first N calls that this provider serves (in this
           process, since it was last configured) fail, with ``fail`` or a message of
           their own; later calls answer (to try retry policies);
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
from collections import Counter
from collections.abc import Mapping
from typing import Any
from uuid import UUID

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

_KNOWN = {
    "reply",
    "replies",
    "fail",
    "fail_first",
    "retryable",
    "delay",
    "model",
    "timeout",
    "turns",
}


class ScriptedProvider:
    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        unknown = set(settings) - _KNOWN
        if unknown:
            raise ValueError(f"unknown scripted provider settings: {', '.join(sorted(unknown))}")
        self.name = name
        self._reply = _script("reply", settings.get("reply"))
        replies = settings.get("replies") or {}
        self._fail = settings.get("fail")
        self._retryable = bool(settings.get("retryable", False))
        self._delay = float(settings.get("delay", 0))
        self._model = str(settings.get("model", "scripted"))
        self._timeout = float(settings.get("timeout", DEFAULT_TIMEOUT_SECONDS))
        if not isinstance(replies, Mapping):
            raise ValueError("scripted provider: replies must map step keys to replies")
        self._replies = {str(k): _script(f"replies.{k}", v) for k, v in replies.items()}
        self._calls: Counter[tuple[UUID, str]] = Counter()
        self._lock = threading.Lock()
        self._turns = _turns(settings.get("turns") or {})
        if not (0 <= self._delay < math.inf and 0 < self._timeout < math.inf):
            raise ValueError("scripted provider: delay must be >= 0 and timeout > 0, finite")
        self._fail_first = settings.get("fail_first")
        if self._fail_first is not None and (
            isinstance(self._fail_first, bool)
            or not isinstance(self._fail_first, int)
            or self._fail_first < 0
        ):
            raise ValueError("scripted provider: fail_first must be a whole number, at least 0")
        self._served = 0
        self._closed = threading.Event()

    def complete(self, request: PromptRequest) -> Completion:
        self._wait_or_fail()
        text = self._text(request)
        usage = Usage(
            prompt_tokens=len(request.prompt.split()), completion_tokens=len(text.split())
        )
        return Completion(text=text, model=self._model, usage=usage)

    def _text(self, request: PromptRequest) -> str:
        script = self._replies.get(request.step, self._reply)
        if script is None:
            return request.prompt
        if len(script) > 1:
            with self._lock:
                n = self._calls[(request.work_id, request.step)]
                self._calls[(request.work_id, request.step)] += 1
            entry = script[min(n, len(script) - 1)]
        else:
            entry = script[0]
        if isinstance(entry, Mapping):
            return json.dumps(entry)
        return render(str(entry), {"prompt": request.prompt, "step": request.step})

    def _failure(self) -> str | None:
        """The error this call fails with, if it is to fail."""
        if self._fail_first is None:
            return str(self._fail) if self._fail else None
        with self._lock:
            self._served += 1
            call = self._served
        if call > self._fail_first:
            return None
        return str(self._fail or f"scripted failure {call} of {self._fail_first}")

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
                prompt=task or "",
                work_id=request.work_id,
                step=request.step,
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
        failure = self._failure()
        if failure is not None:
            raise ProviderError(failure, retryable=self._retryable)


def _script(name: str, value: Any) -> tuple[Any, ...] | None:
    """A reply setting as the sequence of entries it stands for (one, unless a list)."""
    if value is None:
        return None
    entries = tuple(value) if isinstance(value, list) else (value,)
    if not entries or not all(isinstance(e, str | int | float | Mapping) for e in entries):
        raise ValueError(
            f"scripted provider: {name} must be text, a mapping (sent as JSON), or a "
            "non-empty list of them"
        )
    return entries


def _turns(value: Any) -> dict[str, tuple[ChatMessage, ...]]:
    """``turns`` as each step's scripted assistant messages."""
    wrong = (
        "scripted provider: turns must map step keys to lists of {calls: [...]} or {reply: text}"
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
