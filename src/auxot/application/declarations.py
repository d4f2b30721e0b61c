"""Declarations: the desired set of teams, providers, tools, agents, workflows and
intakes, applied idempotently. Everything is checked first and saved in one
transaction, so a broken declaration changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal
from uuid import UUID

import attrs
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from auxot.application.human_steps import human_step_fields, human_step_issues
from auxot.application.output_schema import schema_problem
from auxot.application.plain_data import is_plain_data
from auxot.application.ports import Clock, OutboundUrls, ToolDefinition
from auxot.application.prompts import TemplateError, check_template
from auxot.application.providers import ProviderPool
from auxot.application.refs import format_ref
from auxot.application.retry_declarations import RetryDecl, retry_issues, retry_policy
from auxot.application.stores import Registry
from auxot.application.tools import Toolbox, ToolSchemaError, check_parameters
from auxot.domain.actor import Actor
from auxot.domain.agent import DEFAULT_MAX_TURNS, Agent
from auxot.domain.conditions import MatchError, parse_match
from auxot.domain.definition import Definition, Handler, Handoff, Step
from auxot.domain.durations import Duration
from auxot.domain.identity import (
    agent_id,
    intake_id,
    provider_id,
    team_id,
    tool_id,
    workflow_id,
)
from auxot.domain.intake import Intake
from auxot.domain.provider import Provider
from auxot.domain.team import Team
from auxot.domain.tool import Tool
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
    handler: Handler = "prompt"
    agent: str | None = None
    output_schema: dict[str, Any] | None = None
    repair: bool = False
    retry: RetryDecl | None = None
    assignee: str | None = None
    team: str | None = None
    timeout: Duration | None = None
    """Seconds, or a duration such as ``"30m"`` or ``"2h"``."""
    not_by_actor_of: str | None = None


MAX_AGENT_TURNS = 100


@attrs.frozen
class ToolDecl:
    """A tool agents may call; ``kind: http`` POSTs the arguments to ``url``."""

    name: str
    kind: str
    url: str
    description: str = ""
    method: str = "POST"
    timeout: float = 30.0
    parameters: dict[str, Any] = attrs.field(factory=lambda: {"type": "object", "properties": {}})

    @property
    def settings(self) -> dict[str, Any]:
        return {"url": self.url, "method": self.method, "timeout": self.timeout}

    @property
    def definition(self) -> ToolDefinition:
        return ToolDefinition(
            self.name, self.kind, self.description, self.parameters, self.settings
        )


@attrs.frozen
class AgentDecl:
    name: str
    team: str
    instructions: str
    provider: str
    model: str | None = None
    tools: tuple[str, ...] = ()
    max_turns: int = DEFAULT_MAX_TURNS


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
    allow_callback_override: bool = False
    """Whether a request may name its own callback URL (the ``Callback-Url`` header)."""


@attrs.frozen
class Declaration:
    teams: tuple[TeamDecl, ...] = ()
    providers: tuple[ProviderDecl, ...] = ()
    workflows: tuple[WorkflowDecl, ...] = ()
    intakes: tuple[IntakeDecl, ...] = ()
    tools: tuple[ToolDecl, ...] = ()
    agents: tuple[AgentDecl, ...] = ()


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
    registry: Registry,
    providers: ProviderPool,
    clock: Clock,
    declaration: Declaration,
    actor: Actor,
    toolbox: Toolbox | None = None,
    *,
    urls: OutboundUrls,
    new_secret: Callable[[], str],
) -> list[Applied]:
    """Create or update what ``declaration`` names, as ``actor``; raise DeclarationError,
    having saved nothing, when any part of it is wrong. ``toolbox`` knows the tool kinds
    and the Python tools registered in this process (without it, no tool may be
    declared); ``urls`` judges the callback and tool URLs (resolving their hosts);
    ``new_secret`` makes an intake's signing secret."""
    issues = _agent_issues(registry, providers, toolbox or Toolbox({}), declaration)
    issues += _url_issues(declaration, urls)
    try:
        _check(registry, providers, declaration)
    except DeclarationError as exc:
        raise DeclarationError(exc.issues + issues) from None
    if issues:
        raise DeclarationError(issues)
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

    for tl in declaration.tools:
        tool, created = _load(registry, tool_id(tl.name))
        parameters = dict(tl.parameters)
        if tool is None:
            tool = Tool.register(
                tool_id(tl.name), tl.name, tl.kind, tl.description, parameters, tl.settings, now
            )
        else:
            assert isinstance(tool, Tool)
            tool.reconfigure(tl.kind, tl.description, parameters, tl.settings, now)
        settle("tool", tl.name, tool, created)

    for a in declaration.agents:
        agent, created = _load(registry, agent_id(a.team, a.name))
        fields: dict[str, Any] = {
            "instructions": a.instructions,
            "provider": a.provider,
            "model": a.model,
            "tools": a.tools,
            "max_turns": a.max_turns,
            "at": now,
        }
        if agent is None:
            agent = Agent.register(agent_id(a.team, a.name), a.name, team_id(a.team), **fields)
        else:
            assert isinstance(agent, Agent)
            agent.revise(**fields)
        settle("agent", a.name, agent, created, team=a.team)

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
        intake.set_callback_override(i.allow_callback_override, now)
        if i.active:
            intake.activate(now)
        else:
            intake.deactivate(now)
        # Opened now, or recorded before intakes had secrets: give it its own. Shown
        # here only when the intake is new (its team's admins can read it any time).
        if intake.signing.current is None:
            intake.issue_secret(new_secret(), now)
        shown = {"secret": intake.signing.current} if created else {}
        settle("intake", i.name, intake, created, workflow=i.workflow, team=i.team, **shown)

    if changed:
        registry.save(*changed, actor=actor)
    return applied


