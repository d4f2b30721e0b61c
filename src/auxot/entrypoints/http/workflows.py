"""The workflow API: read a workflow and its versions, pause and activate it, start a
manual task ("New task")."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from auxot.application.keys import Caller
from auxot.application.lifecycle import Lifecycle, WorkflowSummary
from auxot.application.refs import format_ref
from auxot.application.service import Service
from auxot.application.stores import stamped
from auxot.entrypoints.http.auth import provide_caller
from auxot.entrypoints.http.bodies import json_object
from auxot.entrypoints.http.problems import ref_or_404
from auxot.entrypoints.http.use_cases import define_workflow_from, run_use_case, work_accepted
from auxot.entrypoints.http.wire import (
    WorkAccepted,
    WorkflowDefined,
    WorkflowVersion,
    WorkflowVersions,
)
from auxot.entrypoints.http.wire import WorkflowSummary as WorkflowSummaryWire


class WorkflowController(Controller):
    path = "/v1/workflows/{workflow_id:str}"
    tags = ["workflows"]  # noqa: RUF012 - Litestar reads it as a class attribute
    dependencies = {"caller": Provide(provide_caller)}  # noqa: RUF012

    @get("/", summary="A workflow: its status and current version")
    async def summary(
        self,
        workflow_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
    ) -> WorkflowSummaryWire:
        workflow = ref_or_404("workflow", workflow_id)
        return workflow_summary(
            await run_use_case(lambda: Lifecycle(service).workflow(caller, workflow))
        )

    @put(
        "/",
        summary="Define the workflow's next version",
        description="The body is the workflow as a workflow file's `workflows` entry; its "
        "name and team must be this workflow's. An unchanged definition records nothing; a "
        "changed one the next version (running items finish on theirs).",
    )
    async def define(
        self,
        request: Request[Any, Any, Any],
        workflow_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
    ) -> WorkflowDefined:
        at = ref_or_404("workflow", workflow_id)
        return await define_workflow_from(service, caller, request, at=at)

    @get("/versions", summary="The workflow's definition versions, oldest first")
    async def versions(
        self,
        workflow_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
    ) -> WorkflowVersions:
        workflow = ref_or_404("workflow", workflow_id)
        versions = await run_use_case(lambda: Lifecycle(service).versions(caller, workflow))
        return WorkflowVersions(
            workflow_id=format_ref("workflow", workflow),
            versions=[
                WorkflowVersion(
                    version=v.number,
                    created_at=v.created_at,
                    description=v.description,
                    steps=list(v.steps),
                )
                for v in versions
            ],
        )

    @post(
        "/pause",
        status_code=HTTP_200_OK,
        summary="Pause: new work waits as pending (idempotent)",
        description=(
            "Intake POSTs are still accepted (202); their items wait as pending until the "
            "workflow is activated. Items already running keep going."
        ),
    )
    async def pause(
        self,
        workflow_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
    ) -> WorkflowSummaryWire:
        workflow = ref_or_404("workflow", workflow_id)
        return workflow_summary(
            await run_use_case(lambda: Lifecycle(service).pause(caller, workflow))
        )

    @post(
        "/activate",
        status_code=HTTP_200_OK,
        summary="Activate: waiting items start in arrival order (idempotent)",
    )
    async def activate(
        self,
        workflow_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
    ) -> WorkflowSummaryWire:
        workflow = ref_or_404("workflow", workflow_id)
        return workflow_summary(
            await run_use_case(lambda: Lifecycle(service).activate(caller, workflow))
        )

    @post(
        "/tasks",
        status_code=HTTP_202_ACCEPTED,
        summary="New task: a work item with the given input and no intake",
        response_headers=[
            ResponseHeader(name="Location", description="Where to poll", documentation_only=True)
        ],
    )
    async def new_task(
        self,
        request: Request[Any, Any, Any],
        workflow_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
    ) -> Response[WorkAccepted]:
        workflow = ref_or_404("workflow", workflow_id)
        task_input = json_object(request, await request.body())
        item = await run_use_case(lambda: Lifecycle(service).new_task(caller, workflow, task_input))
        await service.committer.submit_async(stamped(item.collect_events(), caller.actor))
        return work_accepted(item.id)


def workflow_summary(summary: WorkflowSummary) -> WorkflowSummaryWire:
    return WorkflowSummaryWire(
        id=format_ref("workflow", summary.id),
        name=summary.name,
        team=summary.team,
        status=summary.status,
        current_version=summary.current_version,
    )
