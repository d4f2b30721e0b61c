"""``auxot intakes``: an intake's callback signing secret, read and rotated locally (the
operator's CLI, trusted like a workflow file: no key needed)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

import click
import msgspec

from auxot.application.errors import NotFoundError
from auxot.application.refs import parse_ref
from auxot.application.signing_secrets import IntakeSecrets, SecretView
from auxot.domain.durations import parse_duration
from auxot.domain.signing_secrets import SecretError
from auxot.entrypoints.cli.common import (
    DATABASE,
    cli_actor,
    fail,
    service_or_fail,
    settings_or_fail,
)
from auxot.entrypoints.http.intake_secrets import secret_out


@click.group()
def intakes() -> None:
    """Intakes' callback signing secrets."""


def _run(
    intake_ref: str, database_url: str | None, use: Callable[[IntakeSecrets, UUID], SecretView]
) -> None:
    intake = parse_ref("intake", intake_ref)
    if intake is None:
        fail(f"'{intake_ref}' is not an intake id (intake_ followed by 32 hex digits)", 2)
    settings = settings_or_fail(database_url=database_url)
    service = service_or_fail(settings, run_worker=False)
    try:
        view = use(IntakeSecrets(service, cli_actor(settings)), intake)
    except NotFoundError:
        fail(f"no intake {intake_ref}", 1)
    except SecretError as exc:
        fail(str(exc), 2)
    finally:
        service.close()
    click.echo(msgspec.json.format(msgspec.json.encode(secret_out(view))).decode())


@intakes.command("secret")
@click.argument("intake_id")
@DATABASE
def secret(intake_id: str, database_url: str | None) -> None:
    """Print INTAKE_ID's signing secret (whsec_...) as JSON."""
    _run(intake_id, database_url, lambda secrets, id: secrets.reveal(None, id))


@intakes.command("rotate-secret")
@click.argument("intake_id")
@click.option(
    "--grace",
    default="24h",
    show_default=True,
    help="How long the old secret keeps signing too (0 to 7d): 90m, 24h, 2d.",
)
@DATABASE
def rotate_secret(intake_id: str, grace: str, database_url: str | None) -> None:
    """Give INTAKE_ID a new signing secret; print it as JSON. Until the grace period
    ends, callbacks carry a signature with the old secret too."""
    try:
        period = timedelta(seconds=parse_duration(grace))
    except (ValueError, OverflowError) as exc:
        fail(f"--grace: {exc}", 2)
    _run(intake_id, database_url, lambda secrets, id: secrets.rotate(None, id, period))
