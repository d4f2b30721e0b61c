"""Running a use case from a handler: off the event loop, with its refusals as problems."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

import anyio.to_thread
from litestar import Request, Response
from litestar.status_codes import HTTP_202_ACCEPTED

from auxot.application.declarations import Applied, DeclarationError, WorkflowDecl
from auxot.application.definitions import ConflictingDefinitionError, Definable, define
from auxot.application.errors import ForbiddenError, NotFoundError
from auxot.application.keys import Caller
from auxot.application.lifecycle import ConflictError
from auxot.application.refs import format_ref
from auxot.application.service import Service
from auxot.entrypoints.http.bodies import json_object
from auxot.entrypoints.http.problems import conflict, forbidden, not_found, unprocessable
from auxot.entrypoints.http.wire import WorkAccepted, WorkflowDefined
from auxot.entrypoints.workflow_file import WorkflowFileError, structure

T = TypeVar("T")


async def run_use_case(call: Callable[[], T]) -> T:
    """``call()`` on a worker thread (use cases read the database); NotFoundError becomes
    the one 404, ForbiddenError a 403 and ConflictError a 409, saying why."""
    try:
        return await anyio.to_thread.run_sync(call)
    except NotFoundError:
        raise not_found() from None
    except ForbiddenError as exc:
        raise forbidden(str(exc)) from None
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


async def define_from(
    service: Service,
    caller: Caller,
    request: Request[Any, Any, Any],
    kind: type[Definable],
    at: UUID | None,
) -> Applied:
    """The body (a ``kind`` as a workflow file declares it) defined through ``define``;
    every refusal as its problem: 404, 403, 409, or 422 naming each bad field."""
    body = json_object(request, await request.body())
    try:
        declaration = structure(body, kind)
    except WorkflowFileError as exc:
        raise unprocessable("The body is not a valid declaration.", _errors(exc.issues)) from None
    try:
        return await anyio.to_thread.run_sync(lambda: define(service, caller, declaration, at=at))
    except NotFoundError:
        raise not_found() from None
    except ForbiddenError as exc:
        raise forbidden(str(exc)) from None
    except ConflictingDefinitionError as exc:
        raise conflict(str(exc)) from None
    except DeclarationError as exc:
        issues = [(None, _within(i.path), i.message) for i in exc.issues]
        raise unprocessable("Nothing was saved.", _errors(issues)) from None


async def define_workflow_from(
    service: Service, caller: Caller, request: Request[Any, Any, Any], at: UUID | None
) -> WorkflowDefined:
    applied = await define_from(service, caller, request, WorkflowDecl, at)
    return WorkflowDefined(
        id=applied.id,
        name=applied.name,
        outcome=applied.outcome,
        version=applied.extra["version"],
        warnings=applied.extra["warnings"],
    )


def _within(path: str) -> str:
    """A declaration's path, from inside its one entry: ``steps[0].provider``."""
    head, _, rest = path.partition("].")
    return rest if head.endswith("[0") and rest else path


def _errors(issues: Sequence[tuple[int | None, str, str]]) -> list[dict[str, str]]:
    return [{"path": path or "$", "message": message} for _, path, message in issues]
