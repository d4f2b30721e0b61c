"""The ProviderSlots contract, the same on memory, SQLite and PostgreSQL.

Each is built as production builds it: ``db.provider_slots(WorkLog(env=db.env("work")))``,
so the slots share the work log's database and connection pool. On the durable
backends, a second "process" (a second work log on the same database) sees the slots
the first one holds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from auxot.application.ports import ProviderSlots
from tests.adapters.persistence.test_work_view_contract import Opened as WorkViewOpened

T0 = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)
LATER = T0 + timedelta(minutes=5)
MINUTE = timedelta(minutes=1)


class Opened(WorkViewOpened):
    """The work log, its view and its slots, as one process wires them."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.slots: ProviderSlots = self.database.provider_slots(self.work)


@pytest.fixture
def opened(database_url: str) -> Iterator[Opened]:
    it = Opened(database_url)
    yield it
    it.close()


def take(slots: ProviderSlots, holder: str, limit: int = 2, provider: str = "p") -> bool:
    return slots.acquire(provider, limit, holder, LATER, T0)


def test_acquire_succeeds_up_to_the_limit_then_refuses(opened: Opened) -> None:
    slots = opened.slots
    assert take(slots, "a")
    assert take(slots, "b")
    assert not take(slots, "c")
    assert not take(slots, "c")  # a refusal takes nothing


def test_providers_have_separate_slots(opened: Opened) -> None:
    slots = opened.slots
    assert take(slots, "a", limit=1, provider="p")
    assert take(slots, "b", limit=1, provider="q")
    assert not take(slots, "c", limit=1, provider="p")


def test_release_frees_the_holder_s_slot_only(opened: Opened) -> None:
    slots = opened.slots
    assert take(slots, "a")
    assert take(slots, "b")
    slots.release("p", "nobody")  # holds nothing: frees nothing
    slots.release("q", "a")  # another provider: frees nothing
    assert not take(slots, "c")
    slots.release("p", "a")
    assert take(slots, "c")
    assert not take(slots, "d")
    slots.release("p", "a")  # again: a no-op (its slot is c's now)
    assert not take(slots, "d")


def test_an_expired_lease_is_free_for_the_taking(opened: Opened) -> None:
    slots = opened.slots
    assert slots.acquire("p", 1, "dead", T0 + MINUTE, T0)
    assert not slots.acquire("p", 1, "b", LATER, T0 + MINUTE - timedelta(microseconds=1))
    assert slots.acquire("p", 1, "b", LATER, T0 + MINUTE)  # a lease ends at lease_until
    # The dead holder's late release does not free b's slot.
    slots.release("p", "dead")
    assert not slots.acquire("p", 1, "c", LATER, T0 + MINUTE)


def test_a_raised_limit_adds_slots_and_a_lowered_one_drains_first(opened: Opened) -> None:
    slots = opened.slots
    assert take(slots, "a", limit=1)
    assert take(slots, "b", limit=3)
    assert take(slots, "c", limit=3)
    assert not take(slots, "d", limit=3)
    # Lowered to 1 while three hold slots: nothing new starts until they are under it.
    slots.release("p", "a")
    assert not take(slots, "d", limit=1)
    slots.release("p", "b")
    assert not take(slots, "d", limit=1)
    slots.release("p", "c")
    assert take(slots, "d", limit=1)
    assert not take(slots, "e", limit=1)


def test_concurrent_acquirers_never_hold_more_than_the_limit(opened: Opened) -> None:
    """Threads race to take and give back slots; at no moment do more than ``limit``
    holders believe they hold one."""
    slots, limit, rounds = opened.slots, 3, 15
    lock = threading.Lock()
    holding: set[str] = set()
    most = 0
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def racer(n: int) -> None:
        nonlocal most
        try:
            start.wait()
            for r in range(rounds):
                holder = f"racer-{n}-{r}"
                if not slots.acquire("p", limit, holder, LATER, T0):
                    continue
                with lock:
                    holding.add(holder)
                    most = max(most, len(holding))
                    assert len(holding) <= limit, sorted(holding)
                with lock:
                    holding.discard(holder)
                slots.release("p", holder)
        except BaseException as exc:  # reported below, with the thread's own traceback
            errors.append(exc)

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert most >= 1  # the racers did hold slots (the limit itself is checked per take above)
    assert not any(thread.is_alive() for thread in threads)
    # Everything was given back: all slots are free again.
    assert all(take(slots, f"after-{n}", limit=limit) for n in range(limit))
    assert not take(slots, "one-too-many", limit=limit)


def test_processes_sharing_the_database_share_the_slots(durable_url: str) -> None:
    one, two = Opened(durable_url), Opened(durable_url)
    try:
        assert take(one.slots, "a", limit=1)
        assert not take(two.slots, "b", limit=1)
        one.slots.release("p", "a")
        assert take(two.slots, "b", limit=1)
        assert not take(one.slots, "c", limit=1)
    finally:
        one.close()
        two.close()


def test_racing_processes_never_hold_more_than_the_limit(durable_url: str) -> None:
    """Two stores on one database (as two processes have), racing from many threads,
    with every slot row created by the race itself."""
    stores = [Opened(durable_url), Opened(durable_url)]
    limit = 2
    wins: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(10)

    def racer(n: int) -> None:
        start.wait()
        if stores[n % 2].slots.acquire("fresh", limit, f"racer-{n}", LATER, T0):
            with lock:
                wins.append(f"racer-{n}")

    try:
        threads = [threading.Thread(target=racer, args=(n,)) for n in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(wins) == limit, wins
    finally:
        for store in stores:
            store.close()
