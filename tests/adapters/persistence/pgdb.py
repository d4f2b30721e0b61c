"""A fresh PostgreSQL database for unittest-style cases (pytest fixtures cannot reach
them): created through the ``postgres`` maintenance database, dropped with FORCE."""

from __future__ import annotations

import uuid

import psycopg

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def create_database() -> str:
    """Create an empty database; returns its URL."""
    name = f"auxot_test_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
