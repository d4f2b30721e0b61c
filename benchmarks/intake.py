"""Intake POST throughput and latency: Auxot on SQLite and PostgreSQL vs a bare route.

    python benchmarks/intake.py [--connections 32] [--duration 5] [--warmup 2]
                                [--backends sqlite,postgres] [--postgres-url URL]
                                [--client auto|wrk|python] [--rounds 3] [--wait-idle S]

Each target is a separate server process served the same way (uvicorn, one process,
``--no-access-log --log-level warning``, uvloop/httptools when installed):

- ``bare``: ``benchmarks/bare_app.py``, a Litestar POST route that decodes the JSON body
  and answers 202 ``{"work_id": ...}`` without storage (the baseline);
- ``sqlite``: ``auxot serve --no-worker`` on a fresh SQLite file;
- ``postgres``: ``auxot serve --no-worker`` on a freshly created PostgreSQL database
  (dropped at the end).

Each Auxot database first gets a workflow and intake (``auxot apply``) and a team key
(``auxot keys create --team support --json``). Load comes from this machine with N
concurrent keep-alive HTTP/1.1 connections: ``wrk`` when it is on PATH (a C client, so
the load generator takes little of the CPU the server needs), else an asyncio client
over raw sockets. Only 202 answers count; anything else is an error. The table gives
each target's requests/s, p50/p99 latency, and its ratio to the bare route's
requests/s measured in the same run, checked against the targets: >= 0.70 on SQLite,
>= 0.50 on PostgreSQL, p99 <= 25 ms. The targets are measured in interleaved rounds and the
table shows medians. It is a report: it exits 0 whatever the figures, and non-zero only
when something failed (a server that did not start, a backend it could not set up, ...).
See benchmarks/README.md for how to read the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"

TARGET_RATIO = {"sqlite": 0.70, "postgres": 0.50}
TARGET_P99_MS = 25.0
IDLE_CORES = 0.25  # busier than this before a target starts: its figures are suspect

# The demo's workflow file, shipped in the package. Its steps never run here: the
# servers under test are HTTP-only (``--no-worker``).
WORKFLOW = Path(__file__).resolve().parents[1] / "src/auxot/entrypoints/cli/demo.yaml"

BODY = json.dumps(
    {"ticket_id": "SUP-1042", "customer": "Acme Corp", "subject": "Cannot log in"},
    separators=(",", ":"),
)


class BenchmarkError(RuntimeError):
    pass


# -- results ------------------------------------------------------------------------------


@dataclass
class Result:
    target: str
    client: str
    ok: int = 0  # 202s in the measured window
    errors: int = 0  # other statuses, socket errors, timeouts in the measured window
    seconds: float = 0.0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    answered_202: int = 0  # every 202 sent, warmup and probes included
    stored: int | None = None  # work items found in the database afterwards
    server_cpu: float = float("nan")  # server process CPU, in cores, while measured
    client_cpu: float = float("nan")  # load generator CPU, in cores, while measured
    busy_before: float = float("nan")  # cores already busy before the server started
    machine_cpu: float = float("nan")  # whole machine CPU, in cores, while measured
    error_kinds: dict[str, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_per_request_us(self) -> float:
        return self.server_cpu / self.rps * 1e6 if self.rps else float("nan")


# -- CPU accounting -----------------------------------------------------------------------


def _process_cpu(pid: int) -> float:
    """CPU seconds used so far by process ``pid`` (all its threads)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_cpu() -> float:
    """CPU seconds all cores have spent busy so far."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return float("nan")
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _client_cpu() -> float:
    """CPU seconds used by this process and its waited-for children (wrk)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def machine_busy(seconds: float = 1.0) -> float:
    """Cores the machine keeps busy over ``seconds`` (other work competing for CPU)."""
    m0 = _machine_cpu()
    time.sleep(seconds)
    return (_machine_cpu() - m0) / seconds


