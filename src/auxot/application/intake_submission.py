"""A submission with request options: an idempotency key, a callback URL of its own.

The plain submission (``Service.receive`` then the group committer) stays as it is; a
request that carries an option takes this path, which reads the database and may
resolve a host name, so it runs off the event loop.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import attrs
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import RecordConflictError

from auxot.application.callback_target import check_callback_override
from auxot.application.errors import NotFoundError
from auxot.application.idempotency import (
    NO_CREDENTIAL,
    IdempotencyKeyReusedError,
    key_problem,
    keyed_work_id,
    request_digest,
)
from auxot.application.keys import Caller
from auxot.application.service import Service
from auxot.domain.intake import Intake
from auxot.domain.work_item import WorkItem


@attrs.frozen
class RequestOptions:
    idempotency_key: str | None = None
    callback_url: str | None = None

    def __attrs_post_init__(self) -> None:
        problem = None if self.idempotency_key is None else key_problem(self.idempotency_key)
        if problem is not None:
            raise ValueError(f"not an idempotency key: {problem}")


def submit_with_options(
    service: Service,
    caller: Caller | None,
    intake_id: UUID,
    input: dict[str, Any],
    options: RequestOptions,
) -> UUID:
    """Record a new work item as ``options`` ask, and return its id once committed.

    With an idempotency key, a repeat of an earlier request (same intake, credential,
    key and request) returns the earlier item's id and records nothing. Raises
    NotFoundError (the intake), CallbackRefusedError (the callback URL),
    IdempotencyKeyReusedError (the key was used for another request) and
    IdempotencyKeyInFlightError (the same request is still being recorded here).
    Blocks on the database: never call it on the event loop.
    """
    key, callback_url = options.idempotency_key, options.callback_url
    credential = NO_CREDENTIAL if caller is None else caller.key_id
    work_id = None if key is None else keyed_work_id(intake_id, credential, key)
    digest = None if key is None else request_digest(input, callback_url)
    receipt = service.receive(
        caller,
        intake_id,
        input,
        id=work_id,
        idempotency_key=key,
        request_digest=digest,
        callback_url=callback_url,
    )
    intake = service.directory.intake(intake_id)
    if intake is None:  # gone since ``receive`` found it usable
        raise NotFoundError("intake")
    if digest is None:
        _check_callback(service, intake, callback_url)
        _commit(service, receipt)
        return receipt.originator_id
    return _submit_once(service, intake, receipt, digest)


def _submit_once(
    service: Service, intake: Intake, receipt: WorkItem.Received, digest: str
) -> UUID:
    """Commit the keyed ``receipt`` unless its key was used already; its id either way."""
    work_id = receipt.originator_id
    with service.in_flight.hold(work_id, digest):
        if _recorded(service, work_id, digest):
            return work_id
        _check_callback(service, intake, receipt.callback_url)
        try:
            _commit(service, receipt)
        except RecordConflictError:
            # Another process recorded this key between our look and our save.
            if not _recorded(service, work_id, digest):
                raise
    return work_id


def _check_callback(service: Service, intake: Intake, callback_url: str | None) -> None:
    if callback_url is not None:
        check_callback_override(intake, callback_url, service.urls)


def _commit(service: Service, receipt: WorkItem.Received) -> None:
    service.committer.submit([receipt]).result()


def _recorded(service: Service, work_id: UUID, digest: str) -> bool:
    """Whether the keyed item is recorded already, for this very request; raises
    IdempotencyKeyReusedError when it was recorded for another."""
    try:
        item = service.work.item(work_id, version=1)
    except AggregateNotFoundError:
        return False
    if item.request_digest != digest:
        raise IdempotencyKeyReusedError(work_id)
    return True
