"""``auxot apply`` checks callback URLs where they are saved: a URL Auxot may not call is
refused with the file's line and the reason, and nothing is recorded."""

from __future__ import annotations

import pytest

from tests.entrypoints.cli.procs import Cli, cli_env
from tests.entrypoints.cli.test_apply import registry_events
from tests.support import EXAMPLE_WORKFLOW


def with_callback(url: str, override: bool = False) -> str:
    extra = f"    callback_url: {url}\n" + ("    allow_callback_override: true\n" * override)
    return EXAMPLE_WORKFLOW + extra


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://localhost/hook", "loopback"),
        ("https://0177.0.0.1/hook", "resolves to 127.0.0.1"),
        ("https://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://1.1.1.1/hook", "only https://"),
    ],
)
def test_a_callback_url_auxot_may_not_call_is_refused_and_nothing_saved(
    cli: Cli, sqlite_url: str, url: str, why: str
) -> None:
    cli.write("workflows.yaml", with_callback(url))
    done = cli.run("apply", "workflows.yaml", "--database", sqlite_url)
    assert done.returncode == 2, done.stderr
    assert "workflows.yaml:25: intakes[0].callback_url: refused: " in done.stderr, done.stderr
    assert why in done.stderr
    assert registry_events(sqlite_url) == 0


def test_the_deployment_may_allow_http_receivers_on_listed_networks(
    cli: Cli, sqlite_url: str
) -> None:
    cli.write("workflows.yaml", with_callback("http://127.0.0.1:8123/hook", override=True))
    env = cli_env(AUXOT_URL_ALLOW_LIST="127.0.0.1", AUXOT_ALLOW_HTTP_CALLBACKS="true")
    done = cli.run("apply", "workflows.yaml", "--database", sqlite_url, env=env)
    assert done.returncode == 0, done.stderr
