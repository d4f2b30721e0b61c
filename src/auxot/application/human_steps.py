"""Human steps in the application: declaring them, waiting on them, and acting on them.

The engine hands an item whose current step is a human step to ``HumanSteps.take``
instead of running it on a provider: it records that the item waits on a person (no
provider slot, no lease), and later records the timeout when it has passed. People act
through ``complete_step``, which checks who may act before the work item checks the rest.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import RecordConflictError

from auxot.application.directory import Directory
from auxot.application.keys import Caller
from auxot.application.ports import Clock, WorkRow, WorkView
from auxot.application.stores import WorkLog
from auxot.domain.actor import Actor
from auxot.domain.definition import Step
from auxot.domain.durations import Duration, parse_duration
from auxot.domain.human_steps import MAX_TIMEOUT_SECONDS, is_human
from auxot.domain.work_item import NotWaitingError, WorkItem
from auxot.domain.workflow import Workflow

log = logging.getLogger(__name__)


# -- declaring --------------------------------------------------------------------------


class HumanStepDecl(Protocol):
    """The human-step fields of a declared step."""

    @property
    def assignee(self) -> str | None: ...

    @property
    def team(self) -> str | None: ...

    @property
    def timeout(self) -> Duration | None: ...

    @property
    def not_by_actor_of(self) -> str | None: ...


def timeout_seconds(value: Duration) -> int:
    """A human step's timeout in whole seconds (rounded up), from 1 second to a year."""
    seconds = parse_duration(value)
    if not 1 <= seconds <= MAX_TIMEOUT_SECONDS:
        raise ValueError("must be from 1 second to 366 days")
    return math.ceil(seconds)


def _timeout(decl: HumanStepDecl) -> int | None:
    if decl.timeout is None:
        return None
    try:
        return timeout_seconds(decl.timeout)
    except ValueError:
        return None  # reported by human_step_issues


def human_step_fields(decl: HumanStepDecl) -> dict[str, Any]:
    """The ``Step`` fields a declared step's human-step settings become."""
    return {
        "assignee": decl.assignee,
        "team": decl.team,
        "timeout": _timeout(decl),
        "not_by_actor_of": decl.not_by_actor_of,
    }


def human_step_issues(
    decl: HumanStepDecl, team_known: Callable[[str], bool]
) -> list[tuple[str, str]]:
    """``(field, message)`` for what is wrong with a declared step's human-step settings
    that the definition's own validation cannot see (durations, team names)."""
    issues = []
    if decl.timeout is not None:
        try:
            timeout_seconds(decl.timeout)
        except ValueError as exc:
            issues.append(("timeout", str(exc)))
    if decl.team is not None and not team_known(decl.team):
        issues.append(("team", f"unknown team '{decl.team}'"))
    return issues


# -- the engine's part --------------------------------------------------------------------


class HumanSteps:
    """What the engine does with an item whose current step is a human step."""

    def __init__(
        self, work: WorkLog, directory: Directory, on_recorded: Callable[[], None], actor: Actor
    ) -> None:
        self._work = work
        self._actor = actor
        self._directory = directory
        self._on_recorded = on_recorded

    def take(self, item: WorkItem, now: datetime) -> bool:
        """True when ``item`` is at a human step, which this handled: it records that the
        item waits (once), or that its timeout passed. False: not a human step's business."""
        if item.status.terminal:
            return False
        workflow = _workflow(self._directory, item.workflow_id)
        if workflow is None:
            return False  # the engine fails it: its workflow is gone
        step = workflow.definition(item.workflow_version).step(item.current_step)
        if not is_human(step):
            return False
        waiting = item.waiting
        if waiting is None:
            team = self._directory.team(workflow.team_id)
            self._record(item, lambda: item.wait_for_human(step, _name(team), now))
        elif waiting.timeout_at is not None and waiting.timeout_at <= now:
            definition = workflow.definition(item.workflow_version)
            self._record(item, lambda: item.time_out(definition, now))
        return True

    def _record(self, item: WorkItem, change: Callable[[], object]) -> None:
        try:
            change()
            self._work.save(item, actor=self._actor)
        except RecordConflictError:
            log.debug("someone else moved %s first", item.id)  # a person acted, or a worker
            return
        self._on_recorded()


