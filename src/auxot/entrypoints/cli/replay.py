"""``auxot replay``: rebuild projections from the event log while the live ones keep
serving, then hand over in one transaction."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from auxot.application.projections import Projection
from auxot.application.replay import Progress, ReplayError, replay
from auxot.application.service import Service

REPORT_EVERY = 0.1
"""Without a terminal, a progress line each time another tenth of the log is done."""
BAR_WIDTH = 30


def replay_command(
    database_option: Callable[[Any], Any],
    settings: Callable[..., Any],
    service_of: Callable[..., Service],
    fail: Callable[..., Any],
) -> click.Command:
    """The command, built with the CLI's shared option and helpers."""

    @click.command("replay")
    @click.option(
        "--projection",
        "names",
        multiple=True,
        metavar="NAME",
        help="Rebuild only this projection (repeatable) [default: all]",
    )
    @database_option
    def command(names: tuple[str, ...], database_url: str | None) -> None:
        """Rebuild projections from the whole event log, beside the live ones, and hand
        over without a gap. Workers and servers may keep running meanwhile."""
        service = service_of(settings(database_url=database_url), run_worker=False)
        try:
            for projection in _chosen(service, names, fail):
                try:
                    done = replay(projection, _progress(projection))
                except ReplayError as exc:
                    fail(str(exc))
                rate = done.events / done.seconds if done.seconds > 0 else 0.0
                click.echo(
                    f"{done.name}: rebuilt from {done.events} events in {done.seconds:.1f} s "
                    f"({rate:,.0f} events/s); live at position {done.position}"
                )
        finally:
            service.close()

    return command


def _chosen(service: Service, names: tuple[str, ...], fail: Callable[..., Any]) -> list[Projection]:
    if not names:
        return list(service.projections)
    unknown = [n for n in names if service.projections.get(n) is None]
    if unknown:
        known = ", ".join(service.projections.names)
        fail(f"no projection named {', '.join(unknown)}; known: {known}", 2)
    return [p for n in names if (p := service.projections.get(n)) is not None]


def _progress(projection: Projection) -> Progress:
    """A bar redrawn in place on a terminal; otherwise a line per tenth of the log. Both
    on stderr, so stdout holds only the results."""
    name, terminal, reported = projection.name, sys.stderr.isatty(), [-1]

    def show(position: int, head: int) -> None:
        share = position / head if head else 1.0
        if terminal:
            filled = int(share * BAR_WIDTH)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            done = position >= head
            line = f"\r{name} [{bar}] {position}/{head} ({share:.0%})"
            click.echo(line, nl=done, err=True)
        elif int(share / REPORT_EVERY) > reported[0]:
            reported[0] = int(share / REPORT_EVERY)
            click.echo(f"{name}: {position}/{head} events ({share:.0%})", err=True)

    return show
