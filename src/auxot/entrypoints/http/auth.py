"""Bearer authentication, as a Litestar dependency."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from litestar import Request
from litestar.di import NamedDependency

from auxot.application.keys import Caller
from auxot.application.service import Service
from auxot.entrypoints.http.problems import unauthorized


async def provide_caller(
    request: Request[Any, Any, Any], service: NamedDependency[Service]
) -> Caller:
    """The caller the request's API key stands for; 401 for anything else.

    The key is first checked in memory; only an unknown key id costs a (throttled)
    directory refresh, and that runs off the event loop.
    """
    header = request.headers.get("authorization")
    if header is None:
        raise unauthorized("An API key is required: Authorization: Bearer <key>.")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("The Authorization header must be: Bearer <key>.")
    caller = service.authenticate(token, refresh=False)
    if caller is None:
        caller = await anyio.to_thread.run_sync(lambda: service.authenticate(token))
    if caller is None:
        raise unauthorized("The API key is not valid (unknown, revoked or expired).")
    return caller
