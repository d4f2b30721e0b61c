"""The auditor's API: the audit log, and a work item's full history.

``GET /v1/work/{id}?at=`` (the record as it stood then) lives with the record itself,
in ``work.py``; it reads through the same ``History`` as ``/events`` here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, Parameter, QueryParameter

from auxot.application.audit import audit_page, cursor_position
from auxot.application.history import EventEntry, History, PointInTimeError, parse_point
from auxot.application.keys import Caller
from auxot.application.pagination import MAX_LIMIT, BadCursorError
from auxot.application.ports import AuditQuery, AuditRow
from auxot.application.refs import format_ref
from auxot.application.service import Service
from auxot.entrypoints.http.auth import provide_caller
from auxot.entrypoints.http.problems import bad_request, ref_or_404
from auxot.entrypoints.http.use_cases import run_use_case
from auxot.entrypoints.http.wire import Page


class RecordedEvent(msgspec.Struct, kw_only=True):
    """One event of a work item's history."""

    version: int
    type: str
    """Stable event type, e.g. ``WorkItem.StepStarted``."""
    at: datetime
    actor: str
    """Who caused it: ``user:ann``, ``team:support``, ``cli:root``, ``worker:<id>``,
    ``system``; ``unknown`` for events recorded before actors were."""
    key_id: str | None
    """The API key the actor used (``key_...``), never the key itself."""
    data: dict[str, Any]


class WorkHistory(msgspec.Struct, kw_only=True):
    work_id: str
    events: list[RecordedEvent]


class AuditEntry(msgspec.Struct, kw_only=True):
    at: datetime
    actor: str
    key_id: str | None
    resource: str
    """What changed, as its reference: ``workflow_...``, ``key_...``, ``work_...``."""
    action: str
    """``workflow.paused``, ``key.revoked``, ``work.human_acted``, ..."""
    details: msgspec.Raw


def history(service: Service) -> History:
    return History(service.work, service.directory)


class WorkHistoryController(Controller):
    path = "/v1/work/{work_id:str}/events"
    tags = ["audit"]  # noqa: RUF012 - Litestar reads it as a class attribute
    dependencies = {"caller": Provide(provide_caller)}  # noqa: RUF012

    @get("/", summary="A work item's full history", response_description="Oldest first")
    async def events(
        self,
        work_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
    ) -> WorkHistory:
        work = ref_or_404("work", work_id)
        entries = await run_use_case(lambda: history(service).events(caller, work))
        return WorkHistory(work_id=work_id, events=[_recorded(e) for e in entries])


class AuditController(Controller):
    path = "/v1/audit"
    tags = ["audit"]  # noqa: RUF012
    dependencies = {"caller": Provide(provide_caller)}  # noqa: RUF012

    @get(
        "/",
        summary="The audit log: administrative changes and what people and keys did",
        description=(
            "Oldest first, only rows of the caller's teams. Filters: actor (user:ann, "
            "team:support, cli:root, or key:<uuid>), resource (workflow_..., key_..., "
            "work_...), action (workflow.paused, ...), from and to (ISO 8601 with a zone; "
            "from <= at < to)."
        ),
    )
    async def audit(
        self,
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
        limit: Annotated[int, Parameter(ge=1, le=MAX_LIMIT)] = 50,
        cursor: FromQuery[str | None] = None,
        actor: FromQuery[str | None] = None,
        resource: FromQuery[str | None] = None,
        action: FromQuery[str | None] = None,
        since: Annotated[str | None, QueryParameter(name="from")] = None,
        until: Annotated[str | None, QueryParameter(name="to")] = None,
    ) -> Page[AuditEntry]:
        query = AuditQuery(
            teams=caller.teams,
            limit=limit,
            actor=actor,
            resource=resource,
            action=action,
            since=_moment("from", since),
            until=_moment("to", until),
            after=_after(cursor),
        )
        rows, next_cursor = await run_use_case(lambda: audit_page(service.audit.view, query))
        return Page(items=[_audit_entry(row) for row in rows], next_cursor=next_cursor)


def _recorded(entry: EventEntry) -> RecordedEvent:
    key = entry.actor.key_id
    return RecordedEvent(
        version=entry.version,
        type=entry.type,
        at=entry.at,
        actor=entry.actor.principal,
        key_id=None if key is None else format_ref("key", key),
        data=dict(entry.data),
    )


def _audit_entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        at=row.at,
        actor=row.actor,
        key_id=None if row.key_id is None else format_ref("key", row.key_id),
        resource=row.resource,
        action=row.action,
        details=msgspec.Raw(row.details),
    )


def point_or_400(text: str) -> datetime | int:
    try:
        return parse_point(text)
    except PointInTimeError as exc:
        raise bad_request(f"'at' is not a point in time: {exc}.") from None


def _moment(name: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise bad_request(f"'{name}' is not an ISO 8601 time: {text!r}.") from None
    if moment.tzinfo is None:
        raise bad_request(f"'{name}' needs a time zone (Z or +00:00): {text!r}.")
    return moment


def _after(cursor: str | None) -> tuple[datetime, Any, int] | None:
    if cursor is None:
        return None
    try:
        return cursor_position(cursor)
    except BadCursorError:
        raise bad_request("The cursor is not one this API gave out.") from None
