"""The views over HTTP: a workflow's board, the work list, statistics per workflow and
per intake. Each answers only what the key's teams may see."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, QueryParameter

from auxot.application import stats as stats_model
from auxot.application import views as views_model
from auxot.application.keys import Caller
from auxot.application.pagination import MAX_LIMIT, BadCursorError
from auxot.application.ports import IndexRow, WorkQuery
from auxot.application.refs import format_ref, parse_ref
from auxot.application.service import Service
from auxot.application.views import Views
from auxot.domain.work_item import Status
from auxot.entrypoints.http.auth import provide_caller
from auxot.entrypoints.http.problems import bad_request, ref_or_404, unprocessable
from auxot.entrypoints.http.use_cases import run_use_case
from auxot.entrypoints.http.views_wire import (
    Board,
    Card,
    Column,
    Finished,
    Stats,
    Waiting,
    WorkSummary,
)
from auxot.entrypoints.http.wire import Page

_STATUSES = ", ".join(s.value for s in Status)
_TZ_DESCRIPTION = (
    "An IANA time zone (Europe/Paris): 'today' is the calendar day there. Default UTC."
)


class ViewsController(Controller):
    path = "/v1"
    tags = ["views"]  # noqa: RUF012 - Litestar reads it as a class attribute
    dependencies = {"caller": Provide(provide_caller)}  # noqa: RUF012

    @get("/workflows/{workflow_id:str}/board", summary="The workflow's board")
    async def board(
        self,
        workflow_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
    ) -> Board:
        workflow = ref_or_404("workflow", workflow_id)
        return board_out(await run_use_case(lambda: Views(service).board(caller, workflow)))

    @get(
        "/work",
        summary="Work items, newest first",
        description=(
            f"Filters: status ({_STATUSES}), workflow_id, intake_id, and from/to (ISO 8601; "
            "from inclusive, to exclusive, on when the item was received; a time without "
            "an offset is UTC). Only items of the key's teams' workflows."
        ),
    )
    async def work(
        self,
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = 50,
        cursor: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        workflow_id: FromQuery[str | None] = None,
        intake_id: FromQuery[str | None] = None,
        created_from: Annotated[str | None, QueryParameter(name="from")] = None,
        created_to: Annotated[str | None, QueryParameter(name="to")] = None,
    ) -> Page[WorkSummary]:
        query = WorkQuery(
            workflows=None,
            status=_status(status),
            workflow_id=_filter_ref("workflow", workflow_id),
            intake_id=_filter_ref("intake", intake_id),
            created_from=_instant("from", created_from),
            created_to=_instant("to", created_to),
        )
        if query.created_from and query.created_to and query.created_from >= query.created_to:
            raise unprocessable("'from' must be before 'to'.")
        try:
            page = await run_use_case(lambda: Views(service).work(caller, query, limit, cursor))
        except BadCursorError:
            raise bad_request("The cursor is not one this API gave out.") from None
        return Page(items=[summary_out(r) for r in page.items], next_cursor=page.next_cursor)

    @get(
        "/workflows/{workflow_id:str}/stats",
        summary="Today's statistics of a workflow",
        description=_TZ_DESCRIPTION,
    )
    async def workflow_stats(
        self,
        workflow_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
        tz: FromQuery[str | None] = None,
    ) -> Stats:
        workflow, zone = ref_or_404("workflow", workflow_id), _zone(tz)
        return stats_out(
            await run_use_case(lambda: Views(service).workflow_stats(caller, workflow, zone))
        )

    @get(
        "/intakes/{intake_id:str}/stats",
        summary="Today's statistics of an intake",
        description=_TZ_DESCRIPTION,
    )
    async def intake_stats(
        self,
        intake_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
        tz: FromQuery[str | None] = None,
    ) -> Stats:
        intake, zone = ref_or_404("intake", intake_id), _zone(tz)
        return stats_out(
            await run_use_case(lambda: Views(service).intake_stats(caller, intake, zone))
        )


def _status(raw: str | None) -> str | None:
    if raw is None or raw in Status.__members__.values():
        return raw
    raise bad_request(f"status must be one of {_STATUSES}, not '{raw}'.")


def _filter_ref(kind: str, raw: str | None) -> UUID | None:
    if raw is None:
        return None
    parsed = parse_ref(kind, raw)
    if parsed is None:
        raise bad_request(f"{kind}_id must be a {kind} id ({kind}_<32 hex digits>), not '{raw}'.")
    return parsed


def _instant(name: str, raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise bad_request(f"'{name}' must be an ISO 8601 date or time, not '{raw}'.") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _zone(raw: str | None) -> ZoneInfo:
    if raw is None:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        detail = f"tz must be an IANA time zone such as Europe/Paris, not '{raw}'."
        raise bad_request(detail) from None


def _card(row: IndexRow) -> Card:
    return Card(
        work_id=format_ref("work", row.work_id),
        status=row.status,
        step=row.step,
        workflow_version=row.workflow_version,
        input_summary=row.input_summary,
        since=row.step_since,
        attempt=row.attempt,
        waiting_for=Waiting(assignee=row.assignee, team=row.team) if row.waiting else None,
    )


def _column(column: views_model.Column) -> Column:
    return Column(step=column.step, count=column.count, cards=[_card(r) for r in column.cards])


def _finished(row: IndexRow) -> Finished:
    assert row.finished_at is not None
    assert row.duration_ms is not None
    return Finished(
        work_id=format_ref("work", row.work_id),
        status=row.status,
        input_summary=row.input_summary,
        created_at=row.created_at,
        finished_at=row.finished_at,
        duration_ms=row.duration_ms,
    )


def board_out(board: views_model.Board) -> Board:
    return Board(
        workflow_id=format_ref("workflow", board.workflow_id),
        version=board.version,
        columns=[_column(c) for c in board.columns],
        retired=_column(board.retired),
        recently_completed=[_finished(r) for r in board.recently_completed],
    )


def summary_out(row: IndexRow) -> WorkSummary:
    return WorkSummary(
        work_id=format_ref("work", row.work_id),
        workflow_id=format_ref("workflow", row.workflow_id),
        workflow_version=row.workflow_version,
        intake_id=None if row.intake_id is None else format_ref("intake", row.intake_id),
        status=row.status,
        current_step=row.step,
        input_summary=row.input_summary,
        created_at=row.created_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
    )


def stats_out(stats: stats_model.Stats) -> Stats:
    return Stats(
        time_zone=stats.time_zone,
        from_=stats.start,
        to=stats.end,
        runs=stats.runs,
        completed=stats.completed,
        failed=stats.failed,
        cancelled=stats.cancelled,
        success_rate=stats.success_rate,
        p50_ms=stats.p50_ms,
        p95_ms=stats.p95_ms,
    )
