"""HTTP wire types (msgspec Structs). Domain objects never cross the wire unconverted."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

import msgspec

T = TypeVar("T")


class WorkAccepted(msgspec.Struct, kw_only=True):
    work_id: str


class Health(msgspec.Struct, kw_only=True):
    status: str
    database: str
    projected_position: int


class WorkflowSummary(msgspec.Struct, kw_only=True):
    id: str
    name: str
    team: str
    status: str  # active | paused
    current_version: int


class Defined(msgspec.Struct, kw_only=True):
    """What defining an agent, an intake or a team did: ``created``, ``updated`` or
    ``unchanged``."""

    id: str
    name: str
    outcome: str
    # A newly created intake's callback signing secret, shown this once (an admin of its
    # team can read it again: GET /v1/intakes/{id}/secret).
    secret: str | msgspec.UnsetType = msgspec.UNSET


class WorkflowDefined(msgspec.Struct, kw_only=True):
    """What defining a workflow did: ``created``, ``updated`` (a new version) or
    ``unchanged``; ``warnings`` as ``auxot apply`` prints them."""

    id: str
    name: str
    outcome: str
    version: int
    warnings: list[str]


class WorkflowVersion(msgspec.Struct, kw_only=True):
    version: int
    created_at: datetime
    description: str
    steps: list[str]  # the step keys, entry step first


class WorkflowVersions(msgspec.Struct, kw_only=True):
    workflow_id: str
    versions: list[WorkflowVersion]  # oldest first


# -- administration ------------------------------------------------------------------------


class TeamOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    members: list[str]
    admins: list[str]


class IntakeOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    team_id: str
    workflow_id: str
    active: bool
    callback_url: str | None
    allow_callback_override: bool


class IntakeSecret(msgspec.Struct, kw_only=True):
    """An intake's callback signing secret, for its team's admins. After a rotation the
    replaced secret (not shown) still signs until ``previous_valid_until``."""

    intake_id: str
    secret: str  # whsec_...: give it to the callback receiver
    previous_valid_until: datetime | None


class RotateSecret(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    grace: str | float | None = None  # "24h", "90m" or seconds; default 24 hours


class ProviderOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    kind: str
    max_parallel: int
    settings: dict[str, Any]


class AgentOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    team_id: str
    instructions: str
    provider: str
    model: str | None
    tools: list[str]
    max_turns: int


class ToolOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    kind: str
    description: str
    parameters: dict[str, Any]
    settings: dict[str, Any]


class KeyOut(msgspec.Struct, kw_only=True):
    id: str
    kind: str
    owner: str
    created_at: datetime
    expires_at: datetime | None
    revoked: bool


class NewKey(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Exactly one of ``team`` (a team key) or ``user`` (a user key for yourself)."""

    team: str | None = None
    user: str | None = None


class KeyCreated(msgspec.Struct, kw_only=True):
    id: str
    key: str
    kind: str
    owner: str


class Page(msgspec.Struct, Generic[T], kw_only=True):
    """One page of a list; pass ``next_cursor`` as ``cursor`` for the next (null: the
    last page)."""

    items: list[T]
    next_cursor: str | None
