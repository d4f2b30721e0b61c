"""``auxot apply`` of a file with tools and agents, as a subprocess."""

from __future__ import annotations

from tests.entrypoints.cli.procs import Cli
from tests.entrypoints.test_agents_file import FILE

# The CLI process has no Python tools: an agent there names declared tools only.
CLI_FILE = FILE.replace("tools: [lookup_customer, priority_of]", "tools: [lookup_customer]")


def test_apply_reports_tools_and_agents(cli: Cli, sqlite_url: str) -> None:
    first = cli.apply(CLI_FILE, sqlite_url)
    assert list(first) == ["teams", "providers", "workflows", "intakes", "tools", "agents"]
    (tool,) = first["tools"]
    assert (tool["name"], tool["status"], tool["id"][:5]) == ("lookup_customer", "created", "tool_")
    (agent,) = first["agents"]
    assert (agent["name"], agent["status"], agent["team"]) == ("triager", "created", "support")
    assert agent["id"].startswith("agent_")
    again = cli.apply(CLI_FILE, sqlite_url)
    assert [a["status"] for a in again["tools"] + again["agents"]] == ["unchanged", "unchanged"]
