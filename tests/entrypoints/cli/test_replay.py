"""``auxot replay`` as a real process: progress on stderr, a line per projection rebuilt,
the rebuilt rows equal to the live ones, exit codes."""

from __future__ import annotations

import re
from uuid import uuid4

from auxot.adapters.persistence import parse_database_url
from auxot.application.audit import AuditProjection
from auxot.application.ports import AuditQuery, WorkQuery
from auxot.application.projection import IndexProjection, WorkProjection
from auxot.application.stores import Registry, WorkLog
from tests.adapters.persistence.history import record_history
from tests.entrypoints.cli.procs import Cli
from tests.support import EXAMPLE_WORKFLOW

ITEMS = 400


def test_replay_rebuilds_every_projection_with_progress(cli: Cli, db_url: str) -> None:
    cli.apply(EXAMPLE_WORKFLOW, db_url)  # the tables, as an operator's database has them
    database = parse_database_url(db_url)
    work = WorkLog(env=database.env(WorkLog.name))
    try:
        ids = record_history(work, ITEMS, uuid4(), (uuid4(), None), batch=100)
        view, index = database.work_view(work), database.index_view(work)
        WorkProjection(work, view).catch_up_fully()
        IndexProjection(work, index).catch_up_fully()
        live_rows = index.page(WorkQuery(workflows=None), 100, None)
        live_status = [view.get(i) for i in ids]
        head = work.recorder.max_notification_id() or 0
        registry = Registry(env=database.env(Registry.name))
        # The audit log follows both logs: its position is the sum of theirs.
        both = head + (registry.recorder.max_notification_id() or 0)
        registry.close()

        done = cli.run("replay", "--database", db_url)
        assert done.returncode == 0, done.stderr
        for name, at in (
            ("status", head),
            ("work_index", head),
            ("audit", both),
            ("deliveries", head),
        ):
            assert re.search(
                rf"^{name}: rebuilt from \d+ events in [\d.]+ s \([\d,]+ events/s\); "
                rf"live at position {at}$",
                done.stdout,
                re.M,
            ), done.stdout
            assert f"{name}: {at}/{at} events (100%)" in done.stderr, done.stderr
        assert index.page(WorkQuery(workflows=None), 100, None) == live_rows
        assert [view.get(i) for i in ids] == live_status
    finally:
        work.close()


def test_replay_of_one_projection_and_of_an_unknown_one(cli: Cli, sqlite_url: str) -> None:
    cli.apply(EXAMPLE_WORKFLOW, sqlite_url)
    one = cli.ok("replay", "--projection", "work_index", "--database", sqlite_url)
    assert one.startswith("work_index: rebuilt from 0 events")
    assert "status" not in one

    unknown = cli.run("replay", "--projection", "nope", "--database", sqlite_url)
    assert unknown.returncode == 2
    assert "no projection named nope; known: status, work_index, audit, deliveries" in (
        unknown.stderr
    )


def test_replay_of_the_audit_log_keeps_its_rows(cli: Cli, sqlite_url: str) -> None:
    cli.apply(EXAMPLE_WORKFLOW, sqlite_url)
    cli.ok("keys", "create", "--team", "support", "--database", sqlite_url)
    database = parse_database_url(sqlite_url)
    registry = Registry(env=database.env(Registry.name))
    work = WorkLog(env=database.env(WorkLog.name))
    try:
        audit = AuditProjection(registry, work, database.audit_view(work))
        audit.catch_up_fully()
        live = audit.view.query(AuditQuery(teams=None, limit=1000))
        assert {"workflow.registered", "key.issued"} <= {row.action for row in live}

        one = cli.ok("replay", "--projection", "audit", "--database", sqlite_url)
        assert one.startswith(f"audit: rebuilt from {audit.head()} events")
        assert "work_index" not in one
        assert audit.view.query(AuditQuery(teams=None, limit=1000)) == live
        assert audit.positions == {"registry": registry.recorder.max_notification_id(), "work": 0}
    finally:
        work.close()
        registry.close()
