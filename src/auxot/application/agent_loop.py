"""The agent loop: what an agent step runs.

The conversation starts with the agent's instructions (system) and the step's rendered
task (user). Each turn calls the model with the agent's tools; every tool call it asks for
is run and its result (or error) appended as a ``tool`` message; the loop ends when the
model answers without tool calls (that text is the step's output) or after the agent's
``max_turns`` model calls (the step fails: a runaway loop never runs on).

A tool that raises, an unknown tool name or arguments that are not a JSON object do not
fail the step: the error is the tool's result, so the model can recover, and it is
recorded. A provider error ends the step as a provider error does for a prompt step.

Every model call and tool call is recorded (``calls``): model, tokens, arguments, result
or error, and duration measured on the injected ``monotonic`` source.

A step has a time budget (its lease is derived from it): ``max_turns`` times the
provider's timeout plus the longest tool timeout. A call is only started while the budget
still covers its timeout, so a step never outlives its lease (a Python tool has no
timeout: it is allowed ``PYTHON_TOOL_SECONDS``, and cannot be cut off).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

import attrs
import jsonschema

from auxot.application.ports import (
    ChatMessage,
    ChatRequest,
    ChatTurn,
    ProviderError,
    Tool,
    ToolCall,
    ToolError,
    Usage,
)
from auxot.domain.agent import Agent

PYTHON_TOOL_SECONDS = 10.0
MAX_RECORDED_CHARS = 8 * 1024
"""Results and arguments longer than this (as JSON) are recorded clipped; the model and
the tool get them whole."""

Call = dict[str, Any]


@attrs.frozen
class AgentResult:
    """The step's outcome: ``output`` on success, else ``error`` (and ``retryable``)."""

    calls: tuple[Call, ...]
    output: str | None = None
    error: str | None = None
    retryable: bool = False
    model: str | None = None
    usage: Usage | None = None


def tool_seconds(tool: Tool) -> float:
    return tool.timeout if tool.timeout is not None else PYTHON_TOOL_SECONDS


def budget_seconds(agent: Agent, provider_timeout: float, tools: Sequence[Tool]) -> float:
    """The longest an agent step may take: its lease is derived from it."""
    slowest_tool = max((tool_seconds(t) for t in tools), default=0.0)
    return agent.max_turns * (provider_timeout + slowest_tool)


