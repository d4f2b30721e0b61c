"""Running a use case from a handler: off the event loop, with its refusals as problems."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

import anyio.to_thread
from litestar import Response
from litestar.status_codes import HTTP_202_ACCEPTED

from auxot.application.lifecycle import ConflictError
from auxot.application.refs import format_ref
from auxot.application.service import NotFoundError
from auxot.entrypoints.http.problems import conflict, not_found
from auxot.entrypoints.http.wire import WorkAccepted

T = TypeVar("T")


async def run_use_case(call: Callable[[], T]) -> T:
    """``call()`` on a worker thread (use cases read the database); NotFoundError becomes
    the one 404, ConflictError a 409 saying why."""
    try:
        return await anyio.to_thread.run_sync(call)
    except NotFoundError:
        raise not_found() from None
    except ConflictError as exc:
        raise conflict(str(exc)) from None


def work_accepted(work_id: UUID) -> Response[WorkAccepted]:
    """202 for a new work item, with where to poll it."""
    ref = format_ref("work", work_id)
    return Response(
        WorkAccepted(work_id=ref),
        status_code=HTTP_202_ACCEPTED,
        headers={"Location": f"/v1/work/{ref}"},
    )
