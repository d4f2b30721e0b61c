"""Bad requests are 4xx problems, never 500s; a real server error is a 500 problem that
gives nothing away."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from tests.entrypoints.http.conftest import Live
from tests.entrypoints.http.helpers import problem

JSON = {"content-type": "application/json"}


def _nested(depth: int) -> bytes:
    return b'{"customer": "deep", "a": ' + b"[" * depth + b"1" + b"]" * depth + b"}"


BAD_BODIES: dict[str, tuple[int, dict[str, str], bytes]] = {
    "malformed JSON": (400, JSON, b'{"customer": '),
    "not JSON at all": (400, JSON, b"customer=Acme"),
    "trailing garbage": (400, JSON, b'{"customer": "Acme"} x'),
    "empty body": (400, JSON, b""),
    "invalid UTF-8": (400, JSON, b'{"customer": "\xff\xfe"}'),
    "nested too deeply": (400, JSON, _nested(100_000)),
    "array": (422, JSON, b'[{"customer": "Acme"}]'),
    "string": (422, JSON, b'"Acme"'),
    "number": (422, JSON, b"42"),
    "boolean": (422, JSON, b"true"),
    "null": (422, JSON, b"null"),
    "text/plain": (415, {"content-type": "text/plain"}, b'{"customer": "Acme"}'),
    "form": (415, {"content-type": "application/x-www-form-urlencoded"}, b"customer=Acme"),
    "no content type": (415, {}, b'{"customer": "Acme"}'),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_bad_bodies_are_4xx_problems(live: Live, case: str) -> None:
    status, headers, body = BAD_BODIES[case]
    with live.client() as client:
        response = client.post(
            f"/v1/intake/{live.intake_id}", content=body, headers={**live.auth, **headers}
        )
        problem(response, status)
        assert "Traceback" not in response.text
        # The server is unharmed and took nothing in.
        assert live.service.work.recorder.select_notifications(start=1, limit=10) == []
        ok = client.post(f"/v1/intake/{live.intake_id}", json={}, headers=live.auth)
        assert ok.status_code == 202, ok.text


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/x-ticket+json",
    ],
)
def test_json_media_types_are_accepted(live: Live, content_type: str) -> None:
    with live.client() as client:
        response = client.post(
            f"/v1/intake/{live.intake_id}",
            content=b'{"customer": "Acme"}',
            headers={**live.auth, "content-type": content_type},
        )
    assert response.status_code == 202, response.text


def test_deep_but_decodable_input_is_accepted(live: Live) -> None:
    """The control for "nested too deeply": depth as such is not refused."""
    with live.client() as client:
        response = client.post(
            f"/v1/intake/{live.intake_id}", content=_nested(200), headers={**live.auth, **JSON}
        )
        assert response.status_code == 202, response.text
        polled = client.get(response.headers["location"], headers=live.auth)
    assert polled.status_code == 200
    assert json.loads(polled.content)["input"] == json.loads(_nested(200))


@pytest.fixture
def small(sqlite_url: str, serve: Callable[..., Live]) -> Live:
    return serve(sqlite_url, max_body_bytes=1024)


def test_a_body_over_the_limit_is_413(small: Live) -> None:
    url = f"/v1/intake/{small.intake_id}"
    fits = json.dumps({"customer": "x" * 900}).encode()
    too_big = json.dumps({"customer": "x" * 2000}).encode()
    assert len(fits) <= 1024 < len(too_big)

    def chunked(data: bytes) -> Iterator[bytes]:
        for i in range(0, len(data), 256):
            yield data[i : i + 256]

    with small.client() as client:
        assert client.post(url, content=fits, headers={**small.auth, **JSON}).status_code == 202
        problem(client.post(url, content=too_big, headers={**small.auth, **JSON}), 413)
        # Without a Content-Length the limit still holds while the body streams in.
        streamed = client.post(url, content=chunked(too_big), headers={**small.auth, **JSON})
        assert "content-length" not in streamed.request.headers
        problem(streamed, 413)
        assert client.post(url, content=fits, headers={**small.auth, **JSON}).status_code == 202


def test_an_unexpected_error_is_a_500_problem_without_internals(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    with live.client() as client:
        location = client.post(
            f"/v1/intake/{live.intake_id}", json={"customer": "x"}, headers=live.auth
        ).headers["location"]
        assert client.get(location, headers=live.auth).status_code == 200

        def explode(*args: object, **kwargs: object) -> None:
            raise RuntimeError("secret internals")

        monkeypatch.setattr(live.service.view, "get", explode)
        response = client.get(location, headers=live.auth)
        body = problem(response, 500)
        assert "secret internals" not in response.text
        assert "Traceback" not in response.text
        assert "RuntimeError" not in response.text
        assert set(body) == {"status", "title", "detail"}

        monkeypatch.undo()
        assert client.get(location, headers=live.auth).status_code == 200


def test_a_failed_commit_is_a_500_never_a_202(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals: disk on fire")

    with live.client() as client:
        monkeypatch.setattr(live.service.work.events, "put", refuse)  # the commit itself
        response = client.post(
            f"/v1/intake/{live.intake_id}", json={"customer": "x"}, headers=live.auth
        )
        problem(response, 500)
        assert "secret internals" not in response.text
        assert "location" not in response.headers
        monkeypatch.undo()
        assert live.service.work.recorder.select_notifications(start=1, limit=10) == []
        ok = client.post(f"/v1/intake/{live.intake_id}", json={"customer": "x"}, headers=live.auth)
        assert ok.status_code == 202, ok.text
