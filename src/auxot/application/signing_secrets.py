"""Intakes' callback signing secrets: issuing, revealing to a team's admins, rotating.

Every intake signs its callbacks with a secret of its own. ``auxot apply`` gives each
intake it opens a secret (and prints it once, in its report of what it created); an
intake recorded before secrets existed gets one on the next ``apply`` that names it, or
the first time its secret is asked for (``reveal``, ``rotate``, ``ensure``). The outbox
signs with ``signing_secrets(intake, now)``.

Only administrators of the intake's team may see or rotate its secret: the team's own
key, or a user key of one of its admins. Anyone else who may use the team is refused
(ForbiddenError); anyone who may not even see it gets NotFoundError, as for an unknown
intake. ``caller`` None is the local CLI, trusted with everything.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

import attrs
from eventsourcing.application import AggregateNotFoundError

from auxot.application.errors import ForbiddenError, NotFoundError
from auxot.application.keys import Caller, actor_of
from auxot.application.ports import Ids
from auxot.application.saving import retrying
from auxot.domain.actor import SYSTEM, Actor
from auxot.domain.intake import Intake
from auxot.domain.signing_secrets import format_secret

if TYPE_CHECKING:
    from auxot.application.service import Service

KEY_BYTES = 32
DEFAULT_GRACE = timedelta(hours=24)


def new_signing_secret(ids: Ids) -> str:
    """A fresh ``whsec_`` secret of KEY_BYTES random bytes from ``ids``."""
    token = ids.secret(KEY_BYTES)  # URL-safe base64 without padding
    key = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    return format_secret(key)


def signing_secrets(intake: Intake, now: datetime) -> tuple[str, ...]:
    """The secrets to sign ``intake``'s callbacks with at ``now``: the current one, then
    the previous one while its grace period runs. Empty for an intake that has never
    been given one: call ``IntakeSecrets.ensure`` first (never send unsigned)."""
    return intake.signing.valid_at(now)


@attrs.frozen
class SecretView:
    """What an admin is shown: the current secret, and until when the previous one
    (not shown: receivers already hold it) is still valid, if it is."""

    intake_id: UUID
    secret: str = attrs.field(repr=False)
    previous_valid_until: datetime | None


@attrs.frozen
class IntakeSecrets:
    service: Service
    local: Actor = SYSTEM
    """Who acts for a caller of None: the user at the command line, or the process
    itself (``system``: a worker issuing a secret before an intake's first callback)."""

    def reveal(self, caller: Caller | None, intake_id: UUID) -> SecretView:
        self._administered(caller, intake_id)
        return self._view(self.ensure(intake_id, self._actor(caller)))

    def rotate(
        self, caller: Caller | None, intake_id: UUID, grace: timedelta = DEFAULT_GRACE
    ) -> SecretView:
        """Issue a new secret; the one it replaces stays valid for ``grace``.
        SecretError (a ValueError) for a grace period out of bounds."""
        self._administered(caller, intake_id)
        secret = new_signing_secret(self.service.ids)

        def rotate(intake: Intake) -> None:
            intake.rotate_secret(secret, grace, self.service.clock.now())

        return self._view(self._change(intake_id, rotate, self._actor(caller)))

    def ensure(self, intake_id: UUID, actor: Actor | None = None) -> Intake:
        """The intake, given a secret first (by ``actor``, else ``local``) when it has
        none (one recorded before secrets existed). NotFoundError when there is no such
        intake."""
        known = self.service.directory.intake(intake_id)
        if known is not None and known.signing.current is not None:
            return known
        secret = new_signing_secret(self.service.ids)

        def issue(intake: Intake) -> None:
            intake.issue_secret(secret, self.service.clock.now())

        return self._change(intake_id, issue, actor or self.local)

    def _actor(self, caller: Caller | None) -> Actor:
        return actor_of(caller, self.local)

    def _administered(self, caller: Caller | None, intake_id: UUID) -> None:
        directory = self.service.directory
        intake = directory.intake(intake_id)
        if intake is None or not _usable(intake, caller):
            directory.refresh_soon()  # created, or the caller's team changed, just now?
            intake = directory.intake(intake_id)
        if intake is None or not _usable(intake, caller):
            raise NotFoundError("intake")
        if caller is not None and not caller.may_administer(intake.team_id):
            raise ForbiddenError("only the intake's team itself or its admins may do this")

    def _change(self, intake_id: UUID, change: Callable[[Intake], None], actor: Actor) -> Intake:
        registry = self.service.registry

        def attempt() -> Intake:
            try:
                intake = registry.get(Intake, intake_id)
            except AggregateNotFoundError:
                raise NotFoundError("intake") from None
            change(intake)
            if intake.pending_events:
                registry.save(intake, actor=actor)
            return intake

        intake = retrying(attempt)
        self.service.directory.refresh()  # this process signs with it at once
        return intake

    def _view(self, intake: Intake) -> SecretView:
        signing = intake.signing
        assert signing.current is not None
        now = self.service.clock.now()
        until = signing.previous_valid_until if signing.previous_valid(now) else None
        return SecretView(intake.id, signing.current, until)


def _usable(intake: Intake, caller: Caller | None) -> bool:
    return caller is None or caller.may_use(intake.team_id)
