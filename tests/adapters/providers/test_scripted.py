"""The scripted provider: deterministic replies, failures, and bounded delays."""

from __future__ import annotations

import threading
import time
from uuid import uuid4

import pytest

from auxot.adapters.providers.scripted import ScriptedProvider
from auxot.application.ports import PromptRequest, ProviderError


def request(step: str = "classify", prompt: str = "Classify this ticket: Login") -> PromptRequest:
    return PromptRequest(prompt=prompt, work_id=uuid4(), step=step, attempt=1)


def test_without_a_reply_it_answers_the_prompt_with_word_counts() -> None:
    completion = ScriptedProvider("p", {}).complete(request())
    assert completion.text == "Classify this ticket: Login"
    assert completion.model == "scripted"
    assert completion.usage is not None
    assert completion.usage.as_dict() == {"prompt": 4, "completion": 4, "total": 8}


def test_per_step_replies_win_over_the_fixed_reply_and_are_templates() -> None:
    provider = ScriptedProvider(
        "p", {"reply": "fixed", "replies": {"draft": "re: {{ prompt }}"}, "model": "m1"}
    )
    assert provider.complete(request("classify")).text == "fixed"
    assert provider.complete(request("draft", "hello")).text == "re: hello"
    assert provider.complete(request()).model == "m1"


def test_fail_raises_a_provider_error_with_its_retryable_flag() -> None:
    with pytest.raises(ProviderError, match="boom") as failed:
        ScriptedProvider("p", {"fail": "boom", "retryable": True}).complete(request())
    assert failed.value.retryable


def test_a_delay_beyond_the_timeout_fails_as_a_retryable_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(ProviderError, match=r"timed out after 0\.2s") as failed:
        ScriptedProvider("p", {"delay": 30, "timeout": 0.2}).complete(request())
    assert failed.value.retryable
    assert time.monotonic() - started < 5


def test_closing_interrupts_a_delay_as_a_retryable_error() -> None:
    provider = ScriptedProvider("p", {"delay": 30})
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            provider.complete(request())
        except ProviderError as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    provider.close()
    caller.join(timeout=5)
    assert not caller.is_alive()
    assert len(outcome) == 1
    assert "closed" in str(outcome[0])


def test_fail_first_fails_only_the_first_calls() -> None:
    provider = ScriptedProvider("p", {"fail_first": 2, "retryable": True, "reply": "ok"})
    for n in (1, 2):
        with pytest.raises(ProviderError, match=f"scripted failure {n} of 2") as failed:
            provider.complete(request())
        assert failed.value.retryable
    assert provider.complete(request()).text == "ok"
    assert provider.complete(request()).text == "ok"


def test_fail_first_uses_the_fail_message_when_there_is_one() -> None:
    provider = ScriptedProvider("p", {"fail_first": 1, "fail": "down"})
    with pytest.raises(ProviderError, match="down") as failed:
        provider.complete(request())
    assert not failed.value.retryable
    assert provider.complete(request("s", "hi")).text == "hi"


@pytest.mark.parametrize(
    "settings",
    [
        {"colour": "red"},
        {"delay": -1},
        {"replies": ["a"]},
        {"fail_first": -1},
        {"fail_first": True},
        {"fail_first": 1.5},
    ],
    ids=str,
)
def test_bad_settings_are_refused(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="scripted provider"):
        ScriptedProvider("p", settings)
