"""Row details shared by the SQL work views."""

from __future__ import annotations

from uuid import UUID

NO_INTAKE = UUID(int=0)
"""Stored in ``work_status.intake_id`` for an item received with no intake (a manual
task): the column predates manual tasks and is NOT NULL, so tables created by earlier
releases need no migration. No intake has this id."""


def stored_intake(intake_id: UUID | None) -> UUID:
    return NO_INTAKE if intake_id is None else intake_id


def loaded_intake(stored: UUID) -> UUID | None:
    return None if stored == NO_INTAKE else stored
