"""The openai provider against a real HTTP server on 127.0.0.1 (tests/fakes)."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
import pytest

from auxot.adapters.providers.openai import MAX_RESPONSE_BYTES, OpenAIProvider, openai_factory
from auxot.application.ports import Completion, PromptRequest, ProviderError, Usage
from auxot.application.providers import ProviderPool
from tests.fakes.openai_server import (
    FakeOpenAI,
    close_connection,
    error,
    hang,
    malformed,
    raw,
    redirect,
    reply,
    trickle,
)

REQUEST = PromptRequest(prompt="Classify: login broken", work_id=uuid.uuid4(), step="classify",
                        attempt=1)


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def provider_for(
    server: FakeOpenAI, secrets: Mapping[str, str] | None = None, **settings: Any
) -> OpenAIProvider:
    return OpenAIProvider(
        "local", {"base_url": server.base_url, "model": "test-model", **settings}, secrets or {}
    )


def complete(server: FakeOpenAI, **settings: Any) -> Completion:
    provider = provider_for(server, **settings)
    try:
        return provider.complete(REQUEST)
    finally:
        provider.close()


def failure(server: FakeOpenAI, **settings: Any) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        complete(server, **settings)
    assert str(caught.value).startswith("openai provider 'local': ")
    return caught.value


def free_port() -> int:
    """A port nobody listens on: bound to find it, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- success -----------------------------------------------------------------------------


def test_reply_text_model_and_usage(server: FakeOpenAI) -> None:
    server.script(reply("billing", model="served-model", usage=(12, 3)))
    completion = complete(server)
    assert completion == Completion(
        text="billing", model="served-model", usage=Usage(prompt_tokens=12, completion_tokens=3)
    )


def test_request_as_sent(server: FakeOpenAI) -> None:
    server.script(reply("ok"))
    complete(server)
    [sent] = server.requests
    assert (sent.method, sent.path) == ("POST", "/v1/chat/completions")
    assert sent.headers["content-type"] == "application/json"
    assert "authorization" not in sent.headers
    assert sent.json == {
        "model": "test-model",
        "messages": [{"role": "user", "content": "Classify: login broken"}],
    }


SCHEMA = {"type": "object", "properties": {"severity": {"enum": ["low", "high"]}}}


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ({}, {"type": "json_object"}),
        ({"response_format": "json_object"}, {"type": "json_object"}),
        (
            {"response_format": "json_schema"},
            {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": SCHEMA, "strict": False},
            },
        ),
        ({"response_format": "none"}, None),
    ],
)
def test_a_step_with_an_output_schema_asks_for_json(
    server: FakeOpenAI, setting: dict[str, str], expected: dict[str, Any] | None
) -> None:
    server.script(reply('{"severity": "high"}'))
    provider = provider_for(server, **setting)
    try:
        completion = provider.complete(attrs.evolve(REQUEST, json_schema=SCHEMA))
    finally:
        provider.close()
    assert completion.text == '{"severity": "high"}'  # returned as text: the engine parses
    [sent] = server.requests
    assert sent.json.get("response_format") == expected
    assert sent.json["messages"] == [{"role": "user", "content": REQUEST.prompt}]


def test_api_key_system_prompt_and_parameters_are_sent(server: FakeOpenAI) -> None:
    server.script(reply("ok"))
    provider = provider_for(
        server,
        {"LLM_API_KEY": "sk-secret"},
        api_key_env="LLM_API_KEY",
        system="You triage tickets.",
        temperature=0.2,
        max_tokens=64,
    )
    try:
        provider.complete(REQUEST)
    finally:
        provider.close()
    [sent] = server.requests
    assert sent.headers["authorization"] == "Bearer sk-secret"
    assert sent.json == {
        "model": "test-model",
        "messages": [
            {"role": "system", "content": "You triage tickets."},
            {"role": "user", "content": "Classify: login broken"},
        ],
        "temperature": 0.2,
        "max_tokens": 64,
    }


@pytest.mark.parametrize("suffix", ["", "/"])
def test_base_url_with_or_without_trailing_slash(server: FakeOpenAI, suffix: str) -> None:
    server.script(reply("ok"))
    provider = OpenAIProvider("local", {"base_url": server.base_url + suffix, "model": "m"}, {})
    try:
        provider.complete(REQUEST)
    finally:
        provider.close()
    assert server.requests[0].path == "/v1/chat/completions"


