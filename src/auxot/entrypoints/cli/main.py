"""``auxot``: serve, run workers, apply workflow files, manage keys, replay projections,
run the demo."""

from __future__ import annotations

import gc
import json
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any, Literal

import click
import msgspec
import uvicorn

from auxot.application.declarations import Applied, DeclarationError
from auxot.application.keys import UnknownTeamError
from auxot.application.lifecycle import Lifecycle
from auxot.application.refs import format_ref, parse_ref
from auxot.application.service import NotFoundError, Service
from auxot.domain.identity import workflow_id
from auxot.domain.work_item import WorkItemError
from auxot.entrypoints.cli.audit import audit
from auxot.entrypoints.cli.audit_verify import add_chain_commands
from auxot.entrypoints.cli.common import DATABASE as _DATABASE
from auxot.entrypoints.cli.common import cli_actor
from auxot.entrypoints.cli.common import describe as _describe
from auxot.entrypoints.cli.common import fail as _fail
from auxot.entrypoints.cli.common import service_or_fail as _service
from auxot.entrypoints.cli.common import settings_or_fail as _settings
from auxot.entrypoints.cli.deliveries import deliveries
from auxot.entrypoints.cli.intakes import intakes
from auxot.entrypoints.cli.replay import replay_command
from auxot.entrypoints.http.tasks import task_of_row
from auxot.entrypoints.settings import Settings
from auxot.entrypoints.workflow_file import WorkflowFileError, load_declaration, locate

# Checked here: uvicorn hangs, silently, when asked to bind a port out of range.
_PORT = click.IntRange(1, 65535)

SWITCH_INTERVAL_SECONDS = 0.0005


@click.group()
@click.version_option(package_name="auxot")
def cli() -> None:
    """Auxot: an event-sourced workflow engine."""


add_chain_commands(audit)
cli.add_command(audit)
cli.add_command(deliveries)


@cli.command()
@click.option("--host", default=None, help="Interface to listen on [default 127.0.0.1]")
@click.option("--port", type=_PORT, default=None, help="Port to listen on [default 8000]")
@_DATABASE
@click.option(
    "--worker/--no-worker",
    default=True,
    help="Also run a worker (status projection and steps) in this process; "
    "with --no-worker, run `auxot worker` processes beside it.",
)
def serve(host: str | None, port: int | None, database_url: str | None, worker: bool) -> None:
    """Serve the HTTP API, with an in-process worker."""
    settings = _settings(host=host, port=port, database_url=database_url)
    _serve(settings, _service(settings, run_worker=worker))


def _serve(settings: Settings, service: Service, banner: str = "") -> None:
    from auxot.entrypoints.http import create_app

    # The group-commit writer thread drops the GIL around every database call and must
    # win it back from a busy event loop; at the default 5 ms switch interval each
    # commit waits several intervals. Measured by benchmarks/intake.py.
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    # What exists now lives as long as the server: keep the collector from scanning it
    # again and again (full collections of it took ~40 ms, the p99 of the intake).
    gc.collect()
    gc.freeze()

    app = create_app(service, max_body_bytes=settings.max_body_bytes)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    server = _Server(config, banner)
    click.echo(
        f"auxot: serving http://{settings.host}:{settings.port} "
        f"on {_describe(settings)} (OpenAPI at /schema)",
        err=True,
    )
    # Our own handlers until uvicorn installs its own (and again after it restores
    # them): a Ctrl+C or SIGTERM that lands while the server starts then stops it
    # cleanly. Without them, asyncio's runner cancels uvicorn mid-startup and the
    # process can hang. A stop requested by a signal is a clean stop: exit status 0.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: setattr(server, "should_exit", True))
    try:
        server.run()
    finally:
        service.close()


class _Server(uvicorn.Server):
    """uvicorn's server, printing the banner once the port is bound (not before: a
    banner whose commands fail with "connection refused" would mislead)."""

    def __init__(self, config: uvicorn.Config, banner: str) -> None:
        super().__init__(config)
        self._banner = banner

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self._banner:
            click.echo(self._banner)


