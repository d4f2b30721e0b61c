"""Submitting and polling work over a real socket: the record, read-your-writes,
monotone progress, and 202 only after the first event is committed."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import httpx

from tests.entrypoints.http.conftest import Live
from tests.entrypoints.http.helpers import work_uuid
from tests.support import wait_until

WORK_REF = re.compile(r"work_[0-9a-f]{32}")
TERMINAL = {"completed", "failed"}
RANK = {"pending": 0, "running": 1, "completed": 2, "failed": 2}
RECORD_FIELDS = {
    "work_id",
    "intake_id",
    "workflow_id",
    "status",
    "input",
    "output",
    "error",
    "current_step",
    "steps",
    "created_at",
    "updated_at",
    "completed_at",
}
STEP_FIELDS = {
    "key",
    "status",
    "attempt",
    "started_at",
    "finished_at",
    "duration_ms",
    "model",
    "tokens",
    "error",
}

# A workflow whose steps take a moment, so that polling sees it running.
SLOW_WORKFLOW = """\
providers:
  - name: slow
    kind: scripted
    max_parallel: 4
    settings: {delay: 0.2}
workflows:
  - name: Slow Triage
    team: support
    steps:
      - key: classify
        prompt: "Classify this ticket: {{ input.subject }}"
        provider: slow
        handoffs:
          - {condition: default, to: draft}
      - key: draft
        prompt: "Draft a reply to {{ input.customer }}"
        provider: slow
        handoffs:
          - {condition: default, to: complete}
intakes:
  - name: slow
    workflow: Slow Triage
    team: support
