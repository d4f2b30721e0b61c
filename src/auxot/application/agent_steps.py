"""Agent steps in the engine: finding a step's agent, its tools and its time budget, and
running the agent loop on the step's provider slot."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from auxot.application.agent_loop import AgentLoop, AgentResult, budget_seconds
from auxot.application.directory import Directory
from auxot.application.ports import ChatRequest, ChatTurn, Tool
from auxot.application.providers import ProviderPool
from auxot.application.tools import Toolbox
from auxot.domain.agent import Agent
from auxot.domain.definition import Step
from auxot.domain.provider import Provider as ProviderRecord


class AgentSteps:
    def __init__(
        self,
        directory: Directory,
        providers: ProviderPool,
        toolbox: Toolbox,
        monotonic: Callable[[], float],
    ) -> None:
        self._directory = directory
        self._providers = providers
        self._toolbox = toolbox
        self._monotonic = monotonic

    def agent(self, team_id: UUID, step: Step) -> Agent | None:
        """The agent ``step`` names, among its workflow team's agents."""
        if step.agent is None:
            return None
        agent = self._directory.agent(team_id, step.agent)
        if agent is None:
            self._directory.refresh()
            agent = self._directory.agent(team_id, step.agent)
        return agent

    def lease_seconds(self, agent: Agent, provider: ProviderRecord) -> float:
        tools, _ = self._tools(agent)
        return budget_seconds(agent, self._providers.timeout_of(provider), list(tools.values()))

    def run(
        self,
        agent: Agent,
        provider: ProviderRecord,
        task: str,
        *,
        work_id: UUID,
        step: str,
        attempt: int,
    ) -> AgentResult:
        tools, missing = self._tools(agent)
        if missing:
            # Running without a tool the agent was given would change what it does.
            reason = f"agent '{agent.name}' cannot run: {'; '.join(missing)}"
            return AgentResult(calls=(), error=reason)

        def chat(request: ChatRequest) -> ChatTurn:
            return self._providers.chat(provider, request)

        loop = AgentLoop(
            agent=agent,
            chat=chat,
            tools=tools,
            provider_timeout=self._providers.timeout_of(provider),
            monotonic=self._monotonic,
            work_id=work_id,
            step=step,
            attempt=attempt,
        )
        return loop.run(task)

    def _tools(self, agent: Agent) -> tuple[dict[str, Tool], list[str]]:
        return self._toolbox.resolve(agent.tools, self._directory.tool)
