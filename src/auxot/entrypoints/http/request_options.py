"""The intake POST's optional request headers: ``Idempotency-Key`` and ``Callback-Url``.

``Idempotency-Key`` follows the IETF httpapi draft "The Idempotency-Key HTTP Header
Field", whose value is a Structured Field string (``"..."``, RFC 8941). Clients commonly
send a bare UUID instead, so a bare token is accepted too (RFC 9110 token characters,
plus ``:`` and ``/`` as in RFC 8941 tokens); ``"abc"`` and ``abc`` are the same key.
Anything else — empty, longer than 255 characters, not printable ASCII, a malformed
quoted string, the header given twice — is a 400 saying which.
"""

from __future__ import annotations

import string
from typing import Any
from uuid import UUID

import anyio.to_thread
from litestar import Request
from litestar.plugins.problem_details import ProblemDetailsException

from auxot.application.callback_target import CallbackRefusedError
from auxot.application.errors import NotFoundError
from auxot.application.idempotency import (
    MAX_KEY_LENGTH,
    IdempotencyKeyInFlightError,
    IdempotencyKeyReusedError,
    key_problem,
)
from auxot.application.intake_submission import RequestOptions, submit_with_options
from auxot.application.keys import Caller
from auxot.application.refs import format_ref
from auxot.application.service import Service
from auxot.entrypoints.http.problems import bad_request, conflict, not_found, unprocessable

IDEMPOTENCY_KEY = "Idempotency-Key"
CALLBACK_URL = "Callback-Url"
OPTION_HEADERS = frozenset({IDEMPOTENCY_KEY.lower().encode(), CALLBACK_URL.lower().encode()})
"""Their names as ASGI gives them: a request carrying either skips the fast path."""

_TOKEN = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~:/")
_QUOTED = frozenset(chr(c) for c in range(0x20, 0x7F)) - {'"', "\\"}


def request_options(request: Request[Any, Any, Any]) -> RequestOptions | None:
    """The options the request's headers ask for; None when it carries neither header."""
    keys = request.headers.getall(IDEMPOTENCY_KEY, [])
    urls = request.headers.getall(CALLBACK_URL, [])
    if not keys and not urls:
        return None
    return RequestOptions(
        idempotency_key=parse_idempotency_key(_one(IDEMPOTENCY_KEY, keys)) if keys else None,
        callback_url=_callback_url(_one(CALLBACK_URL, urls)) if urls else None,
    )


def parse_idempotency_key(raw: str) -> str:
    """The key in an ``Idempotency-Key`` value; a 400 problem when it is malformed."""
    value = raw.strip(" \t")
    key = _unquote(value) if value.startswith('"') else _token(value)
    problem = key_problem(key)
    if problem is not None:
        raise _bad_key(problem)
    return key


async def submit_as_asked(
    service: Service,
    caller: Caller,
    intake: UUID,
    work_input: dict[str, Any],
    options: RequestOptions,
) -> UUID:
    """The work id of the submission ``options`` ask for, each refusal as its problem."""
    try:
        return await anyio.to_thread.run_sync(
            lambda: submit_with_options(service, caller, intake, work_input, options)
        )
    except NotFoundError:
        raise not_found() from None
    except IdempotencyKeyInFlightError as exc:
        raise conflict(_sentence(str(exc))) from None
    except IdempotencyKeyReusedError as exc:
        first = format_ref("work", exc.work_id)
        raise unprocessable(_sentence(f"{exc} (it was first used for {first})")) from None
    except CallbackRefusedError as exc:
        raise unprocessable(_sentence(str(exc))) from None


def _sentence(text: str) -> str:
    return f"{text[:1].upper()}{text[1:]}."


def _one(name: str, values: list[str]) -> str:
    if len(values) > 1:
        raise bad_request(f"Send the {name} header once (it came {len(values)} times).")
    return values[0]


def _callback_url(raw: str) -> str:
    url = raw.strip(" \t")
    if not url:
        raise bad_request(f"The {CALLBACK_URL} header is empty.")
    return url


def _token(value: str) -> str:
    bad = next((c for c in value if c not in _TOKEN), None)
    if bad is not None:
        raise _bad_key(
            f"{bad!r} may not appear in a bare key: quote it as a string (\"...\") or use "
            "only letters, digits and !#$%&'*+-.^_`|~:/"
        )
    return value


def _unquote(value: str) -> str:
    """An RFC 8941 string's content: printable ASCII, with ``\\"`` and ``\\\\`` escapes."""
    if len(value) < 2 or not value.endswith('"'):
        raise _bad_key("its quoted string is not closed")
    inner, chars, escaped = value[1:-1], [], False
    for c in inner:
        if escaped:
            if c not in '"\\':
                raise _bad_key(f"'\\{c}' is not an escape (only \\\" and \\\\ are)")
            chars.append(c)
            escaped = False
        elif c == "\\":
            escaped = True
        elif c in _QUOTED:
            chars.append(c)
        else:
            raise _bad_key(f"{c!r} may not appear in it (printable ASCII only; escape '\"')")
    if escaped:
        raise _bad_key("its quoted string is not closed (its last '\"' is escaped)")
    return "".join(chars)


def _bad_key(why: str) -> ProblemDetailsException:
    return bad_request(
        f"The {IDEMPOTENCY_KEY} header is malformed: {why}. Send a string such as "
        '"8e03978e-40d5-43e8-bc93-6894a57f9324" (quoted, or bare), at most '
        f"{MAX_KEY_LENGTH} characters."
    )
