"""An intake's callback signing secret: read it, rotate it. Team admins only (the team's
own key or an admin's user key); another key of the team gets 403, a key of another team
the one 404."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from litestar.status_codes import HTTP_200_OK

from auxot.application.keys import Caller
from auxot.application.refs import format_ref
from auxot.application.service import Service
from auxot.application.signing_secrets import DEFAULT_GRACE, IntakeSecrets, SecretView
from auxot.domain.durations import parse_duration
from auxot.domain.signing_secrets import SecretError
from auxot.entrypoints.http.auth import provide_caller
from auxot.entrypoints.http.bodies import json_object
from auxot.entrypoints.http.problems import ref_or_404, unprocessable
from auxot.entrypoints.http.use_cases import run_use_case
from auxot.entrypoints.http.wire import IntakeSecret, RotateSecret


class IntakeSecretController(Controller):
    path = "/v1/intakes/{intake_id:str}/secret"
    tags = ["administration"]  # noqa: RUF012 - Litestar reads it as a class attribute
    dependencies = {"caller": Provide(provide_caller)}  # noqa: RUF012

    @get(
        "/",
        summary="The intake's callback signing secret",
        description="Callbacks are signed per Standard Webhooks with this `whsec_` secret "
        "(docs/callbacks.md). Only the intake's team itself or its admins may read it.",
    )
    async def reveal(
        self,
        intake_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
    ) -> IntakeSecret:
        intake = ref_or_404("intake", intake_id)
        return secret_out(await run_use_case(lambda: IntakeSecrets(service).reveal(caller, intake)))

    @post(
        "/rotate",
        status_code=HTTP_200_OK,
        summary="Issue a new signing secret; the old one stays valid for a grace period",
        description='Optional body: `{"grace": "24h"}` (a duration or seconds, 0 to 7 '
        "days; default 24 hours). Until the grace period ends every callback carries a "
        "signature with each secret, so receivers can switch at any time within it.",
    )
    async def rotate(
        self,
        request: Request[Any, Any, Any],
        intake_id: FromPath[str],
        caller: NamedDependency[Caller],
        service: NamedDependency[Service],
    ) -> IntakeSecret:
        intake = ref_or_404("intake", intake_id)
        grace = _grace(request, await request.body())
        try:
            view = await run_use_case(lambda: IntakeSecrets(service).rotate(caller, intake, grace))
        except SecretError as exc:
            raise unprocessable(f"{exc}.") from None
        return secret_out(view)


def _grace(request: Request[Any, Any, Any], body: bytes) -> timedelta:
    """The body's grace period; no body (or no ``grace``) is the default."""
    if not body.strip():
        return DEFAULT_GRACE
    try:
        data = msgspec.convert(json_object(request, body), RotateSecret)
    except msgspec.ValidationError as exc:
        raise unprocessable(f"The body is not valid: {exc}.") from None
    if data.grace is None:
        return DEFAULT_GRACE
    try:
        return timedelta(seconds=parse_duration(data.grace))
    except (ValueError, OverflowError) as exc:  # timedelta overflows past 10**9 days
        raise unprocessable(f"grace: {exc}.") from None


def secret_out(view: SecretView) -> IntakeSecret:
    return IntakeSecret(
        intake_id=format_ref("intake", view.intake_id),
        secret=view.secret,
        previous_valid_until=view.previous_valid_until,
    )
