"""The composition root: builds the whole object graph from Settings. Nothing else
constructs adapters or reads configuration."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from auxot.adapters.callbacks.httpx_sender import HttpxCallbackSender
from auxot.adapters.clock import SystemClock
from auxot.adapters.ids import RandomIds
from auxot.adapters.net_guard import NetGuard
from auxot.adapters.outbound_urls import GuardedUrls
from auxot.adapters.persistence import parse_database_url
from auxot.adapters.providers.openai import openai_factory
from auxot.adapters.providers.scripted import ScriptedProvider
from auxot.adapters.tools.http_tool import http_tool_factory
from auxot.application.admin import Admin
from auxot.application.audit import AuditProjection
from auxot.application.callbacks import CallbackOutbox
from auxot.application.checkpoints import Checkpointer
from auxot.application.deliverer import Deliverer, DeliveryRunner
from auxot.application.delivery_projection import delivery_projection
from auxot.application.directory import Directory
from auxot.application.engine import Engine
from auxot.application.group_commit import GroupCommitter
from auxot.application.ports import CallbackSender, Clock, Ids, ProviderFactory
from auxot.application.projection import IndexProjection, WorkProjection
from auxot.application.projections import Projections
from auxot.application.providers import ProviderPool
from auxot.application.service import Service
from auxot.application.signing_secrets import IntakeSecrets
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
    callback_sender: CallbackSender | None = None,
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
        directory = Directory(registry)
        # An item that ends schedules its callback in the same save (the outbox).
        work = WorkLog(env=database.env(WorkLog.name), on_ending=CallbackOutbox(directory))
        view = database.work_view(work)
        index = database.index_view(work)
        slots = database.provider_slots(work)
        deliveries = database.delivery_view(work)
        chains = [c for c in map(database.chained_log, (registry, work)) if c is not None]
        audit = AuditProjection(registry, work, database.audit_view(work))
    pool = ProviderPool(
        providers or {"scripted": ScriptedProvider, "openai": openai_factory(settings.secrets)}
    )
    projection = WorkProjection(work, view)
    delivering = delivery_projection(work, deliveries)
    projections = Projections([projection, IndexProjection(work, index), audit, delivering])
    guard = url_guard(settings)
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
    deliverer = (
        Deliverer(
            work,
            deliveries,
            registry,
            directory,
            callback_sender or default_callback_sender(settings, guard, clock),
            clock,
            deliverer_id=settings.worker_id,
            schedule=settings.callback_schedule,
            timeout=settings.callback_timeout,
            lease_grace=timedelta(seconds=settings.lease_grace_seconds),
            threads=settings.callback_threads,
            on_recorded=wake,
            signed_intake=lambda intake_id: IntakeSecrets(service).ensure(intake_id),
        )
        if run_worker
        else None
    )
    worker = Worker(
        projection if run_worker else None,
        directory,
        engine,
        deliveries=DeliveryRunner(delivering, deliverer) if run_worker else None,
        poll_interval=settings.poll_interval,
        refresh_interval=settings.refresh_interval,
        drain_seconds=settings.drain_seconds,
        checkpointer=Checkpointer(chains, clock) if run_worker and chains else None,
        checkpoint_interval=settings.checkpoint_seconds,
        # Each projection runs on one loop: status and deliveries on their own.
        views=[p for p in projections if p is not projection and p is not delivering],
    )

    committer = GroupCommitter(work.put_events, on_saved=wake)
    service = Service(
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
        urls=GuardedUrls(guard, allow_http=settings.allow_http_callbacks),
        audit=audit,
        index=index,
        projections=projections,
        toolbox=toolbox,
        chains=chains,
        deliveries=deliveries,
    )
    return service


def url_guard(settings: Settings) -> NetGuard:
    """The SSRF guard for every URL Auxot calls for others (tools, callbacks)."""
    return NetGuard(allow_private=settings.allow_private_urls, allow=settings.url_allow_list)


def default_callback_sender(
    settings: Settings, guard: NetGuard | None = None, clock: Clock | None = None
) -> CallbackSender:
    """What the deliverer POSTs callbacks with: signed, guarded, https unless allowed."""
    return HttpxCallbackSender(
        guard or url_guard(settings),
        allow_http=settings.allow_http_callbacks,
        timeout=settings.callback_timeout,
        clock=clock,
    )
