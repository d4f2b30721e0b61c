"""``POST /v1/intake/{id}?wait=N``: answer with the record when the item ends in time."""

from __future__ import annotations

import math
from typing import Any
from uuid import UUID

import anyio.to_thread
from litestar import Request

from auxot.application.service import Service
from auxot.domain.work_item import Status
from auxot.entrypoints.http.problems import bad_request

MAX_WAIT_SECONDS = 30.0


def wait_seconds(request: Request[Any, Any, Any]) -> float | None:
    """The ``wait`` query parameter: None when absent; a 400 problem unless it is a
    number of seconds above 0 and at most 30."""
    values = request.query_params.getall("wait", [])
    if not values:
        return None
    try:
        seconds = float(values[-1])
    except ValueError:
        seconds = math.nan
    if len(values) > 1 or not 0 < seconds <= MAX_WAIT_SECONDS:  # nan fails both
        raise bad_request(
            f"wait must be given once, as a number of seconds above 0 and at most "
            f"{MAX_WAIT_SECONDS:g}."
        )
    return seconds


async def ended_record(service: Service, work_id: UUID, timeout: float) -> bytes | None:
    """The item's record once its projected status is terminal; None after ``timeout``
    seconds. No thread is held while it waits: the projection wakes it, and each check
    is one short read on a worker thread."""
    found: list[bytes] = []

    async def ended() -> bool:
        row = await anyio.to_thread.run_sync(service.view.get, work_id)
        if row is None or not Status(row.status).terminal:
            return False
        found.append(row.record)
        return True

    if await service.worker.wait_projected_async(ended, timeout):
        return found[-1]
    return None
