"""Human steps over a real socket: waiting_for in the record, acting on a step, who may
act (and the one 404 for everyone else), acting twice, my task list, and timeouts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.entrypoints.http.conftest import Live
from tests.entrypoints.http.helpers import assert_same_404, problem
from tests.support import wait_until

REVIEWED = """\
teams:
  - name: support
    members: [ann, bob]
    admins: [boss]
workflows:
  - name: Reviewed Reply
    team: support
    steps:
      - key: draft
        prompt: "Draft a reply to {{ input.customer }}"
        provider: offline
        handoffs: [{condition: default, to: review}]
      - key: review
        handler: human
        assignee: ann
        handoffs:
          - {condition: approved, to: check}
          - {condition: rejected, to: draft}
      - key: check
        handler: human
        not_by_actor_of: review
        handoffs: [{condition: approved, to: complete}]
intakes:
  - name: replies
    workflow: Reviewed Reply
    team: support
"""

TIMED = """\
teams:
  - name: support
    members: [ann]
workflows:
  - name: Timed Review
    team: support
    steps:
      - key: review
        handler: human
        timeout: 1
        handoffs:
          - {condition: approved, to: complete}
          - {condition: timeout, to: fallback}
      - key: fallback
        prompt: "Nobody answered about {{ input.customer }}"
        provider: offline
        handoffs: [{condition: default, to: complete}]
intakes:
  - name: timed
    workflow: Timed Review
    team: support
