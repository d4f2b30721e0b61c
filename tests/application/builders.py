"""Builders for application tests: a Service on the in-memory store, and declarations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auxot.adapters.clock import ManualClock
from auxot.adapters.providers.scripted import ScriptedProvider
from auxot.application.declarations import (
    Declaration,
    HandoffDecl,
    IntakeDecl,
    ProviderDecl,
    StepDecl,
    TeamDecl,
    WorkflowDecl,
)
from auxot.application.ports import ProviderFactory
from auxot.application.service import Service
from auxot.entrypoints.bootstrap import bootstrap
from auxot.entrypoints.settings import Settings


def memory_service(
    clock: ManualClock | None = None,
    providers: Mapping[str, ProviderFactory] | None = None,
    **settings: Any,
) -> Service:
    """A Service on ``memory://``; its worker threads are not started."""
    factories = {"scripted": ScriptedProvider, **(providers or {})}
    return bootstrap(
        Settings(database_url="memory://", worker_id="worker-a", **settings),
        clock=clock or ManualClock(),
        providers=factories,
    )


def linear_workflow(
    name: str = "triage",
    team: str = "support",
    provider: str = "offline",
    prompts: tuple[str, ...] = ("Classify {{ input.subject }}", "Reply to {{ input.customer }}"),
) -> WorkflowDecl:
    """Steps ``step1``, ``step2``, ... each handing off by default to the next, the
    last to ``complete``."""
    keys = [f"step{n}" for n in range(1, len(prompts) + 1)]
    targets = [*keys[1:], "complete"]
    return WorkflowDecl(
        name=name,
        team=team,
        steps=tuple(
            StepDecl(
                key=key, prompt=prompt, provider=provider,
                handoffs=(HandoffDecl("default", target),),
            )
            for key, prompt, target in zip(keys, prompts, targets, strict=True)
        ),
    )


def declaration(
    *,
    members: tuple[str, ...] = (),
    provider: ProviderDecl | None = None,
    workflow: WorkflowDecl | None = None,
    intakes: tuple[str, ...] = ("triage",),
) -> Declaration:
    """Team ``support``, provider ``offline`` (scripted), one workflow and its intakes."""
    workflow = workflow or linear_workflow()
    return Declaration(
        teams=(TeamDecl("support", members),),
        providers=(provider or ProviderDecl("offline", "scripted"),),
        workflows=(workflow,),
        intakes=tuple(IntakeDecl(name, workflow.name, workflow.team) for name in intakes),
    )


def ids_of(applied: list[Any], kind: str) -> dict[str, str]:
    """The public references of what ``apply`` reported, by name."""
    return {a.name: a.id for a in applied if a.kind == kind}
