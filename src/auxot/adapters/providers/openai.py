"""The openai provider: any OpenAI-compatible ``POST {base_url}/chat/completions``
endpoint (OpenAI, vLLM, Ollama, llama.cpp).

Settings:
  base_url:    the API root, e.g. ``http://127.0.0.1:8080/v1`` (required; http or https);
  model:       the model to ask for (required);
  api_key_env: the NAME of an environment variable holding the API key, sent as a bearer
               token (optional; when named, the variable must be set);
  timeout:     seconds one call may take (default 60); the step's lease derives from it;
  temperature, max_tokens: passed through to the endpoint (optional);
  system:      a system prompt sent before a prompt step's prompt (optional; agent
               steps send their agent's instructions instead);
  response_format: how a step with an output schema asks for JSON: ``json_object``
               (default: ``{"type": "json_object"}``, widely supported), ``json_schema``
               (sends the schema itself, for endpoints that constrain output to it) or
               ``none`` (for endpoints that reject the field; the prompt still asks for
               JSON and the engine validates the reply either way).

``complete`` runs a prompt step (one user message); ``chat`` runs one turn of an agent
step: the whole conversation so far, and the agent's tools as OpenAI function tools
(``tools: [{"type": "function", "function": {...}}]``); the answer's
``choices[0].message`` carries either ``tool_calls`` or the final ``content``. Both share
one request path: the same timeouts, deadline watchdog, size caps and error mapping.

Every failure is a ``ProviderError``. Transient causes (network, timeout, HTTP 408, 429,
5xx) are marked retryable; the rest (other 4xx, a refused redirect, a malformed or
oversized response) are not, because running them again would fail the same way.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, NoReturn
from urllib.parse import urlsplit

import attrs
import httpx
import msgspec

from auxot.adapters.http_bounds import Deadline, DeadlinePassedError, clip, read_bounded
from auxot.application.ports import (
    ChatMessage,
    ChatRequest,
    ChatTurn,
    Completion,
    PromptRequest,
    ProviderError,
    ProviderFactory,
    ToolCall,
    ToolSpec,
    Usage,
)
from auxot.application.providers import DEFAULT_TIMEOUT_SECONDS

# A completion is text: a few MiB is far beyond any real answer, and bounds what a hostile
# or broken server can make us hold in memory.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
# Error bodies are only mined for a message: read little of them.
_MAX_ERROR_BODY_BYTES = 64 * 1024
# Server-provided text lands in work records: keep it short.
_MAX_DETAIL_CHARS = 300
_RETRYABLE_STATUSES = frozenset({408, 429})
_KNOWN = frozenset(
    {
        "base_url",
        "model",
        "api_key_env",
        "timeout",
        "temperature",
        "max_tokens",
        "system",
        "response_format",
    }
)
_RESPONSE_FORMATS = ("json_object", "json_schema", "none")


# -- wire types --------------------------------------------------------------------------


class _FunctionCall(msgspec.Struct):
    name: str
    # OpenAI sends the arguments as JSON text; some compatible servers as an object.
    arguments: str | dict[str, Any] = ""


class _ToolCall(msgspec.Struct):
    function: _FunctionCall
    id: str = ""
    type: str = "function"


class _ChatMessage(msgspec.Struct, omit_defaults=True):
    role: str
    content: str | None = None
    tool_calls: list[_ToolCall] | None = None
    tool_call_id: str | None = None


class _Function(msgspec.Struct):
    name: str
    description: str
    parameters: dict[str, Any]


class _ToolDef(msgspec.Struct):
    function: _Function
    type: str = "function"


class _JsonSchemaFormat(msgspec.Struct):
    name: str
    schema: dict[str, Any]
    strict: bool = False


class _ResponseFormat(msgspec.Struct, omit_defaults=True):
    type: str
    json_schema: _JsonSchemaFormat | None = None


class _ChatRequest(msgspec.Struct, omit_defaults=True):
    model: str
    messages: list[_ChatMessage]
    temperature: float | None = None
    max_tokens: int | None = None
    response_format: _ResponseFormat | None = None
    tools: list[_ToolDef] | None = None


# Responses allow unknown fields: real servers add many (id, created, system_fingerprint).
class _Message(msgspec.Struct):
    content: str | None = None
    tool_calls: list[_ToolCall] | None = None


class _Choice(msgspec.Struct):
    message: _Message


_Count = Annotated[int, msgspec.Meta(ge=0)]


class _Usage(msgspec.Struct):
    prompt_tokens: _Count | None = None
    completion_tokens: _Count | None = None


class _ChatResponse(msgspec.Struct):
    choices: list[_Choice]
    model: str | None = None
    usage: _Usage | None = None


class _ErrorDetail(msgspec.Struct):
    message: str | None = None


class _ErrorBody(msgspec.Struct):
    # OpenAI and vLLM send {"error": {"message": ...}}; Ollama sends {"error": "..."}.
    error: _ErrorDetail | str | None = None


# -- settings ----------------------------------------------------------------------------


@attrs.frozen
class _Config:
    url: str
    model: str
    api_key: str | None
    timeout: float
    temperature: float | None
    max_tokens: int | None
    system: str | None
    response_format: str


def _parse_settings(name: str, settings: Mapping[str, Any], secrets: Mapping[str, str]) -> _Config:
    where = f"openai provider '{name}'"
    unknown = set(settings) - _KNOWN
    if unknown:
        raise ValueError(
            f"{where}: unknown settings: {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(_KNOWN))})"
        )
    temperature = _number(where, settings, "temperature", default=None, minimum=0.0)
    return _Config(
        url=_endpoint(where, _text(where, settings, "base_url")),
        model=_text(where, settings, "model"),
        api_key=_api_key(where, settings, secrets),
        timeout=_timeout(where, settings),
        temperature=temperature,
        max_tokens=_max_tokens(where, settings),
        system=_optional_text(where, settings, "system"),
        response_format=_response_format(where, settings),
    )


def _response_format(where: str, settings: Mapping[str, Any]) -> str:
    value = settings.get("response_format", "json_object")
    if value not in _RESPONSE_FORMATS:
        raise ValueError(
            f"{where}: 'response_format' must be one of {', '.join(_RESPONSE_FORMATS)}"
        )
    return str(value)


def _text(where: str, settings: Mapping[str, Any], key: str) -> str:
    value = settings.get(key)
    if value is None or value == "":
        raise ValueError(f"{where} needs '{key}'")
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: '{key}' must be a non-empty string")
    return value


def _optional_text(where: str, settings: Mapping[str, Any], key: str) -> str | None:
    value = settings.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{where}: '{key}' must be a string")
    return value or None


def _endpoint(where: str, base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{where}: base_url must be an http:// or https:// URL, not {base_url!r}")
    # Credentials in the URL would be recorded wherever the URL is (errors, settings).
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{where}: base_url must not carry credentials; use api_key_env")
    # The endpoint path is appended: a query or fragment would end up in the wrong place.
    if parts.query or parts.fragment:
        raise ValueError(f"{where}: base_url must not have a query or fragment")
    try:
        _ = parts.port  # raises on a port that is not a number in range
    except ValueError as exc:
        raise ValueError(f"{where}: base_url has an invalid port ({exc})") from None
    return base_url.rstrip("/") + "/chat/completions"


def _api_key(where: str, settings: Mapping[str, Any], secrets: Mapping[str, str]) -> str | None:
    variable = settings.get("api_key_env")
    if variable is None:
        return None
    if not isinstance(variable, str) or not variable.endswith("_API_KEY"):
        # Only such variables reach providers (see auxot.entrypoints.settings).
        raise ValueError(
            f"{where}: 'api_key_env' must name an environment variable ending in _API_KEY"
        )
    key = secrets.get(variable)
    if not key:
        # Fail when the provider is declared, not on the first step that uses it.
        raise ValueError(f"{where}: api_key_env names {variable}, which is not set")
    return key


def _number(
    where: str, settings: Mapping[str, Any], key: str, *, default: float | None, minimum: float
) -> float | None:
    value = settings.get(key)
    if value is None:
        return default
    # bool is an int to Python, but `timeout: yes` is a mistake, not one second.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: '{key}' must be a number")
    if not math.isfinite(value) or value < minimum:
        raise ValueError(f"{where}: '{key}' must be a finite number >= {minimum:g}")
    return float(value)


def _timeout(where: str, settings: Mapping[str, Any]) -> float:
    timeout = _number(where, settings, "timeout", default=DEFAULT_TIMEOUT_SECONDS, minimum=0.0)
    assert timeout is not None  # a default was given
    if timeout <= 0:
        raise ValueError(f"{where}: 'timeout' must be > 0 seconds")
    return timeout


def _max_tokens(where: str, settings: Mapping[str, Any]) -> int | None:
    value = settings.get("max_tokens")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where}: 'max_tokens' must be a whole number >= 1")
    return value


# -- the provider ------------------------------------------------------------------------


class OpenAIProvider:
    """One endpoint and model. Thread-safe: one ``httpx.Client`` pools connections for
    all the worker threads that call ``complete`` at once."""

    def __init__(
        self,
        name: str,
        settings: Mapping[str, Any],
        secrets: Mapping[str, str],
        *,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.name = name
        self._config = _parse_settings(name, settings, secrets)
        self._max_response_bytes = max_response_bytes
        self._lock = threading.Lock()
        self._in_flight = 0
        self._closed = False
        self._client = httpx.Client(
            timeout=httpx.Timeout(self._config.timeout),
            # A fresh connection per call, so that the deadline watchdog always has its
            # socket; a model call takes seconds, a connection milliseconds.
            limits=httpx.Limits(max_keepalive_connections=0),
            follow_redirects=False,
            # The composition root is the only reader of the environment: no proxies,
            # netrc or CA bundles picked up behind its back.
            trust_env=False,
            headers=self._headers(),
        )

    def complete(self, request: PromptRequest) -> Completion:
        with self._call():
            return self._completion(self._post(self._request_body(request)))

    def chat(self, request: ChatRequest) -> ChatTurn:
        with self._call():
            return self._turn(self._post(self._chat_body(request)))

    def close(self) -> None:
        """Refuse new calls; the client closes once the calls in flight have ended.

        The pool closes a provider superseded by a reconfiguration while steps may still
        be running on it: cutting their connections would fail those steps for nothing.
        """
        with self._lock:
            self._closed = True
            idle = self._in_flight == 0
        if idle:
            self._client.close()

    @contextlib.contextmanager
    def _call(self) -> Iterator[None]:
        self._enter()
        try:
            yield
        finally:
            self._leave()

    def _enter(self) -> None:
        with self._lock:
            if self._closed:
                # Reconfigured while this step was queued: a retry gets the new provider.
                self._fail(
                    "the provider was closed (reconfigured or shutting down)", retryable=True
                )
            self._in_flight += 1

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1
            last = self._closed and self._in_flight == 0
        if last:
            self._client.close()

    def _post(self, body: _ChatRequest) -> bytes:
        """POST ``body`` within the deadline: the success body, or a ProviderError."""
        payload = msgspec.json.encode(body)
        watchdog = Deadline(self._config.timeout)
        try:
            data = self._exchange(payload, watchdog)
        except httpx.HTTPError as exc:
            if watchdog.expired:
                self._fail(
                    f"timed out after {self._config.timeout:g}s waiting for {self._config.url}",
                    retryable=True,
                )
            self._transport_error(exc)
        finally:
            watchdog.cancel()
        return data

    def _transport_error(self, exc: httpx.HTTPError) -> NoReturn:
        """The ProviderError for an exchange that failed below HTTP."""
        url = self._config.url
        if isinstance(exc, httpx.TimeoutException):
            self._fail(
                f"timed out after {self._config.timeout:g}s waiting for {url} "
                f"({type(exc).__name__})",
                retryable=True,
            )
        if isinstance(exc, httpx.ConnectError):
            self._fail(f"cannot connect to {url}: {exc}", retryable=True)
        if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError):
            self._fail(f"the connection to {url} failed: {exc}", retryable=True)
        if isinstance(exc, httpx.DecodingError):
            self._fail(f"malformed response: the body could not be decoded ({exc})")
        self._fail(f"the request to {url} failed: {exc}")

    # -- request -------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {
            "Accept": "application/json",
            # The size cap counts decoded bytes; an uncompressed body also keeps one small
            # compressed chunk from inflating far past the cap before it is counted.
            "Accept-Encoding": "identity",
            "User-Agent": "auxot",
        }
        if self._config.api_key is not None:
            headers["Authorization"] = f"Bearer {self._config.api_key}"
        return headers

    def _request_body(self, request: PromptRequest) -> _ChatRequest:
        messages = [_ChatMessage(role="user", content=request.prompt)]
        if self._config.system is not None:
            messages.insert(0, _ChatMessage(role="system", content=self._config.system))
        return _ChatRequest(
            model=self._config.model,
            messages=messages,
            temperature=self._config.temperature,
            max_tokens=self._config.max_tokens,
            response_format=self._response_format(request),
        )

    def _response_format(self, request: PromptRequest) -> _ResponseFormat | None:
        """How to ask for JSON, when the step has an output schema."""
        kind = self._config.response_format
        if request.json_schema is None or kind == "none":
            return None
        if kind == "json_schema":
            schema = _JsonSchemaFormat(name="output", schema=dict(request.json_schema))
            return _ResponseFormat(type="json_schema", json_schema=schema)
        return _ResponseFormat(type="json_object")


    def _chat_body(self, request: ChatRequest) -> _ChatRequest:
        return _ChatRequest(
            model=request.model or self._config.model,
            messages=[_wire_message(m) for m in request.messages],
            temperature=self._config.temperature,
            max_tokens=self._config.max_tokens,
            tools=[_wire_tool(t) for t in request.tools] or None,
        )

    def _exchange(self, payload: bytes, watchdog: Deadline) -> bytes:
        """POST ``payload``; the success body, or a ProviderError for any other answer."""
        deadline = watchdog.at
        with self._client.stream(
            "POST",
            self._config.url,
            content=payload,
            headers={"Content-Type": "application/json"},
            extensions={"trace": watchdog.trace},
        ) as response:
            if response.is_redirect or 300 <= response.status_code < 400:
                self._refuse_redirect(response)
            if not response.is_success:
                data, _ = self._read(response, _MAX_ERROR_BODY_BYTES, deadline)
                self._status_error(response, data)
            data, overflowed = self._read(response, self._max_response_bytes, deadline)
        if overflowed:
            self._fail(f"malformed response: the body exceeds {self._max_response_bytes} bytes")
        return data

    def _read(self, response: httpx.Response, limit: int, deadline: float) -> tuple[bytes, bool]:
        """At most ``limit`` bytes of the body, and whether there was more."""
        try:
            return read_bounded(response, limit, deadline)
        except DeadlinePassedError:
            self._fail(
                f"timed out after {self._config.timeout:g}s reading the response "
                f"from {self._config.url}",
                retryable=True,
            )

    # -- response ------------------------------------------------------------------------

    def _decode(self, data: bytes) -> _ChatResponse:
        try:
            parsed = msgspec.json.decode(data, type=_ChatResponse)
        except msgspec.DecodeError as exc:  # also msgspec.ValidationError
            detail = _server_message(data)
            suffix = f" (the server said: {detail})" if detail else ""
            self._fail(f"malformed response: {exc}{suffix}")
        if not parsed.choices:
            self._fail("malformed response: no choices")
        return parsed

    def _completion(self, data: bytes) -> Completion:
        parsed = self._decode(data)
        text = parsed.choices[0].message.content
        if text is None:
            self._fail("malformed response: choices[0].message.content is missing")
        return Completion(
            text=text,
            model=parsed.model or self._config.model,
            usage=_usage(parsed.usage),
        )

    def _turn(self, data: bytes) -> ChatTurn:
        parsed = self._decode(data)
        message = parsed.choices[0].message
        calls = tuple(
            ToolCall(
                id=call.id or f"call_{n}",
                name=call.function.name,
                arguments_json=_arguments_text(call.function.arguments),
            )
            for n, call in enumerate(message.tool_calls or ())
        )
        if not calls and message.content is None:
            self._fail("malformed response: the message has neither content nor tool_calls")
        return ChatTurn(
            message=ChatMessage(role="assistant", content=message.content, tool_calls=calls),
            model=parsed.model or self._config.model,
            usage=_usage(parsed.usage),
        )

    def _refuse_redirect(self, response: httpx.Response) -> NoReturn:
        location = _clip(response.headers.get("Location", ""))
        target = f" to {location}" if location else ""
        # A redirect could move the prompt and the API key to another host: never follow.
        self._fail(f"redirect refused: HTTP {response.status_code}{target}")

    def _status_error(self, response: httpx.Response, data: bytes) -> NoReturn:
        status = response.status_code
        message = f"HTTP {status} {httpx.codes.get_reason_phrase(status)}".rstrip()
        detail = _server_message(data)
        if detail:
            message += f": {detail}"
        retry_after = response.headers.get("Retry-After")
        if status == 429 and retry_after:
            message += f" (retry after {_clip(retry_after)})"
        self._fail(message, retryable=status in _RETRYABLE_STATUSES or status >= 500)

    def _fail(self, message: str, *, retryable: bool = False) -> NoReturn:
        raise ProviderError(f"openai provider '{self.name}': {message}", retryable=retryable)


def _wire_message(message: ChatMessage) -> _ChatMessage:
    calls = [
        _ToolCall(id=c.id, function=_FunctionCall(name=c.name, arguments=c.arguments_json))
        for c in message.tool_calls
    ]
    return _ChatMessage(
        role=message.role,
        content=message.content,
        tool_calls=calls or None,
        tool_call_id=message.tool_call_id,
    )


def _wire_tool(tool: ToolSpec) -> _ToolDef:
    return _ToolDef(
        function=_Function(
            name=tool.name, description=tool.description, parameters=dict(tool.parameters)
        )
    )


def _arguments_text(arguments: str | dict[str, Any]) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def _usage(usage: _Usage | None) -> Usage | None:
    if usage is None or usage.prompt_tokens is None or usage.completion_tokens is None:
        return None
    return Usage(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens)


def _server_message(data: bytes) -> str | None:
    """The message of an ``{"error": ...}`` body, if that is what ``data`` holds."""
    try:
        body = msgspec.json.decode(data, type=_ErrorBody)
    except msgspec.DecodeError:
        return None
    error = body.error
    message = error.message if isinstance(error, _ErrorDetail) else error
    return _clip(message) if message else None


def _clip(text: str) -> str:
    return clip(text, _MAX_DETAIL_CHARS)


def openai_factory(secrets: Mapping[str, str]) -> ProviderFactory:
    """The ``openai`` kind, reading API keys from ``secrets`` (the environment, as the
    composition root captured it)."""

    def build(name: str, settings: Mapping[str, Any]) -> OpenAIProvider:
        return OpenAIProvider(name, settings, secrets)

    return build
