"""A small HTTP server on 127.0.0.1 standing in for an HTTP tool, for tests.

It records every request and answers each with the same configured response::

    with ToolServer(json_reply={"ok": True}) as server:
        ...  # POST to server.url
        assert server.requests[0].body == b'{"a": 1}'

``status``/``body``/``content_type``/``headers`` set the answer; ``hang=True`` holds
each request until ``release()`` (or the server closing) and then drops it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.local_http import LocalHTTPServer
from tests.fakes.openai_server import RecordedRequest


class ToolServer:
    def __init__(
        self,
        *,
        json_reply: Any = None,
        status: int = 200,
        body: bytes | None = None,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
        hang: bool = False,
    ) -> None:
        self.status = status
        self.body = body if body is not None else json.dumps(json_reply).encode()
        self.content_type = content_type
        self.headers = dict(headers or {})
        self.hang = hang
        self.requests: list[RecordedRequest] = []
        self.arrived = threading.Condition()
        self._gate = threading.Event()
        self._httpd = LocalHTTPServer(self, _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.port}/tool"

    def release(self) -> None:
        self._gate.set()

    def __enter__(self) -> ToolServer:
        self._httpd.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self._httpd.stop()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LocalHTTPServer[ToolServer]

    def do_POST(self) -> None:
        tool = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
        )
        with tool.arrived:
            tool.requests.append(request)
            tool.arrived.notify_all()
        if tool.hang:
            tool._gate.wait(30)
            self.close_connection = True
            return
        self.send_response(tool.status)
        self.send_header("Content-Type", tool.content_type)
        for name, value in tool.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(tool.body)))
        self.end_headers()
        self.wfile.write(tool.body)

    do_PUT = do_PATCH = do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the stdlib logs every request to stderr; tests read ``requests``."""
