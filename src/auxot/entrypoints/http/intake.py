"""The intake API: submit work, poll it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import anyio.to_thread
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from auxot.application.errors import NotFoundError
from auxot.application.keys import Caller
from auxot.application.records import WorkRecord
from auxot.application.refs import format_ref, parse_ref
from auxot.application.service import Service
from auxot.domain.work_item import WorkItem
from auxot.entrypoints.http.auth import provide_caller
from auxot.entrypoints.http.bodies import json_object
from auxot.entrypoints.http.intake_fast_path import IntakeFastPath
from auxot.entrypoints.http.problems import (
    not_found,
)
from auxot.entrypoints.http.request_options import request_options, submit_as_asked
from auxot.entrypoints.http.waiting import ended_record, wait_seconds
from auxot.entrypoints.http.wire import WorkAccepted

_decoder = msgspec.json.Decoder()


class IntakeController(Controller):
    path = "/v1/intake/{intake_id:str}"
    tags = ["intake"]  # noqa: RUF012 - Litestar reads it as a class attribute
    dependencies = {"caller": Provide(provide_caller)}  # noqa: RUF012

    @post(
        "/",
        status_code=HTTP_202_ACCEPTED,
        summary="Submit work",
        description=(
            "The body (any JSON object) becomes the work item's input. Answers 202 once "
            "the item is durably recorded; its workflow runs asynchronously. With the "
            "query parameter `wait=N` (0 < N <= 30 seconds), answers 200 with the full "
            "record instead if the item ends (completed, failed or cancelled) within N "
            "seconds.\n\nAn `Idempotency-Key` header makes the request safe to repeat: a "
            "repeat with the same key and body (same intake and API key) answers with the "
            "original item and records nothing; the same key with another body is 422, a "
            "repeat while the first is still being recorded 409. A key is kept as long "
            "as its item. "
            "`Callback-Url` names this item's callback URL, where the intake allows it "
            "(else 422). See docs/http-api.md."
        ),
        response_headers=[
            ResponseHeader(name="Location", description="Where to poll", documentation_only=True)
        ],
        middleware=[IntakeFastPath],
        responses={
            HTTP_200_OK: ResponseSpec(
                WorkRecord, description="With ?wait=N: the item ended within N seconds"
            )
        },
    )
    async def submit(
        self,
        request: Request[Any, Any, Any],
        intake_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
    ) -> Response[WorkAccepted]:
        intake = parse_ref("intake", intake_id)
        if intake is None:
            raise not_found()
        # The hot path has no query string and pays for nothing more than this test.
        wait = wait_seconds(request) if request.scope["query_string"] else None
        options = request_options(request)
        work_input = json_object(request, await request.body())
        if options is not None:
            work_id = await submit_as_asked(service, caller, intake, work_input, options)
        else:
            try:
                receipt = service.receive(caller, intake, work_input, refresh=False)
            except NotFoundError:
                receipt = await _receive_after_refresh(service, caller, intake, work_input)
            await service.committer.submit_async([receipt])
            work_id = receipt.originator_id
        ref = format_ref("work", work_id)
        location = f"/v1/intake/{intake_id}/work/{ref}"
        if wait is not None and (record := await ended_record(service, work_id, wait)):
            return _record_response(record, location)
        return Response(
            WorkAccepted(work_id=ref),
            status_code=HTTP_202_ACCEPTED,
            headers={"Location": location},
        )

    @get("/work/{work_id:str}", summary="Poll a work item", response_description="The record")
    async def work(
        self,
        intake_id: FromPath[str],
        work_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
    ) -> Response[bytes]:
        intake, work = parse_ref("intake", intake_id), parse_ref("work", work_id)
        if intake is None or work is None:
            raise not_found()
        try:
            record = await anyio.to_thread.run_sync(
                lambda: service.work_record(caller, intake, work)
            )
        except NotFoundError:
            raise not_found() from None
        return Response(record, media_type="application/json")


def _record_response(record: bytes, location: str) -> Response[WorkAccepted]:
    """200 with the ended item's record (stored JSON bytes, sent as they are). Typed as
    the handler's return, whose 202 body the OpenAPI document describes; the 200 body is
    described by the route's ``responses``."""
    response: Response[Any] = Response(
        record,
        status_code=HTTP_200_OK,
        media_type="application/json",
        headers={"Location": location},
    )
    return response


async def _receive_after_refresh(
    service: Service, caller: Caller, intake: UUID, work_input: dict[str, Any]
) -> WorkItem.Received:
    """An intake this process does not know yet may have been created elsewhere: look
    (reading the database, so off the event loop) before answering 404."""
    try:
        return await anyio.to_thread.run_sync(lambda: service.receive(caller, intake, work_input))
    except NotFoundError:
        raise not_found() from None
