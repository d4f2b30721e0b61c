"""The callback outbox's rule: an item that ends, of an intake with a callback URL,
schedules its delivery in the same save (``WorkLog(on_ending=CallbackOutbox(...))``)."""

from __future__ import annotations

import logging

from auxot.application.callback_target import callback_url_for
from auxot.application.directory import Directory
from auxot.domain import callback
from auxot.domain.work_item import WorkItem

log = logging.getLogger(__name__)


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
        url = callback_url_for(item, intake)
        if url is not None:
            callback.schedule(item, url, intake.team_id)