class CpuMeter:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.start = (time.monotonic(), _process_cpu(pid), _machine_cpu(), _client_cpu())

    def stop(self, result: Result) -> None:
        t0, p0, m0, c0 = self.start
        elapsed = time.monotonic() - t0
        result.server_cpu = (_process_cpu(self.pid) - p0) / elapsed
        result.machine_cpu = (_machine_cpu() - m0) / elapsed
        result.client_cpu = (_client_cpu() - c0) / elapsed


# -- servers ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _auxot_command() -> list[str]:
    script = Path(sys.executable).parent / "auxot"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from auxot.entrypoints.cli.main import cli; cli()"]


class Server:
    """A server in its own process (and process group), logging to a file."""

    def __init__(self, name: str, argv: list[str], port: int, log: Path) -> None:
        self.name = name
        self.port = port
        self.log = log
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-3000:]
        return ""

    def wait_ready(self, path: str, headers: dict[str, str], timeout: float = 60.0) -> int:
        """POST once the port answers; returns the status of the first answer."""
        import http.client

        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise BenchmarkError(
                    f"{self.name} server exited with {self.proc.returncode}:\n{self.tail()}"
                )
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
                conn.request("POST", path, body=BODY, headers=headers)
                response = conn.getresponse()
                response.read()
                conn.close()
                return response.status
            except OSError:
                if time.monotonic() > deadline:
                    raise BenchmarkError(
                        f"{self.name} server did not answer within {timeout:.0f}s:\n{self.tail()}"
                    ) from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log_file.close()


# -- Auxot databases ----------------------------------------------------------------------


@dataclass
class AuxotDatabase:
    backend: str  # "sqlite" or "postgres"
    url: str
    intake: str = ""
    key: str = ""

    def set_up(self, workdir: Path) -> None:
        applied = _run_json([*_auxot_command(), "apply", str(WORKFLOW), "--database", self.url])
        self.intake = applied["intakes"][0]["id"]
        create = ["keys", "create", "--team", "support", "--json", "--database", self.url]
        issued = _run_json([*_auxot_command(), *create])
        self.key = issued["key"]

    def count_work_items(self) -> int | None:
        """Work items stored: first events (version 1) in the work log."""
        try:
            if self.backend == "sqlite":
                with contextlib.closing(sqlite3.connect(self.url[len("sqlite:///") :])) as db:
                    row = db.execute(
                        "SELECT count(*) FROM work_events WHERE originator_version = 1"
                    ).fetchone()
                    return int(row[0])
            import psycopg

            with psycopg.connect(self.url) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM work_events WHERE originator_version = 1"
                ).fetchone()
                return int(row[0]) if row else None
        except Exception as exc:
            print(f"  (could not count stored work items: {exc})", file=sys.stderr)
            return None


def _run_json(argv: list[str]) -> Any:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise BenchmarkError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout)


class PostgresDatabase:
    """A fresh database on the server ``admin_url`` points at, dropped on close."""

    def __init__(self, admin_url: str) -> None:
        import psycopg

        self.admin_url = admin_url
        self.name = f"auxot_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        parts = urlsplit(admin_url)
        self.url = urlunsplit((parts.scheme, parts.netloc, f"/{self.name}", "", ""))

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


# -- load: wrk ----------------------------------------------------------------------------

