"""The work API: read any work item the key may see, cancel it, re-run it."""

from __future__ import annotations

from litestar import Controller, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from auxot.application.keys import Caller
from auxot.application.lifecycle import Lifecycle
from auxot.application.service import Service
from auxot.entrypoints.http.audit import history, point_or_400
from auxot.entrypoints.http.auth import provide_caller
from auxot.entrypoints.http.problems import ref_or_404
from auxot.entrypoints.http.use_cases import run_use_case, work_accepted
from auxot.entrypoints.http.wire import WorkAccepted

_JSON = "application/json"


class WorkController(Controller):
    path = "/v1/work/{work_id:str}"
    tags = ["work"]  # noqa: RUF012 - Litestar reads it as a class attribute
    dependencies = {"caller": Provide(provide_caller)}  # noqa: RUF012

    @get(
        "/",
        summary="A work item's record, now or as it stood at a past point",
        description=(
            "With ?at=, the record as it stood then, folded from the item's events: at a "
            "version (?at=3: after its third event) or a time (?at=2026-12-01T09:30:00Z: "
            "after the last event at or before it). 404 for a version it never had or a "
            "time before it existed."
        ),
        response_description="The record",
    )
    async def record(
        self,
        work_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
        at: FromQuery[str | None] = None,
    ) -> Response[bytes]:
        work = ref_or_404("work", work_id)
        if at is not None:
            point = point_or_400(at)
            record = await run_use_case(lambda: history(service).record_at(caller, work, point))
        else:
            record = await run_use_case(lambda: Lifecycle(service).record(caller, work))
        return Response(record, media_type=_JSON)

    @post(
        "/cancel",
        status_code=HTTP_200_OK,
        summary="Cancel: the item ends as cancelled (409 once it has ended)",
        description=(
            "The item stops at once: no further step starts. A step already running is "
            "not interrupted, but its outcome is not recorded."
        ),
        response_description="The record",
    )
    async def cancel(
        self,
        work_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
    ) -> Response[bytes]:
        work = ref_or_404("work", work_id)
        record = await run_use_case(lambda: Lifecycle(service).cancel(caller, work))
        return Response(record, media_type=_JSON)

    @post(
        "/rerun",
        status_code=HTTP_202_ACCEPTED,
        summary="Re-run: a new item with the same input on the newest version",
        description=(
            "Only an item that has ended (completed, failed or cancelled) is re-run; "
            "otherwise 409. The new record's rerun_of and the old record's reruns link them."
        ),
        response_headers=[
            ResponseHeader(name="Location", description="Where to poll", documentation_only=True)
        ],
    )
    async def rerun(
        self,
        work_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
    ) -> Response[WorkAccepted]:
        work = ref_or_404("work", work_id)
        return work_accepted(await run_use_case(lambda: Lifecycle(service).rerun(caller, work)))
