"""The views over the work index: a workflow's board, the work list, statistics.

Team-scoped like every other lookup: a workflow or intake the caller may not use is
``NotFoundError``, exactly as an unknown one (after the same directory refresh), and the
work list holds only items of the caller's teams' workflows. ``caller`` None is the
embedding application or the local CLI, trusted with everything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

import attrs

from auxot.application.errors import NotFoundError
from auxot.application.keys import Caller
from auxot.application.pagination import MAX_LIMIT, Page, decode_position, encode_position
from auxot.application.ports import IndexRow, Scope, WorkQuery
from auxot.application.service import Service
from auxot.application.stats import PERCENTILES, Stats, day_of, stats_of
from auxot.domain.intake import Intake
from auxot.domain.workflow import Workflow

T = TypeVar("T", Workflow, Intake)

CARDS_PER_COLUMN = 50
RECENTLY_COMPLETED = 20


@attrs.frozen
class Column:
    """A step of the workflow's current version (``step`` None: the retired steps of
    older versions), with how many items are there and the longest-waiting of them."""

    step: str | None
    count: int
    cards: list[IndexRow]


@attrs.frozen
class Board:
    workflow_id: UUID
    version: int
    columns: list[Column]
    retired: Column
    recently_completed: list[IndexRow]


@attrs.frozen
class Views:
    service: Service

    def board(self, caller: Caller | None, workflow_id: UUID) -> Board:
        workflow = self._visible(caller, workflow_id, self.service.directory.workflow)
        rows, counts = self.service.index.active(workflow_id, CARDS_PER_COLUMN)
        keys = workflow.current.keys
        retired = [row for row in rows if row.step not in keys]
        return Board(
            workflow_id=workflow_id,
            version=workflow.current_version,
            columns=[
                Column(key, counts.get(key, 0), [r for r in rows if r.step == key]) for key in keys
            ],
            retired=Column(None, sum(n for step, n in counts.items() if step not in keys), retired),
            recently_completed=self.service.index.recent(workflow_id, RECENTLY_COMPLETED),
        )

    def work(
        self, caller: Caller | None, query: WorkQuery, limit: int, cursor: str | None
    ) -> Page[IndexRow]:
        """A page of the caller's items matching ``query`` (its ``workflows`` is set here),
        newest first. BadCursorError for a cursor this API did not give out."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
        before = None if cursor is None else decode_position(cursor)
        if query.workflow_id is not None:
            self._visible(caller, query.workflow_id, self.service.directory.workflow)
        if query.intake_id is not None:
            self._visible(caller, query.intake_id, self.service.directory.intake)
        scoped = attrs.evolve(query, workflows=self._workflows_of(caller))
        rows = self.service.index.page(scoped, limit + 1, before)
        more = len(rows) > limit
        last = rows[limit - 1] if more else None
        return Page(
            rows[:limit],
            None if last is None else encode_position(last.created_at, last.work_id),
        )

    def workflow_stats(self, caller: Caller | None, workflow_id: UUID, zone: ZoneInfo) -> Stats:
        self._visible(caller, workflow_id, self.service.directory.workflow)
        return self._stats(("workflow", workflow_id), zone)

    def intake_stats(self, caller: Caller | None, intake_id: UUID, zone: ZoneInfo) -> Stats:
        self._visible(caller, intake_id, self.service.directory.intake)
        return self._stats(("intake", intake_id), zone)

    def _stats(self, scope: Scope, zone: ZoneInfo) -> Stats:
        start, end = day_of(self.service.clock.now(), zone)
        counts = self.service.index.stats(scope, start, end, PERCENTILES)
        return stats_of(counts, start, end, zone.key)

    def _workflows_of(self, caller: Caller | None) -> frozenset[UUID] | None:
        if caller is None:
            return None
        known = self.service.directory.all(Workflow)
        return frozenset(w.id for w in known if caller.may_use(w.team_id))

    def _visible(self, caller: Caller | None, id: UUID, lookup: Callable[[UUID], T | None]) -> T:
        """The workflow or intake, when the caller may use its team; else NotFoundError.
        A refusal first looks again (it may have been created, or the caller's team
        changed, moments ago in another process), whatever its reason."""
        found = lookup(id)
        if not _usable(found, caller):
            self.service.directory.refresh_soon()
            found = lookup(id)
        if found is None or not _usable(found, caller):
            raise NotFoundError(str(id))
        return found


def _usable(found: Workflow | Intake | None, caller: Caller | None) -> bool:
    return found is not None and (caller is None or caller.may_use(found.team_id))
