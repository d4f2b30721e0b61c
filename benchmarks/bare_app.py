"""The baseline for ``benchmarks/intake.py``: a bare Litestar route with no storage.

Same path shape and same response as Auxot's intake route (202, ``{"work_id": ...}``,
a ``Location`` header), the JSON body read and decoded, nothing stored and no
authentication. Served by uvicorn exactly as ``auxot serve`` serves Auxot, so the ratio
of Auxot's throughput to this route's isolates what Auxot's intake path costs on top of
Litestar + uvicorn on the same machine.

    uvicorn --app-dir benchmarks bare_app:app --no-access-log --log-level warning
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, post
from litestar.status_codes import HTTP_202_ACCEPTED

_decoder = msgspec.json.Decoder()


class WorkAccepted(msgspec.Struct, kw_only=True):
    work_id: str


@post("/v1/intake/{intake_id:str}", status_code=HTTP_202_ACCEPTED)
async def submit(request: Request[Any, Any, Any], intake_id: str) -> Response[WorkAccepted]:
    work_input = _decoder.decode(await request.body())
    if not isinstance(work_input, dict):
        return Response(WorkAccepted(work_id=""), status_code=422)
    ref = f"work_{uuid.uuid4().hex}"
    return Response(
        WorkAccepted(work_id=ref),
        status_code=HTTP_202_ACCEPTED,
        headers={"Location": f"/v1/intake/{intake_id}/work/{ref}"},
    )


app = Litestar(route_handlers=[submit], debug=False)
