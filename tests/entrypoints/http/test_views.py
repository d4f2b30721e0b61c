"""The views over a real socket: a workflow's board, the work list, statistics; their bad
filters as problems, and what another team's key may see (nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from auxot.application.refs import format_ref
from auxot.domain.identity import workflow_id
from tests.entrypoints.http.conftest import Live
from tests.entrypoints.http.helpers import assert_same_404, problem
from tests.support import EXAMPLE_WORKFLOW, wait_until

EXAMPLE = format_ref("workflow", workflow_id("support", "Support Ticket Triage"))

BILLING = """\
teams:
  - name: billing
workflows:
  - name: Invoices
    team: billing
    steps:
      - {key: check, prompt: "check {{ input.n }}", provider: offline,
         handoffs: [{condition: default, to: complete}]}
intakes:
  - {name: invoices, workflow: Invoices, team: billing}
"""


@pytest.fixture
def client(live: Live) -> Iterator[httpx.Client]:
    with live.client(headers=live.auth) as c:
        yield c


def submit(client: httpx.Client, intake: str, body: dict[str, Any]) -> str:
    response = client.post(f"/v1/intake/{intake}", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["work_id"])


def listed(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/work", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def board(client: httpx.Client, workflow: str = EXAMPLE) -> dict[str, Any]:
    response = client.get(f"/v1/workflows/{workflow}/board")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def completed(client: httpx.Client, count: int) -> list[dict[str, Any]]:
    return wait_until(
        lambda: (done := listed(client, status="completed")) and len(done) == count and done,
        what=f"{count} completed items in the work list",
    )


def test_the_board_has_a_column_per_step_and_the_recently_completed(
    live: Live, client: httpx.Client
) -> None:
    done = [submit(client, live.intake_id, {"subject": f"done {n}"}) for n in range(3)]
    completed(client, 3)
    assert client.post(f"/v1/workflows/{EXAMPLE}/pause").status_code == 200
    waiting = [
        submit(client, live.intake_id, {"subject": "new", "password": "hunter2"}) for _ in range(2)
    ]

    shown = wait_until(
        lambda: (b := board(client))["columns"][0]["count"] == 2 and b, what="two on the board"
    )
    assert [c["step"] for c in shown["columns"]] == ["classify", "draft"]
    assert shown["version"] == 1
    classify = shown["columns"][0]
    assert [card["work_id"] for card in classify["cards"]] == waiting  # longest there first
    card = classify["cards"][0]
    assert card["status"] == "pending"
    assert card["attempt"] == 0
    assert card["waiting_for"] is None
    assert "new" in card["input_summary"]
    assert "hunter2" not in card["input_summary"]
    assert shown["columns"][1] == {"step": "draft", "count": 0, "cards": []}
    assert shown["retired"] == {"step": None, "count": 0, "cards": []}
    recent = shown["recently_completed"]
    assert sorted(r["work_id"] for r in recent) == sorted(done)
    assert all(r["status"] == "completed" and r["duration_ms"] >= 0 for r in recent)


def test_items_at_a_step_the_current_version_dropped_are_retired(
    live: Live, client: httpx.Client
) -> None:
    assert client.post(f"/v1/workflows/{EXAMPLE}/pause").status_code == 200
    pinned = submit(client, live.intake_id, {"subject": "old"})
    live.apply(EXAMPLE_WORKFLOW.replace("key: classify", "key: triage"))

    shown = wait_until(
        lambda: (b := board(client))["retired"]["count"] == 1 and b, what="a retired card"
    )
    assert shown["version"] == 2
    assert [c["step"] for c in shown["columns"]] == ["triage", "draft"]
    assert [(c["work_id"], c["step"]) for c in shown["retired"]["cards"]] == [(pinned, "classify")]


def test_the_work_list_filters_and_pages_newest_first(live: Live, client: httpx.Client) -> None:
    ids = [submit(client, live.intake_id, {"subject": f"s{n}"}) for n in range(5)]
    completed(client, 5)
    assert [i["work_id"] for i in listed(client)] == ids[::-1]
    assert [i["work_id"] for i in listed(client, workflow_id=EXAMPLE)] == ids[::-1]
    assert [i["work_id"] for i in listed(client, intake_id=live.intake_id)] == ids[::-1]
    assert listed(client, status="failed") == []
    first = listed(client)[0]
    assert first["workflow_id"] == EXAMPLE
    assert first["intake_id"] == live.intake_id
    assert first["current_step"] == "draft"
    assert first["finished_at"] is not None

    now = datetime.now(UTC)
    assert len(listed(client, **{"from": (now - timedelta(hours=1)).isoformat()})) == 5
    assert listed(client, to=(now - timedelta(hours=1)).isoformat()) == []

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/work", params=params).json()
        seen += [i["work_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        submit(client, live.intake_id, {"subject": "newer"})  # never shows up in later pages
    assert seen == ids[::-1]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"status": "done"}, 400),
        ({"from": "yesterday"}, 400),
        ({"to": "2026-13-01"}, 400),
        ({"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, 422),
        ({"limit": 101}, 400),
        ({"limit": 0}, 400),
        ({"cursor": "not-a-cursor"}, 400),
        ({"cursor": "bm90IGEgcG9zaXRpb24"}, 400),  # base64, but not a position
        ({"workflow_id": "intake_0123"}, 400),
        ({"intake_id": "42"}, 400),
    ],
)
def test_bad_filters_are_problems(
    client: httpx.Client, params: dict[str, Any], status: int
) -> None:
    body = problem(client.get("/v1/work", params=params), status)
    assert body["detail"]


def test_bad_time_zones_are_problems(live: Live, client: httpx.Client) -> None:
    for tz in ("Mars/Olympus", "../../etc/passwd", ""):
        problem(client.get(f"/v1/workflows/{EXAMPLE}/stats", params={"tz": tz}), 400)
        problem(client.get(f"/v1/intakes/{live.intake_id}/stats", params={"tz": tz}), 400)


def test_stats_count_today(live: Live, client: httpx.Client) -> None:
    for n in range(3):
        submit(client, live.intake_id, {"subject": f"s{n}"})
    completed(client, 3)
    for path in (f"/v1/workflows/{EXAMPLE}/stats", f"/v1/intakes/{live.intake_id}/stats"):
        stats = client.get(path).json()
        assert stats["time_zone"] == "UTC"
        assert (stats["runs"], stats["completed"], stats["failed"]) == (3, 3, 0)
        assert stats["cancelled"] == 0
        assert stats["success_rate"] == 1.0
        assert 0 <= stats["p50_ms"] <= stats["p95_ms"]
        start = datetime.fromisoformat(stats["from"])
        assert datetime.fromisoformat(stats["to"]) - start == timedelta(days=1)
        assert (start.hour, start.minute) == (0, 0)
    tokyo = client.get(f"/v1/workflows/{EXAMPLE}/stats", params={"tz": "Asia/Tokyo"}).json()
    assert tokyo["time_zone"] == "Asia/Tokyo"
    assert datetime.fromisoformat(tokyo["from"]).utcoffset() == timedelta(hours=9)


def test_another_teams_key_sees_none_of_it(live: Live, client: httpx.Client) -> None:
    refs = live.apply(BILLING)
    billing = {"Authorization": f"Bearer {live.service.create_key('team', 'billing').key}"}
    mine = submit(client, live.intake_id, {"subject": "support's"})
    wait_until(lambda: len(listed(client)) == 1, what="support's item listed")

    with live.client(headers=billing) as other:
        theirs = submit(other, refs["intake:invoices"], {"n": 1})
        wait_until(lambda: len(listed(other)) == 1, what="billing's item listed")
        assert [i["work_id"] for i in listed(other)] == [theirs]
        assert [i["work_id"] for i in listed(client)] == [mine]
        unknown_workflow = format_ref("workflow", workflow_id("nobody", "nothing"))
        unknown_intake = live.intake_id[:-4] + "beef"
        for kind, real, unknown in (
            (
                "workflow",
                f"/v1/workflows/{EXAMPLE}/board",
                f"/v1/workflows/{unknown_workflow}/board",
            ),
            (
                "workflow",
                f"/v1/workflows/{EXAMPLE}/stats",
                f"/v1/workflows/{unknown_workflow}/stats",
            ),
            (
                "intake",
                f"/v1/intakes/{live.intake_id}/stats",
                f"/v1/intakes/{unknown_intake}/stats",
            ),
            (
                "filter",
                f"/v1/work?workflow_id={EXAMPLE}",
                f"/v1/work?workflow_id={unknown_workflow}",
            ),
            (
                "filter",
                f"/v1/work?intake_id={live.intake_id}",
                f"/v1/work?intake_id={unknown_intake}",
            ),
        ):
            assert_same_404(
                {
                    f"another team's {kind}": other.get(real),
                    f"unknown {kind}": other.get(unknown),
                    f"malformed {kind}": other.get(real.replace("_", "-", 1))
                    if kind != "filter"
                    else other.get(unknown),
                }
            )


def test_the_views_on_every_backend(live_any: Live) -> None:
    with live_any.client(headers=live_any.auth) as client:
        ids = [submit(client, live_any.intake_id, {"subject": f"s{n}"}) for n in range(3)]
        completed(client, 3)
        assert [i["work_id"] for i in listed(client)] == ids[::-1]
        recent = board(client)["recently_completed"]
        assert sorted(r["work_id"] for r in recent) == sorted(ids)
        stats = client.get(f"/v1/intakes/{live_any.intake_id}/stats").json()
        assert (stats["runs"], stats["completed"], stats["success_rate"]) == (3, 3, 1.0)