@attrs.define
class AgentLoop:
    """One run of ``agent`` on one step attempt."""

    agent: Agent
    chat: Callable[[ChatRequest], ChatTurn]
    tools: Mapping[str, Tool]
    provider_timeout: float
    monotonic: Callable[[], float]
    work_id: UUID
    step: str
    attempt: int
    _calls: list[Call] = attrs.field(factory=list, init=False)
    _deadline: float = attrs.field(default=0.0, init=False)

    def run(self, task: str) -> AgentResult:
        budget = budget_seconds(self.agent, self.provider_timeout, list(self.tools.values()))
        self._deadline = self.monotonic() + budget
        messages = [
            ChatMessage(role="system", content=self.agent.instructions),
            ChatMessage(role="user", content=task),
        ]
        specs = tuple(tool.spec for tool in self.tools.values())
        model: str | None = None
        usage: Usage | None = None
        for turn in range(1, self.agent.max_turns + 1):
            if not self._covers(self.provider_timeout):
                return self._out_of_time(budget, model, usage)
            request = ChatRequest(
                messages=tuple(messages),
                tools=specs,
                work_id=self.work_id,
                step=self.step,
                attempt=self.attempt,
                model=self.agent.model,
            )
            started = self.monotonic()
            try:
                answer = self.chat(request)
            except ProviderError as exc:
                self._record_model(turn, None, None, started, error=str(exc))
                return self._failed(str(exc), exc.retryable, model, usage)
            model = answer.model or model
            usage = _add(usage, answer.usage)
            self._record_model(turn, answer.model, answer.usage, started)
            messages.append(answer.message)
            if not answer.message.tool_calls:
                return AgentResult(
                    calls=tuple(self._calls),
                    output=answer.message.content or "",
                    model=model,
                    usage=usage,
                )
            for call in answer.message.tool_calls:
                tool = self.tools.get(call.name)
                if tool is not None and not self._covers(tool_seconds(tool)):
                    return self._out_of_time(budget, model, usage)
                content = self._run_tool(turn, call, tool)
                messages.append(ChatMessage(role="tool", content=content, tool_call_id=call.id))
        reason = f"agent '{self.agent.name}' did not finish within {self.agent.max_turns} turns"
        return self._failed(reason, False, model, usage)

    # -- tools ---------------------------------------------------------------------------

    def _run_tool(self, turn: int, call: ToolCall, tool: Tool | None) -> str:
        """Run one tool call; the content of the ``tool`` message answering it."""
        started = self.monotonic()
        arguments: Any = call.arguments_json
        try:
            arguments = json.loads(call.arguments_json) if call.arguments_json.strip() else {}
        except ValueError as exc:
            error: str | None = f"the arguments are not valid JSON: {exc}"
        else:
            error = None if isinstance(arguments, dict) else "the arguments must be a JSON object"
        if error is not None:
            arguments = call.arguments_json  # recorded verbatim
        result: Any = None
        if error is None:
            if tool is None:
                available = ", ".join(sorted(self.tools)) or "none"
                error = f"unknown tool '{call.name}' (available: {available})"
            elif (mismatch := arguments_problem(tool, arguments)) is not None:
                error = f"the arguments do not match the tool's parameters: {mismatch}"
            else:
                try:
                    result = _plain(tool.call(arguments))
                except ToolError as exc:
                    error = str(exc) or "the tool failed"
                except Exception as exc:  # a tool's own failure: the model is told
                    error = f"{type(exc).__name__}: {exc}"
        self._calls.append(
            {
                "kind": "tool",
                "turn": turn,
                "tool": call.name,
                "call_id": call.id,
                "arguments": _recorded(arguments),
                "result": None if error is not None else _recorded(result),
                "error": error,
                "duration_ms": self._millis_since(started),
            }
        )
        if error is not None:
            return json.dumps({"error": error})
        return result if isinstance(result, str) else json.dumps(result)

    # -- bookkeeping ---------------------------------------------------------------------

    def _record_model(
        self,
        turn: int,
        model: str | None,
        usage: Usage | None,
        started: float,
        *,
        error: str | None = None,
    ) -> None:
        self._calls.append(
            {
                "kind": "model",
                "turn": turn,
                "model": model,
                "tokens": usage.as_dict() if usage is not None else None,
                "error": error,
                "duration_ms": self._millis_since(started),
            }
        )

    def _covers(self, seconds: float) -> bool:
        return self._deadline - self.monotonic() >= seconds

    def _out_of_time(self, budget: float, model: str | None, usage: Usage | None) -> AgentResult:
        reason = f"agent '{self.agent.name}' ran out of its time budget ({budget:g}s)"
        return self._failed(reason, True, model, usage)

    def _failed(
        self, error: str, retryable: bool, model: str | None, usage: Usage | None
    ) -> AgentResult:
        return AgentResult(
            calls=tuple(self._calls), error=error, retryable=retryable, model=model, usage=usage
        )

    def _millis_since(self, started: float) -> int:
        return max(0, round((self.monotonic() - started) * 1000))


def arguments_problem(tool: Tool, arguments: dict[str, Any]) -> str | None:
    """Why ``arguments`` do not satisfy the tool's parameter schema; None when they do
    (a tool is never called with arguments it did not declare)."""
    validator = jsonschema.Draft202012Validator(dict(tool.spec.parameters))
    error = jsonschema.exceptions.best_match(validator.iter_errors(arguments))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


def _add(total: Usage | None, more: Usage | None) -> Usage | None:
    if more is None:
        return total
    if total is None:
        return more
    return Usage(
        prompt_tokens=total.prompt_tokens + more.prompt_tokens,
        completion_tokens=total.completion_tokens + more.completion_tokens,
    )


def _plain(value: Any) -> Any:
    """``value`` as plain JSON data (what a tool returns need not be: tuples, dates)."""
    if isinstance(value, str):
        return value
    return json.loads(json.dumps(value, default=str))


def _recorded(value: Any) -> Any:
    text = value if isinstance(value, str) else json.dumps(value)
    if len(text) <= MAX_RECORDED_CHARS:
        return value
    return text[: MAX_RECORDED_CHARS - 1] + "…"
