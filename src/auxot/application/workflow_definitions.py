"""Defining workflows through the API: the same declaration a workflow file holds, one
workflow at a time, under the team's administration rules.

Everything a file's workflow is checked for is checked here too (the declaration path
is the same), and saving is idempotent: an unchanged definition records nothing, a
changed one records the next version.
"""

from __future__ import annotations

from uuid import UUID

from auxot.application.declarations import Applied, Declaration, WorkflowDecl
from auxot.application.errors import ForbiddenError, NotFoundError
from auxot.application.keys import Caller
from auxot.application.service import Service
from auxot.domain.identity import workflow_id


class ConflictingWorkflowError(ValueError):
    """The declaration names another workflow than the one addressed, or a new one that
    already exists."""


def define_workflow(
    service: Service, caller: Caller, declaration: WorkflowDecl, *, at: UUID | None
) -> Applied:
    """Create or revise the workflow ``declaration`` names. ``at`` is the workflow the
    caller addressed (PUT): the declaration must name that one; None (POST) creates a
    new workflow and refuses one that exists. Raises ``NotFoundError`` for a team (or a
    workflow) the caller may not see, ``ForbiddenError`` for one it may see but not
    administer, ``DeclarationError`` for what the declaration gets wrong."""
    service.directory.refresh_soon()
    team = service.directory.teams_by_name.get(declaration.team)
    if team is None or not caller.may_use(team.id):
        raise NotFoundError("team")
    named = workflow_id(declaration.team, declaration.name)
    if at is not None and at != named:
        if _visible(service, caller, at):
            raise ConflictingWorkflowError(
                "the body's name and team identify another workflow: a workflow's name and "
                "team are its identity (to rename, create a new one)"
            )
        raise NotFoundError("workflow")
    if at is None and service.directory.workflow(named) is not None:
        raise ConflictingWorkflowError(
            f"workflow '{declaration.name}' of team '{declaration.team}' exists: "
            "PUT /v1/workflows/{id} changes it"
        )
    if not caller.may_administer(team.id):
        raise ForbiddenError(f"only team '{team.name}' itself or its admins define its workflows")
    [applied] = service.apply(Declaration(workflows=(declaration,)))
    return applied


def _visible(service: Service, caller: Caller, id: UUID) -> bool:
    workflow = service.directory.workflow(id)
    return workflow is not None and caller.may_use(workflow.team_id)
