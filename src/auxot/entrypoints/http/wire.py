"""HTTP wire types (msgspec Structs). Domain objects never cross the wire unconverted."""

from __future__ import annotations

import msgspec


class WorkAccepted(msgspec.Struct, kw_only=True):
    work_id: str


class Health(msgspec.Struct, kw_only=True):
    status: str
    database: str
    projected_position: int
