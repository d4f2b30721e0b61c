"""Running ``auxot`` as a real subprocess: one-shot commands, long-running processes
whose output is read line by line, and an HTTP client for a served API."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.support import wait_until

AUXOT = str(Path(sys.executable).with_name("auxot"))


def cli_env(**extra: str) -> dict[str, str]:
    """The environment without any inherited AUXOT_* setting, polling fast."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUXOT_")}
    env.update(
        AUXOT_POLL_INTERVAL="0.05",
        AUXOT_REFRESH_INTERVAL="0.1",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``auxot ARGS`` to completion."""
    return subprocess.run(
        [AUXOT, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env if env is not None else cli_env(),
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    """A running ``auxot`` process; its stdout and stderr are collected line by line."""

    def __init__(
        self, args: list[str], cwd: Path, env: dict[str, str], program: list[str] | None = None
    ) -> None:
        self.args = args
        self.popen = subprocess.Popen(
            [*(program or [AUXOT]), *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lock = threading.Lock()
        self.lines: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._readers = [
            threading.Thread(target=self._read, args=(name, pipe), daemon=True)
            for name, pipe in (("stdout", self.popen.stdout), ("stderr", self.popen.stderr))
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, name: str, pipe: Any) -> None:
        for line in pipe:
            with self._lock:
                self.lines[name].append(line.rstrip("\n"))

    def text(self, stream: str = "stderr") -> str:
        with self._lock:
            return "\n".join(self.lines[stream])

    def alive(self) -> bool:
        return self.popen.poll() is None

    def check_alive(self) -> None:
        """Fail, showing its output, when the process has exited."""
        if not self.alive():
            self.join_output()
            raise AssertionError(
                f"auxot {' '.join(self.args)} exited with {self.popen.returncode}:\n"
                f"--- stdout\n{self.text('stdout')}\n--- stderr\n{self.text('stderr')}"
            )

    def wait_for_line(
        self, match: Callable[[str], bool], stream: str = "stderr", timeout: float = 15
    ) -> str:
        """The first line of ``stream`` that ``match``es, waiting for it to come."""

        def probe() -> str | None:
            with self._lock:
                found = next((line for line in self.lines[stream] if match(line)), None)
            if found is None:
                self.check_alive()
            return found

        return wait_until(probe, timeout, what=f"a matching line on {stream} of {self.args}")

    def signal(self, sig: signal.Signals) -> None:
        self.popen.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """The exit status, which must come within ``timeout`` seconds."""
        code = self.popen.wait(timeout)
        self.join_output()
        return code

    def join_output(self) -> None:
        for reader in self._readers:
            reader.join(5)

    def kill(self) -> None:
        """SIGKILL (a no-op once it has exited) and reap."""
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(10)
        self.join_output()
        for pipe in (self.popen.stdout, self.popen.stderr):
            if pipe is not None:
                pipe.close()


def wait_healthy(proc: Proc, base_url: str, timeout: float = 20) -> None:
    """Poll ``/health`` until the server answers 200 (failing if the process exits)."""

    def probe() -> bool:
        proc.check_alive()
        try:
            return httpx.get(f"{base_url}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(probe, timeout, interval=0.05, what=f"{base_url}/health")


class Cli:
    """``auxot`` in a scratch directory; every process it spawns is killed by close()."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.procs: list[Proc] = []

    def run(self, *args: str, env: dict[str, str] | None = None) -> Any:
        return run(*args, cwd=self.cwd, env=env)

    def ok(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Run; it must exit 0. Returns its stdout."""
        done = self.run(*args, env=env)
        assert done.returncode == 0, f"auxot {' '.join(args)}: {done.stderr}"
        return str(done.stdout)

    def write(self, name: str, text: str) -> Path:
        path = self.cwd / name
        path.write_text(text, encoding="utf-8")
        return path

    def apply(
        self,
        text: str,
        database: str,
        name: str = "workflow.yaml",
        env: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """``auxot apply`` of ``text``; its JSON output."""
        path = self.write(name, text)
        out = self.ok("apply", str(path), "--database", database, env=env)
        applied: dict[str, Any] = json.loads(out)
        return applied

    def create_key(self, database: str, team: str = "support") -> dict[str, str]:
        """``auxot keys create --team TEAM --json``: {"id": ..., "key": ..., "team": ...}."""
        out = self.ok("keys", "create", "--team", team, "--json", "--database", database)
        created: dict[str, str] = json.loads(out)
        return created

    def spawn(
        self, *args: str, env: dict[str, str] | None = None, program: list[str] | None = None
    ) -> Proc:
        """``auxot ARGS`` running (or ``program ARGS``)."""
        proc = Proc(list(args), self.cwd, env if env is not None else cli_env(), program)
        self.procs.append(proc)
        return proc

    def workers(self, database: str, *names: str, **env: str) -> list[Proc]:
        """``auxot worker`` processes named ``names`` (their AUXOT_WORKER_ID), once each
        says it is running."""
        workers = [
            self.spawn("worker", "--database", database, env=cli_env(AUXOT_WORKER_ID=n, **env))
            for n in names
        ]
        for name, worker in zip(names, workers, strict=True):
            worker.wait_for_line(lambda line, n=name: line.startswith(f"auxot: worker {n} running"))
        return workers

    def serve(
        self, database: str, *flags: str, env: dict[str, str] | None = None
    ) -> tuple[Proc, str]:
        """Start ``auxot serve`` on a free port; returns it and its base URL once healthy."""
        port = free_port()
        proc = self.spawn("serve", "--port", str(port), "--database", database, *flags, env=env)
        base_url = f"http://127.0.0.1:{port}"
        wait_healthy(proc, base_url)
        return proc, base_url

    def close(self) -> None:
        for proc in self.procs:
            proc.kill()


def intake_id(applied: dict[str, Any], name: str) -> str:
    """The id of the intake ``name`` in ``auxot apply``'s output."""
    return str(next(i["id"] for i in applied["intakes"] if i["name"] == name))


class Api:
    """The intake API of a served Auxot, as one API key sees it."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10
        )

    def close(self) -> None:
        self.client.close()

    def post(self, intake: str, body: dict[str, Any]) -> httpx.Response:
        return self.client.post(f"/v1/intake/{intake}", json=body)

    def submit(self, intake: str, body: dict[str, Any]) -> str:
        """POST the body; it must be accepted (202). Returns the work id."""
        response = self.post(intake, body)
        assert response.status_code == 202, response.text
        work_id = response.json()["work_id"]
        assert isinstance(work_id, str)
        assert work_id.startswith("work_")
        assert response.headers["location"] == f"/v1/intake/{intake}/work/{work_id}"
        return work_id

    def get(self, intake: str, work_id: str) -> httpx.Response:
        return self.client.get(f"/v1/intake/{intake}/work/{work_id}")

    def record(self, intake: str, work_id: str) -> dict[str, Any]:
        response = self.get(intake, work_id)
        assert response.status_code == 200, response.text
        record: dict[str, Any] = response.json()
        return record

    def wait_for(
        self,
        intake: str,
        work_id: str,
        done: Callable[[dict[str, Any]], bool],
        timeout: float = 20,
        what: str = "",
    ) -> dict[str, Any]:
        """The record once ``done(record)`` holds."""

        def probe() -> dict[str, Any] | None:
            record = self.record(intake, work_id)
            return record if done(record) else None

        return wait_until(probe, timeout, interval=0.05, what=what or f"{work_id}")

    def wait_done(self, intake: str, work_id: str, timeout: float = 20) -> dict[str, Any]:
        """The record once the item is completed or failed."""
        return self.wait_for(
            intake,
            work_id,
            lambda r: r["status"] in ("completed", "failed"),
            timeout,
            what=f"{work_id} to finish",
        )
