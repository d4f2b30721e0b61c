"""A live Auxot HTTP service on a real socket: uvicorn in a background thread."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs
import httpx
import pytest
import uvicorn

from auxot.application.ports import CallbackSender
from auxot.application.service import Service
from auxot.domain.actor import SYSTEM as OPERATOR
from auxot.entrypoints.bootstrap import bootstrap
from auxot.entrypoints.http import create_app
from auxot.entrypoints.settings import Settings
from auxot.entrypoints.workflow_file import load_declaration
from tests.support import EXAMPLE_WORKFLOW, wait_until


@attrs.define
class Live:
    """A running server: where it listens, the service behind it, the example workflow's
    intake (``intake_<hex>``) and a key of its team (``support``)."""

    base_url: str
    service: Service
    intake_id: str
    key: str
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=10.0, **kwargs)

    def apply(self, yaml_text: str) -> dict[str, str]:
        """Apply a workflow file; returns ``{"kind:name": ref}`` of what it declares."""
        applied = self.service.apply(load_declaration(yaml_text), OPERATOR)
        return {f"{a.kind}:{a.name}": a.id for a in applied}

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "uvicorn did not shut down"


def start_live(
    database_url: str,
    *,
    callback_sender: CallbackSender | None = None,
    settings: Mapping[str, Any] | None = None,
    **app_options: Any,
) -> Live:
    """Bootstrap a service on ``database_url`` (with ``settings`` and a callback sender,
    if given), apply the example workflow, issue a team key, and serve
    ``create_app(service, **app_options)`` on 127.0.0.1 (a free port)."""
    service = bootstrap(
        Settings(
            database_url=database_url,
            poll_interval=0.05,
            refresh_interval=0.1,
            **(settings or {}),
        ),
        callback_sender=callback_sender,
    )
    try:
        applied = service.apply(load_declaration(EXAMPLE_WORKFLOW), OPERATOR)
        intake_id = next(a.id for a in applied if a.kind == "intake")
        key = service.create_key("team", "support", OPERATOR).key
        app = create_app(service, **app_options)
    except BaseException:
        service.close()
        raise
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan="on",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-test-{port}", daemon=True
    )
    thread.start()
    try:
        wait_until(
            lambda: server.started or not thread.is_alive(), timeout=15, what="uvicorn startup"
        )
    finally:
        if not server.started:
            server.should_exit = True
            thread.join(timeout=15)
            sock.close()
            service.close()
    if not server.started:
        raise RuntimeError("the HTTP service failed to start")
    return Live(
        base_url=f"http://127.0.0.1:{port}",
        service=service,
        intake_id=intake_id,
        key=key,
        server=server,
        thread=thread,
    )


@pytest.fixture
def serve() -> Iterator[Callable[..., Live]]:
    """``serve(database_url, settings=None, **create_app_options)``: servers stopped
    after the test,
    and every thread they started (uvicorn, worker, engine) gone.

    Request the database fixture *before* this one (``def test(sqlite_url, serve)``):
    fixtures are torn down in reverse, and the servers must stop before their database
    is dropped."""
    before = set(threading.enumerate())
    started: list[Live] = []

    def _serve(database_url: str, **options: Any) -> Live:
        live = start_live(database_url, **options)
        started.append(live)
        return live

    yield _serve
    for live in reversed(started):
        live.stop()

    def leaked() -> list[str]:
        return [
            t.name
            for t in threading.enumerate()
            if t not in before and t.is_alive() and t.name.startswith(("auxot-", "uvicorn-"))
        ]

    wait_until(lambda: not leaked(), timeout=10, what=f"threads to end: {leaked()}")


@pytest.fixture(params=["fast-path", "handler-only"])
def live(request: pytest.FixtureRequest, sqlite_url: str, serve: Callable[..., Live]) -> Live:
    """The service on SQLite (a real file), for backend-independent HTTP behaviour: with
    the intake fast path, and without it, since both must keep the same contract."""
    return serve(sqlite_url, intake_fast_path=request.param == "fast-path")


@pytest.fixture
def live_any(database_url: str, serve: Callable[..., Live]) -> Live:
    """The service on each backend in turn (memory, SQLite, PostgreSQL)."""
    return serve(database_url)
