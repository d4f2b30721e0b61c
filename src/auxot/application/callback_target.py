"""Where a work item's callback goes: the URL its request named, when its intake allows
requests to name one, else the intake's own ``callback_url`` (unless that receiver
answered 410 Gone)."""

from __future__ import annotations

from auxot.application.ports import OutboundUrls
from auxot.domain.intake import Intake
from auxot.domain.work_item import WorkItem

MAX_CALLBACK_URL_LENGTH = 2048


class CallbackRefusedError(ValueError):
    """A request named a callback URL that may not be used (or may not name one)."""


def callback_url_for(item: WorkItem, intake: Intake | None) -> str | None:
    """The URL to deliver ``item``'s record to; None when there is none."""
    if item.callback_url is not None:
        return item.callback_url
    return None if intake is None else intake.live_callback_url


def check_callback_override(intake: Intake, url: str, urls: OutboundUrls) -> None:
    """Refuse (CallbackRefusedError) a per-request callback URL that ``intake`` does not
    allow, or that ``urls`` refuses. Resolves the URL's host: off the event loop."""
    if not intake.allow_callback_override:
        raise CallbackRefusedError(
            "this intake does not take a callback URL per request "
            "(its declaration would need allow_callback_override: true)"
        )
    if len(url) > MAX_CALLBACK_URL_LENGTH:
        raise CallbackRefusedError(
            f"the callback URL is longer than {MAX_CALLBACK_URL_LENGTH} characters"
        )
    reason = urls.refusal(url)
    if reason is not None:
        raise CallbackRefusedError(f"the callback URL is refused: {reason}")
