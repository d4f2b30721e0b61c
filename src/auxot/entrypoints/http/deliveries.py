"""Callback deliveries over HTTP: list them (dead letters first of all), show an item's
with every attempt, and redeliver one."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, Parameter
from litestar.status_codes import HTTP_202_ACCEPTED

from auxot.application.deliveries import Deliveries
from auxot.application.delivery_records import DeliveryRecord, decode_delivery
from auxot.application.keys import Caller
from auxot.application.pagination import MAX_LIMIT
from auxot.application.service import Service
from auxot.entrypoints.http.auth import provide_caller
from auxot.entrypoints.http.problems import bad_request, ref_or_404
from auxot.entrypoints.http.use_cases import run_use_case
from auxot.entrypoints.http.wire import Page

DeliveryStatusName = Literal["pending", "delivered", "dead"]


class DeliveriesController(Controller):
    path = "/v1"
    tags = ["callback deliveries"]  # noqa: RUF012 - Litestar reads it as a class attribute
    dependencies = {"caller": Provide(provide_caller)}  # noqa: RUF012

    @get(
        "/deliveries",
        summary="Callback deliveries of the key's teams",
        description=(
            "Oldest scheduled first; ?status=dead lists the dead letters. Each delivery "
            "comes with every attempt (time, status code, latency, error, next attempt)."
        ),
        response_description="One page",
    )
    async def list_deliveries(
        self,
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
        status: FromQuery[DeliveryStatusName | None] = None,
        limit: Annotated[int, Parameter(ge=1, le=MAX_LIMIT)] = 50,
        cursor: FromQuery[str | None] = None,
    ) -> Page[DeliveryRecord]:
        try:
            page = await run_use_case(
                lambda: Deliveries(service).page(caller, status, limit, cursor)
            )
        except ValueError:
            raise bad_request("The cursor is not one this API gave out.") from None
        return Page(items=[decode_delivery(r) for r in page.items], next_cursor=page.next_cursor)

    @get(
        "/work/{work_id:str}/deliveries",
        summary="A work item's callback deliveries, with every attempt",
        description="Empty when its intake has no callback URL or the item has not ended.",
        response_description="Its deliveries (at most one)",
    )
    async def of_work(
        self,
        work_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
    ) -> list[DeliveryRecord]:
        work = ref_or_404("work", work_id)
        return await run_use_case(lambda: Deliveries(service).of_work(caller, work))

    @post(
        "/deliveries/{delivery_id:str}/redeliver",
        status_code=HTTP_202_ACCEPTED,
        summary="Send a delivered or dead callback again, with the same webhook-id",
        description="409 while the delivery is pending or an attempt is in flight.",
        response_description="The delivery, pending again",
    )
    async def redeliver(
        self,
        delivery_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
    ) -> DeliveryRecord:
        return await run_use_case(lambda: Deliveries(service).redeliver(caller, delivery_id))
