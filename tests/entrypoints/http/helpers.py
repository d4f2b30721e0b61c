"""Assertions shared by the HTTP tests."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import httpx

from auxot.application.refs import parse_ref

# Headers that legitimately differ between two otherwise identical responses.
_VOLATILE = {"date", "server"}


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """Assert ``response`` is an RFC 9457 problem with ``status``; return its body."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = json.loads(response.content)
    assert isinstance(body, dict), body
    assert body["status"] == status, body
    for field in ("title", "detail"):
        assert isinstance(body[field], str), body
        assert body[field], body
    return body


def unauthorized(response: httpx.Response) -> dict[str, Any]:
    body = problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer"), response.headers
    return body


def fingerprint(response: httpx.Response) -> tuple[int, bytes, list[tuple[str, str]]]:
    """Status, body bytes and headers (but date and server) of a response."""
    headers = sorted(
        (name.lower(), value)
        for name, value in response.headers.multi_items()
        if name.lower() not in _VOLATILE
    )
    return response.status_code, response.content, headers


def assert_same_404(responses: dict[str, httpx.Response]) -> None:
    """Every response is the one 404, byte for byte: nothing tells the cases apart."""
    assert responses
    first_case, first = next(iter(responses.items()))
    problem(first, 404)
    expected = fingerprint(first)
    for case, response in responses.items():
        assert fingerprint(response) == expected, (
            f"{case!r} answered differently from {first_case!r}: "
            f"{fingerprint(response)} != {expected}"
        )


def work_uuid(work_ref: str) -> UUID:
    parsed = parse_ref("work", work_ref)
    assert parsed is not None, work_ref
    return parsed
