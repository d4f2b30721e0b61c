"""Status reads: an answer right after submit, the projected row after, never backwards."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID, uuid4

import attrs
import pytest

from auxot.adapters.clock import ManualClock
from auxot.application.declarations import IntakeDecl
from auxot.application.engine import Engine
from auxot.application.errors import NotFoundError
from auxot.application.keys import Caller
from auxot.application.projection import WorkProjection
from auxot.application.records import WorkRecord, decode_record
from auxot.application.refs import format_ref, parse_ref
from auxot.application.service import Service
from auxot.domain.actor import SYSTEM as OPERATOR
from auxot.domain.identity import team_id
from auxot.domain.work_item import Status
from tests.application.builders import declaration, ids_of, memory_service
from tests.support import wait_until

_RANK = {"pending": 0, "running": 1, "completed": 2, "failed": 2}


@pytest.fixture
def service(clock: ManualClock) -> Iterator[Service]:
    service = memory_service(clock)
    yield service
    service.close()


@pytest.fixture
def intakes(service: Service) -> dict[str, UUID]:
    applied = service.apply(declaration(intakes=("triage", "other")), OPERATOR)
    return {name: _id("intake", ref) for name, ref in ids_of(applied, "intake").items()}


def _id(kind: str, ref: str) -> UUID:
    parsed = parse_ref(kind, ref)
    assert parsed is not None
    return parsed


def submit(service: Service, intake: UUID) -> UUID:
    work_id, committed = service.submit(None, intake, {"subject": "s", "customer": "c"})
    committed.result(10)
    return work_id


def read(service: Service, intake: UUID, work_id: UUID) -> WorkRecord:
    return decode_record(service.work_record(None, intake, work_id))


def test_right_after_submit_there_is_a_pending_record(
    service: Service, intakes: dict[str, UUID], clock: ManualClock
) -> None:
    work_id = submit(service, intakes["triage"])
    assert service.view.get(work_id) is None  # nothing projected yet
    record = read(service, intakes["triage"], work_id)
    assert record.status == "pending"
    assert record.work_id == format_ref("work", work_id)
    assert record.intake_id == format_ref("intake", intakes["triage"])
    assert record.workflow_version == 1
    assert record.current_step == "step1"
    assert record.steps == []
    assert record.created_at == clock.now()
    assert record.input == {"subject": "s", "customer": "c"}


def test_after_projection_the_projected_row_is_served(
    service: Service, intakes: dict[str, UUID]
) -> None:
    work_id = submit(service, intakes["triage"])
    WorkProjection(service.work, service.view).catch_up()
    row = service.view.get(work_id)
    assert row is not None
    assert service.work_record(None, intakes["triage"], work_id) == row.record
    assert service.find_record(work_id) == (intakes["triage"], row.record)


def test_the_fallback_and_the_projection_agree_on_the_first_version(
    service: Service, intakes: dict[str, UUID]
) -> None:
    work_id = submit(service, intakes["triage"])
    before = service.work_record(None, intakes["triage"], work_id)
    WorkProjection(service.work, service.view).catch_up()
    assert service.work_record(None, intakes["triage"], work_id) == before


def test_a_work_id_read_through_another_intake_is_not_found(
    service: Service, intakes: dict[str, UUID]
) -> None:
    work_id = submit(service, intakes["triage"])
    with pytest.raises(NotFoundError):
        service.work_record(None, intakes["other"], work_id)
    WorkProjection(service.work, service.view).catch_up()
    with pytest.raises(NotFoundError):
        service.work_record(None, intakes["other"], work_id)


def test_unknown_work_and_unknown_intakes_are_not_found(
    service: Service, intakes: dict[str, UUID]
) -> None:
    with pytest.raises(NotFoundError):
        service.work_record(None, intakes["triage"], uuid4())
    work_id = submit(service, intakes["triage"])
    with pytest.raises(NotFoundError):
        service.work_record(None, uuid4(), work_id)
    assert service.find_record(uuid4()) is None


def test_a_caller_of_another_team_cannot_read_the_work(
    service: Service, intakes: dict[str, UUID]
) -> None:
    work_id = submit(service, intakes["triage"])
    outsider = Caller(uuid4(), "team", "ops", frozenset({team_id("ops")}))
    insider = Caller(uuid4(), "team", "support", frozenset({team_id("support")}))
    with pytest.raises(NotFoundError):
        service.work_record(outsider, intakes["triage"], work_id)
    assert read_as(service, insider, intakes["triage"], work_id).status == "pending"


def read_as(service: Service, caller: Caller, intake: UUID, work_id: UUID) -> WorkRecord:
    return decode_record(service.work_record(caller, intake, work_id))


def test_work_of_a_deactivated_intake_is_not_found(
    service: Service, intakes: dict[str, UUID]
) -> None:
    work_id = submit(service, intakes["triage"])
    deactivated = IntakeDecl("triage", "triage", "support", active=False)
    service.apply(attrs.evolve(declaration(), intakes=(deactivated,)), OPERATOR)
    with pytest.raises(NotFoundError):
        service.work_record(None, intakes["triage"], work_id)


def test_status_never_goes_backwards_while_projection_and_engine_move_on(
    service: Service, intakes: dict[str, UUID], clock: ManualClock
) -> None:
    """Read before and after every small move: one event projected at a time, and a
    dispatch in between, so reads interleave with a projection that lags the store."""
    projection = WorkProjection(service.work, service.view, batch=1)
    engine = Engine(
        service.work,
        service.view,
        service.directory,
        service.providers,
        clock,
        slots=service.slots,
        worker_id="worker-a",
        threads=1,
    )
    work_ids = [submit(service, intakes["triage"]) for _ in range(3)]
    seen: dict[UUID, list[str]] = {w: [] for w in work_ids}

    def read_all() -> None:
        for work_id in work_ids:
            seen[work_id].append(read(service, intakes["triage"], work_id).status)

    try:
        for _ in range(100):
            read_all()
            projected = projection.catch_up()
            read_all()
            if engine.dispatch():  # from rows that may lag the store by several events
                wait_until(lambda: engine.idle, what="the dispatched steps to finish")
            elif not projected and all(Status(s[-1]).terminal for s in seen.values()):
                break
    finally:
        engine.close()

    for statuses in seen.values():
        ranks = [_RANK[s] for s in statuses]
        assert ranks == sorted(ranks), statuses
        assert statuses[0] == "pending"
        assert "running" in statuses
        assert statuses[-1] == "completed"


def test_another_process_reads_work_of_an_intake_created_moments_ago(sqlite_url: str) -> None:
    """Two services on one database, as two HTTP processes: the intake and its work are
    created through one; the other, which has not refreshed since, reads the record."""
    from auxot.entrypoints.bootstrap import bootstrap
    from auxot.entrypoints.settings import Settings

    first, second = (bootstrap(Settings(database_url=sqlite_url)) for _ in range(2))
    try:
        second.directory.refresh()
        applied = first.apply(declaration(), OPERATOR)
        intake = _id("intake", ids_of(applied, "intake")["triage"])
        work_id = submit(first, intake)
        record = decode_record(second.work_record(None, intake, work_id))
        assert record.status == "pending"
    finally:
        first.close()
        second.close()


def test_every_refusal_takes_the_same_path_whatever_its_reason(
    service: Service, intakes: dict[str, UUID], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unknown, deactivated and other teams' intakes are refused after the same directory
    look-up, so that timing cannot tell a caller which one it met."""
    refreshes: list[UUID] = []
    original = service.directory.refresh_soon
    monkeypatch.setattr(
        service.directory, "refresh_soon", lambda *a, **k: (refreshes.append(uuid4()), original())
    )
    stranger = Caller(key_id=uuid4(), kind="team", owner="ops", teams=frozenset({team_id("ops")}))
    work_id = submit(service, intakes["triage"])
    cases = {
        "unknown": (None, uuid4()),
        "other team": (stranger, intakes["triage"]),
    }
    for reason, (caller, intake) in cases.items():
        before = len(refreshes)
        with pytest.raises(NotFoundError):
            service.receive(caller, intake, {})
        with pytest.raises(NotFoundError):
            service.work_record(caller, intake, work_id)
        assert len(refreshes) - before == 2, reason
    # The visible intake needs no look-up.
    before = len(refreshes)
    service.receive(None, intakes["triage"], {})
    assert len(refreshes) == before
