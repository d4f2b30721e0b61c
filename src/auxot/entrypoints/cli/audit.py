"""``auxot audit``: a work item's timeline (``auxot audit WORK_ID``), the item as it stood
at a past point (``--at``), and ``auxot audit export`` of the history as JSON Lines.

The group runs ``show`` when its first argument is not one of its subcommands, so that
``auxot audit WORK_ID`` reads naturally; another subcommand is one more
``@audit.command(...)`` here.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import click
import msgspec

from auxot.application.errors import NotFoundError
from auxot.application.export import export_events
from auxot.application.history import EventEntry, History, PointInTimeError, parse_point
from auxot.application.refs import parse_ref
from auxot.application.service import Service
from auxot.entrypoints.cli.common import DATABASE, fail, service_or_fail, settings_or_fail

PROGRESS_EVERY_SECONDS = 0.5
DATA_WIDTH = 100


class _DefaultToShow(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultToShow)
def audit() -> None:
    """The history: a work item's timeline (auxot audit WORK_ID), its state at a past
    point (--at), and an export of every event (auxot audit export)."""


def _open(database_url: str | None) -> Service:
    return service_or_fail(settings_or_fail(database_url=database_url), run_worker=False)


@audit.command("show")
@click.argument("work_id")
@click.option(
    "--at",
    "point",
    default=None,
    metavar="VERSION|TIME",
    help="Print the item's record as it stood then: after its VERSION-th event, or at an "
    "ISO 8601 TIME with a zone (2026-12-01T09:30:00Z).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event.")
@DATABASE
def show(work_id: str, point: str | None, as_json: bool, database_url: str | None) -> None:
    """Print WORK_ID's events in order: version, time, actor, type and data."""
    work = parse_ref("work", work_id)
    if work is None:
        fail(f"'{work_id}' is not a work id (work_ followed by 32 hex digits)", code=2)
    try:
        at = None if point is None else parse_point(point)
    except PointInTimeError as exc:
        fail(f"--at: {exc}", code=2)
    service = _open(database_url)
    history = History(service.work, service.directory)
    try:
        if at is not None:
            click.echo(msgspec.json.format(history.record_at(None, work, at)).decode())
            return
        entries = history.events(None, work)
    except NotFoundError:
        what = "no work item" if at is None else "nothing recorded by then for work item"
        fail(f"{what} {work_id}")
    finally:
        service.close()
    for entry in entries:
        click.echo(json.dumps(_as_data(entry)) if as_json else _line(entry))


@audit.command("export")
@click.option("--from", "since", default=None, metavar="TIME", help="From this time (inclusive).")
@click.option("--to", "until", default=None, metavar="TIME", help="Up to this time (exclusive).")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write to this file instead of standard output.",
)
@DATABASE
def export(
    since: str | None, until: str | None, output: Path | None, database_url: str | None
) -> None:
    """Write every event recorded in the time range as JSON Lines: the registry's, then
    the work log's, each in recorded order. Progress goes to standard error."""
    start, end = _time("--from", since), _time("--to", until)
    service = _open(database_url)
    try:
        if output is None:
            written = _write_events(service, start, end, sys.stdout)
        else:
            with output.open("w", encoding="utf-8") as out:
                written = _write_events(service, start, end, out)
    finally:
        service.close()
    click.echo(f"auxot: exported {written} events", err=True)


def _write_events(
    service: Service, since: datetime | None, until: datetime | None, out: IO[str]
) -> int:
    shown = [0.0]

    def progress(log: str, position: int, last: int) -> None:
        now = time.monotonic()
        if position in (0, last) or now - shown[0] >= PROGRESS_EVERY_SECONDS:
            shown[0] = now
            click.echo(f"auxot: {log} log: {position} of {last} read", err=True)

    written = 0
    for exported in export_events([service.registry, service.work], since, until, progress):
        out.write(json.dumps(exported.as_data()) + "\n")
        written += 1
    return written


def _time(option: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        point = parse_point(text)
    except PointInTimeError as exc:
        fail(f"{option}: {exc}", code=2)
    if not isinstance(point, datetime):
        fail(f"{option}: give a time (2026-12-01T09:30:00Z), not a version", code=2)
    return point


def _as_data(entry: EventEntry) -> dict[str, Any]:
    return {
        "version": entry.version,
        "at": entry.at.isoformat(),
        "type": entry.type,
        "actor": entry.actor.text,
        "data": entry.data,
    }


def _line(entry: EventEntry) -> str:
    data = json.dumps(entry.data, separators=(",", ":"))
    if len(data) > DATA_WIDTH:
        data = data[: DATA_WIDTH - 3] + "..."
    return (
        f"{entry.version:>4}  {entry.at.isoformat()}  {entry.type:<26} {entry.actor.text}  {data}"
    )
