"""HTTP tools against real HTTP servers on 127.0.0.1, and the SSRF guard in front of them."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import pytest

from auxot.adapters.net_guard import NetGuard
from auxot.adapters.tools.http_tool import HttpTool, http_tool_factory
from auxot.application.ports import ToolDefinition, ToolError
from tests.fakes.tool_server import ToolServer

LOCAL = NetGuard(allow=("127.0.0.1",))
SCHEMA = {"type": "object", "properties": {"email": {"type": "string"}}}


def tool(
    url: str, guard: NetGuard = LOCAL, *, max_response_bytes: int = 1024 * 1024, **settings: Any
) -> HttpTool:
    definition = ToolDefinition("lookup", "http", "Look up.", SCHEMA, {"url": url, **settings})
    return HttpTool(definition, guard, max_response_bytes=max_response_bytes)


def test_the_arguments_are_posted_as_json_and_a_json_answer_is_decoded() -> None:
    with ToolServer(json_reply={"name": "Ada", "plan": "pro"}) as server:
        assert tool(server.url).call({"email": "ada@example.com"}) == {
            "name": "Ada", "plan": "pro"
        }
    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/tool")
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.body) == {"email": "ada@example.com"}


def test_put_is_allowed_and_a_text_answer_is_returned_as_text() -> None:
    with ToolServer(body=b"all good", content_type="text/plain") as server:
        assert tool(server.url, method="put").call({}) == "all good"
    assert server.requests[0].method == "PUT"


def test_an_error_status_raises_a_tool_error_with_the_status_and_body() -> None:
    with (
        ToolServer(status=404, body=b"no such customer", content_type="text/plain") as server,
        pytest.raises(ToolError, match="HTTP 404: no such customer"),
    ):
        tool(server.url).call({"email": "x"})


def test_a_redirect_is_refused_and_never_followed() -> None:
    with ToolServer(json_reply="secret") as elsewhere:
        with (
            ToolServer(status=302, headers={"Location": elsewhere.url}) as server,
            pytest.raises(ToolError, match="redirect refused: HTTP 302"),
        ):
            tool(server.url).call({})
        assert elsewhere.requests == []


def test_a_hanging_tool_times_out_at_its_timeout() -> None:
    with ToolServer(hang=True) as server:
        started = time.monotonic()
        with pytest.raises(ToolError, match=r"timed out after 0\.3s"):
            tool(server.url, timeout=0.3).call({})
        assert time.monotonic() - started < 3
        assert len(server.requests) == 1


def test_an_oversized_answer_is_refused() -> None:
    with (
        ToolServer(body=b"x" * 5000, content_type="text/plain") as server,
        pytest.raises(ToolError, match="exceeds 1000 bytes"),
    ):
        tool(server.url, max_response_bytes=1000).call({})


def test_nothing_listening_is_a_tool_error() -> None:
    with ToolServer() as server:
        url = server.url
    with pytest.raises(ToolError, match="the request failed"):
        tool(url, timeout=2).call({})


# -- the SSRF guard ---------------------------------------------------------------------


def test_loopback_is_refused_without_an_allowance_and_nothing_is_sent() -> None:
    with (
        ToolServer(json_reply="reached") as server,
        pytest.raises(ToolError, match=r"refused: 127\.0\.0\.1 resolves to 127\.0\.0\.1"),
    ):
        tool(server.url, NetGuard()).call({"secret": 1})
    assert server.requests == []


def test_a_name_resolving_to_loopback_is_refused_before_connecting() -> None:
    """The check runs on the resolved addresses, before any connection: here the name
    resolves to a live local server, which must see nothing."""

    def to_loopback(host: str, port: int) -> Sequence[str]:
        return ["127.0.0.1"]

    with ToolServer(json_reply="reached") as server:
        url = server.url.replace("127.0.0.1", "tools.test")
        with pytest.raises(ToolError, match=r"tools\.test resolves to 127\.0\.0\.1"):
            tool(url, NetGuard(resolve=to_loopback)).call({})
    assert server.requests == []


@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/tool", "http://192.168.0.1/"],
)
def test_metadata_and_private_addresses_are_refused(url: str) -> None:
    started = time.monotonic()
    with pytest.raises(ToolError, match="refused"):
        tool(url, NetGuard(), timeout=30).call({})
    assert time.monotonic() - started < 1  # refused, not attempted and timed out


def test_the_connection_goes_to_the_checked_address_with_the_original_host() -> None:
    def to_loopback(host: str, port: int) -> Sequence[str]:
        return ["127.0.0.1"]

    guard = NetGuard(allow=("tools.test",), resolve=to_loopback)
    with ToolServer(json_reply=True) as server:
        url = server.url.replace("127.0.0.1", "tools.test")
        assert tool(url, guard).call({}) is True
    port = url.split(":")[2].split("/")[0]
    assert server.requests[0].headers["host"] == f"tools.test:{port}"


# -- settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"url": "ftp://x/"}, "http:// or https://"),
        ({"url": "https://user:pw@x/"}, "credentials"),
        ({"url": "https://x/", "method": "GET"}, "method must be one of"),
        ({"url": "https://x/", "timeout": 0}, "timeout must be above 0"),
        ({"url": "https://x/", "timeout": True}, "timeout must be a number"),
        ({"url": "https://x/", "headers": {}}, "unknown settings: headers"),
        ({}, "needs 'url'"),
    ],
)
def test_bad_settings_are_refused_when_built(settings: dict[str, Any], message: str) -> None:
    build = http_tool_factory(NetGuard())
    with pytest.raises(ValueError, match=message):
        build(ToolDefinition("lookup", "http", "", SCHEMA, settings))
