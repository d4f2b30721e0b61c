"""The Litestar application: routes, dependencies, errors as RFC 9457 problems."""

from __future__ import annotations

import anyio.to_thread
from litestar import Litestar, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsPlugin

from auxot.application.service import Service
from auxot.entrypoints.http.admin import ADMIN_CONTROLLERS
from auxot.entrypoints.http.audit import AuditController, WorkHistoryController
from auxot.entrypoints.http.deliveries import DeliveriesController
from auxot.entrypoints.http.intake import IntakeController
from auxot.entrypoints.http.intake_fast_path import SERVICE_STATE_KEY
from auxot.entrypoints.http.intake_secrets import IntakeSecretController
from auxot.entrypoints.http.problems import internal_error
from auxot.entrypoints.http.tasks import TasksController
from auxot.entrypoints.http.views import ViewsController
from auxot.entrypoints.http.wire import Health
from auxot.entrypoints.http.work import WorkController
from auxot.entrypoints.http.workflows import WorkflowController


def create_app(
    service: Service,
    *,
    max_body_bytes: int = 1024 * 1024,
    manage_service: bool = True,
    intake_fast_path: bool = True,
) -> Litestar:
    """The HTTP app over ``service``. With ``manage_service`` the app starts the service's
    worker on startup and closes the service on shutdown. ``intake_fast_path`` False sends
    every submission through the regular handler (the tests compare both paths)."""

    @get("/health", tags=["operations"], summary="Liveness and database reachability")
    async def health() -> Health:
        position = await anyio.to_thread.run_sync(service.view.max_tracking_id, service.work.name)
        return Health(status="ok", database="ok", projected_position=position or 0)

    async def provide_service() -> Service:
        return service

    return Litestar(
        route_handlers=[
            health,
            IntakeController,
            WorkflowController,
            WorkController,
            WorkHistoryController,
            AuditController,
            TasksController,
            IntakeSecretController,
            DeliveriesController,
            ViewsController,
            *ADMIN_CONTROLLERS,
        ],
        dependencies={"service": Provide(provide_service, use_cache=True)},
        plugins=[ProblemDetailsPlugin(ProblemDetailsConfig(enable_for_all_http_exceptions=True))],
        exception_handlers={Exception: internal_error},
        request_max_body_size=max_body_bytes,
        state=State({SERVICE_STATE_KEY: service if intake_fast_path else None}),
        openapi_config=OpenAPIConfig(title="Auxot", version="0.1.0", path="/schema"),
        on_startup=[service.start] if manage_service else [],
        on_shutdown=[service.close] if manage_service else [],
        debug=False,
    )


__all__ = ["HTTPException", "create_app"]
