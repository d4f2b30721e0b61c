"""docs/auditors-guide.md: every ``sh`` block it shows runs, in order, against a served
Auxot with a finished work item, and succeeds with output."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.entrypoints.cli.procs import AUXOT, Api, Cli, cli_env, intake_id
from tests.support import EXAMPLE_WORKFLOW

GUIDE = Path(__file__).parents[2] / "docs" / "auditors-guide.md"
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)


def blocks() -> list[str]:
    return BLOCK.findall(GUIDE.read_text(encoding="utf-8"))


def test_the_guide_shows_commands() -> None:
    assert len(blocks()) >= 8


@pytest.fixture
def environment(cli: Cli, sqlite_url: str) -> dict[str, str]:
    triage = intake_id(cli.apply(EXAMPLE_WORKFLOW, sqlite_url), "triage")
    key = cli.create_key(sqlite_url)["key"]
    _, base_url = cli.serve(sqlite_url)
    api = Api(base_url, key)
    try:
        work_id = api.submit(triage, {"subject": "Login", "customer": "Acme"})
        api.wait_done(triage, work_id)
    finally:
        api.close()
    return cli_env(
        AUXOT_DATABASE_URL=sqlite_url,
        AUXOT_URL=base_url,
        AUXOT_KEY=key,
        WORK_ID=work_id,
        PATH=f"{Path(AUXOT).parent}{os.pathsep}{os.environ['PATH']}",
    )


def test_every_command_in_the_guide_runs(cli: Cli, environment: dict[str, str]) -> None:
    outputs = []
    for block in blocks():
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            capture_output=True,
            text=True,
            cwd=cli.cwd,
            env=environment,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"{block}\nexit {done.returncode}: {done.stderr}"
        assert done.stdout.strip(), f"{block}\nprinted nothing"
        outputs.append(done.stdout)
    work_id = environment["WORK_ID"]
    events = json.loads(next(o for o in outputs if o.startswith('{"work_id"')))["events"]
    assert events[0]["actor"] == "team:support"
    exported = (cli.cwd / "history.jsonl").read_text().splitlines()
    assert any(json.loads(line)["stream"] == work_id for line in exported)
