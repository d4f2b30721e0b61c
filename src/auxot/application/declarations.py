"""Declarations: the desired set of teams, providers, workflows and intakes, applied
idempotently. Everything is checked first and saved in one transaction, so a broken
declaration changes nothing.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

import attrs
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from auxot.application.human_steps import human_step_fields, human_step_issues
from auxot.application.output_schema import schema_problem
from auxot.application.plain_data import is_plain_data
from auxot.application.ports import Clock
from auxot.application.prompts import TemplateError, check_template
from auxot.application.providers import ProviderPool
from auxot.application.refs import format_ref
from auxot.application.retry_declarations import RetryDecl, retry_issues, retry_policy
from auxot.application.stores import Registry
from auxot.domain.conditions import MatchError, parse_match
from auxot.domain.definition import Definition, Handoff, Step
from auxot.domain.durations import Duration
from auxot.domain.identity import intake_id, provider_id, team_id, workflow_id
from auxot.domain.intake import Intake
from auxot.domain.provider import Provider
from auxot.domain.team import Team
from auxot.domain.validation import Problem, validate
from auxot.domain.workflow import Workflow


@attrs.frozen
class TeamDecl:
    name: str
    members: tuple[str, ...] = ()
    admins: tuple[str, ...] = ()


@attrs.frozen
class ProviderDecl:
    name: str
    kind: str
    max_parallel: int = 4
    settings: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class HandoffDecl:
    """``condition`` may be None (left out) when ``match`` is given."""

    condition: str | None
    to: str
    match: dict[str, Any] | None = None


@attrs.frozen
class StepDecl:
    key: str
    prompt: str = ""
    provider: str = ""
    handoffs: tuple[HandoffDecl, ...] = ()
    name: str = ""
    handler: Literal["prompt", "human"] = "prompt"
    output_schema: dict[str, Any] | None = None
    repair: bool = False
    retry: RetryDecl | None = None
    assignee: str | None = None
    team: str | None = None
    timeout: Duration | None = None
    """Seconds, or a duration such as ``"30m"`` or ``"2h"``."""
    not_by_actor_of: str | None = None


@attrs.frozen
class WorkflowDecl:
    name: str
    team: str
    steps: tuple[StepDecl, ...]
    description: str = ""


@attrs.frozen
class IntakeDecl:
    name: str
    workflow: str
    team: str
    callback_url: str | None = None
    active: bool = True


@attrs.frozen
class Declaration:
    teams: tuple[TeamDecl, ...] = ()
    providers: tuple[ProviderDecl, ...] = ()
    workflows: tuple[WorkflowDecl, ...] = ()
    intakes: tuple[IntakeDecl, ...] = ()


@attrs.frozen
class Issue:
    """A problem at ``path`` (e.g. ``workflows[0].steps[1].provider``) of the declaration."""

    path: str
    message: str


class DeclarationError(ValueError):
    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__("; ".join(f"{i.path}: {i.message}" for i in issues))


Outcome = Literal["created", "updated", "unchanged"]


@attrs.frozen
class Applied:
    kind: str
    name: str
    id: str
    outcome: Outcome
    extra: dict[str, Any] = attrs.field(factory=dict)


def apply_declaration(
    registry: Registry, providers: ProviderPool, clock: Clock, declaration: Declaration
) -> list[Applied]:
    """Create or update what ``declaration`` names; raise DeclarationError, having saved
    nothing, when any part of it is wrong."""
    _check(registry, providers, declaration)
    now = clock.now()
    changed: list[Aggregate] = []
    applied: list[Applied] = []

    def settle(kind: str, name: str, aggregate: Aggregate, created: bool, **extra: Any) -> None:
        dirty = bool(aggregate.pending_events)
        outcome: Outcome = "created" if created else ("updated" if dirty else "unchanged")
        if dirty:
            changed.append(aggregate)
        applied.append(Applied(kind, name, format_ref(kind, aggregate.id), outcome, extra))

    for t in declaration.teams:
        team, created = _load(registry, team_id(t.name))
        if team is None:
            team = Team.register(team_id(t.name), t.name, now, list(t.members), list(t.admins))
        else:
            assert isinstance(team, Team)
            team.set_members(list(t.members), now)
            team.set_admins(list(t.admins), now)
        settle("team", t.name, team, created)

    for p in declaration.providers:
        provider, created = _load(registry, provider_id(p.name))
        if provider is None:
            provider = Provider.register(
                provider_id(p.name), p.name, p.kind, p.settings, p.max_parallel, now
            )
        else:
            assert isinstance(provider, Provider)
            provider.reconfigure(p.kind, p.settings, p.max_parallel, now)
        settle("provider", p.name, provider, created)

    for w in declaration.workflows:
        definition = _definition(w)
        workflow, created = _load(registry, workflow_id(w.team, w.name))
        if workflow is None:
            workflow = Workflow.register(
                workflow_id(w.team, w.name),
                w.name,
                team_id(w.team),
                w.description,
                definition,
                now,
            )
        else:
            assert isinstance(workflow, Workflow)
            workflow.revise(w.description, definition, now)
        warnings = [_describe(p) for p in validate(definition).warnings]
        settle(
            "workflow",
            w.name,
            workflow,
            created,
            version=workflow.current_version,
            warnings=warnings,
        )

    for i in declaration.intakes:
        wf_id = workflow_id(i.team, i.workflow)
        intake, created = _load(registry, intake_id(i.team, i.name))
        if intake is None:
            intake = Intake.open(
                intake_id(i.team, i.name), i.name, team_id(i.team), wf_id, i.callback_url, now
            )
        else:
            assert isinstance(intake, Intake)
            intake.reconfigure(wf_id, i.callback_url, now)
        if i.active:
            intake.activate(now)
        else:
            intake.deactivate(now)
        settle("intake", i.name, intake, created, workflow=i.workflow, team=i.team)

    if changed:
        registry.save(*changed)
    return applied


def _load(registry: Registry, id: UUID) -> tuple[Aggregate | None, bool]:
    """The aggregate (None when absent) and whether it is about to be created."""
    try:
        return registry.repository.get(id), False
    except AggregateNotFoundError:
        return None, True


def _definition(w: WorkflowDecl) -> Definition:
    return Definition(
        steps=tuple(
            Step(
                key=s.key,
                name=s.name,
                handler=s.handler,
                prompt=s.prompt,
                provider=s.provider,
                handoffs=tuple(_handoff(h) for h in s.handoffs),
                output_schema=s.output_schema,
                repair=s.repair,
                retry=retry_policy(s.retry),
                **human_step_fields(s),
            )
            for s in w.steps
        )
    )


def _handoff(h: HandoffDecl) -> Handoff:
    """A checked handoff declaration (see ``_check_routing``) as the domain's value."""
    return Handoff(h.condition, h.to, None if h.match is None else parse_match(h.match))


