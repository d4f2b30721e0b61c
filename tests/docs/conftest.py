"""The docs' commands run as the command-line tests run theirs."""

from tests.entrypoints.cli.conftest import cli as cli  # the fixture, re-exported
