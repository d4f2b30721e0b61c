"""What the hash chain costs the write path: SQLite inserts with and without chain hashes.

    python benchmarks/chain_insert.py [--batch 200] [--batches 50] [--rounds 5]
                                      [--continuing]

Two recorders on two fresh SQLite files, measured in interleaved rounds in one process:

- ``plain``: the work log's insert as it was before chaining (one ``executemany`` of the
  batch, ids read back as a range): the baseline;
- ``chained``: the work log's recorder as shipped (``ChainedEventsRecorder``): the same
  insert, plus each event's digest and link computed in Python.

It also prints the cost of hashing alone per event (``chain_hashes`` on a batch of
1,000 new items), to set against the server's CPU time per intake request that
``intake.py`` prints. Batches are the intake's shape by default (each event the first
of a new work item: no read of a predecessor); ``--continuing`` makes every event
continue a stream written by the previous batch, so each batch also reads one
predecessor hash per stream (the engine's shape). Prints events/s per recorder (median
over rounds) and the ratio chained/plain. A report: it exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import timeit
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore

from auxot.adapters.persistence.sqlite_chain import ChainedEventsRecorder
from auxot.application.chain import chain_hashes


class PlainRecorder(SQLiteApplicationRecorder):
    """The work log's SQLite insert before chaining."""

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **_: Any
    ) -> Sequence[int] | None:
        c.executemany(
            self.insert_events_statement,
            [(s.originator_id.hex, s.originator_version, s.topic, s.state) for s in stored_events],  # type: ignore[union-attr]
        )
        c.execute(self.select_max_notification_id_statement)
        last = int(c.fetchone()[0])
        return list(range(last - len(stored_events) + 1, last + 1))


STATE = (
    b'{"input":{"ticket_id":"SUP-1042","customer":"Acme Corp","subject":"Cannot log in"},'
    b'"intake_id":"0190f0c2-4f6e-7a1b-9c3d-2e4f6a8b0c1d","workflow_version":1,'
    b'"timestamp":"2026-12-04T13:00:00.000000+00:00"}'
)
TOPIC = "auxot.domain.work_item:WorkItem.Received"


def datastore(path: Path) -> SQLiteDatastore:
    return SQLiteDatastore(db_name=str(path), lock_timeout=30)


def measure(recorder: Any, batches: list[list[StoredEvent]]) -> float:
    started = time.perf_counter()
    for batch in batches:
        recorder.insert_events(batch)
    elapsed = time.perf_counter() - started
    return sum(len(b) for b in batches) / elapsed


def make_batches(
    streams: list[uuid.UUID], size: int, count: int, version: int
) -> list[list[StoredEvent]]:
    return [
        [
            StoredEvent(originator_id=s, originator_version=version, topic=TOPIC, state=STATE)
            for s in streams[i * size : (i + 1) * size]
        ]
        for i in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--continuing", action="store_true")
    args = parser.parse_args()

    rates: dict[str, list[float]] = {"plain": [], "chained": []}
    with tempfile.TemporaryDirectory() as tmp:
        recorders = {
            "plain": PlainRecorder(datastore(Path(tmp) / "plain.db"), "work_events"),
            "chained": ChainedEventsRecorder(datastore(Path(tmp) / "chained.db"), "work_events"),
        }
        for recorder in recorders.values():
            recorder.create_table()
        for n in range(args.rounds):
            streams = [uuid.uuid4() for _ in range(args.batch * args.batches)]
            batches = make_batches(streams, args.batch, args.batches, 1)
            if args.continuing:
                for recorder in recorders.values():
                    measure(recorder, batches)  # the streams' first events, not measured
                batches = make_batches(streams, args.batch, args.batches, 2)
            for name in rates if n % 2 == 0 else reversed(rates):
                rates[name].append(measure(recorders[name], batches))
        for recorder in recorders.values():
            recorder.datastore.close()

    shape = "continuing streams" if args.continuing else "new streams (the intake)"
    print(f"{args.batches} batches of {args.batch} events, {shape}, {args.rounds} rounds")
    for name, values in rates.items():
        print(f"{name:8} {statistics.median(values):>10,.0f} events/s (median)")
    ratio = statistics.median(rates["chained"]) / statistics.median(rates["plain"])
    print(f"ratio chained/plain: {ratio:.2f}")
    batch = make_batches([uuid.uuid4() for _ in range(1000)], 1000, 1, 1)[0]
    hashing = min(timeit.repeat(lambda: chain_hashes(batch, {}), number=10, repeat=5)) / 10000
    print(f"hashing alone: {hashing * 1e6:.2f} us/event")


if __name__ == "__main__":
    main()
