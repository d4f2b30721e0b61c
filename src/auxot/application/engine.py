"""The engine: claims due steps, runs them on their provider, records outcomes.

A claim is a ``StepStarted`` event saved under optimistic concurrency, so when several
workers see the same due item only one claim is recorded. The claim carries a lease
derived from the provider's timeout; a worker that dies mid-step leaves the lease to run
out, and the item becomes due again: steps are at-least-once. An outcome is recorded only
for the live attempt, so a late answer from a presumed-dead worker conflicts and is
dropped: recorded outcomes are exactly-once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import RecordConflictError

from auxot.application.agent_steps import AgentSteps
from auxot.application.directory import Directory
from auxot.application.ports import Clock, Completion, PromptRequest, ProviderError, WorkView
from auxot.application.prompts import TemplateError, render
from auxot.application.providers import ProviderPool
from auxot.application.refs import format_ref
from auxot.application.step_threads import StepThreads
from auxot.application.stores import WorkLog
from auxot.application.tools import Toolbox
from auxot.domain.agent import Agent
from auxot.domain.definition import Definition, Step
from auxot.domain.provider import Provider as ProviderRecord
from auxot.domain.work_item import RunStatus, WorkItem

log = logging.getLogger(__name__)


class Engine:
    def __init__(
        self,
        work: WorkLog,
        view: WorkView,
        directory: Directory,
        providers: ProviderPool,
        clock: Clock,
        *,
        worker_id: str,
        lease_grace: timedelta = timedelta(seconds=30),
        threads: int = 16,
        batch: int = 64,
        max_pages: int = 16,
        on_recorded: Callable[[], None] = lambda: None,
        toolbox: Toolbox | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._work = work
        self._view = view
        self._directory = directory
        self._providers = providers
        self._clock = clock
        self.worker_id = worker_id
        self._lease_grace = lease_grace
        self._batch = batch
        self._on_recorded = on_recorded
        self._threads = StepThreads(threads)
        self._thread_count = threads
        self._lock = threading.Lock()
        self._finished = threading.Condition(self._lock)
        self._closing = False
        self._abandoned = False
        self._running: set[UUID] = set()
        self._busy: Counter[str] = Counter()
        self._waiting: dict[UUID, str] = {}  # due items known to wait for a full provider
        self._max_pages = max_pages
        self._agents = AgentSteps(directory, providers, toolbox or Toolbox({}), monotonic)

    def dispatch(self) -> int:
        """Claim and start what is due and fits its provider's limit; returns how many.

        Pages through the due items in arrival order, so that items waiting for a full
        provider do not hold back items for another one. An item found waiting is
        remembered with its provider and passed over without a read while that provider
        stays full.
        """
        now = self._clock.now()
        started, offset, seen = 0, 0, set[UUID]()
        for _ in range(self._max_pages):
            page = self._view.due(now, self._batch, offset)
            seen.update(page)
            for work_id in page:
                with self._lock:
                    if self._closing or work_id in self._running:
                        continue
                    waiting_for = self._waiting.get(work_id)
                if waiting_for is None or not self._full(waiting_for):
                    started += self._try_start(work_id)
            if len(page) < self._batch or self._all_full():
                break
            offset += len(page)
        with self._lock:
            self._waiting = {w: p for w, p in self._waiting.items() if w in seen}
        return started

    @property
    def idle(self) -> bool:
        with self._lock:
            return not self._running

    def close(self, drain_seconds: float = 10.0) -> bool:
        """Stop claiming, and wait up to ``drain_seconds`` for steps in flight to record
        their outcome. True when all did; the rest are left to their leases."""
        deadline = time.monotonic() + drain_seconds
        with self._lock:
            self._closing = True
            while self._running and (remaining := deadline - time.monotonic()) > 0:
                self._finished.wait(remaining)
            drained = not self._running
            # Outcomes arriving after this are not recorded: the process is going away,
            # and providers closing under a call must not be mistaken for step failures.
            self._abandoned = not drained
        self._threads.stop()
        if not drained:
            log.warning("stopped with steps in flight; their leases will let them run again")
        return drained

    def _try_start(self, work_id: UUID) -> int:
        try:
            item = self._work.item(work_id)
        except AggregateNotFoundError:
            return 0
        now = self._clock.now()
        if not item.is_runnable(now):
            return 0
        located = self._locate(item)
        if isinstance(located, str):
            self._record(item, lambda: item.fail(f"cannot run: {located}", now))
            return 0
        definition, step, provider = located
        lease = timedelta(seconds=self._step_seconds(item, step, provider)) + self._lease_grace
        if not self._take_slot(provider):
            # Full: the item stays due, in arrival order, and waits its turn.
            with self._lock:
                self._waiting[work_id] = provider.name
            return 0
        try:
            run = item.start_step(self.worker_id, lease, now)
            self._work.save(item)
        except RecordConflictError:
            self._release(provider.name)  # another worker claimed it first
            return 0
        except Exception:
            self._release(provider.name)  # the database failed: the slot is not taken
            raise
        with self._lock:
            self._running.add(work_id)
        self._on_recorded()
        self._threads.submit(lambda: self._run(item, run.attempt, definition, step, provider))
        return 1

    def _locate(self, item: WorkItem) -> tuple[Definition, Step, ProviderRecord] | str:
        workflow = self._directory.workflow(item.workflow_id)
        if workflow is None:
            self._directory.refresh()
            workflow = self._directory.workflow(item.workflow_id)
        if workflow is None:
            return "its workflow no longer exists"
        definition = workflow.definition(item.workflow_version)
        step = definition.step(item.current_step)
        provider_name = step.provider
        if step.handler == "agent":
            agent = self._agents.agent(workflow.team_id, step)
            if agent is None:
                return f"step '{step.key}' names unknown agent '{step.agent}'"
            provider_name = agent.provider
        provider = self._directory.provider(provider_name)
        if provider is None:
            self._directory.refresh()
            provider = self._directory.provider(provider_name)
        if provider is None:
            return f"step '{step.key}' names unknown provider '{provider_name}'"
        return definition, step, provider

    def _run(
        self,
        item: WorkItem,
        attempt: int,
        definition: Definition,
        step: Step,
        provider: ProviderRecord,
    ) -> None:
        try:
            outcome = self._call(item, attempt, step, provider)
            now = self._clock.now()
            if isinstance(outcome, tuple):
                error, retryable = outcome
                self._record(item, lambda: item.fail_step(attempt, error, now, retryable=retryable))
            else:
                self._record(
                    item,
                    lambda: item.succeed_step(
                        attempt,
                        definition,
                        now,
                        output=outcome.text,
                        model=outcome.model,
                        tokens=outcome.usage.as_dict() if outcome.usage else None,
                    ),
                )
        except Exception:
            log.exception("recording the outcome of %s failed", format_ref("work", item.id))
        finally:
            self._release(provider.name)
            with self._lock:
                self._running.discard(item.id)
                self._finished.notify_all()
            self._on_recorded()

    def _call(self, item: WorkItem, attempt: int, step: Step, provider: ProviderRecord) -> Any:
        """The provider's completion, or ``(error, retryable)`` when the step failed."""
        try:
            prompt = render(step.prompt, _context(item))
            if step.handler == "agent":
                return self._agent_step(item, attempt, step, provider, prompt)
            return self._providers.complete(
                provider,
                PromptRequest(prompt=prompt, work_id=item.id, step=step.key, attempt=attempt),
            )
        except ProviderError as exc:
            return str(exc), exc.retryable
        except TemplateError as exc:
            return str(exc), False
        except Exception as exc:
            log.exception("provider '%s' raised", provider.name)
            return f"{type(exc).__name__}: {exc}", False

    def _step_seconds(self, item: WorkItem, step: Step, provider: ProviderRecord) -> float:
        """The longest the step may take: one call, or an agent's whole loop."""
        agent = self._agent_of(item, step)
        if step.handler == "agent" and agent is not None:
            return self._agents.lease_seconds(agent, provider)
        return self._providers.timeout_of(provider)

    def _agent_of(self, item: WorkItem, step: Step) -> Agent | None:
        workflow = self._directory.workflow(item.workflow_id)
        return self._agents.agent(workflow.team_id, step) if workflow is not None else None

    def _agent_step(
        self, item: WorkItem, attempt: int, step: Step, provider: ProviderRecord, task: str
    ) -> Completion | tuple[str, bool]:
        """Run the agent loop; its calls are recorded (pending, saved with the outcome)."""
        agent = self._agent_of(item, step)
        if agent is None:
            return f"step '{step.key}' names unknown agent '{step.agent}'", False
        result = self._agents.run(
            agent, provider, task, work_id=item.id, step=step.key, attempt=attempt
        )
        item.record_calls(attempt, list(result.calls), self._clock.now())
        if result.output is None:
            return result.error or "the agent failed", result.retryable
        return Completion(text=result.output, model=result.model, usage=result.usage)

    def _record(self, item: WorkItem, change: Callable[[], None]) -> None:
        if self._abandoned:
            return
        try:
            change()
            self._work.save(item)
        except RecordConflictError:
            # The lease ran out and another worker took the step over: its outcome counts.
            log.warning("dropped a late outcome for %s", format_ref("work", item.id))

    def _take_slot(self, provider: ProviderRecord) -> bool:
        """A place for one step on ``provider`` and on a step thread: a step claimed
        without a thread free would wait in a queue while its lease runs out."""
        with self._lock:
            if self._busy[provider.name] >= provider.max_parallel:
                return False
            if len(self._running) >= self._thread_count:
                return False
            self._busy[provider.name] += 1
            return True

    def _full(self, provider_name: str) -> bool:
        provider = self._directory.provider(provider_name)
        limit = provider.max_parallel if provider is not None else 0
        with self._lock:
            return self._busy[provider_name] >= limit

    def _all_full(self) -> bool:
        with self._lock:
            if len(self._running) >= self._thread_count:
                return True
        names = list(self._directory.providers_by_name)
        return bool(names) and all(self._full(name) for name in names)

    def _release(self, provider_name: str) -> None:
        with self._lock:
            self._busy[provider_name] -= 1


def _context(item: WorkItem) -> dict[str, Any]:
    steps = {
        run.key: {"output": run.output} for run in item.runs if run.status is RunStatus.SUCCEEDED
    }
    return {"input": item.input, "steps": steps, "work_id": format_ref("work", item.id)}
