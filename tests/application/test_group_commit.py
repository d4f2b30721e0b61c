"""Group commit: concurrent submissions saved together, each answered on its own future."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from auxot.application.group_commit import Events, GroupCommitter
from auxot.application.stores import WorkLog
from auxot.domain.definition import COMPLETE, DEFAULT, Definition, Handoff, Step
from auxot.domain.work_item import WorkItem

AT = datetime(2026, 1, 1, tzinfo=UTC)
DEFINITION = Definition(
    steps=(Step("only", "prompt", "p", "p", (Handoff(DEFAULT, COMPLETE),)),)
)
TIMEOUT = 10.0


def new_item(item_id: UUID | None = None) -> WorkItem.Received:
    """A new work item, as the intake submits it: its first event."""
    return WorkItem.received(item_id or uuid4(), uuid4(), uuid4(), 1, DEFINITION, {"n": 1}, AT)


def stored_ids(work: WorkLog) -> list[UUID]:
    return [n.originator_id for n in work.recorder.select_notifications(start=1, limit=10_000)]


class GatedSave:
    """Saves into ``work``; the first call blocks until ``release`` is set, so that
    later submissions queue up behind it. Records what each call received."""

    def __init__(self, work: WorkLog) -> None:
        self.work = work
        self.calls: list[list[Any]] = []
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, events: Events) -> None:
        self.calls.append(list(events))
        if len(self.calls) == 1:
            self.entered.set()
            assert self.release.wait(TIMEOUT), "the test never released the first save"
        self.work.save(*events)


@pytest.fixture
def work() -> Iterator[WorkLog]:
    app = WorkLog(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield app
    app.close()


def test_a_single_submission_is_committed_and_announced(work: WorkLog) -> None:
    saved = threading.Event()
    committer = GroupCommitter(lambda events: work.save(*events), on_saved=saved.set)
    item = new_item()
    committer.submit([item]).result(TIMEOUT)
    assert saved.wait(TIMEOUT)  # on_saved runs just after the futures are answered
    assert work.repository.get(item.originator_id).version == 1
    committer.stop()


def test_concurrent_submissions_all_resolve_and_are_all_stored(work: WorkLog) -> None:
    committer = GroupCommitter(lambda events: work.save(*events))
    items = [new_item() for _ in range(400)]
    with ThreadPoolExecutor(8) as pool:
        futures = list(pool.map(lambda item: committer.submit([item]), items))
    for future in futures:
        assert future.result(TIMEOUT) is None
    committer.stop()
    assert sorted(stored_ids(work)) == sorted(item.originator_id for item in items)


def test_submissions_queued_behind_a_save_are_saved_together(work: WorkLog) -> None:
    save = GatedSave(work)
    committer = GroupCommitter(save)
    first = committer.submit([new_item()])
    assert save.entered.wait(TIMEOUT)
    queued = [new_item() for _ in range(5)]
    futures = [committer.submit([item]) for item in queued]
    assert not any(f.done() for f in [first, *futures])  # nothing answers before commit
    save.release.set()
    for future in [first, *futures]:
        future.result(TIMEOUT)
    committer.stop()
    assert len(save.calls) == 2
    assert [e.originator_id for e in save.calls[1]] == [item.originator_id for item in queued]


def test_max_batch_bounds_a_batch(work: WorkLog) -> None:
    save = GatedSave(work)
    committer = GroupCommitter(save, max_batch=2)
    first = committer.submit([new_item()])
    assert save.entered.wait(TIMEOUT)
    futures = [committer.submit([new_item()]) for _ in range(5)]
    save.release.set()
    for future in [first, *futures]:
        future.result(TIMEOUT)
    committer.stop()
    assert [len(call) for call in save.calls] == [1, 2, 2, 1]


def test_a_bad_member_fails_alone_and_its_neighbours_commit(work: WorkLog) -> None:
    existing = new_item()
    work.put_events([existing])
    save = GatedSave(work)
    committer = GroupCommitter(save)
    blocker = committer.submit([new_item()])
    assert save.entered.wait(TIMEOUT)
    good_before, good_after = new_item(), new_item()
    duplicate = new_item(existing.originator_id)  # its creation event conflicts with the stored one
    futures = {
        "before": committer.submit([good_before]),
        "duplicate": committer.submit([duplicate]),
        "after": committer.submit([good_after]),
    }
    save.release.set()
    blocker.result(TIMEOUT)
    assert futures["before"].result(TIMEOUT) is None
    assert futures["after"].result(TIMEOUT) is None
    with pytest.raises(IntegrityError):
        futures["duplicate"].result(TIMEOUT)
    committer.stop()
    # The whole batch was tried once, then each member on its own.
    assert [len(call) for call in save.calls] == [1, 3, 1, 1, 1]
    assert work.repository.get(good_before.originator_id).version == 1
    assert work.repository.get(good_after.originator_id).version == 1
    assert stored_ids(work).count(existing.originator_id) == 1
    assert work.repository.get(existing.originator_id).input == existing.input


def test_a_failing_save_fails_a_lone_submission(work: WorkLog) -> None:
    def broken(events: Events) -> None:
        raise RuntimeError("database down")

    committer = GroupCommitter(broken)
    with pytest.raises(RuntimeError, match="database down"):
        committer.submit([new_item()]).result(TIMEOUT)
    committer.stop()


def test_stop_commits_what_was_queued(work: WorkLog) -> None:
    save = GatedSave(work)
    committer = GroupCommitter(save)
    first = committer.submit([new_item()])
    assert save.entered.wait(TIMEOUT)
    queued = [new_item() for _ in range(3)]
    futures: list[Future[None]] = [committer.submit([item]) for item in queued]
    save.release.set()
    committer.stop()
    # stop() returned: everything submitted before it is answered, without waiting.
    assert all(f.done() and f.exception() is None for f in [first, *futures])
    assert set(stored_ids(work)) >= {item.originator_id for item in queued}


def test_stop_without_submissions_returns_at_once(work: WorkLog) -> None:
    committer = GroupCommitter(lambda events: work.save(*events))
    committer.stop()
    committer.stop()
    assert stored_ids(work) == []


def test_a_database_failure_fails_the_whole_batch_in_one_try(work: WorkLog) -> None:
    save = GatedSave(work)

    def down_after_the_first(events: Events) -> None:
        if save.calls:
            save.calls.append(list(events))
            raise OSError("connection refused")
        save(events)

    committer = GroupCommitter(down_after_the_first)
    first = committer.submit([new_item()])
    assert save.entered.wait(TIMEOUT)
    futures = [committer.submit([new_item()]) for _ in range(4)]
    save.release.set()
    first.result(TIMEOUT)
    for future in futures:
        with pytest.raises(OSError, match="connection refused"):
            future.result(TIMEOUT)
    committer.stop()
    # Not retried item by item: that would only repeat the failure four times.
    assert [len(call) for call in save.calls] == [1, 4]


def test_async_submissions_resolve_on_their_loop_once_committed(work: WorkLog) -> None:
    save = GatedSave(work)
    committer = GroupCommitter(save)

    async def submit_many() -> list[UUID]:
        first = new_item()
        blocker = committer.submit_async([first])
        await asyncio.to_thread(save.entered.wait, TIMEOUT)
        items = [new_item() for _ in range(20)]
        waiting = [committer.submit_async([item]) for item in items]
        gone = committer.submit_async([new_item()])
        gone.cancel()  # a client that went away must not break its batch
        assert not any(f.done() for f in waiting)  # nothing answers before the commit
        save.release.set()
        await asyncio.wait_for(asyncio.gather(blocker, *waiting), TIMEOUT)
        return [first.originator_id, *(item.originator_id for item in items)]

    committed = asyncio.run(submit_many())
    committer.stop()
    assert set(committed) <= set(stored_ids(work))
    assert len(save.calls) == 2  # the 21 queued behind the first were one batch


def test_an_async_submission_gets_the_commit_failure(work: WorkLog) -> None:
    def broken(events: Events) -> None:
        raise OSError("disk full")

    committer = GroupCommitter(broken)

    async def submit() -> None:
        await asyncio.wait_for(committer.submit_async([new_item()]), TIMEOUT)

    with pytest.raises(OSError, match="disk full"):
        asyncio.run(submit())
    committer.stop()


def test_a_cancelled_submission_does_not_stop_the_writer(work: WorkLog) -> None:
    save = GatedSave(work)
    committer = GroupCommitter(save)
    first = committer.submit([new_item()])
    assert save.entered.wait(TIMEOUT)
    abandoned = committer.submit([new_item()])
    assert abandoned.cancel()  # its submitter gave up waiting
    save.release.set()
    first.result(TIMEOUT)
    # The writer is still alive: later submissions commit.
    committer.submit([new_item()]).result(TIMEOUT)
    committer.stop()
