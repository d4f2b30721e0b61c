"""Human steps over HTTP: act on a step an item waits on, and list what waits on me."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import anyio.to_thread
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, Parameter
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.status_codes import HTTP_200_OK

from auxot.application.keys import Caller
from auxot.application.pagination import (
    MAX_LIMIT,
    BadCursorError,
    decode_position,
    encode_position,
)
from auxot.application.ports import WorkRow
from auxot.application.refs import format_ref
from auxot.application.service import NotFoundError, Service
from auxot.domain.work_item import ActorBarredError, NotWaitingError, RefusedDecisionError
from auxot.entrypoints.http.auth import provide_caller
from auxot.entrypoints.http.problems import bad_request, not_found, ref_or_404, unprocessable
from auxot.entrypoints.http.wire import Page


class CompleteStep(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A person's decision on a human step."""

    condition: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    """Routes the item by the step's handoffs: ``approved``, ``rejected``, any name."""
    note: str | None = None
    output: Any = None
    """When given, it becomes the item's output."""


class Task(msgspec.Struct, kw_only=True):
    work_id: str
    intake_id: str | None
    workflow_id: str
    step: str
    assignee: str | None
    team: str | None
    since: datetime
    timeout_at: datetime | None
    input: msgspec.Raw


def conflict(detail: str) -> ProblemDetailsException:
    return ProblemDetailsException(status_code=409, title="Conflict", detail=detail)


def forbidden(detail: str) -> ProblemDetailsException:
    return ProblemDetailsException(status_code=403, title="Forbidden", detail=detail)


class TasksController(Controller):
    path = "/v1"
    tags = ["human steps"]  # noqa: RUF012 - Litestar reads it as a class attribute
    dependencies = {"caller": Provide(provide_caller)}  # noqa: RUF012

    @post(
        "/work/{work_id:str}/steps/{step_key:str}/complete",
        status_code=HTTP_200_OK,
        summary="Act on a human step",
        description=(
            'Body: {"condition": "approved", "note": "...", "output": {...}}. '
            "Answers the work item's record as saved. 404 when the item does not exist or "
            "this key may not act on the step; 409 when the item is not waiting on it; "
            "403 when the caller acted on the step it names in not_by_actor_of."
        ),
        response_description="The work item's record",
    )
    async def complete(
        self,
        request: Request[Any, Any, Any],
        work_id: FromPath[str],
        step_key: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
    ) -> Response[bytes]:
        work = ref_or_404("work", work_id)
        decision = _decision(await request.body())
        try:
            record = await anyio.to_thread.run_sync(
                lambda: service.complete_step(
                    caller,
                    work,
                    step_key,
                    condition=decision.condition,
                    note=decision.note,
                    output=decision.output,
                )
            )
        except NotFoundError:
            raise not_found() from None
        except NotWaitingError as exc:
            raise conflict(str(exc)) from None
        except ActorBarredError as exc:
            raise forbidden(str(exc)) from None
        except RefusedDecisionError as exc:
            raise unprocessable(str(exc)) from None
        return Response(record, media_type="application/json")

    @get("/me/tasks", summary="Human steps waiting on me", response_description="Oldest first")
    async def my_tasks(
        self,
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
        limit: Annotated[int, Parameter(ge=1, le=MAX_LIMIT)] = 50,
        cursor: FromQuery[str | None] = None,
    ) -> Page[Task]:
        after = None if cursor is None else _parse_cursor(cursor)
        rows = await anyio.to_thread.run_sync(lambda: service.tasks(caller, limit + 1, after))
        page = [task_of_row(row) for row in rows[:limit]]
        more = len(rows) > limit
        return Page(items=page, next_cursor=_cursor(rows[limit - 1]) if more else None)


def _decision(body: bytes) -> CompleteStep:
    try:
        return msgspec.json.decode(body, type=CompleteStep)
    except msgspec.ValidationError as exc:
        raise unprocessable(f"The body is not a valid decision: {exc}.") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise bad_request(f"The body is not valid JSON: {exc}.") from None
    except RecursionError:
        raise bad_request("The body's JSON is nested too deeply.") from None


def task_of_row(row: WorkRow) -> Task:
    task = row.task
    assert task is not None
    return Task(
        work_id=format_ref("work", row.work_id),
        intake_id=None if row.intake_id is None else format_ref("intake", row.intake_id),
        workflow_id=format_ref("workflow", row.workflow_id),
        step=task.step,
        assignee=task.assignee,
        team=task.team,
        since=task.since,
        timeout_at=task.timeout_at,
        input=msgspec.Raw(task.input),
    )


def _cursor(row: WorkRow) -> str:
    """Opaque: where the page ended, (since, work id)."""
    assert row.task is not None
    return encode_position(row.task.since, row.work_id)


def _parse_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        return decode_position(cursor)
    except BadCursorError:
        raise bad_request("The cursor is not one this API gave out.") from None
