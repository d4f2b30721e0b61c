"""Database URLs: what each form means, what is refused, and that no password leaks."""

from __future__ import annotations

import pytest

from auxot.adapters.persistence import Database, DatabaseUrlError, parse_database_url

SECRET = "s3cr3t-Pa55word"


def test_memory_url() -> None:
    db = parse_database_url("memory://")
    assert db.backend == "memory"
    assert db.env("work") == {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    assert db.describe() == "memory://"


def test_sqlite_relative_path() -> None:
    db = parse_database_url("sqlite:///relative.db")
    assert (db.backend, db.path) == ("sqlite", "relative.db")
    assert db.describe() == "sqlite:///relative.db"


def test_sqlite_absolute_path() -> None:
    db = parse_database_url("sqlite:////abs/path.db")
    assert (db.backend, db.path) == ("sqlite", "/abs/path.db")
    assert db.describe() == "sqlite:////abs/path.db"


def test_sqlite_percent_encoded_path() -> None:
    assert parse_database_url("sqlite:///my%20data/auxot.db").path == "my data/auxot.db"


def test_sqlite_env_gives_each_application_its_own_events_table() -> None:
    db = parse_database_url("sqlite:///auxot.db")
    registry, work = db.env("registry"), db.env("work")
    assert registry["PERSISTENCE_MODULE"] == work["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
    assert registry["SQLITE_DBNAME"] == work["SQLITE_DBNAME"] == "auxot.db"
    assert registry["APPLICATION_RECORDER_TOPIC"] != work["APPLICATION_RECORDER_TOPIC"]


def test_postgresql_url() -> None:
    db = parse_database_url("postgresql://user:pw@db.example.org:5433/auxot")
    assert db == Database(
        "postgres", host="db.example.org", port=5433, user="user", password="pw", dbname="auxot"
    )
    env = db.env("work")
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == ("db.example.org", "5433")
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("user", "pw")
    assert env["POSTGRES_DBNAME"] == "auxot"
    # A pitfall of eventsourcing 9.5.x (see DESIGN.md): never turn the DB functions on.
    assert "POSTGRES_ENABLE_DB_FUNCTIONS" not in env


def test_postgres_alias_and_default_port() -> None:
    db = parse_database_url("postgres://user@localhost/auxot")
    assert db == Database("postgres", host="localhost", port=5432, user="user", dbname="auxot")
    assert db.env("work")["POSTGRES_PASSWORD"] == ""


def test_percent_encoded_user_and_password() -> None:
    db = parse_database_url("postgresql://us%40er:p%40ss%3Aw%2Fo%25rd@host:5432/db")
    assert db.user == "us@er"
    assert db.password == "p@ss:w/o%rd"
    assert db.env("work")["POSTGRES_PASSWORD"] == "p@ss:w/o%rd"


@pytest.mark.parametrize(
    "url",
    [
        "mysql://user@host/db",
        "http://example.org/db",
        "auxot.db",
        "",
        "C:/data/auxot.db",
        "sqlite3:///auxot.db",
    ],
)
def test_unknown_schemes_are_refused(url: str) -> None:
    with pytest.raises(DatabaseUrlError, match="unsupported database URL"):
        parse_database_url(url)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:auxot.db", "sqlite://auxot.db"])
def test_sqlite_without_a_path_is_refused(url: str) -> None:
    with pytest.raises(DatabaseUrlError, match="names no file"):
        parse_database_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql:///auxot",  # no host
        "postgresql://user:pw@/auxot",  # no host
        "postgresql://user:pw@host",  # no database
        "postgresql://user:pw@host/",  # no database
        "postgres://host:5432",  # no database
    ],
)
def test_postgres_without_host_or_database_is_refused(url: str) -> None:
    with pytest.raises(DatabaseUrlError, match="needs a host and a database"):
        parse_database_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://user@host:notaport/db",
        "postgresql://user@host:99999/db",
        "postgresql://user@host:-1/db",
    ],
)
def test_postgres_with_a_bad_port_is_refused(url: str) -> None:
    with pytest.raises(DatabaseUrlError, match="bad port"):
        parse_database_url(url)


def test_database_url_error_is_a_value_error() -> None:
    assert issubclass(DatabaseUrlError, ValueError)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://auxot:{SECRET}@db.example.org:5433/auxot",
        f"postgres://auxot:{SECRET}@db.example.org/auxot",
        "postgresql://auxot:" + SECRET.replace("-", "%2D") + "@db.example.org/auxot",
    ],
)
def test_describe_never_shows_the_password(url: str) -> None:
    db = parse_database_url(url)
    assert db.password == SECRET
    described = db.describe()
    assert SECRET not in described
    assert described == f"postgresql://auxot@db.example.org:{db.port}/auxot"


def test_repr_never_shows_the_password() -> None:
    # A Database ends up in logs and tracebacks (``%r``, pytest's assertion rewriting).
    db = parse_database_url(f"postgresql://auxot:{SECRET}@db.example.org/auxot")
    assert SECRET not in repr(db)
    assert SECRET not in str(db)
