"""The composition root: builds the whole object graph from Settings. Nothing else
constructs adapters or reads configuration."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from auxot.adapters.clock import SystemClock
from auxot.adapters.ids import RandomIds
from auxot.adapters.net_guard import NetGuard
from auxot.adapters.persistence import parse_database_url
from auxot.adapters.providers.openai import openai_factory
from auxot.adapters.providers.scripted import ScriptedProvider
from auxot.adapters.tools.http_tool import http_tool_factory
from auxot.application.admin import Admin
from auxot.application.directory import Directory
from auxot.application.engine import Engine
from auxot.application.group_commit import GroupCommitter
from auxot.application.ports import Clock, Ids, ProviderFactory
from auxot.application.projection import IndexProjection, WorkProjection
from auxot.application.projections import Projections
from auxot.application.providers import ProviderPool
from auxot.application.service import Service
from auxot.application.stores import Registry, WorkLog
from auxot.application.tools import Toolbox
from auxot.application.worker import Worker
from auxot.entrypoints.settings import Settings


def bootstrap(
    settings: Settings,
    *,
    run_worker: bool = True,
    clock: Clock | None = None,
    ids: Ids | None = None,
    providers: Mapping[str, ProviderFactory] | None = None,
) -> Service:
    """Wire Auxot on ``settings.database_url``. Call ``start()`` to run its worker.

    Without ``run_worker`` the service only serves (HTTP, CLI commands): it neither keeps
    the status projection nor runs steps; ``auxot worker`` processes do both.
    """
    database = parse_database_url(settings.database_url)
    clock = clock or SystemClock()
    ids = ids or RandomIds()
    with database.opening():  # fails fast when unreachable; creates tables one at a time
        registry = Registry(env=database.env(Registry.name))
        work = WorkLog(env=database.env(WorkLog.name))
        view = database.work_view(work)
        index = database.index_view(work)
        slots = database.provider_slots(work)
    directory = Directory(registry)
    pool = ProviderPool(
        providers or {"scripted": ScriptedProvider, "openai": openai_factory(settings.secrets)}
    )
    projection = WorkProjection(work, view)
    projections = Projections([projection, IndexProjection(work, index)])
    guard = NetGuard(allow_private=settings.allow_private_urls, allow=settings.url_allow_list)
    toolbox = Toolbox({"http": http_tool_factory(guard)})

    def wake() -> None:
        worker.events_recorded()

    engine = (
        Engine(
            work,
            view,
            directory,
            pool,
            clock,
            slots=slots,
            worker_id=settings.worker_id,
            lease_grace=timedelta(seconds=settings.lease_grace_seconds),
            threads=settings.step_threads,
            on_recorded=wake,
            toolbox=toolbox,
        )
        if run_worker
        else None
    )
    worker = Worker(
        projection if run_worker else None,
        directory,
        engine,
        poll_interval=settings.poll_interval,
        refresh_interval=settings.refresh_interval,
        drain_seconds=settings.drain_seconds,
        views=[p for p in projections if p is not projection],
    )

    committer = GroupCommitter(work.put_events, on_saved=wake)
    return Service(
        registry=registry,
        work=work,
        directory=directory,
        view=view,
        committer=committer,
        providers=pool,
        worker=worker,
        clock=clock,
        ids=ids,
        admin=Admin(registry, directory, clock, ids),
        slots=slots,
        index=index,
        projections=projections,
        toolbox=toolbox,
    )
