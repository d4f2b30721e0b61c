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


def test_a_mapping_reply_is_sent_as_json_text() -> None:
    provider = ScriptedProvider("p", {"replies": {"classify": {"severity": "high", "n": 2}}})
    assert provider.complete(request()).text == '{"severity": "high", "n": 2}'


def test_a_list_of_replies_is_a_sequence_per_work_item_and_step_whose_last_repeats() -> None:
    provider = ScriptedProvider(
        "p", {"replies": {"classify": ["first {{ step }}", {"second": True}]}, "reply": "other"}
    )
    item_a = request()
    item_b = request()
    texts = [provider.complete(item_a).text for _ in range(3)]
    assert texts == ["first classify", '{"second": true}', '{"second": true}']
    assert provider.complete(item_b).text == "first classify"  # its own count
    assert provider.complete(request("draft")).text == "other"


def test_the_reply_is_returned_as_is_when_json_is_asked_for() -> None:
    provider = ScriptedProvider("p", {"reply": "not json"})
    asked = PromptRequest(
        prompt="x", work_id=uuid4(), step="s", attempt=1, json_schema={"type": "object"}
    )
    assert provider.complete(asked).text == "not json"


@pytest.mark.parametrize(
    "settings",
    [{"reply": []}, {"replies": {"s": [None]}}, {"replies": {"s": [["nested"]]}}],
)
def test_replies_that_are_not_text_mappings_or_lists_of_them_are_refused(
    settings: dict[str, object],
) -> None:
    with pytest.raises(ValueError, match="must be text, a mapping"):
        ScriptedProvider("p", settings)
