"""The ports: what the application needs from the world, as Protocols adapters implement.

Persistence is not a port of ours: it is ``eventsourcing``'s own recorder abstraction,
selected by configuration. The read models that projections keep (``WorkView``) are.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, Protocol, Self
from uuid import UUID

import attrs
from eventsourcing.persistence import Tracking

from auxot.application.chain import ChainRow, Checkpoint


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class Ids(Protocol):
    def new_id(self) -> UUID:
        """A fresh, unique, preferably time-ordered id."""
        ...

    def secret(self, nbytes: int) -> str:
        """``nbytes`` of randomness as URL-safe text, for credentials."""
        ...


@attrs.frozen
class PromptRequest:
    prompt: str
    work_id: UUID
    step: str
    attempt: int
    # The step's output schema, when it has one: the provider should ask its model for
    # JSON (the prompt already says which). The engine validates the reply itself.
    json_schema: Mapping[str, Any] | None = attrs.field(default=None, hash=False)


@attrs.frozen
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, int]:
        return {
            "prompt": self.prompt_tokens,
            "completion": self.completion_tokens,
            "total": self.total_tokens,
        }


@attrs.frozen
class Completion:
    text: str
    model: str | None = None
    usage: Usage | None = None


class ProviderError(Exception):
    """A provider could not produce a completion. ``retryable`` marks transient causes
    (connection refused, 5xx, timeout) that a retry policy may run again."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Provider(Protocol):
    """One configured model endpoint. Called from worker threads: must be thread-safe."""

    def complete(self, request: PromptRequest) -> Completion: ...

    def close(self) -> None: ...


# -- chat with tools (agent steps) ---------------------------------------------------------


@attrs.frozen
class ToolSpec:
    """A tool as the model sees it: ``parameters`` is a JSON Schema of its arguments."""

    name: str
    description: str
    parameters: Mapping[str, Any]


@attrs.frozen
class ToolCall:
    """One call the model asked for; ``arguments_json`` is its arguments as JSON text,
    verbatim (a model may send text that is not valid JSON: the loop tells it so)."""

    id: str
    name: str
    arguments_json: str


@attrs.frozen
class ChatMessage:
    """One message of a conversation: ``system``, ``user``, ``assistant`` (with the
    ``tool_calls`` it asked for) or ``tool`` (a result, answering ``tool_call_id``)."""

    role: str
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


@attrs.frozen
class ChatRequest:
    messages: tuple[ChatMessage, ...]
    tools: tuple[ToolSpec, ...]
    work_id: UUID
    step: str
    attempt: int
    model: str | None = None
    """Overrides the provider's configured model when set (an agent's own model)."""


@attrs.frozen
class ChatTurn:
    """The model's answer: an assistant message, with tool calls or a final text."""

    message: ChatMessage
    model: str | None = None
    usage: Usage | None = None


class ChatProvider(Protocol):
    """A provider that can hold a conversation with tools (function calling)."""

    def chat(self, request: ChatRequest) -> ChatTurn: ...


class ToolError(Exception):
    """A tool could not be called or answered with an error; its message is what the
    model is told (other exceptions are reported with their type)."""


class Tool(Protocol):
    """Something an agent may call. ``call`` gets the decoded arguments and returns plain
    JSON data (or text); it may raise: the error is given to the model as the result.
    ``timeout`` is the longest one call may take (None: unbounded, a Python callable)."""

    @property
    def spec(self) -> ToolSpec: ...

    @property
    def timeout(self) -> float | None: ...

    def call(self, arguments: dict[str, Any]) -> Any: ...


@attrs.frozen
class ToolDefinition:
    """A declared tool: ``kind`` selects the adapter, ``settings`` are its own."""

    name: str
    kind: str
    description: str
    parameters: Mapping[str, Any]
    settings: Mapping[str, Any]

    @property
    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.parameters)


class ToolFactory(Protocol):
    """Builds the tool a declaration describes (``kind: http``); raises ValueError when
    its settings do not suit its kind."""

    def __call__(self, definition: ToolDefinition) -> Tool: ...