"""


def _submit(client: httpx.Client, live: Live, body: dict[str, Any], intake: str = "") -> str:
    response = client.post(f"/v1/intake/{intake or live.intake_id}", json=body, headers=live.auth)
    assert response.status_code == 202, response.text
    work_id = response.json()["work_id"]
    assert WORK_REF.fullmatch(work_id), work_id
    return str(work_id)


def _poll(client: httpx.Client, live: Live, work_id: str, intake: str = "") -> dict[str, Any]:
    response = client.get(
        f"/v1/intake/{intake or live.intake_id}/work/{work_id}", headers=live.auth
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    record = json.loads(response.content)
    assert isinstance(record, dict)
    return record


def test_submit_then_poll_until_completed(live: Live) -> None:
    body = {"customer": "Acme Corp", "subject": "Login broken", "tags": ["vip"], "n": 3}
    with live.client() as client:
        response = client.post(f"/v1/intake/{live.intake_id}", json=body, headers=live.auth)
        assert response.status_code == 202, response.text
        assert response.headers["content-type"].startswith("application/json")
        work_id = response.json()["work_id"]
        assert WORK_REF.fullmatch(work_id), work_id
        location = response.headers["location"]
        assert location == f"/v1/intake/{live.intake_id}/work/{work_id}"

        first = client.get(location, headers=live.auth)
        assert first.status_code == 200, first.text
        record = first.json()
        assert set(record) >= RECORD_FIELDS, RECORD_FIELDS - set(record)
        assert record["work_id"] == work_id
        assert record["intake_id"] == live.intake_id
        assert re.fullmatch(r"workflow_[0-9a-f]{32}", record["workflow_id"])
        assert record["status"] in RANK
        assert record["input"] == body

        def finished() -> dict[str, Any] | None:
            polled = client.get(location, headers=live.auth)
            assert polled.status_code == 200, polled.text
            current: dict[str, Any] = polled.json()
            return current if current["status"] in TERMINAL else None

        final = wait_until(finished, timeout=15, what="the work item to finish")
    assert final["status"] == "completed", final
    assert final["output"] == "Draft a reply to Acme Corp"
    assert final["error"] is None
    assert final["current_step"] is None
    assert final["input"] == body
    assert final["work_id"] == work_id
    assert final["intake_id"] == live.intake_id
    assert final["workflow_id"] == record["workflow_id"]
    assert final["completed_at"] is not None
    assert final["created_at"] <= final["updated_at"]
    assert [(s["key"], s["status"]) for s in final["steps"]] == [
        ("classify", "succeeded"),
        ("draft", "succeeded"),
    ]
    for step in final["steps"]:
        assert set(step) >= STEP_FIELDS, STEP_FIELDS - set(step)
        assert step["attempt"] == 1
        assert step["started_at"] <= step["finished_at"]
        assert isinstance(step["duration_ms"], int)
        assert step["duration_ms"] >= 0
        assert step["model"] == "scripted"
        assert step["tokens"]["total"] > 0
        assert step["error"] is None


def test_shell_style_poll_loop(live: Live) -> None:
    """``until [ "$(curl ... | jq -r .status)" = completed ]``: a top-level string
    ``status`` in every answer, from the first poll to the last."""
    with live.client() as client:
        work_id = _submit(client, live, {"customer": "Shell", "subject": "curl"})
        seen: list[str] = []

        def done() -> bool:
            raw = client.get(f"/v1/intake/{live.intake_id}/work/{work_id}", headers=live.auth)
            assert raw.status_code == 200, raw.text
            status = json.loads(raw.text)["status"]
            assert isinstance(status, str)
            seen.append(status)
            return status in TERMINAL

        wait_until(done, timeout=15, what="the shell loop to end")
    assert seen[-1] == "completed"
    assert set(seen) <= set(RANK)


def test_status_never_goes_backwards(live_any: Live) -> None:
    live = live_any
    slow_intake = live.apply(SLOW_WORKFLOW)["intake:slow"]
    observed: list[tuple[str, int]] = []
    with live.client() as client:
        work_id = _submit(client, live, {"customer": "Monotone", "subject": "order"}, slow_intake)

        def terminal() -> bool:
            record = _poll(client, live, work_id, slow_intake)
            finished = sum(1 for s in record["steps"] if s["finished_at"] is not None)
            observed.append((record["status"], finished))
            return record["status"] in TERMINAL

        wait_until(terminal, timeout=15, interval=0.001, what="the work item to finish")

    ranks = [RANK[status] for status, _ in observed]
    finished = [count for _, count in observed]
    assert ranks == sorted(ranks), observed
    assert finished == sorted(finished), observed
    assert observed[-1] == ("completed", 2), observed
    # Not vacuous: the poll loop saw the item in progress, step by step.
    assert "running" in {status for status, _ in observed}, observed
    assert {0, 1, 2} <= set(finished), observed


def test_get_right_after_202_never_404(live_any: Live) -> None:
    """Read-your-writes: the poll URL works the moment the 202 arrives, on every backend,
    also while many submissions are being committed and projected concurrently."""
    live = live_any
    threads, per_thread = 4, 50
    results: list[tuple[str, int, int, dict[str, Any] | None]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def hammer(n: int) -> None:
        try:
            with live.client() as client:
                start.wait(timeout=10)
                for i in range(per_thread):
                    body = {"customer": f"c{n}-{i}", "subject": "hammer"}
                    posted = client.post(
                        f"/v1/intake/{live.intake_id}", json=body, headers=live.auth
                    )
                    work_id = posted.json().get("work_id", "") if posted.status_code == 202 else ""
                    got = client.get(posted.headers.get("location", "/nowhere"), headers=live.auth)
                    record = got.json() if got.status_code == 200 else None
                    with lock:
                        results.append((work_id, posted.status_code, got.status_code, record))
                        if record is not None:
                            assert record["input"] == body
        except BaseException as exc:
            with lock:
                errors.append(exc)

    workers = [threading.Thread(target=hammer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not any(w.is_alive() for w in workers), "hammering threads hang"
    assert not errors, errors
    assert len(results) == threads * per_thread
    assert [r for r in results if r[1] != 202] == []
    not_found = [r for r in results if r[2] == 404]
    assert not_found == [], f"{len(not_found)} polls right after a 202 answered 404"
    assert [r for r in results if r[2] != 200] == []
    for work_id, _, _, record in results:
        assert record is not None
        assert record["work_id"] == work_id
        assert record["status"] in RANK
    assert len({r[0] for r in results}) == len(results)


def test_202_only_after_the_first_event_is_committed(live_any: Live) -> None:
    live = live_any
    with live.client() as client:
        for i in range(20):
            work_id = _submit(client, live, {"customer": f"durable {i}"})
            events = live.service.work.recorder.select_events(work_uuid(work_id))
            assert events, f"{work_id}: 202 sent before its Received event was committed"
            assert events[0].originator_version == 1
            assert events[0].topic.endswith("WorkItem.Received"), events[0].topic
