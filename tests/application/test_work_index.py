"""The work index row along an item's life, the input summary, and the day and
percentile rules of the statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from auxot.application.ports import StatsCounts
from auxot.application.stats import day_of, nearest_rank, stats_of
from auxot.application.work_index import SUMMARY_CHARS, index_row_of, summarize
from auxot.domain.definition import Step
from auxot.domain.retry import RetryPolicy
from auxot.domain.work_item import WorkItem
from tests.adapters.persistence.history import DEFINITION, LEASE, T0

WORKFLOW, INTAKE = uuid4(), uuid4()
S = timedelta(seconds=1)


def received() -> WorkItem:
    return WorkItem.receive(uuid4(), INTAKE, WORKFLOW, 3, DEFINITION, {"subject": "hi"}, T0)


def test_a_new_item_is_at_its_entry_step_since_receipt_not_started() -> None:
    row = index_row_of(received())
    assert (row.status, row.step, row.step_since, row.attempt) == ("pending", "classify", T0, 0)
    assert (row.workflow_version, row.intake_id, row.waiting) == (3, INTAKE, False)
    assert (row.created_at, row.finished_at, row.duration_ms) == (T0, None, None)
    assert row.input_summary == '{"subject":"hi"}'


def test_attempts_count_at_the_step_and_routing_moves_the_card() -> None:
    item = received()
    run = item.start_step("w", LEASE, T0 + S)
    item.fail_step(
        run.attempt,
        "flaky",
        T0 + 2 * S,
        retryable=True,
        retry=RetryPolicy(attempts=3, backoff_seconds=0),
    )
    item.start_step("w", LEASE, T0 + 3 * S)
    row = index_row_of(item)
    assert (row.status, row.step, row.step_since, row.attempt) == ("running", "classify", T0, 2)

    item.succeed_step(2, DEFINITION, T0 + 4 * S, output={})
    row = index_row_of(item)
    assert (row.step, row.step_since, row.attempt) == ("reply", T0 + 4 * S, 0)


def test_an_ended_item_has_its_duration() -> None:
    item = received()
    item.cancel("ann", T0 + 90 * S)
    row = index_row_of(item)
    assert (row.status, row.finished_at, row.duration_ms) == ("cancelled", T0 + 90 * S, 90_000)


def test_a_human_step_shows_who_must_act() -> None:
    item = received()
    human = Step("classify", "human", assignee="ann", handoffs=DEFINITION.steps[0].handoffs)
    item.wait_for_human(human, "support", T0 + S)
    row = index_row_of(item)
    assert (row.waiting, row.assignee, row.team, row.status) == (True, "ann", None, "running")


def test_secret_looking_keys_are_hidden_at_any_depth() -> None:
    summary = summarize({"user": {"Password": "p", "api_key": "k"}, "list": [{"token": 1}]})
    assert summary == '{"user":{"Password":"***","api_key":"***"},"list":[{"token":"***"}]}'


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_a_summary_is_one_short_line(data: dict[str, object]) -> None:
    summary = summarize(data)  # type: ignore[arg-type]
    assert len(summary) <= SUMMARY_CHARS
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in summary)
    assert not {"\u2028", "\u2029"} & set(summary)


def test_today_is_the_calendar_day_in_the_zone() -> None:
    now = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # Paris moves its clocks this day
    assert day_of(now, ZoneInfo("UTC")) == (
        datetime(2026, 3, 29, tzinfo=UTC),
        datetime(2026, 3, 30, tzinfo=UTC),
    )
    start, end = day_of(now, ZoneInfo("Europe/Paris"))
    assert start == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=23)
    start, _ = day_of(now, ZoneInfo("America/New_York"))  # still the 28th there
    assert start.astimezone(UTC) == datetime(2026, 3, 28, 4, 0, tzinfo=UTC)


@given(st.integers(1, 100), st.integers(1, 10_000))
def test_nearest_rank_is_within_the_values(percentile: int, count: int) -> None:
    rank = nearest_rank(percentile, count)
    assert 0 <= rank < count
    assert (rank + 1) * 100 >= percentile * count  # at least p% at or below it


def test_success_rate_leaves_cancellations_out() -> None:
    counts = StatsCounts(runs=9, completed=3, failed=1, cancelled=5, durations={50: 7, 95: 9})
    stats = stats_of(counts, T0, T0 + timedelta(days=1), "UTC")
    assert (stats.success_rate, stats.p50_ms, stats.p95_ms) == (0.75, 7, 9)
    none = StatsCounts(runs=1, completed=0, failed=0, cancelled=1, durations={})
    assert stats_of(none, T0, T0, "UTC").success_rate is None
