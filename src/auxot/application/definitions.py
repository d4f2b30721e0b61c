"""Defining team resources through the API: the same declarations a workflow file holds
(a workflow, an agent, an intake, a team's people), one at a time, under the team's
administration rules.

Everything a file's declaration is checked for is checked here too (the path is the same,
``apply_declaration``), and saving is idempotent: an unchanged declaration records
nothing. Providers and tools are not defined here: they are shared by every team, and a
provider's settings choose where prompts (and which ``*_API_KEY`` credential) go, so only
the operator's workflow files (``auxot apply``) change them.
"""

from __future__ import annotations

from uuid import UUID

from auxot.application.declarations import (
    AgentDecl,
    Applied,
    Declaration,
    DeclarationError,
    IntakeDecl,
    Issue,
    TeamDecl,
    WorkflowDecl,
)
from auxot.application.errors import ForbiddenError, NotFoundError
from auxot.application.keys import Caller
from auxot.application.service import Service
from auxot.domain.identity import agent_id, intake_id, team_id, workflow_id
from auxot.domain.team import Team

Definable = WorkflowDecl | AgentDecl | IntakeDecl | TeamDecl


class ConflictingDefinitionError(ValueError):
    """The declaration names another resource than the one addressed, or a new one that
    already exists."""


def define(service: Service, caller: Caller, declaration: Definable, *, at: UUID | None) -> Applied:
    """Create or change what ``declaration`` names. ``at`` is the resource the caller
    addressed (PUT): the declaration must name that one; None (POST) creates a new one
    and refuses one that exists. Raises ``NotFoundError`` for a team (or resource) the
    caller may not see, ``ForbiddenError`` for one it may see but not administer, and
    ``DeclarationError`` for what the declaration gets wrong."""
    service.directory.refresh_soon()
    team_name = declaration.name if isinstance(declaration, TeamDecl) else declaration.team
    team = service.directory.teams_by_name.get(team_name)
    if team is None or not caller.may_use(team.id):
        raise NotFoundError("team")
    named = _identity(declaration)
    if at is not None and at != named:
        if _visible(service, caller, at):
            raise ConflictingDefinitionError(
                "the body names another resource: a name (and team) is its identity, so "
                "renaming creates a new one"
            )
        raise NotFoundError("resource")
    if at is None and service.directory.get(named) is not None:
        raise ConflictingDefinitionError(
            f"'{declaration.name}' exists: PUT to its own address changes it"
        )
    if not caller.may_administer(team.id):
        raise ForbiddenError(f"only team '{team.name}' itself or its admins may change this")
    if isinstance(declaration, WorkflowDecl):
        _check_people(service, caller, declaration)
    [applied] = service.apply(_declaration(declaration), caller.actor)
    return applied


def _check_people(service: Service, caller: Caller, declaration: WorkflowDecl) -> None:
    """Human steps defined over the API reach only people the caller may reach: a step's
    ``team`` must be one the caller may use (any other is the one 404, unknown or not,
    so a refusal tells nothing), its ``assignee`` a member or admin of the team it is
    assigned within. An operator's workflow file is not held to this."""
    teams = service.directory.teams_by_name
    issues = []
    for n, step in enumerate(declaration.steps):
        if step.handler != "human":
            continue
        within = teams.get(step.team or declaration.team)
        if within is None or not caller.may_use(within.id):
            raise NotFoundError("team")
        people = set(within.members) | set(within.admins)
        if step.assignee is not None and step.assignee not in people:
            issues.append(
                Issue(
                    f"workflows[0].steps[{n}].assignee",
                    f"'{step.assignee}' is not a member or admin of team '{within.name}'",
                )
            )
    if issues:
        raise DeclarationError(issues)


def _identity(declaration: Definable) -> UUID:
    if isinstance(declaration, WorkflowDecl):
        return workflow_id(declaration.team, declaration.name)
    if isinstance(declaration, AgentDecl):
        return agent_id(declaration.team, declaration.name)
    if isinstance(declaration, IntakeDecl):
        return intake_id(declaration.team, declaration.name)
    return team_id(declaration.name)


def _declaration(declaration: Definable) -> Declaration:
    if isinstance(declaration, WorkflowDecl):
        return Declaration(workflows=(declaration,))
    if isinstance(declaration, AgentDecl):
        return Declaration(agents=(declaration,))
    if isinstance(declaration, IntakeDecl):
        return Declaration(intakes=(declaration,))
    return Declaration(teams=(declaration,))


def _visible(service: Service, caller: Caller, id: UUID) -> bool:
    found = service.directory.get(id)
    if found is None:
        return False
    team = found.id if isinstance(found, Team) else getattr(found, "team_id", None)
    return isinstance(team, UUID) and caller.may_use(team)
