"""The intake POST's fast path: a well-formed, authorised submission without the cost of
Litestar's handler pipeline.

Parsing parameters, resolving dependencies and converting the handler's return value
into a response cost Litestar about as much CPU again as everything Auxot does for a
submission (benchmarks/README.md). This route middleware serves exactly the common case
itself: a JSON object body, a known usable key, an intake this process has loaded, no
query string, no ``Idempotency-Key`` or ``Callback-Url`` header. Anything else — every
error, and every case that needs the database to decide — goes on to the regular
handler with the body replayed, so errors, the refresh-then-404 path and the OpenAPI
description stay in one place: the controller.
Both paths answer a good submission with the same status, headers and body; the tests
run the whole intake contract through both.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

from auxot.application.errors import NotFoundError
from auxot.application.keys import Caller
from auxot.application.refs import format_ref, parse_ref
from auxot.application.service import Service
from auxot.entrypoints.http.request_options import OPTION_HEADERS
from auxot.entrypoints.http.wire import WorkAccepted

SERVICE_STATE_KEY = "auxot_service"
"""Where ``create_app`` puts the service in the app's state for this middleware."""

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


class IntakeFastPath:
    """Route middleware for ``POST /v1/intake/{intake_id}``."""

    def __init__(self, app: ASGIApp) -> None:
        self._next = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        litestar_app = scope["litestar_app"]
        service: Service | None = litestar_app.state.get(SERVICE_STATE_KEY)
        caller_intake = None if service is None else _caller_and_intake(service, scope)
        if caller_intake is None:
            await self._next(scope, receive, send)
            return
        caller, intake = caller_intake
        limit = litestar_app.request_max_body_size
        messages, body = await _read_body(receive, limit if isinstance(limit, int) else None)
        work_input = None if body is None else _json_object(body)
        if work_input is None:
            await self._next(scope, _replay(messages, receive), send)
            return
        assert service is not None
        try:
            receipt = service.receive(caller, intake, work_input, refresh=False)
        except NotFoundError:
            await self._next(scope, _replay(messages, receive), send)
            return
        await service.committer.submit_async([receipt])
        work_ref = format_ref("work", receipt.originator_id)
        await _accepted(send, scope["path_params"]["intake_id"], work_ref)


def _caller_and_intake(service: Service, scope: Scope) -> tuple[Caller, UUID] | None:
    """The caller and intake when the request's line and headers are the plain case."""
    if scope["query_string"]:
        return None
    intake = parse_ref("intake", scope["path_params"]["intake_id"])
    if intake is None:
        return None
    authorization = content_type = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            if authorization is not None:
                return None  # repeated: the regular handler decides (it refuses)
            authorization = value
        elif name == b"content-type":
            if content_type is not None:
                return None
            content_type = value
        elif name in OPTION_HEADERS:
            return None  # an Idempotency-Key or Callback-Url: the regular handler's path
    if authorization is None or content_type is None or not _is_json(content_type):
        return None
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer":
        return None
    caller = service.authenticate(token.strip(), refresh=False)
    return None if caller is None else (caller, intake)


def _is_json(content_type: bytes) -> bool:
    media_type = content_type.split(b";", 1)[0].strip().lower()
    return media_type == b"application/json" or media_type.endswith(b"+json")


async def _read_body(
    receive: Receive, limit: int | None
) -> tuple[list[ReceiveMessage], bytes | None]:
    """The messages read, and the whole body; None when it is over ``limit`` or the
    client went away (the regular handler then answers, from the replayed messages)."""
    messages: list[ReceiveMessage] = []
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if limit is not None and size > limit:
            return messages, None
        more = message.get("more_body", False)
    return messages, b"".join(chunks)


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = _decoder.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _replay(messages: list[ReceiveMessage], receive: Receive) -> Receive:
    """A ``receive`` that gives the messages already read, then reads on."""
    pending = list(messages)

    async def replayed() -> ReceiveMessage:
        return pending.pop(0) if pending else await receive()

    return replayed


async def _accepted(send: Send, intake_ref: str, work_ref: str) -> None:
    body = _encoder.encode(WorkAccepted(work_id=work_ref))
    await send(
        {
            "type": "http.response.start",
            "status": 202,
            "headers": [
                (b"location", f"/v1/intake/{intake_ref}/work/{work_ref}".encode()),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
