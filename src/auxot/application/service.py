"""The service: Auxot's use cases over one wired set of stores, views and workers.

Entrypoints (HTTP, CLI, embedding) call these methods and nothing deeper; the composition
root in ``auxot.entrypoints.bootstrap`` builds it from configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import attrs
from eventsourcing.application import AggregateNotFoundError

from auxot.application.admin import Admin
from auxot.application.audit import AuditProjection
from auxot.application.declarations import Applied, Declaration, apply_declaration
from auxot.application.directory import Directory
from auxot.application.errors import NotFoundError as NotFoundError  # re-exported
from auxot.application.group_commit import GroupCommitter
from auxot.application.human_steps import TaskNotFoundError, complete_step, tasks_of
from auxot.application.idempotency import InFlight
from auxot.application.keys import (
    LOCAL_KEY,
    Authenticator,
    Caller,
    IssuedKey,
    actor_of,
    issue_key,
    revoke_key,
    user_caller,
)
from auxot.application.ports import (
    ChainedLog,
    Clock,
    DeliveryView,
    Ids,
    IndexView,
    OutboundUrls,
    ProviderSlots,
    WorkRow,
    WorkView,
)
from auxot.application.projections import Projections
from auxot.application.providers import ProviderPool
from auxot.application.records import encode_record, row_of
from auxot.application.signing_secrets import new_signing_secret
from auxot.application.stores import Registry, WorkLog
from auxot.application.tools import Toolbox
from auxot.application.worker import Worker
from auxot.domain.actor import SYSTEM, Actor
from auxot.domain.intake import Intake
from auxot.domain.work_item import Status, WorkItem


@attrs.define
class Service:
    registry: Registry
    work: WorkLog
    directory: Directory
    view: WorkView
    committer: GroupCommitter
    providers: ProviderPool
    worker: Worker
    clock: Clock
    ids: Ids
    admin: Admin
    slots: ProviderSlots  # shared by every engine on the database
    urls: OutboundUrls  # the rule for callback and tool URLs users give
    deliveries: DeliveryView  # the callback deliveries read model
    audit: AuditProjection
    index: IndexView  # the work index: boards, work lists, statistics
    projections: Projections  # every projection the worker keeps, by name (replay)
    toolbox: Toolbox = attrs.field(factory=lambda: Toolbox({}))
    in_flight: InFlight = attrs.field(factory=InFlight)  # keyed submissions being recorded
    chains: Sequence[ChainedLog] = ()  # the logs' hash chains; none on memory://
    _authenticate: Authenticator = attrs.field(init=False)
    _closed: bool = attrs.field(init=False, default=False)

    def __attrs_post_init__(self) -> None:
        self._authenticate = Authenticator(self.directory, self.clock)

    # -- work ---------------------------------------------------------------------------

    def receive(
        self,
        caller: Caller | None,
        intake_id: UUID,
        input: dict[str, Any],
        *,
        refresh: bool = True,
        id: UUID | None = None,
        idempotency_key: str | None = None,
        request_digest: str | None = None,
        callback_url: str | None = None,
    ) -> WorkItem.Received:
        """A new work item for the intake, as its first event, not yet saved: hand it to
        ``committer``. ``id`` None is a new random id; the other keywords are recorded
        as they are (``intake_submission`` checks them).

        ``caller`` None is the embedding application itself, trusted with every intake.
        Touches no database unless ``refresh`` and the intake is not known yet.
        """
        intake = self._visible_intake(caller, intake_id, refresh=refresh)
        workflow = self.directory.workflow(intake.workflow_id)
        if workflow is None:
            raise NotFoundError("intake")
        return WorkItem.received(
            id=self.ids.new_id() if id is None else id,
            intake_id=intake.id,
            workflow_id=workflow.id,
            workflow_version=workflow.current_version,
            definition=workflow.current,
            input=input,
            at=self.clock.now(),
            actor=actor_of(caller, SYSTEM).text,
            idempotency_key=idempotency_key,
            request_digest=request_digest,
            callback_url=callback_url,
        )

    def submit(
        self,
        caller: Caller | None,
        intake_id: UUID,
        input: dict[str, Any],
        *,
        refresh: bool = True,
    ) -> tuple[UUID, Future[None]]:
        """Receive a work item and commit it; the future resolves once it is committed."""
        receipt = self.receive(caller, intake_id, input, refresh=refresh)
        return receipt.originator_id, self.committer.submit([receipt])

    def work_record(self, caller: Caller | None, intake_id: UUID, work_id: UUID) -> bytes:
        """The item's record as JSON, as the intake's caller may see it. Reads the
        database: call it off the event loop."""
        self._visible_intake(caller, intake_id, refresh=True)
        found = self.find_record(work_id)
        if found is None or found[0] != intake_id:
            raise NotFoundError("work")
        return found[1]

    def _visible_intake(self, caller: Caller | None, intake_id: UUID, *, refresh: bool) -> Intake:
        """The intake, when it is active and the caller may use it; else NotFoundError.

        An intake not visible may have been created (or the caller's team changed) moments
        ago by another process, so with ``refresh`` the directory looks again first. Every
        refusal takes that same path, whatever its reason: a refusal that skipped it would
        be answered faster, and tell the caller that the intake exists.
        """
        intake = self.directory.intake(intake_id)
        if not _usable(intake, caller) and refresh:
            self.directory.refresh_soon()
            intake = self.directory.intake(intake_id)
        if intake is None or not _usable(intake, caller):
            raise NotFoundError("intake")
        return intake

    def find_record(self, work_id: UUID) -> tuple[UUID | None, bytes] | None:
        """The item's intake (None for a manual task) and record as JSON, without
        permission checks."""
        row = self.find_row(work_id)
        return None if row is None else (row.intake_id, row.record)

    def find_row(self, work_id: UUID) -> WorkRow | None:
        """The item's status row, without permission checks."""
        row = self.view.get(work_id)
        if row is not None:
            return row
        # Not projected yet: answer with the item as first recorded. Every projected row
        # is at that version or later, so the next poll can only move forward.
        try:
            item = self.work.item(work_id, version=1)
        except AggregateNotFoundError:
            return None
        return row_of(item)

    def wait_terminal(self, work_id: UUID, timeout: float) -> Status | None:
        """Wait until the projected status of the item is terminal; None on timeout."""

        def terminal() -> bool:
            row = self.view.get(work_id)
            return row is not None and Status(row.status).terminal

        if not self.worker.wait_projected(terminal, timeout):
            return None
        row = self.view.get(work_id)
        assert row is not None
        return Status(row.status)

    # -- human steps ----------------------------------------------------------------------

    def complete_step(
        self,
        caller: Caller,
        work_id: UUID,
        step_key: str,
        *,
        condition: str,
        note: str | None = None,
        output: Any = None,
    ) -> bytes:
        """Act on the human step the item waits on; the item's record as saved, as JSON.
        NotFoundError when the caller may not act on it (or it does not exist); the work
        item's errors when its state refuses the act. Reads and writes the database."""
        try:
            item = complete_step(
                self.work,
                self.directory,
                self.clock,
                caller,
                work_id,
                step_key,
                condition=condition,
                note=note,
                output=output,
            )
        except TaskNotFoundError:
            raise NotFoundError("work") from None
        self.worker.events_recorded()
        return encode_record(item)

    def local_user(self, name: str) -> Caller:
        """The caller a command-line user stands for: a user with no key, under the same
        rules as a ``user.`` key of theirs."""
        self.directory.refresh()
        return user_caller(self.directory, name, LOCAL_KEY)

    def tasks(
        self, caller: Caller, limit: int, after: tuple[datetime, UUID] | None = None
    ) -> list[WorkRow]:
        """The human steps waiting on the caller, oldest first, after ``after``."""
        return tasks_of(self.view, self.directory, caller, limit, after)

    # -- administration -----------------------------------------------------------------

    def apply(self, declaration: Declaration, actor: Actor = SYSTEM) -> list[Applied]:
        """Create or update what ``declaration`` names, as ``actor`` (by default the
        embedding application itself)."""
        applied = apply_declaration(
            self.registry,
            self.providers,
            self.clock,
            declaration,
            actor,
            self.toolbox,
            urls=self.urls,
            new_secret=lambda: new_signing_secret(self.ids),
        )
        self.directory.refresh()
        return applied

    def create_key(
        self, kind: Literal["team", "user"], owner: str, actor: Actor = SYSTEM
    ) -> IssuedKey:
        """Issue a key for ``owner``, as ``actor`` (by default the embedding application)."""
        issued = issue_key(
            self.registry,
            self.directory,
            self.clock,
            self.ids,
            kind=kind,
            owner=owner,
            actor=actor,
        )
        self.directory.refresh()
        return issued

    def revoke_key(self, key_id: UUID, actor: Actor = SYSTEM) -> bool:
        revoked = revoke_key(self.registry, self.clock, key_id, actor)
        self.directory.refresh()
        return revoked

    def authenticate(self, presented: str, *, refresh: bool = True) -> Caller | None:
        """Without ``refresh`` this never touches the database (for the event loop)."""
        return self._authenticate(presented, refresh=refresh)

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self.directory.refresh()
        self.worker.start()

    def close(self) -> None:
        """Stop the workers and release the stores. Safe to call again: the HTTP app's
        shutdown hook and the CLI that started it may both close."""
        if self._closed:
            return
        self._closed = True
        self.committer.stop()
        self.worker.stop()
        self.providers.close()
        self.work.close()
        self.registry.close()


def _usable(intake: Intake | None, caller: Caller | None) -> bool:
    if intake is None or not intake.active:
        return False
    return caller is None or caller.may_use(intake.team_id)