class OutboundUrls(Protocol):
    """The rule for URLs Auxot calls on a user's behalf (callback URLs, HTTP tools),
    applied when such a URL is saved or given with a request. Resolves the host, so it
    blocks: never call it on the event loop."""

    def refusal(self, url: str) -> str | None:
        """Why ``url`` may not be used, in one sentence; None when it may."""
        ...


class ProviderFactory(Protocol):
    """Builds a provider of one kind from its declared settings; raises ValueError when
    the settings are not valid for that kind."""

    def __call__(self, name: str, settings: Mapping[str, Any]) -> Provider: ...


@attrs.frozen
class HumanTask:
    """The human step a work item waits on, as the task list shows it. ``input`` is the
    item's input as JSON; ``not_by`` the user barred from acting (maker is not checker)."""

    step: str
    assignee: str | None
    team: str | None
    since: datetime
    timeout_at: datetime | None
    not_by: str | None
    input: bytes


@attrs.frozen
class WorkRow:
    """One work item as the status projection keeps it.

    ``record`` is the JSON document the poll endpoint returns, encoded once here so that
    reads serve stored bytes. ``due_at`` is when a worker should next look at the item
    (None once terminal): the work queue is this column.
    """

    work_id: UUID
    intake_id: UUID | None  # None for a manual task
    workflow_id: UUID
    status: str
    version: int
    due_at: datetime | None
    updated_at: datetime
    record: bytes
    task: HumanTask | None = None
    """Set while the item waits on a person."""


class RebuildableView(Protocol):
    """A read model kept by a tracked projection, that can be rebuilt beside itself.

    ``save`` writes rows and a tracking position in one transaction and raises
    ``eventsourcing.persistence.IntegrityError`` when that position was already recorded
    (another process projected it first). ``shadow`` gives an empty copy of the view on
    its own tables (created afresh: any earlier shadow is dropped, its positions
    forgotten); ``swap_in`` replaces this view's rows with the shadow's and each live
    position (a key of ``keys``) with the shadow's (its value), in one transaction, when
    the shadow is at or past every live position (else it changes nothing and answers
    False), and drops the shadow. A projection of one log tracks one key; the audit log,
    of two logs, two.
    """

    @property
    def tables(self) -> tuple[str, ...]:
        """The tables this view keeps, for the operator's eyes."""
        ...

    def shadow(self, *keys: str) -> Self:
        """An empty copy on fresh shadow tables, with no position under ``keys``."""
        ...

    def swap_in(self, shadow: Self, keys: Mapping[str, str]) -> bool: ...

    def max_tracking_id(self, application_name: str) -> int | None: ...


class WorkView(RebuildableView, Protocol):
    """The work status read model, kept by a tracked projection.

    ``save`` writes rows and the tracking position in one transaction and raises
    ``eventsourcing.persistence.IntegrityError`` when that position was already recorded
    (another process projected it first).
    """

    def save(self, rows: Sequence[WorkRow], tracking: Tracking) -> None: ...

    def get(self, work_id: UUID) -> WorkRow | None: ...

    def due(
        self, now: datetime, limit: int, offset: int = 0, held: Collection[UUID] = ()
    ) -> list[UUID]:
        """Ids of items due at ``now``, the earliest first (arrival order), from the
        ``offset``-th on; pending items of the workflows in ``held`` (paused ones) are
        left out."""
        ...

    def tasks(
        self,
        user: str,
        teams: Collection[str],
        limit: int,
        after: tuple[datetime, UUID] | None = None,
    ) -> list[WorkRow]:
        """Rows waiting on a human step assigned to ``user``, or to one of ``teams`` with
        no assignee, that ``user`` is not barred from; ordered by (task since, work id),
        after the ``after`` position."""
        ...


@attrs.frozen
class IndexRow:
    """One work item as the board, the work list and the statistics see it (the work
    index projection). ``step`` is the step it is at (the last one once it has ended);
    ``step_since`` when it got there; ``attempt`` the attempt running or last run there
    (0: not started); ``waiting`` whether a person must act, and ``assignee``/``team``
    who; ``duration_ms`` from receipt to end, once ended."""

    work_id: UUID
    workflow_id: UUID
    workflow_version: int
    intake_id: UUID | None
    status: str
    step: str
    step_since: datetime
    attempt: int
    waiting: bool
    assignee: str | None
    team: str | None
    input_summary: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    duration_ms: int | None