@cli.command()
@_DATABASE
def worker(database_url: str | None) -> None:
    """Run a worker alone: it projects statuses and runs steps until SIGTERM/SIGINT."""
    settings = _settings(database_url=database_url)
    service = _service(settings)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    service.start()
    click.echo(f"auxot: worker {settings.worker_id} running on {_describe(settings)}", err=True)
    stop.wait()
    click.echo("auxot: worker stopping (finishing steps in flight)", err=True)
    service.close()


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_DATABASE
def apply(file: Path, database_url: str | None) -> None:
    """Create or update what FILE declares (idempotent); print what was done as JSON."""
    text = file.read_text(encoding="utf-8")
    try:
        declaration = load_declaration(text, str(file))
    except WorkflowFileError as exc:
        _fail(f"{file} is not a valid workflow file:\n{exc}", code=2)
    settings = _settings(database_url=database_url)
    service = _service(settings, run_worker=False)
    try:
        applied = service.apply(declaration, cli_actor(settings))
    except DeclarationError as exc:
        _fail(f"{file} was not applied (nothing changed):\n{locate(text, str(file), exc)}", 2)
    finally:
        service.close()
    click.echo(json.dumps(_applied_json(applied), indent=2))


def _applied_json(applied: list[Applied]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {
        "teams": [],
        "providers": [],
        "workflows": [],
        "intakes": [],
    }
    for a in applied:
        entry = {"name": a.name, "id": a.id, "status": a.outcome, **a.extra}
        out.setdefault(f"{a.kind}s", []).append(entry)  # tools and agents when declared
    return out


@cli.group()
def keys() -> None:
    """Create and revoke API keys."""


@keys.command("create")
@click.option("--team", default=None, help="A team key: it may use the team's intakes.")
@click.option("--user", default=None, help="A user key: it may use its teams' intakes.")
@click.option("--json", "as_json", is_flag=True, help='Print {"id": ..., "key": ...}.')
@_DATABASE
def keys_create(
    team: str | None, user: str | None, as_json: bool, database_url: str | None
) -> None:
    """Create a key; it is printed once and cannot be shown again."""
    if (team is None) == (user is None):
        _fail("give exactly one of --team NAME or --user NAME", code=2)
    settings = _settings(database_url=database_url)
    service = _service(settings, run_worker=False)
    try:
        kind: Literal["team", "user"] = "team" if team else "user"
        issued = service.create_key(kind, team or user or "", cli_actor(settings))
    except UnknownTeamError as exc:
        _fail(str(exc))
    finally:
        service.close()
    key_ref = format_ref("key", issued.id)
    if as_json:
        click.echo(json.dumps({"id": key_ref, "key": issued.key, issued.kind: issued.owner}))
    else:
        click.echo(f"{issued.key}\n(key id {key_ref}: keep the key secret; it is shown once)")


@keys.command("revoke")
@click.argument("key_id")
@_DATABASE
def keys_revoke(key_id: str, database_url: str | None) -> None:
    """Revoke the key KEY_ID (key_...). Running servers refuse it within
    AUXOT_REFRESH_INTERVAL seconds (0.5 by default)."""
    parsed = parse_ref("key", key_id)
    if parsed is None:
        _fail(f"'{key_id}' is not a key id (key_ followed by 32 hex digits)", code=2)
    settings = _settings(database_url=database_url)
    service = _service(settings, run_worker=False)
    try:
        if not service.revoke_key(parsed, cli_actor(settings)):
            _fail(f"no key {key_id}")
    finally:
        service.close()
    click.echo(f"revoked {key_id}")


@cli.group()
def workflows() -> None:
    """Pause and activate workflows."""


def _workflow_command(verb: str, help_text: str) -> None:
    @workflows.command(verb, help=help_text)
    @click.argument("name")
    @click.option("--team", required=True, help="The team that owns the workflow.")
    @_DATABASE
    def command(name: str, team: str, database_url: str | None) -> None:
        settings = _settings(database_url=database_url)
        service = _service(settings, run_worker=False)
        lifecycle = Lifecycle(service, local=cli_actor(settings))
        change = lifecycle.pause if verb == "pause" else lifecycle.activate
        try:
            summary = change(None, workflow_id(team, name))
        except NotFoundError:
            _fail(f"no workflow '{name}' of team '{team}'")
        finally:
            service.close()
        out = {
            "id": format_ref("workflow", summary.id),
            "name": summary.name,
            "team": summary.team,
            "status": summary.status,
            "current_version": summary.current_version,
        }
        click.echo(json.dumps(out, indent=2))


_workflow_command(
    "pause",
    "Pause workflow NAME: intakes still accept work, whose items wait as pending; items "
    "already running keep going. Idempotent. Running servers follow within "
    "AUXOT_REFRESH_INTERVAL seconds.",
)
_workflow_command(
    "activate",
    "Activate workflow NAME: the items it held start in arrival order. Idempotent.",
)


cli.add_command(replay_command(_DATABASE, _settings, _service, _fail))


@cli.group()
def tasks() -> None:
    """Human steps: list those waiting on a user, act on one."""


@tasks.command("list")
@click.option("--user", required=True, help="The user whose tasks to list.")
@click.option("--limit", type=click.IntRange(1, 100), default=100, show_default=True)
@_DATABASE
def tasks_list(user: str, limit: int, database_url: str | None) -> None:
    """Print the human steps waiting on USER as JSON, oldest first."""
    service = _service(_settings(database_url=database_url), run_worker=False)
    try:
        rows = service.tasks(service.local_user(user), limit)
    finally:
        service.close()
    click.echo(msgspec.json.format(msgspec.json.encode([task_of_row(r) for r in rows])).decode())


@tasks.command("complete")
@click.argument("work_id")
@click.argument("step")
@click.option("--user", required=True, help="Act as this user (same rules as their key).")
@click.option("--condition", required=True, help="approved, rejected, or any handoff's name.")
@click.option("--note", default=None, help="A note kept with the decision.")
@click.option("--output", "output_json", default=None, metavar="JSON", help="The step's output.")
@_DATABASE
def tasks_complete(
    work_id: str,
    step: str,
    user: str,
    condition: str,
    note: str | None,
    output_json: str | None,
    database_url: str | None,
) -> None:
    """Act on STEP of WORK_ID as USER; print the work item's record as JSON."""
    parsed = parse_ref("work", work_id)
    if parsed is None:
        _fail(f"'{work_id}' is not a work id (work_ followed by 32 hex digits)", code=2)
    try:
        output = None if output_json is None else json.loads(output_json)
    except json.JSONDecodeError as exc:
        _fail(f"--output is not valid JSON: {exc}", code=2)
    service = _service(_settings(database_url=database_url), run_worker=False)
    try:
        record = service.complete_step(
            service.local_user(user), parsed, step, condition=condition, note=note, output=output
        )
    except NotFoundError:
        _fail(f"no work item {work_id} with a step '{step}' that {user} may act on")
    except WorkItemError as exc:
        _fail(str(exc))
    finally:
        service.close()
    click.echo(msgspec.json.format(record).decode())


cli.add_command(intakes)


@cli.command()
@click.option("--port", type=_PORT, default=None, help="Port to listen on [default 8000]")
@_DATABASE
def demo(port: int | None, database_url: str | None) -> None:
    """Set up a demo workflow and intake, start the server, print curl commands to try."""
    settings = _settings(port=port, database_url=database_url)
    service = _service(settings)
    text = (Path(__file__).parent / "demo.yaml").read_text(encoding="utf-8")
    applied = service.apply(load_declaration(text, "demo.yaml"), cli_actor(settings))
    intake = next(a.id for a in applied if a.kind == "intake")
    key = service.create_key("team", "support", cli_actor(settings)).key
    _serve(settings, service, banner=_demo_banner(settings, intake, key))


def _demo_banner(settings: Settings, intake: str, key: str) -> str:
    base = f"http://{settings.host}:{settings.port}"
    body = msgspec.json.encode(
        {"ticket_id": "SUP-1042", "customer": "Acme Corp", "subject": "Cannot log in"}
    ).decode()
    return f"""
Auxot demo is up. Try it from another shell:

  export BASE_URL={base}
  export INTAKE_ID={intake}
  export API_KEY={key}

  WORK_ID=$(curl -s -X POST "$BASE_URL/v1/intake/$INTAKE_ID" \\
    -H "Authorization: Bearer $API_KEY" -H "Content-Type: application/json" \\
    -d '{body}' | jq -r .work_id)

  curl -s "$BASE_URL/v1/intake/$INTAKE_ID/work/$WORK_ID" -H "Authorization: Bearer $API_KEY" | jq

  until s=$(curl -s "$BASE_URL/v1/intake/$INTAKE_ID/work/$WORK_ID" \\
      -H "Authorization: Bearer $API_KEY" | jq -r .status); \\
      [ "$s" = completed ] || [ "$s" = failed ]; do echo "$s"; sleep 1; done; echo "$s"

Press Ctrl+C to stop.
"""
