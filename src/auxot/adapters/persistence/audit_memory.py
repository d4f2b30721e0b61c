"""The audit log in memory, for ``memory://``."""

from __future__ import annotations

from collections.abc import Sequence

from eventsourcing.persistence import Tracking

from auxot.adapters.persistence.views_memory import MemoryRebuildable
from auxot.application.ports import AuditQuery, AuditRow


class MemoryAuditView(MemoryRebuildable):
    """Rows by (stream, version): each event's row is inserted once."""

    TABLES = ("audit_log",)

    def save(self, rows: Sequence[AuditRow], tracking: Tracking) -> None:
        with self._database_lock:
            self._assert_tracking_uniqueness(tracking)
            for row in rows:
                self._rows.setdefault((row.stream, row.version), row)
            self._insert_tracking(tracking)

    def query(self, query: AuditQuery) -> list[AuditRow]:
        with self._database_lock:
            rows: list[AuditRow] = [r for r in self._rows.values() if matches(r, query)]
        rows.sort(key=lambda r: r.position)
        return rows[: query.limit]


def matches(row: AuditRow, q: AuditQuery) -> bool:
    """Whether ``row`` answers ``q`` (the SQL views say the same in their WHERE)."""
    checks = (
        q.teams is None or row.team_id in q.teams,
        q.actor is None or _actor_matches(row, q),
        q.resource is None or row.resource == q.resource,
        q.action is None or row.action == q.action,
        q.since is None or row.at >= q.since,
        q.until is None or row.at < q.until,
        q.after is None or row.position > q.after,
    )
    return all(checks)


def _actor_matches(row: AuditRow, q: AuditQuery) -> bool:
    key = q.actor_key
    return row.key_id == key if key is not None else row.actor == q.actor
