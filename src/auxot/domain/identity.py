"""Deterministic identities for named resources.

Declared resources (teams, providers, workflows, intakes) are identified by name, so their
ids are name-based UUIDs: applying the same file twice finds the same aggregates, and two
processes racing to create one collide on the id instead of creating two.
"""

from __future__ import annotations

from uuid import UUID, uuid5

_NAMESPACE = UUID("9a1f7c3e-5b2d-4e8a-b6c4-0d3e2f1a7b59")


def team_id(name: str) -> UUID:
    return uuid5(_NAMESPACE, f"team/{name}")


def provider_id(name: str) -> UUID:
    return uuid5(_NAMESPACE, f"provider/{name}")


def workflow_id(team: str, name: str) -> UUID:
    return uuid5(_NAMESPACE, f"workflow/{team}/{name}")


def intake_id(team: str, name: str) -> UUID:
    return uuid5(_NAMESPACE, f"intake/{team}/{name}")


def agent_id(team: str, name: str) -> UUID:
    return uuid5(_NAMESPACE, f"agent/{team}/{name}")


def tool_id(name: str) -> UUID:
    return uuid5(_NAMESPACE, f"tool/{name}")