def _url_issues(declaration: Declaration, urls: OutboundUrls) -> list[Issue]:
    """The callback and tool URLs that may not be called. A tool URL that is not http(s)
    at all is left to its kind's own check, which says so."""
    found = [
        (f"intakes[{n}].callback_url", i.callback_url)
        for n, i in enumerate(declaration.intakes)
        if i.callback_url is not None
    ]
    found += [
        (f"tools[{n}].url", t.url)
        for n, t in enumerate(declaration.tools)
        if t.url.startswith(("http://", "https://"))
    ]
    return [
        Issue(path, f"refused: {reason}")
        for path, url in found
        if (reason := urls.refusal(url)) is not None
    ]


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
                agent=s.agent,
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
    agents = {(a.team, a.name) for a in declaration.agents}

    for n, p in enumerate(declaration.providers):
        if not is_plain_data(p.settings):
            issues.append(Issue(f"providers[{n}].settings", _NOT_PLAIN))
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
            if s.handler == "agent" and s.agent:
                known_agent = (w.team, s.agent) in agents or _exists(
                    registry, agent_id(w.team, s.agent)
                )
                if not known_agent:
                    issues.append(
                        Issue(
                            f"{at}.steps[{k}].agent",
                            f"unknown agent '{s.agent}' of team '{w.team}'",
                        )
                    )
            # Only prompt steps name a provider (validate() reports it on any other).
            if (
                s.handler == "prompt"
                and s.provider
                and s.provider not in provider_names
                and not _exists(registry, provider_id(s.provider))
            ):
                issues.append(
                    Issue(f"{at}.steps[{k}].provider", f"unknown provider '{s.provider}'")
                )
            if s.handler != "human":  # a human step has no prompt
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


def _agent_issues(
    registry: Registry, providers: ProviderPool, toolbox: Toolbox, declaration: Declaration
) -> list[Issue]:
    """What is wrong in the ``tools`` and ``agents`` sections."""
    issues: list[Issue] = []
    teams = {t.name for t in declaration.teams}
    declared_providers = {p.name: p for p in declaration.providers}
    tool_names = {t.name for t in declaration.tools}

    for n, tl in enumerate(declaration.tools):
        at = f"tools[{n}]"
        if toolbox.is_python(tl.name):
            issues.append(
                Issue(f"{at}.name", f"'{tl.name}' is a Python tool registered in this process")
            )
        try:
            check_parameters(tl.parameters)
        except ToolSchemaError as exc:
            issues.append(Issue(f"{at}.parameters", str(exc)))
            continue
        if not is_plain_data(tl.parameters):
            issues.append(Issue(f"{at}.parameters", "must hold only plain data"))
            continue
        try:
            toolbox.build(tl.definition)
        except ValueError as exc:
            issues.append(Issue(at, str(exc)))

    for n, a in enumerate(declaration.agents):
        at = f"agents[{n}]"
        if a.team not in teams and not _exists(registry, team_id(a.team)):
            issues.append(Issue(f"{at}.team", f"unknown team '{a.team}'"))
        problem = _agent_provider_problem(registry, providers, declared_providers, a.provider)
        if problem is not None:
            issues.append(Issue(f"{at}.provider", problem))
        for k, name in enumerate(a.tools):
            known = (
                name in tool_names or toolbox.is_python(name) or _exists(registry, tool_id(name))
            )
            if not known:
                issues.append(Issue(f"{at}.tools[{k}]", f"unknown tool '{name}'"))
            elif name in a.tools[:k]:
                issues.append(Issue(f"{at}.tools[{k}]", f"tool '{name}' is listed twice"))
        if not 1 <= a.max_turns <= MAX_AGENT_TURNS:
            issues.append(Issue(f"{at}.max_turns", f"must be from 1 to {MAX_AGENT_TURNS}"))
    return issues


def _agent_provider_problem(
    registry: Registry,
    providers: ProviderPool,
    declared: dict[str, ProviderDecl],
    name: str,
) -> str | None:
    """Why an agent may not run on provider ``name``; None when it may."""
    decl = declared.get(name)
    if decl is not None:
        kind, settings = decl.kind, decl.settings
    else:
        record, _ = _load(registry, provider_id(name))
        if not isinstance(record, Provider):
            return f"unknown provider '{name}'"
        kind, settings = record.kind, record.settings
    try:
        if providers.can_chat(name, kind, settings):
            return None
    except ValueError:
        return None  # the provider's own settings are reported where it is declared
    return f"provider '{name}' (kind {kind}) cannot run agents (function calling)"


def _step_path(at: str, w: WorkflowDecl, key: str) -> str:
    for k, s in enumerate(w.steps):
        if s.key == key:
            return f"{at}.steps[{k}]"
    return f"{at}.steps"
