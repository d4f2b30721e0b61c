"""Replay speed: events per second of a projection's rebuild, against the raw read speed
of the same store measured in the same run.

    python benchmarks/replay.py [--items 5000] [--rounds 3] [--backends sqlite,postgres]
                                [--postgres-url URL]

For each backend it records a history of ``--items`` work items (every kind: pending,
running, at a later step, completed, failed, cancelled; about three events each) in a
fresh database, then, in interleaved rounds:

- ``raw read``: every notification of the work log, page by page (500 a page), as the
  projections read them, decoded into nothing: the floor of any rebuild;
- ``rebuild <name>``: ``auxot replay``'s own path (``auxot.application.replay``) for each
  projection: read, fold per item, write the shadow tables, swap in.

It prints events/s (medians over the rounds) and each rebuild's ratio to the raw read. A
report: it exits 0 whatever the figures, non-zero only when something failed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.adapters.persistence.history import record_history  # noqa: E402

from auxot.adapters.persistence import parse_database_url  # noqa: E402
from auxot.application.projection import IndexProjection, WorkProjection  # noqa: E402
from auxot.application.projections import Projection  # noqa: E402
from auxot.application.replay import replay  # noqa: E402
from auxot.application.stores import WorkLog  # noqa: E402

PAGE = 500


def raw_read(work: WorkLog) -> int:
    """Read every notification, page by page; how many."""
    count, position = 0, 0
    while page := work.recorder.select_notifications(start=position + 1, limit=PAGE):
        count += len(page)
        position = page[-1].id
    return count


def timed(run: Callable[[], int]) -> float:
    """Events per second of ``run`` (which answers how many events it handled)."""
    started = time.perf_counter()
    events = run()
    return events / (time.perf_counter() - started)


@contextmanager
def database(backend: str, postgres_url: str) -> Iterator[str]:
    """A fresh database URL, dropped or deleted afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/replay.db"
        return
    import psycopg

    name = f"auxot_bench_replay_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(postgres_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def measure(url: str, items: int, rounds: int) -> dict[str, list[float]]:
    db = parse_database_url(url)
    work = WorkLog(env=db.env(WorkLog.name))
    try:
        record_history(work, items, uuid.uuid4(), (uuid.uuid4(), None))
        projections: list[Projection] = [
            WorkProjection(work, db.work_view(work)),
            IndexProjection(work, db.index_view(work)),
        ]
        head = work.recorder.max_notification_id() or 0
        figures: dict[str, list[float]] = {}
        for _ in range(rounds):
            figures.setdefault("raw read", []).append(timed(lambda: raw_read(work)))
            for projection in projections:
                rate = timed(lambda p=projection: replay(p).events)
                figures.setdefault(f"rebuild {projection.name}", []).append(rate)
        figures["events"] = [float(head)]
        return figures
    finally:
        work.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "AUXOT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()
    print(f"{args.items} items, {args.rounds} rounds, medians; events/s")
    print(f"{'backend':10} {'what':22} {'events/s':>12} {'vs raw read':>12}")
    for backend in args.backends.split(","):
        with database(backend, args.postgres_url) as url:
            figures = measure(url, args.items, args.rounds)
        raw = statistics.median(figures["raw read"])
        print(f"{backend:10} {'(events in the log)':22} {int(figures['events'][0]):>12}")
        for what, rates in figures.items():
            if what == "events":
                continue
            rate = statistics.median(rates)
            print(f"{backend:10} {what:22} {rate:>12,.0f} {rate / raw:>12.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
