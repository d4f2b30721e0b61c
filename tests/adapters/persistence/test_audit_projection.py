"""The audit projection on each backend, wired as the composition root wires it: it
follows both logs, writes rows with its positions, tolerates a second process projecting
the same batches, and a replay rebuilds the same rows."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from auxot.adapters.clock import ManualClock
from auxot.application.audit import AuditProjection
from auxot.application.lifecycle import Lifecycle
from auxot.application.ports import AuditQuery, AuditRow
from auxot.application.refs import parse_ref
from auxot.application.replay import replay
from auxot.application.service import Service
from auxot.domain.actor import Actor
from auxot.domain.identity import workflow_id
from auxot.entrypoints.bootstrap import bootstrap
from auxot.entrypoints.settings import Settings
from tests.application.builders import declaration, ids_of

ROOT = Actor.cli("root")
EVERYTHING = AuditQuery(teams=None, limit=100)


@pytest.fixture
def service(database_url: str) -> Iterator[Service]:
    svc = bootstrap(Settings(database_url=database_url), run_worker=False, clock=ManualClock())
    yield svc
    svc.close()


def history(service: Service) -> None:
    applied = service.apply(declaration(), ROOT)
    key = service.create_key("team", "support", ROOT)
    caller = service.authenticate(key.key)
    assert caller is not None
    intake = ids_of(applied, "intake")["triage"]
    intake_id = parse_ref("intake", intake)
    assert intake_id is not None
    for n in range(3):
        service.submit(caller, intake_id, {"n": n})[1].result(10)
    Lifecycle(service).pause(caller, workflow_id("support", "triage"))


def rows(projection: AuditProjection) -> list[AuditRow]:
    return projection.view.query(EVERYTHING)


def test_it_follows_both_logs_and_rebuilds_the_same_rows(service: Service) -> None:
    history(service)
    projection = service.audit
    assert projection.catch_up_fully() > 0
    projected = rows(projection)
    actions = [r.action for r in projected]
    assert actions.count("work.received") == 3
    assert {"team.registered", "workflow.registered", "key.issued", "workflow.paused"} <= set(
        actions
    )
    positions = projection.positions
    assert positions["registry"] > 0
    assert positions["work"] > 0
    done = replay(projection)
    assert rows(projection) == projected
    assert projection.positions == positions
    assert done.position == projection.position == projection.head()


def test_two_projectors_racing_on_one_database_write_each_row_once(service: Service) -> None:
    """As two worker processes do: the one whose tracking insert loses moves on."""
    history(service)
    projectors = [
        AuditProjection(service.registry, service.work, service.audit.view, batch=batch)
        for batch in (2, 3)
    ]
    with ThreadPoolExecutor(2) as pool:
        for done in [pool.submit(p.catch_up_fully) for p in projectors]:
            done.result(timeout=60)
    mine = projectors[0]
    mine.catch_up_fully()  # whatever a lost race left to do
    projected = rows(mine)
    assert len({(r.stream, r.version) for r in projected}) == len(projected)
    fresh = AuditProjection(service.registry, service.work, service.audit.view)
    replay(fresh)
    assert rows(fresh) == projected
