"""HTTP tools: ``kind: http`` in a workflow file. A call POSTs (or PUTs/PATCHes) the
model's arguments as JSON to the declared URL and returns the JSON (or text) answer.

Settings: ``url`` (required, http or https, no credentials or fragment), ``method``
(``POST`` by default, or ``PUT``/``PATCH``), ``timeout`` (seconds for the whole call,
default 30). Every call goes through the SSRF guard first (``NetGuard``): the host is
resolved and the call refused, before any connection, when an address is not allowed;
the connection then goes to the checked address. Redirects are refused, the answer is
read up to ``max_response_bytes``, and the call is cut off at its timeout whatever it is
waiting for. Any failure raises ``ToolError``, which the agent loop hands to the model.
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import urlsplit

from auxot.adapters.checked_call import CallFailedError, CallTimedOutError, call_checked
from auxot.adapters.http_bounds import clip
from auxot.adapters.net_guard import AddressRefusedError, NetGuard
from auxot.application.ports import Tool, ToolDefinition, ToolError, ToolFactory, ToolSpec

DEFAULT_TIMEOUT_SECONDS = 30.0
MAX_RESPONSE_BYTES = 1024 * 1024
_METHODS = frozenset({"POST", "PUT", "PATCH"})
_KNOWN = frozenset({"url", "method", "timeout"})


class HttpTool:
    def __init__(
        self,
        definition: ToolDefinition,
        guard: NetGuard,
        *,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        where = f"http tool '{definition.name}'"
        settings = definition.settings
        unknown = set(settings) - _KNOWN
        if unknown:
            raise ValueError(f"{where}: unknown settings: {', '.join(sorted(unknown))}")
        self._url = _url(where, settings.get("url"))
        self._method = _method(where, settings.get("method", "POST"))
        self._timeout = _timeout(where, settings.get("timeout", DEFAULT_TIMEOUT_SECONDS))
        self._spec = definition.spec
        self._guard = guard
        self._max_response_bytes = max_response_bytes

    @property
    def spec(self) -> ToolSpec:
        return self._spec

    @property
    def timeout(self) -> float:
        return self._timeout

    def call(self, arguments: dict[str, Any]) -> Any:
        try:
            target = self._guard.check(self._url)  # before any connection is made
        except AddressRefusedError as exc:
            raise ToolError(f"refused: {exc}") from None
        try:
            answer = call_checked(
                target,
                self._method,
                timeout=self._timeout,
                max_body=self._max_response_bytes,
                headers={"User-Agent": "auxot"},
                json=arguments,
            )
        except CallTimedOutError:
            raise ToolError(f"timed out after {self._timeout:g}s") from None
        except CallFailedError as exc:
            raise ToolError(f"the request failed: {exc}") from None
        if answer.redirect:
            raise ToolError(f"redirect refused: HTTP {answer.status_code}")
        if answer.overflowed:
            raise ToolError(f"the answer exceeds {self._max_response_bytes} bytes")
        body, status = answer.body, answer.status_code
        content_type = answer.headers.get("Content-Type", "")
        text = body.decode("utf-8", errors="replace")
        if not 200 <= status < 300:
            raise ToolError(f"HTTP {status}: {clip(text)}" if text.strip() else f"HTTP {status}")
        if "json" in content_type:
            try:
                return json.loads(text)
            except ValueError:
                pass
        return text


def http_tool_factory(guard: NetGuard) -> ToolFactory:
    """The ``http`` kind, every call checked by ``guard``."""

    def build(definition: ToolDefinition) -> Tool:
        return HttpTool(definition, guard)

    return build


def _url(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where} needs 'url'")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{where}: url must be an http:// or https:// URL, not {value!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{where}: url must not carry credentials")
    if parts.fragment:
        raise ValueError(f"{where}: url must not have a fragment")
    try:
        _ = parts.port
    except ValueError as exc:
        raise ValueError(f"{where}: url has an invalid port ({exc})") from None
    return value


def _method(where: str, value: Any) -> str:
    if not isinstance(value, str) or value.upper() not in _METHODS:
        raise ValueError(f"{where}: method must be one of {', '.join(sorted(_METHODS))}")
    return value.upper()


def _timeout(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: timeout must be a number of seconds")
    if not 0 < value < math.inf:
        raise ValueError(f"{where}: timeout must be above 0 and finite")
    return float(value)
