"""The intake fast path serves a plain good submission itself, and hands everything else
to the regular handler with the request body intact.

The HTTP contract tests (test_intake_flow, test_bad_input, test_auth, test_not_found) run
over a real socket with the fast path on and off; these tests drive the middleware as an
ASGI app, to see which path answered.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import msgspec
import pytest
from litestar import Litestar

from auxot.application.refs import parse_ref
from auxot.application.service import Service
from auxot.domain.actor import SYSTEM as OPERATOR
from auxot.entrypoints.bootstrap import bootstrap
from auxot.entrypoints.http import create_app
from auxot.entrypoints.http.intake_fast_path import IntakeFastPath
from auxot.entrypoints.settings import Settings
from auxot.entrypoints.workflow_file import load_declaration
from tests.support import EXAMPLE_WORKFLOW

BODY = b'{"ticket_id":"SUP-1042","customer":"Acme Corp"}'


class Harness:
    def __init__(self, service: Service, app: Litestar, intake: str, key: str) -> None:
        self.service, self.app, self.intake, self.key = service, app, intake, key
        self.handed_on: list[bytes] = []  # bodies the regular handler received

    async def _regular_handler(self, scope: Any, receive: Any, send: Any) -> None:
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        self.handed_on.append(b"".join(chunks))
        await send({"type": "http.response.start", "status": 599, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def post(
        self,
        body_chunks: list[bytes] | None = None,
        *,
        headers: dict[str, str] | None = None,
        intake: str | None = None,
        query: bytes = b"",
    ) -> tuple[int, dict[str, str], bytes]:
        if headers is None:
            headers = {"authorization": f"Bearer {self.key}", "content-type": "application/json"}
        chunks = [BODY] if body_chunks is None else body_chunks
        incoming = [
            {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
            for i, c in enumerate(chunks)
        ]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return incoming.pop(0) if incoming else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "POST",
            "path": f"/v1/intake/{intake or self.intake}",
            "query_string": query,
            # A trailing space in a test's header name marks a repeated header.
            "headers": [(k.strip().encode(), v.encode()) for k, v in headers.items()],
            "path_params": {"intake_id": intake or self.intake},
            "litestar_app": self.app,
        }
        anyio.run(IntakeFastPath(self._regular_handler), scope, receive, send)
        start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
        return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body


@pytest.fixture
def harness() -> Iterator[Harness]:
    service = bootstrap(Settings(database_url="memory://"), run_worker=False)
    applied = service.apply(load_declaration(EXAMPLE_WORKFLOW), OPERATOR)
    intake = next(a.id for a in applied if a.kind == "intake")
    key = service.create_key("team", "support", OPERATOR).key
    app = create_app(service, max_body_bytes=1024, manage_service=False)
    try:
        yield Harness(service, app, intake, key)
    finally:
        service.close()


def test_a_plain_good_submission_is_answered_by_the_fast_path(harness: Harness) -> None:
    status, headers, body = harness.post([BODY[:10], BODY[10:]])
    assert status == 202
    assert harness.handed_on == []
    work_id = msgspec.json.decode(body)["work_id"]
    assert headers["location"] == f"/v1/intake/{harness.intake}/work/{work_id}"
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body)
    # Answered only once committed: the item is in the store.
    ref = parse_ref("work", work_id)
    assert ref is not None
    found = harness.service.find_record(ref)
    assert found is not None
    assert msgspec.json.decode(found[1])["input"] == msgspec.json.decode(BODY)


def _headers(**changes: str | None) -> dict[str, str]:
    base: dict[str, str | None] = {
        "authorization": "Bearer KEY",
        "content-type": "application/json",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize(
    ("case", "headers", "chunks", "query", "intake"),
    [
        ("no key", _headers(authorization=None), None, b"", None),
        ("basic auth", _headers(authorization="Basic abc"), None, b"", None),
        ("unknown key", _headers(authorization="Bearer team.00.x"), None, b"", None),
        ("no content type", _headers(**{"content-type": None}), None, b"", None),
        ("text/plain", _headers(**{"content-type": "text/plain"}), None, b"", None),
        ("malformed JSON", _headers(), [b'{"a":'], b"", None),
        ("an array", _headers(), [b"[1, 2]"], b"", None),
        ("invalid UTF-8", _headers(), [b'{"a": "\xff"}'], b"", None),
        ("over the size limit", _headers(), [b'{"a": "' + b"x" * 2000 + b'"}'], b"", None),
        ("a query string", _headers(), None, b"wait=5", None),
        ("two keys", {**_headers(), "authorization ": "Bearer team.00.x"}, None, b"", None),
        ("two content types", {**_headers(), "content-type ": "text/plain"}, None, b"", None),
        ("not an intake ref", _headers(), None, b"", "work_" + "0" * 32),
        ("an unknown intake", _headers(), None, b"", "intake_" + "0" * 32),
    ],
)
def test_everything_else_goes_to_the_regular_handler_with_its_body(
    harness: Harness,
    case: str,
    headers: dict[str, str],
    chunks: list[bytes] | None,
    query: bytes,
    intake: str | None,
) -> None:
    if headers.get("authorization") == "Bearer KEY":
        headers = {**headers, "authorization": f"Bearer {harness.key}"}
    status, _, _ = harness.post(chunks, headers=headers, query=query, intake=intake)
    assert status == 599, case
    assert harness.handed_on == [b"".join(chunks or [BODY])], case


def test_without_the_fast_path_the_regular_handler_answers(harness: Harness) -> None:
    app = create_app(harness.service, manage_service=False, intake_fast_path=False)
    harness.app = app
    status, _, _ = harness.post()
    assert status == 599
    assert harness.handed_on == [BODY]
