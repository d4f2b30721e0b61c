"""``auxot deliveries``: list callback deliveries (the dead letters), redeliver one."""

from __future__ import annotations

import click
import msgspec

from auxot.application.deliveries import STATUSES, Deliveries
from auxot.application.delivery_records import decode_delivery
from auxot.application.lifecycle import ConflictError
from auxot.application.service import NotFoundError
from auxot.entrypoints.cli.common import DATABASE as _DATABASE
from auxot.entrypoints.cli.common import cli_actor
from auxot.entrypoints.cli.common import fail as _fail
from auxot.entrypoints.cli.common import service_or_fail as _service
from auxot.entrypoints.cli.common import settings_or_fail as _settings


@click.group()
def deliveries() -> None:
    """Callback deliveries: list them (--status dead for the dead letters), redeliver one."""


@deliveries.command("list")
@click.option("--status", type=click.Choice(STATUSES), default=None, help="Only these.")
@click.option("--limit", type=click.IntRange(1, 100), default=100, show_default=True)
@_DATABASE
def deliveries_list(status: str | None, limit: int, database_url: str | None) -> None:
    """Print deliveries as JSON, oldest scheduled first, each with every attempt."""
    service = _service(_settings(database_url=database_url), run_worker=False)
    try:
        page = Deliveries(service).page(None, status, limit, None)
    finally:
        service.close()
    records = [decode_delivery(raw) for raw in page.items]
    click.echo(msgspec.json.format(msgspec.json.encode(records)).decode())


@deliveries.command("redeliver")
@click.argument("delivery_id")
@_DATABASE
def deliveries_redeliver(delivery_id: str, database_url: str | None) -> None:
    """Send DELIVERY_ID (msg_...) again, with the same webhook-id; print it as JSON."""
    settings = _settings(database_url=database_url)
    service = _service(settings, run_worker=False)
    try:
        record = Deliveries(service, cli_actor(settings)).redeliver(None, delivery_id)
    except NotFoundError:
        _fail(f"no callback delivery {delivery_id}")
    except ConflictError as exc:
        _fail(str(exc))
    finally:
        service.close()
    click.echo(msgspec.json.format(msgspec.json.encode(record)).decode())
