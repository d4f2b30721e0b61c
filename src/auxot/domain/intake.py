"""An intake: the authenticated webhook through which work arrives for a workflow."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.domain import Aggregate

from auxot.domain.events import AuxotAggregate, recorded_as
from auxot.domain.signing_secrets import SigningSecrets, grace_until, secret_key


@recorded_as("Intake")
class Intake(AuxotAggregate):
    class Opened(Aggregate.Created):
        name: str
        team_id: UUID
        workflow_id: UUID
        callback_url: str | None

    class Reconfigured(Aggregate.Event):
        workflow_id: UUID
        callback_url: str | None

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Intake)
            aggregate.workflow_id = self.workflow_id
            aggregate.callback_url = self.callback_url

    class CallbackOverrideSet(Aggregate.Event):
        """Whether a request may name its own callback URL (off until this is recorded)."""

        allowed: bool

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Intake)
            aggregate.allow_callback_override = self.allowed

    class Deactivated(Aggregate.Event):
        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Intake)
            aggregate.active = False

    class Activated(Aggregate.Event):
        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Intake)
            aggregate.active = True

    # Callback signing (see signing_secrets.py). Intakes opened before secrets existed
    # have none until ``issue_secret`` (on the next ``apply``, or when one is asked for).
    class SecretIssued(Aggregate.Event):
        secret: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Intake)
            aggregate.signing = SigningSecrets(self.secret)

    class SecretRotated(Aggregate.Event):
        secret: str
        previous_valid_until: datetime

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Intake)
            aggregate.signing = aggregate.signing.rotated(self.secret, self.previous_valid_until)
    class CallbackDisabled(Aggregate.Event):
        """The receiver at ``url`` answered 410 Gone: no more callbacks go there (a new
        callback URL enables callbacks again)."""

        url: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Intake)
            aggregate.disabled_callback_url = self.url

    def __init__(
        self, name: str, team_id: UUID, workflow_id: UUID, callback_url: str | None
    ) -> None:
        self.name = name
        self.team_id = team_id
        self.workflow_id = workflow_id
        self.callback_url = callback_url
        self.active = True
        self.allow_callback_override = False
        self.signing = SigningSecrets()
        self.disabled_callback_url: str | None = None

    @classmethod
    def open(
        cls,
        id: UUID,
        name: str,
        team_id: UUID,
        workflow_id: UUID,
        callback_url: str | None,
        at: datetime,
    ) -> Intake:
        return cls._create(
            cls.Opened,
            id=id,
            name=name,
            team_id=team_id,
            workflow_id=workflow_id,
            callback_url=callback_url,
            timestamp=at,
        )

    def reconfigure(self, workflow_id: UUID, callback_url: str | None, at: datetime) -> None:
        if (workflow_id, callback_url) == (self.workflow_id, self.callback_url):
            return
        self.trigger_event(
            self.Reconfigured, workflow_id=workflow_id, callback_url=callback_url, timestamp=at
        )

    def set_callback_override(self, allowed: bool, at: datetime) -> None:
        if allowed != self.allow_callback_override:
            self.trigger_event(self.CallbackOverrideSet, allowed=allowed, timestamp=at)

    def deactivate(self, at: datetime) -> None:
        if self.active:
            self.trigger_event(self.Deactivated, timestamp=at)

    def activate(self, at: datetime) -> None:
        if not self.active:
            self.trigger_event(self.Activated, timestamp=at)

    def issue_secret(self, secret: str, at: datetime) -> None:
        """Give the intake its first signing secret; nothing when it has one."""
        secret_key(secret)  # refuses a malformed one
        if self.signing.current is None:
            self.trigger_event(self.SecretIssued, secret=secret, timestamp=at)

    def rotate_secret(self, secret: str, grace: timedelta, at: datetime) -> None:
        """Sign with ``secret`` from ``at`` on; the replaced secret stays valid for
        ``grace`` (0 to MAX_GRACE)."""
        secret_key(secret)
        valid_until = grace_until(at, grace)
        self.trigger_event(
            self.SecretRotated, secret=secret, previous_valid_until=valid_until, timestamp=at
        )
    @property
    def live_callback_url(self) -> str | None:
        """The callback URL, unless its receiver asked (410 Gone) not to be called."""
        return None if self.callback_url == self.disabled_callback_url else self.callback_url

    def disable_callback(self, url: str, at: datetime) -> None:
        """``url`` answered 410 Gone; nothing when the intake has moved to another URL."""
        if url == self.callback_url and url != self.disabled_callback_url:
            self.trigger_event(self.CallbackDisabled, url=url, timestamp=at)