@attrs.frozen
class WorkQuery:
    """Which items a work list shows. ``workflows`` None: every workflow (the local
    operator); otherwise only items of these (the caller's teams' workflows).
    ``created_from`` is inclusive, ``created_to`` exclusive."""

    workflows: frozenset[UUID] | None
    status: str | None = None
    workflow_id: UUID | None = None
    intake_id: UUID | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


@attrs.frozen
class StatsCounts:
    """Items received in a window (``runs``), and those that ended in it by outcome;
    ``durations`` the nearest-rank percentiles asked for, in ms, of the items that
    completed or failed in it (None when none did)."""

    runs: int
    completed: int
    failed: int
    cancelled: int
    durations: Mapping[int, int | None]


Scope = tuple[Literal["workflow", "intake"], UUID]
"""Whose statistics: a workflow's or an intake's items."""


class IndexView(RebuildableView, Protocol):
    """The work index: a row per item for the board, the work list and the statistics."""

    def save(self, rows: Sequence[IndexRow], tracking: Tracking) -> None: ...

    def active(self, workflow_id: UUID, per_step: int) -> tuple[list[IndexRow], dict[str, int]]:
        """The workflow's items that have not ended: at most ``per_step`` per step, the
        longest there first, and how many there are at each step."""
        ...

    def recent(self, workflow_id: UUID, limit: int) -> list[IndexRow]:
        """The workflow's ``limit`` items that ended last, the latest first."""
        ...

    def page(
        self, query: WorkQuery, limit: int, before: tuple[datetime, UUID] | None
    ) -> list[IndexRow]:
        """Items matching ``query``, newest first by (created_at, work_id), strictly
        before the ``before`` position."""
        ...

    def stats(
        self, scope: Scope, start: datetime, end: datetime, percentiles: Sequence[int]
    ) -> StatsCounts:
        """Counts for ``scope`` over ``[start, end)``."""
        ...


@attrs.frozen
class AuditRow:
    """One line of the audit log: an administrative change or a person's (or key's)
    action, with the event it comes from (``stream``, ``version``)."""

    stream: UUID
    version: int
    at: datetime
    actor: str
    """Whom the actor stands for: ``user:ann``, ``team:support``, ``cli:root``."""
    key_id: UUID | None
    team_id: UUID | None
    """The team whose resource it is; None for operator-only ones (providers, tools,
    user keys), which only the command line shows."""
    resource: str
    action: str
    details: bytes
    """The event's data as JSON, without large payloads (inputs, outputs, definitions)."""

    @property
    def position(self) -> tuple[datetime, UUID, int]:
        return (self.at, self.stream, self.version)


@attrs.frozen
class AuditQuery:
    teams: frozenset[UUID] | None
    """Rows of these teams only; None for every row (the operator)."""
    limit: int
    actor: str | None = None
    """A principal (``user:ann``) or a key (``key:<uuid>``)."""
    resource: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    """Rows with ``since <= at < until``."""
    after: tuple[datetime, UUID, int] | None = None
    """The position of the last row of the previous page."""

    @property
    def actor_key(self) -> UUID | None:
        """The key an ``actor`` filter names (``key:<uuid>`` or ``key_<hex>``); None when
        it names a principal. A malformed key names the nil UUID: no row matches."""
        if self.actor is None or not self.actor.startswith(("key:", "key_")):
            return None
        try:
            return UUID(self.actor[4:])
        except ValueError:
            return UUID(int=0)


class AuditView(RebuildableView, Protocol):
    """The audit log read model, in time order, kept by a tracked projection. ``save``
    writes rows and a tracking position in one transaction (``IntegrityError`` when that
    position was recorded already); rows already there are left as they are."""

    def save(self, rows: Sequence[AuditRow], tracking: Tracking) -> None: ...

    def query(self, query: AuditQuery) -> list[AuditRow]: ...