_WRK_SCRIPT = """\
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
{auth}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) ok = 0; bad = 0 end
function response(status, headers, body)
  if status == 202 then ok = ok + 1 else bad = bad + 1 end
end
function done(summary, latency, requests)
  local ok, bad = 0, 0
  for _, t in ipairs(threads) do ok = ok + t:get("ok"); bad = bad + t:get("bad") end
  local e = summary.errors
  io.write(string.format(
    "BENCH ok=%d bad=%d us=%d p50=%.1f p99=%.1f connect=%d read=%d write=%d timeout=%d\\n",
    ok, bad, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.timeout))
end
"""


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_wrk(
    wrk: str, url: str, key: str | None, connections: int, seconds: float, workdir: Path
) -> Result:
    script = workdir / "wrk.lua"
    auth = f'wrk.headers["Authorization"] = {_lua_string("Bearer " + key)}' if key else ""
    script.write_text(_WRK_SCRIPT.format(body=_lua_string(BODY), auth=auth))
    argv = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
    done = subprocess.run(
        [*argv, "-s", str(script), url], capture_output=True, text=True, check=False
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH ")), None)
    if done.returncode != 0 or line is None:
        raise BenchmarkError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    values = dict(kv.split("=") for kv in line.split()[1:])
    result = Result(target="", client="wrk")
    result.ok = int(values["ok"])
    result.seconds = int(values["us"]) / 1e6
    result.p50_ms = float(values["p50"]) / 1000
    result.p99_ms = float(values["p99"]) / 1000
    for kind in ("bad", "connect", "read", "write", "timeout"):
        if int(values[kind]):
            result.error_kinds["non-202" if kind == "bad" else kind] = int(values[kind])
    result.errors = sum(result.error_kinds.values())
    result.answered_202 = result.ok
    return result


# -- load: asyncio ------------------------------------------------------------------------


def _request_bytes(path: str, key: str | None, port: int) -> bytes:
    body = BODY.encode()
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {HOST}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    if key:
        lines.append(f"Authorization: Bearer {key}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _connection(
    port: int,
    request: bytes,
    window: tuple[float, float],
    latencies: list[float],
    counts: dict[str, int],
) -> None:
    start, end = window
    clock = time.perf_counter
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while clock() < end:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(HOST, port)
            assert reader is not None
            t0 = clock()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            at = head.lower().find(b"\r\ncontent-length:")
            if at >= 0:
                length = int(head[at + 17 : head.index(b"\r\n", at + 2)])
            if length:
                await reader.readexactly(length)
            t1 = clock()
            if status == 202:
                counts["all_202"] += 1
            if start <= t1 <= end:
                if status == 202:
                    latencies.append(t1 - t0)
                else:
                    counts[f"HTTP {status}"] = counts.get(f"HTTP {status}", 0) + 1
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            if start <= clock() <= end:
                name = type(exc).__name__
                counts[name] = counts.get(name, 0) + 1
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


async def _load(
    port: int, request: bytes, connections: int, seconds: float
) -> tuple[list[float], dict[str, int], float]:
    begin = time.perf_counter()
    window = (begin, begin + seconds)
    latencies: list[float] = []
    counts: dict[str, int] = {"all_202": 0}
    await asyncio.gather(
        *(_connection(port, request, window, latencies, counts) for _ in range(connections))
    )
    return latencies, counts, seconds


def run_python(port: int, path: str, key: str | None, connections: int, seconds: float) -> Result:
    request = _request_bytes(path, key, port)
    runner: Any = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        runner = uvloop.run
    latencies, counts, seconds = runner(_load(port, request, connections, seconds))
    result = Result(target="", client="python")
    result.ok = len(latencies)
    result.seconds = seconds
    if latencies:
        latencies.sort()
        result.p50_ms = latencies[len(latencies) // 2] * 1000
        result.p99_ms = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    result.answered_202 = counts.pop("all_202")
    result.error_kinds = counts
    result.errors = sum(counts.values())
    return result


# -- one target ---------------------------------------------------------------------------


@dataclass
class Target:
    name: str  # "bare", "sqlite", "postgres"
    database: AuxotDatabase | None = None


def measure(target: Target, args: argparse.Namespace, workdir: Path, round_: int) -> Result:
    port = _free_port()
    log = workdir / f"{target.name}-{round_}.log"
    if target.database is None:
        argv = [sys.executable, "-m", "uvicorn", "--app-dir", str(HERE), "bare_app:app"]
        argv += ["--host", HOST, "--port", str(port), "--lifespan", "on"]
        argv += ["--no-access-log", "--log-level", "warning"]
        path, key = "/v1/intake/intake_" + "0" * 32, None
    else:
        argv = [*_auxot_command(), "serve", "--no-worker", "--host", HOST]
        argv += ["--port", str(port), "--database", target.database.url]
        path, key = f"/v1/intake/{target.database.intake}", target.database.key
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    busy = machine_busy()
    deadline = time.monotonic() + args.wait_idle
    while busy > IDLE_CORES and time.monotonic() < deadline:
        busy = machine_busy()
    server = Server(target.name, argv, port, log)
    try:
        status = server.wait_ready(path, headers)
        if status != 202:
            raise BenchmarkError(f"{target.name}: the first POST answered {status}, not 202")
        url = f"http://{HOST}:{port}{path}"

        def load(seconds: float) -> Result:
            if args.client == "wrk":
                return run_wrk(args.wrk, url, key, args.connections, seconds, workdir)
            return run_python(port, path, key, args.connections, seconds)

        warmup = load(args.warmup) if args.warmup > 0 else Result("", args.client)
        meter = CpuMeter(server.proc.pid)
        result = load(args.duration)
        meter.stop(result)
        result.answered_202 += warmup.answered_202 + 1  # + the readiness probe
        if server.proc.poll() is not None:
            raise BenchmarkError(f"{target.name} server died under load:\n{server.tail()}")
    finally:
        server.stop()
    result.target = target.name
    result.busy_before = busy
    if target.database is not None:
        result.stored = target.database.count_work_items()
    return result


# -- report -------------------------------------------------------------------------------

_LABELS = {
    "bare": "bare Litestar route",
    "sqlite": "Auxot on SQLite",
    "postgres": "Auxot on PostgreSQL",
}


def _verdict(name: str, ratio: float, p99: float) -> str:
    if name == "bare":
        return "baseline"
    failures = []
    if not ratio >= TARGET_RATIO[name]:
        failures.append(f"ratio < {TARGET_RATIO[name]:.2f}")
    if not p99 <= TARGET_P99_MS:
        failures.append(f"p99 > {TARGET_P99_MS:.0f} ms")
    return "PASS" if not failures else "FAIL (" + ", ".join(failures) + ")"


def report(rounds: list[dict[str, Result]], names: list[str], args: argparse.Namespace) -> None:
    """The table. With several rounds each figure is the median over the rounds, and a
    ratio is taken within each round (against that round's bare route) before the median."""
    print()
    if len(rounds) > 1:
        for i, rnd in enumerate(rounds, 1):
            print(f"round {i}: " + ", ".join(f"{n} {rnd[n].rps:,.0f} req/s" for n in rnd))
    header = (
        f"{'target':<21}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'errors':>7}{'ratio':>7}"
        f"{'srv us/req':>11}{'cores srv/cli/all':>19}  verdict"
    )
    print(header)
    print("-" * (len(header) + 24))
    for name in names:
        rs = [rnd[name] for rnd in rounds if name in rnd]
        if not rs:
            print(f"{_LABELS[name]:<21}{'(no result: it failed, see above)':>50}")
            continue
        ratios = [
            rnd[name].rps / rnd["bare"].rps for rnd in rounds if name in rnd and "bare" in rnd
        ]
        ratio = _median(ratios)
        p99 = _median([r.p99_ms for r in rs])
        cores = (
            f"{_median([r.server_cpu for r in rs]):.2f}/{_median([r.client_cpu for r in rs]):.2f}"
            f"/{_median([r.machine_cpu for r in rs]):.2f}"
        )
        print(
            f"{_LABELS[name]:<21}{_median([r.rps for r in rs]):>8,.0f}"
            f"{_median([r.p50_ms for r in rs]):>8.2f}{p99:>8.2f}{sum(r.errors for r in rs):>7}"
            f"{ratio:>7.2f}{_median([r.cpu_per_request_us for r in rs]):>11.0f}{cores:>19}"
            f"  {_verdict(name, ratio, p99)}"
        )
    print()
    print(
        f"{args.connections} connections, {args.duration:g} s measured after {args.warmup:g} s "
        f"of warmup per target, {len(rounds)} round(s), load from {args.client}."
    )
    print(
        f"Targets: ratio to the bare route >= {TARGET_RATIO['sqlite']:.2f} on SQLite, "
        f">= {TARGET_RATIO['postgres']:.2f} on PostgreSQL; p99 <= {TARGET_P99_MS:g} ms."
    )
    print(
        "srv us/req: server process CPU time per accepted request (all its threads). "
        "cores: CPU cores busy while measured, in the server / the load generator / the "
        "whole machine (PostgreSQL included)."
    )
    for i, rnd in enumerate(rounds, 1):
        for name, r in rnd.items():
            where = f"  round {i}, {name}:" if len(rounds) > 1 else f"  {name}:"
            if r.busy_before > IDLE_CORES:
                print(
                    f"{where} WARNING: {r.busy_before:.2f} cores were already busy before it "
                    "started (another process is using the CPU): figures unreliable"
                )
            if r.error_kinds:
                print(f"{where} errors {r.error_kinds}")
            if r.stored is not None and r.stored < r.answered_202:
                print(
                    f"{where} LOST WORK: {r.answered_202} answered 202 but only "
                    f"{r.stored} work items are stored"
                )


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _environment(args: argparse.Namespace) -> str:
    parts = [f"Python {platform.python_version()}", f"{os.cpu_count()} CPUs"]
    for module in ("uvloop", "httptools"):
        try:
            __import__(module)
            parts.append(f"{module} yes")
        except ImportError:
            parts.append(f"{module} no")
    parts.append(f"client {args.client}")
    return ", ".join(parts)


# -- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per target")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds per target")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "AUXOT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a server and a database to connect to for CREATE/DROP DATABASE",
    )
    parser.add_argument(
        "--client",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="load generator: wrk when on PATH (auto), else asyncio",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="measure every target this many times, interleaved; the table shows medians",
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each target, wait up to this long for the machine to be idle "
        "(other processes using the CPU distort the figures)",
    )
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for backend in args.backends:
        if backend not in ("sqlite", "postgres"):
            parser.error(f"unknown backend {backend!r}: use sqlite and/or postgres")
    args.wrk = shutil.which("wrk")
    if args.client == "auto":
        args.client = "wrk" if args.wrk else "python"
    elif args.client == "wrk" and not args.wrk:
        parser.error("wrk is not on PATH (apt-get install wrk), use --client python")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM cleans up like Ctrl+C: servers stopped, database dropped, files removed.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    print(f"intake benchmark: {_environment(args)}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="auxot-bench-"))
    postgres: PostgresDatabase | None = None
    failed = False
    try:
        targets = [Target("bare")]
        for backend in args.backends:
            try:
                if backend == "sqlite":
                    database = AuxotDatabase("sqlite", f"sqlite:///{workdir / 'bench.db'}")
                else:
                    postgres = PostgresDatabase(args.postgres_url)
                    database = AuxotDatabase("postgres", postgres.url)
                print(f"setting up {backend}: {database.url}", flush=True)
                database.set_up(workdir)
            except Exception as exc:  # PostgreSQL down, a CLI command failing, ...
                print(f"cannot set up {backend}, skipping it: {exc}", file=sys.stderr)
                failed = True
                continue
            targets.append(Target(backend, database))
        rounds: list[dict[str, Result]] = []
        for round_ in range(args.rounds):
            results: dict[str, Result] = {}
            for target in targets:
                print(f"round {round_ + 1}: {_LABELS[target.name]} ...", end=" ", flush=True)
                try:
                    result = measure(target, args, workdir, round_)
                except BenchmarkError as exc:
                    print(f"FAILED\n{exc}", file=sys.stderr, flush=True)
                    failed = True
                    continue
                print(
                    f"{result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms, "
                    f"p99 {result.p99_ms:.2f} ms, {result.errors} errors",
                    flush=True,
                )
                results[target.name] = result
            rounds.append(results)
        report(rounds, [t.name for t in targets], args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        failed = True
    finally:
        if postgres is not None:
            try:
                postgres.drop()
            except Exception as exc:
                print(f"could not drop the database {postgres.name}: {exc}", file=sys.stderr)
                failed = True
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
