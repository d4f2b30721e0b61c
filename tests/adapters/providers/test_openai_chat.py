"""The openai provider's ``chat`` (function calling) against a real HTTP server on
127.0.0.1: what it sends, how it reads tool calls, and that failures map as they do for
prompt steps (one shared request path)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from auxot.adapters.providers.openai import OpenAIProvider
from auxot.application.ports import (
    ChatMessage,
    ChatRequest,
    ChatTurn,
    ProviderError,
    ToolCall,
    ToolSpec,
    Usage,
)
from tests.fakes.openai_server import FakeOpenAI, error, hang, raw, redirect, reply, tool_calls

LOOKUP = ToolSpec(
    name="lookup",
    description="Look a customer up.",
    parameters={"type": "object", "properties": {"email": {"type": "string"}}},
)


def request(*messages: ChatMessage, model: str | None = None) -> ChatRequest:
    return ChatRequest(
        messages=messages or (ChatMessage("system", "Be brief."), ChatMessage("user", "Hi")),
        tools=(LOOKUP,),
        work_id=uuid.uuid4(),
        step="triage",
        attempt=1,
        model=model,
    )


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def chat(server: FakeOpenAI, req: ChatRequest | None = None, **settings: Any) -> ChatTurn:
    provider = OpenAIProvider(
        "local", {"base_url": server.base_url, "model": "test-model", **settings}, {}
    )
    try:
        return provider.chat(req or request())
    finally:
        provider.close()


def test_tools_and_the_conversation_are_sent_as_openai_function_calling(
    server: FakeOpenAI,
) -> None:
    server.script(reply("done"))
    earlier_call = ToolCall(id="call_9", name="lookup", arguments_json='{"email": "a@b.c"}')
    chat(
        server,
        request(
            ChatMessage("system", "Be brief."),
            ChatMessage("user", "Hi"),
            ChatMessage("assistant", None, tool_calls=(earlier_call,)),
            ChatMessage("tool", '{"plan": "pro"}', tool_call_id="call_9"),
            model="agent-model",
        ),
        temperature=0.2,
    )
    [sent] = server.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.json == {
        "model": "agent-model",
        "temperature": 0.2,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "call_9",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"email": "a@b.c"}'},
                    }
                ],
            },
            {"role": "tool", "content": '{"plan": "pro"}', "tool_call_id": "call_9"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "lookup",
                    "description": "Look a customer up.",
                    "parameters": {
                        "type": "object",
                        "properties": {"email": {"type": "string"}},
                    },
                },
            }
        ],
    }


def test_the_configured_model_is_used_without_an_override(server: FakeOpenAI) -> None:
    server.script(reply("done"))
    chat(server)
    assert server.requests[0].json["model"] == "test-model"


def test_tool_calls_are_read_from_the_answer(server: FakeOpenAI) -> None:
    server.script(
        tool_calls(("lookup", {"email": "a@b.c"}), ("lookup", "{not json"), usage=(7, 2))
    )
    turn = chat(server)
    assert turn.message == ChatMessage(
        role="assistant",
        content=None,
        tool_calls=(
            ToolCall(id="call_1", name="lookup", arguments_json='{"email": "a@b.c"}'),
            ToolCall(id="call_2", name="lookup", arguments_json="{not json"),
        ),
    )
    assert turn.model == "fake-model"
    assert turn.usage == Usage(7, 2)


def test_arguments_sent_as_an_object_and_missing_ids_are_accepted(server: FakeOpenAI) -> None:
    body = (
        '{"choices": [{"message": {"role": "assistant", "content": null, "tool_calls": '
        '[{"function": {"name": "lookup", "arguments": {"email": "a@b.c"}}}]}}]}'
    )
    server.script(raw(body))
    [call] = chat(server).message.tool_calls
    assert call == ToolCall(id="call_0", name="lookup", arguments_json='{"email": "a@b.c"}')


def test_a_final_answer_has_content_and_no_tool_calls(server: FakeOpenAI) -> None:
    server.script(reply("priority: high", model=None))
    turn = chat(server)
    assert turn.message == ChatMessage(role="assistant", content="priority: high")
    assert turn.model == "test-model"


def test_an_answer_with_neither_content_nor_tool_calls_is_malformed(server: FakeOpenAI) -> None:
    server.script(raw('{"choices": [{"message": {"role": "assistant", "content": null}}]}'))
    with pytest.raises(ProviderError, match="neither content nor tool_calls") as caught:
        chat(server)
    assert not caught.value.retryable


@pytest.mark.parametrize(
    ("behaviour", "message", "retryable"),
    [
        (error(503, "overloaded"), "HTTP 503 Service Unavailable: overloaded", True),
        (error(400, "bad tools"), "HTTP 400 Bad Request: bad tools", False),
        (redirect(), "redirect refused", False),
        (raw('{"choices": []}'), "no choices", False),
    ],
)
def test_failures_map_as_for_prompt_steps(
    server: FakeOpenAI, behaviour: Any, message: str, retryable: bool
) -> None:
    server.script(behaviour)
    with pytest.raises(ProviderError, match=message) as caught:
        chat(server)
    assert caught.value.retryable is retryable


def test_a_chat_call_is_cut_off_at_the_timeout(server: FakeOpenAI) -> None:
    server.script(hang())
    started = time.monotonic()
    with pytest.raises(ProviderError, match=r"timed out after 0\.3s") as caught:
        chat(server, timeout=0.3)
    assert caught.value.retryable
    assert time.monotonic() - started < 3
