"""``auxot demo``: it sets itself up, prints a banner whose commands work as printed,
and stops promptly on Ctrl+C or SIGTERM."""

from __future__ import annotations

import re
import signal

import pytest

from tests.entrypoints.cli.procs import Api, Cli, free_port, wait_healthy


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_demo_banner_works_as_printed(cli: Cli, sqlite_url: str, stop: signal.Signals) -> None:
    port = free_port()
    demo = cli.spawn("demo", "--port", str(port), "--database", sqlite_url)
    demo.wait_for_line(lambda line: line.startswith("Press Ctrl+C to stop."), stream="stdout")
    banner = demo.text("stdout")
    exports = dict(re.findall(r"^  export (BASE_URL|INTAKE_ID|API_KEY)=(\S+)$", banner, re.M))
    assert exports["BASE_URL"] == f"http://127.0.0.1:{port}"
    assert re.fullmatch(r"intake_[0-9a-f]{32}", exports["INTAKE_ID"])
    assert re.fullmatch(r"team\.[0-9a-f]{32}\.\S+", exports["API_KEY"])
    assert 'curl -s -X POST "$BASE_URL/v1/intake/$INTAKE_ID"' in banner
    assert '-H "Authorization: Bearer $API_KEY"' in banner
    assert '"$BASE_URL/v1/intake/$INTAKE_ID/work/$WORK_ID"' in banner
    body = re.search(r"-d '(\{.*\})'", banner)
    assert body is not None

    wait_healthy(demo, exports["BASE_URL"])
    api = Api(exports["BASE_URL"], exports["API_KEY"])
    try:
        response = api.client.post(
            f"/v1/intake/{exports['INTAKE_ID']}",
            content=body.group(1),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 202, response.text
        work_id = response.json()["work_id"]
        record = api.wait_done(exports["INTAKE_ID"], work_id, timeout=20)
    finally:
        api.close()
    assert record["status"] == "completed", record
    assert record["input"]["customer"] == "Acme Corp"
    assert record["output"] == "Draft a reply to Acme Corp"
    assert [s["model"] for s in record["steps"]] == ["scripted", "scripted"]

    demo.signal(stop)
    code = demo.wait(timeout=10)
    # Ctrl+C and SIGTERM are both a clean stop.
    assert code == 0
    assert "Traceback" not in demo.text()
    assert "Aborted" not in demo.text()


def test_demo_twice_on_one_database_reuses_its_setup(cli: Cli, sqlite_url: str) -> None:
    intakes = []
    for _ in range(2):
        demo = cli.spawn("demo", "--port", str(free_port()), "--database", sqlite_url)
        line = demo.wait_for_line(lambda s: s.startswith("  export INTAKE_ID="), stream="stdout")
        intakes.append(line.split("=", 1)[1])
        demo.signal(signal.SIGINT)
        assert demo.wait(timeout=10) == 0
    assert intakes[0] == intakes[1]


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_while_the_server_starts_ends_the_process_cleanly(
    cli: Cli, sqlite_url: str, stop: signal.Signals
) -> None:
    # The first stderr line comes before uvicorn binds the port and installs its own
    # signal handlers: a signal in that window once left the process hanging.
    demo = cli.spawn("demo", "--port", str(free_port()), "--database", sqlite_url)
    demo.wait_for_line(lambda line: line.startswith("auxot: serving"), stream="stderr")
    demo.signal(stop)
    assert demo.wait(timeout=10) == 0
    assert "Traceback" not in demo.text()