def _describe(problem: Problem) -> str:
    return f"step '{problem.step}': {problem.message}" if problem.step else problem.message


def _exists(registry: Registry, id: UUID) -> bool:
    return _load(registry, id)[0] is not None


_NOT_PLAIN = "must hold only text, numbers, booleans, lists and mappings (quote dates and times)"


def _check(registry: Registry, providers: ProviderPool, declaration: Declaration) -> None:
    issues: list[Issue] = []
    teams = {t.name for t in declaration.teams}
    provider_names = {p.name for p in declaration.providers}
    workflows = {(w.team, w.name) for w in declaration.workflows}

    for n, p in enumerate(declaration.providers):
        if not is_plain_data(p.settings):
            issues.append(
                Issue(f"providers[{n}].settings", _NOT_PLAIN)
            )
            continue
        try:
            providers.check(p.name, p.kind, p.settings)
        except ValueError as exc:
            issues.append(Issue(f"providers[{n}]", str(exc)))
        if p.max_parallel < 1:
            issues.append(Issue(f"providers[{n}].max_parallel", "must be at least 1"))

    for n, w in enumerate(declaration.workflows):
        at = f"workflows[{n}]"
        if w.team not in teams and not _exists(registry, team_id(w.team)):
            issues.append(Issue(f"{at}.team", f"unknown team '{w.team}'"))
        buildable = True
        for k, s in enumerate(w.steps):
            issues += [
                Issue(f"{at}.steps[{k}].{field}", message)
                for field, message in human_step_issues(
                    s, lambda t: t in teams or _exists(registry, team_id(t))
                )
            ]
            if s.handler == "human":
                continue  # it has no prompt or provider: validate() says so if it does
            if not s.provider:
                continue  # validate() says it is required
            if s.provider not in provider_names and not _exists(registry, provider_id(s.provider)):
                issues.append(
                    Issue(f"{at}.steps[{k}].provider", f"unknown provider '{s.provider}'")
                )
            try:
                check_template(s.prompt)
            except TemplateError as exc:
                issues.append(Issue(f"{at}.steps[{k}].prompt", str(exc)))
            if s.retry is not None:
                issues += [
                    Issue(f"{at}.steps[{k}].retry.{field}", message)
                    for field, message in retry_issues(s.retry)
                ]
            routing = _check_routing(f"{at}.steps[{k}]", s)
            issues += routing.issues
            buildable = buildable and routing.matches_ok
        if not buildable:
            continue  # without its matches the definition cannot be built to validate
        issues += [
            Issue(_problem_path(at, w, p), p.message) for p in validate(_definition(w)).errors
        ]

    for n, i in enumerate(declaration.intakes):
        at = f"intakes[{n}]"
        if i.team not in teams and not _exists(registry, team_id(i.team)):
            issues.append(Issue(f"{at}.team", f"unknown team '{i.team}'"))
        known = (i.team, i.workflow) in workflows or _exists(
            registry, workflow_id(i.team, i.workflow)
        )
        if not known:
            issues.append(
                Issue(f"{at}.workflow", f"unknown workflow '{i.workflow}' of team '{i.team}'")
            )
    if issues:
        raise DeclarationError(issues)


@attrs.frozen
class _Routing:
    issues: list[Issue]
    matches_ok: bool


def _check_routing(at: str, s: StepDecl) -> _Routing:
    """Problems with a step's output schema and its handoffs' matches, by path."""
    issues = []
    matches_ok = True
    if s.output_schema is not None and not is_plain_data(s.output_schema):
        issues.append(Issue(f"{at}.output_schema", _NOT_PLAIN))
    elif s.output_schema is not None:
        problem = schema_problem(s.output_schema)
        if problem is not None:
            where, message = problem
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in where)
            issues.append(Issue(f"{at}.output_schema{path}", message))
    for n, h in enumerate(s.handoffs):
        if h.match is None:
            continue
        try:
            parse_match(h.match)
        except MatchError as exc:
            matches_ok = False
            issues += [
                Issue(f"{at}.handoffs[{n}].match" + (f".{where}" if where else ""), message)
                for where, message in exc.problems
            ]
    return _Routing(issues, matches_ok)


def _problem_path(at: str, w: WorkflowDecl, problem: Problem) -> str:
    if problem.step is None:
        return f"{at}.steps"
    path = _step_path(at, w, problem.step)
    return f"{path}.{problem.field}" if problem.field else path


def _step_path(at: str, w: WorkflowDecl, key: str) -> str:
    for k, s in enumerate(w.steps):
        if s.key == key:
            return f"{at}.steps[{k}]"
    return f"{at}.steps"
