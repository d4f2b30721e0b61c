"""``auxot audit verify``, ``audit checkpoint`` and ``audit seal``: the logs' hash chains."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from auxot.application.chain import Checkpoint
from auxot.application.chain_verify import LogReport, origin, seal_log, verify_log
from auxot.application.checkpoints import Checkpointer
from auxot.application.ports import ChainedLog
from auxot.application.service import Service
from auxot.entrypoints.cli.common import DATABASE as _DATABASE
from auxot.entrypoints.cli.common import fail as _fail
from auxot.entrypoints.cli.common import service_or_fail as _service
from auxot.entrypoints.cli.common import settings_or_fail as _settings

EXIT_TAMPERED = 1
NO_CHAIN = (
    "memory:// keeps its events in the process that holds them: there is no stored log to verify"
)


@contextmanager
def _chains(database_url: str | None) -> Iterator[tuple[Service, list[ChainedLog]]]:
    service = _service(_settings(database_url=database_url), run_worker=False)
    try:
        if not service.chains:
            _fail(NO_CHAIN, code=2)
        yield service, list(service.chains)
    finally:
        service.close()


@contextmanager
def _progress(label: str, length: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (stdout carries the result); where stderr is no terminal
    (cron, CI), a line at every tenth of the way instead."""
    if sys.stderr.isatty():
        with click.progressbar(length=length, label=label, file=sys.stderr) as bar:
            yield bar.update
        return
    done, shown = 0, -1

    def told(n: int) -> None:
        nonlocal done, shown
        done += n
        tenth = 10 * done // length if length else 10
        if tenth > shown:
            shown = tenth
            click.echo(f"{label}: {10 * tenth}%", err=True)

    click.echo(f"{label}: 0%", err=True)
    shown = 0
    yield told
    if shown < 10:
        click.echo(f"{label}: 100%", err=True)


# A checkpoint as `auxot audit checkpoint` prints it.
KEPT = re.compile(r"^\s*(\w+): position (\d+), (\d+) events?, sha256:([0-9a-f]{64})\s*$")


def _kept(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> list[Checkpoint]:
    kept = []
    for value in values:
        found = KEPT.match(value)
        if found is None:
            raise click.BadParameter(
                f"'{value}' is not a checkpoint as `auxot audit checkpoint` prints it: "
                "'LOG: position N, M events, sha256:HEX'"
            )
        log, position, events, digest = found.groups()
        kept.append(Checkpoint(log, int(position), bytes.fromhex(digest), int(events), None))
    return kept


@click.command("verify")
@_DATABASE
@click.option(
    "--expect",
    "kept",
    multiple=True,
    callback=_kept,
    metavar="CHECKPOINT",
    help="A checkpoint kept outside the database, as `auxot audit checkpoint` printed it "
    "('work: position 70, 70 events, sha256:...'); repeatable. It catches a log rewritten "
    "together with its stored checkpoints.",
)
def verify(database_url: str | None, kept: list[Checkpoint]) -> None:
    """Recompute every event's chain hash and every checkpoint; name the first event
    whose stored bytes were changed, removed or reordered. Exits 1 when anything does
    not verify (or events are not chained yet: see `auxot audit seal`)."""
    with _chains(database_url) as (_, chains):
        unknown = {c.log for c in kept} - {log.name for log in chains}
        if unknown:
            _fail(f"--expect names no log here: {', '.join(sorted(unknown))}", code=2)
        reports = []
        for log in chains:
            with _progress(f"verifying the {log.name} log", 2 * log.count()) as told:
                reports.append(verify_log(log, told, [c for c in kept if c.log == log.name]))
    for report in reports:
        click.echo(_describe(report))
    if not all(r.ok for r in reports):
        sys.exit(EXIT_TAMPERED)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _describe(report: LogReport) -> str:
    verdict = "verified" if report.ok else "NOT VERIFIED"
    events, checkpoints = _count(report.events, "event"), _count(report.checkpoints, "checkpoint")
    kept = f" (and {report.kept} kept outside)" if report.kept else ""
    head = f"{report.log}: {events}, {checkpoints}{kept}: {verdict}"
    lines = [head]
    if report.findings:
        lines.append(f"  first problem: {report.findings[0].describe()}")
        lines.extend(f"  then: {f.describe()}" for f in report.findings[1:])
        if report.problems > len(report.findings):
            lines.append(f"  ... {report.problems} problems in all")
    if report.unchained:
        lines.append(
            f"  {report.unchained} events have no chain hash (stored before chaining): "
            "`auxot audit seal` chains them as they stand"
        )
    latest = report.latest
    if latest is not None:
        lines.append(
            f"  latest checkpoint: position {latest.position}, {latest.events} events, "
            f"sha256:{latest.digest.hex()} ({origin(latest)}); "
            "keep it outside this database"
        )
    return "\n".join(lines)


@click.command("checkpoint")
@_DATABASE
def checkpoint(database_url: str | None) -> None:
    """Checkpoint each log now (workers do so every AUXOT_CHECKPOINT_SECONDS) and print
    the checkpoints, to keep outside this database."""
    with _chains(database_url) as (service, chains):
        checkpointer = Checkpointer(chains, service.clock)
        while checkpointer.run().behind:
            pass
        lines = [_checkpoint_line(log.name, log.latest_checkpoint()) for log in chains]
    click.echo("\n".join(lines))


def _checkpoint_line(log: str, latest: Checkpoint | None) -> str:
    if latest is None:
        return f"{log}: no events, no checkpoint"
    digest = latest.digest.hex()
    return f"{log}: position {latest.position}, {latest.events} events, sha256:{digest}"


@click.command("seal")
@_DATABASE
def seal(database_url: str | None) -> None:
    """Chain the events stored before chaining existed, trusting them as they stand now:
    run it once after upgrading (again if events were written meanwhile)."""
    with _chains(database_url) as (_, chains):
        for log in chains:
            with _progress(f"sealing the {log.name} log", log.count()) as told:
                sealed = seal_log(log, told)
            click.echo(f"{log.name}: {sealed} events chained")


def add_chain_commands(group: click.Group) -> None:
    """Register ``verify``, ``checkpoint`` and ``seal`` under ``auxot audit``."""
    for command in (verify, checkpoint, seal):
        group.add_command(command)
