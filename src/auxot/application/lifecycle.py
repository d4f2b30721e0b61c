"""Lifecycle use cases: pause and activate a workflow, list its versions, start a manual
task, cancel and re-run a work item.

Every lookup is team-scoped like the intake's: a workflow or work item that the caller's
key may not use is refused exactly as an unknown one (``NotFoundError``), after the same
directory refresh, so a refusal does not tell that it exists. ``caller`` None is the
embedding application or the local CLI, trusted with everything.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

import attrs

from auxot.application.errors import ForbiddenError
from auxot.application.keys import Caller, actor_of
from auxot.application.ports import WorkRow
from auxot.application.records import encode_record
from auxot.application.saving import retrying
from auxot.application.service import NotFoundError, Service
from auxot.domain.actor import SYSTEM, Actor
from auxot.domain.work_item import WorkItem, WorkItemError
from auxot.domain.workflow import Workflow

PROJECTED_WAIT_SECONDS = 5.0


class ConflictError(Exception):
    """The command does not fit the resource's current state (e.g. cancelling an item
    that has ended)."""


@attrs.frozen
class WorkflowSummary:
    id: UUID
    name: str
    team: str
    status: str
    current_version: int


@attrs.frozen
class VersionSummary:
    number: int
    created_at: datetime
    description: str
    steps: tuple[str, ...]


@attrs.frozen
class Lifecycle:
    service: Service
    local: Actor = SYSTEM
    """Who acts for a caller of None: the user at the command line, or the embedding
    application (``system``)."""

    def actor(self, caller: Caller | None) -> Actor:
        return actor_of(caller, self.local)

    # -- workflows ----------------------------------------------------------------------

    def workflow(self, caller: Caller | None, workflow_id: UUID) -> WorkflowSummary:
        return self._summary(self._visible_workflow(caller, workflow_id))

    def workflows(self, caller: Caller | None) -> list[WorkflowSummary]:
        """Every workflow the caller may use (from the directory: no database read)."""
        known = self.service.directory.all(Workflow)
        return [self._summary(w) for w in known if _usable(w, caller)]

    def versions(self, caller: Caller | None, workflow_id: UUID) -> list[VersionSummary]:
        workflow = self._visible_workflow(caller, workflow_id)
        return [
            VersionSummary(
                number=info.number,
                created_at=info.created_at,
                description=info.description,
                steps=workflow.definition(info.number).keys,
            )
            for info in workflow.history
        ]

    def pause(self, caller: Caller | None, workflow_id: UUID) -> WorkflowSummary:
        """Hold the workflow's new work (idempotent): its items wait as pending."""
        return self._change_workflow(caller, workflow_id, Workflow.pause)

    def activate(self, caller: Caller | None, workflow_id: UUID) -> WorkflowSummary:
        """Release held work (idempotent): waiting items start in arrival order."""
        return self._change_workflow(caller, workflow_id, Workflow.activate)

    def _change_workflow(
        self,
        caller: Caller | None,
        workflow_id: UUID,
        change: Callable[[Workflow, datetime], bool],
    ) -> WorkflowSummary:
        visible = self._visible_workflow(caller, workflow_id)
        if caller is not None and not caller.may_administer(visible.team_id):
            raise ForbiddenError("only the workflow's team itself or its admins may change it")
        registry = self.service.registry

        def attempt() -> Workflow:
            workflow = registry.get(Workflow, workflow_id)
            if change(workflow, self.service.clock.now()):
                registry.save(workflow, actor=self.actor(caller))
            return workflow

        workflow = retrying(attempt)
        self.service.directory.refresh()  # this process's engine sees it at once
        return self._summary(workflow)

    def _summary(self, workflow: Workflow) -> WorkflowSummary:
        team = self.service.directory.team(workflow.team_id)
        return WorkflowSummary(
            id=workflow.id,
            name=workflow.name,
            team=team.name if team is not None else "",
            status=workflow.status.value,
            current_version=workflow.current_version,
        )

    def _visible_workflow(self, caller: Caller | None, workflow_id: UUID) -> Workflow:
        """The workflow, when the caller may use its team; else NotFoundError. Every
        refusal first looks again (it may have been created, or the caller's team
        changed, moments ago in another process), whatever its reason."""
        directory = self.service.directory
        workflow = directory.workflow(workflow_id)
        if not _usable(workflow, caller):
            directory.refresh_soon()
            workflow = directory.workflow(workflow_id)
        if workflow is None or not _usable(workflow, caller):
            raise NotFoundError("workflow")
        return workflow

    # -- work ---------------------------------------------------------------------------

    def new_task(self, caller: Caller | None, workflow_id: UUID, input: dict[str, Any]) -> WorkItem:
        """A manual task: a work item with ``input`` and no intake, on the workflow's
        newest version. Not yet saved: hand it to the service's committer."""
        workflow = self._visible_workflow(caller, workflow_id)
        return WorkItem.receive(
            id=self.service.ids.new_id(),
            intake_id=None,
            workflow_id=workflow.id,
            workflow_version=workflow.current_version,
            definition=workflow.current,
            input=input,
            at=self.service.clock.now(),
        )

    def record(self, caller: Caller | None, work_id: UUID) -> bytes:
        """The item's record as JSON, for a caller who may use its workflow's team."""
        return self._visible_row(caller, work_id).record

    def _visible_row(self, caller: Caller | None, work_id: UUID) -> WorkRow:
        row = self.service.find_row(work_id)
        if row is None:
            self.service.directory.refresh_soon()  # the same path as a refusal
            raise NotFoundError("work")
        self._visible_workflow(caller, row.workflow_id)
        return row

    def cancel(self, caller: Caller | None, work_id: UUID) -> bytes:
        """Cancel the item; its record as it stands afterwards. ConflictError when it has
        already ended. A step in flight is not interrupted, but its outcome is dropped."""
        self._visible_row(caller, work_id)
        work = self.service.work
        by = self.actor(caller).text  # the record's cancelled_by

        def attempt() -> WorkItem:
            item = work.item(work_id)
            try:
                item.cancel(by, self.service.clock.now())
            except WorkItemError as exc:
                raise ConflictError(str(exc)) from None
            work.save(item, actor=self.actor(caller))
            return item

        item = retrying(attempt)
        self.service.worker.events_recorded()
        return self._projected_record(item)

    def rerun(self, caller: Caller | None, work_id: UUID) -> UUID:
        """Start a new item with the ended item's input on the workflow's newest version,
        linked both ways; both are saved in one transaction. ConflictError when the item
        has not ended."""
        self._visible_row(caller, work_id)
        self.service.directory.refresh()  # the newest version, even one applied elsewhere
        work = self.service.work

        def attempt() -> WorkItem:
            old = work.item(work_id)
            workflow = self.service.directory.workflow(old.workflow_id)
            if workflow is None:
                raise NotFoundError("workflow")
            try:
                new = old.rerun(
                    self.service.ids.new_id(),
                    workflow.current_version,
                    workflow.current,
                    self.service.clock.now(),
                )
            except WorkItemError as exc:
                raise ConflictError(str(exc)) from None
            work.save(old, new, actor=self.actor(caller))
            return new

        new = retrying(attempt)
        self.service.worker.events_recorded()
        return new.id

    def _projected_record(self, item: WorkItem) -> bytes:
        """The item's record once the status view shows this version of it, so that a
        poll right after never shows an older state; the item itself if no projection
        catches up in time (an HTTP-only process with no worker running)."""
        found: list[bytes] = []

        def projected() -> bool:
            row = self.service.view.get(item.id)
            if row is None or row.version < item.version:
                return False
            found.append(row.record)
            return True

        if self.service.worker.wait_projected(projected, PROJECTED_WAIT_SECONDS):
            return found[-1]
        return encode_record(item)


def _usable(workflow: Workflow | None, caller: Caller | None) -> bool:
    if workflow is None:
        return False
    return caller is None or caller.may_use(workflow.team_id)
