"""The callback outbox's rule: an item that ends, of an intake with a callback URL,
schedules its delivery in the same save (``WorkLog(on_ending=CallbackOutbox(...))``)."""

from __future__ import annotations

import logging
from datetime import datetime

from auxot.application.directory import Directory
from auxot.domain import callback
from auxot.domain.intake import Intake
from auxot.domain.work_item import WorkItem

log = logging.getLogger(__name__)


def signing_secrets(intake: Intake, now: datetime) -> tuple[str, ...]:
    """The ``whsec_`` secrets a callback of ``intake`` is signed with at ``now``.

    Intakes do not hold signing secrets yet (they come with the Standard Webhooks
    signing work); until then callbacks go unsigned. This is the one place to wire them.
    """
    return ()


def callback_url_of(item: WorkItem, intake: Intake) -> str | None:
    """Where ``item``'s record goes when it ends: its intake's callback URL, unless that
    receiver answered 410 Gone."""
    return intake.live_callback_url


class CallbackOutbox:
    """Schedules an ending item's callback; called by the work log before the save."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory

    def __call__(self, item: WorkItem) -> None:
        if item.intake_id is None or item.delivery is not None:
            return
        intake = self._directory.intake(item.intake_id)
        if intake is None:
            self._directory.refresh()
            intake = self._directory.intake(item.intake_id)
        if intake is None:
            log.warning("work item %s ended but its intake is gone: no callback", item.id)
            return
        url = callback_url_of(item, intake)
        if url is not None:
            callback.schedule(item, url, intake.team_id)