"""


class Humans:
    """The reviewed workflow applied to a live server, with keys for its people."""

    def __init__(self, live: Live, workflow: str = REVIEWED, intake: str = "replies") -> None:
        self.live = live
        self.intake = live.apply(workflow)[f"intake:{intake}"]
        self.keys = {
            user: live.service.create_key("user", user).key
            for user in ("ann", "bob", "boss", "eve")
        }
        self.client = live.client()

    def auth(self, user: str | None = None) -> dict[str, str]:
        key = self.live.key if user is None else self.keys[user]
        return {"Authorization": f"Bearer {key}"}

    def submit(self, **payload: Any) -> str:
        answer = self.client.post(
            f"/v1/intake/{self.intake}", json=payload or {"customer": "Acme"}, headers=self.auth()
        )
        assert answer.status_code == 202, answer.text
        return str(answer.json()["work_id"])

    def record(self, work_id: str) -> dict[str, Any]:
        answer = self.client.get(f"/v1/intake/{self.intake}/work/{work_id}", headers=self.auth())
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def waiting_on(self, work_id: str, step: str) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            record = self.record(work_id)
            waiting = record["waiting_for"]
            return record if waiting is not None and waiting["step"] == step else None

        return wait_until(probe, what=f"{work_id} to wait on {step}")

    def complete(
        self, work_id: str, step: str, user: str | None, **body: Any
    ) -> httpx.Response:
        return self.client.post(
            f"/v1/work/{work_id}/steps/{step}/complete", json=body, headers=self.auth(user)
        )

    def tasks(self, user: str, **params: Any) -> httpx.Response:
        return self.client.get("/v1/me/tasks", params=params, headers=self.auth(user))


@pytest.fixture
def humans(live: Live) -> Any:
    h = Humans(live)
    yield h
    h.client.close()


def test_the_record_shows_what_it_waits_for_and_the_assignee_completes_it(
    humans: Humans,
) -> None:
    work_id = humans.submit()
    record = humans.waiting_on(work_id, "review")
    assert record["status"] == "running"
    assert record["current_step"] == "review"
    waiting = record["waiting_for"]
    assert (waiting["assignee"], waiting["team"], waiting["timeout_at"]) == ("ann", None, None)
    assert waiting["since"]
    assert [(s["key"], s["status"]) for s in record["steps"]] == [
        ("draft", "succeeded"),
        ("review", "waiting"),
    ]

    answer = humans.complete(work_id, "review", "ann", condition="approved", note="good")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    acted = answer.json()  # the item as saved: read-your-writes
    assert acted["work_id"] == work_id
    assert acted["current_step"] == "check"
    review = acted["steps"][1]
    assert (review["key"], review["status"], review["actor"], review["condition"],
            review["note"]) == ("review", "succeeded", "ann", "approved", "good")

    # Maker is not checker: ann may not check her own review (403: she can see the item).
    humans.waiting_on(work_id, "check")
    barred = problem(humans.complete(work_id, "check", "ann", condition="approved"), 403)
    assert "'ann' acted on step 'review'" in barred["detail"]
    done = humans.complete(work_id, "check", "bob", condition="approved", output={"ok": True})
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["output"]) == ("completed", {"ok": True})
    wait_until(lambda: humans.record(work_id)["status"] == "completed", what="the projection")
    assert humans.record(work_id)["waiting_for"] is None

    # Acting twice is a conflict, with a body that says why.
    twice = problem(humans.complete(work_id, "check", "bob", condition="approved"), 409)
    assert "nothing left to act on" in twice["detail"]


def test_acting_on_a_step_the_item_is_not_waiting_on_is_a_409(humans: Humans) -> None:
    work_id = humans.submit()
    humans.waiting_on(work_id, "review")
    body = problem(humans.complete(work_id, "check", "bob", condition="approved"), 409)
    assert body["detail"] == "work item is waiting on step 'review', not 'check'"


def test_anyone_else_gets_the_same_404(humans: Humans) -> None:
    work_id = humans.submit()
    humans.waiting_on(work_id, "review")
    unknown = "work_" + "0" * 32
    assert_same_404(
        {
            "another user": humans.complete(work_id, "review", "bob", condition="approved"),
            "a user of no team": humans.complete(work_id, "review", "eve", condition="approved"),
            "the team's own key": humans.complete(work_id, "review", None, condition="approved"),
            "an unknown item": humans.complete(unknown, "review", "ann", condition="approved"),
            "a malformed id": humans.complete("work_x", "review", "ann", condition="approved"),
            "an unknown step": humans.complete(work_id, "nope", "ann", condition="approved"),
        }
    )
    assert humans.record(work_id)["waiting_for"]["step"] == "review"  # nothing changed
    # An admin of the workflow's team may act on any of its human steps.
    answer = humans.complete(work_id, "review", "boss", condition="rejected")
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"note": "no condition"}', 422),
        (b'{"condition": ""}', 422),
        (b'{"condition": "approved", "extra": 1}', 422),
        (b'{"condition": 7}', 422),
        (b'{"condition": "timeout"}', 422),
        (b'{"condition": ', 400),
        (b"", 400),
    ],
)
def test_a_bad_decision_is_a_4xx_problem(humans: Humans, body: bytes, status: int) -> None:
    work_id = humans.submit()
    humans.waiting_on(work_id, "review")
    answer = humans.client.post(
        f"/v1/work/{work_id}/steps/review/complete",
        content=body,
        headers={**humans.auth("ann"), "content-type": "application/json"},
    )
    problem(answer, status)
    assert humans.record(work_id)["waiting_for"]["step"] == "review"


def test_my_tasks_lists_what_waits_on_me_oldest_first_page_by_page(humans: Humans) -> None:
    work_ids = [humans.submit(customer=f"c{n}") for n in range(5)]
    for work_id in work_ids:
        humans.waiting_on(work_id, "review")

    first = humans.tasks("ann", limit=2)
    assert first.status_code == 200, first.text
    page = first.json()
    task = page["items"][0]
    assert set(task) == {
        "work_id", "intake_id", "workflow_id", "step", "assignee", "team", "since",
        "timeout_at", "input",
    }
    assert (task["step"], task["assignee"], task["intake_id"]) == ("review", "ann", humans.intake)
    listed = list(page["items"])
    while page["next_cursor"] is not None:
        page = humans.tasks("ann", limit=2, cursor=page["next_cursor"]).json()
        full = page["next_cursor"] is not None  # every page but the last is full
        assert len(page["items"]) == 2 if full else len(page["items"]) in (1, 2)
        listed += page["items"]
    # Every task once, oldest wait first (drafts finish in any order, so not by submission).
    assert sorted(t["work_id"] for t in listed) == sorted(work_ids)
    since = [datetime.fromisoformat(t["since"]) for t in listed]
    assert since == sorted(since)
    inputs = {t["work_id"]: t["input"] for t in listed}
    assert inputs == {w: {"customer": f"c{n}"} for n, w in enumerate(work_ids)}

    assert humans.tasks("bob").json() == {"items": [], "next_cursor": None}
    team_key = humans.client.get("/v1/me/tasks", headers=humans.auth())
    assert team_key.json() == {"items": [], "next_cursor": None}

    # Once acted on, a task leaves the list; the next human step is listed for its people.
    humans.complete(work_ids[0], "review", "ann", condition="approved")
    wait_until(lambda: len(humans.tasks("ann").json()["items"]) == 4, what="ann's list")
    wait_until(lambda: humans.tasks("bob").json()["items"], what="bob's list")
    (check,) = humans.tasks("bob").json()["items"]
    assert (check["work_id"], check["step"], check["team"]) == (work_ids[0], "check", "support")


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"cursor": "not-ours"}])
def test_a_bad_page_request_is_a_400(humans: Humans, params: dict[str, Any]) -> None:
    problem(humans.tasks("ann", **params), 400)


def test_without_a_key_it_is_401(humans: Humans) -> None:
    assert humans.client.get("/v1/me/tasks").status_code == 401
    answer = humans.client.post(
        f"/v1/work/work_{'0' * 32}/steps/review/complete", json={"condition": "approved"}
    )
    assert answer.status_code == 401


def test_a_timeout_fires_the_timeout_handoff(live: Live) -> None:
    humans = Humans(live, TIMED, "timed")
    try:
        work_id = humans.submit(customer="Acme")
        waiting = humans.waiting_on(work_id, "review")["waiting_for"]
        assert (waiting["assignee"], waiting["team"]) == (None, "support")
        assert waiting["timeout_at"] is not None

        record = wait_until(
            lambda: (r := humans.record(work_id))["status"] == "completed" and r,
            what="the timeout to fire",
        )
        assert [(s["key"], s["status"], s["condition"]) for s in record["steps"]] == [
            ("review", "timed_out", "timeout"),
            ("fallback", "succeeded", None),
        ]
        assert record["output"] == "Nobody answered about Acme"
        late = problem(humans.complete(work_id, "review", "ann", condition="approved"), 409)
        assert "already acted on" in late["detail"] or "nothing left" in late["detail"]
    finally:
        humans.client.close()


def test_waiting_acting_and_listing_on_every_backend(live_any: Live) -> None:
    humans = Humans(live_any)
    try:
        work_ids = [humans.submit(customer=f"c{n}") for n in range(3)]
        for work_id in work_ids:
            humans.waiting_on(work_id, "review")
        first = humans.tasks("ann", limit=2).json()
        second = humans.tasks("ann", limit=2, cursor=first["next_cursor"]).json()
        assert second["next_cursor"] is None
        listed = [t["work_id"] for t in first["items"] + second["items"]]
        assert sorted(listed) == sorted(work_ids)

        answer = humans.complete(work_ids[0], "review", "ann", condition="approved")
        assert answer.status_code == 200, answer.text
        wait_until(lambda: humans.tasks("bob").json()["items"], what="bob's check")
        problem(humans.complete(work_ids[0], "review", "ann", condition="approved"), 409)
        assert humans.tasks("ann").json()["items"] == [
            t for t in first["items"] + second["items"] if t["work_id"] != work_ids[0]
        ]
    finally:
        humans.client.close()
