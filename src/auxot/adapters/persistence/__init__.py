"""Persistence: which eventsourcing recorders and which work view a database URL means."""

from auxot.adapters.persistence.database import (
    Database,
    DatabaseUnavailableError,
    DatabaseUrlError,
    parse_database_url,
)

__all__ = ["Database", "DatabaseUnavailableError", "DatabaseUrlError", "parse_database_url"]
