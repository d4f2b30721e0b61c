"""What every ``auxot`` command shares: the --database option, settings and a service
built from the environment (failing with one line, not a traceback), and who acts."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click

from auxot.adapters.persistence import DatabaseUrlError, parse_database_url
from auxot.application.service import Service
from auxot.domain.actor import Actor
from auxot.entrypoints.bootstrap import bootstrap
from auxot.entrypoints.settings import Settings, SettingsError

DATABASE = click.option(
    "--database",
    "database_url",
    metavar="URL",
    default=None,
    help="sqlite:///path, postgresql://user@host:port/db or memory:// "
    "[env AUXOT_DATABASE_URL; default sqlite:///auxot.db]",
)


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"auxot: {message}", err=True)
    sys.exit(code)


def settings_or_fail(**overrides: Any) -> Settings:
    try:
        return Settings.from_env(**overrides)
    except SettingsError as exc:
        fail(str(exc))


def service_or_fail(settings: Settings, *, run_worker: bool = True) -> Service:
    try:
        return bootstrap(settings, run_worker=run_worker)
    except DatabaseUrlError as exc:
        fail(str(exc))
    except Exception as exc:  # the database is down, unreachable, ...
        reason = " ".join(str(exc).split())  # one line
        fail(f"cannot open the database {describe(settings)}: {reason}")


def describe(settings: Settings) -> str:
    return parse_database_url(settings.database_url).describe()


def cli_actor(settings: Settings) -> Actor:
    """Who acts from the command line: the operating-system user running ``auxot``."""
    return Actor.cli(settings.os_user)
