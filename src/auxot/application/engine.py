"""The engine: claims due steps, runs them on their provider, records outcomes.

A claim is a ``StepStarted`` event saved under optimistic concurrency, so when several
workers see the same due item only one claim is recorded. The claim carries a lease
derived from the provider's timeout; a worker that dies mid-step leaves the lease to run
out, and the item becomes due again: steps are at-least-once. An outcome is recorded only
for the live attempt, so a late answer from a presumed-dead worker conflicts and is
dropped: recorded outcomes are exactly-once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import PersistenceError, RecordConflictError

from auxot.application.agent_steps import AgentSteps
from auxot.application.directory import Directory
from auxot.application.human_steps import HumanSteps
from auxot.application.output_schema import Answer, InvalidOutput, answer, check, json_instruction
from auxot.application.ports import (
    Clock,
    Completion,
    PromptRequest,
    ProviderError,
    ProviderSlots,
    WorkView,
)
from auxot.application.prompts import TemplateError, render
from auxot.application.providers import ProviderPool
from auxot.application.refs import format_ref
from auxot.application.step_threads import StepThreads
from auxot.application.stores import WorkLog
from auxot.application.tools import Toolbox
from auxot.domain.actor import Actor
from auxot.domain.agent import Agent
from auxot.domain.definition import Definition, Step
from auxot.domain.provider import Provider as ProviderRecord
from auxot.domain.work_item import RunStatus, Status, WorkItem

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
        slots: ProviderSlots,
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
        self._slots = slots
        self.worker_id = worker_id
        # Names this engine's slot holders apart from those of any other engine, even one
        # misconfigured with the same worker id: a release frees only its own slot.
        self._holder_prefix = f"{worker_id}/{uuid4().hex[:12]}"
        self._lease_grace = lease_grace
        self._batch = batch
        self._on_recorded = on_recorded
        self._threads = StepThreads(threads)
        self._thread_count = threads
        self._lock = threading.Lock()
        self._finished = threading.Condition(self._lock)
        self._closing = False
        self._abandoned = False
        self._running: set[UUID] = set()  # claimed (or being claimed) by this engine
        self._waiting: dict[UUID, str] = {}  # due items known to wait for a full provider
        self._max_pages = max_pages
        self._actor = Actor.worker(worker_id)
        self._human = HumanSteps(work, directory, on_recorded, self._actor)
        self._agents = AgentSteps(directory, providers, toolbox or Toolbox({}), monotonic)

    def dispatch(self) -> int:
        """Claim and start what is due and fits its provider's limit; returns how many.

        Pages through the due items in arrival order (``due_at``). The first item found
        waiting for a full provider closes that provider for the rest of the pass, so a
        later item for it can never overtake an earlier one here, even when a slot frees
        up mid-pass; items for other providers still start. An item found waiting is
        remembered with its provider and passed over without a read while that provider
        is closed. Pending items of paused workflows are left out by the query itself,
        so however many wait, they are neither read nor in the way.
        """
        now = self._clock.now()
        held = self._directory.paused_workflows()
        started, offset, seen = 0, 0, set[UUID]()
        full: set[str] = set()  # providers found full during this pass
        for _ in range(self._max_pages):
            page = self._view.due(now, self._batch, offset, held)
            seen.update(page)
            for work_id in page:
                with self._lock:
                    if self._closing or len(self._running) >= self._thread_count:
                        break
                    if work_id in self._running:
                        continue
                    waiting_for = self._waiting.get(work_id)
                if waiting_for is None or waiting_for not in full:
                    started += self._start_isolated(work_id, full)
            if len(page) < self._batch or self._all_full(full):
                break
            offset += len(page)
        with self._lock:
            self._waiting = {w: p for w, p in self._waiting.items() if w in seen}
        return started

    @property
    def idle(self) -> bool:
        with self._lock:
            return not self._running

    def running(self, work_id: UUID) -> bool:
        """Whether this engine holds a step of the item (its thread and provider slot)."""
        with self._lock:
            return work_id in self._running

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

    def _start_isolated(self, work_id: UUID, full: set[str]) -> int:
        """``_try_start``, with one item's defect kept to that item: an item that cannot
        be started for a reason of its own (not the database's) fails, saying why,
        instead of being first in line again on every pass, ahead of everyone's work."""
        try:
            return self._try_start(work_id, full)
        except PersistenceError:
            raise  # the database: nothing wrong with the item, try again next pass
        except Exception as exc:
            log.exception("could not start %s; failing it", format_ref("work", work_id))
            with contextlib.suppress(Exception):
                item = self._work.item(work_id)
                if not item.status.terminal:
                    reason = f"cannot run: {type(exc).__name__}: {exc}"
                    self._record(item, lambda: item.fail(reason, self._clock.now()))
            return 0

    def _try_start(self, work_id: UUID, full: set[str]) -> int:
        try:
            item = self._work.item(work_id)
        except AggregateNotFoundError:
            return 0
        now = self._clock.now()
        if self._human.take(item, now):  # a person acts on it: no provider, no lease
            return 0
        if not item.is_runnable(now):
            return 0
        if item.status is Status.PENDING and item.workflow_id in self._directory.paused_workflows():
            return 0  # paused after the query: it waits, and the next query leaves it out
        located = self._locate(item)
        if isinstance(located, str):
            self._record(item, lambda: item.fail(f"cannot run: {located}", now))
            return 0
        definition, step, provider = located
        calls = 2 if step.repair and step.output_schema is not None else 1
        seconds = calls * self._step_seconds(item, step, provider)
        lease = timedelta(seconds=seconds) + self._lease_grace
        holder = f"{self._holder_prefix}/{work_id}"
        if provider.name in full or not self._take_slot(work_id, provider, holder, now + lease):
            # Full: the item stays due, in arrival order, and waits its turn.
            full.add(provider.name)
            with self._lock:
                self._waiting[work_id] = provider.name
            return 0
        try:
            run = item.start_step(self.worker_id, lease, now)
            self._work.save(item, actor=self._actor)
        except RecordConflictError:
            self._give_back(work_id, provider.name, holder)  # another worker claimed it first
            return 0
        except Exception:
            self._give_back(work_id, provider.name, holder)  # the database failed: no claim
            raise
        self._on_recorded()
        self._threads.submit(
            lambda: self._run(item, run.attempt, definition, step, provider, holder)
        )
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
        holder: str,
    ) -> None:
        try:
            outcome = self._call(item, attempt, step, provider)
            now = self._clock.now()
            if isinstance(outcome, tuple):
                error, retryable = outcome
                self._record(
                    item,
                    lambda: item.fail_step(
                        attempt, error, now, retryable=retryable, retry=step.retry
                    ),
                )
            else:
                self._record(
                    item,
                    lambda: item.succeed_step(
                        attempt,
                        definition,
                        now,
                        output=outcome.output,
                        model=outcome.model,
                        tokens=outcome.usage.as_dict() if outcome.usage else None,
                    ),
                )
        except Exception:
            log.exception("recording the outcome of %s failed", format_ref("work", item.id))
        finally:
            self._give_back(item.id, provider.name, holder)
            self._on_recorded()

    def _call(
        self, item: WorkItem, attempt: int, step: Step, provider: ProviderRecord
    ) -> Answer | tuple[str, bool]:
        """The step's answer, or ``(error, retryable)`` when the step failed."""
        schema = step.output_schema

        def ask(prompt: str) -> Completion:
            request = PromptRequest(
                prompt=prompt, work_id=item.id, step=step.key, attempt=attempt, json_schema=schema
            )
            return self._providers.complete(provider, request)

        try:
            prompt = render(step.prompt, _context(item))
            if step.handler == "agent":
                return self._agent_answer(item, attempt, step, provider, prompt)
            if schema is not None:
                return answer(ask, prompt, schema, repair=step.repair)
            completion = ask(prompt)
            return Answer(completion.text, completion.model, completion.usage)
        except ProviderError as exc:
            return str(exc), exc.retryable
        except InvalidOutput as exc:
            return str(exc), False
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

    def _agent_answer(
        self, item: WorkItem, attempt: int, step: Step, provider: ProviderRecord, task: str
    ) -> Answer | tuple[str, bool]:
        """An agent step's answer; under an ``output_schema`` its final reply must be JSON
        the schema allows (asked for in the task; checked once, no repair turn)."""
        schema = step.output_schema
        if schema is not None:
            task = f"{task}\n\n{json_instruction(schema)}"
        done = self._agent_step(item, attempt, step, provider, task)
        if isinstance(done, tuple):
            return done
        output = done.text if schema is None else check(done.text, schema)
        return Answer(output, done.model, done.usage)

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
            self._work.save(item, actor=self._actor)
        except RecordConflictError:
            # The lease ran out and another worker took the step over: its outcome counts.
            log.warning("dropped a late outcome for %s", format_ref("work", item.id))

    def _take_slot(
        self, work_id: UUID, provider: ProviderRecord, holder: str, lease_until: datetime
    ) -> bool:
        """A step thread of this engine and a slot of ``provider``, shared with every
        worker on the database, for ``work_id``. A step claimed without a thread free
        would wait in a queue while its lease runs out; the slot's lease is the step's,
        so a slot held by a worker that died frees itself when its step may run again."""
        with self._lock:
            if self._closing or len(self._running) >= self._thread_count:
                return False
            self._running.add(work_id)
        try:
            taken = self._slots.acquire(
                provider.name, provider.max_parallel, holder, lease_until, self._clock.now()
            )
        except BaseException:
            self._leave(work_id)
            raise
        if not taken:
            self._leave(work_id)
        return taken

    def _give_back(self, work_id: UUID, provider_name: str, holder: str) -> None:
        """Release the provider slot, then the step thread."""
        try:
            self._slots.release(provider_name, holder)
        except Exception as exc:  # the database is down, or the process is stopping
            log.warning(
                "releasing a slot of '%s' failed (%s); its lease will free it", provider_name, exc
            )
        finally:
            self._leave(work_id)

    def _leave(self, work_id: UUID) -> None:
        with self._lock:
            self._running.discard(work_id)
            self._finished.notify_all()

    def _all_full(self, full: set[str]) -> bool:
        """Nothing more can start in this pass: closing, no step thread free, or every
        provider found full."""
        with self._lock:
            if self._closing or len(self._running) >= self._thread_count:
                return True
        names = set(self._directory.providers_by_name)
        return bool(names) and names <= full


def _context(item: WorkItem) -> dict[str, Any]:
    steps = {
        run.key: {"output": run.output} for run in item.runs if run.status is RunStatus.SUCCEEDED
    }
    return {"input": item.input, "steps": steps, "work_id": format_ref("work", item.id)}