def test_usage_absent(server: FakeOpenAI) -> None:
    server.script(reply("ok", usage=None))
    assert complete(server).usage is None


def test_partial_usage_is_no_usage(server: FakeOpenAI) -> None:
    server.script(reply("ok", extra={"usage": {"prompt_tokens": 4}}))
    assert complete(server).usage is None


def test_model_falls_back_to_the_configured_one(server: FakeOpenAI) -> None:
    server.script(reply("ok", model=None))
    assert complete(server).model == "test-model"


def test_one_provider_serves_concurrent_calls(server: FakeOpenAI) -> None:
    server.script(*(reply(f"answer {n}") for n in range(8)))
    provider = provider_for(server)
    try:
        with ThreadPoolExecutor(8) as pool:
            texts = sorted(pool.map(lambda _: provider.complete(REQUEST).text, range(8)))
    finally:
        provider.close()
    assert texts == sorted(f"answer {n}" for n in range(8))


# -- HTTP errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(500, True), (502, True), (503, True), (429, True), (408, True),
     (400, False), (401, False), (403, False), (404, False), (422, False)],
)
def test_error_status(server: FakeOpenAI, status: int, retryable: bool) -> None:
    server.script(error(status, "the server's own words"))
    exc = failure(server)
    assert exc.retryable is retryable
    assert f"HTTP {status}" in str(exc)
    assert "the server's own words" in str(exc)


def test_error_without_a_json_body_names_the_status(server: FakeOpenAI) -> None:
    server.script(error(503, body=b"<html>upstream down</html>"))
    exc = failure(server)
    assert exc.retryable
    assert str(exc) == "openai provider 'local': HTTP 503 Service Unavailable"


def test_ollama_style_error_string(server: FakeOpenAI) -> None:
    server.script(raw(b'{"error": "model \\"llama9\\" not found"}', status=404))
    exc = failure(server)
    assert not exc.retryable
    assert str(exc) == (
        "openai provider 'local': HTTP 404 Not Found: model \"llama9\" not found"
    )


def test_rate_limit_mentions_retry_after(server: FakeOpenAI) -> None:
    server.script(error(429, "slow down", headers={"Retry-After": "7"}))
    exc = failure(server)
    assert exc.retryable
    assert "HTTP 429 Too Many Requests: slow down (retry after 7)" in str(exc)


def test_long_server_messages_are_clipped(server: FakeOpenAI) -> None:
    server.script(error(400, "x" * 10_000))
    assert len(str(failure(server))) < 400


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect_is_refused_not_followed(server: FakeOpenAI, status: int) -> None:
    # The target is this same server: had the client followed, it would have seen a 2nd request.
    target = f"{server.base_url}/elsewhere"
    server.script(redirect(target, status=status), reply("followed"))
    exc = failure(server)
    assert not exc.retryable
    assert f"redirect refused: HTTP {status} to {target}" in str(exc)
    assert len(server.requests) == 1


# -- malformed and oversized responses ---------------------------------------------------


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"choices": [', "truncated"),
        (b"not json at all", "malformed"),
        (b"", "truncated"),
        (b'{"object": "chat.completion"}', "choices"),
        (b'{"choices": []}', "no choices"),
        (b'{"choices": [{"message": {"role": "assistant"}}]}', "content is missing"),
        (b'{"choices": [{"message": {"content": 7}}]}', "Expected `str | null`"),
        (b'{"choices": [{"message": {"content": "x"}}], "usage": {"prompt_tokens": -1,'
         b' "completion_tokens": 1}}', ">= 0"),
    ],
)
def test_malformed_response(server: FakeOpenAI, body: bytes, why: str) -> None:
    server.script(malformed(body))
    exc = failure(server)
    assert not exc.retryable
    assert "malformed response" in str(exc)
    assert why in str(exc)


def test_error_body_with_a_200_is_reported(server: FakeOpenAI) -> None:
    server.script(raw(b'{"error": {"message": "context length exceeded"}}'))
    exc = failure(server)
    assert not exc.retryable
    assert "malformed response" in str(exc)
    assert "the server said: context length exceeded" in str(exc)


def test_oversized_body_with_content_length_is_refused_unread(server: FakeOpenAI) -> None:
    server.script(raw(b" " * (MAX_RESPONSE_BYTES + 1)))
    exc = failure(server)
    assert not exc.retryable
    assert f"the body exceeds {MAX_RESPONSE_BYTES} bytes" in str(exc)


