"""The audit log on PostgreSQL, beside the events it is projected from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore
from psycopg.sql import SQL, Composable, Identifier

from auxot.adapters.persistence.views_postgres import PostgresRebuildable
from auxot.application.ports import AuditQuery, AuditRow

_COLUMNS = SQL("stream, version, at, actor, key_id, team_id, resource, action, details")
_FIELDS = ("stream", "version", "at", "actor", "key_id", "team_id", "resource", "action")


class PostgresAuditView(PostgresRebuildable):
    TABLES = ("audit_log",)

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        name = self.tables[0]
        self.sql_create_statements.extend(
            [
                SQL(
                    "CREATE TABLE IF NOT EXISTS {0} ("
                    "stream uuid NOT NULL, version integer NOT NULL, at timestamptz NOT NULL, "
                    "actor text NOT NULL, key_id uuid, team_id uuid, resource text NOT NULL, "
                    "action text NOT NULL, details bytea NOT NULL, PRIMARY KEY (stream, version))"
                ).format(self._t),
                SQL("CREATE INDEX IF NOT EXISTS {0} ON {1} (at, stream, version)").format(
                    Identifier(f"{name}_at"), self._t
                ),
                SQL("CREATE INDEX IF NOT EXISTS {0} ON {1} (team_id, at)").format(
                    Identifier(f"{name}_team"), self._t
                ),
            ]
        )

    def save(self, rows: Sequence[AuditRow], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            if rows:
                curs.executemany(
                    SQL(
                        "INSERT INTO {0} ({1}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                        "ON CONFLICT (stream, version) DO NOTHING"
                    ).format(self._t, _COLUMNS),
                    [
                        (
                            r.stream,
                            r.version,
                            r.at,
                            r.actor,
                            r.key_id,
                            r.team_id,
                            r.resource,
                            r.action,
                            r.details,
                        )
                        for r in rows
                    ],
                )
            self._insert_tracking(curs, tracking)

    def query(self, query: AuditQuery) -> list[AuditRow]:
        where, params = _where(query)
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT {0} FROM {1} WHERE {2} ORDER BY at, stream, version LIMIT %s").format(
                    _COLUMNS, self._t, where
                ),
                (*params, query.limit),
            )
            return [_row(r) for r in curs.fetchall()]


def _where(q: AuditQuery) -> tuple[Composable, list[Any]]:
    clauses: list[Composable] = [SQL("TRUE")]
    params: list[Any] = []
    if q.teams is not None:
        clauses.append(SQL("team_id = ANY(%s::uuid[])"))
        params.append(sorted(q.teams))
    if q.actor is not None:
        key = q.actor_key
        clauses.append(SQL("key_id = %s") if key is not None else SQL("actor = %s"))
        params.append(key if key is not None else q.actor)
    for column, value in (("resource", q.resource), ("action", q.action)):
        if value is not None:
            clauses.append(SQL("{0} = %s").format(Identifier(column)))
            params.append(value)
    if q.since is not None:
        clauses.append(SQL("at >= %s"))
        params.append(q.since)
    if q.until is not None:
        clauses.append(SQL("at < %s"))
        params.append(q.until)
    if q.after is not None:
        clauses.append(SQL("(at, stream, version) > (%s, %s, %s)"))
        params.extend(q.after)
    return SQL(" AND ").join(clauses), params


def _row(found: Any) -> AuditRow:
    return AuditRow(**{k: found[k] for k in _FIELDS}, details=bytes(found["details"]))
