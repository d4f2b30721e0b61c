"""Helpers shared by the tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

EXAMPLE_WORKFLOW = """\
teams:
  - name: support
providers:
  - name: offline
    kind: scripted
    max_parallel: 4
workflows:
  - name: Support Ticket Triage
    team: support
    steps:
      - key: classify
        prompt: "Classify this ticket: {{ input.subject }}"
        provider: offline
        handoffs:
          - {condition: default, to: draft}
      - key: draft
        prompt: "Draft a reply to {{ input.customer }}"
        provider: offline
        handoffs:
          - {condition: default, to: complete}
intakes:
  - name: triage
    workflow: Support Ticket Triage
    team: support
"""


def wait_until(
    probe: Callable[[], T | None], timeout: float = 10.0, interval: float = 0.01, what: str = ""
) -> T:
    """Poll ``probe`` until it returns something truthy, or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}")
        time.sleep(interval)  # polling interval of a deadline-bounded wait