def test_oversized_body_without_content_length_is_capped(server: FakeOpenAI) -> None:
    server.script(raw(b" " * (MAX_RESPONSE_BYTES + 1), content_length=False))
    exc = failure(server)
    assert not exc.retryable
    assert f"the body exceeds {MAX_RESPONSE_BYTES} bytes" in str(exc)


def test_a_body_at_the_cap_is_read(server: FakeOpenAI) -> None:
    body = b'{"choices": [{"message": {"content": "ok"}}]}'
    server.script(raw(body.ljust(1000), content_length=False))
    provider = OpenAIProvider(
        "local", {"base_url": server.base_url, "model": "m"}, {}, max_response_bytes=1000
    )
    try:
        assert provider.complete(REQUEST).text == "ok"
    finally:
        provider.close()


# -- transport failures ------------------------------------------------------------------


def test_timeout_on_a_hanging_server_is_quick_and_retryable(server: FakeOpenAI) -> None:
    server.script(hang())
    started = time.monotonic()
    exc = failure(server, timeout=0.3)
    assert time.monotonic() - started < 3
    assert exc.retryable
    assert "timed out after 0.3s" in str(exc)


def test_a_trickling_body_is_bounded_by_the_timeout(server: FakeOpenAI) -> None:
    # Each byte arrives well within the read timeout; only the overall deadline stops it.
    server.script(trickle(interval=0.02, size=100_000))
    started = time.monotonic()
    exc = failure(server, timeout=0.3)
    assert time.monotonic() - started < 3
    assert exc.retryable
    assert "timed out after 0.3s" in str(exc)


def test_a_server_slow_in_every_phase_is_cut_off_at_the_overall_deadline(
    server: FakeOpenAI,
) -> None:
    """Headers after 0.9 s, then a byte every 0.9 s: each wait is within the 1 s timeout,
    but the whole call must not be (its step's lease is the timeout plus a grace). The
    deadline watchdog ends it at 1 s; without it the first body byte, at 1.8 s, would."""
    gate = threading.Event()
    server.script(hang(gate, then=trickle(interval=0.9, size=10)))
    opens = threading.Timer(0.9, gate.set)  # the server's slowness under test
    opens.start()
    try:
        exc = failure(server, timeout=1.0)
    finally:
        opens.cancel()
    assert exc.retryable
    assert "timed out after 1s waiting for" in str(exc)  # the watchdog, not a read


def unreachable(base_url: str) -> ProviderError:
    """The error a call to ``base_url``, where nothing answers, ends in."""
    provider = OpenAIProvider("local", {"base_url": base_url, "model": "m"}, {})
    try:
        with pytest.raises(ProviderError) as caught:
            provider.complete(REQUEST)
    finally:
        provider.close()
    return caught.value


def test_connection_refused_is_retryable() -> None:
    port = free_port()
    error = unreachable(f"http://127.0.0.1:{port}/v1")
    assert error.retryable
    assert f"cannot connect to http://127.0.0.1:{port}/v1/chat/completions" in str(error)


def test_unresolvable_host_is_retryable() -> None:
    error = unreachable("http://no-such-host.invalid/v1")
    assert error.retryable
    assert "cannot connect to http://no-such-host.invalid/v1/chat/completions" in str(error)


def test_dropped_connection_is_retryable(server: FakeOpenAI) -> None:
    server.script(close_connection())
    exc = failure(server)
    assert exc.retryable
    assert "the connection to" in str(exc)


def test_close_lets_calls_in_flight_finish(server: FakeOpenAI) -> None:
    # The pool closes a provider superseded by a reconfiguration while steps still run on it.
    held = hang(then=reply("late but fine"))
    server.script(held)
    provider = provider_for(server)
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(provider.complete, REQUEST)
        server.wait_for_requests(1)
        provider.close()
        held.release()
        assert call.result(timeout=10).text == "late but fine"
    with pytest.raises(ProviderError, match="closed"):
        provider.complete(REQUEST)
    assert provider._client.is_closed  # closed once the last call ended


