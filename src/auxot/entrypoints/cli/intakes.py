"""``auxot intakes``: an intake's callback signing secret, read and rotated locally (the
operator's CLI, trusted like a workflow file: no key needed)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import NoReturn, Protocol, TypeVar
from uuid import UUID

import click
import msgspec

from auxot.application.errors import NotFoundError
from auxot.application.refs import parse_ref
from auxot.application.service import Service
from auxot.application.signing_secrets import IntakeSecrets, SecretView
from auxot.domain.durations import parse_duration
from auxot.domain.signing_secrets import SecretError
from auxot.entrypoints.http.intake_secrets import secret_out

F = TypeVar("F", bound=Callable[..., object])


class Option(Protocol):
    """A click option, as a decorator."""

    def __call__(self, command: F, /) -> F: ...


def intakes_group(
    open_service: Callable[[str | None], Service],
    database_option: Option,
    fail: Callable[[str, int], NoReturn],
) -> click.Group:
    """The command group, given how the CLI opens a service on ``--database``, that
    option, and how it reports a failure (message, exit status)."""

    @click.group()
    def intakes() -> None:
        """Intakes' callback signing secrets."""

    def run(
        intake_ref: str, database_url: str | None, use: Callable[[IntakeSecrets, UUID], SecretView]
    ) -> None:
        intake = parse_ref("intake", intake_ref)
        if intake is None:
            fail(f"'{intake_ref}' is not an intake id (intake_ followed by 32 hex digits)", 2)
        service = open_service(database_url)
        try:
            view = use(IntakeSecrets(service), intake)
        except NotFoundError:
            fail(f"no intake {intake_ref}", 1)
        except SecretError as exc:
            fail(str(exc), 2)
        finally:
            service.close()
        click.echo(msgspec.json.format(msgspec.json.encode(secret_out(view))).decode())

    @intakes.command("secret")
    @click.argument("intake_id")
    @database_option
    def secret(intake_id: str, database_url: str | None) -> None:
        """Print INTAKE_ID's signing secret (whsec_...) as JSON."""
        run(intake_id, database_url, lambda secrets, id: secrets.reveal(None, id))

    @intakes.command("rotate-secret")
    @click.argument("intake_id")
    @click.option(
        "--grace",
        default="24h",
        show_default=True,
        help="How long the old secret keeps signing too (0 to 7d): 90m, 24h, 2d.",
    )
    @database_option
    def rotate_secret(intake_id: str, grace: str, database_url: str | None) -> None:
        """Give INTAKE_ID a new signing secret; print it as JSON. Until the grace period
        ends, callbacks carry a signature with the old secret too."""
        try:
            period = timedelta(seconds=parse_duration(grace))
        except (ValueError, OverflowError) as exc:
            fail(f"--grace: {exc}", 2)
        run(intake_id, database_url, lambda secrets, id: secrets.rotate(None, id, period))

    return intakes
