"""The audit log on SQLite, beside the events it is projected from.

Times are stored as whole microseconds since the epoch, so that a page's cursor (a row's
exact time) compares exactly with the rows after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking

from auxot.adapters.persistence.views_sqlite import SQLiteRebuildable
from auxot.application.ports import AuditQuery, AuditRow

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
_COLUMNS = "stream, version, at, actor, key_id, team_id, resource, action, details"


class SQLiteAuditView(SQLiteRebuildable):
    TABLES = ("audit_log",)

    def construct_create_table_statements(self) -> list[str]:
        t = self._t
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {t} ("
            "stream TEXT NOT NULL, version INTEGER NOT NULL, at INTEGER NOT NULL, "
            "actor TEXT NOT NULL, key_id TEXT, team_id TEXT, resource TEXT NOT NULL, "
            "action TEXT NOT NULL, details BLOB NOT NULL, PRIMARY KEY (stream, version)) "
            "WITHOUT ROWID",
            f"CREATE INDEX IF NOT EXISTS {t}_at ON {t} (at, stream, version)",
            f"CREATE INDEX IF NOT EXISTS {t}_team ON {t} (team_id, at)",
        ]

    def save(self, rows: Sequence[AuditRow], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.executemany(
                f"INSERT OR IGNORE INTO {self._t} ({_COLUMNS}) "  # noqa: S608
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [_params(row) for row in rows],
            )
            self._insert_tracking(c, tracking)

    def query(self, query: AuditQuery) -> list[AuditRow]:
        where, params = _where(query)
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT {_COLUMNS} FROM {self._t} WHERE {where} "  # noqa: S608
                "ORDER BY at, stream, version LIMIT ?",
                (*params, query.limit),
            )
            return [_row(r) for r in c.fetchall()]


def _where(q: AuditQuery) -> tuple[str, list[Any]]:
    clauses: list[str] = ["1 = 1"]
    params: list[Any] = []
    if q.teams is not None:
        clauses.append(f"team_id IN ({', '.join('?' * len(q.teams)) or 'NULL'})")
        params.extend(sorted(t.hex for t in q.teams))
    if q.actor is not None:
        key = q.actor_key
        clauses.append("key_id = ?" if key is not None else "actor = ?")
        params.append(key.hex if key is not None else q.actor)
    for column, value in (("resource", q.resource), ("action", q.action)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if q.since is not None:
        clauses.append("at >= ?")
        params.append(_micros(q.since))
    if q.until is not None:
        clauses.append("at < ?")
        params.append(_micros(q.until))
    if q.after is not None:
        clauses.append("(at, stream, version) > (?, ?, ?)")
        params.extend((_micros(q.after[0]), q.after[1].hex, q.after[2]))
    return " AND ".join(clauses), params


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // _MICRO


def _params(row: AuditRow) -> tuple[Any, ...]:
    return (
        row.stream.hex,
        row.version,
        _micros(row.at),
        row.actor,
        None if row.key_id is None else row.key_id.hex,
        None if row.team_id is None else row.team_id.hex,
        row.resource,
        row.action,
        row.details,
    )


def _row(r: Any) -> AuditRow:
    return AuditRow(
        stream=UUID(hex=r[0]),
        version=r[1],
        at=_EPOCH + r[2] * _MICRO,
        actor=r[3],
        key_id=None if r[4] is None else UUID(hex=r[4]),
        team_id=None if r[5] is None else UUID(hex=r[5]),
        resource=r[6],
        action=r[7],
        details=bytes(r[8]),
    )
