"""HTTP wire types (msgspec Structs). Domain objects never cross the wire unconverted."""

from __future__ import annotations

from datetime import datetime

import msgspec


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


class WorkflowVersion(msgspec.Struct, kw_only=True):
    version: int
    created_at: datetime
    description: str
    steps: list[str]  # the step keys, entry step first


class WorkflowVersions(msgspec.Struct, kw_only=True):
    workflow_id: str
    versions: list[WorkflowVersion]  # oldest first