def _name(team: Any) -> str:
    return str(team.name) if team is not None else ""


def _workflow(directory: Directory, workflow_id: UUID) -> Workflow | None:
    workflow = directory.workflow(workflow_id)
    if workflow is None:  # created moments ago, maybe by another process
        directory.refresh()
        workflow = directory.workflow(workflow_id)
    return workflow


# -- who may act ------------------------------------------------------------------------


def may_act(caller: Caller, step: Step, workflow_team: str, directory: Directory) -> bool:
    """A user key whose user is the step's assignee, or a member of the team it is
    assigned to (the workflow's team by default), or an admin of the workflow's team.
    A team key never may: it is not a person."""
    if caller.kind != "user" or not is_human(step):
        return False
    user = caller.owner
    if _is_admin(directory, workflow_team, user):
        return True
    if step.assignee is not None:
        return step.assignee == user
    team = directory.teams_by_name.get(step.team or workflow_team)
    return team is not None and user in team.members


def _is_admin(directory: Directory, team_name: str, user: str) -> bool:
    team = directory.teams_by_name.get(team_name)
    return team is not None and user in team.admins


# -- acting and listing -----------------------------------------------------------------


class TaskNotFoundError(LookupError):
    """No such item or step, or the caller may not act on it: callers cannot tell."""


MAX_CONFLICT_RETRIES = 5


def complete_step(
    work: WorkLog,
    directory: Directory,
    clock: Clock,
    caller: Caller,
    work_id: UUID,
    step_key: str,
    *,
    condition: str,
    note: str | None = None,
    output: Any = None,
) -> WorkItem:
    """Record ``caller``'s decision on the human step ``step_key`` of the item, and route
    it. Returns the item as saved.

    Raises TaskNotFoundError when the item does not exist or the caller may not act on
    that step, and the work item's own errors (``NotWaitingError``, ``ActorBarredError``,
    ``ReservedConditionError``) when the item's state refuses the act. A save that
    conflicts (a worker recorded the timeout, another person acted) is tried again on the
    new state, which then decides.
    """
    for _ in range(MAX_CONFLICT_RETRIES):
        try:
            item = work.item(work_id)
        except (AggregateNotFoundError, TypeError):
            raise TaskNotFoundError("work") from None
        workflow = _workflow(directory, item.workflow_id)
        if workflow is None:
            raise TaskNotFoundError("work")
        definition = workflow.definition(item.workflow_version)
        team = _name(directory.team(workflow.team_id))
        step = next((s for s in definition.steps if s.key == step_key), None)
        allowed = (
            may_act(caller, step, team, directory)
            if step is not None and is_human(step)
            else caller.kind == "user" and _is_admin(directory, team, caller.owner)
        )
        if not allowed:
            raise TaskNotFoundError("step")
        now = clock.now()
        item.act(step_key, caller.owner, condition, definition, now, note=note, output=output)
        try:
            work.save(item, actor=caller.actor)
        except RecordConflictError:
            continue
        return item
    raise NotWaitingError("the work item kept changing while acting on it; read it, try again")


def tasks_of(
    view: WorkView,
    directory: Directory,
    caller: Caller,
    limit: int,
    after: tuple[datetime, UUID] | None = None,
) -> list[WorkRow]:
    """The human steps waiting on the caller (assigned to them, or to a team they are a
    member of), oldest first. A team key has none: it is not a person."""
    if caller.kind != "user":
        return []
    # Members' tasks only: an admin may act on any step of the team, but lists their own.
    member_of = directory.teams_of_user(caller.owner)
    teams = [t.name for t in (directory.team(i) for i in member_of) if t is not None]
    return view.tasks(caller.owner, teams, limit, after)