class ProviderSlots(Protocol):
    """Places on each provider, shared by every worker process on one database: a
    provider's ``max_parallel`` holds across all of them.

    A slot is held by one claim (``holder``: unique per worker and work item) until it is
    released, or until ``lease_until`` has passed: a worker killed mid-step never leaks
    its slot. ``now`` is the caller's clock, as for the step leases the slots shadow.
    """

    def acquire(
        self, provider: str, limit: int, holder: str, lease_until: datetime, now: datetime
    ) -> bool:
        """Take a free slot of ``provider`` for ``holder`` when fewer than ``limit`` are
        held (expired leases count as free); False, taking nothing, when it is full."""
        ...

    def release(self, provider: str, holder: str) -> None:
        """Free the slot ``holder`` holds on ``provider``; nothing when it holds none
        (its lease ran out and another claim took the slot)."""
        ...


@attrs.frozen
class Callback:
    """One attempt at delivering a finished work item's record to its callback URL,
    signed per the Standard Webhooks specification (version 1)."""

    webhook_id: str  # stable across every attempt (and redelivery) of one delivery
    url: str
    body: bytes  # the work item record, exactly as the poll endpoint returns it
    # ``whsec_`` secrets to sign with: one during normal operation, two while a rotated
    # secret's grace period runs (each gives one ``v1,`` signature).
    secrets: tuple[str, ...] = attrs.field(repr=False)
    timestamp: datetime  # this attempt's ``webhook-timestamp``


@attrs.frozen
class CallbackOutcome:
    """What one attempt came to. ``status_code`` is None when no response arrived
    (refused address, connection error, timeout)."""

    status_code: int | None
    latency_ms: int
    error: str | None = None  # one line, for the record; None after a 2xx
    retry_after: float | None = None  # seconds, from a 429 or 503 ``Retry-After``

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        """410 Gone: the receiver asks never to be called again."""
        return self.status_code == 410


class CallbackSender(Protocol):
    def send(self, callback: Callback) -> CallbackOutcome:
        """POST ``callback`` once; never raises for anything the receiver or the
        network does (that is an outcome)."""
        ...


@attrs.frozen
class DeliveryRow:
    """One work item's callback delivery, as the deliveries projection keeps it.

    ``record`` is the delivery as the API lists it (JSON). ``due_at`` is when a
    deliverer should next act on it (None once delivered or dead): the delivery queue.
    """

    work_id: UUID
    webhook_id: str
    team_id: UUID
    status: str
    scheduled_at: datetime
    due_at: datetime | None
    record: bytes


class DeliveryView(RebuildableView, Protocol):
    """The callback deliveries read model, kept by a tracked projection of the work log.
    ``save`` writes rows and the tracking position in one transaction (as ``WorkView``)."""

    def save(self, rows: Sequence[DeliveryRow], tracking: Tracking) -> None: ...

    def due(self, now: datetime, limit: int) -> list[UUID]:
        """Work ids whose delivery is due at ``now``, the earliest first."""
        ...

    def page(
        self,
        teams: Collection[UUID] | None,
        status: str | None,
        limit: int,
        after: tuple[datetime, UUID] | None = None,
    ) -> list[DeliveryRow]:
        """Deliveries of ``teams`` (None: every team) in ``status`` (None: any), ordered
        by (scheduled_at, work id), after the ``after`` position."""
        ...


class ChainedLog(Protocol):
    """One application's stored events with their chain hashes, and its checkpoints:
    what ``auxot audit verify`` checks and the worker's checkpointer extends. ``name`` is
    the application's (``registry``, ``work``)."""

    @property
    def name(self) -> str: ...

    def count(self) -> int:
        """How many events are stored (for progress output)."""
        ...

    def by_stream(self, page: int = 1000) -> Iterator[ChainRow]:
        """Every event, stream by stream, each stream in version order."""
        ...

    def by_position(self, after: int = 0, limit: int | None = None) -> Iterator[ChainRow]:
        """Events after position ``after``, in position order, at most ``limit``."""
        ...

    def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint of this log, by position."""
        ...

    def latest_checkpoint(self) -> Checkpoint | None: ...

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Store ``checkpoint``; one at the same position already stored wins."""
        ...

    def seal(self, hashes: Sequence[tuple[UUID, int, bytes]]) -> int:
        """Set the chain hash of each (stream, version) that has none; how many were set."""
        ...
