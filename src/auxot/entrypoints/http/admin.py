"""The administration API: teams, workflows, intakes, providers and keys, team-scoped.

Every route takes the Bearer key; a resource of a team the key may not use answers the
same 404 as one that does not exist. Lists are cursor-paginated: ``limit`` (1 to 100,
default 50) and the ``cursor`` a previous page gave as ``next_cursor``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal, TypeVar

import attrs
import msgspec
from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from auxot.application.admin import Admin
from auxot.application.declarations import AgentDecl, Applied, IntakeDecl, TeamDecl
from auxot.application.errors import ForbiddenError, NotFoundError
from auxot.application.keys import Caller
from auxot.application.lifecycle import Lifecycle, WorkflowSummary
from auxot.application.pagination import MAX_LIMIT, BadCursorError, paginate
from auxot.application.refs import format_ref
from auxot.application.service import Service
from auxot.domain.agent import Agent
from auxot.domain.api_key import ApiKey
from auxot.domain.intake import Intake
from auxot.domain.provider import Provider
from auxot.domain.team import Team
from auxot.domain.tool import Tool
from auxot.entrypoints.http.auth import provide_caller
from auxot.entrypoints.http.problems import (
    bad_request,
    forbidden,
    not_found,
    ref_or_404,
    unprocessable,
)
from auxot.entrypoints.http.use_cases import define_from, define_workflow_from
from auxot.entrypoints.http.wire import (
    AgentOut,
    Defined,
    IntakeOut,
    KeyCreated,
    KeyOut,
    NewKey,
    Page,
    ProviderOut,
    TeamOut,
    ToolOut,
    WorkflowDefined,
)
from auxot.entrypoints.http.wire import (
    WorkflowSummary as WorkflowSummaryWire,
)
from auxot.entrypoints.http.workflows import workflow_summary

R = TypeVar("R")
W = TypeVar("W")

Limit = Annotated[int, Parameter(ge=1, le=MAX_LIMIT, description="Items per page")]
Cursor = Annotated[str | None, Parameter(description="`next_cursor` of the previous page")]


def provide_admin(service: NamedDependency[Service]) -> Admin:
    return service.admin


@attrs.frozen
class Paging:
    limit: int
    cursor: str | None


def provide_paging(limit: Limit = 50, cursor: Cursor = None) -> Paging:
    return Paging(limit, cursor)


class _AdminController(Controller):
    tags = ["administration"]  # noqa: RUF012 - Litestar reads it as a class attribute
    dependencies = {  # noqa: RUF012
        "caller": Provide(provide_caller),
        "admin": Provide(provide_admin, sync_to_thread=False),
        "paging": Provide(provide_paging, sync_to_thread=False),
    }


def _page(
    resources: Iterable[R],
    sort_key: Callable[[R], str],
    to_wire: Callable[[R], W],
    paging: Paging,
) -> Page[W]:
    try:
        page = paginate(resources, sort_key, paging.limit, paging.cursor)
    except BadCursorError as exc:
        raise bad_request(str(exc)) from None
    return Page(items=[to_wire(r) for r in page.items], next_cursor=page.next_cursor)


def _by_name(resource: Team | WorkflowSummary | Intake | Provider | Agent | Tool) -> str:
    return f"{resource.name}\x00{resource.id.hex}"


def _found(lookup: Callable[[], R]) -> R:
    try:
        return lookup()
    except NotFoundError:
        raise not_found() from None


class TeamsController(_AdminController):
    path = "/v1/teams"

    @get("/", summary="List the teams this key may use")
    async def list_teams(
        self,
        caller: NamedDependency[Caller],
        admin: NamedDependency[Admin],
        paging: NamedDependency[Paging],
    ) -> Page[TeamOut]:
        return _page(admin.teams(caller), _by_name, team_out, paging)

    @put(
        "/{team_id:str}",
        summary="Change a team's members and admins",
        description="The body is the team as a workflow file declares it: "
        '`{"name", "members", "admins"}`. Only the team itself or its admins may.',
    )
    async def define_team(
        self,
        request: Request[Any, Any, Any],
        team_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
    ) -> Defined:
        at = ref_or_404("team", team_id)
        return _defined(await define_from(service, caller, request, TeamDecl, at))

    @get("/{team_id:str}", summary="One team")
    async def get_team(
        self, team_id: FromPath[str], caller: NamedDependency[Caller], admin: NamedDependency[Admin]
    ) -> TeamOut:
        return team_out(_found(lambda: admin.team(caller, ref_or_404("team", team_id))))


class WorkflowListController(_AdminController):
    path = "/v1/workflows"

    @get("/", summary="List the workflows of the teams this key may use")
    async def list_workflows(
        self,
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
        paging: NamedDependency[Paging],
    ) -> Page[WorkflowSummaryWire]:
        summaries = Lifecycle(service).workflows(caller)
        return _page(summaries, _by_name, workflow_summary, paging)

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        summary="Define a new workflow",
        description="The body is one workflow as a workflow file's `workflows` entry "
        "(name, team, description, steps). Only the team itself or its admins may.",
    )
    async def create_workflow(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
    ) -> WorkflowDefined:
        return await define_workflow_from(service, caller, request, at=None)


class IntakesController(_AdminController):
    path = "/v1/intakes"

    @get("/", summary="List the intakes of the teams this key may use")
    async def list_intakes(
        self,
        caller: NamedDependency[Caller],
        admin: NamedDependency[Admin],
        paging: NamedDependency[Paging],
    ) -> Page[IntakeOut]:
        return _page(admin.intakes(caller), _by_name, intake_out, paging)

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        summary="Define a new intake",
        description="The body is one intake as a workflow file's `intakes` entry (name, "
        "workflow, team, callback_url, active, allow_callback_override). A callback URL "
        "Auxot may not call is 422. Only the team itself or its admins may.",
    )
    async def create_intake(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
    ) -> Defined:
        return _defined(await define_from(service, caller, request, IntakeDecl, None))

    @put("/{intake_id:str}", summary="Change an intake (its name and team stay)")
    async def define_intake(
        self,
        request: Request[Any, Any, Any],
        intake_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
    ) -> Defined:
        at = ref_or_404("intake", intake_id)
        return _defined(await define_from(service, caller, request, IntakeDecl, at))

    @get("/{intake_id:str}", summary="One intake")
    async def get_intake(
        self,
        intake_id: FromPath[str],
        caller: NamedDependency[Caller],
        admin: NamedDependency[Admin],
    ) -> IntakeOut:
        return intake_out(_found(lambda: admin.intake(caller, ref_or_404("intake", intake_id))))


class ProvidersController(_AdminController):
    path = "/v1/providers"

    @get("/", summary="List the providers (shared by all teams)")
    async def list_providers(
        self,
        caller: NamedDependency[Caller],
        admin: NamedDependency[Admin],
        paging: NamedDependency[Paging],
    ) -> Page[ProviderOut]:
        return _page(admin.providers(caller), _by_name, provider_out, paging)

    @get("/{provider_id:str}", summary="One provider")
    async def get_provider(
        self,
        provider_id: FromPath[str],
        caller: NamedDependency[Caller],
        admin: NamedDependency[Admin],
    ) -> ProviderOut:
        found = _found(lambda: admin.provider(caller, ref_or_404("provider", provider_id)))
        return provider_out(found)


class AgentsController(_AdminController):
    path = "/v1/agents"

    @get("/", summary="List the agents of the teams this key may use")
    async def list_agents(
        self,
        caller: NamedDependency[Caller],
        admin: NamedDependency[Admin],
        paging: NamedDependency[Paging],
    ) -> Page[AgentOut]:
        return _page(admin.agents(caller), _by_name, agent_out, paging)

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        summary="Define a new agent",
        description="The body is one agent as a workflow file's `agents` entry.",
    )
    async def create_agent(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
    ) -> Defined:
        return _defined(await define_from(service, caller, request, AgentDecl, None))

    @put("/{agent_id:str}", summary="Change an agent (its name and team stay)")
    async def define_agent(
        self,
        request: Request[Any, Any, Any],
        agent_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
    ) -> Defined:
        at = ref_or_404("agent", agent_id)
        return _defined(await define_from(service, caller, request, AgentDecl, at))

    @get("/{agent_id:str}", summary="One agent")
    async def get_agent(
        self,
        agent_id: FromPath[str],
        caller: NamedDependency[Caller],
        admin: NamedDependency[Admin],
    ) -> AgentOut:
        return agent_out(_found(lambda: admin.agent(caller, ref_or_404("agent", agent_id))))


class ToolsController(_AdminController):
    path = "/v1/tools"

    @get("/", summary="List the declared tools (shared by all teams)")
    async def list_tools(
        self,
        caller: NamedDependency[Caller],
        admin: NamedDependency[Admin],
        paging: NamedDependency[Paging],
    ) -> Page[ToolOut]:
        return _page(admin.tools(caller), _by_name, tool_out, paging)


class KeysController(_AdminController):
    path = "/v1/keys"

    @get("/", summary="List the keys this key manages (its team's keys, or its user's)")
    async def list_keys(
        self,
        caller: NamedDependency[Caller],
        admin: NamedDependency[Admin],
        paging: NamedDependency[Paging],
    ) -> Page[KeyOut]:
        return _page(admin.keys(caller), lambda k: k.id.hex, key_out, paging)

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        summary="Create a key",
        description="A team key for the calling team, or a user key for the calling user. "
        "The key is in this answer only: it is never shown again.",
        sync_to_thread=True,
    )
    def create_key(
        self, data: JSONBody[NewKey], caller: NamedDependency[Caller], admin: NamedDependency[Admin]
    ) -> KeyCreated:
        if (data.team is None) == (data.user is None):
            raise unprocessable('Give exactly one of "team" or "user".')
        kind: Literal["team", "user"] = "team" if data.team is not None else "user"
        owner = data.team if data.team is not None else data.user
        assert owner is not None
        try:
            issued = admin.create_key(caller, kind, owner)
        except NotFoundError:
            raise not_found() from None
        except ForbiddenError as exc:
            raise forbidden(str(exc)) from None
        return KeyCreated(
            id=format_ref("key", issued.id), key=issued.key, kind=issued.kind, owner=issued.owner
        )

    @post(
        "/{key_id:str}/revoke",
        status_code=HTTP_200_OK,
        summary="Revoke a key",
        sync_to_thread=True,
    )
    def revoke_key(
        self, key_id: FromPath[str], caller: NamedDependency[Caller], admin: NamedDependency[Admin]
    ) -> KeyOut:
        return key_out(_found(lambda: admin.revoke_key(caller, ref_or_404("key", key_id))))


ADMIN_CONTROLLERS = [
    TeamsController,
    WorkflowListController,
    IntakesController,
    ProvidersController,
    AgentsController,
    ToolsController,
    KeysController,
]


def _defined(applied: Applied) -> Defined:
    return Defined(
        id=applied.id,
        name=applied.name,
        outcome=applied.outcome,
        secret=applied.extra.get("secret", msgspec.UNSET),
    )


def team_out(team: Team) -> TeamOut:
    return TeamOut(
        id=format_ref("team", team.id),
        name=team.name,
        members=list(team.members),
        admins=list(team.admins),
    )


def intake_out(intake: Intake) -> IntakeOut:
    return IntakeOut(
        id=format_ref("intake", intake.id),
        name=intake.name,
        team_id=format_ref("team", intake.team_id),
        workflow_id=format_ref("workflow", intake.workflow_id),
        active=intake.active,
        callback_url=intake.callback_url,
        allow_callback_override=intake.allow_callback_override,
    )


def provider_out(provider: Provider) -> ProviderOut:
    settings: dict[str, Any] = dict(provider.settings)
    return ProviderOut(
        id=format_ref("provider", provider.id),
        name=provider.name,
        kind=provider.kind,
        max_parallel=provider.max_parallel,
        settings=settings,
    )


def agent_out(agent: Agent) -> AgentOut:
    return AgentOut(
        id=format_ref("agent", agent.id),
        name=agent.name,
        team_id=format_ref("team", agent.team_id),
        instructions=agent.instructions,
        provider=agent.provider,
        model=agent.model,
        tools=list(agent.tools),
        max_turns=agent.max_turns,
    )


def tool_out(tool: Tool) -> ToolOut:
    return ToolOut(
        id=format_ref("tool", tool.id),
        name=tool.name,
        kind=tool.kind,
        description=tool.description,
        parameters=dict(tool.parameters),
        settings=dict(tool.settings),
    )


def key_out(key: ApiKey) -> KeyOut:
    return KeyOut(
        id=format_ref("key", key.id),
        kind=key.owner_kind,
        owner=key.owner,
        created_at=key.created_on,
        expires_at=key.expires_at,
        revoked=key.revoked,
    )