def test_the_server_going_away_mid_call_is_retryable_and_prompt() -> None:
    fake = FakeOpenAI(hang()).start()
    provider = OpenAIProvider("local", {"base_url": fake.base_url, "model": "m"}, {})
    try:
        with ThreadPoolExecutor(1) as pool:
            call = pool.submit(provider.complete, REQUEST)
            fake.wait_for_requests(1)
            started = time.monotonic()
            fake.close()  # must not wait for the hanging request
            assert time.monotonic() - started < 3
            with pytest.raises(ProviderError) as caught:
                call.result(timeout=10)
    finally:
        provider.close()
    assert caught.value.retryable


def test_a_hanging_first_request_then_an_answer(server: FakeOpenAI) -> None:
    # The shape of a crashed worker's step: the first attempt never returns, the next does.
    server.script(hang(), reply("second time lucky"))
    with pytest.raises(ProviderError) as first:
        complete(server, timeout=0.3)
    assert first.value.retryable
    assert complete(server, timeout=5).text == "second time lucky"
    assert len(server.requests) == 2


def test_a_closed_provider_refuses_retryably(server: FakeOpenAI) -> None:
    provider = provider_for(server)
    provider.close()
    with pytest.raises(ProviderError) as caught:
        provider.complete(REQUEST)
    assert caught.value.retryable
    assert server.requests == []


# -- settings ----------------------------------------------------------------------------

GOOD = {"base_url": "http://127.0.0.1:1/v1", "model": "m"}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"model": "m"}, "needs 'base_url'"),
        ({"base_url": "http://127.0.0.1:1/v1"}, "needs 'model'"),
        ({**GOOD, "model": ""}, "needs 'model'"),
        ({**GOOD, "model": 3}, "'model' must be a non-empty string"),
        ({**GOOD, "base_url": "ftp://host/v1"}, "must be an http:// or https:// URL"),
        ({**GOOD, "base_url": "127.0.0.1:8080/v1"}, "must be an http:// or https:// URL"),
        ({**GOOD, "base_url": "http:///v1"}, "must be an http:// or https:// URL"),
        ({**GOOD, "base_url": "http://u:p@host/v1"}, "must not carry credentials"),
        ({**GOOD, "base_url": "http://host/v1?x=1"}, "must not have a query"),
        ({**GOOD, "base_url": "http://host:99999/v1"}, "invalid port"),
        ({**GOOD, "timeout": 0}, "'timeout' must be > 0"),
        ({**GOOD, "timeout": -1}, "'timeout' must be a finite number"),
        ({**GOOD, "timeout": "30"}, "'timeout' must be a number"),
        ({**GOOD, "timeout": True}, "'timeout' must be a number"),
        ({**GOOD, "timeout": float("inf")}, "'timeout' must be a finite number"),
        ({**GOOD, "temperature": "hot"}, "'temperature' must be a number"),
        ({**GOOD, "max_tokens": 0}, "'max_tokens' must be a whole number"),
        ({**GOOD, "max_tokens": 1.5}, "'max_tokens' must be a whole number"),
        ({**GOOD, "system": ["a"]}, "'system' must be a string"),
        ({**GOOD, "api_key_env": ""}, "must name an environment variable"),
        ({**GOOD, "api_key_env": "MISSING_API_KEY"}, "names MISSING_API_KEY, which is not"),
        ({**GOOD, "api_key_env": "AUXOT_DATABASE_URL"}, "ending in _API_KEY"),
        ({**GOOD, "api_key": "sk-inline", "modle": "x"}, "unknown settings: api_key, modle"),
        ({**GOOD, "response_format": "json"}, "'response_format' must be one of json_object, "
                                              "json_schema, none"),
    ],
)
def test_invalid_settings(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="openai provider 'local'") as caught:
        OpenAIProvider("local", settings, {"OTHER": "x"})
    assert message in str(caught.value)


def test_valid_settings_are_accepted() -> None:
    OpenAIProvider(
        "local",
        {**GOOD, "timeout": 5, "temperature": 0, "max_tokens": 10, "system": "",
         "api_key_env": "LLM_API_KEY"},
        {"LLM_API_KEY": "sk"},
    ).close()


def test_the_pool_checks_through_the_factory() -> None:
    pool = ProviderPool({"openai": openai_factory({})})
    pool.check("local", "openai", GOOD)
    with pytest.raises(ValueError, match="api_key_env names NOPE_API_KEY"):
        pool.check("local", "openai", {**GOOD, "api_key_env": "NOPE_API_KEY"})
